/** Test vectors of tunnel-protocol.md §6.7 and tablestore-wire.md §3.4, with the rows they encode. */
import type { Row } from '../../../lib/wire/types.js';

export interface Vector {
  readonly name: string;
  readonly hex: string;
  readonly row: Row;
  /** origin_record form: decode with decodeRowWithoutPrimaryKey */
  readonly withoutPrimaryKey?: boolean;
}

const pk1a = { name: 'pk1', value: 'a' } as const;

export const VECTORS: readonly Vector[] = [
  {
    name: 'PutRow pk1="a", pk2=1; col1="x" ts 1000',
    hex: '7500000001030403000000706b3105060000000301000000610a19030403000000706b3205090000000001000000000000000ae802030404000000636f6c31050600000003010000007807e8030000000000000a550913',
    row: {
      primaryKey: [pk1a, { name: 'pk2', value: 1n }],
      cells: [{ op: 'put', name: 'col1', value: 'x', timestamp: 1000 }],
      deleteMarker: false,
    },
  },
  {
    name: 'UpdateRow pk1="a"; col1="y" ts 2000; col2 DELETE_ONE_VERSION ts 3000; col3 DELETE_ALL_VERSION',
    hex: '7500000001030403000000706b3105060000000301000000610a1902030404000000636f6c31050600000003010000007907d0070000000000000a98030404000000636f6c32060307b80b0000000000000a78030404000000636f6c3306010a730904',
    row: {
      primaryKey: [pk1a],
      cells: [
        { op: 'put', name: 'col1', value: 'y', timestamp: 2000 },
        { op: 'deleteOneVersion', name: 'col2', timestamp: 3000 },
        { op: 'deleteAllVersions', name: 'col3' },
      ],
      deleteMarker: false,
    },
  },
  {
    name: 'DeleteRow pk1="a" with delete marker',
    hex: '7500000001030403000000706b3105060000000301000000610a190809ed',
    row: { primaryKey: [pk1a], cells: [], deleteMarker: true },
  },
  {
    name: 'stream PutRow pk1="a"; col1="x" ts 1000; seq(0, 1700000000000000 µs, 0)',
    hex: '7500000001030403000000706b3105060000000301000000610a1902030404000000636f6c31050600000003010000007807e8030000000000000a550b180000000c130000000d000000000e00401e18240a06000f0000000009d5',
    row: {
      primaryKey: [pk1a],
      cells: [{ op: 'put', name: 'col1', value: 'x', timestamp: 1000 }],
      deleteMarker: false,
      sequence: { epoch: 0, timestamp: 1_700_000_000_000_000n, rowIndex: 0 },
    },
  },
  {
    name: 'origin_record (empty PK section); col1="old" ts 900',
    hex: '750000000102030404000000636f6c31050800000003030000006f6c640784030000000000000a4b09cc',
    row: { primaryKey: [], cells: [{ op: 'put', name: 'col1', value: 'old', timestamp: 900 }], deleteMarker: false },
    withoutPrimaryKey: true,
  },
];

export function fromHex(hex: string): Uint8Array {
  return new Uint8Array(Buffer.from(hex.replace(/\s+/g, ''), 'hex'));
}

export function toHex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}
