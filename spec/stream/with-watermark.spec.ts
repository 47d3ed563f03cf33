import { map } from 'rxjs';
import { describe, expect, it } from 'vitest';
import type { TableBatch } from '../../lib/stream/batch.js';
import { StreamMetrics } from '../../lib/stream/metrics.js';
import { withWatermark } from '../../lib/stream/with-watermark.js';
import { context, never$, testScheduler, times } from './helpers.js';

const watermarks = map((batch: TableBatch) => batch.watermark);

describe('withWatermark', () => {
  it('is the maximum event time of earlier batches minus the delay, applied from the next batch, never moving back', () => {
    const metrics = new StreamMetrics();
    const ctx = context(metrics);
    testScheduler().run(({ cold, expectObservable }) => {
      const source = cold('a-b-c-d', {
        a: { ...times(0, 100, 130, null), context: ctx },
        b: { ...times(1, 90), context: ctx },
        c: { ...times(2, 200), context: ctx },
        d: { ...times(3), context: ctx },
      });
      expectObservable(source.pipe(withWatermark({ eventTime: 't', delay: 50 }), watermarks)).toBe('a-b-c-d', {
        a: { current: Number.NEGATIVE_INFINITY, next: 80 },
        b: { current: 80, next: 80 },
        c: { current: 80, next: 150 },
        d: { current: 150, next: 150 },
      });
    });
    expect(metrics.snapshot().watermark).toBe(150);
  });

  it('uses the watermark recorded in a replayed plan as the one in force', () => {
    testScheduler().run(({ cold, expectObservable }) => {
      const source = cold('a', { a: { ...times(5, 100), plannedWatermark: 70 } });
      expectObservable(source.pipe(withWatermark({ eventTime: 't', delay: 10 }), watermarks)).toBe('a', { a: { current: 70, next: 90 } });
    });
  });

  it('restores the maximum seen from the last commit, and saves it with each batch when checkpointing', () => {
    const session = { location: 'memory', restoredState: { watermark: { maxEventTime: 500 } }, commit: () => { throw new Error('not used'); } };
    const ctx = { metrics: new StreamMetrics(), checkpoint: session };
    testScheduler().run(({ cold, expectObservable }) => {
      const source = cold('a-b', { a: { ...times(8, 100), context: ctx }, b: { ...times(9, 700), context: ctx } });
      expectObservable(source.pipe(withWatermark({ eventTime: 't', delay: 100 }), map((batch) => ({ watermark: batch.watermark, state: batch.state })))).toBe('a-b', {
        a: { watermark: { current: 400, next: 400 }, state: { watermark: { maxEventTime: 500 } } },
        b: { watermark: { current: 400, next: 600 }, state: { watermark: { maxEventTime: 700 } } },
      });
    });
  });

  it('is empty on empty, silent on never, passes errors and unsubscribes upstream', () => {
    testScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      expectObservable(cold<TableBatch>('|').pipe(withWatermark({ eventTime: 't', delay: 1 }))).toBe('|');
      expectObservable(cold<TableBatch>('#').pipe(withWatermark({ eventTime: 't', delay: 1 }))).toBe('#');
      const source = cold('---a', { a: times(0, 1) });
      expectObservable(source.pipe(withWatermark({ eventTime: 't', delay: 1 })), '^!').toBe('');
      expectSubscriptions(source.subscriptions).toBe('^!');
    });
    const never = never$<TableBatch>();
    never.observable.pipe(withWatermark({ eventTime: 't', delay: 1 })).subscribe().unsubscribe();
    expect(never.unsubscribed()).toBe(true);
    expect(() => withWatermark({ eventTime: 't', delay: -1 })).toThrow(/delay/);
  });

  it('keeps its state per subscription', () => {
    testScheduler().run(({ cold, expectObservable }) => {
      const watermarked = cold('a-b', { a: times(0, 100), b: times(1) }).pipe(withWatermark({ eventTime: 't', delay: 0 }), map((batch) => batch.watermark?.current));
      expectObservable(watermarked).toBe('a-b', { a: Number.NEGATIVE_INFINITY, b: 100 });
      expectObservable(watermarked).toBe('a-b', { a: Number.NEGATIVE_INFINITY, b: 100 });
    });
  });
});
