/**
 * `marbleSource(cold, marbles, values)`: a feed of micro-batches drawn as marbles — each letter
 * is one micro-batch of the records listed for it, numbered in order from 0 (per subscription),
 * all of one run sharing a context (pass `metrics` to read its counters afterwards). Pipe it into
 * `decodeRows(…)` or `sqlOperator(…)` as if it came out of `microBatch`.
 *
 *   marbleSource(cold, '-a--b-|', { a: [put1, put2], b: [put3] })
 *   -a--b-|     a: batch 0 of [put1, put2], b: batch 1 of [put3]
 *
 * `subscriptions` are the marble Observable's, for `expectSubscriptions`.
 */
import { defer, map, type Observable } from 'rxjs';
import type { RunHelpers, TestScheduler } from 'rxjs/testing';
import type { RecordBatch } from '../stream/batch.js';
import type { ChangeRecord } from '../wire/types.js';
import { StreamMetrics } from '../stream/metrics.js';
import { context, recordBatch } from './batches.js';

/** `cold` of `TestScheduler.run`'s helpers. */
export type ColdFactory = RunHelpers['cold'];
/** What `expectSubscriptions` takes. */
export type SubscriptionLogs = Parameters<TestScheduler['expectSubscriptions']>[0];

export interface MarbleSourceOptions {
  /** the error a `#` stands for */
  readonly error?: unknown;
  /** counters the pipeline's operators add to */
  readonly metrics?: StreamMetrics;
}

export type MarbleSource<R> = Observable<RecordBatch<R>> & { readonly subscriptions: SubscriptionLogs };

export function marbleSource<R = ChangeRecord>(cold: ColdFactory, marbles: string, values: Readonly<Record<string, readonly R[]>> = {}, options: MarbleSourceOptions = {}): MarbleSource<R> {
  const drawn = cold<readonly R[]>(marbles, { ...values }, options.error);
  const batches = defer(() => {
    const ctx = context(options.metrics ?? new StreamMetrics());
    return drawn.pipe(map((records, id) => recordBatch(id, records, ctx)));
  });
  return Object.defineProperty(batches, 'subscriptions', { get: () => drawn.subscriptions, enumerable: true }) as MarbleSource<R>;
}
