/**
 * The seed job (compiled CLI, `otsflow sql -f examples/orders/job.sql`) while the emulator splits
 * the stream partitions under it: the fault plan `split=<records>,splits=<n>` seals a partition
 * once it holds that many records and opens two children with the next epoch, again and again as
 * orders arrive (children split too). Meanwhile the job is killed with SIGKILL and restarted from
 * its checkpointLocation a few times, so restores land between splits: a batch plan naming a parent
 * that has since ended, children the checkpoint never saw. The job must read every parent to its
 * end, take the children once the parent is TERMINATED — and OrderStreamSink must equal the direct
 * computation over the orders written, window by window.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { directComputation, knob, OrderGenerator, readOrders, sdkClient, SEED, seedTables, sleep, startJob, tunnelAdmin, until } from './harness/cluster.js';
import { catchUp, expectExact, withEmulator } from './harness/scenario.js';
import { seededRandom } from '../../lib/wire/random.js';

const SPLIT_AFTER = knob('RELIABILITY_SPLIT_AFTER', 120, 400);
const SPLITS = knob('RELIABILITY_SPLITS', 8, 24);
const RUN_MS = knob('RELIABILITY_SPLIT_RUN_MS', 6_000, 60_000);
const KILLS = knob('RELIABILITY_SPLIT_KILLS', 2, 8);
const CHANNEL_ID = /^p(\d+)_e(\d+)$/;

describe('the seed job through partition splits', () => {
  it(`stays exact while ${SPLITS} splits (every ${SPLIT_AFTER} records of a partition) happen under it, through ${KILLS} kill -9 restarts`, async () => {
    const started = Date.now();
    await withEmulator('splits', { inProcess: true, faults: `split=${SPLIT_AFTER},splits=${SPLITS}` }, async (emulator, root) => {
      const admin = tunnelAdmin(emulator.endpoint);
      let job: ReturnType<typeof startJob> | undefined;
      const sdk = sdkClient(emulator.endpoint);
      const generator = new OrderGenerator(() => sdk, { seed: SEED, rate: 200, stepMs: 100 });
      try {
        const tunnelId = await seedTables(emulator.endpoint);
        const checkpoint = join(root, 'checkpoint');
        job = startJob({ endpoint: emulator.endpoint, tunnelId, checkpoint });
        const channels = async () => (await admin.describe('OrderSource', 'orders')).channels;
        await until(async () => (await channels()).some((c) => c.status === 'OPEN'), 30_000, 'the job to hold the channels', 100);
        generator.start();
        // orders arrive until every split has happened, and a while after; the job dies now and then
        const splitsAtKill: number[] = [];
        const draw = seededRandom(SEED + 1);
        const splitsNow = async (): Promise<number> => ((await channels()).length - 4) / 2;
        for (let kill = 0; kill < KILLS; kill++) {
          // each kill once a further share of the splits has happened: restores land between splits
          const target = Math.ceil((SPLITS * (kill + 1)) / (KILLS + 1));
          await until(async () => (await splitsNow()) >= target, 120_000, `${target} splits`, 100);
          await sleep(draw() * 500);
          expect(job.child.exitCode, `the job must keep going by itself; its stderr:\n${job.stderr()}`).toBe(null);
          await job.kill();
          splitsAtKill.push(await splitsNow());
          job = startJob({ endpoint: emulator.endpoint, tunnelId, checkpoint });
        }
        const running = job;
        await sleep(RUN_MS);
        await until(async () => (await channels()).length === 4 + 2 * SPLITS, 120_000, `${SPLITS} splits`, 250);
        await sleep(1_000);
        await generator.stop();

        const orders = await readOrders(sdk);
        const expected = directComputation(orders);
        await catchUp(sdk, expected, running);
        // every parent was read to its end and reported TERMINATED; the live partitions are the job's
        await until(async () => (await channels()).filter((c) => c.status === 'TERMINATED').length === SPLITS, 30_000, 'every parent TERMINATED', 250);
        const final = await channels();
        const epochs = final.map((c) => Number(CHANNEL_ID.exec(c.channelId)?.[2] ?? -1));
        expect(epochs.every((e) => e >= 0)).toBe(true);
        expect(final.filter((c) => c.status !== 'TERMINATED').every((c) => c.status === 'OPEN')).toBe(true);
        expect(new Set(final.filter((c) => c.status === 'OPEN').map((c) => c.clientId)).size).toBe(1);
        await expectExact(sdk, expected);
        // a partition splits right after its SPLIT_AFTER-th record: each parent delivered exactly that
        // many (counted by the read that returned finished); the live channels' counts follow their
        // checkpoints, which a restart may leave behind the job's own commit (never ahead of it)
        const terminated = final.filter((c) => c.status === 'TERMINATED');
        expect(terminated.map((c) => c.count)).toEqual(terminated.map(() => BigInt(SPLIT_AFTER)));
        expect(final.reduce((n, c) => n + Number(c.count ?? 0n), 0)).toBeLessThanOrEqual(orders.length);
        running.child.kill('SIGTERM');
        expect((await running.exited).code, running.stderr()).toBe(0);
        console.log(
          `splits: ${orders.length} orders in ${expected.size} windows, exact through ${SPLITS} splits (every ${SPLIT_AFTER} records, deepest epoch ${Math.max(...epochs)}) ` +
            `and ${KILLS} kill -9 restarts (after ${splitsAtKill.join(', ')} splits), ` +
            `${final.length} channels, ${((Date.now() - started) / 1000).toFixed(1)} s (seed ${SEED})`,
        );
      } finally {
        generator.abort();
        job?.child.kill('SIGKILL');
        admin.close();
      }
    });
  }, 240_000 + RUN_MS * 2 + KILLS * 10_000);
});
