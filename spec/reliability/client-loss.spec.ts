/**
 * A lost tunnel session under a running aggregating job, in one process so it is quick and
 * deterministic: the seed job (examples/orders/job.sql through compile()) runs on an in-process
 * emulator; the emulator withholds every heartbeat of the job's tunnel client until the client
 * gives its session up (local heartbeat timeout) and the service expires its leases; the job
 * reconnects as a new client, gets its channels back — at the service checkpoint, which lies
 * behind what it had read — and must go on where it stopped reading: no record lost, none twice.
 */
import * as E from 'fp-ts/lib/Either.js';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StreamJob } from '../../lib/sql/index.js';
import { createOrderSinkTable, createOrderTable, ORDER_TABLE, startTunnelEmulator, type TunnelEmulator } from '../tunnel/emulator-harness.js';
import { directComputation, OrderGenerator, readSeedSink, SEED, SEED_SQL, SINK_TABLE, until } from './harness/cluster.js';
import { expectExact } from './harness/scenario.js';
import { compileJob } from '../sql/compiled-job.js';

let env: TunnelEmulator;
let checkpoint: string;

beforeAll(async () => {
  env = await startTunnelEmulator({ partitions: 4, expirySweepMs: 50 });
  await createOrderTable(env.sdk);
  await createOrderSinkTable(env.sdk);
  checkpoint = mkdtempSync(join(tmpdir(), 'otsflow-rel-session-'));
});

afterAll(async () => {
  await env?.close();
  if (checkpoint !== undefined) rmSync(checkpoint, { recursive: true, force: true });
});

async function startSeedJob(tunnelId: string): Promise<StreamJob> {
  const sql = readFileSync(SEED_SQL, 'utf8');
  const job = await compileJob(sql, {
    timeZone: 'UTC',
    variables: { endpoint: env.emulator.endpoint, instance: env.emulator.instanceName, access_key_id: env.emulator.credentials.accessKeyId, access_key_secret: env.emulator.credentials.accessKeySecret, tunnel_id: tunnelId, checkpoint },
    tunnel: { heartbeatIntervalMs: 100, heartbeatTimeoutMs: 1_000, readBackoff: { initialMs: 5, multiplier: 2, maxMs: 50 }, reconnectBackoff: { initialMs: 50, maxMs: 200 } },
    progressIntervalMs: 200,
  });
  job.start();
  return job;
}

const owners = async (): Promise<Set<string>> => {
  const described = await env.control.describeTunnel(ORDER_TABLE, 'orders');
  if (E.isLeft(described)) throw described.left;
  return new Set(described.right.channels.filter((channel) => channel.status === 'OPEN').map((channel) => channel.clientId ?? ''));
};

describe('a lost tunnel session under the seed job', () => {
  it('the job reconnects, resumes its channels where it had read, and OrderStreamSink ends exact', async () => {
    const created = await env.control.createTunnel({ tableName: ORDER_TABLE, tunnelName: 'orders', tunnelType: 'Stream' });
    if (E.isLeft(created)) throw created.left;
    const generator = new OrderGenerator(() => env.sdk, { seed: SEED, rate: 400, stepMs: 50 });
    const job = await startSeedJob(created.right.tunnelId);
    try {
      generator.start();
      await until(async () => (await owners()).size === 1, 10_000, 'the job to hold the channels');
      const [first] = [...(await owners())];
      await until(async () => (await readSeedSink(env.sdk)).size > 0, 10_000, 'the first rows in the sink');

      // every heartbeat of the job's client goes unanswered: its session ends, its leases expire
      env.tunnels.faults.withholdHeartbeats(first as string);
      // a job that fails says why at once (before the fix: a SourceContractError, records would count twice)
      await Promise.race([
        until(async () => {
          const now = await owners();
          return now.size === 1 && !now.has(first as string) && !now.has('');
        }, 15_000, "the channels to move to the job's new client"),
        job.done.then(() => {
          throw new Error('the job stopped');
        }),
      ]);
      await new Promise((resolve) => setTimeout(resolve, 500));
      await generator.stop();
      await job.untilIdle(500);
      const summary = await job.stop();
      env.tunnels.faults.withholdHeartbeats(first as string, false);

      const expected = directComputation(generator.written);
      await expectExact(env.sdk, expected);
      // one run, no replay: every order read exactly once
      expect(summary.recordsIn).toBe(generator.written.length);
    } finally {
      generator.abort();
      await job.stop().catch(() => undefined);
    }
  }, 60_000);
});
