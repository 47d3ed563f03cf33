/**
 * Throughput of the seed pipeline in memory, and its heap over a long event-time span.
 *
 *   npx tsx spec/bench/stream.ts
 *
 * 1. 1,000,000 OrderSource-like ChangeRecords (PK UserId/OrderId strings, price double, timestamp
 *    long as bigint) through microBatch → decodeRows → tumbling(30 s) → aggregate(count, sum) →
 *    emit('update') → commitAfter(memory sink), in batches of 10,000; against a hand-written single
 *    loop computing the same per-window count and sum over the same records. Targets: ≥ 5M rows/s,
 *    pipeline time / hand-loop time ≤ 1.5.
 * 2. 10,000,000 rows over one hour of event time with a 1-minute watermark, records generated per
 *    batch so only the pipeline's own state stays: the peak heap must not grow with the row count.
 */
import * as v8 from 'node:v8';
import * as vm from 'node:vm';
import { EMPTY, lastValueFrom, Observable, tap, toArray } from 'rxjs';
import type { ChangeRecord } from '../../lib/wire/types.js';
import { memorySink } from '../../lib/sinks/memory-sink.js';
import { ORDER_CATALOG, syntheticOrder } from './synthetic-orders.js';
import {
  aggregate,
  commitAfter,
  count,
  decodeRows,
  emit,
  memorySource,
  microBatch,
  StreamMetrics,
  sum,
  tumbling,
  WINDOW,
  withWatermark,
  type SourceBatch,
  type WindowBounds,
} from '../../lib/stream/index.js';

const catalog = ORDER_CATALOG;
const WINDOW_MS = 30_000;
const BATCH = 10_000;

const order = syntheticOrder;

function handLoop(records: readonly ChangeRecord[]): Map<number, { count: number; total: number }> {
  const windows = new Map<number, { count: number; total: number }>();
  for (const record of records) {
    let price = 0;
    let time = 0;
    for (const cell of record.cells) {
      if (cell.op !== 'put') continue;
      if (cell.name === 'price') price = cell.value as number;
      else if (cell.name === 'timestamp') time = Number(cell.value as bigint);
    }
    const start = Math.floor(time / WINDOW_MS) * WINDOW_MS;
    let window = windows.get(start);
    if (window === undefined) windows.set(start, (window = { count: 0, total: 0 }));
    window.count++;
    window.total += price;
  }
  return windows;
}

async function pipeline(chunks: readonly (readonly ChangeRecord[])[]) {
  const sink = memorySink({ keyColumns: ['window'] });
  const source = memorySource({ orders: chunks });
  await lastValueFrom(
    source.pipe(
      microBatch({ interval: Number.POSITIVE_INFINITY, maxRecords: BATCH }),
      decodeRows({ catalog, table: 'OrderSource' }),
      tumbling({ eventTime: 'timestamp', size: WINDOW_MS }),
      aggregate([WINDOW], { count: count(), totalPrice: sum('price') }),
      emit('update'),
      commitAfter(sink),
      toArray(),
    ),
  );
  return sink;
}

const median = (values: readonly number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] as number;
const mb = (bytes: number): string => `${(bytes / 2 ** 20).toFixed(1)} MiB`;

async function throughput(): Promise<void> {
  const total = 1_000_000;
  const records = Array.from({ length: total }, (_, i) => order(i, total, 3_600_000));
  const chunks: ChangeRecord[][] = [];
  for (let i = 0; i < total; i += BATCH) chunks.push(records.slice(i, i + BATCH));

  const pipelineMs: number[] = [];
  const handMs: number[] = [];
  const ratios: number[] = [];
  for (let run = 0; run < 7; run++) {
    let started = performance.now();
    const expected = handLoop(records);
    const hand = performance.now() - started;
    started = performance.now();
    const sink = await pipeline(chunks);
    const piped = performance.now() - started;
    if (run === 0) {
      const rows = sink.rows();
      if (rows.length !== expected.size) throw new Error(`pipeline produced ${rows.length} windows, hand loop ${expected.size}`);
      for (const row of rows) {
        const want = expected.get((row['window'] as WindowBounds).start);
        if (want === undefined || want.count !== row['count'] || Math.abs(want.total - (row['totalPrice'] as number)) > 1e-6 * Math.abs(want.total)) {
          throw new Error(`pipeline and hand loop disagree on window ${JSON.stringify(row)}`);
        }
      }
      continue; // warm-up
    }
    handMs.push(hand);
    pipelineMs.push(piped);
    ratios.push(piped / hand);
  }
  const rate = (ms: number): string => `${((total / ms) * 1000 / 1e6).toFixed(2)}M rows/s`;
  console.log(`throughput, ${total.toLocaleString('en')} rows, batches of ${BATCH.toLocaleString('en')}, ${pipelineMs.length} runs after a warm-up`);
  console.log(`  pipeline   median ${rate(median(pipelineMs))}  best ${rate(Math.min(...pipelineMs))}`);
  console.log(`  hand loop  median ${rate(median(handMs))}  best ${rate(Math.min(...handMs))}`);
  console.log(
    `  pipeline time / hand-loop time: median of runs ${median(ratios).toFixed(2)}, best vs best ${(Math.min(...pipelineMs) / Math.min(...handMs)).toFixed(2)}  (targets: ratio <= 1.5, >= 5M rows/s)`,
  );
}

