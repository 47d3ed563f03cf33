/**
 * The endpoint goes away under a running job (the emulator process SIGKILLed for ~40 s), with the
 * settings a user gets: `otsflow sql -f examples/orders/job.sql`, default heartbeats, progress on
 * (stderr is a pipe, so a plain progress line every 5 s) and the default log level. The job must
 * say so: a warning `cannot reach <endpoint>: <reason>; retrying, N batches pending` within 10 s,
 * again every 30 s while it lasts, the progress line carrying the same status — and once the
 * emulator is back on its data, it says so, reads on, and the sink ends exact.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  differences,
  directComputation,
  OrderGenerator,
  readOrders,
  readSeedSink,
  sdkClient,
  SEED,
  seedTables,
  sleep,
  startJob,
  until,
  type JobProcess,
} from './harness/cluster.js';
import { withEmulator } from './harness/scenario.js';

const OUTAGE_MS = 40_000;

describe('the endpoint cannot be reached', () => {
  it('a warning within 10 s and then every 30 s, the live view says so, and the job reads on once it is back', async () => {
    await withEmulator('down', {}, async (emulator, root) => {
      const sdk = sdkClient(emulator.endpoint);
      const generator = new OrderGenerator(() => sdk, { seed: SEED, rate: 100, stepMs: 50 });
      let job: JobProcess | undefined;
      try {
        const tunnelId = await seedTables(emulator.endpoint);
        generator.start();
        job = startJob({ endpoint: emulator.endpoint, tunnelId, checkpoint: join(root, 'checkpoint'), defaultHeartbeats: true, progress: true });
        const running = job;
        await sleep(3_000);
        await generator.stop();
        const expectedBefore = directComputation(await readOrders(sdk));
        await until(async () => differences(await readSeedSink(sdk), expectedBefore).length === 0, 30_000, 'the job to catch up', 250);

        const warnings = (): { at: number; line: string }[] => seen.filter((entry) => /warning: job job1: cannot reach /.test(entry.line));
        const seen: { at: number; line: string }[] = [];
        let offset = running.stderr().length;
        const tail = setInterval(() => {
          const text = running.stderr();
          const fresh = text.slice(offset);
          const cut = fresh.lastIndexOf('\n');
          if (cut < 0) return;
          offset += cut + 1;
          for (const line of fresh.slice(0, cut).split('\n')) seen.push({ at: Date.now(), line });
        }, 50);

        await emulator.kill();
        const downAt = Date.now();
        await until(() => warnings().length >= 1, 15_000, 'the first warning');
        const first = warnings()[0] as { at: number; line: string };
        await until(() => warnings().length >= 2, 40_000, 'the second warning');
        const second = warnings()[1] as { at: number; line: string };
        await sleep(Math.max(0, downAt + OUTAGE_MS - Date.now()));
        const status = seen.find((entry) => entry.line.startsWith('job job1: running · cannot reach '));

        await emulator.restart();
        const upAt = Date.now();
        await until(() => seen.some((entry) => /job job1: reached the endpoint again after \d+ s/.test(entry.line)), 30_000, 'the job to say the endpoint is back');
        const backAt = (seen.find((entry) => /reached the endpoint again/.test(entry.line)) as { at: number }).at;
        clearInterval(tail);

        const endpoint = emulator.endpoint.replace(/[.]/g, '\\.');
        expect(first.line).toMatch(new RegExp(`^warning: job job1: cannot reach ${endpoint}: .*ECONNREFUSED.*; retrying, \\d+ batch(es)? pending$`));
        expect(first.at - downAt, 'the first warning within 10 s').toBeLessThan(10_000);
        expect(second.at - first.at, 'then every 30 s').toBeGreaterThanOrEqual(29_000);
        expect(second.at - first.at).toBeLessThan(33_000);
        expect(status, 'a progress line says the endpoint cannot be reached').toBeDefined();
        expect(status?.line).toMatch(new RegExp(`cannot reach ${endpoint}: .*; retrying for \\d+ s, \\d+ batch(es)? pending`));

        // it reads on: new orders reach the sink
        const more = new OrderGenerator(() => sdk, { seed: SEED + 1, rate: 100, stepMs: 50 });
        more.start();
        await sleep(2_000);
        await more.stop();
        const expected = directComputation(await readOrders(sdk));
        await until(async () => differences(await readSeedSink(sdk), expected).length === 0, 60_000, 'the job to read on after the outage', 250);
        expect(running.child.exitCode, running.stderr()).toBe(null);
        console.log(
          [
            `endpoint down ${((upAt - downAt) / 1000).toFixed(1)} s under a running job (default settings): first warning after ${((first.at - downAt) / 1000).toFixed(1)} s, the next ${((second.at - first.at) / 1000).toFixed(1)} s later; back ${((backAt - upAt) / 1000).toFixed(1)} s after the restart; ${expected.size} windows exact`,
            `  ${first.line}`,
            `  ${status?.line ?? ''}`,
          ].join('\n'),
        );
      } finally {
        generator.abort();
        job?.child.kill('SIGKILL');
      }
    });
  }, 180_000);
});
