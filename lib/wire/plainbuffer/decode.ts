/**
 * PlainBuffer decoder (tunnel-protocol.md §6, tablestore-wire.md §3).
 *
 * One forward pass with an offset cursor over the caller's bytes. Each cell is first parsed into
 * byte ranges, its CRC verified, then its semantics checked, and only then are strings, bigints
 * and binaries materialised — so corruption is reported as a CRC error rather than as whatever
 * nonsense the corrupted bytes happen to spell.
 *
 * Failures are raised internally as `PlainBufferError` and turned into `Left` at the public
 * boundary; any other exception is a bug and is deliberately not swallowed.
 */
import { left, right } from 'fp-ts/lib/Either.js';
import type { Either } from 'fp-ts/lib/Either.js';
import { Buffer, isUtf8 } from 'node:buffer';
import { AUTO_INCREMENT, INF_MAX, INF_MIN } from '../types.js';
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
  describeTag,
  hex2,
} from './constants.js';
import { crc8, crc8Byte } from './crc8.js';
import { PlainBufferError } from './errors.js';

const scratchView = new DataView(new ArrayBuffer(8));
const scratchBytes = new Uint8Array(scratchView.buffer);
// Validity is checked with isUtf8 first; ignoreBOM keeps a leading U+FEFF as data.
const utf8Decoder = new TextDecoder('utf-8', { ignoreBOM: true });

/**
 * ASCII runs (names, most keys) are sliced natively as latin1, the fastest way to make a short
 * string here (see spec/bench/plainbuffer.ts); it accepts any Uint8Array as receiver.
 */
const latin1Slice = (Buffer.prototype as unknown as { latin1Slice(this: Uint8Array, start: number, end: number): string }).latin1Slice;

/** Where the cursor is; `end` is the buffer length. */
interface Cursor {
  readonly buf: Uint8Array;
  readonly end: number;
  pos: number;
}

// ---------------------------------------------------------------------------------------------
// Public entry points

/** Header + one or more rows (GetRange `rows`). A zero-length buffer is "no rows". */
export function decodeRows(buf: Uint8Array): Either<PlainBufferError, Row[]> {
  if (buf.length === 0) return right([]);
  try {
    const cursor: Cursor = { buf, end: buf.length, pos: 0 };
    readHeader(cursor);
    const rows: Row[] = [];
    for (;;) {
      rows.push(readRow(cursor, true));
      if (cursor.pos >= cursor.end || buf[cursor.pos] === 0) break;
    }
    expectEndOrPadding(cursor);
    return right(rows);
  } catch (error) {
    return asLeft(error);
  }
}

/** Header + exactly one row with a non-empty primary key (tunnel records, request rows). */
export function decodeRow(buf: Uint8Array): Either<PlainBufferError, Row> {
  try {
    const cursor: Cursor = { buf, end: buf.length, pos: 0 };
    readHeader(cursor);
    const row = readRow(cursor, true);
    expectEndOrPadding(cursor);
    return right(row);
  } catch (error) {
    return asLeft(error);
  }
}

/** Header + one row whose PK section may be empty or absent (a tunnel record's origin_record). */
export function decodeRowWithoutPrimaryKey(buf: Uint8Array): Either<PlainBufferError, Row> {
  try {
    const cursor: Cursor = { buf, end: buf.length, pos: 0 };
    readHeader(cursor);
    const row = readRow(cursor, false);
    expectEndOrPadding(cursor);
    return right(row);
  } catch (error) {
    return asLeft(error);
  }
}

