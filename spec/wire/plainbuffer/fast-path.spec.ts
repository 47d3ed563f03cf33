/**
 * The fast path (decode-fast.ts) against the reference decoder (decode.ts): for any input it
 * must give the reference's row or nothing, and for what the encoder writes it must not give up
 * (else it is dead weight and the benchmark measures the reference).
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { decodeRowFast, decodeRowsFast } from '../../../lib/wire/plainbuffer/decode-fast.js';
import { referenceDecodeRow, referenceDecodeRows } from '../../../lib/wire/plainbuffer/decode.js';
import { encodeRow, encodeRows } from '../../../lib/wire/plainbuffer/index.js';
import type { Row } from '../../../lib/wire/types.js';
import { applyByteEdits, byteEdit, row } from './arbitraries.js';
import { rawBoolean, rawBytesString, rawInteger, rawRow, rawString } from './raw.js';
import { VECTORS, fromHex } from './vectors.js';

/** The fast path gave nothing, or exactly what the reference gives. */
function agrees(bytes: Uint8Array): void {
  for (const requirePrimaryKey of [true, false]) {
    const fast = decodeRowFast(bytes, requirePrimaryKey);
    if (fast !== undefined) expect(referenceDecodeRow(bytes, requirePrimaryKey)).toStrictEqual({ _tag: 'Right', right: fast });
  }
  const fastRows = decodeRowsFast(bytes);
  if (fastRows !== undefined) expect(referenceDecodeRows(bytes)).toStrictEqual({ _tag: 'Right', right: fastRows });
}

describe('the reference decoder alone', () => {
  // decodeRow reaches it only when the fast path gives up, so the round trips are checked here too
  it('decodes what the encoder writes', () => {
    fc.assert(
      fc.property(fc.array(row(), { minLength: 1, maxLength: 3 }), (rows) => {
        for (const r of rows) expect(referenceDecodeRow(encodeRow(r), true)).toStrictEqual({ _tag: 'Right', right: r });
        expect(referenceDecodeRows(encodeRows(rows))).toStrictEqual({ _tag: 'Right', right: rows });
      }),
      { numRuns: 1000 },
    );
  });

  it('keeps what it learnt about one string cell out of the next (a 4-byte UTF-8 string after an ASCII one)', () => {
    const r: Row = { primaryKey: [{ name: 'a', value: '' }, { name: 'b', value: '\u{10000}' }], cells: [], deleteMarker: false };
    expect(referenceDecodeRow(encodeRow(r), true)).toStrictEqual({ _tag: 'Right', right: r });
  });
});

