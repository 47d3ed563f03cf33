/**
 * The job runtime: any operator chain — written by hand or compiled from SQL — run as a job with
 * the tunnel as a checkpointed, gracefully stoppable source, the chain, and the sink committed by
 * the protocol of `commitAfter`:
 *
 *   tunnel → trackChannelLag → stoppable → microBatch → definition.operator → commitAfter(sink)
 *
 * What every job gets: a progress Observable (state, metrics, records/s, per-channel lag,
 * latest rows, reachability status), `untilIdle`, a graceful `stop` (the last batch committed,
 * the tunnel shut down) with a summary, batch latency, late rows logged per batch, unreachable-
 * endpoint warnings; an aggregating job also the single-consumer check, the owner lease of its
 * checkpoint location (a dead predecessor's tunnel clients shut down at once) and the refusal of
 * a lost checkpoint location (or `lostCheckpoint: 'reset' | 'at-least-once'`).
 *
 *   const job = runJob({ name: 'orders', source: { connection, table: 'OrderSource', tunnel: { name: 'orders' } },
 *                        checkpoint: '/var/otsflow/orders', aggregating: true,
 *                        operator: (batches) => batches.pipe(decodeRows(…), tumbling(…), aggregate(…), emit('update')),
 *                        sink: tablestoreSink(…) });
 *   job.start();
 *   await job.untilIdle(2_000);
 *   const summary = await job.stop();
 *
 *   progress   c--s--r--r--r--r--(t|)       c created, s starting, r running (one per commit/poll), t stopped
 */
import * as E from 'fp-ts/lib/Either.js';
import { asyncScheduler, BehaviorSubject, firstValueFrom, from, tap, type Observable, type Subscription } from 'rxjs';
import type { ChangeRecord } from '../../wire/types.js';
import { tunnel } from '../../tunnel/tunnel.js';
import { tunnelControl, type TunnelDescription } from '../../tunnel/control.js';
import { createHttpTransport, TransportError } from '../../tunnel/http-transport.js';
import { DEFAULT_HEARTBEAT_TIMEOUT_MS, DEFAULT_REQUEST_RETRY, type TunnelOptions } from '../../tunnel/options.js';
import type { ChannelBatch, TunnelEvent } from '../../tunnel/model.js';
import type { MicroBatch, RecordBatch } from '../batch.js';
import { ChannelLag, trackChannelLag, type ChannelLagSnapshot } from '../channel-lag.js';
import { describeOwner, OWNER_RENEW_MS, type OwnerLease } from '../checkpoint/owner-record.js';
import { commitAfter, type RetryOptions } from '../commit-after.js';
import { StreamMetrics } from '../metrics.js';
import { microBatch } from '../micro-batch.js';
import { stoppable } from '../stoppable.js';
import { rowsBetween, type OutputRow, type RowTable } from '../table.js';
import { channelBatchSource } from '../tunnel-source.js';
import { lateText, utcTime } from './late-text.js';
import { DescribeError, replacedTunnel, SoleConsumerError, type LostCheckpoint } from './restarts.js';
import { checkLostCheckpoint, checkSoleConsumer, outwaitEarlierRuns, resetTunnel, takeOverFromDeadPredecessor, type StartContext } from './sole-consumer.js';
import {
  JobError,
  type ChannelDecoration,
  type ChannelProgress,
  type JobConnection,
  type JobDefinition,
  type JobFeedContext,
  type JobFeedControl,
  type JobProgress,
  type JobSink,
  type JobStage,
  type JobState,
  type JobSummary,
  type StreamJob,
} from './types.js';

const IDLE_POLL_MS = 100;
/** the tunnel Checkpoint calls of a job's channel within this window share one call */
const JOB_CHECKPOINT_COALESCE_MS = 100;
/** how long a stopping job waits for its tunnel session's ShutdownTunnel (checkpoints flushed first) */
const RELEASE_WAIT_MS = 10_000;
const UNREACHABLE_WARN_AFTER_MS = 2_000;
const UNREACHABLE_WARN_EVERY_MS = 30_000;
/** rows of a batch's output the live view sees */
const LATEST_ROWS = 500;

/** The definition as a job, not started yet (`start()`). */
export function runJob<T = OutputRow>(definition: JobDefinition<T>): StreamJob {
  if (typeof definition.name !== 'string' || definition.name === '') throw new TypeError('runJob: the definition needs a name');
  if (typeof definition.operator !== 'function') throw new TypeError(`runJob ${definition.name}: operator must be an OperatorFunction`);
  const positive = (what: string, value: number | undefined): void => {
    if (value !== undefined && !(Number.isFinite(value) && value > 0)) throw new RangeError(`runJob ${definition.name}: ${what} must be a number > 0, got ${value}`);
  };
  positive('interval', definition.interval);
  positive('maxRecordsPerChannel', definition.maxRecordsPerChannel);
  positive('progressIntervalMs', definition.progressIntervalMs);
  return new JobRuntime<T>(definition);
}

