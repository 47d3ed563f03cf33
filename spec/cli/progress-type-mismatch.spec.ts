import { describe, expect, it } from 'vitest';
import { formatTypeMismatches, progressLine, renderProgress } from '../../lib/cli/progress.js';
import type { JobProgress } from '../../lib/sql/job.js';
import { StreamMetrics } from '../../lib/stream/metrics.js';

const progress = (metrics: StreamMetrics): JobProgress => ({ job: 'j', state: 'running', metrics: metrics.snapshot(), recordsPerSecond: 0, channels: [], latestRows: [], sinkKey: [] });

describe('the live view shows type mismatches read as null', () => {
  it('names the columns, most first, in the block and in the log line; nothing when there are none', () => {
    const metrics = new StreamMetrics();
    expect(renderProgress(progress(metrics), []).join('\n')).not.toContain('wrong-type');
    expect(progressLine(progress(metrics))).not.toContain('wrong-type');
    const batches: Record<string, number>[] = [{ price: 2 }, { price: 1, note: 4 }, { price: 3 }];
    for (const batch of batches) metrics.addTypeMismatches(batch);
    const total = batches.flatMap((batch) => Object.values(batch)).reduce((a, b) => a + b, 0);
    const expected = `${total} wrong-type values read as null (price 6, note 4)`;
    expect(renderProgress(progress(metrics), [])).toContain(`  ${expected}`);
    expect(progressLine(progress(metrics))).toContain(`, ${expected}`);
  });

  it('caps the list of columns', () => {
    const byColumn = Object.fromEntries(['a', 'b', 'c', 'd', 'e', 'f'].map((name, i) => [name, i + 1]));
    expect(formatTypeMismatches(21, byColumn)).toBe('21 wrong-type values read as null (f 6, e 5, d 4, c 3, 2 more columns)');
  });
});
