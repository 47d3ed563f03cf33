/**
 * What a running stream job is and says, whoever built its operator chain (by hand, or compiled
 * from SQL): the definition `runJob` takes, the `StreamJob` it returns, its progress and summary.
 * The types live in the stream layer so the SQL planner, the CLI and a user's own pipeline share
 * them; the implementations of sinks and planners are passed in (layers import only downwards).
 */
import type { Observable, ObservableInput, OperatorFunction, SchedulerLike } from 'rxjs';
import type { ChangeRecord } from '../../wire/types.js';
import type { TunnelDescription } from '../../tunnel/control.js';
import type { TunnelOptions, TunnelEvent } from '../../tunnel/index.js';
import type { RetryOptions } from '../../tunnel/backoff.js';
import type { MicroBatch, RecordBatch } from '../batch.js';
import type { LateWindow, MetricsSnapshot, StreamMetrics } from '../metrics.js';
import type { Sink } from '../sink.js';
import type { OutputRow, RowTable } from '../table.js';

/** Where a job reads: a Tablestore endpoint (the sinks' `TableConnection` has the same shape). */
export interface JobConnection {
  readonly endpoint: string;
  readonly instanceName: string;
  readonly accessKeyId: string;
  readonly accessKeySecret: string;
  readonly securityToken?: string;
}

/** Tunnel worker settings a job may tune (tests shorten heartbeats; defaults are the Go/Java SDKs'). */
export type TunnelTuning = Partial<
  Pick<TunnelOptions, 'heartbeatIntervalMs' | 'heartbeatTimeoutMs' | 'readBackoff' | 'requestRetry' | 'reconnectBackoff' | 'maxInFlightBatchesPerChannel' | 'requestTimeoutMs' | 'closingDrainTimeoutMs' | 'checkpointCoalesceMs'>
>;

/** One step of a job's chain, as EXPLAIN shows it. */
export interface JobStage {
  readonly operator: string;
  readonly detail: string;
}

/**
 * The job's sink: the stream layer's `Sink`, plus what a runtime may ask of it.
 *
 * - `open()`, when present, runs before the first batch (e.g. describes the target table and
 *   refuses a catalog that does not fit); after it, `keyColumns` names the columns that identify
 *   a row (the live view keeps one row per key).
 * - `existingKeys()`, when present, lists the keys of the rows the target holds now (key values
 *   as `String()`, joined by `\u0000`): after a lost checkpoint with `lostCheckpoint:
 *   'at-least-once'`, each such row rewritten is named in the log as partial.
 */
export interface JobSink<T = OutputRow> extends Sink<T> {
  open?(): ObservableInput<unknown>;
  existingKeys?(): Promise<ReadonlySet<string>>;
}

