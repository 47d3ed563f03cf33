import { describe, expect, it } from 'vitest';
import {
  crc8,
  decodeRow,
  decodeRows,
  encodeFilterValue,
  encodePrimaryKey,
  encodeRow,
  encodeRows,
} from '../../../lib/wire/plainbuffer/index.js';
import { INF_MIN } from '../../../lib/wire/types.js';
import type { Cell, Row } from '../../../lib/wire/types.js';

const pk = [{ name: 'pk', value: 'k' }] as const;
const rowWith = (cells: readonly Cell[]): Row => ({ primaryKey: pk, cells, deleteMarker: false });

describe('encoder programmer errors throw, data never silently changes', () => {
  it.each([
    ['negative timestamp', { op: 'put', name: 'c', value: 1n, timestamp: -1 }],
    ['fractional timestamp', { op: 'put', name: 'c', value: 1n, timestamp: 1.5 }],
    ['unsafe timestamp', { op: 'put', name: 'c', value: 1n, timestamp: 2 ** 53 }],
    ['int64 overflow', { op: 'put', name: 'c', value: 2n ** 63n }],
    ['int64 underflow', { op: 'increment', name: 'c', value: -(2n ** 63n) - 1n }],
    ['sentinel as a column value', { op: 'put', name: 'c', value: INF_MIN }],
    ['lone surrogate in a value', { op: 'put', name: 'c', value: 'a\uD800b' }],
    ['lone surrogate in a name', { op: 'deleteAllVersions', name: '\uDC00' }],
    ['increment of a double', { op: 'increment', name: 'c', value: 1.5 }],
    ['unknown op', { op: 'merge', name: 'c' }],
  ])('%s', (_, cell) => {
    expect(() => encodeRow(rowWith([cell as unknown as Cell]))).toThrow();
  });

  it('rejects a sequence outside its field widths and a number as a key', () => {
    expect(() => encodeRow({ ...rowWith([]), sequence: { epoch: -1, timestamp: 0n, rowIndex: 0 } })).toThrow(RangeError);
    expect(() => encodeRow({ ...rowWith([]), sequence: { epoch: 0, timestamp: 0n, rowIndex: 2 ** 32 } })).toThrow(RangeError);
    expect(() => encodePrimaryKey([{ name: 'pk', value: 1 as unknown as bigint }])).toThrow(TypeError);
  });

  it('keeps working after a throw', () => {
    expect(() => encodeRow(rowWith([{ op: 'put', name: 'c', value: 1n, timestamp: -1 }]))).toThrow();
    const row = rowWith([{ op: 'put', name: 'c', value: 'v', timestamp: 1 }]);
    expect(decodeRow(encodeRow(row))).toStrictEqual({ _tag: 'Right', right: row });
  });

  it('handles rows larger than its scratch buffer, and small rows afterwards', () => {
    const big = new Uint8Array(1536 * 1024).map((_, i) => (i * 7) & 0xff);
    const text = 'é'.repeat(100_000);
    const bigRow = rowWith([{ op: 'put', name: 'blob', value: big, timestamp: 1 }, { op: 'put', name: 's', value: text }]);
    const decoded = decodeRow(encodeRow(bigRow));
    if (decoded._tag === 'Left') throw decoded.left;
    const [blob, str] = decoded.right.cells as [Cell & { value: Uint8Array }, Cell & { value: string }];
    // compare natively: a deep equality over 1.5M elements would dominate the test time
    expect(Buffer.from(blob.value).equals(Buffer.from(big))).toBe(true);
    expect(str.value === text).toBe(true);
    const small = rowWith([{ op: 'put', name: 'c', value: true }]);
    expect(decodeRow(encodeRow(small))).toStrictEqual({ _tag: 'Right', right: small });
  });

  it('returns independent buffers', () => {
    const a = encodeRow(rowWith([{ op: 'put', name: 'c', value: 'a' }]));
    const copy = a.slice();
    encodeRow(rowWith([{ op: 'put', name: 'c', value: 'b' }]));
    expect(a).toStrictEqual(copy);
    expect(encodeFilterValue(true)).toStrictEqual(Buffer.from([0x02, 0x01]));
  });

  it('writes names and strings with their UTF-8 byte length', () => {
    const encoded = encodeRow(rowWith([{ op: 'put', name: '价格', value: '€', timestamp: 1 }]));
    const hex = Buffer.from(encoded).toString('hex');
    expect(hex).toContain('0406000000' + Buffer.from('价格').toString('hex'));
    expect(hex).toContain('050800000003' + '03000000' + Buffer.from('€').toString('hex'));
  });
});

describe('decoder name cache', () => {
  it('never confuses two names with the same CRC and length', () => {
    // find two different 2-byte ASCII names whose CRC-8 collides
    const seen = new Map<number, string>();
    let pair: [string, string] | undefined;
    for (let a = 0x41; a < 0x7b && !pair; a++) {
      for (let b = 0x41; b < 0x7b && !pair; b++) {
        const name = String.fromCharCode(a, b);
        const crc = crc8(0, Buffer.from(name));
        const other = seen.get(crc);
        if (other !== undefined) pair = [other, name];
        else seen.set(crc, name);
      }
    }
    expect(pair).toBeDefined();
    const [first, second] = pair!;
    const rows: Row[] = [first, second, first, second].map((name) => rowWith([{ op: 'put', name, value: 1n }]));
    expect(decodeRows(encodeRows(rows))).toStrictEqual({ _tag: 'Right', right: rows });
    for (const row of rows) expect(decodeRow(encodeRow(row))).toStrictEqual({ _tag: 'Right', right: row });
  });
});
