/**
 * Column names repeat in every row. A small table keyed by length and first and last byte
 * remembers each name's bytes, string and CRC, so a name seen before costs one comparison — four
 * bytes at a time against its words — and no checksum loop and no string. Only valid names are
 * remembered. Shared by both PlainBuffer decoders.
 */
export interface KnownName {
  /** little-endian int32 words of the bytes, then the last length % 4 bytes one by one */
  readonly words: readonly number[];
  readonly length: number;
  readonly text: string;
  readonly crc: number;
}
const NAME_SLOTS = 256;
const NAME_CACHE_MAX_BYTES = 64;
const knownNames: (KnownName | undefined)[] = new Array<KnownName | undefined>(NAME_SLOTS).fill(undefined);

function nameSlot(buf: Uint8Array, start: number, length: number): number {
  return (length * 31 + buf[start]! * 7 + buf[start + length - 1]!) & (NAME_SLOTS - 1);
}

/** The remembered name whose bytes are `buf[start, start + length)`, if any. */
export function knownName(buf: Uint8Array, start: number, length: number): KnownName | undefined {
  if (length === 0 || length > NAME_CACHE_MAX_BYTES) return undefined;
  const known = knownNames[nameSlot(buf, start, length)];
  if (known === undefined || known.length !== length) return undefined;
  const words = known.words;
  let i = start;
  let w = 0;
  const end = start + length;
  for (; i + 4 <= end; i += 4, w++) if ((buf[i]! | (buf[i + 1]! << 8) | (buf[i + 2]! << 16) | (buf[i + 3]! << 24)) !== words[w]) return undefined;
  for (; i < end; i++, w++) if (buf[i] !== words[w]) return undefined;
  return known;
}

/** Remembers a valid name (`text` decoded from those bytes, `crc` their CRC). */
export function rememberName(buf: Uint8Array, start: number, length: number, text: string, crc: number): void {
  if (length === 0 || length > NAME_CACHE_MAX_BYTES) return;
  const words: number[] = [];
  const end = start + length;
  let i = start;
  for (; i + 4 <= end; i += 4) words.push(buf[i]! | (buf[i + 1]! << 8) | (buf[i + 2]! << 16) | (buf[i + 3]! << 24));
  for (; i < end; i++) words.push(buf[i]!);
  knownNames[nameSlot(buf, start, length)] = { words, length, text, crc };
}
