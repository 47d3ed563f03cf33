/**
 * decodeReadRecordsChanges, the tunnel's data path from ReadRecords bytes to change records in one
 * walk, against the path it shortcuts (the transport's ReadRecordsResponse codec, views into the
 * response, decodeRecords): for any bytes it is undefined or exactly that path's records, token,
 * hint and byte size; and it takes the layout the service writes whenever each record decodes.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeRecords } from '../../lib/tunnel/decode-records.js';
import type { RawRecord } from '../../lib/tunnel/model.js';
import { encodeRow } from '../../lib/wire/plainbuffer/index.js';
import { decodeChangeRecordFast, decodeChangeRecordFastAt } from '../../lib/wire/plainbuffer/decode-fast.js';
import { decodeReadRecordsChanges } from '../../lib/wire/read-records-fast.js';
import { tunnelMessages, tunnelSchema, type ReadRecordsResponse } from '../../lib/wire/tunnel-messages.js';
import { TUNNEL_PROTO_PACKAGE } from '../../lib/wire/tunnel-proto.js';
import type { RecordAction } from '../../lib/wire/types.js';
import { applyByteEdits, byteEdit, row } from './plainbuffer/arbitraries.js';

const generic = tunnelSchema.codec<ReadRecordsResponse>(`${TUNNEL_PROTO_PACKAGE}.ReadRecordsResponse`);
const action = fc.constantFrom<RecordAction>('PUT_ROW', 'UPDATE_ROW', 'DELETE_ROW');

/** A record as the service writes it: an encoded row (sometimes with its bytes edited), sometimes an origin record. */
const tunnelRecord = fc.record(
  { action, row: row({ minPrimaryKey: 1 }), edits: fc.array(byteEdit(), { maxLength: 2 }), origin: fc.option(fc.uint8Array({ maxLength: 30 }), { freq: 5 }) },
  { requiredKeys: ['action', 'row', 'edits', 'origin'] },
);
const response = fc.record({
  records: fc.array(tunnelRecord, { maxLength: 12 }),
  nextToken: fc.string({ unit: fc.constantFrom(...'abcXYZ0189+/=_-'.split('')), maxLength: 60 }),
  mayMoreRecord: fc.option(fc.boolean()),
});

/** What the generic path gives: the transport's codec, the records as RawRecords, decodeRecords. */
function reference(bytes: Uint8Array): unknown {
  const message = tunnelMessages.ReadRecordsResponse.decodeWithViews(bytes);
  if (message._tag === 'Left') return message;
  const raw = message.right.records.map((r): RawRecord => (r.originRecord === undefined ? { action: r.actionType, record: r.record } : { action: r.actionType, record: r.record, originRecord: r.originRecord }));
  const changes = decodeRecords(raw);
  const byteSize = message.right.records.reduce((sum, r) => sum + r.record.length + (r.originRecord?.length ?? 0), 0);
  return { changes, nextToken: message.right.nextToken, mayMoreRecord: message.right.mayMoreRecord, byteSize };
}

function agrees(bytes: Uint8Array): boolean {
  const fast = decodeReadRecordsChanges(bytes);
  if (fast === undefined) return false;
  expect({ changes: { _tag: 'Right', right: fast.changes }, nextToken: fast.nextToken, mayMoreRecord: fast.mayMoreRecord, byteSize: fast.byteSize }).toEqual(reference(bytes));
  return true;
}

describe('decodeReadRecordsChanges', () => {
  it("equals the generic path wherever it decodes, and decodes every response of well-formed records without origin records", () => {
    fc.assert(
      fc.property(response, fc.boolean(), ({ records, nextToken, mayMoreRecord }, edited) => {
        const message: ReadRecordsResponse = {
          records: records.map(({ action: actionType, row: r, edits, origin }) => {
            const record = edited ? applyByteEdits(encodeRow(r), edits) : encodeRow(r);
            return origin === null ? { actionType, record } : { actionType, record, originRecord: origin };
          }),
          nextToken,
          ...(mayMoreRecord === null ? {} : { mayMoreRecord }),
        };
        const bytes = generic.encode(message);
        const decoded = agrees(bytes);
        const plain = message.records.every((r) => r.originRecord === undefined && decodeChangeRecordFast(r.record, r.actionType) !== undefined);
        if (plain) expect(decoded).toBe(true);
        // the transport hands a Buffer: the same records
        if (decoded) expect(decodeReadRecordsChanges(Buffer.from(bytes))).toEqual(decodeReadRecordsChanges(bytes));
      }),
      { numRuns: 300 },
    );
  });

  it('is undefined or the generic result for any edit of the response bytes', () => {
    fc.assert(
      fc.property(response, fc.array(byteEdit(), { minLength: 1, maxLength: 3 }), ({ records, nextToken }, edits) => {
        agrees(applyByteEdits(generic.encode({ records: records.map(({ action: actionType, row: r }) => ({ actionType, record: encodeRow(r) })), nextToken }), edits));
      }),
      { numRuns: 400 },
    );
  });

  it('leaves origin records, unknown fields and unknown actions to the generic path', () => {
    const record = encodeRow({ primaryKey: [{ name: 'id', value: 'a' }], cells: [], deleteMarker: false });
    const withOrigin = generic.encode({ records: [{ actionType: 'UPDATE_ROW', record, originRecord: new Uint8Array([1]) }], nextToken: 't' });
    expect(decodeReadRecordsChanges(withOrigin)).toBeUndefined();
    const plain = [...generic.encode({ records: [{ actionType: 'PUT_ROW', record }], nextToken: 't' })];
    expect(decodeReadRecordsChanges(Uint8Array.from(plain))?.changes).toEqual([{ action: 'PUT_ROW', primaryKey: [{ name: 'id', value: 'a' }], cells: [] }]);
    expect(decodeReadRecordsChanges(Uint8Array.from([...plain, 0x48, 0x01]))).toBeUndefined();
    expect(decodeReadRecordsChanges(Uint8Array.from([0x0a, 0x02, 0x08, 0x04, 0x12, 0x01, 0x61]))).toBeUndefined();
  });
});

describe('decodeChangeRecordFastAt', () => {
  it('reads a record in place among other bytes exactly as decodeChangeRecordFast reads it alone', () => {
    fc.assert(
      fc.property(row({ minPrimaryKey: 1 }), action, fc.array(byteEdit(), { maxLength: 2 }), fc.uint8Array({ maxLength: 12 }), fc.uint8Array({ maxLength: 12 }), (r, act, edits, before, after) => {
        for (const bytes of [encodeRow(r), applyByteEdits(encodeRow(r), edits)]) {
          const framed = new Uint8Array(before.length + bytes.length + after.length);
          framed.set(before, 0);
          framed.set(bytes, before.length);
          framed.set(after, before.length + bytes.length);
          expect(decodeChangeRecordFastAt(framed, before.length, before.length + bytes.length, act)).toStrictEqual(decodeChangeRecordFast(bytes, act));
        }
      }),
      { numRuns: 400 },
    );
  });
});
