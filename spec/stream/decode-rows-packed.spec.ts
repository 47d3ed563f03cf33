/**
 * decodeRows on packed records (the tunnel's ReadRecords bytes, lib/wire/packed-records.ts) reads
 * the columns straight from the bytes; on the same records as plain objects it takes the record
 * paths. Both must give the same table, bad rows, counts and drops, in every mode; and `columns`
 * leaves the other columns out of the table without changing which rows are bad.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeCatalog, layoutRecord, randomRecord as randomRecordOf } from './change-record-arbitraries.js';
import type { ChangeRecord } from '../../lib/wire/types.js';
import { compileDecoder, type DecodedRecords, type DecodeRowsOptions } from '../../lib/stream/decode-rows.js';
import { tableRows } from '../../lib/stream/table.js';
import { encodeRow } from '../../lib/wire/plainbuffer/index.js';
import { packedRecords, sliceRecords, concatRecords } from '../../lib/wire/packed-records.js';
import { decodeReadRecordsPacked } from '../../lib/wire/read-records-fast.js';
import { tunnelSchema, type ReadRecordsResponse } from '../../lib/wire/tunnel-messages.js';
import { TUNNEL_PROTO_PACKAGE } from '../../lib/wire/tunnel-proto.js';

const responseCodec = tunnelSchema.codec<ReadRecordsResponse>(`${TUNNEL_PROTO_PACKAGE}.ReadRecordsResponse`);
const catalog = decodeCatalog;
const randomRecord = randomRecordOf(1);

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
