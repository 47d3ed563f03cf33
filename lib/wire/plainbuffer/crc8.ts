/**
 * CRC-8/ATM (polynomial 0x07, init 0, no reflection, no final xor) — the checksum PlainBuffer
 * puts on every cell and row.
 *
 * Sliced: the CRC is linear, so four bytes b0..b3 fold into
 *   crc' = T⁴[crc ^ b0] ^ T³[b1] ^ T²[b2] ^ T[b3]      (Tᵏ = the byte table applied k times)
 * where only the first lookup waits for the previous CRC. A byte-at-a-time loop waits for every
 * lookup; this does four (or, for the many 8-byte fields, eight) independent ones per step.
 */

/** `CRC8_SLICES[256 * k + x]` = Tᵏ⁺¹[x], k = 0..7; the first 256 entries are the byte table. */
export const CRC8_SLICES: Uint8Array = (() => {
  const table = new Uint8Array(8 * 256);
  for (let i = 0; i < 256; i++) {
    let x = i;
    for (let bit = 0; bit < 8; bit++) x = x & 0x80 ? ((x << 1) ^ 0x07) & 0xff : (x << 1) & 0xff;
    table[i] = x;
  }
  for (let k = 1; k < 8; k++) for (let i = 0; i < 256; i++) table[256 * k + i] = table[table[256 * (k - 1) + i]!]!;
  return table;
})();

/** Continues `crc` over `bytes[start, end)`. */
export function crc8(crc: number, bytes: Uint8Array, start = 0, end: number = bytes.length): number {
  const t = CRC8_SLICES;
  let c = crc & 0xff;
  let i = start;
  for (; i + 4 <= end; i += 4) c = t[768 + (c ^ bytes[i]!)]! ^ t[512 + bytes[i + 1]!]! ^ t[256 + bytes[i + 2]!]! ^ t[bytes[i + 3]!]!;
  for (; i < end; i++) c = t[c ^ bytes[i]!]!;
  return c;
}

/** Continues `crc` (0..255) over the eight bytes at `p` (timestamps, integers, doubles); the caller checked the bounds. */
export function crc8Of8(crc: number, bytes: Uint8Array, p: number): number {
  const t = CRC8_SLICES;
  return (
    t[1792 + (crc ^ bytes[p]!)]! ^
    t[1536 + bytes[p + 1]!]! ^
    t[1280 + bytes[p + 2]!]! ^
    t[1024 + bytes[p + 3]!]! ^
    t[768 + bytes[p + 4]!]! ^
    t[512 + bytes[p + 5]!]! ^
    t[256 + bytes[p + 6]!]! ^
    t[bytes[p + 7]!]!
  );
}

/** Continues `crc` over one byte. */
export function crc8Byte(crc: number, byte: number): number {
  return CRC8_SLICES[(crc ^ byte) & 0xff]!;
}
