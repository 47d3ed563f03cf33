/**
 * The seed pipeline as specs and the crash child build it, and the direct computation its results
 * are compared with.
 */
import fc from 'fast-check';
import { map, tap, timer, type Observable, type SchedulerLike } from 'rxjs';
import type { ChangeRecord } from '../../lib/wire/types.js';
import { aggregate, WINDOW } from '../../lib/stream/aggregate.js';
import { avg, count, countDistinct, first, last, max, min, sum, udaf, type AggregateSpec } from '../../lib/stream/aggregates.js';
import type { CheckpointStore } from '../../lib/stream/checkpoint/store.js';
import { commitAfter, type CommittedBatch } from '../../lib/stream/commit-after.js';
import { decodeRows } from '../../lib/stream/decode-rows.js';
import { emit, type OutputMode } from '../../lib/stream/emit.js';
import type { StreamMetrics } from '../../lib/stream/metrics.js';
import { microBatch } from '../../lib/stream/micro-batch.js';
import type { Sink } from '../../lib/stream/sink.js';
import type { ReplayableObservable } from '../../lib/stream/source.js';
import type { OutputRow, Value } from '../../lib/stream/table.js';
import { hopping } from '../../lib/stream/windows/hopping.js';
import { session } from '../../lib/stream/windows/session.js';
import { tumbling } from '../../lib/stream/windows/tumbling.js';
import { withWatermark } from '../../lib/stream/with-watermark.js';
import { orderCatalog, putOrder } from './orders.js';

export interface Order {
  readonly user: string;
  readonly order: string;
  readonly price: number;
  readonly time: number;
}

export type WindowChoice = { readonly kind: 'tumbling'; readonly size: number } | { readonly kind: 'hopping'; readonly size: number; readonly slide: number } | { readonly kind: 'session'; readonly gap: number };

export interface PipelineOptions {
  readonly window: WindowChoice;
  readonly delay: number;
  readonly mode: OutputMode;
  readonly interval: number;
  readonly maxRecords?: number;
  readonly byUser: boolean;
  readonly checkpoint?: CheckpointStore | string;
  readonly scheduler?: SchedulerLike;
  readonly metrics?: StreamMetrics;
}

const product = udaf<number, number>({ init: () => 1, add: (p, v) => (typeof v === 'number' ? (p * (v % 3 === 0 ? 1 : -1)) : p), merge: (a, b) => a * b, result: (p) => p }, 'price');

/** Every aggregate kind the stream layer offers, over the order columns. */
export const allAggregates: Readonly<Record<string, AggregateSpec>> = {
  orders: count(),
  priced: count('price'),
  total: sum('price'),
  mean: avg('price'),
  cheapest: min('price'),
  dearest: max('price'),
  firstOrder: first('OrderId', { by: 'timestamp' }),
  lastOrder: last('OrderId', { by: 'timestamp' }),
  buyers: countDistinct('UserId'),
  sign: product,
};

export function ordersPipeline(source: ReplayableObservable<ChangeRecord>, sink: Sink, options: PipelineOptions): Observable<CommittedBatch> {
  const { window } = options;
  const windowing =
    window.kind === 'tumbling'
      ? tumbling({ eventTime: 'timestamp', size: window.size })
      : window.kind === 'hopping'
        ? hopping({ eventTime: 'timestamp', size: window.size, slide: window.slide })
        : session({ eventTime: 'timestamp', gap: window.gap });
  return source.pipe(
    microBatch({ interval: options.interval, maxRecords: options.maxRecords, checkpoint: options.checkpoint, scheduler: options.scheduler, metrics: options.metrics }),
    decodeRows({ catalog: orderCatalog, table: 'OrderSource' }),
    withWatermark({ eventTime: 'timestamp', delay: options.delay }),
    windowing,
    aggregate(options.byUser ? [WINDOW, 'UserId'] : [WINDOW], allAggregates),
    emit(options.mode),
    commitAfter(sink, { scheduler: options.scheduler, retry: { initialMs: 1, jitter: 0 } }),
  );
}

