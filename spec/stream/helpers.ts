/**
 * Builders for stream specs: OrderSource-like records, hand-made batches for single-operator
 * tests, and a TestScheduler whose equality understands typed values.
 */
import { Observable } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { expect } from 'vitest';
import type { MicroBatch, RunContext, TableBatch, WatermarkInfo } from '../../lib/stream/batch.js';
import { StreamMetrics } from '../../lib/stream/metrics.js';
import type { SourceBatch } from '../../lib/stream/source.js';
import { tableFromRows, type Value } from '../../lib/stream/table.js';

export { orderCatalog, putOrder } from './orders.js';

export function testScheduler(): TestScheduler {
  return new TestScheduler((actual, expected) => expect(actual).toEqual(expected));
}

export function context(metrics = new StreamMetrics()): RunContext {
  return { metrics, checkpoint: undefined };
}

/** A batch as `microBatch` would emit it, for testing one operator alone. */
export function recordBatch<R>(id: number, rows: readonly R[], ctx: RunContext = context()): MicroBatch<readonly R[]> {
  return { id, rows, offsets: {}, acks: [], replay: false, plannedWatermark: undefined, context: ctx, deadLetters: [], state: {} };
}

/** A decoded batch of plain rows, optionally with a watermark already in force. */
export function tableBatch(id: number, rows: readonly Readonly<Record<string, Value>>[], options: { ctx?: RunContext; watermark?: WatermarkInfo; names?: readonly string[] } = {}): TableBatch {
  return { ...recordBatch(id, [], options.ctx), rows: tableFromRows(rows, options.names), watermark: options.watermark };
}

/** A source batch of channel `channelId` covering record indexes [position, position + records.length). */
export function sourceBatch<R>(channelId: string, position: number, records: readonly R[], acks?: string[]): SourceBatch<R> {
  return {
    channelId,
    position,
    next: position + records.length,
    records,
    ack: () => {
      acks?.push(`${channelId}@${position + records.length}`);
    },
  };
}

/** An Observable that never emits, completes or errors, and records whether it was unsubscribed. */
export function never$<T>(): { observable: Observable<T>; unsubscribed: () => boolean } {
  let unsubscribed = false;
  return {
    observable: new Observable<T>(() => () => {
      unsubscribed = true;
    }),
    unsubscribed: () => unsubscribed,
  };
}

/** Floats that add exactly in any order (multiples of 1/4 well below 2^53), so sums can be compared with ===. */
export const exactPrice = (n: number): number => n / 4;
