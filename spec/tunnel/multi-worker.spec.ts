/**
 * Two tunnel workers in separate processes share the 4 channels of a Stream tunnel while orders
 * are written; one is killed with SIGKILL, the other takes every channel once the service expires
 * the dead client, and every written order reaches at least one of them.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { createOrderTable, order, ORDER_TABLE, startTunnelEmulator, tunnelOptions, until, writeOrders } from './emulator-harness.js';
import type { TunnelEmulator } from './emulator-harness.js';

const HEARTBEAT_INTERVAL_MS = 200;
const HEARTBEAT_TIMEOUT_MS = 2_000;
const WORKER_SCRIPT = fileURLToPath(new URL('./worker-process.ts', import.meta.url));

interface WorkerView {
  readonly process: ChildProcess;
  readonly orders: Set<string>;
  readonly held: Set<string>;
  clientId: string | undefined;
  /** when `held` last reached each size */
  readonly heldAt: Map<number, number>;
}

function startWorker(options: object): WorkerView {
  const child = spawn(process.execPath, ['--import', 'tsx', WORKER_SCRIPT, JSON.stringify(options)], { stdio: ['ignore', 'pipe', 'inherit'] });
  const view: WorkerView = { process: child, orders: new Set(), held: new Set(), clientId: undefined, heldAt: new Map() };
  createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (line) => {
    const message = JSON.parse(line) as { kind: string; channelId?: string; orders?: string[]; clientId?: string };
    if (message.kind === 'connected') view.clientId = message.clientId;
    if (message.kind === 'batch') for (const id of message.orders ?? []) view.orders.add(id);
    if (message.kind === 'opened') view.held.add(message.channelId as string);
    if (message.kind === 'closed') view.held.delete(message.channelId as string);
    view.heldAt.set(view.held.size, Date.now());
  });
  return view;
}

const exited = (child: ChildProcess): Promise<void> =>
  child.exitCode !== null || child.signalCode !== null ? Promise.resolve() : new Promise((resolve) => child.once('exit', () => resolve()));

describe('two worker processes on one tunnel', () => {
  let env: TunnelEmulator;
  const workers: WorkerView[] = [];

  beforeAll(async () => {
    env = await startTunnelEmulator({ partitions: 4, expirySweepMs: 50 });
    await createOrderTable(env.sdk);
  });

  afterAll(async () => {
    for (const worker of workers) worker.process.kill('SIGKILL');
    await Promise.all(workers.map((worker) => exited(worker.process)));
    await env?.close();
  });

  it('share 4 channels; after kill -9 of one, the other takes all of them within the heartbeat timeout; every order delivered', async () => {
    const created = await env.control.createTunnel({ tableName: ORDER_TABLE, tunnelName: 'shared', tunnelType: 'Stream' });
    if (created._tag === 'Left') throw created.left;
    const options = tunnelOptions(env.emulator, created.right.tunnelId, {
      heartbeatIntervalMs: HEARTBEAT_INTERVAL_MS,
      heartbeatTimeoutMs: HEARTBEAT_TIMEOUT_MS,
      clientTag: 'worker',
    });

    const a = startWorker(options);
    workers.push(a);
    await until(() => a.held.size === 4, 20_000, 'worker A to hold every channel');
    const b = startWorker(options);
    workers.push(b);
    await until(() => a.held.size === 2 && b.held.size === 2, 20_000, 'the channels to be shared 2 + 2');

    let written = 0;
    await writeOrders(env.sdk, 0, 2_000, 200);
    written = 2_000;
    await until(() => a.orders.size + b.orders.size >= 2_000, 20_000, 'both workers to consume');
    expect(a.orders.size).toBeGreaterThan(0);
    expect(b.orders.size).toBeGreaterThan(0);

    // writes continue while A dies
    const writer = (async () => {
      for (let batch = 0; batch < 10; batch++) {
        await writeOrders(env.sdk, written, 200, 200);
        written += 200;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    })();
    const killedAt = Date.now();
    a.process.kill('SIGKILL');
    await exited(a.process);
    await until(() => b.held.size === 4, HEARTBEAT_TIMEOUT_MS + 10_000, 'worker B to take every channel');
    const takeover = (b.heldAt.get(4) ?? Date.now()) - killedAt;
    // the service expires A one timeout after its last heartbeat (≤ kill); B's next heartbeat takes the
    // channels (≈ timeout + ≤ 1 interval); the margin absorbs a loaded CI machine
    expect(takeover).toBeLessThanOrEqual(HEARTBEAT_TIMEOUT_MS + 5 * HEARTBEAT_INTERVAL_MS);
    console.info(`takeover after kill -9: ${takeover} ms (heartbeat timeout ${HEARTBEAT_TIMEOUT_MS} ms)`);
    await writer;

    const expected = Array.from({ length: written }, (_, n) => order(n).orderId);
    await until(() => expected.every((id) => a.orders.has(id) || b.orders.has(id)), 30_000, 'every order to be delivered');
    const described = await env.control.describeTunnel(ORDER_TABLE, 'shared');
    if (described._tag === 'Left') throw described.left;
    expect(described.right.channels.map((c) => [c.status, c.clientId])).toEqual(Array.from({ length: 4 }, () => ['OPEN', b.clientId]));

    b.process.kill('SIGTERM');
    await exited(b.process);
    expect(b.process.exitCode).toBe(0);
  }, 120_000);
});
