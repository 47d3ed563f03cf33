/**
 * What the watermark costs on the hot path: 1,000,000 OrderSource-like records on 4 channels
 * (source batches of 2,500 per channel, micro-batches of 10,000) through microBatch → decodeRows →
 * [withWatermark(60 s)] → tumbling(30 s) → aggregate(count, sum) → emit('update') → commitAfter,
 * with and without the watermark stage. Median of 15 runs after a warm-up, both variants
 * alternating, in rows per second of this process's CPU time (wall time on a shared machine moves
 * by a factor of two between runs).
 *
 *   npx tsx spec/bench/watermark.ts
 */
import { lastValueFrom, toArray } from 'rxjs';
import type { ChangeRecord } from '../../lib/wire/types.js';
import { memorySink } from '../../lib/sinks/memory-sink.js';
import { ORDER_CATALOG, syntheticOrder } from './synthetic-orders.js';
import { aggregate, commitAfter, count, decodeRows, emit, memorySource, microBatch, sum, tumbling, WINDOW, withWatermark } from '../../lib/stream/index.js';

const catalog = ORDER_CATALOG;
const TOTAL = 1_000_000;
const CHANNELS = 4;

const order = (i: number): ChangeRecord => syntheticOrder(i, TOTAL, 3_600_000);

const channels: Record<string, ChangeRecord[][]> = {};
for (let c = 0; c < CHANNELS; c++) {
  const records: ChangeRecord[] = [];
  for (let i = c; i < TOTAL; i += CHANNELS) records.push(order(i));
  const chunks: ChangeRecord[][] = [];
  for (let at = 0; at < records.length; at += 2_500) chunks.push(records.slice(at, at + 2_500));
  channels[`ch${c}`] = chunks;
}

async function run(watermark: boolean): Promise<number> {
  const sink = memorySink({ keyColumns: ['window'] });
  // CPU time of this process, not wall time: on a shared machine it moves far less
  const started = process.cpuUsage();
  const stages = [
    microBatch({ interval: Number.POSITIVE_INFINITY, maxRecords: 10_000 }),
    decodeRows({ catalog, table: 'OrderSource' }),
    ...(watermark ? [withWatermark({ eventTime: 'timestamp', delay: 60_000 })] : []),
    tumbling({ eventTime: 'timestamp', size: 30_000 }),
    aggregate([WINDOW], { count: count(), totalPrice: sum('price') }),
    emit('update'),
    commitAfter(sink),
    toArray(),
  ] as const;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  await lastValueFrom((memorySource(channels).pipe as any)(...stages));
  const used = process.cpuUsage(started);
  const ms = (used.user + used.system) / 1000;
  const counted = sink.rows().reduce((total, row) => total + (row['count'] as number), 0);
  if (counted !== TOTAL) throw new Error(`${watermark ? 'with' : 'without'} watermark: ${counted} rows counted, ${TOTAL} expected (late rows?)`);
  return ms;
}

const median = (values: readonly number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] as number;
const rate = (ms: number): string => `${((TOTAL / ms) * 1000 / 1e6).toFixed(2)}M rows/s`;
const withMs: number[] = [];
const withoutMs: number[] = [];
for (let i = 0; i < 16; i++) {
  const a = await run(true);
  const b = await run(false);
  if (i === 0) continue;
  withMs.push(a);
  withoutMs.push(b);
}
console.log(`1,000,000 rows on ${CHANNELS} channels, micro-batches of 10,000, 15 runs after a warm-up, rows per CPU second`);
console.log(`  with withWatermark     median ${rate(median(withMs))}  best ${rate(Math.min(...withMs))}`);
console.log(`  without a watermark    median ${rate(median(withoutMs))}  best ${rate(Math.min(...withoutMs))}`);
console.log(`  watermark stage share: ${(((median(withMs) - median(withoutMs)) / median(withMs)) * 100).toFixed(1)} % of the pipeline time`);
