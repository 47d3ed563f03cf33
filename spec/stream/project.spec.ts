import { map } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { aggregate } from '../../lib/stream/aggregate.js';
import { count } from '../../lib/stream/aggregates.js';
import type { OutputBatch, TableBatch } from '../../lib/stream/batch.js';
import { project } from '../../lib/stream/project.js';
import type { Value } from '../../lib/stream/table.js';
import { tumbling } from '../../lib/stream/windows/tumbling.js';
import { col, never$, sumOf as sum, tableBatch, testScheduler } from './helpers.js';


describe('project', () => {
  it('turns each batch into output rows with exactly the given columns, in that order', () => {
    const rows: Record<string, Value>[] = [{ x: 1, y: 3, z: 'drop' }, { x: 2, y: null, z: 'me' }];
    testScheduler().run(({ cold, expectObservable }) => {
      const source = cold('a-b', { a: tableBatch(0, rows), b: tableBatch(1, []) });
      const projected = source.pipe(project({ total: sum('x', 'y'), x: col('x') }), map((batch: OutputBatch) => batch.rows.map((row) => Object.entries(row))));
      expectObservable(projected).toBe('a-b', {
        a: rows.map((row) => [['total', row['y'] === null ? null : (row['x'] as number) + (row['y'] as number)], ['x', row['x']]]),
        b: [],
      });
    });
  });

  it('keeps the batch bookkeeping, drops window assignments, and refuses an aggregated batch', () => {
    testScheduler().run(({ cold, expectObservable }) => {
      const batch = { ...tableBatch(3, [{ t: 1 }]), state: { s: 1 } };
      expectObservable(cold('a', { a: batch }).pipe(tumbling({ eventTime: 't', size: 10 }), project({ t: col('t') }), map((out) => ({ id: out.id, state: out.state, windows: out.windows, rows: out.rows })))).toBe('a', {
        a: { id: 3, state: { s: 1 }, windows: undefined, rows: [{ t: 1 }] },
      });
      expectObservable(cold('a', { a: batch }).pipe(aggregate([], { n: count() }), project({ t: col('t') }))).toBe('#', undefined, expect.objectContaining({ message: expect.stringMatching(/the batch is aggregated/) }));
    });
  });

  it('is empty on empty, silent on never, passes errors and unsubscribes upstream', () => {
    testScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      expectObservable(cold<TableBatch>('|').pipe(project({ t: col('t') }))).toBe('|');
      expectObservable(cold<TableBatch>('#').pipe(project({ t: col('t') }))).toBe('#');
      const source = cold('-a-b', { a: tableBatch(0, [{ t: 1 }]), b: tableBatch(1, [{ t: 2 }]) });
      expectObservable(source.pipe(project({ t: col('t') }), map((batch) => batch.rows)), '^-!').toBe('-a', { a: [{ t: 1 }] });
      expectSubscriptions(source.subscriptions).toBe('^-!');
    });
    const never = never$<TableBatch>();
    never.observable.pipe(project({})).subscribe().unsubscribe();
    expect(never.unsubscribed()).toBe(true);
  });
});
