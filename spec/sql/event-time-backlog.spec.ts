/**
 * A backlog read with one channel held back: the emulator on a loopback port (4 stream channels),
 * 8,000 orders written with the official SDK before the job starts (event times 50 ms apart, so
 * 400 s of event time; 2 % written 40–90 s out of order, within the delay), plus a few orders
 * planted 10 minutes behind everything written before them — late by the data. Every ReadRecords
 * of one channel waits 400 ms (the `slowread` fault), so the other three read the whole backlog
 * before it delivers anything. The seed-like SQL job (45 s windows,
 * `WHERE delay(to_timestamp(timestamp / 1000)) < '2 minutes'`, update mode, a checkpoint
 * location) runs with the settings a user gets — no tunnel tuning.
 *
 * With one watermark for the whole job, the held-back channel's rows would all be behind it;
 * here exactly the planted orders are dropped, the job reports them per window (summary and one
 * info line per batch), and the sink read back with the SDK equals a direct computation.
 */
import * as E from 'fp-ts/lib/Either.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StreamJob } from '../../lib/sql/index.js';
import { createOrderSinkTable, createOrderTable, ORDER_SINK_TABLE, ORDER_TABLE, putOrders, readOrderSink, sdkCall, startOrderEmulator, utcBound, windowTotals, type TunnelEmulator, type WindowTotal } from '../tunnel/emulator-harness.js';
import { compileJob, eventTimeJobSql } from './compiled-job.js';

const ORDERS = 8_000;
const WINDOW_MS = 45_000;
const EPOCH = Math.floor(Date.now() / 3_600_000) * 3_600_000 - 3_600_000;
/** orders planted 10 minutes behind: late by the data in every channel */
const PLANTED = new Set([2_500, 4_000, 6_100, 7_777]);

/** The backlog's orders; `planted` says which are planted 10 minutes behind. */
function order(n: number, planted: ReadonlySet<number> = PLANTED): { userId: string; orderId: string; price: number; timestamp: number } {
  const behind = planted.has(n) ? 600_000 : n % 50 === 7 ? 40_000 + ((n * 7919) % 50_000) : 0;
  return { userId: `u${n % 97}`, orderId: `o${String(n).padStart(6, '0')}`, price: (n % 400) + 0.25, timestamp: EPOCH + n * 50 - behind };
}

let env: TunnelEmulator;
let checkpoint: string;

beforeAll(async () => {
  env = await startOrderEmulator();
  checkpoint = mkdtempSync(join(tmpdir(), 'otsflow-event-time-cp-'));
});

afterAll(async () => {
  await env?.close();
  if (checkpoint !== undefined) rmSync(checkpoint, { recursive: true, force: true });
});

async function writeBacklog(planted: ReadonlySet<number>): Promise<void> {
  expect(await putOrders(env.sdk, (n) => order(n, planted), 0, ORDERS)).toBe(0);
}

const sql = (tunnelId: string): string => eventTimeJobSql(env.emulator, tunnelId, checkpoint);

const windowStart = (t: number): number => Math.floor(t / WINDOW_MS) * WINDOW_MS;

/** Count and total per window over every order but the planted ones (UTC bounds, as the job prints them). */
function direct(planted: ReadonlySet<number>): Map<string, WindowTotal> {
  const orders = [];
  for (let n = 0; n < ORDERS; n++) if (!planted.has(n)) orders.push(order(n, planted));
  return windowTotals(orders, WINDOW_MS, utcBound);
}

