/**
 * `filterRows(keep)`: keeps the rows of each decoded batch for which `keep` says so — a WHERE
 * clause. `keep` sees the whole batch and returns one flag per row (truthy: keep), so a predicate
 * is evaluated in one array loop per batch rather than once per row emission. Put it before the
 * window operators: they refer to rows by index.
 *
 *   a: rows [1, 5, 9]        keep = (t) => t.x > 4
 *   --a--|   filterRows(...)   --a'--|   a': rows [5, 9]
 */
import { map, type MonoTypeOperatorFunction } from 'rxjs';
import { keepInRowChannels, type TableBatch } from './batch.js';
import { takeRows, type RowTable } from './table.js';

export type RowPredicate = (table: RowTable) => ArrayLike<number | boolean | null | undefined>;

export function filterRows(keep: RowPredicate): MonoTypeOperatorFunction<TableBatch> {
  return map((batch) => {
    if (batch.windows !== undefined) throw new Error('filterRows(): put it before the window operator (windows refer to rows by index)');
    const table = batch.rows;
    const n = table.length;
    if (n === 0) return batch;
    const flags = keep(table);
    if (flags.length !== n) throw new RangeError(`filterRows(): the predicate returned ${flags.length} flags for ${n} rows`);
    const kept: number[] = [];
    for (let i = 0; i < n; i++) if (flags[i]) kept.push(i);
    if (kept.length === n) return batch;
    batch.context.metrics.add('rowsFiltered', n - kept.length);
    const rows = takeRows(table, kept);
    return batch.rowChannels === undefined ? { ...batch, rows } : { ...batch, rows, rowChannels: keepInRowChannels(batch.rowChannels, kept) };
  });
}
