import fc from 'fast-check';
import type { MonoTypeOperatorFunction } from 'rxjs';
import { describe, expect, it } from 'vitest';
import type { TableBatch } from '../../lib/stream/batch.js';
import { StreamMetrics } from '../../lib/stream/metrics.js';
import { hopping } from '../../lib/stream/windows/hopping.js';
import { session } from '../../lib/stream/windows/session.js';
import { tumbling } from '../../lib/stream/windows/tumbling.js';
import { context, never$, tableBatch, testScheduler } from './helpers.js';

/** Runs one window operator over one batch synchronously and returns its (row, start) pairs. */
function pairsOf(operator: MonoTypeOperatorFunction<TableBatch>, batch: TableBatch): { pairs: [number, number][]; out: TableBatch } {
  let out: TableBatch | undefined;
  let failure: unknown;
  testScheduler().run(({ cold, flush }) => {
    cold('a', { a: batch })
      .pipe(operator)
      .subscribe({ next: (value) => (out = value), error: (error: unknown) => (failure = error) });
    flush();
  });
  if (failure !== undefined) throw failure;
  if (out === undefined || out.windows === undefined) throw new Error('no windowed batch');
  const { windows } = out;
  return { pairs: Array.from({ length: windows.length }, (_, j) => [windows.row[j] as number, windows.start[j] as number]), out };
}

const rowsAt = (...times: (number | null)[]) => times.map((t, i) => ({ id: i, t }));

describe('tumbling', () => {
  it('puts each row in the window [floor((t − offset)/size)·size + offset, +size), as Spark does, negative times included', () => {
    expect(pairsOf(tumbling({ eventTime: 't', size: 30_000 }), tableBatch(0, rowsAt(0, 29_999, 30_000, -1, 61_000))).pairs).toEqual([
      [0, 0],
      [1, 0],
      [2, 30_000],
      [3, -30_000],
      [4, 60_000],
    ]);
    expect(pairsOf(tumbling({ eventTime: 't', size: 30_000, offset: 5_000 }), tableBatch(0, rowsAt(4_999, 5_000, 34_999))).pairs).toEqual([
      [0, -25_000],
      [1, 5_000],
      [2, 5_000],
    ]);
  });

  it('drops rows without event time, as Spark filters null window columns, and counts them', () => {
    const metrics = new StreamMetrics();
    const { pairs } = pairsOf(tumbling({ eventTime: 't', size: 10 }), tableBatch(0, rowsAt(5, null, 15), { ctx: context(metrics) }));
    expect(pairs).toEqual([
      [0, 0],
      [2, 10],
    ]);
    expect(metrics.snapshot().rowsWithoutEventTime).toBe(1);
  });

  it('drops rows whose window the watermark in force has closed (end <= watermark), or hands them to the dead letters', () => {
    const metrics = new StreamMetrics();
    const batch = tableBatch(7, rowsAt(5, 9, 10, 25), { ctx: context(metrics), watermark: { current: 10, next: 20 } });
    expect(pairsOf(tumbling({ eventTime: 't', size: 10 }), batch).pairs).toEqual([
      [2, 10],
      [3, 20],
    ]);
    const { out } = pairsOf(tumbling({ eventTime: 't', size: 10, late: 'dead-letter' }), batch);
    expect(out.deadLetters).toEqual([
      { kind: 'late-row', batchId: 7, row: { id: 0, t: 5 }, eventTime: 5, window: { start: 0, end: 10 }, watermark: 10 },
      { kind: 'late-row', batchId: 7, row: { id: 1, t: 9 }, eventTime: 9, window: { start: 0, end: 10 }, watermark: 10 },
    ]);
    expect(metrics.snapshot().lateRows).toBe(4);
  });

  it.each([
    ['tumbling', () => tumbling({ eventTime: 't', size: 10 })],
    ['hopping', () => hopping({ eventTime: 't', size: 10, slide: 5 })],
    ['session', () => session({ eventTime: 't', gap: 10 })],
  ] as const)('%s is empty on empty, silent on never, passes errors and unsubscribes upstream', (_name, operator) => {
    testScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      expectObservable(cold<TableBatch>('|').pipe(operator())).toBe('|');
      expectObservable(cold<TableBatch>('-#', undefined, new Error('late')).pipe(operator())).toBe('-#', undefined, new Error('late'));
      const source = cold('----a', { a: tableBatch(0, rowsAt(1)) });
      expectObservable(source.pipe(operator()), '^-!').toBe('');
      expectSubscriptions(source.subscriptions).toBe('^-!');
      const twice = cold('a', { a: tableBatch(0, rowsAt(1)) });
      expectObservable(twice.pipe(operator(), operator())).toBe('#', undefined, expect.objectContaining({ message: expect.stringMatching(/already has \w+ windows/) }));
    });
    const never = never$<TableBatch>();
    never.observable.pipe(operator()).subscribe().unsubscribe();
    expect(never.unsubscribed()).toBe(true);
  });

  it('rejects a non-positive size or an offset outside [0, size)', () => {
    expect(() => tumbling({ eventTime: 't', size: 0 })).toThrow(/size/);
    expect(() => tumbling({ eventTime: 't', size: 10, offset: 10 })).toThrow(/offset/);
  });
});

