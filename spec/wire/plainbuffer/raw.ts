/**
 * A deliberately naive byte-level PlainBuffer writer for tests: it writes whatever combination
 * it is given (including ones the real encoder refuses) with correct checksums, so decoder
 * checks behind the CRCs can be exercised.
 */
import { crc8 } from '../../../lib/wire/plainbuffer/crc8.js';

export interface RawCell {
  readonly name: string;
  /** type byte + payload, e.g. [0x03, len32…, utf8…] */
  readonly value?: readonly number[];
  readonly cellType?: number;
  readonly timestamp?: bigint;
}

const u32 = (n: number): number[] => [n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, (n >>> 24) & 0xff];
const i64 = (n: bigint): number[] => {
  const b = Buffer.alloc(8);
  b.writeBigInt64LE(n);
  return [...b];
};

export const rawString = (text: string): number[] => {
  const bytes = [...Buffer.from(text, 'utf8')];
  return [0x03, ...u32(bytes.length), ...bytes];
};
export const rawBytesString = (bytes: readonly number[]): number[] => [0x03, ...u32(bytes.length), ...bytes];
export const rawInteger = (n: bigint): number[] => [0x00, ...i64(n)];
export const rawBoolean = (byte: number): number[] => [0x02, byte];

/** Returns the cell bytes and its CRC. */
export function rawCell(cell: RawCell): { bytes: number[]; crc: number } {
  const name = [...Buffer.from(cell.name, 'utf8')];
  let crc = crc8(0, Uint8Array.from(name));
  const bytes = [0x03, 0x04, ...u32(name.length), ...name];
  if (cell.value) {
    bytes.push(0x05, ...u32(cell.value.length), ...cell.value);
    crc = crc8(crc, Uint8Array.from(cell.value));
  }
  if (cell.cellType !== undefined) bytes.push(0x06, cell.cellType);
  if (cell.timestamp !== undefined) {
    bytes.push(0x07, ...i64(cell.timestamp));
    crc = crc8(crc, Uint8Array.from(i64(cell.timestamp)));
  }
  if (cell.cellType !== undefined) crc = crc8(crc, Uint8Array.of(cell.cellType));
  bytes.push(0x0a, crc);
  return { bytes, crc };
}

/** Header + one row with correct cell and row checksums. */
export function rawRow(primaryKey: readonly RawCell[], cells: readonly RawCell[], deleteMarker = false): Uint8Array {
  const bytes = [0x75, 0, 0, 0, 0x01];
  let rowCrc = 0;
  for (const cell of primaryKey) {
    const raw = rawCell(cell);
    bytes.push(...raw.bytes);
    rowCrc = crc8(rowCrc, Uint8Array.of(raw.crc));
  }
  if (cells.length > 0) bytes.push(0x02);
  for (const cell of cells) {
    const raw = rawCell(cell);
    bytes.push(...raw.bytes);
    rowCrc = crc8(rowCrc, Uint8Array.of(raw.crc));
  }
  if (deleteMarker) bytes.push(0x08);
  rowCrc = crc8(rowCrc, Uint8Array.of(deleteMarker ? 1 : 0));
  bytes.push(0x09, rowCrc);
  return Uint8Array.from(bytes);
}
