/**
 * decodeChangeRecordFast, the tunnel's per-record decode: for any bytes (rows the encoder writes,
 * and those with bytes edited) it is undefined exactly where decodeRowFast is, and otherwise the
 * same row as a ChangeRecord of the given action (no deleteMarker, the sequence when present).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeChangeRecordFast, decodeRowFast } from '../../../lib/wire/plainbuffer/decode-fast.js';
import { encodeRow } from '../../../lib/wire/plainbuffer/index.js';
import type { RecordAction } from '../../../lib/wire/types.js';
import { applyByteEdits, byteEdit, row } from './arbitraries.js';

const action = fc.constantFrom<RecordAction>('PUT_ROW', 'UPDATE_ROW', 'DELETE_ROW');

describe('decodeChangeRecordFast', () => {
  it("is decodeRowFast's row as a change record, and undefined where it is", () => {
    fc.assert(
      fc.property(row({ minPrimaryKey: 1 }), action, fc.array(byteEdit(), { maxLength: 2 }), (r, act, edits) => {
        for (const bytes of [encodeRow(r), applyByteEdits(encodeRow(r), edits)]) {
          const fast = decodeRowFast(bytes, true);
          const change = decodeChangeRecordFast(bytes, act);
          if (fast === undefined) expect(change).toBeUndefined();
          else expect(change).toStrictEqual(fast.sequence === undefined ? { action: act, primaryKey: fast.primaryKey, cells: fast.cells } : { action: act, primaryKey: fast.primaryKey, cells: fast.cells, sequence: fast.sequence });
        }
      }),
      { numRuns: 400 },
    );
  });
});
