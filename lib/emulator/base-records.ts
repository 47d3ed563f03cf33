/**
 * Base-data tunnel records straight from storage: a storage key (keys.ts) and a stored row
 * (stored-row.ts) become the PlainBuffer row that `encodeRow` would write for what
 * `TableEngine.scan` returns — the key, then the newest visible version of each column as a put
 * with its timestamp — without building the key cells, stored columns, put cells and row
 * objects in between. Base-data ReadRecords encodes one per record, and those objects (and the
 * garbage they leave) were most of its cost.
 *
 * The two share their value encodings: PlainBuffer type codes are the stored ones, INTEGER and
 * DOUBLE are eight little-endian bytes in both, and names and strings are the same UTF-8.
 * spec/emulator/base-records.spec.ts checks the bytes against encodeRow(scan(...)).
 */
import {
  HEADER,
  TAG_CELL,
  TAG_CELL_CHECKSUM,
  TAG_CELL_NAME,
  TAG_CELL_TIMESTAMP,
  TAG_CELL_VALUE,
  TAG_ROW_CHECKSUM,
  TAG_ROW_DATA,
  TAG_ROW_PK,
  VT_BLOB,
  VT_INTEGER,
  VT_STRING,
} from '../wire/plainbuffer/constants.js';
import { CRC8_SLICES, crc8, crc8Of8 } from '../wire/plainbuffer/crc8.js';
import { float64Of, u32 } from '../wire/bytes.js';
import type { PrimaryKeyColumnSchema } from './table-meta.js';

// stored-row.ts value types (equal to the PlainBuffer ones they become)
const T_INTEGER = 0;
const T_DOUBLE = 1;
const T_BOOLEAN = 2;
const T_STRING = 3;
const T_BINARY = 7;
const STORED_FORMAT = 1;

const textEncoder = new TextEncoder();
/** one ReadRecords batch (1,000 OrderSource rows) fits in one or two chunks */
const CHUNK_BYTES = 128 * 1024;

/** Appends PlainBuffer rows to one growing buffer; each row is handed out as a view of it. */
export class BaseRecordWriter {
  private buf = new Uint8Array(CHUNK_BYTES);
  private pos = 0;
  private readonly keyNames: Uint8Array[];
  private readonly keyNamesBytes: number;

  constructor(private readonly schema: readonly PrimaryKeyColumnSchema[]) {
    this.keyNames = schema.map((column) => textEncoder.encode(column.name));
    this.keyNamesBytes = this.keyNames.reduce((n, name) => n + name.length, 0);
  }

  /**
   * The record of one stored row, or undefined when the row has columns but none visible at
   * `horizon` (ms; versions older are expired), exactly when `readRow` would return nothing.
   * The view stays valid: the writer never writes over bytes it handed out.
   */
  record(key: Uint8Array, stored: Uint8Array, horizon: number): Uint8Array | undefined {
    // At most: header, PK tag, each key cell (name, value ≤ the key bytes, 18 bytes of framing),
    // data tag, each data cell, row checksum. A stored column takes ≥ 12 bytes and becomes its
    // name and payload plus 27 bytes of framing, so ≤ 3.25 times its stored size.
    this.reserve(5 + key.length + this.keyNamesBytes + 18 * this.schema.length + 1 + 4 * stored.length + 2);
    const start = this.pos;
    const buf = this.buf;
    let p = start;
    buf[p] = HEADER;
    buf[p + 1] = 0;
    buf[p + 2] = 0;
    buf[p + 3] = 0;
    buf[p + 4] = TAG_ROW_PK;
    p += 5;
    const t = CRC8_SLICES;
    let rowCrc = 0;

    // ---- key cells, in schema order, from the order-preserving key encoding
    let k = 4;
    const schema = this.schema;
    for (let i = 0; i < schema.length; i++) {
      p = this.cellName(p, this.keyNames[i]!);
      const nameCrc = crc8(0, buf, p - this.keyNames[i]!.length, p);
      buf[p++] = TAG_CELL_VALUE;
      const lengthAt = p;
      p += 4;
      const typeAt = p;
      if (schema[i]!.type === 'INTEGER') {
        // big-endian value + 2^63 → little-endian int64
        buf[p] = VT_INTEGER;
        for (let b = 0; b < 8; b++) buf[p + 1 + b] = key[k + 7 - b]!;
        buf[p + 8] = buf[p + 8]! ^ 0x80;
        p += 9;
        k += 8;
      } else {
        buf[p] = schema[i]!.type === 'STRING' ? VT_STRING : VT_BLOB;
        const dataAt = p + 5;
        let q = dataAt;
        if (i === schema.length - 1) {
          for (; k < key.length; k++) buf[q++] = key[k]!;
        } else {
          // up to the terminator 00 01, 00 FF being an escaped 00
          for (;;) {
            const b = key[k++]!;
            if (b === 0) {
              if (key[k++] === 1) break;
            }
            buf[q++] = b;
          }
        }
        writeU32(buf, p + 1, q - dataAt);
        p = q;
      }
      writeU32(buf, lengthAt, p - typeAt);
      const crc = crc8(nameCrc, buf, typeAt, p);
      buf[p] = TAG_CELL_CHECKSUM;
      buf[p + 1] = crc;
      p += 2;
      rowCrc = t[rowCrc ^ crc]!;
    }

