import { isDeepStrictEqual } from 'node:util';
import { describe, expect, it } from 'vitest';
import type { Either } from 'fp-ts/lib/Either.js';
import {
  PlainBufferError,
  decodeFilterValue,
  decodeRow,
  decodeRowWithoutPrimaryKey,
  decodeRows,
} from '../../../lib/wire/plainbuffer/index.js';
import type { Row } from '../../../lib/wire/types.js';
import { rawBoolean, rawBytesString, rawCell, rawInteger, rawRow, rawString } from './raw.js';
import { VECTORS, fromHex } from './vectors.js';

const putRow = fromHex(VECTORS[0]!.hex);

function leftOf<T>(result: Either<PlainBufferError, T>): PlainBufferError {
  if (result._tag === 'Right') throw new Error(`expected Left, got ${JSON.stringify(result.right, (_, v) => (typeof v === 'bigint' ? `${v}n` : v))}`);
  expect(result.left).toBeInstanceOf(PlainBufferError);
  return result.left;
}

function mutate(bytes: Uint8Array, index: number, value: number): Uint8Array {
  const copy = bytes.slice();
  copy[index] = value;
  return copy;
}

/** [start, end) of the sequence extension (TAG_EXTENSION … before TAG_ROW_CHECKSUM), or empty. */
function extensionRange(hex: string): [number, number] {
  const bytes = fromHex(hex);
  const start = hex.indexOf('0b18000000') / 2;
  return start > 0 ? [start, bytes.length - 2] : [0, 0];
}

describe('every single-byte corruption of the §6.7 vectors', () => {
  for (const vector of VECTORS) {
    const decode = vector.withoutPrimaryKey ? decodeRowWithoutPrimaryKey : decodeRow;
    const bytes = fromHex(vector.hex);
    const [extStart, extEnd] = extensionRange(vector.hex);

    it(`is detected outside the extension: ${vector.name}`, () => {
      // Plain checks in the loop, one expect at the end: 255 masks × every byte is ~30k decodes.
      const problems: string[] = [];
      let undetectedInExtension = 0;
      const { sequence: _expected, ...expectedRest } = vector.row;
      for (let index = 0; index < bytes.length; index++) {
        for (let mask = 1; mask < 256; mask++) {
          const result = decode(mutate(bytes, index, bytes[index]! ^ mask));
          if (result._tag === 'Left') {
            const { left: error } = result;
            if (!(error instanceof PlainBufferError) || error.offset < 0 || error.offset > bytes.length) {
              problems.push(`byte ${index} mask ${mask}: bad error ${String(error)}`);
            }
            continue;
          }
          // Only the extension is outside every checksum; what survives must still be the row.
          const { sequence: _ignored, ...rest } = result.right;
          if (!(index >= extStart && index < extEnd)) problems.push(`byte ${index} mask ${mask}: undetected`);
          else if (!isDeepStrictEqual(rest, expectedRest)) problems.push(`byte ${index} mask ${mask}: wrong row`);
          else undetectedInExtension++;
        }
      }
      expect(problems).toStrictEqual([]);
      if (extEnd === 0) expect(undetectedInExtension).toBe(0);
    });

    it(`yields TRUNCATED for every prefix: ${vector.name}`, () => {
      for (let length = 0; length < bytes.length; length++) {
        const error = leftOf(decode(bytes.subarray(0, length)));
        expect(error.code, `prefix of ${length} bytes`).toBe('TRUNCATED');
        expect(error.offset).toBeLessThanOrEqual(length);
      }
    });
  }

  it('flipping a byte of a sequence value changes only the sequence', () => {
    const stream = VECTORS[3]!;
    const bytes = fromHex(stream.hex);
    const rowIndexAt = stream.hex.indexOf('0f00000000') / 2 + 1;
    const result = decodeRow(mutate(bytes, rowIndexAt, 7));
    expect(result).toStrictEqual({ _tag: 'Right', right: { ...stream.row, sequence: { ...stream.row.sequence!, rowIndex: 7 } } });
  });
});

