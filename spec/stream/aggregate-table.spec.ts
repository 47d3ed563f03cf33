/**
 * The aggregate's results as columns (`updatedTable`, `closedTable`, `openTable`, what `emitTable`
 * outputs) hold the same groups and values as its result rows, for tumbling and session windows,
 * with nulls, strings and bigints among keys and values; and the seed aggregation as a table
 * equals the direct per-window count and sum.
 */
import fc from 'fast-check';
import { lastValueFrom, map, of, toArray } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { aggregate, WINDOW } from '../../lib/stream/aggregate.js';
import { count, first, max, min, sum } from '../../lib/stream/aggregates.js';
import type { TableBatch } from '../../lib/stream/batch.js';
import { emitTable } from '../../lib/stream/emit.js';
import { tableRows, type Value } from '../../lib/stream/table.js';
import { session } from '../../lib/stream/windows/session.js';
import { tumbling } from '../../lib/stream/windows/tumbling.js';
import { withWatermark } from '../../lib/stream/with-watermark.js';
import { context, tableBatch } from './helpers.js';

const row = fc.record({
  t: fc.integer({ min: 0, max: 200 }),
  k: fc.constantFrom<Value>('a', 'b', null, 7),
  v: fc.option(fc.integer({ min: -100, max: 100 }), { nil: null }),
  s: fc.option(fc.string({ maxLength: 3 }), { nil: null }),
  big: fc.bigInt({ min: -(2n ** 60n), max: 2n ** 60n }),
});

describe('aggregate results as columns', () => {
  it('updatedTable, closedTable and openTable hold exactly the rows updatedRows, closedRows and openRows do', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.array(row, { maxLength: 12 }), { minLength: 1, maxLength: 5 }), fc.boolean(), async (batches, sessions) => {
        const ctx = context();
        const source = of(...batches.map((rows, id) => ({ ...tableBatch(id, rows), context: ctx })));
        const views = await lastValueFrom(
          source.pipe(
            withWatermark({ eventTime: 't', delay: 20 }),
            sessions ? session({ eventTime: 't', gap: 15 }) : tumbling({ eventTime: 't', size: 30 }),
            aggregate([WINDOW, 'k'], { n: count(), total: sum('v'), low: min('s'), high: max('big'), firstV: first('v') }),
            map((batch: TableBatch) => {
              const view = batch.aggregation!;
              return {
                tables: [tableRows(view.updatedTable()), tableRows(view.closedTable()), tableRows(view.openTable())],
                rows: [view.updatedRows(), view.closedRows(), view.openRows()],
              };
            }),
            toArray(),
          ),
        );
        for (const view of views) expect(view.tables).toEqual(view.rows);
      }),
      { numRuns: 60 },
    );
  });

  it("emitTable('update') after the seed aggregation carries each window's count and sum of every record so far", async () => {
    const records = Array.from({ length: 500 }, (_, i) => ({ t: (i * 7919) % 120_000, price: ((i * 31) % 10_000) / 100 }));
    const batches = [records.slice(0, 200), records.slice(200, 350), records.slice(350)];
    const ctx = context();
    const outputs = await lastValueFrom(
      of(...batches.map((rows, id) => ({ ...tableBatch(id, rows), context: ctx }))).pipe(
        tumbling({ eventTime: 't', size: 30_000 }),
        aggregate([WINDOW], { count: count(), total: sum('price') }),
        emitTable('update'),
        map((batch) => tableRows(batch.rows)),
        toArray(),
      ),
    );
    const latest = new Map<number, { count: number; cents: number }>();
    for (const rows of outputs) for (const out of rows) latest.set((out['window'] as unknown as { start: number }).start, { count: out['count'] as number, cents: Math.round((out['total'] as number) * 100) });
    const expected = new Map<number, { count: number; cents: number }>();
    for (const record of records) {
      const start = Math.floor(record.t / 30_000) * 30_000;
      const window = expected.get(start) ?? { count: 0, cents: 0 };
      expected.set(start, { count: window.count + 1, cents: window.cents + Math.round(record.price * 100) });
    }
    expect(new Map([...latest].sort((a, b) => a[0] - b[0]))).toEqual(new Map([...expected].sort((a, b) => a[0] - b[0])));
    expect(outputs[0]?.[0] !== undefined && Object.keys(outputs[0][0])).toEqual(['window', 'count', 'total']);
  });
});
