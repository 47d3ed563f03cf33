import * as E from 'fp-ts/lib/Either.js';
import { open, type RootDatabase } from 'lmdb';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ChangeLog, type RowChange } from '../../../lib/emulator/tunnel/change-log.js';
import { ManualClock } from '../../../lib/emulator/tunnel/clock.js';
import type { TunnelError } from '../../../lib/emulator/tunnel/errors.js';
import type { Lease, ReportedChannel } from '../../../lib/emulator/tunnel/leases.js';
import { partitionOf } from '../../../lib/emulator/tunnel/partitioning.js';
import { type ReadRecordsOutput, TunnelService } from '../../../lib/emulator/tunnel/service.js';
import { decodeChannelToken } from '../../../lib/emulator/tunnel/tokens.js';
import { decodeRow } from '../../../lib/wire/plainbuffer/index.js';
import type { Row } from '../../../lib/wire/types.js';
import { MemoryRows } from './memory-rows.js';

const DAY = 86_400_000;

const ok = <A>(result: E.Either<TunnelError, A>): A => {
  if (E.isLeft(result)) throw new Error(`${result.left.code}: ${result.left.message}`);
  return result.right;
};
const fail = <A>(result: E.Either<TunnelError, A>): TunnelError => {
  if (E.isRight(result)) throw new Error(`expected an error, got ${JSON.stringify(result.right, (_k, v) => (typeof v === 'bigint' ? `${v}n` : v))}`);
  return result.left;
};
const row = (bytes: Uint8Array): Row => {
  const decoded = decodeRow(bytes);
  if (E.isLeft(decoded)) throw decoded.left;
  return decoded.right;
};

const orderKey = (id: string) => [{ name: 'id', value: id }];

