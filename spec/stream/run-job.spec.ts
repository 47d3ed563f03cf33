/**
 * `runJob` with a hand-written chain on a real emulator (official SDK writes, default tunnel
 * settings a user gets): the job's progress, `untilIdle`, graceful `stop` and summary, the sink
 * equal to a direct computation; the single-consumer check of an aggregating job; EXPLAIN.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WINDOW, aggregate, count, decodeRows, emit, filterRows, mapOutputRows, memorySink, runJob, sum, tumbling, type Catalog, type JobProgress, type OutputRow, type WindowBounds } from '../../lib/index.js';
import { ORDER_TABLE, putOrders, startOrderEmulator, until, utcBound, windowTotals, type OrderRow, type TunnelEmulator } from '../tunnel/emulator-harness.js';

const CATALOG: Catalog = { columns: { UserId: { type: 'string' }, OrderId: { type: 'string' }, price: { type: 'double' }, timestamp: { type: 'long' } } };
/** order n: 40 ms apart from two minutes ago (so 0.75 windows of 30 s per 1000 orders), prices in quarters (sums exact) */
const EPOCH = Math.floor(Date.now() / 60_000) * 60_000 - 120_000;
const order = (n: number): OrderRow => ({ userId: `u${n % 13}`, orderId: `o${String(n).padStart(6, '0')}`, price: 1 + (n % 200) / 4, timestamp: EPOCH + n * 40 });

let env: TunnelEmulator;
let dir: string;

beforeAll(async () => {
  env = await startOrderEmulator();
  dir = mkdtempSync(join(tmpdir(), 'otsflow-run-job-'));
});

afterAll(async () => {
  await env?.close();
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
});

const connection = () => ({ endpoint: env.emulator.endpoint, instanceName: env.emulator.instanceName, accessKeyId: env.emulator.credentials.accessKeyId, accessKeySecret: env.emulator.credentials.accessKeySecret });

async function newTunnel(name: string): Promise<string> {
  const created = await env.control.createTunnel({ tableName: ORDER_TABLE, tunnelName: name, tunnelType: 'Stream' });
  if (created._tag === 'Left') throw created.left;
  return created.right.tunnelId;
}

/** the seed chain by hand: 30-second windows, count and total, bounds as UTC text */
function windowed(name: string, tunnelId: string, sink: ReturnType<typeof memorySink>, checkpoint?: string, onLog?: (level: 'info' | 'warn', message: string) => void) {
  return runJob({
    name,
    ...(onLog === undefined ? {} : { onLog }),
    source: { connection: connection(), table: ORDER_TABLE, tunnel: { id: tunnelId } },
    ...(checkpoint === undefined ? {} : { checkpoint }),
    aggregating: true,
    interval: 100,
    operator: (batches) =>
      batches.pipe(
        decodeRows({ catalog: CATALOG, table: ORDER_TABLE }),
        tumbling({ eventTime: 'timestamp', size: 30_000 }),
        aggregate([WINDOW], { count: count(), totalPrice: sum('price') }),
        emit('update'),
        mapOutputRows((rows: readonly OutputRow[]) =>
          rows.map((row) => {
            const window = row['window'] as WindowBounds;
            return { begin: utcBound(window.start), end: utcBound(window.end), count: row['count'] ?? 0, totalPrice: row['totalPrice'] ?? 0 };
          }),
        ),
      ),
    sink,
  });
}

