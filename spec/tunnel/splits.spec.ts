/**
 * otsflow's tunnel client consuming through partition splits: the emulator splits stream
 * partitions as records arrive (fault plan `split=<records>,splits=<n>`), two tunnel() workers
 * share the tunnel, and every order version written reaches them — a parent channel read to its
 * `finished`, checkpointed and reported TERMINATED, its children opened after it, each key's
 * versions first delivered in the order they were written.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Subscription } from 'rxjs';
import { NO_FAULTS } from '../../lib/emulator/tunnel/index.js';
import { tunnel } from '../../lib/tunnel/tunnel.js';
import type { ChannelBatch, TunnelEvent } from '../../lib/tunnel/model.js';
import { cellValues, createOrderTable, order, ORDER_TABLE, orderNumber, startTunnelEmulator, tunnelOptions, until, writeOrders } from './emulator-harness.js';
import type { TunnelEmulator } from './emulator-harness.js';

const ORDERS = 300;
const ROUNDS = 4;
const SPLIT_AFTER = 90;
const MAX_SPLITS = 6;
const CHANNEL_ID = /^p(\d+)_e(\d+)$/;

/** Round r writes every order with price r * 10_000 + n: the round is readable from the record. */
const priceOf = (round: number) => (n: number) => round * 10_000 + n;

interface Arrival {
  readonly worker: number;
  readonly channelId: string;
  readonly order: number;
  readonly round: number;
  /** the record's identity: a redelivery after a channel moved repeats it */
  readonly sequence: string;
  readonly epoch: number;
}

