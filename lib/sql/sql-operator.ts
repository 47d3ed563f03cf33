/**
 * `sqlOperator(sql, options)`: the operator chain a streaming query compiles to, as one
 * `OperatorFunction` from micro-batches of change records to the output rows of each batch —
 * no tunnel, no emulator, no sink. It is what a stream job runs between `microBatch` and
 * `commitAfter`, planned by the same planner, so a marble test of it tests the job's SQL.
 *
 * The script defines the source table and its STREAM scan as a job file does; the query is its
 * one `CREATE STREAM … INSERT INTO … SELECT` (rows then carry the sink's column names, as the job
 * writes them) or a bare `SELECT … FROM <STREAM scan>` (rows carry the SELECT's names):
 *
 *   CREATE TABLE orders USING tablestore OPTIONS(table.name='Orders', catalog='{"columns": {…}}');
 *   CREATE SCAN orders_stream ON orders USING STREAM OPTIONS(tunnel.name='orders');
 *   SELECT window.start AS begin, count(*) AS n FROM orders_stream WATERMARK ts DELAY OF INTERVAL 10 SECONDS GROUP BY window(ts, '30 seconds')
 *
 *   batches  --a----b----c--|     (micro-batches of change records)
 *   sqlOperator(sql)
 *   rows     --x----y----z--|     (each batch's output rows; [] when it outputs none)
 */
import * as E from 'fp-ts/lib/Either.js';
import { pipe } from 'fp-ts/lib/function.js';
import { map, type OperatorFunction } from 'rxjs';
import type { RecordBatch } from '../stream/batch.js';
import type { OutputMode } from '../stream/emit.js';
import { tableRows, type OutputRow } from '../stream/table.js';
import type { ChangeRecord } from '../wire/types.js';
import { analyzeScript, type AnalyzedQuery, type AnalyzedStatement, type SinkBinding } from './analyze.js';
import { timeZone, type TimeZone } from './datetime.js';
import { sqlError, type SqlError } from './errors.js';
import { decodeScript } from './options.js';
import { parse } from './parser.js';
import { planQuery, type Stage } from './plan.js';
import { formatSqlErrors } from './printer.js';
import type { SqlType } from './types.js';
import { substituteVariables } from './variables.js';

export interface SqlOperatorOptions {
  /** the session time zone (CAST(ts AS STRING), to_timestamp of text, date_format); default 'UTC', so tests read the same everywhere */
  readonly timeZone?: string;
  /** values of `${name}` in OPTIONS */
  readonly variables?: Readonly<Record<string, string>>;
  /** which CREATE STREAM job to take when the script has several */
  readonly job?: string;
  /** default: the job's `outputMode`, or 'append' (Spark's default) for a bare SELECT */
  readonly outputMode?: OutputMode;
  /** a record that does not fit the source catalog: fail the stream (default) or drop it */
  readonly onBadRow?: 'fail' | 'skip';
}

export interface CompiledSqlOperator {
  /** micro-batches of change records → the output rows of each batch */
  readonly operator: OperatorFunction<RecordBatch<ChangeRecord>, readonly OutputRow[]>;
  /** the output columns in order: the sink's for a job, the SELECT's otherwise */
  readonly columns: readonly { readonly name: string; readonly type: SqlType }[];
  /** the planned operators, as EXPLAIN lists them */
  readonly stages: readonly Stage[];
  readonly outputMode: OutputMode;
  readonly timeZone: TimeZone;
}

/** The SQL (or its options) is wrong; `message` shows every problem located in the text. */
export class SqlOperatorError extends Error {
  override readonly name = 'SqlOperatorError';
  constructor(
    readonly errors: readonly SqlError[],
    source: string,
  ) {
    super(`sqlOperator: ${errors.length === 1 ? 'the SQL has a problem' : `the SQL has ${errors.length} problems`}\n${formatSqlErrors(source, errors)}`);
  }
}

type StreamingStatement = Extract<AnalyzedStatement, { kind: 'stream' }> | (Extract<AnalyzedStatement, { kind: 'select' }> & { readonly query: AnalyzedQuery });

