/**
 * Change records kept packed: the PlainBuffer bytes of a ReadRecords response and, per record, its
 * byte range and action — no ChangeRecord object until someone asks for one. The tunnel delivers
 * such records as a lazy array ({@link lazyChangeRecords}): a real array to anyone who reads it
 * (indexing, iteration, `slice`, `toEqual`, JSON), whose elements are built on first access, one
 * at a time, and kept. Operators that know the packed form ({@link packedRecords}) read the bytes
 * directly: `decodeRows` decodes the columns of a whole micro-batch without building a record,
 * and `microBatch` slices and joins packed batches without touching their records.
 *
 * Only records that decodeChangeRecordFastAt decodes are packed (scanChangeRecordFastAt checks
 * that, with the same checks, when the response is read), so building one later cannot fail.
 */
import type { ChangeRecord, RecordAction } from './types.js';
import { decodeChangeRecordFastAt } from './plainbuffer/decode-fast.js';

/** action codes of {@link PackedSegment.actions} */
export const PACKED_PUT = 1;
export const PACKED_UPDATE = 2;
export const PACKED_DELETE = 3;
const ACTIONS: readonly (RecordAction | undefined)[] = [undefined, 'PUT_ROW', 'UPDATE_ROW', 'DELETE_ROW'];

/** Records `from` to `to` (exclusive) of one response: record `i` is `buf[starts[i], ends[i])`. */
export interface PackedSegment {
  readonly buf: Uint8Array;
  /** where each record's PlainBuffer (header included) starts and ends in `buf` */
  readonly starts: Int32Array;
  readonly ends: Int32Array;
  /** PACKED_PUT, PACKED_UPDATE or PACKED_DELETE per record */
  readonly actions: Uint8Array;
  readonly from: number;
  readonly to: number;
}

/** A run of packed records, possibly over several responses. */
export interface PackedRecords {
  readonly segments: readonly PackedSegment[];
  readonly length: number;
}

const PACKED = Symbol('otsflow.packedRecords');

/** The packed form behind `records`, when it is a lazy array of packed records. */
export function packedRecords(records: readonly unknown[]): PackedRecords | undefined {
  return (records as { readonly [PACKED]?: PackedRecords })[PACKED];
}

/** The ChangeRecord of record `index` of a segment (built now; the packing guarantees it decodes). */
export function packedRecordAt(segment: PackedSegment, index: number): ChangeRecord {
  const record = decodeChangeRecordFastAt(segment.buf, segment.starts[index] as number, segment.ends[index] as number, ACTIONS[segment.actions[index] as number] as RecordAction);
  if (record === undefined) throw new Error(`packed record ${index} does not decode: only records scanChangeRecordFastAt accepts may be packed`);
  return record;
}

const INDEX = /^(?:0|[1-9][0-9]*)$/;

/**
 * The records of `packed` as a read-only array that builds each ChangeRecord on first access.
 * `length` and the packed form cost nothing; anything that enumerates the array (keys, iteration,
 * array methods) builds the records it reads.
 */
export function lazyChangeRecords(packed: PackedRecords): readonly ChangeRecord[] {
  const n = packed.length;
  // the target grows to n slots at the first record built: a batch nobody enumerates allocates none
  const target: ChangeRecord[] = [];
  const sized = (): ChangeRecord[] => {
    if (target.length !== n) target.length = n;
    return target;
  };
  let built = 0;
  const build = (i: number): ChangeRecord => {
    sized();
    let record = target[i];
    if (record !== undefined) return record;
    let k = i;
    for (const segment of packed.segments) {
      const size = segment.to - segment.from;
      if (k < size) {
        record = packedRecordAt(segment, segment.from + k);
        break;
      }
      k -= size;
    }
    target[i] = record as ChangeRecord;
    built++;
    return record as ChangeRecord;
  };
  const buildAll = (): void => {
    sized();
    if (built === n) return;
    let i = 0;
    for (const segment of packed.segments) {
      for (let j = segment.from; j < segment.to; j++, i++) {
        if (target[i] === undefined) {
          target[i] = packedRecordAt(segment, j);
          built++;
        }
      }
    }
  };
  const indexOf = (key: string | symbol): number => {
    if (typeof key !== 'string' || !INDEX.test(key)) return -1;
    const i = Number(key);
    return i < n ? i : -1;
  };
  return new Proxy(target, {
    get(array, key, receiver) {
      if (key === PACKED) return packed;
      if (key === 'length') return n;
      const i = indexOf(key);
      return i >= 0 ? build(i) : Reflect.get(array, key, receiver);
    },
    has(array, key) {
      return key === PACKED || indexOf(key) >= 0 || Reflect.has(array, key);
    },
    getOwnPropertyDescriptor(array, key) {
      const i = indexOf(key);
      if (i >= 0) build(i);
      else if (key === 'length') sized();
      return Reflect.getOwnPropertyDescriptor(array, key);
    },
    ownKeys(array) {
      buildAll();
      return Reflect.ownKeys(array);
    },
    set(array, key, value) {
      buildAll();
      return Reflect.set(array, key, value);
    },
    defineProperty(array, key, descriptor) {
      buildAll();
      return Reflect.defineProperty(array, key, descriptor);
    },
    deleteProperty(array, key) {
      buildAll();
      return Reflect.deleteProperty(array, key);
    },
  });
}

/** Records `[from, to)` of `packed`, packed. */
export function slicePacked(packed: PackedRecords, from: number, to: number): PackedRecords {
  const segments: PackedSegment[] = [];
  let offset = 0;
  for (const segment of packed.segments) {
    const size = segment.to - segment.from;
    const a = Math.max(from - offset, 0);
    const b = Math.min(to - offset, size);
    if (a < b) segments.push(a === 0 && b === size ? segment : { ...segment, from: segment.from + a, to: segment.from + b });
    offset += size;
  }
  return { segments, length: Math.max(0, Math.min(to, packed.length) - Math.max(from, 0)) };
}

/**
 * `records.slice(from, to)`, packed when `records` is: the records are not built. Other arrays are
 * sliced as usual.
 */
export function sliceRecords<R>(records: readonly R[], from: number, to: number): readonly R[] {
  const packed = packedRecords(records);
  return packed === undefined ? records.slice(from, to) : (lazyChangeRecords(slicePacked(packed, from, Math.min(to, packed.length))) as unknown as readonly R[]);
}

/** The parts one after the other: packed when every part is, else a plain array. */
export function concatRecords<R>(parts: readonly (readonly R[])[]): readonly R[] {
  if (parts.length === 1) return parts[0] as readonly R[];
  if (parts.length === 0) return [];
  const segments: PackedSegment[] = [];
  let length = 0;
  for (const part of parts) {
    const packed = packedRecords(part);
    if (packed === undefined) return ([] as R[]).concat(...parts);
    segments.push(...packed.segments);
    length += packed.length;
  }
  return lazyChangeRecords({ segments, length }) as unknown as readonly R[];
}
