/**
 * Packed change records (lib/wire/packed-records.ts): decodeReadRecordsPacked against
 * decodeReadRecordsChanges (the path it shortcuts), scanChangeRecordFastAt against the fast
 * decoder it stands in for, and the lazy array against the plain array of the same records.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { encodeRow } from '../../lib/wire/plainbuffer/index.js';
import { decodeChangeRecordFastAt, scanChangeRecordFastAt } from '../../lib/wire/plainbuffer/decode-fast.js';
import { concatRecords, packedRecords, sliceRecords } from '../../lib/wire/packed-records.js';
import { decodeReadRecordsChanges, decodeReadRecordsPacked } from '../../lib/wire/read-records-fast.js';
import { tunnelSchema, type ReadRecordsResponse } from '../../lib/wire/tunnel-messages.js';
import { TUNNEL_PROTO_PACKAGE } from '../../lib/wire/tunnel-proto.js';
import type { ChangeRecord, RecordAction, Row } from '../../lib/wire/types.js';
import { applyByteEdits, byteEdit, row } from './plainbuffer/arbitraries.js';
import { rawBoolean, rawBytesString, rawInteger, rawRow, rawString, type RawCell } from './plainbuffer/raw.js';

const generic = tunnelSchema.codec<ReadRecordsResponse>(`${TUNNEL_PROTO_PACKAGE}.ReadRecordsResponse`);
const action = fc.constantFrom<RecordAction>('PUT_ROW', 'UPDATE_ROW', 'DELETE_ROW');
const tunnelRecord = fc.record({ action, row: row({ minPrimaryKey: 1 }), edits: fc.array(byteEdit(), { maxLength: 2 }), edited: fc.boolean() });
const token = fc.string({ unit: fc.constantFrom(...'abcXYZ0189+/=_-'.split('')), maxLength: 40 });

const responseBytes = (records: readonly { action: RecordAction; row: Row; edits: Parameters<typeof applyByteEdits>[1]; edited: boolean }[], nextToken: string, mayMoreRecord: boolean | null): Uint8Array =>
  generic.encode({
    records: records.map((r) => ({ actionType: r.action, record: r.edited ? applyByteEdits(encodeRow(r.row), r.edits) : encodeRow(r.row) })),
    nextToken,
    ...(mayMoreRecord === null ? {} : { mayMoreRecord }),
  });

/** A packed response of well-formed records, and the same records as a plain array. */
const packedResponse = fc.array(fc.record({ action, row: row({ minPrimaryKey: 1 }) }), { maxLength: 10 }).map((records) => {
  const bytes = generic.encode({ records: records.map((r) => ({ actionType: r.action, record: encodeRow(r.row) })), nextToken: 't' });
  const packed = decodeReadRecordsPacked(bytes);
  const plain = decodeReadRecordsChanges(bytes);
  return { packed: packed?.changes, plain: plain?.changes };
});

describe('decodeReadRecordsPacked', () => {
  it('is undefined exactly where decodeReadRecordsChanges is, and otherwise gives the same records, token, hint and byte size', () => {
    fc.assert(
      fc.property(fc.array(tunnelRecord, { maxLength: 10 }), token, fc.option(fc.boolean()), (records, nextToken, mayMoreRecord) => {
        const bytes = responseBytes(records, nextToken, mayMoreRecord);
        const packed = decodeReadRecordsPacked(bytes);
        const changes = decodeReadRecordsChanges(bytes);
        expect(packed === undefined).toBe(changes === undefined);
        if (packed === undefined || changes === undefined) return;
        expect(packedRecords(packed.changes)?.length).toBe(changes.changes.length);
        expect({ ...packed, changes: [...packed.changes] }).toEqual(changes);
        // the array itself compares as the plain one
        expect(packed.changes).toEqual(changes.changes);
      }),
      { numRuns: 300 },
    );
  });

  it('is undefined or the same as decodeReadRecordsChanges for any edit of the response bytes', () => {
    fc.assert(
      fc.property(fc.array(tunnelRecord, { maxLength: 6 }), fc.array(byteEdit(), { minLength: 1, maxLength: 3 }), (records, edits) => {
        const bytes = applyByteEdits(responseBytes(records, 't', null), edits);
        const packed = decodeReadRecordsPacked(bytes);
        const changes = decodeReadRecordsChanges(bytes);
        expect(packed === undefined).toBe(changes === undefined);
        if (packed !== undefined) expect(packed.changes).toEqual(changes?.changes);
      }),
      { numRuns: 300 },
    );
  });
});

