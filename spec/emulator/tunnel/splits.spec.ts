/**
 * Partition splits, spoken to in raw signed HTTP + protobuf (raw-worker.ts, no otsflow tunnel
 * client), with rows written through the official `tablestore` SDK. Every written row carries a
 * global write counter `v`, so the expected per-row history is known without the emulator.
 *
 * Scenarios: a split on demand while the parent is half read; splits from the fault plan
 * (`split=<records>`, capped by `splits=`), broad and nested (one hot partition key splitting
 * again and again); tunnels created after a split (EARLIEST keeps the sealed parent, LATEST skips
 * it); a split across an emulator restart; DescribeTunnel's counts for finished channels.
 */
import * as E from 'fp-ts/lib/Either.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type RunningEmulator, startEmulator } from '../../../lib/emulator/index.js';
import { type AttachedTunnelService, NO_FAULTS, partitionOf } from '../../../lib/emulator/tunnel/index.js';
import type { Row } from '../../../lib/wire/types.js';
import { ok as sdkOk, sdkClient, TableStore, type Sdk } from '../sdk.js';
import { callTunnel, mustCall, type RawEndpoint } from './raw-client.js';
import { RawWorker } from './raw-worker.js';

const PARTITIONS = 4;
const CHANNEL_ID = /^p(\d+)_e(\d+)$/;

interface Written {
  readonly key: string;
  readonly v: number;
  readonly action: 'PUT_ROW' | 'DELETE_ROW';
}

interface Consumed {
  readonly channelId: string;
  readonly key: string;
  readonly action: string;
  readonly v: number | undefined;
  readonly row: Row;
}

const keyOf = (row: Row): string => `${String(row.primaryKey[0]!.value)}/${String(row.primaryKey[1]!.value)}`;
const vOf = (row: Row): number | undefined => {
  const cell = row.cells.find((c) => c.name === 'v');
  return cell !== undefined && 'value' in cell ? Number(cell.value) : undefined;
};
const epochOf = (channelId: string): number => Number(CHANNEL_ID.exec(channelId)![2]);
const partitionOfUser = (user: string): number => partitionOf([{ name: 'UserId', value: user }], PARTITIONS);
const userOf = (key: string): string => key.split('/')[0]!;

/** The history of every row as written: the order a consumer must see per key. */
const historyOf = (writes: readonly Written[]): Map<string, string[]> => {
  const byKey = new Map<string, string[]>();
  for (const w of writes) byKey.set(w.key, [...(byKey.get(w.key) ?? []), `${w.action}:${w.action === 'DELETE_ROW' ? '' : w.v}`]);
  return byKey;
};
const consumedHistory = (records: readonly Consumed[]): Map<string, string[]> => {
  const byKey = new Map<string, string[]>();
  for (const r of records) byKey.set(r.key, [...(byKey.get(r.key) ?? []), `${r.action}:${r.v ?? ''}`]);
  return byKey;
};

