/**
 * Walking the cells of a packed record (packed-records.ts) in place: a row that
 * scanChangeRecordFastAt accepted, so its layout is known good and no check or checksum is needed
 * again. A reader of a few columns (decodeRows) takes each cell's name bytes and value range from
 * here and builds only the values it keeps.
 *
 *   const p = packedRowCells(buf, start)  // the first primary-key cell
 *   for (let q = p; buf[q] === TAG_CELL; q = packedCell.next) readPackedCell(buf, q) …
 *   then, where buf[q] === TAG_ROW_DATA, the attribute cells from q + 1 the same way.
 */
import { readFloat64, readInt64, u32 } from '../bytes.js';
import { TAG_CELL, TAG_CELL_TIMESTAMP, TAG_CELL_TYPE, TAG_CELL_VALUE, TAG_ROW_DATA, TAG_ROW_PK } from './constants.js';

export { TAG_CELL, TAG_ROW_DATA };

/** What readPackedCell found (module state: no object per cell). */
export const packedCell = {
  nameStart: 0,
  nameEnd: 0,
  /** the value's type byte (VT_*), -1 without a value */
  valueType: -1,
  /** the value's bytes after its type byte: 8 for numbers, 1 for booleans, length + bytes for strings and blobs */
  payload: 0,
  /** string / blob bytes */
  dataStart: 0,
  dataEnd: 0,
  /** a cell type byte is present (an update's delete or increment) */
  typed: false,
  /** where the next cell, or what follows the cells, starts */
  next: 0,
};

/** Where the primary-key cells of the checked record at `start` (its header included) begin. */
export function packedRowCells(buf: Uint8Array, start: number): number {
  // a checked record has its header, then TAG_ROW_PK and at least one key cell
  return buf[start + 4] === TAG_ROW_PK ? start + 5 : start + 4;
}

/** Reads the cell at `p` (TAG_CELL) of a checked record into {@link packedCell}. */
export function readPackedCell(buf: Uint8Array, p: number): void {
  const cell = packedCell;
  const nameStart = p + 6;
  const nameEnd = nameStart + u32(buf, p + 2);
  cell.nameStart = nameStart;
  cell.nameEnd = nameEnd;
  let q = nameEnd;
  if (buf[q] === TAG_CELL_VALUE) {
    const prefix = u32(buf, q + 1);
    const valueType = buf[q + 5] as number;
    cell.valueType = valueType;
    cell.payload = q + 6;
    cell.dataStart = q + 10;
    cell.dataEnd = q + 5 + prefix;
    q += 5 + prefix;
  } else {
    cell.valueType = -1;
  }
  cell.typed = buf[q] === TAG_CELL_TYPE;
  if (cell.typed) q += 2;
  if (buf[q] === TAG_CELL_TIMESTAMP) q += 9;
  // the cell checksum tag and byte
  cell.next = q + 2;
}

/** The double at `p` (a VT_DOUBLE payload). */
export const packedFloat64 = readFloat64;
/** The int64 at `p` (a VT_INTEGER payload). */
export const packedInt64 = readInt64;

/**
 * The int64 at `p` as a number when it is a safe integer (|v| ≤ 2^53 − 1), else NaN: what
 * `Number(v)` gives for such a v, without the bigint.
 */
export function packedSafeInteger(buf: Uint8Array, p: number): number {
  const high = buf[p + 4]! | (buf[p + 5]! << 8) | (buf[p + 6]! << 16) | (buf[p + 7]! << 24);
  // beyond these high words |v| >= 2^53
  if (high < -0x200000 || high > 0x1fffff) return Number.NaN;
  const value = high * 0x1_0000_0000 + u32(buf, p);
  return Number.isSafeInteger(value) ? value : Number.NaN;
}
