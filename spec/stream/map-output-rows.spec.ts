import { map } from 'rxjs';
import { describe, expect, it } from 'vitest';
import type { OutputBatch } from '../../lib/stream/batch.js';
import { mapOutputRows } from '../../lib/stream/map-output-rows.js';
import type { OutputRow } from '../../lib/stream/table.js';
import { never$, recordBatch, testScheduler } from './helpers.js';

const batchOf = (id: number, rows: OutputRow[]): OutputBatch => ({ ...recordBatch(id, rows), state: { agg: id } });

describe('mapOutputRows', () => {
  it('rewrites the rows of each batch (HAVING, renaming) and passes the batch to the function', () => {
    const a = [{ n: 1, k: 'x' }, { n: 5, k: 'y' }, { n: 3, k: 'z' }];
    testScheduler().run(({ cold, expectObservable }) => {
      const source = cold('a-b-c', { a: batchOf(0, a), b: batchOf(1, []), c: batchOf(2, [{ n: 9, k: 'w' }]) });
      const mapped = source.pipe(
        mapOutputRows((rows: readonly OutputRow[], batch) => rows.filter((row) => (row['n'] as number) > 2).map((row) => ({ key: row['k'], count: row['n'], batch: batch.id }))),
        map((batch) => batch.rows),
      );
      expectObservable(mapped).toBe('a-b-c', {
        a: a.filter((row) => row.n > 2).map((row) => ({ key: row.k, count: row.n, batch: 0 })),
        b: [],
        c: [{ key: 'w', count: 9, batch: 2 }],
      });
    });
  });

  it('leaves id, offsets, acknowledgements and state untouched, so the batch commits what it covered', () => {
    const ack = () => undefined;
    const batch: OutputBatch = { ...batchOf(7, [{ n: 1 }]), acks: [ack], offsets: { c: { start: { position: 'p0', skip: 0 }, count: 1, end: { position: 'p1', skip: 0 } } } };
    testScheduler().run(({ cold, expectObservable }) => {
      expectObservable(cold('a', { a: batch }).pipe(mapOutputRows(() => [{ m: 2 }]))).toBe('a', { a: { ...batch, rows: [{ m: 2 }] } });
    });
  });

  it('fails the stream when the function throws, is empty on empty, silent on never, and unsubscribes upstream', () => {
    testScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      expectObservable(cold('a', { a: batchOf(0, [{ n: 1 }]) }).pipe(mapOutputRows(() => { throw new Error('bad row'); }))).toBe('#', undefined, new Error('bad row'));
      expectObservable(cold<OutputBatch>('|').pipe(mapOutputRows((rows) => rows))).toBe('|');
      expectObservable(cold<OutputBatch>('-#').pipe(mapOutputRows((rows) => rows))).toBe('-#');
      const source = cold('a-b', { a: batchOf(0, [{ n: 1 }]), b: batchOf(1, [{ n: 2 }]) });
      expectObservable(source.pipe(mapOutputRows((rows) => rows), map((batch) => batch.id)), '^!').toBe('a', { a: 0 });
      expectSubscriptions(source.subscriptions).toBe('^!');
    });
    const never = never$<OutputBatch>();
    never.observable.pipe(mapOutputRows((rows) => rows)).subscribe().unsubscribe();
    expect(never.unsubscribed()).toBe(true);
  });
});
