import { map } from 'rxjs';
import { describe, expect, it } from 'vitest';
import type { TableBatch } from '../../lib/stream/batch.js';
import { numberColumn, tableRows, valueAt, type Column, type RowTable, type Value } from '../../lib/stream/table.js';
import { withColumns } from '../../lib/stream/with-columns.js';
import { tumbling } from '../../lib/stream/windows/tumbling.js';
import { never$, tableBatch, testScheduler } from './helpers.js';

const rowsOf = map((batch: TableBatch) => tableRows(batch.rows));
/** a column computed row by row from another, null stays null */
const derive = (from: string, fn: (value: number) => number) => (table: RowTable): Column =>
  numberColumn(Array.from({ length: table.length }, (_, i) => {
    const value = valueAt(table.columns.get(from) as Column, i);
    return value === null ? null : fn(value as number);
  }));

describe('withColumns', () => {
  it('adds computed columns in the order given, a later one seeing the earlier ones, and replaces a column of the same name', () => {
    const rows: Record<string, Value>[] = [{ ms: 1000, s: 'x' }, { ms: 2500, s: 'y' }, { ms: null, s: 'z' }];
    const expected = rows.map((row) => {
      const seconds = row['ms'] === null ? null : (row['ms'] as number) / 1000;
      return { ms: row['ms'], s: seconds === null ? null : `${seconds}s`, seconds, doubled: seconds === null ? null : seconds * 2 };
    });
    testScheduler().run(({ cold, expectObservable }) => {
      const source = cold('a-b', { a: tableBatch(0, rows), b: tableBatch(1, []) });
      const computed = source.pipe(
        withColumns({
          seconds: derive('ms', (ms) => ms / 1000),
          doubled: derive('seconds', (s) => s * 2),
          s: (table) => ({ kind: 'value', values: Array.from({ length: table.length }, (_, i) => { const v = valueAt(table.columns.get('seconds') as Column, i); return v === null ? null : `${v as number}s`; }) }),
        }),
        rowsOf,
      );
      expectObservable(computed).toBe('a-b', { a: expected, b: [] });
    });
  });

  it('passes the batch through untouched with no columns, and refuses a column of the wrong length or a windowed batch', () => {
    const batch = tableBatch(0, [{ t: 1 }, { t: 2 }]);
    testScheduler().run(({ cold, expectObservable }) => {
      expectObservable(cold('a', { a: batch }).pipe(withColumns({}))).toBe('a', { a: batch });
      expectObservable(cold('a', { a: batch }).pipe(withColumns({ bad: () => numberColumn([1]) }))).toBe('#', undefined, expect.objectContaining({ message: expect.stringMatching(/column 'bad' has 1 values for 2 rows/) }));
      expectObservable(cold('a', { a: batch }).pipe(tumbling({ eventTime: 't', size: 10 }), withColumns({ u: derive('t', (t) => t) }))).toBe('#', undefined, expect.objectContaining({ message: expect.stringMatching(/before the window operator/) }));
    });
  });

  it('is empty on empty, silent on never, passes errors and unsubscribes upstream', () => {
    const op = () => withColumns({ u: derive('t', (t) => t + 1) });
    testScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      expectObservable(cold<TableBatch>('|').pipe(op())).toBe('|');
      expectObservable(cold<TableBatch>('--#').pipe(op())).toBe('--#');
      const source = cold('a-b', { a: tableBatch(0, [{ t: 1 }]), b: tableBatch(1, [{ t: 2 }]) });
      expectObservable(source.pipe(op(), rowsOf), '^!').toBe('a', { a: [{ t: 1, u: 2 }] });
      expectSubscriptions(source.subscriptions).toBe('^!');
    });
    const never = never$<TableBatch>();
    never.observable.pipe(op()).subscribe().unsubscribe();
    expect(never.unsubscribed()).toBe(true);
  });
});
