import * as E from 'fp-ts/lib/Either.js';
import fc from 'fast-check';
import { map } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { decodeCatalog, layoutRecord, randomRecord as randomRecordOf } from './change-record-arbitraries.js';
import type { ChangeRecord } from '../../lib/wire/types.js';
import type { RecordBatch, TableBatch } from '../../lib/stream/batch.js';
import { compileDecoder, decodeRows, type DecodeRowsOptions } from '../../lib/stream/decode-rows.js';
import { rowCodec, rowProblems } from '../../lib/stream/row-codec.js';
import { rowAt, tableRows } from '../../lib/stream/table.js';
import { StreamMetrics } from '../../lib/stream/metrics.js';
import { context, never$, orderCatalog, putOrder, recordBatch, testScheduler } from './helpers.js';

const decodeOne = (options: DecodeRowsOptions, records: readonly ChangeRecord[]) => compileDecoder(options)(records);

describe('decodeRows', () => {
  it('decodes PUT rows into typed columns: doubles and safe longs as numbers, strings as strings', () => {
    const decoded = decodeOne({ catalog: orderCatalog }, [putOrder('u1', 'o1', 12.5, 1_700_000_000_123), putOrder('u2', 'o2', 3, 1_700_000_000_456)]);
    expect(decoded.bad).toEqual([]);
    expect(decoded.table.columns.get('price')?.kind).toBe('number');
    expect(decoded.table.columns.get('timestamp')?.kind).toBe('number');
    expect(tableRows(decoded.table)).toEqual([
      { UserId: 'u1', OrderId: 'o1', price: 12.5, timestamp: 1_700_000_000_123 },
      { UserId: 'u2', OrderId: 'o2', price: 3, timestamp: 1_700_000_000_456 },
    ]);
  });

  it('reads cells by name whatever their order, ignores columns outside the catalog, and lets a double column take an INTEGER', () => {
    const shuffled: ChangeRecord = {
      action: 'PUT_ROW',
      primaryKey: [
        { name: 'OrderId', value: 'o9' },
        { name: 'UserId', value: 'u9' },
      ],
      cells: [
        { op: 'put', name: 'note', value: 'not in the catalog' },
        { op: 'put', name: 'timestamp', value: 5n },
        { op: 'put', name: 'price', value: 7n },
      ],
    };
    const decoded = decodeOne({ catalog: orderCatalog }, [putOrder('u1', 'o1', 1, 1), shuffled]);
    expect(tableRows(decoded.table)).toEqual([
      { UserId: 'u1', OrderId: 'o1', price: 1, timestamp: 1 },
      { UserId: 'u9', OrderId: 'o9', price: 7, timestamp: 5 },
    ]);
  });

  it("fails the job on a bad row by default, naming the table, the primary key and every bad column", () => {
    const bad: ChangeRecord = {
      action: 'PUT_ROW',
      primaryKey: [
        { name: 'UserId', value: 'u1' },
        { name: 'OrderId', value: 'o7' },
      ],
      cells: [{ op: 'put', name: 'price', value: 'cheap' }],
    };
    testScheduler().run(({ cold, expectObservable }) => {
      const source = cold('-a', { a: recordBatch(4, [putOrder('u1', 'o1', 1, 1), bad, bad]) });
      expectObservable(source.pipe(decodeRows({ catalog: orderCatalog, table: 'OrderSource' }))).toBe(
        '-#',
        undefined,
        expect.objectContaining({
          name: 'BadRowError',
          message: `bad row in table OrderSource, primary key (UserId="u1", OrderId="o7"): column 'price': expected double, got string "cheap"; column 'timestamp' is missing (expected long) (and 1 more bad rows in batch 4)`,
        }),
      );
    });
  });

  it('skips and counts bad rows, or routes them to the dead letters of the batch', () => {
    const records = [putOrder('u1', 'o1', 1, 1), { ...putOrder('u2', 'o2', 2, 2), cells: [{ op: 'put', name: 'price', value: true }, { op: 'put', name: 'timestamp', value: 2n }] } as ChangeRecord];
    const metrics = new StreamMetrics();
    testScheduler().run(({ cold, expectObservable }) => {
      const source = cold('a', { a: recordBatch(0, records, context(metrics)) });
      expectObservable(source.pipe(decodeRows({ catalog: orderCatalog, onBadRow: 'skip' }), mapRows())).toBe('a', { a: { rows: [{ UserId: 'u1', OrderId: 'o1', price: 1, timestamp: 1 }], letters: [] } });
      expectObservable(source.pipe(decodeRows({ catalog: orderCatalog, table: 'T', onBadRow: 'dead-letter' }), mapRows())).toBe('a', {
        a: {
          rows: [{ UserId: 'u1', OrderId: 'o1', price: 1, timestamp: 1 }],
          letters: [
            {
              kind: 'bad-row',
              batchId: 0,
              table: 'T',
              primaryKey: 'UserId="u2", OrderId="o2"',
              record: records[1],
              problems: [{ column: 'price', problem: 'wrong-type', expected: 'double', actual: 'boolean true' }],
              message: "column 'price': expected double, got boolean true",
            },
          ],
        },
      });
    });
    expect(metrics.snapshot()).toMatchObject({ badRows: 2, badRowsSkipped: 1, rowsDecoded: 2 });
  });

  it('treats a PUT row lacking a column as bad, or as null with missingColumns: null', () => {
    const partial: ChangeRecord = { action: 'PUT_ROW', primaryKey: [{ name: 'UserId', value: 'u' }, { name: 'OrderId', value: 'o' }], cells: [{ op: 'put', name: 'price', value: 2 }] };
    expect(decodeOne({ catalog: orderCatalog }, [partial]).bad.map((bad) => bad.problems)).toEqual([[{ column: 'timestamp', problem: 'missing', expected: 'long', actual: 'nothing' }]]);
    const lenient = decodeOne({ catalog: orderCatalog, missingColumns: 'null' }, [partial, putOrder('u', 'o2', 3, 4)]);
    expect(tableRows(lenient.table)).toEqual([
      { UserId: 'u', OrderId: 'o', price: 2, timestamp: null },
      { UserId: 'u', OrderId: 'o2', price: 3, timestamp: 4 },
    ]);
  });

  it('makes UPDATE_ROW and DELETE_ROW records partial rows as EMR does, or skips them, and counts them either way', () => {
    const update: ChangeRecord = {
      action: 'UPDATE_ROW',
      primaryKey: [{ name: 'UserId', value: 'u1' }, { name: 'OrderId', value: 'o1' }],
      cells: [{ op: 'deleteAllVersions', name: 'price' }],
      sequence: { epoch: 1, timestamp: 1_595_990_621_936_075n, rowIndex: 0 },
    };
    const remove: ChangeRecord = { action: 'DELETE_ROW', primaryKey: [{ name: 'UserId', value: 'u1' }, { name: 'OrderId', value: 'o1' }], cells: [] };
    const withColumns = decodeOne({ catalog: orderCatalog, recordColumns: true }, [putOrder('u1', 'o1', 5, 9), update, remove]);
    expect(withColumns.bad).toEqual([]);
    expect(tableRows(withColumns.table)).toEqual([
      {
        __ots_record_type__: 'PUT', __ots_record_timestamp__: 0,
        UserId: 'u1', __ots_column_type_UserId: null, OrderId: 'o1', __ots_column_type_OrderId: null,
        price: 5, __ots_column_type_price: 'PUT', timestamp: 9, __ots_column_type_timestamp: 'PUT',
      },
      {
        __ots_record_type__: 'UPDATE', __ots_record_timestamp__: 1_595_990_621_936_075,
        UserId: 'u1', __ots_column_type_UserId: null, OrderId: 'o1', __ots_column_type_OrderId: null,
        price: null, __ots_column_type_price: 'DELETE_ALL_VERSION', timestamp: null, __ots_column_type_timestamp: null,
      },
      {
        __ots_record_type__: 'DELETE', __ots_record_timestamp__: 0,
        UserId: 'u1', __ots_column_type_UserId: null, OrderId: 'o1', __ots_column_type_OrderId: null,
        price: null, __ots_column_type_price: null, timestamp: null, __ots_column_type_timestamp: null,
      },
    ]);
    const skipping = decodeOne({ catalog: orderCatalog, updates: 'skip', deletes: 'skip' }, [update, putOrder('u2', 'o2', 1, 1), remove]);
    expect(tableRows(skipping.table)).toEqual([{ UserId: 'u2', OrderId: 'o2', price: 1, timestamp: 1 }]);
    expect(skipping).toMatchObject({ updates: 1, deletes: 1, skipped: 2 });
  });

  it('refuses a long beyond ±(2^53 − 1) as a number, and keeps it exact with longs: bigint', () => {
    const huge = putOrder('u', 'o', 1, 0);
    const record: ChangeRecord = { ...huge, cells: [{ op: 'put', name: 'price', value: 1 }, { op: 'put', name: 'timestamp', value: 2n ** 53n }] };
    const edge: ChangeRecord = { ...huge, cells: [{ op: 'put', name: 'price', value: 1 }, { op: 'put', name: 'timestamp', value: 2n ** 53n - 1n }] };
    const asNumbers = decodeOne({ catalog: orderCatalog }, [edge, record]);
    expect(tableRows(asNumbers.table).map((row) => row['timestamp'])).toEqual([2 ** 53 - 1]);
    expect(asNumbers.bad[0]?.message).toBe("column 'timestamp': long 9007199254740992 does not fit a number exactly (use longs: 'bigint')");
    const exact = decodeOne({ catalog: orderCatalog, longs: 'bigint' }, [record]);
    expect(rowAt(exact.table, 0)['timestamp']).toBe(2n ** 53n);
  });

  it("with typeMismatches: 'null' (EMR's rule) reads an attribute of the wrong type as null, keeps the row and counts the value per column", () => {
    // generated: every 3rd order has a string price, every 5th a double timestamp; one order has a wrong-typed primary key
    const records: ChangeRecord[] = [];
    const expected: Record<string, unknown>[] = [];
    const counts: Record<string, number> = {};
    for (let i = 0; i < 40; i++) {
      const badPrice = i % 3 === 1;
      const badTime = i % 5 === 2;
      const order = putOrder(`u${i % 4}`, `o${i}`, i + 0.5, 1_700_000_000_000 + i);
      records.push({
        ...order,
        cells: [
          { op: 'put', name: 'price', value: badPrice ? `${i}.50 CNY` : i + 0.5 },
          { op: 'put', name: 'timestamp', value: badTime ? 1.7e12 + i : BigInt(1_700_000_000_000 + i) },
        ],
      });
      expected.push({ UserId: `u${i % 4}`, OrderId: `o${i}`, price: badPrice ? null : i + 0.5, timestamp: badTime ? null : 1_700_000_000_000 + i });
      if (badPrice) counts['price'] = (counts['price'] ?? 0) + 1;
      if (badTime) counts['timestamp'] = (counts['timestamp'] ?? 0) + 1;
    }
    // a wrong primary key stays a bad row (EMR throws on it), and its wrong attribute is not counted
    const badKey: ChangeRecord = { action: 'PUT_ROW', primaryKey: [{ name: 'UserId', value: 7n }, { name: 'OrderId', value: 'ok' }], cells: [{ op: 'put', name: 'price', value: 'x' }, { op: 'put', name: 'timestamp', value: 1n }] };
    // an out-of-range long is no type mismatch: still a bad row
    const huge: ChangeRecord = { ...putOrder('u', 'huge', 1, 0), cells: [{ op: 'put', name: 'price', value: 1 }, { op: 'put', name: 'timestamp', value: 2n ** 60n }] };
    const total = Object.values(counts).reduce((a, b) => a + b, 0);
    // the first record decides the straight-line path; starting with another layout takes the generic one
    const generic: ChangeRecord = { ...putOrder('u', 'g', 1, 1), cells: [{ op: 'put', name: 'timestamp', value: 1n }, { op: 'put', name: 'price', value: true }] };
    for (const [label, batch, extraRows, extraCounts] of [
      ['straight-line path', [...records, badKey, huge], [], {}],
      ['generic path', [generic, ...records, badKey, huge], [{ UserId: 'u', OrderId: 'g', price: null, timestamp: 1 }], { price: 1 }],
    ] as const) {
      const decoded = decodeOne({ catalog: orderCatalog, typeMismatches: 'null' }, batch);
      const wantCounts = { ...counts };
      for (const [column, count] of Object.entries(extraCounts)) wantCounts[column] = (wantCounts[column] ?? 0) + count;
      expect(tableRows(decoded.table), label).toEqual([...extraRows, ...expected]);
      expect(decoded.typeMismatchesByColumn, label).toEqual(wantCounts);
      expect(decoded.typeMismatches, label).toBe(total + Object.values(extraCounts).reduce((a, b) => a + b, 0));
      expect(decoded.bad.map((bad) => bad.problems.map((p) => `${p.column} ${p.problem}`)), label).toEqual([['UserId wrong-type'], ['timestamp out-of-range']]);
    }
    // the default keeps every mismatch a bad row
    const strict = decodeOne({ catalog: orderCatalog }, records);
    expect(strict.bad).toHaveLength(records.filter((_, i) => i % 3 === 1 || i % 5 === 2).length);
    expect(strict.typeMismatches).toBe(0);
  });

  it('counts type mismatches in the metrics, per column, across batches', () => {
    const wrong = (id: string, price: unknown): ChangeRecord => ({ ...putOrder('u', id, 1, 1), cells: [{ op: 'put', name: 'price', value: price as number }, { op: 'put', name: 'timestamp', value: 1n }] });
    const metrics = new StreamMetrics();
    testScheduler().run(({ cold, expectObservable }) => {
      const source = cold('ab', { a: recordBatch(0, [wrong('1', 'abc'), putOrder('u', '2', 2, 2)], context(metrics)), b: recordBatch(1, [wrong('3', true), wrong('4', new Uint8Array(1))], context(metrics)) });
      expectObservable(source.pipe(decodeRows({ catalog: orderCatalog, typeMismatches: 'null' }), map((batch) => batch.rows.length))).toBe('ab', { a: 2, b: 2 });
    });
    expect(metrics.snapshot()).toMatchObject({ typeMismatches: 3, typeMismatchesByColumn: { price: 3 }, badRows: 0, rowsDecoded: 4 });
  });

  it('is empty on empty, silent on never, passes errors and unsubscribes upstream', () => {
    testScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      expectObservable(cold<RecordBatch<ChangeRecord>>('|').pipe(decodeRows({ catalog: orderCatalog }))).toBe('|');
      expectObservable(cold<RecordBatch<ChangeRecord>>('--#', undefined, new Error('boom')).pipe(decodeRows({ catalog: orderCatalog }))).toBe('--#', undefined, new Error('boom'));
      const long = cold('-----a', { a: recordBatch(0, [putOrder('u', 'o', 1, 1)]) });
      expectObservable(long.pipe(decodeRows({ catalog: orderCatalog })), '^--!').toBe('');
      expectSubscriptions(long.subscriptions).toBe('^--!');
    });
    const never = never$<ReturnType<typeof recordBatch<ChangeRecord>>>();
    const subscription = never.observable.pipe(decodeRows({ catalog: orderCatalog })).subscribe();
    subscription.unsubscribe();
    expect(never.unsubscribed()).toBe(true);
  });
});

