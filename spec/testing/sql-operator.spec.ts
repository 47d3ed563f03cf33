/**
 * `sqlOperator`: a streaming query's planned chain, run without tunnel or emulator. The seed job's
 * SQL (spec/fixtures/) over generated orders cut into micro-batches must end with every window's
 * count and total equal to a direct computation from the orders; the errors name their place.
 */
import * as E from 'fp-ts/lib/Either.js';
import { readFileSync } from 'node:fs';
import { from, lastValueFrom, map, toArray } from 'rxjs';
import { describe, expect, it } from 'vitest';
import type { OutputRow } from '../../lib/stream/table.js';
import type { ChangeRecord } from '../../lib/wire/types.js';
import { compileSqlOperator, marbleSource, putRow, recordBatch, recordBuilder, seededRandom, sqlOperator, SqlOperatorError, testScheduler } from '../../lib/testing/index.js';
import { orderCatalog } from '../stream/orders.js';
import { exactPrice } from '../stream/helpers.js';

const SEED = readFileSync(new URL('../fixtures/seed-orders-job.sql', import.meta.url), 'utf8');
const orders = recordBuilder(orderCatalog, ['UserId', 'OrderId']);

/** `yyyy-MM-dd HH:mm:ss` of an instant in UTC, independently of lib/sql/datetime.ts. */
const utcText = (ms: number): string => new Date(ms).toISOString().slice(0, 19).replace('T', ' ');

const TABLES = `
CREATE TABLE orders USING tablestore OPTIONS(table.name='OrderSource', catalog='{"columns": {"UserId": {"type": "string"}, "OrderId": {"type": "string"}, "price": {"type": "double"}, "timestamp": {"type": "long"}}}');
CREATE SCAN orders_stream ON orders USING STREAM OPTIONS(tunnel.name='orders');
`;

