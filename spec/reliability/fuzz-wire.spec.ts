/**
 * Fuzz: the bytes otsflow decodes from the wire, at every entry point.
 *
 * - PlainBuffer: decodeRow, decodeRows, decodeRowWithoutPrimaryKey and decodeFilterValue on random
 *   bytes, on mutated encodings of random rows, and on CRC-correct rows whose cells carry random
 *   types, payloads, cell types and timestamps (so the checks behind the checksums run);
 * - the tunnel client's record decoding (decodeRecords) on batches mixing good, mutated and random
 *   records and origin records;
 * - every protobuf codec (table, filter and tunnel messages, the Error body, tunnel tokens) on
 *   random bytes and on random protobuf-shaped bytes (valid framing, random fields and values).
 *
 * Each answer must be Right or the typed error (PlainBufferError with an in-range offset,
 * RecordDecodeFailure naming the record, WireDecodeError) — never a throw, within a time bound.
 */
import fc from 'fast-check';
import * as E from 'fp-ts/lib/Either.js';
import { describe, expect, it } from 'vitest';
import { decodeFilter } from '../../lib/emulator/wire-convert.js';
import { decodeRecords } from '../../lib/tunnel/decode-records.js';
import type { RawRecord } from '../../lib/tunnel/model.js';
import { decodeErrorBody } from '../../lib/wire/errors.js';
import {
  PlainBufferError,
  decodeFilterValue,
  decodeRow,
  decodeRowWithoutPrimaryKey,
  decodeRows,
  encodeFilterValue,
  encodeRow,
  encodeRows,
} from '../../lib/wire/plainbuffer/index.js';
import { TABLE_MESSAGE_NAMES, FILTER_MESSAGE_NAMES, filterMessages, tableMessages } from '../../lib/wire/table-messages.js';
import { TUNNEL_MESSAGE_NAMES, decodeTokenString, tunnelMessages } from '../../lib/wire/tunnel-messages.js';
import { WireDecodeError } from '../../lib/wire/wire-error.js';
import { columnValue, row } from '../wire/plainbuffer/arbitraries.js';
import { type RawCell, rawRow } from '../wire/plainbuffer/raw.js';
import { applyEdits, byteEdit, fuzzParameters, fuzzTimeout, protobufMessage, varint, withinMs } from './fuzz-support.js';

const CASE_LIMIT_MS = 1_000;

type Decoder = (bytes: Uint8Array) => E.Either<PlainBufferError, unknown>;
const PLAINBUFFER_DECODERS: readonly (readonly [string, Decoder])[] = [
  ['decodeRow', decodeRow],
  ['decodeRows', decodeRows],
  ['decodeRowWithoutPrimaryKey', decodeRowWithoutPrimaryKey],
  ['decodeFilterValue', decodeFilterValue],
];

/** Every PlainBuffer entry point on `bytes`: Right, or a PlainBufferError pointing inside the buffer. */
function decodeEverywhere(bytes: Uint8Array): void {
  for (const [name, decode] of PLAINBUFFER_DECODERS) {
    let result: E.Either<PlainBufferError, unknown>;
    try {
      result = withinMs(CASE_LIMIT_MS, name, () => decode(bytes));
    } catch (error) {
      throw new Error(`${name} threw on ${Buffer.from(bytes).toString('hex')}: ${(error as Error)?.stack ?? String(error)}`);
    }
    if (E.isLeft(result)) {
      expect(result.left, name).toBeInstanceOf(PlainBufferError);
      expect(typeof result.left.code).toBe('string');
      expect(result.left.offset).toBeGreaterThanOrEqual(0);
      expect(result.left.offset).toBeLessThanOrEqual(bytes.length);
      expect(result.left.message.length).toBeGreaterThan(0);
    }
  }
}

// ---------------------------------------------------------------- PlainBuffer arbitraries

const u32 = (n: number): number[] => [n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, (n >>> 24) & 0xff];

