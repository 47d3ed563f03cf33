/**
 * Append mode on many workers (`checkpoint.table`): two workers of one job, in process, against
 * the emulator on a loopback port (4 stream channels), heartbeats every 0.5 s so that the tunnel
 * shares the channels between them at once (the update-mode sibling runs with the settings a user
 * gets). A backlog
 * of 8,000 orders is written with the official SDK before the workers start (event times 50 ms
 * apart, 2 % out of order by 40–90 s, within the 2-minute delay), plus a few orders planted 10
 * minutes behind everything written before them — late by the data in whichever channel they
 * fall. The tunnel shares the channels between the workers; a window is emitted once it is final
 * for the job (the job watermark combines every channel's, read from the state table), merged
 * from every channel's partials.
 *
 * The sink read back with the SDK must equal a direct computation: every window that ends at or
 * before the job's last watermark (the greatest event time less the delay: every channel is
 * caught up at the end), none after it; the two workers together count exactly the planted rows
 * as late; and the state table keeps no partial row of an emitted window. The same job in update
 * mode: every window equals the direct computation, and the partial rows of windows below the
 * job's final mark (at most the least channel watermark) are pruned, the others kept.
 */
import * as E from 'fp-ts/lib/Either.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StreamJob } from '../../lib/sql/index.js';
import { createOrderSinkTable, createOrderTable, ORDER_SINK_TABLE, ORDER_TABLE, putOrders, readOrderSink, sdkCall, startOrderEmulator, utcBound, windowTotals, type TunnelEmulator, type WindowTotal } from '../tunnel/emulator-harness.js';
import { compileJob, connectionOptions, ORDER_SINK_CATALOG, ORDER_SOURCE_CATALOG } from '../sql/compiled-job.js';
import { TableStore } from '../emulator/sdk.js';

const ORDERS = 8_000;
const WINDOW_MS = 45_000;
const DELAY_MS = 120_000;
const EPOCH = Math.floor(Date.now() / 3_600_000) * 3_600_000 - 3_600_000;
const PLANTED = new Set([2_500, 4_000, 6_100, 7_777]);
const STATE_TABLE = 'job_state_append';

function order(n: number): { userId: string; orderId: string; price: number; timestamp: number } {
  const behind = PLANTED.has(n) ? 600_000 : n % 50 === 7 ? 40_000 + ((n * 7919) % 50_000) : 0;
  return { userId: `u${n % 97}`, orderId: `o${String(n).padStart(6, '0')}`, price: (n % 400) + 0.25, timestamp: EPOCH + n * 50 - behind };
}

let env: TunnelEmulator;

beforeAll(async () => {
  env = await startOrderEmulator();
});

afterAll(async () => {
  await env?.close();
});