export const toRecord = (order: Order): ChangeRecord => putOrder(order.user, order.order, order.price, order.time);

/** A sink over a memory sink whose writes take `delay` and land at the end, so a crash can fall inside one. */
export function slowSink(inner: Sink, delay: number, scheduler: SchedulerLike): Sink {
  return { keyColumns: inner.keyColumns, write: (rows, context) => timer(delay, scheduler).pipe(tap(() => void inner.write(rows, context)), map(() => undefined)) };
}

/** The key a keyed sink stores a result row under: the window and, when grouped, the user. */
export const resultKey = (row: OutputRow): string => JSON.stringify([row['window'], row['UserId'] ?? null]);

/**
 * The aggregates computed directly over all orders (no batches, no watermark): what the sink must
 * hold when every order arrives within the watermark. Sessions are built from sorted times.
 */
export function referenceResults(orders: readonly Order[], window: WindowChoice, byUser: boolean): Map<string, OutputRow> {
  const groups = new Map<string, { window: { start: number; end: number }; user: string | null; orders: Order[] }>();
  const add = (start: number, end: number, order: Order): void => {
    const user = byUser ? order.user : null;
    const key = JSON.stringify([{ start, end }, user]);
    let group = groups.get(key);
    if (group === undefined) groups.set(key, (group = { window: { start, end }, user, orders: [] }));
    group.orders.push(order);
  };
  if (window.kind === 'session') {
    const byKey = new Map<string | null, Order[]>();
    for (const order of orders) {
      const key = byUser ? order.user : null;
      byKey.set(key, [...(byKey.get(key) ?? []), order]);
    }
    for (const list of byKey.values()) {
      const sorted = [...list].sort((a, b) => a.time - b.time);
      let current: Order[] = [];
      const flush = (): void => {
        const start = current[0]?.time as number;
        const end = (current[current.length - 1]?.time as number) + window.gap;
        for (const order of current) add(start, end, order);
      };
      for (const order of sorted) {
        const last = current[current.length - 1];
        if (last !== undefined && order.time >= last.time + window.gap) {
          flush();
          current = [];
        }
        current.push(order);
      }
      if (current.length > 0) flush();
    }
  } else {
    const size = window.size;
    const slide = window.kind === 'hopping' ? window.slide : window.size;
    for (const order of orders) {
      for (let start = Math.floor(order.time / slide) * slide; start > order.time - size; start -= slide) add(start, start + size, order);
    }
  }
  const results = new Map<string, OutputRow>();
  for (const [key, group] of groups) {
    const prices = group.orders.map((order) => order.price);
    const byTime = [...group.orders].sort((a, b) => a.time - b.time);
    const row: Record<string, Value | { start: number; end: number }> = { window: group.window };
    if (byUser) row['UserId'] = group.user;
    row['orders'] = prices.length;
    row['priced'] = prices.length;
    row['total'] = prices.reduce((a, b) => a + b, 0);
    row['mean'] = (row['total'] as number) / prices.length;
    row['cheapest'] = Math.min(...prices);
    row['dearest'] = Math.max(...prices);
    row['firstOrder'] = firstByTime(byTime, 'first');
    row['lastOrder'] = firstByTime(byTime, 'last');
    row['buyers'] = new Set(group.orders.map((order) => order.user)).size;
    row['sign'] = prices.reduce((p, v) => p * (v % 3 === 0 ? 1 : -1), 1);
    results.set(key, row);
  }
  return results;
}

/** first/last by event time; ties go to the earliest / latest arrival, so test data keeps times distinct per group. */
function firstByTime(sorted: readonly Order[], which: 'first' | 'last'): string {
  return (which === 'first' ? sorted[0] : sorted[sorted.length - 1])?.order as string;
}


export interface Scenario {
  /** orders per channel, in arrival order */
  readonly channels: Readonly<Record<string, readonly Order[]>>;
  /** how every channel's records are cut into source batches (the same pattern for all) */
  readonly chunkSizes: readonly number[];
  /** a watermark delay that no arrival order of this scenario can outrun */
  readonly delay: number;
}

