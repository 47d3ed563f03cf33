/**
 * The ReadRecordsResponse fast path against the generic codec (protobufjs reflection): for any
 * bytes it returns undefined or exactly what the generic decodeWithViews returns, and it takes the
 * layout the service writes.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeReadRecordsResponseFast } from '../../lib/wire/read-records-fast.js';
import { tunnelMessages, tunnelSchema, type ReadRecordsResponse } from '../../lib/wire/tunnel-messages.js';
import { TUNNEL_PROTO_PACKAGE } from '../../lib/wire/tunnel-proto.js';
import { applyByteEdits, byteEdit } from './plainbuffer/arbitraries.js';
import { messageArbitrary } from './proto-arbitraries.js';

const generic = tunnelSchema.codec<ReadRecordsResponse>(`${TUNNEL_PROTO_PACKAGE}.ReadRecordsResponse`);
const responseType = tunnelSchema.lookupType(`${TUNNEL_PROTO_PACKAGE}.ReadRecordsResponse`);

/** As the service writes them: ASCII tokens, records of a few hundred bytes, sometimes an origin record. */
const serviceResponse = fc.record(
  {
    records: fc.array(
      fc.record(
        { actionType: fc.constantFrom('PUT_ROW', 'UPDATE_ROW', 'DELETE_ROW'), record: fc.uint8Array({ maxLength: 300 }), originRecord: fc.uint8Array({ maxLength: 40 }) },
        { requiredKeys: ['actionType', 'record'] },
      ),
      { maxLength: 40 },
    ),
    nextToken: fc.string({ unit: fc.constantFrom(...'abcXYZ0189+/=_-'.split('')), maxLength: 200 }),
    mayMoreRecord: fc.boolean(),
  },
  { requiredKeys: ['records', 'nextToken'] },
) as fc.Arbitrary<ReadRecordsResponse>;

const agrees = (bytes: Uint8Array): void => {
  const fast = decodeReadRecordsResponseFast(bytes);
  const reference = generic.decodeWithViews(bytes);
  if (fast !== undefined) {
    expect(reference._tag).toBe('Right');
    if (reference._tag === 'Right') expect(fast).toEqual(reference.right);
  }
  // the codec the transport uses gives the generic result either way
  expect(tunnelMessages.ReadRecordsResponse.decodeWithViews(bytes)).toEqual(reference);
};

describe('decodeReadRecordsResponseFast', () => {
  it("decodes the service's layout itself, equal to the generic codec, records as views into the response", () => {
    fc.assert(
      fc.property(serviceResponse, (message) => {
        const bytes = generic.encode(message);
        const fast = decodeReadRecordsResponseFast(bytes);
        expect(fast).toBeDefined();
        expect(fast).toEqual((generic.decodeWithViews(bytes) as { right: ReadRecordsResponse }).right);
        for (const record of fast?.records ?? []) if (record.record.length > 0) expect(record.record.buffer).toBe(bytes.buffer);
      }),
      { numRuns: 200 },
    );
  });

  it('returns undefined or the generic result for any message of the schema and any edit of its bytes', () => {
    fc.assert(
      fc.property(
        fc.oneof(serviceResponse as fc.Arbitrary<unknown>, messageArbitrary(responseType)),
        fc.array(byteEdit(), { maxLength: 3 }),
        (message, edits) => {
          const bytes = generic.encode(message as ReadRecordsResponse);
          agrees(Uint8Array.from(bytes));
          agrees(applyByteEdits(bytes, edits));
        },
      ),
      { numRuns: 500 },
    );
  });

  it('leaves unknown fields, repeated singular fields and unknown actions to the generic codec', () => {
    const base = [...generic.encode({ records: [{ actionType: 'PUT_ROW', record: new Uint8Array([1, 2]) }], nextToken: 'tok' })];
    // field 9 (varint) appended: proto2 skips it; the fast path declines
    expect(decodeReadRecordsResponseFast(Uint8Array.from([...base, 0x48, 0x01]))).toBeUndefined();
    expect(generic.decodeWithViews(Uint8Array.from([...base, 0x48, 0x01]))._tag).toBe('Right');
    // next_token twice: the last wins in protobuf; the fast path declines
    expect(decodeReadRecordsResponseFast(Uint8Array.from([...base, 0x12, 0x01, 0x61]))).toBeUndefined();
    // action 4 does not exist: the generic codec reports it
    const unknownAction = Uint8Array.from([0x0a, 0x02, 0x08, 0x04, 0x12, 0x01, 0x61]);
    expect(decodeReadRecordsResponseFast(unknownAction)).toBeUndefined();
    expect(generic.decodeWithViews(unknownAction)._tag).toBe('Left');
    // no next_token (required)
    expect(decodeReadRecordsResponseFast(Uint8Array.from([0x18, 0x01]))).toBeUndefined();
  });
});