/** `interval 1000 ms, ≤ 10000 records per channel, checkpoint /var/cp` */
function microBatchText(interval: number, perChannel: number | undefined, checkpoint: string | undefined): string {
  return `interval ${interval} ms${perChannel === undefined ? '' : `, ≤ ${perChannel} records per channel`}, checkpoint ${checkpoint ?? 'none (state in memory)'}`;
}

export function formatStages(stages: readonly JobStage[]): string[] {
  const width = Math.max(...stages.map((stage) => stage.operator.length));
  return stages.map((stage) => `  ${stage.operator.padEnd(width)}  ${stage.detail}`);
}

type Described = () => Promise<TunnelDescription>;

class JobRuntime<T> implements StreamJob {
  readonly name: string;
  readonly stages: readonly JobStage[];
  readonly done: Promise<JobSummary>;
  readonly progress: Observable<JobProgress>;
  readonly formatTime: (epochMs: number) => string;
  private readonly progressSubject: BehaviorSubject<JobProgress>;
  private readonly metrics = new StreamMetrics();
  private state: JobState = 'created';
  private resolveDone!: (summary: JobSummary) => void;
  private rejectDone!: (error: unknown) => void;
  private subscription: Subscription | undefined;
  private stopFeed: (() => void) | undefined;
  private releaseFeed: (() => void) | undefined;
  private readonly disposers: (() => void)[] = [];
  /** the extra idle condition of a custom feed */
  private feedControl: JobFeedControl | undefined;
  /** the tunnel client whose ShutdownTunnel has not been answered yet; stop() waits for it */
  private unreleasedClient: string | undefined;
  private onClientReleased: (() => void) | undefined;
  private poll: ReturnType<typeof setInterval> | undefined;
  private startedAt = 0;
  private lastRecordAt = 0;
  /** per open channel: whether its last read came back empty and caught up */
  private readonly caughtUp = new Map<string, boolean>();
  /**
   * per open channel, for `untilIdle`: `nextReadAfter`, the earliest moment its next read can start
   * (a channel has one read at a time: the next starts after the channel opened or the last read
   * came back; the tunnel's events say when a read ends, not when it starts), and `emptyReadAfter`,
   * that bound for the last read when it came back caught up and empty (else undefined)
   */
  private readonly reads = new Map<string, { readonly nextReadAfter: number; readonly emptyReadAfter: number | undefined }>();
  /**
   * Channels that finished and were not yet reported TERMINATED by a heartbeat, and channels the
   * last heartbeat gave this job that are not open yet: after a partition split the children
   * come with the heartbeat that reports the parent, so the tunnel is not drained before then.
   */
  private readonly finishedUnreported = new Set<string>();
  private assignedUnopened = new Set<string>();
  private stopRequested = false;
  /** untilIdle() was called: a feed of many workers stops taking freed channels once the job is drained */
  private idleWanted = false;
  private readonly clientIds = new Set<string>();
  private channels: readonly ChannelProgress[] = [];
  private latestRows: readonly OutputRow[] = [];
  private sinkKey: readonly string[] = [];
  private readonly lag = new ChannelLag();
  /** when each batch in flight was formed, for its latency */
  private readonly formedAt = new Map<number, number>();
  private readonly rate: { at: number; records: number }[] = [];
  private readonly pendingRows = new Map<number, readonly OutputRow[]>();
  private readonly clientTag: string;
  private lease: OwnerLease | undefined;
  private renewal: ReturnType<typeof setInterval> | undefined;
  private closeTransports: (() => void) | undefined;
  private replacementAnnounced = false;
  private partialRows = 0;
  private status: string | undefined;
  /**
   * A true private field: the definition holds the connection (access key secret among it), which
   * util.inspect and JSON.stringify of a job must not show.
   */
  readonly #definition: JobDefinition<T>;

