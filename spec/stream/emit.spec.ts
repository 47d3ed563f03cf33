/**
 * `emit` alone, over hand-made aggregation views (the aggregate's own specs run it behind real
 * aggregations): which rows each output mode takes, and complete mode's kept windows.
 */
import { map } from 'rxjs';
import { describe, expect, it } from 'vitest';
import type { AggregationView, CheckpointHandle, OutputBatch, TableBatch } from '../../lib/stream/batch.js';
import { decodeState } from '../../lib/stream/checkpoint/state-codec.js';
import { emit, emitTable } from '../../lib/stream/emit.js';
import { StreamMetrics } from '../../lib/stream/metrics.js';
import { tableFromRows, tableRows, type OutputRow, type Value } from '../../lib/stream/table.js';
import { never$, tableBatch, testScheduler } from './helpers.js';
import type { JsonValue } from '../../lib/stream/source.js';

interface Rows {
  readonly updated?: OutputRow[];
  readonly closed?: OutputRow[];
  readonly open?: OutputRow[];
  readonly closes?: boolean;
}
const asTable = (rows: readonly OutputRow[]) => tableFromRows(rows as readonly Record<string, Value>[], ['window', 'n']);
const view = (rows: Rows): AggregationView => ({
  updatedRows: () => rows.updated ?? [],
  closedRows: () => rows.closed ?? [],
  openRows: () => rows.open ?? [],
  updatedTable: () => asTable(rows.updated ?? []),
  closedTable: () => asTable(rows.closed ?? []),
  openTable: () => asTable(rows.open ?? []),
  closes: rows.closes ?? true,
  stateKey: 'aggregate',
});
const aggregated = (id: number, rows: Rows, checkpoint?: CheckpointHandle): TableBatch => ({
  ...tableBatch(id, [], { ctx: { metrics: new StreamMetrics(), checkpoint } }),
  aggregation: view(rows),
});
const w = (start: number, n: number): OutputRow => ({ window: { start, end: start + 10 }, n });
const rowsOf = map((batch: OutputBatch) => batch.rows);

describe('emit', () => {
  it("'update' outputs the groups each batch changed; 'append' the windows it closed", () => {
    const batches = {
      a: aggregated(0, { updated: [w(0, 1)], closed: [], open: [w(0, 1)] }),
      b: aggregated(1, { updated: [w(0, 2), w(10, 1)], closed: [w(0, 2)], open: [w(10, 1)] }),
      c: aggregated(2, { updated: [], closed: [w(10, 1)], open: [] }),
    };
    testScheduler().run(({ cold, expectObservable }) => {
      expectObservable(cold('a-b-c', batches).pipe(emit('update'), rowsOf)).toBe('a-b-c', { a: [w(0, 1)], b: [w(0, 2), w(10, 1)], c: [] });
      expectObservable(cold('a-b-c', batches).pipe(emit('append'), rowsOf)).toBe('a-b-c', { a: [], b: [w(0, 2)], c: [w(10, 1)] });
    });
  });

  it("'complete' outputs every closed window so far, then the open ones, every batch — per subscription", () => {
    const batches = {
      a: aggregated(0, { closed: [], open: [w(0, 1), w(10, 1)] }),
      b: aggregated(1, { closed: [w(0, 1)], open: [w(10, 3)] }),
      c: aggregated(2, { closed: [w(10, 3)], open: [w(20, 1)] }),
    };
    testScheduler().run(({ cold, expectObservable }) => {
      const complete = cold('a-b-c', batches).pipe(emit('complete'), rowsOf);
      const expected = { a: [w(0, 1), w(10, 1)], b: [w(0, 1), w(10, 3)], c: [w(0, 1), w(10, 3), w(20, 1)] };
      expectObservable(complete).toBe('a-b-c', expected);
      expectObservable(complete).toBe('a-b-c', expected);
    });
  });

  it("'complete' with a checkpoint restores the closed windows of the last commit and saves them with each batch", () => {
    const restored = [w(0, 4)];
    const checkpoint: CheckpointHandle = { location: 'memory', restoredState: { results: restored }, commit: () => { throw new Error('not used'); } };
    testScheduler().run(({ cold, expectObservable }) => {
      const source = cold('a-b', { a: aggregated(5, { closed: [], open: [w(10, 1)] }, checkpoint), b: aggregated(6, { closed: [w(10, 2)], open: [] }, checkpoint) });
      expectObservable(source.pipe(emit('complete', { stateKey: 'results' }), map((batch) => ({ rows: batch.rows, saved: decodeState(batch.state['results'] as JsonValue) })))).toBe('a-b', {
        a: { rows: [w(0, 4), w(10, 1)], saved: [w(0, 4)] },
        b: { rows: [w(0, 4), w(10, 2)], saved: [w(0, 4), w(10, 2)] },
      });
    });
  });

  it('clears the aggregation and windows from the batch and keeps its id, offsets and state', () => {
    const batch = { ...aggregated(9, { updated: [w(0, 1)] }), state: { aggregate: { s: 1 } } };
    testScheduler().run(({ cold, expectObservable }) => {
      expectObservable(cold('a', { a: batch }).pipe(emit('update'), map((out) => ({ id: out.id, state: out.state, aggregation: out.aggregation, windows: out.windows, offsets: out.offsets })))).toBe('a', {
        a: { id: 9, state: { aggregate: { s: 1 } }, aggregation: undefined, windows: undefined, offsets: {} },
      });
    });
  });

  it('refuses an unknown mode, a batch without aggregation, and append where nothing closes', () => {
    expect(() => emit('upsert' as 'update')).toThrow(/unknown output mode 'upsert'/);
    testScheduler().run(({ cold, expectObservable }) => {
      expectObservable(cold('a', { a: tableBatch(0, [{ t: 1 }]) }).pipe(emit('complete'))).toBe('#', undefined, expect.objectContaining({ message: expect.stringMatching(/emit\('complete'\): the batch has no aggregation/) }));
      expectObservable(cold('a', { a: aggregated(0, { closes: false }) }).pipe(emit('append'))).toBe('#', undefined, expect.objectContaining({ message: expect.stringMatching(/needs an event-time window and a watermark/) }));
    });
  });

  it('is empty on empty, silent on never, passes errors and unsubscribes upstream', () => {
    testScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      for (const mode of ['update', 'append', 'complete'] as const) {
        expectObservable(cold<TableBatch>('|').pipe(emit(mode))).toBe('|');
        expectObservable(cold<TableBatch>('-#').pipe(emit(mode))).toBe('-#');
      }
      const source = cold('a-b', { a: aggregated(0, { updated: [w(0, 1)] }), b: aggregated(1, { updated: [w(0, 2)] }) });
      expectObservable(source.pipe(emit('update'), rowsOf), '^!').toBe('a', { a: [w(0, 1)] });
      expectSubscriptions(source.subscriptions).toBe('^!');
    });
    const never = never$<TableBatch>();
    never.observable.pipe(emit('complete')).subscribe().unsubscribe();
    expect(never.unsubscribed()).toBe(true);
  });
});