describe('specific errors name offset and expectation', () => {
  // PutRow vector layout: 0-3 header, 4 TAG_ROW_PK, 5 TAG_CELL, 6 TAG_CELL_NAME, 7-10 name length,
  // 11-13 "pk1", 14 TAG_CELL_VALUE, 15-18 value length, 19 type, 20-23 string length, 24 "a",
  // 25 TAG_CELL_CHECKSUM, 26 cell CRC 0x19, … last two: TAG_ROW_CHECKSUM, row CRC 0x13.
  it('cell CRC', () => {
    const error = leftOf(decodeRow(mutate(putRow, 26, 0x18)));
    expect(error).toMatchObject({ code: 'CELL_CRC', offset: 26, expected: 'cell CRC 0x19' });
    expect(error.message).toContain('found 0x18');
  });

  it('a corrupted value byte is reported at the cell CRC', () => {
    expect(leftOf(decodeRow(mutate(putRow, 24, 0x62)))).toMatchObject({ code: 'CELL_CRC', offset: 26 });
  });

  it('row CRC', () => {
    const last = putRow.length - 1;
    expect(leftOf(decodeRow(mutate(putRow, last, 0x14)))).toMatchObject({ code: 'ROW_CRC', offset: last, expected: 'row CRC 0x13' });
  });

  it('unexpected tag', () => {
    const error = leftOf(decodeRow(mutate(putRow, 6, 0x05)));
    expect(error).toMatchObject({ code: 'UNEXPECTED_TAG', offset: 6, expected: 'TAG_CELL_NAME (0x04)' });
    expect(error.message).toContain('TAG_CELL_VALUE (0x05)');
  });

  it('unexpected tag where the row checksum belongs lists the alternatives', () => {
    const bytes = fromHex(VECTORS[2]!.hex); // DeleteRow: … 08 09 ed
    const error = leftOf(decodeRow(mutate(bytes, bytes.length - 2, 0x07)));
    expect(error).toMatchObject({ code: 'UNEXPECTED_TAG', offset: bytes.length - 2, expected: 'TAG_EXTENSION (0x0B), TAG_ROW_CHECKSUM (0x09)' });
  });

  it('truncated name length and string length', () => {
    expect(leftOf(decodeRow(putRow.subarray(0, 9)))).toMatchObject({ code: 'TRUNCATED', offset: 7, expected: '4 more bytes for a cell name length' });
    expect(leftOf(decodeRow(putRow.subarray(0, 22)))).toMatchObject({ code: 'TRUNCATED', offset: 20, expected: '4 more bytes for a string length' });
    expect(leftOf(decodeRow(putRow.subarray(0, 2)))).toMatchObject({ code: 'TRUNCATED', offset: 0 });
  });

  it('a huge announced length is TRUNCATED, not an allocation', () => {
    const bytes = mutate(mutate(putRow, 10, 0xff), 9, 0xff);
    expect(leftOf(decodeRow(bytes))).toMatchObject({ code: 'TRUNCATED', offset: 11, expected: 'ff0003 more bytes for the cell name'.replace('ff0003', String(0xffff0003)) });
  });

  it('bad header', () => {
    expect(leftOf(decodeRow(mutate(putRow, 0, 0x76)))).toMatchObject({ code: 'BAD_HEADER', offset: 0 });
    expect(leftOf(decodeRows(mutate(putRow, 3, 0x01)))).toMatchObject({ code: 'BAD_HEADER', offset: 0 });
  });

  it('value length prefix must match the value', () => {
    expect(leftOf(decodeRow(mutate(putRow, 15, 7)))).toMatchObject({ code: 'INVALID_VALUE', offset: 15, expected: 'value length 6 (type byte + payload)' });
  });

  it('trailing bytes: zero padding is accepted, anything else is not', () => {
    const padded = Uint8Array.from([...putRow, 0, 0, 0]);
    expect(decodeRow(padded)).toStrictEqual({ _tag: 'Right', right: VECTORS[0]!.row });
    expect(decodeRows(padded)).toStrictEqual({ _tag: 'Right', right: [VECTORS[0]!.row] });
    const junk = Uint8Array.from([...putRow, 0, 0, 7]);
    expect(leftOf(decodeRow(junk))).toMatchObject({ code: 'TRAILING_BYTES', offset: putRow.length + 2 });
    // a second row is more than decodeRow accepts
    const two = Uint8Array.from([...putRow, ...putRow.subarray(4)]);
    expect(leftOf(decodeRow(two))).toMatchObject({ code: 'TRAILING_BYTES', offset: putRow.length });
    expect(decodeRows(two)).toStrictEqual({ _tag: 'Right', right: [VECTORS[0]!.row, VECTORS[0]!.row] });
  });

  it('decodeRows: empty buffer is no rows, a bare header is truncated', () => {
    expect(decodeRows(new Uint8Array(0))).toStrictEqual({ _tag: 'Right', right: [] });
    expect(leftOf(decodeRows(putRow.subarray(0, 4)))).toMatchObject({ code: 'TRUNCATED', offset: 4 });
  });
});