  constructor(definition: JobDefinition<T>) {
    this.#definition = definition;
    this.name = definition.name;
    this.clientTag = `otsflow-${definition.name}`;
    this.formatTime = definition.formatTime ?? utcTime;
    const source = definition.source;
    const explain = definition.explain ?? {};
    this.stages = [
      { operator: 'tunnelSource', detail: explain.source ?? `${source.label ?? source.table}: ${'id' in source.tunnel ? `tunnel ${source.tunnel.id}` : `tunnel named ${source.tunnel.name}`} of ${source.table}` },
      { operator: 'microBatch', detail: explain.microBatch ?? microBatchText(this.interval(), definition.maxRecordsPerChannel, definition.checkpoint) },
      ...(explain.stages ?? [{ operator: 'operator', detail: 'the definition\'s chain' }]),
      { operator: 'commitAfter', detail: explain.sink ?? 'the sink; then checkpoint, then tunnel Checkpoint' },
    ];
    this.progressSubject = new BehaviorSubject<JobProgress>(this.snapshot());
    this.progress = this.progressSubject.asObservable();
    this.done = new Promise<JobSummary>((resolve, reject) => {
      this.resolveDone = resolve;
      this.rejectDone = reject;
    });
    // a failure is reported through `done`; do not let an unobserved one crash the process
    this.done.catch(() => undefined);
  }

