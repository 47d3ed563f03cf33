/**
 * PlainBuffer encoder (tunnel-protocol.md §6.3–6.4, byte-identical to the vectors of §6.7).
 *
 * Rows are written into a reusable scratch buffer that grows on demand, then copied out once,
 * so no size pre-pass over strings is needed. Encoding is synchronous and calls no user code,
 * which makes the shared scratch safe.
 *
 * Throws only for programmer errors: values the row model allows in TypeScript but the wire
 * cannot carry (a sentinel outside a primary key, a negative or fractional timestamp, an
 * integer outside int64, a string with lone surrogates, …).
 */
import { Buffer } from 'node:buffer';
import type { Cell, ColumnValue, PrimaryKeyCell, PrimaryKeyValue, Row, SequenceInfo } from '../types.js';
import {
  CELL_DELETE_ALL_VERSION,
  CELL_DELETE_ONE_VERSION,
  CELL_INCREMENT,
  HEADER,
  TAG_CELL,
  TAG_CELL_CHECKSUM,
  TAG_CELL_NAME,
  TAG_CELL_TIMESTAMP,
  TAG_CELL_TYPE,
  TAG_CELL_VALUE,
  TAG_DELETE_ROW_MARKER,
  TAG_EXTENSION,
  TAG_ROW_CHECKSUM,
  TAG_ROW_DATA,
  TAG_ROW_PK,
  TAG_SEQ_INFO,
  TAG_SEQ_INFO_EPOCH,
  TAG_SEQ_INFO_ROW_INDEX,
  TAG_SEQ_INFO_TS,
  VT_AUTO_INCREMENT,
  VT_BLOB,
  VT_BOOLEAN,
  VT_DOUBLE,
  VT_INF_MAX,
  VT_INF_MIN,
  VT_INTEGER,
  VT_STRING,
} from './constants.js';
import { crc8, crc8Byte } from './crc8.js';

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
/** Sequence info payload: epoch (1+4) + timestamp (1+8) + row index (1+4). */
const SEQUENCE_INFO_LENGTH = 19;
/** Extension payload: TAG_SEQ_INFO + u32 length + the sequence info. */
const EXTENSION_LENGTH = 1 + 4 + SEQUENCE_INFO_LENGTH;

const scratchView = new DataView(new ArrayBuffer(8));
const scratchBytes = new Uint8Array(scratchView.buffer);

const SCRATCH_BYTES = 64 * 1024;
let out: Buffer = Buffer.allocUnsafe(SCRATCH_BYTES);
let pos = 0;

/** Makes room for `count` more bytes. */
function reserve(count: number): void {
  if (pos + count <= out.length) return;
  let size = out.length * 2;
  while (size < pos + count) size *= 2;
  const grown = Buffer.allocUnsafe(size);
  out.copy(grown, 0, 0, pos);
  out = grown;
}

function finish(): Uint8Array {
  const result = Buffer.allocUnsafe(pos);
  out.copy(result, 0, 0, pos);
  // One huge row must not pin a huge scratch buffer for the life of the process.
  if (out.length > 16 * SCRATCH_BYTES) out = Buffer.allocUnsafe(SCRATCH_BYTES);
  return result;
}

// ---------------------------------------------------------------------------------------------
// Public entry points

/** Header + one row. */
export function encodeRow(row: Row): Uint8Array {
  pos = 0;
  writeHeader();
  writeRow(row);
  return finish();
}

/**
 * Header + rows, as GetRange `rows` carries them. No rows encode to a zero-length buffer, which
 * is what the service sends and the SDK reads as "no rows" (`decodeRows` reads it back as []).
 */
export function encodeRows(rows: readonly Row[]): Uint8Array {
  if (rows.length === 0) return new Uint8Array(0);
  pos = 0;
  writeHeader();
  for (const row of rows) writeRow(row);
  return finish();
}

/** Header + PK-only row: the key of GetRow/DeleteRow-style requests and `next_start_primary_key`. */
export function encodePrimaryKey(primaryKey: readonly PrimaryKeyCell[]): Uint8Array {
  pos = 0;
  writeHeader();
  writeRow({ primaryKey, cells: [], deleteMarker: false });
  return finish();
}

/** A filter/condition column value: type byte + payload, without the outer length (§3.6). */
export function encodeFilterValue(value: ColumnValue): Uint8Array {
  pos = 0;
  writeValue(value);
  return finish();
}

// ---------------------------------------------------------------------------------------------
// Writers

function writeHeader(): void {
  reserve(4);
  writeU32(HEADER);
}

