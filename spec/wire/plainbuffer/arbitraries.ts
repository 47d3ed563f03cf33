/** fast-check generators for the shared row model (usable by other wire-level specs). */
import fc from 'fast-check';
import { AUTO_INCREMENT, INF_MAX, INF_MIN } from '../../../lib/wire/types.js';
import type { Cell, ColumnValue, PrimaryKeyCell, PrimaryKeyValue, Row, SequenceInfo } from '../../../lib/wire/types.js';

/** fast-check may build records without a prototype; decoders return plain objects. */
const plain = <T extends object>(value: T): T => ({ ...value });

/** Mostly short ASCII (the common case and the fast path), sometimes any Unicode, sometimes long. */
export const text = (): fc.Arbitrary<string> =>
  fc.oneof(
    { weight: 3, arbitrary: fc.string({ maxLength: 12 }) },
    { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 12 }) },
    { weight: 1, arbitrary: fc.string({ unit: 'grapheme', minLength: 30, maxLength: 80 }) },
    { weight: 1, arbitrary: fc.constantFrom('价格', '列', 'UserId', '\uFEFFbom', 'émoji 🎉') },
  );

export const int64 = (): fc.Arbitrary<bigint> => fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n });
export const timestampMs = (): fc.Arbitrary<number> =>
  fc.oneof(fc.integer({ min: 0, max: 2_000_000_000_000 }), fc.maxSafeNat());
export const bytes = (): fc.Arbitrary<Uint8Array> => fc.uint8Array({ maxLength: 40 });

export const columnValue = (): fc.Arbitrary<ColumnValue> =>
  fc.oneof(int64(), fc.double(), fc.boolean(), text(), bytes());

export const primaryKeyValue = (withSentinels = true): fc.Arbitrary<PrimaryKeyValue> =>
  withSentinels
    ? fc.oneof(int64(), text(), bytes(), fc.constantFrom(INF_MIN, INF_MAX, AUTO_INCREMENT))
    : fc.oneof(int64(), text(), bytes());

export const primaryKeyCell = (withSentinels = true): fc.Arbitrary<PrimaryKeyCell> =>
  fc.record({ name: text(), value: primaryKeyValue(withSentinels) }).map(plain);

export const cell = (): fc.Arbitrary<Cell> =>
  fc.oneof(
    fc.record({ op: fc.constant('put' as const), name: text(), value: columnValue(), timestamp: timestampMs() }, { requiredKeys: ['op', 'name', 'value'] }).map(plain),
    fc.record({ op: fc.constant('deleteOneVersion' as const), name: text(), timestamp: timestampMs() }).map(plain),
    fc.record({ op: fc.constant('deleteAllVersions' as const), name: text() }).map(plain),
    fc.record({ op: fc.constant('increment' as const), name: text(), value: int64(), timestamp: timestampMs() }, { requiredKeys: ['op', 'name', 'value'] }).map(plain),
  );

export const sequenceInfo = (): fc.Arbitrary<SequenceInfo> =>
  fc.record({
    epoch: fc.integer({ min: 0, max: 0xffff_ffff }),
    timestamp: int64(),
    rowIndex: fc.integer({ min: 0, max: 0xffff_ffff }),
  }).map(plain);

export const row = (options: { minPrimaryKey?: number } = {}): fc.Arbitrary<Row> =>
  fc.record(
    {
      primaryKey: fc.array(primaryKeyCell(), { minLength: options.minPrimaryKey ?? 1, maxLength: 4 }),
      cells: fc.array(cell(), { maxLength: 6 }),
      deleteMarker: fc.boolean(),
      sequence: sequenceInfo(),
    },
    { requiredKeys: ['primaryKey', 'cells', 'deleteMarker'] },
  ).map(plain);

/** One edit of an encoded buffer: what a bad disk, a cut connection or a wrong length does. */
export type ByteEdit =
  | { readonly kind: 'set' | 'insert'; readonly at: number; readonly value: number }
  | { readonly kind: 'delete' | 'truncate'; readonly at: number }
  /** `at` zero bytes appended */
  | { readonly kind: 'pad'; readonly at: number };

export function byteEdit(options: { readonly pad?: boolean } = {}): fc.Arbitrary<ByteEdit> {
  const kinds: fc.Arbitrary<ByteEdit>[] = [
    fc.record({ kind: fc.constant('set' as const), at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }),
    fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }),
    fc.record({ kind: fc.constant('delete' as const), at: fc.nat() }),
    fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
  ];
  if (options.pad === true) kinds.push(fc.record({ kind: fc.constant('pad' as const), at: fc.integer({ min: 1, max: 8 }) }));
  return fc.oneof(...kinds);
}

export function applyByteEdits(buffer: Uint8Array, edits: readonly ByteEdit[]): Uint8Array {
  let bytes = Array.from(buffer);
  for (const e of edits) {
    const at = bytes.length === 0 ? 0 : e.at % bytes.length;
    if (e.kind === 'set') bytes[at] = e.value;
    else if (e.kind === 'insert') bytes.splice(at, 0, e.value);
    else if (e.kind === 'delete') bytes.splice(at, 1);
    else if (e.kind === 'truncate') bytes = bytes.slice(0, at);
    else bytes.push(...new Array<number>(e.at).fill(0));
  }
  return Uint8Array.from(bytes);
}
