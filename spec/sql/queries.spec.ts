/**
 * Golden tests of the SQL semantics: each expression and clause compiled by `compile` and run by
 * its planned operator chain over in-memory records (the same chain a batch SELECT runs over a
 * table scan), compared with values worked out by hand from Spark SQL's rules.
 */
import * as E from 'fp-ts/lib/Either.js';
import { lastValueFrom } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { microBatch } from '../../lib/stream/micro-batch.js';
import { memorySource } from '../../lib/stream/source.js';
import type { TableBatch } from '../../lib/stream/batch.js';
import { tableRows, type OutputRow } from '../../lib/stream/table.js';
import { compile } from '../../lib/sql/compile.js';
import { planQuery } from '../../lib/sql/plan.js';
import { formatSqlErrors } from '../../lib/sql/printer.js';
import type { ChangeRecord, ColumnValue } from '../../lib/wire/types.js';

const CATALOG = JSON.stringify({
  columns: { id: { type: 'string' }, n: { type: 'long' }, x: { type: 'double' }, s: { type: 'string' }, b: { type: 'boolean' }, ts: { type: 'long' } },
});

type Row = { id: string; n?: number; x?: number; s?: string; b?: boolean; ts?: number };

const put = (row: Row): ChangeRecord => ({
  action: 'PUT_ROW',
  primaryKey: [{ name: 'id', value: row.id }],
  cells: Object.entries(row)
    .filter(([name, value]) => name !== 'id' && value !== undefined)
    .map(([name, value]) => ({ op: 'put' as const, name, value: (name === 'n' || name === 'ts' ? BigInt(value as number) : value) as ColumnValue })),
});

const ROWS: Row[] = [
  { id: 'a', n: 1, x: 1.5, s: 'apple', b: true, ts: 1_595_990_621_936 },
  { id: 'b', n: 2, x: -2.25, s: 'banana', b: false, ts: 1_595_990_650_000 },
  { id: 'c', n: 3, s: 'cherry', ts: 1_595_990_679_999 },
  { id: 'd', x: 10, s: 'Date', b: true },
];

/** Runs `SELECT …` (everything after SELECT) over the rows of table t. */
async function select(query: string, rows: readonly Row[] = ROWS, zone = 'UTC'): Promise<OutputRow[]> {
  const sql = `CREATE TABLE t USING tablestore OPTIONS(table.name='T', catalog='${CATALOG}');\nSELECT ${query}`;
  const compiled = compile(sql, { timeZone: zone });
  if (E.isLeft(compiled)) throw new Error(formatSqlErrors(sql, compiled.left));
  const statement = compiled.right.statements[1];
  if (statement?.analyzed.kind !== 'select') throw new Error('not a select');
  const plan = planQuery(statement.analyzed.query, { zone: compiled.right.timeZone, outputMode: 'update' });
  const source = memorySource({ t: rows.length === 0 ? [] : [rows.map(put)] });
  const batch = await lastValueFrom(source.pipe(microBatch({ interval: Number.POSITIVE_INFINITY }), plan.operator), { defaultValue: undefined as TableBatch | undefined });
  return batch === undefined ? [] : (tableRows(batch.rows) as OutputRow[]);
}

const values = async (expr: string, rows?: readonly Row[], zone?: string): Promise<unknown[]> => (await select(`${expr} AS v FROM t`, rows, zone)).map((row) => row['v']);

describe('literals, columns and arithmetic', () => {
  it('columns read their catalog types; absent values are null', async () => {
    expect(await values('n')).toEqual([1, 2, 3, null]);
    expect(await values('x')).toEqual([1.5, -2.25, null, 10]);
    expect(await values('t.s')).toEqual(['apple', 'banana', 'cherry', 'Date']);
    expect(await values('b')).toEqual([true, false, null, true]);
  });

  it('arithmetic with Spark rules: / is fractional, x / 0 is null, % keeps the sign of the dividend', async () => {
    expect(await values('n + 1')).toEqual([2, 3, 4, null]);
    expect(await values('n * x')).toEqual([1.5, -4.5, null, null]);
    expect(await values('n / 2')).toEqual([0.5, 1, 1.5, null]);
    expect(await values('n / 0')).toEqual([null, null, null, null]);
    expect(await values('-n % 2')).toEqual([-1, -0, -1, null]);
    expect(await values('(n - 1) * -2 + 0.5')).toEqual([0.5, -1.5, -3.5, null]);
  });

  it('literals: strings, numbers, booleans, NULL', async () => {
    expect(await values("'it''s'", ROWS.slice(0, 1))).toEqual(["it's"]);
    expect(await values('1.25e2', ROWS.slice(0, 1))).toEqual([125]);
    expect(await values('TRUE AND NOT FALSE', ROWS.slice(0, 1))).toEqual([true]);
    expect(await values('NULL', ROWS.slice(0, 1))).toEqual([null]);
  });
});

