/**
 * One owned channel (tunnel-protocol.md §7.3–7.4): the connection phase machine of
 * `channel-state.ts` plus the read loop, backpressure, ordered commits and the drain that
 * precedes a CLOSE report.
 *
 * Read loop: one ReadRecords at a time, only while fewer than `maxInFlight` delivered batches are
 * unacknowledged; stream channels sleep between reads that were not full (§7.6). Empty batches
 * are not delivered but keep their place in the commit order; the next delivered batch's
 * `fromToken` is where they began, so delivered batches of a channel chain token to token.
 */
import { timer } from 'rxjs';
import { right } from 'fp-ts/lib/Either.js';
import type { MonoTypeOperatorFunction, SchedulerLike, Subscription } from 'rxjs';
import { Backoff } from './backoff.js';
import type { RandomSource } from './backoff.js';
import { CallSlot } from './call-slot.js';
import { ChannelCheckpointer } from './channel-checkpointer.js';
import type { CommitWaiter } from './channel-checkpointer.js';
import { checkClosed, FAILED_CONNECTION, INITIAL_CONNECTION, notifyStatus } from './channel-state.js';
import type { ConnectionState } from './channel-state.js';
import { isStreamToken } from '../wire/tunnel-messages.js';
import { decodeRecords } from './decode-records.js';
import { isFatalError } from './errors.js';
import { FINISHED } from './model.js';
import type { ChangeRecord } from '../wire/types.js';
import type {
  ChannelBatch,
  ChannelCloseReason,
  ChannelState,
  CheckpointPosition,
  CommitOutcome,
  ReadRecordsResult,
  TunnelCall,
  TunnelDataApi,
  TunnelEvent,
} from './model.js';
import type { WorkerSettings } from './options.js';

/** §7.6: a stream read is "full" (read again at once) past 500 records or 900 KiB. */
const FULL_BATCH_RECORDS = 500;
const FULL_BATCH_BYTES = 900 * 1024;

export interface ConnectionContext {
  readonly api: TunnelDataApi;
  readonly tunnelId: string;
  readonly clientId: string;
  readonly settings: WorkerSettings;
  readonly scheduler: SchedulerLike;
  readonly random: RandomSource;
  readonly retry: <T>(call: TunnelCall) => MonoTypeOperatorFunction<T>;
  readonly emit: (event: TunnelEvent) => void;
  readonly deliver: (batch: ChannelBatch) => void;
  /** §7.2 updateStatus: a local status change to report on the next heartbeat */
  readonly report: (channel: ChannelState) => void;
  readonly fatal: (error: unknown, call: TunnelCall) => void;
}

/** A delivered (or silently skipped empty) batch waiting for its turn to be checkpointed. */
interface PendingCommit {
  readonly token: string;
  acknowledged: boolean;
  /** delivered batches count against the in-flight bound, skipped empty ones do not */
  readonly counted: boolean;
  outcome: CommitOutcome | undefined;
  readonly waiters: CommitWaiter[];
}

export class ChannelConnection {
  private state: ConnectionState;
  private token: string;
  private readonly stream: boolean;
  private readonly checkpointer: ChannelCheckpointer | undefined;
  private readonly read = new CallSlot();
  private readonly backoff: Backoff;
  private sleeping: Subscription | undefined;
  private drainDeadline: Subscription | undefined;
  private readonly pending: PendingCommit[] = [];
  private unacknowledged = 0;
  /** token where the current run of undelivered empty reads began */
  private emptyRunFrom: string | undefined;
  /** the `finished` token has been read: nothing more to read */
  private readEnded = false;
  private pumping = false;
  private pumpAgain = false;
  private released = false;
  /** why the channel is draining (CLOSING, read or decode error) */
  private drainReason: { reason: ChannelCloseReason; error?: unknown } | undefined;
  /** set by stopAndFlush: called once the acknowledged checkpoints are written */
  private flushed: (() => void) | undefined;

  /** `opened` is undefined when GetCheckpoint failed: the connection then only reports CLOSE. */
  constructor(
    private readonly context: ConnectionContext,
    readonly channelId: string,
    opened: (CheckpointPosition & { readonly startToken: string }) | undefined,
  ) {
    this.backoff = new Backoff(context.settings.readBackoff, context.random);
    if (opened === undefined) {
      this.state = FAILED_CONNECTION;
      this.token = '';
      this.stream = false;
      this.checkpointer = undefined;
      return;
    }
    this.state = INITIAL_CONNECTION;
    this.token = opened.startToken;
    this.stream = isStreamToken(opened.startToken);
    this.checkpointer = new ChannelCheckpointer(
      {
        api: context.api,
        tunnelId: context.tunnelId,
        clientId: context.clientId,
        channelId,
        retry: context.retry,
        emit: context.emit,
        fatal: context.fatal,
        onFinishedSettled: () => this.onFinishedSettled(),
        onIdle: () => this.checkDrained(),
        coalesceMs: context.settings.checkpointCoalesceMs,
        scheduler: context.scheduler,
      },
      opened,
    );
  }

