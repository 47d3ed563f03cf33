/**
 * `hopping({ eventTime, size, slide })`: overlapping windows of `size` starting every `slide`, as
 * Spark's `window(t, size, slide)` (EMR's HOPPING): a row lands in every window that covers it,
 * `ceil(size/slide)` of them at most. slide = size is tumbling.
 */
import type { MonoTypeOperatorFunction } from 'rxjs';
import type { TableBatch } from '../batch.js';
import { assignWindows, type WindowOptions } from './assign.js';

export interface HoppingOptions extends WindowOptions {
  readonly size: number;
  readonly slide: number;
  /** shifts the alignment from the epoch (Spark's startTime), 0 <= offset < slide */
  readonly offset?: number;
}

export function hopping(options: HoppingOptions): MonoTypeOperatorFunction<TableBatch> {
  const offset = options.offset ?? 0;
  if (!(options.size > 0)) throw new RangeError(`hopping: size must be > 0 ms, got ${options.size}`);
  if (!(options.slide > 0 && options.slide <= options.size)) throw new RangeError(`hopping: slide must be in (0, size], got ${options.slide}`);
  if (!(offset >= 0 && offset < options.slide)) throw new RangeError(`hopping: offset must be in [0, slide), got ${offset}`);
  return assignWindows({ kind: 'hopping', size: options.size, slide: options.slide, offset }, options);
}