/** A value's type byte and payload as the cell carries it, right or wrong. */
const rawValue: fc.Arbitrary<number[]> = fc.oneof(
  // a known type with a payload of random length (short, long, or its length prefix lying)
  fc.tuple(fc.constantFrom(0x00, 0x01, 0x02, 0x03, 0x07, 0x09, 0x0a, 0x0b), fc.array(fc.integer({ min: 0, max: 255 }), { maxLength: 12 })).map(([type, payload]) => [type, ...payload]),
  fc.tuple(fc.constantFrom(0x03, 0x07), fc.array(fc.integer({ min: 0, max: 255 }), { maxLength: 8 }), fc.oneof(fc.nat({ max: 16 }), fc.constant(0xffffffff), fc.constant(0x7fffffff))).map(([type, payload, claimed]) => [type, ...u32(claimed), ...payload]),
  // text that is not UTF-8
  fc.array(fc.integer({ min: 0x80, max: 0xff }), { minLength: 1, maxLength: 6 }).map((bytes) => [0x03, ...u32(bytes.length), ...bytes]),
  // an unknown type
  fc.tuple(fc.integer({ min: 0x0c, max: 0xff }), fc.array(fc.integer({ min: 0, max: 255 }), { maxLength: 8 })).map(([type, payload]) => [type, ...payload]),
  fc.constant<number[]>([]),
);
/** A well-formed value: the type byte and a payload of the right length. */
const goodValue: fc.Arbitrary<number[]> = fc.oneof(
  fc.uint8Array({ minLength: 8, maxLength: 8 }).map((bytes) => [0x00, ...bytes]),
  fc.uint8Array({ minLength: 8, maxLength: 8 }).map((bytes) => [0x01, ...bytes]),
  fc.integer({ min: 0, max: 1 }).map((bit) => [0x02, bit]),
  fc.string({ maxLength: 6 }).map((text) => {
    const bytes = [...Buffer.from(text, 'utf8')];
    return [0x03, ...u32(bytes.length), ...bytes];
  }),
  fc.uint8Array({ maxLength: 6 }).map((bytes) => [0x07, ...u32(bytes.length), ...bytes]),
);
const cellName = fc.oneof(fc.string({ minLength: 1, maxLength: 6 }), fc.constantFrom('', '__proto__', 'constructor', '\ud800'));
const primaryKeyCellArb: fc.Arbitrary<RawCell> = fc.record({ name: cellName, value: fc.oneof({ weight: 4, arbitrary: goodValue }, { weight: 1, arbitrary: rawValue }) });
const attributeCellArb: fc.Arbitrary<RawCell> = fc.record(
  {
    name: cellName,
    value: fc.oneof({ weight: 4, arbitrary: goodValue }, { weight: 1, arbitrary: rawValue }),
    cellType: fc.oneof({ weight: 3, arbitrary: fc.constantFrom(0x01, 0x03, 0x04) }, { weight: 1, arbitrary: fc.integer({ min: 0, max: 255 }) }),
    timestamp: fc.oneof(fc.bigInt({ min: 0n, max: 2n ** 45n }), fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n })),
  },
  { requiredKeys: ['name'] },
);
/** Header + one row with correct cell and row checksums, whatever the cells say. */
const crcValidRow = fc
  .tuple(fc.array(primaryKeyCellArb, { minLength: 1, maxLength: 3 }), fc.array(attributeCellArb, { maxLength: 4 }), fc.boolean())
  .map(([primaryKey, cells, deleteMarker]) => rawRow(primaryKey, cells, deleteMarker));

/** Valid encodings: rows, row lists and filter values. */
const validEncoding: fc.Arbitrary<Uint8Array> = fc.oneof(
  row({ minPrimaryKey: 1 }).map(encodeRow),
  fc.array(row({ minPrimaryKey: 1 }), { minLength: 1, maxLength: 3 }).map(encodeRows),
  columnValue().map(encodeFilterValue),
);

