import * as E from 'fp-ts/lib/Either.js';
import fc from 'fast-check';
import { open, type RootDatabase } from 'lmdb';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ChangeLog, type RowChange } from '../../../lib/emulator/tunnel/change-log.js';
import { ManualClock } from '../../../lib/emulator/tunnel/clock.js';
import { partitionOf } from '../../../lib/emulator/tunnel/partitioning.js';
import { decodeRow } from '../../../lib/wire/plainbuffer/index.js';
import type { Row } from '../../../lib/wire/types.js';

const DAY = 86_400_000;

const put = (id: string, amount: bigint, ts = 1000): RowChange => ({
  action: 'PUT_ROW',
  primaryKey: [{ name: 'id', value: id }, { name: 'n', value: 1n }],
  cells: [{ op: 'put', name: 'amount', value: amount, timestamp: ts }],
});

const decoded = (bytes: Uint8Array): Row => {
  const row = decodeRow(bytes);
  if (E.isLeft(row)) throw row.left;
  return row.right;
};

describe('ChangeLog', () => {
  let dir: string;
  let root: RootDatabase;
  let clock: ManualClock;
  let log: ChangeLog;

  const reopen = (): void => {
    root = open({ path: dir });
    log = new ChangeLog(root, { clock, partitions: 4, retentionMs: 7 * DAY });
  };

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'otsflow-changelog-'));
    clock = new ManualClock(Date.UTC(2026, 0, 1));
    reopen();
  });

  afterEach(async () => {
    await root.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const readAll = (table: string, partition: number, fromSeq = 1) => {
    const stream = log.streamOf(table)!;
    const result = log.read(stream.streamId, partition, fromSeq, { maxRecords: 10_000, maxBytes: 64 << 20 });
    if (result.kind !== 'records') throw new Error('trimmed');
    return result;
  };

  it('hands out records that later reads do not overwrite (they are copied out of LMDB)', () => {
    log.enableStream('orders');
    const stream = log.streamOf('orders')!;
    // ~1,500 records of ~200 bytes per read: several arena chunks over the reads below
    const big = 'x'.repeat(150);
    root.transactionSync(() => log.append('orders', Array.from({ length: 6000 }, (_, i) => ({ ...put(`k${i}`, BigInt(i)), cells: [{ op: 'put' as const, name: 'v', value: big + i, timestamp: 1000 }] }))));
    const first = log.read(stream.streamId, 0, 1, { maxRecords: 10, maxBytes: 1 << 20 });
    if (first.kind !== 'records') throw new Error('trimmed');
    const snapshot = first.records.map((r) => Buffer.from(r.record).toString('hex'));
    for (let p = 0; p < 4; p++) readAll('orders', p);
    expect(first.records.map((r) => Buffer.from(r.record).toString('hex'))).toEqual(snapshot);
    expect(first.records.map((r) => decoded(r.record).cells[0])).toEqual(first.records.map((r) => ({ op: 'put', name: 'v', value: expect.stringMatching(/^x{150}\d+$/), timestamp: 1000 })));
  });

  it('logs nothing for a table without a stream', () => {
    root.transactionSync(() => log.append('plain', [put('a', 1n)]));
    expect(log.streamOf('plain')).toBeUndefined();
  });

  it('writes each change as a PlainBuffer record with the sequence extension, in its partition', () => {
    const stream = log.enableStream('orders');
    clock.advance(5);
    const changes: RowChange[] = [
      put('a', 1n),
      {
        action: 'UPDATE_ROW',
        primaryKey: [{ name: 'id', value: 'a' }, { name: 'n', value: 1n }],
        cells: [
          { op: 'put', name: 'amount', value: 2n, timestamp: 2000 },
          { op: 'deleteOneVersion', name: 'note', timestamp: 1500 },
          { op: 'deleteAllVersions', name: 'tag' },
        ],
      },
      { action: 'DELETE_ROW', primaryKey: [{ name: 'id', value: 'a' }, { name: 'n', value: 1n }], cells: [] },
    ];
    root.transactionSync(() => log.append('orders', changes));
    const partition = partitionOf(changes[0]!.primaryKey, stream.partitions);
    const { records, nextSeq, more } = readAll('orders', partition);
    expect(records.map((r) => [r.seq, r.action])).toEqual([
      [1, 'PUT_ROW'],
      [2, 'UPDATE_ROW'],
      [3, 'DELETE_ROW'],
    ]);
    expect(nextSeq).toBe(4);
    expect(more).toBe(false);
    const commitUs = BigInt(clock.now()) * 1000n;
    const rows = records.map((r) => decoded(r.record));
    expect(rows.map((r) => r.sequence)).toEqual([0, 1, 2].map((rowIndex) => ({ epoch: 0, timestamp: commitUs, rowIndex })));
    expect(rows[0]).toMatchObject({ primaryKey: changes[0]!.primaryKey, cells: changes[0]!.cells, deleteMarker: false });
    expect(rows[1]!.cells).toEqual(changes[1]!.cells);
    expect(rows[2]).toMatchObject({ cells: [], deleteMarker: true });
    expect(records.every((r) => r.commitUs === Number(commitUs))).toBe(true);
  });

  it('keeps no record of a write whose transaction aborted', () => {
    const stream = log.enableStream('orders');
    expect(() =>
      root.transactionSync(() => {
        log.append('orders', [put('a', 1n)]);
        throw new Error('condition check failed');
      }),
    ).toThrow('condition check failed');
    root.transactionSync(() => log.append('orders', [put('a', 2n)]));
    const { records } = readAll('orders', partitionOf(put('a', 1n).primaryKey, stream.partitions));
    expect(records.map((r) => decoded(r.record).cells)).toEqual([[{ op: 'put', name: 'amount', value: 2n, timestamp: 1000 }]]);
  });

  it('orders commits strictly even when the clock stands still, and spreads keys over partitions', () => {
    const stream = log.enableStream('orders');
    const ids = Array.from({ length: 64 }, (_, i) => `order-${i}`);
    for (const id of ids) root.transactionSync(() => log.append('orders', [put(id, 1n)]));
    const perPartition = Array.from({ length: stream.partitions }, (_, p) => readAll('orders', p).records);
    expect(perPartition.every((records) => records.length > 0)).toBe(true);
    expect(perPartition.flat().length).toBe(64);
    const stamps = perPartition.flat().map((r) => r.commitUs).sort((a, b) => a - b);
    expect(new Set(stamps).size).toBe(64);
    perPartition.forEach((records, p) => {
      const stamps = records.map((r) => decoded(r.record).sequence!.timestamp);
      expect([...stamps].sort((a, b) => (a < b ? -1 : 1))).toEqual(stamps);
      for (const r of records) expect(partitionOf(decoded(r.record).primaryKey, stream.partitions)).toBe(p);
    });
  });

  it('bounds a read by records and bytes and says whether more remain', () => {
    const stream = log.enableStream('orders');
    for (let i = 0; i < 10; i++) root.transactionSync(() => log.append('orders', [put('same-key', BigInt(i))]));
    const p = partitionOf(put('same-key', 0n).primaryKey, stream.partitions);
    const first = log.read(stream.streamId, p, 1, { maxRecords: 4, maxBytes: 1 << 20 });
    expect(first).toMatchObject({ kind: 'records', nextSeq: 5, more: true });
    const size = first.kind === 'records' ? first.records[0]!.record.length : 0;
    const byBytes = log.read(stream.streamId, p, 5, { maxRecords: 100, maxBytes: size * 2 + 1 });
    expect(byBytes).toMatchObject({ kind: 'records', nextSeq: 7, more: true });
    const rest = log.read(stream.streamId, p, 7, { maxRecords: 100, maxBytes: 1 });
    // one record always fits so a big row cannot stall a channel
    expect(rest).toMatchObject({ kind: 'records', nextSeq: 8, more: true });
    const tail = log.read(stream.streamId, p, 8, { maxRecords: 100, maxBytes: 1 << 20 });
    expect(tail).toMatchObject({ kind: 'records', nextSeq: 11, more: false });
    expect(log.read(stream.streamId, p, 11, { maxRecords: 100, maxBytes: 1 << 20 })).toEqual({
      kind: 'records',
      records: [],
      nextSeq: 11,
      more: false,
    });
  });

  it('trims records past the retention; reading trimmed positions says so', () => {
    const stream = log.enableStream('orders', { retentionMs: DAY });
    const p = partitionOf(put('k', 0n).primaryKey, stream.partitions);
    root.transactionSync(() => log.append('orders', [put('k', 1n)]));
    clock.advance(DAY / 2);
    root.transactionSync(() => log.append('orders', [put('k', 2n)]));
    const middle = clock.now() * 1000;
    expect(log.seqAtOrAfter(stream.streamId, p, middle)).toBe(2);
    expect(log.seqAtOrAfter(stream.streamId, p, middle + 1)).toBe(3);
    clock.advance(DAY / 2 + 1);
    expect(log.trim()).toBe(1);
    expect(log.earliestSeq(stream.streamId, p)).toBe(2);
    expect(log.read(stream.streamId, p, 1, { maxRecords: 10, maxBytes: 1 << 20 })).toEqual({ kind: 'trimmed', trimmedThrough: 1 });
    expect(readAll('orders', p, 2).records.map((r) => r.seq)).toEqual([2]);
    clock.advance(DAY);
    // reads trim lazily too
    expect(log.read(stream.streamId, p, 2, { maxRecords: 10, maxBytes: 1 << 20 })).toEqual({ kind: 'trimmed', trimmedThrough: 2 });
    expect(log.latestSeq(stream.streamId, p)).toBe(3);
  });

  it('survives a reopen: records, positions and trimming state are on disk', async () => {
    const stream = log.enableStream('orders', { retentionMs: DAY });
    const p = partitionOf(put('k', 0n).primaryKey, stream.partitions);
    for (let i = 0; i < 3; i++) root.transactionSync(() => log.append('orders', [put('k', BigInt(i))]));
    clock.advance(DAY + 1);
    log.trim();
    root.transactionSync(() => log.append('orders', [put('k', 3n)]));
    await root.close();
    reopen();
    expect(log.streamOf('orders')).toEqual(stream);
    expect(log.earliestSeq(stream.streamId, p)).toBe(4);
    expect(log.latestSeq(stream.streamId, p)).toBe(5);
    const lastUs = readAll('orders', p, 4).records[0]!.commitUs;
    clock.set(clock.now() - 60_000); // a clock that went back must not reorder commits
    root.transactionSync(() => log.append('orders', [put('k', 4n)]));
    const after = readAll('orders', p, 4).records;
    expect(after.map((r) => r.seq)).toEqual([4, 5]);
    expect(after[1]!.commitUs).toBeGreaterThan(lastUs);
  });

  it('forgets a table stream when disabled', () => {
    const stream = log.enableStream('orders');
    root.transactionSync(() => log.append('orders', [put('k', 1n)]));
    log.disableStream('orders');
    expect(log.streamOf('orders')).toBeUndefined();
    const again = log.enableStream('orders');
    expect(again.streamId).not.toBe(stream.streamId);
    const p = partitionOf(put('k', 0n).primaryKey, again.partitions);
    expect(readAll('orders', p).records).toEqual([]);
  });

  it('partitions by the first primary-key column only, for every key type', () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.bigInt({ min: -(1n << 63n), max: (1n << 63n) - 1n }), fc.string(), fc.uint8Array()),
        fc.string(),
        fc.integer({ min: 1, max: 16 }),
        (first, second, partitions) => {
          const a = partitionOf([{ name: 'k', value: first }, { name: 's', value: second }], partitions);
          const b = partitionOf([{ name: 'k', value: first }], partitions);
          expect(a).toBe(b);
          expect(a).toBeGreaterThanOrEqual(0);
          expect(a).toBeLessThan(partitions);
        },
      ),
      { numRuns: 200 },
    );
  });
});