/** For marble assertions: the decoded rows and the dead letters of each batch. */
const mapRows = () => map((batch: TableBatch) => ({ rows: tableRows(batch.rows), letters: batch.deadLetters }));

// ---- the compiled decoder against the io-ts contract -------------------------------------------

const contractCatalog = decodeCatalog;
const randomRecord = randomRecordOf();

/** Whether a wire value has a type the catalog type takes (EMR's mapping), written out independently of the codec. */
function fits(type: string | undefined, value: unknown): boolean {
  switch (type) {
    case 'string':
      return typeof value === 'string';
    case 'long':
      return typeof value === 'bigint';
    case 'double':
      return typeof value === 'number' || typeof value === 'bigint';
    case 'boolean':
      return typeof value === 'boolean';
    default:
      return value instanceof Uint8Array;
  }
}

describe('the compiled decoder', () => {
  it('accepts, rejects and decodes exactly as the io-ts row codec, in every mode and on both paths', () => {
    fc.assert(
      fc.property(
        fc.array(fc.oneof(layoutRecord, randomRecord), { maxLength: 12 }),
        fc.record({
          longs: fc.constantFrom('number' as const, 'bigint' as const),
          missingColumns: fc.constantFrom('bad-row' as const, 'null' as const),
          recordColumns: fc.boolean(),
          typeMismatches: fc.constantFrom('bad-row' as const, 'null' as const),
        }),
        (records, shape) => {
          const decoded = compileDecoder({ catalog: contractCatalog, ...shape })(records);
          const codec = rowCodec(contractCatalog, shape);
          const expectedRows: unknown[] = [];
          const expectedBad: { index: number; columns: string[] }[] = [];
          const expectedMismatches: Record<string, number> = {};
          records.forEach((record, index) => {
            const result = codec.decode(record);
            if (E.isRight(result)) {
              expectedRows.push(result.right);
              if (shape.typeMismatches === 'null') {
                for (const cell of record.cells) {
                  if (cell.op === 'put' && Object.hasOwn(contractCatalog.columns, cell.name) && !fits(contractCatalog.columns[cell.name]?.type, cell.value)) {
                    expectedMismatches[cell.name] = (expectedMismatches[cell.name] ?? 0) + 1;
                  }
                }
              }
            } else expectedBad.push({ index, columns: rowProblems(result.left, contractCatalog).map((p) => p.column) });
          });
          expect(tableRows(decoded.table)).toEqual(expectedRows);
          expect(decoded.bad.map((bad) => ({ index: bad.index, columns: bad.problems.map((p) => p.column) }))).toEqual(expectedBad);
          expect(decoded.typeMismatchesByColumn).toEqual(expectedMismatches);
        },
      ),
      { numRuns: 300 },
    );
  });
});
