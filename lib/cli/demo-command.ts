/**
 * `otsflow demo` (`npm start`): the seed scenario end to end on the embedded emulator, ending in
 * PASS (exit 0) or FAIL (exit 1). See demo.ts.
 */
import { InvalidArgumentError, Option, type Command } from 'commander';
import { fileURLToPath } from 'node:url';
import { CliError, commandAction } from './log.js';
import { addMetricsOptions } from './sql-command.js';

interface DemoCommandOptions {
  readonly duration: number;
  readonly rate: number;
  readonly lateShare: number;
  readonly seed: number;
  readonly timeZone?: string;
  readonly keep?: boolean;
  readonly sql: string;
  readonly metricsPort?: number;
  readonly metricsHost: string;
  readonly progress: boolean;
}

const number = (what: string, min: number, max: number) => (text: string): number => {
  const value = Number(text);
  if (!Number.isFinite(value) || value < min || value > max) throw new InvalidArgumentError(`${what} must be a number in [${min}, ${max}].`);
  return value;
};

/** examples/orders/job.sql, the seed's SQL */
const JOB_SQL = fileURLToPath(new URL('../../examples/orders/job.sql', import.meta.url));

export function registerDemoCommand(program: Command): Command {
  const command = program
    .command('demo')
    .description('run the seed scenario (orders → 30 s windows → OrderStreamSink) on the embedded emulator and check the result')
    .addOption(new Option('--duration <seconds>', 'how long orders are generated').argParser(number('--duration', 1, 86_400)).default(60))
    .addOption(new Option('--rate <orders/s>', 'orders written per second').argParser(number('--rate', 1, 20_000)).default(300))
    .addOption(new Option('--late-share <fraction>', 'share of orders 40–90 s late').argParser(number('--late-share', 0, 1)).default(0.02))
    .addOption(new Option('--seed <n>', 'seed of the order generator').argParser(number('--seed', 0, 2 ** 32 - 1)).default(42))
    .option('--time-zone <zone>', "session time zone of the job (default: the machine's)")
    .option('--keep', 'keep the emulator data directory')
    .option('--sql <file>', 'the job to run', JOB_SQL)
    .option('--no-progress', 'no live progress on stderr');
  return addMetricsOptions(command, "the job's and the emulator's figures")
    .action(
      commandAction<DemoCommandOptions>(async (options, context) => {
        // loaded when the demo runs, so other commands start without it
        const { runDemo } = await import('./demo.js');
        const result = await runDemo(
          {
            durationSec: options.duration,
            rate: options.rate,
            lateShare: options.lateShare,
            seed: options.seed,
            timeZone: options.timeZone,
            keep: options.keep === true,
            sqlFile: options.sql,
            progress: options.progress,
            ...(options.metricsPort === undefined ? {} : { metricsPort: options.metricsPort, metricsHost: options.metricsHost }),
          },
          { out: process.stdout, log: context.log },
        );
        if (result === 'fail') throw new CliError('the sink differs from the direct computation (see above)');
        if (result === 'interrupted') throw new CliError('interrupted before the check: no verdict');
      }),
    );
}
