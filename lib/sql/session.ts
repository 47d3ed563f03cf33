/**
 * Running analyzed statements: the SQL session's runtime. DDL only changes the session catalog
 * (done at analysis); a batch SELECT / INSERT reads its table through the official SDK and runs the
 * planned operators over it as one micro-batch; CREATE STREAM becomes a {@link StreamJob}: the
 * tunnel as a checkpointed, gracefully stoppable source → the planned operators → the Tablestore
 * sink, committed by the protocol of `commitAfter`.
 *
 * Tables whose endpoint is `embedded` (or absent) are served by `options.embedded`, which the CLI
 * and the demo point at an emulator they start.
 */
import * as E from 'fp-ts/lib/Either.js';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { BehaviorSubject, firstValueFrom, from, lastValueFrom, map, tap, type Observable, type Subscription } from 'rxjs';
import { ChannelLag, trackChannelLag, type ChannelLagSnapshot } from '../stream/channel-lag.js';
import { memorySource } from '../stream/source.js';
import { microBatch } from '../stream/micro-batch.js';
import { commitAfter, type RetryOptions } from '../stream/commit-after.js';
import { StreamMetrics, type LateWindow, type MetricsSnapshot } from '../stream/metrics.js';
import { stoppable } from '../stream/stoppable.js';
import { fileCheckpointStore } from '../stream/checkpoint/file-store.js';
import { describeOwner, judgePredecessor, OWNER_RENEW_MS, OwnerLease, writeFileAtomicallySync } from '../stream/checkpoint/owner-record.js';
import { channelBatchSource } from '../stream/tunnel-source.js';
import type { OutputBatch, TableBatch } from '../stream/batch.js';
import { rowsBetween, tableRows, type OutputRow, type OutputValue, type Value } from '../stream/table.js';
import { tablestoreSink, isRetryableSinkError } from '../sinks/tablestore-sink.js';
import { describeTable, scanTable, sdkClient, type TableConnection } from '../sinks/tablestore-table.js';
import { tunnel } from '../tunnel/tunnel.js';
import { tunnelControl, type TunnelDescription } from '../tunnel/control.js';
import { createHttpTransport, TransportError } from '../tunnel/http-transport.js';
import { httpTunnelApi } from '../tunnel/http-tunnel-api.js';
import { retryWithBackoff } from '../tunnel/retry-with-backoff.js';
import { DEFAULT_HEARTBEAT_TIMEOUT_MS, DEFAULT_REQUEST_RETRY, type TunnelOptions } from '../tunnel/options.js';
import type { ChannelBatch, TunnelEvent } from '../tunnel/model.js';
import type { AnalyzedQuery, AnalyzedStatement, RelationDef, TableDef } from './analyze.js';
import { formatTimestamp, type TimeZone } from './datetime.js';
import { toText } from './evaluate.js';
import { describeSink, planQuery, sinkRows, streamCatalog, type QueryPlan, type Stage } from './plan.js';
import { ChannelWorkers } from './channel-workers.js';
import { JobStateTable, SINK_VERSION_COLUMN } from '../sinks/tablestore-state.js';
import { VERSION_FIELD } from '../stream/merge-partials.js';
import { hostname } from 'node:os';
import { formatStatement } from './printer.js';
import { typeName, type SqlType } from './types.js';

export type Connection = TableConnection;

/** Tunnel worker settings a session may tune (tests shorten heartbeats; defaults are the Go/Java SDKs'). */
export type TunnelTuning = Partial<
  Pick<TunnelOptions, 'heartbeatIntervalMs' | 'heartbeatTimeoutMs' | 'readBackoff' | 'requestRetry' | 'reconnectBackoff' | 'maxInFlightBatchesPerChannel' | 'requestTimeoutMs' | 'closingDrainTimeoutMs'>
>;

export interface SessionOptions {
  /** Spark's session time zone (CAST(ts AS STRING), date_format, parsing); default the machine's */
  readonly timeZone?: string;
  /** values of `${name}` in OPTIONS */
  readonly variables?: Readonly<Record<string, string>>;
  /** serves tables whose endpoint is `embedded` or absent */
  readonly embedded?: () => Promise<Connection>;
  readonly tunnel?: TunnelTuning;
  /** retries of a failed sink write before the job fails (default: 8 attempts, 100 ms doubling) */
  readonly sinkRetry?: RetryOptions;
  /** how often a running job polls DescribeTunnel for lag (and for other consumers); default 2000 ms */
  readonly progressIntervalMs?: number;
  /** what a job has to say (start, resume, stop) */
  readonly onLog?: (level: 'info' | 'warn', message: string) => void;
  /**
   * An aggregating job whose checkpointLocation holds no window state while its tunnel shows
   * progress committed earlier (the location was lost): by default it stops with one line saying
   * so. 'reset': recreate the tunnel (same name and type, stream from the start of its retention)
   * and recompute every window; 'at-least-once': resume from the tunnel's checkpoints with empty
   * state, naming each sink row that is rewritten partial.
   */
  readonly lostCheckpoint?: 'reset' | 'at-least-once';
}

export interface ResultSet {
  readonly columns: readonly { readonly name: string; readonly type: SqlType }[];
  readonly rows: readonly OutputRow[];
}

export type StatementResult =
  | { readonly kind: 'done'; readonly message: string }
  | { readonly kind: 'rows'; readonly result: ResultSet; readonly text: string }
  | { readonly kind: 'text'; readonly text: string }
  | { readonly kind: 'job'; readonly job: StreamJob };

export interface CompiledStatement {
  readonly analyzed: AnalyzedStatement;
  /** the statement as SQL (credentials redacted) */
  readonly sql: string;
  run(): Promise<StatementResult>;
}

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
  readonly stages: readonly Stage[];
  explain(): string;
  /** connects and runs until stop() or a failure; idempotent */
  start(): void;
  /** graceful: the last batch is committed and acknowledged, the tunnel shut down */
  stop(): Promise<JobSummary>;
  /**
   * resolves once the feed is drained: every open channel's last read came back empty and caught
   * up, no record arrived for `idleMs`, and every batch is committed
   */
  untilIdle(idleMs: number): Promise<void>;
  readonly progress: Observable<JobProgress>;
  /** resolves when the job stopped; rejects with a JobError when it failed */
  readonly done: Promise<JobSummary>;
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

// ---------------------------------------------------------------- connections

function connectionOf(table: TableDef, options: SessionOptions): Promise<Connection> {
  const settings = table.options;
  if (settings.endpoint.kind === 'embedded') {
    if (options.embedded === undefined) return Promise.reject(new Error(`table ${table.name} uses the embedded emulator, which this session does not run (give it an endpoint)`));
    return options.embedded();
  }
  return Promise.resolve({
    endpoint: settings.endpoint.url,
    instanceName: settings.instanceName ?? '',
    accessKeyId: settings.accessKeyId ?? '',
    accessKeySecret: settings.accessKeySecret?.reveal() ?? '',
  });
}

