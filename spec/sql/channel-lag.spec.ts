/**
 * Per-channel lag over a backlog, against the emulator (4 stream channels, one read slowly): 6,000
 * orders written with the official SDK before the job starts, read 500 per channel per batch.
 * While the backlog lasts, the live view's figures for a channel — records read and not
 * committed, and seconds behind — must agree with what the test wrote: the oldest record not
 * committed was written between the first and the last write, so its age lies between them. Once
 * the job is idle every channel shows 0 records and 0 s, and the job read every order.
 */
import * as E from 'fp-ts/lib/Either.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JobProgress } from '../../lib/sql/index.js';
import { ORDER_SINK_TABLE, ORDER_TABLE, startOrderEmulator, writeOrders, type TunnelEmulator } from '../tunnel/emulator-harness.js';
import { compileJob, connectionOptions, ORDER_SINK_CATALOG, ORDER_SOURCE_CATALOG } from './compiled-job.js';

const ORDERS = 6_000;
const PER_BATCH = 500;

let env: TunnelEmulator;

beforeAll(async () => {
  env = await startOrderEmulator();
});

afterAll(async () => {
  await env?.close();
});

function sql(tunnelId: string): string {
  const connection = connectionOptions(env.emulator);
  return `
CREATE TABLE order_source USING tablestore OPTIONS(${connection}, table.name="${ORDER_TABLE}",
  ${ORDER_SOURCE_CATALOG});
CREATE TABLE order_stream_sink USING tablestore OPTIONS(${connection}, table.name="${ORDER_SINK_TABLE}",
  ${ORDER_SINK_CATALOG});
CREATE SCAN order_source_stream_view ON order_source USING STREAM OPTIONS(tunnel.id="${tunnelId}", maxoffsetsperchannel="${PER_BATCH}");
CREATE STREAM job1 OPTIONS(outputMode='update')
INSERT INTO order_stream_sink
SELECT CAST(window.start AS String) AS begin, CAST(window.end AS String) AS end, count(*) AS count, CAST(sum(price) AS Double) AS totalPrice
FROM order_source_stream_view
GROUP BY window(to_timestamp(timestamp / 1000), "30 seconds");`;
}

describe('per-channel lag over a backlog', () => {
  it('agrees with the times the backlog was written while it lasts, and is 0 records and 0 s once the job is idle', async () => {
    const created = await env.control.createTunnel({ tableName: ORDER_TABLE, tunnelName: 'lag', tunnelType: 'Stream' });
    if (E.isLeft(created)) throw created.left;
    const described = await env.control.describeTunnel(ORDER_TABLE, 'lag');
    if (E.isLeft(described)) throw described.left;
    const channels = described.right.channels.map((channel) => channel.channelId).sort();
    expect(channels).toHaveLength(4);
    const firstWrite = Date.now();
    await writeOrders(env.sdk, 0, ORDERS);
    const lastWrite = Date.now();
    // one channel out of step with the others
    env.tunnels.faults.setPlan({ unavailableRate: 0, dropRate: 0, seed: 1, slowReads: { [channels[1] as string]: 150 } });

    const text = sql(created.right.tunnelId);
    const job = await compileJob(text, { timeZone: 'UTC', progressIntervalMs: 200 });
    const seen: { at: number; progress: JobProgress }[] = [];
    job.progress.subscribe((progress) => seen.push({ at: Date.now(), progress }));
    job.start();
    await job.untilIdle(1_000);
    // a last look once idle: the poll of DescribeTunnel and the caught-up reads are in
    await new Promise((resolve) => setTimeout(resolve, 500));
    const idle = { at: Date.now(), progress: await new Promise<JobProgress>((resolve) => job?.progress.subscribe((p) => resolve(p)).unsubscribe()) };
    const summary = await job.stop();
    expect(summary.recordsIn).toBe(ORDERS);

    const behind = seen.flatMap(({ at, progress }) => progress.channels.filter((channel) => (channel.lagRecords ?? 0) > 0).map((channel) => ({ at, channel })));
    // the backlog was visible: channels with records read and not committed, the service holding more
    expect(behind.length).toBeGreaterThan(0);
    expect(behind.some(({ channel }) => channel.more === true)).toBe(true);
    for (const { at, channel } of behind) {
      // never more than a channel holds in the pipeline: what was written
      expect(channel.lagRecords).toBeLessThanOrEqual(ORDERS);
      // commit times are µs truncated to ms, and \`at\` is taken just after the snapshot: a few ms of slack
      expect(channel.lagMs).toBeGreaterThanOrEqual(at - lastWrite - 5);
      expect(channel.lagMs).toBeLessThanOrEqual(at - firstWrite + 1);
    }
    // the slow channel is behind longer than the others
    const lastBehind = (id: string): number => Math.max(0, ...behind.filter(({ channel }) => channel.channelId === id).map(({ at }) => at));
    expect(lastBehind(channels[1] as string)).toBeGreaterThanOrEqual(Math.max(...channels.filter((_, k) => k !== 1).map(lastBehind)));
    // idle: every channel, as DescribeTunnel lists them, with 0 records and 0 s behind
    expect(idle.progress.channels.map((channel) => channel.channelId).sort()).toEqual(channels);
    for (const channel of idle.progress.channels) {
      expect(channel).toMatchObject({ status: 'OPEN', lagRecords: 0, more: false, lagMs: 0 });
    }
    // what DescribeTunnel counts as consumed adds up to every order
    expect(idle.progress.channels.reduce((sum, channel) => sum + Number(channel.count ?? 0n), 0)).toBe(ORDERS);
  }, 120_000);
});
