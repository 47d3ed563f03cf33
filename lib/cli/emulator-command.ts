/**
 * `otsflow emulator`: runs the embedded Tablestore emulator in the foreground, prints how to
 * connect, and closes cleanly (pending commits flushed, LMDB closed) on SIGINT/SIGTERM.
 */
import type { Command } from 'commander';
import * as E from 'fp-ts/lib/Either.js';
import { DEFAULT_CREDENTIALS, DEFAULT_HOST, DEFAULT_INSTANCE_NAME } from '../emulator/defaults.js';
import type { RunningEmulator } from '../emulator/index.js';
import { commandAction, type CommandContext, UsageError } from './log.js';
import { addMetricsOptions } from './sql-command.js';

export interface EmulatorCommandOptions {
  readonly port: string;
  readonly host: string;
  readonly data: string;
  readonly instance: string;
  readonly accessKeyId: string;
  readonly accessKeySecret: string;
  readonly partitions: string;
  /** tunnel fault plan, e.g. '503=0.1,latency=200ms@0.05,drop=0.02,seed=42' */
  readonly faults?: string;
  /** retention of tunnel-enabled streams, hours */
  readonly streamRetentionHours: string;
  readonly metricsPort?: number;
  readonly metricsHost: string;
}

const integerOption = (name: string, text: string, min: number, max: number): number => {
  const value = Number(text);
  if (!Number.isInteger(value) || value < min || value > max) throw new UsageError(`--${name} must be an integer in [${min}, ${max}], got '${text}'`);
  return value;
};

export const describeEmulator = (emulator: RunningEmulator, metricsUrl?: string): string =>
  [
    'otsflow emulator is running',
    `  endpoint:        ${emulator.endpoint}`,
    `  instance:        ${emulator.instanceName}`,
    `  accessKeyId:     ${emulator.credentials.accessKeyId}`,
    `  accessKeySecret: ${emulator.credentials.accessKeySecret}`,
    `  data:            ${emulator.dataDir}`,
    ...(metricsUrl === undefined ? [] : [`  metrics:         ${metricsUrl}`]),
    'Press Ctrl+C to stop.',
  ].join('\n');

/** Runs until SIGINT/SIGTERM. Bad flags throw `UsageError`; the banner goes to `out` (stdout). */
export const runEmulatorCommand = async (options: EmulatorCommandOptions, context: Pick<CommandContext, 'log' | 'out'>): Promise<void> => {
  const { log, out } = context;
  const { startEmulator, prepareDataDir } = await import('../emulator/index.js');
  const dataDir = prepareDataDir(options.data);
  if (E.isLeft(dataDir)) throw new UsageError(`--data: ${dataDir.left}`);
  const { parseFaultPlan } = await import('../emulator/tunnel/index.js');
  const faults = options.faults === undefined ? undefined : parseFaultPlan(options.faults);
  if (faults !== undefined && E.isLeft(faults)) throw new UsageError(`--faults: ${faults.left.join('; ')}`);
  const port = integerOption('port', options.port, 0, 65_535);
  const partitions = integerOption('partitions', options.partitions, 1, 1024);
  const streamRetentionMs = integerOption('stream-retention-hours', options.streamRetentionHours, 1, 24 * 365) * 3_600_000;
  let metrics: { readonly endpoint: import('./metrics-endpoint.js').MetricsEndpoint; readonly onRequest: (served: import('../emulator/index.js').RequestServed) => void } | undefined;
  if (options.metricsPort !== undefined) {
    const { metricsRegistry, registerEmulatorMetrics, serveMetrics } = await import('./metrics-endpoint.js');
    const registry = metricsRegistry();
    const onRequest = registerEmulatorMetrics(registry);
    const endpoint = await serveMetrics(registry, { port: options.metricsPort, host: options.metricsHost }).catch((error: unknown) => {
      throw new UsageError((error as Error).message);
    });
    metrics = { endpoint, onRequest };
  }
  const emulator = await startEmulator({
    port,
    host: options.host,
    dataDir: dataDir.right,
    instanceName: options.instance,
    credentials: [{ accessKeyId: options.accessKeyId, accessKeySecret: options.accessKeySecret }],
    partitions,
    streamRetentionMs,
    ...(faults === undefined ? {} : { faults: faults.right }),
    ...(metrics === undefined ? {} : { onRequest: metrics.onRequest }),
    onInternalError: (error, path) => log.error(`internal error on ${path}: ${(error as Error)?.message ?? String(error)}`, { stack: (error as Error)?.stack }),
  }).catch(async (error: unknown) => {
    await metrics?.endpoint.close();
    throw error;
  });
  out(describeEmulator(emulator, metrics?.endpoint.url));
  await new Promise<void>((resolve) => {
    const stop = (signal: NodeJS.Signals) => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      out(`otsflow emulator: ${signal} received, closing`);
      resolve();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
  await emulator.close();
  await metrics?.endpoint.close();
  out('otsflow emulator: closed');
};

export const registerEmulatorCommand = (program: Command): Command =>
  addMetricsOptions(
    program
      .command('emulator')
      .description('run the embedded Tablestore emulator (table API of the official SDKs, durable in LMDB)')
      .option('--port <port>', 'TCP port; 0 picks a free one', '8800')
      .option('--host <host>', 'interface to bind; loopback unless told otherwise', DEFAULT_HOST)
      .option('--data <dir>', 'data directory (created when missing)', './.otsflow/data')
      .option('--instance <name>', 'instance name clients must send', DEFAULT_INSTANCE_NAME)
      .option('--access-key-id <id>', 'access key id clients sign with', DEFAULT_CREDENTIALS.accessKeyId)
      .option('--access-key-secret <secret>', 'access key secret clients sign with', DEFAULT_CREDENTIALS.accessKeySecret)
      .option('--partitions <n>', 'stream partitions per table (tunnel change log)', '4')
      .option('--stream-retention-hours <h>', 'retention of streams enabled by tunnels (OTSTunnelExpired past it)', '168')
      .option('--faults <plan>', "tunnel fault injection, e.g. '503=0.1,latency=200ms@0.05,drop=0.02,seed=42'; also slowread=300ms@<channel>, split=<records>[,splits=<n>]"),
    'requests per API, errors, bytes and tunnel records served',
  ).action(commandAction<EmulatorCommandOptions>((options, context) => runEmulatorCommand(options, context)));