describe('predicates and three-valued logic', () => {
  it('comparisons of numbers and strings; null compares to null', async () => {
    expect(await values('n >= 2')).toEqual([false, true, true, null]);
    expect(await values("s < 'b'")).toEqual([true, false, false, true]);
    expect(await values("n = '2'")).toEqual([false, true, false, null]);
  });

  it('AND/OR with nulls, IS [NOT] NULL', async () => {
    expect(await values('b AND n > 1')).toEqual([false, false, null, null]);
    expect(await values('b OR n > 1')).toEqual([true, true, true, true]);
    expect(await values('x IS NULL')).toEqual([false, false, true, false]);
    expect(await values('n IS NOT NULL')).toEqual([true, true, true, false]);
  });

  it('[NOT] IN, [NOT] BETWEEN, [NOT] LIKE', async () => {
    expect(await values('n IN (1, 3)')).toEqual([true, false, true, null]);
    expect(await values('n NOT IN (1, NULL)')).toEqual([false, null, null, null]);
    expect(await values('n BETWEEN 2 AND 3')).toEqual([false, true, true, null]);
    expect(await values('x NOT BETWEEN 0 AND 5')).toEqual([false, true, null, true]);
    expect(await values("s LIKE '%an%'")).toEqual([false, true, false, false]);
    expect(await values("s NOT LIKE '_a%'")).toEqual([true, false, true, false]);
  });

  it('CASE, searched and simple, with and without ELSE', async () => {
    expect(await values("CASE WHEN n > 2 THEN 'big' WHEN n > 1 THEN 'mid' ELSE 'small' END")).toEqual(['small', 'mid', 'big', 'small']);
    expect(await values("CASE n WHEN 1 THEN 'one' WHEN 2 THEN 'two' END")).toEqual(['one', 'two', null, null]);
    expect(await values('CASE WHEN b THEN n ELSE x END')).toEqual([1, -2.25, null, null]);
  });

  it('WHERE keeps the rows whose condition is true (not null)', async () => {
    expect((await select('id FROM t WHERE n > 1 OR b')).map((row) => row['id'])).toEqual(['a', 'b', 'c', 'd']);
    expect((await select('id FROM t WHERE x > 0 AND n IS NOT NULL')).map((row) => row['id'])).toEqual(['a']);
  });
});

describe('casts and functions', () => {
  it('CAST follows Spark: doubles print like Java, bad text is null, long truncates', async () => {
    expect(await values('CAST(x AS String)')).toEqual(['1.5', '-2.25', null, '10.0']);
    expect(await values('CAST(n AS Double)')).toEqual([1, 2, 3, null]);
    expect(await values('CAST(x AS Long)')).toEqual([1, -2, null, 10]);
    expect(await values('CAST(s AS Int)')).toEqual([null, null, null, null]);
    expect(await values("CAST('12' AS Int) + 1", ROWS.slice(0, 1))).toEqual([13]);
    expect(await values("CAST('yes' AS Boolean)", ROWS.slice(0, 1))).toEqual([true]);
    expect(await values('CAST(b AS String)')).toEqual(['true', 'false', null, 'true']);
  });

  it('to_timestamp(ms / 1000) and CAST AS String format in the session time zone', async () => {
    expect(await values('CAST(to_timestamp(ts / 1000) AS String)', ROWS.slice(0, 3), 'UTC')).toEqual(['2020-07-29 02:43:41.936', '2020-07-29 02:44:10', '2020-07-29 02:44:39.999']);
    expect(await values('CAST(to_timestamp(ts / 1000) AS String)', ROWS.slice(1, 2), 'Asia/Shanghai')).toEqual(['2020-07-29 10:44:10']);
    expect(await values('unix_timestamp(to_timestamp(ts / 1000))', ROWS.slice(0, 1))).toEqual([1_595_990_621]);
    expect(await values("date_format(to_timestamp(ts / 1000), 'yyyy/MM/dd HH:mm')", ROWS.slice(0, 1), 'Asia/Shanghai')).toEqual(['2020/07/29 10:43']);
    expect(await values('from_unixtime(1595990650)', ROWS.slice(0, 1), 'UTC')).toEqual(['2020-07-29 02:44:10']);
    expect(await values("unix_timestamp('2020-07-29 02:44:10')", ROWS.slice(0, 1), 'UTC')).toEqual([1_595_990_650]);
  });

  it('coalesce, concat, abs, round', async () => {
    expect(await values('coalesce(x, n, 0)')).toEqual([1.5, -2.25, 3, 10]);
    expect(await values("concat(s, '-', n)")).toEqual(['apple-1', 'banana-2', 'cherry-3', null]);
    expect(await values('abs(x)')).toEqual([1.5, 2.25, null, 10]);
    expect(await values('round(x)')).toEqual([2, -2, null, 10]);
    expect(await values('round(x * 1.11, 1)')).toEqual([1.7, -2.5, null, 11.1]);
    expect(await values('round(2.675, 2)', ROWS.slice(0, 1))).toEqual([2.68]);
  });
});