interface AnyCodec {
  readonly typeName: string;
  decode(bytes: Uint8Array): E.Either<WireDecodeError, unknown>;
  encode(message: unknown): Uint8Array;
}
const CODECS: readonly AnyCodec[] = [
  ...TABLE_MESSAGE_NAMES.map((name) => tableMessages[name] as unknown as AnyCodec),
  ...FILTER_MESSAGE_NAMES.map((name) => filterMessages[name] as unknown as AnyCodec),
  ...TUNNEL_MESSAGE_NAMES.map((name) => tunnelMessages[name] as unknown as AnyCodec),
];

/** A codec on `bytes`: Right (which encodes again) or a WireDecodeError. */
function decodeWith(codec: AnyCodec, bytes: Uint8Array): void {
  let result: E.Either<WireDecodeError, unknown>;
  try {
    result = withinMs(CASE_LIMIT_MS, codec.typeName, () => codec.decode(bytes));
  } catch (error) {
    throw new Error(`${codec.typeName}.decode threw on ${Buffer.from(bytes).toString('hex')}: ${(error as Error)?.stack ?? String(error)}`);
  }
  if (E.isLeft(result)) {
    expect(result.left, codec.typeName).toBeInstanceOf(WireDecodeError);
    expect(result.left.message.length).toBeGreaterThan(0);
  } else {
    // what the decoder accepts, the encoder can write back (the emulator echoes rows and tokens)
    expect(() => codec.encode(result.right), `${codec.typeName} re-encodes what it decoded from ${Buffer.from(bytes).toString('hex')}`).not.toThrow();
  }
}

// ---------------------------------------------------------------- the properties

describe('fuzz: PlainBuffer decoders answer Right or PlainBufferError', () => {
  const RANDOM = 500;
  it(
    'random bytes, bare and behind a valid header',
    () => {
      fc.assert(
        fc.property(fc.uint8Array({ maxLength: 160 }), fc.constantFrom([], [0x75, 0, 0, 0], [0x75, 0, 0, 0, 0x01], [0x75, 0, 0, 0, 0x01, 0x03, 0x04]), (bytes, prefix) => {
          decodeEverywhere(Uint8Array.from([...prefix, ...bytes]));
        }),
        fuzzParameters(RANDOM),
      );
    },
    fuzzTimeout(RANDOM, 20_000),
  );

  const MUTATED = 500;
  it(
    'valid rows, row lists and filter values with bytes overwritten, inserted (huge length prefixes too), deleted, truncated',
    () => {
      fc.assert(
        fc.property(validEncoding, fc.array(byteEdit, { minLength: 1, maxLength: 5 }), (bytes, edits) => decodeEverywhere(applyEdits(bytes, edits))),
        fuzzParameters(MUTATED),
      );
    },
    fuzzTimeout(MUTATED, 20_000),
  );

  const CRC_VALID = 600;
  it(
    'rows with correct checksums and random cell contents (types, payloads, lengths, cell types, timestamps)',
    () => {
      let decoded = 0;
      fc.assert(
        fc.property(crcValidRow, (bytes) => {
          decodeEverywhere(bytes);
          if (E.isRight(decodeRow(bytes))) decoded++;
        }),
        fuzzParameters(CRC_VALID),
      );
      // the checksums hold, so some rows are accepted and the semantic checks are what refuse the rest
      expect(decoded).toBeGreaterThan(0);
    },
    fuzzTimeout(CRC_VALID, 20_000),
  );
});

