import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compareBytes, decodeStorageKey, encodeRangeCut, encodeStorageKey, prefixSuccessor } from '../../lib/emulator/keys.js';
import type { PrimaryKeyColumnSchema, PrimaryKeyType } from '../../lib/emulator/table-meta.js';
import { INF_MAX, INF_MIN, type PrimaryKeyCell } from '../../lib/wire/types.js';

const INT64_MIN = -(1n << 63n);
const INT64_MAX = (1n << 63n) - 1n;

const typeArb = fc.constantFrom<PrimaryKeyType>('INTEGER', 'STRING', 'BINARY');
const schemaArb = fc
  .array(typeArb, { minLength: 1, maxLength: 4 })
  .map((types): PrimaryKeyColumnSchema[] => types.map((type, i) => ({ name: `pk${i}`, type, autoIncrement: false })));

// small alphabets (including 0x00 and 0xFF) so that equal prefixes and escapes are common
const bytesArb = fc.uint8Array({ maxLength: 6 }).map((b) => b.map((x) => [0, 1, 0xff, 0x61, 0x62][x % 5]!));
const stringArb = fc.array(fc.constantFrom('', 'a', 'b', '\u0000', '\u00ff', '中', '\u{1F600}', '\uE000'), { maxLength: 4 }).map((p) => p.join(''));
const intArb = fc.oneof(fc.constantFrom(INT64_MIN, INT64_MAX, -1n, 0n, 1n), fc.bigInt({ min: INT64_MIN, max: INT64_MAX }), fc.bigInt({ min: -3n, max: 3n }));

const valueArb = (type: PrimaryKeyType): fc.Arbitrary<bigint | string | Uint8Array> =>
  type === 'INTEGER' ? intArb : type === 'STRING' ? stringArb : bytesArb;

const keyArb = (schema: readonly PrimaryKeyColumnSchema[]): fc.Arbitrary<PrimaryKeyCell[]> =>
  fc.tuple(...schema.map((c) => valueArb(c.type))).map((values) => values.map((value, i) => ({ name: schema[i]!.name, value })));

/** The service's order, written independently of the encoding. */
const modelCompareValue = (a: bigint | string | Uint8Array, b: bigint | string | Uint8Array): number => {
  if (typeof a === 'bigint' && typeof b === 'bigint') return a < b ? -1 : a > b ? 1 : 0;
  const ab = typeof a === 'string' ? Buffer.from(a, 'utf8') : Buffer.from(a as Uint8Array);
  const bb = typeof b === 'string' ? Buffer.from(b, 'utf8') : Buffer.from(b as Uint8Array);
  for (let i = 0; i < Math.min(ab.length, bb.length); i++) if (ab[i] !== bb[i]) return ab[i]! < bb[i]! ? -1 : 1;
  return Math.sign(ab.length - bb.length);
};
const modelCompare = (a: readonly PrimaryKeyCell[], b: readonly PrimaryKeyCell[]): number => {
  for (let i = 0; i < a.length; i++) {
    const order = modelCompareValue(a[i]!.value as bigint, b[i]!.value as bigint);
    if (order !== 0) return order;
  }
  return 0;
};

const normalize = (key: readonly PrimaryKeyCell[]) =>
  key.map((c) => ({ name: c.name, value: c.value instanceof Uint8Array ? Array.from(c.value) : c.value }));

