/**
 * The seed scenario's SQL (shared/seed/orders-job.sql, copied verbatim to spec/fixtures/), with only its endpoint, keys, tunnel id and
 * checkpoint location changed, compiled and run against a real emulator on a loopback port:
 * orders written with the official SDK end up as 30-second counts and totals in OrderStreamSink,
 * read back with the official SDK and equal to a direct computation — also after the job is
 * stopped and restarted from its checkpoint location while more orders arrive.
 */
import * as E from 'fp-ts/lib/Either.js';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StreamJob } from '../../lib/sql/index.js';
import { ORDER_TABLE, putOrders, readOrderSink, startOrderEmulator, windowTotals, type TunnelEmulator, type WindowTotal } from '../tunnel/emulator-harness.js';
import { compileJob } from './compiled-job.js';

/** Order n: event times 170 ms apart from a minute ago, so 3000 orders span 18 windows of 30 s; prices add exactly. */
const EPOCH = Math.floor(Date.now() / 60_000) * 60_000 - 60_000;
const order = (n: number) => ({ userId: `u${n % 97}`, orderId: `o${String(n).padStart(6, '0')}`, price: (n % 400) + 0.25, timestamp: EPOCH + n * 170 });

async function writeOrders(from: number, count: number): Promise<void> {
  expect(await putOrders(env.sdk, order, from, count)).toBe(0);
}

const SEED = readFileSync(new URL('../fixtures/seed-orders-job.sql', import.meta.url), 'utf8');

let env: TunnelEmulator;
let checkpoint: string;

beforeAll(async () => {
  env = await startOrderEmulator();
  checkpoint = mkdtempSync(join(tmpdir(), 'otsflow-seed-cp-'));
});

afterAll(async () => {
  await env?.close();
  if (checkpoint !== undefined) rmSync(checkpoint, { recursive: true, force: true });
});

/** The seed text with this installation's endpoint, keys, tunnel id and checkpoint location. */
function installed(tunnelId: string): string {
  return SEED.replaceAll('http://vehicle-test.cn-hangzhou.vpc.tablestore.aliyuncs.com', env.emulator.endpoint)
    .replaceAll('access.key.id=""', `access.key.id="${env.emulator.credentials.accessKeyId}"`)
    .replaceAll('access.key.secret=""', `access.key.secret="${env.emulator.credentials.accessKeySecret}"`)
    .replaceAll('instance.name="vehicle-test"', `instance.name="${env.emulator.instanceName}"`)
    .replace('4987845a-1321-4d36-9f4e-73d6db63bf0f', tunnelId)
    .replace('/tmp/spark/cp/job1', checkpoint);
}

async function startJob(sql: string): Promise<StreamJob> {
  const job = await compileJob(sql, { timeZone: 'Asia/Shanghai', tunnel: { heartbeatIntervalMs: 100, heartbeatTimeoutMs: 2_000, readBackoff: { initialMs: 5, multiplier: 2, maxMs: 50 } }, progressIntervalMs: 200 });
  job.start();
  return job;
}

/** Asia/Shanghai is UTC+8 all year: a window bound as Spark prints it there. */
const shanghai = (ms: number): string => new Date(ms + 8 * 3_600_000).toISOString().slice(0, 19).replace('T', ' ');

function expected(orders: number): Map<string, WindowTotal> {
  const written = [];
  for (let n = 0; n < orders; n++) written.push(order(n));
  return windowTotals(written, 30_000, shanghai);
}

async function eventually(check: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

const total = (rows: Map<string, WindowTotal>): number => [...rows.values()].reduce((sum, row) => sum + row.count, 0);

describe('the seed job', () => {
  it('fills OrderStreamSink with exact 30-second counts and totals, across a stop and a restart from its checkpoint', async () => {
    const created = await env.control.createTunnel({ tableName: ORDER_TABLE, tunnelName: 'seed', tunnelType: 'Stream' });
    if (E.isLeft(created)) throw created.left;
    const sql = installed(created.right.tunnelId);

    const first = await startJob(sql);
    await writeOrders(0, 1_500);
    await eventually(async () => total(await readOrderSink(env.sdk)) >= 700, 30_000, 'some orders in the sink');
    const stopped = await first.stop();
    expect(stopped.batchesCommitted).toBeGreaterThan(0);
    expect(stopped.restoredFrom).toBe('fresh');

    await writeOrders(1_500, 1_500);
    const second = await startJob(sql);
    await eventually(async () => total(await readOrderSink(env.sdk)) >= 3_000, 30_000, 'all 3000 orders in the sink');
    await second.untilIdle(300);
    const summary = await second.stop();
    expect(typeof summary.restoredFrom).toBe('number');
    expect(summary.badRows).toBe(0);

    const windows = expected(3_000);
    expect(windows.size).toBeGreaterThanOrEqual(17);
    expect(await readOrderSink(env.sdk)).toEqual(windows);
  }, 90_000);
});
