import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ColumnCondition } from '../../lib/emulator/conditions.js';
import { type CommittedRowChange, TableEngine } from '../../lib/emulator/engine.js';
import { AUTO_INCREMENT, INF_MAX, INF_MIN, type PrimaryKeyCell, type Row } from '../../lib/wire/types.js';
import { IGNORE, LATEST, definition, leftOf, pkColumn, put, remove, rightOf, tempDir, update } from './helpers.js';

let dir: ReturnType<typeof tempDir>;
let engine: TableEngine;
let now = 1_700_000_000_000;

const open = (options: { enforceTimestampWindow?: boolean } = {}) =>
  TableEngine.open({ dataDir: dir.path, now: () => now, enforceTimestampWindow: options.enforceTimestampWindow ?? false });

beforeEach(() => {
  dir = tempDir('engine');
  now = 1_700_000_000_000;
  engine = open();
});

afterEach(async () => {
  await engine.close();
  dir.remove();
});

const pk = (id: string): PrimaryKeyCell[] => [{ name: 'id', value: id }];
const cellsOf = (row: Row | undefined) => row?.cells.map((c) => (c.op === 'put' ? [c.name, c.value, c.timestamp] : [c.name]));

describe('tables', () => {
  it('creates, lists, describes, updates and deletes', async () => {
    const created = rightOf(await engine.createTable(definition('b_table', [pkColumn('id', 'STRING')], { maxVersions: 3 })));
    rightOf(await engine.createTable(definition('a_table', [pkColumn('id', 'INTEGER')])));
    expect(created.options).toEqual({ timeToLive: -1, maxVersions: 3, deviationCellVersionInSec: 86_400, allowUpdate: true });
    expect(engine.listTables()).toEqual(['a_table', 'b_table']);
    expect(leftOf(await engine.createTable(definition('a_table', [pkColumn('id', 'INTEGER')]))).code).toBe('OTSObjectAlreadyExist');
    const updated = rightOf(await engine.updateTable('b_table', { options: { timeToLive: 86_400 }, reservedThroughput: { read: 5 } }));
    expect(updated.options.maxVersions).toBe(3);
    expect(updated.options.timeToLive).toBe(86_400);
    expect(updated.reservedThroughput).toEqual({ read: 5, write: 0 });
    rightOf(await engine.deleteTable('b_table'));
    expect(leftOf(engine.describeTable('b_table'))).toEqual({ code: 'OTSObjectNotExist', message: 'Requested table does not exist.' });
    expect(leftOf(await engine.deleteTable('b_table')).code).toBe('OTSObjectNotExist');
  });

  it('rejects bad definitions with every problem named', async () => {
    const error = leftOf(
      await engine.createTable(
        definition('3t', [pkColumn('a', 'STRING', true), pkColumn('a', 'STRING')], { timeToLive: 0 }),
      ),
    );
    expect(error.code).toBe('OTSParameterInvalid');
    expect(error.message).toContain("Invalid table name: '3t'.");
    expect(error.message).toContain("Duplicated primary key name: 'a'.");
    expect(error.message).toContain('must be of type INTEGER');
    expect(error.message).toContain('TimeToLive cannot be 0 or less than -1.');
  });

  it('stops at 64 tables per instance', async () => {
    for (let i = 0; i < 64; i++) rightOf(await engine.createTable(definition(`t${i}`, [pkColumn('id', 'STRING')])));
    expect(leftOf(await engine.createTable(definition('one_more', [pkColumn('id', 'STRING')])))).toEqual({
      code: 'OTSQuotaExhausted',
      message: 'Number of tables exceeded the quota.',
    });
  });

  it('does not resurrect rows of a dropped table under a new table of the same name', async () => {
    rightOf(await engine.createTable(definition('t', [pkColumn('id', 'STRING')])));
    rightOf(await engine.write(put('t', pk('a'), [{ op: 'put', name: 'c', value: 1n }])));
    rightOf(await engine.deleteTable('t'));
    rightOf(await engine.createTable(definition('t', [pkColumn('id', 'STRING')])));
    expect(rightOf(engine.getRow('t', pk('a'), LATEST)).row).toBeUndefined();
  });
});