  get closed(): boolean {
    return this.state.phase === 'CLOSED';
  }

  get phase(): ConnectionState['phase'] {
    return this.state.phase;
  }

  /** §7.3: apply a status from a heartbeat response. */
  notify(served: ChannelState): void {
    const decision = notifyStatus(this.state, served);
    this.state = decision.state;
    switch (decision.effect) {
      case 'start':
        this.pump();
        break;
      case 'drain':
        this.startDrain('closing');
        break;
      case 'close':
        this.release(this.state.finished ? 'finished' : 'closing', { kind: 'skipped', reason: 'channel-closed' });
        break;
      case undefined:
        break;
    }
    if (decision.report !== undefined) this.context.report(decision.report);
  }

  /** Stop at once without a report: the channel left the heartbeat response, or the client was lost. */
  forceClose(reason: ChannelCloseReason): void {
    this.state = { ...this.state, phase: 'CLOSED' };
    this.release(reason, { kind: 'skipped', reason: reason === 'stopped' ? 'worker-stopped' : 'channel-closed' });
  }

  /**
   * Unsubscribe path: stop reading, drop unacknowledged batches, let acknowledged ones finish
   * their checkpoint, then call `onFlushed`.
   */
  stopAndFlush(onFlushed: () => void): void {
    if (this.released) {
      onFlushed();
      return;
    }
    this.read.cancel();
    this.sleeping?.unsubscribe();
    this.sleeping = undefined;
    this.readEnded = true;
    const dropped: CommitOutcome = { kind: 'skipped', reason: 'worker-stopped' };
    for (const entry of this.pending.splice(0)) this.resolve(entry, dropped);
    this.unacknowledged = 0;
    this.flushed = onFlushed;
    this.checkpointer?.hurry();
    this.checkDrained();
  }

  // ---- read loop ----------------------------------------------------------------------------

  private pump(): void {
    if (this.pumping) {
      this.pumpAgain = true;
      return;
    }
    this.pumping = true;
    try {
      do {
        this.pumpAgain = false;
        this.step();
      } while (this.pumpAgain);
    } finally {
      this.pumping = false;
    }
  }

  private step(): void {
    if (this.state.phase !== 'RUNNING' || this.read.busy || this.sleeping !== undefined || this.readEnded) return;
    if (this.token === FINISHED) {
      // GetCheckpoint said `finished` (or a start token did): nothing to read, nothing to commit
      this.readEnded = true;
      this.onFinishedSettled();
      return;
    }
    if (this.unacknowledged >= this.context.settings.maxInFlightBatchesPerChannel) return;
    const fromToken = this.token;
    const { api, tunnelId, clientId } = this.context;
    this.read.start(
      api.readRecords({ tunnelId, clientId, channelId: this.channelId, token: fromToken }).pipe(this.context.retry<ReadRecordsResult>('readRecords')),
      (result) => this.onRead(fromToken, result),
      (error) => this.onReadError(error),
    );
  }

  private onRead(fromToken: string, result: ReadRecordsResult): void {
    if (this.state.phase !== 'RUNNING') return;
    const decoded = result.changes === undefined ? decodeRecords(result.records) : right(result.changes);
    if (decoded._tag === 'Left') {
      this.context.emit({ kind: 'decode-error', channelId: this.channelId, error: decoded.left });
      this.startDrain('error', decoded.left);
      return;
    }
    const records = decoded.right;
    const finished = result.nextToken === FINISHED;
    this.token = result.nextToken;
    if (finished) this.readEnded = true;
    // decide the sleep before delivering: a subscriber that commits synchronously must not
    // trigger the next read ahead of the backoff
    const full = result.mayMoreRecord ?? ((result.changes ?? result.records).length > FULL_BATCH_RECORDS || result.byteSize > FULL_BATCH_BYTES);
    if (this.stream && !finished) {
      if (full) this.backoff.reset();
      else this.sleep(this.backoff.next());
    }
    this.context.emit({ kind: 'read', channelId: this.channelId, records: records.length, caughtUp: this.stream ? !full : finished });
    if (records.length > 0 || finished) {
      const entry = this.enqueue(result.nextToken, true);
      const position = this.emptyRunFrom ?? fromToken;
      this.emptyRunFrom = undefined;
      this.context.deliver(this.batch(position, result.nextToken, records, finished, entry));
    } else if (result.nextToken !== fromToken) {
      // an empty read is not delivered; the next batch starts where the empty run began, so each
      // delivered batch starts at its predecessor's nextToken (nothing lies in between to replay)
      this.emptyRunFrom ??= fromToken;
      this.acknowledge(this.enqueue(result.nextToken, false));
    }
    this.pump();
  }

  private onReadError(error: unknown): void {
    if (this.state.phase !== 'RUNNING') return;
    if (isFatalError(error, 'readRecords')) {
      this.context.fatal(error, 'readRecords');
      return;
    }
    this.startDrain('error', error);
  }