  private now(): number {
    return (this.#definition.scheduler ?? asyncScheduler).now();
  }

  private interval(): number {
    return Math.max(1, this.#definition.interval ?? 1_000);
  }

  /** the single-consumer rules apply: aggregating, on one tunnel client */
  private get soleConsumer(): boolean {
    return this.#definition.aggregating === true && this.#definition.feed === undefined;
  }

  explain(): string {
    const header =
      this.#definition.explain?.header ?? `StreamJob ${this.name} (${this.#definition.aggregating === true ? 'aggregating: single worker' : 'stateless: workers may share the tunnel'})`;
    return [header, ...formatStages(this.stages)].join('\n');
  }

  private snapshot(error?: string): JobProgress {
    const now = this.now();
    while (this.rate.length > 0 && now - (this.rate[0] as { at: number }).at > 5_000) this.rate.shift();
    const records = this.rate.reduce((sum, entry) => sum + entry.records, 0);
    const span = this.rate.length === 0 ? 1 : Math.max(1, now - (this.rate[0] as { at: number }).at) / 1000;
    return {
      job: this.name,
      state: this.state,
      metrics: this.metrics.snapshot(),
      recordsPerSecond: this.rate.length === 0 ? 0 : Math.round(records / Math.max(span, 1)),
      channels: withLag(this.channels, this.lag.snapshot()),
      ...(this.status === undefined ? {} : { status: this.status }),
      latestRows: this.latestRows,
      sinkKey: this.sinkKey,
      ...(error === undefined ? {} : { error }),
    };
  }

  private publish(error?: string): void {
    this.progressSubject.next(this.snapshot(error));
  }

  private log(level: 'info' | 'warn', message: string): void {
    this.#definition.onLog?.(level, `job ${this.name}: ${message}`);
  }

  private logLate(prefix: string, batchId: number): void {
    const late = this.metrics.takeLate(batchId);
    if (late.length > 0) this.log('info', `${prefix}: ${lateText(late, this.formatTime)}`);
  }

  start(): void {
    if (this.state !== 'created') return;
    this.state = 'starting';
    this.startedAt = this.now();
    this.publish();
    this.run().catch((error: unknown) => this.fail(error));
  }

  private async run(): Promise<void> {
    const definition = this.#definition;
    const source = definition.source;
    const sourceConnection: JobConnection = typeof source.connection === 'function' ? await source.connection() : source.connection;
    const credentials = { accessKeyId: sourceConnection.accessKeyId, accessKeySecret: sourceConnection.accessKeySecret, ...(sourceConnection.securityToken === undefined ? {} : { securityToken: sourceConnection.securityToken }) };
    const transport = createHttpTransport({ endpoint: sourceConnection.endpoint, instance: sourceConnection.instanceName, credentials, requestTimeoutMs: 30_000 });
    // the progress poll doubles as the reachability probe: no retries, a short timeout
    const probeTransport = createHttpTransport({ endpoint: sourceConnection.endpoint, instance: sourceConnection.instanceName, credentials, requestTimeoutMs: 5_000 });
    this.closeTransports = () => {
      transport.close();
      probeTransport.close();
    };
    const control = tunnelControl(transport);
    const probeControl = tunnelControl(probeTransport, { retry: { ...DEFAULT_REQUEST_RETRY, maxElapsedMs: 0 } });
    const tableName = source.table;
    const location = definition.checkpoint;
    const describeWith = async (using: typeof control): Promise<TunnelDescription> => {
      const ref = source.tunnel;
      let tunnelName: string;
      if ('name' in ref) tunnelName = ref.name;
      else {
        const listed = await using.listTunnels(tableName);
        if (E.isLeft(listed)) throw new DescribeError(`cannot list the tunnels of ${tableName}: ${listed.left.message}`, listed.left);
        const found = listed.right.find((summary) => summary.tunnelId === ref.id);
        const replaced = found === undefined && location !== undefined ? replacedTunnel(location, ref.id) : undefined;
        if (found === undefined && replaced === undefined) throw new Error(`tunnel ${ref.id} does not exist on table ${tableName} (otsflow tunnel list --table ${tableName} shows its tunnels)`);
        if (found === undefined && replaced !== undefined && !this.replacementAnnounced) {
          this.replacementAnnounced = true;
          this.log('warn', `tunnel ${ref.id} was recreated by --reset as ${replaced.tunnelId} (name ${replaced.tunnelName}, recorded in ${location}); reading that one — put tunnel.id="${replaced.tunnelId}" in the SQL`);
        }
        tunnelName = found?.tunnelName ?? (replaced as { tunnelName: string }).tunnelName;
      }
      const described = await using.describeTunnel(tableName, tunnelName);
      if (E.isLeft(described)) throw new DescribeError(`cannot describe tunnel ${tunnelName} of ${tableName}: ${described.left.message}`, described.left);
      return described.right;
    };
    const describe = (): Promise<TunnelDescription> => describeWith(control);
    const probe = (): Promise<TunnelDescription> => describeWith(probeControl);
    let description = await describe();
    let lostCheckpoint: LostCheckpoint | undefined;
    // a custom feed (workers sharing the tunnel, state in a table) coordinates itself: no single-consumer checks
    if (this.soleConsumer) {
      const start = this.startContext();
      if (location !== undefined) {
        const { shut, lease } = await takeOverFromDeadPredecessor(start, location, description, transport);
        this.lease = lease;
        this.renewal = setInterval(() => this.renewLease(), OWNER_RENEW_MS);
        this.renewal.unref?.();
        if (shut) description = await describe();
        if (this.stopRequested) {
          this.finish();
          return;
        }
        lostCheckpoint = await checkLostCheckpoint(start, location, description);
      }
      checkSoleConsumer(start, description, true);
      await outwaitEarlierRuns(start, description, describe);
      if (lostCheckpoint !== undefined && definition.lostCheckpoint === 'reset' && !this.stopRequested) {
        description = await resetTunnel(start, location as string, await describe(), control);
      }
    }
    if (this.stopRequested) {
      this.finish();
      return;
    }

    const sink: JobSink<T> = typeof definition.sink === 'function' ? await definition.sink() : definition.sink;
    if (sink.open !== undefined) await firstValueFrom(from(sink.open()), { defaultValue: undefined });
    this.sinkKey = sink.keyColumns ?? [];

    if (definition.feed !== undefined) {
      this.feedControl = await definition.feed.run(this.feedContext({ sourceConnection, credentials, tunnelId: description.tunnel.tunnelId, probe }));
      return;
    }
    const tunnelOptions: TunnelOptions = {
      endpoint: sourceConnection.endpoint,
      instance: sourceConnection.instanceName,
      credentials,
      tunnelId: description.tunnel.tunnelId,
      clientTag: this.clientTag,
      // a job's restarts resume from its own checkpoint (stateless ones from the tunnel's, at least
      // once): one Checkpoint call may cover a channel's acknowledgements of 100 ms
      checkpointCoalesceMs: JOB_CHECKPOINT_COALESCE_MS,
      ...(definition.tunnel ?? {}),
      onEvent: (event) => this.onTunnelEvent(event),
    };
    const aggregating = definition.aggregating === true;
    const feed = stoppable(
      channelBatchSource(
        (startTokens, onEvent) =>
          tunnel({
            ...tunnelOptions,
            ...(startTokens === undefined ? {} : { startTokens }),
            // the channel notes of event time (tunnel-source.ts) ride on the client's events
            onEvent: (event) => {
              this.onTunnelEvent(event);
              onEvent?.(event);
            },
          }).pipe(
            tap((batch: ChannelBatch) => this.noteRecords(batch.records.length)),
            trackChannelLag({ lag: this.lag }),
          ),
        // an aggregating job is its channels' sole consumer: a lost session resumes where it read
        { reopen: aggregating ? 'resume' : 'checkpoint' },
      ),
    );
    this.stopFeed = () => feed.stop();
    this.releaseFeed = () => feed.release();
    // stop() while connecting: the feed ends at once, the job completes after it opened
    if (this.stopRequested) feed.stop();
    // --at-least-once after a lost checkpoint: a sink row that exists already got records the lost run consumed
    const earlierRows = lostCheckpoint !== undefined && definition.lostCheckpoint === 'at-least-once' && sink.existingKeys !== undefined ? new Set(await sink.existingKeys()) : undefined;
    const keyColumns = this.sinkKey;
    const keyOf = (row: OutputRow): string => keyColumns.map((column) => String(row[column])).join('\u0000');
    const retry: RetryOptions = definition.sinkRetry ?? {};

    if (this.state === 'starting') this.state = 'running';
    this.log('info', `reading ${source.label ?? tableName} (tunnel ${description.tunnel.tunnelId})${definition.sinkLabel === undefined ? '' : `, writing ${definition.sinkLabel}`}`);
    this.subscription = feed.source
      .pipe(
        microBatch({
          interval: this.interval(),
          ...(definition.maxRecordsPerChannel === undefined ? {} : { maxRecordsPerChannel: definition.maxRecordsPerChannel }),
          metrics: this.metrics,
          // stateless jobs share their tunnel: channels come and go between workers
          positionJumps: aggregating ? 'error' : 'follow',
          ...(location === undefined ? {} : { checkpoint: location }),
        }),
        tap((batch: RecordBatch<ChangeRecord>) => this.formedAt.set(batch.id, this.now())),
        definition.operator,
        tap((batch: MicroBatch<readonly T[] | RowTable>) => {
          const rows = outputRows(batch.rows);
          if (earlierRows !== undefined && lostCheckpoint !== undefined) {
            for (const row of rows.all()) {
              const key = keyOf(row);
              if (!earlierRows.has(key)) continue;
              earlierRows.delete(key);
              this.partialRows++;
              this.log('warn', `partial row: ${definition.sinkLabel ?? 'the sink'} (${keyColumns.map((column) => `${column}=${String(row[column])}`).join(', ')}) is rewritten without the records consumed before the lost checkpoint (tunnel progress up to ${lostCheckpoint.upTo})`);
            }
          }
          // the last rows of each batch's output, as row objects for the live view only
          this.pendingRows.set(batch.id, rows.last(LATEST_ROWS));
        }),
        commitAfter(sink, { retry }),
      )
      .subscribe({
        next: (committed) => {
          const rows = this.pendingRows.get(committed.batchId);
          this.pendingRows.delete(committed.batchId);
          if (rows !== undefined && rows.length > 0) this.latestRows = rows;
          const formed = this.formedAt.get(committed.batchId);
          this.formedAt.delete(committed.batchId);
          if (formed !== undefined) this.metrics.noteBatchLatency(this.now() - formed);
          this.logLate(`batch ${committed.batchId}`, committed.batchId);
          if (committed.batchId === 0 || this.metrics.snapshot().batchesCommitted === 1) this.announceStart();
          this.publish();
        },
        error: (error: unknown) => {
          this.closeTransports?.();
          this.fail(error);
        },
        complete: () => {
          this.closeTransports?.();
          void Promise.resolve(sink.close === undefined ? undefined : firstValueFrom(from(sink.close()), { defaultValue: undefined })).finally(() => this.finish());
        },
      });
    this.announceStart();
    // once connected, a client of this job's tag holding channels is a second copy of the job
    this.startPolling(probe, sourceConnection.endpoint, (described) => {
      if (this.soleConsumer) checkSoleConsumer(this.startContext(), described);
    });
  }

  /** DescribeTunnel every progress interval (channels, other consumers, reachability), and the unreachable-endpoint watch. */
  private startPolling(probe: Described, endpoint: string, then?: (described: TunnelDescription) => ChannelDecoration | void): void {
    this.poll = setInterval(() => {
      probe()
        .then((described) => {
          this.reached();
          this.channels = channelProgress(described);
          const decorated = then?.(described);
          if (decorated !== undefined) this.channels = decorated(this.channels);
          this.publish();
        })
        .catch((error: unknown) => {
          if (error instanceof SoleConsumerError) this.fail(error);
          else if (error instanceof DescribeError && error.cause instanceof TransportError) this.unreachable(error.cause);
        });
    }, this.#definition.progressIntervalMs ?? 2_000);
    this.poll.unref?.();
    this.watch = setInterval(() => this.warnIfUnreachable(endpoint), 1_000);
    this.watch.unref?.();
  }

  /** The job's machinery for a custom feed (definition.feed). */
  private feedContext(context: { sourceConnection: JobConnection; credentials: TunnelOptions['credentials']; tunnelId: string; probe: Described }): JobFeedContext {
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    const job = this;
    const definition = this.#definition;
    return {
      name: this.name,
      clientTag: this.clientTag,
      metrics: this.metrics,
      interval: this.interval(),
      maxRecordsPerChannel: definition.maxRecordsPerChannel,
      tuning: definition.tunnel ?? {},
      sinkRetry: definition.sinkRetry,
      connection: context.sourceConnection,
      credentials: context.credentials,
      tunnelId: context.tunnelId,
      keyColumns: this.sinkKey,
      get stopRequested() {
        return job.stopRequested;
      },
      get idleWanted() {
        return job.idleWanted;
      },
      locallyDrained: () => this.locallyDrained(),
      formatTime: this.formatTime,
      log: (level, message) => this.log(level, message),
      logLate: (prefix, batchId) => this.logLate(prefix, batchId),
      showRows: (rows) => {
        this.latestRows = rows;
      },
      publish: () => this.publish(),
      running: () => {
        if (this.state === 'starting') this.state = 'running';
      },
      fail: (error) => this.fail(error),
      finish: () => this.finish(),
      onTunnelEvent: (event) => this.onTunnelEvent(event),
      noteRecords: (count) => this.noteRecords(count),
      onStop: (stop) => {
        this.stopFeed = stop;
        if (this.stopRequested) stop();
      },
      onDispose: (dispose) => {
        // a job that ended while the feed was starting disposes what the feed adds at once
        if (this.state === 'failed' || this.state === 'stopped') dispose();
        else this.disposers.push(dispose);
      },
      pollTunnel: (then) => this.startPolling(context.probe, context.sourceConnection.endpoint, then),
    };
  }

  // ------------------------------------------------------------ reachability

  private unreachableSince: number | undefined;
  private unreachableReason = '';
  private lastUnreachableWarning = 0;
  private watch: ReturnType<typeof setInterval> | undefined;

  private unreachable(error: TransportError): void {
    this.unreachableSince ??= this.now();
    this.unreachableReason = error.message === '' ? error.code : error.message;
  }

  private reached(): void {
    if (this.unreachableSince === undefined) return;
    const since = this.unreachableSince;
    this.unreachableSince = undefined;
    this.status = undefined;
    if (this.lastUnreachableWarning !== 0) this.log('info', `reached the endpoint again after ${Math.round((this.now() - since) / 1000)} s`);
    this.lastUnreachableWarning = 0;
  }

  /** a warning once the endpoint has failed for 2 s, then every 30 s while it lasts; the live view says so throughout */
  private warnIfUnreachable(endpoint: string): void {
    if (this.unreachableSince === undefined || this.state !== 'running') return;
    const now = this.now();
    const metrics = this.metrics.snapshot();
    const pending = Math.max(0, metrics.batches - metrics.batchesCommitted);
    this.status = `cannot reach ${endpoint}: ${this.unreachableReason}; retrying for ${Math.round((now - this.unreachableSince) / 1000)} s, ${pending} batch${pending === 1 ? '' : 'es'} pending`;
    if (now - this.unreachableSince >= UNREACHABLE_WARN_AFTER_MS && (this.lastUnreachableWarning === 0 || now - this.lastUnreachableWarning >= UNREACHABLE_WARN_EVERY_MS)) {
      this.lastUnreachableWarning = now;
      this.log('warn', `cannot reach ${endpoint}: ${this.unreachableReason}; retrying, ${pending} batch${pending === 1 ? '' : 'es'} pending`);
    }
    this.publish();
  }

  // ------------------------------------------------------------ restarts (sole-consumer.ts)

  private startContext(): StartContext {
    const definition = this.#definition;
    return {
      name: this.name,
      clientTag: this.clientTag,
      clientIds: this.clientIds,
      lostCheckpoint: definition.lostCheckpoint,
      partialRowsUnnamed: definition.partialRowsUnnamed,
      heartbeatTimeoutMs: definition.tunnel?.heartbeatTimeoutMs ?? DEFAULT_HEARTBEAT_TIMEOUT_MS,
      log: (level, message) => this.log(level, message),
      now: () => this.now(),
      stopRequested: () => this.stopRequested,
    };
  }

  private renewLease(): void {
    const lease = this.lease;
    if (lease === undefined || this.state === 'stopped' || this.state === 'failed') return;
    const renewed = lease.renew();
    if (renewed.kind === 'taken') {
      this.fail(new SoleConsumerError(`another run of job ${this.name} took over checkpoint location ${lease.location} (${describeOwner(renewed.by)}): this run stops`));
    }
  }

  private announced = false;
  private announceStart(): void {
    if (this.announced) return;
    const restored = this.metrics.snapshot().restoredFrom;
    if (restored === undefined) return;
    this.announced = true;
    const location = this.#definition.checkpoint;
    const aggregating = this.#definition.aggregating === true;
    if (location === undefined && !aggregating) this.log('info', "no checkpointLocation: resuming from the tunnel's checkpoints (a re-delivered record rewrites the same sink row)");
    else if (location === undefined) this.log('warn', 'no checkpointLocation: the aggregation state lives in memory only and a restart starts from the tunnel checkpoints');
    else if (restored === 'fresh') this.log('info', `starting fresh (no checkpoint in ${location})`);
    else this.log('info', `resuming after batch ${restored} from ${location}`);
  }

  private onTunnelEvent(event: TunnelEvent): void {
    if (event.kind === 'shutdown' && event.clientId === this.unreleasedClient) {
      this.unreleasedClient = undefined;
      this.onClientReleased?.();
    }
    if (event.kind === 'connected') {
      this.unreleasedClient = event.clientId;
      this.clientIds.add(event.clientId);
      // a new tunnel client reports nothing of the old one's channels: what it is given comes with
      // its heartbeats (assignedUnopened), so a finish the old client never reported waits no more
      this.finishedUnreported.clear();
      // before this client's first heartbeat (the worker starts it on a timer): a kill from here on
      // leaves a record that lets the next run shut the client down
      this.lease?.addClient(event.clientId);
    }
    this.lag.onEvent(event);
    if (event.kind === 'heartbeat' || event.kind === 'read') this.reached();
    if (event.kind === 'request-retry' && event.error instanceof TransportError) this.unreachable(event.error);
    if (event.kind === 'channel-opened') {
      this.caughtUp.set(event.channelId, false);
      this.reads.set(event.channelId, { nextReadAfter: this.now(), emptyReadAfter: undefined });
      this.assignedUnopened.delete(event.channelId);
    }
    if (event.kind === 'channel-closed') {
      this.caughtUp.delete(event.channelId);
      this.reads.delete(event.channelId);
      if (event.reason === 'finished') this.finishedUnreported.add(event.channelId);
    }
    if (event.kind === 'read') {
      const empty = event.caughtUp && event.records === 0;
      this.caughtUp.set(event.channelId, empty);
      const now = this.now();
      const started = this.reads.get(event.channelId)?.nextReadAfter ?? now;
      this.reads.set(event.channelId, { nextReadAfter: now, emptyReadAfter: empty ? started : undefined });
    }
    if (event.kind === 'heartbeat') {
      for (const channel of event.sent) if (channel.status === 'TERMINATED') this.finishedUnreported.delete(channel.channelId);
      this.assignedUnopened = new Set(event.received.filter((channel) => channel.status === 'OPEN' && !this.caughtUp.has(channel.channelId)).map((channel) => channel.channelId));
    }
  }

  private noteRecords(count: number): void {
    if (count === 0) return;
    const now = this.now();
    this.lastRecordAt = now;
    this.rate.push({ at: now, records: count });
  }

  /** every channel this process reads is caught up, every batch committed */
  private locallyDrained(): boolean {
    const metrics = this.metrics.snapshot();
    return [...this.caughtUp.values()].every((caughtUp) => caughtUp) && this.finishedUnreported.size === 0 && this.assignedUnopened.size === 0 && metrics.batches === metrics.batchesCommitted;
  }

  /**
   * Every channel this process reads came back caught up and empty from its last read, which
   * started after `calledAt`: a record written to the channel before then was in that read or an
   * earlier one.
   */
  private readSince(calledAt: number): boolean {
    for (const { emptyReadAfter } of this.reads.values()) if (emptyReadAfter === undefined || emptyReadAfter <= calledAt) return false;
    return true;
  }

  /**
   * Resolves once the feed has been quiet for `idleMs` and everything is committed — and every
   * channel this process reads was found empty by a read that started after this call, so what was
   * written before the call is in the sink. The tunnel says when a read ends, not when it starts:
   * the first read to end after the call may have started before it, so with the default read
   * backoff (an idle channel is read every 5 s) this takes up to two such rounds, however short
   * `idleMs` is.
   */
  untilIdle(idleMs: number): Promise<void> {
    this.idleWanted = true;
    const calledAt = this.now();
    return new Promise<void>((resolve, reject) => {
      const timer = setInterval(() => {
        if (this.state === 'failed') {
          clearInterval(timer);
          reject(new JobError(this.name, 'failed before it became idle'));
          return;
        }
        if (this.state === 'stopped') {
          clearInterval(timer);
          resolve();
          return;
        }
        if (this.state !== 'running' || (this.caughtUp.size === 0 && this.feedControl?.drained === undefined)) return;
        const quietSince = Math.max(this.lastRecordAt, this.startedAt);
        let drained = this.locallyDrained() && this.readSince(calledAt);
        // a custom feed's own condition: e.g. one of many workers waits until every channel of the
        // tunnel is caught up and committed wherever it is held
        if (this.feedControl?.drained !== undefined) drained &&= this.feedControl.drained();
        if (drained && this.now() - quietSince >= idleMs) {
          clearInterval(timer);
          resolve();
        }
      }, IDLE_POLL_MS);
    });
  }

  async stop(): Promise<JobSummary> {
    this.stopRequested = true;
    if (this.state === 'created') {
      this.state = 'stopped';
      this.resolveDone(this.summary());
    } else if (this.state === 'running' || this.state === 'starting') {
      this.state = 'stopping';
      this.publish();
      this.stopFeed?.();
    }
    return this.done;
  }

  private summary(): JobSummary {
    const metrics = this.metrics.snapshot();
    return {
      job: this.name,
      batchesCommitted: metrics.batchesCommitted,
      recordsIn: metrics.recordsIn,
      rowsWritten: metrics.rowsWritten,
      lateRows: metrics.lateRows,
      lateWindows: metrics.lateWindows,
      badRows: metrics.badRows,
      typeMismatches: metrics.typeMismatches,
      typeMismatchesByColumn: metrics.typeMismatchesByColumn,
      durationMs: this.startedAt === 0 ? 0 : this.now() - this.startedAt,
      restoredFrom: metrics.restoredFrom,
      ...(this.partialRows === 0 ? {} : { partialRows: this.partialRows }),
    };
  }

  private cleanup(): void {
    for (const dispose of this.disposers.splice(0)) dispose();
    if (this.poll !== undefined) clearInterval(this.poll);
    this.poll = undefined;
    if (this.watch !== undefined) clearInterval(this.watch);
    this.watch = undefined;
    if (this.renewal !== undefined) clearInterval(this.renewal);
    this.renewal = undefined;
    this.lease?.release();
    this.closeTransports?.();
    this.releaseFeed?.();
    this.subscription?.unsubscribe();
  }

  /** Resolves once the last tunnel client's ShutdownTunnel was answered (or failed), at most after `timeoutMs`. */
  private clientReleased(timeoutMs: number): Promise<void> {
    if (this.unreleasedClient === undefined) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, timeoutMs);
      this.onClientReleased = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }

  private finish(): void {
    if (this.state === 'stopped' || this.state === 'failed') return;
    this.cleanup();
    this.state = 'stopped';
    const summary = this.summary();
    this.publish();
    this.progressSubject.complete();
    this.log('info', `stopped after ${summary.batchesCommitted} batches, ${summary.recordsIn} records in, ${summary.rowsWritten} rows written`);
    // done (and stop()) once the tunnel is shut down too: the caller may close the endpoint next
    // (`otsflow sql` closes its embedded emulator), which would leave the channels leased
    void this.clientReleased(RELEASE_WAIT_MS).then(() => this.resolveDone(summary));
  }

  private fail(error: unknown): void {
    if (this.state === 'stopped' || this.state === 'failed') return;
    this.cleanup();
    this.state = 'failed';
    const message = error instanceof Error ? error.message : String(error);
    this.publish(message);
    this.progressSubject.complete();
    this.rejectDone(error instanceof JobError ? error : new JobError(this.name, message, error));
  }
}

/** a batch's output, rows or a table, as row objects on demand */
function outputRows(rows: readonly unknown[] | RowTable): { all(): readonly OutputRow[]; last(n: number): readonly OutputRow[] } {
  if (Array.isArray(rows)) {
    const list = rows as readonly OutputRow[];
    return { all: () => list, last: (n) => list.slice(Math.max(0, list.length - n)) };
  }
  const table = rows as RowTable;
  return { all: () => rowsBetween(table, 0, table.length), last: (n) => rowsBetween(table, table.length - n, table.length) };
}

function channelProgress(described: TunnelDescription): ChannelProgress[] {
  return described.channels.map((channel) => ({
    channelId: channel.channelId,
    ...(channel.status === undefined ? {} : { status: channel.status }),
    ...(channel.clientId === undefined ? {} : { clientId: channel.clientId }),
    ...(channel.rpoTime === undefined ? {} : { rpoTime: channel.rpoTime }),
    ...(channel.count === undefined ? {} : { count: channel.count }),
  }));
}

/** DescribeTunnel's channels with this job's lag on those it reads (and those Describe did not list yet). */
function withLag(described: readonly ChannelProgress[], lags: readonly ChannelLagSnapshot[]): readonly ChannelProgress[] {
  if (lags.length === 0) return described;
  const byId = new Map(lags.map((lag) => [lag.channelId, lag]));
  const lagOf = (lag: ChannelLagSnapshot) => ({ lagRecords: lag.records, more: lag.more, ...(lag.seconds === undefined ? {} : { lagMs: lag.seconds * 1000 }) });
  const merged: ChannelProgress[] = described.map((channel) => {
    const lag = byId.get(channel.channelId);
    byId.delete(channel.channelId);
    return lag === undefined ? channel : { ...channel, ...lagOf(lag) };
  });
  // before DescribeTunnel lists it: the status this job's client knows
  for (const lag of byId.values()) merged.push({ channelId: lag.channelId, ...(lag.open ? { status: 'OPEN' } : {}), ...lagOf(lag) });
  return merged;
}