describe('TunnelService', () => {
  let dir: string;
  let root: RootDatabase;
  let clock: ManualClock;
  let rows: MemoryRows;
  let log: ChangeLog;
  let service: TunnelService;
  const limits = { maxRecords: 3, maxBytes: 1 << 20 };

  const start = (): void => {
    root = open({ path: dir });
    log = new ChangeLog(root, { clock, partitions: 2, retentionMs: 7 * DAY });
    service = new TunnelService({ root, changeLog: log, rows, clock, readLimits: limits, baseChannels: 2, expirySweepMs: 0 });
  };
  const stop = async (): Promise<void> => {
    service.close();
    await root.close();
  };

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'otsflow-tunnel-service-'));
    clock = new ManualClock(Date.UTC(2026, 0, 1));
    rows = new MemoryRows();
    rows.createTable('orders');
    for (let i = 0; i < 8; i++) {
      rows.put('orders', { primaryKey: orderKey(`o${i}`), cells: [{ op: 'put', name: 'amount', value: BigInt(i), timestamp: 1000 + i }] });
    }
    start();
  });

  afterEach(async () => {
    await stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const write = (changes: RowChange[]): void => {
    clock.advance(1);
    root.transactionSync(() => log.append('orders', changes));
  };

  const connect = (tunnelId: string, timeoutSec = 300): string => ok(service.connect({ tunnelId, timeoutSec, clientTag: 'host' })).clientId;

  /** A well-behaved client: reports what it holds, gives CLOSING channels back on the next beat. */
  const beat = (tunnelId: string, clientId: string, held: Map<string, ReportedChannel>): readonly Lease[] => {
    const leases = ok(service.heartbeat({ tunnelId, clientId, channels: [...held.values()] })).channels;
    held.clear();
    for (const lease of leases) {
      held.set(lease.id, lease.status === 'CLOSING' ? { id: lease.id, version: lease.version + 1, status: 'CLOSE' } : lease);
    }
    return leases;
  };

  const drain = (tunnelId: string, clientId: string, channelId: string): { batches: ReadRecordsOutput[]; lastToken: string } => {
    let token = ok(service.getCheckpoint({ tunnelId, clientId, channelId })).checkpoint;
    const batches: ReadRecordsOutput[] = [];
    for (;;) {
      const batch = ok(service.readRecords({ tunnelId, clientId, channelId, token }));
      batches.push(batch);
      if (batch.nextToken === 'finished' || batch.records.length === 0) return { batches, lastToken: batch.nextToken };
      token = batch.nextToken;
    }
  };

  it('creates a BaseAndStream tunnel whose channels, names and stage follow the protocol strings', () => {
    const { tunnelId } = ok(service.createTunnel({ tableName: 'orders', tunnelName: 'cdc', tunnelType: 'BaseAndStream' }));
    const described = ok(service.describeTunnel({ tableName: 'orders', tunnelName: 'cdc' }));
    expect(described.tunnel).toMatchObject({
      tunnelId,
      tunnelName: 'cdc',
      tunnelType: 'BaseAndStream',
      tableName: 'orders',
      stage: 'ProcessBaseData',
      expired: false,
      createTimeNs: BigInt(clock.now()) * 1_000_000n,
      streamId: log.streamOf('orders')!.streamId,
    });
    expect(described.channels.map((c) => [c.channelId, c.channelType, c.channelStatus, c.clientId])).toEqual([
      ['BaseData_0', 'BaseData', 'WAIT', ''],
      ['BaseData_1', 'BaseData', 'WAIT', ''],
      ['p0_e0', 'Stream', 'WAIT', ''],
      ['p1_e0', 'Stream', 'WAIT', ''],
    ]);
    expect(ok(service.listTunnels({})).map((t) => t.tunnelId)).toEqual([tunnelId]);
    expect(ok(service.listTunnels({ tableName: 'other' }))).toEqual([]);
  });

  it('validates CreateTunnel, collecting every problem with its field', () => {
    const error = fail(
      service.createTunnel({
        tableName: 'missing',
        tunnelName: 'bad name',
        tunnelType: 'Stream',
        streamConfig: { startOffsetNs: 2_000n, endOffsetNs: 1_000n },
      }),
    );
    expect(error.code).toBe('OTSParameterInvalid');
    expect(error.message).toContain("tunnel.table_name: table 'missing' does not exist");
    expect(error.message).toContain("tunnel.tunnel_name: invalid tunnel name 'bad name'");
    expect(error.message).toContain('endOffset must not be less than startOffset');
    ok(service.createTunnel({ tableName: 'orders', tunnelName: 't', tunnelType: 'Stream' }));
    expect(fail(service.createTunnel({ tableName: 'orders', tunnelName: 't', tunnelType: 'BaseData' })).code).toBe('OTSTunnelExist');
    expect(fail(service.describeTunnel({ tableName: 'orders', tunnelName: 'nope' })).code).toBe('OTSParameterInvalid');
    expect(fail(service.deleteTunnel({ tableName: 'orders', tunnelName: 'nope' })).code).toBe('OTSParameterInvalid');
    expect(fail(service.connect({ tunnelId: 'nope' })).code).toBe('OTSParameterInvalid');
  });

  it('serves base data to finished, then the stream in per-partition order', () => {
    const { tunnelId } = ok(service.createTunnel({ tableName: 'orders', tunnelName: 'cdc', tunnelType: 'BaseAndStream' }));
    // written after creation: the stream must deliver it (and base data may too: at-least-once)
    write([{ action: 'PUT_ROW', primaryKey: orderKey('late'), cells: [{ op: 'put', name: 'amount', value: 99n, timestamp: 5000 }] }]);
    const client = connect(tunnelId);
    const held = new Map<string, ReportedChannel>();
    expect(beat(tunnelId, client, held).map((l) => [l.id, l.status, l.version])).toEqual([
      ['BaseData_0', 'OPEN', 1],
      ['BaseData_1', 'OPEN', 1],
    ]);
    const baseRows: Row[] = [];
    for (const channelId of ['BaseData_0', 'BaseData_1']) {
      const { batches } = drain(tunnelId, client, channelId);
      expect(batches.every((b) => b.records.length <= limits.maxRecords)).toBe(true);
      for (const b of batches.slice(0, -1)) {
        expect(b.mayMoreRecord).toBe(true);
        expect(decodeChannelToken(b.nextToken)).toMatchObject({ right: { kind: 'base' } });
      }
      expect(batches[batches.length - 1]).toMatchObject({ nextToken: 'finished', mayMoreRecord: false });
      for (const b of batches) {
        expect(b.records.every((r) => r.action === 'PUT_ROW')).toBe(true);
        baseRows.push(...b.records.map((r) => row(r.record)));
      }
      ok(service.checkpoint({ tunnelId, clientId: client, channelId, checkpoint: 'finished', sequenceNumber: 1 }));
      held.set(channelId, { id: channelId, version: 2, status: 'TERMINATED' });
    }
    expect(baseRows.map((r) => r.primaryKey[0]!.value)).toEqual(['o0', 'o1', 'o2', 'o3', 'o4', 'o5', 'o6', 'o7']);
    expect(baseRows.every((r) => r.sequence === undefined && !r.deleteMarker)).toBe(true);
    expect(baseRows[3]!.cells).toEqual([{ op: 'put', name: 'amount', value: 3n, timestamp: 1003 }]);

    const leases = beat(tunnelId, client, held);
    expect(leases.map((l) => [l.id, l.status])).toEqual([
      ['p0_e0', 'OPEN'],
      ['p1_e0', 'OPEN'],
    ]);
    expect(ok(service.describeTunnel({ tableName: 'orders', tunnelName: 'cdc' })).tunnel.stage).toBe('ProcessStream');

    write([
      { action: 'UPDATE_ROW', primaryKey: orderKey('late'), cells: [{ op: 'put', name: 'amount', value: 100n, timestamp: 6000 }, { op: 'deleteAllVersions', name: 'note' }] },
      { action: 'PUT_ROW', primaryKey: orderKey('other'), cells: [{ op: 'put', name: 'amount', value: 1n, timestamp: 6000 }] },
    ]);
    write([{ action: 'DELETE_ROW', primaryKey: orderKey('late'), cells: [] }]);
    const latePartition = `p${partitionOf(orderKey('late'), 2)}_e0`;
    const { batches } = drain(tunnelId, client, latePartition);
    const streamed = batches.flatMap((b) => b.records);
    const lateRecords = streamed.filter((r) => row(r.record).primaryKey[0]!.value === 'late');
    expect(lateRecords.map((r) => r.action)).toEqual(['PUT_ROW', 'UPDATE_ROW', 'DELETE_ROW']);
    expect(row(lateRecords[1]!.record).cells).toEqual([
      { op: 'put', name: 'amount', value: 100n, timestamp: 6000 },
      { op: 'deleteAllVersions', name: 'note' },
    ]);
    expect(row(lateRecords[2]!.record).deleteMarker).toBe(true);
    const stamps = streamed.map((r) => row(r.record).sequence!);
    expect(stamps.every((s, i) => i === 0 || s.timestamp > stamps[i - 1]!.timestamp || (s.timestamp === stamps[i - 1]!.timestamp && s.rowIndex > stamps[i - 1]!.rowIndex))).toBe(true);
    const streamToken = batches[batches.length - 1]!.nextToken;
    expect(decodeChannelToken(streamToken)).toMatchObject({ right: { kind: 'stream', partition: partitionOf(orderKey('late'), 2) } });
    // an empty read keeps the position and a non-empty iterator (clients back off on it)
    const empty = ok(service.readRecords({ tunnelId, clientId: client, channelId: latePartition, token: streamToken }));
    expect(empty).toMatchObject({ records: [], mayMoreRecord: false });
    expect(decodeChannelToken(empty.nextToken)).toEqual(decodeChannelToken(streamToken));
  });

  it('accepts a checkpoint only with the next sequence number, from the owner, with a token of the channel', () => {
    const { tunnelId } = ok(service.createTunnel({ tableName: 'orders', tunnelName: 's', tunnelType: 'Stream' }));
    const a = connect(tunnelId);
    const b = connect(tunnelId);
    const heldA = new Map<string, ReportedChannel>();
    expect(beat(tunnelId, a, heldA).map((l) => l.id)).toEqual(['p0_e0']);
    expect(beat(tunnelId, b, new Map()).map((l) => l.id)).toEqual(['p1_e0']);
    write(Array.from({ length: 10 }, (_, i) => ({ action: 'PUT_ROW' as const, primaryKey: orderKey(`k${i}`), cells: [{ op: 'put' as const, name: 'v', value: 1n, timestamp: 1 }] })));
    const initial = ok(service.getCheckpoint({ tunnelId, clientId: a, channelId: 'p0_e0' }));
    expect(initial.sequenceNumber).toBe(0);
    const first = ok(service.readRecords({ tunnelId, clientId: a, channelId: 'p0_e0', token: initial.checkpoint }));
    ok(service.checkpoint({ tunnelId, clientId: a, channelId: 'p0_e0', checkpoint: first.nextToken, sequenceNumber: 1 }));
    const stale = fail(service.checkpoint({ tunnelId, clientId: a, channelId: 'p0_e0', checkpoint: initial.checkpoint, sequenceNumber: 1 }));
    expect(stale.code).toBe('OTSSequenceNumberNotMatch');
    expect(fail(service.checkpoint({ tunnelId, clientId: a, channelId: 'p0_e0', checkpoint: first.nextToken, sequenceNumber: 3 })).code).toBe(
      'OTSSequenceNumberNotMatch',
    );
    const stolen = fail(service.checkpoint({ tunnelId, clientId: b, channelId: 'p0_e0', checkpoint: first.nextToken, sequenceNumber: 2 }));
    expect(stolen.code).toBe('OTSResourceGone');
    expect(fail(service.readRecords({ tunnelId, clientId: b, channelId: 'p0_e0', token: first.nextToken })).code).toBe('OTSResourceGone');
    const foreign = ok(service.getCheckpoint({ tunnelId, clientId: b, channelId: 'p1_e0' })).checkpoint;
    expect(fail(service.checkpoint({ tunnelId, clientId: a, channelId: 'p0_e0', checkpoint: foreign, sequenceNumber: 2 })).code).toBe(
      'OTSParameterInvalid',
    );
    expect(fail(service.readRecords({ tunnelId, clientId: a, channelId: 'p0_e0', token: 'garbage!' })).code).toBe('OTSParameterInvalid');
    expect(ok(service.getCheckpoint({ tunnelId, clientId: a, channelId: 'p0_e0' }))).toEqual({ checkpoint: first.nextToken, sequenceNumber: 1 });
    const channel = ok(service.describeTunnel({ tableName: 'orders', tunnelName: 's' })).channels.find((c) => c.channelId === 'p0_e0')!;
    expect(channel.channelCount).toBe(BigInt(first.records.length));
    expect(channel.channelRpoNs).toBe(BigInt(clock.now()) * 1_000_000n);
    expect(channel.clientId).toBe(a);
  });

  it('moves the channels of a client that stops heartbeating once its timeout passed', () => {
    const { tunnelId } = ok(service.createTunnel({ tableName: 'orders', tunnelName: 's', tunnelType: 'Stream' }));
    const a = connect(tunnelId, 30);
    const b = connect(tunnelId, 30);
    const heldA = new Map<string, ReportedChannel>();
    const heldB = new Map<string, ReportedChannel>();
    beat(tunnelId, a, heldA);
    beat(tunnelId, b, heldB);
    for (let t = 0; t < 3; t++) {
      clock.advance(10_000);
      beat(tunnelId, b, heldB);
    }
    // exactly at the timeout the lease still holds
    expect([...heldB.keys()]).toEqual(['p1_e0']);
    clock.advance(1);
    beat(tunnelId, b, heldB);
    expect([...heldB.keys()]).toEqual(['p0_e0', 'p1_e0']);
    expect(heldB.get('p0_e0')).toEqual({ id: 'p0_e0', version: 3, status: 'OPEN' });
    expect(fail(service.heartbeat({ tunnelId, clientId: a, channels: [...heldA.values()] })).code).toBe('OTSResourceGone');
    expect(fail(service.readRecords({ tunnelId, clientId: a, channelId: 'p0_e0', token: 'finished' })).code).toBe('OTSResourceGone');
  });

  it('shutdown releases the channels of the client', () => {
    const { tunnelId } = ok(service.createTunnel({ tableName: 'orders', tunnelName: 's', tunnelType: 'Stream' }));
    const a = connect(tunnelId);
    beat(tunnelId, a, new Map());
    ok(service.shutdown({ tunnelId, clientId: a }));
    ok(service.shutdown({ tunnelId, clientId: a }));
    const described = ok(service.describeTunnel({ tableName: 'orders', tunnelName: 's' }));
    expect(described.channels.map((c) => [c.channelStatus, c.clientId])).toEqual([
      ['CLOSE', ''],
      ['CLOSE', ''],
    ]);
  });

  it("shutdown names a client, not the caller: a restarted job ends its dead predecessor's session and takes the channels at once", () => {
    const { tunnelId } = ok(service.createTunnel({ tableName: 'orders', tunnelName: 's', tunnelType: 'Stream' }));
    const dead = connect(tunnelId);
    const heldDead = new Map<string, ReportedChannel>();
    beat(tunnelId, dead, heldDead);
    expect(heldDead.size).toBe(2);
    // the successor connects: while the predecessor's leases stand (it never beats again to give
    // its surplus back) the successor gets nothing
    clock.advance(5_000);
    const next = connect(tunnelId);
    const heldNext = new Map<string, ReportedChannel>();
    beat(tunnelId, next, heldNext);
    expect(heldNext.size).toBe(0);
    ok(service.shutdown({ tunnelId, clientId: dead }));
    beat(tunnelId, next, heldNext);
    expect([...heldNext.keys()].sort()).toEqual([...heldDead.keys()].sort());
    // versions only grow: each channel was released (+1) and assigned (+1) after the predecessor's grant
    for (const [id, lease] of heldNext) expect(lease.version).toBeGreaterThan((heldDead.get(id) as ReportedChannel).version);
    // the predecessor, were it alive after all, is told its session is gone
    expect(fail(service.heartbeat({ tunnelId, clientId: dead, channels: [...heldDead.values()] })).code).toBe('OTSResourceGone');
    expect(fail(service.readRecords({ tunnelId, clientId: dead, channelId: [...heldDead.keys()][0] as string, token: 'finished' })).code).toBe('OTSResourceGone');
    expect(fail(service.checkpoint({ tunnelId, clientId: dead, channelId: [...heldDead.keys()][0] as string, checkpoint: 'finished', sequenceNumber: 1 })).code).toBe('OTSResourceGone');
  });

  it('starts stream channels at LATEST, EARLIEST or a start offset, and finishes them at the end offset', () => {
    const key = orderKey('same');
    const partition = partitionOf(key, 2);
    const put = (v: bigint): RowChange => ({ action: 'PUT_ROW', primaryKey: key, cells: [{ op: 'put', name: 'v', value: v, timestamp: 1 }] });
    log.enableStream('orders');
    write([put(1n)]);
    const afterFirstNs = BigInt(clock.now() + 1) * 1_000_000n;
    clock.advance(10);
    write([put(2n)]);
    const afterSecondNs = BigInt(clock.now() + 1) * 1_000_000n;
    clock.advance(10);
    const tunnels = {
      latest: ok(service.createTunnel({ tableName: 'orders', tunnelName: 'latest', tunnelType: 'Stream' })).tunnelId,
      earliest: ok(service.createTunnel({ tableName: 'orders', tunnelName: 'earliest', tunnelType: 'Stream', streamConfig: { flag: 'EARLIEST' } })).tunnelId,
      window: ok(
        service.createTunnel({
          tableName: 'orders',
          tunnelName: 'window',
          tunnelType: 'Stream',
          streamConfig: { startOffsetNs: afterFirstNs, endOffsetNs: afterSecondNs },
        }),
      ).tunnelId,
    };
    write([put(3n)]);
    const values = (tunnelId: string) => {
      const client = connect(tunnelId);
      beat(tunnelId, client, new Map());
      const { batches, lastToken } = drain(tunnelId, client, `p${partition}_e0`);
      return { values: batches.flatMap((b) => b.records.map((r) => (row(r.record).cells[0] as { value: bigint }).value)), lastToken };
    };
    expect(values(tunnels.latest)).toMatchObject({ values: [3n] });
    expect(values(tunnels.earliest)).toMatchObject({ values: [1n, 2n, 3n] });
    expect(values(tunnels.window)).toEqual({ values: [2n], lastToken: 'finished' });
    const window = ok(service.describeTunnel({ tableName: 'orders', tunnelName: 'window' })).tunnel.streamConfig;
    expect(window).toEqual({ flag: 'LATEST', startOffsetNs: (afterFirstNs / 1000n) * 1000n, endOffsetNs: (afterSecondNs / 1000n) * 1000n });
  });

  it('fails reads of trimmed stream data with OTSTunnelExpired and marks the tunnel expired', () => {
    const key = orderKey('k');
    const channelId = `p${partitionOf(key, 2)}_e0`;
    log.enableStream('orders', { retentionMs: DAY });
    write([{ action: 'PUT_ROW', primaryKey: key, cells: [{ op: 'put', name: 'v', value: 1n, timestamp: 1 }] }]);
    const { tunnelId } = ok(service.createTunnel({ tableName: 'orders', tunnelName: 's', tunnelType: 'Stream', streamConfig: { flag: 'EARLIEST' } }));
    const client = connect(tunnelId, (2 * DAY) / 1000);
    beat(tunnelId, client, new Map());
    clock.advance(DAY + 1);
    beat(tunnelId, client, new Map());
    const token = ok(service.getCheckpoint({ tunnelId, clientId: client, channelId })).checkpoint;
    const error = fail(service.readRecords({ tunnelId, clientId: client, channelId, token }));
    expect(error.code).toBe('OTSTunnelExpired');
    expect(ok(service.describeTunnel({ tableName: 'orders', tunnelName: 's' })).tunnel.expired).toBe(true);
  });

  it('keeps tunnels, leases and checkpoints across a restart', async () => {
    const { tunnelId } = ok(service.createTunnel({ tableName: 'orders', tunnelName: 's', tunnelType: 'Stream' }));
    const client = connect(tunnelId);
    const held = new Map<string, ReportedChannel>();
    beat(tunnelId, client, held);
    write([{ action: 'PUT_ROW', primaryKey: orderKey('k'), cells: [{ op: 'put', name: 'v', value: 1n, timestamp: 1 }] }]);
    const channelId = `p${partitionOf(orderKey('k'), 2)}_e0`;
    const token = ok(service.getCheckpoint({ tunnelId, clientId: client, channelId })).checkpoint;
    const batch = ok(service.readRecords({ tunnelId, clientId: client, channelId, token }));
    ok(service.checkpoint({ tunnelId, clientId: client, channelId, checkpoint: batch.nextToken, sequenceNumber: 1 }));
    const before = ok(service.describeTunnel({ tableName: 'orders', tunnelName: 's' }));
    await stop();
    start();
    expect(ok(service.describeTunnel({ tableName: 'orders', tunnelName: 's' }))).toEqual(before);
    expect(ok(service.getCheckpoint({ tunnelId, clientId: client, channelId }))).toEqual({ checkpoint: batch.nextToken, sequenceNumber: 1 });
    expect(beat(tunnelId, client, held).map((l) => [l.id, l.version])).toEqual([
      ['p0_e0', 1],
      ['p1_e0', 1],
    ]);
    expect(ok(service.readRecords({ tunnelId, clientId: client, channelId, token: batch.nextToken })).records).toEqual([]);
  });

  it('has every change on disk once durable() resolves, before any close', async () => {
    const { tunnelId } = ok(service.createTunnel({ tableName: 'orders', tunnelName: 's', tunnelType: 'BaseData' }));
    const client = connect(tunnelId);
    const held = new Map<string, ReportedChannel>();
    beat(tunnelId, client, held);
    const channelId = 'BaseData_0';
    const token = ok(service.getCheckpoint({ tunnelId, clientId: client, channelId })).checkpoint;
    const batch = ok(service.readRecords({ tunnelId, clientId: client, channelId, token }));
    ok(service.checkpoint({ tunnelId, clientId: client, channelId, checkpoint: batch.nextToken, sequenceNumber: 1 }));
    await service.durable();
    // a second service on the same environment reads only what is committed
    const other = new TunnelService({ root, changeLog: log, rows, clock, readLimits: limits, baseChannels: 2, expirySweepMs: 0 });
    expect(ok(other.getCheckpoint({ tunnelId, clientId: client, channelId }))).toEqual({ checkpoint: batch.nextToken, sequenceNumber: 1 });
    other.close();
    ok(service.deleteTunnel({ tableName: 'orders', tunnelName: 's' }));
    await service.durable();
    const after = new TunnelService({ root, changeLog: log, rows, clock, readLimits: limits, baseChannels: 2, expirySweepMs: 0 });
    expect(ok(after.listTunnels({}))).toEqual([]);
    after.close();
  });

  it('deletes a tunnel: its clients are told the tunnel is gone', () => {
    const { tunnelId } = ok(service.createTunnel({ tableName: 'orders', tunnelName: 's', tunnelType: 'Stream' }));
    const client = connect(tunnelId);
    ok(service.deleteTunnel({ tableName: 'orders', tunnelName: 's' }));
    expect(fail(service.heartbeat({ tunnelId, clientId: client, channels: [] })).code).toBe('OTSParameterInvalid');
    expect(ok(service.listTunnels({}))).toEqual([]);
  });
});
