/**
 * What `otsflow sql -f job.sql` / `otsflow sql -e "…"` does: runs a script the way `spark-sql -f` does.
 * Statements run in order: DDL notes on stderr, query results on stdout, stream jobs started and
 * kept running — with live progress on a terminal — until Ctrl-C, `--duration`, or, with
 * `--until-idle` (or triggerType 'OneTime'), until the feed is drained and the last batch is
 * committed. Any error is one clear line (SQL errors also quote the line with a caret) and a
 * non-zero exit code.
 *
 * Tables whose endpoint is `embedded` (or absent) are served by an emulator started in this
 * process on `--data` (default ./.otsflow/data), so tables and tunnels made there persist.
 */
import * as E from 'fp-ts/lib/Either.js';
import { readFileSync, statSync } from 'node:fs';
import { DEFAULT_CREDENTIALS, DEFAULT_INSTANCE_NAME, startEmulator, type RunningEmulator } from '../emulator/index.js';
import { compile } from '../sql/compile.js';
import { SQL_LIMITS } from '../sql/limits.js';
import { formatSqlError } from '../sql/printer.js';
import type { Connection } from '../sql/job.js';
import { CliError, UsageError, type CommandContext } from './log.js';
import { openJobRunner, type JobRunner } from './run-jobs.js';
import type { SqlCommandOptions } from './sql-command.js';

/** Errors printed for one script; the rest are counted in one line (4 KiB of garbage made 477). */
export const MAX_ERRORS_SHOWN = 20;

/**
 * The script in a file, refused with one clear line when it cannot be SQL text: too large to be
 * within the compiler's limit (checked before reading it), NUL bytes (a binary file), or bytes
 * that are not UTF-8.
 */
export function readScript(file: string): string {
  let bytes: Buffer;
  try {
    const size = statSync(file).size;
    // 4 bytes per character at most: anything larger exceeds the character limit whatever it holds
    if (size > SQL_LIMITS.maxScriptChars * 4) {
      throw new CliError(`${file} is too large for a SQL script: ${size.toLocaleString('en-US')} bytes, the limit is ${SQL_LIMITS.maxScriptChars.toLocaleString('en-US')} characters`);
    }
    bytes = readFileSync(file);
  } catch (error) {
    if (error instanceof CliError) throw error;
    const code = (error as NodeJS.ErrnoException).code;
    throw new CliError(`cannot read ${file}${code === 'ENOENT' ? ': no such file' : code === 'EISDIR' ? ': it is a directory' : `: ${(error as Error).message}`}`);
  }
  const where = (offset: number): string => {
    const before = bytes.subarray(0, offset);
    let line = 1;
    let lineStart = 0;
    for (let i = 0; i < before.length; i++) if (before[i] === 0x0a) (line += 1), (lineStart = i + 1);
    return `line ${line}, byte ${offset - lineStart + 1} of the line`;
  };
  const nul = bytes.indexOf(0);
  if (nul >= 0) throw new CliError(`${file} is not SQL text: a NUL byte at ${where(nul)} (a binary file?)`);
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    const bad = firstNonUtf8(bytes);
    throw new CliError(
      `${file} is not UTF-8 text${bad < 0 ? '' : `: byte 0x${bytes[bad]!.toString(16).padStart(2, '0')} at ${where(bad)}`} (save the script as UTF-8)`,
    );
  }
}

/** Offset of the first byte that does not start a well-formed UTF-8 sequence, or -1 if none is found. */
function firstNonUtf8(bytes: Uint8Array): number {
  for (let i = 0; i < bytes.length; ) {
    const lead = bytes[i]!;
    const length = lead < 0x80 ? 1 : lead >= 0xc2 && lead <= 0xdf ? 2 : lead >= 0xe0 && lead <= 0xef ? 3 : lead >= 0xf0 && lead <= 0xf4 ? 4 : 0;
    if (length === 0) return i;
    for (let k = 1; k < length; k++) if (((bytes[i + k] ?? 0) & 0xc0) !== 0x80) return i;
    i += length;
  }
  return -1;
}

/** Environment variables named `OTSFLOW_VAR_<name>` give `${name}`: secrets stay out of `ps`. */
export const VARIABLE_ENV_PREFIX = 'OTSFLOW_VAR_';

/**
 * Variables from the environment (`OTSFLOW_VAR_<name>=value`, an empty value counts as unset)
 * and from `--var name=value` pairs, which win; every malformed pair reported.
 */
export function parseVariables(pairs: readonly string[], env: NodeJS.ProcessEnv = {}): E.Either<readonly string[], Record<string, string>> {
  // no prototype: --var __proto__=x is a variable like any other
  const variables: Record<string, string> = Object.create(null) as Record<string, string>;
  const problems: string[] = [];
  for (const [key, value] of Object.entries(env)) {
    if (!key.startsWith(VARIABLE_ENV_PREFIX) || value === undefined || value === '') continue;
    const name = key.slice(VARIABLE_ENV_PREFIX.length);
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) problems.push(`environment variable ${key}: the part after ${VARIABLE_ENV_PREFIX} must be a name of letters, digits and '_'`);
    else variables[name] = value;
  }
  for (const pair of pairs) {
    const at = pair.indexOf('=');
    const name = at < 0 ? '' : pair.slice(0, at);
    if (!/^[A-Za-z_][A-Za-z0-9_.]*$/.test(name)) problems.push(`--var ${pair}: write name=value (a name of letters, digits, '_' and '.')`);
    else variables[name] = pair.slice(at + 1);
  }
  return problems.length > 0 ? E.left(problems) : E.right(variables);
}