describe('event time over a backlog with one channel held back (default settings)', () => {
  it('drops no order that is on time in its channel, reports the late ones per window, and the sink equals a direct computation', async () => {
    const channels = await createTunnel('held-back');
    expect(channels).toHaveLength(4);
    await writeBacklog(PLANTED);
    env.tunnels.faults.setPlan({ unavailableRate: 0, dropRate: 0, seed: 1, slowReads: { [channels[2] as string]: 400 } });
    const { summary, logs } = await runJob('held-back');

    expect(summary.recordsIn).toBe(ORDERS);
    expect(summary.lateRows).toBe(PLANTED.size);
    // per window: each planted order in the window it would have gone to
    const plantedWindows = new Map<number, number>();
    for (const n of PLANTED) plantedWindows.set(windowStart(order(n).timestamp), (plantedWindows.get(windowStart(order(n).timestamp)) ?? 0) + 1);
    expect(summary.lateWindows).toEqual([...plantedWindows].sort((a, b) => a[0] - b[0]).map(([start, rows]) => ({ start, end: start + WINDOW_MS, rows })));
    // one info line per batch that dropped any, its counts adding up to the total
    const lateLines = logs.filter((line) => / late rows? dropped \(window /.test(line));
    expect(lateLines.length).toBeGreaterThan(0);
    expect(lateLines.reduce((total, line) => total + Number(/batch \d+: (\d+) late/.exec(line)?.[1]), 0)).toBe(PLANTED.size);

    const expected = direct(PLANTED);
    expect(expected.size).toBeGreaterThan(8);
    expect(await readOrderSink(env.sdk)).toEqual(expected);
  }, 120_000);
});

describe('event time over a backlog whose partitions split (default settings)', () => {
  it("drops nothing: a finished parent holds the watermark until its children open, though the other channels race ahead", async () => {
    // a Stream tunnel sees what is written after it: a table of its own
    await sdkCall(env.sdk, 'deleteTable', { tableName: ORDER_TABLE });
    await sdkCall(env.sdk, 'deleteTable', { tableName: ORDER_SINK_TABLE });
    await createOrderTable(env.sdk);
    await createOrderSinkTable(env.sdk);
    await createTunnel('splitting');
    // partitions split while the backlog is written: parents hold its early part, children the rest
    env.tunnels.faults.setPlan({ unavailableRate: 0, dropRate: 0, seed: 1, split: { afterRecords: 700, maxSplits: 3 } });
    const none = new Set<number>();
    await writeBacklog(none);
    env.tunnels.faults.setPlan({ unavailableRate: 0, dropRate: 0, seed: 1 });
    const described = await env.control.describeTunnel(ORDER_TABLE, 'splitting');
    if (E.isLeft(described)) throw described.left;
    expect(described.right.channels.length).toBeGreaterThan(4);

    const { summary } = await runJob('splitting');
    expect(summary.recordsIn).toBe(ORDERS);
    expect(summary.lateRows).toBe(0);
    expect(await readOrderSink(env.sdk)).toEqual(direct(none));
  }, 180_000);
});

/** A Stream tunnel on the orders table; its channel ids, sorted. */
async function createTunnel(tunnelName: string): Promise<string[]> {
  const created = await env.control.createTunnel({ tableName: ORDER_TABLE, tunnelName, tunnelType: 'Stream' });
  if (E.isLeft(created)) throw created.left;
  const described = await env.control.describeTunnel(ORDER_TABLE, tunnelName);
  if (E.isLeft(described)) throw described.left;
  return described.right.channels.map((channel) => channel.channelId).sort();
}

/** The seed-like job over the tunnel with the settings a user gets, until the tunnel is drained. */
async function runJob(tunnelName: string): Promise<{ summary: Awaited<ReturnType<StreamJob['stop']>>; logs: string[] }> {
  const described = await env.control.describeTunnel(ORDER_TABLE, tunnelName);
  if (E.isLeft(described)) throw described.left;
  const logs: string[] = [];
  rmSync(checkpoint, { recursive: true, force: true });
  const text = sql(described.right.tunnel.tunnelId);
  const job = await compileJob(text, { timeZone: 'UTC', onLog: (_level, message) => logs.push(message) });
  job.start();
  await job.untilIdle(1_000);
  return { summary: await job.stop(), logs };
}
