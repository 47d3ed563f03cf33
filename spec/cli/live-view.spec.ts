/**
 * The live view shows the current windows: one row per sink key, a later batch's row replacing the
 * earlier one in place, the newest windows first, at most `rows` of them — not a log of the last
 * emissions (issue 14: six rows of one window at different moments, plus stale rows).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CurrentRows, progressLine, progressPrinter, renderProgress } from '../../lib/cli/progress.js';
import type { JobProgress } from '../../lib/sql/job.js';
import { StreamMetrics } from '../../lib/stream/metrics.js';
import type { OutputRow } from '../../lib/stream/table.js';

const WINDOW = 30_000;
const T0 = Date.UTC(2026, 11, 7, 0, 40, 0);
const text = (ms: number): string => new Date(ms).toISOString().replace('T', ' ').slice(0, 19);
const windowRow = (k: number, count: number): OutputRow => ({ begin: text(T0 + k * WINDOW), end: text(T0 + (k + 1) * WINDOW), count, totalPrice: count * 2.5 });

/** Batches of update-mode output: each batch rewrites some windows (late ones too) with their running counts. */
const batchesArb = fc.array(fc.array(fc.record({ window: fc.integer({ min: 0, max: 11 }), add: fc.integer({ min: 1, max: 500 }) }), { minLength: 1, maxLength: 6 }), { minLength: 1, maxLength: 30 });

describe('CurrentRows', () => {
  it('keeps the last row of each sink key and the newest `rows` keys, newest first', () => {
    fc.assert(
      fc.property(batchesArb, fc.integer({ min: 1, max: 8 }), (batches, keep) => {
        const view = new CurrentRows({ rows: keep });
        const counts = new Map<number, number>();
        for (const batch of batches) {
          const rows: OutputRow[] = [];
          for (const { window, add } of batch) {
            counts.set(window, (counts.get(window) ?? 0) + add);
            // a batch holds each window once, with its count after the batch (update mode)
            const at = rows.findIndex((row) => row.begin === text(T0 + window * WINDOW));
            if (at >= 0) rows.splice(at, 1);
            rows.push(windowRow(window, counts.get(window) as number));
          }
          view.add(rows, ['begin', 'end']);
        }
        // expected, independently: every window written, its final count, newest `keep` by start
        const expected = [...counts.entries()]
          .sort(([a], [b]) => b - a)
          .slice(0, keep)
          .map(([window, count]) => windowRow(window, count));
        expect(view.list()).toEqual(expected);
      }),
      { numRuns: 200 },
    );
  });

  it('a key that is not a time: the most recently written first', () => {
    const view = new CurrentRows({ rows: 3 });
    view.add([{ user: 'b', n: 1 }, { user: 'a', n: 1 }], ['user']);
    view.add([{ user: 'c', n: 1 }, { user: 'b', n: 2 }], ['user']);
    view.add([{ user: 'd', n: 1 }], ['user']);
    expect(view.list()).toEqual([{ user: 'd', n: 1 }, { user: 'b', n: 2 }, { user: 'c', n: 1 }]);
  });

  it('without a sink key a whole row is its own key; sortBy picks the order column', () => {
    const view = new CurrentRows({ rows: 3, sortBy: 'count' });
    view.add([windowRow(0, 5), windowRow(1, 9)]);
    view.add([windowRow(2, 7), windowRow(1, 9)]);
    expect(view.list().map((row) => row.count)).toEqual([9, 7, 5]);
  });
});

const progress = (rows: readonly OutputRow[], metrics = new StreamMetrics()): JobProgress => ({
  job: 'job1',
  state: 'running',
  metrics: metrics.snapshot(),
  recordsPerSecond: 0,
  channels: [
    { channelId: 'p0_aaaaaaaa', status: 'OPEN', lagRecords: 1_500, more: true, lagMs: 12_300 },
    { channelId: 'p1_bbbbbbbb', status: 'OPEN', lagRecords: 0, more: false, lagMs: 0 },
  ],
  latestRows: rows,
  sinkKey: ['begin', 'end'],
});