/** A filter/condition column value: type byte + payload, no outer length prefix (§3.6). */
export function decodeFilterValue(bytes: Uint8Array): Either<PlainBufferError, ColumnValue> {
  try {
    const cursor: Cursor = { buf: bytes, end: bytes.length, pos: 0 };
    need(cursor, 0, 1, 'a value type byte');
    const typeAt = 0;
    const type = bytes[0]!;
    let p = 1;
    let payloadEnd: number;
    switch (type) {
      case VT_INTEGER:
      case VT_DOUBLE:
        need(cursor, p, 8, type === VT_INTEGER ? 'an 8-byte integer' : 'an 8-byte double');
        payloadEnd = p + 8;
        break;
      case VT_BOOLEAN:
        need(cursor, p, 1, 'a boolean byte');
        payloadEnd = p + 1;
        break;
      case VT_STRING:
      case VT_BLOB: {
        need(cursor, p, 4, type === VT_STRING ? 'a string length' : 'a binary length');
        const n = u32(bytes, p);
        p += 4;
        need(cursor, p, n, type === VT_STRING ? 'string bytes' : 'binary bytes');
        payloadEnd = p + n;
        break;
      }
      default:
        throw new PlainBufferError('INVALID_VALUE', typeAt, 'a column value type (INTEGER, DOUBLE, BOOLEAN, STRING or BINARY)', hex2(type));
    }
    if (payloadEnd !== bytes.length) {
      throw new PlainBufferError('TRAILING_BYTES', payloadEnd, 'end of the filter value');
    }
    return right(materializeValue(bytes, type, typeAt));
  } catch (error) {
    return asLeft(error);
  }
}

function asLeft(error: unknown): Either<PlainBufferError, never> {
  if (error instanceof PlainBufferError) return left(error);
  throw error;
}

// ---------------------------------------------------------------------------------------------
// Primitives

function u32(buf: Uint8Array, p: number): number {
  return (buf[p]! | (buf[p + 1]! << 8) | (buf[p + 2]! << 16) | (buf[p + 3]! << 24)) >>> 0;
}

/** Throws TRUNCATED unless `count` bytes are available at `p`. */
function need(cursor: Cursor, p: number, count: number, what: string): void {
  if (count > cursor.end - p) {
    const available = Math.max(0, cursor.end - p);
    throw new PlainBufferError('TRUNCATED', p, `${count} more byte${count === 1 ? '' : 's'} for ${what}`, `${available} left`);
  }
}

/** The byte at `p`, or -1 past the end (so tag comparisons simply fail). */
function at(cursor: Cursor, p: number): number {
  return p < cursor.end ? cursor.buf[p]! : -1;
}

function tagError(cursor: Cursor, p: number, expected: string): PlainBufferError {
  const found = at(cursor, p);
  return found < 0
    ? new PlainBufferError('TRUNCATED', p, `1 more byte for ${expected}`, '0 left')
    : new PlainBufferError('UNEXPECTED_TAG', p, expected, describeTag(found));
}

function readHeader(cursor: Cursor): void {
  need(cursor, 0, 4, 'the header 0x00000075');
  if (u32(cursor.buf, 0) !== HEADER) {
    throw new PlainBufferError('BAD_HEADER', 0, 'header 0x00000075 (75 00 00 00)');
  }
  cursor.pos = 4;
}

/** The SDK's encoder sizes buffers generously and leaves zero bytes after the last row. */
function expectEndOrPadding(cursor: Cursor): void {
  const buf = cursor.buf;
  for (let p = cursor.pos; p < cursor.end; p++) {
    if (buf[p] !== 0) {
      throw new PlainBufferError('TRAILING_BYTES', p, 'end of buffer after the row checksum (only zero padding may follow)', hex2(buf[p]!));
    }
  }
}

function readInt64(buf: Uint8Array, p: number): bigint {
  for (let i = 0; i < 8; i++) scratchBytes[i] = buf[p + i]!;
  return scratchView.getBigInt64(0, true);
}

function readFloat64(buf: Uint8Array, p: number): number {
  for (let i = 0; i < 8; i++) scratchBytes[i] = buf[p + i]!;
  return scratchView.getFloat64(0, true);
}

/** UTF-8 text of `buf[start, end)`, or undefined when the bytes are not valid UTF-8. */
function readText(buf: Uint8Array, start: number, end: number): string | undefined {
  let bits = 0;
  for (let i = start; i < end; i++) bits |= buf[i]!;
  if (bits < 0x80) return start === end ? '' : latin1Slice.call(buf, start, end);
  return readUtf8(buf, start, end);
}

/**
 * Column names repeat in every row; remembering the last name seen per name CRC (which readCell
 * computes anyway) turns most name decodes into a short byte comparison and shares the strings.
 */
