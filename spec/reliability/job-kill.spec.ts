/**
 * kill -9 of the seed job, as a user runs it: `otsflow sql -f examples/orders/job.sql` (the
 * compiled CLI) against an emulator in its own process on a persistent data directory, while a
 * generator writes orders with the official SDK (event times over many 30 s windows, a tenth of
 * them 30–120 s late — the seed has no watermark, so every order counts). The job is SIGKILLed
 * again and again, each time restarted from the same checkpointLocation. Each kill is aimed, in
 * turn, at one phase of the commit protocol — a random moment after the pipeline started, a sink
 * write on its way (the emulator holds it 40 ms), right after the sink applied it, while
 * commits/N is appended to the checkpoint log and synced, right after commits/N is in the log
 * (before the tunnel Checkpoint calls), while offsets/N is synced — at the first, second or third such moment of
 * the run, and afterwards classified from what the checkpoint directory, the emulator's log of
 * sink writes and the tunnel's checkpoints show (checkpoint-dir.ts): aims miss, the report counts
 * where kills landed. After each kill the tunnel's checkpoints must not be ahead of the newest
 * commit (nothing acknowledged that was not persisted). At the end (generator stopped, the job run
 * until idle) OrderStreamSink, read back with the SDK, must equal the direct computation over the
 * source table exactly: counts, and totals (prices are multiples of 0.25, so every sum is exact).
 * One order in fifty sits alone in a window hours back, so a lost sink write cannot be repaired
 * by a later batch rewriting its window.
 *
 * CI: 20 kills. `npm run reliability:long` (RELIABILITY_KILLS=200 …) for the long form.
 * RELIABILITY_HEARTBEATS=default runs the jobs with the heartbeat settings a user gets (30 s / 300 s)
 * instead of 200 ms / 1 s; either way every restart's delay — spawn until all channels are held by
 * the new run — is measured, and must stay under 10 s (restart-defaults.spec.ts is the CI sibling
 * with default settings).
 */
import { mkdirSync, watch, type FSWatcher } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CHECKPOINT_LOG } from '../../lib/stream/checkpoint/file-store.js';
import { classifyKill, committedCounts, listCheckpoint, logEntries, PHASES, restored, type Phase } from './harness/checkpoint-dir.js';
import {
  directComputation,
  knob,
  OrderGenerator,
  readOrders,
  runJobToEnd,
  sdkClient,
  SEED,
  seedTables,
  startJob,
  tunnelAdmin,
  type JobProcess,
  type Order,
} from './harness/cluster.js';
import { expectExact, withEmulator } from './harness/scenario.js';
import { seededRandom } from '../../lib/wire/random.js';

const KILLS = knob('RELIABILITY_KILLS', 20, 200);
const LANES = Math.max(1, knob('RELIABILITY_LANES', 2, 2));
const RATE = knob('RELIABILITY_RATE', 120, 200);
const VERBOSE = process.env['RELIABILITY_VERBOSE'] === '1';
const DEFAULT_HEARTBEATS = process.env['RELIABILITY_HEARTBEATS'] === 'default';
const RESTART_LIMIT_MS = 10_000;
const TARGETS = ['random', 'sink-write', 'sink-written', 'commit', 'committed', 'plan'] as const;
type Target = (typeof TARGETS)[number];

interface LaneResult {
  readonly orders: number;
  readonly outOfOrder: number;
  readonly windows: number;
  readonly batches: number;
  readonly replays: number;
  readonly killedReplays: number;
  readonly generatorRetries: number;
  readonly killsMs: number;
  readonly finalMs: number;
  /** per restart: spawn until every channel was held by the new run (restarts killed before that are left out) */
  readonly takeoversMs: readonly number[];
}

interface Tally {
  readonly phases: Map<Phase, number>;
  readonly byTarget: Map<string, Map<Phase, number>>;
}

/**
 * One lane: an emulator process with its tables, tunnel and generator, and one job killed `kills`
 * times, then run until idle and checked. Lanes run side by side (the machine waits on the job's
 * startup more than it computes), each with its own seed and rotation of aims.
 */
