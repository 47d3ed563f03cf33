import { map } from 'rxjs';
import { describe, expect, it } from 'vitest';
import type { TableBatch } from '../../lib/stream/batch.js';
import { filterRows } from '../../lib/stream/filter-rows.js';
import { StreamMetrics } from '../../lib/stream/metrics.js';
import { tableRows, type RowTable, type Value } from '../../lib/stream/table.js';
import { tumbling } from '../../lib/stream/windows/tumbling.js';
import { context, never$, tableBatch, testScheduler } from './helpers.js';

type Row = Record<string, Value>;
const rowsOf = map((batch: TableBatch) => tableRows(batch.rows));
/** x > limit, as a whole-batch predicate over the number column x */
const above = (limit: number) => (table: RowTable) => {
  const x = table.columns.get('x');
  return Array.from({ length: table.length }, (_, i) => (x?.kind === 'number' && x.valid?.[i] !== 0 ? (x.values[i] as number) > limit : false));
};

describe('filterRows', () => {
  it('keeps the rows the predicate flags, every column with them, and counts what it dropped', () => {
    const metrics = new StreamMetrics();
    const ctx = context(metrics);
    const a: Row[] = [{ x: 1, s: 'a' }, { x: 5, s: 'b' }, { x: null, s: 'c' }, { x: 9, s: null }];
    const b: Row[] = [{ x: 2, s: 'd' }];
    testScheduler().run(({ cold, expectObservable }) => {
      const source = cold('a-b-c', { a: tableBatch(0, a, { ctx }), b: tableBatch(1, b, { ctx }), c: tableBatch(2, [], { ctx }) });
      expectObservable(source.pipe(filterRows(above(4)), rowsOf)).toBe('a-b-c', {
        a: a.filter((row) => typeof row['x'] === 'number' && row['x'] > 4),
        b: [],
        c: [],
      });
    });
    const kept = (rows: Row[]) => rows.filter((row) => typeof row['x'] === 'number' && row['x'] > 4).length;
    expect(metrics.snapshot().rowsFiltered).toBe(a.length - kept(a) + b.length - kept(b));
  });

  it('returns the batch itself when every row is kept, and rides offsets, acks and state along', () => {
    const batch = { ...tableBatch(4, [{ x: 7 }, { x: 8 }]), offsets: { c1: { start: { position: 0, skip: 0 }, count: 2, end: { position: 2, skip: 0 } } }, state: { k: 1 } };
    testScheduler().run(({ cold, expectObservable }) => {
      expectObservable(cold('a', { a: batch }).pipe(filterRows(above(0)))).toBe('a', { a: batch });
      expectObservable(cold('a', { a: batch }).pipe(filterRows(above(7)), map((out) => ({ id: out.id, offsets: out.offsets, state: out.state, rows: tableRows(out.rows) })))).toBe('a', {
        a: { id: 4, offsets: batch.offsets, state: { k: 1 }, rows: [{ x: 8 }] },
      });
    });
  });

  it('accepts truthy flags of any kind, and refuses a wrong flag count or a batch already windowed', () => {
    testScheduler().run(({ cold, expectObservable }) => {
      const source = cold('a', { a: tableBatch(0, [{ x: 1 }, { x: 2 }, { x: 3 }]) });
      expectObservable(source.pipe(filterRows(() => [1, 0, null]), rowsOf)).toBe('a', { a: [{ x: 1 }] });
      expectObservable(source.pipe(filterRows(() => [true]))).toBe('#', undefined, expect.objectContaining({ message: expect.stringMatching(/returned 1 flags for 3 rows/) }));
      expectObservable(source.pipe(tumbling({ eventTime: 'x', size: 10 }), filterRows(above(0)))).toBe('#', undefined, expect.objectContaining({ message: expect.stringMatching(/before the window operator/) }));
    });
  });

  it('is empty on empty, silent on never, passes errors and unsubscribes upstream', () => {
    testScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      expectObservable(cold<TableBatch>('|').pipe(filterRows(above(0)))).toBe('|');
      expectObservable(cold<TableBatch>('-#').pipe(filterRows(above(0)))).toBe('-#');
      const source = cold('a--b', { a: tableBatch(0, [{ x: 1 }]), b: tableBatch(1, [{ x: 2 }]) });
      expectObservable(source.pipe(filterRows(above(0)), rowsOf), '^-!').toBe('a-', { a: [{ x: 1 }] });
      expectSubscriptions(source.subscriptions).toBe('^-!');
    });
    const never = never$<TableBatch>();
    never.observable.pipe(filterRows(above(0))).subscribe().unsubscribe();
    expect(never.unsubscribed()).toBe(true);
  });
});
