/**
 * Our table-API codecs against the official SDK's own compiled protobuf module
 * (`tablestore/lib/protocol/tablestore_compiled_proto.js`): whatever we encode the SDK reads as the
 * same message, and whatever the SDK encodes we read back.
 */
import { createRequire } from 'node:module';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  FILTER_MESSAGE_NAMES,
  FILTER_PROTO_PACKAGE,
  TABLE_APIS,
  TABLE_MESSAGE_NAMES,
  TABLE_PROTO_PACKAGE,
  filterMessages,
  tableCodec,
  tableMessages,
  tableSchema,
} from '../../lib/wire/table-messages.js';
import type { MessageCodec } from '../../lib/wire/proto-codec.js';
import { WireDecodeError } from '../../lib/wire/wire-error.js';
import { messageArbitrary, withoutField } from './proto-arbitraries.js';

const require = createRequire(import.meta.url);
// The SDK ships no types; only encode/decode/toObject of its static protobufjs code are used.
interface SdkMessageClass {
  decode(bytes: Uint8Array): object;
  encode(message: object): { finish(): Uint8Array };
  toObject(message: object, options: Record<string, unknown>): Record<string, unknown>;
}
const compiled = require('tablestore/lib/protocol/tablestore_compiled_proto.js') as {
  main: { proto: Record<string, SdkMessageClass> };
  filter: { proto: Record<string, SdkMessageClass> };
};
const TableStore = require('tablestore') as {
  encoder: { encode(operation: string, params: Record<string, unknown>): object };
  Condition: new (existence: number, columnCondition: unknown) => unknown;
  RowExistenceExpectation: Record<string, number>;
  SingleColumnCondition: new (name: string, value: unknown, comparator: number) => unknown;
  ComparatorType: Record<string, number>;
  ReturnType: Record<string, number>;
  Long: { fromNumber(n: number): unknown };
};

/** Our surfaced shape in the form the SDK's toObject({longs: String, enums: String, bytes: Array, arrays: true}) gives. */
function asSdkObject(value: unknown): unknown {
  if (typeof value === 'bigint') return value.toString();
  if (value instanceof Uint8Array) return Array.from(value);
  if (Array.isArray(value)) return value.map(asSdkObject);
  if (typeof value === 'object' && value !== null) return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, asSdkObject(v)]));
  return value;
}
const SDK_TO_OBJECT = { longs: String, enums: String, bytes: Array, arrays: true, defaults: false };

const cases = [
  ...TABLE_MESSAGE_NAMES.map((name) => ({ name, pkg: TABLE_PROTO_PACKAGE, codec: tableMessages[name] as MessageCodec<unknown>, sdk: compiled.main.proto })),
  ...FILTER_MESSAGE_NAMES.map((name) => ({ name, pkg: FILTER_PROTO_PACKAGE, codec: filterMessages[name] as MessageCodec<unknown>, sdk: compiled.filter.proto })),
];

describe('the SDK schema loads at run time', () => {
  it('parses with protobufjs 7 under the SDK package names, covering every message we serve', () => {
    const tableTypes = tableSchema().messageTypesIn('main.proto').map((t) => t.name);
    const filterTypes = tableSchema().messageTypesIn('filter.proto').map((t) => t.name);
    for (const name of TABLE_MESSAGE_NAMES) expect(tableTypes).toContain(name);
    expect([...filterTypes].sort()).toEqual([...FILTER_MESSAGE_NAMES].sort());
    for (const api of Object.values(TABLE_APIS)) {
      expect(TABLE_MESSAGE_NAMES).toContain(api.request);
      expect(TABLE_MESSAGE_NAMES).toContain(api.response);
      expect(api.path).toBe(`/${api.request.replace(/Request$/, '')}`);
    }
  });

  it('reaches the other messages loosely typed', () => {
    const codec = tableCodec('ComputeSplitPointsBySizeRequest');
    expect(codec.decode(codec.encode({ tableName: 't', splitSize: 5n }))).toEqual({ _tag: 'Right', right: { tableName: 't', splitSize: 5n } });
  });
});