describe('row writes and reads', () => {
  beforeEach(async () => {
    rightOf(await engine.createTable(definition('t', [pkColumn('id', 'STRING')], { maxVersions: 3 })));
  });

  it('PutRow replaces the row; reads return columns by name, versions newest first', async () => {
    rightOf(await engine.write(put('t', pk('a'), [{ op: 'put', name: 'z', value: 'old' }, { op: 'put', name: 'gone', value: true }])));
    now += 10;
    rightOf(
      await engine.write(
        put('t', pk('a'), [
          { op: 'put', name: 'z', value: 1.5, timestamp: 100 },
          { op: 'put', name: 'z', value: 2.5, timestamp: 200 },
          { op: 'put', name: 'b', value: Uint8Array.from([1, 2]) },
        ]),
      ),
    );
    const row = rightOf(engine.getRow('t', pk('a'), { columnsToGet: [], maxVersions: 5 })).row;
    expect(cellsOf(row)).toEqual([
      ['b', Uint8Array.from([1, 2]), now],
      ['z', 2.5, 200],
      ['z', 1.5, 100],
    ]);
    const latest = rightOf(engine.getRow('t', pk('a'), { columnsToGet: ['z', 'missing'], maxVersions: 1 })).row;
    expect(cellsOf(latest)).toEqual([['z', 2.5, 200]]);
    const ranged = rightOf(engine.getRow('t', pk('a'), { columnsToGet: [], timeRange: { kind: 'range', start: 100, end: 200 } })).row;
    expect(cellsOf(ranged)).toEqual([['z', 1.5, 100]]);
    const specific = rightOf(engine.getRow('t', pk('a'), { columnsToGet: [], maxVersions: 1, timeRange: { kind: 'specific', timestamp: 200 } })).row;
    expect(cellsOf(specific)).toEqual([['z', 2.5, 200]]);
    expect(rightOf(engine.getRow('t', pk('a'), { columnsToGet: ['missing'], maxVersions: 1 })).row).toBeUndefined();
  });

  it('keeps at most max_versions and hides versions past the TTL', async () => {
    for (let ts = 1; ts <= 5; ts++) rightOf(await engine.write(update('t', pk('a'), [{ op: 'put', name: 'c', value: BigInt(ts), timestamp: ts * 1000 }])));
    const row = rightOf(engine.getRow('t', pk('a'), { columnsToGet: [], maxVersions: 10 })).row;
    expect(cellsOf(row)).toEqual([
      ['c', 5n, 5000],
      ['c', 4n, 4000],
      ['c', 3n, 3000],
    ]);
    rightOf(await engine.updateTable('t', { options: { timeToLive: 86_400 } }));
    now = 4000 + 86_400_000; // version 4000 is exactly at the horizon, 3000 is past it
    const visible = rightOf(engine.getRow('t', pk('a'), { columnsToGet: [], maxVersions: 10 })).row;
    expect(cellsOf(visible)).toEqual([
      ['c', 5n, 5000],
      ['c', 4n, 4000],
    ]);
    now += 100_000;
    expect(rightOf(engine.getRow('t', pk('a'), LATEST)).row).toBeUndefined();
    // an expired row does not exist for conditions either
    rightOf(await engine.write(put('t', pk('a'), [{ op: 'put', name: 'c', value: 1n }], { rowExistence: 'EXPECT_NOT_EXIST' })));
  });

  it('enforces row existence expectations', async () => {
    const expectExist = { rowExistence: 'EXPECT_EXIST' } as const;
    const expectNotExist = { rowExistence: 'EXPECT_NOT_EXIST' } as const;
    expect(leftOf(await engine.write(put('t', pk('a'), [{ op: 'put', name: 'c', value: 1n }], expectExist)))).toEqual({
      code: 'OTSConditionCheckFail',
      message: 'Condition check failed.',
    });
    expect(leftOf(await engine.write(update('t', pk('a'), [{ op: 'put', name: 'c', value: 1n }], expectExist))).code).toBe('OTSConditionCheckFail');
    expect(leftOf(await engine.write(remove('t', pk('a'), expectExist))).code).toBe('OTSConditionCheckFail');
    rightOf(await engine.write(put('t', pk('a'), [{ op: 'put', name: 'c', value: 1n }], expectNotExist)));
    expect(leftOf(await engine.write(put('t', pk('a'), [{ op: 'put', name: 'c', value: 2n }], expectNotExist))).code).toBe('OTSConditionCheckFail');
    expect(leftOf(await engine.write(update('t', pk('a'), [{ op: 'put', name: 'c', value: 2n }], expectNotExist))).code).toBe('OTSConditionCheckFail');
    expect(leftOf(await engine.write(remove('t', pk('a'), expectNotExist)))).toEqual({
      code: 'OTSParameterInvalid',
      message: 'Invalid condition: EXPECT_NOT_EXIST while deleting row.',
    });
    rightOf(await engine.write(remove('t', pk('a'), expectExist)));
    rightOf(await engine.write(remove('t', pk('a'), IGNORE)));
    expect(rightOf(engine.getRow('t', pk('a'), LATEST)).row).toBeUndefined();
  });

  it('evaluates single and composite column conditions with pass_if_missing and latest_version_only', async () => {
    rightOf(await engine.write(put('t', pk('a'), [{ op: 'put', name: 'n', value: 5n, timestamp: 1 }, { op: 'put', name: 'n', value: 9n, timestamp: 2 }])));
    const single = (comparator: 'EQUAL' | 'GREATER_THAN', value: bigint | string, latestVersionOnly = true, passIfMissing = true, columnName = 'n') => ({
      kind: 'single' as const,
      comparator,
      columnName,
      value,
      passIfMissing,
      latestVersionOnly,
    });
    const outcome = async (columnCondition: ColumnCondition) => {
      const result = await engine.write(update('t', pk('a'), [{ op: 'put', name: 'x', value: 1n }], { rowExistence: 'IGNORE', columnCondition }));
      return result._tag === 'Right' ? 'pass' : result.left.code;
    };
    expect(await outcome(single('EQUAL', 9n))).toBe('pass');
    expect(await outcome(single('EQUAL', 5n))).toBe('OTSConditionCheckFail');
    expect(await outcome(single('EQUAL', 5n, false))).toBe('pass');
    expect(await outcome(single('EQUAL', 'nine'))).toBe('OTSConditionCheckFail');
    expect(await outcome(single('EQUAL', 1n, true, true, 'nope'))).toBe('pass');
    expect(await outcome(single('EQUAL', 1n, true, false, 'nope'))).toBe('OTSConditionCheckFail');
    expect(await outcome(single('EQUAL', 'a', true, false, 'id'))).toBe('pass');
    expect(await outcome({ kind: 'composite', operator: 'AND', conditions: [single('EQUAL', 9n), single('GREATER_THAN', 8n)] })).toBe('pass');
    expect(await outcome({ kind: 'composite', operator: 'AND', conditions: [single('EQUAL', 9n), single('GREATER_THAN', 9n)] })).toBe('OTSConditionCheckFail');
    expect(await outcome({ kind: 'composite', operator: 'OR', conditions: [single('EQUAL', 1n), single('GREATER_THAN', 8n)] })).toBe('pass');
    expect(await outcome({ kind: 'composite', operator: 'NOT', conditions: [single('EQUAL', 9n)] })).toBe('OTSConditionCheckFail');
    expect(await outcome({ kind: 'composite', operator: 'AND', conditions: [single('EQUAL', 9n)] })).toBe('OTSParameterInvalid');
  });

  it('UpdateRow puts, deletes one version, deletes all versions and increments', async () => {
    rightOf(await engine.write(put('t', pk('a'), [{ op: 'put', name: 'v', value: 'one', timestamp: 1 }, { op: 'put', name: 'v', value: 'two', timestamp: 2 }, { op: 'put', name: 'w', value: 1n }])));
    now += 5;
    const outcome = rightOf(
      await engine.write(
        update(
          't',
          pk('a'),
          [
            { op: 'deleteOneVersion', name: 'v', timestamp: 2 },
            { op: 'deleteAllVersions', name: 'w' },
            { op: 'increment', name: 'count', value: 5n },
            { op: 'put', name: 'p', value: false },
          ],
          IGNORE,
          { type: 'AFTER_MODIFY', columnNames: ['count'] },
        ),
      ),
    );
    expect(cellsOf(outcome.row)).toEqual([['count', 5n, now]]);
    now += 5;
    rightOf(await engine.write(update('t', pk('a'), [{ op: 'increment', name: 'count', value: -7n }])));
    const row = rightOf(engine.getRow('t', pk('a'), { columnsToGet: [], maxVersions: 3 })).row;
    expect(cellsOf(row)).toEqual([
      ['count', -2n, now],
      ['count', 5n, now - 5],
      ['p', false, now - 5],
      ['v', 'one', 1],
    ]);
    expect(leftOf(await engine.write(update('t', pk('a'), [{ op: 'increment', name: 'v', value: 1n }]))).message).toContain('must be INTEGER');
    rightOf(await engine.write(update('t', pk('a'), [{ op: 'put', name: 'big', value: (1n << 63n) - 1n }])));
    expect(leftOf(await engine.write(update('t', pk('a'), [{ op: 'increment', name: 'big', value: 1n }]))).message).toContain('overflow');
    expect(leftOf(await engine.write(update('t', pk('a'), [{ op: 'increment', name: 'count', value: 1n }, { op: 'put', name: 'count', value: 1n }]))).code).toBe(
      'OTSParameterInvalid',
    );
  });

  it('a delete-only UpdateRow of a missing row creates nothing; removing the last cells removes the row', async () => {
    rightOf(await engine.write(update('t', pk('m'), [{ op: 'deleteAllVersions', name: 'c' }])));
    expect(rightOf(engine.getRow('t', pk('m'), LATEST)).row).toBeUndefined();
    rightOf(await engine.write(put('t', pk('m'), [{ op: 'put', name: 'c', value: 1n }])));
    rightOf(await engine.write(update('t', pk('m'), [{ op: 'deleteAllVersions', name: 'c' }])));
    expect(rightOf(engine.getRow('t', pk('m'), LATEST)).row).toBeUndefined();
    // a PutRow without attributes makes a visible PK-only row
    rightOf(await engine.write(put('t', pk('k'), [])));
    expect(rightOf(engine.getRow('t', pk('k'), LATEST)).row).toEqual({ primaryKey: pk('k'), cells: [], deleteMarker: false });
  });

  it('checks keys and cells with the service messages', async () => {
    const bad = async (request: Parameters<TableEngine['write']>[0]) => leftOf(await engine.write(request));
    expect(await bad(put('t', [{ name: 'id', value: 1n }], []))).toEqual({
      code: 'OTSInvalidPK',
      message: 'Validate PK type fail. Input: VT_INTEGER, Meta: VT_STRING.',
    });
    expect(await bad(put('t', [{ name: 'nope', value: 'a' }], []))).toEqual({ code: 'OTSInvalidPK', message: 'Validate PK name fail. Input: nope, Meta: id.' });
    expect(await bad(put('t', [...pk('a'), { name: 'x', value: 'b' }], []))).toEqual({ code: 'OTSInvalidPK', message: 'Validate PK size fail. Input: 2, Meta: 1.' });
    expect((await bad(put('t', [{ name: 'id', value: INF_MIN }], []))).message).toBe('VT_INF_MIN is an invalid type for the primary key.');
    expect((await bad(put('t', [{ name: 'id', value: 'x'.repeat(1025) }], []))).message).toContain('MaxLength:1024');
    expect((await bad(put('t', pk('a'), [{ op: 'put', name: 'bad-name', value: 1n }]))).message).toBe("Invalid column name: 'bad-name'.");
    expect((await bad(put('t', pk('a'), [{ op: 'put', name: 'd', value: Number.NaN }]))).message).toContain('NaN');
    expect((await bad(put('t', pk('a'), [{ op: 'put', name: 'd', value: 1n }, { op: 'put', name: 'd', value: 2n }]))).message).toBe(
      "Duplicated attribute column name: 'd'.",
    );
    expect((await bad(put('nope', pk('a'), []))).code).toBe('OTSObjectNotExist');
    expect(leftOf(engine.getRow('t', pk('a'), { columnsToGet: [] })).message).toBe('No version condition is specified while querying row.');
  });

  it('rejects custom timestamps outside the window when enforcing it', async () => {
    await engine.close();
    engine = open({ enforceTimestampWindow: true });
    const error = leftOf(await engine.write(put('t', pk('a'), [{ op: 'put', name: 'c', value: 1n, timestamp: 1000 }])));
    expect(error).toEqual({ code: 'OTSParameterInvalid', message: 'Invalid timestamp. Cell:c.' });
    rightOf(await engine.write(put('t', pk('a'), [{ op: 'put', name: 'c', value: 1n, timestamp: now - 1000 }])));
  });
});

