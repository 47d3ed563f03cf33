import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type StoredRow, decodeStoredRow, encodeStoredRow } from '../../lib/emulator/stored-row.js';

const valueArb = fc.oneof(
  fc.bigInt({ min: -(1n << 63n), max: (1n << 63n) - 1n }),
  fc.double({ noNaN: false }),
  fc.boolean(),
  fc.string({ unit: 'grapheme', maxLength: 20 }),
  fc.uint8Array({ maxLength: 300 }),
);

const rowArb: fc.Arbitrary<StoredRow> = fc
  .uniqueArray(fc.string({ minLength: 1, maxLength: 8 }), { maxLength: 6 })
  .chain((names) =>
    fc.tuple(
      ...names.map((name) =>
        fc.array(fc.record({ timestamp: fc.integer({ min: 0, max: 2 ** 50 }), value: valueArb }), { minLength: 1, maxLength: 4 }).map((versions) => ({ name, versions })),
      ),
    ),
  )
  .map((columns) => ({ columns }));

describe('stored row codec', () => {
  it('round-trips every value type, version and column', () => {
    fc.assert(
      fc.property(rowArb, (row) => {
        const decoded = decodeStoredRow(encodeStoredRow(row));
        expect(decoded).toEqual(row);
      }),
      { numRuns: 500 },
    );
  });

  it('keeps a PK-only row distinct from any row with cells', () => {
    expect(decodeStoredRow(encodeStoredRow({ columns: [] }))).toEqual({ columns: [] });
  });

  it('rejects bytes it did not write', () => {
    expect(() => decodeStoredRow(Uint8Array.from([9, 0]))).toThrow(/unknown format/);
  });
});
