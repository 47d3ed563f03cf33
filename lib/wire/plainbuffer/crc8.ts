/**
 * CRC-8/ATM (polynomial 0x07, init 0, no reflection, no final xor) — the checksum PlainBuffer
 * puts on every cell and row. Table-driven: one lookup per byte.
 */
const CRC8_TABLE: Uint8Array = (() => {
  const table = new Uint8Array(256);
  for (let i = 0; i < 256; i++) {
    let x = i;
    for (let bit = 0; bit < 8; bit++) x = x & 0x80 ? ((x << 1) ^ 0x07) & 0xff : (x << 1) & 0xff;
    table[i] = x;
  }
  return table;
})();

/** Continues `crc` over `bytes[start, end)`. */
export function crc8(crc: number, bytes: Uint8Array, start = 0, end: number = bytes.length): number {
  const table = CRC8_TABLE;
  let c = crc & 0xff;
  for (let i = start; i < end; i++) c = table[(c ^ bytes[i]!) & 0xff]!;
  return c;
}

/** Continues `crc` over one byte. */
export function crc8Byte(crc: number, byte: number): number {
  return CRC8_TABLE[(crc ^ byte) & 0xff]!;
}