describe('sqlOperator', () => {
  it("runs the seed job's SQL: in update mode the last row of each window is the direct count and total of its orders", async () => {
    for (const seed of [1, 7, 42]) {
      const next = seededRandom(seed);
      const start = Date.UTC(2026, 11, 7, 0, 43, 0);
      const generated = Array.from({ length: 2000 }, (_, n) => ({ user: `u${n % 13}`, id: `o${n}`, price: exactPrice(Math.floor(next() * 4000)), t: start + Math.floor(next() * 300_000) }));
      const expected = new Map<string, { begin: string; end: string; count: number; totalPrice: number }>();
      for (const o of generated) {
        const begin = Math.floor(o.t / 30_000) * 30_000;
        const key = utcText(begin);
        const row = expected.get(key) ?? { begin: key, end: utcText(begin + 30_000), count: 0, totalPrice: 0 };
        row.count += 1;
        row.totalPrice += o.price;
        expected.set(key, row);
      }
      // cut into batches of random sizes, as a tunnel would deliver them
      const batches = [];
      for (let i = 0, id = 0; i < generated.length; id++) {
        const size = 1 + Math.floor(next() * 300);
        batches.push(recordBatch(id, generated.slice(i, i + size).map((o) => orders.put({ UserId: o.user, OrderId: o.id, price: o.price, timestamp: o.t }))));
        i += size;
      }
      const outputs = await lastValueFrom(from(batches).pipe(sqlOperator(SEED), toArray()));
      expect(outputs).toHaveLength(batches.length);
      const latest = new Map<string, OutputRow>();
      for (const rows of outputs) for (const row of rows) latest.set(row['begin'] as string, row);
      expect(new Map([...latest].sort(([a], [b]) => a.localeCompare(b)))).toEqual(new Map([...expected].sort(([a], [b]) => a.localeCompare(b))));
    }
  });

  it('names the output columns as the sink (a job) or the SELECT does, and lists the planned stages', () => {
    const job = compileSqlOperator(SEED);
    if (E.isLeft(job)) throw new Error(JSON.stringify(job.left));
    expect(job.right.columns).toEqual([
      { name: 'begin', type: 'string' },
      { name: 'end', type: 'string' },
      { name: 'count', type: 'long' },
      { name: 'totalPrice', type: 'double' },
    ]);
    expect(job.right.outputMode).toBe('update');
    expect(job.right.stages.map((stage) => stage.operator)).toEqual(expect.arrayContaining(['decodeRows', 'tumbling', 'aggregate', 'emitTable', 'projectTable']));
    const select = compileSqlOperator(`${TABLES} SELECT UserId AS user, price * 2 AS doubled FROM orders_stream WHERE price > 1`);
    if (E.isLeft(select)) throw new Error(JSON.stringify(select.left));
    expect(select.right.columns.map((column) => column.name)).toEqual(['user', 'doubled']);
    expect(select.right.outputMode).toBe('append');
  });

  it('a stateless SELECT filters and projects each batch; the time zone sets CAST of timestamps', () => {
    const sql = `${TABLES} SELECT OrderId, CAST(to_timestamp(timestamp / 1000) AS STRING) AS at FROM orders_stream WHERE price >= 10`;
    testScheduler(expect).run(({ cold, expectObservable }) => {
      const batches = marbleSource(cold, 'a-b|', {
        a: [orders.put({ UserId: 'u', OrderId: 'o1', price: 10, timestamp: Date.UTC(2026, 0, 1) }), orders.put({ UserId: 'u', OrderId: 'o2', price: 9, timestamp: 0 })],
        b: [],
      });
      expectObservable(batches.pipe(sqlOperator(sql))).toBe('a-b|', { a: [{ OrderId: 'o1', at: '2026-01-01 00:00:00' }], b: [] });
      expectObservable(batches.pipe(sqlOperator(sql, { timeZone: 'Asia/Shanghai' }))).toBe('a-b|', { a: [{ OrderId: 'o1', at: '2026-01-01 08:00:00' }], b: [] });
    });
  });

  it('is empty on empty, passes errors, unsubscribes upstream, and keeps state per subscription', () => {
    const sql = `${TABLES} SELECT count(*) AS n FROM orders_stream GROUP BY UserId`;
    const order = (id: string) => putRow({ UserId: 'u', OrderId: id }, { price: 1, timestamp: 1n });
    testScheduler(expect).run(({ cold, expectObservable, expectSubscriptions }) => {
      const operator = sqlOperator(sql, { outputMode: 'update' });
      expectObservable(marbleSource<ChangeRecord>(cold, '|').pipe(operator)).toBe('|');
      expectObservable(marbleSource<ChangeRecord>(cold, '-#', {}, { error: 'lost' }).pipe(operator)).toBe('-#', undefined, 'lost');
      const source = marbleSource(cold, 'a-b-c|', { a: [order('1')], b: [order('2')], c: [order('3')] });
      expectObservable(source.pipe(operator), '^--!').toBe('a-b', { a: [{ n: 1 }], b: [{ n: 2 }] });
      expectSubscriptions(source.subscriptions).toBe('^--!');
      const again = marbleSource(cold, 'a-b-c|', { a: [order('1')], b: [order('2')], c: [order('3')] });
      expectObservable(again.pipe(operator)).toBe('a-b-c|', { a: [{ n: 1 }], b: [{ n: 2 }], c: [{ n: 3 }] });
    });
  });

  it("reads an attribute of the wrong type as null (EMR's rule); a key that does not fit the catalog fails the stream, or is dropped with onBadRow skip", async () => {
    const sql = `${TABLES} SELECT OrderId, price FROM orders_stream`;
    const mistyped = [recordBatch(0, [putRow({ UserId: 'u', OrderId: 'o' }, { price: 'free', timestamp: 1n })])];
    expect(await lastValueFrom(from(mistyped).pipe(sqlOperator(sql)))).toEqual([{ OrderId: 'o', price: null }]);
    const bad = [recordBatch(0, [putRow({ UserId: 'u', OrderId: 7n }, { price: 1.5, timestamp: 1n })])];
    await expect(lastValueFrom(from(bad).pipe(sqlOperator(sql)))).rejects.toThrow(/OrderSource.*OrderId/);
    expect(await lastValueFrom(from(bad).pipe(sqlOperator(sql, { onBadRow: 'skip' }), map((rows) => rows.length)))).toBe(0);
  });

  it('refuses, with the place in the text, what cannot run as a streaming query', () => {
    const problem = (sql: string, options = {}): string => {
      const compiled = compileSqlOperator(sql, options);
      if (E.isRight(compiled)) throw new Error(`expected ${sql} to be refused`);
      return compiled.left.map((error) => `${error.line}:${error.column} ${error.message}`).join('\n');
    };
    expect(problem(TABLES)).toMatch(/^2:1 sqlOperator: the script has no streaming query/);
    expect(problem(`${TABLES} SELECT OrderId FROM orders_stream; SELECT UserId FROM orders_stream`)).toMatch(/^4:37 .*2 streaming queries/);
    expect(problem(`${TABLES} SELECT OrderId FROM orders_stream ORDER BY OrderId`)).toMatch(/ORDER BY and LIMIT are not supported/);
    expect(problem(`${TABLES} SELECT count(*) AS n FROM orders_stream GROUP BY UserId`)).toMatch(/outputMode 'append' on an aggregation needs a window and a watermark/);
    expect(problem(`${TABLES} SELECT OrderId FROM orders_stream`, { outputMode: 'complete' })).toMatch(/'complete' needs an aggregation/);
    expect(problem(`${TABLES} SELECT nope FROM orders_stream`)).toMatch(/^4:9 .*nope/);
    expect(problem(SEED, { job: 'job2' })).toMatch(/no CREATE STREAM job2 in the script \(jobs: job1\)/);
    expect(problem(SEED, { timeZone: 'Mars/Olympus' })).toMatch(/time zone/);
    expect(E.isRight(compileSqlOperator(SEED, { job: 'JOB1' }))).toBe(true);
    expect(() => sqlOperator(`${TABLES} SELECT nope FROM orders_stream`)).toThrow(SqlOperatorError);
    expect(() => sqlOperator(`${TABLES} SELECT nope FROM orders_stream`)).toThrow(/SELECT nope FROM orders_stream\n.*\^/);
  });
});
