/**
 * The seed-like job over a backlog: 250,000 orders written with the official SDK before the job
 * starts (4 stream channels), then the SQL job (45 s windows, `WHERE delay(…) < '2 minutes'`,
 * update mode, checkpointLocation, every other setting the default) reads them at full speed.
 *
 *   npx tsx spec/bench/backlog.ts [orders=250000] [slowReadMs=40]
 *
 * Two runs on the same data, each on a fresh tunnel:
 *   1. all channels at full speed;
 *   2. one channel held back: every ReadRecords of it waits `slowReadMs` (the emulator's
 *      `slowread` fault), so the other three race ahead through the backlog.
 * Each prints records/s (records in ÷ time from the job's start until every record is committed;
 * also per second of this process's CPU time — job and emulator share it — which a busy shared
 * machine moves far less),
 * rows dropped as late, and whether the sink equals a direct computation over the orders. Event
 * times are 20 ms apart (250,000 orders span 83 minutes), 2 % of them written 40–90 s late, so no
 * order is late by the data: every late row dropped is an artefact of read timing.
 */
import * as E from 'fp-ts/lib/Either.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createOrderSinkTable, createOrderTable, ORDER_SINK_TABLE, ORDER_TABLE, putOrderBatch, readOrderSink, sdkCall, startTunnelEmulator, utcBound, windowTotals, type TunnelEmulator, type WindowTotal } from '../tunnel/emulator-harness.js';
import { compileJob, eventTimeJobSql } from '../sql/compiled-job.js';

const ORDERS = Number(process.argv[2] ?? 250_000);
const SLOW_READ_MS = Number(process.argv[3] ?? 40);
const WINDOW_MS = 45_000;
const EPOCH = Math.floor(Date.now() / 3_600_000) * 3_600_000 - 2 * 3_600_000;

/** Order n: 20 ms after order n−1, 2 % of them 40–90 s late; prices in quarters, so sums are exact. */
function order(n: number): { userId: string; orderId: string; price: number; timestamp: number } {
  const late = n % 50 === 7 ? 40_000 + ((n * 7919) % 50_000) : 0;
  return { userId: `u${n % 997}`, orderId: `o${String(n).padStart(7, '0')}`, price: (n % 400) + 0.25, timestamp: EPOCH + n * 20 - late };
}

async function writeBacklog(env: TunnelEmulator): Promise<void> {
  const calls: number[] = [];
  for (let start = 0; start < ORDERS; start += 200) calls.push(start);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < calls.length) {
      const start = calls[next++] as number;
      const orders = [];
      for (let n = start; n < Math.min(ORDERS, start + 200); n++) orders.push(order(n));
      if ((await putOrderBatch(env.sdk, orders)).length > 0) throw new Error('BatchWriteRow failed');
    }
  };
  await Promise.all([worker(), worker(), worker(), worker()]);
}

const sql = (env: TunnelEmulator, tunnelId: string, checkpoint: string): string => eventTimeJobSql(env.emulator, tunnelId, checkpoint);

/** begin|end → count and total, computed directly from the orders (UTC bounds as the job prints them). */
function direct(): Map<string, WindowTotal> {
  const orders = [];
  for (let n = 0; n < ORDERS; n++) orders.push(order(n));
  return windowTotals(orders, WINDOW_MS, utcBound);
}

async function run(env: TunnelEmulator, tunnelName: string, label: string, holdBack: boolean): Promise<void> {
  await sdkCall(env.sdk, 'deleteTable', { tableName: ORDER_SINK_TABLE }).catch(() => undefined);
  await createOrderSinkTable(env.sdk);
  const described = await env.control.describeTunnel(ORDER_TABLE, tunnelName);
  if (E.isLeft(described)) throw described.left;
  const tunnelId = described.right.tunnel.tunnelId;
  const channels = described.right.channels.map((channel) => channel.channelId).sort();
  const held = channels[1] as string;
  env.tunnels.faults.setPlan({ unavailableRate: 0, dropRate: 0, seed: 1, ...(holdBack ? { slowReads: { [held]: SLOW_READ_MS } } : {}) });
  const checkpoint = mkdtempSync(join(tmpdir(), 'otsflow-bench-backlog-cp-'));
  try {
    const job = await compileJob(sql(env, tunnelId, checkpoint), { timeZone: 'UTC' });
    const started = performance.now();
    const cpuStart = process.cpuUsage();
    let doneAt = 0;
    let cpuSeconds = 0;
    const progress = job.progress.subscribe((snapshot) => {
      if (doneAt === 0 && snapshot.metrics.recordsIn >= ORDERS && snapshot.metrics.batches === snapshot.metrics.batchesCommitted) {
        doneAt = performance.now();
        const cpu = process.cpuUsage(cpuStart);
        cpuSeconds = (cpu.user + cpu.system) / 1e6;
      }
    });
    job.start();
    await job.untilIdle(500);
    const summary = await job.stop();
    progress.unsubscribe();
    const seconds = ((doneAt === 0 ? performance.now() : doneAt) - started) / 1000;
    const expected = direct();
    const sink = await readOrderSink(env.sdk);
    let equal = sink.size === expected.size;
    let missing = 0;
    for (const [key, want] of expected) {
      const got = sink.get(key);
      if (got === undefined || got.count !== want.count || got.totalPrice !== want.totalPrice) equal = false;
      missing += want.count - (got?.count ?? 0);
    }
    const lateWindows = summary.lateWindows;
    console.log(
      `${label.padEnd(32)} ${String(summary.recordsIn).padStart(7)} records in ${seconds.toFixed(2)} s = ${Math.round(summary.recordsIn / seconds).toLocaleString('en-US')} records/s ` +
        `(${Math.round(summary.recordsIn / cpuSeconds).toLocaleString('en-US')} per CPU second, job and emulator); ` +
        `late rows dropped ${summary.lateRows}${lateWindows.length > 0 ? ` in ${lateWindows.length} windows` : ''}; ${summary.batchesCommitted} batches; sink ${equal ? 'equals' : 'DIFFERS from'} the direct computation (${missing} orders missing)`,
    );
  } finally {
    rmSync(checkpoint, { recursive: true, force: true });
  }
}

const env = await startTunnelEmulator({ partitions: 4 });
try {
  await createOrderTable(env.sdk);
  // stream tunnels read from their creation on: both exist before the backlog is written
  for (const tunnelName of ['bench-full', 'bench-held']) {
    const created = await env.control.createTunnel({ tableName: ORDER_TABLE, tunnelName, tunnelType: 'Stream' });
    if (E.isLeft(created)) throw created.left;
  }
  const writing = performance.now();
  await writeBacklog(env);
  console.log(`wrote ${ORDERS.toLocaleString('en-US')} orders in ${((performance.now() - writing) / 1000).toFixed(1)} s; slowread ${SLOW_READ_MS} ms on one of 4 channels in the second run`);
  await run(env, 'bench-full', 'full speed, 4 channels', false);
  await run(env, 'bench-held', `one channel held back (${SLOW_READ_MS} ms/read)`, true);
} finally {
  await env.close();
}