  private sleep(delayMs: number): void {
    this.sleeping = timer(delayMs, this.context.scheduler).subscribe(() => {
      this.sleeping = undefined;
      this.pump();
    });
  }

  // ---- commits ------------------------------------------------------------------------------

  private enqueue(token: string, counted: boolean): PendingCommit {
    const entry: PendingCommit = { token, acknowledged: false, counted, outcome: undefined, waiters: [] };
    this.pending.push(entry);
    if (counted) this.unacknowledged += 1;
    return entry;
  }

  private batch(fromToken: string, nextToken: string, records: readonly ChangeRecord[], finished: boolean, entry: PendingCommit): ChannelBatch {
    return {
      channelId: this.channelId,
      clientId: this.context.clientId,
      fromToken,
      nextToken,
      records,
      stream: this.stream,
      finished,
      commit: () => this.commitEntry(entry),
    };
  }

  private commitEntry(entry: PendingCommit): Promise<CommitOutcome> {
    if (entry.outcome !== undefined) return Promise.resolve(entry.outcome);
    const promise = new Promise<CommitOutcome>((resolve) => entry.waiters.push(resolve));
    if (!entry.acknowledged) this.acknowledge(entry);
    return promise;
  }

  /** Marks `entry` consumed, hands the acknowledged head of the queue to the checkpointer, reads on. */
  private acknowledge(entry: PendingCommit): void {
    entry.acknowledged = true;
    if (entry.counted) this.unacknowledged -= 1;
    let last: PendingCommit | undefined;
    const waiters: CommitWaiter[] = [];
    while (this.pending.length > 0 && (this.pending[0] as PendingCommit).acknowledged) {
      last = this.pending.shift() as PendingCommit;
      const settled = last;
      waiters.push((outcome) => this.resolve(settled, outcome));
    }
    if (last !== undefined) this.checkpointer?.offer(last.token, waiters);
    if (this.state.phase === 'CLOSING') this.checkDrained();
    else this.pump();
  }

  private resolve(entry: PendingCommit, outcome: CommitOutcome): void {
    if (entry.outcome !== undefined) return;
    entry.outcome = outcome;
    for (const waiter of entry.waiters.splice(0)) waiter(outcome);
  }

  // ---- closing ------------------------------------------------------------------------------

  /** The `finished` token is consumed: close as finished, TERMINATED goes to the next heartbeat. */
  private onFinishedSettled(): void {
    if (this.state.phase === 'CLOSED') return;
    this.state = { ...this.state, phase: 'CLOSED', finished: true };
    this.release('finished', { kind: 'skipped', reason: 'channel-closed' });
    this.reportIfClosed();
  }

  /** Stop reading; close once every delivered batch is acknowledged and checkpointed, or at the deadline. */
  private startDrain(reason: ChannelCloseReason, error?: unknown): void {
    if (this.state.phase === 'CLOSED') return;
    this.state = { ...this.state, phase: 'CLOSING' };
    this.read.cancel();
    this.sleeping?.unsubscribe();
    this.sleeping = undefined;
    this.drainReason = { reason, error };
    this.checkpointer?.hurry();
    if (this.drainDeadline === undefined) {
      this.drainDeadline = timer(this.context.settings.closingDrainTimeoutMs, this.context.scheduler).subscribe(() => this.finishDrain());
    }
    this.checkDrained();
  }

  private checkDrained(): void {
    if (this.flushed !== undefined) {
      if (this.checkpointer?.idle ?? true) this.forceClose('stopped');
      return;
    }
    if (this.state.phase !== 'CLOSING') return;
    if (this.pending.length === 0 && (this.checkpointer?.idle ?? true)) this.finishDrain();
  }

  private finishDrain(): void {
    if (this.state.phase !== 'CLOSING') return;
    this.state = { ...this.state, phase: 'CLOSED' };
    const drained = this.drainReason ?? { reason: 'closing' };
    this.release(drained.reason, { kind: 'skipped', reason: 'channel-closed' }, drained.error);
    this.reportIfClosed();
  }

  /** My own close (not the server's): report it now rather than at the heartbeat after next. */
  private reportIfClosed(): void {
    const decision = checkClosed(this.state);
    this.state = decision.state;
    if (decision.report !== undefined) this.context.report(decision.report);
  }

  private release(reason: ChannelCloseReason, outcome: CommitOutcome, error?: unknown): void {
    if (this.released) return;
    this.released = true;
    this.read.cancel();
    this.sleeping?.unsubscribe();
    this.sleeping = undefined;
    this.drainDeadline?.unsubscribe();
    this.drainDeadline = undefined;
    for (const entry of this.pending.splice(0)) this.resolve(entry, outcome);
    this.unacknowledged = 0;
    this.checkpointer?.close(outcome);
    this.context.emit(
      error === undefined
        ? { kind: 'channel-closed', channelId: this.channelId, reason }
        : { kind: 'channel-closed', channelId: this.channelId, reason, error },
    );
    const flushed = this.flushed;
    this.flushed = undefined;
    flushed?.();
  }
}
