/**
 * End to end over a real emulator on a loopback port: orders written with the official SDK, read
 * through the tunnel client into the checkpointed seed pipeline (30 s windows, count and sum,
 * update mode), stopped midway, restarted from the same checkpoint location while more orders are
 * written: the sink ends with exactly the per-window counts and sums of all orders.
 */
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Subscription } from 'rxjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { aggregate, WINDOW } from '../../lib/stream/aggregate.js';
import { count, sum } from '../../lib/stream/aggregates.js';
import { commitAfter } from '../../lib/stream/commit-after.js';
import { decodeRows } from '../../lib/stream/decode-rows.js';
import { emit } from '../../lib/stream/emit.js';
import { StreamMetrics } from '../../lib/stream/metrics.js';
import { microBatch } from '../../lib/stream/micro-batch.js';
import { tunnelSource } from '../../lib/stream/tunnel-source.js';
import { tumbling } from '../../lib/stream/windows/tumbling.js';
import { withWatermark } from '../../lib/stream/with-watermark.js';
import type { WindowBounds } from '../../lib/stream/batch.js';
import { memorySink, type MemorySink } from '../../lib/sinks/memory-sink.js';
import { createOrderTable, order, ORDER_TABLE, startTunnelEmulator, tunnelOptions, until, writeOrders, type TunnelEmulator } from '../tunnel/emulator-harness.js';
import { orderCatalog } from './orders.js';

let env: TunnelEmulator;
let checkpointLocation: string;

beforeAll(async () => {
  env = await startTunnelEmulator({ partitions: 2, baseChannels: 2 });
  await createOrderTable(env.sdk);
  checkpointLocation = await fs.mkdtemp(path.join(os.tmpdir(), 'otsflow-e2e-'));
});
afterAll(async () => {
  await env?.close();
  if (checkpointLocation !== undefined) await fs.rm(checkpointLocation, { recursive: true, force: true });
});

function runJob(tunnelId: string, sink: MemorySink, metrics: StreamMetrics, errors: unknown[]): Subscription {
  return tunnelSource(tunnelOptions(env.emulator, tunnelId))
    .pipe(
      microBatch({ interval: 50, maxRecords: 120, checkpoint: checkpointLocation, metrics }),
      decodeRows({ catalog: orderCatalog, table: ORDER_TABLE }),
      withWatermark({ eventTime: 'timestamp', delay: 60_000 }),
      tumbling({ eventTime: 'timestamp', size: 30_000 }),
      aggregate([WINDOW], { count: count(), totalPrice: sum('price') }),
      emit('update'),
      commitAfter(sink),
    )
    .subscribe({ error: (error: unknown) => errors.push(error) });
}

const counted = (sink: MemorySink): number => sink.rows().reduce((total, row) => total + (row['count'] as number), 0);

describe('tunnel → checkpointed pipeline → sink', () => {
  it('counts every order exactly once across a stop and a restart from the checkpoint', async () => {
    const created = await env.control.createTunnel({ tableName: ORDER_TABLE, tunnelName: 'seed-job', tunnelType: 'Stream' });
    if (created._tag === 'Left') throw created.left;
    const tunnelId = created.right.tunnelId;
    const sink = memorySink({ keyColumns: ['window'] });

    await writeOrders(env.sdk, 0, 300);
    const errors: unknown[] = [];
    const first = new StreamMetrics();
    let running = runJob(tunnelId, sink, first, errors);
    await until(() => (first.snapshot().batchesCommitted >= 2 && first.snapshot().rowsDecoded > 0) || errors.length > 0, 20_000, 'the first run to commit batches');
    running.unsubscribe();
    expect(first.snapshot().ackFailures).toBe(0);

    await writeOrders(env.sdk, 300, 300);
    const second = new StreamMetrics();
    running = runJob(tunnelId, sink, second, errors);
    try {
      await until(() => counted(sink) >= 600 || errors.length > 0, 30_000, 'all 600 orders in the sink');
      // anything counted twice would show up now, after a short grace period
      await new Promise((resolve) => setTimeout(resolve, 300));
    } finally {
      running.unsubscribe();
    }
    expect(errors).toEqual([]);
    expect(second.snapshot()).toMatchObject({ ackFailures: 0, badRows: 0, lateRows: 0 });
    expect(typeof second.snapshot().restoredFrom).toBe('number');

    const expected = new Map<number, { count: number; totalPrice: number }>();
    for (let n = 0; n < 600; n++) {
      const o = order(n);
      const start = Math.floor(Number(o.timestamp) / 30_000) * 30_000;
      const window = expected.get(start) ?? { count: 0, totalPrice: 0 };
      expected.set(start, { count: window.count + 1, totalPrice: window.totalPrice + o.price });
    }
    const actual = new Map(sink.rows().map((row) => [(row['window'] as WindowBounds).start, { count: row['count'], totalPrice: row['totalPrice'] }]));
    expect(actual).toEqual(expected);
  }, 60_000);
});
