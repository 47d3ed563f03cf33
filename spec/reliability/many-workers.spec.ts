/**
 * One aggregating job on many workers (`checkpoint.table`: its state in a Tablestore table), all
 * through the compiled CLI (`otsflow sql -f examples/orders/many-workers/job.sql`), each worker a
 * process of its own against the emulator in another process, orders written meanwhile:
 *
 * - random events: 3 workers, then 20 events at random (kill -9 of a worker, a restart, a new
 *   worker joining, a graceful stop; 200 in the long form); the sink read with the SDK equals the
 *   direct computation, window by window, to the cent;
 * - a zombie: a worker paused (SIGSTOP) while a sink write of one of its batches is at the
 *   emulator (planned, not committed), judged dead by a second worker (default heartbeats: its
 *   row's renewals stood still), its channels taken; then resumed (SIGCONT): its plan or commit is
 *   refused by the epoch fence (the line is asserted), and neither the channel rows' commits nor
 *   any sink row change;
 * - a lost machine: the job's only worker runs in one working directory and is killed; the job
 *   continues on a worker started in another, empty one: exact.
 */
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { seededRandom as random } from '../../lib/wire/random.js';
import {
  directComputation,
  LONG,
  OrderGenerator,
  readOrders,
  scanTable,
  sdkClient,
  SEED,
  seedTables,
  sleep,
  startEmulatorProcess,
  until,
  knob,
  type JobProcess,
} from './harness/cluster.js';
import { sinkDifferences, startWorker, STATE_TABLE, untilExact, withEmulator } from './harness/scenario.js';

const EVENTS = knob('RELIABILITY_WORKER_EVENTS', 20, 200);

