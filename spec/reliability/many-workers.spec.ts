/**
 * One aggregating job on many workers (`checkpoint.table`: its state in a Tablestore table), all
 * through the compiled CLI (`otsflow sql -f examples/orders/many-workers/job.sql`), each worker a
 * process of its own against the emulator in another process, orders written meanwhile:
 *
 * - random events: 3 workers, then 20 events at random (kill -9 of a worker, a restart, a new
 *   worker joining, a graceful stop; 200 in the long form); the sink read with the SDK equals the
 *   direct computation, window by window, to the cent;
 * - a zombie: a worker paused (SIGSTOP) past its lease, its channels taken by another worker, then
 *   resumed (SIGCONT): it lets the channels go — its tunnel session is gone, or its next plan or
 *   commit is refused by the epoch, whichever it meets first (spec/sinks/tablestore-state.spec.ts
 *   checks the refusal itself) — the state table's channel rows name only live claims, and the
 *   sink stays exact;
 * - a lost machine: the job's only worker runs in one working directory and is killed; the job
 *   continues on a worker started in another, empty one: exact.
 */
import { mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../emulator/process.js';
import { seededRandom as random } from '../../lib/wire/random.js';
import {
  differences,
  directComputation,
  LONG,
  OrderGenerator,
  readOrders,
  readSeedSink,
  scanTable,
  sdkClient,
  SEED,
  seedTables,
  sleep,
  startEmulatorProcess,
  startJob,
  until,
  knob,
  type EmulatorProcess,
  type JobProcess,
  type Sdk,
} from './harness/cluster.js';

const SQL = join(ROOT, 'examples', 'orders', 'many-workers', 'job.sql');
const STATE_TABLE = 'job1_state';
const EVENTS = knob('RELIABILITY_WORKER_EVENTS', 20, 200);

async function withEmulator(name: string, body: (emulator: EmulatorProcess, root: string) => Promise<void>): Promise<void> {
  const root = mkdtempSync(join(tmpdir(), `otsflow-rel-${name}-`));
  const emulator = await startEmulatorProcess({ dataDir: join(root, 'data'), port: 0 });
  try {
    await body(emulator, root);
  } finally {
    await emulator.close();
    rmSync(root, { recursive: true, force: true });
  }
}

/** a worker of the job in a working directory of its own (nothing local is needed) */
function worker(emulator: EmulatorProcess, tunnelId: string, root: string, name: string, extra: { heartbeatTimeoutMs?: number; untilIdle?: boolean } = {}): JobProcess {
  const cwd = join(root, `machine-${name}`);
  mkdirSync(cwd, { recursive: true });
  return startJob({
    sqlFile: SQL,
    endpoint: emulator.endpoint,
    tunnelId,
    checkpoint: join(cwd, 'unused'),
    vars: { state_table: STATE_TABLE },
    cwd,
    heartbeatTimeoutMs: extra.heartbeatTimeoutMs ?? 1_000,
    ...(extra.untilIdle === true ? { untilIdle: true, idleMs: 1_500 } : {}),
  });
}

const exact = async (sdk: Sdk): Promise<string[]> => differences(await readSeedSink(sdk), directComputation(await readOrders(sdk)));

async function waitExact(sdk: Sdk, jobs: readonly JobProcess[], timeoutMs: number): Promise<void> {
  let last: string[] = [];
  await until(async () => (last = await exact(sdk)).length === 0, timeoutMs, 'the sink to equal the direct computation', 500).catch(() => {
    throw new Error(`sink not exact: ${last.slice(0, 10).join('; ')} (${last.length} rows differ)\n${jobs.map((job) => job.stderr().split('\n').slice(-15).join('\n')).join('\n---\n')}`);
  });
}

describe('one aggregating job on many workers, state in a Tablestore table', () => {
  it(`3 workers and ${EVENTS} random events (kill -9, restart, a worker joining, a graceful stop): the sink equals the direct computation, window by window`, async () => {
    const started = Date.now();
    await withEmulator('workers', async (emulator, root) => {
      const tunnelId = await seedTables(emulator.endpoint);
      const sdk = sdkClient(emulator.endpoint);
      const generator = new OrderGenerator(() => sdk, { seed: SEED, rate: 150, stepMs: 100 });
      const draw = random(SEED ^ 0x5eed);
      const all: JobProcess[] = [];
      let live: JobProcess[] = [];
      let n = 0;
      const spawnWorker = (): JobProcess => {
        const job = worker(emulator, tunnelId, root, String(n++));
        all.push(job);
        live.push(job);
        return job;
      };
      const counts = { kill: 0, restart: 0, join: 0, stop: 0 };
      try {
        generator.start();
        for (let i = 0; i < 3; i++) spawnWorker();
        await until(() => live.some((job) => /took channel/.test(job.stderr())), 30_000, 'a worker to take a channel', 100);
        for (let event = 0; event < EVENTS; event++) {
          await sleep(300 + Math.floor(draw() * 1_200));
          const kind = draw();
          // around 3 workers: below it a restart is likely, at or above it a joiner (up to 5) sometimes
          if (live.length <= 1 || (live.length < 3 && kind < 0.5) || (live.length < 5 && kind < 0.2)) {
            // a new worker joins (or a dead one is restarted: the same thing, on any machine)
            if (live.length >= 3) counts.join++;
            else counts.restart++;
            spawnWorker();
            continue;
          }
          const victim = live[Math.floor(draw() * live.length)] as JobProcess;
          live = live.filter((job) => job !== victim);
          // a graceful stop needs the process to be up (its signal handlers installed); before that it is a kill
          const up = /as one of the job's workers/.test(victim.stderr());
          if (kind < 0.7 || !up) {
            await victim.kill();
            counts.kill++;
          } else {
            victim.child.kill('SIGTERM');
            const exit = await victim.exited;
            expect(exit.code, victim.stderr()).toBe(0);
            counts.stop++;
          }
        }
        await generator.stop();
        if (live.length === 0) spawnWorker();
        await waitExact(sdk, live, 90_000);
        await until(() => live.every((job) => /as one of the job's workers/.test(job.stderr())), 30_000, 'every live worker to be up', 100);
        for (const job of live) job.child.kill('SIGTERM');
        for (const job of live) expect((await job.exited).code, job.stderr()).toBe(0);
        expect(await exact(sdk)).toEqual([]);
        const orders = await readOrders(sdk);
        const windows = directComputation(orders).size;
        console.log(
          `many workers: ${all.length} worker processes, events ${JSON.stringify(counts)}, ${orders.length} orders, ${windows} windows: exact, ${((Date.now() - started) / 1000).toFixed(1)} s (seed ${SEED})`,
        );
      } finally {
        generator.abort();
        for (const job of all) job.child.kill('SIGKILL');
      }
    });
  }, LONG ? 1_800_000 : 240_000);

  it('a zombie (SIGSTOP past its lease, SIGCONT after its channels moved) changes neither the job state nor the sink', async () => {
    await withEmulator('zombie', async (emulator, root) => {
      const tunnelId = await seedTables(emulator.endpoint);
      const sdk = sdkClient(emulator.endpoint);
      const generator = new OrderGenerator(() => sdk, { seed: SEED, rate: 150, stepMs: 100 });
      const jobs: JobProcess[] = [];
      try {
        generator.start();
        const zombie = worker(emulator, tunnelId, root, 'zombie');
        jobs.push(zombie);
        await until(() => (zombie.stderr().match(/took channel/g) ?? []).length === 4, 30_000, 'the first worker to take every channel', 100);
        await until(() => /batch|holds channels/.test(zombie.stderr()) && Date.now() - zombie.startedAt > 2_500, 30_000, 'the first worker to commit', 100);
        zombie.child.kill('SIGSTOP');
        const stoppedAt = Date.now();
        const heir = worker(emulator, tunnelId, root, 'heir');
        jobs.push(heir);
        await until(() => (heir.stderr().match(/took channel/g) ?? []).length === 4, 30_000, 'the heir to take every channel', 100);
        const owners = async (): Promise<string[]> => (await scanTable(sdk, STATE_TABLE, ['job', 'k', 'c'])).filter((row) => row.primaryKey['k']?.startsWith('c:')).map((row) => String(row.attributes['owner']));
        // let the heir commit over what the zombie held, then wake the zombie
        await sleep(2_000);
        const before = await owners();
        expect(before.every((owner) => owner.includes(`pid ${heir.child.pid}`)), before.join(', ')).toBe(true);
        zombie.child.kill('SIGCONT');
        console.log(`zombie: paused ${((Date.now() - stoppedAt) / 1000).toFixed(1)} s`);
        await until(() => /was taken over by another worker|left this worker/.test(zombie.stderr()), 30_000, 'the zombie to find its channels gone', 100);
        await sleep(1_500);
        await generator.stop();
        await waitExact(sdk, jobs, 60_000);
        const after = await owners();
        // the zombie may have been given channels again since (a new claim, a new epoch): never with the old epoch
        expect(after.every((owner) => owner.includes(`pid ${heir.child.pid}`) || owner.includes(`pid ${zombie.child.pid}`)), after.join(', ')).toBe(true);
        for (const job of jobs) job.child.kill('SIGTERM');
        for (const job of jobs) expect((await job.exited).code, job.stderr()).toBe(0);
        expect(await exact(sdk)).toEqual([]);
        const refusals = zombie.stderr().split('\n').filter((line) => /was taken over by another worker|left this worker/.test(line));
        console.log(`zombie: ${refusals.length} refusals/channel losses, e.g. ${refusals[0] ?? ''}`);
      } finally {
        generator.abort();
        for (const job of jobs) {
          job.child.kill('SIGCONT');
          job.child.kill('SIGKILL');
        }
      }
    });
  }, 180_000);

  it('a lost machine: the only worker is killed and the job continues on a worker in another, empty working directory: exact', async () => {
    await withEmulator('machine', async (emulator, root) => {
      const tunnelId = await seedTables(emulator.endpoint);
      const sdk = sdkClient(emulator.endpoint);
      const generator = new OrderGenerator(() => sdk, { seed: SEED, rate: 150, stepMs: 100 });
      const jobs: JobProcess[] = [];
      try {
        generator.start();
        const first = worker(emulator, tunnelId, root, 'a');
        jobs.push(first);
        await until(() => Date.now() - first.startedAt > 4_000 && /took channel/.test(first.stderr()), 30_000, 'the first worker to run', 100);
        await first.kill();
        rmSync(join(root, 'machine-a'), { recursive: true, force: true });
        // the new machine's worker runs with --until-idle: it stops by itself once it holds every
        // channel (the dead worker's leases expired) and the feed is drained
        const second = worker(emulator, tunnelId, root, 'b', { untilIdle: true });
        jobs.push(second);
        await sleep(1_500);
        await generator.stop();
        const exit = await Promise.race([second.exited, sleep(60_000).then(() => undefined)]);
        expect(exit?.code, second.stderr()).toBe(0);
        expect(await exact(sdk)).toEqual([]);
        expect(readdirSync(join(root, 'machine-b'))).toEqual([]);
        expect(second.stderr()).toMatch(/took channel \S+ \(epoch 2; after batch \d+/);
      } finally {
        generator.abort();
        for (const job of jobs) job.child.kill('SIGKILL');
      }
    });
  }, 120_000);
});