function writeU32(value: number): void {
  out[pos] = value & 0xff;
  out[pos + 1] = (value >>> 8) & 0xff;
  out[pos + 2] = (value >>> 16) & 0xff;
  out[pos + 3] = (value >>> 24) & 0xff;
  pos += 4;
}

function writeScratch8(): void {
  for (let i = 0; i < 8; i++) out[pos + i] = scratchBytes[i]!;
  pos += 8;
}

function writeRow(row: Row): void {
  reserve(1);
  out[pos++] = TAG_ROW_PK;
  let rowCrc = 0;
  for (const cell of row.primaryKey) rowCrc = crc8Byte(rowCrc, writePrimaryKeyCell(cell));
  if (row.cells.length > 0) {
    reserve(1);
    out[pos++] = TAG_ROW_DATA;
    for (const cell of row.cells) rowCrc = crc8Byte(rowCrc, writeCell(cell));
  }
  reserve(3 + 1 + 4 + EXTENSION_LENGTH);
  if (row.deleteMarker) out[pos++] = TAG_DELETE_ROW_MARKER;
  rowCrc = crc8Byte(rowCrc, row.deleteMarker ? 1 : 0);
  if (row.sequence !== undefined) writeExtension(row.sequence);
  out[pos++] = TAG_ROW_CHECKSUM;
  out[pos++] = rowCrc;
}

function writeExtension(sequence: SequenceInfo): void {
  checkUint32(sequence.epoch, 'sequence epoch');
  checkUint32(sequence.rowIndex, 'sequence row index');
  checkInt64(sequence.timestamp, 'sequence timestamp');
  out[pos++] = TAG_EXTENSION;
  writeU32(EXTENSION_LENGTH);
  out[pos++] = TAG_SEQ_INFO;
  writeU32(SEQUENCE_INFO_LENGTH);
  out[pos++] = TAG_SEQ_INFO_EPOCH;
  writeU32(sequence.epoch);
  out[pos++] = TAG_SEQ_INFO_TS;
  scratchView.setBigInt64(0, sequence.timestamp, true);
  writeScratch8();
  out[pos++] = TAG_SEQ_INFO_ROW_INDEX;
  writeU32(sequence.rowIndex);
}

/** Writes TAG_CELL + name; returns the CRC over the name bytes. */
function writeCellName(name: string): number {
  reserve(6);
  out[pos++] = TAG_CELL;
  out[pos++] = TAG_CELL_NAME;
  const lengthAt = pos;
  pos += 4;
  const start = pos;
  writeText(name);
  const end = pos;
  pos = lengthAt;
  writeU32(end - start);
  pos = end;
  return crc8(0, out, start, end);
}

/** Writes the UTF-8 bytes of `text` at `pos` (room is reserved here). */
function writeText(text: string): void {
  const length = text.length;
  reserve(length);
  const start = pos;
  for (let i = 0; i < length; i++) {
    const code = text.charCodeAt(i);
    if (code > 0x7f) {
      pos = start;
      writeUtf8(text);
      return;
    }
    out[start + i] = code;
  }
  pos = start + length;
}

function writeUtf8(text: string): void {
  if (!(text as string & { isWellFormed(): boolean }).isWellFormed()) throw new TypeError(`PlainBuffer: string with a lone surrogate cannot be encoded as UTF-8: ${JSON.stringify(text)}`);
  reserve(Buffer.byteLength(text, 'utf8'));
  pos += out.write(text, pos, 'utf8');
}

function writeCellChecksum(crc: number): void {
  reserve(2);
  out[pos++] = TAG_CELL_CHECKSUM;
  out[pos++] = crc;
}

function writePrimaryKeyCell(cell: PrimaryKeyCell): number {
  let crc = writeCellName(cell.name);
  crc = writePrimaryKeyValue(cell.value, crc);
  writeCellChecksum(crc);
  return crc;
}

function writePrimaryKeyValue(value: PrimaryKeyValue, crc: number): number {
  if (typeof value === 'object' && !(value instanceof Uint8Array)) {
    const type = value.kind === 'INF_MIN' ? VT_INF_MIN : value.kind === 'INF_MAX' ? VT_INF_MAX : value.kind === 'AUTO_INCREMENT' ? VT_AUTO_INCREMENT : -1;
    if (type < 0) throw new TypeError(`PlainBuffer: unknown primary key sentinel ${JSON.stringify(value)}`);
    reserve(6);
    out[pos++] = TAG_CELL_VALUE;
    writeU32(1);
    out[pos++] = type;
    return crc8Byte(crc, type);
  }
  if (typeof value !== 'bigint' && typeof value !== 'string' && !(value instanceof Uint8Array)) {
    throw new TypeError(`PlainBuffer: a primary key value must be bigint, string, Uint8Array or a sentinel, got ${typeof value}`);
  }
  return writeTaggedValue(value, crc);
}

