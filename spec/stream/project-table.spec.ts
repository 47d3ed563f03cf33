import { map } from 'rxjs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { aggregate } from '../../lib/stream/aggregate.js';
import { count } from '../../lib/stream/aggregates.js';
import type { TableBatch } from '../../lib/stream/batch.js';
import { projectTable } from '../../lib/stream/project-table.js';
import { tableFromRows, tableRows, valueAt, type RowTable, type Value } from '../../lib/stream/table.js';
import { tumbling } from '../../lib/stream/windows/tumbling.js';
import { col, never$, sumOf as sum, tableBatch, testScheduler } from './helpers.js';

const above = (name: string, limit: number) => (table: RowTable): boolean[] => Array.from({ length: table.length }, (_, i) => ((valueAt(col(name)(table), i) as number | null) ?? -Infinity) > limit);
const rowsOf = map((batch: TableBatch) => tableRows(batch.rows));

describe('projectTable', () => {
  it('keeps the rows `keep` accepts, then exactly the given columns in that order — as columns', () => {
    fc.assert(
      fc.property(fc.array(fc.record({ x: fc.integer({ min: -50, max: 50 }), y: fc.option(fc.integer({ min: -50, max: 50 }), { nil: null }), z: fc.string() }), { maxLength: 30 }), fc.integer({ min: -60, max: 60 }), (rows, limit) => {
        const expected = rows.filter((row) => row.x > limit).map((row) => ({ total: row.y === null ? null : row.x + row.y, x: row.x }));
        testScheduler().run(({ cold, expectObservable }) => {
          const projected = cold('a', { a: tableBatch(0, rows) }).pipe(projectTable({ keep: above('x', limit), columns: { total: sum('x', 'y'), x: col('x') } }));
          expectObservable(projected.pipe(map((batch) => ({ names: [...batch.rows.columns.keys()], length: batch.rows.length, rows: tableRows(batch.rows) })))).toBe('a', {
            a: { names: ['total', 'x'], length: expected.length, rows: expected },
          });
        });
      }),
      { numRuns: 50 },
    );
  });

  it('evaluates keep and the columns over `input`, derived once per batch', () => {
    let derived = 0;
    const input = (table: RowTable): RowTable => {
      derived++;
      return tableFromRows(tableRows(table).map((row) => ({ ...row, double: (row['x'] as number) * 2 })));
    };
    testScheduler().run(({ cold, expectObservable }) => {
      const rows: Record<string, Value>[] = [{ x: 1 }, { x: 4 }, { x: 7 }];
      expectObservable(cold('a', { a: tableBatch(0, rows) }).pipe(projectTable({ input, keep: above('double', 5), columns: { d: col('double') } }), rowsOf)).toBe('a', { a: [{ d: 8 }, { d: 14 }] });
    });
    expect(derived).toBe(1);
  });

  it('carries named columns of the batch through unchanged, for the rows `keep` accepts (absent ones are skipped)', () => {
    testScheduler().run(({ cold, expectObservable }) => {
      const rows: Record<string, Value>[] = [{ x: 1, v: 10 }, { x: 4, v: 11 }, { x: 7, v: 12 }];
      const input = (table: RowTable): RowTable => ({ length: table.length, columns: new Map([['x', col('x')(table)]]) });
      expectObservable(cold('a', { a: tableBatch(0, rows) }).pipe(projectTable({ input, keep: above('x', 2), columns: { y: col('x') }, carry: ['v', 'missing'] }), rowsOf)).toBe('a', {
        a: [{ y: 4, v: 11 }, { y: 7, v: 12 }],
      });
    });
  });

  it('keeps the batch bookkeeping, drops window assignments, and refuses an aggregated batch or a wrong number of flags', () => {
    testScheduler().run(({ cold, expectObservable }) => {
      const batch = { ...tableBatch(3, [{ t: 1 }]), state: { s: 1 } };
      expectObservable(cold('a', { a: batch }).pipe(tumbling({ eventTime: 't', size: 10 }), projectTable({ columns: { t: col('t') } }), map((out) => ({ id: out.id, state: out.state, windows: out.windows, rows: tableRows(out.rows) })))).toBe('a', {
        a: { id: 3, state: { s: 1 }, windows: undefined, rows: [{ t: 1 }] },
      });
      expectObservable(cold('a', { a: batch }).pipe(aggregate([], { n: count() }), projectTable({ columns: { t: col('t') } }))).toBe('#', undefined, expect.objectContaining({ message: expect.stringMatching(/put emitTable\(\) before projectTable\(\)/) }));
      expectObservable(cold('a', { a: batch }).pipe(projectTable({ keep: () => [], columns: {} }))).toBe('#', undefined, expect.objectContaining({ message: expect.stringMatching(/keep returned 0 flags for 1 rows/) }));
    });
  });

  it('is empty on empty, silent on never, passes errors and unsubscribes upstream', () => {
    testScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      expectObservable(cold<TableBatch>('|').pipe(projectTable({ columns: { t: col('t') } }))).toBe('|');
      expectObservable(cold<TableBatch>('#').pipe(projectTable({ columns: { t: col('t') } }))).toBe('#');
      const source = cold('-a-b', { a: tableBatch(0, [{ t: 1 }]), b: tableBatch(1, [{ t: 2 }]) });
      expectObservable(source.pipe(projectTable({ columns: { t: col('t') } }), rowsOf), '^-!').toBe('-a', { a: [{ t: 1 }] });
      expectSubscriptions(source.subscriptions).toBe('^-!');
    });
    const never = never$<TableBatch>();
    never.observable.pipe(projectTable({ columns: {} })).subscribe().unsubscribe();
    expect(never.unsubscribed()).toBe(true);
  });
});
