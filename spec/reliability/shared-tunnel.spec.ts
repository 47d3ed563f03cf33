/**
 * Workers that join and leave a tunnel while a job runs, all through the compiled CLI:
 *
 * - a stateless job (orders over 1000 → LargeOrders, keyed like the source) legitimately shares
 *   the tunnel's channels: a second worker joins mid-run and is SIGKILLed (the long form also has
 *   joiners stopped gracefully, SIGTERM); the channels move to the joiner and back each time, and
 *   LargeOrders ends exactly equal to the filtered source;
 * - an aggregating job (the seed job) must not share: a second copy of the same job refuses to
 *   start while the first runs — which goes on and ends exact — and a foreign consumer on its
 *   tunnel makes it stop; one clear line and exit code 1 each.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../emulator/process.js';
import { createTable, CREDENTIALS, INSTANCE, LONG, OrderGenerator, readOrders, scanTable, sdkClient, SEED, seedTables, sleep, startJob, tunnelAdmin, until, type EmulatorProcess, type JobProcess } from './harness/cluster.js';
import { openChannels, untilExact, withEmulator } from './harness/scenario.js';

/** how the joiners leave: CI kills one; the long form also stops one gracefully (ShutdownTunnel) */
const LEAVES: readonly ('SIGKILL' | 'SIGTERM')[] = LONG ? ['SIGKILL', 'SIGTERM', 'SIGKILL', 'SIGTERM'] : ['SIGKILL'];
/**
 * The stateless job: the README's example (no checkpointLocation: each worker resumes from the
 * tunnel's checkpoints) and, in the long form, the same query with a checkpointLocation per worker
 * (a worker's plan replays and cursors must give way to channels that moved while it was away).
 */
const STATELESS: readonly { readonly name: string; readonly sql: string }[] = [
  { name: 'examples/orders/large-orders/job.sql', sql: join(ROOT, 'examples', 'orders', 'large-orders', 'job.sql') },
  ...(LONG ? [{ name: 'the same with a checkpointLocation per worker', sql: fileURLToPath(new URL('./fixtures/large-orders.sql', import.meta.url)) }] : []),
];
const TUNNEL_WORKER = join(ROOT, 'spec', 'tunnel', 'worker-process.ts');

/** The clients holding OPEN channels, with how many each. */
async function holders(emulator: EmulatorProcess): Promise<Map<string, number>> {
  const admin = tunnelAdmin(emulator.endpoint);
  try {
    const owners = new Map<string, number>();
    for (const client of (await openChannels(admin)).values()) if (client !== '') owners.set(client, (owners.get(client) ?? 0) + 1);
    return owners;
  } finally {
    admin.close();
  }
}

const pipelineRunning = (job: JobProcess): boolean => /job \S+: reading /.test(job.stderr());

