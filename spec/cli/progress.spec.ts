/**
 * The live view and the progress line name late rows with a per-window count, from the metrics the
 * window operators fill (StreamMetrics.noteLate), and the job's log text lists them per window.
 */
import { describe, expect, it } from 'vitest';
import { progressLine, renderProgress } from '../../lib/cli/progress.js';
import { timeZone } from '../../lib/sql/datetime.js';
import { lateText, type JobProgress } from '../../lib/sql/job.js';
import { StreamMetrics } from '../../lib/stream/metrics.js';

const T0 = Date.UTC(2026, 0, 1, 10, 0, 0);
const progress = (metrics: StreamMetrics): JobProgress => ({ job: 'job1', state: 'running', metrics: metrics.snapshot(), recordsPerSecond: 0, channels: [], latestRows: [], sinkKey: [] });

describe('late rows in the live view', () => {
  it('says nothing while no row was late', () => {
    const metrics = new StreamMetrics();
    expect(renderProgress(progress(metrics), []).join('\n')).not.toMatch(/late rows/);
    expect(progressLine(progress(metrics))).not.toMatch(/late/);
  });

  it('counts late rows per window across batches, and each batch once for its log line', () => {
    const metrics = new StreamMetrics();
    metrics.add('lateRows', 3);
    metrics.noteLate(4, [
      { start: T0, end: T0 + 45_000, rows: 2 },
      { start: T0 + 45_000, end: T0 + 90_000, rows: 1 },
    ]);
    metrics.add('lateRows', 2);
    metrics.noteLate(6, [{ start: T0, end: T0 + 45_000, rows: 2 }]);
    expect(metrics.snapshot().lateWindows).toEqual([
      { start: T0, end: T0 + 45_000, rows: 4 },
      { start: T0 + 45_000, end: T0 + 90_000, rows: 1 },
    ]);
    expect(renderProgress(progress(metrics), [])).toContain('  late rows dropped 5: 10:00:00–10:00:45 ×4 · 10:00:45–10:01:30 ×1 UTC');
    expect(progressLine(progress(metrics))).toContain('late rows dropped 5 (10:00:00–10:00:45 ×4 · 10:00:45–10:01:30 ×1 UTC)');
    const zone = timeZone('Asia/Shanghai');
    if (zone._tag === 'Left') throw new Error(zone.left);
    expect(lateText(metrics.takeLate(4), zone.right)).toBe('3 late rows dropped (window 2026-01-01 18:00:00–18:00:45: 2, window 2026-01-01 18:00:45–18:01:30: 1)');
    expect(metrics.takeLate(4)).toEqual([]);
    expect(metrics.takeLate(5)).toEqual([]);
  });
});
