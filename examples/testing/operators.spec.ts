/**
 * Marble-testing a pipeline written with otsflow's operators — copy this file next to your own
 * pipeline. Time comes from the scheduler, so every operator runs in virtual time; each marble
 * letter is one micro-batch.
 */
import { map } from 'rxjs';
import { expect, it } from 'vitest';
import { WINDOW, aggregate, count, decodeRows, emit, sum, tumbling, withWatermark, type Catalog, type TableBatch } from 'otsflow';
import { marbleSource, putRow, testScheduler, times } from 'otsflow/testing';

const catalog: Catalog = { columns: { id: { type: 'string' }, t: { type: 'long' }, amount: { type: 'double' } } };
const payment = (id: string, t: number, amount: number) => putRow({ id }, { t: BigInt(t), amount });

it('the watermark trails the newest event time by the delay, from the next batch on', () => {
  testScheduler(expect).run(({ cold, expectObservable }) => {
    const source = cold('a-b-c-d', { a: times(0, 100, 130), b: times(1, 90), c: times(2, 200), d: times(3) });
    expectObservable(source.pipe(withWatermark({ eventTime: 't', delay: 50 }), map((batch: TableBatch) => batch.watermark))).toBe('a-b-c-d', {
      a: { current: -Infinity, next: 80 },
      b: { current: 80, next: 80 },
      c: { current: 80, next: 150 },
      d: { current: 150, next: 150 },
    });
  });
});

it('sums per 100 ms window and appends each window when the watermark closes it', () => {
  testScheduler(expect).run(({ cold, expectObservable, expectSubscriptions }) => {
    const batches = marbleSource(cold, '-a--b--c|', {
      a: [payment('p1', 10, 2.5), payment('p2', 60, 1)], // watermark after a: 60 − 20 = 40
      b: [payment('p3', 120, 4)], //                         after b: 100, which closes window 0–100
      c: [payment('p4', 230, 8), payment('p5', 50, 100)], // p5 is late (its window closed): dropped; after c: 210
    });
    const pipeline = batches.pipe(
      decodeRows({ catalog }),
      withWatermark({ eventTime: 't', delay: 20 }),
      tumbling({ eventTime: 't', size: 100 }),
      aggregate([WINDOW], { payments: count(), total: sum('amount') }),
      emit('append'),
      map((batch) => batch.rows),
    );
    expectObservable(pipeline).toBe('-a--b--c|', {
      a: [],
      b: [{ window: { start: 0, end: 100 }, payments: 2, total: 3.5 }],
      c: [{ window: { start: 100, end: 200 }, payments: 1, total: 4 }],
    });
    expectSubscriptions(batches.subscriptions).toBe('^-------!');
  });
});

it('stops reading when the test unsubscribes early', () => {
  testScheduler(expect).run(({ cold, expectObservable, expectSubscriptions }) => {
    const batches = marbleSource(cold, '-a--b--c|', { a: [payment('p1', 10, 1)], b: [payment('p2', 20, 1)], c: [payment('p3', 30, 1)] });
    expectObservable(batches.pipe(decodeRows({ catalog }), map((batch) => batch.rows.length)), '^---!').toBe('-a--', { a: 1 });
    expectSubscriptions(batches.subscriptions).toBe('^---!');
  });
});
