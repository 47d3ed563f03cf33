/**
 * Group commit: every write job queued during one turn of the event loop runs inside a single
 * synchronous LMDB write transaction, which commits (and, with `noSync: false` and
 * `overlappingSync: false`, fsyncs) before any of the jobs' promises resolve. So a response is
 * only sent for a durable write, while concurrent requests share one fsync.
 *
 * Each job runs in its own child transaction: a job that throws (a programmer error, or a
 * commit hook failing) rolls back only its own writes and rejects only its own promise.
 *
 * Why not lmdb-js's asynchronous `transaction(callback)`: its callbacks are invoked from the
 * write thread through an N-API thread-safe function, and with lmdb 3.5.6 on this platform they
 * never ran (the promise hung); synchronous transactions behave identically everywhere.
 */
import type { RootDatabase } from 'lmdb';

interface PendingJob {
  readonly run: () => unknown;
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: unknown) => void;
}

type JobResult = { readonly ok: true; readonly value: unknown } | { readonly ok: false; readonly error: unknown };

export class CommitQueue {
  private pending: PendingJob[] = [];
  private scheduled = false;
  private closed = false;

  constructor(
    private readonly env: RootDatabase,
    /** called after a commit failed as a whole (disk full, …): in-memory caches must be reloaded */
    private readonly onCommitFailure: (error: unknown) => void,
  ) {}

  /** Runs `job` inside the next write transaction; resolves with its result once committed. */
  run<T>(job: () => T): Promise<T> {
    if (this.closed) return Promise.reject(new Error('CommitQueue: closed'));
    return new Promise<T>((resolve, reject) => {
      this.pending.push({ run: job, resolve: resolve as (value: unknown) => void, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  /** Commits whatever is queued now (also used by close). */
  flush(): void {
    this.scheduled = false;
    const jobs = this.pending;
    if (jobs.length === 0) return;
    this.pending = [];
    const results: JobResult[] = [];
    try {
      this.env.transactionSync(() => {
        for (const job of jobs) {
          try {
            results.push({ ok: true, value: this.env.transactionSync(job.run) });
          } catch (error) {
            results.push({ ok: false, error });
          }
        }
      });
    } catch (error) {
      this.onCommitFailure(error);
      for (const job of jobs) job.reject(error);
      return;
    }
    jobs.forEach((job, i) => {
      const result = results[i]!;
      if (result.ok) job.resolve(result.value);
      else job.reject(result.error);
    });
  }

  close(): void {
    this.flush();
    this.closed = true;
  }
}
