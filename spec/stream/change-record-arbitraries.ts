/**
 * fast-check arbitraries of change records against one five-column catalog, shared by the
 * decodeRows specs (the record paths and the packed-bytes path): values of the right and of the
 * wrong wire types (the 2^53 edges of a long included), columns the catalog does not have, every
 * cell op, and the usual layout of one put per catalog column.
 */
import fc from 'fast-check';
import { INF_MIN, type Cell, type ChangeRecord, type PrimaryKeyCell } from '../../lib/wire/types.js';
import type { Catalog } from '../../lib/stream/catalog.js';

export const decodeCatalog: Catalog = { columns: { s: { type: 'string' }, l: { type: 'long' }, d: { type: 'double' }, b: { type: 'boolean' }, x: { type: 'binary' } } };
const names = ['s', 'l', 'd', 'b', 'x', 'other', 'é'];

/** any value the wire can carry */
export const wireValue = fc.oneof(
  fc.string({ maxLength: 4 }),
  fc.constantFrom(2n ** 53n - 1n, 2n ** 53n, -(2n ** 53n) + 1n, -(2n ** 53n), 2n ** 63n - 1n, -(2n ** 63n)),
  fc.bigInt({ min: -(2n ** 60n), max: 2n ** 60n }),
  fc.bigInt({ min: -(2n ** 20n), max: 2n ** 20n }),
  fc.double({ noNaN: false }),
  fc.boolean(),
  fc.uint8Array({ maxLength: 3 }),
);

/** a value of the type the catalog gives the column */
export const goodValue = (name: string): fc.Arbitrary<unknown> =>
  name === 's' ? fc.string({ maxLength: 4 }) : name === 'l' ? fc.bigInt({ min: -(2n ** 40n), max: 2n ** 40n }) : name === 'd' ? fc.double() : name === 'b' ? fc.boolean() : name === 'x' ? fc.uint8Array({ maxLength: 3 }) : fc.string();

const pkCell: fc.Arbitrary<PrimaryKeyCell> = fc.record({ name: fc.constantFrom(...names), value: fc.oneof(fc.string({ maxLength: 3 }), fc.bigInt({ min: -5n, max: 5n }), fc.constant(INF_MIN)) });
const cell: fc.Arbitrary<Cell> = fc.oneof(
  { weight: 8, arbitrary: fc.constantFrom(...names).chain((name) => fc.record({ op: fc.constant('put' as const), name: fc.constant(name), value: fc.oneof({ weight: 3, arbitrary: goodValue(name) }, wireValue) })) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('deleteAllVersions' as const), name: fc.constantFrom(...names) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('deleteOneVersion' as const), name: fc.constantFrom(...names), timestamp: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('increment' as const), name: fc.constantFrom(...names), value: fc.bigInt({ min: 0n, max: 3n }) }) },
) as fc.Arbitrary<Cell>;

/** any record; `minKeyCells` 1 where it must encode as PlainBuffer (a row has a key) */
export const randomRecord = (minKeyCells = 0): fc.Arbitrary<ChangeRecord> =>
  fc.record({
    action: fc.constantFrom('PUT_ROW', 'UPDATE_ROW', 'DELETE_ROW'),
    primaryKey: fc.array(pkCell, { minLength: minKeyCells, maxLength: 3 }),
    cells: fc.array(cell, { maxLength: 6 }),
  });

/** the usual layout: one put per catalog column, values that may be of the wrong type */
export const layoutRecord: fc.Arbitrary<ChangeRecord> = fc
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
