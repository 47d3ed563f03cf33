/**
 * tunnel() under faults: the emulator's fault plan answers 10 % of tunnel calls with 503
 * OTSTunnelServerUnavailable, and a proxy in front of it cuts 10 % of the response chunks in the
 * middle (the emulator's own `drop` fault needs the Node response object, which the emulator's
 * router does not pass to routes). Every row of the base data and of the live writes still arrives, intact.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as E from 'fp-ts/lib/Either.js';
import { parseFaultPlan } from '../../lib/emulator/tunnel/index.js';
import { tunnel } from '../../lib/tunnel/tunnel.js';
import { errorCode } from '../../lib/tunnel/errors.js';
import type { TunnelEvent } from '../../lib/tunnel/model.js';
import type { ChangeRecord } from '../../lib/wire/types.js';
import { startChaosProxy } from './chaos-proxy.js';
import type { ChaosProxy } from './chaos-proxy.js';
import { cellValues, createOrderTable, order, ORDER_TABLE, orderNumber, startTunnelEmulator, tunnelOptions, until, writeOrders } from './emulator-harness.js';
import type { TunnelEmulator } from './emulator-harness.js';

const BASE_ROWS = 20_000;
const LIVE_ROWS = 2_000;

describe('tunnel() with 10 % 503s and dropped connections', () => {
  let env: TunnelEmulator;
  let proxy: ChaosProxy;

  beforeAll(async () => {
    env = await startTunnelEmulator({ partitions: 4, baseChannels: 4, expirySweepMs: 100 });
    await createOrderTable(env.sdk);
    proxy = await startChaosProxy({ host: env.emulator.host, port: env.emulator.port }, 0.1, 11);
  });

  afterAll(async () => {
    await proxy?.close();
    await env?.close();
  });

  it('delivers every base and live row', async () => {
    await writeOrders(env.sdk, 0, BASE_ROWS, 200);
    const created = await env.control.createTunnel({ tableName: ORDER_TABLE, tunnelName: 'faulty', tunnelType: 'BaseAndStream' });
    if (created._tag === 'Left') throw created.left;
    const plan = parseFaultPlan('503=0.1,drop=0.1,seed=7');
    if (E.isLeft(plan)) throw new Error(plan.left.join('; '));
    env.tunnels.faults.setPlan(plan.right);

    const seen = new Map<number, ChangeRecord>();
    let batches = 0;
    const events: TunnelEvent[] = [];
    let failure: unknown;
    const subscription = tunnel({
      ...tunnelOptions(env.emulator, created.right.tunnelId),
      endpoint: proxy.endpoint,
      onEvent: (event) => events.push(event),
    }).subscribe({
      next: (batch) => {
        batches++;
        for (const record of batch.records) seen.set(orderNumber(record), record);
        void batch.commit();
      },
      error: (error: unknown) => {
        failure = error;
      },
    });
    try {
      await until(() => seen.size >= BASE_ROWS || failure !== undefined, 120_000, 'the base data');
      expect(failure).toBeUndefined();
      // live rows trickle in, so stream reads, checkpoints and heartbeats keep meeting faults
      for (let start = BASE_ROWS; start < BASE_ROWS + LIVE_ROWS; start += 50) {
        await writeOrders(env.sdk, start, 50, 50);
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
      await until(() => seen.size >= BASE_ROWS + LIVE_ROWS || failure !== undefined, 60_000, 'the live rows');
      expect(failure).toBeUndefined();

      expect([...seen.keys()].sort((a, b) => a - b)).toEqual(Array.from({ length: BASE_ROWS + LIVE_ROWS }, (_, n) => n));
      for (const [n, record] of seen) {
        expect(cellValues(record)).toEqual({ price: order(n).price, timestamp: order(n).timestamp });
      }
      const retried = events.flatMap((e) => (e.kind === 'request-retry' ? [errorCode(e.error)] : []));
      expect(retried).toContain('OTSTunnelServerUnavailable');
      expect(retried.some((code) => code === 'ECONNRESET')).toBe(true);
      expect(proxy.dropped()).toBeGreaterThan(0);
      console.info(
        `faults over ${batches} batches and ${events.filter((e) => e.kind === 'heartbeat').length} heartbeats: ${retried.filter((c) => c === 'OTSTunnelServerUnavailable').length} retried 503s, ${proxy.dropped()} cut connections, ` +
          `${events.filter((e) => e.kind === 'channel-closed' && e.reason === 'error').length} channels closed after exhausted retries`,
      );
    } finally {
      subscription.unsubscribe();
      env.tunnels.faults.setPlan({ unavailableRate: 0, dropRate: 0, seed: 1 });
    }
  }, 180_000);
});
