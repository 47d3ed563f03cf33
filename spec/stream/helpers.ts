/**
 * Builders for stream specs: OrderSource-like records, plus what `otsflow/testing` offers users
 * (hand-made batches for single-operator tests, a TestScheduler comparing with vitest's expect).
 */
import type { TestScheduler } from 'rxjs/testing';
import { expect } from 'vitest';
import { numberColumn, valueAt, type Column, type RowTable } from '../../lib/stream/table.js';
import { testScheduler as publicTestScheduler } from '../../lib/testing/index.js';

export { context, never$, recordBatch, sourceBatch, tableBatch, times } from '../../lib/testing/index.js';
export { orderCatalog, putOrder } from './orders.js';

/** `otsflow/testing`'s scheduler, comparing frames with vitest's `expect`. */
export function testScheduler(): TestScheduler {
  return publicTestScheduler(expect);
}

/** Floats that add exactly in any order (multiples of 1/4 well below 2^53), so sums can be compared with ===. */
export const exactPrice = (n: number): number => n / 4;

/** A projection that takes column `name` as it is. */
export const col = (name: string) => (table: RowTable): Column => table.columns.get(name) as Column;

/** A projection that adds columns `a` and `b` row by row (null where either is null). */
export const sumOf = (a: string, b: string) => (table: RowTable): Column =>
  numberColumn(Array.from({ length: table.length }, (_, i) => {
    const x = valueAt(col(a)(table), i);
    const y = valueAt(col(b)(table), i);
    return x === null || y === null ? null : (x as number) + (y as number);
  }));
