/**
 * One aggregating job on many workers (`checkpoint.table`) with the heartbeat settings a user gets
 * (30 s interval, 300 s timeout — no shortened flags), each worker a process of the compiled CLI:
 *
 * - kill -9 of a worker holding channels: the survivors judge it dead by its worker row (its
 *   renewal counter stands still on their clocks), end its tunnel clients with ShutdownTunnel and
 *   take its channels — measured from the kill to every channel OPEN for a survivor's client
 *   (DescribeTunnel, polled every 100 ms); before, that waited for the lease (300 s). The sink ends
 *   equal to the direct computation.
 * - `--until-idle` on 3 workers: each stops once the whole job is drained — every channel caught up
 *   and committed wherever it is held — not only the one holding every channel; all exit 0, exact.
 *
 * many-workers.spec.ts is the fast sibling (1 s heartbeat timeout, 20 random events).
 */
import { describe, expect, it } from 'vitest';
import { OrderGenerator, scanTable, sdkClient, SEED, seedTables, sleep, tunnelAdmin, until, type EmulatorProcess, type JobProcess, type Sdk } from './harness/cluster.js';
import { openChannels, sinkDifferences, startWorker, STATE_TABLE, untilExact, withEmulator } from './harness/scenario.js';

/** generous: the design takes ~10 s (8 s of stood-still renewals, a poll, ShutdownTunnel, a heartbeat) */
const TAKEOVER_LIMIT_MS = 60_000;

/** a worker of the job with the defaults a user gets, in a working directory of its own */
const worker = (emulator: EmulatorProcess, tunnelId: string, root: string, name: string, untilIdle = false): JobProcess => startWorker(emulator, tunnelId, root, name, { defaults: true, untilIdle });

/** the worker rows of the state table: pid → its recorded tunnel client ids */
async function workerClients(sdk: Sdk): Promise<Map<number, string[]>> {
  const out = new Map<number, string[]>();
  for (const row of await scanTable(sdk, STATE_TABLE, ['job', 'k', 'c'])) {
    if (!String(row.primaryKey['k']).startsWith('w:')) continue;
    out.set(Number(String(row.attributes['pid'])), JSON.parse(String(row.attributes['clients'])) as string[]);
  }
  return out;
}