describe('semantic checks behind valid checksums', () => {
  const pk = [{ name: 'pk', value: rawString('k') }];
  const decodeCells = (...cells: Parameters<typeof rawRow>[1]) => decodeRow(rawRow(pk, cells));
  const cellStart = rawRow(pk, []).length - 2 + 1; // the data cell starts after TAG_ROW_DATA

  it('accepts every legal cell form', () => {
    const result = decodeCells(
      { name: 'put', value: rawInteger(-1n) },
      { name: 'putTs', value: rawBoolean(1), timestamp: 5n },
      { name: 'del', cellType: 0x03, timestamp: 6n },
      { name: 'delAll', cellType: 0x01 },
      { name: 'inc', value: rawInteger(3n), cellType: 0x04 },
      { name: 'incTs', value: rawInteger(4n), cellType: 0x04, timestamp: 7n },
    );
    expect(result).toStrictEqual({
      _tag: 'Right',
      right: {
        primaryKey: [{ name: 'pk', value: 'k' }],
        cells: [
          { op: 'put', name: 'put', value: -1n },
          { op: 'put', name: 'putTs', value: true, timestamp: 5 },
          { op: 'deleteOneVersion', name: 'del', timestamp: 6 },
          { op: 'deleteAllVersions', name: 'delAll' },
          { op: 'increment', name: 'inc', value: 3n },
          { op: 'increment', name: 'incTs', value: 4n, timestamp: 7 },
        ],
        deleteMarker: false,
      } satisfies Row,
    });
  });

  it.each([
    ['put without value', { name: 'c', timestamp: 1n }],
    ['put without value or timestamp', { name: 'c' }],
    ['DELETE_ONE_VERSION without timestamp', { name: 'c', cellType: 0x03 }],
    ['DELETE_ONE_VERSION with a value', { name: 'c', cellType: 0x03, value: rawInteger(1n), timestamp: 1n }],
    ['DELETE_ALL_VERSION with a timestamp', { name: 'c', cellType: 0x01, timestamp: 1n }],
    ['DELETE_ALL_VERSION with a value', { name: 'c', cellType: 0x01, value: rawInteger(1n) }],
    ['INCREMENT without value', { name: 'c', cellType: 0x04 }],
    ['INCREMENT of a string', { name: 'c', cellType: 0x04, value: rawString('1') }],
    ['unknown cell type', { name: 'c', cellType: 0x02, value: rawInteger(1n) }],
  ])('INVALID_CELL: %s', (_, cell) => {
    expect(leftOf(decodeCells(cell))).toMatchObject({ code: 'INVALID_CELL', offset: cellStart });
  });

  it('INVALID_CELL: primary key cells carry a value and nothing else', () => {
    expect(leftOf(decodeRow(rawRow([{ name: 'pk', value: rawString('k'), timestamp: 1n }], [])))).toMatchObject({ code: 'INVALID_CELL', offset: 5 });
    expect(leftOf(decodeRow(rawRow([{ name: 'pk' }], [])))).toMatchObject({ code: 'INVALID_CELL', offset: 5 });
  });

  it('INVALID_VALUE: timestamps outside [0, 2^53)', () => {
    expect(leftOf(decodeCells({ name: 'c', value: rawInteger(1n), timestamp: -1n }))).toMatchObject({ code: 'INVALID_VALUE', expected: 'a timestamp in [0, 2^53) ms' });
    expect(leftOf(decodeCells({ name: 'c', value: rawInteger(1n), timestamp: 2n ** 53n }))).toMatchObject({ code: 'INVALID_VALUE' });
    expect(decodeCells({ name: 'c', value: rawInteger(1n), timestamp: 2n ** 53n - 1n })).toMatchObject({ _tag: 'Right' });
  });

  it('INVALID_VALUE: boolean byte, UTF-8, value types', () => {
    expect(leftOf(decodeCells({ name: 'c', value: rawBoolean(2) }))).toMatchObject({ code: 'INVALID_VALUE', expected: 'a boolean byte 0x00 or 0x01' });
    expect(leftOf(decodeCells({ name: 'c', value: rawBytesString([0xc3, 0x28]) }))).toMatchObject({ code: 'INVALID_VALUE', expected: 'UTF-8 string bytes' });
    expect(leftOf(decodeCells({ name: 'c', value: rawBytesString([0xed, 0xa0, 0x80]) }))).toMatchObject({ code: 'INVALID_VALUE' });
    expect(leftOf(decodeCells({ name: 'c', value: [0x06] }))).toMatchObject({ code: 'INVALID_VALUE' }); // VT_NULL
    expect(leftOf(decodeCells({ name: 'c', value: [0x09] }))).toMatchObject({ code: 'INVALID_VALUE' }); // INF_MIN outside a key
    expect(leftOf(decodeRow(rawRow([{ name: 'pk', value: [0x01, 0, 0, 0, 0, 0, 0, 0, 0] }], [])))).toMatchObject({ code: 'INVALID_VALUE', offset: 5 + 1 + 1 + 4 + 2 + 1 + 4 });
    const badName = rawRow(pk, []);
    badName[11] = 0xff; // the name "pk" → 0xff 'k', then the cell CRC no longer matches
    expect(leftOf(decodeRow(badName)).code).toBe('CELL_CRC');
  });

  it('an empty primary key is rejected by decodeRow but fine for origin records', () => {
    const noPk = rawRow([], [{ name: 'c', value: rawString('v'), timestamp: 9n }]);
    expect(leftOf(decodeRow(noPk))).toMatchObject({ code: 'UNEXPECTED_TAG', offset: 5 });
    expect(decodeRowWithoutPrimaryKey(noPk)).toStrictEqual({
      _tag: 'Right',
      right: { primaryKey: [], cells: [{ op: 'put', name: 'c', value: 'v', timestamp: 9 }], deleteMarker: false },
    });
    // origin records written without the TAG_ROW_PK byte (Java accepts those too)
    const withoutTag = Uint8Array.from([...noPk.subarray(0, 4), ...noPk.subarray(5)]);
    expect(decodeRowWithoutPrimaryKey(withoutTag)).toStrictEqual(decodeRowWithoutPrimaryKey(noPk));
  });

  it('a data section needs at least one cell', () => {
    const bytes = fromHex('75000000' + '01030403000000706b3105060000000301000000610a19' + '02' + '09ea');
    expect(leftOf(decodeRow(bytes))).toMatchObject({ code: 'UNEXPECTED_TAG', offset: 28, expected: 'TAG_CELL (0x03) after TAG_ROW_DATA (0x02)' });
  });
});

