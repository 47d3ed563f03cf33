/**
 * PlainBuffer: Tablestore's row encoding, used by table API requests/responses and by tunnel
 * records. Decoders never throw: any byte input yields a row or a `PlainBufferError` naming the
 * offset and what was expected. Encoders throw only for programmer errors.
 *
 * Choices where the sources leave room (see also the spec files):
 * - Zero bytes after the last row checksum are accepted as padding: the official Node SDK sizes
 *   its buffers generously (UpdateRow, GetRange bounds, auto-increment keys) and the service
 *   accepts its requests. Any non-zero trailing byte is TRAILING_BYTES.
 * - `decodeRow`/`decodeRows` require a non-empty primary key (like Java's `readRow(true)`);
 *   `decodeRowWithoutPrimaryKey` accepts an empty or absent PK section (origin records).
 * - The u32 length before each cell value is checked against the value (other decoders skip it).
 * - `encodeRows([])` is a zero-length buffer and `decodeRows` of a zero-length buffer is [],
 *   mirroring GetRange responses without rows. A header without rows is TRUNCATED.
 * - Sequence epoch and row index are read as unsigned 32-bit integers.
 */
export type { PlainBufferErrorCode } from './errors.js';
export { PlainBufferError } from './errors.js';
export { crc8 } from './crc8.js';
export { decodeRows, decodeRow, decodeRowWithoutPrimaryKey, decodeFilterValue } from './decode.js';
export { encodeRow, encodeRows, encodePrimaryKey, encodeFilterValue } from './encode.js';
