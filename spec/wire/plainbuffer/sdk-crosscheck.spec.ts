/**
 * The official Node SDK (`tablestore@5.6.5`) as an oracle: what its PlainBufferBuilder sends must
 * decode to the intended rows, and what our encoder writes for responses must come out of the
 * SDK's own response decoder (decoder.js → PlainBufferCodedInputStream) intact.
 */
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  decodeFilterValue,
  decodeRow,
  decodeRows,
  encodePrimaryKey,
  encodeRow,
  encodeRows,
} from '../../../lib/wire/plainbuffer/index.js';
import { AUTO_INCREMENT, INF_MAX, INF_MIN } from '../../../lib/wire/types.js';
import type { Cell, ColumnValue, PrimaryKeyCell, PrimaryKeyValue, Row } from '../../../lib/wire/types.js';
import { bytes, columnValue, int64, text, timestampMs } from './arbitraries.js';

const require = createRequire(import.meta.url);
const TableStore: any = require('tablestore');
const protos: any = require('tablestore/lib/protocol/tablestore_compiled_proto.js').main.proto;
const builder = TableStore.PlainBufferBuilder;

const right = <T>(value: T) => ({ _tag: 'Right', right: value });

// ---- our model → SDK request shapes ---------------------------------------------------------

function sdkValue(value: ColumnValue | PrimaryKeyValue): unknown {
  if (typeof value === 'bigint') return TableStore.Long.fromString(value.toString());
  if (value instanceof Uint8Array) return Buffer.from(value);
  if (typeof value === 'object') {
    return value === INF_MIN ? TableStore.INF_MIN : value === INF_MAX ? TableStore.INF_MAX : TableStore.PK_AUTO_INCR;
  }
  return value;
}

const sdkPrimaryKey = (pk: readonly PrimaryKeyCell[]) => pk.map((c) => ({ [c.name]: sdkValue(c.value) }));

function sdkAttribute(cell: { name: string; value: ColumnValue; timestamp?: number }): Record<string, unknown> {
  const attribute: Record<string, unknown> = { [cell.name]: sdkValue(cell.value) };
  if (cell.timestamp !== undefined) attribute['timestamp'] = cell.timestamp;
  return attribute;
}

function sdkUpdate(cell: Cell): Record<string, unknown[]> {
  switch (cell.op) {
    case 'put':
      return { PUT: [sdkAttribute(cell)] };
    case 'increment':
      return { INCREMENT: [sdkAttribute(cell)] };
    case 'deleteOneVersion':
      return { DELETE: [{ [cell.name]: cell.timestamp }] };
    case 'deleteAllVersions':
      return { DELETE_ALL: [cell.name] };
  }
}

// ---- SDK response decoding → our model ------------------------------------------------------

function fromSdkValue(value: any): ColumnValue {
  if (Buffer.isBuffer(value)) return new Uint8Array(value);
  if (value !== null && typeof value === 'object') return BigInt(value.toString());
  return value;
}

function fromSdkRow(sdkRow: any): Row {
  return {
    primaryKey: sdkRow.primaryKey.map((c: any) => ({ name: c.name, value: fromSdkValue(c.value) })),
    cells: sdkRow.attributes.map((a: any): Cell =>
      a.timestamp === null || a.timestamp === undefined
        ? { op: 'put', name: a.columnName, value: fromSdkValue(a.columnValue) }
        : { op: 'put', name: a.columnName, value: fromSdkValue(a.columnValue), timestamp: Number(a.timestamp.toString()) },
    ),
    deleteMarker: false,
  };
}

const consumed = { capacityUnit: { read: 1, write: 0 } };

function sdkGetRow(row: Uint8Array): any {
  const message = protos.GetRowResponse.encode({ consumed, row: Buffer.from(row) }).finish();
  return TableStore.decoder.decode('getRow', message);
}

function sdkGetRange(rows: Uint8Array, nextStartPrimaryKey?: Uint8Array): any {
  const message = protos.GetRangeResponse.encode({
    consumed,
    rows: Buffer.from(rows),
    ...(nextStartPrimaryKey ? { nextStartPrimaryKey: Buffer.from(nextStartPrimaryKey) } : {}),
  }).finish();
  return TableStore.decoder.decode('getRange', message);
}

// ---- generators restricted to what the SDK can write ----------------------------------------

/** The SDK writes names with their UTF-16 length (a bug for non-ASCII) and reserves `timestamp`. */
const sdkName = () => fc.stringMatching(/^[A-Za-z_][A-Za-z0-9_]{0,10}$/).filter((n) => n !== 'timestamp');
const plain = <T extends object>(value: T): T => ({ ...value });
const sdkPrimaryKeyCell = (sentinels: boolean) =>
  fc
    .record({
      name: sdkName(),
      value: sentinels ? fc.oneof(int64(), text(), bytes(), fc.constantFrom(INF_MIN, INF_MAX, AUTO_INCREMENT)) : fc.oneof(int64(), text(), bytes()),
    })
    .map(plain);