describe('auto-increment primary keys', () => {
  it('assigns increasing unique values and only allows IGNORE', async () => {
    rightOf(await engine.createTable(definition('auto', [pkColumn('part', 'STRING'), pkColumn('seq', 'INTEGER', true)])));
    const key = [{ name: 'part', value: 'p' }, { name: 'seq', value: AUTO_INCREMENT }];
    const returnPk = { type: 'PK' as const, columnNames: [] };
    const outcomes = await Promise.all(
      Array.from({ length: 5 }, () => engine.write(put('auto', key, [{ op: 'put', name: 'c', value: 1n }], IGNORE, returnPk))),
    );
    const values = outcomes.map((o) => rightOf(o).row!.primaryKey[1]!.value as bigint);
    expect(new Set(values).size).toBe(5);
    expect([...values].sort((a, b) => (a < b ? -1 : 1))).toEqual(values);
    expect(leftOf(await engine.write(put('auto', key, [], { rowExistence: 'EXPECT_NOT_EXIST' }))).message).toBe(
      'Invalid expect:EXPECT_NOT_EXIST when modify row with pk auto increment.',
    );
    expect(leftOf(await engine.write(remove('auto', key))).message).toBe('Invalid row to delete which with pk auto increment.');
    expect(leftOf(engine.getRow('auto', key, LATEST)).message).toBe("PKAutoIncr can't be used for read operations.");
    const [first] = values;
    expect(rightOf(engine.getRow('auto', [key[0]!, { name: 'seq', value: first! }], LATEST)).row).toBeDefined();
  });
});

