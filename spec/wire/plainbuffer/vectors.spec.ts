import { describe, expect, it } from 'vitest';
import { isRight } from 'fp-ts/lib/Either.js';
import {
  crc8,
  decodeFilterValue,
  decodeRow,
  decodeRowWithoutPrimaryKey,
  decodeRows,
  encodeFilterValue,
  encodePrimaryKey,
  encodeRow,
  encodeRows,
} from '../../../lib/wire/plainbuffer/index.js';
import { crc8 as crc8FromFile } from '../../../lib/wire/plainbuffer/crc8.js';
import { INF_MAX, INF_MIN } from '../../../lib/wire/types.js';
import { VECTORS, fromHex, toHex } from './vectors.js';

describe('PlainBuffer §6.7 test vectors', () => {
  for (const vector of VECTORS) {
    it(`decodes ${vector.name}`, () => {
      const decode = vector.withoutPrimaryKey ? decodeRowWithoutPrimaryKey : decodeRow;
      expect(decode(fromHex(vector.hex))).toStrictEqual({ _tag: 'Right', right: vector.row });
    });
    it(`re-encodes ${vector.name} byte for byte`, () => {
      expect(toHex(encodeRow(vector.row))).toBe(vector.hex);
    });
  }

  it('decodes the origin record only with the PK-less decoder', () => {
    const origin = VECTORS.find((v) => v.withoutPrimaryKey)!;
    const result = decodeRow(fromHex(origin.hex));
    expect(result).toMatchObject({ _tag: 'Left', left: { code: 'UNEXPECTED_TAG', offset: 5 } });
  });

  it('reads all five rows when concatenated behind one header', () => {
    const withPk = VECTORS.filter((v) => !v.withoutPrimaryKey);
    const body = withPk.map((v) => v.hex.slice(8)).join('');
    expect(decodeRows(fromHex('75000000' + body))).toStrictEqual({ _tag: 'Right', right: withPk.map((v) => v.row) });
    expect(toHex(encodeRows(withPk.map((v) => v.row)))).toBe('75000000' + body);
  });
});

describe('captured SDK requests (tablestore-wire.md §3.4)', () => {
  it('GetRow key pk1="a"', () => {
    const hex = '7500000001030403000000706b3105060000000301000000610a1909ea';
    expect(toHex(encodePrimaryKey([{ name: 'pk1', value: 'a' }]))).toBe(hex);
    expect(decodeRow(fromHex(hex))).toStrictEqual({
      _tag: 'Right',
      right: { primaryKey: [{ name: 'pk1', value: 'a' }], cells: [], deleteMarker: false },
    });
  });

  it('UpdateRow with PUT, PUT+ts, DELETE, DELETE_ALL, INCREMENT and 26 padding bytes', () => {
    const hex =
      '7500000001030403000000706b3105060000000301000000610a1902' +
      '0304020000006331050600000003010000007' + '90a5b' +
      '0304020000006332050600000003010000007a07d0070000000000000a52' +
      '030402000000633306030' + '7b80b0000000000000acd' +
      '03040200000063340601' + '0ad2' +
      '0304010000006e0509000000000500000000000000' + '06040a00' +
      '09a9' +
      '00'.repeat(26);
    const result = decodeRow(fromHex(hex));
    expect(result).toStrictEqual({
      _tag: 'Right',
      right: {
        primaryKey: [{ name: 'pk1', value: 'a' }],
        cells: [
          { op: 'put', name: 'c1', value: 'y' },
          { op: 'put', name: 'c2', value: 'z', timestamp: 2000 },
          { op: 'deleteOneVersion', name: 'c3', timestamp: 3000 },
          { op: 'deleteAllVersions', name: 'c4' },
          { op: 'increment', name: 'n', value: 5n },
        ],
        deleteMarker: false,
      },
    });
    // Re-encoding yields the same bytes minus the SDK's padding.
    if (isRight(result)) expect(toHex(encodeRow(result.right))).toBe(hex.slice(0, hex.length - 52));
  });

  it('filter values without length prefix', () => {
    expect(toHex(encodeFilterValue('x'))).toBe('030100000078');
    expect(toHex(encodeFilterValue(3n))).toBe('000300000000000000');
    expect(toHex(encodeFilterValue(7n))).toBe('000700000000000000');
    expect(decodeFilterValue(fromHex('030100000078'))).toStrictEqual({ _tag: 'Right', right: 'x' });
    expect(decodeFilterValue(fromHex('000700000000000000'))).toStrictEqual({ _tag: 'Right', right: 7n });
  });

  it('GetRange bounds with INF_MIN / INF_MAX', () => {
    const lower = encodePrimaryKey([
      { name: 'pk1', value: INF_MIN },
      { name: 'pk2', value: INF_MIN },
    ]);
    expect(toHex(lower)).toContain('0501000000090ac8');
    expect(toHex(lower)).toMatch(/0501000000090af709a3$/);
    const upper = decodeRow(encodePrimaryKey([{ name: 'pk1', value: INF_MAX }]));
    expect(upper).toStrictEqual({ _tag: 'Right', right: { primaryKey: [{ name: 'pk1', value: INF_MAX }], cells: [], deleteMarker: false } });
  });
});

describe('crc8', () => {
  it('is CRC-8/ATM (check value of "123456789" is 0xF4) and the same function from crc8.ts', () => {
    const bytes = new TextEncoder().encode('123456789');
    expect(crc8(0, bytes)).toBe(0xf4);
    expect(crc8FromFile).toBe(crc8);
    // continuing over a split equals one pass
    expect(crc8(crc8(0, bytes, 0, 4), bytes, 4)).toBe(0xf4);
  });
});
