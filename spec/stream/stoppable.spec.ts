import { map } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { replayable, type Position, type SourceBatch } from '../../lib/stream/source.js';
import { stoppable } from '../../lib/stream/stoppable.js';
import { never$, sourceBatch, testScheduler } from './helpers.js';

const ids = map((batch: SourceBatch<string>) => batch.records.join(''));

describe('stoppable', () => {
  it('passes the feed through until stop(), which completes it; the source stays subscribed until release()', () => {
    const scheduler = testScheduler();
    scheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const upstream = cold('a-b-c-d', { a: sourceBatch('c1', 0, ['a']), b: sourceBatch('c1', 1, ['b']), c: sourceBatch('c1', 2, ['c']), d: sourceBatch('c1', 3, ['d']) });
      const feed = stoppable(replayable({ open: () => upstream }));
      scheduler.schedule(() => feed.stop(), 3);
      scheduler.schedule(() => feed.release(), 6);
      expectObservable(feed.source.pipe(ids)).toBe('a-b|', { a: 'a', b: 'b' });
      expectSubscriptions(upstream.subscriptions).toBe('^-----!');
    });
  });

  it('opens the inner source where it is asked to, and after stop() every opening completes at once without opening it', () => {
    const opened: (Readonly<Record<string, Position>> | undefined)[] = [];
    const scheduler = testScheduler();
    let feed: ReturnType<typeof stoppable<string>> | undefined;
    scheduler.run(({ cold, expectObservable }) => {
      const upstream = cold('a', { a: sourceBatch('c1', 5, ['x']) });
      feed = stoppable(replayable({ open: (from) => (opened.push(from), upstream) }));
      expectObservable(feed.source.open({ c1: 5 }).pipe(ids), '^--!').toBe('a', { a: 'x' });
    });
    expect(opened).toEqual([{ c1: 5 }]);
    feed?.stop();
    const events: string[] = [];
    feed?.source.open({ c1: 6 }).subscribe({ next: () => events.push('next'), complete: () => events.push('complete') });
    expect(events).toEqual(['complete']);
    expect(opened).toEqual([{ c1: 5 }]);
    feedStopTwiceIsHarmless();
  });

  it('unsubscribing a live (not stopped) feed lets go of the source at once; errors and completion pass through', () => {
    testScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const upstream = cold<SourceBatch<string>>('a-b-c', { a: sourceBatch('c1', 0, ['a']), b: sourceBatch('c1', 1, ['b']), c: sourceBatch('c1', 2, ['c']) });
      expectObservable(stoppable(replayable({ open: () => upstream })).source.pipe(ids), '^--!').toBe('a-b', { a: 'a', b: 'b' });
      expectSubscriptions(upstream.subscriptions).toBe('^--!');
      expectObservable(stoppable(replayable({ open: () => cold<SourceBatch<string>>('-#', undefined, 'gone') })).source).toBe('-#', undefined, 'gone');
      expectObservable(stoppable(replayable({ open: () => cold<SourceBatch<string>>('|') })).source).toBe('|');
    });
    const never = never$<SourceBatch<string>>();
    const feed = stoppable(replayable({ open: () => never.observable }));
    feed.source.subscribe().unsubscribe();
    expect(never.unsubscribed()).toBe(true);
  });

  it('stop() before any subscription: the first opening completes at once; release() with nothing held is harmless', () => {
    const never = never$<SourceBatch<string>>();
    const feed = stoppable(replayable({ open: () => never.observable }));
    feed.stop();
    const events: string[] = [];
    feed.source.subscribe({ next: () => events.push('next'), complete: () => events.push('complete') });
    feed.release();
    expect(events).toEqual(['complete']);
    expect(never.unsubscribed()).toBe(false);
  });
});

/** stop() twice and release() twice change nothing: the held source is unsubscribed once. */
function feedStopTwiceIsHarmless(): void {
  const never = never$<SourceBatch<string>>();
  const feed = stoppable(replayable({ open: () => never.observable }));
  const events: string[] = [];
  feed.source.subscribe({ complete: () => events.push('complete') });
  feed.stop();
  feed.stop();
  expect(events).toEqual(['complete']);
  expect(never.unsubscribed()).toBe(false);
  feed.release();
  feed.release();
  expect(never.unsubscribed()).toBe(true);
}
