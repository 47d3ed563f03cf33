/**
 * PlainBuffer decoder (tunnel-protocol.md §6, tablestore-wire.md §3).
 *
 * One forward pass with an offset cursor over the caller's bytes. Each cell is first parsed into
 * byte ranges, its CRC verified, then its semantics checked, and only then are strings, bigints
 * and binaries materialised — so corruption is reported as a CRC error rather than as whatever
 * nonsense the corrupted bytes happen to spell.
 *
 * Rows are first tried with the fast path of decode-fast.ts, which accepts only well-formed
 * rows and gives up on anything else; this decoder then reads the buffer again to say exactly
 * what is wrong. It is the reference: the fast path must build the same row or nothing.
 *
 * Failures are raised internally as `PlainBufferError` and turned into `Left` at the public
 * boundary; any other exception is a bug and is deliberately not swallowed.
 */
import { left, right } from 'fp-ts/lib/Either.js';
import type { Either } from 'fp-ts/lib/Either.js';
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
import { CRC8_SLICES, crc8, crc8Of8 } from './crc8.js';
import { decodeRowFast, decodeRowsFast } from './decode-fast.js';
import { copyBytes, isAscii, readFloat64, readInt64, readText, u32 } from '../bytes.js';
import { knownName, rememberName } from './column-names.js';
import { PlainBufferError } from './errors.js';

/**
 * Where decoding is, and what readCell found in the cell it just read. The cell's facts live here
 * rather than in a module-level object because the cursor is young: storing strings and objects
 * into a long-lived object costs a write barrier each time.
 */
class Cursor {
  pos = 0;
  readonly end: number;
  rowCrc = 0;
  /** the cell just read: its CRC and byte positions (-1 = absent) */
  cellCrc = 0;
  cellStart = 0;
  nameStart = 0;
  nameLength = 0;
  nameCrc = 0;
  /** the name's string when it was recognised (see knownName) */
  knownText: string | undefined = undefined;
  valueType = -1;
  valueTypeAt = 0;
  /** a string value's payload is all ASCII */
  valueAscii = false;
  cellType = -1;
  timestampAt = -1;

  constructor(readonly buf: Uint8Array) {
    this.end = buf.length;
  }
}

// ---------------------------------------------------------------------------------------------
// Public entry points

/** Header + one or more rows (GetRange `rows`). A zero-length buffer is "no rows". */
export function decodeRows(buf: Uint8Array): Either<PlainBufferError, Row[]> {
  if (buf.length === 0) return right([]);
  const fast = decodeRowsFast(buf);
  return fast !== undefined ? right(fast) : referenceDecodeRows(buf);
}

/** Header + exactly one row with a non-empty primary key (tunnel records, request rows). */
export function decodeRow(buf: Uint8Array): Either<PlainBufferError, Row> {
  const fast = decodeRowFast(buf, true);
  return fast !== undefined ? right(fast) : referenceDecodeRow(buf, true);
}

/** Header + one row whose PK section may be empty or absent (a tunnel record's origin_record). */
export function decodeRowWithoutPrimaryKey(buf: Uint8Array): Either<PlainBufferError, Row> {
  const fast = decodeRowFast(buf, false);
  return fast !== undefined ? right(fast) : referenceDecodeRow(buf, false);
}