/** What a pipeline needs to run as a job. */
export interface JobDefinition<T = OutputRow> {
  /** the job's name: log lines, metrics labels, the tunnel client tag `otsflow-<name>` */
  readonly name: string;
  readonly source: {
    /** the endpoint, or a function giving it when the job starts (e.g. an emulator started on demand) */
    readonly connection: JobConnection | (() => Promise<JobConnection>);
    /** the table the tunnel belongs to */
    readonly table: string;
    readonly tunnel: { readonly id: string } | { readonly name: string };
    /** how the job names its source in logs (default the table's name) */
    readonly label?: string;
  };
  /** where the checkpoint lives (a directory); none: state in memory, resume from the tunnel's checkpoints */
  readonly checkpoint?: string;
  /**
   * the chain keeps state across batches (windows, groups): the job must be its tunnel's only
   * consumer (checked at start and while it runs), claims its checkpoint location (owner lease),
   * and a lost checkpoint location is refused unless `lostCheckpoint` says what to do
   */
  readonly aggregating?: boolean;
  /** micro-batch interval in ms (default 1000) */
  readonly interval?: number;
  /** at most this many records per channel in one batch (default: microBatch's) */
  readonly maxRecordsPerChannel?: number;
  /** the chain between `microBatch` and `commitAfter`: a batch of change records → the batch's output, as rows or a table */
  readonly operator: OperatorFunction<RecordBatch<ChangeRecord>, MicroBatch<readonly T[] | RowTable>>;
  /** the sink, or a function giving it when the job starts */
  readonly sink: JobSink<T> | (() => Promise<JobSink<T>>);
  /** how the job names its sink in logs (e.g. the table's name) */
  readonly sinkLabel?: string;
  readonly tunnel?: TunnelTuning;
  /** retries of a failed sink write before the job fails (default: 8 attempts, 100 ms doubling) */
  readonly sinkRetry?: RetryOptions;
  /** how often a running job polls DescribeTunnel for lag (and for other consumers); default 2000 ms */
  readonly progressIntervalMs?: number;
  /**
   * An aggregating job whose checkpoint location holds no state while its tunnel shows progress
   * committed earlier (the location was lost): by default it stops with one line saying so.
   * 'reset': recreate the tunnel (same name and type, from the start of its retention) and
   * recompute; 'at-least-once': resume from the tunnel's checkpoints with empty state, naming each
   * sink row that is rewritten partial (the sink's `existingKeys`).
   */
  readonly lostCheckpoint?: 'reset' | 'at-least-once';
  /** why partial rows cannot be named for this chain (e.g. rows written only once a window closes): --at-least-once is refused with it */
  readonly partialRowsUnnamed?: string;
  /** what the job has to say (start, resume, warnings, late rows, stop) */
  readonly onLog?: (level: 'info' | 'warn', message: string) => void;
  /** times in messages (late windows): default `YYYY-MM-DD HH:MM:SS` in UTC */
  readonly formatTime?: (epochMs: number) => string;
  /** EXPLAIN: the chain's stages (between microBatch and commitAfter) and, optionally, other texts */
  readonly explain?: { readonly header?: string; readonly stages?: readonly JobStage[]; readonly source?: string; readonly microBatch?: string; readonly sink?: string };
  /** runs the feed itself instead of one tunnel client → microBatch → operator → commitAfter (see JobFeed) */
  readonly feed?: JobFeed;
  /** the clock of progress, latency and idleness (default: asyncScheduler, i.e. the wall clock) */
  readonly scheduler?: SchedulerLike;
}

/**
 * A feed a job runs instead of its single tunnel client (a job spread over many workers reads
 * and commits per channel). It gets the job's machinery — progress, logs, tunnel events, stop —
 * so the job's progress, summary, `untilIdle` and graceful stop are the same. The sole-consumer
 * check and the owner lease do not apply: such a feed coordinates its workers itself.
 */
export interface JobFeed {
  run(context: JobFeedContext): Promise<JobFeedControl>;
}

export interface JobFeedControl {
  /** an extra condition of `untilIdle` (e.g. this worker holds every channel of the tunnel) */
  readonly drained?: () => boolean;
}

export interface JobFeedContext {
  readonly name: string;
  /** `otsflow-<name>`: the tunnel client tag */
  readonly clientTag: string;
  readonly metrics: StreamMetrics;
  readonly interval: number;
  readonly maxRecordsPerChannel: number | undefined;
  readonly tuning: TunnelTuning;
  readonly sinkRetry: RetryOptions | undefined;
  readonly connection: JobConnection;
  readonly credentials: TunnelOptions['credentials'];
  readonly tunnelId: string;
  /** the sink's key columns (after its open) */
  readonly keyColumns: readonly string[];
  /** stop() was called */
  readonly stopRequested: boolean;
  /** untilIdle() was called */
  readonly idleWanted: boolean;
  /** every channel this process reads is caught up, every batch committed */
  locallyDrained(): boolean;
  readonly formatTime: (epochMs: number) => string;
  log(level: 'info' | 'warn', message: string): void;
  /** late rows of the committed batch, logged `<prefix>: 3 late rows dropped (…)` */
  logLate(prefix: string, batchId: number): void;
  /** the rows the last committed batch wrote, for the live view */
  showRows(rows: readonly OutputRow[]): void;
  publish(): void;
  /** the feed is connected: the job's state becomes running */
  running(): void;
  fail(error: unknown): void;
  /** the feed ended after stop(): the job stops */
  finish(): void;
  onTunnelEvent(event: TunnelEvent): void;
  noteRecords(count: number): void;
  /** how stop() ends the feed gracefully */
  onStop(stop: () => void): void;
  /** released when the job ends (stopped or failed) */
  onDispose(dispose: () => void): void;
  /**
   * polls DescribeTunnel every progress interval (channels, lag, reachability), `then` after each
   * answer; what `then` returns may add to the channels the progress shows (e.g. their worker)
   */
  pollTunnel(then?: (described: TunnelDescription) => ChannelDecoration | void): void;
}

