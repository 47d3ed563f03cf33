/**
 * The worker rows of a job on a state table, against a real emulator through the official SDK and
 * real tunnel clients: a worker that stops renewing is judged dead once (one watcher wins the
 * conditional write), its recorded tunnel clients are ended with ShutdownTunnel and a survivor's
 * client takes the freed channels at once — long before its own heartbeat interval; a worker judged
 * dead while alive (frozen, then back) learns it at its next renewal and goes on. The timings here
 * are shortened (renewals every 100 ms, judged after 600 ms);
 * spec/reliability/many-workers-defaults.spec.ts runs the defaults a user gets.
 */
import * as E from 'fp-ts/lib/Either.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Subscription } from 'rxjs';
import { JobStateTable } from '../../lib/sinks/tablestore-state.js';
import { WorkerRows, workerName, type WorkerRecord } from '../../lib/sinks/worker-rows.js';
import { jobWaitsFor, startWorkerPresence, WorkerPresence } from '../../lib/sql/worker-presence.js';
import { tunnel } from '../../lib/tunnel/tunnel.js';
import { ORDER_TABLE, startOrderEmulator, tunnelOptions, type TunnelEmulator } from '../tunnel/emulator-harness.js';

let env: TunnelEmulator;
let tunnels = 0;

beforeAll(async () => {
  env = await startOrderEmulator();
});

afterAll(async () => {
  await env.close();
});

const connection = () => ({ endpoint: env.emulator.endpoint, instanceName: env.emulator.instanceName, ...env.emulator.credentials });

async function newTunnel(): Promise<string> {
  const created = await env.control.createTunnel({ tableName: ORDER_TABLE, tunnelName: `presence${++tunnels}`, tunnelType: 'Stream' });
  if (E.isLeft(created)) throw created.left;
  return created.right.tunnelId;
}

async function holders(tunnelName: string): Promise<Map<string, string>> {
  const described = await env.control.describeTunnel(ORDER_TABLE, tunnelName);
  if (E.isLeft(described)) throw described.left;
  return new Map(described.right.channels.filter((c) => c.status === 'OPEN' && c.clientId !== undefined && c.clientId !== '').map((c) => [c.channelId, c.clientId as string]));
}