describe.each(cases)('$pkg.$name against the SDK codec', ({ name, pkg, codec, sdk }) => {
  const type = tableSchema().lookupType(`${pkg}.${name}`);
  const sdkClass = sdk[name] as SdkMessageClass;

  it('the SDK reads what we write, and we read what the SDK writes back', () => {
    fc.assert(
      fc.property(messageArbitrary(type), (message) => {
        const ours = codec.encode(message);
        const sdkMessage = sdkClass.decode(ours);
        expect(sdkClass.toObject(sdkMessage, SDK_TO_OBJECT)).toEqual(asSdkObject(message));
        expect(codec.decode(sdkClass.encode(sdkMessage).finish())).toEqual({ _tag: 'Right', right: message });
      }),
      { numRuns: 30 },
    );
  });

  it('random bytes decode to an Either, never a throw', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 48 }), (bytes) => {
        const result = codec.decode(bytes);
        if (result._tag === 'Left') expect(result.left).toBeInstanceOf(WireDecodeError);
      }),
      { numRuns: 100 },
    );
  });
});

describe('what the SDK actually sends', () => {
  it('PutRow: condition and return content come out with enum names', () => {
    const request = TableStore.encoder.encode('putRow', {
      tableName: 'orders',
      condition: new TableStore.Condition(TableStore.RowExistenceExpectation.EXPECT_NOT_EXIST as number, null),
      primaryKey: [{ id: 'a' }],
      attributeColumns: [{ amount: TableStore.Long.fromNumber(5) }],
      returnContent: { returnType: TableStore.ReturnType.Primarykey },
    });
    const bytes = compiled.main.proto.PutRowRequest!.encode(request).finish();
    const decoded = tableMessages.PutRowRequest.decode(bytes);
    if (decoded._tag === 'Left') throw decoded.left;
    expect(decoded.right).toMatchObject({
      tableName: 'orders',
      condition: { rowExistence: 'EXPECT_NOT_EXIST' },
      returnContent: { returnType: 'RT_PK', returnColumnNames: [] },
    });
    expect(decoded.right.row[0]).toBe(0x75);
  });

  it('GetRange: always max_versions, limit only when given, a filter as Filter bytes', () => {
    const request = TableStore.encoder.encode('getRange', {
      tableName: 't',
      direction: 'BACKWARD',
      inclusiveStartPrimaryKey: [{ id: 'z' }],
      exclusiveEndPrimaryKey: [{ id: 'a' }],
      limit: 10,
      columnFilter: new TableStore.SingleColumnCondition('n', TableStore.Long.fromNumber(3), TableStore.ComparatorType.GREATER_THAN as number),
    });
    const decoded = tableMessages.GetRangeRequest.decode(compiled.main.proto.GetRangeRequest!.encode(request).finish());
    if (decoded._tag === 'Left') throw decoded.left;
    expect(decoded.right).toMatchObject({ tableName: 't', direction: 'BACKWARD', maxVersions: 1, limit: 10, columnsToGet: [] });
    const filter = filterMessages.Filter.decode(decoded.right.filter as Uint8Array);
    if (filter._tag === 'Left') throw filter.left;
    expect(filter.right.type).toBe('FT_SINGLE_COLUMN_VALUE');
    const single = filterMessages.SingleColumnValueFilter.decode(filter.right.filter);
    expect(single).toEqual({
      _tag: 'Right',
      right: {
        comparator: 'CT_GREATER_THAN',
        columnName: 'n',
        columnValue: new Uint8Array([0, 3, 0, 0, 0, 0, 0, 0, 0]),
        filterIfMissing: false,
        latestVersionOnly: true,
      },
    });
  });

  it('a response missing a required field is a Left naming it (the SDK would reject it too)', () => {
    const bytes = tableMessages.GetRowResponse.encode({ consumed: { capacityUnit: { read: 1 } }, row: new Uint8Array() });
    const result = tableMessages.GetRowResponse.decode(withoutField(bytes, 2));
    expect(result._tag).toBe('Left');
    if (result._tag === 'Right') return;
    expect(result.left.issues).toEqual([{ path: 'row', problem: "missing required field 'row' of GetRowResponse" }]);
    expect(() => compiled.main.proto.GetRowResponse!.decode(withoutField(bytes, 2))).toThrow(/missing required 'row'/);
  });
});
