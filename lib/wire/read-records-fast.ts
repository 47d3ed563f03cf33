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
import { decodeChangeRecordFastAt, scanChangeRecordFastAt } from './plainbuffer/decode-fast.js';
import { lazyChangeRecords, type PackedSegment } from './packed-records.js';

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

/** what recordFields found: the action and the record's (and origin record's) byte range */
let fieldAction: ActionType = 'PUT_ROW';
/** fieldAction's code on the wire (1 PUT_ROW, 2 UPDATE_ROW, 3 DELETE_ROW) */
let fieldActionCode = 1;
let fieldRecordStart = -1;
let fieldRecordEnd = -1;
let fieldOriginStart = -1;
let fieldOriginEnd = -1;

/**
 * The fields of one Record message in [p, end): action (0x08), record bytes (0x12) and, where
 * `originTaken`, origin record bytes (0x1a), each at most once; sets the field* variables. False
 * for anything else: an unknown field or action, a repeated field, a missing action or record.
 */
function recordFields(buf: Uint8Array, p: number, end: number, originTaken: boolean): boolean {
  let action: ActionType | undefined;
  let actionCode = 0;
  fieldRecordStart = -1;
  fieldOriginStart = -1;
  while (p < end) {
    const tag = buf[p++]!;
    if (tag === 0x08) {
      if (action !== undefined) return false;
      const value = varint(buf, p, end);
      if (varintEnd < 0) return false;
      action = ACTIONS[value];
      if (action === undefined) return false;
      actionCode = value;
      p = varintEnd;
    } else if (tag === 0x12 || (tag === 0x1a && originTaken)) {
      const length = varint(buf, p, end);
      if (varintEnd < 0 || varintEnd + length > end) return false;
      if (tag === 0x12) {
        if (fieldRecordStart >= 0) return false;
        fieldRecordStart = varintEnd;
        fieldRecordEnd = varintEnd + length;
      } else {
        if (fieldOriginStart >= 0) return false;
        fieldOriginStart = varintEnd;
        fieldOriginEnd = varintEnd + length;
      }
      p = varintEnd + length;
    } else {
      return false;
    }
  }
  if (action === undefined || fieldRecordStart < 0) return false;
  fieldAction = action;
  fieldActionCode = actionCode;
  return true;
}

/** what walkResponse found besides the records */
let walkedToken = '';
let walkedMayMore: boolean | undefined;

/**
 * The fields of a ReadRecordsResponse: each record (0x0a) handed to `onRecord` as its byte range,
 * the ASCII next token (0x12, required, once) and mayMoreRecord (0x18, at most once); sets
 * walkedToken and walkedMayMore. False for anything else, or where `onRecord` declines a record.
 */
function walkResponse(buf: Uint8Array, onRecord: (start: number, end: number) => boolean): boolean {
  const end = buf.length;
  let nextToken: string | undefined;
  let mayMoreRecord: boolean | undefined;
  let p = 0;
  while (p < end) {
    const tag = buf[p++]!;
    if (tag === 0x0a || tag === 0x12) {
      const length = varint(buf, p, end);
      if (varintEnd < 0 || varintEnd + length > end) return false;
      const start = varintEnd;
      p = start + length;
      if (tag === 0x0a) {
        if (!onRecord(start, p)) return false;
      } else {
        if (nextToken !== undefined) return false;
        let text = '';
        for (let i = start; i < p; i++) {
          const byte = buf[i]!;
          if (byte >= 0x80) return false;
          text += String.fromCharCode(byte);
        }
        nextToken = text;
      }
    } else if (tag === 0x18) {
      if (mayMoreRecord !== undefined || p >= end) return false;
      const byte = buf[p++]!;
      if (byte > 1) return false;
      mayMoreRecord = byte === 1;
    } else {
      return false;
    }
  }
  if (nextToken === undefined) return false;
  walkedToken = nextToken;
  walkedMayMore = mayMoreRecord;
  return true;
}

export function decodeReadRecordsResponseFast(bytes: Uint8Array): ReadRecordsResponse | undefined {
  // views of a plain Uint8Array, as the generic codec's (a Buffer's subarray would be a Buffer)
  const buf = Buffer.isBuffer(bytes) ? new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength) : bytes;
  const records: TunnelRecord[] = [];
  const walked = walkResponse(buf, (start, end) => {
    if (!recordFields(buf, start, end, true)) return false;
    const record = buf.subarray(fieldRecordStart, fieldRecordEnd);
    records.push(fieldOriginStart < 0 ? { actionType: fieldAction, record } : { actionType: fieldAction, record, originRecord: buf.subarray(fieldOriginStart, fieldOriginEnd) });
    return true;
  });
  if (!walked) return undefined;
  return walkedMayMore === undefined ? { records, nextToken: walkedToken } : { records, nextToken: walkedToken, mayMoreRecord: walkedMayMore };
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
  const changes: ChangeRecord[] = [];
  let byteSize = 0;
  const walked = walkResponse(buf, (start, end) => {
    // the record message: action and record bytes, no origin record taken here
    if (!recordFields(buf, start, end, false)) return false;
    const change = decodeChangeRecordFastAt(buf, fieldRecordStart, fieldRecordEnd, fieldAction);
    if (change === undefined) return false;
    changes.push(change);
    byteSize += fieldRecordEnd - fieldRecordStart;
    return true;
  });
  if (!walked) return undefined;
  return walkedMayMore === undefined ? { changes, nextToken: walkedToken, byteSize } : { changes, nextToken: walkedToken, mayMoreRecord: walkedMayMore, byteSize };
}

/**
 * decodeReadRecordsChanges without building the records: each record is checked in place
 * (scanChangeRecordFastAt, every check the fast decoder makes, no allocation) and kept as its byte
 * range, and `changes` is a lazy array (packed-records.ts) that builds a record when it is read.
 * Undefined exactly where decodeReadRecordsChanges is undefined; otherwise `changes` equals its
 * `changes` and the other fields are the same (spec/wire/packed-records.spec.ts).
 */
export function decodeReadRecordsPacked(bytes: Uint8Array): ReadRecordsChanges | undefined {
  const buf = bytes;
  // at most one record per 4 bytes of response: grown on demand from a small guess
  let capacity = 64;
  let starts = new Int32Array(capacity);
  let ends = new Int32Array(capacity);
  let actions = new Uint8Array(capacity);
  let count = 0;
  let byteSize = 0;
  const walked = walkResponse(buf, (start, end) => {
    if (!recordFields(buf, start, end, false)) return false;
    if (!scanChangeRecordFastAt(buf, fieldRecordStart, fieldRecordEnd)) return false;
    if (count === capacity) {
      capacity *= 4;
      const s = new Int32Array(capacity);
      s.set(starts);
      starts = s;
      const e = new Int32Array(capacity);
      e.set(ends);
      ends = e;
      const a = new Uint8Array(capacity);
      a.set(actions);
      actions = a;
    }
    starts[count] = fieldRecordStart;
    ends[count] = fieldRecordEnd;
    actions[count] = fieldActionCode;
    count++;
    byteSize += fieldRecordEnd - fieldRecordStart;
    return true;
  });
  if (!walked) return undefined;
  const segment: PackedSegment = { buf, starts, ends, actions, from: 0, to: count };
  const changes = lazyChangeRecords({ segments: count === 0 ? [] : [segment], length: count }) as ChangeRecord[];
  return walkedMayMore === undefined ? { changes, nextToken: walkedToken, byteSize } : { changes, nextToken: walkedToken, mayMoreRecord: walkedMayMore, byteSize };
}