/** TAG_CELL_VALUE u32(length) value; returns the CRC continued over the value. */
function writeTaggedValue(value: ColumnValue, crc: number): number {
  reserve(5);
  out[pos++] = TAG_CELL_VALUE;
  const lengthAt = pos;
  pos += 4;
  const start = pos;
  writeValue(value);
  const end = pos;
  pos = lengthAt;
  writeU32(end - start);
  pos = end;
  return crc8(crc, out, start, end);
}

/** Type byte + payload. */
function writeValue(value: ColumnValue): void {
  reserve(9);
  switch (typeof value) {
    case 'bigint':
      checkInt64(value, 'INTEGER value');
      out[pos++] = VT_INTEGER;
      scratchView.setBigInt64(0, value, true);
      writeScratch8();
      return;
    case 'number':
      out[pos++] = VT_DOUBLE;
      scratchView.setFloat64(0, value, true);
      writeScratch8();
      return;
    case 'boolean':
      out[pos++] = VT_BOOLEAN;
      out[pos++] = value ? 1 : 0;
      return;
    case 'string': {
      out[pos++] = VT_STRING;
      const lengthAt = pos;
      pos += 4;
      const start = pos;
      writeText(value);
      const end = pos;
      pos = lengthAt;
      writeU32(end - start);
      pos = end;
      return;
    }
    default:
      if (value instanceof Uint8Array) {
        out[pos++] = VT_BLOB;
        writeU32(value.length);
        reserve(value.length);
        out.set(value, pos);
        pos += value.length;
        return;
      }
      throw new TypeError(`PlainBuffer: unsupported column value ${String(value)}`);
  }
}

function writeCell(cell: Cell): number {
  let crc = writeCellName(cell.name);
  let cellType = -1;
  let timestamp: number | undefined;
  switch (cell.op) {
    case 'put':
      crc = writeTaggedValue(cell.value, crc);
      timestamp = cell.timestamp;
      break;
    case 'increment':
      if (typeof cell.value !== 'bigint') throw new TypeError(`PlainBuffer: increment of ${cell.name} needs a bigint value`);
      crc = writeTaggedValue(cell.value, crc);
      cellType = CELL_INCREMENT;
      timestamp = cell.timestamp;
      break;
    case 'deleteOneVersion':
      cellType = CELL_DELETE_ONE_VERSION;
      timestamp = cell.timestamp;
      if (timestamp === undefined) throw new TypeError(`PlainBuffer: deleteOneVersion of ${cell.name} needs a timestamp`);
      break;
    case 'deleteAllVersions':
      cellType = CELL_DELETE_ALL_VERSION;
      break;
    default:
      throw new TypeError(`PlainBuffer: unknown cell op ${JSON.stringify((cell as { op: unknown }).op)}`);
  }
  reserve(2 + 9 + 2);
  // Wire order is type then timestamp; the checksum takes the timestamp first.
  if (cellType >= 0) {
    out[pos++] = TAG_CELL_TYPE;
    out[pos++] = cellType;
  }
  if (timestamp !== undefined) {
    checkTimestamp(timestamp, cell.name);
    out[pos++] = TAG_CELL_TIMESTAMP;
    const start = pos;
    writeU32(timestamp % 0x1_0000_0000);
    writeU32(Math.floor(timestamp / 0x1_0000_0000));
    crc = crc8(crc, out, start, pos);
  }
  if (cellType >= 0) crc = crc8Byte(crc, cellType);
  writeCellChecksum(crc);
  return crc;
}

function checkTimestamp(timestamp: number, name: string): void {
  if (!Number.isSafeInteger(timestamp) || timestamp < 0) {
    throw new RangeError(`PlainBuffer: timestamp of ${name} must be a non-negative safe integer (ms), got ${timestamp}`);
  }
}

function checkInt64(value: bigint, what: string): void {
  if (value < INT64_MIN || value > INT64_MAX) throw new RangeError(`PlainBuffer: ${what} ${value} is outside int64`);
}

function checkUint32(value: number, what: string): void {
  if (!Number.isInteger(value) || value < 0 || value > 0xffff_ffff) {
    throw new RangeError(`PlainBuffer: ${what} must be an integer in [0, 2^32), got ${value}`);
  }
}