describe('partition splits over HTTP', () => {
  let dataDir: string;
  let emulator: RunningEmulator;
  let tunnels: AttachedTunnelService;
  let endpoint: RawEndpoint;
  let sdk: Sdk;
  let writes: Written[];
  let counter: number;

  const start = async (split?: { afterRecords: number; maxSplits: number }): Promise<void> => {
    emulator = await startEmulator({
      dataDir,
      port: 0,
      partitions: PARTITIONS,
      tunnel: { expirySweepMs: 0, readLimits: { maxRecords: 7, maxBytes: 1 << 20 }, ...(split === undefined ? {} : { split }) },
    });
    tunnels = emulator.tunnels;
    endpoint = { host: emulator.host, port: emulator.port, instanceName: emulator.instanceName, ...emulator.credentials };
    sdk = sdkClient(emulator);
  };

  beforeEach(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'otsflow-tunnel-splits-'));
    writes = [];
    counter = 0;
    await start();
    await sdkOk(sdk, 'createTable', {
      tableMeta: { tableName: 'Orders', primaryKey: [{ name: 'UserId', type: 'STRING' }, { name: 'OrderId', type: 'STRING' }] },
      reservedThroughput: { capacityUnit: { read: 0, write: 0 } },
      tableOptions: { timeToLive: -1, maxVersions: 1 },
    });
  });

  afterEach(async () => {
    await emulator.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  const put = async (user: string, order: string): Promise<void> => {
    const v = ++counter;
    await sdkOk(sdk, 'putRow', {
      tableName: 'Orders',
      condition: new TableStore.Condition(TableStore.RowExistenceExpectation.IGNORE, null),
      primaryKey: [{ UserId: user }, { OrderId: order }],
      attributeColumns: [{ v: TableStore.Long.fromNumber(v) }],
    });
    writes.push({ key: `${user}/${order}`, v, action: 'PUT_ROW' });
  };

  const remove = async (user: string, order: string): Promise<void> => {
    await sdkOk(sdk, 'deleteRow', {
      tableName: 'Orders',
      condition: new TableStore.Condition(TableStore.RowExistenceExpectation.IGNORE, null),
      primaryKey: [{ UserId: user }, { OrderId: order }],
    });
    writes.push({ key: `${user}/${order}`, v: ++counter, action: 'DELETE_ROW' });
  };

  /** Rounds of several writes to each of `users` × `orders`, updates and deletes mixed in. */
  const writeRounds = async (users: readonly string[], orders: readonly string[], rounds: number): Promise<void> => {
    for (let round = 0; round < rounds; round++) {
      for (const user of users) {
        for (const order of orders) {
          if ((round + user.length + order.length) % 5 === 4) await remove(user, order);
          else await put(user, order);
        }
      }
    }
  };

  const createTunnel = async (tunnelName: string, tunnelType: 'Stream' | 'BaseAndStream' | 'BaseData', flag?: 'EARLIEST' | 'LATEST') =>
    (
      await mustCall(endpoint, 'CreateTunnel', {
        tunnel: { tableName: 'Orders', tunnelName, tunnelType, ...(flag === undefined ? {} : { streamTunnelConfig: { flag } }) },
      })
    ).tunnelId;

  const describeTunnel = (tunnelName: string) => mustCall(endpoint, 'DescribeTunnel', { tableName: 'Orders', tunnelName });

  /**
   * A consumer that follows the protocol: heartbeat, drain every OPEN channel it holds, report
   * TERMINATED for the ones that read `finished`; until a round brings nothing new. Records when
   * each channel was first handed out and when it was reported TERMINATED (heartbeat numbers).
   */
  const consume = async (worker: RawWorker) => {
    const records: Consumed[] = [];
    const openedAt = new Map<string, number>();
    const terminatedAt = new Map<string, number>();
    const finished = new Set<string>();
    let beat = 0;
    for (let idle = 0; idle < 2 && beat < 200; ) {
      await worker.heartbeat();
      beat++;
      let progressed = false;
      for (const channelId of worker.open()) {
        if (!openedAt.has(channelId)) {
          openedAt.set(channelId, beat);
          progressed = true;
        }
        if (finished.has(channelId)) continue;
        const drained = await worker.drain(channelId);
        records.push(...drained.records.map((r) => ({ channelId, key: keyOf(r.row), action: r.action, v: vOf(r.row), row: r.row })));
        if (drained.records.length > 0) progressed = true;
        if (drained.lastToken === 'finished') {
          finished.add(channelId);
          worker.terminate(channelId);
          // reported by the next heartbeat
          terminatedAt.set(channelId, beat + 1);
          progressed = true;
        }
      }
      idle = progressed ? 0 : idle + 1;
    }
    return { records, openedAt, terminatedAt, finished };
  };

  it('splits a partition on demand while its channel is half read: the parent ends with finished, its children wait for its TERMINATED', async () => {
    const tunnelId = await createTunnel('demand', 'Stream');
    const users = ['ann', 'bob', 'cyd', 'dan', 'eve', 'fay', 'gus', 'hal', 'ivy', 'jon', 'kim', 'lee'];
    const orders = ['o1', 'o2'];
    await writeRounds(users, orders, 3);
    const worker = await new RawWorker(endpoint, tunnelId).connect(300n);
    await worker.heartbeat();
    expect(worker.open()).toEqual(['p0_e0', 'p1_e0', 'p2_e0', 'p3_e0']);
    // read one batch of p0 and checkpoint it: the split lands in the middle of the parent
    const ids = { tunnelId, clientId: worker.clientId, channelId: 'p0_e0' };
    const first = await mustCall(endpoint, 'ReadRecords', { ...ids, token: (await mustCall(endpoint, 'GetCheckpoint', ids)).checkpoint });
    await mustCall(endpoint, 'Checkpoint', { ...ids, checkpoint: first.nextToken, sequenceNumber: 1n });
    const beforeSplit = [...writes];
    const other = await new RawWorker(endpoint, tunnelId).connect(300n);

    const split = tunnels.splitPartition('Orders', 0);
    expect(E.isRight(split) && split.right.map((p) => [p.index, p.epoch, p.parent])).toEqual([
      [4, 1, 0],
      [5, 1, 0],
    ]);
    expect(tunnels.splitPartition('Orders', 0)).toEqual(E.left(expect.stringMatching(/already split/)));
    expect(E.isLeft(tunnels.splitPartition('Orders', 9))).toBe(true);
    await writeRounds(users, orders, 3);

    const described = await describeTunnel('demand');
    expect(described.channels.map((c) => [c.channelId, c.channelType, c.channelStatus])).toEqual([
      ['p0_e0', 'Stream', 'OPEN'],
      ['p1_e0', 'Stream', 'OPEN'],
      ['p2_e0', 'Stream', 'OPEN'],
      ['p3_e0', 'Stream', 'OPEN'],
      ['p4_e1', 'Stream', 'WAIT'],
      ['p5_e1', 'Stream', 'WAIT'],
    ]);
    // the children are not handed out while their parent is open, not even to an idle client
    for (let i = 0; i < 3; i++) {
      await worker.heartbeat();
      await other.heartbeat();
    }
    expect(other.open().filter((id) => epochOf(id) > 0)).toEqual([]);
    const parentHolder = worker.open().includes('p0_e0') ? worker : other;
    expect(parentHolder.open()).toContain('p0_e0');
    expect([...worker.open(), ...other.open()].sort()).toEqual(['p0_e0', 'p1_e0', 'p2_e0', 'p3_e0']);

    // the parent reads to the split point and says finished; its records are those of the
    // rows of partition 0 written before the split, after the batch read above
    const parent = await parentHolder.drain('p0_e0');
    expect(parent.lastToken).toBe('finished');
    const p0Writes = beforeSplit.filter((w) => partitionOfUser(userOf(w.key)) === 0);
    expect(p0Writes.length).toBeGreaterThan(first.records.length);
    expect(first.records.length + parent.records.length).toBe(p0Writes.length);
    expect(await mustCall(endpoint, 'GetCheckpoint', { ...ids, clientId: parentHolder.clientId })).toMatchObject({ checkpoint: 'finished' });
    // checkpointed finished but not yet reported TERMINATED: still no children
    await other.heartbeat();
    expect(other.open().filter((id) => epochOf(id) > 0)).toEqual([]);
    parentHolder.terminate('p0_e0');
    await parentHolder.heartbeat();
    await other.heartbeat();
    await worker.heartbeat();
    await other.heartbeat();
    const children = [...worker.open(), ...other.open()].filter((id) => epochOf(id) > 0).sort();
    expect(children).toEqual(['p4_e1', 'p5_e1']);

    // every record of the children is a row of partition 0, with epoch 1, written after the split
    const afterSplit = writes.slice(beforeSplit.length);
    const childRecords: Consumed[] = [];
    for (const channelId of children) {
      const holder = worker.open().includes(channelId) ? worker : other;
      const drained = await holder.drain(channelId);
      expect(drained.lastToken).not.toBe('finished');
      childRecords.push(...drained.records.map((r) => ({ channelId, key: keyOf(r.row), action: r.action, v: vOf(r.row), row: r.row })));
    }
    expect(childRecords.every((r) => r.row.sequence?.epoch === 1)).toBe(true);
    const p0After = afterSplit.filter((w) => partitionOfUser(userOf(w.key)) === 0);
    expect(childRecords).toHaveLength(p0After.length);
    expect(consumedHistory(childRecords)).toEqual(historyOf(p0After));
    // a partition key lives in one child
    const childOfUser = new Map<string, Set<string>>();
    for (const r of childRecords) childOfUser.set(userOf(r.key), new Set([...(childOfUser.get(userOf(r.key)) ?? []), r.channelId]));
    expect([...childOfUser.values()].every((s) => s.size === 1)).toBe(true);
  });

  it('splits from the fault plan (split=<records>, splits=<n>), broad and nested, and loses nothing nor reorders a key', async () => {
    const tunnelId = await createTunnel('plan', 'Stream');
    tunnels.faults.setPlan({ ...NO_FAULTS, split: { afterRecords: 6, maxSplits: 5 } });
    // one hot partition key: its partition fills, splits, and the child that takes it fills again
    for (let i = 0; i < 30; i++) await put('hot', `h${i % 4}`);
    await writeRounds(['ann', 'bob', 'cyd', 'dan', 'eve'], ['o1', 'o2'], 3);
    tunnels.faults.setPlan(NO_FAULTS);

    const described = await describeTunnel('plan');
    const ids = described.channels.map((c) => c.channelId);
    expect(ids).toHaveLength(PARTITIONS + 2 * 5);
    expect(ids.every((id) => CHANNEL_ID.test(id))).toBe(true);
    expect(new Set(ids).size).toBe(ids.length);
    // the hot key's chain: epochs 0, 1, 2, … one per split along its path
    expect(Math.max(...ids.map(epochOf))).toBeGreaterThanOrEqual(3);

    const worker = await new RawWorker(endpoint, tunnelId).connect(300n);
    const { records, openedAt, terminatedAt } = await consume(worker);
    expect(records).toHaveLength(writes.length);
    expect(consumedHistory(records)).toEqual(historyOf(writes));
    for (const r of records) expect(r.row.sequence?.epoch).toBe(epochOf(r.channelId));
    // every sealed channel was consumed to its end and reported TERMINATED before a later epoch of its keys opened
    for (const r of records) {
      const later = records.filter((s) => s.key === r.key && epochOf(s.channelId) > epochOf(r.channelId));
      for (const s of later) expect(openedAt.get(s.channelId)!).toBeGreaterThanOrEqual(terminatedAt.get(r.channelId) ?? Number.POSITIVE_INFINITY);
    }
    // the service's view: sealed channels TERMINATED, live ones OPEN, counts = records delivered
    const after = await describeTunnel('plan');
    const perChannel = new Map<string, number>();
    for (const r of records) perChannel.set(r.channelId, (perChannel.get(r.channelId) ?? 0) + 1);
    for (const c of after.channels) {
      expect(c.channelCount).toBe(BigInt(perChannel.get(c.channelId) ?? 0));
      expect(c.channelStatus).toBe(terminatedAt.has(c.channelId) ? 'TERMINATED' : 'OPEN');
    }
    expect(terminatedAt.size).toBe(5);
  });

  it('creates later tunnels over split partitions: EARLIEST reads the sealed parent first, LATEST skips it', async () => {
    await createTunnel('early-bird', 'Stream'); // enables the stream
    await writeRounds(['ann', 'bob', 'cyd', 'dan'], ['o1'], 2);
    const sealed = partitionOfUser('ann'); // a partition with records
    expect(E.isRight(tunnels.splitPartition('Orders', sealed))).toBe(true);
    await writeRounds(['ann', 'bob', 'cyd', 'dan'], ['o1'], 2);

    const earliest = await createTunnel('earliest', 'Stream', 'EARLIEST');
    expect((await describeTunnel('earliest')).channels.map((c) => c.channelId)).toEqual(['p0_e0', 'p1_e0', 'p2_e0', 'p3_e0', 'p4_e1', 'p5_e1']);
    const reader = await new RawWorker(endpoint, earliest).connect(300n);
    const all = await consume(reader);
    expect(all.records).toHaveLength(writes.length);
    expect(consumedHistory(all.records)).toEqual(historyOf(writes));

    const latestId = await createTunnel('latest', 'Stream', 'LATEST');
    const live = ['p0_e0', 'p1_e0', 'p2_e0', 'p3_e0'].filter((id) => id !== `p${sealed}_e0`).concat(['p4_e1', 'p5_e1']);
    expect((await describeTunnel('latest')).channels.map((c) => c.channelId)).toEqual(live);
    const latest = await new RawWorker(endpoint, latestId).connect(300n);
    await latest.heartbeat();
    // the children have no parent in this tunnel: they are handed out at once
    expect(latest.open()).toEqual(live);
    const before = writes.length;
    await writeRounds(['ann', 'bob', 'cyd', 'dan'], ['o1'], 1);
    const fresh = await consume(latest);
    expect(consumedHistory(fresh.records)).toEqual(historyOf(writes.slice(before)));
  });

  it('keeps splits across a restart: routing, sealed ends and the channels of existing tunnels', async () => {
    const tunnelId = await createTunnel('durable', 'Stream');
    await writeRounds(['ann', 'bob', 'cyd', 'dan', 'eve'], ['o1'], 1);
    expect(E.isRight(tunnels.splitPartition('Orders', 2))).toBe(true);
    await writeRounds(['ann', 'bob', 'cyd', 'dan', 'eve'], ['o1'], 1);
    await emulator.close();
    await start();
    await writeRounds(['ann', 'bob', 'cyd', 'dan', 'eve'], ['o1'], 1);
    expect((await describeTunnel('durable')).channels.map((c) => c.channelId)).toEqual(['p0_e0', 'p1_e0', 'p2_e0', 'p3_e0', 'p4_e1', 'p5_e1']);
    const { records } = await consume(await new RawWorker(endpoint, tunnelId).connect(300n));
    expect(consumedHistory(records)).toEqual(historyOf(writes));
  });

  it('reports channel_count and channel_rpo of finished channels: base data ranges and a split parent', async () => {
    await writeRounds(['ann', 'bob', 'cyd', 'dan', 'eve', 'fay', 'gus', 'hal', 'ivy', 'jon'], ['o1', 'o2', 'o3'], 1);
    const rows = new Set(writes.filter((w) => w.action === 'PUT_ROW').map((w) => w.key)).size;
    const tunnelId = await createTunnel('counts', 'BaseAndStream');
    const worker = await new RawWorker(endpoint, tunnelId).connect(300n);
    const startedNs = BigInt(Date.now()) * 1_000_000n;
    const consumed = await consume(worker);
    const perChannel = new Map<string, number>();
    for (const r of consumed.records) perChannel.set(r.channelId, (perChannel.get(r.channelId) ?? 0) + 1);
    const base = (await describeTunnel('counts')).channels.filter((c) => c.channelType === 'BaseData');
    expect(base.length).toBeGreaterThan(1);
    expect(base.reduce((n, c) => n + Number(c.channelCount), 0)).toBe(rows);
    for (const c of base) {
      expect(c.channelStatus).toBe('TERMINATED');
      expect(c.channelCount).toBe(BigInt(perChannel.get(c.channelId) ?? 0));
      // the time the range was read, in ns
      expect(c.channelRpo).toBeGreaterThanOrEqual(startedNs - 1_000_000_000n);
    }

    // a stream channel that ends at a split keeps what it delivered too
    await writeRounds(['ann', 'bob', 'cyd', 'dan', 'eve', 'fay', 'gus', 'hal'], ['o9'], 1);
    const streamWrites = writes.slice(-8);
    const split = partitionOfUser('ann');
    const inSplit = streamWrites.filter((w) => partitionOfUser(userOf(w.key)) === split).length;
    expect(E.isRight(tunnels.splitPartition('Orders', split))).toBe(true);
    await consume(worker);
    const described = await describeTunnel('counts');
    const parent = described.channels.find((c) => c.channelId === `p${split}_e0`)!;
    expect(parent).toMatchObject({ channelStatus: 'TERMINATED', channelCount: BigInt(inSplit) });
    expect(parent.channelRpo).toBeGreaterThan(0n);
    // the tunnel's RPO is the slowest channel still consuming: finished ones hold nothing back
    const consuming = described.channels.filter((c) => c.channelStatus !== 'TERMINATED' && (c.channelRpo ?? 0n) > 0n).map((c) => c.channelRpo!);
    expect(consuming.length).toBeGreaterThan(0);
    expect(described.tunnelRpo).toBe(consuming.reduce((a, b) => (a < b ? a : b)));
  });

  it('splits by itself with the emulator setting tunnel.split; a fault plan with split= takes over from it', async () => {
    await emulator.close();
    await start({ afterRecords: 4, maxSplits: 1 });
    await createTunnel('standing', 'Stream');
    for (let i = 0; i < 12; i++) await put('hot', `o${i % 3}`);
    const hot = partitionOfUser('hot');
    expect((await describeTunnel('standing')).channels.map((c) => [c.channelId, c.channelStatus])).toEqual([
      ...[0, 1, 2, 3].map((p) => [`p${p}_e0`, 'WAIT']),
      ['p4_e1', 'WAIT'],
      ['p5_e1', 'WAIT'],
    ]);
    expect(tunnels.changeLog.partitionsOf((await describeTunnel('standing')).tunnel.streamId)[hot]!.endSeq).toBe(5);
    tunnels.faults.setPlan({ ...NO_FAULTS, split: { afterRecords: 2, maxSplits: 3 } });
    for (let i = 0; i < 12; i++) await put('hot', `o${i % 3}`);
    expect((await describeTunnel('standing')).channels).toHaveLength(PARTITIONS + 2 * 3);
    const tunnelId = (await describeTunnel('standing')).tunnel.tunnelId;
    const { records } = await consume(await new RawWorker(endpoint, tunnelId).connect(300n));
    expect(consumedHistory(records)).toEqual(historyOf(writes));
  });

  it('answers a refused split through the attached service, and never splits a table without stream', async () => {
    expect(tunnels.splitPartition('Orders', 0)).toEqual(E.left('table Orders has no stream'));
    const result = await callTunnel(endpoint, 'DescribeTunnel', { tableName: 'Orders', tunnelName: 'none' });
    expect(E.isLeft(result)).toBe(true);
  });
});
