/**
 * Writes a channel's checkpoints in order (tunnel-protocol.md §5.1): one Checkpoint call at a
 * time with `seq = GetCheckpoint.seq + 1` growing by one per success; tokens offered while a call
 * runs are coalesced into the next call (the latest token covers the earlier batches). On
 * OTSSequenceNumberNotMatch the checkpoint is re-read once: if it already holds the token (an
 * earlier attempt landed but its response was lost) the job is done; if it still holds the last
 * token this client wrote, the token is resent with the service's sequence + 1; anything else
 * means another writer moved the channel, and resending could move it backwards, so the commit
 * fails instead.
 *
 * With `coalesceMs` > 0 a token offered to an idle checkpointer waits that long for later ones
 * (a micro-batch every few ms acknowledges each channel every few ms: one call per channel per
 * window instead of one per batch); a `finished` token, a draining or stopping channel
 * ({@link ChannelCheckpointer.hurry}) do not wait.
 */
import { CallSlot } from './call-slot.js';
import { isFatalError, isSequenceNumberMismatch } from './errors.js';
import { FINISHED } from './model.js';
import type { CommitOutcome, TunnelCall, TunnelDataApi, TunnelEvent } from './model.js';
import { timer, type MonoTypeOperatorFunction, type SchedulerLike, type Subscription } from 'rxjs';

export type CommitWaiter = (outcome: CommitOutcome) => void;

export interface CheckpointerContext {
  readonly api: TunnelDataApi;
  readonly tunnelId: string;
  readonly clientId: string;
  readonly channelId: string;
  readonly retry: <T>(call: TunnelCall) => MonoTypeOperatorFunction<T>;
  readonly emit: (event: TunnelEvent) => void;
  readonly fatal: (error: unknown, call: TunnelCall) => void;
  /** a `finished` checkpoint was attempted (written or not: the channel is done either way) */
  readonly onFinishedSettled: () => void;
  /** nothing queued and nothing in flight any more */
  readonly onIdle: () => void;
  /** how long an offered token waits for later ones before it is written (0: written at once) */
  readonly coalesceMs?: number;
  readonly scheduler?: SchedulerLike;
}

interface Job {
  token: string;
  waiters: CommitWaiter[];
}

export class ChannelCheckpointer {
  private nextSequence: bigint;
  /** the checkpoint the service held when this client last knew it */
  private lastWritten: string;
  private queued: Job | undefined;
  private sending: Job | undefined;
  private readonly call = new CallSlot();
  private closed: CommitOutcome | undefined;
  /** the coalescing window running before the queued token is written */
  private window: Subscription | undefined;
  /** the window is over (or skipped): the queued token goes now */
  private due = false;
  /** draining or stopping: no more windows */
  private hurried = false;

  constructor(
    private readonly context: CheckpointerContext,
    initial: { readonly checkpoint: string; readonly sequenceNumber: bigint },
  ) {
    this.nextSequence = initial.sequenceNumber + 1n;
    this.lastWritten = initial.checkpoint;
  }

  get idle(): boolean {
    return this.queued === undefined && this.sending === undefined;
  }

  /** Writes what is queued without waiting out the coalescing window, now and from here on. */
  hurry(): void {
    this.hurried = true;
    this.window?.unsubscribe();
    this.window = undefined;
    this.flush();
  }

  /** Queue `token` (covering every batch before it) and write it as soon as the previous call ends. */
  offer(token: string, waiters: readonly CommitWaiter[]): void {
    if (this.closed !== undefined) {
      for (const waiter of waiters) waiter(this.closed);
      return;
    }
    if (this.queued === undefined) this.queued = { token, waiters: [...waiters] };
    else {
      this.queued.token = token;
      this.queued.waiters.push(...waiters);
    }
    this.flush();
  }

  /** Stop writing: queued and running commits resolve with `outcome`. */
  close(outcome: CommitOutcome): void {
    if (this.closed !== undefined) return;
    this.closed = outcome;
    this.window?.unsubscribe();
    this.window = undefined;
    this.call.cancel();
    const pending = [...(this.sending?.waiters ?? []), ...(this.queued?.waiters ?? [])];
    this.sending = undefined;
    this.queued = undefined;
    for (const waiter of pending) waiter(outcome);
  }

  private flush(): void {
    if (this.closed !== undefined || this.sending !== undefined) return;
    const job = this.queued;
    if (job === undefined) {
      this.context.onIdle();
      return;
    }
    const coalesceMs = this.context.coalesceMs ?? 0;
    if (coalesceMs > 0 && !this.due && !this.hurried && job.token !== FINISHED) {
      this.window ??= timer(coalesceMs, this.context.scheduler).subscribe(() => {
        this.window = undefined;
        this.due = true;
        this.flush();
      });
      return;
    }
    this.window?.unsubscribe();
    this.window = undefined;
    this.due = false;
    this.queued = undefined;
    this.sending = job;
    this.send(job, true);
  }

  private send(job: Job, mayResync: boolean): void {
    const { api, tunnelId, clientId, channelId } = this.context;
    const sequenceNumber = this.nextSequence;
    this.call.startVoid(
      api.checkpoint({ tunnelId, clientId, channelId, checkpoint: job.token, sequenceNumber }).pipe(this.context.retry<void>('checkpoint')),
      () => {
        this.nextSequence = sequenceNumber + 1n;
        this.lastWritten = job.token;
        this.settle(job, { kind: 'committed', sequenceNumber });
      },
      (error) => {
        if (mayResync && isSequenceNumberMismatch(error)) this.resync(job, error);
        else this.fail(job, error);
      },
    );
  }

  private resync(job: Job, mismatch: unknown): void {
    const { api, tunnelId, clientId, channelId } = this.context;
    this.call.start(
      api.getCheckpoint({ tunnelId, clientId, channelId }).pipe(this.context.retry('getCheckpoint')),
      (position) => {
        this.nextSequence = position.sequenceNumber + 1n;
        if (position.checkpoint === job.token) {
          this.lastWritten = job.token;
          this.settle(job, { kind: 'committed', sequenceNumber: position.sequenceNumber });
        } else if (position.checkpoint === this.lastWritten) this.send(job, false);
        else this.fail(job, mismatch);
      },
      (error) => this.fail(job, error),
    );
  }

  private fail(job: Job, error: unknown): void {
    this.context.emit({ kind: 'checkpoint-failed', channelId: this.context.channelId, error });
    if (isFatalError(error, 'checkpoint')) this.context.fatal(error, 'checkpoint');
    this.settle(job, { kind: 'failed', error });
  }

  private settle(job: Job, outcome: CommitOutcome): void {
    this.sending = undefined;
    for (const waiter of job.waiters) waiter(outcome);
    if (job.token === FINISHED) this.context.onFinishedSettled();
    this.flush();
  }
}
