/**
 * `session({ eventTime, gap })`: session windows per group, as Spark's `session_window(t, gap)`.
 * Each row opens `[t, t + gap)`; the aggregate merges overlapping ones (strictly overlapping: rows
 * exactly `gap` apart start separate sessions), so a session is `[first, last + gap)`. A row is late
 * when its own `[t, t + gap)` ends at or before the watermark; a session closes when its end does.
 *
 * In update mode a session that grows or merges gets a new start or end; an upsert sink keyed by
 * the window keeps the superseded rows, so append mode is the natural mode for sessions.
 */
import type { MonoTypeOperatorFunction } from 'rxjs';
import type { TableBatch } from '../batch.js';
import { assignWindows, type WindowOptions } from './assign.js';

export interface SessionOptions extends WindowOptions {
  /** ms of inactivity that ends a session */
  readonly gap: number;
}

export function session(options: SessionOptions): MonoTypeOperatorFunction<TableBatch> {
  if (!(options.gap > 0)) throw new RangeError(`session: gap must be > 0 ms, got ${options.gap}`);
  return assignWindows({ kind: 'session', gap: options.gap }, options);
}