const STEP = 1000;

/**
 * Orders of several channels that advance in step: record i of every channel has its time in
 * [i·STEP, (i+1)·STEP) (times distinct) and arrives at a random place among its `disorder`
 * neighbours, and all channels are cut into source batches by the same pattern. However
 * micro-batches are cut, no record then trails the newest record taken before it by more than
 * (largest chunk + disorder + 5)·STEP, so with that delay no row is late and the final results
 * must equal a direct computation over all orders.
 */
export function lockstepScenario(input: {
  readonly channels: number;
  readonly perChannel: number;
  readonly chunkPattern: readonly number[];
  readonly disorder: number;
  readonly seeds: readonly number[];
}): Scenario {
  const channels: Record<string, Order[]> = {};
  let k = 0;
  const seed = (): number => input.seeds[k++ % input.seeds.length] as number;
  for (let c = 0; c < input.channels; c++) {
    const orders: { order: Order; arrival: number }[] = [];
    for (let i = 0; i < input.perChannel; i++) {
      const time = i * STEP + c + input.channels * (seed() % Math.floor(STEP / input.channels));
      const order = { user: `u${seed() % 4}`, order: `c${c}-o${i}`, price: (seed() % 400) / 4, time };
      orders.push({ order, arrival: i + ((seed() % 1000) / 1000) * input.disorder });
    }
    channels[`ch${c}`] = orders.sort((a, b) => a.arrival - b.arrival).map((entry) => entry.order);
  }
  const largest = Math.max(...input.chunkPattern);
  return { channels, chunkSizes: input.chunkPattern, delay: (largest + input.disorder + 6) * STEP };
}

/** Cuts a channel's records by the repeating chunk pattern. */
export function chunked<T>(items: readonly T[], pattern: readonly number[]): T[][] {
  const chunks: T[][] = [];
  for (let at = 0, p = 0; at < items.length; p++) {
    const size = pattern[p % pattern.length] as number;
    chunks.push(items.slice(at, at + size));
    at += size;
  }
  return chunks;
}

export const allOrders = (scenario: Scenario): Order[] => Object.values(scenario.channels).flat();

/** What the sink must hold at the end: every group, or for append mode the groups the final watermark closed. */
export function expectedSink(scenario: Scenario, window: WindowChoice, byUser: boolean, mode: OutputMode): OutputRow[] {
  const orders = allOrders(scenario);
  const results = [...referenceResults(orders, window, byUser).values()];
  if (mode !== 'append') return results;
  const finalWatermark = Math.max(...orders.map((order) => order.time)) - scenario.delay;
  return results.filter((row) => (row['window'] as { end: number }).end <= finalWatermark);
}

export const sortRows = (rows: readonly OutputRow[]): OutputRow[] => [...rows].sort((a, b) => (resultKey(a) < resultKey(b) ? -1 : resultKey(a) > resultKey(b) ? 1 : 0));

/** Inputs of `lockstepScenario` for property tests. */
export const scenarioArbitrary = fc.record({
  channels: fc.integer({ min: 1, max: 3 }),
  perChannel: fc.integer({ min: 0, max: 30 }),
  chunkPattern: fc.array(fc.integer({ min: 1, max: 5 }), { minLength: 1, maxLength: 5 }),
  disorder: fc.integer({ min: 0, max: 4 }),
  seeds: fc.array(fc.nat(), { minLength: 1, maxLength: 64 }),
});

export const windowArbitrary: fc.Arbitrary<WindowChoice> = fc.oneof(
  fc.integer({ min: 1, max: 8 }).map((n): WindowChoice => ({ kind: 'tumbling', size: n * 1000 })),
  fc.tuple(fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 3 })).map(([slide, times]): WindowChoice => ({ kind: 'hopping', size: slide * times * 1000, slide: slide * 1000 })),
  fc.integer({ min: 1, max: 5 }).map((n): WindowChoice => ({ kind: 'session', gap: n * 700 })),
);