describe('the fast path', () => {
  it('decodes what the encoder writes, as the reference does', () => {
    fc.assert(
      fc.property(row(), (r) => {
        const bytes = encodeRow(r);
        expect(decodeRowFast(bytes, true)).toStrictEqual(r);
        expect(decodeRowFast(bytes, false)).toStrictEqual(r);
        agrees(bytes);
      }),
      { numRuns: 1500 },
    );
    fc.assert(
      fc.property(fc.array(row(), { minLength: 1, maxLength: 4 }), (rows) => {
        expect(decodeRowsFast(encodeRows(rows))).toStrictEqual(rows);
      }),
      { numRuns: 300 },
    );
    fc.assert(
      fc.property(row({ minPrimaryKey: 0 }), (r) => {
        expect(decodeRowFast(encodeRow(r), false)).toStrictEqual(r);
      }),
      { numRuns: 300 },
    );
  });

  it('decodes the §6.7 vectors', () => {
    for (const vector of VECTORS) expect(decodeRowFast(fromHex(vector.hex), vector.withoutPrimaryKey !== true)).toStrictEqual(vector.row);
  });

  it('agrees with the reference on every single-byte corruption of encoded rows', () => {
    fc.assert(
      fc.property(row(), fc.nat(), fc.integer({ min: 1, max: 255 }), (r, at, mask) => {
        const bytes = encodeRow(r).slice();
        const index = at % bytes.length;
        bytes[index] = bytes[index]! ^ mask;
        agrees(bytes);
      }),
      { numRuns: 3000 },
    );
  });

  it('agrees with the reference on edited, truncated and padded buffers', () => {
    fc.assert(
      fc.property(fc.array(row(), { minLength: 1, maxLength: 2 }), fc.array(byteEdit({ pad: true }), { minLength: 1, maxLength: 3 }), (rows, edits) => {
        agrees(applyByteEdits(encodeRows(rows), edits));
      }),
      { numRuns: 2000 },
    );
  });

  it('agrees with the reference on random bytes behind a header', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 100 }), (tail) => agrees(Uint8Array.from([0x75, 0, 0, 0, 0x01, 0x03, 0x04, ...tail]))),
      { numRuns: 2000 },
    );
  });

  it('leaves every cell the reference rejects behind valid checksums to the reference', () => {
    const pk = [{ name: 'pk', value: rawString('k') }];
    const rejected: Uint8Array[] = [
      rawRow(pk, [{ name: 'c', timestamp: 1n }]),
      rawRow(pk, [{ name: 'c', cellType: 0x03 }]),
      rawRow(pk, [{ name: 'c', cellType: 0x03, value: rawInteger(1n), timestamp: 1n }]),
      rawRow(pk, [{ name: 'c', cellType: 0x01, timestamp: 1n }]),
      rawRow(pk, [{ name: 'c', cellType: 0x04, value: rawString('1') }]),
      rawRow(pk, [{ name: 'c', cellType: 0x02, value: rawInteger(1n) }]),
      rawRow(pk, [{ name: 'c', value: rawInteger(1n), timestamp: -1n }]),
      rawRow(pk, [{ name: 'c', value: rawInteger(1n), timestamp: 2n ** 53n }]),
      rawRow(pk, [{ name: 'c', value: rawBoolean(2) }]),
      rawRow(pk, [{ name: 'c', value: rawBytesString([0xc3, 0x28]) }]),
      rawRow(pk, [{ name: 'c', value: [0x09] }]),
      rawRow([{ name: 'pk', value: rawString('k'), timestamp: 1n }], []),
      rawRow([{ name: 'pk' }], []),
      rawRow([{ name: 'pk', value: [0x01, 0, 0, 0, 0, 0, 0, 0, 0] }], []),
    ];
    for (const bytes of rejected) {
      expect(referenceDecodeRow(bytes, true)._tag).toBe('Left');
      expect(decodeRowFast(bytes, true)).toBeUndefined();
    }
  });

  it('accepts the legal cell forms the reference accepts', () => {
    const bytes = rawRow(
      [{ name: 'pk', value: rawString('k') }],
      [
        { name: 'put', value: rawInteger(-1n) },
        { name: 'putTs', value: rawBoolean(1), timestamp: 5n },
        { name: 'del', cellType: 0x03, timestamp: 6n },
        { name: 'delAll', cellType: 0x01 },
        { name: 'inc', value: rawInteger(3n), cellType: 0x04 },
        { name: 'incTs', value: rawInteger(4n), cellType: 0x04, timestamp: 7n },
      ],
    );
    const expected: Row = {
      primaryKey: [{ name: 'pk', value: 'k' }],
      cells: [
        { op: 'put', name: 'put', value: -1n },
        { op: 'put', name: 'putTs', value: true, timestamp: 5 },
        { op: 'deleteOneVersion', name: 'del', timestamp: 6 },
        { op: 'deleteAllVersions', name: 'delAll' },
        { op: 'increment', name: 'inc', value: 3n },
        { op: 'increment', name: 'incTs', value: 4n, timestamp: 7 },
      ],
      deleteMarker: false,
    };
    expect(decodeRowFast(bytes, true)).toStrictEqual(expected);
    agrees(bytes);
  });
});
