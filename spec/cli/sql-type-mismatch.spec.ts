/**
 * A catalog type mismatch as a user meets it: rows whose `price` is a STRING in a `double` column,
 * written with the official SDK, read by `otsflow sql` (the compiled CLI in a child process). By
 * default the job follows EMR — the value is null, the row counts, the summary names the column —
 * and with `catalog.type.mismatch='fail'` it stops with the bad row, as before.
 */
import * as E from 'fp-ts/lib/Either.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sdkCall, startTunnelEmulator, TableStore, type TunnelEmulator } from '../tunnel/emulator-harness.js';
import { ensureCompiledCli, runCli } from './cli-process.js';

let env: TunnelEmulator;
let dir: string;
/** one Stream tunnel per test, both created before the orders were written */
const tunnels: Record<'null' | 'fail', string> = { null: '', fail: '' };
const SOURCE = 'MixedSource';
const SINK = 'MixedSink';
/** generated orders: every 5th price arrives as text, as a careless writer might store it */
const ORDERS = Array.from({ length: 60 }, (_, n) => ({ id: `o${String(n).padStart(3, '0')}`, user: `u${n % 4}`, price: n % 5 === 2 ? `${n}.50` : n + 0.5 }));

beforeAll(async () => {
  ensureCompiledCli();
  env = await startTunnelEmulator({ partitions: 2 });
  const table = (tableName: string, key: string) =>
    sdkCall(env.sdk, 'createTable', {
      tableMeta: { tableName, primaryKey: [{ name: key, type: 'STRING' }] },
      reservedThroughput: { capacityUnit: { read: 0, write: 0 } },
      tableOptions: { timeToLive: -1, maxVersions: 1 },
    });
  await table(SOURCE, 'id');
  await table(SINK, 'user');
  dir = mkdtempSync(join(tmpdir(), 'otsflow-mismatch-'));
  for (const mode of ['null', 'fail'] as const) {
    const created = await env.control.createTunnel({ tableName: SOURCE, tunnelName: `mixed-${mode}`, tunnelType: 'Stream' });
    if (E.isLeft(created)) throw created.left;
    tunnels[mode] = created.right.tunnelId;
  }
  const rows = ORDERS.map((order) => ({
    type: 'PUT',
    condition: new TableStore.Condition(TableStore.RowExistenceExpectation.IGNORE, null),
    primaryKey: [{ id: order.id }],
    attributeColumns: [{ user: order.user }, { price: order.price }],
    returnContent: { returnType: TableStore.ReturnType.NONE },
  }));
  await sdkCall(env.sdk, 'batchWriteRow', { tables: [{ tableName: SOURCE, rows }] });
}, 60_000);

afterAll(async () => {
  await env?.close();
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
});

const script = (option: string, checkpoint: string, tunnelId: string): string => {
  const connection = `endpoint='${env.emulator.endpoint}', instance.name='${env.emulator.instanceName}', access.key.id='${env.emulator.credentials.accessKeyId}', access.key.secret='\${secret}'`;
  return [
    `CREATE TABLE src USING tablestore OPTIONS(${connection}, table.name='${SOURCE}', catalog='{"columns": {"id": {"type": "string"}, "user": {"type": "string"}, "price": {"type": "double"}}}'${option});`,
    `CREATE TABLE snk USING tablestore OPTIONS(${connection}, table.name='${SINK}', catalog='{"columns": {"user": {"type": "string"}, "n": {"type": "long"}, "priced": {"type": "long"}, "total": {"type": "double"}}}');`,
    `CREATE SCAN v ON src USING STREAM OPTIONS(tunnel.id='${tunnelId}');`,
    `CREATE STREAM job OPTIONS(checkpointLocation='${checkpoint}', outputMode='update') INSERT INTO snk SELECT user, count(*) AS n, count(price) AS priced, sum(price) AS total FROM v GROUP BY user;`,
  ].join('\n');
};
const secret = (): string[] => ['--var', `secret=${env.emulator.credentials.accessKeySecret}`];

describe('otsflow sql over a catalog type mismatch', () => {
  it("reads the wrong-typed values as null, writes every row's aggregate and reports the count per column", async () => {
    const result = await runCli(['sql', '-e', script('', join(dir, 'cp-null'), tunnels.null), ...secret(), '--until-idle', '--idle-ms', '500', '--no-progress'], { timeoutMs: 60_000 });
    const wrong = ORDERS.filter((order) => typeof order.price === 'string').length;
    expect(result.stderr).toContain(`${ORDERS.length} records read`);
    expect(result.stderr).toContain(`${wrong} wrong-type values read as null (price ${wrong})`);
    expect(result.code).toBe(0);
    const page = await sdkCall(env.sdk, 'getRange', {
      tableName: SINK,
      direction: TableStore.Direction.FORWARD,
      inclusiveStartPrimaryKey: [{ user: TableStore.INF_MIN }],
      exclusiveEndPrimaryKey: [{ user: TableStore.INF_MAX }],
    });
    const written = Object.fromEntries(
      page.rows.map((row: { primaryKey: { value: string }[]; attributes: { columnName: string; columnValue: unknown }[] }) => [
        row.primaryKey[0]?.value,
        Object.fromEntries(row.attributes.map((a) => [a.columnName, Number(String(a.columnValue))])),
      ]),
    );
    const expected = Object.fromEntries(
      ['u0', 'u1', 'u2', 'u3'].map((user) => {
        const mine = ORDERS.filter((order) => order.user === user);
        const numeric = mine.flatMap((order) => (typeof order.price === 'number' ? [order.price] : []));
        return [user, { n: mine.length, priced: numeric.length, total: numeric.reduce((a, b) => a + b, 0) }];
      }),
    );
    expect(written).toEqual(expected);
  }, 90_000);

  it("with catalog.type.mismatch='fail' stops at the first bad row, naming it", async () => {
    const result = await runCli(['sql', '-e', script(", catalog.type.mismatch='fail'", join(dir, 'cp-fail'), tunnels.fail), ...secret(), '--until-idle', '--idle-ms', '500', '--no-progress'], { timeoutMs: 60_000 });
    expect(result.code).toBe(1);
    expect(result.stderrLines.at(-1)).toMatch(/^otsflow sql: job job: bad row in table MixedSource, primary key \(id="o\d+"\): column 'price': expected double, got string "\d+\.50"/);
  }, 90_000);
});
