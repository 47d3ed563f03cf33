import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  PlainBufferError,
  decodeFilterValue,
  decodeRow,
  decodeRowWithoutPrimaryKey,
  decodeRows,
  encodeFilterValue,
  encodePrimaryKey,
  encodeRow,
  encodeRows,
} from '../../../lib/wire/plainbuffer/index.js';
import { applyByteEdits, byteEdit, columnValue, primaryKeyCell, row } from './arbitraries.js';

const right = <T>(value: T) => ({ _tag: 'Right', right: value });

/** Every decoder on `bytes`: none may throw, each must give Left(PlainBufferError) or Right. */
function decodeAll(bytes: Uint8Array): void {
  for (const decode of [decodeRow, decodeRows, decodeRowWithoutPrimaryKey, decodeFilterValue] as const) {
    const result = decode(bytes);
    if (result._tag === 'Left' && !(result.left instanceof PlainBufferError)) {
      throw new Error(`Left that is not a PlainBufferError: ${String(result.left)}`);
    }
  }
}

describe('round trips', () => {
  it('decodeRow(encodeRow(row)) = row', () => {
    fc.assert(
      fc.property(row(), (r) => {
        expect(decodeRow(encodeRow(r))).toStrictEqual(right(r));
      }),
      { numRuns: 1500 },
    );
  });

  it('decodeRows(encodeRows(rows)) = rows, for 0..5 rows', () => {
    fc.assert(
      fc.property(fc.array(row(), { maxLength: 5 }), (rows) => {
        expect(decodeRows(encodeRows(rows))).toStrictEqual(right(rows));
      }),
      { numRuns: 400 },
    );
  });

  it('origin records (empty primary key) round-trip through decodeRowWithoutPrimaryKey', () => {
    fc.assert(
      fc.property(row({ minPrimaryKey: 0 }), (r) => {
        expect(decodeRowWithoutPrimaryKey(encodeRow(r))).toStrictEqual(right(r));
      }),
      { numRuns: 500 },
    );
  });

  it('primary keys round-trip as PK-only rows', () => {
    fc.assert(
      fc.property(fc.array(primaryKeyCell(), { minLength: 1, maxLength: 4 }), (primaryKey) => {
        expect(decodeRow(encodePrimaryKey(primaryKey))).toStrictEqual(right({ primaryKey, cells: [], deleteMarker: false }));
      }),
      { numRuns: 500 },
    );
  });

  it('filter values round-trip', () => {
    fc.assert(
      fc.property(columnValue(), (value) => {
        expect(decodeFilterValue(encodeFilterValue(value))).toStrictEqual(right(value));
      }),
      { numRuns: 1000 },
    );
  });

  it('encoding is deterministic and zero padding after the rows changes nothing', () => {
    fc.assert(
      fc.property(row(), fc.integer({ min: 1, max: 40 }), (r, padding) => {
        const encoded = encodeRow(r);
        expect(encodeRow(r)).toStrictEqual(encoded);
        const padded = new Uint8Array(encoded.length + padding);
        padded.set(encoded);
        expect(decodeRow(padded)).toStrictEqual(right(r));
      }),
      { numRuns: 300 },
    );
  });
});

describe('hostile input never throws', () => {
  it('random bytes', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 120 }), (bytes) => decodeAll(bytes)), { numRuns: 2000 });
  });

  it('random bytes behind a valid header and PK tag', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 120 }), (tail) => decodeAll(Uint8Array.from([0x75, 0, 0, 0, 0x01, 0x03, 0x04, ...tail]))),
      { numRuns: 2000 },
    );
  });

  it('valid buffers with random edits (overwrite, insert, delete, truncate)', () => {
    fc.assert(
      fc.property(fc.array(row(), { minLength: 1, maxLength: 3 }), fc.array(byteEdit(), { minLength: 1, maxLength: 4 }), (rows, edits) => {
        decodeAll(applyByteEdits(encodeRows(rows), edits));
      }),
      { numRuns: 1500 },
    );
  });
});
