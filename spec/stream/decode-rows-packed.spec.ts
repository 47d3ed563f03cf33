/**
 * decodeRows on packed records (the tunnel's ReadRecords bytes, lib/wire/packed-records.ts) reads
 * the columns straight from the bytes; on the same records as plain objects it takes the record
 * paths. Both must give the same table, bad rows, counts and drops, in every mode; and `columns`
 * leaves the other columns out of the table without changing which rows are bad.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { INF_MIN, type Cell, type ChangeRecord, type PrimaryKeyCell } from '../../lib/wire/types.js';
import type { Catalog } from '../../lib/stream/catalog.js';
import { compileDecoder, type DecodedRecords, type DecodeRowsOptions } from '../../lib/stream/decode-rows.js';
import { tableRows } from '../../lib/stream/table.js';
import { encodeRow } from '../../lib/wire/plainbuffer/index.js';
import { packedRecords, sliceRecords, concatRecords } from '../../lib/wire/packed-records.js';
import { decodeReadRecordsPacked } from '../../lib/wire/read-records-fast.js';
import { tunnelSchema, type ReadRecordsResponse } from '../../lib/wire/tunnel-messages.js';
import { TUNNEL_PROTO_PACKAGE } from '../../lib/wire/tunnel-proto.js';

const responseCodec = tunnelSchema.codec<ReadRecordsResponse>(`${TUNNEL_PROTO_PACKAGE}.ReadRecordsResponse`);
const catalog: Catalog = { columns: { s: { type: 'string' }, l: { type: 'long' }, d: { type: 'double' }, b: { type: 'boolean' }, x: { type: 'binary' } } };
const names = ['s', 'l', 'd', 'b', 'x', 'other', 'é'];
const wireValue = fc.oneof(
  fc.string({ maxLength: 4 }),
  fc.constantFrom(2n ** 53n - 1n, 2n ** 53n, -(2n ** 53n) + 1n, -(2n ** 53n), 2n ** 63n - 1n, -(2n ** 63n)),
  fc.bigInt({ min: -(2n ** 60n), max: 2n ** 60n }),
  fc.bigInt({ min: -(2n ** 20n), max: 2n ** 20n }),
  fc.double({ noNaN: false }),
  fc.boolean(),
  fc.uint8Array({ maxLength: 3 }),
);
const goodValue = (name: string): fc.Arbitrary<unknown> =>
  name === 's' ? fc.string({ maxLength: 4 }) : name === 'l' ? fc.bigInt({ min: -(2n ** 40n), max: 2n ** 40n }) : name === 'd' ? fc.double() : name === 'b' ? fc.boolean() : name === 'x' ? fc.uint8Array({ maxLength: 3 }) : fc.string();
const pkCell: fc.Arbitrary<PrimaryKeyCell> = fc.record({ name: fc.constantFrom(...names), value: fc.oneof(fc.string({ maxLength: 3 }), fc.bigInt({ min: -5n, max: 5n }), fc.constant(INF_MIN)) });
const cell: fc.Arbitrary<Cell> = fc.oneof(
  { weight: 8, arbitrary: fc.constantFrom(...names).chain((name) => fc.record({ op: fc.constant('put' as const), name: fc.constant(name), value: fc.oneof({ weight: 3, arbitrary: goodValue(name) }, wireValue) })) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('deleteAllVersions' as const), name: fc.constantFrom(...names) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('deleteOneVersion' as const), name: fc.constantFrom(...names), timestamp: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('increment' as const), name: fc.constantFrom(...names), value: fc.bigInt({ min: 0n, max: 3n }) }) },
) as fc.Arbitrary<Cell>;
const randomRecord: fc.Arbitrary<ChangeRecord> = fc.record({
  action: fc.constantFrom('PUT_ROW', 'UPDATE_ROW', 'DELETE_ROW'),
  primaryKey: fc.array(pkCell, { minLength: 1, maxLength: 3 }),
  cells: fc.array(cell, { maxLength: 6 }),
});
/** the usual layout: one put per catalog column, values that may be of the wrong type */
const layoutRecord: fc.Arbitrary<ChangeRecord> = fc
  .tuple(goodValue('s'), fc.oneof(goodValue('l'), wireValue), fc.oneof(goodValue('d'), wireValue), fc.oneof(goodValue('b'), wireValue), goodValue('x'))
  .map(([s, l, d, b, x]) => ({
    action: 'PUT_ROW' as const,
    primaryKey: [{ name: 's', value: s as string }],
    cells: [
      { op: 'put' as const, name: 'l', value: l as bigint },
      { op: 'put' as const, name: 'd', value: d as number },
      { op: 'put' as const, name: 'b', value: b as boolean },
      { op: 'put' as const, name: 'x', value: x as Uint8Array },
    ],
  }));

