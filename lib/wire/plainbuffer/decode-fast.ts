/**
 * The fast path of the PlainBuffer decoder: well-formed rows only, decided in one pass that reads
 * every byte once (each typed-array read has its own checks on V8, so reading a value's bytes
 * for its checksum and again for its value costs twice). Anything else — corruption, unusual
 * but legal layouts — yields undefined, and decode.ts reads the buffer again with the decoder
 * that names offset and expectation. That decoder is the reference: for any input this one
 * returns the same row or undefined (spec/wire/plainbuffer/fast-path.spec.ts).
 */
import { AUTO_INCREMENT, INF_MAX, INF_MIN } from '../types.js';
import type { Cell, ChangeRecord, ColumnValue, PrimaryKeyCell, PrimaryKeyValue, RecordAction, Row, SequenceInfo } from '../types.js';
import {
  CELL_DELETE_ALL_VERSION,
  CELL_DELETE_ONE_VERSION,
  CELL_INCREMENT,
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
import { CRC8_SLICES, crc8 } from './crc8.js';
import { copyBytes, float64Of, int64Of, isAscii, readInt64, readText, u32 } from '../bytes.js';
import { knownName, rememberName } from './column-names.js';

/**
 * Where the last fastRowAt / fastCell stopped, and the CRC of the cell fastCell read. Numbers in
 * module state rather than result objects: storing them costs no allocation and no write barrier.
 */
let fastPos = 0;
let fastCrc = 0;
/**
 * False while scanChangeRecordFastAt runs: fastRowAt / fastCell then make every check they make
 * when building, and return {@link SCANNED} instead of the row or cell (no allocation).
 */
let building = true;
const SCANNED = { scanned: true } as unknown as Row & Cell;

function hasHeader(buf: Uint8Array, start = 0, end = buf.length): boolean {
  return end - start >= 4 && buf[start] === 0x75 && buf[start + 1] === 0 && buf[start + 2] === 0 && buf[start + 3] === 0;
}

function onlyPaddingFrom(buf: Uint8Array, p: number, end = buf.length): boolean {
  for (let i = p; i < end; i++) if (buf[i] !== 0) return false;
  return true;
}

/** Header + one row + optional zero padding, or undefined. */
export function decodeRowFast(buf: Uint8Array, requirePrimaryKey: boolean): Row | undefined {
  if (!hasHeader(buf)) return undefined;
  const row = fastRowAt(buf, 4, buf.length, requirePrimaryKey, undefined) as Row | undefined;
  return row !== undefined && onlyPaddingFrom(buf, fastPos) ? row : undefined;
}

/**
 * A tunnel record's row (header + one row with a primary key) built straight as the ChangeRecord
 * of `action` — the row decodeRowFast gives, without its deleteMarker, and no Row object in
 * between — or undefined where decodeRowFast gives undefined.
 */
export function decodeChangeRecordFast(buf: Uint8Array, action: RecordAction): ChangeRecord | undefined {
  return decodeChangeRecordFastAt(buf, 0, buf.length, action);
}

/**
 * decodeChangeRecordFast of the bytes `buf[start, end)`, read in place: what
 * decodeChangeRecordFast(buf.subarray(start, end), action) gives, without the view.
 */
export function decodeChangeRecordFastAt(buf: Uint8Array, start: number, end: number, action: RecordAction): ChangeRecord | undefined {
  if (!hasHeader(buf, start, end)) return undefined;
  const record = fastRowAt(buf, start + 4, end, true, action) as ChangeRecord | undefined;
  return record !== undefined && onlyPaddingFrom(buf, fastPos, end) ? record : undefined;
}

/**
 * Whether decodeChangeRecordFastAt(buf, start, end, action) gives a record (for any action), found
 * with the same checks and no allocation: the tunnel keeps such records packed and builds each
 * ChangeRecord only when asked (packed-records.ts).
 */
export function scanChangeRecordFastAt(buf: Uint8Array, start: number, end: number): boolean {
  if (!hasHeader(buf, start, end)) return false;
  building = false;
  try {
    return fastRowAt(buf, start + 4, end, true, 'PUT_ROW') !== undefined && onlyPaddingFrom(buf, fastPos, end);
  } finally {
    building = true;
  }
}

/** Header + one or more rows + optional zero padding, or undefined. */
export function decodeRowsFast(buf: Uint8Array): Row[] | undefined {
  if (!hasHeader(buf)) return undefined;
  const end = buf.length;
  const rows: Row[] = [];
  let p = 4;
  do {
    const row = fastRowAt(buf, p, end, true, undefined) as Row | undefined;
    if (row === undefined) return undefined;
    rows.push(row);
    p = fastPos;
  } while (p < end && buf[p] !== 0);
  return onlyPaddingFrom(buf, p) ? rows : undefined;
}


/**
 * The row at `p` when it is well-formed, with fastPos after its checksum; else undefined.
 * Accepts only what readRow accepts and builds the same row; it skips the bookkeeping readRow
 * keeps for its errors, reads every byte once, and leaves unusual layouts (an empty data
 * section, unknown extension entries, more than four key cells) to readRow.
 */
function fastRowAt(buf: Uint8Array, p: number, end: number, requirePrimaryKey: boolean, action: RecordAction | undefined): Row | ChangeRecord | undefined {
  const t = CRC8_SLICES;
  let rowCrc = 0;

  let k0: PrimaryKeyCell | undefined;
  let k1: PrimaryKeyCell | undefined;
  let k2: PrimaryKeyCell | undefined;
  let k3: PrimaryKeyCell | undefined;
  let keyCount = 0;
  if (p < end && buf[p] === TAG_ROW_PK) {
    p++;
    while (p < end && buf[p] === TAG_CELL) {
      const key = fastCell(buf, p, end, true) as PrimaryKeyCell | undefined;
      if (key === undefined) return undefined;
      if (keyCount > 3) return undefined;
      if (building) switch (keyCount) {
        case 0:
          k0 = key;
          break;
        case 1:
          k1 = key;
          break;
        case 2:
          k2 = key;
          break;
        case 3:
          k3 = key;
          break;
        default:
          return undefined;
      }
      keyCount++;
      p = fastPos;
      rowCrc = t[rowCrc ^ fastCrc]!;
    }
  }
  if (requirePrimaryKey && keyCount === 0) return undefined;

  let c0: Cell | undefined;
  let c1: Cell | undefined;
  let c2: Cell | undefined;
  let c3: Cell | undefined;
  let more: Cell[] | undefined;
  let cellCount = 0;
  if (p < end && buf[p] === TAG_ROW_DATA) {
    p++;
    if (p >= end || buf[p] !== TAG_CELL) return undefined;
    do {
      const cell = fastCell(buf, p, end, false) as Cell | undefined;
      if (cell === undefined) return undefined;
      if (building) switch (cellCount) {
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
      cellCount++;
      p = fastPos;
      rowCrc = t[rowCrc ^ fastCrc]!;
    } while (p < end && buf[p] === TAG_CELL);
  }

  let deleteMarker = false;
  if (p < end && buf[p] === TAG_DELETE_ROW_MARKER) {
    p++;
    deleteMarker = true;
  }
  rowCrc = t[rowCrc ^ (deleteMarker ? 1 : 0)]!;

  let sequence: SequenceInfo | undefined;
  if (p < end && buf[p] === TAG_EXTENSION) {
    // exactly as the service writes it: 0B len32 0C len32 0D epoch32 0E ts64 0F index32
    const s = p + 5;
    if (
      s + 24 > end ||
      u32(buf, p + 1) > end - s ||
      buf[s] !== TAG_SEQ_INFO ||
      u32(buf, s + 1) > end - s - 5 ||
      buf[s + 5] !== TAG_SEQ_INFO_EPOCH ||
      buf[s + 10] !== TAG_SEQ_INFO_TS ||
      buf[s + 19] !== TAG_SEQ_INFO_ROW_INDEX
    ) {
      return undefined;
    }
    p = s + 24;
    // readExtension would skip an unknown entry here
    if (p < end && (buf[p] === 0 || buf[p]! > TAG_SEQ_INFO_ROW_INDEX)) return undefined;
    if (building) sequence = { epoch: u32(buf, s + 6), timestamp: readInt64(buf, s + 11), rowIndex: u32(buf, s + 20) };
  }

  if (p + 2 > end || buf[p] !== TAG_ROW_CHECKSUM || buf[p + 1] !== rowCrc) return undefined;
  fastPos = p + 2;
  if (!building) return SCANNED;

  const primaryKey = keyCount === 1 ? [k0!] : keyCount === 2 ? [k0!, k1!] : keyCount === 3 ? [k0!, k1!, k2!] : keyCount === 4 ? [k0!, k1!, k2!, k3!] : [];
  const cells =
    cellCount === 0 ? [] : cellCount === 1 ? [c0!] : cellCount === 2 ? [c0!, c1!] : cellCount === 3 ? [c0!, c1!, c2!] : cellCount === 4 ? [c0!, c1!, c2!, c3!] : more!;
  if (action !== undefined) return sequence === undefined ? { action, primaryKey, cells } : { action, primaryKey, cells, sequence };
  return sequence === undefined ? { primaryKey, cells, deleteMarker } : { primaryKey, cells, deleteMarker, sequence };
}

/**
 * The cell at `p` (TAG_CELL) as a key cell or data cell, with fastPos after it and fastCrc its
 * CRC; undefined for anything scanCell and its callers would reject.
 */
function fastCell(buf: Uint8Array, p: number, end: number, isPrimaryKey: boolean): PrimaryKeyCell | Cell | undefined {
  const t = CRC8_SLICES;
  if (p + 6 > end || buf[p + 1] !== TAG_CELL_NAME) return undefined;
  const nameLength = u32(buf, p + 2);
  const nameStart = p + 6;
  p = nameStart + nameLength;
  // a cell still needs its checksum: ending here is truncated anyway
  if (p >= end) return undefined;
  const known = knownName(buf, nameStart, nameLength);
  let crc = known === undefined ? crc8(0, buf, nameStart, p) : known.crc;
  const nameCrc = crc;

  let tag = buf[p]!;
  let valueType = -1;
  // INTEGER / DOUBLE payload words, read while checksumming
  let low = 0;
  let high = 0;
  // STRING / BINARY payload range
  let dataStart = 0;
  let dataEnd = 0;
  let ascii = false;
  let flag = 0;
  if (tag === TAG_CELL_VALUE) {
    if (p + 6 > end) return undefined;
    const prefix = u32(buf, p + 1);
    valueType = buf[p + 5]!;
    p += 6;
    crc = t[crc ^ valueType]!;
    switch (valueType) {
      case VT_INTEGER:
      case VT_DOUBLE: {
        if ((isPrimaryKey && valueType === VT_DOUBLE) || prefix !== 9 || p + 8 >= end) return undefined;
        const b0 = buf[p]!;
        const b1 = buf[p + 1]!;
        const b2 = buf[p + 2]!;
        const b3 = buf[p + 3]!;
        const b4 = buf[p + 4]!;
        const b5 = buf[p + 5]!;
        const b6 = buf[p + 6]!;
        const b7 = buf[p + 7]!;
        crc = t[1792 + (crc ^ b0)]! ^ t[1536 + b1]! ^ t[1280 + b2]! ^ t[1024 + b3]! ^ t[768 + b4]! ^ t[512 + b5]! ^ t[256 + b6]! ^ t[b7]!;
        low = b0 | (b1 << 8) | (b2 << 16) | (b3 << 24);
        high = b4 | (b5 << 8) | (b6 << 16) | (b7 << 24);
        p += 8;
        break;
      }
      case VT_BOOLEAN:
        if (isPrimaryKey || prefix !== 2 || p + 1 >= end) return undefined;
        flag = buf[p]!;
        crc = t[crc ^ flag]!;
        p += 1;
        break;
      case VT_STRING:
      case VT_BLOB: {
        if (p + 4 >= end) return undefined;
        const l0 = buf[p]!;
        const l1 = buf[p + 1]!;
        const l2 = buf[p + 2]!;
        const l3 = buf[p + 3]!;
        const length = (l0 | (l1 << 8) | (l2 << 16) | (l3 << 24)) >>> 0;
        if (prefix !== 5 + length) return undefined;
        crc = t[768 + (crc ^ l0)]! ^ t[512 + l1]! ^ t[256 + l2]! ^ t[l3]!;
        dataStart = p + 4;
        dataEnd = dataStart + length;
        if (dataEnd >= end) return undefined;
        let bits = 0;
        let i = dataStart;
        for (; i + 4 <= dataEnd; i += 4) {
          const b0 = buf[i]!;
          const b1 = buf[i + 1]!;
          const b2 = buf[i + 2]!;
          const b3 = buf[i + 3]!;
          bits |= b0 | b1 | b2 | b3;
          crc = t[768 + (crc ^ b0)]! ^ t[512 + b1]! ^ t[256 + b2]! ^ t[b3]!;
        }
        for (; i < dataEnd; i++) {
          const b = buf[i]!;
          bits |= b;
          crc = t[crc ^ b]!;
        }
        ascii = bits < 0x80;
        p = dataEnd;
        break;
      }
      case VT_INF_MIN:
      case VT_INF_MAX:
      case VT_AUTO_INCREMENT:
        if (!isPrimaryKey || prefix !== 1) return undefined;
        break;
      default:
        return undefined;
    }
    tag = buf[p]!;
  }

  let cellType = -1;
  if (tag === TAG_CELL_TYPE) {
    if (p + 2 >= end) return undefined;
    cellType = buf[p + 1]!;
    p += 2;
    tag = buf[p]!;
  }

  let timestamp = -1;
  if (tag === TAG_CELL_TIMESTAMP) {
    if (p + 9 >= end) return undefined;
    const b0 = buf[p + 1]!;
    const b1 = buf[p + 2]!;
    const b2 = buf[p + 3]!;
    const b3 = buf[p + 4]!;
    const b4 = buf[p + 5]!;
    const b5 = buf[p + 6]!;
    const b6 = buf[p + 7]!;
    const b7 = buf[p + 8]!;
    crc = t[1792 + (crc ^ b0)]! ^ t[1536 + b1]! ^ t[1280 + b2]! ^ t[1024 + b3]! ^ t[768 + b4]! ^ t[512 + b5]! ^ t[256 + b6]! ^ t[b7]!;
    const highWord = b4 | (b5 << 8) | (b6 << 16) | (b7 << 24);
    if (highWord < 0 || highWord > 0x1fffff) return undefined;
    timestamp = highWord * 0x1_0000_0000 + ((b0 | (b1 << 8) | (b2 << 16) | (b3 << 24)) >>> 0);
    p += 9;
    tag = buf[p]!;
  }
  if (cellType >= 0) crc = t[crc ^ cellType]!;
  // p < end holds here: every branch above checked one byte beyond what it consumed
  if (tag !== TAG_CELL_CHECKSUM || p + 1 >= end || buf[p + 1] !== crc) return undefined;
  fastPos = p + 2;
  fastCrc = crc;

  if (!building) return scannedCell(buf, known, nameStart, nameLength, nameCrc, isPrimaryKey, valueType, cellType, timestamp, flag, dataStart, dataEnd, ascii);

  let name: string;
  if (known !== undefined) {
    name = known.text;
  } else {
    const text = readText(buf, nameStart, nameStart + nameLength, isAscii(buf, nameStart, nameStart + nameLength));
    if (text === undefined) return undefined;
    rememberName(buf, nameStart, nameLength, text, nameCrc);
    name = text;
  }

  let value: ColumnValue | PrimaryKeyValue;
  switch (valueType) {
    case -1:
      value = 0;
      break;
    case VT_INTEGER:
      value = int64Of(low, high);
      break;
    case VT_DOUBLE:
      value = float64Of(low, high);
      break;
    case VT_BOOLEAN:
      if (flag > 1) return undefined;
      value = flag === 1;
      break;
    case VT_STRING: {
      const text = readText(buf, dataStart, dataEnd, ascii);
      if (text === undefined) return undefined;
      value = text;
      break;
    }
    case VT_BLOB:
      value = copyBytes(buf, dataStart, dataEnd);
      break;
    case VT_INF_MIN:
      value = INF_MIN;
      break;
    case VT_INF_MAX:
      value = INF_MAX;
      break;
    default:
      value = AUTO_INCREMENT;
  }

  if (isPrimaryKey) {
    if (valueType < 0 || cellType >= 0 || timestamp >= 0) return undefined;
    return { name, value: value as PrimaryKeyValue };
  }
  switch (cellType) {
    case -1:
      if (valueType < 0) return undefined;
      return timestamp >= 0 ? { op: 'put', name, value: value as ColumnValue, timestamp } : { op: 'put', name, value: value as ColumnValue };
    case CELL_DELETE_ONE_VERSION:
      if (valueType >= 0 || timestamp < 0) return undefined;
      return { op: 'deleteOneVersion', name, timestamp };
    case CELL_DELETE_ALL_VERSION:
      if (valueType >= 0 || timestamp >= 0) return undefined;
      return { op: 'deleteAllVersions', name };
    case CELL_INCREMENT:
      if (valueType !== VT_INTEGER) return undefined;
      return timestamp >= 0 ? { op: 'increment', name, value: value as bigint, timestamp } : { op: 'increment', name, value: value as bigint };
    default:
      return undefined;
  }
}

/** The checks fastCell makes after the checksum, without building the cell: SCANNED or undefined. */
function scannedCell(
  buf: Uint8Array,
  known: ReturnType<typeof knownName>,
  nameStart: number,
  nameLength: number,
  nameCrc: number,
  isPrimaryKey: boolean,
  valueType: number,
  cellType: number,
  timestamp: number,
  flag: number,
  dataStart: number,
  dataEnd: number,
  ascii: boolean,
): Cell | undefined {
  if (known === undefined) {
    const text = readText(buf, nameStart, nameStart + nameLength, isAscii(buf, nameStart, nameStart + nameLength));
    if (text === undefined) return undefined;
    rememberName(buf, nameStart, nameLength, text, nameCrc);
  }
  if (valueType === VT_BOOLEAN && flag > 1) return undefined;
  if (valueType === VT_STRING && !ascii && readText(buf, dataStart, dataEnd, false) === undefined) return undefined;
  if (isPrimaryKey) return valueType < 0 || cellType >= 0 || timestamp >= 0 ? undefined : SCANNED;
  switch (cellType) {
    case -1:
      return valueType < 0 ? undefined : SCANNED;
    case CELL_DELETE_ONE_VERSION:
      return valueType >= 0 || timestamp < 0 ? undefined : SCANNED;
    case CELL_DELETE_ALL_VERSION:
      return valueType >= 0 || timestamp >= 0 ? undefined : SCANNED;
    case CELL_INCREMENT:
      return valueType !== VT_INTEGER ? undefined : SCANNED;
    default:
      return undefined;
  }
}