async function lane(index: number, kills: number, tally: Tally): Promise<LaneResult> {
  const started = Date.now();
  return withEmulator(`kill-${index}`, (root) => ({ sinkDelayMs: 40, checkpointDir: join(root, 'checkpoint') }), async (emulator, root) => {
    const checkpoint = join(root, 'checkpoint');
    const watchers: FSWatcher[] = [];
    const draw = seededRandom(SEED + index);
    const sdk = sdkClient(emulator.endpoint);
    const generator = new OrderGenerator(() => sdk, { seed: SEED + index, rate: RATE, stepMs: 20, lateShare: 0.1 });
    let current: JobProcess | undefined;
    try {
      const tunnelId = await seedTables(emulator.endpoint);
      const admin = tunnelAdmin(emulator.endpoint);
      generator.start();

      // the job creates it itself; made first so its log can be watched from the first run on
      mkdirSync(checkpoint, { recursive: true });
      /** called with each entry appended to the log (offsets/N, commits/N) since the last call */
      let onEntry: ((kind: 'offsets' | 'commits', batchId: number) => void) | undefined;
      let entriesSeen = logEntries(checkpoint).length;
      watchers.push(
        watch(checkpoint, (_event, name) => {
          if (name !== CHECKPOINT_LOG) return;
          const entries = logEntries(checkpoint);
          // a compaction shortens the log: count from its end again
          if (entries.length < entriesSeen) entriesSeen = 0;
          for (const entry of entries.slice(entriesSeen)) onEntry?.(entry.kind, entry.batchId);
          entriesSeen = entries.length;
        }),
      );

      let replays = 0;
      let killedReplays = 0;
      const takeoversMs: number[] = [];
      let previousHolders = new Set<string>();
      for (let kill = 0; kill < kills; kill++) {
        const target: Target = TARGETS[(kill + index * 3) % TARGETS.length] as Target;
        const label = `lane ${index} kill ${kill}`;
        const before = listCheckpoint(checkpoint);
        if (before.plans.length > 0 && before.plans[before.plans.length - 1] === (before.commits[before.commits.length - 1] ?? -1) + 1) replays++;
        const job = startJob({ endpoint: emulator.endpoint, tunnelId, checkpoint, defaultHeartbeats: DEFAULT_HEARTBEATS });
        current = job;
        // the restart delay: until every channel is OPEN for a client that is not the killed run's
        const dead = previousHolders;
        let takenOver = false;
        const takeoverPoll = (async () => {
          while (job.child.exitCode === null && job.child.signalCode === null) {
            const described = await admin.describe('OrderSource', 'orders').catch(() => undefined);
            const owners = new Set((described?.channels ?? []).map((channel) => (channel.status === 'OPEN' ? (channel.clientId ?? '') : '')));
            if (described !== undefined && !owners.has('') && [...owners].every((owner) => !dead.has(owner))) {
              takenOver = true;
              takeoversMs.push(Date.now() - job.startedAt);
              previousHolders = owners;
              return;
            }
            await new Promise((resolve) => setTimeout(resolve, 50));
          }
        })();
        const pid = job.child.pid as number;
        let killedAt = 0;
        const killNow = (): void => {
          if (killedAt !== 0) return;
          killedAt = Date.now();
          job.child.kill('SIGKILL');
        };
        // the moment the job's pipeline started (it restores the checkpoint next): aims count from there
        let restoredAt = 0;
        const restoredPoll = setInterval(() => {
          if (restoredAt === 0 && restored(job.stderr())) restoredAt = Date.now();
        }, 5);
        const aimed = new Promise<void>((resolve) => {
          const fire = (): void => {
            killNow();
            resolve();
          };
          // aim at the first, second or third such moment of the run: the replayed batch, or later ones
          let skip = Math.floor(draw() * 3);
          const nth = (then: () => void) => (): void => {
            if (skip-- === 0) then();
          };
          // random: any moment from the pipeline's start on (startup itself is hit by the other aims' misses)
          if (target === 'random') {
            const delay = draw() * 1_000;
            const poll = setInterval(() => {
              if (restoredAt === 0) return;
              clearInterval(poll);
              setTimeout(fire, delay);
            }, 5);
            void job.exited.then(() => clearInterval(poll));
          }
          if (target === 'sink-write' || target === 'sink-written') {
            // only this job's own writes (the emulator may still finish one of the killed job's)
            const mine = new Set<number>();
            const hit = nth(fire);
            emulator.onSink = (event) => {
              if (event.phase === 'begin' && event.at >= job.startedAt) mine.add(event.id);
              if (mine.has(event.id) && event.phase === (target === 'sink-write' ? 'begin' : 'end')) hit();
            };
          }
          if (target === 'commit' || target === 'plan') {
            const kind = target === 'commit' ? 'commits' : 'offsets';
            // the entry is appended and being synced; a commit's sync takes a few ms, and its batch's
            // tunnel Checkpoint calls must not have landed before it is durable, so kill anywhere in those ms
            const hit = nth(() => (target === 'commit' ? setTimeout(fire, draw() * 4) : fire()));
            onEntry = (where) => {
              if (where === kind) hit();
            };
          }
          // commits/N appended by this run: right before its tunnel Checkpoint calls
          if (target === 'committed') {
            const known = new Set(before.commits);
            const hit = nth(fire);
            onEntry = (where, batchId) => {
              if (where === 'commits' && !known.has(batchId)) {
                known.add(batchId);
                hit();
              }
            };
          }
          // a phase that does not come round in time: kill wherever the job is
          setTimeout(fire, 8_000);
        });
        const ended = await Promise.race([aimed.then(() => 'killed' as const), job.exited.then(() => 'exited' as const)]);
        emulator.onSink = undefined;
        onEntry = undefined;
        clearInterval(restoredPoll);
        const exit = await job.exited;
        await takeoverPoll;
        if (!takenOver) {
          // killed before it held every channel: what it did hold is the next run's predecessor
          const described = await admin.describe('OrderSource', 'orders');
          previousHolders = new Set(described.channels.flatMap((channel) => (channel.status === 'OPEN' && channel.clientId !== undefined && channel.clientId !== '' ? [channel.clientId] : [])));
        }
        if (ended === 'exited' || exit.signal !== 'SIGKILL') throw new Error(`${label}: the job ended by itself (${exit.code ?? exit.signal}) instead of being killed:\n${job.stderr()}`);
        const acknowledged = await tunnelCounts(admin);
        const classified = classifyKill({ location: checkpoint, pid, startedAt: job.startedAt, killedAt, stderr: job.stderr(), sinkEvents: emulator.sinkEvents, generation: 1, acknowledged }, before);
        tally.phases.set(classified.phase, (tally.phases.get(classified.phase) ?? 0) + 1);
        const row = tally.byTarget.get(target) ?? new Map<Phase, number>();
        row.set(classified.phase, (row.get(classified.phase) ?? 0) + 1);
        tally.byTarget.set(target, row);
        if (classified.replay) killedReplays++;
        if (VERBOSE) console.log(`${label}: aimed ${target}, hit ${classified.phase}${classified.batchId === undefined ? '' : ` of batch ${classified.batchId}`}${classified.replay ? ' (replay)' : ''}, ${killedAt - job.startedAt} ms after spawn${restoredAt === 0 ? '' : `, ${killedAt - restoredAt} ms after the pipeline started`}`);
        expectNothingAcknowledgedPastTheCommit(acknowledged, checkpoint, `${label} (${classified.phase}${classified.batchId === undefined ? '' : ` of batch ${classified.batchId}`})`);
      }

      await generator.stop();
      const killsMs = Date.now() - started;
      const final = await runJobToEnd({ endpoint: emulator.endpoint, tunnelId, checkpoint, defaultHeartbeats: DEFAULT_HEARTBEATS }, 120_000);
      expect(final.code, final.stderr).toBe(0);
      admin.close();

      const orders = await readOrders(sdk);
      expect(orders.map((order) => order.orderId).sort()).toEqual(generator.written.map((order) => order.orderId).sort());
      const expected = directComputation(orders);
      await expectExact(sdk, expected, `lane ${index}`);
      const listing = listCheckpoint(checkpoint);
      return {
        orders: orders.length,
        outOfOrder: orders.filter((o, i) => i > 0 && o.timestamp < (orders[i - 1] as Order).timestamp).length,
        windows: expected.size,
        batches: (listing.commits.at(-1) ?? -1) + 1,
        replays,
        killedReplays,
        generatorRetries: generator.retries,
        killsMs,
        finalMs: final.ms,
        takeoversMs,
      };
    } finally {
      generator.abort();
      current?.child.kill('SIGKILL');
      for (const watcher of watchers) watcher.close();
    }
  });
}

