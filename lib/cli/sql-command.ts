/**
 * `otsflow sql -f job.sql` / `otsflow sql -e "…"`: the command's flags; the runner (sql-run.ts) is
 * loaded only when the command runs, so other commands start without the SQL stack.
 */
import { InvalidArgumentError, Option, type Command } from 'commander';
import { DEFAULT_DATA_DIR } from './connection.js';
import { commandAction } from './log.js';

export interface SqlCommandOptions {
  readonly file?: string;
  readonly execute?: string;
  readonly var: readonly string[];
  readonly timeZone?: string;
  readonly untilIdle?: boolean;
  readonly idleMs: number;
  readonly duration?: number;
  readonly data: string;
  readonly heartbeatIntervalMs?: number;
  readonly heartbeatTimeoutMs?: number;
  readonly progress: boolean;
  readonly reset?: boolean;
  readonly atLeastOnce?: boolean;
  readonly metricsPort?: number;
  readonly metricsHost: string;
}

const positiveNumber = (what: string) => (text: string): number => {
  const value = Number(text);
  if (!Number.isFinite(value) || value <= 0) throw new InvalidArgumentError(`${what} must be a number > 0.`);
  return value;
};

const collect = (value: string, previous: readonly string[]): readonly string[] => [...previous, value];

/** `--metrics-port <port>` and `--metrics-host <host>`: Prometheus metrics at /metrics (0 picks a free port) */
export function addMetricsOptions(command: Command, what: string): Command {
  return command
    .addOption(
      new Option('--metrics-port <port>', `serve ${what} as Prometheus metrics on http://<metrics-host>:<port>/metrics (0 picks a free port, printed at start)`).argParser((text: string): number => {
        const value = Number(text);
        if (!Number.isInteger(value) || value < 0 || value > 65_535) throw new InvalidArgumentError('--metrics-port must be an integer in [0, 65535].');
        return value;
      }),
    )
    .option('--metrics-host <host>', 'interface the metrics endpoint binds; loopback unless told otherwise', '127.0.0.1');
}

export function registerSqlCommand(program: Command): Command {
  const command = program
    .command('sql')
    .description('run EMR streaming SQL statements (CREATE TABLE/SCAN/STREAM, SELECT, INSERT, SHOW, DESCRIBE, EXPLAIN)')
    .option('-f, --file <path>', 'the script to run')
    .option('-e, --execute <sql>', 'statements given on the command line')
    .option('--var <name=value>', 'a value for ${name} in OPTIONS (repeatable), like spark-sql -d; secrets rather as OTSFLOW_VAR_<name> in the environment (flags show in ps)', collect, [] as readonly string[])
    .option('--time-zone <zone>', "session time zone for timestamps as text (default: the machine's), e.g. UTC, Asia/Shanghai")
    .option('--until-idle', 'stop stream jobs once the feed is drained and the last batch is committed (on many workers: once every channel of the job is, wherever it is held)')
    .addOption(new Option('--idle-ms <ms>', 'how long the feed must be quiet for --until-idle').argParser(positiveNumber('--idle-ms')).default(2_000))
    .addOption(new Option('--duration <seconds>', 'stop stream jobs after this many seconds').argParser(positiveNumber('--duration')))
    .option('--data <dir>', 'data directory of the embedded emulator (tables with endpoint "embedded")', DEFAULT_DATA_DIR)
    .addOption(new Option('--heartbeat-interval-ms <ms>', 'tunnel heartbeat interval (default 30000, as the official workers)').argParser(positiveNumber('--heartbeat-interval-ms')))
    .addOption(new Option('--heartbeat-timeout-ms <ms>', 'tunnel heartbeat timeout (default 300000)').argParser(positiveNumber('--heartbeat-timeout-ms')))
    .option('--no-progress', 'no live progress on stderr')
    .option('--reset', "when the checkpointLocation is lost (empty, but the tunnel shows progress): recreate the tunnel and recompute every window from the start of the stream's retention")
    .option('--at-least-once', "when the checkpointLocation is lost: resume from the tunnel's checkpoints with empty window state; sink rows rewritten partial are named in the log");
  return addMetricsOptions(command, "the jobs' figures (and the embedded emulator's)")
    .action(commandAction<SqlCommandOptions>(async (options, context) => (await import('./sql-run.js')).runSqlCommand(options, context)));
}
