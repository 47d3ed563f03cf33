/**
 * Partition splits below HTTP: the change log's routing and sealing under any interleaving of
 * appends and splits (a property), and the service's children bounded by a Stream tunnel's start
 * and end offsets, on a manual clock.
 */
import * as E from 'fp-ts/lib/Either.js';
import fc from 'fast-check';
import { open, type RootDatabase } from 'lmdb';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ChangeLog, type RowChange } from '../../../lib/emulator/tunnel/change-log.js';
import { ManualClock } from '../../../lib/emulator/tunnel/clock.js';
import type { TunnelError } from '../../../lib/emulator/tunnel/errors.js';
import { partitionKeyHash, partitionOf } from '../../../lib/emulator/tunnel/partitioning.js';
import { TunnelService } from '../../../lib/emulator/tunnel/service.js';
import { decodeRow } from '../../../lib/wire/plainbuffer/index.js';
import type { Row } from '../../../lib/wire/types.js';
import { MemoryRows } from './memory-rows.js';

const DAY = 86_400_000;
const ALL = { maxRecords: 1_000_000, maxBytes: 1 << 30 };

const ok = <A>(result: E.Either<TunnelError, A>): A => {
  if (E.isLeft(result)) throw new Error(`${result.left.code}: ${result.left.message}`);
  return result.right;
};
const decoded = (bytes: Uint8Array): Row => {
  const row = decodeRow(bytes);
  if (E.isLeft(row)) throw row.left;
  return row.right;
};
const put = (key: string, v: number): RowChange => ({
  action: 'PUT_ROW',
  primaryKey: [{ name: 'id', value: key }],
  cells: [{ op: 'put', name: 'v', value: BigInt(v), timestamp: 1 }],
});
const valueOf = (row: Row): number => Number((row.cells[0] as { value: bigint }).value);