/** adds to the channels of a job's progress what only a feed knows */
export type ChannelDecoration = (channels: readonly ChannelProgress[]) => readonly ChannelProgress[];

export interface ChannelProgress {
  readonly channelId: string;
  readonly status?: string;
  readonly clientId?: string;
  /** consumed up to this time (the tunnel's RPO) */
  readonly rpoTime?: Date;
  /**
   * how far behind this job is on the channel (stream/channel-lag.ts): now − the commit time of
   * the oldest record it read and has not committed, 0 once all is committed and caught up
   */
  readonly lagMs?: number;
  /** records read and not committed yet (channels this job reads) */
  readonly lagRecords?: number;
  /** the channel's last read filled a response: the service holds more than was read */
  readonly more?: boolean;
  readonly count?: bigint;
  /** the worker that holds it (`<host> pid <pid>`), for a job spread over many workers */
  readonly worker?: string;
}

export type JobState = 'created' | 'starting' | 'running' | 'stopping' | 'stopped' | 'failed';

export interface JobProgress {
  readonly job: string;
  readonly state: JobState;
  readonly metrics: MetricsSnapshot;
  /** records per second over the last few seconds */
  readonly recordsPerSecond: number;
  readonly channels: readonly ChannelProgress[];
  /** trouble the job is riding out, e.g. `cannot reach http://…: connect ECONNREFUSED …; retrying for 12 s` */
  readonly status?: string;
  /** the rows the last committed batch wrote (sink column names), at most 500 */
  readonly latestRows: readonly OutputRow[];
  /** the sink's primary key columns: a live view keeps one row per key (empty before the sink is open) */
  readonly sinkKey: readonly string[];
  readonly error?: string;
}

export interface JobSummary {
  readonly job: string;
  readonly batchesCommitted: number;
  readonly recordsIn: number;
  readonly rowsWritten: number;
  readonly lateRows: number;
  /** late rows dropped per window (the latest 1,000 windows with any), by window start */
  readonly lateWindows: readonly LateWindow[];
  readonly badRows: number;
  /** attribute values of the wrong type read as null (EMR's rule; catalog.type.mismatch='null') */
  readonly typeMismatches: number;
  readonly typeMismatchesByColumn: Readonly<Record<string, number>>;
  readonly durationMs: number;
  readonly restoredFrom: 'fresh' | number | undefined;
  /** sink rows rewritten without the records of a lost checkpoint (lostCheckpoint 'at-least-once') */
  readonly partialRows?: number;
}

export interface StreamJob {
  readonly name: string;
  readonly stages: readonly JobStage[];
  explain(): string;
  /** connects and runs until stop() or a failure; idempotent */
  start(): void;
  /** graceful: the last batch is committed and acknowledged, the tunnel shut down */
  stop(): Promise<JobSummary>;
  /**
   * resolves once the feed is drained: every open channel's last read came back empty and caught
   * up, no record arrived for `idleMs`, and every batch is committed — that last read having
   * started after this call, so every record written before the call is committed (an idle
   * channel is read every 5 s with the default read backoff: expect up to two such rounds after
   * the call, whatever `idleMs`)
   */
  untilIdle(idleMs: number): Promise<void>;
  readonly progress: Observable<JobProgress>;
  /** resolves when the job stopped; rejects with a JobError when it failed */
  readonly done: Promise<JobSummary>;
  /** how this job writes times (late windows) in its messages */
  readonly formatTime: (epochMs: number) => string;
}

export class JobError extends Error {
  override readonly name = 'JobError';
  constructor(
    readonly job: string,
    message: string,
    override readonly cause?: unknown,
  ) {
    super(`job ${job}: ${message}`);
  }
}
