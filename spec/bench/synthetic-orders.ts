/**
 * Synthetic OrderSource change records for the in-memory pipeline benches (stream.ts,
 * watermark.ts): no emulator, the records built directly.
 */
import type { Catalog } from '../../lib/stream/index.js';
import type { ChangeRecord } from '../../lib/wire/types.js';

/** The OrderSource columns as the seed job's catalog names them. */
export const ORDER_CATALOG: Catalog = { columns: { UserId: { type: 'string' }, OrderId: { type: 'string' }, price: { type: 'double' }, timestamp: { type: 'long' } } };

const BASE = Date.UTC(2024, 0, 1);

/** Order i of `total`, spread over `spanMs` of event time with a little disorder, as a busy order table would produce. */
export function syntheticOrder(i: number, total: number, spanMs: number): ChangeRecord {
  const jitter = (i * 7919) % 500;
  return {
    action: 'PUT_ROW',
    primaryKey: [
      { name: 'UserId', value: `u${i % 1000}` },
      { name: 'OrderId', value: `o${i}` },
    ],
    cells: [
      { op: 'put', name: 'price', value: ((i * 31) % 10_000) / 100 },
      { op: 'put', name: 'timestamp', value: BigInt(BASE + Math.floor((i * spanMs) / total) + jitter) },
    ],
  };
}
