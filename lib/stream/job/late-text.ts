/**
 * `3 late rows dropped (window 2024-01-01 00:00:45–00:01:30: 2, …)`: the rows behind their
 * lateness limit (README, "Late data"), per window, times written by `formatTime`; at most 5 windows.
 */
import type { LateWindow } from '../metrics.js';

/** `2024-01-01 00:00:45` in UTC: how a job writes times unless it is told otherwise */
export const utcTime = (epochMs: number): string => new Date(epochMs).toISOString().replace('T', ' ').replace(/\.000Z$/, '').replace(/Z$/, '');

export function lateText(windows: readonly LateWindow[], formatTime: (epochMs: number) => string = utcTime, total?: number): string {
  const rows = total ?? windows.reduce((sum, window) => sum + window.rows, 0);
  const sorted = [...windows].sort((a, b) => a.start - b.start);
  const shown = sorted.slice(0, 5).map((window) => {
    const start = formatTime(window.start);
    const end = formatTime(window.end);
    const sameDay = start.slice(0, 11) === end.slice(0, 11);
    return `window ${start}–${sameDay ? end.slice(11) : end}: ${window.rows}`;
  });
  const more = sorted.length > 5 ? `, … ${sorted.length - 5} more windows` : '';
  return `${rows} late ${rows === 1 ? 'row' : 'rows'} dropped (${shown.join(', ')}${more})`;
}
