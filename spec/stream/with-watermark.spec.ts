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

  describe('per channel (batches from microBatch: rowChannels and holdingChannels)', () => {
    /** rows [t…] of channels in order: `{ a: [100, 40], b: [10] }` */
    const channelBatch = (id: number, channels: Record<string, readonly (number | null)[]>, holding: readonly string[], extra: Partial<TableBatch> = {}): TableBatch => {
      const ids = Object.keys(channels).sort();
      const rows: { t: number | null }[] = [];
      const ends: number[] = [];
      for (const channelId of ids) {
        for (const t of channels[channelId] ?? []) rows.push({ t });
        ends.push(rows.length);
      }
      return { ...times(id, ...rows.map((row) => row.t)), rowChannels: { ids, ends }, holdingChannels: holding, ...extra };
    };

    it('judges each row by its own channel before it, and closes windows at the least holding channel', () => {
      testScheduler().run(({ cold, expectObservable }) => {
        const source = cold('a-b-c', {
          // channel a races ahead; b is far behind; within a batch, a row sees the rows before it
          a: channelBatch(0, { a: [1000, 400, 1200], b: [100] }, ['a', 'b']),
          b: channelBatch(1, { b: [150, 120] }, ['a', 'b']),
          // b caught up: only a holds the job watermark now
          c: channelBatch(2, {}, ['a']),
        });
        const NEG = Number.NEGATIVE_INFINITY;
        expectObservable(source.pipe(withWatermark({ eventTime: 't', delay: 50 }), watermarks)).toBe('a-b-c', {
          a: { current: NEG, next: 50, limits: [NEG, 950, 950, NEG] },
          // no row below its limit: no per-row limits, every row's is `current`
          b: { current: 50, next: 100 },
          c: { current: 100, next: 1150 },
        });
      });
    });

    it('cuts a channel anywhere with the same limits', () => {
      const limitsOf = (cuts: readonly (readonly number[])[]): number[] => {
        const out: number[] = [];
        testScheduler().run(({ cold }) => {
          const batches = Object.fromEntries(cuts.map((cut, i) => [String.fromCharCode(97 + i), channelBatch(i, { x: cut }, ['x'])]));
          cold(cuts.map((_, i) => String.fromCharCode(97 + i)).join(''), batches)
            .pipe(withWatermark({ eventTime: 't', delay: 10 }))
            .subscribe((batch) => out.push(...(batch.watermark?.limits ?? Array.from({ length: batch.rows.length }, () => batch.watermark?.current as number))));
        });
        return out;
      };
      const data = [5, 30, 12, 50, 41, 39, 90, 60];
      const whole = limitsOf([data]);
      expect(whole).toEqual([-Infinity, -5, 20, 20, 40, 40, 40, 80]);
      // a later cut can only raise a limit to the job watermark in force, which the one channel never exceeds
      expect(limitsOf([data.slice(0, 3), data.slice(3, 6), data.slice(6)])).toEqual(whole);
      expect(limitsOf(data.map((t) => [t]))).toEqual(whole);
    });

    it('with every channel caught up, closes at the greatest channel watermark; saves and restores the channel maxima', () => {
      const session = { location: 'memory', restoredState: { watermark: { channels: { a: 300, b: 900 } } }, commit: () => { throw new Error('not used'); } };
      const ctx = { metrics: new StreamMetrics(), checkpoint: session };
      testScheduler().run(({ cold, expectObservable }) => {
        const source = cold('a-b', {
          a: { ...channelBatch(4, { a: [320] }, ['a', 'b']), plannedWatermark: 200, context: ctx },
          b: { ...channelBatch(5, {}, []), plannedWatermark: 220, context: ctx },
        });
        expectObservable(source.pipe(withWatermark({ eventTime: 't', delay: 100 }), map((batch) => ({ watermark: batch.watermark, state: batch.state })))).toBe('a-b', {
          a: { watermark: { current: 200, next: 220 }, state: { watermark: { channels: { a: 320, b: 900 } } } },
          b: { watermark: { current: 220, next: 800 }, state: { watermark: { channels: { a: 320, b: 900 } } } },
        });
      });
    });

    it('replays a plan written before per-channel watermarks with the single-watermark rule', () => {
      const session = { location: 'memory', restoredState: { watermark: { maxEventTime: 500 } }, commit: () => { throw new Error('not used'); } };
      const ctx = { metrics: new StreamMetrics(), checkpoint: session };
      testScheduler().run(({ cold, expectObservable }) => {
        const legacy = channelBatch(3, { a: [700, 100] }, []);
        const { holdingChannels: _, ...replayed } = legacy;
        const source = cold('a', { a: { ...replayed, plannedWatermark: 400, context: ctx } });
        expectObservable(source.pipe(withWatermark({ eventTime: 't', delay: 100 }), watermarks)).toBe('a', { a: { current: 400, next: 600 } });
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