/** decodeRows without the fast path; exported for the fast path's spec only. */
export function referenceDecodeRows(buf: Uint8Array): Either<PlainBufferError, Row[]> {
  if (buf.length === 0) return right([]);
  try {
    const cursor = new Cursor(buf);
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

/** decodeRow / decodeRowWithoutPrimaryKey without the fast path; exported for the fast path's spec only. */
export function referenceDecodeRow(buf: Uint8Array, requirePrimaryKey: boolean): Either<PlainBufferError, Row> {
  try {
    const cursor = new Cursor(buf);
    readHeader(cursor);
    const row = readRow(cursor, requirePrimaryKey);
    expectEndOrPadding(cursor);
    return right(row);
  } catch (error) {
    return asLeft(error);
  }
}

/** A filter/condition column value: type byte + payload, no outer length prefix (§3.6). */
export function decodeFilterValue(bytes: Uint8Array): Either<PlainBufferError, ColumnValue> {
  try {
    const cursor = new Cursor(bytes);
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
    return right(materializeValue(bytes, type, typeAt, isAscii(bytes, typeAt + 5, payloadEnd)));
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

/** Throws TRUNCATED unless `count` bytes are available at `p`. */
function need(cursor: Cursor, p: number, count: number, what: string): void {
  if (count > cursor.end - p) throw truncated(cursor, p, count, what);
}

function truncated(cursor: Cursor, p: number, count: number, what: string): PlainBufferError {
  const available = Math.max(0, cursor.end - p);
  return new PlainBufferError('TRUNCATED', p, `${count} more byte${count === 1 ? '' : 's'} for ${what}`, `${available} left`);
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

/**
 * Value at `typeAt` (type byte, [u32 length], payload), already bounds-checked; `ascii` says
 * whether a string payload is all ASCII (the caller looked at every byte already).
 */
function materializeValue(buf: Uint8Array, type: number, typeAt: number, ascii: boolean): ColumnValue {
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
      const text = readText(buf, p + 4, p + 4 + n, ascii);
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
  const table = CRC8_SLICES;
  cursor.rowCrc = 0;

  let primaryKey: PrimaryKeyCell[];
  if (at(cursor, cursor.pos) === TAG_ROW_PK) {
    cursor.pos++;
    primaryKey = readCells(cursor, true) as PrimaryKeyCell[];
    if (requirePrimaryKey && primaryKey.length === 0) {
      throw tagError(cursor, cursor.pos, `${describeTag(TAG_CELL)}: a row needs at least one primary key cell`);
    }
  } else if (requirePrimaryKey) {
    throw tagError(cursor, cursor.pos, describeTag(TAG_ROW_PK));
  } else {
    primaryKey = [];
  }

  let cells: Cell[];
  if (at(cursor, cursor.pos) === TAG_ROW_DATA) {
    cursor.pos++;
    if (at(cursor, cursor.pos) !== TAG_CELL) {
      throw tagError(cursor, cursor.pos, `${describeTag(TAG_CELL)} after ${describeTag(TAG_ROW_DATA)}`);
    }
    cells = readCells(cursor, false) as Cell[];
  } else {
    cells = [];
  }

  let deleteMarker = false;
  if (at(cursor, cursor.pos) === TAG_DELETE_ROW_MARKER) {
    cursor.pos++;
    deleteMarker = true;
  }
  const rowCrc = table[cursor.rowCrc ^ (deleteMarker ? 1 : 0)]!;

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

/**
 * The run of cells at `cursor.pos`, folding each cell's CRC into `cursor.rowCrc`. The first four
 * are held in locals and become an exact-size array: growing a fresh array by push would give
 * every row room for 17 cells.
 */
function readCells(cursor: Cursor, isPrimaryKey: boolean): (PrimaryKeyCell | Cell)[] {
  const table = CRC8_SLICES;
  let c0: PrimaryKeyCell | Cell | undefined;
  let c1: PrimaryKeyCell | Cell | undefined;
  let c2: PrimaryKeyCell | Cell | undefined;
  let c3: PrimaryKeyCell | Cell | undefined;
  let more: (PrimaryKeyCell | Cell)[] | undefined;
  let count = 0;
  while (at(cursor, cursor.pos) === TAG_CELL) {
    const cell = isPrimaryKey ? readPrimaryKeyCell(cursor) : readDataCell(cursor);
    cursor.rowCrc = table[cursor.rowCrc ^ cursor.cellCrc]!;
    switch (count) {
      case 0:
        c0 = cell;
        break;
      case 1:
        c1 = cell;
        break;
      case 2:
        c2 = cell;
        break;
      case 3:
        c3 = cell;
        break;
      case 4:
        more = [c0!, c1!, c2!, c3!, cell];
        break;
      default:
        more!.push(cell);
    }
    count++;
  }
  switch (count) {
    case 0:
      return [];
    case 1:
      return [c0!];
    case 2:
      return [c0!, c1!];
    case 3:
      return [c0!, c1!, c2!];
    case 4:
      return [c0!, c1!, c2!, c3!];
    default:
      return more!;
  }
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
 * Parses the cell at `cursor.pos` (which holds TAG_CELL) into the cursor's cell fields and
 * verifies its CRC; on return `cursor.pos` is past the cell and `cursor.cellCrc` holds its CRC.
 * Semantics are the caller's.
 */
function scanCell(cursor: Cursor, isPrimaryKey: boolean): void {
  const buf = cursor.buf;
  const end = cursor.end;
  const table = CRC8_SLICES;
  const cellStart = cursor.pos;
  cursor.cellStart = cellStart;
  let p = cellStart + 1;

  if (at(cursor, p) !== TAG_CELL_NAME) throw tagError(cursor, p, describeTag(TAG_CELL_NAME));
  p++;
  need(cursor, p, 4, 'a cell name length');
  const nameLength = u32(buf, p);
  p += 4;
  need(cursor, p, nameLength, 'the cell name');
  const nameStart = p;
  p += nameLength;
  cursor.nameStart = nameStart;
  cursor.nameLength = nameLength;
  const known = knownName(buf, nameStart, nameLength);
  let crc: number;
  if (known !== undefined) {
    cursor.knownText = known.text;
    crc = known.crc;
  } else {
    cursor.knownText = undefined;
    crc = crc8(0, buf, nameStart, p);
  }
  cursor.nameCrc = crc;

  let tag = p < end ? buf[p]! : -1;
  let valueType = -1;
  if (tag === TAG_CELL_VALUE) {
    p++;
    need(cursor, p, 4, 'a value length');
    const prefixAt = p;
    const prefix = u32(buf, p);
    p += 4;
    need(cursor, p, 1, 'a value type byte');
    const valueTypeAt = p;
    valueType = buf[p]!;
    cursor.valueTypeAt = valueTypeAt;
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
    crc = table[crc ^ valueType]!;
    if (valueType === VT_STRING) {
      // the length, then the text: checksummed and checked for ASCII in one pass
      crc = crc8(crc, buf, valueTypeAt + 1, valueTypeAt + 5);
      let bits = 0;
      let i = valueTypeAt + 5;
      for (; i + 4 <= p; i += 4) {
        const b0 = buf[i]!;
        const b1 = buf[i + 1]!;
        const b2 = buf[i + 2]!;
        const b3 = buf[i + 3]!;
        bits |= b0 | b1 | b2 | b3;
        crc = table[768 + (crc ^ b0)]! ^ table[512 + b1]! ^ table[256 + b2]! ^ table[b3]!;
      }
      for (; i < p; i++) {
        const b = buf[i]!;
        bits |= b;
        crc = table[crc ^ b]!;
      }
      cursor.valueAscii = bits < 0x80;
    } else if (payloadLength === 8) {
      crc = crc8Of8(crc, buf, valueTypeAt + 1);
    } else {
      crc = crc8(crc, buf, valueTypeAt + 1, p);
    }
    tag = p < end ? buf[p]! : -1;
  }
  cursor.valueType = valueType;

  let cellType = -1;
  if (tag === TAG_CELL_TYPE) {
    p++;
    need(cursor, p, 1, 'a cell type byte');
    cellType = buf[p]!;
    p++;
    tag = p < end ? buf[p]! : -1;
  }
  cursor.cellType = cellType;

  let timestampAt = -1;
  if (tag === TAG_CELL_TIMESTAMP) {
    p++;
    need(cursor, p, 8, 'an 8-byte timestamp');
    timestampAt = p;
    crc = crc8Of8(crc, buf, p);
    p += 8;
    tag = p < end ? buf[p]! : -1;
  }
  cursor.timestampAt = timestampAt;
  // The checksum covers the timestamp before the cell type, although the wire order is reversed.
  if (cellType >= 0) crc = table[crc ^ cellType]!;

  if (tag !== TAG_CELL_CHECKSUM) throw tagError(cursor, p, expectedInCell(valueType >= 0, cellType >= 0, timestampAt >= 0));
  p++;
  need(cursor, p, 1, 'the cell checksum');
  if (buf[p] !== crc) throw new PlainBufferError('CELL_CRC', p, `cell CRC ${hex2(crc)}`, hex2(buf[p]!));
  cursor.pos = p + 1;
  cursor.cellCrc = crc;
}

/** The timestamp of the scanned cell in ms (0 when it has none), checked to be in [0, 2^53). */
function scannedTimestamp(cursor: Cursor): number {
  const timestampAt = cursor.timestampAt;
  if (timestampAt < 0) return 0;
  const buf = cursor.buf;
  const high = buf[timestampAt + 4]! | (buf[timestampAt + 5]! << 8) | (buf[timestampAt + 6]! << 16) | (buf[timestampAt + 7]! << 24);
  if (high < 0 || high > 0x1fffff) {
    throw new PlainBufferError('INVALID_VALUE', timestampAt, 'a timestamp in [0, 2^53) ms');
  }
  return high * 0x1_0000_0000 + u32(buf, timestampAt);
}

/** The scanned cell's name (validated and remembered when it was not recognised). */
function scannedName(cursor: Cursor): string {
  const known = cursor.knownText;
  if (known !== undefined) return known;
  const buf = cursor.buf;
  const start = cursor.nameStart;
  const length = cursor.nameLength;
  const name = readText(buf, start, start + length, isAscii(buf, start, start + length));
  if (name === undefined) throw new PlainBufferError('INVALID_VALUE', start, 'a UTF-8 cell name');
  rememberName(buf, start, length, name, cursor.nameCrc);
  return name;
}

function readPrimaryKeyCell(cursor: Cursor): PrimaryKeyCell {
  scanCell(cursor, true);
  // a key cell may not have a timestamp, but a bad one is reported first, as in a data cell
  scannedTimestamp(cursor);
  const name = scannedName(cursor);
  if (cursor.valueType < 0 || cursor.cellType >= 0 || cursor.timestampAt >= 0) {
    throw new PlainBufferError('INVALID_CELL', cursor.cellStart, 'a primary key cell with a value and neither cell type nor timestamp');
  }
  return { name, value: materializePrimaryKeyValue(cursor) };
}

function readDataCell(cursor: Cursor): Cell {
  scanCell(cursor, false);
  const timestamp = scannedTimestamp(cursor);
  const name = scannedName(cursor);
  const hasTimestamp = cursor.timestampAt >= 0;
  const valueType = cursor.valueType;
  const cellStart = cursor.cellStart;
  switch (cursor.cellType) {
    case -1: {
      if (valueType < 0) throw new PlainBufferError('INVALID_CELL', cellStart, 'a value in a put cell (no cell type)');
      const value = materializeValue(cursor.buf, valueType, cursor.valueTypeAt, cursor.valueAscii);
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
      const value = readInt64(cursor.buf, cursor.valueTypeAt + 1);
      return hasTimestamp ? { op: 'increment', name, value, timestamp } : { op: 'increment', name, value };
    }
    default:
      throw new PlainBufferError('INVALID_CELL', cellStart, 'cell type DELETE_ALL_VERSION (0x01), DELETE_ONE_VERSION (0x03) or INCREMENT (0x04)', hex2(cursor.cellType));
  }
}

function materializePrimaryKeyValue(cursor: Cursor): PrimaryKeyValue {
  switch (cursor.valueType) {
    case VT_INF_MIN:
      return INF_MIN;
    case VT_INF_MAX:
      return INF_MAX;
    case VT_AUTO_INCREMENT:
      return AUTO_INCREMENT;
    default:
      // INTEGER, STRING or BLOB: the only other types scanCell lets through for a key
      return materializeValue(cursor.buf, cursor.valueType, cursor.valueTypeAt, cursor.valueAscii) as bigint | string | Uint8Array;
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