describe('workers joining and leaving a tunnel', () => {
  it.each(STATELESS)(`a stateless job ($name) shares its channels with workers that join and leave (${LEAVES.join(', ')}): LargeOrders equals the filtered source`, async ({ name, sql }) => {
    const started = Date.now();
    await withEmulator('shared', { inProcess: true }, async (emulator, root) => {
      const tunnelId = await seedTables(emulator.endpoint);
      const sdk = sdkClient(emulator.endpoint);
      await createTable(sdk, 'LargeOrders', ['UserId', 'OrderId']);
      const generator = new OrderGenerator(() => sdk, { seed: SEED, rate: 150, stepMs: 100, maxPrice: 2000 });
      // each worker its own checkpointLocation (where the SQL has one); a 2 s heartbeat timeout, so
      // a busy machine does not cost a worker its session (and client id) while the test follows who
      // holds what
      const job = (worker: string): JobProcess =>
        startJob({ sqlFile: sql, endpoint: emulator.endpoint, tunnelId, checkpoint: join(root, `checkpoint-${worker}`), heartbeatTimeoutMs: 2_000 });
      const jobs: JobProcess[] = [];
      try {
        generator.start();
        const first = job('a');
        jobs.push(first);
        await until(async () => (await holders(emulator)).size === 1, 30_000, 'the first worker to hold the channels', 100);
        const [firstClient] = [...(await holders(emulator)).keys()];
        const shares: string[] = [];

        for (const leave of LEAVES) {
          const joiner = job(`joiner-${shares.length}`);
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
          await sleep(800);
          joiner.child.kill(leave);
          const exit = await joiner.exited;
          if (leave === 'SIGTERM') {
            expect(exit.code, joiner.stderr()).toBe(0);
            // it did work while it held its share
            expect(joiner.stderr()).toMatch(/job \S+: \d+ batches committed, [1-9]\d* records read/);
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
          `shared tunnel: a stateless job (${name}) shared its 4 channels ${shares.join(' then ')} with joiners that left by ${LEAVES.join(', ')}; ${expected.size} of ${orders.length} orders in LargeOrders, exact; ${((Date.now() - started) / 1000).toFixed(1)} s (seed ${SEED})`,
        );
      } finally {
        generator.abort();
        for (const running of jobs) running.child.kill('SIGKILL');
      }
    });
  }, 150_000);

  it('an aggregating job will not share: a second copy of it refuses to start while it runs (and it ends exact); a foreign consumer joining makes it stop — one clear line and exit 1 each', async () => {
    const started = Date.now();
    await withEmulator('sole', { inProcess: true }, async (emulator, root) => {
      const tunnelId = await seedTables(emulator.endpoint);
      const sdk = sdkClient(emulator.endpoint);
      const generator = new OrderGenerator(() => sdk, { seed: SEED, rate: 100, stepMs: 100 });
      const first = startJob({ endpoint: emulator.endpoint, tunnelId, checkpoint: join(root, 'checkpoint-1') });
      let second: JobProcess | undefined;
      let intruder: ChildProcess | undefined;
      const failure = (job: JobProcess): string => {
        const lines = job.stderr().split('\n').filter((line) => line.startsWith('otsflow sql:'));
        expect(lines, job.stderr()).toHaveLength(1);
        return lines[0] as string;
      };
      try {
        generator.start();
        await until(async () => pipelineRunning(first) && (await holders(emulator)).size === 1, 30_000, 'the first job to hold the channels', 100);

        // the same job again (same SQL, so the same tunnel client tag), as a supervisor that restarted it too early would
        second = startJob({ endpoint: emulator.endpoint, tunnelId, checkpoint: join(root, 'checkpoint-2') });
        const refused = await Promise.race([second.exited, sleep(30_000).then(() => undefined)]);
        expect(refused, `the second copy must refuse to start; it ran alongside:\n${second.stderr()}`).toBeDefined();
        expect(refused?.code).toBe(1);
        const copyLine = failure(second);
        // its own checkpoint location is empty: before the first run's first commit the copy outwaits
        // the lease it sees; after it, the tunnel's progress and the live holder stop it at once
        expect(copyLine).toMatch(
          /^otsflow sql: job job1: (tunnel \S+ is still consumed by client otsflow-job1_\S+ \(channel \S+\) after its lease should have expired: another run of job job1 is consuming it|checkpoint location \S+ holds no window state, but tunnel \S+ has progress committed by an earlier run \(.*its channels are still held by otsflow-job1_\S+ — if that run is alive elsewhere, stop it first\): the window state is gone)/,
        );
        expect(first.child.exitCode).toBe(null);
        await sleep(500);
        await generator.stop();
        await untilExact(sdk, [first], 30_000);

        // a plain tunnel consumer (another application, another tag) joins: the service gives it half the channels
        intruder = spawn(
          process.execPath,
          ['--import', 'tsx', TUNNEL_WORKER, JSON.stringify({ endpoint: emulator.endpoint, instance: INSTANCE, credentials: CREDENTIALS, tunnelId, heartbeatIntervalMs: 200, heartbeatTimeoutMs: 1_000, clientTag: 'intruder' })],
          { cwd: ROOT, stdio: ['ignore', 'ignore', 'ignore'] },
        );
        const stopped = await Promise.race([first.exited, sleep(30_000).then(() => undefined)]);
        expect(stopped, 'the job must stop by itself').toBeDefined();
        expect(stopped?.code).toBe(1);
        const foreignLine = failure(first);
        expect(foreignLine).toMatch(/^otsflow sql: job job1: tunnel \S+ is also consumed by client intruder_\S+ \(channel \S+\); an aggregating job must be the only consumer of its tunnel/);
        console.log(`shared tunnel: the seed job would not share (${((Date.now() - started) / 1000).toFixed(1)} s):\n  a second copy: ${copyLine}\n  a foreign consumer: ${foreignLine}`);
      } finally {
        generator.abort();
        intruder?.kill('SIGKILL');
        second?.child.kill('SIGKILL');
        first.child.kill('SIGKILL');
      }
    });
  }, 120_000);
});