describe('one aggregating job on many workers, state in a Tablestore table', () => {
  it(`3 workers and ${EVENTS} random events (kill -9, restart, a worker joining, a graceful stop): the sink equals the direct computation, window by window`, async () => {
    const started = Date.now();
    await withEmulator('workers', {}, async (emulator, root) => {
      const tunnelId = await seedTables(emulator.endpoint);
      const sdk = sdkClient(emulator.endpoint);
      const generator = new OrderGenerator(() => sdk, { seed: SEED, rate: 150, stepMs: 100 });
      const draw = random(SEED ^ 0x5eed);
      const all: JobProcess[] = [];
      let live: JobProcess[] = [];
      let n = 0;
      const spawnWorker = (): JobProcess => {
        const job = startWorker(emulator, tunnelId, root, String(n++));
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
        await untilExact(sdk, live, 90_000);
        await until(() => live.every((job) => /as one of the job's workers/.test(job.stderr())), 30_000, 'every live worker to be up', 100);
        for (const job of live) job.child.kill('SIGTERM');
        for (const job of live) expect((await job.exited).code, job.stderr()).toBe(0);
        expect(await sinkDifferences(sdk)).toEqual([]);
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

  it('a zombie (SIGSTOP with a batch in flight, SIGCONT after it was judged dead and its channels moved): its commit is refused and changes neither the job state nor the sink', async () => {
    // default heartbeats: the heir takes the channels by judging the frozen worker dead (its row's
    // renewals stand still), not by its lease; every sink write waits 1.5 s at the emulator, so
    // the zombie is stopped with a batch between its plan and its commit
    const root = mkdtempSync(join(tmpdir(), 'otsflow-rel-zombie-'));
    const emulator = await startEmulatorProcess({ dataDir: join(root, 'data'), port: 0, sinkDelayMs: 1_500 });
    const jobs: JobProcess[] = [];
    let generator: OrderGenerator | undefined;
    try {
      const tunnelId = await seedTables(emulator.endpoint);
      const sdk = sdkClient(emulator.endpoint);
      generator = new OrderGenerator(() => sdk, { seed: SEED, rate: 150, stepMs: 100 });
      generator.start();
      const zombie = startWorker(emulator, tunnelId, root, 'zombie', { defaults: true });
      jobs.push(zombie);
      await until(() => (zombie.stderr().match(/took channel/g) ?? []).length === 4, 30_000, 'the first worker to take every channel', 100);
      await until(() => /holds channels/.test(zombie.stderr()) && Date.now() - zombie.startedAt > 4_000, 30_000, 'the first worker to run a while', 100);
      // stop it while one of its sink writes is at the emulator (the batch is planned, not committed)
      const writesBefore = emulator.sinkEvents.length;
      await until(() => emulator.sinkEvents.slice(writesBefore).some((event) => event.phase === 'begin'), 30_000, 'a sink write of the first worker', 5);
      zombie.child.kill('SIGSTOP');
      const stoppedAt = Date.now();
      const heir = startWorker(emulator, tunnelId, root, 'heir', { defaults: true });
      jobs.push(heir);
      await until(() => (heir.stderr().match(/took channel/g) ?? []).length === 4, 60_000, 'the heir to judge the frozen worker dead and take every channel', 100);
      const takenAfter = Date.now() - stoppedAt;
      expect(heir.stderr()).toContain(`pid ${zombie.child.pid} did not renew its row`);
      await generator.stop();
      await untilExact(sdk, [heir], 60_000);
      const channelRows = async (): Promise<Map<string, { epoch: string; owner: string; commit: string }>> =>
        new Map(
          (await scanTable(sdk, STATE_TABLE, ['job', 'k', 'c']))
            .filter((row) => row.primaryKey['k']?.startsWith('c:'))
            .map((row) => [String(row.primaryKey['k']), { epoch: String(row.attributes['epoch']), owner: String(row.attributes['owner']), commit: String(row.attributes['commit']) }]),
        );
      const sinkRows = async (): Promise<string[]> => (await scanTable(sdk, 'OrderStreamSink', ['begin', 'end'])).map((row) => JSON.stringify([row.primaryKey, Object.entries(row.attributes).map(([name, value]) => [name, String(value)])])).sort();
      const stateBefore = await channelRows();
      const sinkBefore = await sinkRows();
      expect([...stateBefore.values()].every((row) => row.owner.includes(`pid ${heir.child.pid}`)), JSON.stringify([...stateBefore])).toBe(true);

      zombie.child.kill('SIGCONT');
      const refusal = /channel (\S+) was taken over by another worker \(epoch \d+ is no longer current\): its (plan|commit) of batch (\d+) was refused/;
      await until(() => refusal.test(zombie.stderr()), 30_000, 'the zombie\'s plan or commit to be refused by the epoch fence', 50);
      await sleep(3_000);
      const stateAfter = await channelRows();
      // no commit moved; a channel row may only carry a new claim by the zombie's new tunnel client
      for (const [key, row] of stateAfter) {
        const was = stateBefore.get(key);
        expect(row.commit, key).toBe(was?.commit);
        if (row.epoch !== was?.epoch) expect(row.owner, key).toContain(`pid ${zombie.child.pid}`);
      }
      expect(await sinkRows()).toEqual(sinkBefore);
      expect(await sinkDifferences(sdk)).toEqual([]);
      for (const job of jobs) job.child.kill('SIGTERM');
      for (const job of jobs) expect((await job.exited).code, job.stderr()).toBe(0);
      expect(await sinkDifferences(sdk)).toEqual([]);
      const refusals = zombie.stderr().split('\n').filter((line) => refusal.test(line));
      console.log(`zombie: paused ${((Date.now() - stoppedAt) / 1000).toFixed(1)} s, judged dead and its channels taken after ${(takenAfter / 1000).toFixed(1)} s; ${refusals.length} refused write(s), e.g. ${refusals[0] ?? ''}; state commits and sink unchanged`);
    } finally {
      generator?.abort();
      for (const job of jobs) {
        job.child.kill('SIGCONT');
        job.child.kill('SIGKILL');
      }
      await emulator.close();
      rmSync(root, { recursive: true, force: true });
    }
  }, 180_000);

  it('a lost machine: the only worker is killed and the job continues on a worker in another, empty working directory: exact', async () => {
    await withEmulator('machine', {}, async (emulator, root) => {
      const tunnelId = await seedTables(emulator.endpoint);
      const sdk = sdkClient(emulator.endpoint);
      const generator = new OrderGenerator(() => sdk, { seed: SEED, rate: 150, stepMs: 100 });
      const jobs: JobProcess[] = [];
      try {
        generator.start();
        const first = startWorker(emulator, tunnelId, root, 'a');
        jobs.push(first);
        await until(() => Date.now() - first.startedAt > 4_000 && /took channel/.test(first.stderr()), 30_000, 'the first worker to run', 100);
        await first.kill();
        rmSync(join(root, 'machine-a'), { recursive: true, force: true });
        // the new machine's worker runs with --until-idle: it stops by itself once it holds every
        // channel (the dead worker's leases expired) and the feed is drained
        const second = startWorker(emulator, tunnelId, root, 'b', { untilIdle: true });
        jobs.push(second);
        await sleep(1_500);
        await generator.stop();
        const exit = await Promise.race([second.exited, sleep(60_000).then(() => undefined)]);
        expect(exit?.code, second.stderr()).toBe(0);
        expect(await sinkDifferences(sdk)).toEqual([]);
        expect(readdirSync(join(root, 'machine-b'))).toEqual([]);
        expect(second.stderr()).toMatch(/took channel \S+ \(epoch 2; after batch \d+/);
      } finally {
        generator.abort();
        for (const job of jobs) job.child.kill('SIGKILL');
      }
    });
  }, 120_000);
});
