/**
 * The fast path of ReadRecordsResponse decoding, the one message per record of the tunnel's data
 * path: one walk over the bytes that makes each record's object once, with `record` and
 * `originRecord` as views into the response. The generic codec (protobufjs, then a conversion to
 * the surfaced shape) makes three objects per record. Anything but the plain layout the service
 * writes — unknown or repeated fields, a wire type other than the schema's, an unknown action,
 * a non-ASCII token, a missing required field, truncation — yields undefined, and the generic
 * codec decodes the bytes again and says what is wrong. For any input this returns undefined or
 * what the generic decodeWithViews returns (spec/wire/read-records-fast.spec.ts).
 */
import { Buffer } from 'node:buffer';
import type { ActionType, ReadRecordsResponse, TunnelRecord } from './tunnel-messages.js';
import type { ChangeRecord } from './types.js';
import { decodeChangeRecordFastAt } from './plainbuffer/decode-fast.js';

const ACTIONS: readonly (ActionType | undefined)[] = [undefined, 'PUT_ROW', 'UPDATE_ROW', 'DELETE_ROW'];

/** where the last varint read ended; -1 after a varint the fast path does not take */
let varintEnd = 0;

/** A varint of at most 4 bytes (< 2^28) at `p`, before `end`; sets varintEnd (-1: not taken). */
function varint(buf: Uint8Array, p: number, end: number): number {
  let value = 0;
  for (let shift = 0; shift < 28; shift += 7) {
    if (p >= end) break;
    const byte = buf[p++]!;
    value |= (byte & 0x7f) << shift;
    if (byte < 0x80) {
      varintEnd = p;
      return value;
    }
  }
  varintEnd = -1;
  return 0;
}

function record(buf: Uint8Array, p: number, end: number): TunnelRecord | undefined {
  let action: ActionType | undefined;
  let recordBytes: Uint8Array | undefined;
  let origin: Uint8Array | undefined;
  while (p < end) {
    const tag = buf[p++]!;
    if (tag === 0x08) {
      if (action !== undefined) return undefined;
      const value = varint(buf, p, end);
      if (varintEnd < 0) return undefined;
      action = ACTIONS[value];
      if (action === undefined) return undefined;
      p = varintEnd;
    } else if (tag === 0x12 || tag === 0x1a) {
      const length = varint(buf, p, end);
      if (varintEnd < 0 || varintEnd + length > end) return undefined;
      const view = buf.subarray(varintEnd, varintEnd + length);
      if (tag === 0x12) {
        if (recordBytes !== undefined) return undefined;
        recordBytes = view;
      } else {
        if (origin !== undefined) return undefined;
        origin = view;
      }
      p = varintEnd + length;
    } else {
      return undefined;
    }
  }
  if (action === undefined || recordBytes === undefined) return undefined;
  return origin === undefined ? { actionType: action, record: recordBytes } : { actionType: action, record: recordBytes, originRecord: origin };
}

export function decodeReadRecordsResponseFast(bytes: Uint8Array): ReadRecordsResponse | undefined {
  // views of a plain Uint8Array, as the generic codec's (a Buffer's subarray would be a Buffer)
  const buf = Buffer.isBuffer(bytes) ? new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength) : bytes;
  const end = buf.length;
  const records: TunnelRecord[] = [];
  let nextToken: string | undefined;
  let mayMoreRecord: boolean | undefined;
  let p = 0;
  while (p < end) {
    const tag = buf[p++]!;
    if (tag === 0x0a || tag === 0x12) {
      const length = varint(buf, p, end);
      if (varintEnd < 0 || varintEnd + length > end) return undefined;
      const start = varintEnd;
      p = start + length;
      if (tag === 0x0a) {
        const item = record(buf, start, p);
        if (item === undefined) return undefined;
        records.push(item);
      } else {
        if (nextToken !== undefined) return undefined;
        let text = '';
        for (let i = start; i < p; i++) {
          const byte = buf[i]!;
          if (byte >= 0x80) return undefined;
          text += String.fromCharCode(byte);
        }
        nextToken = text;
      }
    } else if (tag === 0x18) {
      if (mayMoreRecord !== undefined || p >= end) return undefined;
      const byte = buf[p++]!;
      if (byte > 1) return undefined;
      mayMoreRecord = byte === 1;
    } else {
      return undefined;
    }
  }
  if (nextToken === undefined) return undefined;
  return mayMoreRecord === undefined ? { records, nextToken } : { records, nextToken, mayMoreRecord };
}

/** A ReadRecordsResponse whose records are decoded straight into change records. */
export interface ReadRecordsChanges {
  readonly changes: ChangeRecord[];
  readonly nextToken: string;
  readonly mayMoreRecord?: boolean;
  /** total PlainBuffer bytes of the records */
  readonly byteSize: number;
}

/**
 * The tunnel's data path in one walk: the response's records decoded in place by
 * decodeChangeRecordFastAt — no view, no message object per record. Undefined wherever
 * decodeReadRecordsResponseFast is, where a record has an origin record, and where
 * decodeChangeRecordFast declines a record: the caller then takes the generic path, which decodes
 * the same bytes and says what is wrong. Otherwise it equals that path's result
 * (spec/wire/read-records-changes.spec.ts).
 */
export function decodeReadRecordsChanges(bytes: Uint8Array): ReadRecordsChanges | undefined {
  const buf = bytes;
  const end = buf.length;
  const changes: ChangeRecord[] = [];
  let nextToken: string | undefined;
  let mayMoreRecord: boolean | undefined;
  let byteSize = 0;
  let p = 0;
  while (p < end) {
    const tag = buf[p++]!;
    if (tag === 0x0a || tag === 0x12) {
      const length = varint(buf, p, end);
      if (varintEnd < 0 || varintEnd + length > end) return undefined;
      const start = varintEnd;
      p = start + length;
      if (tag === 0x0a) {
        // the record message: action (0x08) and record bytes (0x12), nothing else taken here
        let action: ActionType | undefined;
        let recordStart = -1;
        let recordEnd = -1;
        let q = start;
        while (q < p) {
          const field = buf[q++]!;
          if (field === 0x08) {
            if (action !== undefined) return undefined;
            const value = varint(buf, q, p);
            if (varintEnd < 0) return undefined;
            action = ACTIONS[value];
            if (action === undefined) return undefined;
            q = varintEnd;
          } else if (field === 0x12) {
            if (recordStart >= 0) return undefined;
            const size = varint(buf, q, p);
            if (varintEnd < 0 || varintEnd + size > p) return undefined;
            recordStart = varintEnd;
            recordEnd = varintEnd + size;
            q = recordEnd;
          } else {
            return undefined;
          }
        }
        if (action === undefined || recordStart < 0) return undefined;
        const change = decodeChangeRecordFastAt(buf, recordStart, recordEnd, action);
        if (change === undefined) return undefined;
        changes.push(change);
        byteSize += recordEnd - recordStart;
      } else {
        if (nextToken !== undefined) return undefined;
        let text = '';
        for (let i = start; i < p; i++) {
          const byte = buf[i]!;
          if (byte >= 0x80) return undefined;
          text += String.fromCharCode(byte);
        }
        nextToken = text;
      }
    } else if (tag === 0x18) {
      if (mayMoreRecord !== undefined || p >= end) return undefined;
      const byte = buf[p++]!;
      if (byte > 1) return undefined;
      mayMoreRecord = byte === 1;
    } else {
      return undefined;
    }
  }
  if (nextToken === undefined) return undefined;
  return mayMoreRecord === undefined ? { changes, nextToken, byteSize } : { changes, nextToken, mayMoreRecord, byteSize };
}
