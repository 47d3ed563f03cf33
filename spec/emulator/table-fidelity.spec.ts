/**
 * Table API at the edges, as the service answers (issue 15 item 4), through the official SDK:
 * an attribute column named like a primary-key column is refused; a write of more than 1,024
 * attribute columns is refused; auto-increment values are large, increasing and never
 * consecutive within a partition, and keep increasing across a restart.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningEmulator, startEmulator } from '../../lib/emulator/index.js';
import { tempDir } from './helpers.js';
import { type Sdk, TableStore, attributes, condition, fails, long, ok, primaryKey, sdkClient } from './sdk.js';

let dir: ReturnType<typeof tempDir>;
let emulator: RunningEmulator;
let client: Sdk;

const start = async () => {
  emulator = await startEmulator({ dataDir: dir.path, port: 0 });
  client = sdkClient(emulator);
};

beforeAll(async () => {
  dir = tempDir('fidelity');
  await start();
  await ok(client, 'createTable', {
    tableMeta: { tableName: 'wide', primaryKey: [{ name: 'id', type: 'STRING' }, { name: 'n', type: 'INTEGER' }] },
    reservedThroughput: { capacityUnit: { read: 0, write: 0 } },
    tableOptions: { timeToLive: -1, maxVersions: 1 },
  });
  await ok(client, 'createTable', {
    tableMeta: {
      tableName: 'auto',
      primaryKey: [
        { name: 'part', type: 'STRING' },
        { name: 'seq', type: 'INTEGER', option: 'AUTO_INCREMENT' },
      ],
    },
    reservedThroughput: { capacityUnit: { read: 0, write: 0 } },
    tableOptions: { timeToLive: -1, maxVersions: 1 },
  });
});

afterAll(async () => {
  await emulator.close();
  dir.remove();
});

const columns = (count: number) => Array.from({ length: count }, (_, i) => ({ [`c${i}`]: long(i) }));

describe('attribute columns named like a primary-key column', () => {
  it('refuses PutRow, UpdateRow and the BatchWriteRow row with 400 OTSParameterInvalid, and stores nothing', async () => {
    for (const name of ['id', 'n']) {
      const expected = { status: 400, code: 'OTSParameterInvalid', message: `Duplicated attribute column name with primary key column: ${name}.` };
      expect(await fails(client, 'putRow', { tableName: 'wide', condition: condition('IGNORE'), primaryKey: [{ id: 'k' }, { n: long(1) }], attributeColumns: [{ ok: 'x' }, { [name]: 'shadow' }] })).toEqual(
        expected,
      );
      expect(
        await fails(client, 'updateRow', { tableName: 'wide', condition: condition('IGNORE'), primaryKey: [{ id: 'k' }, { n: long(1) }], updateOfAttributeColumns: [{ PUT: [{ [name]: 'shadow' }] }] }),
      ).toEqual(expected);
      const batch = await ok(client, 'batchWriteRow', {
        tables: [{ tableName: 'wide', rows: [{ type: 'PUT', condition: condition('IGNORE'), primaryKey: [{ id: 'k' }, { n: long(1) }], attributeColumns: [{ [name]: 'shadow' }] }] }],
      });
      expect(batch.tables[0]).toMatchObject({ isOk: false, errorCode: 'OTSParameterInvalid', errorMessage: expected.message });
    }
    const read = await ok(client, 'getRow', { tableName: 'wide', primaryKey: [{ id: 'k' }, { n: long(1) }], maxVersions: 1 });
    expect(read.row.primaryKey).toBeUndefined();
  });
});

describe('attribute columns per write', () => {
  it('takes 1,024 attribute columns in one PutRow and reads them all back', async () => {
    await ok(client, 'putRow', { tableName: 'wide', condition: condition('IGNORE'), primaryKey: [{ id: 'max' }, { n: long(1) }], attributeColumns: columns(1024) });
    const read = await ok(client, 'getRow', { tableName: 'wide', primaryKey: [{ id: 'max' }, { n: long(1) }], maxVersions: 1 });
    const got = attributes(read.row).map(([name, value]) => [name, value]);
    expect(got.length).toBe(1024);
    expect(new Map(got as [string, unknown][])).toEqual(new Map(Array.from({ length: 1024 }, (_, i) => [`c${i}`, BigInt(i)])));
  });

  it('refuses 1,025 and 3,000 columns in PutRow, UpdateRow and a BatchWriteRow row, naming the limit and the count', async () => {
    for (const count of [1025, 3000]) {
      const expected = { status: 400, code: 'OTSParameterInvalid', message: `The number of attribute columns exceeds the limit, limit count:1024, column count: ${count}.` };
      expect(await fails(client, 'putRow', { tableName: 'wide', condition: condition('IGNORE'), primaryKey: [{ id: 'over' }, { n: long(count) }], attributeColumns: columns(count) })).toEqual(expected);
      expect(
        await fails(client, 'updateRow', { tableName: 'wide', condition: condition('IGNORE'), primaryKey: [{ id: 'over' }, { n: long(count) }], updateOfAttributeColumns: [{ PUT: columns(count) }] }),
      ).toEqual(expected);
      const batch = await ok(client, 'batchWriteRow', {
        tables: [{ tableName: 'wide', rows: [{ type: 'PUT', condition: condition('IGNORE'), primaryKey: [{ id: 'over' }, { n: long(count) }], attributeColumns: columns(count) }] }],
      });
      expect(batch.tables[0]).toMatchObject({ isOk: false, errorCode: 'OTSParameterInvalid', errorMessage: expected.message });
      const read = await ok(client, 'getRow', { tableName: 'wide', primaryKey: [{ id: 'over' }, { n: long(count) }], maxVersions: 1 });
      expect(read.row.primaryKey).toBeUndefined();
    }
  });
});

describe('auto-increment values', () => {
  const putAuto = async (part: string, i: number): Promise<bigint> => {
    const put = await ok(client, 'putRow', {
      tableName: 'auto',
      condition: condition('IGNORE'),
      primaryKey: [{ part }, { seq: TableStore.PK_AUTO_INCR }],
      attributeColumns: [{ i: long(i) }],
      returnContent: { returnType: TableStore.ReturnType.Primarykey },
    });
    const [[, got], [, seq]] = primaryKey(put.row) as [[string, string], [string, bigint]];
    expect(got).toBe(part);
    return seq;
  };

  const checkPartition = (values: readonly bigint[], floor: bigint) => {
    for (let i = 0; i < values.length; i += 1) {
      const previous = i === 0 ? floor : values[i - 1]!;
      // strictly increasing, never the next integer
      expect(values[i]! - previous).toBeGreaterThanOrEqual(2n);
    }
  };

  it('are large, strictly increasing and never consecutive per partition, under interleaved and concurrent writes', async () => {
    const parts = ['a', 'b', 'c'];
    const byPart = new Map<string, bigint[]>(parts.map((p) => [p, []]));
    for (let i = 0; i < 30; i += 1) {
      const part = parts[i % parts.length]!;
      byPart.get(part)!.push(await putAuto(part, i));
    }
    const concurrent = await Promise.all(Array.from({ length: 20 }, (_, i) => putAuto('a', 100 + i)));
    // concurrent writes: unique, and each one above every value given before
    expect(new Set(concurrent).size).toBe(20);
    const lastA = byPart.get('a')!.at(-1)!;
    expect(concurrent.every((v) => v > lastA)).toBe(true);
    checkPartition([...concurrent].sort((x, y) => (x < y ? -1 : 1)), lastA);

    const startedMicros = BigInt(Date.now() - 60_000) * 1000n;
    for (const part of parts) {
      const values = byPart.get(part)!;
      expect(values[0]! > startedMicros).toBe(true); // large: no small counter
      checkPartition(values, 0n);
    }
    // every row is readable at the key it was given
    const read = await ok(client, 'getRow', { tableName: 'auto', primaryKey: [{ part: 'b' }, { seq: long(byPart.get('b')![2]!) }], maxVersions: 1 });
    expect(attributes(read.row).map(([n, v]) => [n, v])).toEqual([['i', 7n]]);
  });

  it('stay above a value written explicitly in the partition, and keep increasing across a restart', async () => {
    const before = await putAuto('x', 0);
    const explicit = before + 1_000_000_000n;
    await ok(client, 'putRow', { tableName: 'auto', condition: condition('IGNORE'), primaryKey: [{ part: 'x' }, { seq: long(explicit) }], attributeColumns: [{ i: long(1) }] });
    const after = await putAuto('x', 2);
    expect(after - explicit).toBeGreaterThanOrEqual(2n);
    await emulator.close();
    await start();
    const restarted = await putAuto('x', 3);
    expect(restarted - after).toBeGreaterThanOrEqual(2n);
  });
});
