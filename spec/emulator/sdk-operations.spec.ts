/**
 * Every table operation through the official SDK against an emulator on a free loopback port,
 * asserting the data the SDK hands back and the service error codes.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningEmulator, startEmulator } from '../../lib/emulator/index.js';
import { tempDir } from './helpers.js';
import { type Sdk, TableStore, attributes, call, condition, fails, long, ok, plain, primaryKey, sdkClient } from './sdk.js';

let dir: ReturnType<typeof tempDir>;
let emulator: RunningEmulator;
let client: Sdk;
let clock = Date.now();

beforeAll(async () => {
  dir = tempDir('sdk');
  emulator = await startEmulator({ dataDir: dir.path, port: 0, now: () => clock });
  client = sdkClient(emulator);
});

afterAll(async () => {
  await emulator.close();
  dir.remove();
});

const createTable = (tableName: string, primaryKeys: { name: string; type: string; option?: string }[], tableOptions: Record<string, unknown> = {}) =>
  ok(client, 'createTable', {
    tableMeta: { tableName, primaryKey: primaryKeys },
    reservedThroughput: { capacityUnit: { read: 0, write: 0 } },
    tableOptions: { timeToLive: -1, maxVersions: 1, ...tableOptions },
  });

const putRow = (tableName: string, pk: Sdk[], attributeColumns: Sdk[], existence: 'IGNORE' | 'EXPECT_EXIST' | 'EXPECT_NOT_EXIST' = 'IGNORE', columnCondition: Sdk = null) =>
  call(client, 'putRow', { tableName, condition: condition(existence, columnCondition), primaryKey: pk, attributeColumns });

const getRow = (tableName: string, pk: Sdk[], extra: Record<string, unknown> = {}) => ok(client, 'getRow', { tableName, primaryKey: pk, maxVersions: 1, ...extra });

describe('table operations', () => {
  it('create, list, describe, update and delete through the SDK', async () => {
    await ok(client, 'createTable', {
      tableMeta: {
        tableName: 'ops_tables',
        primaryKey: [
          { name: 'part', type: 'STRING' },
          { name: 'seq', type: 'INTEGER', option: 'AUTO_INCREMENT' },
        ],
        definedColumn: [{ name: 'price', type: TableStore.DefinedColumnType.DCT_DOUBLE }],
      },
      reservedThroughput: { capacityUnit: { read: 1, write: 2 } },
      tableOptions: { timeToLive: 86_400 * 2, maxVersions: 3, maxTimeDeviation: 3600 },
      streamSpecification: { enableStream: true, expirationTime: 24 },
    });
    const listed = await ok(client, 'listTable', {});
    expect(listed.tableNames).toContain('ops_tables');
    const described = await ok(client, 'describeTable', { tableName: 'ops_tables' });
    expect(described.tableMeta.tableName).toBe('ops_tables');
    // protobufjs reports an absent enum as its default (AUTO_INCREMENT); presence tells them apart
    expect(described.tableMeta.primaryKey.map((c: Sdk) => [c.name, c.type, Object.hasOwn(c, 'option') ? c.option : null])).toEqual([
      ['part', 2, null],
      ['seq', 1, 1],
    ]);
    expect(described.tableMeta.definedColumn.map((c: Sdk) => [c.name, c.type])).toEqual([['price', 2]]);
    expect(described.tableOptions.timeToLive).toBe(172_800);
    expect(described.tableOptions.maxVersions).toBe(3);
    expect(described.tableOptions.deviationCellVersionInSec.toNumber()).toBe(3600);
    expect(described.reservedThroughputDetails.capacityUnit).toMatchObject({ read: 1, write: 2 });
    expect(described.reservedThroughputDetails.lastIncreaseTime.toNumber()).toBe(Math.floor(clock / 1000));
    expect(described.tableStatus).toBe(1);
    expect(described.streamDetails.enableStream).toBe(true);
    expect(described.streamDetails.expirationTime).toBe(24);
    expect(described.streamDetails.streamId).toMatch(/^ops_tables_/);

    const updated = await ok(client, 'updateTable', { tableName: 'ops_tables', tableOptions: { maxVersions: 5 }, reservedThroughput: { capacityUnit: { read: 0, write: 2 } } });
    expect(updated.tableOptions.maxVersions).toBe(5);
    expect(updated.tableOptions.timeToLive).toBe(172_800);
    expect(updated.reservedThroughputDetails.capacityUnit).toMatchObject({ read: 0, write: 2 });
    expect((await ok(client, 'describeTable', { tableName: 'ops_tables' })).tableOptions.maxVersions).toBe(5);

    expect(await fails(client, 'createTable', { tableMeta: { tableName: 'ops_tables', primaryKey: [{ name: 'a', type: 'STRING' }] }, reservedThroughput: { capacityUnit: { read: 0, write: 0 } }, tableOptions: { timeToLive: -1, maxVersions: 1 } })).toEqual({
      status: 409,
      code: 'OTSObjectAlreadyExist',
      message: 'Requested table already exists.',
    });
    await ok(client, 'deleteTable', { tableName: 'ops_tables' });
    expect((await ok(client, 'listTable', {})).tableNames).not.toContain('ops_tables');
    expect(await fails(client, 'describeTable', { tableName: 'ops_tables' })).toEqual({ status: 404, code: 'OTSObjectNotExist', message: 'Requested table does not exist.' });
    expect(await fails(client, 'deleteTable', { tableName: 'ops_tables' })).toMatchObject({ status: 404, code: 'OTSObjectNotExist' });
    const invalid = await fails(client, 'createTable', { tableMeta: { tableName: '3t', primaryKey: [{ name: 'a', type: 'STRING' }] }, reservedThroughput: { capacityUnit: { read: 0, write: 0 } }, tableOptions: { timeToLive: -1, maxVersions: 1 } });
    expect(invalid).toEqual({ status: 400, code: 'OTSParameterInvalid', message: "Invalid table name: '3t'." });
  });
});

describe('single-row operations', () => {
  beforeAll(async () => {
    await createTable('rows', [{ name: 'id', type: 'STRING' }], { maxVersions: 3 });
  });

  it('PutRow and GetRow round-trip every value type with timestamps', async () => {
    const ts = clock - 5000;
    const put = await call(client, 'putRow', {
      tableName: 'rows',
      condition: condition('EXPECT_NOT_EXIST'),
      primaryKey: [{ id: 'types' }],
      attributeColumns: [{ s: '值 text' }, { i: long('-9223372036854775808') }, { d: 2.5 }, { b: true }, { bin: Buffer.from([0, 1, 255]) }, { old: 'v', timestamp: long(ts) }],
      returnContent: { returnType: TableStore.ReturnType.Primarykey },
    });
    expect(put.ok).toBe(true);
    if (put.ok) expect(primaryKey(put.data.row)).toEqual([['id', 'types']]);
    const row = (await getRow('rows', [{ id: 'types' }])).row;
    expect(primaryKey(row)).toEqual([['id', 'types']]);
    expect(attributes(row)).toEqual([
      ['b', true, BigInt(clock)],
      ['bin', [0, 1, 255], BigInt(clock)],
      ['d', 2.5, BigInt(clock)],
      ['i', -(1n << 63n), BigInt(clock)],
      ['old', 'v', BigInt(ts)],
      ['s', '值 text', BigInt(clock)],
    ]);
    const projected = (await getRow('rows', [{ id: 'types' }], { columnsToGet: ['s', 'missing'] })).row;
    expect(attributes(projected)).toEqual([['s', '值 text', BigInt(clock)]]);
    expect((await getRow('rows', [{ id: 'nothing' }])).row).toEqual({});
    expect(await fails(client, 'getRow', { tableName: 'nope', primaryKey: [{ id: 'a' }] })).toMatchObject({ status: 404, code: 'OTSObjectNotExist' });
    expect(await fails(client, 'getRow', { tableName: 'rows', primaryKey: [{ id: long(1) }] })).toEqual({
      status: 400,
      code: 'OTSInvalidPK',
      message: 'Validate PK type fail. Input: VT_INTEGER, Meta: VT_STRING.',
    });
  });

  it('keeps versions up to max_versions and reads them by max_versions and time range', async () => {
    for (let v = 1; v <= 4; v++) {
      const written = await call(client, 'updateRow', {
        tableName: 'rows',
        condition: condition('IGNORE'),
        primaryKey: [{ id: 'versions' }],
        updateOfAttributeColumns: [{ PUT: [{ c: long(v), timestamp: long(clock - 10_000 + v * 1000) }] }],
      });
      expect(written.ok).toBe(true);
    }
    const all = (await getRow('rows', [{ id: 'versions' }], { maxVersions: 10 })).row;
    expect(attributes(all)).toEqual([4, 3, 2].map((v) => ['c', BigInt(v), BigInt(clock - 10_000 + v * 1000)]));
    const ranged = (await getRow('rows', [{ id: 'versions' }], { maxVersions: 10, timeRange: { startTime: clock - 8000, endTime: clock - 7000 } })).row;
    expect(attributes(ranged)).toEqual([['c', 2n, BigInt(clock - 8000)]]);
    const specific = (await getRow('rows', [{ id: 'versions' }], { timeRange: { specificTime: clock - 7000 } })).row;
    expect(attributes(specific)).toEqual([['c', 3n, BigInt(clock - 7000)]]);
    // a timestamp outside the table's deviation window is refused like the service does
    expect(await putRow('rows', [{ id: 'versions' }], [{ c: 'x', timestamp: long(1000) }])).toEqual({
      ok: false,
      error: { status: 400, code: 'OTSParameterInvalid', message: 'Invalid timestamp. Cell:c.' },
    });
  });

  it('enforces row existence expectations on PutRow, UpdateRow and DeleteRow', async () => {
    const failed = { ok: false, error: { status: 403, code: 'OTSConditionCheckFail', message: 'Condition check failed.' } };
    expect(await putRow('rows', [{ id: 'exist' }], [{ c: 'x' }], 'EXPECT_EXIST')).toEqual(failed);
    expect((await putRow('rows', [{ id: 'exist' }], [{ c: 'x' }], 'EXPECT_NOT_EXIST')).ok).toBe(true);
    expect(await putRow('rows', [{ id: 'exist' }], [{ c: 'y' }], 'EXPECT_NOT_EXIST')).toEqual(failed);
    expect((await putRow('rows', [{ id: 'exist' }], [{ c: 'y' }], 'EXPECT_EXIST')).ok).toBe(true);
    const update = (existence: 'EXPECT_EXIST' | 'EXPECT_NOT_EXIST', id: string) =>
      call(client, 'updateRow', { tableName: 'rows', condition: condition(existence), primaryKey: [{ id }], updateOfAttributeColumns: [{ PUT: [{ u: 'v' }] }] });
    expect(await update('EXPECT_EXIST', 'missing')).toEqual(failed);
    expect(await update('EXPECT_NOT_EXIST', 'exist')).toEqual(failed);
    expect((await update('EXPECT_EXIST', 'exist')).ok).toBe(true);
    const remove = (existence: 'IGNORE' | 'EXPECT_EXIST' | 'EXPECT_NOT_EXIST', id: string) =>
      call(client, 'deleteRow', { tableName: 'rows', condition: condition(existence), primaryKey: [{ id }] });
    expect(await remove('EXPECT_NOT_EXIST', 'exist')).toEqual({
      ok: false,
      error: { status: 400, code: 'OTSParameterInvalid', message: 'Invalid condition: EXPECT_NOT_EXIST while deleting row.' },
    });
    expect(await remove('EXPECT_EXIST', 'missing')).toEqual(failed);
    expect((await remove('EXPECT_EXIST', 'exist')).ok).toBe(true);
    expect((await remove('IGNORE', 'exist')).ok).toBe(true);
    expect((await getRow('rows', [{ id: 'exist' }])).row).toEqual({});
  });

  it('evaluates single and composite column conditions (pass_if_missing, latest_version_only)', async () => {
    await ok(client, 'putRow', {
      tableName: 'rows',
      condition: condition('IGNORE'),
      primaryKey: [{ id: 'cond' }],
      attributeColumns: [{ n: long(5), timestamp: long(clock - 2000) }, { name: 'ann' }],
    });
    await ok(client, 'updateRow', {
      tableName: 'rows',
      condition: condition('IGNORE'),
      primaryKey: [{ id: 'cond' }],
      updateOfAttributeColumns: [{ PUT: [{ n: long(9), timestamp: long(clock - 1000) }] }],
    });
    const single = (name: string, value: Sdk, comparator: string, passIfMissing = true, latestVersionOnly = true) =>
      new TableStore.SingleColumnCondition(name, value, TableStore.ComparatorType[comparator], passIfMissing, latestVersionOnly);
    const attempt = async (columnCondition: Sdk) => {
      const result = await putRowKeeping(columnCondition);
      return result.ok ? 'pass' : result.error.code;
    };
    // an UpdateRow that rewrites nothing the conditions look at
    const putRowKeeping = (columnCondition: Sdk) =>
      call(client, 'updateRow', {
        tableName: 'rows',
        condition: condition('EXPECT_EXIST', columnCondition),
        primaryKey: [{ id: 'cond' }],
        updateOfAttributeColumns: [{ PUT: [{ touched: 'yes' }] }],
      });
    expect(await attempt(single('n', long(9), 'EQUAL'))).toBe('pass');
    expect(await attempt(single('n', long(5), 'EQUAL'))).toBe('OTSConditionCheckFail');
    expect(await attempt(single('n', long(5), 'EQUAL', true, false))).toBe('pass');
    expect(await attempt(single('n', long(8), 'GREATER_THAN'))).toBe('pass');
    expect(await attempt(single('name', 'ann', 'EQUAL'))).toBe('pass');
    expect(await attempt(single('name', 'bob', 'LESS_THAN'))).toBe('pass');
    expect(await attempt(single('absent', 'x', 'EQUAL'))).toBe('pass');
    expect(await attempt(single('absent', 'x', 'EQUAL', false))).toBe('OTSConditionCheckFail');
    const and = new TableStore.CompositeCondition(TableStore.LogicalOperator.AND);
    and.addSubCondition(single('n', long(9), 'EQUAL'));
    and.addSubCondition(single('name', 'ann', 'NOT_EQUAL'));
    expect(await attempt(and)).toBe('OTSConditionCheckFail');
    const or = new TableStore.CompositeCondition(TableStore.LogicalOperator.OR);
    or.addSubCondition(single('n', long(1), 'EQUAL'));
    or.addSubCondition(single('name', 'ann', 'EQUAL'));
    expect(await attempt(or)).toBe('pass');
    const not = new TableStore.CompositeCondition(TableStore.LogicalOperator.NOT);
    not.addSubCondition(or);
    expect(await attempt(not)).toBe('OTSConditionCheckFail');
    // the same condition as a read filter: the row is returned only when it holds
    expect(attributes((await getRow('rows', [{ id: 'cond' }], { columnFilter: or, columnsToGet: ['n', 'name'] })).row)).toHaveLength(2);
    expect((await getRow('rows', [{ id: 'cond' }], { columnFilter: not })).row).toEqual({});
  });

  it('UpdateRow puts, deletes one version, deletes all versions and increments (RT_AFTER_MODIFY)', async () => {
    const base = clock;
    await ok(client, 'putRow', {
      tableName: 'rows',
      condition: condition('IGNORE'),
      primaryKey: [{ id: 'upd' }],
      attributeColumns: [{ keep: 'k' }, { multi: 'one', timestamp: long(clock - 3000) }, { multi: 'two', timestamp: long(clock - 2000) }, { gone: 'g' }, { counter: long(10) }],
    });
    const updated = await ok(client, 'updateRow', {
      tableName: 'rows',
      condition: condition('EXPECT_EXIST'),
      primaryKey: [{ id: 'upd' }],
      updateOfAttributeColumns: [
        { PUT: [{ fresh: 'f' }] },
        { DELETE: [{ multi: long(clock - 2000) }] },
        { DELETE_ALL: ['gone'] },
        { INCREMENT: [{ counter: long(-3) }] },
      ],
      returnContent: { returnType: TableStore.ReturnType.AfterModify, returnColumns: ['counter'] },
    });
    expect(attributes(updated.row)).toEqual([['counter', 7n, BigInt(clock)]]);
    clock += 1;
    await ok(client, 'updateRow', {
      tableName: 'rows',
      condition: condition('IGNORE'),
      primaryKey: [{ id: 'upd' }],
      updateOfAttributeColumns: [{ INCREMENT: [{ counter: long(100) }, { created: long(1) }] }],
    });
    const row = (await getRow('rows', [{ id: 'upd' }])).row;
    expect(attributes(row)).toEqual([
      ['counter', 107n, BigInt(clock)],
      ['created', 1n, BigInt(clock)],
      ['fresh', 'f', BigInt(clock - 1)],
      ['keep', 'k', BigInt(clock - 1)],
      ['multi', 'one', BigInt(base - 3000)],
    ]);
    const wrongType = await call(client, 'updateRow', {
      tableName: 'rows',
      condition: condition('IGNORE'),
      primaryKey: [{ id: 'upd' }],
      updateOfAttributeColumns: [{ INCREMENT: [{ keep: long(1) }] }],
    });
    expect(wrongType).toMatchObject({ ok: false, error: { status: 400, code: 'OTSParameterInvalid' } });
  });

  it('expires cells by TTL on the emulator clock', async () => {
    await createTable('ttl', [{ name: 'id', type: 'STRING' }], { timeToLive: 86_400 });
    expect((await putRow('ttl', [{ id: 'a' }], [{ c: 'v' }])).ok).toBe(true);
    expect(attributes((await getRow('ttl', [{ id: 'a' }])).row)).toHaveLength(1);
    const saved = clock;
    clock += 86_400_000 + 1;
    try {
      expect((await getRow('ttl', [{ id: 'a' }])).row).toEqual({});
      expect((await putRow('ttl', [{ id: 'a' }], [{ c: 'again' }], 'EXPECT_NOT_EXIST')).ok).toBe(true);
    } finally {
      clock = saved + 86_400_000 + 1;
    }
  });

  it('generates auto-increment keys and returns them with ReturnType PK', async () => {
    await createTable('auto', [
      { name: 'part', type: 'STRING' },
      { name: 'seq', type: 'INTEGER', option: 'AUTO_INCREMENT' },
    ]);
    const keys: bigint[] = [];
    for (let i = 0; i < 3; i++) {
      const put = await ok(client, 'putRow', {
        tableName: 'auto',
        condition: condition('IGNORE'),
        primaryKey: [{ part: 'p' }, { seq: TableStore.PK_AUTO_INCR }],
        attributeColumns: [{ i: long(i) }],
        returnContent: { returnType: TableStore.ReturnType.Primarykey },
      });
      const [[, part], [, seq]] = primaryKey(put.row) as [[string, string], [string, bigint]];
      expect(part).toBe('p');
      keys.push(seq);
    }
    expect(keys[0]! < keys[1]! && keys[1]! < keys[2]!).toBe(true);
    const read = (await getRow('auto', [{ part: 'p' }, { seq: TableStore.Long.fromString(String(keys[1])) }])).row;
    expect(attributes(read)).toEqual([['i', 1n, BigInt(clock)]]);
    const conditioned = await call(client, 'putRow', {
      tableName: 'auto',
      condition: condition('EXPECT_NOT_EXIST'),
      primaryKey: [{ part: 'p' }, { seq: TableStore.PK_AUTO_INCR }],
      attributeColumns: [{ i: long(9) }],
    });
    expect(conditioned).toEqual({
      ok: false,
      error: { status: 400, code: 'OTSParameterInvalid', message: 'Invalid expect:EXPECT_NOT_EXIST when modify row with pk auto increment.' },
    });
  });
});

describe('GetRange', () => {
  beforeAll(async () => {
    await createTable('range', [
      { name: 'a', type: 'INTEGER' },
      { name: 'b', type: 'STRING' },
    ]);
    const rows = [];
    for (const a of [-2, 0, 3]) for (const b of ['x', 'y', 'z']) rows.push({ type: 'PUT', condition: condition('IGNORE'), primaryKey: [{ a: long(a) }, { b }], attributeColumns: [{ v: `${a}${b}` }] });
    const written = await ok(client, 'batchWriteRow', { tables: [{ tableName: 'range', rows }] });
    expect(written.tables.every((r: Sdk) => r.isOk)).toBe(true);
  });

  const range = (direction: 'FORWARD' | 'BACKWARD', start: Sdk[], end: Sdk[], limit?: number) =>
    ok(client, 'getRange', { tableName: 'range', direction: TableStore.Direction[direction], inclusiveStartPrimaryKey: start, exclusiveEndPrimaryKey: end, ...(limit === undefined ? {} : { limit }) });
  const values = (data: Sdk) => data.rows.map((r: Sdk) => r.attributes[0].columnValue);
  const MIN = [{ a: TableStore.INF_MIN }, { b: TableStore.INF_MIN }];
  const MAX = [{ a: TableStore.INF_MAX }, { b: TableStore.INF_MAX }];

  it('reads forward and backward in primary-key order (signed integers, then strings)', async () => {
    expect(values(await range('FORWARD', MIN, MAX))).toEqual(['-2x', '-2y', '-2z', '0x', '0y', '0z', '3x', '3y', '3z']);
    expect(values(await range('BACKWARD', MAX, MIN))).toEqual(['3z', '3y', '3x', '0z', '0y', '0x', '-2z', '-2y', '-2x']);
    expect(values(await range('FORWARD', [{ a: long(0) }, { b: 'y' }], [{ a: long(3) }, { b: 'y' }]))).toEqual(['0y', '0z', '3x']);
    expect(values(await range('BACKWARD', [{ a: long(0) }, { b: TableStore.INF_MAX }], [{ a: long(-2) }, { b: 'y' }]))).toEqual(['0z', '0y', '0x', '-2z']);
    const empty = await range('FORWARD', [{ a: long(1) }, { b: TableStore.INF_MIN }], [{ a: long(2) }, { b: TableStore.INF_MIN }]);
    expect(empty.rows).toEqual([]);
    expect(empty.nextStartPrimaryKey).toBeNull();
  });

  it('pages with limit and next_start_primary_key', async () => {
    const seen: string[] = [];
    let start: Sdk[] = MIN;
    let pages = 0;
    for (;;) {
      const page = await range('FORWARD', start, MAX, 4);
      pages++;
      expect(page.rows.length).toBeLessThanOrEqual(4);
      seen.push(...values(page));
      if (page.nextStartPrimaryKey === null) break;
      start = page.nextStartPrimaryKey.map((c: Sdk) => ({ [c.name]: c.value }));
    }
    expect(pages).toBe(3);
    expect(seen).toEqual(['-2x', '-2y', '-2z', '0x', '0y', '0z', '3x', '3y', '3z']);
  });

  it('refuses inverted ranges and bad limits with the service messages', async () => {
    const inverted = await fails(client, 'getRange', { tableName: 'range', direction: TableStore.Direction.FORWARD, inclusiveStartPrimaryKey: MAX, exclusiveEndPrimaryKey: MIN });
    expect(inverted).toEqual({ status: 400, code: 'OTSParameterInvalid', message: 'Begin key must less than end key in FORWARD' });
    const backward = await fails(client, 'getRange', { tableName: 'range', direction: TableStore.Direction.BACKWARD, inclusiveStartPrimaryKey: MIN, exclusiveEndPrimaryKey: MAX });
    expect(backward.message).toBe('Begin key must more than end key in BACKWARD');
    const negative = await fails(client, 'getRange', { tableName: 'range', direction: TableStore.Direction.FORWARD, inclusiveStartPrimaryKey: MIN, exclusiveEndPrimaryKey: MAX, limit: -1 });
    expect(negative.message).toBe('The limit must be greater than 0.');
  });
});

describe('batch operations', () => {
  beforeAll(async () => {
    await createTable('batch_a', [{ name: 'id', type: 'STRING' }]);
    await createTable('batch_b', [{ name: 'n', type: 'INTEGER' }]);
  });

  it('BatchWriteRow runs each row on its own and answers in request order', async () => {
    await ok(client, 'putRow', { tableName: 'batch_a', condition: condition('IGNORE'), primaryKey: [{ id: 'taken' }], attributeColumns: [{ c: 'old' }] });
    await ok(client, 'putRow', { tableName: 'batch_a', condition: condition('IGNORE'), primaryKey: [{ id: 'other' }], attributeColumns: [{ c: 'o' }] });
    const result = await ok(client, 'batchWriteRow', {
      tables: [
        {
          tableName: 'batch_a',
          rows: [
            { type: 'PUT', condition: condition('IGNORE'), primaryKey: [{ id: 'new' }], attributeColumns: [{ c: 'n' }], returnContent: { returnType: TableStore.ReturnType.Primarykey } },
            { type: 'PUT', condition: condition('EXPECT_NOT_EXIST'), primaryKey: [{ id: 'taken' }], attributeColumns: [{ c: 'clobber' }] },
            { type: 'UPDATE', condition: condition('EXPECT_EXIST'), primaryKey: [{ id: 'other' }], attributeColumns: [{ PUT: [{ d: 'added' }] }] },
            { type: 'PUT', condition: condition('IGNORE'), primaryKey: [{ id: long(1) }], attributeColumns: [{ c: 'bad key' }] },
          ],
        },
        {
          tableName: 'batch_b',
          rows: [{ type: 'DELETE', condition: condition('EXPECT_EXIST'), primaryKey: [{ n: long(404) }] }],
        },
        {
          tableName: 'batch_missing',
          rows: [{ type: 'PUT', condition: condition('IGNORE'), primaryKey: [{ id: 'x' }], attributeColumns: [{ c: 'x' }] }],
        },
      ],
    });
    expect(result.tables.map((r: Sdk) => [r.tableName, r.isOk, r.errorCode ?? null])).toEqual([
      ['batch_a', true, null],
      ['batch_a', false, 'OTSConditionCheckFail'],
      ['batch_a', true, null],
      ['batch_a', false, 'OTSInvalidPK'],
      ['batch_b', false, 'OTSConditionCheckFail'],
      ['batch_missing', false, 'OTSObjectNotExist'],
    ]);
    expect(primaryKey(result.tables[0])).toEqual([['id', 'new']]);
    expect(result.tables[3].errorMessage).toBe('Validate PK type fail. Input: VT_INTEGER, Meta: VT_STRING.');
    expect(attributes((await getRow('batch_a', [{ id: 'taken' }])).row).map(([name, value]) => [name, value])).toEqual([['c', 'old']]);
    expect(attributes((await getRow('batch_a', [{ id: 'other' }])).row).map(([name, value]) => [name, value])).toEqual([
      ['c', 'o'],
      ['d', 'added'],
    ]);
    expect((await getRow('batch_a', [{ id: 'new' }])).row).not.toEqual({});
  });

  it('BatchWriteRow takes 200 rows and refuses 201', async () => {
    const rows = (n: number) =>
      Array.from({ length: n }, (_, i) => ({ type: 'PUT', condition: condition('IGNORE'), primaryKey: [{ n: long(i) }], attributeColumns: [{ v: long(i * 2) }] }));
    const accepted = await ok(client, 'batchWriteRow', { tables: [{ tableName: 'batch_b', rows: rows(200) }] });
    expect(accepted.tables).toHaveLength(200);
    expect(accepted.tables.every((r: Sdk) => r.isOk)).toBe(true);
    expect(await fails(client, 'batchWriteRow', { tables: [{ tableName: 'batch_b', rows: rows(201) }] })).toEqual({
      status: 400,
      code: 'OTSParameterInvalid',
      message: 'Rows count exceeds the upper limit: 200.',
    });
    const page = await ok(client, 'getRange', {
      tableName: 'batch_b',
      direction: TableStore.Direction.FORWARD,
      inclusiveStartPrimaryKey: [{ n: TableStore.INF_MIN }],
      exclusiveEndPrimaryKey: [{ n: TableStore.INF_MAX }],
    });
    expect(page.rows).toHaveLength(200);
    expect(plain(page.rows[199].attributes[0].columnValue)).toBe(398n);
  });

  it('BatchWriteRow refuses repeated rows with a condition as a whole', async () => {
    const repeated = await fails(client, 'batchWriteRow', {
      tables: [
        {
          tableName: 'batch_a',
          rows: [
            { type: 'PUT', condition: condition('EXPECT_EXIST'), primaryKey: [{ id: 'r' }], attributeColumns: [{ c: '1' }] },
            { type: 'PUT', condition: condition('IGNORE'), primaryKey: [{ id: 'r' }], attributeColumns: [{ c: '2' }] },
          ],
        },
      ],
    });
    expect(repeated).toEqual({ status: 400, code: 'OTSParameterInvalid', message: 'Repeated rows do not support row exist expectation check in BatchModify.' });
  });

  it('BatchGetRow returns rows per table in request order, with per-row errors', async () => {
    const result = await ok(client, 'batchGetRow', {
      tables: [
        { tableName: 'batch_a', primaryKey: [[{ id: 'taken' }], [{ id: 'absent' }], [{ id: long(5) }]], columnsToGet: ['c'] },
        { tableName: 'batch_b', primaryKey: [[{ n: long(7) }]] },
        { tableName: 'batch_missing', primaryKey: [[{ id: 'x' }]] },
      ],
    });
    const [a, b, missing] = result.tables;
    expect(a.map((r: Sdk) => [r.isOk, r.errorCode ?? null])).toEqual([
      [true, null],
      [true, null],
      [false, 'OTSInvalidPK'],
    ]);
    expect(attributes(a[0]).map(([name, value]) => [name, value])).toEqual([['c', 'old']]);
    expect(a[1].primaryKey).toBeNull();
    expect(primaryKey(b[0])).toEqual([['n', 7n]]);
    expect(attributes(b[0]).map(([name, value]) => [name, value])).toEqual([['v', 14n]]);
    expect(missing[0]).toMatchObject({ isOk: false, errorCode: 'OTSObjectNotExist' });
  });
});

describe('reads with column pagination and the service limits', () => {
  beforeAll(async () => {
    await createTable('wide', [{ name: 'id', type: 'STRING' }]);
    await ok(client, 'putRow', {
      tableName: 'wide',
      condition: condition('IGNORE'),
      primaryKey: [{ id: 'w' }],
      attributeColumns: ['e', 'a', 'd', 'b', 'c'].map((name) => ({ [name]: name.toUpperCase() })),
    });
  });

  it('pages over columns in name order with ColumnPaginationFilter(limit, offset)', async () => {
    const page = (await getRow('wide', [{ id: 'w' }], { columnFilter: new TableStore.ColumnPaginationFilter(2, 1) })).row;
    expect(attributes(page).map(([name, value]) => [name, value])).toEqual([
      ['b', 'B'],
      ['c', 'C'],
    ]);
    const window = (await getRow('wide', [{ id: 'w' }], { startColumn: 'b', endColumn: 'd' })).row;
    expect(attributes(window).map(([name]) => name)).toEqual(['b', 'c']);
  });

  it('refuses requests over the limits with OTSParameterInvalid', async () => {
    const tooManyKeys = await fails(client, 'batchGetRow', { tables: [{ tableName: 'wide', primaryKey: Array.from({ length: 101 }, (_, i) => [{ id: `k${i}` }]) }] });
    expect(tooManyKeys).toEqual({ status: 400, code: 'OTSParameterInvalid', message: 'Rows count exceeds the upper limit: 100.' });
    const tooManyColumns = await fails(client, 'getRow', { tableName: 'wide', primaryKey: [{ id: 'w' }], columnsToGet: Array.from({ length: 129 }, (_, i) => `c${i}`) });
    expect(tooManyColumns.message).toBe('The number of columns to get exceeds the limit: 128.');
    const longKey = await fails(client, 'getRow', { tableName: 'wide', primaryKey: [{ id: 'x'.repeat(1025) }] });
    expect(longKey.message).toBe("The length of primary key column: 'id' exceeds the MaxLength:1024 with CurrentLength:1025.");
    const fivePk = await fails(client, 'createTable', {
      tableMeta: { tableName: 'five', primaryKey: ['a', 'b', 'c', 'd', 'e'].map((name) => ({ name, type: 'STRING' })) },
      reservedThroughput: { capacityUnit: { read: 0, write: 0 } },
      tableOptions: { timeToLive: -1, maxVersions: 1 },
    });
    expect(fivePk).toMatchObject({ status: 400, code: 'OTSParameterInvalid' });
    expect(fivePk.message).toContain('[1, 4]');
  });
});