describe('kill -9 of the seed job (otsflow sql -f examples/orders/job.sql)', () => {
  it(`after ${KILLS} SIGKILLs in every phase of the commit protocol and restarts from the checkpoint, OrderStreamSink equals the direct computation`, async () => {
    const started = Date.now();
    console.log(`kill -9 of the seed job: seed ${SEED} (RELIABILITY_SEED=${SEED} repeats the run's choices), ${LANES} lanes`);
    const tally: Tally = { phases: new Map(PHASES.map((phase) => [phase, 0])), byTarget: new Map() };
    // every lane runs to its end (and cleans up) before a failure of one is reported
    const settled = await Promise.allSettled(Array.from({ length: LANES }, (_, index) => lane(index, Math.floor(KILLS / LANES) + (index < KILLS % LANES ? 1 : 0), tally)));
    const failed = settled.find((result): result is PromiseRejectedResult => result.status === 'rejected');
    if (failed !== undefined) throw failed.reason;
    const lanes = settled.map((result) => (result as PromiseFulfilledResult<LaneResult>).value);
    const sum = (pick: (result: LaneResult) => number): number => lanes.reduce((total, result) => total + pick(result), 0);
    const { phases, byTarget } = tally;
    console.log(
      [
        `kill -9 of the seed job: ${KILLS} kills in ${LANES} lanes, ${sum((r) => r.orders)} orders (${sum((r) => r.outOfOrder)} out of event-time order) in ${sum((r) => r.windows)} windows, ${sum((r) => r.batches)} batches, exact, ${((Date.now() - started) / 1000).toFixed(1)} s (seed ${SEED})`,
        `  phases hit: ${[...phases].map(([phase, n]) => `${phase} ${n}`).join(', ')}`,
        `  by aim: ${[...byTarget].map(([target, row]) => `${target} → ${[...row].map(([phase, n]) => `${phase} ${n}`).join(' ')}`).join('; ')}`,
        `  kills took ${lanes.map((r) => (r.killsMs / 1000).toFixed(1)).join(' and ')} s, the final runs to idle ${lanes.map((r) => (r.finalMs / 1000).toFixed(1)).join(' and ')} s`,
        `  ${sum((r) => r.replays)} restarts replayed a planned batch, ${sum((r) => r.killedReplays)} kills interrupted such a replay; generator retries ${sum((r) => r.generatorRetries)}`,
        `  heartbeats ${DEFAULT_HEARTBEATS ? 'default (30 s / 300 s)' : '200 ms / 1 s'}: restart delays (spawn → every channel held) ${restartDelays(lanes.flatMap((r) => r.takeoversMs))}`,
      ].join('\n'),
    );
    const takeovers = lanes.flatMap((r) => r.takeoversMs);
    expect(takeovers.length, 'most restarts held their channels before being killed').toBeGreaterThanOrEqual(Math.floor(KILLS / 2));
    for (const ms of takeovers) expect(ms, 'a restart reads again within 10 s').toBeLessThan(RESTART_LIMIT_MS);
    // the kills must have hit the protocol, not only the idle time between batches
    const protocolPhases = (['plan', 'planned', 'sink-write', 'sink-written', 'commit', 'ack'] as const).filter((phase) => (phases.get(phase) ?? 0) > 0);
    expect(protocolPhases.length, `phases hit: ${[...phases]}`).toBeGreaterThanOrEqual(3);
    expect(sum((r) => r.replays)).toBeGreaterThan(0);
  }, 60_000 + KILLS * 12_000);
});

function restartDelays(ms: readonly number[]): string {
  if (ms.length === 0) return 'none measured';
  const sorted = [...ms].sort((a, b) => a - b);
  const at = (q: number): string => `${((sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] as number) / 1000).toFixed(1)} s`;
  return `median ${at(0.5)}, max ${at(1)} over ${ms.length} restarts`;
}

/** Per channel, the records the tunnel's checkpoint covers (the checkpoint token's count). */
async function tunnelCounts(admin: ReturnType<typeof tunnelAdmin>): Promise<Map<string, number>> {
  const described = await admin.describe('OrderSource', 'orders');
  return new Map(described.channels.map((channel) => [channel.channelId, Number(channel.count ?? 0n)]));
}

/** The tunnel's checkpoint of every channel is at or behind what the job's newest commit holds. */
function expectNothingAcknowledgedPastTheCommit(acknowledged: ReadonlyMap<string, number>, checkpoint: string, when: string): void {
  const committed = committedCounts(checkpoint);
  for (const [channelId, count] of acknowledged) {
    expect(count, `${when}: channel ${channelId} acknowledged ${count} records, the checkpoint holds ${committed.get(channelId) ?? 0}`).toBeLessThanOrEqual(committed.get(channelId) ?? 0);
  }
}