describe('aggregation', () => {
  const orders: Row[] = [
    { id: 'o1', s: 'u1', x: 10, ts: 1_000 },
    { id: 'o2', s: 'u2', x: 20, ts: 29_999 },
    { id: 'o3', s: 'u1', x: 5, ts: 30_000 },
    { id: 'o4', s: 'u1', ts: 45_000 },
    { id: 'o5', s: 'u2', x: 7.5, ts: 61_000 },
    { id: 'o6', s: 'u3', x: 1 },
  ];
  const byWindow = (rows: OutputRow[]) => rows.map((row) => ({ ...row })).sort((a, b) => String(a['begin']).localeCompare(String(b['begin'])) || String(a['s']).localeCompare(String(b['s'])));

  it("the seed query: 30 s tumbling windows by to_timestamp(ms / 1000); rows without time are dropped", async () => {
    const rows = await select(
      `CAST(window.start AS String) AS begin, CAST(window.end AS String) AS end, count(*) AS count, CAST(sum(x) AS Double) AS totalPrice FROM t GROUP BY window(to_timestamp(ts / 1000), "30 seconds")`,
      orders,
    );
    expect(byWindow(rows)).toEqual([
      { begin: '1970-01-01 00:00:00', end: '1970-01-01 00:00:30', count: 2, totalPrice: 30 },
      { begin: '1970-01-01 00:00:30', end: '1970-01-01 00:01:00', count: 2, totalPrice: 5 },
      { begin: '1970-01-01 00:01:00', end: '1970-01-01 00:01:30', count: 1, totalPrice: 7.5 },
    ]);
  });

  it('window plus a key, every aggregate, HAVING over an aggregate', async () => {
    const rows = await select(
      `CAST(window.start AS String) AS begin, s, count(*) AS c, count(x) AS cx, count(DISTINCT s) AS ds, sum(x) AS total, avg(x) AS mean, min(x) AS lo, max(x) AS hi FROM t GROUP BY window(to_timestamp(ts / 1000), '30 seconds'), s HAVING count(*) >= 1 AND s <> 'u3'`,
      orders,
    );
    expect(byWindow(rows)).toEqual([
      { begin: '1970-01-01 00:00:00', s: 'u1', c: 1, cx: 1, ds: 1, total: 10, mean: 10, lo: 10, hi: 10 },
      { begin: '1970-01-01 00:00:00', s: 'u2', c: 1, cx: 1, ds: 1, total: 20, mean: 20, lo: 20, hi: 20 },
      { begin: '1970-01-01 00:00:30', s: 'u1', c: 2, cx: 1, ds: 1, total: 5, mean: 5, lo: 5, hi: 5 },
      { begin: '1970-01-01 00:01:00', s: 'u2', c: 1, cx: 1, ds: 1, total: 7.5, mean: 7.5, lo: 7.5, hi: 7.5 },
    ]);
  });

  it('hopping windows put a row into every window covering it; expressions over aggregates', async () => {
    const rows = await select(`CAST(window.start AS String) AS begin, count(*) * 10 AS c10 FROM t GROUP BY window(to_timestamp(ts / 1000), '60 seconds', '30 seconds')`, orders);
    expect(byWindow(rows)).toEqual([
      { begin: '1969-12-31 23:59:30', c10: 20 },
      { begin: '1970-01-01 00:00:00', c10: 40 },
      { begin: '1970-01-01 00:00:30', c10: 30 },
      { begin: '1970-01-01 00:01:00', c10: 10 },
    ]);
  });

  it('GROUP BY an expression; a global aggregate; SELECT DISTINCT', async () => {
    const rows = await select(`CASE WHEN x > 8 THEN 'big' ELSE 'small' END AS size, count(*) AS c FROM t GROUP BY CASE WHEN x > 8 THEN 'big' ELSE 'small' END`, orders);
    expect(rows.map((row) => [row['size'], row['c']]).sort()).toEqual([
      ['big', 2],
      ['small', 4],
    ]);
    expect(await select('count(*) AS c, sum(x) AS total FROM t', orders)).toEqual([{ c: 6, total: 43.5 }]);
    expect((await select('DISTINCT s FROM t', orders)).map((row) => row['s']).sort()).toEqual(['u1', 'u2', 'u3']);
  });

  it('a session window per key', async () => {
    const rows = await select(`s, CAST(window.start AS String) AS begin, CAST(window.end AS String) AS end, count(*) AS c FROM t GROUP BY session_window(to_timestamp(ts / 1000), '20 seconds'), s`, orders);
    expect(rows.map((row) => [row['s'], row['begin'], row['end'], row['c']]).sort()).toEqual([
      ['u1', '1970-01-01 00:00:01', '1970-01-01 00:00:21', 1],
      ['u1', '1970-01-01 00:00:30', '1970-01-01 00:01:05', 2],
      ['u2', '1970-01-01 00:00:29.999', '1970-01-01 00:00:49.999', 1],
      ['u2', '1970-01-01 00:01:01', '1970-01-01 00:01:21', 1],
    ]);
  });
});

