/**
 * Running analyzed statements. DDL only changes the script's catalog (done at analysis); a batch
 * SELECT / INSERT reads its table through the official SDK and runs the planned operators over it
 * as one micro-batch; CREATE STREAM is planned onto the stream layer's job runtime (`runJob`,
 * lib/stream/job): the tunnel as a checkpointed, gracefully stoppable source → the planned
 * operators → the Tablestore sink, committed by the protocol of `commitAfter`.
 *
 * Tables whose endpoint is `embedded` (or absent) are served by `options.embedded`, which the CLI
 * and the demo point at an emulator they start.
 */
import { lastValueFrom } from 'rxjs';
import { memorySource } from '../stream/source.js';
import { microBatch } from '../stream/micro-batch.js';
import type { RetryOptions } from '../stream/commit-after.js';
import type { LateWindow } from '../stream/metrics.js';
import type { TableBatch } from '../stream/batch.js';
import { tableRows, type OutputRow, type OutputValue, type Value } from '../stream/table.js';
import { runJob, formatStages } from '../stream/job/run-job.js';
import { lateText as jobLateText } from '../stream/job/late-text.js';
import type { JobSink, StreamJob, TunnelTuning } from '../stream/job/types.js';
import { tablestoreSink, isRetryableSinkError } from '../sinks/tablestore-sink.js';
import { describeTable, scanTable, sdkClient, type TableConnection } from '../sinks/tablestore-table.js';
import { SINK_VERSION_COLUMN } from '../sinks/tablestore-state.js';
import type { AnalyzedQuery, AnalyzedStatement, RelationDef, TableDef } from './analyze.js';
import { formatTimestamp, type TimeZone } from './datetime.js';
import { toText } from './evaluate.js';
import { describeSink, planQuery, sinkRows, streamCatalog, type QueryPlan, type Stage } from './plan.js';
import { formatStatement } from './printer.js';
import { stateTableFeed } from './state-table-job.js';
import { typeName, type SqlType } from './types.js';

export type Connection = TableConnection;
export type { TunnelTuning, StreamJob };
export type { JobProgress, JobSummary, JobState, ChannelProgress } from '../stream/job/types.js';
export { JobError } from '../stream/job/types.js';

/** The options of `compile`: time zone, `${var}` values, the embedded endpoint, and the jobs' settings. */
export interface CompileOptions {
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

// ---------------------------------------------------------------- connections

function connectionOf(table: TableDef, options: CompileOptions): Promise<Connection> {
  const settings = table.options;
  if (settings.endpoint.kind === 'embedded') {
    if (options.embedded === undefined) return Promise.reject(new Error(`table ${table.name} uses the embedded emulator, which this script is not given (give it an endpoint)`));
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

export function planStatement(analyzed: AnalyzedStatement, zone: TimeZone, options: CompileOptions): CompiledStatement {
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
      const job = streamJob(analyzed, plan, zone, options);
      return { analyzed, sql, run: async () => ({ kind: 'job', job }) };
    }
  }
}

export function explainStatement(analyzed: AnalyzedStatement, zone: TimeZone, options: CompileOptions): string {
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
      return `${streamJob(analyzed, plan, zone, options).explain()}\n`;
    }
    case 'explain':
      return explainStatement(analyzed.inner, zone, options);
    default:
      return `${planStatement(analyzed, zone, options).sql}: changes the session catalog only\n`;
  }
}

// ---------------------------------------------------------------- batch queries

