/**
 * Compiled statements run (lib/sql/job.ts) against a real emulator, tables written and read through the
 * official SDK: batch SELECT with ORDER BY / LIMIT over a table and over a BATCH scan, batch
 * INSERT into a sink, the script's catalog (DROP, IF NOT EXISTS), and an append-mode stream job
 * with a watermark that emits each window once, when it closes.
 */
import * as E from 'fp-ts/lib/Either.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compile, type StatementResult } from '../../lib/sql/index.js';
import { formatSqlErrors } from '../../lib/sql/printer.js';
import { ORDER_TABLE, createOrderTable, sdkCall, startTunnelEmulator, TableStore, type TunnelEmulator } from '../tunnel/emulator-harness.js';

let env: TunnelEmulator;

beforeAll(async () => {
  env = await startTunnelEmulator({ partitions: 2 });
  await createOrderTable(env.sdk);
  for (const tableName of ['Totals', 'Closed']) {
    await sdkCall(env.sdk, 'createTable', {
      tableMeta: { tableName, primaryKey: [{ name: 'UserId', type: 'STRING' }, ...(tableName === 'Closed' ? [{ name: 'begin', type: 'STRING' }] : [])] },
      reservedThroughput: { capacityUnit: { read: 0, write: 0 } },
      tableOptions: { timeToLive: -1, maxVersions: 1 },
    });
  }
});

afterAll(async () => {
  await env?.close();
});

const table = (name: string, tableName: string, catalog: Record<string, string>) =>
  `CREATE TABLE ${name} USING tablestore OPTIONS(endpoint='${env.emulator.endpoint}', instance.name='${env.emulator.instanceName}', access.key.id='${env.emulator.credentials.accessKeyId}', access.key.secret='${env.emulator.credentials.accessKeySecret}', table.name='${tableName}', catalog='${JSON.stringify({ columns: Object.fromEntries(Object.entries(catalog).map(([column, type]) => [column, { type }])) })}');`;
const orders = () => table('orders', ORDER_TABLE, { UserId: 'string', OrderId: 'string', price: 'double', timestamp: 'long' });

async function putOrders(orders: ReadonlyArray<{ user: string; id: string; price: number; at: number }>): Promise<void> {
  const rows = orders.map((o) => ({
    type: 'PUT',
    condition: new TableStore.Condition(TableStore.RowExistenceExpectation.IGNORE, null),
    primaryKey: [{ UserId: o.user }, { OrderId: o.id }],
    attributeColumns: [{ price: o.price }, { timestamp: TableStore.Long.fromNumber(o.at) }],
  }));
  await sdkCall(env.sdk, 'batchWriteRow', { tables: [{ tableName: ORDER_TABLE, rows }] });
}

async function run(sql: string): Promise<StatementResult[]> {
  const compiled = compile(sql, { timeZone: 'UTC', tunnel: { heartbeatIntervalMs: 100, heartbeatTimeoutMs: 2_000, readBackoff: { initialMs: 5, multiplier: 2, maxMs: 50 } } });
  if (E.isLeft(compiled)) throw new Error(formatSqlErrors(sql, compiled.left));
  const results: StatementResult[] = [];
  for (const statement of compiled.right.statements) results.push(await statement.run());
  return results;
}

const rowsOf = (result: StatementResult | undefined) => (result?.kind === 'rows' ? result.result.rows : undefined);