describe("a catalog type mismatch (EMR's rule: null, counted; catalog.type.mismatch='fail' keeps failing)", () => {
  // generated orders; every 4th price arrives as a STRING in the double column
  const orders = Array.from({ length: 24 }, (_, i) => ({ id: `o${i}`, user: `u${i % 3}`, price: i % 4 === 3 ? `${i}.00` : i + 0.25 }));
  const record = (order: (typeof orders)[number]): ChangeRecord => ({
    action: 'PUT_ROW',
    primaryKey: [{ name: 'id', value: order.id }],
    cells: [
      { op: 'put', name: 'user', value: order.user },
      { op: 'put', name: 'price', value: order.price as ColumnValue },
    ],
  });
  const catalog = JSON.stringify({ columns: { id: { type: 'string' }, user: { type: 'string' }, price: { type: 'double' } } });
  const run = async (option: string) => {
    const sql = `CREATE TABLE t USING tablestore OPTIONS(table.name='T', catalog='${catalog}'${option});\nSELECT user, count(*) AS c, count(price) AS priced, sum(price) AS total FROM t GROUP BY user`;
    const compiled = compile(sql, { timeZone: 'UTC' });
    if (E.isLeft(compiled)) throw new Error(formatSqlErrors(sql, compiled.left));
    const statement = compiled.right.statements[1];
    if (statement?.analyzed.kind !== 'select') throw new Error('not a select');
    const plan = planQuery(statement.analyzed.query, { zone: compiled.right.timeZone, outputMode: 'update' });
    const source = memorySource({ t: [orders.map(record)] });
    const batch = await lastValueFrom(source.pipe(microBatch({ interval: Number.POSITIVE_INFINITY }), plan.operator));
    return { rows: tableRows(batch.rows).sort((a, b) => String(a['user']).localeCompare(String(b['user']))), metrics: batch.context.metrics.snapshot() };
  };

  it('by default the value is null, the row counts, and the metrics name the column', async () => {
    const { rows, metrics } = await run('');
    const expected = ['u0', 'u1', 'u2'].map((user) => {
      const mine = orders.filter((order) => order.user === user);
      const numeric = mine.map((order) => order.price).filter((price): price is number => typeof price === 'number');
      return { user, c: mine.length, priced: numeric.length, total: numeric.reduce((a, b) => a + b, 0) };
    });
    expect(rows).toEqual(expected);
    const wrong = orders.filter((order) => typeof order.price === 'string').length;
    expect(metrics).toMatchObject({ typeMismatches: wrong, typeMismatchesByColumn: { price: wrong }, badRows: 0 });
  });

  it("catalog.type.mismatch='fail' stops with the bad row, as before", async () => {
    await expect(run(", catalog.type.mismatch='fail'")).rejects.toThrow(/bad row in table T, primary key \(id="o3"\): column 'price': expected double, got string "3.00"/);
    const explained = compile(`CREATE TABLE t USING tablestore OPTIONS(table.name='T', catalog='${catalog}', CATALOG.TYPE.MISMATCH='FAIL');\nEXPLAIN SELECT id FROM t`, { timeZone: 'UTC' });
    expect(E.isRight(explained) && explained.right.explain()).toContain('absent columns null; wrong attribute types fail');
  });
});
