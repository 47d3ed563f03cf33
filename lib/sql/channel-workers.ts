/**
 * One worker of an aggregating job whose state lives in a Tablestore table (`checkpoint.table`):
 * the tunnel client shares the channels among the job's workers (leases, heartbeats); this worker
 * runs, per channel it holds, the commit protocol of a single-worker job — plan, aggregate, merge
 * every channel's partials into the sink rows, commit — against that channel's rows of the state
 * table. A channel given to this worker is claimed first (its epoch bumped, its commit and pending
 * plan loaded; the tunnel starts it at the committed position); a channel taken away stops here,
 * and its new owner continues from its last commit.
 *
 * ```
 *  tunnel ──ch a──▶ [claim a] microBatch(plan a) → aggregate(a) → mergePartials → sink → commit a
 *         ──ch b──▶ [claim b] microBatch(plan b) → aggregate(b) → mergePartials → sink → commit b
 * ```
 */
import { from, Observable, Subject, Subscription, tap, type ObservableInput } from 'rxjs';
import type { ChangeRecord } from '../wire/types.js';
import type { OutputBatch, RecordBatch } from '../stream/batch.js';
import { commitAfter, type CommittedBatch, type RetryOptions } from '../stream/commit-after.js';
import { mapOutputRows } from '../stream/map-output-rows.js';
import { mergePartials } from '../stream/merge-partials.js';
import type { StreamMetrics } from '../stream/metrics.js';
import { microBatch, SourceContractError } from '../stream/micro-batch.js';
import { channelNote, type ReplayableObservable, type SourceBatch } from '../stream/source.js';
import type { Sink } from '../stream/sink.js';
import type { OutputRow } from '../stream/table.js';
import { fromChannelBatch } from '../stream/tunnel-source.js';
import { FencedError, type ChannelClaim, type JobStateTable } from '../sinks/tablestore-state.js';
import type { ChannelBatch, TunnelEvent } from '../tunnel/model.js';
import type { CheckpointStore } from '../stream/checkpoint/store.js';

export interface ChannelWorkersOptions {
  readonly state: JobStateTable;
  /** this worker, as the state table records the owner of a channel */
  readonly owner: () => string;
  readonly interval: number;
  /** the job's output mode: append emits the windows final for the job (see mergePartials) */
  readonly outputMode?: 'update' | 'complete' | 'append';
  readonly maxRecordsPerChannel: number;
  readonly metrics: StreamMetrics;
  /** the planned operators, with `mergePartials` for the channel after aggregate */
  readonly operator: (merge: ReturnType<typeof mergePartials>) => (source: Observable<RecordBatch<ChangeRecord>>) => Observable<OutputBatch>;
  readonly toSink: (rows: readonly OutputRow[], batch: OutputBatch) => readonly OutputRow[];
  readonly sink: Sink<OutputRow>;
  readonly retry: RetryOptions;
  readonly onCommitted: (channelId: string, committed: CommittedBatch) => void;
  readonly onLog: (level: 'info' | 'warn', message: string) => void;
  readonly onError: (error: unknown) => void;
}

interface ChannelRun {
  readonly subject: HoldingSubject<SourceBatch<ChangeRecord>>;
  readonly subscription: Subscription;
  done: boolean;
}

export class ChannelWorkers {
  private readonly claims = new Map<string, ChannelClaim>();
  private readonly runs = new Map<string, ChannelRun>();
  private readonly lastRead = new Map<string, boolean>();
  private stopping = false;
  private onDrained: (() => void) | undefined;

  constructor(private readonly options: ChannelWorkersOptions) {}

  /** the channels this worker runs now */
  held(): string[] {
    return [...this.runs.entries()].filter(([, run]) => !run.done).map(([channelId]) => channelId).sort();
  }

  /** The tunnel's start tokens: claim the channel in the state table, start at its commit. */
  startToken = async (channelId: string): Promise<string | undefined> => {
    const claim = await this.options.state.claim(channelId, this.options.owner());
    this.claims.set(channelId, claim);
    const { commit, plan } = claim.restored;
    const cursor = plan?.channels[channelId]?.start ?? commit?.offsets[channelId];
    const position = cursor?.position;
    if (position !== undefined && typeof position !== 'string') throw new Error(`channel ${channelId}: a committed position is not a token: ${JSON.stringify(position)}`);
    this.options.onLog('info', `took channel ${channelId} (epoch ${claim.epoch}; ${commit === undefined ? 'no commit yet' : `after batch ${commit.batchId}`}${plan === undefined ? '' : `, replaying planned batch ${plan.batchId}`})`);
    return position;
  };

  onEvent(event: TunnelEvent): void {
    if (event.kind === 'channel-opened') {
      this.lastRead.delete(event.channelId);
      this.open(event.channelId)?.subject.next(channelNote(event.channelId, 'opened'));
    } else if (event.kind === 'read') {
      this.lastRead.set(event.channelId, event.caughtUp);
      if (event.records === 0 && event.caughtUp) this.runs.get(event.channelId)?.subject.next(channelNote(event.channelId, 'caught-up'));
    } else if (event.kind === 'channel-closed') {
      this.lastRead.delete(event.channelId);
      if (event.reason === 'finished') this.runs.get(event.channelId)?.subject.next(channelNote(event.channelId, 'closed'));
      // a channel taken away (lease moved, session lost): its new owner replays what is not committed
      else this.close(event.channelId, `channel ${event.channelId} left this worker (${event.reason})`);
    }
  }

