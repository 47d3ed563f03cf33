/**
 * Micro-batches made by hand, for testing one operator alone: what `microBatch` (and, for a
 * table batch, `decodeRows`) would emit, with every bookkeeping field filled in.
 *
 *   recordBatch(0, [putRow({ id: 1 }, { price: 2.5 })])      a batch of change records
 *   tableBatch(3, [{ user: 'u1', t: 1000 }, { user: 'u2', t: 1500 }])
 *   times(0, 100, 130)                                        rows { t: 100 }, { t: 130 }
 */
import { Observable } from 'rxjs';
import type { MicroBatch, RunContext, TableBatch, WatermarkInfo } from '../stream/batch.js';
import { StreamMetrics } from '../stream/metrics.js';
import type { SourceBatch } from '../stream/source.js';
import { tableFromRows, type Value } from '../stream/table.js';

/** The run-wide context of a pipeline: fresh metrics (or yours, to read them after the run), no checkpoint. */
export function context(metrics: StreamMetrics = new StreamMetrics()): RunContext {
  return { metrics, checkpoint: undefined };
}

/** A batch of `rows` (change records, or any records) as `microBatch` emits it: no offsets, acknowledgements or state. */
export function recordBatch<R>(id: number, rows: readonly R[], ctx: RunContext = context()): MicroBatch<readonly R[]> {
  return { id, rows, offsets: {}, acks: [], replay: false, plannedWatermark: undefined, context: ctx, deadLetters: [], state: {} };
}

export interface TableBatchOptions {
  readonly ctx?: RunContext;
  /** a watermark already in force, as `withWatermark` would set it */
  readonly watermark?: WatermarkInfo;
  /** the column order (default: keys in first-seen order) */
  readonly names?: readonly string[];
}

/** A decoded batch of plain rows (columnar inside: a column of numbers and nulls becomes a number column). */
export function tableBatch(id: number, rows: readonly Readonly<Record<string, Value>>[], options: TableBatchOptions = {}): TableBatch {
  return { ...recordBatch(id, [], options.ctx), rows: tableFromRows(rows, options.names), watermark: options.watermark };
}

/** A decoded batch of rows with one column `t` holding the given event times (null: a row without event time). */
export function times(id: number, ...eventTimes: readonly (number | null)[]): TableBatch {
  return tableBatch(id, eventTimes.map((t) => ({ t })), { names: ['t'] });
}

/** A source batch of channel `channelId` covering record indexes [position, position + records.length); `acks` collects `channel@next` when acknowledged. */
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

/** An Observable that never emits, completes or errors, and tells whether it was unsubscribed. */
export function never$<T>(): { readonly observable: Observable<T>; unsubscribed(): boolean } {
  let unsubscribed = false;
  return {
    observable: new Observable<T>(() => () => {
      unsubscribed = true;
    }),
    unsubscribed: () => unsubscribed,
  };
}
