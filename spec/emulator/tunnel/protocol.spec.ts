/**
 * Protocol tests: the emulator's tunnel service spoken to in raw signed HTTP + protobuf (no
 * otsflow tunnel client), with table data written through the official `tablestore` SDK.
 * Lease expiry runs on an injected clock, so nothing here sleeps for a timeout.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type RunningEmulator, startEmulator } from '../../../lib/emulator/index.js';
import { type AttachedTunnelService, ManualClock, partitionOf } from '../../../lib/emulator/tunnel/index.js';
import type { Row } from '../../../lib/wire/types.js';
import { ok as sdkOk, sdkClient, TableStore, type Sdk } from '../sdk.js';
import { callTunnel, mustCall, post, type RawEndpoint } from './raw-client.js';
import { RawWorker } from './raw-worker.js';

const PARTITIONS = 4;

const orderKey = (user: string, order: string) => [{ UserId: user }, { OrderId: order }];
const wirePk = (user: string, order: string) => [
  { name: 'UserId', value: user },
  { name: 'OrderId', value: order },
];

describe('tunnel protocol over HTTP', () => {
  let dataDir: string;
  let clock: ManualClock;
  let emulator: RunningEmulator;
  let tunnels: AttachedTunnelService;
  let endpoint: RawEndpoint;
  let sdk: Sdk;

  beforeEach(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'otsflow-tunnel-protocol-'));
    clock = new ManualClock(Date.now());
    emulator = await startEmulator({
      dataDir,
      port: 0,
      partitions: PARTITIONS,
      now: () => clock.now(),
      tunnel: { expirySweepMs: 0, readLimits: { maxRecords: 4, maxBytes: 1 << 20 } },
    });
    tunnels = emulator.tunnels;
    endpoint = { host: emulator.host, port: emulator.port, instanceName: emulator.instanceName, ...emulator.credentials };
    sdk = sdkClient(emulator);
    await sdkOk(sdk, 'createTable', {
      tableMeta: { tableName: 'OrderSource', primaryKey: [{ name: 'UserId', type: 'STRING' }, { name: 'OrderId', type: 'STRING' }] },
      reservedThroughput: { capacityUnit: { read: 0, write: 0 } },
      tableOptions: { timeToLive: -1, maxVersions: 3 },
    });
  });

  afterEach(async () => {
    await emulator.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  const putOrder = (user: string, order: string, price: number, eventTime: number) =>
    sdkOk(sdk, 'putRow', {
      tableName: 'OrderSource',
      condition: new TableStore.Condition(TableStore.RowExistenceExpectation.IGNORE, null),
      primaryKey: orderKey(user, order),
      // the column is not called 'timestamp': the Node SDK reads that key of a column object as the cell version
      attributeColumns: [{ price }, { eventTime: TableStore.Long.fromNumber(eventTime) }],
    });

  const createTunnel = async (tunnelName: string, tunnelType: 'BaseData' | 'Stream' | 'BaseAndStream') =>
    (await mustCall(endpoint, 'CreateTunnel', { tunnel: { tableName: 'OrderSource', tunnelName, tunnelType } })).tunnelId;

  it('reads base data to finished, then streams later writes per partition with their actions and columns', async () => {
    for (let i = 0; i < 10; i++) await putOrder(`user${i % 3}`, `order${i}`, 10 + i, 1_700_000_000_000 + i);
    const tunnelId = await createTunnel('orders', 'BaseAndStream');
    const described = await mustCall(endpoint, 'DescribeTunnel', { tableName: 'OrderSource', tunnelName: 'orders' });
    expect(described.tunnel).toMatchObject({ tunnelId, tunnelType: 'BaseAndStream', stage: 'ProcessBaseData', tableName: 'OrderSource', instanceName: expect.any(String) });
    expect(described.channels.map((c) => [c.channelType, c.channelStatus])).toEqual([
      ...Array.from({ length: 4 }, () => ['BaseData', 'WAIT']),
      ...Array.from({ length: PARTITIONS }, () => ['Stream', 'WAIT']),
    ]);

    const worker = await new RawWorker(endpoint, tunnelId).connect(300n);
    await worker.heartbeat();
    expect(worker.open()).toEqual(['BaseData_0', 'BaseData_1', 'BaseData_2', 'BaseData_3']);
    const base: { action: string; row: Row }[] = [];
    for (const channelId of worker.open()) {
      const drained = await worker.drain(channelId);
      expect(drained.lastToken).toBe('finished');
      base.push(...drained.records);
      worker.terminate(channelId);
    }
    expect(base).toHaveLength(10);
    expect(base.every((r) => r.action === 'PUT_ROW' && r.row.sequence === undefined)).toBe(true);
    const order3 = base.find((r) => r.row.primaryKey[1]!.value === 'order3')!.row;
    expect(order3.primaryKey).toEqual(wirePk('user0', 'order3'));
    // base data comes from storage: columns in name order, each with its version timestamp
    expect(order3.cells).toEqual([
      { op: 'put', name: 'eventTime', value: 1_700_000_000_003n, timestamp: expect.any(Number) },
      { op: 'put', name: 'price', value: 13, timestamp: expect.any(Number) },
    ]);

    await worker.heartbeat();
    expect(worker.open()).toEqual(['p0_e0', 'p1_e0', 'p2_e0', 'p3_e0']);
    expect((await mustCall(endpoint, 'DescribeTunnel', { tableName: 'OrderSource', tunnelName: 'orders' })).tunnel.stage).toBe('ProcessStream');

    // later writes: put, update with a put / a deleted version / a deleted column, delete, batch
    clock.advance(1000);
    await putOrder('userA', 'o1', 1.25, 1);
    clock.advance(1000);
    await sdkOk(sdk, 'updateRow', {
      tableName: 'OrderSource',
      condition: new TableStore.Condition(TableStore.RowExistenceExpectation.IGNORE, null),
      primaryKey: orderKey('userA', 'o1'),
      updateOfAttributeColumns: [
        { PUT: [{ price: 2.5 }] },
        { DELETE: [{ eventTime: TableStore.Long.fromNumber(clock.now() - 1000) }] },
        { DELETE_ALL: ['note'] },
      ],
    });
    clock.advance(1000);
    await sdkOk(sdk, 'deleteRow', {
      tableName: 'OrderSource',
      condition: new TableStore.Condition(TableStore.RowExistenceExpectation.IGNORE, null),
      primaryKey: orderKey('userA', 'o1'),
    });
    clock.advance(1000);
    await sdkOk(sdk, 'batchWriteRow', {
      tables: [
        {
          tableName: 'OrderSource',
          rows: Array.from({ length: 12 }, (_, i) => ({
            type: 'PUT',
            condition: new TableStore.Condition(TableStore.RowExistenceExpectation.IGNORE, null),
            primaryKey: orderKey(`userB${i % 5}`, `b${i}`),
            attributeColumns: [{ price: i }],
            returnContent: { returnType: TableStore.ReturnType.NONE },
          })),
        },
      ],
    });

    const streamed = new Map<string, { action: string; row: Row }[]>();
    for (const channelId of worker.open()) {
      const drained = await worker.drain(channelId);
      expect(drained.lastToken).not.toBe('finished');
      streamed.set(channelId, drained.records);
    }
    const all = [...streamed.values()].flat();
    expect(all).toHaveLength(15);
    // every record sits in the partition of its partition key, in commit order within it
    for (const [channelId, records] of streamed) {
      for (const r of records) expect(`p${partitionOf(r.row.primaryKey, PARTITIONS)}_e0`).toBe(channelId);
      const seqs = records.map((r) => r.row.sequence!);
      for (let i = 1; i < seqs.length; i++) {
        const [a, b] = [seqs[i - 1]!, seqs[i]!];
        expect(a.timestamp < b.timestamp || (a.timestamp === b.timestamp && a.rowIndex < b.rowIndex)).toBe(true);
      }
    }
    const userA = streamed.get(`p${partitionOf(wirePk('userA', 'o1'), PARTITIONS)}_e0`)!.filter((r) => r.row.primaryKey[0]!.value === 'userA');
    expect(userA.map((r) => r.action)).toEqual(['PUT_ROW', 'UPDATE_ROW', 'DELETE_ROW']);
    expect(userA[0]!.row.cells).toEqual([
      { op: 'put', name: 'price', value: 1.25, timestamp: clock.now() - 3000 },
      { op: 'put', name: 'eventTime', value: 1n, timestamp: clock.now() - 3000 },
    ]);
    expect(userA[1]!.row.cells).toEqual([
      { op: 'put', name: 'price', value: 2.5, timestamp: clock.now() - 2000 },
      { op: 'deleteOneVersion', name: 'eventTime', timestamp: clock.now() - 3000 },
      { op: 'deleteAllVersions', name: 'note' },
    ]);
    expect(userA[2]!.row).toMatchObject({ cells: [], deleteMarker: true });
    expect(userA.map((r) => r.row.sequence!.timestamp)).toEqual([3000, 2000, 1000].map((ago) => BigInt(clock.now() - ago) * 1000n));
    const batch = all.filter((r) => String(r.row.primaryKey[0]!.value).startsWith('userB'));
    expect(batch.map((r) => r.row.sequence!.rowIndex).sort((a, b) => a - b)).toEqual(Array.from({ length: 12 }, (_, i) => i));
    expect(new Set(batch.map((r) => r.row.sequence!.timestamp)).size).toBe(1);
  });

  it('spreads channels over three clients, and moves those of a silent client after its timeout', async () => {
    const tunnelId = await createTunnel('spread', 'Stream');
    const first = await new RawWorker(endpoint, tunnelId).connect(30n);
    await first.heartbeat();
    expect(first.open()).toEqual(['p0_e0', 'p1_e0', 'p2_e0', 'p3_e0']);
    const workers = [first, ...(await Promise.all([1, 2].map(() => new RawWorker(endpoint, tunnelId).connect(30n))))];
    const round = async (who = workers) => {
      for (const w of who) await w.heartbeat();
    };
    // the first client gives channels back through CLOSING → CLOSE before the others get them
    const revoked = (await first.heartbeat()).filter((c) => c.status === 'CLOSING');
    expect(revoked).toHaveLength(2);
    await round(workers.slice(1));
    expect(workers.slice(1).map((w) => w.open())).toEqual([[], []]);
    for (let i = 0; i < 2; i++) await round();
    expect(workers.map((w) => w.open().length)).toEqual([2, 1, 1]);
    const owned = workers.flatMap((w) => w.open()).sort();
    expect(owned).toEqual(['p0_e0', 'p1_e0', 'p2_e0', 'p3_e0']);

    // worker 0 goes silent; the others heartbeat every 10 s
    const silent = workers[0]!;
    const alive = workers.slice(1);
    for (let t = 10; t <= 30; t += 10) {
      clock.advance(10_000);
      await round(alive);
    }
    expect(alive.map((w) => w.open().length)).toEqual([1, 1]);
    clock.advance(1);
    for (let i = 0; i < 2; i++) await round(alive);
    expect(alive.map((w) => w.open().length)).toEqual([2, 2]);
    const describe = await mustCall(endpoint, 'DescribeTunnel', { tableName: 'OrderSource', tunnelName: 'spread' });
    expect(new Set(describe.channels.map((c) => c.clientId))).toEqual(new Set(alive.map((w) => w.clientId)));
    const gone = await callTunnel(endpoint, 'Heartbeat', { tunnelId, clientId: silent.clientId, channels: [...silent.held.values()] });
    expect(gone).toMatchObject({ left: { status: 410, code: 'OTSResourceGone' } });
  });

  it('refuses a stale checkpoint sequence and a checkpoint or read by a non-owner', async () => {
    const tunnelId = await createTunnel('cp', 'Stream');
    const [a, b] = await Promise.all([0, 1].map(() => new RawWorker(endpoint, tunnelId).connect()));
    await a!.heartbeat();
    await b!.heartbeat();
    await a!.heartbeat();
    await a!.heartbeat();
    await b!.heartbeat();
    const channelId = a!.open()[0]!;
    expect(b!.open()).not.toContain(channelId);
    clock.advance(1000);
    for (let i = 0; i < 20; i++) await putOrder(`u${i}`, 'x', i, i);
    const ids = { tunnelId, clientId: a!.clientId, channelId };
    const start = await mustCall(endpoint, 'GetCheckpoint', ids);
    expect(start.sequenceNumber).toBe(0n);
    const batch = await mustCall(endpoint, 'ReadRecords', { ...ids, token: start.checkpoint });
    await mustCall(endpoint, 'Checkpoint', { ...ids, checkpoint: batch.nextToken, sequenceNumber: 1n });
    const stale = await callTunnel(endpoint, 'Checkpoint', { ...ids, checkpoint: start.checkpoint, sequenceNumber: 1n });
    expect(stale).toMatchObject({ left: { status: 400, code: 'OTSSequenceNumberNotMatch' } });
    const byOther = await callTunnel(endpoint, 'Checkpoint', { ...ids, clientId: b!.clientId, checkpoint: batch.nextToken, sequenceNumber: 2n });
    expect(byOther).toMatchObject({ left: { status: 410, code: 'OTSResourceGone' } });
    const readByOther = await callTunnel(endpoint, 'ReadRecords', { ...ids, clientId: b!.clientId, token: batch.nextToken });
    expect(readByOther).toMatchObject({ left: { code: 'OTSResourceGone' } });
    expect(await mustCall(endpoint, 'GetCheckpoint', ids)).toEqual({ checkpoint: batch.nextToken, sequenceNumber: 1n });
  });

  it('works with the Go/Java defaults: 30 s heartbeats keep a 300 s lease; a silent client loses it after 300 s', async () => {
    const tunnelId = await createTunnel('defaults', 'Stream');
    const steady = await new RawWorker(endpoint, tunnelId).connect(300n);
    const quiet = await new RawWorker(endpoint, tunnelId).connect(); // no client_config: the service default
    await steady.heartbeat();
    await quiet.heartbeat();
    await steady.heartbeat();
    await steady.heartbeat();
    await quiet.heartbeat();
    const versions = () => [...steady.held.values()].map((c) => c.version);
    expect(steady.open()).toHaveLength(2);
    const before = versions();
    for (let s = 30; s < 300; s += 30) {
      clock.advance(30_000);
      await steady.heartbeat();
    }
    expect(steady.open()).toHaveLength(2);
    expect(versions()).toEqual(before); // nothing moved while everyone is within its timeout
    clock.advance(30_000); // 300 s since quiet's last heartbeat: still exactly at the limit
    await steady.heartbeat();
    expect(steady.open()).toHaveLength(2);
    clock.advance(1);
    await steady.heartbeat();
    expect(steady.open()).toHaveLength(4);
  });

  it('injects faults: 503 OTSTunnelServerUnavailable, responses cut mid-body, withheld heartbeats', async () => {
    const tunnelId = await createTunnel('faults', 'Stream');
    tunnels.faults.setPlan({ unavailableRate: 1, dropRate: 0, seed: 1 });
    expect(await callTunnel(endpoint, 'ListTunnel', {})).toMatchObject({ left: { status: 503, code: 'OTSTunnelServerUnavailable' } });
    tunnels.faults.setPlan({ unavailableRate: 0, dropRate: 1, seed: 1 });
    await expect(callTunnel(endpoint, 'DescribeTunnel', { tableName: 'OrderSource', tunnelName: 'faults' })).rejects.toThrow();
    tunnels.faults.setPlan({ unavailableRate: 0, dropRate: 0, latency: { ms: 150, rate: 1 }, seed: 1 });
    const started = performance.now();
    await mustCall(endpoint, 'ListTunnel', {});
    expect(performance.now() - started).toBeGreaterThanOrEqual(140);
    tunnels.faults.setPlan({ unavailableRate: 0, dropRate: 0, seed: 1 });

    const worker = await new RawWorker(endpoint, tunnelId).connect(30n);
    await worker.heartbeat();
    tunnels.faults.withholdHeartbeats(worker.clientId);
    await expect(worker.heartbeat()).rejects.toThrow();
    clock.advance(30_001);
    tunnels.faults.withholdHeartbeats(worker.clientId, false);
    // the withheld heartbeat did not refresh the lease: the client is gone
    await expect(worker.heartbeat()).rejects.toThrow(/OTSResourceGone/);
    // and the table API is never affected by the tunnel fault plan
    tunnels.faults.setPlan({ unavailableRate: 1, dropRate: 0, seed: 1 });
    await sdkOk(sdk, 'listTable', {});
    const raw = await post(endpoint, '/ListTable', new Uint8Array(0));
    expect(raw.status).toBe(200);
  });
});
