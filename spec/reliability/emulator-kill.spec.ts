/**
 * kill -9 of the emulator (the service itself) while the seed job runs and orders arrive: the
 * emulator is SIGKILLed mid-run and restarted on its data directory at the same port (once in
 * CI, twenty times in the long form). The job (the compiled CLI) must ride it out — its requests are retried, its tunnel
 * session reconnects, its sink writes are retried — without being restarted, and end exact. The
 * generator retries its writes while the service is down (EXPECT_NOT_EXIST, so a write whose
 * answer was lost is never applied twice).
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { directComputation, knob, OrderGenerator, readOrders, sdkClient, SEED, seedTables, sleep, startJob, tunnelAdmin, until } from './harness/cluster.js';
import { catchUp, expectExact, openChannels, withEmulator } from './harness/scenario.js';
import { seededRandom } from '../../lib/wire/random.js';

const OUTAGES = knob('RELIABILITY_EMULATOR_KILLS', 1, 20);

describe('kill -9 of the emulator under a running seed job', () => {
  it(`the job survives ${OUTAGES} SIGKILL(s) of the emulator (restarted on its data at the same port) and OrderStreamSink ends exact`, async () => {
    const started = Date.now();
    console.log(`kill -9 of the emulator: seed ${SEED}`);
    await withEmulator('emu', { sinkDelayMs: 10 }, async (emulator, root) => {
      const checkpoint = join(root, 'checkpoint');
      const draw = seededRandom(SEED);
      const job = { current: undefined as ReturnType<typeof startJob> | undefined };
      // a fresh client per call: the SDK's keep-alive sockets die with the emulator
      const sdk = () => sdkClient(emulator.endpoint);
      const generator = new OrderGenerator(sdk, { seed: SEED, rate: 150, stepMs: 100, lateShare: 0.1 });
      try {
        const tunnelId = await seedTables(emulator.endpoint);
        generator.start();
        job.current = startJob({ endpoint: emulator.endpoint, tunnelId, checkpoint });
        const running = job.current;
        await until(() => /starting fresh/.test(running.stderr()), 30_000, 'the job to start');
        // the tunnel clients that held the channels: a new one after an outage means the session was lost and renewed
        const clients = new Set<string>();
        const holders = async (): Promise<void> => {
          const admin = tunnelAdmin(emulator.endpoint);
          try {
            await until(async () => {
              const owners = [...(await openChannels(admin)).values()];
              owners.forEach((owner) => clients.add(owner));
              return owners.length > 0 || running.child.exitCode !== null;
            }, 15_000, 'the job to hold channels', 100);
          } finally {
            admin.close();
          }
        };
        await holders();
        const downtimes: number[] = [];
        for (let outage = 0; outage < OUTAGES; outage++) {
          await sleep(500 + draw() * 1_500);
          if (running.child.exitCode !== null) break;
          await emulator.kill();
          // longer than the job's heartbeat timeout (1 s here), so every outage costs the tunnel
          // session and the reconnect is exercised (a shorter one may be ridden out by retries)
          const down = 1_200 + Math.floor(draw() * 1_500);
          downtimes.push(down);
          await sleep(down);
          await emulator.restart();
          await holders();
        }
        await sleep(1_000);
        await generator.stop();
        const orders = await readOrders(sdk());
        expect(orders.map((order) => order.orderId).sort()).toEqual(generator.written.map((order) => order.orderId).sort());
        const expected = directComputation(orders);
        // the same job, never restarted, catches up; then a graceful stop (SIGTERM, as Ctrl-C)
        const catchUpMs = await catchUp(sdk, expected, running);
        running.child.kill('SIGTERM');
        const exit = await running.exited;
        expect(exit.code, running.stderr()).toBe(0);
        await expectExact(sdk(), expected);
        // the outages did cost the job its tunnel session (so the test exercised the reconnect)
        expect(clients.size).toBeGreaterThan(1);
        console.log(
          `kill -9 of the emulator: ${downtimes.length} outages of ${downtimes.join(', ')} ms (+ the restart) under a running job, ${clients.size} tunnel sessions; ${orders.length} orders in ${expected.size} windows; generator retries ${generator.retries}; caught up ${catchUpMs} ms after the generator stopped; ${((Date.now() - started) / 1000).toFixed(1)} s (seed ${SEED})`,
        );
      } finally {
        generator.abort();
        job.current?.child.kill('SIGKILL');
      }
    });
  }, 90_000 + OUTAGES * 20_000);
});