const nameCacheBytes: (Uint8Array | undefined)[] = new Array<Uint8Array | undefined>(256).fill(undefined);
const nameCacheText: string[] = new Array<string>(256).fill('');
const NAME_CACHE_MAX_BYTES = 64;

function readName(buf: Uint8Array, start: number, end: number, crc: number): string | undefined {
  const length = end - start;
  const cached = nameCacheBytes[crc];
  if (cached !== undefined && cached.length === length) {
    let same = true;
    for (let i = 0; i < length; i++) {
      if (cached[i] !== buf[start + i]) {
        same = false;
        break;
      }
    }
    if (same) return nameCacheText[crc];
  }
  const text = readText(buf, start, end);
  if (text !== undefined && length <= NAME_CACHE_MAX_BYTES) {
    nameCacheBytes[crc] = copyBytes(buf, start, end);
    nameCacheText[crc] = text;
  }
  return text;
}

function readUtf8(buf: Uint8Array, start: number, end: number): string | undefined {
  const bytes = buf.subarray(start, end);
  return isUtf8(bytes) ? utf8Decoder.decode(bytes) : undefined;
}

function copyBytes(buf: Uint8Array, start: number, end: number): Uint8Array {
  const out = new Uint8Array(end - start);
  out.set(buf.subarray(start, end));
  return out;
}

