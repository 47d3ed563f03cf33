/**
 * `projectTable({ keep, columns })`: one columnar projection of each batch's table — the rows
 * `keep` accepts (HAVING), then exactly the given columns, in that order (the SELECT list, named
 * and typed as the sink's columns). Rows stay columns: nothing is turned into objects here, so
 * `emitTable → projectTable → commitAfter(sink with writeTable)` carries an aggregation's result
 * to the sink writer in one representation.
 *
 *   a: { n: [1, 5], w: [w1, w2] }    projectTable({ keep: (t) => n > 2, columns: { count: col('n') } })    a': { count: [5] }
 */
import { map, type MonoTypeOperatorFunction } from 'rxjs';
import type { TableBatch } from './batch.js';
import type { RowPredicate } from './filter-rows.js';
import { takeRows, type Column, type RowTable } from './table.js';
import type { ColumnCompute } from './with-columns.js';

export interface ProjectTableOptions {
  /** the table `keep` and `columns` read, derived from the batch's once per batch; default the batch's */
  readonly input?: (table: RowTable) => RowTable;
  /** rows to keep (truthy flag per row); default all */
  readonly keep?: RowPredicate;
  /** the output columns, in order */
  readonly columns: Readonly<Record<string, ColumnCompute>>;
  /** columns of the batch's own table passed through unchanged after the output columns (when present) */
  readonly carry?: readonly string[];
}

export function projectTable(options: ProjectTableOptions): MonoTypeOperatorFunction<TableBatch> {
  const entries = Object.entries(options.columns);
  const { keep, input } = options;
  return map((batch) => {
    if (batch.aggregation !== undefined) throw new Error('projectTable(): the batch is still an aggregation; put emitTable() before projectTable()');
    let table = input === undefined ? batch.rows : input(batch.rows);
    let kept: number[] | undefined;
    if (keep !== undefined && table.length > 0) {
      const flags = keep(table);
      if (flags.length !== table.length) throw new RangeError(`projectTable(): keep returned ${flags.length} flags for ${table.length} rows`);
      kept = [];
      for (let i = 0; i < table.length; i++) if (flags[i]) kept.push(i);
      if (kept.length < table.length) table = takeRows(table, kept);
      else kept = undefined;
    }
    const source = table;
    const columns = new Map<string, Column>();
    for (const [name, compute] of entries) columns.set(name, compute(source));
    for (const name of options.carry ?? []) {
      const column = batch.rows.columns.get(name);
      if (column === undefined) continue;
      columns.set(name, kept === undefined ? column : (takeRows({ length: batch.rows.length, columns: new Map([[name, column]]) }, kept).columns.get(name) as Column));
    }
    const projected: RowTable = { length: source.length, columns };
    return { ...batch, rows: projected, windows: undefined };
  });
}