describe('partition splits in the change log and the service', () => {
  let dir: string;
  let root: RootDatabase;
  let clock: ManualClock;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'otsflow-splits-unit-'));
    root = open({ path: dir });
    clock = new ManualClock(Date.UTC(2026, 0, 1));
  });

  afterEach(async () => {
    await root.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('routes every change to the one live partition of its key, seals parents, and keeps each key in order along its chain', () => {
    const step = fc.oneof(
      fc.record({ kind: fc.constant('put' as const), key: fc.integer({ min: 0, max: 40 }) }),
      fc.record({ kind: fc.constant('split' as const), pick: fc.nat() }),
    );
    let run = 0;
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 5 }), fc.array(step, { maxLength: 120 }), (partitions, steps) => {
        const log = new ChangeLog(root, { clock, partitions, retentionMs: 7 * DAY });
        const table = `t${run++}`;
        const stream = log.enableStream(table);
        const written = new Map<string, number[]>();
        let v = 0;
        for (const s of steps) {
          if (s.kind === 'put') {
            const key = `k${s.key}`;
            v++;
            root.transactionSync(() => log.append(table, [put(key, v)]));
            written.set(key, [...(written.get(key) ?? []), v]);
          } else {
            const live = log.partitionsOf(stream.streamId).filter((p) => p.endSeq === undefined);
            const target = live[s.pick % live.length]!;
            expect(E.isRight(log.split(table, target.index))).toBe(true);
          }
        }
        const all = log.partitionsOf(stream.streamId);
        // the initial partitions are those of partitionOf; children halve their parent exactly
        expect(all.slice(0, partitions).map((p) => [p.modulus, p.residue, p.epoch])).toEqual(all.slice(0, partitions).map((p) => [partitions, p.index, 0]));
        for (const p of all) {
          if (p.children === undefined) continue;
          const a = all[p.children[0]]!;
          const b = all[p.children[1]]!;
          expect([a.modulus, b.modulus]).toEqual([p.modulus * 2, p.modulus * 2]);
          expect(new Set([a.residue % p.modulus, b.residue % p.modulus])).toEqual(new Set([p.residue]));
          expect(a.residue).not.toBe(b.residue);
          expect([a.epoch, b.epoch, a.parent, b.parent]).toEqual([p.epoch + 1, p.epoch + 1, p.index, p.index]);
        }
        // read partitions parents first (index order is creation order): per key, the order written
        const read = new Map<string, number[]>();
        for (const p of all) {
          const result = log.read(stream.streamId, p.index, 1, ALL);
          if (result.kind !== 'records') throw new Error('trimmed');
          if (p.endSeq !== undefined) expect(result.nextSeq).toBeLessThanOrEqual(p.endSeq);
          for (const record of result.records) {
            const row = decoded(record.record);
            const key = String(row.primaryKey[0]!.value);
            const hash = partitionKeyHash(row.primaryKey[0]!);
            expect(hash % p.modulus).toBe(p.residue);
            expect(row.sequence?.epoch).toBe(p.epoch);
            expect(partitionOf(row.primaryKey, partitions)).toBe(p.residue % partitions);
            read.set(key, [...(read.get(key) ?? []), valueOf(row)]);
          }
        }
        expect(read).toEqual(written);
      }),
      { numRuns: 60 },
    );
  });

  it('refuses to split a sealed, unknown or stream-less partition, and stops at the policy cap', () => {
    let policy = { afterRecords: 3, maxSplits: 2 };
    const log = new ChangeLog(root, { clock, partitions: 1, retentionMs: 7 * DAY, splitPolicy: () => policy });
    expect(log.split('orders', 0)).toEqual(E.left('table orders has no stream'));
    const stream = log.enableStream('orders');
    for (let i = 0; i < 40; i++) root.transactionSync(() => log.append('orders', [put('same', i)]));
    // one key: each split's child that takes it fills up and splits again, until the cap
    const chain = log.partitionsOf(stream.streamId);
    expect(chain.map((p) => p.epoch)).toEqual([0, 1, 1, 2, 2]);
    // each sealed after its third record; the live child of the second split takes the other 34
    expect(chain.filter((p) => p.endSeq !== undefined).map((p) => [p.epoch, p.endSeq])).toEqual([
      [0, 4],
      [1, 4],
    ]);
    const last = log.partitionFor('orders', [{ name: 'id', value: 'same' }]);
    expect(last.epoch).toBe(2);
    expect(log.latestSeq(stream.streamId, last.index)).toBe(35);
    expect(log.split('orders', 0)).toEqual(E.left(`partition 0 of stream ${stream.streamId} was already split`));
    expect(log.split('orders', 7)).toEqual(E.left(`stream ${stream.streamId} has no partition 7`));
    policy = { afterRecords: 0, maxSplits: 2 };
    const live = chain.find((p) => p.endSeq === undefined)!;
    expect(E.isRight(log.split('orders', live.index))).toBe(true); // on demand: no cap
  });

  it('keeps a split whose triggering transaction rolled back: the children it routes to stay known across a restart', async () => {
    const options = { clock, partitions: 1, retentionMs: 7 * DAY, splitPolicy: () => ({ afterRecords: 2 }) };
    const log = new ChangeLog(root, options);
    const stream = log.enableStream('orders');
    root.transactionSync(() => log.append('orders', [put('a', 1)]));
    expect(() =>
      root.transactionSync(() => {
        log.append('orders', [put('a', 2)]); // the second record: the partition splits
        throw new Error('a later hook failed');
      }),
    ).toThrow('a later hook failed');
    await Promise.resolve();
    root.transactionSync(() => log.append('orders', [put('a', 3)]));
    const reopened = new ChangeLog(root, options);
    const partitions = reopened.partitionsOf(stream.streamId);
    expect(partitions.map((p) => [p.epoch, p.endSeq])).toEqual([
      [0, 3],
      [1, undefined],
      [1, undefined],
    ]);
    const values = partitions.flatMap((p) => {
      const read = reopened.read(stream.streamId, p.index, 1, ALL);
      return read.kind === 'records' ? read.records.map((r) => valueOf(decoded(r.record))) : [];
    });
    expect(values).toEqual([1, 3]);
  });

  it('gives a tunnel stored before splits existed the channels of later splits', () => {
    const rows = new MemoryRows();
    rows.createTable('orders');
    const log = new ChangeLog(root, { clock, partitions: 2, retentionMs: 7 * DAY });
    let service = new TunnelService({ root, changeLog: log, rows, clock, expirySweepMs: 0 });
    ok(service.createTunnel({ tableName: 'orders', tunnelName: 'old', tunnelType: 'Stream' }));
    service.close();
    // as an older version stored it: no knownPartitions
    const db = root.openDB<Record<string, unknown>, string>({ name: 'tunnel-tunnels', encoding: 'msgpack' });
    for (const { key, value } of db.getRange()) {
      const { knownPartitions: _known, ...legacy } = value;
      db.putSync(key, legacy);
    }
    service = new TunnelService({ root, changeLog: log, rows, clock, expirySweepMs: 0 });
    try {
      expect(E.isRight(log.split('orders', 1))).toBe(true);
      const channels = ok(service.describeTunnel({ tableName: 'orders', tunnelName: 'old' })).channels;
      expect(channels.map((c) => [c.channelId, c.channelStatus])).toEqual([
        ['p0_e0', 'WAIT'],
        ['p1_e0', 'WAIT'],
        ['p2_e1', 'WAIT'],
        ['p3_e1', 'WAIT'],
      ]);
    } finally {
      service.close();
    }
  });

  it('bounds the children of a Stream tunnel by its start and end offsets', () => {
    const rows = new MemoryRows();
    rows.createTable('orders');
    const log = new ChangeLog(root, { clock, partitions: 1, retentionMs: 7 * DAY });
    const service = new TunnelService({ root, changeLog: log, rows, clock, readLimits: { maxRecords: 100, maxBytes: 1 << 20 }, expirySweepMs: 0 });
    try {
      const t0 = clock.now();
      const ns = (ms: number): bigint => BigInt(ms) * 1_000_000n;
      const tunnelId = ok(
        service.createTunnel({ tableName: 'orders', tunnelName: 'window', tunnelType: 'Stream', streamConfig: { startOffsetNs: ns(t0 + 20), endOffsetNs: ns(t0 + 40) } }),
      ).tunnelId;
      const write = (at: number, v: number): void => {
        clock.set(t0 + at);
        root.transactionSync(() => log.append('orders', [put('k', v)]));
      };
      write(10, 1);
      expect(E.isRight(log.split('orders', 0))).toBe(true);
      write(15, 2); // before the start: skipped
      write(30, 3); // inside
      write(50, 4); // after the end: the channel finishes
      const clientId = ok(service.connect({ tunnelId, timeoutSec: 300 })).clientId;
      const held = new Map<string, { id: string; version: number; status: 'OPEN' | 'CLOSING' | 'CLOSE' | 'TERMINATED' }>();
      const seen: number[] = [];
      for (let round = 0; round < 4; round++) {
        const leases = ok(service.heartbeat({ tunnelId, clientId, channels: [...held.values()] })).channels;
        held.clear();
        for (const lease of leases) held.set(lease.id, lease);
        for (const lease of leases) {
          let token = ok(service.getCheckpoint({ tunnelId, clientId, channelId: lease.id })).checkpoint;
          if (token === 'finished') continue;
          for (;;) {
            const batch = ok(service.readRecords({ tunnelId, clientId, channelId: lease.id, token }));
            seen.push(...batch.records.map((r) => valueOf(decoded(r.record))));
            ok(service.checkpoint({ tunnelId, clientId, channelId: lease.id, checkpoint: batch.nextToken, sequenceNumber: ok(service.getCheckpoint({ tunnelId, clientId, channelId: lease.id })).sequenceNumber + 1 }));
            if (batch.nextToken === 'finished') {
              held.set(lease.id, { id: lease.id, version: lease.version + 1, status: 'TERMINATED' });
              break;
            }
            if (batch.records.length === 0) break;
            token = batch.nextToken;
          }
        }
      }
      expect(seen).toEqual([3]);
      const described = ok(service.describeTunnel({ tableName: 'orders', tunnelName: 'window' })).channels;
      expect(described.map((c) => [c.channelId, c.channelStatus])).toEqual([
        ['p0_e0', 'TERMINATED'],
        ['p1_e1', 'TERMINATED'],
        ['p2_e1', 'TERMINATED'],
      ]);
    } finally {
      service.close();
    }
  });
});
