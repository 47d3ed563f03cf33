/**
 * Running stream jobs as a command does: what `otsflow sql` gives a SQL job, for any `StreamJob`
 * (`runJob` of a hand-written chain, or a compiled CREATE STREAM).
 *
 * - the live view on a terminal (stderr), one progress line every few seconds elsewhere;
 * - `--until-idle` (with `--idle-ms`): stop once the feed is drained and the last batch committed;
 *   `--duration <s>`: stop after that long; otherwise run until Ctrl-C / SIGTERM;
 * - Ctrl-C / SIGTERM: a graceful stop (the last batch committed, the tunnel shut down);
 * - one summary line per job; `--metrics-port`: Prometheus metrics while the jobs run;
 * - exit codes: 0, 1 when a job failed (one line `otsflow: job …: <why>`), 2 for a bad flag.
 *
 * `otsflow sql` runs its jobs through `openJobRunner`; `runCli(job)` is the same for a program:
 *
 *   const job = runJob({ … });
 *   const summaries = await runCli(job);            // reads --until-idle, --metrics-port, … from process.argv
 *   if (summaries === undefined) process.exit();    // failed: the line is printed, process.exitCode set
 */
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import type { RequestServed } from '../emulator/index.js';
import type { JobSummary, StreamJob } from '../stream/job/types.js';
import { lateText } from '../stream/job/late-text.js';
import { CliError, createLogger, isLogFormat, isLogLevel, LOG_FORMATS, LOG_LEVELS, reportFailure, UsageError, type Logger } from './log.js';
import { formatTypeMismatches, progressPrinter, type ProgressView } from './progress.js';
import type { MetricsEndpoint } from './metrics-endpoint.js';

/** How jobs run: the flags of `otsflow sql` that concern its stream jobs. */
export interface JobRunSettings {
  /** stop once every job is drained (the feed idle for `idleMs`, every batch committed) */
  readonly untilIdle?: boolean;
  /** default 2000 */
  readonly idleMs?: number;
  /** stop after this many seconds */
  readonly duration?: number;
  /** the live view / progress lines (default true) */
  readonly progress?: boolean;
  /** where the live view / progress lines go (default stderr; redrawn in place when `isTTY`) */
  readonly out?: { write(text: string): unknown; isTTY?: boolean };
  /** serve the jobs' figures (and an emulator's, through `onRequest`) on this port; 0: a free one */
  readonly metricsPort?: number;
  /** default 127.0.0.1 */
  readonly metricsHost?: string;
  /** the live view's table: rows shown, sort column */
  readonly view?: ProgressView;
}

export interface JobRunner {
  /** with `metricsPort`: the hook that exports an emulator's figures (`startEmulator({ onRequest })`) */
  readonly onRequest: ((served: RequestServed) => void) | undefined;
  /** Ctrl-C / SIGTERM came */
  readonly interrupted: boolean;
  /** shows and exports the job, and starts it (stopped at once after an interrupt) */
  add(job: StreamJob): void;
  /**
   * Runs until the jobs end, are drained (`untilIdle`), the duration passes or a signal comes;
   * stops them gracefully and prints one summary line per job. A failed job rejects (CliError).
   */
  wait(options?: { readonly untilIdle?: boolean }): Promise<readonly JobSummary[]>;
  /** stops what still runs, takes the signal handlers off, closes the metrics endpoint */
  close(): Promise<void>;
}

/** `job orders: 12 batches committed, 3,000 records read, 7 rows written in 4.2 s` */
export function summaryLine(summary: JobSummary, formatTime?: (epochMs: number) => string): string {
  const late = summary.lateRows > 0 ? `, ${lateText(summary.lateWindows, formatTime, summary.lateRows)}` : '';
  const mismatches = summary.typeMismatches > 0 ? `, ${formatTypeMismatches(summary.typeMismatches, summary.typeMismatchesByColumn)}` : '';
  const partial = summary.partialRows === undefined ? '' : `, ${summary.partialRows} partial rows (named above)`;
  return `job ${summary.job}: ${summary.batchesCommitted} batches committed, ${summary.recordsIn} records read, ${summary.rowsWritten} rows written${late}${mismatches}${partial} in ${(summary.durationMs / 1000).toFixed(1)} s`;
}