describe('runJob', () => {
  it('runs a hand-written aggregating chain: progress from created to stopped, untilIdle, a graceful stop whose summary and sink agree with a direct computation', async () => {
    const tunnelId = await newTunnel('by-hand');
    expect(await putOrders(env.sdk, order, 0, 1_500)).toBe(0);
    const sink = memorySink({ keyColumns: ['begin', 'end'] });
    const logs: string[] = [];
    const run = windowed('by-hand', tunnelId, sink, join(dir, 'by-hand'), (_level, message) => logs.push(message));
    const seen: JobProgress[] = [];
    run.progress.subscribe((progress) => seen.push(progress));
    run.start();
    // more orders while it runs
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(await putOrders(env.sdk, order, 1_500, 1_500)).toBe(0);
    // an idle channel is read again after up to 5 s (the default read backoff): wait for the records, then for idleness
    await until(() => (seen[seen.length - 1]?.metrics.recordsIn ?? 0) >= 3_000, 30_000, 'the job to read 3,000 records');
    await run.untilIdle(500);
    const summary = await run.stop();

    const expected = windowTotals(Array.from({ length: 3_000 }, (_, n) => order(n)), 30_000, utcBound);
    const written = new Map(sink.rows().map((row) => [`${String(row['begin'])}|${String(row['end'])}`, { count: Number(row['count']), totalPrice: row['totalPrice'] as number }]));
    expect(written).toEqual(expected);

    expect(summary.job).toBe('by-hand');
    expect(summary.recordsIn).toBe(3_000);
    expect(summary.batchesCommitted).toBeGreaterThanOrEqual(1);
    // update mode writes each window at least once, and once per batch that changed it at most
    expect(summary.rowsWritten).toBeGreaterThanOrEqual(expected.size);
    expect(summary.restoredFrom).toBe('fresh');

    const states = seen.map((progress) => progress.state).filter((state, k, all) => k === 0 || all[k - 1] !== state);
    expect(states).toEqual(['created', 'starting', 'running', 'stopping', 'stopped']);
    const last = seen[seen.length - 1] as JobProgress;
    expect(last.metrics.recordsIn).toBe(3_000);
    expect(last.metrics.batchLatencies).toBe(summary.batchesCommitted);
    expect(last.sinkKey).toEqual(['begin', 'end']);
    // the live view's rows are rows the sink holds (the last batch's, with the values it wrote)
    expect(last.latestRows.length).toBeGreaterThan(0);
    for (const row of last.latestRows) expect(expected.has(`${String(row['begin'])}|${String(row['end'])}`)).toBe(true);
    // channels with this job's lag: all committed once stopped
    expect(last.channels.length).toBeGreaterThan(0);
    expect(logs).toContain(`job by-hand: starting fresh (no checkpoint in ${join(dir, 'by-hand')})`);
    expect(logs.some((line) => line.startsWith('job by-hand: stopped after '))).toBe(true);
  }, 60_000);

  it('untilIdle with a short idleMs right after a write to an idle job (default read backoff: an idle channel is read every 5 s): every order written before the call is read and committed', async () => {
    const tunnelId = await newTunnel('idle-write');
    expect(await putOrders(env.sdk, order, 0, 500)).toBe(0);
    const sink = memorySink({ keyColumns: ['begin', 'end'] });
    const run = windowed('idle-write', tunnelId, sink, join(dir, 'idle-write'));
    run.start();
    try {
      await run.untilIdle(200);
      // idle long enough that every channel's read backoff has grown to its longest (20 ms ×5 up to 5 s)
      await new Promise((resolve) => setTimeout(resolve, 4_000));
      expect(await putOrders(env.sdk, order, 500, 700)).toBe(0);
      const called = Date.now();
      await run.untilIdle(200);
      const tookMs = Date.now() - called;
      const summary = await run.stop();
      console.log(`untilIdle(200) after a write to a job idle for 4 s: ${tookMs} ms (default read backoff)`);
      // stop() reads nothing more: what untilIdle waited for is all the job got
      expect(summary.recordsIn).toBe(1_200);
      const expected = windowTotals(Array.from({ length: 1_200 }, (_, n) => order(n)), 30_000, utcBound);
      const written = new Map(sink.rows().map((row) => [`${String(row['begin'])}|${String(row['end'])}`, { count: Number(row['count']), totalPrice: row['totalPrice'] as number }]));
      expect(written).toEqual(expected);
    } finally {
      await run.stop();
    }
  }, 60_000);

  it('refuses a second aggregating job on the same tunnel with one clear line, while the first keeps running', async () => {
    const tunnelId = await newTunnel('sole');
    expect(await putOrders(env.sdk, order, 10_000, 200)).toBe(0);
    const first = windowed('sole-a', tunnelId, memorySink({ keyColumns: ['begin', 'end'] }));
    first.start();
    await first.untilIdle(200);
    const second = windowed('sole-b', tunnelId, memorySink({ keyColumns: ['begin', 'end'] }));
    second.start();
    await expect(second.done).rejects.toThrow(/^job sole-b: tunnel \S+ is also consumed by client otsflow-sole-a_\S+ \(channel \S+\); an aggregating job must be the only consumer of its tunnel/);
    const summary = await first.stop();
    expect(summary.recordsIn).toBe(200);
  }, 60_000);

  it('explains its stages, and stop() before start() is a summary of nothing', async () => {
    const job = runJob({
      name: 'stateless',
      source: { connection: connection(), table: ORDER_TABLE, tunnel: { name: 'nowhere' } },
      operator: (batches) => batches.pipe(decodeRows({ catalog: CATALOG, table: ORDER_TABLE }), filterRows((table) => Array.from({ length: table.length }, () => true)), emit('update')),
      sink: memorySink(),
      explain: { stages: [{ operator: 'decodeRows', detail: 'OrderSource' }, { operator: 'filterRows', detail: 'price IS NOT NULL' }] },
    });
    expect(job.explain().split('\n')).toEqual([
      'StreamJob stateless (stateless: workers may share the tunnel)',
      '  tunnelSource  OrderSource: tunnel named nowhere of OrderSource',
      '  microBatch    interval 1000 ms, checkpoint none (state in memory)',
      '  decodeRows    OrderSource',
      '  filterRows    price IS NOT NULL',
      '  commitAfter   the sink; then checkpoint, then tunnel Checkpoint',
    ]);
    const summary = await job.stop();
    expect(summary).toMatchObject({ job: 'stateless', batchesCommitted: 0, recordsIn: 0, rowsWritten: 0, durationMs: 0 });
  });

  it('refuses a definition a job cannot run, naming the job and the setting', () => {
    const base = { name: 'bad', source: { connection: connection(), table: ORDER_TABLE, tunnel: { name: 'n' } }, operator: emit('update') as never, sink: memorySink() };
    expect(() => runJob({ ...base, name: '' })).toThrow('runJob: the definition needs a name');
    expect(() => runJob({ ...base, interval: 0 })).toThrow('runJob bad: interval must be a number > 0, got 0');
    expect(() => runJob({ ...base, progressIntervalMs: Number.NaN })).toThrow('runJob bad: progressIntervalMs must be a number > 0, got NaN');
  });
});