function jobSql(tunnelId: string, mode = 'append', job = 'job1'): string {
  const connection = connectionOptions(env.emulator);
  return `
CREATE TABLE order_source USING tablestore OPTIONS(${connection}, table.name="${ORDER_TABLE}", ${ORDER_SOURCE_CATALOG});
CREATE TABLE order_stream_sink USING tablestore OPTIONS(${connection}, table.name="OrderStreamSink", ${ORDER_SINK_CATALOG});
CREATE SCAN order_source_stream_view ON order_source USING STREAM OPTIONS(tunnel.id="${tunnelId}", maxoffsetsperchannel="10000");
CREATE STREAM ${job} OPTIONS(checkpoint.table='${STATE_TABLE}', outputMode='${mode}')
INSERT INTO order_stream_sink
SELECT CAST(window.start AS String) AS begin, CAST(window.end AS String) AS end, count(*) AS count, CAST(sum(price) AS Double) AS totalPrice
FROM order_source_stream_view WHERE delay(to_timestamp(timestamp / 1000)) < '2 minutes'
GROUP BY window(to_timestamp(timestamp / 1000), "45 seconds");`;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Waits until each of the two workers logged that it took a channel (the tunnel shares them as they connect). */
async function bothHoldChannels(logs: readonly string[]): Promise<void> {
  const started = Date.now();
  const took = (i: number): boolean => logs.some((line) => line.startsWith(`worker ${i}: `) && line.includes(': took channel'));
  while (!(took(0) && took(1))) {
    if (Date.now() - started > 30_000) throw new Error(`the workers did not both take channels:\n${logs.join('\n')}`);
    await sleep(100);
  }
}

describe('append mode on many workers (checkpoint.table)', () => {
  it('two workers emit each window once it is final for the job: the sink equals a direct computation, the late rows are the planted ones', async () => {
    const created = await env.control.createTunnel({ tableName: ORDER_TABLE, tunnelName: 'append-workers', tunnelType: 'Stream' });
    if (E.isLeft(created)) throw created.left;
    // a backlog: no channel is caught up before it has read its share (no row is late by timing)
    expect(await putOrders(env.sdk, order, 0, ORDERS)).toBe(0);

    // the direct computation: on-time orders; windows final for the job at the end
    const onTime = Array.from({ length: ORDERS }, (_, n) => n).filter((n) => !PLANTED.has(n)).map(order);
    const last = Math.max(...Array.from({ length: ORDERS }, (_, n) => order(n).timestamp)) - DELAY_MS;
    const all = windowTotals(onTime, WINDOW_MS, utcBound);
    const expected = new Map<string, WindowTotal>([...all].filter(([key]) => Date.parse(`${key.split('|')[1] as string}Z`.replace(' ', 'T')) <= last));
    expect(expected.size).toBeGreaterThan(4);
    expect(expected.size).toBeLessThan(all.size);

    const described = await env.control.describeTunnel(ORDER_TABLE, 'append-workers');
    if (E.isLeft(described)) throw described.left;
    const text = jobSql(described.right.tunnel.tunnelId);
    const logs: string[] = [];
    const workers: StreamJob[] = [];
    // heartbeats every 0.5 s (30 s by default): the tunnel shares the channels between the two
    // workers at once, instead of giving all to the first one until its next heartbeat
    const tunnel = { heartbeatIntervalMs: 500 };
    for (let i = 0; i < 2; i++) workers.push(await compileJob(text, { timeZone: 'UTC', tunnel, onLog: (_level, message) => logs.push(`worker ${i}: ${message}`) }));
    for (const worker of workers) worker.start();
    await bothHoldChannels(logs);
    const started = Date.now();
    let sink = new Map<string, WindowTotal>();
    while (Date.now() - started < 90_000) {
      await sleep(500);
      sink = await readOrderSink(env.sdk);
      if (sink.size >= expected.size) break;
    }
    // a moment more: nothing beyond the final windows may appear
    await sleep(2_000);
    const summaries = await Promise.all(workers.map((worker) => worker.stop()));
    sink = await readOrderSink(env.sdk);
    expect(sink).toEqual(expected);
    expect(summaries.reduce((n, summary) => n + summary.recordsIn, 0)).toBeGreaterThanOrEqual(ORDERS);
    expect(summaries.reduce((n, summary) => n + summary.lateRows, 0)).toBe(PLANTED.size);

    // no partial row of an emitted window is left in the state table
    const rows = await sdkCall(env.sdk, 'getRange', {
      tableName: STATE_TABLE,
      direction: TableStore.Direction.FORWARD,
      inclusiveStartPrimaryKey: [{ job: 'job1' }, { k: 'p:' }, { c: TableStore.INF_MIN }],
      exclusiveEndPrimaryKey: [{ job: 'job1' }, { k: 'p;' }, { c: TableStore.INF_MIN }],
      limit: 5000,
    });
    const ends = (rows.rows as { primaryKey: { value: unknown }[] }[]).map((row) => (JSON.parse(String(row.primaryKey[1]?.value).slice(2)) as number[])[1] as number);
    expect(ends.length).toBeGreaterThan(0);
    expect(ends.filter((end) => end <= last)).toEqual([]);
  }, 150_000);

  it('update mode: every window equals a direct computation, and the partial rows of windows below every channel\'s watermark are pruned', async () => {
    // a Stream tunnel sees what is written after it: tables of its own
    await sdkCall(env.sdk, 'deleteTable', { tableName: ORDER_TABLE });
    await sdkCall(env.sdk, 'deleteTable', { tableName: ORDER_SINK_TABLE });
    await createOrderTable(env.sdk);
    await createOrderSinkTable(env.sdk);
    const created = await env.control.createTunnel({ tableName: ORDER_TABLE, tunnelName: 'update-workers', tunnelType: 'Stream' });
    if (E.isLeft(created)) throw created.left;
    expect(await putOrders(env.sdk, order, 0, ORDERS)).toBe(0);
    const expected = windowTotals(Array.from({ length: ORDERS }, (_, n) => n).filter((n) => !PLANTED.has(n)).map(order), WINDOW_MS, utcBound);
    const described = await env.control.describeTunnel(ORDER_TABLE, 'update-workers');
    if (E.isLeft(described)) throw described.left;
    const text = jobSql(described.right.tunnel.tunnelId, 'update', 'job2');
    const workers: StreamJob[] = [];
    const logs: string[] = [];
    for (let i = 0; i < 2; i++) workers.push(await compileJob(text, { timeZone: 'UTC', onLog: (_level, message) => logs.push(`worker ${i}: ${message}`) }));
    // the settings a user gets: the first worker may hold every channel until its next heartbeat
    for (const worker of workers) worker.start();
    const started = Date.now();
    let sink = new Map<string, WindowTotal>();
    while (Date.now() - started < 90_000) {
      await sleep(500);
      sink = await readOrderSink(env.sdk);
      if (sink.size >= expected.size && [...expected].every(([key, total]) => sink.get(key)?.count === total.count)) break;
    }
    await sleep(1_000);
    const summaries = await Promise.all(workers.map((worker) => worker.stop()));
    expect(await readOrderSink(env.sdk)).toEqual(expected);
    expect(summaries.reduce((n, summary) => n + summary.lateRows, 0)).toBe(PLANTED.size);

    const read = async (from: string, to: string): Promise<{ primaryKey: { value: unknown }[]; attributes: { columnName: string; columnValue: unknown }[] }[]> =>
      (
        await sdkCall(env.sdk, 'getRange', {
          tableName: STATE_TABLE,
          direction: TableStore.Direction.FORWARD,
          inclusiveStartPrimaryKey: [{ job: 'job2' }, { k: from }, { c: TableStore.INF_MIN }],
          exclusiveEndPrimaryKey: [{ job: 'job2' }, { k: to }, { c: TableStore.INF_MIN }],
          limit: 5000,
        })
      ).rows;
    // the final mark: at most the least watermark the channels committed, and past some windows
    const cell = (row: { attributes: { columnName: string; columnValue: unknown }[] }, name: string): unknown => row.attributes.find((entry) => entry.columnName === name)?.columnValue;
    const watermarks = (await read('c:', 'c;')).map((row) => cell(row, 'wm') as number);
    expect(watermarks).toHaveLength(4);
    const [jobRow] = await read('c', 'c:');
    const final = cell(jobRow as never, 'final') as number;
    expect(final).toBeLessThanOrEqual(Math.min(...watermarks));
    expect(final).toBeGreaterThan(EPOCH + WINDOW_MS);
    // no partial row of a window ending at or before it is left; the others are
    const ends = (await read('p:', 'p;')).map((row) => (JSON.parse(String(row.primaryKey[1]?.value).slice(2)) as number[])[1] as number);
    expect(ends.filter((end) => end <= final)).toEqual([]);
    expect(new Set(ends).size).toBe([...expected.keys()].filter((key) => Date.parse(`${key.split('|')[1] as string}Z`.replace(' ', 'T')) > final).length);
  }, 150_000);
});