/** The streaming query of `sql` planned as an operator, or every problem with its place in the text. */
export function compileSqlOperator(sql: string, options: SqlOperatorOptions = {}): E.Either<readonly SqlError[], CompiledSqlOperator> {
  const start = { line: 1, column: 1, offset: 0 };
  const zone = timeZone(options.timeZone ?? 'UTC');
  if (E.isLeft(zone)) return E.left([sqlError(start, `sqlOperator time zone: ${zone.left}`)]);
  return pipe(
    parse(sql),
    E.chain((statements) => substituteVariables(statements, options.variables ?? {})),
    E.chain(decodeScript),
    E.chain((decoded) => {
      const analysis = analyzeScript(decoded, { streamingSelects: true });
      return analysis.ok ? E.right(analysis.statements) : E.left(analysis.errors);
    }),
    E.chain((statements) => pickQuery(statements, options)),
    E.chain((statement) => checkOutputMode(statement, options.outputMode ?? (statement.kind === 'stream' ? statement.options.outputMode : 'append'))),
    E.map(({ statement, outputMode }): CompiledSqlOperator => {
      const plan = planQuery(statement.query, { zone: zone.right, outputMode, onBadRow: options.onBadRow ?? 'fail', ...(statement.kind === 'stream' ? { sink: statement.sink } : {}) });
      // the plan's output stays columnar up to here: rows are made once, for the test to compare
      const operator: OperatorFunction<RecordBatch<ChangeRecord>, readonly OutputRow[]> = (source) => plan.operator(source).pipe(map((batch) => tableRows(batch.rows) as OutputRow[]));
      return { operator, columns: statement.kind === 'stream' ? sinkColumns(statement.sink) : plan.columns, stages: plan.stages, outputMode, timeZone: zone.right };
    }),
  );
}

/**
 * `compileSqlOperator`, throwing a {@link SqlOperatorError} (every problem, located and quoted)
 * when the SQL is wrong: for tests, where bad SQL is the test's own mistake.
 */
export function sqlOperator(sql: string, options: SqlOperatorOptions = {}): OperatorFunction<RecordBatch<ChangeRecord>, readonly OutputRow[]> {
  const compiled = compileSqlOperator(sql, options);
  if (E.isLeft(compiled)) throw new SqlOperatorError(compiled.left, sql);
  return compiled.right.operator;
}

function pickQuery(statements: readonly AnalyzedStatement[], options: SqlOperatorOptions): E.Either<readonly SqlError[], StreamingStatement> {
  const streaming = statements.filter((s): s is StreamingStatement => s.kind === 'stream' || (s.kind === 'select' && s.query.streaming));
  const start = statements[0]?.statement.loc ?? { line: 1, column: 1, offset: 0 };
  if (options.job !== undefined) {
    const jobs = streaming.filter((s) => s.kind === 'stream');
    const named = jobs.find((s) => s.kind === 'stream' && s.name.toLowerCase() === options.job?.toLowerCase());
    if (named !== undefined) return E.right(named);
    return E.left([sqlError(start, `sqlOperator: no CREATE STREAM ${options.job} in the script${jobs.length === 0 ? '' : ` (jobs: ${jobs.map((s) => (s.kind === 'stream' ? s.name : '')).join(', ')})`}`)]);
  }
  const only = streaming[0];
  if (only === undefined || streaming.length > 1) {
    const message =
      only === undefined
        ? 'sqlOperator: the script has no streaming query: it needs a CREATE STREAM … INSERT INTO … SELECT, or a SELECT … FROM a STREAM scan'
        : `sqlOperator: the script has ${streaming.length} streaming queries; keep one, or name a job with { job }`;
    return E.left([sqlError(only === undefined ? start : (streaming[1]?.statement.loc ?? start), message)]);
  }
  if (only.kind === 'select' && (only.query.orderBy.length > 0 || only.query.limit !== null)) {
    return E.left([sqlError(only.statement.loc, 'ORDER BY and LIMIT are not supported in a streaming query', 'order does not apply to a stream: each batch outputs the rows it changed')]);
  }
  return E.right(only);
}

/** What the analyzer checks for a CREATE STREAM's outputMode, for a bare SELECT or an overridden mode. */
function checkOutputMode(statement: StreamingStatement, outputMode: OutputMode): E.Either<readonly SqlError[], { statement: StreamingStatement; outputMode: OutputMode }> {
  const { query } = statement;
  const at = statement.statement.loc;
  if (outputMode === 'complete' && !query.aggregating) {
    return E.left([sqlError(at, "outputMode 'complete' needs an aggregation (there are no groups to output)", "use 'append' for a query without GROUP BY")]);
  }
  if (outputMode === 'append' && query.aggregating && (query.window === null || query.watermark === null)) {
    return E.left([
      sqlError(
        at,
        `outputMode 'append' on an aggregation needs ${query.window === null ? 'a window and ' : ''}a watermark: a group is appended once, when the watermark closes its window`,
        query.window === null ? "pass { outputMode: 'update' } or 'complete'" : "add FROM … WATERMARK <time> DELAY OF INTERVAL 10 SECONDS, or pass { outputMode: 'update' }",
      ),
    ]);
  }
  return E.right({ statement, outputMode });
}

function sinkColumns(binding: SinkBinding): { readonly name: string; readonly type: SqlType }[] {
  return binding.columns.map((column) => ({ name: column.column, type: column.type }));
}