describe('tunnel() through partition splits', () => {
  let env: TunnelEmulator;

  beforeAll(async () => {
    env = await startTunnelEmulator({ partitions: 4, expirySweepMs: 100, faults: { ...NO_FAULTS, split: { afterRecords: SPLIT_AFTER, maxSplits: MAX_SPLITS } } });
    await createOrderTable(env.sdk);
  });

  afterAll(async () => {
    await env?.close();
  });

  it(`delivers ${ORDERS} orders × ${ROUNDS} versions through ${MAX_SPLITS} splits to two workers: nothing lost, each key in order`, async () => {
    const created = await env.control.createTunnel({ tableName: ORDER_TABLE, tunnelName: 'splits', tunnelType: 'Stream' });
    if (created._tag === 'Left') throw created.left;
    const arrivals: Arrival[] = [];
    const finishedBatches: string[] = [];
    const events: { worker: number; event: TunnelEvent }[] = [];
    const errors: unknown[] = [];
    const subscriptions: Subscription[] = [0, 1].map((worker) =>
      tunnel({ ...tunnelOptions(env.emulator, created.right.tunnelId), clientTag: `w${worker}`, onEvent: (event) => events.push({ worker, event }) }).subscribe({
        next: (batch: ChannelBatch) => {
          const epoch = Number(CHANNEL_ID.exec(batch.channelId)?.[2] ?? -1);
          for (const record of batch.records) {
            const price = cellValues(record)['price'] as number;
            const s = record.sequence!;
            arrivals.push({
              worker,
              channelId: batch.channelId,
              order: orderNumber(record),
              round: Math.floor(price / 10_000),
              sequence: `${s.epoch}:${s.timestamp}:${s.rowIndex}`,
              epoch: s.epoch,
            });
            expect(s.epoch).toBe(epoch);
          }
          if (batch.finished) finishedBatches.push(batch.channelId);
          void batch.commit();
        },
        error: (error: unknown) => errors.push(error),
      }),
    );
    try {
      await until(() => events.filter((e) => e.event.kind === 'heartbeat').length >= 4, 10_000, 'both workers to heartbeat');
      for (let round = 0; round < ROUNDS; round++) await writeOrders(env.sdk, 0, ORDERS, 100, priceOf(round));
      const expected = ORDERS * ROUNDS;
      const distinct = (): number => new Set(arrivals.map((a) => `${a.order}@${a.round}`)).size;
      await until(() => distinct() === expected, 60_000, 'every order version');
      expect(errors).toEqual([]);

      // the service split as planned: 4 + 2 × MAX_SPLITS channels, the sealed ones TERMINATED
      const described = await env.control.describeTunnel(ORDER_TABLE, 'splits');
      if (described._tag === 'Left') throw described.left;
      const channels = described.right.channels;
      expect(channels).toHaveLength(4 + 2 * MAX_SPLITS);
      await until(() => finishedBatches.length >= MAX_SPLITS, 20_000, 'every parent to be read to finished');
      expect(new Set(finishedBatches).size).toBe(MAX_SPLITS);
      for (const id of finishedBatches) expect(CHANNEL_ID.test(id)).toBe(true);
      // the client reported every finished parent TERMINATED
      await until(
        () => events.filter((e) => e.event.kind === 'channel-reported' && e.event.channel.status === 'TERMINATED').length >= MAX_SPLITS,
        20_000,
        'TERMINATED reports',
      );
      const final = await env.control.describeTunnel(ORDER_TABLE, 'splits');
      if (final._tag === 'Left') throw final.left;
      const terminated = final.right.channels.filter((c) => c.status === 'TERMINATED').map((c) => c.channelId).sort();
      expect(terminated).toEqual([...new Set(finishedBatches)].sort());
      expect(final.right.channels.filter((c) => c.status !== 'TERMINATED').every((c) => c.status === 'OPEN')).toBe(true);
      expect(Math.max(...arrivals.map((a) => a.epoch))).toBeGreaterThanOrEqual(1);

      // per key: the first delivery of each version in the order written (redeliveries after a
      // move repeat records already seen, identified by their sequence)
      const seen = new Set<string>();
      const firstRounds = new Map<number, number[]>();
      for (const a of arrivals) {
        const identity = `${a.order}#${a.sequence}`;
        if (seen.has(identity)) continue;
        seen.add(identity);
        firstRounds.set(a.order, [...(firstRounds.get(a.order) ?? []), a.round]);
      }
      for (let n = 0; n < ORDERS; n++) expect(firstRounds.get(n), `order ${order(n).orderId}`).toEqual([0, 1, 2, 3]);
      // and both workers took part
      expect(new Set(arrivals.map((a) => a.worker))).toEqual(new Set([0, 1]));
      // the service's lease checks never refused them: no session lost, no checkpoint refused
      expect(events.filter((e) => e.event.kind === 'client-lost' || e.event.kind === 'checkpoint-failed')).toEqual([]);
    } finally {
      for (const subscription of subscriptions) subscription.unsubscribe();
    }
  }, 120_000);

  it('consumes through a split with the defaults a user gets (30 s heartbeats): the children start after the next heartbeat', async () => {
    const created = await env.control.createTunnel({ tableName: ORDER_TABLE, tunnelName: 'defaults', tunnelType: 'Stream' });
    if (created._tag === 'Left') throw created.left;
    const { endpoint, instanceName, credentials } = env.emulator;
    const delivered = new Map<number, string[]>();
    const finished: string[] = [];
    let heartbeats = 0;
    const subscription = tunnel({
      endpoint,
      instance: instanceName,
      credentials,
      tunnelId: created.right.tunnelId,
      onEvent: (event) => {
        if (event.kind === 'heartbeat') heartbeats++;
      },
    }).subscribe((batch: ChannelBatch) => {
      for (const record of batch.records) delivered.set(orderNumber(record), [...(delivered.get(orderNumber(record)) ?? []), batch.channelId]);
      if (batch.finished) finished.push(batch.channelId);
      void batch.commit();
    });
    try {
      await until(() => heartbeats >= 1, 10_000, 'the first heartbeat');
      const base = 10_000;
      await writeOrders(env.sdk, base, 200, 100);
      await until(() => delivered.size === 200, 30_000, 'the orders before the split');
      const parentId = delivered.get(base)![0]!;
      const parent = Number(CHANNEL_ID.exec(parentId)![1]);
      const split = env.tunnels.splitPartition(ORDER_TABLE, parent);
      if (split._tag === 'Left') throw new Error(split.left);
      await writeOrders(env.sdk, base + 200, 200, 100);
      await until(() => delivered.size === 400, 90_000, 'the orders after the split');
      expect(finished).toEqual([parentId]);
      const children = split.right.map((p) => `p${p.index}_e${p.epoch}`);
      // the parent's keys moved to its children; every other key stayed where it was
      const channelOfUser = new Map<string, string>();
      for (let n = base; n < base + 200; n++) channelOfUser.set(order(n).userId, delivered.get(n)![0]!);
      for (let n = base + 200; n < base + 400; n++) {
        const before = channelOfUser.get(order(n).userId)!;
        const after = delivered.get(n)![0]!;
        if (before === parentId) expect(children).toContain(after);
        else expect(after).toBe(before);
      }
      expect(heartbeats).toBeGreaterThanOrEqual(2);
    } finally {
      subscription.unsubscribe();
    }
  }, 120_000);
});