describe('batch statements', () => {
  beforeAll(async () => {
    const now = Date.now();
    await putOrders([
      { user: 'ann', id: 'o1', price: 10, at: now },
      { user: 'bob', id: 'o2', price: 250.5, at: now },
      { user: 'ann', id: 'o3', price: 99.5, at: now },
      { user: 'cid', id: 'o4', price: 1_200, at: now },
      { user: 'bob', id: 'o5', price: 5, at: now },
    ]);
  });

  it('SELECT with WHERE, ORDER BY … DESC and LIMIT over a table and over a BATCH scan', async () => {
    const results = await run(`${orders()}
      SELECT OrderId, price FROM orders WHERE price > 6 ORDER BY price DESC LIMIT 3;
      CREATE SCAN orders_now ON orders USING BATCH;
      SELECT UserId, sum(price) AS total, count(*) AS n FROM orders_now GROUP BY UserId ORDER BY 2;`);
    expect(rowsOf(results[1])).toEqual([
      { OrderId: 'o4', price: 1_200 },
      { OrderId: 'o2', price: 250.5 },
      { OrderId: 'o3', price: 99.5 },
    ]);
    expect(rowsOf(results[3])).toEqual([
      { UserId: 'ann', total: 109.5, n: 2 },
      { UserId: 'bob', total: 255.5, n: 2 },
      { UserId: 'cid', total: 1_200, n: 1 },
    ]);
    expect(results[3]?.kind === 'rows' && results[3].text).toContain('| ann    | 109.5  | 2 |');
  });

  it('INSERT INTO writes the query result through the sink', async () => {
    const results = await run(`${orders()}
      ${table('totals', 'Totals', { UserId: 'string', total: 'double', orders: 'long' })}
      INSERT INTO totals SELECT UserId, sum(price) AS total, count(*) AS orders FROM orders GROUP BY UserId;
      SELECT * FROM totals ORDER BY UserId;`);
    expect(results[2]).toEqual({ kind: 'done', message: 'wrote 3 rows to totals' });
    expect(rowsOf(results[3])).toEqual([
      { UserId: 'ann', total: 109.5, orders: 2 },
      { UserId: 'bob', total: 255.5, orders: 2 },
      { UserId: 'cid', total: 1_200, orders: 1 },
    ]);
  });

  it('the session catalog: IF NOT EXISTS keeps the first definition, DROP removes it and its scans', async () => {
    const ok = await run(`${orders()}
      CREATE TABLE IF NOT EXISTS orders USING tablestore OPTIONS(table.name='Nope', catalog='{"columns": {"a": {"type": "long"}}}');
      SHOW TABLES;`);
    expect(rowsOf(ok[2])?.map((row) => [row['name'], row['table']])).toEqual([['orders', ORDER_TABLE]]);
    const dropped = compile(`${orders()} CREATE SCAN s ON orders USING BATCH; DROP TABLE orders; SELECT * FROM s;`, { timeZone: 'UTC' });
    expect(E.isLeft(dropped) && dropped.left.map((error) => [error.message, error.hint])).toEqual([["unknown table or scan 's'", 'no table is defined yet: CREATE TABLE … USING tablestore OPTIONS(…)']]);
  });
});

describe('an append-mode stream job with a watermark', () => {
  it('writes each window once, when the watermark closes it, and drops rows later than the watermark', async () => {
    const created = await env.control.createTunnel({ tableName: ORDER_TABLE, tunnelName: 'append', tunnelType: 'Stream' });
    if (E.isLeft(created)) throw created.left;
    const [job] = (
      await run(`${orders()}
        ${table('closed', 'Closed', { UserId: 'string', begin: 'string', n: 'long' })}
        CREATE SCAN live ON orders USING STREAM OPTIONS(tunnel.id='${created.right.tunnelId}');
        CREATE STREAM appender OPTIONS(outputMode='append')
        INSERT INTO closed SELECT UserId, CAST(window.start AS String) AS begin, count(*) AS n
        FROM live WATERMARK to_timestamp(timestamp / 1000) AS t DELAY OF INTERVAL 10 SECONDS
        GROUP BY window(t, '30 seconds'), UserId;`)
    ).flatMap((result) => (result.kind === 'job' ? [result.job] : []));
    if (job === undefined) throw new Error('no job');
    job.start();
    const base = Math.floor(Date.now() / 60_000) * 60_000 - 120_000;
    const windowOf = (at: number) => new Date(Math.floor(at / 30_000) * 30_000).toISOString().slice(0, 19).replace('T', ' ');
    const read = async () =>
      (
        await sdkCall(env.sdk, 'getRange', {
          tableName: 'Closed',
          direction: TableStore.Direction.FORWARD,
          inclusiveStartPrimaryKey: [{ UserId: TableStore.INF_MIN }, { begin: TableStore.INF_MIN }],
          exclusiveEndPrimaryKey: [{ UserId: TableStore.INF_MAX }, { begin: TableStore.INF_MAX }],
        })
      ).rows.map((row: { primaryKey: { value: string }[]; attributes: { columnValue: unknown }[] }) => [row.primaryKey[0]?.value, row.primaryKey[1]?.value, Number(String(row.attributes[0]?.columnValue))]);
    const settle = () => new Promise((resolve) => setTimeout(resolve, 600));

    // window [base, base+30s) for zed; the watermark is still behind it: nothing appended
    await putOrders([
      { user: 'zed', id: 'a1', price: 1, at: base + 1_000 },
      { user: 'zed', id: 'a2', price: 1, at: base + 2_000 },
    ]);
    await settle();
    expect(await read()).toEqual([]);
    // an order 45 s later moves the watermark to base+36 s: the first window closes
    await putOrders([{ user: 'zed', id: 'a3', price: 1, at: base + 46_000 }]);
    await settle();
    await putOrders([{ user: 'zed', id: 'a4', price: 1, at: base + 47_000 }]);
    await settle();
    expect(await read()).toEqual([['zed', windowOf(base), 2]]);
    // a row for the closed window is late: dropped and counted, the window is not rewritten
    await putOrders([{ user: 'zed', id: 'late', price: 1, at: base + 3_000 }]);
    await job.untilIdle(300);
    const summary = await job.stop();
    expect(summary.lateRows).toBe(1);
    expect(await read()).toEqual([['zed', windowOf(base), 2]]);
  }, 60_000);
});
