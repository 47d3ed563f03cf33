/**
 * `commitAfter(sink)`: the last step of the commit protocol, one batch at a time, in order:
 *
 * 1. write the batch's dead letters (if any) and output rows, retrying a failed write with
 *    exponential backoff (on `scheduler`, so tests run it in virtual time);
 * 2. when `microBatch` opened a checkpoint: persist {batch id, every channel's cursor, the
 *    watermark, each operator's state} atomically under `commits/N` — which also lets `microBatch`
 *    plan the next batch;
 * 3. acknowledge the batch's source batches (the tunnel then checkpoints its channels).
 *
 * Nothing is acknowledged before the output and the state it depends on are durable: a write that
 * fails past its retries, or a commit that cannot be persisted, ends the stream with the error and
 * no acknowledgement. Emits one {@link CommittedBatch} per batch.
 *
 * After a crash the replayed batch is written again: the sink must be idempotent (keyed upserts
 * are), and dead letters of a replayed batch may arrive twice.
 */
import {
  asyncScheduler,
  catchError,
  concat,
  concatMap,
  defer,
  from,
  ignoreElements,
  of,
  throwError,
  type Observable,
  type OperatorFunction,
  type SchedulerLike,
} from 'rxjs';
import type { ChannelOffsets, DeadLetter, MicroBatch } from './batch.js';
import type { StreamMetrics } from './metrics.js';
import type { Sink } from './sink.js';
import type { RetryOptions } from '../tunnel/backoff.js';
import { retryWithBackoff } from '../tunnel/retry-with-backoff.js';
import { tableRows, type RowTable } from './table.js';

export type { RetryOptions } from '../tunnel/backoff.js';

/** commitAfter's retries: 100 ms doubling up to 30 s, ± 20 % jitter, 8 attempts, every error retried. */
export const DEFAULT_SINK_RETRY = { initialMs: 100, maxMs: 30_000, multiplier: 2, jitter: 0.2, maxAttempts: 8 } as const;

export interface CommitAfterOptions {
  /** how a failed write is retried (defaults: {@link DEFAULT_SINK_RETRY}) */
  readonly retry?: RetryOptions;
  /** where 'dead-letter' policies send bad and late rows */
  readonly deadLetters?: Sink<DeadLetter>;
  readonly scheduler?: SchedulerLike;
}

export interface CommittedBatch {
  readonly batchId: number;
  readonly rowsWritten: number;
  readonly deadLetters: number;
  readonly offsets: Readonly<Record<string, ChannelOffsets>>;
  /** the watermark after the batch, when the pipeline has one */
  readonly watermark: number | undefined;
  readonly replay: boolean;
  /** write attempts the output took (0 when there was nothing to write) */
  readonly attempts: number;
}

export class SinkWriteError extends Error {
  override readonly name = 'SinkWriteError';
  constructor(
    message: string,
    readonly batchId: number,
    readonly attempts: number,
    override readonly cause: unknown,
  ) {
    super(message);
  }
}

/**
 * A batch's output is rows (`emit`, `project`) or a table (`emitTable`, `projectTable`); a table
 * goes to `sink.writeTable` as it is, or as row objects to `sink.write` when the sink has none.
 */
export function commitAfter<T>(sink: Sink<T>, options: CommitAfterOptions = {}): OperatorFunction<MicroBatch<readonly T[] | RowTable>, CommittedBatch> {
  const scheduler = options.scheduler ?? asyncScheduler;
  const maxAttempts = options.retry?.maxAttempts ?? DEFAULT_SINK_RETRY.maxAttempts;
  if (!(maxAttempts >= 1)) throw new RangeError(`commitAfter: maxAttempts must be >= 1, got ${maxAttempts}`);
  const retryOptions: RetryOptions = { ...DEFAULT_SINK_RETRY, ...options.retry, maxAttempts, retryable: options.retry?.retryable ?? (() => true) };

  const writeWithRetry = <R>(target: Sink<R>, what: string, rows: readonly R[] | RowTable, batch: MicroBatch<unknown>, counted: { attempts: number }): Observable<never> =>
    defer(() => {
      counted.attempts++;
      if (isRowArray(rows)) return from(target.write(rows, { batchId: batch.id }));
      return from(target.writeTable !== undefined ? target.writeTable(rows, { batchId: batch.id }) : target.write(tableRows(rows) as unknown as readonly R[], { batchId: batch.id }));
    }).pipe(
      ignoreElements(),
      retryWithBackoff<never>({ ...retryOptions, scheduler, onRetry: () => batch.context.metrics.add('sinkRetries', 1) }),
      catchError((error: unknown) =>
        throwError(() => new SinkWriteError(`${what} write of batch ${batch.id} failed after ${counted.attempts} attempt(s): ${describe(error)}`, batch.id, counted.attempts, error)),
      ),
    );

  return concatMap((batch) => {
    const metrics = batch.context.metrics;
    const output = { attempts: 0 };
    const letters = { attempts: 0 };
    const steps: Observable<never>[] = [];
    if (batch.deadLetters.length > 0) {
      const deadLetterSink = options.deadLetters;
      if (deadLetterSink === undefined) {
        return throwError(() => new Error(`batch ${batch.id} has ${batch.deadLetters.length} dead letters but commitAfter was given no deadLetters sink`));
      }
      steps.push(writeWithRetry(deadLetterSink, 'dead-letter', batch.deadLetters, batch, letters));
    }
    if (batch.rows.length > 0) steps.push(writeWithRetry(sink, 'sink', batch.rows, batch, output));
    const checkpoint = batch.context.checkpoint;
    if (checkpoint !== undefined) steps.push(checkpoint.commit(batch).pipe(ignoreElements()));
    return concat(
      ...steps,
      defer(() => {
        acknowledge(batch.acks, metrics);
        metrics.add('rowsWritten', batch.rows.length);
        metrics.add('deadLetters', batch.deadLetters.length);
        metrics.committed();
        const committed: CommittedBatch = {
          batchId: batch.id,
          rowsWritten: batch.rows.length,
          deadLetters: batch.deadLetters.length,
          offsets: batch.offsets,
          watermark: batch.watermark?.next,
          replay: batch.replay,
          attempts: output.attempts,
        };
        return of(committed);
      }),
    );
  });
}

function isRowArray<R>(rows: readonly R[] | RowTable): rows is readonly R[] {
  return Array.isArray(rows);
}

function acknowledge(acks: MicroBatch<unknown>['acks'], metrics: StreamMetrics): void {
  for (const ack of acks) {
    try {
      const result = ack();
      if (result !== undefined && typeof result.then === 'function') result.then(undefined, () => metrics.add('ackFailures', 1));
    } catch {
      // the checkpoint already holds the position; a failed upstream commit only delays the source's release of data
      metrics.add('ackFailures', 1);
    }
  }
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

