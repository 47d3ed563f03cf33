/**
 * `tumbling({ eventTime, size })`: fixed, non-overlapping event-time windows aligned to the epoch
 * like Spark's `window(t, size)`: a row at `t` is in `[floor((t − offset)/size)·size + offset, +size)`.
 */
import type { MonoTypeOperatorFunction } from 'rxjs';
import type { TableBatch } from '../batch.js';
import { assignWindows, type WindowOptions } from './assign.js';

export interface TumblingOptions extends WindowOptions {
  /** window length in ms */
  readonly size: number;
  /** shifts the alignment from the epoch (Spark's startTime), 0 <= offset < size */
  readonly offset?: number;
}

export function tumbling(options: TumblingOptions): MonoTypeOperatorFunction<TableBatch> {
  const offset = options.offset ?? 0;
  if (!(options.size > 0)) throw new RangeError(`tumbling: size must be > 0 ms, got ${options.size}`);
  if (!(offset >= 0 && offset < options.size)) throw new RangeError(`tumbling: offset must be in [0, size), got ${offset}`);
  return assignWindows({ kind: 'tumbling', size: options.size, offset }, options);
}