describe('storage keys', () => {
  it('order like the service compares primary keys', () => {
    fc.assert(
      fc.property(
        schemaArb.chain((schema) => fc.tuple(fc.constant(schema), keyArb(schema), keyArb(schema))),
        ([schema, a, b]) => {
          const order = Math.sign(compareBytes(encodeStorageKey(7, schema, a), encodeStorageKey(7, schema, b)));
          expect(order).toBe(modelCompare(a, b));
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('decode back to the key they encode', () => {
    fc.assert(
      fc.property(
        schemaArb.chain((schema) => fc.tuple(fc.constant(schema), keyArb(schema))),
        ([schema, key]) => {
          const decoded = decodeStorageKey(schema, encodeStorageKey(3, schema, key));
          // lone surrogates cannot survive UTF-8; the generator produces none
          expect(normalize(decoded)).toEqual(normalize(key));
        },
      ),
      { numRuns: 1000 },
    );
  });

  it('keep tables apart: every key of table n sorts between the INF bounds of table n', () => {
    const schema: PrimaryKeyColumnSchema[] = [{ name: 'pk0', type: 'STRING', autoIncrement: false }];
    const low = encodeRangeCut(5, schema, [{ name: 'pk0', value: INF_MIN }], false);
    const high = encodeRangeCut(5, schema, [{ name: 'pk0', value: INF_MAX }], false);
    for (const value of ['', '\u0000', '\u{10FFFF}'.repeat(10)]) {
      const key = encodeStorageKey(5, schema, [{ name: 'pk0', value }]);
      expect(compareBytes(low, key)).toBeLessThanOrEqual(0);
      expect(compareBytes(key, high)).toBeLessThan(0);
      expect(compareBytes(encodeStorageKey(4, schema, [{ name: 'pk0', value }]), low)).toBeLessThan(0);
      expect(compareBytes(encodeStorageKey(6, schema, [{ name: 'pk0', value: '' }]), high)).toBeGreaterThanOrEqual(0);
    }
  });

  it('range cuts select exactly the keys the bound semantics select', () => {
    // a bound column may be INF_MIN/INF_MAX; everything after it is irrelevant
    const boundArb = (schema: readonly PrimaryKeyColumnSchema[]) =>
      fc.tuple(keyArb(schema), fc.integer({ min: -1, max: schema.length - 1 }), fc.boolean()).map(([key, infAt, max]) =>
        key.map((cell, i) => (infAt >= 0 && i >= infAt ? { name: cell.name, value: max ? INF_MAX : INF_MIN } : cell)),
      );
    const position = (bound: readonly PrimaryKeyCell[], key: readonly PrimaryKeyCell[]): number => {
      // -1: bound is below the key; 1: above; 0: equal (concrete bounds only)
      for (let i = 0; i < bound.length; i++) {
        const v = bound[i]!.value;
        if (v === INF_MIN) return -1;
        if (v === INF_MAX) return 1;
        const order = modelCompareValue(v as bigint, key[i]!.value as bigint);
        if (order !== 0) return order;
      }
      return 0;
    };
    fc.assert(
      fc.property(
        schemaArb.chain((schema) =>
          fc.tuple(fc.constant(schema), fc.array(keyArb(schema), { maxLength: 12 }), boundArb(schema), boundArb(schema), fc.boolean()),
        ),
        ([schema, keys, start, end, backward]) => {
          // forward: start ≤ key < end; backward: end < key ≤ start
          const lower = backward ? encodeRangeCut(1, schema, end, true) : encodeRangeCut(1, schema, start, false);
          const upper = backward ? encodeRangeCut(1, schema, start, true) : encodeRangeCut(1, schema, end, false);
          for (const key of keys) {
            const encoded = encodeStorageKey(1, schema, key);
            const inCut = compareBytes(lower, encoded) <= 0 && compareBytes(encoded, upper) < 0;
            const expected = backward ? position(end, key) < 0 && position(start, key) >= 0 : position(start, key) <= 0 && position(end, key) > 0;
            expect(inCut).toBe(expected);
          }
        },
      ),
      { numRuns: 1500 },
    );
  });

  it('prefixSuccessor is the least string above every extension of the prefix', () => {
    expect(Array.from(prefixSuccessor(Uint8Array.from([1, 2, 0xff, 0xff])))).toEqual([1, 3]);
    expect(Array.from(prefixSuccessor(Uint8Array.from([0, 0])))).toEqual([0, 1]);
    expect(() => prefixSuccessor(Uint8Array.from([0xff]))).toThrow();
  });
});
