/**
 * tunnel() against the emulator over loopback HTTP, data written with the official SDK.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { firstValueFrom } from 'rxjs';
import { tunnel } from '../../lib/tunnel/tunnel.js';
import type { ChannelBatch, TunnelEvent } from '../../lib/tunnel/model.js';
import { TunnelFatalError, TunnelOptionsError } from '../../lib/tunnel/errors.js';
import type { ChangeRecord } from '../../lib/wire/types.js';
import {
  cellValues,
  createOrderTable,
  deleteOrder,
  order,
  ORDER_TABLE,
  orderNumber,
  startTunnelEmulator,
  tunnelOptions,
  until,
  writeOrders,
} from './emulator-harness.js';
import type { TunnelEmulator } from './emulator-harness.js';

const BASE_ROWS = Number(process.env['OTSFLOW_TUNNEL_BASE_ROWS'] ?? 100_000);

describe('tunnel() against the emulator', () => {
  let env: TunnelEmulator;

  beforeAll(async () => {
    env = await startTunnelEmulator({ partitions: 4, baseChannels: 4, expirySweepMs: 100 });
    await createOrderTable(env.sdk);
  });

  afterAll(async () => {
    await env?.close();
  });

  it('control calls: create, list, describe (typed, with times), delete; a bad option fails before any request', async () => {
    const created = await env.control.createTunnel({ tableName: ORDER_TABLE, tunnelName: 'control', tunnelType: 'Stream' });
    expect(created._tag).toBe('Right');
    const tunnelId = created._tag === 'Right' ? created.right.tunnelId : '';
    const listed = await env.control.listTunnels(ORDER_TABLE);
    expect(listed._tag === 'Right' && listed.right.map((t) => [t.tunnelId, t.tunnelName, t.tunnelType])).toContainEqual([tunnelId, 'control', 'Stream']);
    const described = await env.control.describeTunnel(ORDER_TABLE, 'control');
    if (described._tag === 'Left') throw described.left;
    expect(described.right.tunnel.createTime).toBeInstanceOf(Date);
    expect(typeof described.right.tunnel.createTimeNs).toBe('bigint');
    expect(Math.abs((described.right.tunnel.createTime as Date).getTime() - Date.now())).toBeLessThan(60_000);
    expect(described.right.channels.length).toBe(4);
    expect(described.right.channels.every((c) => c.channelType === 'Stream')).toBe(true);
    const deleted = await env.control.deleteTunnel(ORDER_TABLE, 'control');
    expect(deleted._tag).toBe('Right');
    const missing = await env.control.describeTunnel(ORDER_TABLE, 'control');
    expect(missing._tag === 'Left' && (missing.left as { code?: string }).code).toBe('OTSParameterInvalid');

    const invalid = tunnel({ ...tunnelOptions(env.emulator, 'x'), heartbeatTimeoutMs: 10 });
    await expect(firstValueFrom(invalid)).rejects.toBeInstanceOf(TunnelOptionsError);
    // a tunnel name that does not exist ends with a typed error
    await expect(firstValueFrom(tunnel({ ...tunnelOptions(env.emulator, ''), tunnelId: undefined, tableName: ORDER_TABLE, tunnelName: 'nope' }))).rejects.toBeInstanceOf(
      TunnelFatalError,
    );
  });

  it(`consumes a BaseAndStream tunnel of ${BASE_ROWS} rows, then live writes: nothing missing, content intact`, async () => {
    await writeOrders(env.sdk, 0, BASE_ROWS, 200);
    const created = await env.control.createTunnel({ tableName: ORDER_TABLE, tunnelName: 'full', tunnelType: 'BaseAndStream' });
    if (created._tag === 'Left') throw created.left;

    const base = new Map<number, ChangeRecord>();
    const stream: ChangeRecord[] = [];
    const events: TunnelEvent[] = [];
    let finishedChannels = 0;
    const subscription = tunnel({
      ...tunnelOptions(env.emulator, created.right.tunnelId),
      onEvent: (event) => events.push(event),
    }).subscribe({
      next: (batch: ChannelBatch) => {
        for (const record of batch.records) {
          if (batch.stream) stream.push(record);
          else base.set(orderNumber(record), record);
        }
        if (batch.finished) finishedChannels++;
        void batch.commit();
      },
      error: (error: unknown) => {
        throw error;
      },
    });
    try {
      await until(() => base.size >= BASE_ROWS && finishedChannels === 4, 120_000, 'the base data');
      for (let n = 0; n < BASE_ROWS; n += 997) {
        const record = base.get(n) as ChangeRecord;
        const o = order(n);
        expect(record.action).toBe('PUT_ROW');
        expect(record.primaryKey).toEqual([
          { name: 'UserId', value: o.userId },
          { name: 'OrderId', value: o.orderId },
        ]);
        expect(cellValues(record)).toEqual({ price: o.price, timestamp: o.timestamp });
        expect(record.sequence).toBeUndefined();
      }
      expect([...base.keys()].sort((a, b) => a - b)).toEqual(Array.from({ length: BASE_ROWS }, (_, i) => i));

      // live: new orders, re-priced orders and deleted orders arrive through the stream channels
      await writeOrders(env.sdk, BASE_ROWS, 1_000, 200);
      await writeOrders(env.sdk, 0, 200, 200, (n) => n + 0.5);
      for (let n = 200; n < 250; n++) await deleteOrder(env.sdk, n);
      await until(() => stream.length >= 1_250, 60_000, 'the live writes');

      const live = new Set(stream.filter((r) => r.action === 'PUT_ROW').map(orderNumber));
      for (let n = BASE_ROWS; n < BASE_ROWS + 1_000; n++) expect(live.has(n)).toBe(true);
      const repriced = stream.filter((r) => r.action === 'PUT_ROW' && orderNumber(r) < 200);
      expect(new Set(repriced.map(orderNumber)).size).toBe(200);
      for (const record of repriced) expect(cellValues(record)['price']).toBe(orderNumber(record) + 0.5);
      const deleted = stream.filter((r) => r.action === 'DELETE_ROW').map(orderNumber);
      expect(new Set(deleted)).toEqual(new Set(Array.from({ length: 50 }, (_, i) => 200 + i)));
      expect(stream.every((r) => r.sequence !== undefined)).toBe(true);
      expect(events.filter((e) => e.kind === 'decode-error')).toEqual([]);
    } finally {
      subscription.unsubscribe();
    }
  }, 180_000);

  it('replays a channel from a recorded fromToken: the same records again, in the same order', async () => {
    await writeOrders(env.sdk, 0, 10_000, 200);
    const created = await env.control.createTunnel({ tableName: ORDER_TABLE, tunnelName: 'replay', tunnelType: 'BaseData' });
    if (created._tag === 'Left') throw created.left;
    const options = tunnelOptions(env.emulator, created.right.tunnelId);

    // only the first batch of each channel is committed: the service checkpoint stays before the recorded one
    const firstRun = new Map<string, ChannelBatch[]>();
    const first = tunnel(options).subscribe((batch) => {
      const batches = [...(firstRun.get(batch.channelId) ?? []), batch];
      firstRun.set(batch.channelId, batches);
      if (batches.length === 1) void batch.commit();
    });
    await until(() => [...firstRun.values()].some((batches) => batches.length >= 2), 30_000, 'two batches of a channel');
    first.unsubscribe();
    const [channelId, batches] = [...firstRun.entries()].find(([, list]) => list.length >= 2) as [string, ChannelBatch[]];
    const recorded = batches[1] as ChannelBatch;
    expect(recorded.fromToken).toBe((batches[0] as ChannelBatch).nextToken);

    // the first worker's Shutdown releases the channels; a second one replays from the recorded token
    const replayed: ChannelBatch[] = [];
    const opened: TunnelEvent[] = [];
    const second = tunnel({ ...options, startTokens: { [channelId]: recorded.fromToken }, onEvent: (e) => e.kind === 'channel-opened' && opened.push(e) }).subscribe((batch) => {
      if (batch.channelId === channelId) replayed.push(batch);
    });
    try {
      await until(() => replayed.length >= 1, 30_000, 'the replayed batch');
      expect(opened.find((e) => e.kind === 'channel-opened' && e.channelId === channelId)).toMatchObject({ token: recorded.fromToken });
      expect(replayed[0]?.fromToken).toBe(recorded.fromToken);
      // (next tokens are opaque: the emulator stamps them with the read time, so only the records compare)
      expect(replayed[0]?.records).toEqual(recorded.records);
    } finally {
      second.unsubscribe();
    }
  }, 60_000);
});
