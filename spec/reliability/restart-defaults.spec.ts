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
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { firstValueFrom } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { bootId } from '../../lib/stream/checkpoint/owner-record.js';
import { createHttpTransport } from '../../lib/tunnel/http-transport.js';
import { httpTunnelApi } from '../../lib/tunnel/http-tunnel-api.js';
import {
  directComputation,
  knob,
  OrderGenerator,
  readOrders,
  runJobToEnd,
  sdkClient,
  SEED,
  seedTables,
  sleep,
  CREDENTIALS,
  INSTANCE,
  startJob,
  tunnelAdmin,
  until,
  type JobProcess,
} from './harness/cluster.js';
import { expectExact, withEmulator } from './harness/scenario.js';

const KILLS = knob('RELIABILITY_DEFAULT_KILLS', 3, 10);
const RESTART_LIMIT_MS = 10_000;

describe('kill -9 of the seed job with default heartbeat settings', () => {
  it(`${KILLS} restarts each read again within 10 s; a second live copy is refused; the sink ends exact`, async () => {
    await withEmulator('restart', (root) => ({ checkpointDir: join(root, 'checkpoint') }), async (emulator, root) => {
      const checkpoint = join(root, 'checkpoint');
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
        await expectExact(sdk, expected);

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
      }
    });
  }, 240_000);

  it('a predecessor killed between ConnectTunnel and its first heartbeat holds no channel, yet the service counts it: the restart ends it too and reads every channel', async () => {
    await withEmulator('restart-early', { inProcess: true }, async (emulator, root) => {
      const checkpoint = join(root, 'checkpoint');
      const admin = tunnelAdmin(emulator.endpoint);
      const transport = createHttpTransport({ endpoint: emulator.endpoint, instance: INSTANCE, credentials: CREDENTIALS, requestTimeoutMs: 10_000 });
      let job: JobProcess | undefined;
      try {
        const tunnelId = await seedTables(emulator.endpoint);
        // what such a run leaves: its client connected (with the job's tag and the default 300 s
        // timeout), recorded in owner.json, and a pid that is gone
        const { clientId } = await firstValueFrom(httpTunnelApi(transport).connect({ tunnelId, timeoutSeconds: 300, clientTag: 'otsflow-job1' }));
        const gone = spawnSync(process.execPath, ['-e', '']).pid;
        mkdirSync(checkpoint, { recursive: true });
        const boot = bootId();
        writeFileSync(join(checkpoint, 'owner.json'), JSON.stringify({ job: 'job1', runId: 'killed', pid: gone, host: hostname(), startedAt: Date.now() - 1_000, renewals: 0, clients: [clientId], ...(boot === undefined ? {} : { bootId: boot }) }));

        job = startJob({ endpoint: emulator.endpoint, tunnelId, checkpoint, defaultHeartbeats: true });
        const running = job;
        let heldAfter = 0;
        await until(
          async () => {
            if (running.child.exitCode !== null) throw new Error(`the job exited:\n${running.stderr()}`);
            const described = await admin.describe('OrderSource', 'orders');
            const owners = new Set(described.channels.map((channel) => (channel.status === 'OPEN' ? channel.clientId : undefined)));
            const all = owners.size === 1 && !owners.has(undefined) && !owners.has(clientId);
            if (all) heldAfter = Date.now() - running.startedAt;
            return all;
          },
          20_000,
          'the restarted job to hold every channel',
          50,
        );
        console.log(`restart after a kill before the first heartbeat: every channel held ${(heldAfter / 1000).toFixed(1)} s after the spawn`);
        expect(heldAfter).toBeLessThan(RESTART_LIMIT_MS);
      } finally {
        job?.child.kill('SIGKILL');
        transport.close();
        admin.close();
      }
    });
  }, 60_000);
});
