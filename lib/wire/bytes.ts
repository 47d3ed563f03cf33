/**
 * Byte-level reading shared by the decoders of PlainBuffer rows and of the emulator's storage.
 *
 * Written for the JIT: on V8 every typed-array read carries its own checks and a call into
 * native code costs more than a short string, so values are assembled from bytes already in
 * hand and short strings are made without leaving JavaScript (spec/bench/plainbuffer.ts).
 */
import { Buffer, isUtf8 } from 'node:buffer';

export function u32(buf: Uint8Array, p: number): number {
  return (buf[p]! | (buf[p + 1]! << 8) | (buf[p + 2]! << 16) | (buf[p + 3]! << 24)) >>> 0;
}

// ---- 64-bit numbers -------------------------------------------------------------------------

/**
 * Two 32-bit words read back through typed views: cheaper than a DataView on the input (its
 * `.buffer` alone costs more than the whole read) or a byte-by-byte copy.
 */
const words = new Uint32Array(2);
const wordsAsFloat64 = new Float64Array(words.buffer);
const wordsAsBigInt64 = new BigInt64Array(words.buffer);
const LITTLE_ENDIAN = new Uint8Array(Uint16Array.of(1).buffer)[0] === 1;
const LOW_WORD = LITTLE_ENDIAN ? 0 : 1;
const HIGH_WORD = 1 - LOW_WORD;

/** The int64 whose little-endian words are `low`, `high` (either signedness). */
export function int64Of(low: number, high: number): bigint {
  words[LOW_WORD] = low;
  words[HIGH_WORD] = high;
  return wordsAsBigInt64[0]!;
}

export function float64Of(low: number, high: number): number {
  words[LOW_WORD] = low;
  words[HIGH_WORD] = high;
  return wordsAsFloat64[0]!;
}

export function readInt64(buf: Uint8Array, p: number): bigint {
  return int64Of(u32(buf, p), u32(buf, p + 4));
}

export function readFloat64(buf: Uint8Array, p: number): number {
  return float64Of(u32(buf, p), u32(buf, p + 4));
}

// ---- text -----------------------------------------------------------------------------------

// Validity is checked with isUtf8 first; ignoreBOM keeps a leading U+FEFF as data.
const utf8Decoder = new TextDecoder('utf-8', { ignoreBOM: true });

/** Longer ASCII runs are sliced natively as latin1; it accepts any Uint8Array as receiver. */
const latin1Slice = (Buffer.prototype as unknown as { latin1Slice(this: Uint8Array, start: number, end: number): string }).latin1Slice;
const fromCharCode = String.fromCharCode;

/**
 * An ASCII run as a string. Up to 16 bytes (most keys and values) one String.fromCharCode call
 * with the bytes as arguments makes a flat string without leaving JavaScript, about three times
 * cheaper than latin1Slice, whose native call overhead dominates at these lengths.
 */
export function asciiString(b: Uint8Array, s: number, e: number): string {
  switch (e - s) {
    case 0:
      return '';
    case 1:
      return fromCharCode(b[s]!);
    case 2:
      return fromCharCode(b[s]!, b[s + 1]!);
    case 3:
      return fromCharCode(b[s]!, b[s + 1]!, b[s + 2]!);
    case 4:
      return fromCharCode(b[s]!, b[s + 1]!, b[s + 2]!, b[s + 3]!);
    case 5:
      return fromCharCode(b[s]!, b[s + 1]!, b[s + 2]!, b[s + 3]!, b[s + 4]!);
    case 6:
      return fromCharCode(b[s]!, b[s + 1]!, b[s + 2]!, b[s + 3]!, b[s + 4]!, b[s + 5]!);
    case 7:
      return fromCharCode(b[s]!, b[s + 1]!, b[s + 2]!, b[s + 3]!, b[s + 4]!, b[s + 5]!, b[s + 6]!);
    case 8:
      return fromCharCode(b[s]!, b[s + 1]!, b[s + 2]!, b[s + 3]!, b[s + 4]!, b[s + 5]!, b[s + 6]!, b[s + 7]!);
    case 9:
      return fromCharCode(b[s]!, b[s + 1]!, b[s + 2]!, b[s + 3]!, b[s + 4]!, b[s + 5]!, b[s + 6]!, b[s + 7]!, b[s + 8]!);
    case 10:
      return fromCharCode(b[s]!, b[s + 1]!, b[s + 2]!, b[s + 3]!, b[s + 4]!, b[s + 5]!, b[s + 6]!, b[s + 7]!, b[s + 8]!, b[s + 9]!);
    case 11:
      return fromCharCode(b[s]!, b[s + 1]!, b[s + 2]!, b[s + 3]!, b[s + 4]!, b[s + 5]!, b[s + 6]!, b[s + 7]!, b[s + 8]!, b[s + 9]!, b[s + 10]!);
    case 12:
      return fromCharCode(b[s]!, b[s + 1]!, b[s + 2]!, b[s + 3]!, b[s + 4]!, b[s + 5]!, b[s + 6]!, b[s + 7]!, b[s + 8]!, b[s + 9]!, b[s + 10]!, b[s + 11]!);
    case 13:
      return fromCharCode(b[s]!, b[s + 1]!, b[s + 2]!, b[s + 3]!, b[s + 4]!, b[s + 5]!, b[s + 6]!, b[s + 7]!, b[s + 8]!, b[s + 9]!, b[s + 10]!, b[s + 11]!, b[s + 12]!);
    case 14:
      return fromCharCode(b[s]!, b[s + 1]!, b[s + 2]!, b[s + 3]!, b[s + 4]!, b[s + 5]!, b[s + 6]!, b[s + 7]!, b[s + 8]!, b[s + 9]!, b[s + 10]!, b[s + 11]!, b[s + 12]!, b[s + 13]!);
    case 15:
      return fromCharCode(b[s]!, b[s + 1]!, b[s + 2]!, b[s + 3]!, b[s + 4]!, b[s + 5]!, b[s + 6]!, b[s + 7]!, b[s + 8]!, b[s + 9]!, b[s + 10]!, b[s + 11]!, b[s + 12]!, b[s + 13]!, b[s + 14]!);
    case 16:
      return fromCharCode(b[s]!, b[s + 1]!, b[s + 2]!, b[s + 3]!, b[s + 4]!, b[s + 5]!, b[s + 6]!, b[s + 7]!, b[s + 8]!, b[s + 9]!, b[s + 10]!, b[s + 11]!, b[s + 12]!, b[s + 13]!, b[s + 14]!, b[s + 15]!);
    default:
      return latin1Slice.call(b, s, e);
  }
}

export function isAscii(buf: Uint8Array, start: number, end: number): boolean {
  let bits = 0;
  for (let i = start; i < end; i++) bits |= buf[i]!;
  return bits < 0x80;
}

/** UTF-8 text of `buf[start, end)`, or undefined when the bytes are not valid UTF-8; `ascii` if the caller knows they are ASCII. */
export function readText(buf: Uint8Array, start: number, end: number, ascii: boolean): string | undefined {
  if (ascii) return asciiString(buf, start, end);
  const bytes = buf.subarray(start, end);
  return isUtf8(bytes) ? utf8Decoder.decode(bytes) : undefined;
}

export function copyBytes(buf: Uint8Array, start: number, end: number): Uint8Array {
  const out = new Uint8Array(end - start);
  out.set(buf.subarray(start, end));
  return out;
}
