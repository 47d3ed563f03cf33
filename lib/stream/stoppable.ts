/**
 * A graceful stop for a replayable source. `stop()` completes the feed: `microBatch` cuts a last
 * batch from what it holds and completes after `commitAfter` wrote, persisted and acknowledged
 * it. The underlying source (the tunnel) stays subscribed until `release()` — call it once the
 * pipeline has ended — so the last acknowledgements reach it before it shuts down (the tunnel
 * writes their checkpoints while shutting down). Unsubscribing downstream would otherwise tear
 * the source down at once, before the last batch is acknowledged.
 *
 *   source   --a--b--c--d-      (kept subscribed until release())
 *   stop()   ------^
 *   feed     --a--b|
 */
import { Observable, Subscription } from 'rxjs';
import { replayable, type Position, type ReplayableObservable } from './source.js';

export interface StoppableSource<R> {
  readonly source: ReplayableObservable<R>;
  /** completes every open feed; later openings complete at once */
  stop(): void;
  /** unsubscribes the underlying source of every feed that has ended */
  release(): void;
}

export function stoppable<R>(inner: ReplayableObservable<R>): StoppableSource<R> {
  let stopped = false;
  const stoppers = new Set<() => void>();
  const held = new Subscription();
  const source = replayable<R>({
    open: (from: Readonly<Record<string, Position>> | undefined) =>
      new Observable((subscriber) => {
        if (stopped) {
          subscriber.complete();
          return undefined;
        }
        const upstream = inner.open(from).subscribe({
          next: (batch) => subscriber.next(batch),
          error: (error: unknown) => subscriber.error(error),
          complete: () => subscriber.complete(),
        });
        const stop = (): void => subscriber.complete();
        stoppers.add(stop);
        return () => {
          stoppers.delete(stop);
          // an ended feed hands its source to release(); an unsubscribed live one lets go at once
          if (stopped) held.add(upstream);
          else upstream.unsubscribe();
        };
      }),
  });
  return {
    source,
    stop() {
      if (stopped) return;
      stopped = true;
      for (const stop of [...stoppers]) stop();
    },
    release() {
      held.unsubscribe();
    },
  };
}