describe('GetRange', () => {
  const schema = [pkColumn('a', 'INTEGER'), pkColumn('b', 'STRING')];
  const keyOf = (a: bigint, b: string): PrimaryKeyCell[] => [
    { name: 'a', value: a },
    { name: 'b', value: b },
  ];

  it('matches a sorted model forward and backward, with paging through next_start_primary_key', async () => {
    rightOf(await engine.createTable(definition('r', schema)));
    const entryArb = fc.tuple(fc.bigInt({ min: -3n, max: 3n }), fc.constantFrom('', 'a', 'ab', 'b', '\u0000', 'é'));
    const entries = fc.sample(fc.uniqueArray(entryArb, { selector: ([a, b]) => `${a}|${b}`, minLength: 0, maxLength: 25 }), { numRuns: 1, seed: 42 })[0]!;
    // enough rows to exercise paging, plus fixed rows: duplicates of column a, and keys that are a
    // bound's key extended by one zero byte (the cut point of an inclusive backward start)
    const all = [...entries, [0n, 'x'] as const, [0n, 'y'] as const, [2n, ''] as const, [0n, ''] as const, [0n, '\u0000'] as const, [1n, 'a\u0000'] as const].filter(
      (e, i, arr) => arr.findIndex((o) => o[0] === e[0] && o[1] === e[1]) === i,
    );
    for (const result of await engine.writeBatch(all.map(([a, b]) => put('r', keyOf(a, b), [{ op: 'put', name: 'v', value: `${a}|${b}` }])))) {
      rightOf(result);
    }
    const model = [...all].sort(([a1, b1], [a2, b2]) => (a1 !== a2 ? (a1 < a2 ? -1 : 1) : Buffer.compare(Buffer.from(b1), Buffer.from(b2))));
    const bound = fc.oneof(
      fc.constant([{ name: 'a', value: INF_MIN }, { name: 'b', value: INF_MIN }]),
      fc.constant([{ name: 'a', value: INF_MAX }, { name: 'b', value: INF_MAX }]),
      fc.tuple(fc.bigInt({ min: -4n, max: 4n }), fc.oneof(fc.constantFrom<unknown>(INF_MIN, INF_MAX), fc.constantFrom('', 'a', 'ab', 'c'))).map(([a, b]) => [
        { name: 'a', value: a },
        { name: 'b', value: b },
      ]),
    ) as fc.Arbitrary<PrimaryKeyCell[]>;
    const rank = (cells: readonly PrimaryKeyCell[], a: bigint, b: string): number => {
      // sign of (bound - key)
      const [x, y] = [cells[0]!.value, cells[1]!.value];
      if (x === INF_MIN) return -1;
      if (x === INF_MAX) return 1;
      if (x !== a) return (x as bigint) < a ? -1 : 1;
      if (y === INF_MIN) return -1;
      if (y === INF_MAX) return 1;
      return Math.sign(Buffer.compare(Buffer.from(y as string), Buffer.from(b)));
    };
    fc.assert(
      fc.property(bound, bound, fc.boolean(), fc.integer({ min: 1, max: 4 }), (start, end, backward, limit) => {
        const direction = backward ? ('BACKWARD' as const) : ('FORWARD' as const);
        const expected = (backward ? [...model].reverse() : model).filter(([a, b]) =>
          backward ? rank(start, a, b) >= 0 && rank(end, a, b) < 0 : rank(start, a, b) <= 0 && rank(end, a, b) > 0,
        );
        const got: string[] = [];
        let from = start;
        for (let page = 0; page < 100; page++) {
          const result = engine.getRange({ table: 'r', direction, start: from, end, limit, query: LATEST });
          if (result._tag === 'Left') {
            // only an empty or inverted range may be refused, and only with the service's message
            expect(result.left.message).toMatch(/^Begin key must (less|more) than end key in (FORWARD|BACKWARD)$/);
            expect(page).toBe(0);
            expect(expected).toEqual([]);
            return;
          }
          expect(result.right.rows.length).toBeLessThanOrEqual(limit);
          got.push(...result.right.rows.map((row) => (row.cells[0] as { value: string }).value));
          if (result.right.nextStart === undefined) break;
          from = [...result.right.nextStart];
        }
        expect(got).toEqual(expected.map(([a, b]) => `${a}|${b}`));
      }),
      { numRuns: 300 },
    );
  });

  it('handles keys of four 1 KB columns: refused for writes past LMDB key size, fine as range bounds', async () => {
    const wide = ['p', 'q', 'r', 's'].map((name) => pkColumn(name, 'STRING'));
    rightOf(await engine.createTable(definition('wide', wide)));
    const key = (fill: string, size: number) => wide.map((c) => ({ name: c.name, value: fill.repeat(size) }));
    rightOf(await engine.write(put('wide', key('m', 900), [{ op: 'put', name: 'v', value: 1n }])));
    const tooLong = leftOf(await engine.write(put('wide', key('m', 1024), [{ op: 'put', name: 'v', value: 2n }])));
    expect(tooLong.code).toBe('OTSParameterInvalid');
    expect(tooLong.message).toContain("emulator's storage");
    for (const direction of ['FORWARD', 'BACKWARD'] as const) {
      const [start, end] = direction === 'FORWARD' ? [key('a', 1024), key('z', 1024)] : [key('z', 1024), key('a', 1024)];
      const result = rightOf(engine.getRange({ table: 'wide', direction, start, end, query: LATEST }));
      expect(result.rows.map((r) => (r.primaryKey[0]!.value as string).length)).toEqual([900]);
      const beyond = direction === 'FORWARD' ? [key('n', 1024), key('z', 1024)] : [key('l', 1024), key('a', 1024)];
      expect(rightOf(engine.getRange({ table: 'wide', direction, start: beyond[0]!, end: beyond[1]!, query: LATEST })).rows).toEqual([]);
    }
    expect(rightOf(engine.getRow('wide', key('m', 1024), LATEST)).row).toBeUndefined();
  });

  it('skips rows filtered out and rejects a non-positive limit', async () => {
    rightOf(await engine.createTable(definition('f', [pkColumn('id', 'STRING')])));
    for (const [id, n] of [['a', 1n], ['b', 2n], ['c', 3n]] as const) rightOf(await engine.write(put('f', pk(id), [{ op: 'put', name: 'n', value: n }])));
    const all = [{ name: 'id', value: INF_MIN }];
    const end = [{ name: 'id', value: INF_MAX }];
    const result = rightOf(
      engine.getRange({
        table: 'f',
        direction: 'FORWARD',
        start: all,
        end,
        query: { columnsToGet: [], maxVersions: 1, filter: { kind: 'single', comparator: 'GREATER_EQUAL', columnName: 'n', value: 2n, passIfMissing: false, latestVersionOnly: true } },
      }),
    );
    expect(result.rows.map((r) => r.primaryKey[0]!.value)).toEqual(['b', 'c']);
    expect(leftOf(engine.getRange({ table: 'f', direction: 'FORWARD', start: all, end, limit: 0, query: LATEST })).message).toBe('The limit must be greater than 0.');
  });
});

