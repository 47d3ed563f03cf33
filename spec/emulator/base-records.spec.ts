/**
 * Base-data records built from storage bytes (base-records.ts, engine.scanEncoded) against the
 * reference they replace: encodeRow of what engine.scan returns, with the same record and byte
 * limits — for random key schemas, value types, versions, TTLs and deletes.
 */
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { TableEngine } from '../../lib/emulator/engine.js';
import type { PrimaryKeyColumnSchema } from '../../lib/emulator/table-meta.js';
import { encodeRow } from '../../lib/wire/plainbuffer/index.js';
import type { ColumnValue, PrimaryKeyCell } from '../../lib/wire/types.js';
import { definition, pkColumn, put, remove, rightOf, tempDir } from './helpers.js';

const DAY_MS = 86_400_000;

/** What the tunnel service did before scanEncoded existed. */
const reference = (engine: TableEngine, table: string, limit: number, maxBytes: number) => {
  const scan = engine.scan(table, undefined, undefined, limit);
  const records: Uint8Array[] = [];
  let bytes = 0;
  for (const row of scan.rows) {
    const record = encodeRow({ primaryKey: row.primaryKey, cells: row.cells, deleteMarker: false });
    if (records.length > 0 && bytes + record.length > maxBytes) return { records, next: row.primaryKey };
    records.push(record);
    bytes += record.length;
  }
  return scan.next === undefined ? { records } : { records, next: scan.next };
};

const hex = (result: { records: readonly Uint8Array[]; next?: readonly PrimaryKeyCell[] }) => ({
  records: result.records.map((r) => Buffer.from(r).toString('hex')),
  next: result.next,
});

const keyType = fc.constantFrom<PrimaryKeyColumnSchema['type']>('INTEGER', 'STRING', 'BINARY');
const keyValue = (type: PrimaryKeyColumnSchema['type']): fc.Arbitrary<bigint | string | Uint8Array> =>
  type === 'INTEGER'
    ? fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n })
    : type === 'STRING'
      ? fc.oneof(fc.string({ maxLength: 12 }), fc.constantFrom('a\u0000b', '\u0000', '价格', '\uFEFFbom'))
      : fc.uint8Array({ maxLength: 10 });
const value: fc.Arbitrary<ColumnValue> = fc.oneof(
  fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }),
  fc.double(),
  fc.boolean(),
  fc.string({ maxLength: 20 }),
  fc.constantFrom('价格', 'émoji 🎉', ''),
  fc.uint8Array({ maxLength: 30 }),
);
const columnName = fc.constantFrom('a', 'b', 'price', 'timestamp', 'c0123456789');

const scenario = fc.record({
  schema: fc.array(keyType, { minLength: 1, maxLength: 4 }),
  maxVersions: fc.integer({ min: 1, max: 3 }),
  ttlDays: fc.constantFrom(-1, 1, 3),
  writes: fc.array(
    fc.record({
      key: fc.nat(),
      cells: fc.array(fc.record({ name: columnName, value, ageDays: fc.integer({ min: 0, max: 5 }) }), { maxLength: 4 }),
      deleted: fc.boolean(),
    }),
    { minLength: 1, maxLength: 12 },
  ),
  keys: fc.array(fc.nat(), { minLength: 12, maxLength: 12 }),
  limit: fc.integer({ min: 1, max: 15 }),
  maxBytes: fc.integer({ min: 1, max: 600 }),
});

describe('engine.scanEncoded', () => {
  let dir: ReturnType<typeof tempDir>;
  let engine: TableEngine;
  let now = Date.UTC(2026, 0, 10);

  beforeEach(() => {
    dir = tempDir('base-records');
    engine = TableEngine.open({ dataDir: dir.path, now: () => now, enforceTimestampWindow: false });
  });

  afterEach(async () => {
    await engine.close();
    dir.remove();
  });

  it('equals encodeRow of scan for random tables, versions, TTLs and limits', async () => {
    let tableNo = 0;
    await fc.assert(
      fc.asyncProperty(scenario, fc.gen(), async (s, gen) => {
        const table = `t${tableNo++}`;
        const schema = s.schema.map((type, i) => pkColumn(`pk${i}`, type));
        rightOf(await engine.createTable(definition(table, schema, { maxVersions: s.maxVersions, timeToLive: s.ttlDays === -1 ? -1 : s.ttlDays * 86_400 })));
        // a pool of keys, so writes hit the same rows (versions) and deletes remove some
        const keys = s.keys.map(() => schema.map((column) => ({ name: column.name, value: gen(() => keyValue(column.type)) })));
        for (const write of s.writes) {
          const primaryKey = keys[write.key % keys.length]!;
          const cells = write.cells.map((c) => ({ op: 'put' as const, name: c.name, value: c.value, timestamp: now - c.ageDays * DAY_MS - write.key }));
          // a write the engine refuses (duplicate column names) leaves the row as it was: fine here
          await engine.writeBatch([write.deleted ? remove(table, primaryKey) : put(table, primaryKey, cells)]);
        }
        expect(hex(engine.scanEncoded(table, undefined, undefined, s.limit, s.maxBytes))).toEqual(hex(reference(engine, table, s.limit, s.maxBytes)));
        // and the full table, page by page as base data reads it
        expect(hex(engine.scanEncoded(table, undefined, undefined, 1000, 1 << 22))).toEqual(hex(reference(engine, table, 1000, 1 << 22)));
        rightOf(await engine.deleteTable(table));
        now += 1;
      }),
      { numRuns: 150 },
    );
  });
});
