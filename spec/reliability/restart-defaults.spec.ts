/**
 * kill -9 of the seed job with the heartbeat settings a user gets (30 s interval, 300 s timeout —
 * no shortened flags): the restart on the same checkpointLocation must read again within 10 s.
 * Before, it waited up to 330 s for the killed run's leases to expire. The killed run's tunnel
 * client ids are in `checkpointLocation/owner.json` (written before each client's first
 * heartbeat); the restart sees that run's pid gone and ends its session with ShutdownTunnel, as
 * the real service allows for any client id of the tunnel.
 *
 * Measured per restart, from the spawn of the new process: every channel OPEN for a client that is
 * not the killed run's (DescribeTunnel, polled every 50 ms), and the first sink write of the new run
 * (orders keep arriving, so reading again means writing again). A second live copy of the job on
 * the same checkpointLocation is refused at once, with one line. At the end the sink equals the
 * direct computation exactly.
 *
 * This is the defaults sibling of job-kill.spec.ts (which shortens heartbeats to make 20 kills fast).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  differences,
  directComputation,
  knob,
  OrderGenerator,
  readOrders,
  readSeedSink,
  runJobToEnd,
  sdkClient,
  SEED,
  seedTables,
  sleep,
  startEmulatorProcess,
  startJob,
  tunnelAdmin,
  until,
  type JobProcess,
} from './harness/cluster.js';

const KILLS = knob('RELIABILITY_DEFAULT_KILLS', 3, 10);
const RESTART_LIMIT_MS = 10_000;

describe('kill -9 of the seed job with default heartbeat settings', () => {
  it(`${KILLS} restarts each read again within 10 s; a second live copy is refused; the sink ends exact`, async () => {
    const root = mkdtempSync(join(tmpdir(), 'otsflow-rel-restart-'));
    const checkpoint = join(root, 'checkpoint');
    const emulator = await startEmulatorProcess({ dataDir: join(root, 'data'), port: 0, checkpointDir: checkpoint });
    const sdk = sdkClient(emulator.endpoint);
    const generator = new OrderGenerator(() => sdk, { seed: SEED, rate: 100, stepMs: 20, lateShare: 0.1 });
    const admin = tunnelAdmin(emulator.endpoint);
    const jobs: JobProcess[] = [];
    const holders = async (): Promise<{ owners: Set<string>; channels: number; open: number }> => {
      const described = await admin.describe('OrderSource', 'orders');
      const open = described.channels.filter((channel) => channel.status === 'OPEN' && channel.clientId !== undefined && channel.clientId !== '');
      return { owners: new Set(open.map((channel) => channel.clientId as string)), channels: described.channels.length, open: open.length };
    };
    const sinkWriteAfter = (at: number): boolean => emulator.sinkEvents.some((event) => event.phase === 'end' && event.at >= at);
    try {
      const tunnelId = await seedTables(emulator.endpoint);
      generator.start();
      const options = { endpoint: emulator.endpoint, tunnelId, checkpoint, defaultHeartbeats: true } as const;

      let job = startJob(options);
      jobs.push(job);
      await until(async () => sinkWriteAfter(job.startedAt) && (await holders()).open > 0, 30_000, 'the first run to hold channels and write');
      const takeovers: number[] = [];
      const firstWrites: number[] = [];

      for (let kill = 0; kill < KILLS; kill++) {
        // let it run a little: a kill somewhere in its batches
        await sleep(500 + ((SEED + kill * 977) % 1_500));
        const dead = (await holders()).owners;
        expect(dead.size, 'one client holds the channels before the kill').toBe(1);
        await job.kill();
        // the killed run's leases are still held: the service waits 300 s for its heartbeats
        expect((await holders()).owners).toEqual(dead);

        job = startJob(options);
        jobs.push(job);
        const spawned = job.startedAt;
        let takenOver = 0;
        await until(
          async () => {
            if (job.child.exitCode !== null) throw new Error(`the restarted job exited (${job.child.exitCode}):\n${job.stderr()}`);
            const now = await holders();
            if (takenOver === 0 && now.open === now.channels && [...now.owners].every((owner) => !dead.has(owner))) takenOver = Date.now();
            return takenOver !== 0 && sinkWriteAfter(spawned);
          },
          60_000,
          `restart ${kill} to take the channels over and write`,
          50,
        );
        const firstWrite = Math.min(...emulator.sinkEvents.filter((event) => event.phase === 'end' && event.at >= spawned).map((event) => event.at));
        takeovers.push(takenOver - spawned);
        firstWrites.push(firstWrite - spawned);
        expect(job.stderr(), 'the restart says what it did').toMatch(/released its channels with ShutdownTunnel/);
        expect(job.stderr()).not.toMatch(/waiting up to \d+ s for an earlier run's leases/);
      }

      // the same job again while one runs, on the same checkpointLocation: refused at once
      const copy = startJob(options);
      jobs.push(copy);
      const refused = await Promise.race([copy.exited, sleep(RESTART_LIMIT_MS).then(() => undefined)]);
      expect(refused, `the second copy must be refused; it ran alongside:\n${copy.stderr()}`).toBeDefined();
      expect(refused?.code).toBe(1);
      const lines = copy.stderr().split('\n').filter((line) => line.startsWith('otsflow sql:'));
      expect(lines, copy.stderr()).toHaveLength(1);
      expect(lines[0]).toMatch(/^otsflow sql: job job1: another run of job job1 is live on checkpoint location \S+ \(pid \d+ on \S+, started [^;]+; pid \d+ is running\): stop it first/);
      expect(job.child.exitCode, 'the running job goes on').toBe(null);
      const refusedMs = Date.now() - copy.startedAt;

      await sleep(500);
      await job.kill();
      await generator.stop();
      const final = await runJobToEnd(options, 120_000);
      expect(final.code, final.stderr).toBe(0);
      expect(final.stderr).toMatch(/released its channels with ShutdownTunnel/);

      const orders = await readOrders(sdk);
      const expected = directComputation(orders);
      const actual = await readSeedSink(sdk);
      expect(differences(actual, expected)).toEqual([]);

      console.log(
        [
          `restart after kill -9 with default heartbeats (30 s / 300 s): ${KILLS} restarts + a final one; ${orders.length} orders in ${expected.size} windows, exact (seed ${SEED})`,
          `  channels taken over ${takeovers.map((ms) => `${(ms / 1000).toFixed(1)} s`).join(', ')} after the spawn; first sink write ${firstWrites.map((ms) => `${(ms / 1000).toFixed(1)} s`).join(', ')} after the spawn`,
          `  a second live copy refused in ${(refusedMs / 1000).toFixed(1)} s: ${lines[0]}`,
        ].join('\n'),
      );
      for (const ms of [...takeovers, ...firstWrites]) expect(ms).toBeLessThan(RESTART_LIMIT_MS);
    } finally {
      generator.abort();
      for (const running of jobs) running.child.kill('SIGKILL');
      admin.close();
      await emulator.close();
      rmSync(root, { recursive: true, force: true });
    }
  }, 240_000);
});
