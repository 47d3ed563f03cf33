/**
 * How a row lives in storage: every attribute column with all its versions. The key holds the
 * primary key, so the value holds only attributes.
 *
 *   value   = u8(FORMAT) varint(columns) column*
 *   column  = varint(nameBytes) name varint(versions) version*     versions newest first
 *   version = f64le(timestamp ms) u8(type) payload
 *   payload = INTEGER i64le | DOUBLE f64le | BOOLEAN u8 | STRING/BINARY varint(n) bytes
 */
import { copyBytes, float64Of, int64Of, isAscii, readText, u32 } from '../wire/bytes.js';
import type { ColumnValue } from '../wire/types.js';

export interface StoredVersion {
  readonly timestamp: number;
  readonly value: ColumnValue;
}

export interface StoredColumn {
  readonly name: string;
  /** newest first, timestamps distinct */
  readonly versions: readonly StoredVersion[];
}

/** Columns sorted by name. A row with no columns is a PK-only row. */
export interface StoredRow {
  readonly columns: readonly StoredColumn[];
}

const FORMAT = 1;
const T_INTEGER = 0;
const T_DOUBLE = 1;
const T_BOOLEAN = 2;
const T_STRING = 3;
const T_BINARY = 7;

const textEncoder = new TextEncoder();
const textDecoder = new TextDecoder();

/** Column names are validated to ASCII, where UTF-16 order equals the service's byte order. */
export const compareNames = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

class Writer {
  private buf: Uint8Array;
  private view: DataView;
  length = 0;

  constructor(capacity: number) {
    this.buf = new Uint8Array(capacity);
    this.view = new DataView(this.buf.buffer);
  }

  private ensure(extra: number): void {
    if (this.length + extra <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.length + extra) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.length));
    this.buf = next;
    this.view = new DataView(next.buffer);
  }

  u8(b: number): void {
    this.ensure(1);
    this.buf[this.length++] = b;
  }

  varint(n: number): void {
    this.ensure(5);
    while (n >= 0x80) {
      this.buf[this.length++] = (n & 0x7f) | 0x80;
      n >>>= 7;
    }
    this.buf[this.length++] = n;
  }

  f64(n: number): void {
    this.ensure(8);
    this.view.setFloat64(this.length, n, true);
    this.length += 8;
  }

  i64(n: bigint): void {
    this.ensure(8);
    this.view.setBigInt64(this.length, n, true);
    this.length += 8;
  }

  bytes(b: Uint8Array): void {
    this.varint(b.length);
    this.ensure(b.length);
    this.buf.set(b, this.length);
    this.length += b.length;
  }

  result(): Uint8Array {
    return this.buf.subarray(0, this.length);
  }
}

export const encodeStoredRow = (row: StoredRow): Uint8Array => {
  const writer = new Writer(256);
  writer.u8(FORMAT);
  writer.varint(row.columns.length);
  for (const column of row.columns) {
    writer.bytes(textEncoder.encode(column.name));
    writer.varint(column.versions.length);
    for (const version of column.versions) {
      writer.f64(version.timestamp);
      const value = version.value;
      switch (typeof value) {
        case 'bigint':
          writer.u8(T_INTEGER);
          writer.i64(value);
          break;
        case 'number':
          writer.u8(T_DOUBLE);
          writer.f64(value);
          break;
        case 'boolean':
          writer.u8(T_BOOLEAN);
          writer.u8(value ? 1 : 0);
          break;
        case 'string':
          writer.u8(T_STRING);
          writer.bytes(textEncoder.encode(value));
          break;
        default:
          writer.u8(T_BINARY);
          writer.bytes(value);
      }
    }
  }
  return writer.result();
};

/**
 * Reads a stored value front to back. Every scan decodes one per row, so it avoids what is slow
 * per call on V8: closures (and under tsx, naming each one), a DataView per buffer, and a
 * native TextDecoder call for short ASCII names and strings.
 */
class StoredRowReader {
  offset = 0;

  constructor(private readonly bytes: Uint8Array) {}

  byte(): number {
    return this.bytes[this.offset++]!;
  }

  varint(): number {
    const bytes = this.bytes;
    let result = 0;
    let shift = 0;
    for (;;) {
      const b = bytes[this.offset++]!;
      result += (b & 0x7f) * 2 ** shift;
      if (b < 0x80) return result;
      shift += 7;
    }
  }

  /** little-endian, like int64 */
  float64(): number {
    const p = this.offset;
    this.offset = p + 8;
    return float64Of(u32(this.bytes, p), u32(this.bytes, p + 4));
  }

  int64(): bigint {
    const p = this.offset;
    this.offset = p + 8;
    return int64Of(u32(this.bytes, p), u32(this.bytes, p + 4));
  }

  text(): string {
    const n = this.varint();
    const start = this.offset;
    this.offset = start + n;
    // encodeStoredRow writes well-formed UTF-8; anything else decodes with replacement characters
    return readText(this.bytes, start, start + n, isAscii(this.bytes, start, start + n)) ?? textDecoder.decode(this.bytes.subarray(start, start + n));
  }

  binary(): Uint8Array {
    const n = this.varint();
    const start = this.offset;
    this.offset = start + n;
    return copyBytes(this.bytes, start, start + n);
  }
}

/** Decodes a stored value. Storage is written only by this module, so corruption is a programmer error. */
export const decodeStoredRow = (bytes: Uint8Array): StoredRow => {
  const reader = new StoredRowReader(bytes);
  const format = reader.byte();
  if (format !== FORMAT) throw new Error(`stored row: unknown format ${String(format)}`);
  const columnCount = reader.varint();
  const columns: StoredColumn[] = new Array(columnCount);
  for (let c = 0; c < columnCount; c++) {
    const name = reader.text();
    const versionCount = reader.varint();
    const versions: StoredVersion[] = new Array(versionCount);
    for (let v = 0; v < versionCount; v++) {
      const timestamp = reader.float64();
      const type = reader.byte();
      let value: ColumnValue;
      switch (type) {
        case T_INTEGER:
          value = reader.int64();
          break;
        case T_DOUBLE:
          value = reader.float64();
          break;
        case T_BOOLEAN:
          value = reader.byte() === 1;
          break;
        case T_STRING:
          value = reader.text();
          break;
        case T_BINARY:
          value = reader.binary();
          break;
        default:
          throw new Error(`stored row: unknown value type ${String(type)}`);
      }
      versions[v] = { timestamp, value };
    }
    columns[c] = { name, versions };
  }
  return { columns };
};

/** Approximate data size as the service counts it for limits and capacity units. */
export const valueSize = (value: ColumnValue): number => {
  switch (typeof value) {
    case 'bigint':
    case 'number':
      return 8;
    case 'boolean':
      return 1;
    case 'string':
      return Buffer.byteLength(value);
    default:
      return value.length;
  }
};