const sdkPut = () =>
  fc.record({ op: fc.constant('put' as const), name: sdkName(), value: columnValue(), timestamp: timestampMs() }, { requiredKeys: ['op', 'name', 'value'] }).map(plain);
const sdkCell = (): fc.Arbitrary<Cell> =>
  fc.oneof(
    sdkPut(),
    fc.record({ op: fc.constant('deleteOneVersion' as const), name: sdkName(), timestamp: timestampMs() }).map(plain),
    fc.record({ op: fc.constant('deleteAllVersions' as const), name: sdkName() }).map(plain),
    fc.record({ op: fc.constant('increment' as const), name: sdkName(), value: int64(), timestamp: timestampMs() }, { requiredKeys: ['op', 'name', 'value'] }).map(plain),
  );

describe('SDK requests decode to the intended rows', () => {
  it('PutRow with every value type, a binary key and a negative int64', () => {
    const bytes = builder.serializeForPutRow(
      [{ UserId: 'u1' }, { Seq: TableStore.Long.fromString('-9223372036854775808') }, { Bin: Buffer.from([0, 255]) }],
      [{ price: 12.5, timestamp: 1_700_000_000_123 }, { qty: TableStore.Long.fromNumber(3) }, { ok: true }, { note: '价格 ok' }, { raw: Buffer.from([1, 2, 3]) }],
    );
    expect(decodeRow(bytes)).toStrictEqual(
      right({
        primaryKey: [
          { name: 'UserId', value: 'u1' },
          { name: 'Seq', value: -(2n ** 63n) },
          { name: 'Bin', value: Uint8Array.of(0, 255) },
        ],
        cells: [
          { op: 'put', name: 'price', value: 12.5, timestamp: 1_700_000_000_123 },
          { op: 'put', name: 'qty', value: 3n },
          { op: 'put', name: 'ok', value: true },
          { op: 'put', name: 'note', value: '价格 ok' },
          { op: 'put', name: 'raw', value: Uint8Array.of(1, 2, 3) },
        ],
        deleteMarker: false,
      }),
    );
  });

  it('PutRow with an auto-increment key (the SDK leaves a padding byte)', () => {
    const bytes: Buffer = builder.serializeForPutRow([{ pk1: 'a' }, { pk2: TableStore.PK_AUTO_INCR }], [{ c: 'v' }]);
    expect(bytes[bytes.length - 1]).toBe(0);
    expect(decodeRow(bytes)).toStrictEqual(
      right({
        primaryKey: [{ name: 'pk1', value: 'a' }, { name: 'pk2', value: AUTO_INCREMENT }],
        cells: [{ op: 'put', name: 'c', value: 'v' }],
        deleteMarker: false,
      }),
    );
  });

  it('UpdateRow with PUT, DELETE, DELETE_ALL and INCREMENT', () => {
    const bytes = builder.serializeForUpdateRow(
      [{ pk1: 'a' }],
      [
        { PUT: [{ c1: 'y' }, { c2: 'z', timestamp: 2000 }] },
        { DELETE: [{ c3: 3000 }] },
        { DELETE_ALL: ['c4'] },
        { INCREMENT: [{ n: TableStore.Long.fromNumber(5) }] },
      ],
    );
    expect(decodeRow(bytes)).toStrictEqual(
      right({
        primaryKey: [{ name: 'pk1', value: 'a' }],
        cells: [
          { op: 'put', name: 'c1', value: 'y' },
          { op: 'put', name: 'c2', value: 'z', timestamp: 2000 },
          { op: 'deleteOneVersion', name: 'c3', timestamp: 3000 },
          { op: 'deleteAllVersions', name: 'c4' },
          { op: 'increment', name: 'n', value: 5n },
        ],
        deleteMarker: false,
      }),
    );
  });

  it('DeleteRow, GetRow keys and GetRange bounds', () => {
    expect(decodeRow(builder.serializeForDeleteRow([{ pk1: 'a' }, { pk2: TableStore.Long.fromNumber(7) }]))).toStrictEqual(
      right({ primaryKey: [{ name: 'pk1', value: 'a' }, { name: 'pk2', value: 7n }], cells: [], deleteMarker: true }),
    );
    const bounds = builder.serializePrimaryKey([{ pk1: TableStore.INF_MIN }, { pk2: TableStore.INF_MAX }]);
    expect(decodeRow(bounds)).toStrictEqual(
      right({ primaryKey: [{ name: 'pk1', value: INF_MIN }, { name: 'pk2', value: INF_MAX }], cells: [], deleteMarker: false }),
    );
    // our encoder writes the same bytes, minus the SDK's padding
    const ours = encodePrimaryKey([{ name: 'pk1', value: INF_MIN }, { name: 'pk2', value: INF_MAX }]);
    expect(Buffer.from(bounds).subarray(0, ours.length).equals(Buffer.from(ours))).toBe(true);
    expect(bounds.subarray(ours.length).every((b: number) => b === 0)).toBe(true);
  });

  it('random PutRow requests', () => {
    fc.assert(
      fc.property(fc.array(sdkPrimaryKeyCell(true), { minLength: 1, maxLength: 4 }), fc.array(sdkPut(), { maxLength: 6 }), (primaryKey, cells) => {
        const bytes = builder.serializeForPutRow(sdkPrimaryKey(primaryKey), cells.map(sdkAttribute));
        expect(decodeRow(bytes)).toStrictEqual(right({ primaryKey, cells, deleteMarker: false }));
      }),
      { numRuns: 400 },
    );
  });

  it('random UpdateRow requests', () => {
    fc.assert(
      fc.property(fc.array(sdkPrimaryKeyCell(false), { minLength: 1, maxLength: 3 }), fc.array(sdkCell(), { maxLength: 6 }), (primaryKey, cells) => {
        const bytes = builder.serializeForUpdateRow(sdkPrimaryKey(primaryKey), cells.map(sdkUpdate));
        expect(decodeRow(bytes)).toStrictEqual(right({ primaryKey, cells, deleteMarker: false }));
      }),
      { numRuns: 400 },
    );
  });

  it('random DeleteRow requests and GetRow/GetRange keys', () => {
    fc.assert(
      fc.property(fc.array(sdkPrimaryKeyCell(true), { minLength: 1, maxLength: 4 }), (primaryKey) => {
        expect(decodeRow(builder.serializeForDeleteRow(sdkPrimaryKey(primaryKey)))).toStrictEqual(right({ primaryKey, cells: [], deleteMarker: true }));
        expect(decodeRow(builder.serializePrimaryKey(sdkPrimaryKey(primaryKey)))).toStrictEqual(right({ primaryKey, cells: [], deleteMarker: false }));
      }),
      { numRuns: 300 },
    );
  });

  it('random filter values (SingleColumnValueFilter.column_value)', () => {
    fc.assert(
      fc.property(columnValue(), (value) => {
        expect(decodeFilterValue(builder.serializeColumnValue(sdkValue(value)))).toStrictEqual(right(value));
      }),
      { numRuns: 400 },
    );
  });
});