const endpointText = (table: TableDef): string => (table.options.endpoint.kind === 'embedded' ? 'the embedded emulator' : table.options.endpoint.url);

// ---------------------------------------------------------------- planning and EXPLAIN

export function planStatement(analyzed: AnalyzedStatement, zone: TimeZone, options: SessionOptions): CompiledStatement {
  const sql = formatStatement(analyzed.statement);
  const done = (message: string): CompiledStatement => ({ analyzed, sql, run: async () => ({ kind: 'done', message }) });
  switch (analyzed.kind) {
    case 'createTable':
      return done(`table ${analyzed.table.name} → ${analyzed.table.options.tableName} on ${endpointText(analyzed.table)}`);
    case 'dropTable':
      return done(analyzed.dropped === undefined ? `no table ${analyzed.name} to drop` : `dropped ${analyzed.name} from the session (the Tablestore table stays)`);
    case 'createScan':
      return done(`scan ${analyzed.scan.name} of ${analyzed.scan.table.name} (${analyzed.scan.options.mode})`);
    case 'showTables':
      return { analyzed, sql, run: async () => rowsResult(showTables(analyzed.relations), zone) };
    case 'describe':
      return {
        analyzed,
        sql,
        run: async () =>
          rowsResult(
            {
              columns: [
                { name: 'col_name', type: 'string' },
                { name: 'data_type', type: 'string' },
              ],
              rows: analyzed.columns.map((column) => ({ col_name: column.name, data_type: typeName(column.type) })),
            },
            zone,
          ),
      };
    case 'explain':
      return { analyzed, sql, run: async () => ({ kind: 'text', text: explainStatement(analyzed.inner, zone, options) }) };
    case 'select': {
      const plan = planQuery(analyzed.query, { zone, outputMode: 'update' });
      return { analyzed, sql, run: async () => rowsResult(await runBatchQuery(analyzed.query, plan, options), zone) };
    }
    case 'insert': {
      const plan = planQuery(analyzed.query, { zone, outputMode: 'update' });
      return {
        analyzed,
        sql,
        run: async () => {
          const result = await runBatchQuery(analyzed.query, plan, options);
          const rows = sinkRows(analyzed.sink, plan.columns, { zone })(result.rows);
          const table = analyzed.sink.table;
          const connection = await connectionOf(table, options);
          const sink = tablestoreSink({ ...connection, tableName: table.options.tableName, catalog: streamCatalog(table.options.catalog), rowChangeType: table.options.rowChangeType });
          try {
            await sink.open();
            await sink.write(rows, { batchId: 0 });
          } finally {
            await sink.close?.();
          }
          return { kind: 'done', message: `wrote ${rows.length} rows to ${table.name}` };
        },
      };
    }
    case 'stream': {
      const plan = planQuery(analyzed.query, { zone, outputMode: analyzed.options.outputMode, sink: analyzed.sink });
      const job = new SqlStreamJob(analyzed, plan, zone, options);
      return { analyzed, sql, run: async () => ({ kind: 'job', job }) };
    }
  }
}

export function explainStatement(analyzed: AnalyzedStatement, zone: TimeZone, options: SessionOptions): string {
  switch (analyzed.kind) {
    case 'select':
    case 'insert': {
      const plan = planQuery(analyzed.query, { zone, outputMode: 'update' });
      const lines = [`BatchQuery over ${analyzed.query.relation.name} (${analyzed.query.table.options.tableName} on ${endpointText(analyzed.query.table)})`];
      lines.push(...formatStages([{ operator: 'scanTable', detail: `GetRange over ${analyzed.query.table.options.tableName}, one batch` }, ...plan.stages]));
      if (analyzed.query.orderBy.length > 0) lines.push(...formatStages([{ operator: 'orderBy', detail: analyzed.query.orderBy.map((o) => `${o.expr.text}${o.descending ? ' DESC' : ''}`).join(', ') }]));
      if (analyzed.query.limit !== null) lines.push(...formatStages([{ operator: 'limit', detail: String(analyzed.query.limit) }]));
      if (analyzed.kind === 'insert') lines.push(...formatStages([{ operator: 'tablestoreSink', detail: `${analyzed.sink.table.options.tableName} (${analyzed.sink.table.options.rowChangeType}): ${describeSink(analyzed.sink)}` }]));
      return `${lines.join('\n')}\n`;
    }
    case 'stream': {
      const plan = planQuery(analyzed.query, { zone, outputMode: analyzed.options.outputMode, sink: analyzed.sink });
      return `${new SqlStreamJob(analyzed, plan, zone, options).explain()}\n`;
    }
    case 'explain':
      return explainStatement(analyzed.inner, zone, options);
    default:
      return `${planStatement(analyzed, zone, options).sql}: changes the session catalog only\n`;
  }
}

function formatStages(stages: readonly Stage[]): string[] {
  const width = Math.max(...stages.map((stage) => stage.operator.length));
  return stages.map((stage) => `  ${stage.operator.padEnd(width)}  ${stage.detail}`);
}

// ---------------------------------------------------------------- batch queries

async function runBatchQuery(query: AnalyzedQuery, plan: QueryPlan, options: SessionOptions): Promise<ResultSet> {
  const connection = await connectionOf(query.table, options);
  const client = sdkClient(connection);
  const schema = await describeTable(client, query.table.options.tableName);
  const records = [];
  for await (const page of scanTable(client, schema)) records.push(...page);
  // the whole table as one micro-batch: one pass of the operators, groups final at its end
  const source = memorySource({ scan: records.length === 0 ? [] : [records] });
  const batches = await lastValueFrom(source.pipe(microBatch({ interval: Number.POSITIVE_INFINITY }), plan.operator), { defaultValue: undefined as TableBatch | undefined });
  let rows: OutputRow[] = batches === undefined ? [] : tableRows(batches.rows);
  if (query.orderBy.length > 0) {
    const keys = query.orderBy.map((item) => ({ name: item.expr.kind === 'column' ? item.expr.name : item.expr.text, descending: item.descending }));
    rows = rows.sort((a, b) => {
      for (const key of keys) {
        const order = compareNullsFirst(a[key.name] ?? null, b[key.name] ?? null);
        if (order !== 0) return key.descending ? -order : order;
      }
      return 0;
    });
  }
  if (query.limit !== null) rows = rows.slice(0, query.limit);
  return { columns: plan.columns, rows };
}

function compareNullsFirst(a: OutputValue, b: OutputValue): number {
  if (a === null || b === null) return a === b ? 0 : a === null ? -1 : 1;
  if (typeof a === 'object' && typeof b === 'object' && !(a instanceof Uint8Array) && !(b instanceof Uint8Array)) return a.start - b.start;
  return a < b ? -1 : a > b ? 1 : 0;
}