export async function runSqlCommand(options: SqlCommandOptions, context: CommandContext): Promise<void> {
  const { log } = context;
  if ((options.file === undefined) === (options.execute === undefined)) throw new UsageError('give the script with -f <file> or -e "<sql>" (one of them)');
  if (options.reset === true && options.atLeastOnce === true) throw new UsageError('--reset and --at-least-once are two answers to a lost checkpoint: give one of them');
  const variables = parseVariables(options.var, process.env);
  if (E.isLeft(variables)) throw new UsageError(variables.left.join('; '));
  for (const [name, value] of Object.entries(variables.right)) if (/secret|password|token/i.test(name)) log.addSecret(value);
  const text = options.file !== undefined ? readScript(options.file) : (options.execute as string);

  let emulator: Promise<RunningEmulator> | undefined;
  // assigned before any statement runs (the emulator starts with the first statement that needs it)
  let runner: JobRunner | undefined;
  const embedded = (): Promise<Connection> => {
    const onRequest = runner?.onRequest;
    emulator ??= startEmulator({ dataDir: options.data, port: 0, instanceName: DEFAULT_INSTANCE_NAME, credentials: [DEFAULT_CREDENTIALS], ...(onRequest === undefined ? {} : { onRequest }) }).then((running) => {
      log.info(`embedded emulator on ${running.endpoint} (data in ${running.dataDir})`);
      return running;
    });
    return emulator.then((running) => ({ endpoint: running.endpoint, instanceName: running.instanceName, accessKeyId: running.credentials.accessKeyId, accessKeySecret: running.credentials.accessKeySecret }));
  };
  const tunnel = {
    ...(options.heartbeatIntervalMs === undefined ? {} : { heartbeatIntervalMs: options.heartbeatIntervalMs }),
    ...(options.heartbeatTimeoutMs === undefined ? {} : { heartbeatTimeoutMs: options.heartbeatTimeoutMs }),
  };
  const compiled = compile(text, {
    ...(options.timeZone === undefined ? {} : { timeZone: options.timeZone }),
    variables: variables.right,
    embedded,
    tunnel,
    ...(options.reset === true ? { lostCheckpoint: 'reset' as const } : options.atLeastOnce === true ? { lostCheckpoint: 'at-least-once' as const } : {}),
    onLog: (level, message) => (level === 'warn' ? log.warn(message) : log.info(message)),
  });
  if (E.isLeft(compiled)) {
    // compiler style: one line per problem (file:line:col), the source line and a caret below it
    const where = options.file ?? '-e';
    for (const error of compiled.left.slice(0, MAX_ERRORS_SHOWN)) {
      const [, ...excerpt] = formatSqlError(text, error).split('\n');
      log.error(`otsflow sql: ${where}:${error.line}:${error.column}: ${error.message}${error.hint === undefined ? '' : ` (${error.hint})`}`);
      for (const line of excerpt) if (!line.startsWith('  hint:')) log.info(line);
    }
    const rest = compiled.left.length - MAX_ERRORS_SHOWN;
    if (rest > 0) log.error(`otsflow sql: ${where}: ${rest} more error${rest === 1 ? '' : 's'} not shown (${compiled.left.length} in all; fix the ones above first)`);
    process.exitCode = 1;
    return;
  }
  for (const statement of compiled.right.statements) {
    for (const table of tablesOf(statement.analyzed)) log.addSecret(table);
  }

  // the stream jobs run as any job does (run-jobs.ts): live view, --until-idle, graceful stop on a
  // signal, summary lines; --metrics-port: the jobs' figures, and the embedded emulator's when one runs
  runner = await openJobRunner(
    {
      untilIdle: options.untilIdle === true,
      idleMs: options.idleMs,
      ...(options.duration === undefined ? {} : { duration: options.duration }),
      progress: options.progress,
      ...(options.metricsPort === undefined ? {} : { metricsPort: options.metricsPort }),
      metricsHost: options.metricsHost,
    },
    log,
  );
  let jobs = 0;
  try {
    for (const statement of compiled.right.statements) {
      const result = await statement.run().catch((error: unknown) => {
        const sql = statement.sql.length > 50 ? `${statement.sql.slice(0, 49)}…` : statement.sql;
        throw new CliError(`${(error as Error)?.message ?? String(error)} (in ${sql})`, { cause: error });
      });
      switch (result.kind) {
        case 'done':
          log.info(result.message);
          break;
        case 'rows':
        case 'text':
          context.out(result.text.replace(/\n$/, ''));
          break;
        case 'job':
          jobs++;
          runner.add(result.job);
          break;
      }
    }
    if (jobs === 0) return;
    const oneTime = compiled.right.statements.some((s) => s.analyzed.kind === 'stream' && s.analyzed.options.triggerType === 'OneTime');
    await runner.wait({ untilIdle: oneTime });
  } finally {
    await runner.close();
    if (emulator !== undefined) await (await emulator).close();
  }
}

/** Credentials a statement's tables carry, so the logger can mask them. */
function tablesOf(analyzed: import('../sql/analyze.js').AnalyzedStatement): string[] {
  if (analyzed.kind === 'createTable') return analyzed.table.options.accessKeySecret === null ? [] : [analyzed.table.options.accessKeySecret.reveal()];
  if (analyzed.kind === 'explain') return tablesOf(analyzed.inner);
  return [];
}

