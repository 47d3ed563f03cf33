import { map } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { StreamMetrics } from '../../lib/stream/metrics.js';
import { marbleSource, testScheduler } from '../../lib/testing/index.js';

describe('marbleSource', () => {
  it('emits one micro-batch per marble, numbered from 0 per subscription, sharing one context per subscription', () => {
    const contexts: unknown[] = [];
    testScheduler(expect).run(({ cold, expectObservable }) => {
      const source = marbleSource(cold, '-a-b|', { a: ['r1', 'r2'], b: [] });
      const seen = source.pipe(map((batch) => (contexts.push(batch.context), { id: batch.id, rows: batch.rows, acks: batch.acks.length, offsets: batch.offsets })));
      expectObservable(seen).toBe('-a-b|', { a: { id: 0, rows: ['r1', 'r2'], acks: 0, offsets: {} }, b: { id: 1, rows: [], acks: 0, offsets: {} } });
      expectObservable(seen).toBe('-a-b|', { a: { id: 0, rows: ['r1', 'r2'], acks: 0, offsets: {} }, b: { id: 1, rows: [], acks: 0, offsets: {} } });
    });
    // the two subscriptions interleave: [1st a, 2nd a, 1st b, 2nd b]
    expect(contexts).toHaveLength(4);
    expect(contexts[2]).toBe(contexts[0]);
    expect(contexts[3]).toBe(contexts[1]);
    expect(contexts[1]).not.toBe(contexts[0]);
  });

  it("adds to the metrics it is given, stands '#' for the given error, and logs subscriptions", () => {
    const metrics = new StreamMetrics();
    const failure = new Error('tunnel gone');
    testScheduler(expect).run(({ cold, expectObservable, expectSubscriptions }) => {
      const source = marbleSource(cold, 'a-#', { a: ['r'] }, { metrics, error: failure });
      expectObservable(source.pipe(map((batch) => batch.context.metrics === metrics))).toBe('a-#', { a: true }, failure);
      const long = marbleSource(cold, 'a---b|', { a: ['r'], b: ['s'] });
      expectObservable(long.pipe(map((batch) => batch.id)), '^-!').toBe('a-', { a: 0 });
      expectSubscriptions(long.subscriptions).toBe('^-!');
      expectObservable(marbleSource(cold, '|')).toBe('|');
    });
  });
});