function showTables(relations: readonly RelationDef[]): ResultSet {
  return {
    columns: [
      { name: 'name', type: 'string' },
      { name: 'kind', type: 'string' },
      { name: 'table', type: 'string' },
      { name: 'endpoint', type: 'string' },
      { name: 'detail', type: 'string' },
    ],
    rows: relations.map((relation) => {
      const table = relation.kind === 'table' ? relation : relation.table;
      const detail =
        relation.kind === 'table'
          ? `${table.options.catalog.columns.length} columns`
          : relation.options.mode === 'STREAM'
            ? `tunnel ${relation.options.tunnel.by === 'id' ? relation.options.tunnel.id : `named ${relation.options.tunnel.name}`}, ${relation.options.maxOffsetsPerChannel} per channel per batch`
            : 'batch scan';
      return { name: relation.name, kind: relation.kind === 'table' ? 'table' : `${relation.options.mode.toLowerCase()} scan`, table: table.options.tableName, endpoint: table.options.endpoint.kind === 'embedded' ? 'embedded' : table.options.endpoint.url, detail };
    }),
  };
}

/** A value as a result cell: timestamps in the session zone, doubles as Spark prints them. */
export function formatCell(value: OutputValue | undefined, type: SqlType, zone: TimeZone): string {
  if (value === null || value === undefined) return 'NULL';
  if (typeof value === 'object' && !(value instanceof Uint8Array)) return `{${formatTimestamp(value.start, zone)}, ${formatTimestamp(value.end, zone)}}`;
  if (value instanceof Uint8Array) return `0x${Buffer.from(value).toString('hex')}`;
  return toText(value as Value, zone, type) ?? 'NULL';
}

/** Rows as the spark-sql shell's box table. */
export function formatResult(result: ResultSet, zone: TimeZone): string {
  const names = result.columns.map((column) => column.name);
  const cells = result.rows.map((row) => result.columns.map((column) => formatCell(row[column.name], column.type, zone)));
  const widths = names.map((name, k) => Math.max(name.length, ...cells.map((line) => (line[k] as string).length)));
  const border = `+${widths.map((width) => '-'.repeat(width + 2)).join('+')}+`;
  const line = (values: readonly string[]) => `| ${values.map((value, k) => value.padEnd(widths[k] as number)).join(' | ')} |`;
  return [border, line(names), border, ...cells.map(line), border, `${result.rows.length} row${result.rows.length === 1 ? '' : 's'}`].join('\n');
}

function rowsResult(result: ResultSet, zone: TimeZone): StatementResult {
  return { kind: 'rows', result, text: formatResult(result, zone) };
}

// ---------------------------------------------------------------- stream jobs

const IDLE_POLL_MS = 100;
/** how long a stopping job waits for its tunnel session's ShutdownTunnel (checkpoints flushed first) */
const RELEASE_WAIT_MS = 10_000;

class SqlStreamJob implements StreamJob {
  readonly name: string;
  readonly stages: readonly Stage[];
  readonly done: Promise<JobSummary>;
  private readonly progressSubject: BehaviorSubject<JobProgress>;
  readonly progress: Observable<JobProgress>;
  private readonly metrics = new StreamMetrics();
  private state: JobState = 'created';
  private resolveDone!: (summary: JobSummary) => void;
  private rejectDone!: (error: unknown) => void;
  private subscription: Subscription | undefined;
  private stopFeed: (() => void) | undefined;
  private releaseFeed: (() => void) | undefined;
  /** the tunnel client whose ShutdownTunnel has not been answered yet; stop() waits for it */
  private unreleasedClient: string | undefined;
  private onClientReleased: (() => void) | undefined;
  private poll: ReturnType<typeof setInterval> | undefined;
  private startedAt = 0;
  private lastRecordAt = 0;
  /** per open channel: whether its last read came back empty and caught up */
  private readonly caughtUp = new Map<string, boolean>();
  /**
   * Channels that finished and were not yet reported TERMINATED by a heartbeat, and channels the
   * last heartbeat gave this job that are not open yet: after a partition split the children
   * come with the heartbeat that reports the parent, so the tunnel is not drained before then.
   */
  private readonly finishedUnreported = new Set<string>();
  private assignedUnopened = new Set<string>();
  private stopRequested = false;
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
   * A true private field: the session options hold the `${var}` values (access key secrets
   * among them), which util.inspect and JSON.stringify of a job must not show.
   */
  readonly #options: SessionOptions;

