/**
 * `project({ name: compute })`: turns each decoded batch into output rows with exactly the given
 * columns, in that order — the SELECT list of a job without aggregation. Columns are computed per
 * batch (array loops); objects are made only here, where rows leave the hot path for the sink.
 *
 *   a: { x: [1, 2], y: [3, 4] }    project({ x: col('x') })    a': [{ x: 1 }, { x: 2 }]
 */
import { map, type OperatorFunction } from 'rxjs';
import type { OutputBatch, TableBatch } from './batch.js';
import type { ColumnCompute } from './with-columns.js';
import { valueAt, type OutputRow, type OutputValue } from './table.js';

export function project(columns: Readonly<Record<string, ColumnCompute>>): OperatorFunction<TableBatch, OutputBatch> {
  const names = Object.keys(columns);
  const computes = Object.values(columns);
  return map((batch): OutputBatch => {
    if (batch.aggregation !== undefined) throw new Error('project(): the batch is aggregated; use emit() and mapOutputRows() after aggregate()');
    const table = batch.rows;
    const n = table.length;
    const computed = computes.map((compute) => compute(table));
    const rows = new Array<OutputRow>(n);
    for (let i = 0; i < n; i++) {
      const row: Record<string, OutputValue> = {};
      for (let k = 0; k < names.length; k++) row[names[k] as string] = valueAt(computed[k]!, i);
      rows[i] = row;
    }
    return { ...batch, rows, windows: undefined };
  });
}
