/**
 * Workers that join and leave a tunnel while a job runs, all through the compiled CLI:
 *
 * - a stateless job (orders over 1000 → LargeOrders, keyed like the source) legitimately shares
 *   the tunnel's channels: a second worker joins mid-run and is SIGKILLed, a third joins and is
 *   stopped gracefully; the channels move to the joiner and back each time, and LargeOrders ends
 *   exactly equal to the filtered source;
 * - an aggregating job (the seed job) must not share: a foreign consumer on its tunnel makes it
 *   stop with one clear line and exit code 1, and a second copy of the same job refuses to start
 *   while the first runs — which goes on and ends exact.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../emulator/process.js';
import {
  createTable,
  CREDENTIALS,
  differences,
  directComputation,
  INSTANCE,
  OrderGenerator,
  readOrders,
  readSeedSink,
  scanTable,
  sdkClient,
  SEED,
  seedTables,
  sleep,
  startEmulatorInProcess,
  startJob,
  tunnelAdmin,
  until,
  type EmulatorProcess,
  type JobProcess,
} from './harness/cluster.js';

const LARGE_ORDERS_SQL = fileURLToPath(new URL('./fixtures/large-orders.sql', import.meta.url));
const TUNNEL_WORKER = join(ROOT, 'spec', 'tunnel', 'worker-process.ts');

/** The clients holding OPEN channels, with how many each. */
async function holders(emulator: EmulatorProcess): Promise<Map<string, number>> {
  const admin = tunnelAdmin(emulator.endpoint);
  try {
    const owners = new Map<string, number>();
    for (const channel of (await admin.describe('OrderSource', 'orders')).channels) {
      if (channel.status === 'OPEN' && channel.clientId !== undefined) owners.set(channel.clientId, (owners.get(channel.clientId) ?? 0) + 1);
    }
    return owners;
  } finally {
    admin.close();
  }
}

const pipelineRunning = (job: JobProcess): boolean => /job \S+: reading /.test(job.stderr());

async function withEmulator(name: string, body: (emulator: EmulatorProcess, root: string) => Promise<void>): Promise<void> {
  const root = mkdtempSync(join(tmpdir(), `otsflow-rel-${name}-`));
  const emulator = await startEmulatorInProcess({ dataDir: join(root, 'data'), port: 0 });
  try {
    await body(emulator, root);
  } finally {
    await emulator.close();
    rmSync(root, { recursive: true, force: true });
  }
}