describe('the live view', () => {
  it('redraws the current windows in place: the demo case of one window at six moments is one row', () => {
    const out: string[] = [];
    const printer = progressPrinter({ write: (chunk: string) => out.push(chunk), isTTY: true }, { rows: 6 }, { refreshMs: 0 });
    // the emissions: the same window 00:43:30 at different moments, plus an older one
    for (const count of [3766, 4149, 4473, 4827]) printer.update(progress([windowRow(7, count)]));
    printer.update(progress([windowRow(6, 57), windowRow(7, 5101)]));
    printer.update(progress([windowRow(8, 664)]));
    printer.close();
    const last = out[out.length - 1] as string;
    const tableRows = last.split('\n').filter((line) => /^ {2}\| \d{4}-/.test(line));
    const shown = tableRows.map((line) => line.split('|').map((cell) => cell.trim()).filter((cell) => cell !== ''));
    const expected = [windowRow(8, 664), windowRow(7, 5101), windowRow(6, 57)];
    expect(shown.map(([begin, end, count, total]) => ({ begin, end, count: Number(count), totalPrice: Number(total) }))).toEqual(expected);
    // each redraw moves the cursor up over the previous block and clears it
    expect(out.slice(1).every((chunk) => chunk.startsWith('\u001b['))).toBe(true);
  });

  it('shows each channel with its lag in records and seconds, batch latency and late rows', () => {
    const metrics = new StreamMetrics();
    metrics.noteBatchLatency(40);
    metrics.noteBatchLatency(20);
    metrics.add('lateRows', 3);
    metrics.noteLate(1, [{ start: T0, end: T0 + WINDOW, rows: 3 }]);
    const block = renderProgress(progress([], metrics), []);
    expect(block).toContain('  batch latency 20 ms (mean 30 ms over 2 batches)');
    expect(block).toContain('  late rows dropped 3: 00:40:00–00:40:30 ×3 UTC');
    expect(block).toContain('    p0_aaaaaaaa  OPEN  1,500+ records · 12.3 s');
    expect(block).toContain('    p1_bbbbbbbb  OPEN  0 records · 0 ms');
  });

  it('a job on many workers: each channel names the worker that holds it', () => {
    const workers = ['vm-a pid 41 (this worker)', 'vm-b pid 7'];
    const channels = [
      { channelId: 'p0_e0', status: 'OPEN', clientId: 'c-a', worker: workers[0], lagRecords: 12, more: false, lagMs: 40 },
      { channelId: 'p1_e0', status: 'OPEN', clientId: 'c-b', worker: workers[1] },
      { channelId: 'p2_e0', status: 'OPEN', clientId: 'c-x' },
      { channelId: 'p3_e0', status: 'CLOSE' },
    ];
    const block = renderProgress({ ...progress([]), channels }, []);
    expect(block).toContain('  channels (4), lag = records read and not committed (+: more at the service) · seconds behind · held by:');
    const lines = block.filter((line) => /^ {4}p\d_e0 /.test(line));
    // expected per channel: its holder's worker name, else its tunnel client, else none
    const holders = channels.map((channel) => channel.worker ?? (channel.clientId === undefined ? '–' : `client ${channel.clientId}`));
    expect(lines.map((line) => line.trimEnd().split(/\s{2,}/).at(-1))).toEqual(holders);
    // the holders start in one column
    expect(new Set(lines.map((line, i) => line.lastIndexOf(holders[i] as string))).size).toBe(1);
    // a job of one worker (no holders known) keeps the single-worker layout
    expect(renderProgress(progress([]), []).some((line) => line.includes('held by'))).toBe(false);
  });

  it('off a terminal, one line sums the lag of the channels and names the batch latency', () => {
    const metrics = new StreamMetrics();
    metrics.noteBatchLatency(1_500);
    const p = progress([windowRow(1, 3)], metrics);
    const records = p.channels.reduce((sum, channel) => sum + (channel.lagRecords ?? 0), 0);
    const worst = Math.max(...p.channels.map((channel) => channel.lagMs ?? 0)) / 1000;
    const line = progressLine(p);
    expect(line).toContain(', batch latency 1.5 s');
    expect(line).toContain(` · lag ${records.toLocaleString('en-US')}+ records, max ${worst.toFixed(1)} s`);
    const out: string[] = [];
    const printer = progressPrinter({ write: (chunk: string) => out.push(chunk) }, {}, { lineEveryMs: 0 });
    printer.update(p);
    expect(out).toEqual([`${line}\n`]);
  });
});
