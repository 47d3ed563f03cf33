import { left, right } from 'fp-ts/lib/Either.js';
import type { Either } from 'fp-ts/lib/Either.js';
import { decodeRow, decodeRowWithoutPrimaryKey } from '../wire/plainbuffer/index.js';
import { decodeChangeRecordFast } from '../wire/plainbuffer/decode-fast.js';
import type { ChangeRecord } from '../wire/types.js';
import type { RawRecord, RecordDecodeFailure } from './model.js';

/**
 * Decodes one ReadRecords response in a single loop. One bad record refuses the whole batch:
 * delivering the rest would let a checkpoint skip the bad one.
 */
export function decodeRecords(records: readonly RawRecord[]): Either<RecordDecodeFailure, ChangeRecord[]> {
  const decoded = new Array<ChangeRecord>(records.length);
  for (let index = 0; index < records.length; index++) {
    const raw = records[index] as RawRecord;
    // the fast path builds the record itself (no Row, no Either); decodeRow reads a record it
    // declines again and says what is wrong
    let change = decodeChangeRecordFast(raw.record, raw.action);
    if (change === undefined) {
      const row = decodeRow(raw.record);
      if (row._tag === 'Left') {
        return left({ kind: 'RecordDecodeFailure', recordIndex: index, part: 'record', message: row.left.message, cause: row.left });
      }
      const { primaryKey, cells, sequence } = row.right;
      change = sequence === undefined ? { action: raw.action, primaryKey, cells } : { action: raw.action, primaryKey, cells, sequence };
    }
    if (raw.originRecord !== undefined && raw.originRecord.length > 0) {
      const origin = decodeRowWithoutPrimaryKey(raw.originRecord);
      if (origin._tag === 'Left') {
        return left({ kind: 'RecordDecodeFailure', recordIndex: index, part: 'originRecord', message: origin.left.message, cause: origin.left });
      }
      change = { ...change, originCells: origin.right.cells };
    }
    decoded[index] = change;
  }
  return right(decoded);
}