describe('workers joining and leaving a tunnel', () => {
  it('a stateless job shares its channels with a worker that joins and is killed, and one that joins and stops: LargeOrders equals the filtered source', async () => {
    const started = Date.now();
    await withEmulator('shared', async (emulator, root) => {
      const tunnelId = await seedTables(emulator.endpoint);
      const sdk = sdkClient(emulator.endpoint);
      await createTable(sdk, 'LargeOrders', ['UserId', 'OrderId']);
      const generator = new OrderGenerator(() => sdk, { seed: SEED, rate: 150, stepMs: 100, maxPrice: 2000 });
      // each worker its own checkpointLocation; a 3 s heartbeat timeout, so a busy machine does not
      // cost a worker its session (and client id) while the test follows who holds what
      const job = (name: string): JobProcess =>
        startJob({ sqlFile: LARGE_ORDERS_SQL, endpoint: emulator.endpoint, tunnelId, checkpoint: join(root, `checkpoint-${name}`), heartbeatTimeoutMs: 3_000 });
      const jobs: JobProcess[] = [];
      try {
        generator.start();
        const first = job('a');
        jobs.push(first);
        await until(async () => (await holders(emulator)).size === 1, 30_000, 'the first worker to hold the channels', 100);
        const [firstClient] = [...(await holders(emulator)).keys()];
        const shares: string[] = [];

        for (const leave of ['SIGKILL', 'SIGTERM'] as const) {
          const joiner = job(leave === 'SIGKILL' ? 'b' : 'c');
          jobs.push(joiner);
          let seen = '';
          await until(async () => {
            const owners = await holders(emulator);
            seen = JSON.stringify([...owners]);
            return owners.size === 2 && owners.has(firstClient as string);
          }, 30_000, 'the joiner to take its share of the channels', 100).catch((error: unknown) => {
            throw new Error(`${String(error)}; holders ${seen}; the first worker's stderr:\n${first.stderr()}\nthe joiner's:\n${joiner.stderr()}`);
          });
          shares.push([...(await holders(emulator)).values()].join('+'));
          await sleep(1_500);
          joiner.child.kill(leave);
          const exit = await joiner.exited;
          if (leave === 'SIGTERM') {
            expect(exit.code, joiner.stderr()).toBe(0);
            // it did work while it held its share
            expect(joiner.stderr()).toMatch(/job large: \d+ batches committed, [1-9]\d* records read/);
          }
          await until(async () => {
            const owners = await holders(emulator);
            return owners.size === 1 && owners.get(firstClient as string) === 4;
          }, 30_000, 'the first worker to take every channel back', 100);
        }
        await generator.stop();

        const orders = await readOrders(sdk);
        const expected = new Map(orders.filter((order) => order.price > 1000).map((order) => [`${order.userId}|${order.orderId}`, order.price]));
        const large = async (): Promise<Map<string, number>> =>
          new Map((await scanTable(sdk, 'LargeOrders', ['UserId', 'OrderId'])).map((row) => [`${row.primaryKey['UserId']}|${row.primaryKey['OrderId']}`, Number(row.attributes['price'])]));
        await until(async () => (await large()).size >= expected.size, 30_000, 'LargeOrders to catch up', 250).catch(() => undefined);
        first.child.kill('SIGTERM');
        const exit = await first.exited;
        expect(exit.code, first.stderr()).toBe(0);
        const actual = await large();
        expect(actual.size).toBe(expected.size);
        expect(actual).toEqual(expected);
        console.log(
          `shared tunnel: a stateless job shared its 4 channels ${shares.join(' then ')} with a joiner killed by SIGKILL and one stopped by SIGTERM; ${expected.size} of ${orders.length} orders in LargeOrders, exact; ${((Date.now() - started) / 1000).toFixed(1)} s (seed ${SEED})`,
        );
      } finally {
        await generator.stop();
        for (const running of jobs) running.child.kill('SIGKILL');
      }
    });
  }, 150_000);

  it('an aggregating job stops with one clear line (exit 1) when a foreign consumer joins its tunnel', async () => {
    const started = Date.now();
    await withEmulator('refuse', async (emulator, root) => {
      const tunnelId = await seedTables(emulator.endpoint);
      const sdk = sdkClient(emulator.endpoint);
      const generator = new OrderGenerator(() => sdk, { seed: SEED, rate: 100, stepMs: 100 });
      const job = startJob({ endpoint: emulator.endpoint, tunnelId, checkpoint: join(root, 'checkpoint') });
      let intruder: ChildProcess | undefined;
      try {
        generator.start();
        await until(async () => pipelineRunning(job) && (await holders(emulator)).size === 1, 30_000, 'the job to hold the channels', 100);
        // a plain tunnel consumer (another application, another tag) joins: the service gives it half the channels
        intruder = spawn(
          process.execPath,
          ['--import', 'tsx', TUNNEL_WORKER, JSON.stringify({ endpoint: emulator.endpoint, instance: INSTANCE, credentials: CREDENTIALS, tunnelId, heartbeatIntervalMs: 200, heartbeatTimeoutMs: 1_000, clientTag: 'intruder' })],
          { cwd: ROOT, stdio: ['ignore', 'ignore', 'ignore'] },
        );
        const exit = await Promise.race([job.exited, sleep(30_000).then(() => undefined)]);
        expect(exit, 'the job must stop by itself').toBeDefined();
        expect(exit?.code).toBe(1);
        const lines = job.stderr().split('\n').filter((line) => line.startsWith('otsflow sql:'));
        expect(lines).toHaveLength(1);
        expect(lines[0]).toMatch(/^otsflow sql: job job1: tunnel \S+ is also consumed by client intruder_\S+ \(channel \S+\); an aggregating job must be the only consumer of its tunnel/);
        console.log(`shared tunnel: the seed job refused a foreign consumer in ${((Date.now() - started) / 1000).toFixed(1)} s: ${lines[0]}`);
      } finally {
        await generator.stop();
        intruder?.kill('SIGKILL');
        job.child.kill('SIGKILL');
      }
    });
  }, 90_000);

  it('a second copy of the seed job refuses to start while the first runs; the first goes on and ends exact', async () => {
    const started = Date.now();
    await withEmulator('twice', async (emulator, root) => {
      const tunnelId = await seedTables(emulator.endpoint);
      const sdk = sdkClient(emulator.endpoint);
      const generator = new OrderGenerator(() => sdk, { seed: SEED, rate: 100, stepMs: 100 });
      const first = startJob({ endpoint: emulator.endpoint, tunnelId, checkpoint: join(root, 'checkpoint-1') });
      let second: JobProcess | undefined;
      try {
        generator.start();
        await until(async () => pipelineRunning(first) && (await holders(emulator)).size === 1, 30_000, 'the first job to hold the channels', 100);
        // the same job again (same SQL, so the same tunnel client tag), as a supervisor that restarted it too early would
        second = startJob({ endpoint: emulator.endpoint, tunnelId, checkpoint: join(root, 'checkpoint-2') });
        const exit = await Promise.race([second.exited, sleep(30_000).then(() => undefined)]);
        expect(exit, `the second copy must refuse to start; it ran alongside:\n${second.stderr()}`).toBeDefined();
        expect(exit?.code).toBe(1);
        const lines = second.stderr().split('\n').filter((line) => line.startsWith('otsflow sql:'));
        expect(lines).toHaveLength(1);
        expect(lines[0]).toMatch(/another run of job job1 is consuming it/);
        expect(first.child.exitCode).toBe(null);

        await sleep(500);
        await generator.stop();
        const expected = directComputation(await readOrders(sdk));
        await until(async () => differences(await readSeedSink(sdk), expected).length === 0, 30_000, 'the first job to catch up', 250).catch(() => undefined);
        first.child.kill('SIGTERM');
        expect((await first.exited).code, first.stderr()).toBe(0);
        expect(differences(await readSeedSink(sdk), expected)).toEqual([]);
        console.log(`shared tunnel: a second copy of the seed job refused to start (${((Date.now() - started) / 1000).toFixed(1)} s): ${lines[0]}`);
      } finally {
        await generator.stop();
        second?.child.kill('SIGKILL');
        first.child.kill('SIGKILL');
      }
    });
  }, 90_000);
});