describe('our response rows decode with the SDK', () => {
  const responsePrimaryKeyCell = () => fc.record({ name: text(), value: fc.oneof(int64(), text(), bytes()) }).map(plain);
  const responseCell = () =>
    fc.record({ op: fc.constant('put' as const), name: text(), value: columnValue(), timestamp: timestampMs() }, { requiredKeys: ['op', 'name', 'value'] }).map(plain);
  const responseRow = () =>
    fc.record({
      primaryKey: fc.array(responsePrimaryKeyCell(), { minLength: 1, maxLength: 4 }),
      cells: fc.array(responseCell(), { maxLength: 6 }),
      deleteMarker: fc.constant(false),
    }).map(plain);

  it('GetRow with unicode names and every value type', () => {
    const row: Row = {
      primaryKey: [{ name: '用户', value: 'u1' }, { name: 'n', value: 2n ** 63n - 1n }, { name: 'b', value: Uint8Array.of(9) }],
      cells: [
        { op: 'put', name: '价格', value: 1.25, timestamp: 1_700_000_000_000 },
        { op: 'put', name: '列', value: '值', timestamp: 1 },
        { op: 'put', name: 'flag', value: false, timestamp: 2 },
        { op: 'put', name: 'i', value: -5n, timestamp: 3 },
        { op: 'put', name: 'bin', value: Uint8Array.of(0, 1), timestamp: 4 },
      ],
      deleteMarker: false,
    };
    expect(fromSdkRow(sdkGetRow(encodeRow(row)).row)).toStrictEqual(row);
  });

  it('the SDK ignores a delete marker', () => {
    const row: Row = { primaryKey: [{ name: 'pk', value: 'k' }], cells: [], deleteMarker: true };
    expect(sdkGetRow(encodeRow(row)).row).toMatchObject({ primaryKey: [{ name: 'pk', value: 'k' }], attributes: [] });
  });

  it('zero-length GetRange rows are [] for both', () => {
    expect(encodeRows([])).toHaveLength(0);
    expect(sdkGetRange(encodeRows([])).rows).toStrictEqual([]);
    expect(decodeRows(encodeRows([]))).toStrictEqual(right([]));
  });

  it('random GetRow and GetRange responses', () => {
    fc.assert(
      fc.property(fc.array(responseRow(), { minLength: 1, maxLength: 4 }), fc.array(responsePrimaryKeyCell(), { minLength: 1, maxLength: 3 }), (rows, next) => {
        expect(fromSdkRow(sdkGetRow(encodeRow(rows[0]!)).row)).toStrictEqual(rows[0]);
        const range = sdkGetRange(encodeRows(rows), encodePrimaryKey(next));
        expect(range.rows.map(fromSdkRow)).toStrictEqual(rows);
        expect(range.nextStartPrimaryKey.map((c: any) => ({ name: c.name, value: fromSdkValue(c.value) }))).toStrictEqual(next);
      }),
      { numRuns: 300 },
    );
  });
});
