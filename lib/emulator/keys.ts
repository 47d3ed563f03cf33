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
import { copyBytes, int64Of, isAscii, readText } from '../wire/bytes.js';

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

/**
 * Decodes the columns of a storage key back to primary-key cells (strings as UTF-8). Every
 * scanned row needs one, so: loops rather than closures, no DataView per key, no copy of an
 * unescaped column, and short ASCII strings without a TextDecoder call.
 */
export const decodeStorageKey = (schema: readonly PrimaryKeyColumnSchema[], key: Uint8Array): PrimaryKeyCell[] => {
  const cells: PrimaryKeyCell[] = new Array(schema.length);
  let offset = 4;
  for (let i = 0; i < schema.length; i++) {
    const column = schema[i]!;
    let value: bigint | string | Uint8Array;
    if (column.type === 'INTEGER') {
      // big-endian value + 2^63: flip the sign bit back
      const high = ((key[offset]! ^ 0x80) << 24) | (key[offset + 1]! << 16) | (key[offset + 2]! << 8) | key[offset + 3]!;
      const low = (key[offset + 4]! << 24) | (key[offset + 5]! << 16) | (key[offset + 6]! << 8) | key[offset + 7]!;
      value = int64Of(low, high);
      offset += 8;
    } else {
      let start = offset;
      let end: number;
      let raw: Uint8Array | undefined;
      if (i === schema.length - 1) {
        end = key.length;
        offset = end;
      } else {
        // up to the terminator 00 01; an escaped zero (00 FF) means the bytes need unescaping
        let escaped = false;
        for (;;) {
          const b = key[offset++]!;
          if (b !== 0) continue;
          if (key[offset++] === 1) break;
          escaped = true;
        }
        end = offset - 2;
        if (escaped) {
          raw = unescapeColumn(key, start, end);
          start = 0;
          end = raw.length;
        }
      }
      const bytes = raw ?? key;
      value =
        column.type === 'STRING'
          ? (readText(bytes, start, end, isAscii(bytes, start, end)) ?? textDecoder.decode(bytes.subarray(start, end)))
          : copyBytes(bytes, start, end);
    }
    cells[i] = { name: column.name, value };
  }
  return cells;
};

/** `key[start, end)` with every 00 FF turned back into 00. */
const unescapeColumn = (key: Uint8Array, start: number, end: number): Uint8Array => {
  const out: number[] = [];
  for (let p = start; p < end; p++) {
    const b = key[p]!;
    out.push(b);
    if (b === 0) p++;
  }
  return Uint8Array.from(out);
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