/** The records as the tunnel delivers them: one ReadRecords response's bytes, packed. */
function packed(records: readonly ChangeRecord[]): readonly ChangeRecord[] {
  const bytes = responseCodec.encode({
    records: records.map((r) => ({ actionType: r.action, record: encodeRow({ primaryKey: r.primaryKey, cells: r.cells, deleteMarker: false }) })),
    nextToken: 't',
  });
  const decoded = decodeReadRecordsPacked(bytes);
  if (decoded === undefined) throw new Error('the generated records do not take the packed path');
  return decoded.changes;
}

const summary = (decoded: DecodedRecords) => ({
  rows: tableRows(decoded.table),
  bad: decoded.bad.map((bad) => ({ index: bad.index, primaryKey: bad.primaryKey, message: bad.message, record: bad.record })),
  updates: decoded.updates,
  deletes: decoded.deletes,
  skipped: decoded.skipped,
  typeMismatchesByColumn: decoded.typeMismatchesByColumn,
  dropped: decoded.dropped,
});

const shapes = fc.record({
  longs: fc.constantFrom('number' as const, 'bigint' as const),
  missingColumns: fc.constantFrom('bad-row' as const, 'null' as const),
  typeMismatches: fc.constantFrom('bad-row' as const, 'null' as const),
  updates: fc.constantFrom('partial-row' as const, 'skip' as const),
  deletes: fc.constantFrom('partial-row' as const, 'skip' as const),
});

describe('decodeRows on packed records', () => {
  it('gives what the same records as objects give, in every mode', () => {
    fc.assert(
      fc.property(fc.array(fc.oneof(layoutRecord, randomRecord), { maxLength: 12 }), shapes, (records, shape) => {
        const lazy = packed(records);
        // the objects the tunnel would otherwise have delivered: built from the same bytes
        const plain = [...lazy];
        const options: DecodeRowsOptions = { catalog, ...shape };
        const fromBytes = compileDecoder(options)(packed(records));
        expect(summary(fromBytes)).toEqual(summary(compileDecoder(options)(plain)));
      }),
      { numRuns: 400 },
    );
  });

  it('reads packed batches joined from several responses and sliced', () => {
    fc.assert(
      fc.property(fc.array(layoutRecord, { maxLength: 6 }), fc.array(fc.oneof(layoutRecord, randomRecord), { maxLength: 6 }), fc.nat(6), shapes, (a, b, cut, shape) => {
        const joined = concatRecords([sliceRecords(packed(a), cut, a.length), packed(b)]);
        expect(packedRecords(joined)).toBeDefined();
        const options: DecodeRowsOptions = { catalog, ...shape };
        expect(summary(compileDecoder(options)(joined))).toEqual(summary(compileDecoder(options)([...joined])));
      }),
      { numRuns: 200 },
    );
  });

  it('with `columns`, leaves the other columns out of the table and finds the same bad rows', () => {
    fc.assert(
      fc.property(fc.array(fc.oneof(layoutRecord, randomRecord), { maxLength: 12 }), shapes, fc.subarray(Object.keys(catalog.columns)), fc.boolean(), (records, shape, columns, asObjects) => {
        const input = asObjects ? [...packed(records)] : packed(records);
        const all = compileDecoder({ catalog, ...shape })(input);
        const some = compileDecoder({ catalog, ...shape, columns })(input);
        const pick = (row: Record<string, unknown>) => Object.fromEntries(columns.map((name) => [name, row[name]]));
        expect(summary(some)).toEqual({ ...summary(all), rows: summary(all).rows.map(pick) });
        expect([...some.table.columns.keys()].sort()).toEqual([...columns].sort());
      }),
      { numRuns: 300 },
    );
  });

  it('counts a mismatch once in a record the packed path hands to the generic one (a typed cell, a column named twice)', () => {
    const wrong = { op: 'put' as const, name: 'd', value: 'not a double' };
    const records: ChangeRecord[] = [
      { action: 'PUT_ROW', primaryKey: [{ name: 's', value: 'a' }], cells: [wrong, { op: 'deleteAllVersions', name: 'x' }] },
      { action: 'PUT_ROW', primaryKey: [{ name: 's', value: 'b' }], cells: [wrong, { op: 'put', name: 'l', value: 1n }, { op: 'put', name: 'l', value: 2n }] },
    ];
    for (const input of [packed(records), [...packed(records)]]) {
      const decoded = compileDecoder({ catalog, missingColumns: 'null', typeMismatches: 'null' })(input);
      expect(decoded.typeMismatchesByColumn).toEqual({ d: 2 });
      expect(tableRows(decoded.table)).toEqual([
        { s: 'a', l: null, d: null, b: null, x: null },
        { s: 'b', l: 2, d: null, b: null, x: null },
      ]);
    }
  });

  it('refuses columns outside the catalog', () => {
    expect(() => compileDecoder({ catalog, columns: ['s', 'nope'] })).toThrow(/'nope' are not in the catalog/);
  });
});