describe('sequence extension', () => {
  const stream = VECTORS[3]!;
  const hex = stream.hex;
  const extAt = hex.indexOf('0b18000000');

  it('skips unknown tags inside the extension, like Java', () => {
    // extension length grows by the unknown entry: tag 0x20, u32 length 3, 3 bytes
    const withUnknown = hex.slice(0, extAt) + '0b20000000' + '2003000000aabbcc' + hex.slice(extAt + 10);
    expect(decodeRow(fromHex(withUnknown))).toStrictEqual({ _tag: 'Right', right: stream.row });
    const unknownFirst = hex.slice(0, extAt) + '0b20000000' + '2003000000aabbcc' + hex.slice(extAt + 10, -4) + '09d5';
    expect(decodeRow(fromHex(unknownFirst))).toStrictEqual({ _tag: 'Right', right: stream.row });
  });

  it('ignores its length fields unless they point past the buffer', () => {
    const shorter = hex.slice(0, extAt) + '0b01000000' + hex.slice(extAt + 10);
    expect(decodeRow(fromHex(shorter))).toStrictEqual({ _tag: 'Right', right: stream.row });
    const tooLong = hex.slice(0, extAt) + '0bff000000' + hex.slice(extAt + 10);
    expect(leftOf(decodeRow(fromHex(tooLong)))).toMatchObject({ code: 'TRUNCATED', offset: extAt / 2 + 5 });
  });

  it('reads the sequence timestamp as a signed 64-bit microsecond count', () => {
    const negative = hex.replace('0e00401e18240a0600', '0effffffffffffffff');
    expect(decodeRow(fromHex(negative))).toMatchObject({ _tag: 'Right', right: { sequence: { timestamp: -1n } } });
  });

  it('requires the sequence fields in order', () => {
    const swapped = hex.replace('0d00000000', '0f00000000');
    expect(leftOf(decodeRow(fromHex(swapped)))).toMatchObject({ code: 'UNEXPECTED_TAG', expected: 'TAG_SEQ_INFO_EPOCH (0x0D)' });
  });
});

describe('filter values', () => {
  it('rejects trailing bytes, unknown types and truncation', () => {
    expect(leftOf(decodeFilterValue(fromHex('03010000007800')))).toMatchObject({ code: 'TRAILING_BYTES', offset: 6 });
    expect(leftOf(decodeFilterValue(fromHex('09')))).toMatchObject({ code: 'INVALID_VALUE', offset: 0 });
    expect(leftOf(decodeFilterValue(fromHex('030500000041')))).toMatchObject({ code: 'TRUNCATED', offset: 5, expected: '5 more bytes for string bytes' });
    expect(leftOf(decodeFilterValue(fromHex('0001')))).toMatchObject({ code: 'TRUNCATED', offset: 1 });
    expect(leftOf(decodeFilterValue(fromHex('0202')))).toMatchObject({ code: 'INVALID_VALUE', offset: 1 });
    expect(leftOf(decodeFilterValue(new Uint8Array(0)))).toMatchObject({ code: 'TRUNCATED', offset: 0 });
    expect(decodeFilterValue(fromHex('0300000000'))).toStrictEqual({ _tag: 'Right', right: '' });
  });
});