/** Value at `typeAt` (type byte, [u32 length], payload), already bounds-checked. */
function materializeValue(buf: Uint8Array, type: number, typeAt: number): ColumnValue {
  const p = typeAt + 1;
  switch (type) {
    case VT_INTEGER:
      return readInt64(buf, p);
    case VT_DOUBLE:
      return readFloat64(buf, p);
    case VT_BOOLEAN: {
      const b = buf[p]!;
      if (b > 1) throw new PlainBufferError('INVALID_VALUE', p, 'a boolean byte 0x00 or 0x01', hex2(b));
      return b === 1;
    }
    case VT_STRING: {
      const n = u32(buf, p);
      const text = readText(buf, p + 4, p + 4 + n);
      if (text === undefined) throw new PlainBufferError('INVALID_VALUE', p + 4, 'UTF-8 string bytes');
      return text;
    }
    default: {
      const n = u32(buf, p);
      return copyBytes(buf, p + 4, p + 4 + n);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Rows and cells

function readRow(cursor: Cursor, requirePrimaryKey: boolean): Row {
  const buf = cursor.buf;
  let rowCrc = 0;
  const primaryKey: PrimaryKeyCell[] = [];
  const cells: Cell[] = [];

  if (at(cursor, cursor.pos) === TAG_ROW_PK) {
    cursor.pos++;
    while (at(cursor, cursor.pos) === TAG_CELL) rowCrc = readCell(cursor, true, primaryKey, cells, rowCrc);
    if (requirePrimaryKey && primaryKey.length === 0) {
      throw tagError(cursor, cursor.pos, `${describeTag(TAG_CELL)}: a row needs at least one primary key cell`);
    }
  } else if (requirePrimaryKey) {
    throw tagError(cursor, cursor.pos, describeTag(TAG_ROW_PK));
  }

  if (at(cursor, cursor.pos) === TAG_ROW_DATA) {
    cursor.pos++;
    if (at(cursor, cursor.pos) !== TAG_CELL) {
      throw tagError(cursor, cursor.pos, `${describeTag(TAG_CELL)} after ${describeTag(TAG_ROW_DATA)}`);
    }
    while (at(cursor, cursor.pos) === TAG_CELL) rowCrc = readCell(cursor, false, primaryKey, cells, rowCrc);
  }

  let deleteMarker = false;
  if (at(cursor, cursor.pos) === TAG_DELETE_ROW_MARKER) {
    cursor.pos++;
    deleteMarker = true;
  }
  rowCrc = crc8Byte(rowCrc, deleteMarker ? 1 : 0);

  let sequence: SequenceInfo | undefined;
  if (at(cursor, cursor.pos) === TAG_EXTENSION) sequence = readExtension(cursor);

  const p = cursor.pos;
  if (at(cursor, p) !== TAG_ROW_CHECKSUM) throw tagError(cursor, p, expectedAfterCells(cells.length > 0, deleteMarker, sequence !== undefined));
  need(cursor, p + 1, 1, 'the row checksum');
  if (buf[p + 1] !== rowCrc) {
    throw new PlainBufferError('ROW_CRC', p + 1, `row CRC ${hex2(rowCrc)}`, hex2(buf[p + 1]!));
  }
  cursor.pos = p + 2;
  return sequence === undefined
    ? { primaryKey, cells, deleteMarker }
    : { primaryKey, cells, deleteMarker, sequence };
}

function expectedAfterCells(hasData: boolean, hasMarker: boolean, hasExtension: boolean): string {
  const options: number[] = [];
  if (!hasData && !hasMarker && !hasExtension) options.push(TAG_CELL, TAG_ROW_DATA);
  else if (hasData && !hasMarker && !hasExtension) options.push(TAG_CELL);
  if (!hasMarker && !hasExtension) options.push(TAG_DELETE_ROW_MARKER);
  if (!hasExtension) options.push(TAG_EXTENSION);
  options.push(TAG_ROW_CHECKSUM);
  return options.map(describeTag).join(', ');
}

/**
 * One cell at `cursor.pos` (which holds TAG_CELL). Pushes it to `primaryKey` or `cells` and
 * returns the row CRC continued with this cell's CRC.
 */
function readCell(
  cursor: Cursor,
  isPrimaryKey: boolean,
  primaryKey: PrimaryKeyCell[],
  cells: Cell[],
  rowCrc: number,
): number {
  const buf = cursor.buf;
  const cellStart = cursor.pos;
  let p = cellStart + 1;

  if (at(cursor, p) !== TAG_CELL_NAME) throw tagError(cursor, p, describeTag(TAG_CELL_NAME));
  p++;
  need(cursor, p, 4, 'a cell name length');
  const nameLength = u32(buf, p);
  p += 4;
  need(cursor, p, nameLength, 'the cell name');
  const nameStart = p;
  p += nameLength;
  const nameCrc = crc8(0, buf, nameStart, p);
  let crc = nameCrc;

  let tag = at(cursor, p);
  let valueType = -1;
  let valueTypeAt = 0;
  if (tag === TAG_CELL_VALUE) {
    p++;
    need(cursor, p, 4, 'a value length');
    const prefixAt = p;
    const prefix = u32(buf, p);
    p += 4;
    need(cursor, p, 1, 'a value type byte');
    valueTypeAt = p;
    valueType = buf[p]!;
    p++;
    let payloadLength: number;
    let what: string;
    switch (valueType) {
      case VT_INTEGER:
        payloadLength = 8;
        what = 'an 8-byte integer';
        break;
      case VT_DOUBLE:
      case VT_BOOLEAN:
        if (isPrimaryKey) throw invalidPrimaryKeyType(valueTypeAt, valueType);
        payloadLength = valueType === VT_DOUBLE ? 8 : 1;
        what = valueType === VT_DOUBLE ? 'an 8-byte double' : 'a boolean byte';
        break;
      case VT_STRING:
      case VT_BLOB:
        need(cursor, p, 4, valueType === VT_STRING ? 'a string length' : 'a binary length');
        payloadLength = 4 + u32(buf, p);
        what = valueType === VT_STRING ? 'string bytes' : 'binary bytes';
        break;
      case VT_INF_MIN:
      case VT_INF_MAX:
      case VT_AUTO_INCREMENT:
        if (!isPrimaryKey) throw invalidColumnType(valueTypeAt, valueType);
        payloadLength = 0;
        what = '';
        break;
      default:
        throw isPrimaryKey ? invalidPrimaryKeyType(valueTypeAt, valueType) : invalidColumnType(valueTypeAt, valueType);
    }
    // Decoders of other SDKs skip this prefix; checking it catches corruption early.
    if (prefix !== 1 + payloadLength) {
      throw new PlainBufferError('INVALID_VALUE', prefixAt, `value length ${1 + payloadLength} (type byte + payload)`, String(prefix));
    }
    need(cursor, p, payloadLength, what);
    p += payloadLength;
    crc = crc8(crc, buf, valueTypeAt, p);
    tag = at(cursor, p);
  }

  let cellType = -1;
  if (tag === TAG_CELL_TYPE) {
    p++;
    need(cursor, p, 1, 'a cell type byte');
    cellType = buf[p]!;
    p++;
    tag = at(cursor, p);
  }

  let timestampAt = -1;
  if (tag === TAG_CELL_TIMESTAMP) {
    p++;
    need(cursor, p, 8, 'an 8-byte timestamp');
    timestampAt = p;
    p += 8;
    crc = crc8(crc, buf, timestampAt, p);
    tag = at(cursor, p);
  }
  // The checksum covers the timestamp before the cell type, although the wire order is reversed.
  if (cellType >= 0) crc = crc8Byte(crc, cellType);

  if (tag !== TAG_CELL_CHECKSUM) throw tagError(cursor, p, expectedInCell(valueType >= 0, cellType >= 0, timestampAt >= 0));
  p++;
  need(cursor, p, 1, 'the cell checksum');
  if (buf[p] !== crc) throw new PlainBufferError('CELL_CRC', p, `cell CRC ${hex2(crc)}`, hex2(buf[p]!));
  p++;

  // Checksum is fine: now judge what the cell says.
  let timestamp = 0;
  if (timestampAt >= 0) {
    const high = buf[timestampAt + 4]! | (buf[timestampAt + 5]! << 8) | (buf[timestampAt + 6]! << 16) | (buf[timestampAt + 7]! << 24);
    if (high < 0 || high > 0x1fffff) {
      throw new PlainBufferError('INVALID_VALUE', timestampAt, 'a timestamp in [0, 2^53) ms');
    }
    timestamp = high * 0x1_0000_0000 + u32(buf, timestampAt);
  }

  const name = readName(buf, nameStart, nameStart + nameLength, nameCrc);
  if (name === undefined) throw new PlainBufferError('INVALID_VALUE', nameStart, 'a UTF-8 cell name');

  if (isPrimaryKey) {
    if (valueType < 0 || cellType >= 0 || timestampAt >= 0) {
      throw new PlainBufferError('INVALID_CELL', cellStart, 'a primary key cell with a value and neither cell type nor timestamp');
    }
    primaryKey.push({ name, value: materializePrimaryKeyValue(buf, valueType, valueTypeAt) });
  } else {
    cells.push(buildCell(cellStart, name, valueType, valueTypeAt, cellType, timestampAt >= 0, timestamp, buf));
  }
  cursor.pos = p;
  return crc8Byte(rowCrc, crc);
}

function buildCell(
  cellStart: number,
  name: string,
  valueType: number,
  valueTypeAt: number,
  cellType: number,
  hasTimestamp: boolean,
  timestamp: number,
  buf: Uint8Array,
): Cell {
  switch (cellType) {
    case -1: {
      if (valueType < 0) throw new PlainBufferError('INVALID_CELL', cellStart, 'a value in a put cell (no cell type)');
      const value = materializeValue(buf, valueType, valueTypeAt);
      return hasTimestamp ? { op: 'put', name, value, timestamp } : { op: 'put', name, value };
    }
    case CELL_DELETE_ONE_VERSION:
      if (valueType >= 0 || !hasTimestamp) {
        throw new PlainBufferError('INVALID_CELL', cellStart, 'a timestamp and no value in a DELETE_ONE_VERSION (0x03) cell');
      }
      return { op: 'deleteOneVersion', name, timestamp };
    case CELL_DELETE_ALL_VERSION:
      if (valueType >= 0 || hasTimestamp) {
        throw new PlainBufferError('INVALID_CELL', cellStart, 'neither value nor timestamp in a DELETE_ALL_VERSION (0x01) cell');
      }
      return { op: 'deleteAllVersions', name };
    case CELL_INCREMENT: {
      if (valueType !== VT_INTEGER) {
        throw new PlainBufferError('INVALID_CELL', cellStart, 'an INTEGER value in an INCREMENT (0x04) cell');
      }
      const value = readInt64(buf, valueTypeAt + 1);
      return hasTimestamp ? { op: 'increment', name, value, timestamp } : { op: 'increment', name, value };
    }
    default:
      throw new PlainBufferError('INVALID_CELL', cellStart, 'cell type DELETE_ALL_VERSION (0x01), DELETE_ONE_VERSION (0x03) or INCREMENT (0x04)', hex2(cellType));
  }
}

function materializePrimaryKeyValue(buf: Uint8Array, type: number, typeAt: number): PrimaryKeyValue {
  switch (type) {
    case VT_INF_MIN:
      return INF_MIN;
    case VT_INF_MAX:
      return INF_MAX;
    case VT_AUTO_INCREMENT:
      return AUTO_INCREMENT;
    default:
      // INTEGER, STRING or BLOB: the only other types readCell lets through for a key
      return materializeValue(buf, type, typeAt) as bigint | string | Uint8Array;
  }
}

function invalidPrimaryKeyType(at: number, type: number): PlainBufferError {
  return new PlainBufferError('INVALID_VALUE', at, 'a primary key type (INTEGER, STRING, BINARY, INF_MIN, INF_MAX or AUTO_INCREMENT)', hex2(type));
}

function invalidColumnType(at: number, type: number): PlainBufferError {
  return new PlainBufferError('INVALID_VALUE', at, 'a column value type (INTEGER, DOUBLE, BOOLEAN, STRING or BINARY)', hex2(type));
}

function expectedInCell(hasValue: boolean, hasType: boolean, hasTimestamp: boolean): string {
  const options: number[] = [];
  if (!hasValue && !hasType && !hasTimestamp) options.push(TAG_CELL_VALUE);
  if (!hasType && !hasTimestamp) options.push(TAG_CELL_TYPE);
  if (!hasTimestamp) options.push(TAG_CELL_TIMESTAMP);
  options.push(TAG_CELL_CHECKSUM);
  return options.map(describeTag).join(', ');
}

/**
 * The row extension at `cursor.pos` (TAG_EXTENSION). Like the Java SDK, its length fields are not
 * trusted for parsing (only bounds-checked) and unknown tags inside it are skipped by their length.
 */
function readExtension(cursor: Cursor): SequenceInfo | undefined {
  const buf = cursor.buf;
  let p = cursor.pos + 1;
  need(cursor, p, 4, 'an extension length');
  const extensionLength = u32(buf, p);
  p += 4;
  need(cursor, p, extensionLength, 'the extension announced by its length');

  let sequence: SequenceInfo | undefined;
  for (;;) {
    const tag = at(cursor, p);
    if (tag === TAG_SEQ_INFO && sequence === undefined) {
      p++;
      need(cursor, p, 4, 'a sequence info length');
      const sequenceLength = u32(buf, p);
      p += 4;
      need(cursor, p, sequenceLength, 'the sequence info announced by its length');
      if (at(cursor, p) !== TAG_SEQ_INFO_EPOCH) throw tagError(cursor, p, describeTag(TAG_SEQ_INFO_EPOCH));
      need(cursor, p + 1, 4, 'a 4-byte epoch');
      const epoch = u32(buf, p + 1);
      p += 5;
      if (at(cursor, p) !== TAG_SEQ_INFO_TS) throw tagError(cursor, p, describeTag(TAG_SEQ_INFO_TS));
      need(cursor, p + 1, 8, 'an 8-byte sequence timestamp');
      const timestamp = readInt64(buf, p + 1);
      p += 9;
      if (at(cursor, p) !== TAG_SEQ_INFO_ROW_INDEX) throw tagError(cursor, p, describeTag(TAG_SEQ_INFO_ROW_INDEX));
      need(cursor, p + 1, 4, 'a 4-byte row index');
      const rowIndex = u32(buf, p + 1);
      p += 5;
      sequence = { epoch, timestamp, rowIndex };
    } else if (tag === 0 || tag > TAG_SEQ_INFO_ROW_INDEX) {
      p++;
      need(cursor, p, 4, 'the length of an unknown extension entry');
      const skip = u32(buf, p);
      p += 4;
      need(cursor, p, skip, 'the unknown extension entry announced by its length');
      p += skip;
    } else {
      break;
    }
  }
  cursor.pos = p;
  return sequence;
}
