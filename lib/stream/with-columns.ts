/**
 * `withColumns({ name: compute })`: adds (or replaces) computed columns of each decoded batch —
 * an event-time expression, a grouping expression, an aggregate's input. Each `compute` sees the
 * whole batch and returns a column of the same length, so expressions run as array loops per
 * batch. Columns are computed in the order given; a later one sees the earlier ones.
 *
 *   a: { ms: [1000, 2500] }    withColumns({ s: (t) => seconds(t.ms) })    a': { ms: […], s: [1, 2.5] }
 */
import { map, type MonoTypeOperatorFunction } from 'rxjs';
import type { TableBatch } from './batch.js';
import type { Column, RowTable } from './table.js';

export type ColumnCompute = (table: RowTable) => Column;

export function withColumns(columns: Readonly<Record<string, ColumnCompute>>): MonoTypeOperatorFunction<TableBatch> {
  const entries = Object.entries(columns);
  return map((batch) => {
    if (entries.length === 0) return batch;
    if (batch.windows !== undefined) throw new Error('withColumns(): put it before the window operator (windows refer to rows by index)');
    let table = batch.rows;
    for (const [name, compute] of entries) table = addColumn(table, name, compute(table));
    return { ...batch, rows: table };
  });
}

export function addColumn(table: RowTable, name: string, column: Column): RowTable {
  if (column.values.length !== table.length) {
    throw new RangeError(`withColumns(): column '${name}' has ${column.values.length} values for ${table.length} rows`);
  }
  const columns = new Map(table.columns);
  columns.set(name, column);
  return { length: table.length, columns };
}