async function runBatchQuery(query: AnalyzedQuery, plan: QueryPlan, options: CompileOptions): Promise<ResultSet> {
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

/**
 * A CREATE STREAM statement as a job definition of the stream layer's runtime (`runJob`): the
 * tunnel of its STREAM scan, its checkpointLocation, the planned operator chain, the Tablestore
 * sink (its primary key checked against the columns the query gives). With `checkpoint.table`
 * the job is one of many workers: the feed of state-table-job.ts.
 */
export function streamJob(analyzed: Extract<AnalyzedStatement, { kind: 'stream' }>, plan: QueryPlan, zone: TimeZone, options: CompileOptions): StreamJob {
  const { query, sink: binding, options: streamOptions } = analyzed;
  const scan = query.relation;
  if (scan.kind !== 'scan' || scan.options.mode !== 'STREAM') throw new Error('a stream job reads a STREAM scan');
  const scanOptions = scan.options;
  const interval = Math.max(1, streamOptions.triggerIntervalMs);
  const sinkTable = binding.table;
  const onStateTable = streamOptions.checkpointTable !== null && query.aggregating;
  const tunnelText = scanOptions.tunnel.by === 'id' ? `tunnel ${scanOptions.tunnel.id}` : `tunnel named ${scanOptions.tunnel.name}`;
  const stages: readonly Stage[] = onStateTable
    ? (() => {
        const at = plan.stages.findIndex((stage) => stage.operator === 'aggregate');
        const merge: Stage =
          streamOptions.outputMode === 'append'
            ? { operator: 'mergePartials', detail: `the windows final for the job (every channel's watermark) from every channel's partials in table ${streamOptions.checkpointTable}` }
            : { operator: 'mergePartials', detail: `every channel's partials of the changed groups from table ${streamOptions.checkpointTable}; version = Σ (batch id + 1)` };
        return at < 0 ? plan.stages : [...plan.stages.slice(0, at + 1), merge, ...plan.stages.slice(at + 1)];
      })()
    : plan.stages;
  const header = `StreamJob ${analyzed.name} (outputMode ${streamOptions.outputMode}, trigger ${streamOptions.triggerType}${streamOptions.triggerType === 'ProcessingTime' ? ` ${streamOptions.triggerIntervalMs} ms` : ''}${query.aggregating ? (streamOptions.checkpointTable !== null ? `, many workers: state in table ${streamOptions.checkpointTable}` : ', single worker') : ', stateless: workers may share the tunnel'})`;
  const sink = async (): Promise<JobSink<OutputRow>> => {
    const connection = await connectionOf(sinkTable, options);
    const inner = tablestoreSink({ ...connection, tableName: sinkTable.options.tableName, catalog: streamCatalog(sinkTable.options.catalog), rowChangeType: sinkTable.options.rowChangeType });
    return {
      get keyColumns() {
        return inner.keyColumns;
      },
      // the sink's primary key must come from the query
      open: async () => {
        const schema = await inner.open();
        const written = new Set(binding.columns.map((column) => column.column));
        const missing = schema.primaryKey.filter((column) => !written.has(column.name));
        if (missing.length > 0) {
          throw new Error(`the sink ${sinkTable.options.tableName} has primary key ${schema.primaryKey.map((c) => c.name).join(', ')}, but the query does not give ${missing.map((c) => c.name).join(', ')}`);
        }
        return schema;
      },
      write: (rows, context) => inner.write(rows, context),
      writeTable: (table, context) => inner.writeTable(table, context),
      close: () => inner.close(),
      existingKeys: async () => {
        const schema = await inner.open();
        const keys = new Set<string>();
        for await (const page of scanTable(sdkClient(connection), schema)) {
          for (const record of page) keys.add(schema.primaryKey.map((column) => String(record.primaryKey.find((cell) => cell.name === column.name)?.value)).join('\u0000'));
        }
        return keys;
      },
    };
  };
  return runJob<OutputRow>({
    name: analyzed.name,
    source: { connection: () => connectionOf(query.table, options), table: query.table.options.tableName, tunnel: scanOptions.tunnel.by === 'id' ? { id: scanOptions.tunnel.id } : { name: scanOptions.tunnel.name }, label: scan.name },
    ...(streamOptions.checkpointLocation === null ? {} : { checkpoint: streamOptions.checkpointLocation }),
    aggregating: query.aggregating,
    interval,
    maxRecordsPerChannel: scanOptions.maxOffsetsPerChannel,
    operator: plan.operator,
    sink,
    sinkLabel: sinkTable.options.tableName,
    ...(options.tunnel === undefined ? {} : { tunnel: options.tunnel }),
    sinkRetry: { ...(options.sinkRetry ?? {}), retryable: isRetryableSinkError },
    ...(options.progressIntervalMs === undefined ? {} : { progressIntervalMs: options.progressIntervalMs }),
    ...(options.lostCheckpoint === undefined ? {} : { lostCheckpoint: options.lostCheckpoint }),
    // a partial row is recognised by its key being in the sink already; where a group can have had
    // records and still no row (append writes a window once it closes; HAVING holds groups back), it cannot
    ...(streamOptions.outputMode === 'append'
      ? { partialRowsUnnamed: "outputMode 'append' (a window open at the loss has no sink row yet)" }
      : query.having !== null
        ? { partialRowsUnnamed: 'a HAVING query (a group it held back has no sink row)' }
        : {}),
    ...(options.onLog === undefined ? {} : { onLog: options.onLog }),
    formatTime: (ms) => formatTimestamp(ms, zone) ?? String(ms),
    explain: {
      header,
      stages,
      source: `${scan.name}: ${tunnelText} of ${query.table.options.tableName} on ${endpointText(query.table)}`,
      microBatch: `interval ${interval} ms, ≤ ${scanOptions.maxOffsetsPerChannel} records per channel, checkpoint ${
        onStateTable
          ? `table ${streamOptions.checkpointTable} on ${endpointText(query.table)} (per channel: plans, commits, partial aggregates; epoch-fenced)`
          : (streamOptions.checkpointLocation ?? 'none (state in memory)')
      }`,
      sink: onStateTable
        ? `merged rows to ${sinkTable.options.tableName} on ${endpointText(sinkTable)} ${streamOptions.outputMode === 'append' ? `where no ${SINK_VERSION_COLUMN} is stored` : `where ${SINK_VERSION_COLUMN} < version`}; then the channel's commit, then tunnel Checkpoint`
        : `tablestoreSink(${sinkTable.options.tableName}, ${sinkTable.options.rowChangeType}) on ${endpointText(sinkTable)}; then checkpoint, then tunnel Checkpoint`,
    },
    ...(onStateTable ? { feed: stateTableFeed(analyzed, plan, zone) } : {}),
  });
}

/**
 * `3 late rows dropped (window 2024-01-01 00:00:45–00:01:30: 2, …)`: the rows behind their
 * lateness limit (README, "Late data"), per window in the session time zone; at most 5 windows.
 */
export function lateText(windows: readonly LateWindow[], zone: TimeZone, total?: number): string {
  return jobLateText(windows, (ms) => formatTimestamp(ms, zone) ?? String(ms), total);
}