describe('scanChangeRecordFastAt', () => {
  it('accepts a record in place exactly where decodeChangeRecordFastAt decodes it', () => {
    fc.assert(
      fc.property(row({ minPrimaryKey: 0 }), fc.array(byteEdit(), { maxLength: 3 }), fc.uint8Array({ maxLength: 8 }), fc.uint8Array({ maxLength: 8 }), (r, edits, before, after) => {
        for (const bytes of [encodeRow(r), applyByteEdits(encodeRow(r), edits)]) {
          const framed = new Uint8Array(before.length + bytes.length + after.length);
          framed.set(before, 0);
          framed.set(bytes, before.length);
          framed.set(after, before.length + bytes.length);
          const end = before.length + bytes.length;
          expect(scanChangeRecordFastAt(framed, before.length, end)).toBe(decodeChangeRecordFastAt(framed, before.length, end, 'PUT_ROW') !== undefined);
        }
      }),
      { numRuns: 500 },
    );
  });

  it('makes the checks behind the checksums: booleans, UTF-8, value types, cell types, timestamps', () => {
    const value = fc.oneof(
      fc.integer({ min: 0, max: 255 }).map(rawBoolean),
      fc.string({ maxLength: 4 }).map(rawString),
      fc.array(fc.integer({ min: 0, max: 255 }), { maxLength: 5 }).map(rawBytesString),
      fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }).map(rawInteger),
      fc.array(fc.integer({ min: 0, max: 255 }), { maxLength: 10 }),
      fc.constantFrom([0x09], [0x0a], [0x0b], [0x01, 0, 0, 0, 0, 0, 0, 0xf0, 0x3f]),
    );
    const rawCell: fc.Arbitrary<RawCell> = fc.record(
      { name: fc.constantFrom('a', 'bb', 'é', ''), value, cellType: fc.integer({ min: 0, max: 4 }), timestamp: fc.bigInt({ min: -1n, max: 2n ** 54n }) },
      { requiredKeys: ['name'] },
    );
    const goodKey: fc.Arbitrary<RawCell> = fc.record({ name: fc.constantFrom('k', 'kk'), value: fc.oneof(fc.string({ maxLength: 3 }).map(rawString), fc.bigInt({ min: -5n, max: 5n }).map(rawInteger)) });
    const keys = fc.array(fc.oneof({ weight: 5, arbitrary: goodKey }, { weight: 1, arbitrary: rawCell }), { maxLength: 5 });
    fc.assert(
      fc.property(keys, fc.array(rawCell, { maxLength: 4 }), fc.boolean(), (keys, cells, deleteMarker) => {
        const bytes = rawRow(keys, cells, deleteMarker);
        expect(scanChangeRecordFastAt(bytes, 0, bytes.length)).toBe(decodeChangeRecordFastAt(bytes, 0, bytes.length, 'UPDATE_ROW') !== undefined);
      }),
      { numRuns: 2000 },
    );
  });
});

describe('the lazy array of packed records', () => {
  it('reads as the plain array: indexes, length, iteration, array methods, JSON; each record built once', () => {
    fc.assert(
      fc.property(packedResponse, ({ packed, plain }) => {
        if (packed === undefined || plain === undefined) return;
        expect(Array.isArray(packed)).toBe(true);
        expect(packed.length).toBe(plain.length);
        expect(Object.getOwnPropertyDescriptor(packed, 'length')?.value).toBe(plain.length);
        for (let i = 0; i < plain.length; i++) {
          expect(packed[i]).toEqual(plain[i]);
          expect(packed[i]).toBe(packed[i]);
        }
        expect(packed[plain.length]).toBeUndefined();
        expect([...packed]).toEqual(plain);
        expect(packed.map((r) => r.action)).toEqual(plain.map((r) => r.action));
        expect(JSON.stringify(packed, (_, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v))).toBe(JSON.stringify(plain, (_, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v)));
        expect(Object.keys(packed)).toEqual(Object.keys(plain));
      }),
      { numRuns: 100 },
    );
  });

  it('slices and joins packed, giving the records slice and concat give', () => {
    fc.assert(
      fc.property(packedResponse, packedResponse, fc.nat(12), fc.nat(12), (a, b, from, to) => {
        if (a.packed === undefined || a.plain === undefined || b.packed === undefined || b.plain === undefined) return;
        const sliced = sliceRecords(a.packed, from, to);
        expect(packedRecords(sliced)).toBeDefined();
        expect(sliced).toEqual(a.plain.slice(from, to));
        const joined = concatRecords([sliced, b.packed, sliceRecords(b.packed, to, from + to)]);
        expect(packedRecords(joined)).toBeDefined();
        expect(joined).toEqual([...a.plain.slice(from, to), ...b.plain, ...b.plain.slice(to, from + to)]);
        // a plain part among them: a plain array of the same records
        const extra: ChangeRecord = { action: 'DELETE_ROW', primaryKey: [{ name: 'id', value: 'x' }], cells: [] };
        const mixed = concatRecords<ChangeRecord>([a.packed, [extra]]);
        expect(packedRecords(mixed)).toBeUndefined();
        expect(mixed).toEqual([...a.plain, extra]);
        // other arrays are sliced as usual
        expect(sliceRecords(a.plain, from, to)).toEqual(a.plain.slice(from, to));
      }),
      { numRuns: 100 },
    );
  });
});
