import { lastValueFrom, map, of, toArray, type Observable } from 'rxjs';
import { describe, expect, it } from 'vitest';
import type { OutputBatch, RunContext, TableBatch } from '../../lib/stream/batch.js';
import { aggregate, WINDOW } from '../../lib/stream/aggregate.js';
import { avg, count, countDistinct, first, last, max, min, sum, udaf } from '../../lib/stream/aggregates.js';
import { emit } from '../../lib/stream/emit.js';
import { StreamMetrics } from '../../lib/stream/metrics.js';
import type { Value } from '../../lib/stream/table.js';
import { session } from '../../lib/stream/windows/session.js';
import { tumbling } from '../../lib/stream/windows/tumbling.js';
import { withWatermark } from '../../lib/stream/with-watermark.js';
import { context, never$, tableBatch, testScheduler } from './helpers.js';

type Row = Readonly<Record<string, Value>>;
const rowsOf = map((batch: OutputBatch) => batch.rows);

/** Runs batches of rows through `pipeline` and returns the rows each output batch carries. */
async function run(batches: readonly (readonly Row[])[], pipeline: (source: Observable<TableBatch>) => Observable<OutputBatch>, ctx: RunContext = context()) {
  const source = of(...batches.map((rows, id) => ({ ...tableBatch(id, rows), context: ctx })));
  return lastValueFrom(pipeline(source).pipe(rowsOf, toArray()));
}

const concat = udaf<string, string>(
  {
    init: () => '',
    add: (text, value) => (value === null ? text : text + String(value)),
    merge: (left, right) => left + right,
    result: (text) => text,
  },
  'v',
);