describe('emitTable', () => {
  const tableRowsOf = map((batch: TableBatch) => tableRows(batch.rows));
  it('takes the rows each mode takes, as columns', () => {
    const updated = { a: [w(0, 1)], b: [w(0, 2), w(10, 1)], c: [] };
    const closed = { a: [], b: [w(0, 2)], c: [w(10, 1)] };
    const open = { a: [w(0, 1), w(10, 1)], b: [w(10, 1)], c: [w(20, 5)] };
    const batches = {
      a: aggregated(0, { updated: updated.a, closed: closed.a, open: open.a }),
      b: aggregated(1, { updated: updated.b, closed: closed.b, open: open.b }),
      c: aggregated(2, { updated: updated.c, closed: closed.c, open: open.c }),
    };
    testScheduler().run(({ cold, expectObservable }) => {
      expectObservable(cold('a-b-c', batches).pipe(emitTable('update'), tableRowsOf)).toBe('a-b-c', updated);
      expectObservable(cold('a-b-c', batches).pipe(emitTable('append'), tableRowsOf)).toBe('a-b-c', closed);
      expectObservable(cold('a-b-c', batches).pipe(emitTable('complete'), tableRowsOf)).toBe('a-b-c', {
        a: [...open.a],
        b: [...closed.b, ...open.b],
        c: [...closed.b, ...closed.c, ...open.c],
      });
    });
  });

  it("'complete' saves and restores its closed windows in emit's format, so a checkpoint reads back either way", () => {
    const restored = [w(0, 4)];
    const checkpoint: CheckpointHandle = { location: 'memory', restoredState: { results: restored }, commit: () => { throw new Error('not used'); } };
    testScheduler().run(({ cold, expectObservable }) => {
      const source = cold('a-b', { a: aggregated(5, { closed: [], open: [w(10, 1)] }, checkpoint), b: aggregated(6, { closed: [w(10, 2)], open: [] }, checkpoint) });
      expectObservable(source.pipe(emitTable('complete', { stateKey: 'results' }), map((batch) => ({ rows: tableRows(batch.rows), saved: decodeState(batch.state['results'] as JsonValue) })))).toBe('a-b', {
        a: { rows: [w(0, 4), w(10, 1)], saved: [w(0, 4)] },
        b: { rows: [w(0, 4), w(10, 2)], saved: [w(0, 4), w(10, 2)] },
      });
    });
  });

  it('refuses a batch without aggregation, and append where nothing closes', () => {
    expect(() => emitTable('upsert' as 'update')).toThrow(/emitTable: unknown output mode 'upsert'/);
    testScheduler().run(({ cold, expectObservable }) => {
      expectObservable(cold('a', { a: tableBatch(0, [{ t: 1 }]) }).pipe(emitTable('update'))).toBe('#', undefined, expect.objectContaining({ message: expect.stringMatching(/emitTable\('update'\): the batch has no aggregation/) }));
      expectObservable(cold('a', { a: aggregated(0, { closes: false }) }).pipe(emitTable('append'))).toBe('#', undefined, expect.objectContaining({ message: expect.stringMatching(/needs an event-time window and a watermark/) }));
    });
  });
});
