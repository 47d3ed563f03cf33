/**
 * `withWatermark({ eventTime, delay })`: event-time watermarks that depend only on the data.
 *
 * Per channel (see `rowChannels` on the batch): the channel watermark is the greatest event time
 * the channel has delivered so far minus `delay`. It only grows, and it is judged per row: a row's
 * lateness limit is its channel's watermark just before the row — from the rows before it in the
 * same channel, earlier batches and earlier rows of this batch alike — so any cut of a channel into
 * micro-batches, and any interleaving of channels, gives every row the same limit.
 *
 * The job watermark, which closes windows (append output, state eviction), is the least channel
 * watermark among the channels that may still deliver records (`holdingChannels`: known to the
 * source, not caught up), as Flink takes the minimum over source splits and leaves idle ones out.
 * When no channel holds it (all caught up), it is the greatest channel watermark. It never moves
 * back. Since a holding channel's watermark is at least the job watermark, a row that is on time
 * for its channel finds its window open; only a channel that was idle (caught up) or not yet
 * opened while the job watermark passed a window can later deliver a row into that closed window.
 *
 * Each batch carries the job watermark in force (`current`), the one after it (`next`, which
 * closes windows at the end of the batch, like Spark's no-data batch), and per row the lateness
 * limit `max(channel watermark before the row, current)` (`limits`): the window operators drop a
 * row whose window ends at or before its limit. A row at or after its limit cannot be late (its
 * windows end after it), so `limits` is only written for a batch with a row before its limit;
 * otherwise every limit is `current` and the batch carries none. A replayed batch uses the job watermark and the
 * holding channels recorded in its plan, and the channel maxima of the commit before it, so it
 * judges and closes exactly as the lost run did. The channel maxima are state, saved with each
 * commit. Batches without `rowChannels` and `holdingChannels` (not formed by `microBatch`, or
 * replayed from a plan written before per-channel watermarks) keep the single-watermark rule:
 * every row's limit is `current`, `next` comes from the greatest event time of all rows.
 *
 *   delay 50, one channel        a: times [100, 40, 130]   b: times [90]
 *   --a--b--|   withWatermark   --a'--b'--|
 *   a': current -∞, limits [-∞, 50, 50], next 80      b': current 80, limits [80], next 80
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
  /** per channel, the greatest event time delivered (finite values only) */
  readonly channels?: Readonly<Record<string, number>>;
  /** the single maximum of checkpoints written before per-channel watermarks */
  readonly maxEventTime?: number;
}

const NONE = Number.NEGATIVE_INFINITY;

export function withWatermark(options: WithWatermarkOptions): MonoTypeOperatorFunction<TableBatch> {
  if (!(options.delay >= 0)) throw new RangeError(`withWatermark: delay must be >= 0 ms, got ${options.delay}`);
  const stateKey = options.stateKey ?? 'watermark';
  const delay = options.delay;
  return (source) =>
    defer(() => {
      /** per channel, the greatest event time delivered */
      const maxima = new Map<string, number>();
      /** the greatest event time of batches without channel ranges, and of old checkpoints */
      let legacyMax = NONE;
      /** the job watermark after the last batch (without a checkpoint nothing else keeps it) */
      let job = NONE;
      let restored = false;
      return source.pipe(
        map((batch) => {
          if (!restored) {
            restored = true;
            const saved = restoredState(batch, stateKey) as WatermarkState | undefined;
            // a checkpoint from before per-channel watermarks keeps its single maximum: its plans
            // replay with the old rule, and its commit's watermark stays the floor of every limit
            if (saved?.maxEventTime !== undefined) {
              legacyMax = saved.maxEventTime;
              job = legacyMax - delay;
            }
            for (const [channelId, max] of Object.entries(saved?.channels ?? {})) maxima.set(channelId, max);
          }
          const current = batch.plannedWatermark ?? job;
          const times = eventTimes(batch.rows, options.eventTime);
          const n = times.length;
          const channels = batch.holdingChannels === undefined ? undefined : batch.rowChannels;
          let limits: number[] | undefined;
          if (channels !== undefined) {
            // one pass for the maxima; a row can only be late if its time is below its limit
            // (every window it falls in ends after it), so the per-row limits are written only
            // for a batch holding such a row — most batches need none and take `current`
            const ids = channels.ids;
            const startMax = new Array<number>(ids.length);
            let suspect = false;
            let i = 0;
            for (let k = 0; k < ids.length; k++) {
              const channelId = ids[k] as string;
              const end = Math.min(channels.ends[k] as number, n);
              let max = maxima.get(channelId) ?? NONE;
              startMax[k] = max;
              let edge = max - delay;
              for (; i < end; i++) {
                const t = times[i] as number;
                // NaN (no event time) fails both comparisons and moves nothing
                if (t < edge && edge > current) suspect = true;
                if (t > max) {
                  max = t;
                  edge = max - delay;
                }
              }
              if (max !== NONE) maxima.set(channelId, max);
            }
            if (suspect) {
              limits = new Array<number>(n);
              i = 0;
              for (let k = 0; k < ids.length; k++) {
                const end = Math.min(channels.ends[k] as number, n);
                let max = startMax[k] as number;
                for (; i < end; i++) {
                  const limit = max - delay;
                  limits[i] = limit > current ? limit : current;
                  const t = times[i] as number;
                  if (t > max) max = t;
                }
              }
              for (; i < n; i++) limits[i] = current;
            }
          } else {
            for (let i = 0; i < n; i++) {
              const t = times[i] as number;
              if (t > legacyMax) legacyMax = t;
            }
          }
          let candidate: number;
          const holding = batch.holdingChannels;
          if (holding === undefined) {
            // the single-watermark rule: the greatest event time seen anywhere
            let max = legacyMax;
            for (const channelMax of maxima.values()) if (channelMax > max) max = channelMax;
            candidate = max - delay;
          } else if (holding.length > 0) {
            candidate = Number.POSITIVE_INFINITY;
            for (const channelId of holding) {
              const watermark = (maxima.get(channelId) ?? NONE) - delay;
              if (watermark < candidate) candidate = watermark;
            }
          } else {
            // every channel is caught up: nothing known is still to come
            let max = legacyMax;
            for (const channelMax of maxima.values()) if (channelMax > max) max = channelMax;
            candidate = max - delay;
          }
          const next = candidate > current ? candidate : current;
          job = next;
          batch.context.metrics.set('watermark', next);
          const marked: TableBatch = { ...batch, watermark: limits === undefined ? { current, next } : { current, next, limits } };
          if (batch.context.checkpoint === undefined) return marked;
          const state: WatermarkState = { ...(maxima.size === 0 ? {} : { channels: Object.fromEntries(maxima) }), ...(legacyMax === NONE ? {} : { maxEventTime: legacyMax }) };
          return withState(marked, stateKey, encodeState(state));
        }),
      );
    });
}
