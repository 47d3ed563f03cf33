/**
 * Order-preserving storage keys: comparing two encoded keys byte-wise (as LMDB does) gives
 * the service's primary-key order.
 *
 *   key     = u32be(tableId) column*
 *   INTEGER = 8 bytes big-endian of (value + 2^63)          signed order as unsigned bytes
 *   STRING / BINARY, not the last column = bytes with 00 → 00 FF, then terminator 00 01
 *   STRING / BINARY, last column          = raw bytes        nothing follows, so no terminator
 *
 * The terminator sorts below every escaped continuation, so a value sorts before its
 * extensions ("a" < "a\0" < "ab"). Keys are limited by LMDB (4026 bytes with 8 KiB pages);
 * see `MAX_STORAGE_KEY_BYTES`.
 *
 * Range bounds are "cut points" between keys, expressed as a byte string X meaning
 * "just before X": forward ranges read keys in [lower, upper), backward ranges the same set
 * in descending order.
 */
import type { PrimaryKeyCell, PrimaryKeySentinel, PrimaryKeyValue } from '../wire/types.js';
import type { PrimaryKeyColumnSchema, PrimaryKeyType } from './table-meta.js';

export const MAX_STORAGE_KEY_BYTES = 4026;

const INT64_OFFSET = 1n << 63n;
const UINT64_MASK = (1n << 64n) - 1n;
const textEncoder = new TextEncoder();
const textDecoder = new TextDecoder('utf-8', { fatal: false });

export const tablePrefix = (tableId: number): Uint8Array => {
  const prefix = new Uint8Array(4);
  new DataView(prefix.buffer).setUint32(0, tableId, false);
  return prefix;
};

/** Collects bytes without per-column allocations. */
class KeyWriter {
  private buffer = new Uint8Array(64);
  private length = 0;

  private ensure(extra: number): void {
    if (this.length + extra <= this.buffer.length) return;
    let size = this.buffer.length * 2;
    while (size < this.length + extra) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buffer.subarray(0, this.length));
    this.buffer = next;
  }

  bytes(bytes: Uint8Array): void {
    this.ensure(bytes.length);
    this.buffer.set(bytes, this.length);
    this.length += bytes.length;
  }

  byte(b: number): void {
    this.ensure(1);
    this.buffer[this.length++] = b;
  }

  int64(value: bigint): void {
    this.ensure(8);
    new DataView(this.buffer.buffer).setBigUint64(this.length, (value + INT64_OFFSET) & UINT64_MASK, false);
    this.length += 8;
  }

  escaped(bytes: Uint8Array): void {
    this.ensure(bytes.length * 2 + 2);
    for (const b of bytes) {
      this.buffer[this.length++] = b;
      if (b === 0) this.buffer[this.length++] = 0xff;
    }
    this.buffer[this.length++] = 0;
    this.buffer[this.length++] = 1;
  }

  result(): Uint8Array {
    return this.buffer.slice(0, this.length);
  }
}

const valueBytes = (value: string | Uint8Array): Uint8Array =>
  typeof value === 'string' ? textEncoder.encode(value) : value;

const writeColumn = (writer: KeyWriter, type: PrimaryKeyType, value: bigint | string | Uint8Array, last: boolean): void => {
  if (type === 'INTEGER') writer.int64(value as bigint);
  else if (last) writer.bytes(valueBytes(value as string | Uint8Array));
  else writer.escaped(valueBytes(value as string | Uint8Array));
};

/**
 * Encodes a concrete key. The caller has already checked it against the schema
 * (names, types, no sentinels).
 */
export const encodeStorageKey = (
  tableId: number,
  schema: readonly PrimaryKeyColumnSchema[],
  primaryKey: readonly PrimaryKeyCell[],
): Uint8Array => {
  const writer = new KeyWriter();
  writer.bytes(tablePrefix(tableId));
  schema.forEach((column, i) => {
    writeColumn(writer, column.type, primaryKey[i]!.value as bigint | string | Uint8Array, i === schema.length - 1);
  });
  return writer.result();
};

/** Decodes the columns of a storage key back to primary-key cells (strings as UTF-8). */
export const decodeStorageKey = (schema: readonly PrimaryKeyColumnSchema[], key: Uint8Array): PrimaryKeyCell[] => {
  const view = new DataView(key.buffer, key.byteOffset, key.byteLength);
  let offset = 4;
  return schema.map((column, i) => {
    let value: bigint | string | Uint8Array;
    if (column.type === 'INTEGER') {
      value = BigInt.asIntN(64, view.getBigUint64(offset, false) - INT64_OFFSET);
      offset += 8;
    } else {
      let raw: Uint8Array;
      if (i === schema.length - 1) {
        raw = key.subarray(offset);
        offset = key.length;
      } else {
        const out: number[] = [];
        for (;;) {
          const b = key[offset++]!;
          if (b !== 0) {
            out.push(b);
            continue;
          }
          const next = key[offset++]!;
          if (next === 1) break;
          out.push(0);
        }
        raw = Uint8Array.from(out);
      }
      value = column.type === 'STRING' ? textDecoder.decode(raw) : Uint8Array.from(raw);
    }
    return { name: column.name, value };
  });
};

/** The smallest byte string greater than every string that starts with `prefix`. */
export const prefixSuccessor = (prefix: Uint8Array): Uint8Array => {
  let end = prefix.length;
  while (end > 0 && prefix[end - 1] === 0xff) end--;
  if (end === 0) throw new Error('prefixSuccessor: prefix of 0xFF bytes has no successor');
  const next = prefix.slice(0, end);
  next[end - 1]! += 1;
  return next;
};

const isSentinel = (value: PrimaryKeyValue): value is PrimaryKeySentinel =>
  typeof value === 'object' && !(value instanceof Uint8Array);

/**
 * The cut point of a GetRange bound. `after` = the bound's own key is on the lower side of the cut
 * (backward starts and backward ends, which are inclusive/exclusive the other way round).
 * INF_MIN/INF_MAX make the remaining columns irrelevant.
 */
export const encodeRangeCut = (
  tableId: number,
  schema: readonly PrimaryKeyColumnSchema[],
  bound: readonly PrimaryKeyCell[],
  after: boolean,
): Uint8Array => {
  const writer = new KeyWriter();
  writer.bytes(tablePrefix(tableId));
  for (let i = 0; i < schema.length; i++) {
    const value = bound[i]!.value;
    if (isSentinel(value)) {
      const prefix = writer.result();
      return value.kind === 'INF_MIN' ? prefix : prefixSuccessor(prefix);
    }
    writeColumn(writer, schema[i]!.type, value, i === schema.length - 1);
  }
  if (after) writer.byte(0);
  return writer.result();
};

export const compareBytes = (a: Uint8Array, b: Uint8Array): number => Buffer.compare(a, b);