export async function openJobRunner(settings: JobRunSettings, log: Logger): Promise<JobRunner> {
  let endpoint: MetricsEndpoint | undefined;
  let addMetrics: ((job: StreamJob) => void) | undefined;
  let onRequest: ((served: RequestServed) => void) | undefined;
  if (settings.metricsPort !== undefined) {
    const { metricsRegistry, registerEmulatorMetrics, registerJobMetrics, serveMetrics } = await import('./metrics-endpoint.js');
    const registry = metricsRegistry();
    const jobMetrics = registerJobMetrics(registry);
    addMetrics = (job) => jobMetrics.add(job);
    onRequest = registerEmulatorMetrics(registry);
    endpoint = await serveMetrics(registry, { port: settings.metricsPort, host: settings.metricsHost ?? '127.0.0.1' }).catch((error: unknown) => {
      throw new CliError((error as Error).message);
    });
    log.info(`metrics on ${endpoint.url}`);
  }

  const jobs: StreamJob[] = [];
  const stopAll = async (): Promise<void> => {
    await Promise.allSettled(jobs.map((job) => job.stop()));
  };
  let interrupted = false;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (interrupted) return;
    interrupted = true;
    log.info(`${signal} received: committing the last batch and shutting the tunnel down`);
    void stopAll();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  let closed = false;

  return {
    onRequest,
    get interrupted() {
      return interrupted;
    },
    add(job) {
      jobs.push(job);
      addMetrics?.(job);
      if (settings.progress !== false) {
        const printer = progressPrinter(settings.out ?? process.stderr, settings.view ?? { rows: 6 });
        job.progress.subscribe({ next: (update) => printer.update(update), complete: () => printer.close() });
      }
      job.start();
      if (interrupted) void job.stop();
    },
    async wait(options = {}) {
      if (jobs.length === 0) return [];
      const ends: Promise<unknown>[] = jobs.map((job) => job.done);
      if (settings.untilIdle === true || options.untilIdle === true) ends.push(Promise.all(jobs.map((job) => job.untilIdle(settings.idleMs ?? 2_000))));
      if (settings.duration !== undefined) ends.push(new Promise((resolve) => setTimeout(resolve, (settings.duration as number) * 1000).unref()));
      await Promise.race(ends);
      await stopAll();
      const summaries: JobSummary[] = [];
      for (const job of jobs) {
        const summary = await job.done.catch((error: unknown) => {
          throw new CliError((error as Error)?.message ?? String(error), { cause: error });
        });
        // late rows per window (README, "Late data"), window bounds as the job writes times
        log.info(summaryLine(summary, job.formatTime));
        summaries.push(summary);
      }
      return summaries;
    },
    async close() {
      if (closed) return;
      closed = true;
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      await stopAll();
      await endpoint?.close();
    },
  };
}

const positiveNumber = (what: string) => (text: string): number => {
  const value = Number(text);
  if (!Number.isFinite(value) || value <= 0) throw new InvalidArgumentError(`${what} must be a number > 0.`);
  return value;
};

