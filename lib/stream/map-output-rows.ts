/**
 * `mapOutputRows(fn)`: rewrites the output rows of each batch — HAVING and the SELECT list over
 * aggregated rows, or renaming to the sink's columns. Offsets, acknowledgements and state ride
 * along untouched, so the batch still commits exactly what it covered.
 *
 *   a: [{ n: 1 }, { n: 5 }]    mapOutputRows((rows) => rows.filter((r) => r.n > 2))    a': [{ n: 5 }]
 */
import { map, type OperatorFunction } from 'rxjs';
import type { MicroBatch } from './batch.js';

export function mapOutputRows<A, B>(fn: (rows: readonly A[], batch: MicroBatch<readonly A[]>) => readonly B[]): OperatorFunction<MicroBatch<readonly A[]>, MicroBatch<readonly B[]>> {
  return map((batch) => ({ ...batch, rows: fn(batch.rows, batch) }));
}