  deliver(batch: ChannelBatch): void {
    const run = this.runs.get(batch.channelId);
    if (run === undefined || run.done) return;
    run.subject.next(fromChannelBatch(batch, batch.finished || this.lastRead.get(batch.channelId) === true));
  }

  /** Graceful stop: every channel cuts a last batch and commits it; `drained` once all have. */
  stop(drained: () => void): void {
    this.stopping = true;
    this.onDrained = drained;
    for (const run of this.runs.values()) run.subject.complete();
    this.checkDrained();
  }

  /** Ends every channel run at once (a failure, or the end). */
  dispose(): void {
    for (const channelId of [...this.runs.keys()]) this.close(channelId);
  }

  private checkDrained(): void {
    if (!this.stopping || this.onDrained === undefined) return;
    if ([...this.runs.values()].every((run) => run.done)) {
      const drained = this.onDrained;
      this.onDrained = undefined;
      drained();
    }
  }

  private close(channelId: string, why?: string): void {
    const run = this.runs.get(channelId);
    if (run === undefined) return;
    this.runs.delete(channelId);
    this.options.state.release(channelId);
    run.done = true;
    run.subscription.unsubscribe();
    if (why !== undefined) this.options.onLog('info', `${why}: stopped here`);
    this.checkDrained();
  }

  /**
   * A channel's plans and commits, each refusal by the epoch fence logged as it comes back — also
   * when the channel's run has ended meanwhile (a paused worker resumed: its tunnel client may
   * report the channel gone before the refusal of its write in flight arrives).
   */
  private loggingRefusals(store: CheckpointStore): CheckpointStore {
    const refused = (error: unknown): void => {
      if (error instanceof FencedError) this.options.onLog('warn', `${error.message}; the channel stopped here`);
    };
    const logged =
      <A>(write: (value: A) => ObservableInput<void>) =>
      (value: A): ObservableInput<void> => {
        const written = write(value);
        // a promise settles whether or not the run still listens: its refusal is logged either way
        if (isPromiseLike(written)) {
          written.then(undefined, refused);
          return written;
        }
        return from(written).pipe(tap({ error: refused }));
      };
    return { location: store.location, load: () => store.load(), writePlan: logged((plan) => store.writePlan(plan)), writeCommit: logged((commit) => store.writeCommit(commit)) };
  }

  private open(channelId: string): ChannelRun | undefined {
    const existing = this.runs.get(channelId);
    if (existing !== undefined && !existing.done) return existing;
    const claim = this.claims.get(channelId);
    if (claim === undefined || this.stopping) return undefined;
    this.claims.delete(channelId);
    const { state } = this.options;
    // microBatch subscribes once its checkpoint is loaded (a promise): hold what comes meanwhile
    const subject = new HoldingSubject<SourceBatch<ChangeRecord>>();
    const source: ReplayableObservable<ChangeRecord> = Object.assign(subject.observable, { open: () => subject.observable });
    const run: ChannelRun = { subject, subscription: new Subscription(), done: false };
    this.runs.set(channelId, run);
    run.subscription.add(
      source
        .pipe(
          microBatch({
            interval: this.options.interval,
            maxRecordsPerChannel: this.options.maxRecordsPerChannel,
            metrics: this.options.metrics,
            checkpoint: this.loggingRefusals(state.channelStore(claim)),
          }),
          this.options.operator(mergePartials({ store: state, channelId, ...(this.options.outputMode === undefined ? {} : { output: this.options.outputMode }) })),
          mapOutputRows(this.options.toSink),
          commitAfter(this.options.sink, { retry: this.options.retry }),
        )
        .subscribe({
          next: (committed) => this.options.onCommitted(channelId, committed),
          error: (error: unknown) => {
            if (error instanceof FencedError) {
              // the refusal itself was logged as it came (loggingRefusals)
              this.close(channelId);
              return;
            }
            // stopped before the records of a planned batch were all read again: the channel's next
            // owner replays that plan
            if (this.stopping && error instanceof SourceContractError) {
              this.close(channelId, `channel ${channelId} stopped before its planned batch was read again (its next owner replays it)`);
              return;
            }
            this.close(channelId);
            this.options.onError(error);
          },
          complete: () => {
            run.done = true;
            this.runs.delete(channelId);
            this.checkDrained();
          },
        }),
    );
    return run;
  }
}

/** A subject that holds what it is given until its first subscriber, then passes everything on. */
class HoldingSubject<T> {
  private held: T[] | undefined = [];
  private completed = false;
  private readonly subject = new Subject<T>();
  readonly observable = new Observable<T>((subscriber) => {
    const subscription = this.subject.subscribe(subscriber);
    const held = this.held ?? [];
    this.held = undefined;
    for (const value of held) subscriber.next(value);
    if (this.completed) subscriber.complete();
    return subscription;
  });

  next(value: T): void {
    if (this.held !== undefined) this.held.push(value);
    else this.subject.next(value);
  }

  complete(): void {
    this.completed = true;
    if (this.held === undefined) this.subject.complete();
  }
}

const isPromiseLike = (value: unknown): value is PromiseLike<void> => typeof value === 'object' && value !== null && typeof (value as { then?: unknown }).then === 'function';