/** A source that builds each batch when it is needed, so the records themselves never pile up. */
function generated(total: number, spanMs: number): Observable<SourceBatch<ChangeRecord>> {
  return new Observable((subscriber) => {
    for (let start = 0; start < total && !subscriber.closed; start += BATCH) {
      const records = new Array<ChangeRecord>(Math.min(BATCH, total - start));
      for (let i = 0; i < records.length; i++) records[i] = order(start + i, total, spanMs);
      subscriber.next({ channelId: 'orders', position: start, next: start + records.length, records, ack: () => undefined });
    }
    subscriber.complete();
  });
}

async function heap(): Promise<void> {
  const total = 10_000_000;
  // a full collection now and then shows the live heap, not the garbage between collections
  v8.setFlagsFromString('--expose-gc');
  const gc = vm.runInNewContext('gc') as (() => void) | undefined;
  gc?.();
  const metrics = new StreamMetrics();

  const peaks = { firstMillion: 0, all: 0, liveFirstMillion: 0, liveAll: 0, openWindows: 0, openGroups: 0 };
  let rows = 0;
  const started = performance.now();
  await lastValueFrom(
    generated(total, 3_600_000).pipe(
      microBatch({ interval: Number.POSITIVE_INFINITY, maxRecords: BATCH, metrics }),
      decodeRows({ catalog, table: 'OrderSource' }),
      withWatermark({ eventTime: 'timestamp', delay: 60_000 }),
      tumbling({ eventTime: 'timestamp', size: WINDOW_MS }),
      aggregate([WINDOW, 'UserId'], { count: count(), totalPrice: sum('price') }),
      emit('update'),
      commitAfter({ write: () => EMPTY }),
      tap((committed) => {
        rows += BATCH;
        const snapshot = metrics.snapshot();
        peaks.openWindows = Math.max(peaks.openWindows, snapshot.openWindows);
        peaks.openGroups = Math.max(peaks.openGroups, snapshot.openGroups);
        const used = process.memoryUsage().heapUsed;
        peaks.all = Math.max(peaks.all, used);
        if (rows <= 1_000_000) peaks.firstMillion = Math.max(peaks.firstMillion, used);
        if (gc !== undefined && committed.batchId % 50 === 49) {
          gc();
          const live = process.memoryUsage().heapUsed;
          peaks.liveAll = Math.max(peaks.liveAll, live);
          if (rows <= 1_000_000) peaks.liveFirstMillion = Math.max(peaks.liveFirstMillion, live);
        }
      }),
      toArray(),
    ),
  );
  const seconds = (performance.now() - started) / 1000;
  console.log(`heap, ${total.toLocaleString('en')} rows over 1 h of event time, 30 s windows by (window, UserId: 1000 users), 1 min watermark`);
  console.log(`  ${seconds.toFixed(1)} s including record generation; rows late: ${metrics.snapshot().lateRows}`);
  console.log(`  open windows max ${peaks.openWindows}, open groups max ${peaks.openGroups} (bounded by open windows × users)`);
  console.log(`  peak heapUsed: first 1M rows ${mb(peaks.firstMillion)}, all 10M rows ${mb(peaks.all)}`);
  if (gc !== undefined) console.log(`  peak live heap (after a full gc every 50 batches): first 1M rows ${mb(peaks.liveFirstMillion)}, all 10M rows ${mb(peaks.liveAll)}`);
}

await throughput();
await heap();