describe('hopping', () => {
  it('puts a row in every window of the slide grid that covers it, like Spark window(t, size, slide)', () => {
    expect(pairsOf(hopping({ eventTime: 't', size: 30_000, slide: 10_000 }), tableBatch(0, rowsAt(25_000, 30_000))).pairs).toEqual([
      [0, 0],
      [0, 10_000],
      [0, 20_000],
      [1, 10_000],
      [1, 20_000],
      [1, 30_000],
    ]);
  });

  it('assigns exactly the windows a brute-force scan of the grid finds, for any size, slide, offset and time', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 50 }), fc.integer({ min: 1, max: 50 }), fc.nat(), fc.integer({ min: -1000, max: 1000 }), (a, b, offsetSeed, t) => {
        const size = Math.max(a, b);
        const slide = Math.min(a, b);
        const offset = offsetSeed % slide;
        const expected: number[] = [];
        for (let start = offset - 2000 * slide; start <= t; start += slide) if (start + size > t) expected.push(start);
        const { pairs } = pairsOf(hopping({ eventTime: 't', size, slide, offset }), tableBatch(0, rowsAt(t)));
        expect(pairs.map(([, start]) => start)).toEqual(expected);
      }),
      { numRuns: 200 },
    );
  });

  it('drops only the windows of a row that the watermark closed', () => {
    const metrics = new StreamMetrics();
    const { pairs } = pairsOf(hopping({ eventTime: 't', size: 30, slide: 10 }), tableBatch(0, rowsAt(25), { ctx: context(metrics), watermark: { current: 30, next: 30 } }));
    expect(pairs).toEqual([
      [0, 10],
      [0, 20],
    ]);
    expect(metrics.snapshot().lateRows).toBe(1);
  });

  it('rejects a slide larger than the size', () => {
    expect(() => hopping({ eventTime: 't', size: 10, slide: 20 })).toThrow(/slide/);
  });
});

describe('session', () => {
  it('gives each row its own [t, t + gap) to be merged by the aggregate; late when that ends at or before the watermark', () => {
    const { pairs, out } = pairsOf(session({ eventTime: 't', gap: 10 }), tableBatch(0, rowsAt(5, 20, 11), { watermark: { current: 20, next: 20 } }));
    expect(pairs).toEqual([
      [1, 20],
      [2, 11],
    ]);
    expect(out.windows?.spec).toEqual({ kind: 'session', gap: 10 });
  });

  it('rejects a non-positive gap', () => {
    expect(() => session({ eventTime: 't', gap: 0 })).toThrow(/gap/);
  });
});

describe('event time', () => {
  it('reads a long column kept as bigint, or a computed vector', () => {
    const rows = [{ t: 12n }, { t: null }];
    expect(pairsOf(tumbling({ eventTime: 't', size: 10 }), tableBatch(0, rows)).pairs).toEqual([[0, 10]]);
    const doubled = tumbling({ eventTime: (table) => Array.from({ length: table.length }, (_, i) => i * 20), size: 10 });
    expect(pairsOf(doubled, tableBatch(0, [{ a: 1 }, { a: 2 }])).pairs).toEqual([
      [0, 0],
      [1, 20],
    ]);
    expect(() => pairsOf(tumbling({ eventTime: 'missing', size: 10 }), tableBatch(0, [{ t: 1 }]))).toThrow(/missing/);
  });
});

