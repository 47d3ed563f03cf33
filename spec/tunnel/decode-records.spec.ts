import { describe, expect, it } from 'vitest';
import { decodeRecords } from '../../lib/tunnel/decode-records.js';
import { encodeRow } from '../../lib/wire/plainbuffer/index.js';
import type { RawRecord } from '../../lib/tunnel/model.js';

const pk = [
  { name: 'UserId', value: 'u1' },
  { name: 'OrderId', value: 'o1' },
];
const sequence = { epoch: 0, timestamp: 1_700_000_000_000_000n, rowIndex: 3 };

/** tunnel-protocol.md §6.7: origin_record with an empty PK section; col1="old" ts=900 */
const ORIGIN_VECTOR = Buffer.from('750000000102030404000000636f6c31050800000003030000006f6c640784030000000000000a4b09cc', 'hex');

describe('decodeRecords', () => {
  it('decodes puts, updates with delete cells, deletes, sequence info and origin columns in one pass', () => {
    const records: RawRecord[] = [
      {
        action: 'PUT_ROW',
        record: encodeRow({ primaryKey: pk, cells: [{ op: 'put', name: 'price', value: 12.5, timestamp: 1000 }], deleteMarker: false, sequence }),
      },
      {
        action: 'UPDATE_ROW',
        record: encodeRow({
          primaryKey: pk,
          cells: [
            { op: 'put', name: 'price', value: 13.5, timestamp: 2000 },
            { op: 'deleteOneVersion', name: 'note', timestamp: 1500 },
            { op: 'deleteAllVersions', name: 'tag' },
          ],
          deleteMarker: false,
          sequence: { ...sequence, rowIndex: 4 },
        }),
        originRecord: ORIGIN_VECTOR,
      },
      { action: 'DELETE_ROW', record: encodeRow({ primaryKey: pk, cells: [], deleteMarker: true, sequence: { ...sequence, rowIndex: 5 } }) },
    ];
    const decoded = decodeRecords(records);
    expect(decoded).toEqual({
      _tag: 'Right',
      right: [
        { action: 'PUT_ROW', primaryKey: pk, cells: [{ op: 'put', name: 'price', value: 12.5, timestamp: 1000 }], sequence },
        {
          action: 'UPDATE_ROW',
          primaryKey: pk,
          cells: [
            { op: 'put', name: 'price', value: 13.5, timestamp: 2000 },
            { op: 'deleteOneVersion', name: 'note', timestamp: 1500 },
            { op: 'deleteAllVersions', name: 'tag' },
          ],
          sequence: { ...sequence, rowIndex: 4 },
          originCells: [{ op: 'put', name: 'col1', value: 'old', timestamp: 900 }],
        },
        { action: 'DELETE_ROW', primaryKey: pk, cells: [], sequence: { ...sequence, rowIndex: 5 } },
      ],
    });
  });

  it('base-data records carry no sequence', () => {
    const decoded = decodeRecords([{ action: 'PUT_ROW', record: encodeRow({ primaryKey: pk, cells: [], deleteMarker: false }) }]);
    expect(decoded._tag === 'Right' && decoded.right[0]).toEqual({ action: 'PUT_ROW', primaryKey: pk, cells: [] });
  });

  it('refuses the whole batch at the first bad record, naming it', () => {
    const good = encodeRow({ primaryKey: pk, cells: [], deleteMarker: false });
    const truncated = good.subarray(0, good.length - 3);
    const decoded = decodeRecords([
      { action: 'PUT_ROW', record: good },
      { action: 'PUT_ROW', record: truncated },
    ]);
    expect(decoded._tag).toBe('Left');
    expect(decoded._tag === 'Left' && decoded.left).toMatchObject({ kind: 'RecordDecodeFailure', recordIndex: 1, part: 'record' });
    const badOrigin = decodeRecords([{ action: 'UPDATE_ROW', record: good, originRecord: Uint8Array.of(1, 2, 3) }]);
    expect(badOrigin._tag === 'Left' && badOrigin.left).toMatchObject({ recordIndex: 0, part: 'originRecord' });
  });

  it('an empty batch is an empty array', () => {
    expect(decodeRecords([])).toEqual({ _tag: 'Right', right: [] });
  });
});
