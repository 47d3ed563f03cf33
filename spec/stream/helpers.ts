/**
 * Builders for stream specs: OrderSource-like records, plus what `otsflow/testing` offers users
 * (hand-made batches for single-operator tests, a TestScheduler comparing with vitest's expect).
 */
import type { TestScheduler } from 'rxjs/testing';
import { expect } from 'vitest';
import { testScheduler as publicTestScheduler } from '../../lib/testing/index.js';

export { context, never$, recordBatch, sourceBatch, tableBatch, times } from '../../lib/testing/index.js';
export { orderCatalog, putOrder } from './orders.js';

/** `otsflow/testing`'s scheduler, comparing frames with vitest's `expect`. */
export function testScheduler(): TestScheduler {
  return publicTestScheduler(expect);
}

/** Floats that add exactly in any order (multiples of 1/4 well below 2^53), so sums can be compared with ===. */
export const exactPrice = (n: number): number => n / 4;