  constructor(
    private readonly analyzed: Extract<AnalyzedStatement, { kind: 'stream' }>,
    private readonly plan: QueryPlan,
    private readonly zone: TimeZone,
    options: SessionOptions,
  ) {
    this.#options = options;
    this.name = analyzed.name;
    this.clientTag = `otsflow-${analyzed.name}`;
    const scan = analyzed.query.relation;
    const tunnelText = scan.kind === 'scan' && scan.options.mode === 'STREAM' ? (scan.options.tunnel.by === 'id' ? `tunnel ${scan.options.tunnel.id}` : `tunnel named ${scan.options.tunnel.name}`) : 'tunnel';
    const perChannel = scan.kind === 'scan' && scan.options.mode === 'STREAM' ? scan.options.maxOffsetsPerChannel : undefined;
    const sinkTable = analyzed.sink.table;
    this.stages = [
      { operator: 'tunnelSource', detail: `${scan.name}: ${tunnelText} of ${analyzed.query.table.options.tableName} on ${endpointText(analyzed.query.table)}` },
      {
        operator: 'microBatch',
        detail: `interval ${this.interval()} ms${perChannel === undefined ? '' : `, ≤ ${perChannel} records per channel`}, checkpoint ${
          analyzed.options.checkpointTable !== null && analyzed.query.aggregating
            ? `table ${analyzed.options.checkpointTable} on ${endpointText(analyzed.query.table)} (per channel: plans, commits, partial aggregates; epoch-fenced)`
            : (analyzed.options.checkpointLocation ?? 'none (state in memory)')
        }`,
      },
      ...(analyzed.options.checkpointTable !== null && analyzed.query.aggregating
        ? (() => {
            const at = plan.stages.findIndex((stage) => stage.operator === 'aggregate');
            const merge: Stage =
              analyzed.options.outputMode === 'append'
                ? { operator: 'mergePartials', detail: `the windows final for the job (every channel's watermark) from every channel's partials in table ${analyzed.options.checkpointTable}` }
                : { operator: 'mergePartials', detail: `every channel's partials of the changed groups from table ${analyzed.options.checkpointTable}; version = Σ (batch id + 1)` };
            return at < 0 ? plan.stages : [...plan.stages.slice(0, at + 1), merge, ...plan.stages.slice(at + 1)];
          })()
        : plan.stages),
      analyzed.options.checkpointTable !== null && analyzed.query.aggregating
        ? {
            operator: 'commitAfter',
            detail: `merged rows to ${sinkTable.options.tableName} on ${endpointText(sinkTable)} ${analyzed.options.outputMode === 'append' ? `where no ${SINK_VERSION_COLUMN} is stored` : `where ${SINK_VERSION_COLUMN} < version`}; then the channel's commit, then tunnel Checkpoint`,
          }
        : { operator: 'commitAfter', detail: `tablestoreSink(${sinkTable.options.tableName}, ${sinkTable.options.rowChangeType}) on ${endpointText(sinkTable)}; then checkpoint, then tunnel Checkpoint` },
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

  private interval(): number {
    return Math.max(1, this.analyzed.options.triggerIntervalMs);
  }

  explain(): string {
    const options = this.analyzed.options;
    const header = `StreamJob ${this.name} (outputMode ${options.outputMode}, trigger ${options.triggerType}${options.triggerType === 'ProcessingTime' ? ` ${options.triggerIntervalMs} ms` : ''}${this.analyzed.query.aggregating ? (options.checkpointTable !== null ? `, many workers: state in table ${options.checkpointTable}` : ', single worker') : ', stateless: workers may share the tunnel'})`;
    return [header, ...formatStages(this.stages)].join('\n');
  }

  private snapshot(error?: string): JobProgress {
    const now = Date.now();
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
    this.#options.onLog?.(level, `job ${this.name}: ${message}`);
  }

  start(): void {
    if (this.state !== 'created') return;
    this.state = 'starting';
    this.startedAt = Date.now();
    this.publish();
    this.run().catch((error: unknown) => this.fail(error));
  }

  private async run(): Promise<void> {
    const { query, sink: binding, options: streamOptions } = this.analyzed;
    const scan = query.relation;
    if (scan.kind !== 'scan' || scan.options.mode !== 'STREAM') throw new Error('a stream job reads a STREAM scan');
    const scanOptions = scan.options;
    const sourceConnection = await connectionOf(query.table, this.#options);
    const sinkConnection = await connectionOf(binding.table, this.#options);
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
    const tableName = query.table.options.tableName;
    const location = streamOptions.checkpointLocation;
    const describeWith = async (using: typeof control): Promise<TunnelDescription> => {
      const ref = scanOptions.tunnel;
      let tunnelName: string;
      if (ref.by === 'name') tunnelName = ref.name;
      else {
        const listed = await using.listTunnels(tableName);
        if (E.isLeft(listed)) throw new DescribeError(`cannot list the tunnels of ${tableName}: ${listed.left.message}`, listed.left);
        const found = listed.right.find((summary) => summary.tunnelId === ref.id);
        const replaced = found === undefined && location !== null ? replacedTunnel(location, ref.id) : undefined;
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
    let description = await describe();
    let lostCheckpoint: LostCheckpoint | undefined;
    const onStateTable = query.aggregating && streamOptions.checkpointTable !== null;
    // with the state in a table, workers share the tunnel: no single-consumer checks
    if (query.aggregating && !onStateTable) {
      if (location !== null) {
        if (await this.takeOverFromDeadPredecessor(location, description, transport)) description = await describe();
        if (this.stopRequested) {
          this.finish();
          return;
        }
        lostCheckpoint = await this.checkLostCheckpoint(location, description);
      }
      this.checkSoleConsumer(description, true);
      await this.outwaitEarlierRuns(description, describe);
      if (lostCheckpoint !== undefined && this.#options.lostCheckpoint === 'reset' && !this.stopRequested) {
        description = await this.resetTunnel(location as string, await describe(), control);
      }
    }
    if (this.stopRequested) {
      this.finish();
      return;
    }

    const sink = tablestoreSink({
      ...sinkConnection,
      tableName: binding.table.options.tableName,
      catalog: streamCatalog(binding.table.options.catalog),
      rowChangeType: binding.table.options.rowChangeType,
    });
    const schema = await sink.open();
    this.sinkKey = schema.primaryKey.map((column) => column.name);
    const written = new Set(binding.columns.map((column) => column.column));
    const missing = schema.primaryKey.filter((column) => !written.has(column.name));
    if (missing.length > 0) {
      throw new Error(
        `the sink ${binding.table.options.tableName} has primary key ${schema.primaryKey.map((c) => c.name).join(', ')}, but the query does not give ${missing.map((c) => c.name).join(', ')}`,
      );
    }

    if (onStateTable) {
      await this.runOnStateTable({ sourceConnection, credentials, tunnelId: description.tunnel.tunnelId, schema, describe: () => describeWith(probeControl) });
      return;
    }
    const tuning = this.#options.tunnel ?? {};
    const tunnelOptions: TunnelOptions = {
      endpoint: sourceConnection.endpoint,
      instance: sourceConnection.instanceName,
      credentials,
      tunnelId: description.tunnel.tunnelId,
      clientTag: this.clientTag,
      ...tuning,
      onEvent: (event) => this.onTunnelEvent(event),
    };
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
        { reopen: query.aggregating ? 'resume' : 'checkpoint' },
      ),
    );
    this.stopFeed = () => feed.stop();
    this.releaseFeed = () => feed.release();
    // stop() while connecting: the feed ends at once, the job completes after it opened
    if (this.stopRequested) feed.stop();
    // --at-least-once after a lost checkpoint: a sink row that exists already got records the lost run consumed
    const earlierRows = lostCheckpoint !== undefined && this.#options.lostCheckpoint === 'at-least-once' ? await this.sinkKeys(sinkConnection, schema) : undefined;
    const keyOf = (row: OutputRow): string => schema.primaryKey.map((column) => String(row[column.name])).join('\u0000');
    const retry: RetryOptions = { ...(this.#options.sinkRetry ?? {}), retryable: isRetryableSinkError };

    if (this.state === 'starting') this.state = 'running';
    this.log('info', `reading ${scan.name} (tunnel ${description.tunnel.tunnelId}), writing ${binding.table.options.tableName}`);
    this.subscription = feed.source
      .pipe(
        microBatch({
          interval: this.interval(),
          maxRecordsPerChannel: scanOptions.maxOffsetsPerChannel,
          metrics: this.metrics,
          // stateless jobs share their tunnel: channels come and go between workers
          positionJumps: query.aggregating ? 'error' : 'follow',
          ...(streamOptions.checkpointLocation === null ? {} : { checkpoint: streamOptions.checkpointLocation }),
        }),
        tap((batch) => this.formedAt.set(batch.id, Date.now())),
        this.plan.operator,
        tap((batch: TableBatch) => {
          if (earlierRows !== undefined && lostCheckpoint !== undefined) {
            for (const row of tableRows(batch.rows)) {
              const key = keyOf(row);
              if (!earlierRows.has(key)) continue;
              earlierRows.delete(key);
              this.partialRows++;
              this.log('warn', `partial row: ${binding.table.options.tableName} (${schema.primaryKey.map((column) => `${column.name}=${String(row[column.name])}`).join(', ')}) is rewritten without the records consumed before the lost checkpoint (tunnel progress up to ${lostCheckpoint.upTo})`);
            }
          }
          // the last rows of each batch's output, as row objects for the live view only
          this.pendingRows.set(batch.id, rowsBetween(batch.rows, batch.rows.length - 500, batch.rows.length));
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
          if (formed !== undefined) this.metrics.noteBatchLatency(Date.now() - formed);
          const late = this.metrics.takeLate(committed.batchId);
          if (late.length > 0) this.log('info', `batch ${committed.batchId}: ${lateText(late, this.zone)}`);
          if (committed.batchId === 0 || this.metrics.snapshot().batchesCommitted === 1) this.announceStart();
          this.publish();
        },
        error: (error: unknown) => {
          this.closeTransports?.();
          this.fail(error);
        },
        complete: () => {
          this.closeTransports?.();
          void Promise.resolve(sink.close?.()).finally(() => this.finish());
        },
      });
    this.announceStart();
    this.poll = setInterval(() => {
      describeWith(probeControl)
        .then((described) => {
          this.reached();
          this.channels = channelProgress(described);
          this.checkSoleConsumer(described);
          this.publish();
        })
        .catch((error: unknown) => {
          if (error instanceof SoleConsumerError) this.fail(error);
          else if (error instanceof DescribeError && error.cause instanceof TransportError) this.unreachable(error.cause);
        });
    }, this.#options.progressIntervalMs ?? 2_000);
    this.poll.unref?.();
    this.watch = setInterval(() => this.warnIfUnreachable(sourceConnection.endpoint), 1_000);
    this.watch.unref?.();
  }

  // ------------------------------------------------------------ many workers (issue 13)

  /** the channels this worker holds (job state in a table); undefined in single-worker mode */
  private workers: ChannelWorkers | undefined;
  /** DescribeTunnel's last word: every channel has an owner or is finished */
  private allChannelsOwned = false;
  /** another client (a live worker, or a dead one until its lease expires) holds channels */
  private othersHoldChannels = true;

  /**
   * The job as one of many workers: the state table holds every channel's plans, commits and
   * partial aggregates; this worker runs the channels the tunnel gives it (channel-workers.ts) and
   * writes merged sink rows guarded by their merge version.
   */
  private async runOnStateTable(context: {
    sourceConnection: Connection;
    credentials: TunnelOptions['credentials'];
    tunnelId: string;
    schema: { readonly primaryKey: readonly { readonly name: string }[] };
    describe: () => Promise<TunnelDescription>;
  }): Promise<void> {
    const { query, sink: binding, options: streamOptions } = this.analyzed;
    const scan = query.relation;
    if (scan.kind !== 'scan' || scan.options.mode !== 'STREAM') throw new Error('a stream job reads a STREAM scan');
    if (query.window?.kind === 'session') throw new Error(`job ${this.name}: checkpoint.table does not take session windows (their bounds depend on every channel's rows); use tumbling or hopping windows`);
    const state = new JobStateTable({ ...context.sourceConnection, tableName: streamOptions.checkpointTable as string, job: this.name });
    if ((await state.ensure()) === 'created') this.log('info', `created the state table ${state.tableName}`);
    const longColumns = new Set(binding.columns.filter((column) => column.type === 'long').map((column) => column.column));
    const sink = state.sink({ tableName: binding.table.options.tableName, primaryKey: context.schema.primaryKey.map((column) => column.name), longColumns, output: streamOptions.outputMode });
    const toSink = sinkRows(binding, this.plan.columns, { zone: this.zone });
    const retry: RetryOptions = { ...(this.#options.sinkRetry ?? {}), retryable: (error) => isRetryableSinkError(error) };
    let clientId = '';
    const owner = `${hostname()} pid ${process.pid}`;
    const workers = new ChannelWorkers({
      state,
      owner: () => `${owner} client ${clientId}`,
      interval: this.interval(),
      outputMode: streamOptions.outputMode,
      maxRecordsPerChannel: scan.options.maxOffsetsPerChannel,
      metrics: this.metrics,
      operator: (merge) => {
        const planned = planQuery(query, { zone: this.zone, outputMode: streamOptions.outputMode, afterAggregate: { stage: { operator: 'mergePartials', detail: '' }, operator: merge } }).operator;
        // merged rows are few per batch (changed groups): the state sink takes them as row objects
        return (source) => planned(source).pipe(map((batch): OutputBatch => ({ ...batch, rows: tableRows(batch.rows) })));
      },
      toSink: (rows, batch) => {
        const out = toSink(rows);
        if (out.length > 0) this.latestRows = out.slice(-20).map((row) => Object.fromEntries(Object.entries(row).filter(([name]) => name !== VERSION_FIELD)));
        void batch;
        return out;
      },
      sink,
      retry,
      onCommitted: (channelId, committed) => {
        const late = this.metrics.takeLate(committed.batchId);
        if (late.length > 0) this.log('info', `channel ${channelId} batch ${committed.batchId}: ${lateText(late, this.zone)}`);
        this.publish();
      },
      onLog: (level, message) => this.log(level, message),
      onError: (error) => this.fail(error),
    });
    this.workers = workers;
    const tuning = this.#options.tunnel ?? {};
    const feed = tunnel({
      endpoint: context.sourceConnection.endpoint,
      instance: context.sourceConnection.instanceName,
      credentials: context.credentials,
      tunnelId: context.tunnelId,
      clientTag: this.clientTag,
      // a channel is its own pipeline here: let it read ahead while its batch commits, so its
      // micro-batches are as large as a single-worker job's (which spans every channel)
      maxInFlightBatchesPerChannel: 8,
      ...tuning,
      startTokens: workers.startToken,
      onEvent: (event) => {
        if (event.kind === 'connected') clientId = event.clientId;
        this.onTunnelEvent(event);
        workers.onEvent(event);
      },
    });
    if (this.state === 'starting') this.state = 'running';
    this.log('info', `reading ${scan.name} (tunnel ${context.tunnelId}) as one of the job's workers, state in table ${state.tableName}, writing ${binding.table.options.tableName}`);
    this.subscription = feed.subscribe({
      next: (batch: ChannelBatch) => {
        this.noteRecords(batch.records.length);
        workers.deliver(batch);
      },
      error: (error: unknown) => {
        workers.dispose();
        this.fail(error);
      },
    });
    this.stopFeed = () =>
      workers.stop(() => {
        // the last acknowledgements reach the service as the client shuts down
        this.subscription?.unsubscribe();
        this.finish();
      });
    if (this.stopRequested) this.stopFeed();
    const share = (): string => {
      const held = workers.held();
      return held.length === 0 ? 'no channels' : `channels ${held.join(', ')}`;
    };
    let lastShare = '';
    this.poll = setInterval(() => {
      context
        .describe()
        .then((described) => {
          this.reached();
          this.channels = channelProgress(described);
          this.allChannelsOwned = described.channels.every((channel) => (channel.status === 'OPEN' && channel.clientId !== undefined && channel.clientId !== '') || channel.status === 'TERMINATED');
          this.othersHoldChannels = described.channels.some((channel) => channel.status === 'OPEN' && channel.clientId !== undefined && channel.clientId !== clientId);
          const now = share();
          if (now !== lastShare) {
            lastShare = now;
            this.log('info', `this worker (tunnel client ${clientId}) holds ${now} of ${described.channels.length}`);
          }
          this.publish();
        })
        .catch((error: unknown) => {
          if (error instanceof DescribeError && error.cause instanceof TransportError) this.unreachable(error.cause);
        });
    }, this.#options.progressIntervalMs ?? 2_000);
    this.poll.unref?.();
    this.watch = setInterval(() => this.warnIfUnreachable(context.sourceConnection.endpoint), 1_000);
    this.watch.unref?.();
  }

  // ------------------------------------------------------------ reachability (issue 12 part 4)

  private unreachableSince: number | undefined;
  private unreachableReason = '';
  private lastUnreachableWarning = 0;
  private watch: ReturnType<typeof setInterval> | undefined;

  private unreachable(error: TransportError): void {
    this.unreachableSince ??= Date.now();
    this.unreachableReason = error.message === '' ? error.code : error.message;
  }

  private reached(): void {
    if (this.unreachableSince === undefined) return;
    const since = this.unreachableSince;
    this.unreachableSince = undefined;
    this.status = undefined;
    if (this.lastUnreachableWarning !== 0) this.log('info', `reached the endpoint again after ${Math.round((Date.now() - since) / 1000)} s`);
    this.lastUnreachableWarning = 0;
  }

  /** a warning once the endpoint has failed for 2 s, then every 30 s while it lasts; the live view says so throughout */
  private warnIfUnreachable(endpoint: string): void {
    if (this.unreachableSince === undefined || this.state !== 'running') return;
    const now = Date.now();
    const metrics = this.metrics.snapshot();
    const pending = Math.max(0, metrics.batches - metrics.batchesCommitted);
    this.status = `cannot reach ${endpoint}: ${this.unreachableReason}; retrying for ${Math.round((now - this.unreachableSince) / 1000)} s, ${pending} batch${pending === 1 ? '' : 'es'} pending`;
    if (now - this.unreachableSince >= UNREACHABLE_WARN_AFTER_MS && (this.lastUnreachableWarning === 0 || now - this.lastUnreachableWarning >= UNREACHABLE_WARN_EVERY_MS)) {
      this.lastUnreachableWarning = now;
      this.log('warn', `cannot reach ${endpoint}: ${this.unreachableReason}; retrying, ${pending} batch${pending === 1 ? '' : 'es'} pending`);
    }
    this.publish();
  }

  // ------------------------------------------------------------ restarts (issue 12 parts 2 and 3)

  /**
   * The run recorded in the checkpoint location: a live one is refused at once; a dead one's
   * tunnel clients (all recorded before their first heartbeat) are shut down with ShutdownTunnel,
   * so their channels are free now instead of after their heartbeat timeout. Then this run claims
   * the location. Returns whether anything was shut down.
   */
  private async takeOverFromDeadPredecessor(location: string, description: TunnelDescription, transport: ReturnType<typeof createHttpTransport>): Promise<boolean> {
    const judged = await judgePredecessor(location);
    if (E.isLeft(judged)) throw new Error(`checkpoint ${location}: ${judged.left}`);
    const predecessor = judged.right;
    if (predecessor.kind === 'live') {
      throw new SoleConsumerError(
        `another run of job ${this.name} is live on checkpoint location ${location} (${describeOwner(predecessor.record)}; ${predecessor.why}): stop it first — two copies of an aggregating job would overwrite each other's windows`,
      );
    }
    let shut = false;
    if (predecessor.kind === 'dead' && predecessor.record.clients.length > 0) {
      const recorded = new Set(predecessor.record.clients);
      const holders = new Set(description.channels.filter((c) => (c.status === 'OPEN' || c.status === 'CLOSING') && c.clientId !== undefined && recorded.has(c.clientId)).map((c) => c.clientId as string));
      const api = httpTunnelApi(transport);
      // every recorded client, not only those holding channels: one killed before its first
      // heartbeat holds none, yet the service counts it when it divides the channels
      for (const clientId of recorded) {
        try {
          await firstValueFrom(api.shutdown({ tunnelId: description.tunnel.tunnelId, clientId }).pipe(retryWithBackoff<void>({ ...DEFAULT_REQUEST_RETRY, maxElapsedMs: 5_000 })));
          if (holders.has(clientId)) shut = true;
        } catch (error) {
          // one that expired already has nothing left to release
          if (holders.has(clientId)) this.log('warn', `could not shut down client ${clientId} of the earlier run (${error instanceof Error ? error.message : String(error)}); waiting for its lease instead`);
        }
      }
      if (holders.size > 0) {
        this.log('info', `the earlier run (${describeOwner(predecessor.record)}) ended without shutting its tunnel session down (${predecessor.why}): released its channels with ShutdownTunnel (client${holders.size === 1 ? '' : 's'} ${[...holders].join(', ')})`);
      }
    }
    const lease = new OwnerLease(location, this.name);
    try {
      lease.claim();
    } catch (error) {
      throw new Error(`checkpoint ${location}: cannot persist owner.json (${error instanceof Error ? error.message : String(error)}); nothing was acknowledged`);
    }
    this.lease = lease;
    for (const clientId of this.clientIds) lease.addClient(clientId);
    this.renewal = setInterval(() => this.renewLease(), OWNER_RENEW_MS);
    this.renewal.unref?.();
    return shut;
  }

  private renewLease(): void {
    const lease = this.lease;
    if (lease === undefined || this.state === 'stopped' || this.state === 'failed') return;
    const renewed = lease.renew();
    if (renewed.kind === 'taken') {
      this.fail(new SoleConsumerError(`another run of job ${this.name} took over checkpoint location ${lease.location} (${describeOwner(renewed.by)}): this run stops`));
    }
  }

  /**
   * The location holds no commit or plan, yet the tunnel's channels hold consumed progress: the
   * window state of that progress is gone. Without a choice that is one line and a stop.
   */
  private async checkLostCheckpoint(location: string, description: TunnelDescription): Promise<LostCheckpoint | undefined> {
    const loaded = await firstValueFrom(from(fileCheckpointStore(location).load()));
    if (E.isLeft(loaded)) return undefined;
    if (loaded.right.commit !== undefined || loaded.right.plan !== undefined) {
      if (this.#options.lostCheckpoint !== undefined) this.log('info', `--${this.#options.lostCheckpoint} not needed: ${location} holds the window state (${loaded.right.commit === undefined ? 'a planned batch' : `batch ${loaded.right.commit.batchId}`})`);
      return undefined;
    }
    const progressed = description.channels.filter((channel) => (channel.count ?? 0n) > 0n || channel.status === 'TERMINATED');
    if (progressed.length === 0) return undefined;
    const records = progressed.reduce((sum, channel) => sum + (channel.count ?? 0n), 0n);
    const rpos = progressed.map((channel) => channel.rpoTime?.getTime()).filter((time): time is number => time !== undefined);
    const upTo = rpos.length === 0 ? 'its checkpoints' : new Date(Math.max(...rpos)).toISOString();
    const holders = [...new Set(description.channels.filter((c) => (c.status === 'OPEN' || c.status === 'CLOSING') && c.clientId !== undefined && c.clientId !== '').map((c) => c.clientId as string))];
    const choice = this.#options.lostCheckpoint;
    // a partial row is recognised by its key being in the sink already; where a group can have had
    // records and still no row (append writes a window once it closes; HAVING holds groups back), it cannot
    const unnameable = this.analyzed.options.outputMode === 'append' ? "outputMode 'append' (a window open at the loss has no sink row yet)" : this.analyzed.query.having !== null ? 'a HAVING query (a group it held back has no sink row)' : undefined;
    if (choice === 'at-least-once' && unnameable !== undefined) {
      throw new LostCheckpointError(
        `checkpoint location ${location} holds no window state, but tunnel ${description.tunnel.tunnelId} has progress committed by an earlier run (${records} records): --at-least-once cannot name the partial rows of ${unnameable} — run again with --reset`,
      );
    }
    if (choice === undefined) {
      throw new LostCheckpointError(
        `checkpoint location ${location} holds no window state, but tunnel ${description.tunnel.tunnelId} has progress committed by an earlier run (${records} records on ${progressed.length} channel${progressed.length === 1 ? '' : 's'}, up to ${upTo}${holders.length === 0 ? '' : `; its channels are still held by ${holders.join(', ')} — if that run is alive elsewhere, stop it first`}): the window state is gone and resuming would overwrite windows with partial totals — run again with --reset (recreate the tunnel and recompute every window from the start of the stream's retention) or --at-least-once (resume from the tunnel's checkpoints; rows rewritten partial are named in the log)`,
      );
    }
    this.log(
      'warn',
      choice === 'reset'
        ? `checkpoint location ${location} holds no window state, but tunnel ${description.tunnel.tunnelId} has progress (${records} records): --reset recreates the tunnel and recomputes every window`
        : `checkpoint location ${location} holds no window state, but tunnel ${description.tunnel.tunnelId} has progress (${records} records): --at-least-once resumes from the tunnel's checkpoints; sink rows rewritten partial are named below`,
    );
    return { records, upTo };
  }

  /**
   * --reset: DeleteTunnel + CreateTunnel of the same name and type — a Stream tunnel from the
   * earliest retained record, a BaseAndStream one from its base data (the whole table) on — and
   * the new id recorded in the location, for a SQL that still names the old one.
   */
  private async resetTunnel(location: string, description: TunnelDescription, control: ReturnType<typeof tunnelControl>): Promise<TunnelDescription> {
    const old = description.tunnel;
    const deleted = await control.deleteTunnel(old.tableName, old.tunnelName);
    if (E.isLeft(deleted)) throw new Error(`--reset: cannot delete tunnel ${old.tunnelName} of ${old.tableName}: ${deleted.left.message}`);
    const endTime = old.streamConfig?.endTime;
    const created = await control.createTunnel({
      tableName: old.tableName,
      tunnelName: old.tunnelName,
      tunnelType: old.tunnelType as 'BaseData' | 'Stream' | 'BaseAndStream',
      // a Stream tunnel from the earliest retained record; BaseAndStream's base data already covers the table
      ...(old.tunnelType === 'Stream' ? { stream: { flag: 'EARLIEST' as const, ...(endTime === undefined ? {} : { endTime }) } } : endTime === undefined ? {} : { stream: { endTime } }),
    });
    if (E.isLeft(created)) throw new Error(`--reset: deleted tunnel ${old.tunnelName} of ${old.tableName} (${old.tunnelId}) but cannot create it again: ${created.left.message} — create it with otsflow tunnel create and run again`);
    const earlier = readReplacement(location);
    const record: TunnelReplacement = { tunnelId: created.right.tunnelId, tunnelName: old.tunnelName, replaces: [...(earlier?.replaces ?? []), old.tunnelId] };
    writeFileAtomicallySync(path.join(location, TUNNEL_FILE), `${JSON.stringify(record)}\n`);
    this.log('warn', `--reset: tunnel ${old.tunnelName} of ${old.tableName} recreated as ${created.right.tunnelId} (was ${old.tunnelId}); every window is recomputed from the start of the stream's retention`);
    const described = await control.describeTunnel(old.tableName, old.tunnelName);
    if (E.isLeft(described)) throw new Error(`cannot describe tunnel ${old.tunnelName} of ${old.tableName}: ${described.left.message}`);
    return described.right;
  }

  /** primary keys of the rows the sink holds now */
  private async sinkKeys(connection: Connection, schema: { readonly tableName: string; readonly primaryKey: readonly { readonly name: string; readonly type: 'INTEGER' | 'STRING' | 'BINARY' }[] }): Promise<Set<string>> {
    const keys = new Set<string>();
    for await (const page of scanTable(sdkClient(connection), schema)) {
      for (const record of page) keys.add(schema.primaryKey.map((column) => String(record.primaryKey.find((cell) => cell.name === column.name)?.value)).join('\u0000'));
    }
    return keys;
  }

  private announced = false;
  private announceStart(): void {
    if (this.announced) return;
    const restored = this.metrics.snapshot().restoredFrom;
    if (restored === undefined) return;
    this.announced = true;
    const location = this.analyzed.options.checkpointLocation;
    if (location === null && !this.analyzed.query.aggregating) this.log('info', "no checkpointLocation: resuming from the tunnel's checkpoints (a re-delivered record rewrites the same sink row)");
    else if (location === null) this.log('warn', 'no checkpointLocation: the aggregation state lives in memory only and a restart starts from the tunnel checkpoints');
    else if (restored === 'fresh') this.log('info', `starting fresh (no checkpoint in ${location})`);
    else this.log('info', `resuming after batch ${restored} from ${location}`);
  }

  /**
   * An aggregating job must be the only consumer of its tunnel (partials are not merged yet).
   * Clients with this job's tag are earlier runs of it; they pass only at startup (see
   * outwaitEarlierRuns): once this run is connected, one of them holding channels is a second copy
   * of the job, consuming alongside.
   */
  private checkSoleConsumer(described: TunnelDescription, allowEarlierRuns = false): void {
    if (!this.analyzed.query.aggregating || this.analyzed.options.checkpointTable !== null) return;
    const foreign = described.channels.find(
      (channel) =>
        (channel.status === 'OPEN' || channel.status === 'CLOSING') &&
        channel.clientId !== undefined &&
        channel.clientId !== '' &&
        !this.clientIds.has(channel.clientId) &&
        !(allowEarlierRuns && channel.clientId.startsWith(`${this.clientTag}_`)),
    );
    if (foreign !== undefined) {
      throw new SoleConsumerError(
        `tunnel ${described.tunnel.tunnelId} is also consumed by client ${foreign.clientId} (channel ${foreign.channelId}); an aggregating job must be the only consumer of its tunnel, because otsflow does not merge partial aggregates across workers yet — stop the other consumer or give this job a tunnel of its own`,
      );
    }
  }

  /**
   * Channels still held by a client with this job's tag belong to an earlier run: one that crashed
   * keeps its leases until the service expires it (one heartbeat timeout), while a live one — the
   * same job started twice — never lets go, and two copies would each aggregate part of the
   * channels and overwrite each other's rows. So connect only once such leases are gone, and refuse
   * to start when they outlive the timeout.
   */
  private async outwaitEarlierRuns(first: TunnelDescription, describe: () => Promise<TunnelDescription>): Promise<void> {
    const timeoutMs = this.#options.tunnel?.heartbeatTimeoutMs ?? DEFAULT_HEARTBEAT_TIMEOUT_MS;
    // the service sweeps expired clients on its own schedule: allow a little past the timeout
    const deadline = Date.now() + timeoutMs + Math.max(2_000, timeoutMs / 10);
    let described = first;
    let announced = false;
    for (;;) {
      const held = described.channels.find((channel) => (channel.status === 'OPEN' || channel.status === 'CLOSING') && channel.clientId?.startsWith(`${this.clientTag}_`) === true);
      if (held === undefined || this.stopRequested) return;
      if (Date.now() > deadline) {
        throw new SoleConsumerError(
          `tunnel ${described.tunnel.tunnelId} is still consumed by client ${held.clientId} (channel ${held.channelId}) after its lease should have expired: another run of job ${this.name} is consuming it — stop that one first (an aggregating job must be the only consumer of its tunnel)`,
        );
      }
      if (!announced) {
        announced = true;
        this.log('info', `waiting up to ${Math.ceil((deadline - Date.now()) / 1000)} s for an earlier run's leases to expire (client ${held.clientId} holds channel ${held.channelId})`);
      }
      await new Promise((resolve) => setTimeout(resolve, Math.min(250, Math.max(50, timeoutMs / 8))));
      described = await describe();
    }
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
      this.assignedUnopened.delete(event.channelId);
    }
    if (event.kind === 'channel-closed') {
      this.caughtUp.delete(event.channelId);
      if (event.reason === 'finished') this.finishedUnreported.add(event.channelId);
    }
    if (event.kind === 'read') this.caughtUp.set(event.channelId, event.caughtUp && event.records === 0);
    if (event.kind === 'heartbeat') {
      for (const channel of event.sent) if (channel.status === 'TERMINATED') this.finishedUnreported.delete(channel.channelId);
      this.assignedUnopened = new Set(event.received.filter((channel) => channel.status === 'OPEN' && !this.caughtUp.has(channel.channelId)).map((channel) => channel.channelId));
    }
  }

  private noteRecords(count: number): void {
    if (count === 0) return;
    const now = Date.now();
    this.lastRecordAt = now;
    this.rate.push({ at: now, records: count });
  }

  untilIdle(idleMs: number): Promise<void> {
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
        if (this.state !== 'running' || (this.caughtUp.size === 0 && this.workers === undefined)) return;
        const metrics = this.metrics.snapshot();
        const quietSince = Math.max(this.lastRecordAt, this.startedAt);
        let drained = [...this.caughtUp.values()].every((caughtUp) => caughtUp) && this.finishedUnreported.size === 0 && this.assignedUnopened.size === 0;
        // one of many workers: the whole job is drained when this worker holds every channel of the
        // tunnel (a dead worker's leases have expired and moved here) and they are all idle and
        // committed; while other workers hold channels it keeps running (stop it with SIGTERM)
        if (this.workers !== undefined) drained &&= this.caughtUp.size > 0 && this.allChannelsOwned && !this.othersHoldChannels;
        if (drained && Date.now() - quietSince >= idleMs && metrics.batches === metrics.batchesCommitted) {
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
      durationMs: this.startedAt === 0 ? 0 : Date.now() - this.startedAt,
      restoredFrom: metrics.restoredFrom,
      ...(this.partialRows === 0 ? {} : { partialRows: this.partialRows }),
    };
  }

  private cleanup(): void {
    this.workers?.dispose();
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

class SoleConsumerError extends Error {
  override readonly name = 'SoleConsumerError';
}

class LostCheckpointError extends Error {
  override readonly name = 'LostCheckpointError';
}

/** a control call that failed; `cause` tells a network failure from a refusal */
class DescribeError extends Error {
  override readonly name = 'DescribeError';
  constructor(
    message: string,
    override readonly cause: unknown,
  ) {
    super(message);
  }
}

interface LostCheckpoint {
  readonly records: bigint;
  /** the newest consumed-up-to time among the channels (ISO), or a description */
  readonly upTo: string;
}

const UNREACHABLE_WARN_AFTER_MS = 2_000;
const UNREACHABLE_WARN_EVERY_MS = 30_000;

/** `checkpointLocation/tunnel.json`: the tunnel --reset made, and the ids it replaced */
const TUNNEL_FILE = 'tunnel.json';
interface TunnelReplacement {
  readonly tunnelId: string;
  readonly tunnelName: string;
  readonly replaces: readonly string[];
}

function readReplacement(location: string): TunnelReplacement | undefined {
  try {
    const parsed = JSON.parse(readFileSync(path.join(location, TUNNEL_FILE), 'utf8')) as Partial<TunnelReplacement>;
    if (typeof parsed.tunnelId !== 'string' || typeof parsed.tunnelName !== 'string' || !Array.isArray(parsed.replaces)) return undefined;
    return { tunnelId: parsed.tunnelId, tunnelName: parsed.tunnelName, replaces: parsed.replaces.filter((id): id is string => typeof id === 'string') };
  } catch {
    return undefined;
  }
}

function replacedTunnel(location: string, tunnelId: string): TunnelReplacement | undefined {
  const record = readReplacement(location);
  return record !== undefined && record.replaces.includes(tunnelId) ? record : undefined;
}

/**
 * `3 late rows dropped (window 2024-01-01 00:00:45–00:01:30: 2, …)`: the rows behind their
 * lateness limit (README, "Late data"), per window in the session time zone; at most 5 windows.
 */
export function lateText(windows: readonly LateWindow[], zone: TimeZone, total?: number): string {
  const rows = total ?? windows.reduce((sum, window) => sum + window.rows, 0);
  const sorted = [...windows].sort((a, b) => a.start - b.start);
  const shown = sorted.slice(0, 5).map((window) => {
    const start = formatTimestamp(window.start, zone) ?? String(window.start);
    const end = formatTimestamp(window.end, zone) ?? String(window.end);
    const sameDay = start.slice(0, 11) === end.slice(0, 11);
    return `window ${start}–${sameDay ? end.slice(11) : end}: ${window.rows}`;
  });
  const more = sorted.length > 5 ? `, … ${sorted.length - 5} more windows` : '';
  return `${rows} late ${rows === 1 ? 'row' : 'rows'} dropped (${shown.join(', ')}${more})`;
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
