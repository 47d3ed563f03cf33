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
  retry,
  throwError,
  timer,
  type Observable,
  type OperatorFunction,
  type SchedulerLike,
} from 'rxjs';
import type { ChannelOffsets, DeadLetter, MicroBatch } from './batch.js';
import type { StreamMetrics } from './metrics.js';
import type { Sink } from './sink.js';
import { tableRows, type RowTable } from './table.js';

export interface RetryOptions {
  /** ms before the first retry (default 100) */
  readonly initialDelay?: number;
  /** cap of the delay (default 30 000) */
  readonly maxDelay?: number;
  /** delay growth per attempt (default 2) */
  readonly factor?: number;
  /** attempts in all, the first included (default 8; Infinity retries for ever) */
  readonly maxAttempts?: number;
  /** ± fraction of random spread of each delay (default 0.2) */
  readonly jitter?: number;
  readonly random?: () => number;
  /** errors not worth retrying (bad requests) fail at once (default: every error is retried) */
  readonly retryable?: (error: unknown) => boolean;
}

export interface CommitAfterOptions {
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
  const retryOptions = options.retry ?? {};
  const maxAttempts = retryOptions.maxAttempts ?? 8;
  if (!(maxAttempts >= 1)) throw new RangeError(`commitAfter: maxAttempts must be >= 1, got ${maxAttempts}`);

  const writeWithRetry = <R>(target: Sink<R>, what: string, rows: readonly R[] | RowTable, batch: MicroBatch<unknown>, counted: { attempts: number }): Observable<never> =>
    defer(() => {
      counted.attempts++;
      if (isRowArray(rows)) return from(target.write(rows, { batchId: batch.id }));
      return from(target.writeTable !== undefined ? target.writeTable(rows, { batchId: batch.id }) : target.write(tableRows(rows) as unknown as readonly R[], { batchId: batch.id }));
    }).pipe(
      ignoreElements(),
      retry({
        count: maxAttempts - 1,
        delay: (error: unknown, retryCount: number) => {
          if (retryOptions.retryable !== undefined && !retryOptions.retryable(error)) return throwError(() => error);
          batch.context.metrics.add('sinkRetries', 1);
          return timer(backoff(retryOptions, retryCount), scheduler);
        },
      }),
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
    const session = batch.context.checkpoint;
    if (session !== undefined) steps.push(session.commit(batch).pipe(ignoreElements()));
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

/** initialDelay · factor^(retry−1), capped, spread by ± jitter */
export function backoff(options: RetryOptions, retryCount: number): number {
  const initial = options.initialDelay ?? 100;
  const factor = options.factor ?? 2;
  const cap = options.maxDelay ?? 30_000;
  const jitter = options.jitter ?? 0.2;
  const random = options.random ?? Math.random;
  const base = Math.min(cap, initial * factor ** (retryCount - 1));
  return Math.max(0, base * (1 + jitter * (2 * random() - 1)));
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