/** The flags `runCli` reads, as commander options (the same as `otsflow sql`'s). */
function runFlags(name: string): Command {
  return new Command(name)
    .exitOverride()
    .configureOutput({ writeOut: (text) => void process.stdout.write(text), writeErr: () => undefined })
    .option('--until-idle', 'stop once the feed is drained and the last batch is committed')
    .addOption(new Option('--idle-ms <ms>', 'how long the feed must be quiet for --until-idle').argParser(positiveNumber('--idle-ms')).default(2_000))
    .addOption(new Option('--duration <seconds>', 'stop after this many seconds').argParser(positiveNumber('--duration')))
    .option('--no-progress', 'no live progress on stderr')
    .addOption(
      new Option('--metrics-port <port>', 'serve the jobs\' figures as Prometheus metrics on http://<metrics-host>:<port>/metrics (0 picks a free port)').argParser((text: string): number => {
        const value = Number(text);
        if (!Number.isInteger(value) || value < 0 || value > 65_535) throw new InvalidArgumentError('--metrics-port must be an integer in [0, 65535].');
        return value;
      }),
    )
    .option('--metrics-host <host>', 'interface the metrics endpoint binds', '127.0.0.1')
    .addOption(new Option('--log-level <level>', 'diagnostics on stderr down to this level').choices(LOG_LEVELS).default('info').env('OTSFLOW_LOG_LEVEL'))
    .addOption(new Option('--log-format <format>', 'text: human lines; json: one JSON object per line').choices(LOG_FORMATS).default('text').env('OTSFLOW_LOG_FORMAT'));
}

export interface RunCliOptions extends JobRunSettings {
  /** the flags to read (default `process.argv.slice(2)`); settings given here win over them */
  readonly argv?: readonly string[];
  /** the program's name in messages and --help (default `otsflow`) */
  readonly name?: string;
  /** where lines go (default: a logger on stderr at --log-level / --log-format) */
  readonly log?: Logger;
}

/**
 * Runs `jobs` as `otsflow sql` runs its stream jobs (module comment): reads `--until-idle`,
 * `--idle-ms`, `--duration`, `--no-progress`, `--metrics-port`, `--metrics-host`, `--log-level`
 * and `--log-format` from the command line, shows the live view, stops gracefully on Ctrl-C /
 * SIGTERM, prints the summary lines. Resolves with the summaries; when a job failed or a flag is
 * wrong it prints one line, sets `process.exitCode` (1, or 2 for a flag) and resolves undefined.
 */
export async function runCli(jobs: StreamJob | readonly StreamJob[], options: RunCliOptions = {}): Promise<readonly JobSummary[] | undefined> {
  const name = options.name ?? 'otsflow';
  const command = runFlags(name);
  let log = options.log ?? createLogger();
  let flags: Record<string, unknown>;
  try {
    command.parse([...(options.argv ?? process.argv.slice(2))], { from: 'user' });
    flags = command.opts();
  } catch (error) {
    if (error instanceof CommanderError && (error.code === 'commander.helpDisplayed' || error.code === 'commander.version')) return undefined;
    const message = error instanceof CommanderError ? error.message.replace(/^error: /, '').replace(/\s*\n\s*/g, ' ') : String(error);
    process.exitCode = reportFailure(log, '', new UsageError(`${message} (see ${name} --help)`));
    return undefined;
  }
  if (options.log === undefined) log = createLogger({ level: isLogLevel(flags['logLevel']) ? flags['logLevel'] : 'info', format: isLogFormat(flags['logFormat']) ? flags['logFormat'] : 'text' });
  const settings: JobRunSettings = {
    untilIdle: options.untilIdle ?? (flags['untilIdle'] as boolean | undefined) ?? false,
    idleMs: options.idleMs ?? (flags['idleMs'] as number),
    ...((options.duration ?? flags['duration']) === undefined ? {} : { duration: (options.duration ?? flags['duration']) as number }),
    progress: options.progress ?? (flags['progress'] as boolean),
    ...((options.metricsPort ?? flags['metricsPort']) === undefined ? {} : { metricsPort: (options.metricsPort ?? flags['metricsPort']) as number }),
    metricsHost: options.metricsHost ?? (flags['metricsHost'] as string),
    ...(options.view === undefined ? {} : { view: options.view }),
    ...(options.out === undefined ? {} : { out: options.out }),
  };
  let runner: JobRunner | undefined;
  try {
    runner = await openJobRunner(settings, log);
    for (const job of Array.isArray(jobs) ? jobs : [jobs as StreamJob]) runner.add(job);
    return await runner.wait();
  } catch (error) {
    process.exitCode = reportFailure(log, '', error);
    return undefined;
  } finally {
    await runner?.close();
  }
}