describe('commit hooks', () => {
  it('see every committed change inside the transaction, and a failing hook undoes its row', async () => {
    rightOf(await engine.createTable(definition('h', [pkColumn('id', 'STRING')])));
    const log = engine.env.openDB<string, number>({ name: 'test-log', encoding: 'msgpack' });
    const seen: CommittedRowChange[] = [];
    let counter = 0;
    engine.onCommit((change, context) => {
      if (change.primaryKey[0]!.value === 'poison') throw new Error('hook refused');
      seen.push(change);
      log.putSync(++counter, `${change.action}:${String(change.primaryKey[0]!.value)}`);
      expect(context.env).toBe(engine.env);
    });
    rightOf(await engine.write(put('h', pk('a'), [{ op: 'put', name: 'c', value: 1n }])));
    rightOf(await engine.write(update('h', pk('a'), [{ op: 'increment', name: 'c', value: 2n }])));
    rightOf(await engine.write(remove('h', pk('a'))));
    const batch = await engine.writeBatch([put('h', pk('poison'), [{ op: 'put', name: 'c', value: 1n }]), put('h', pk('b'), [])]);
    expect(batch.map((r) => r._tag)).toEqual(['Left', 'Right']);
    expect(rightOf(engine.getRow('h', pk('poison'), LATEST)).row).toBeUndefined();
    expect(seen.map((c) => c.action)).toEqual(['PUT_ROW', 'UPDATE_ROW', 'DELETE_ROW', 'PUT_ROW']);
    expect(seen[1]!.cells).toEqual([{ op: 'put', name: 'c', value: 3n, timestamp: now }]);
    expect(seen[1]!.before?.columns[0]?.versions[0]?.value).toBe(1n);
    expect(seen[2]!.after).toBeUndefined();
    expect([...log.getRange()].map((e) => e.value)).toEqual(['PUT_ROW:a', 'UPDATE_ROW:a', 'DELETE_ROW:a', 'PUT_ROW:b']);
  });
});

describe('durability', () => {
  it('reopening the data directory returns every acknowledged write and table', async () => {
    rightOf(await engine.createTable(definition('d', [pkColumn('id', 'STRING')])));
    const writes = await Promise.all(Array.from({ length: 50 }, (_, i) => engine.write(put('d', pk(`k${i}`), [{ op: 'put', name: 'i', value: BigInt(i) }]))));
    writes.forEach((w) => rightOf(w));
    await engine.close();
    engine = open();
    expect(engine.listTables()).toEqual(['d']);
    for (let i = 0; i < 50; i++) expect(cellsOf(rightOf(engine.getRow('d', pk(`k${i}`), LATEST)).row)).toEqual([['i', BigInt(i), now]]);
  });
});