    // ---- data cells: the newest version of each column, if within the TTL
    let s = 0;
    if (stored[s++] !== STORED_FORMAT) throw new Error(`stored row: unknown format ${String(stored[0])}`);
    const columnCount = varintAt(stored, s);
    s = varintEnd;
    let cells = 0;
    for (let c = 0; c < columnCount; c++) {
      const nameLength = varintAt(stored, s);
      s = varintEnd;
      const nameStart = s;
      s += nameLength;
      const versionCount = varintAt(stored, s);
      s = varintEnd;
      for (let v = 0; v < versionCount; v++) {
        const timestamp = float64At(stored, s);
        const type = stored[s + 8]!;
        const payloadAt = s + 9;
        let payloadEnd: number;
        let dataLength = 0;
        let dataAt = payloadAt;
        switch (type) {
          case T_INTEGER:
          case T_DOUBLE:
            payloadEnd = payloadAt + 8;
            break;
          case T_BOOLEAN:
            payloadEnd = payloadAt + 1;
            break;
          case T_STRING:
          case T_BINARY:
            dataLength = varintAt(stored, payloadAt);
            dataAt = varintEnd;
            payloadEnd = dataAt + dataLength;
            break;
          default:
            throw new Error(`stored row: unknown value type ${String(type)}`);
        }
        // newest first: only the first version can be the newest visible one
        if (v === 0 && timestamp >= horizon) {
          if (cells++ === 0) buf[p++] = TAG_ROW_DATA;
          buf[p] = TAG_CELL;
          buf[p + 1] = TAG_CELL_NAME;
          writeU32(buf, p + 2, nameLength);
          p += 6;
          const nameAt = p;
          for (let i = 0; i < nameLength; i++) buf[p + i] = stored[nameStart + i]!;
          p += nameLength;
          let crc = crc8(0, buf, nameAt, p);
          buf[p++] = TAG_CELL_VALUE;
          const lengthAt = p;
          p += 4;
          const typeAt = p;
          buf[p++] = type;
          if (type === T_STRING || type === T_BINARY) {
            writeU32(buf, p, dataLength);
            p += 4;
          }
          for (let i = dataAt; i < payloadEnd; i++) buf[p++] = stored[i]!;
          writeU32(buf, lengthAt, p - typeAt);
          crc = crc8(crc, buf, typeAt, p);
          buf[p++] = TAG_CELL_TIMESTAMP;
          writeU32(buf, p, timestamp % 0x1_0000_0000);
          writeU32(buf, p + 4, Math.floor(timestamp / 0x1_0000_0000));
          crc = crc8Of8(crc, buf, p);
          p += 8;
          buf[p] = TAG_CELL_CHECKSUM;
          buf[p + 1] = crc;
          p += 2;
          rowCrc = t[rowCrc ^ crc]!;
        }
        s = payloadEnd;
      }
    }
    // every column expired: no row (and what was written here is written over)
    if (columnCount > 0 && cells === 0) return undefined;
    rowCrc = t[rowCrc]!; // no delete marker: the row checksum takes a 0 byte
    buf[p] = TAG_ROW_CHECKSUM;
    buf[p + 1] = rowCrc;
    p += 2;
    this.pos = p;
    return buf.subarray(start, p);
  }

  /** TAG_CELL TAG_CELL_NAME u32 name at `p`; returns the position after it. */
  private cellName(p: number, name: Uint8Array): number {
    const buf = this.buf;
    buf[p] = TAG_CELL;
    buf[p + 1] = TAG_CELL_NAME;
    writeU32(buf, p + 2, name.length);
    p += 6;
    for (let i = 0; i < name.length; i++) buf[p + i] = name[i]!;
    return p + name.length;
  }

  /** Room for `count` more bytes; a new buffer leaves the views already handed out intact. */
  private reserve(count: number): void {
    if (this.pos + count <= this.buf.length) return;
    this.buf = new Uint8Array(Math.max(CHUNK_BYTES, count * 2));
    this.pos = 0;
  }
}

function writeU32(buf: Uint8Array, p: number, value: number): void {
  buf[p] = value & 0xff;
  buf[p + 1] = (value >>> 8) & 0xff;
  buf[p + 2] = (value >>> 16) & 0xff;
  buf[p + 3] = (value >>> 24) & 0xff;
}

/** Where the last varintAt stopped. */
let varintEnd = 0;

function varintAt(bytes: Uint8Array, p: number): number {
  let result = 0;
  for (let shift = 0; ; shift += 7) {
    const b = bytes[p++]!;
    result += (b & 0x7f) * 2 ** shift;
    if (b < 0x80) break;
  }
  varintEnd = p;
  return result;
}

function float64At(bytes: Uint8Array, p: number): number {
  return float64Of(u32(bytes, p), u32(bytes, p + 4));
}