describe('one aggregating job on many workers with default heartbeats', () => {
  it(`kill -9 of a worker: the survivors hold its channels within ${TAKEOVER_LIMIT_MS / 1000} s (not after the 300 s lease); the sink equals the direct computation`, async () => {
    await withEmulator('workers-defaults', {}, async (emulator, root) => {
      const tunnelId = await seedTables(emulator.endpoint);
      const sdk = sdkClient(emulator.endpoint);
      const admin = tunnelAdmin(emulator.endpoint);
      const generator = new OrderGenerator(() => sdk, { seed: SEED, rate: 150, stepMs: 100 });
      const jobs: JobProcess[] = [];
      try {
        generator.start();
        for (const name of ['a', 'b', 'c']) jobs.push(worker(emulator, tunnelId, root, name));
        await until(() => jobs.every((job) => /as one of the job's workers/.test(job.stderr())), 60_000, 'every worker to be up', 100);
        const held = async (): Promise<Map<string, string>> => new Map([...(await openChannels(admin))].filter(([, client]) => client !== ''));
        await until(async () => (await held()).size === 4, 60_000, 'every channel to be held', 100);
        // let every worker commit something of what it holds
        await sleep(3_000);
        const clients = await workerClients(sdk);
        const before = await held();
        const share = (job: JobProcess): number => [...before.values()].filter((client) => (clients.get(job.child.pid as number) ?? []).includes(client)).length;
        const victim = [...jobs].sort((x, y) => share(y) - share(x))[0] as JobProcess;
        const victimClients = new Set(clients.get(victim.child.pid as number) ?? []);
        const victimChannels = [...before].filter(([, client]) => victimClients.has(client)).map(([channel]) => channel);
        expect(victimChannels.length, `the victim's recorded clients ${[...victimClients].join(', ')} hold none of ${JSON.stringify([...before])}`).toBeGreaterThan(0);
        const survivors = jobs.filter((job) => job !== victim);
        const survivorClients = async (): Promise<Set<string>> => new Set([...(await workerClients(sdk))].filter(([pid]) => survivors.some((job) => job.child.pid === pid)).flatMap(([, ids]) => ids));

        const killedAt = await victim.kill();
        await until(
          async () => {
            const [now, mine] = await Promise.all([held(), survivorClients()]);
            return now.size === 4 && [...now.values()].every((client) => mine.has(client));
          },
          TAKEOVER_LIMIT_MS,
          "the survivors to hold every channel, the dead worker's included",
          100,
        );
        const takeoverMs = Date.now() - killedAt;
        const judged = survivors.flatMap((job) => job.stderr().split('\n')).find((line) => line.includes(`pid ${victim.child.pid} did not renew its row`));
        console.log(`many workers, default heartbeats: kill -9 of a worker holding ${victimChannels.length} of 4 channels (${victimChannels.join(', ')}); the survivors held all 4 after ${(takeoverMs / 1000).toFixed(1)} s; ${judged ?? '(no judgement line)'}`);
        expect(judged, survivors.map((job) => job.stderr()).join('\n---\n')).toBeDefined();
        expect(takeoverMs).toBeLessThan(TAKEOVER_LIMIT_MS);

        await sleep(1_500);
        await generator.stop();
        await untilExact(sdk, survivors, 60_000);
        for (const job of survivors) job.child.kill('SIGTERM');
        for (const job of survivors) expect((await job.exited).code, job.stderr()).toBe(0);
        expect(await sinkDifferences(sdk)).toEqual([]);
      } finally {
        generator.abort();
        admin.close();
        for (const job of jobs) job.child.kill('SIGKILL');
      }
    });
  }, 240_000);

  it('--until-idle on 3 workers: each stops once the whole job is drained, all exit 0, the sink exact', async () => {
    await withEmulator('workers-idle', {}, async (emulator, root) => {
      const tunnelId = await seedTables(emulator.endpoint);
      const sdk = sdkClient(emulator.endpoint);
      const generator = new OrderGenerator(() => sdk, { seed: SEED, rate: 150, stepMs: 100 });
      const jobs: JobProcess[] = [];
      try {
        generator.start();
        for (const name of ['a', 'b', 'c']) jobs.push(worker(emulator, tunnelId, root, name, true));
        await until(() => jobs.every((job) => /as one of the job's workers/.test(job.stderr())), 60_000, 'every worker to be up', 100);
        await sleep(4_000);
        await generator.stop();
        const stoppedAt = Date.now();
        const exitedAfter = jobs.map(() => -1);
        jobs.forEach((job, i) => void job.exited.then(() => (exitedAfter[i] = Date.now() - stoppedAt)));
        const exits = await Promise.race([Promise.all(jobs.map((job) => job.exited)), sleep(120_000).then(() => undefined)]);
        expect(exits, `not every worker stopped:\n${jobs.map((job) => job.stderr().split('\n').slice(-12).join('\n')).join('\n---\n')}`).toBeDefined();
        for (const [i, exit] of (exits ?? []).entries()) expect(exit.code, (jobs[i] as JobProcess).stderr()).toBe(0);
        const took = jobs.map((job) => (job.stderr().match(/took channel/g) ?? []).length);
        console.log(`many workers --until-idle: 3 workers all exited 0, ${exitedAfter.map((ms) => `${(ms / 1000).toFixed(1)} s`).join(', ')} after the writer's stop; channel claims per worker ${took.join(', ')}`);
        expect(await sinkDifferences(sdk)).toEqual([]);
      } finally {
        generator.abort();
        for (const job of jobs) job.child.kill('SIGKILL');
      }
    });
  }, 240_000);
});