describe('fuzz: the tunnel client decodes records into change records or one RecordDecodeFailure', () => {
  const rawRecord: fc.Arbitrary<RawRecord> = fc.record(
    {
      action: fc.constantFrom('PUT_ROW' as const, 'UPDATE_ROW' as const, 'DELETE_ROW' as const),
      record: fc.oneof(row({ minPrimaryKey: 1 }).map(encodeRow), crcValidRow, fc.tuple(row({ minPrimaryKey: 1 }).map(encodeRow), fc.array(byteEdit, { minLength: 1, maxLength: 3 })).map(([bytes, edits]) => applyEdits(bytes, edits)), fc.uint8Array({ maxLength: 40 })),
      originRecord: fc.oneof(row().map(encodeRow), crcValidRow, fc.uint8Array({ maxLength: 40 }), fc.constant(new Uint8Array(0))),
    },
    { requiredKeys: ['action', 'record'] },
  );

  const RECORDS = 300;
  it(
    'batches of good, mutated and random records and origin records',
    () => {
      fc.assert(
        fc.property(fc.array(rawRecord, { maxLength: 6 }), (records) => {
          let result: ReturnType<typeof decodeRecords>;
          try {
            result = withinMs(CASE_LIMIT_MS, 'decodeRecords', () => decodeRecords(records));
          } catch (error) {
            throw new Error(`decodeRecords threw: ${(error as Error)?.stack ?? String(error)}`);
          }
          if (E.isLeft(result)) {
            expect(result.left.kind).toBe('RecordDecodeFailure');
            expect(result.left.recordIndex).toBeGreaterThanOrEqual(0);
            expect(result.left.recordIndex).toBeLessThan(records.length);
            expect(['record', 'originRecord']).toContain(result.left.part);
            expect(result.left.cause).toBeInstanceOf(PlainBufferError);
            // the failure is the first bad record: every record before it decodes
            expect(E.isRight(decodeRecords(records.slice(0, result.left.recordIndex)))).toBe(true);
          } else {
            expect(result.right).toHaveLength(records.length);
            result.right.forEach((change, i) => expect(change.action).toBe(records[i]?.action));
          }
        }),
        fuzzParameters(RECORDS),
      );
    },
    fuzzTimeout(RECORDS, 20_000),
  );
});

describe('fuzz: every protobuf codec answers Right or WireDecodeError', () => {
  const CODEC_RUNS = 200;
  it(
    `random and protobuf-shaped bytes through all ${CODECS.length} table, filter and tunnel messages, the Error body and tunnel tokens`,
    () => {
      fc.assert(
        fc.property(fc.oneof(fc.uint8Array({ maxLength: 64 }), protobufMessage), (bytes) => {
          for (const codec of CODECS) decodeWith(codec, bytes);
          const error = decodeErrorBody(bytes);
          if (E.isLeft(error)) expect(error.left).toBeInstanceOf(WireDecodeError);
          const token = decodeTokenString(Buffer.from(bytes).toString('base64'));
          if (E.isLeft(token)) expect(token.left).toBeInstanceOf(WireDecodeError);
        }),
        fuzzParameters(CODEC_RUNS),
      );
    },
    fuzzTimeout(CODEC_RUNS, 30_000),
  );

  it('deeply nested groups and messages are refused, not a stack overflow', () => {
    const nestedGroups = new Uint8Array(50_000).fill(0x0b); // field 1, start group, forever
    const nestedMessages: number[] = [];
    for (let depth = 0; depth < 2_000; depth++) nestedMessages.unshift(0x0a, ...varint(BigInt(nestedMessages.length)));
    for (const bytes of [nestedGroups, Uint8Array.from(nestedMessages)]) {
      for (const codec of CODECS) decodeWith(codec, bytes);
    }
  });

  const FILTERS = 600;
  it(
    'the emulator reads conditions and filters (Filter protobuf + PlainBuffer values) into a condition or OTSParameterInvalid',
    () => {
      const filterBytes = fc.oneof(
        protobufMessage,
        fc.tuple(fc.constantFrom('FT_SINGLE_COLUMN_VALUE', 'FT_COMPOSITE_COLUMN_VALUE', 'FT_COLUMN_PAGINATION'), protobufMessage).map(([type, inner]) =>
          filterMessages.Filter.encode({ type, filter: inner } as never),
        ),
      );
      fc.assert(
        fc.property(filterBytes, (bytes) => {
          const result = withinMs(CASE_LIMIT_MS, 'decodeFilter', () => decodeFilter('filter', bytes));
          if (E.isLeft(result)) expect(result.left.code).toBe('OTSParameterInvalid');
        }),
        fuzzParameters(FILTERS),
      );
    },
    fuzzTimeout(FILTERS, 20_000),
  );
});