describe('aggregate', () => {
  it('computes every built-in aggregate with Spark SQL null semantics, plus a user-defined one', async () => {
    const rows: Row[] = [
      { k: 'a', v: 3, s: 'x', t: 20 },
      { k: 'a', v: null, s: 'y', t: 10 },
      { k: 'a', v: 3, s: null, t: 30 },
      { k: 'a', v: -1, s: 'w', t: 5 },
      { k: 'b', v: null, s: null, t: 1 },
    ];
    const [out] = await run([rows], (source) =>
      source.pipe(
        aggregate(['k'], {
          rows: count(),
          values: count('v'),
          total: sum('v'),
          mean: avg('v'),
          low: min('v'),
          high: max('v'),
          lowText: min('s'),
          distinct: countDistinct('v'),
          firstArrived: first('v'),
          lastArrived: last('v'),
          firstNonNull: first('s', { ignoreNulls: true }),
          earliest: first('s', { by: 't' }),
          latest: last('s', { by: 't' }),
          joined: concat,
        }),
        emit('update'),
      ),
    );
    expect(out).toEqual([
      {
        k: 'a', rows: 4, values: 3, total: 5, mean: 5 / 3, low: -1, high: 3, lowText: 'w', distinct: 2,
        firstArrived: 3, lastArrived: -1, firstNonNull: 'x', earliest: 'w', latest: null, joined: '33-1',
      },
      {
        k: 'b', rows: 1, values: 0, total: null, mean: null, low: null, high: null, lowText: null, distinct: 0,
        firstArrived: null, lastArrived: null, firstNonNull: null, earliest: null, latest: null, joined: '',
      },
    ]);
  });

  it('keeps sums of exact longs (bigints) exact, and orders bytes and strings', async () => {
    const [out] = await run([[{ k: 1, v: 2n ** 60n, b: new Uint8Array([2]) }, { k: 1, v: 1n, b: new Uint8Array([1, 9]) }]], (source) =>
      source.pipe(aggregate(['k'], { total: sum('v'), most: max('v'), smallest: min('b'), kinds: countDistinct('b') }), emit('update')),
    );
    expect(out).toEqual([{ k: 1, total: 2n ** 60n + 1n, most: 2n ** 60n, smallest: new Uint8Array([1, 9]), kinds: 2 }]);
  });

  it('groups by the window and other columns, and in update mode outputs the changed groups with their full values', () => {
    testScheduler().run(({ cold, expectObservable }) => {
      const source = cold('a-b-c', {
        a: tableBatch(0, [{ user: 'u1', t: 1, p: 1 }, { user: 'u2', t: 2, p: 2 }, { user: 'u1', t: 12, p: 4 }]),
        b: tableBatch(1, [{ user: 'u1', t: 3, p: 8 }]),
        c: tableBatch(2, []),
      });
      const pipeline = source.pipe(tumbling({ eventTime: 't', size: 10 }), aggregate([WINDOW, 'user'], { n: count(), total: sum('p') }), emit('update'), rowsOf);
      expectObservable(pipeline).toBe('a-b-c', {
        a: [
          { window: { start: 0, end: 10 }, user: 'u1', n: 1, total: 1 },
          { window: { start: 0, end: 10 }, user: 'u2', n: 1, total: 2 },
          { window: { start: 10, end: 20 }, user: 'u1', n: 1, total: 4 },
        ],
        b: [{ window: { start: 0, end: 10 }, user: 'u1', n: 2, total: 9 }],
        c: [],
      });
    });
  });

  it('evicts the state of windows the watermark closes, drops their late rows, and keeps memory bounded by open windows', async () => {
    const metrics = new StreamMetrics();
    const batches = Array.from({ length: 200 }, (_, b) => Array.from({ length: 20 }, (_, i) => ({ user: `u${i % 4}`, t: b * 100 + i * 5, p: 1 })));
    batches.push([{ user: 'u0', t: 0, p: 1000 }]);
    const outputs = await run(
      batches,
      (source) => source.pipe(withWatermark({ eventTime: 't', delay: 150 }), tumbling({ eventTime: 't', size: 100 }), aggregate([WINDOW, 'user'], { n: count(), total: sum('p') }), emit('update')),
      context(metrics),
    );
    expect(outputs[outputs.length - 1]).toEqual([]);
    const snapshot = metrics.snapshot();
    expect(snapshot.lateRows).toBe(1);
    expect(snapshot.openWindows).toBeLessThanOrEqual(3);
    expect(snapshot.openGroups).toBeLessThanOrEqual(12);
    expect(outputs.flat().filter((row) => row['n'] === 5)).toHaveLength(200 * 4);
  });

  it('drops and counts late rows, and evicts the windows each batch closes (marbles)', () => {
    const metrics = new StreamMetrics();
    const ctx = context(metrics);
    const gauges: string[] = [];
    testScheduler().run(({ cold, expectObservable }) => {
      const source = cold('a-b-c', {
        a: { ...tableBatch(0, [{ t: 1 }, { t: 11 }, { t: 25 }]), context: ctx },
        b: { ...tableBatch(1, [{ t: 2 }, { t: 15 }, { t: 31 }]), context: ctx },
        c: { ...tableBatch(2, [{ t: 19 }, { t: 29 }, { t: 3 }]), context: ctx },
      });
      const pipeline = source.pipe(
        withWatermark({ eventTime: 't', delay: 10 }),
        tumbling({ eventTime: 't', size: 10 }),
        aggregate([WINDOW], { n: count() }),
        emit('update'),
        map((batch) => {
          const snapshot = batch.context.metrics.snapshot();
          gauges.push(`batch ${batch.id}: late ${snapshot.lateRows}, open windows ${snapshot.openWindows}`);
          return batch.rows;
        }),
      );
      // watermark after a: 15 closes [0,10); b's t=2 is late; after b: 21 closes [10,20); c's t=19 and t=3 are late
      expectObservable(pipeline).toBe('a-b-c', {
        a: [
          { window: { start: 0, end: 10 }, n: 1 },
          { window: { start: 10, end: 20 }, n: 1 },
          { window: { start: 20, end: 30 }, n: 1 },
        ],
        b: [
          { window: { start: 10, end: 20 }, n: 2 },
          { window: { start: 30, end: 40 }, n: 1 },
        ],
        c: [{ window: { start: 20, end: 30 }, n: 2 }],
      });
    });
    expect(gauges).toEqual(['batch 0: late 0, open windows 2', 'batch 1: late 1, open windows 2', 'batch 2: late 3, open windows 2']);
  });

  it('in append mode outputs each window once, in the batch whose watermark closes it', () => {
    testScheduler().run(({ cold, expectObservable }) => {
      const source = cold('a-b-c-d', {
        a: tableBatch(0, [{ t: 1 }, { t: 5 }, { t: 12 }]),
        b: tableBatch(1, [{ t: 14 }, { t: 22 }]),
        c: tableBatch(2, [{ t: 3 }, { t: 35 }]),
        d: tableBatch(3, [{ t: 36 }]),
      });
      const pipeline = source.pipe(withWatermark({ eventTime: 't', delay: 5 }), tumbling({ eventTime: 't', size: 10 }), aggregate([WINDOW], { n: count() }), emit('append'), rowsOf);
      expectObservable(pipeline).toBe('a-b-c-d', {
        a: [],
        b: [{ window: { start: 0, end: 10 }, n: 2 }],
        c: [
          { window: { start: 10, end: 20 }, n: 2 },
          { window: { start: 20, end: 30 }, n: 1 },
        ],
        d: [],
      });
    });
  });

  it('in complete mode outputs every group every batch, closed windows included', () => {
    testScheduler().run(({ cold, expectObservable }) => {
      const source = cold('a-b', { a: tableBatch(0, [{ t: 1 }, { t: 12 }]), b: tableBatch(1, [{ t: 40 }]) });
      const pipeline = source.pipe(withWatermark({ eventTime: 't', delay: 0 }), tumbling({ eventTime: 't', size: 10 }), aggregate([WINDOW], { n: count() }), emit('complete'), rowsOf);
      expectObservable(pipeline).toBe('a-b', {
        a: [
          { window: { start: 0, end: 10 }, n: 1 },
          { window: { start: 10, end: 20 }, n: 1 },
        ],
        b: [
          { window: { start: 0, end: 10 }, n: 1 },
          { window: { start: 10, end: 20 }, n: 1 },
          { window: { start: 40, end: 50 }, n: 1 },
        ],
      });
    });
  });

  it('merges session windows per key across batches, with every accumulator merged', () => {
    testScheduler().run(({ cold, expectObservable }) => {
      const source = cold('a-b-c', {
        a: tableBatch(0, [{ k: 'x', t: 0, v: 1 }, { k: 'x', t: 18, v: 2 }, { k: 'y', t: 5, v: 7 }]),
        b: tableBatch(1, [{ k: 'x', t: 9, v: 4 }]),
        c: tableBatch(2, [{ k: 'x', t: 100, v: 8 }]),
      });
      const pipeline = source.pipe(
        withWatermark({ eventTime: 't', delay: 30 }),
        session({ eventTime: 't', gap: 10 }),
        aggregate([WINDOW, 'k'], { n: count(), total: sum('v'), firstV: first('v'), lastV: last('v'), low: min('v') }),
        emit('append'),
        rowsOf,
      );
      expectObservable(pipeline).toBe('a-b-c', {
        a: [],
        b: [],
        c: [
          { window: { start: 0, end: 28 }, k: 'x', n: 3, total: 7, firstV: 1, lastV: 4, low: 1 },
          { window: { start: 5, end: 15 }, k: 'y', n: 1, total: 7, firstV: 7, lastV: 7, low: 7 },
        ],
      });
    });
  });

  it('refuses append mode without a watermark, emit without aggregate, and keys that do not match the windows', () => {
    testScheduler().run(({ cold, expectObservable }) => {
      const batch = { a: tableBatch(0, [{ t: 1 }]) };
      expectObservable(cold('a', batch).pipe(tumbling({ eventTime: 't', size: 10 }), aggregate([WINDOW], { n: count() }), emit('append'))).toBe('#', undefined, expect.objectContaining({ message: expect.stringMatching(/append.*watermark/) }));
      expectObservable(cold('a', batch).pipe(emit('update'))).toBe('#', undefined, expect.objectContaining({ message: expect.stringMatching(/no aggregation/) }));
      expectObservable(cold('a', batch).pipe(aggregate([WINDOW], { n: count() }))).toBe('#', undefined, expect.objectContaining({ message: expect.stringMatching(/no windows/) }));
      expectObservable(cold('a', batch).pipe(tumbling({ eventTime: 't', size: 10 }), aggregate([], { n: count() }))).toBe('#', undefined, expect.objectContaining({ message: expect.stringMatching(/WINDOW is not among the keys/) }));
    });
    expect(() => aggregate(['n'], { n: count() })).toThrow(/distinct/);
    expect(() => emit('upsert' as 'update')).toThrow(/output mode/);
  });

  it('is empty on empty, silent on never, passes errors and unsubscribes upstream', () => {
    testScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      expectObservable(cold<TableBatch>('|').pipe(aggregate([], { n: count() }), emit('update'))).toBe('|');
      expectObservable(cold<TableBatch>('-#').pipe(aggregate([], { n: count() }), emit('update'))).toBe('-#');
      const source = cold('--a', { a: tableBatch(0, [{ x: 1 }]) });
      expectObservable(source.pipe(aggregate([], { n: count() }), emit('complete')), '^!').toBe('');
      expectSubscriptions(source.subscriptions).toBe('^!');
    });
    const never = never$<TableBatch>();
    never.observable.pipe(aggregate([], { n: count() }), emit('update')).subscribe().unsubscribe();
    expect(never.unsubscribed()).toBe(true);
  });
});
