/**
 * The setup and checks the reliability specs repeat, on top of cluster.ts:
 *
 * - `withEmulator`: a temporary root, the instrumented emulator on `root/data` (its own process,
 *   or this one), the body, then the emulator closed and the root removed whatever happened;
 * - `openChannels`: who holds which OPEN channel of the seed tunnel (DescribeTunnel);
 * - `catchUp`: a job that must ride everything out by itself catches up with the orders written;
 * - `expectExact` / `sinkDifferences` / `untilExact`: OrderStreamSink against the direct computation;
 * - `startWorker`: a worker of the many-workers job (examples/orders/many-workers/job.sql).
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'vitest';
import { ROOT } from '../../emulator/process.js';
import {
  differences,
  directComputation,
  readOrders,
  readSeedSink,
  startEmulatorInProcess,
  startEmulatorProcess,
  startJob,
  until,
  type EmulatorConfig,
  type EmulatorProcess,
  type JobProcess,
  type Sdk,
  type TunnelAdmin,
  type WindowRow,
} from './cluster.js';

/** what a spec sets of the emulator (the data directory is `root/data`, the port a free one unless given) */
export type ScenarioEmulator = Partial<Omit<EmulatorConfig, 'dataDir'>> & {
  /** in the test's own process: no kill/restart, a second or two less to start (default: its own process) */
  readonly inProcess?: boolean;
};

/**
 * Runs `body` with an emulator on a fresh temporary root (`otsflow-rel-<name>-…`); afterwards the
 * emulator is closed and the root removed, also when the body failed. `config` may depend on the
 * root (e.g. `checkpointDir: join(root, 'checkpoint')`).
 */
export async function withEmulator<T>(
  name: string,
  config: ScenarioEmulator | ((root: string) => ScenarioEmulator),
  body: (emulator: EmulatorProcess, root: string) => Promise<T>,
): Promise<T> {
  const root = mkdtempSync(join(tmpdir(), `otsflow-rel-${name}-`));
  try {
    const { inProcess = false, ...rest } = typeof config === 'function' ? config(root) : config;
    const settings: EmulatorConfig = { port: 0, ...rest, dataDir: join(root, 'data') };
    const emulator = await (inProcess ? startEmulatorInProcess(settings) : startEmulatorProcess(settings));
    try {
      return await body(emulator, root);
    } finally {
      await emulator.close();
    }
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

/** The OPEN channels of a tunnel (default the seed's, OrderSource/orders): channel id → holding client ('' when none is named). */
export async function openChannels(admin: TunnelAdmin, table = 'OrderSource', tunnel = 'orders'): Promise<Map<string, string>> {
  const described = await admin.describe(table, tunnel);
  return new Map(described.channels.filter((channel) => channel.status === 'OPEN').map((channel) => [channel.channelId, channel.clientId ?? '']));
}

/**
 * A job that must keep going by itself (never restarted) catches up: waits until the sink equals
 * `expected` (polled every 250 ms, at most `timeoutMs`) or the job exits, then asserts it still
 * runs. Resolves with how long the wait took. `sdk` may be a function giving a fresh client per
 * read (a restarted emulator kills the SDK's keep-alive sockets).
 */
export async function catchUp(sdk: Sdk | (() => Sdk), expected: ReadonlyMap<string, WindowRow>, job: JobProcess, timeoutMs = 60_000): Promise<number> {
  const client = (): Sdk => (typeof sdk === 'function' ? (sdk as () => Sdk)() : sdk);
  const started = Date.now();
  await until(async () => job.child.exitCode !== null || differences(await readSeedSink(client()), expected).length === 0, timeoutMs, 'the sink to catch up', 250).catch(() => undefined);
  const took = Date.now() - started;
  expect(job.child.exitCode, `the job must keep going by itself; its stderr:\n${job.stderr()}`).toBe(null);
  return took;
}

/** OrderStreamSink, read back with the SDK, equals `expected` window by window (the differences named first). */
export async function expectExact(sdk: Sdk, expected: ReadonlyMap<string, WindowRow>, what?: string): Promise<Map<string, WindowRow>> {
  const actual = await readSeedSink(sdk);
  expect(differences(actual, expected), what).toEqual([]);
  expect(actual).toEqual(expected);
  return actual;
}

/** How OrderStreamSink differs from the direct computation over the source table as it is now. */
export const sinkDifferences = async (sdk: Sdk): Promise<string[]> => differences(await readSeedSink(sdk), directComputation(await readOrders(sdk)));

/**
 * Waits (polled every 500 ms) until OrderStreamSink equals the direct computation; past
 * `timeoutMs` it fails naming the differences and the last lines of each job's stderr.
 */
export async function untilExact(sdk: Sdk, jobs: readonly JobProcess[], timeoutMs: number): Promise<void> {
  let last: string[] = [];
  await until(async () => (last = await sinkDifferences(sdk)).length === 0, timeoutMs, 'the sink to equal the direct computation', 500).catch(() => {
    throw new Error(`sink not exact: ${last.slice(0, 10).join('; ')} (${last.length} rows differ)\n${jobs.map((job) => job.stderr().split('\n').slice(-15).join('\n')).join('\n---\n')}`);
  });
}

/** the job of examples/orders/many-workers/job.sql: its state in this Tablestore table */
export const MANY_WORKERS_SQL = join(ROOT, 'examples', 'orders', 'many-workers', 'job.sql');
export const STATE_TABLE = 'job1_state';

/**
 * A worker of the many-workers job in a working directory of its own under `root` (nothing local
 * is needed): heartbeats with a 1 s timeout (`heartbeatTimeoutMs`), or the defaults a user gets
 * (`defaults`); `untilIdle` with a 1.5 s idle time.
 */
export function startWorker(emulator: EmulatorProcess, tunnelId: string, root: string, name: string, extra: { heartbeatTimeoutMs?: number; untilIdle?: boolean; defaults?: boolean } = {}): JobProcess {
  const cwd = join(root, `machine-${name}`);
  mkdirSync(cwd, { recursive: true });
  return startJob({
    sqlFile: MANY_WORKERS_SQL,
    endpoint: emulator.endpoint,
    tunnelId,
    checkpoint: join(cwd, 'unused'),
    vars: { state_table: STATE_TABLE },
    cwd,
    ...(extra.defaults === true ? { defaultHeartbeats: true } : { heartbeatTimeoutMs: extra.heartbeatTimeoutMs ?? 1_000 }),
    ...(extra.untilIdle === true ? { untilIdle: true, idleMs: 1_500 } : {}),
  });
}
