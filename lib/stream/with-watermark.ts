/**
 * `withWatermark({ eventTime, delay })`: the event-time watermark, as Spark defines it — the
 * maximum event time seen in earlier batches minus `delay`, advanced only between batches and
 * never moved back. Each batch carries the watermark in force (`current`, which decides what is
 * late) and the one after it (`next`, which closes windows at the end of the batch — the effect of
 * Spark's no-data batch that follows a batch moving the watermark).
 *
 * Rows pass unchanged: lateness is judged per window by the window operators (a row whose window
 * end is at or before the watermark is late), as Spark judges the window column. A replayed batch
 * uses the watermark recorded in its plan. The maximum seen is state, saved with each commit.
 */
import { defer, map, type MonoTypeOperatorFunction } from 'rxjs';
import { restoredState, withState, type TableBatch } from './batch.js';
import { encodeState } from './checkpoint/state-codec.js';
import { eventTimes, type EventTime } from './event-time.js';

export interface WithWatermarkOptions {
  readonly eventTime: EventTime;
  /** milliseconds of lateness tolerated */
  readonly delay: number;
  readonly stateKey?: string;
}

interface WatermarkState {
  readonly maxEventTime: number;
}

export function withWatermark(options: WithWatermarkOptions): MonoTypeOperatorFunction<TableBatch> {
  if (!(options.delay >= 0)) throw new RangeError(`withWatermark: delay must be >= 0 ms, got ${options.delay}`);
  const stateKey = options.stateKey ?? 'watermark';
  return (source) =>
    defer(() => {
      let maxEventTime = Number.NEGATIVE_INFINITY;
      let restored = false;
      return source.pipe(
      map((batch) => {
        if (!restored) {
          restored = true;
          const saved = restoredState(batch, stateKey) as WatermarkState | undefined;
          if (saved !== undefined) maxEventTime = saved.maxEventTime;
        }
        const computed = maxEventTime - options.delay;
        const current = batch.plannedWatermark ?? computed;
        const times = eventTimes(batch.rows, options.eventTime);
        let batchMax = Number.NEGATIVE_INFINITY;
        for (let i = 0; i < times.length; i++) {
          const t = times[i] as number;
          if (t > batchMax) batchMax = t;
        }
        if (batchMax > maxEventTime) maxEventTime = batchMax;
        const next = Math.max(current, maxEventTime - options.delay);
        batch.context.metrics.set('watermark', next);
        const marked: TableBatch = { ...batch, watermark: { current, next } };
        return batch.context.checkpoint === undefined ? marked : withState(marked, stateKey, encodeState({ maxEventTime } satisfies WatermarkState));
      }),
      );
    });
}
