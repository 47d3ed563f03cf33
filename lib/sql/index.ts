/**
 * The SQL front end: `parse` turns EMR streaming SQL text into statements (syntax only);
 * `parseScript` also decodes every OPTIONS list and catalog. Both return every problem as a
 * located SqlError and never throw.
 */
import * as E from 'fp-ts/lib/Either.js';
import type { SqlError } from './errors.js';
import { decodeScript, type DecodedStatement } from './options.js';
import { parse } from './parser.js';

export * from './ast.js';
export { describeSqlError, type SqlError } from './errors.js';
export { parseDuration, isSensitiveOptionKey, redactSource } from './lexer.js';
export { parse } from './parser.js';
export * from './options.js';
export { explainAst, formatExpression, formatScript, formatSqlError, formatSqlErrors, formatStatement } from './printer.js';

/** `parse`, then `decodeScript`: statements with their typed options. */
export function parseScript(text: string): E.Either<readonly SqlError[], readonly DecodedStatement[]> {
  return E.chain(decodeScript)(parse(text));
}
export { compile, type CompiledScript, type CompileOptions } from './compile.js';
export { analyzeScript, type AnalyzedStatement, type AnalyzedQuery } from './analyze.js';
export { planQuery, type QueryPlan, type Stage } from './plan.js';
export { formatResult, formatCell, JobError } from './job.js';
export type { Connection, TunnelTuning, CompiledStatement, StatementResult, ResultSet, StreamJob, JobProgress, JobSummary, JobState, ChannelProgress } from './job.js';
export { timeZone, systemTimeZone, formatTimestamp, type TimeZone } from './datetime.js';
