/** The live view carries a job's trouble (e.g. an unreachable endpoint) while it lasts. */
import { describe, expect, it } from 'vitest';
import { progressLine, progressPrinter, renderProgress } from '../../lib/cli/progress.js';
import type { JobProgress } from '../../lib/sql/job.js';
import { StreamMetrics } from '../../lib/stream/metrics.js';

const progress = (status?: string): JobProgress => ({
  job: 'job1',
  state: 'running',
  metrics: new StreamMetrics().snapshot(),
  recordsPerSecond: 0,
  channels: [{ channelId: 'p0_e0abcdef', status: 'OPEN' }],
  latestRows: [],
  sinkKey: [],
  ...(status === undefined ? {} : { status }),
});

const STATUS = 'cannot reach http://127.0.0.1:9: connect ECONNREFUSED 127.0.0.1:9; retrying for 12 s, 2 batches pending';

describe('progress with a status', () => {
  it('the terminal block shows it under the counters, the plain line after the state; without one neither changes', () => {
    const block = renderProgress(progress(STATUS), []);
    expect(block[0]).toBe('job job1 — running');
    expect(block[3]).toBe(`  ${STATUS}`);
    expect(block[4]).toMatch(/^ {2}channels \(1\)/);
    expect(renderProgress(progress(), [])).toEqual(block.filter((line) => line !== `  ${STATUS}`));
    expect(progressLine(progress(STATUS))).toMatch(new RegExp(`^job job1: running · ${STATUS.replace(/[.]/g, '\\.')}, 0 records/s`));
    expect(progressLine(progress())).toMatch(/^job job1: running, 0 records\/s/);
  });

  it('a pipe gets it in the plain line', () => {
    const written: string[] = [];
    const printer = progressPrinter({ write: (text: string) => written.push(text), isTTY: false }, {}, { lineEveryMs: 0 });
    printer.update(progress(STATUS));
    printer.close();
    expect(written.length).toBeGreaterThan(0);
    for (const line of written) expect(line).toContain(STATUS);
  });
});