async function until(condition: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

describe('worker rows: dead workers judged by their renewals', () => {
  it('a worker that stops renewing is judged dead once, its tunnel client ended; a survivor takes its channels at once, not at its 60 s heartbeat', async () => {
    const tunnelId = await newTunnel();
    const tunnelName = `presence${tunnels}`;
    const tableName = 'presence_state';
    await new JobStateTable({ ...connection(), tableName, job: 'job1' }).ensure();
    const logs: string[] = [];
    const presences: WorkerPresence[] = [];
    const subscriptions: Subscription[] = [];
    const start = (host: string, pid: number): Promise<WorkerPresence> =>
      startWorkerPresence({
        connection: connection(),
        credentials: env.emulator.credentials,
        tableName,
        job: 'job1',
        tunnelId,
        identity: { id: `${host}:${pid}:t`, host, pid, started: Date.now() },
        status: () => ({ held: [], drained: false }),
        onLog: (_level, message) => logs.push(`${host}: ${message}`),
        renewMs: 100,
        staleAfterMs: 600,
      }).then((presence) => {
        presences.push(presence);
        return presence;
      });
    // heartbeats every 60 s: only an extra heartbeat can move a channel within this test
    const slow = { heartbeatIntervalMs: 60_000, heartbeatTimeoutMs: 300_000 };
    try {
      const dying = await start('machine-a', 11);
      subscriptions.push(tunnel(tunnelOptions(env.emulator, tunnelId, { ...slow, beforeFirstHeartbeat: (id) => dying.addClient(id) })).subscribe({ next: (batch) => void batch.commit() }));
      await until(async () => (await holders(tunnelName)).size === 4, 10_000, 'the first worker to hold every channel');
      const dyingClients = [...dying.clientIds()];
      expect([...new Set((await holders(tunnelName)).values())]).toEqual(dyingClients);

      const survivor = await start('machine-b', 22);
      subscriptions.push(tunnel(tunnelOptions(env.emulator, tunnelId, { ...slow, beforeFirstHeartbeat: (id) => survivor.addClient(id), heartbeatNow: survivor.heartbeatNow })).subscribe({ next: (batch) => void batch.commit() }));
      // a watcher without a tunnel client: two watchers, one judgement
      await start('machine-c', 33);
      await until(() => survivor.clientIds().size === 1, 10_000, 'the survivor to connect');
      // the dead worker's client holds on to every channel: nothing moves before it is judged
      await new Promise((resolve) => setTimeout(resolve, 400));
      expect([...new Set((await holders(tunnelName)).values())]).toEqual(dyingClients);

      dying.dispose(); // no more renewals: as if the process were killed
      const survivorClient = [...survivor.clientIds()][0] as string;
      await until(async () => [...(await holders(tunnelName)).values()].filter((client) => client === survivorClient).length === 4, 20_000, 'the survivor to hold every channel');

      const judged = logs.filter((line) => line.includes(`worker ${workerName({ host: 'machine-a', pid: 11 })} did not renew its row`));
      expect(judged, logs.join('\n')).toHaveLength(1);
      expect(judged[0]).toContain(`ended its tunnel client ${dyingClients.join(', ')} with ShutdownTunnel`);
      const row = (await new WorkerRows({ ...connection(), tableName, job: 'job1' }).list()).find((record) => record.pid === 11) as WorkerRecord;
      expect(row.state).toBe('dead');
      expect(row.clients).toEqual(dyingClients);
      expect(['machine-b pid 22', 'machine-c pid 33']).toContain(row.judgedBy);
    } finally {
      for (const subscription of subscriptions) subscription.unsubscribe();
      for (const presence of presences) presence.dispose();
    }
  });

  it('a worker judged dead while alive (frozen, then back) is told at its next renewal, registers as live again and asks for a heartbeat', async () => {
    const tunnelId = await newTunnel();
    const tableName = 'presence_state';
    await new JobStateTable({ ...connection(), tableName, job: 'job2' }).ensure();
    const logs: string[] = [];
    const presence = await startWorkerPresence({
      connection: connection(),
      credentials: env.emulator.credentials,
      tableName,
      job: 'job2',
      tunnelId,
      identity: { id: 'machine-f:44:t', host: 'machine-f', pid: 44, started: Date.now() },
      status: () => ({ held: ['p0_e0'], drained: true }),
      onLog: (_level, message) => logs.push(message),
      renewMs: 100,
      staleAfterMs: 600,
    });
    let heartbeatsAsked = 0;
    const asked = presence.heartbeatNow.subscribe(() => heartbeatsAsked++);
    const rows = new WorkerRows({ ...connection(), tableName, job: 'job2' });
    try {
      await presence.addClient('client-f1');
      // a watcher's judgement: conditional on the renewals it saw (retried if the worker renewed first)
      let judgedAt = -1;
      await until(
        async () => {
          const seen = (await rows.read('machine-f:44:t')) as WorkerRecord;
          if (await rows.update(seen.id, seen.renewals, { state: 'dying', judgedBy: 'machine-w pid 9' })) judgedAt = seen.renewals + 1;
          return judgedAt >= 0;
        },
        5_000,
        'a judgement to land',
      );
      await until(() => logs.some((line) => line.startsWith('this worker was judged dead by machine-w pid 9')), 5_000, 'the worker to learn it');
      await until(async () => ((await rows.read('machine-f:44:t')) as WorkerRecord).renewals > judgedAt + 1, 5_000, 'renewals to go on');
      const row = (await rows.read('machine-f:44:t')) as WorkerRecord;
      expect(row.state).toBe('live');
      expect(row.clients).toEqual(['client-f1']);
      expect(row.held).toEqual(['p0_e0']);
      expect(row.drained).toBe(true);
      expect(heartbeatsAsked).toBeGreaterThan(0);
    } finally {
      asked.unsubscribe();
      presence.dispose();
    }
  });
});

describe('worker rows: pruning', () => {
  it('a stopped worker\'s row is deleted once a watcher has seen it unchanged for pruneAfterMs; live rows stay', async () => {
    const tunnelId = await newTunnel();
    const tableName = 'presence_state';
    await new JobStateTable({ ...connection(), tableName, job: 'job3' }).ensure();
    const rows = new WorkerRows({ ...connection(), tableName, job: 'job3' });
    const start = (pid: number): Promise<WorkerPresence> =>
      startWorkerPresence({
        connection: connection(),
        credentials: env.emulator.credentials,
        tableName,
        job: 'job3',
        tunnelId,
        identity: { id: `machine-p:${pid}:t`, host: 'machine-p', pid, started: Date.now() },
        status: () => ({ held: [], drained: true }),
        onLog: () => undefined,
        renewMs: 100,
        staleAfterMs: 600,
        pruneAfterMs: 500,
      });
    const [watcher, leaving] = [await start(1), await start(2)];
    try {
      // the claim the drain verdict reads: only the owner of each channel row
      await new JobStateTable({ ...connection(), tableName, job: 'job3' }).claim('p0_e0', 'machine-p pid 2 client c-2');
      expect(await rows.claims()).toEqual([{ channelId: 'p0_e0', owner: 'machine-p pid 2 client c-2' }]);
      await leaving.stop({ held: ['p0_e0'], drained: true });
      const stopped = (await rows.read('machine-p:2:t')) as WorkerRecord;
      expect([stopped.state, stopped.held, stopped.drained]).toEqual(['stopped', ['p0_e0'], true]);
      await until(async () => (await rows.read('machine-p:2:t')) === undefined, 10_000, 'the stopped row to be pruned');
      expect((await rows.list()).map((row) => [row.pid, row.state])).toEqual([[1, 'live']]);
    } finally {
      watcher.dispose();
      leaving.dispose();
    }
  });
});

describe('free channels seen in DescribeTunnel', () => {
  it('ask for a heartbeat now — except stream channels that wait for the base data', () => {
    const presence = new WorkerPresence({
      rows: new WorkerRows({ ...connection(), tableName: 'presence_state', job: 'job4' }),
      identity: { id: 'h:5:t', host: 'h', pid: 5, started: 0 },
      status: () => ({ held: [], drained: false }),
      shutdown: () => Promise.resolve(),
      onLog: () => undefined,
    });
    let asked = 0;
    const subscription = presence.heartbeatNow.subscribe(() => asked++);
    const base = (status: string, clientId?: string) => ({ channelId: 'b0', channelType: 'BaseData', status, ...(clientId === undefined ? {} : { clientId }) });
    const stream = (status: string, clientId?: string) => ({ channelId: 's0', channelType: 'Stream', status, ...(clientId === undefined ? {} : { clientId }) });
    const cases: [ReturnType<typeof base>[], number][] = [
      [[base('OPEN', 'c1'), stream('WAIT')], 0], // the stream waits for the base data: nobody may take it
      [[base('TERMINATED'), stream('OPEN', 'c1')], 0], // everything held or finished
      [[base('CLOSE'), stream('WAIT')], 1], // a base channel given back
      [[base('TERMINATED'), stream('WAIT')], 1], // the stream may be taken now
      [[base('TERMINATED'), stream('CLOSE')], 1], // given back (a stop, a dead worker ended)
    ];
    for (const [channels, expected] of cases) {
      asked = 0;
      presence.described(channels);
      expect(asked, JSON.stringify(channels)).toBe(expected);
    }
    subscription.unsubscribe();
  });
});

describe('the whole job drained, as one worker sees it', () => {
  const worker = (pid: number, state: WorkerRecord['state'], clients: string[], held: string[], drained: boolean): WorkerRecord => ({ id: `h:${pid}:t`, host: 'h', pid, started: 0, clients, renewals: 1, state, held, drained });
  const self = { id: 'h:1:t', clients: new Set(['c1']), held: ['p0'], drained: true };
  const claims = new Map([
    ['p0', 'h pid 1 client c1'],
    ['p1', 'h pid 2 client c2'],
    ['p2', 'h pid 3 client c3'],
  ]);

  it('drained when every channel is finished, or held by a live drained worker, or free after a worker that stopped drained', () => {
    const workers = [worker(1, 'live', ['c1'], ['p0'], true), worker(2, 'live', ['c2'], ['p1'], true), worker(3, 'stopped', ['c3'], ['p2'], true)];
    const channels = [
      { channelId: 'p0', status: 'OPEN', clientId: 'c1' },
      { channelId: 'p1', status: 'OPEN', clientId: 'c2' },
      { channelId: 'p2', status: 'CLOSE' },
      { channelId: 'p3', status: 'TERMINATED' },
    ];
    expect(jobWaitsFor({ channels, workers, claims, self })).toBeUndefined();
  });

  it('not drained while this worker is not, another holder is not, a holder is dead or unknown, or a free channel was left by anything but a drained stop', () => {
    const live = [worker(1, 'live', ['c1'], ['p0'], true), worker(2, 'live', ['c2'], ['p1'], true)];
    const held = (clientId: string) => [{ channelId: 'p0', status: 'OPEN', clientId: 'c1' }, { channelId: 'p1', status: 'OPEN', clientId }];
    expect(jobWaitsFor({ channels: held('c2'), workers: live, claims, self: { ...self, drained: false } })).toBe('this worker’s channels');
    expect(jobWaitsFor({ channels: held('c2'), workers: [live[0] as WorkerRecord, worker(2, 'live', ['c2'], ['p1'], false)], claims, self })).toBe('channel p1 (held by h pid 2, not drained)');
    expect(jobWaitsFor({ channels: held('c2'), workers: [live[0] as WorkerRecord, worker(2, 'dead', ['c2'], ['p1'], true)], claims, self })).toBe('channel p1 (held by h pid 2, dead)');
    expect(jobWaitsFor({ channels: held('c9'), workers: live, claims, self })).toBe('channel p1 (held by tunnel client c9, of no worker of this job)');
    const free = [{ channelId: 'p0', status: 'OPEN', clientId: 'c1' }, { channelId: 'p2', status: 'CLOSE' }];
    // its last holder stopped, but not drained; or was killed (its row is dead)
    expect(jobWaitsFor({ channels: free, workers: [...live, worker(3, 'stopped', ['c3'], ['p2'], false)], claims, self })).toBe('channel p2 (CLOSE, no worker holds it)');
    expect(jobWaitsFor({ channels: free, workers: [...live, worker(3, 'dead', ['c3'], ['p2'], true)], claims, self })).toBe('channel p2 (CLOSE, no worker holds it)');
    // given to this worker, not running yet
    expect(jobWaitsFor({ channels: [{ channelId: 'p5', status: 'OPEN', clientId: 'c1' }], workers: live, claims, self })).toBe('channel p5 (given to this worker, not running yet)');
  });
});
