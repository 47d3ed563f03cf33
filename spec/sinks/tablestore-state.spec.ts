/**
 * The job state table (checkpoint.table) against a real emulator through the official SDK:
 * claims bump a channel's epoch and fence the previous holder's plans and commits, and rebuild the
 * channel's aggregate groups from its partial rows as of its commit; partials only move forward
 * per channel and merge with a version that is the sum of their batch ids + 1, read from the table
 * or, for the channels a worker holds, from what it wrote; the job row lists every channel; windows
 * final for the job (every channel's watermark; in append mode the job watermark) are pruned and
 * floor every plan; merged sink rows are written only over a lower version.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { DEFAULT_CREDENTIALS, DEFAULT_INSTANCE_NAME, startEmulator, type RunningEmulator } from '../../lib/emulator/index.js';
import { FencedError, JobStateTable, SINK_VERSION_COLUMN } from '../../lib/sinks/tablestore-state.js';
import type { BatchCommit, BatchPlan } from '../../lib/stream/checkpoint/store.js';
import { VERSION_FIELD } from '../../lib/stream/merge-partials.js';
import { tempDir } from '../emulator/helpers.js';
import { sdkClient, TableStore, type Sdk } from '../emulator/sdk.js';

let emulator: RunningEmulator;
let data: { path: string; remove(): void };
let sdk: Sdk;
let jobs = 0;

beforeAll(async () => {
  data = tempDir('state-table');
  emulator = await startEmulator({ dataDir: data.path, port: 0 });
  sdk = sdkClient(emulator);
});

afterAll(async () => {
  await emulator.close();
  data.remove();
});

const table = (job = `job${++jobs}`): JobStateTable =>
  new JobStateTable({ endpoint: emulator.endpoint, instanceName: DEFAULT_INSTANCE_NAME, ...DEFAULT_CREDENTIALS, tableName: 'state', job });

const plan = (batchId: number, channel: string): BatchPlan => ({ batchId, watermark: null, holding: [channel], channels: { [channel]: { start: { position: `t${batchId}`, skip: 0 }, count: 10 } } });
const commit = (batchId: number, channel: string): BatchCommit => ({ batchId, offsets: { [channel]: { position: `t${batchId + 1}`, skip: 0 } }, watermark: null, state: { aggregate: { n: batchId } } });

describe('the job state table', () => {
  it('is created when missing, once, by whichever worker comes first', async () => {
    const [a, b] = [table('created'), table('created')];
    const outcomes = await Promise.all([a.ensure(), b.ensure()]);
    expect(outcomes).toContain('created');
    expect(await table('created').ensure()).toBe('exists');
  });

  it('a claim takes the channel with the next epoch and continues from its commit and pending plan; the previous holder is fenced', async () => {
    const job = `fence${++jobs}`;
    const first = table(job);
    await first.ensure();
    const a = await first.claim('ch', 'worker a');
    expect(a.epoch).toBe(1);
    expect(a.restored).toEqual({ commit: undefined, plan: undefined });
    const storeA = first.channelStore(a);
    await storeA.writePlan(plan(0, 'ch'));
    await storeA.writeCommit(commit(0, 'ch'));
    await storeA.writePlan(plan(1, 'ch'));

    // another worker (another process: another table object) takes the channel
    const second = table(job);
    const b = await second.claim('ch', 'worker b');
    expect(b.epoch).toBe(2);
    expect(b.restored.commit).toEqual(commit(0, 'ch'));
    expect(b.restored.plan).toEqual(plan(1, 'ch'));

    // the zombie's next writes are refused, and it learns why
    await expect(storeA.writeCommit(commit(1, 'ch'))).rejects.toBeInstanceOf(FencedError);
    await expect(storeA.writePlan(plan(2, 'ch'))).rejects.toThrow(/taken over by another worker|not held by this worker/);
    const storeB = second.channelStore(b);
    await storeB.writeCommit(commit(1, 'ch'));
    const [record] = await second.channels();
    expect(record).toMatchObject({ channelId: 'ch', epoch: 2, owner: 'worker b', committedBatch: 1 });
    // a third claim sees B's commit, and no plan (plan 1 is committed)
    const c = await table(job).claim('ch', 'worker c');
    expect(c.restored).toEqual({ commit: commit(1, 'ch'), plan: undefined });
  });

  it('partials move forward per channel; every merge sees each channel once, with the sum of batch ids as version (random writes, a zombie among them)', async () => {
    const job = `partials${++jobs}`;
    const state = table(job);
    await state.ensure();
    // a channel writes partials only once claimed (the merge reads the channels the table knows)
    for (const channel of ['a', 'b', 'c']) await state.claim(channel, `worker ${channel}`);
    const group = (n: number, s: number) => ({ start: 0, end: 30_000, keys: ['k'], num: [n, s], obj: [] });
    await fc.assert(
      fc.asyncProperty(fc.array(fc.record({ channel: fc.constantFrom('a', 'b', 'c'), batch: fc.nat(20), n: fc.nat(100) }), { minLength: 1, maxLength: 12 }), async (writes) => {
        const key = `g${++jobs}`;
        // per channel, the newest (highest batch) write is what must stay
        const newest = new Map<string, { batch: number; n: number }>();
        let last = { parts: [] as readonly (readonly { num: readonly number[] }[])[], versions: [] as readonly number[] };
        for (const write of writes) {
          const g = { ...group(write.n, write.n * 2), keys: [key] };
          last = await state.mergeGroups(write.channel, write.batch, [g]);
          const kept = newest.get(write.channel);
          // a rewrite of the same batch (a replay: the same values in the real job) lands too
          if (kept === undefined || write.batch >= kept.batch) newest.set(write.channel, { batch: write.batch, n: write.n });
        }
        const expectedVersion = [...newest.values()].reduce((sum, entry) => sum + entry.batch + 1, 0);
        expect(last.versions).toEqual([expectedVersion]);
        const counts = (last.parts[0] ?? []).map((part) => part.num[0] as number).sort((x, y) => x - y);
        expect(counts).toEqual([...newest.values()].map((entry) => entry.n).sort((x, y) => x - y));
      }),
      { numRuns: 15 },
    );
  });

  it('a claim rebuilds the aggregate groups of the commit from the channel\'s partial rows: as of the commit, whatever batch was written but not committed (random runs, crashes anywhere)', async () => {
    type Acc = { num: number[]; obj: unknown[] };
    const step = fc.record({ groups: fc.uniqueArray(fc.nat(5), { minLength: 1, maxLength: 4 }), crash: fc.constantFrom('none', 'none', 'after-plan', 'after-partials', 'after-commit') });
    await fc.assert(
      fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 8 }), fc.option(fc.nat(4), { nil: undefined }), async (steps, closeBelow) => {
        const job = `rebuild${++jobs}`;
        let worker = table(job);
        await worker.ensure();
        let claim = await worker.claim('ch', 'worker 0');
        let store = worker.channelStore(claim);
        // the model: per group, the accumulators after every batch
        let committed: Map<number, Acc> = new Map();
        let current: Map<number, Acc> = new Map();
        let batchId = 0;
        let workers = 0;
        // a batch planned but not committed is re-run with the same plan: the same groups
        let pending: readonly number[] | undefined;
        for (const next of steps) {
          const { crash } = next;
          const groups = pending ?? next.groups;
          pending = crash === 'after-plan' || crash === 'after-partials' ? groups : undefined;
          const changed = groups.map((g) => {
            const before = current.get(g) ?? { num: [0, 0], obj: [null] };
            const after = { num: [(before.num[0] as number) + 1, (before.num[1] as number) + g + batchId * 0.25], obj: [`b${batchId}`] };
            current.set(g, after);
            return { start: g * 10, end: g * 10 + 10, keys: [`k${g}`], ...after };
          });
          // a window below the watermark left the channel's state (its partial row stays)
          const watermark = closeBelow === undefined ? null : closeBelow * 10;
          const state = { aggregate: { sessions: false, seq: batchId, groups: [], partials: true } };
          await store.writePlan(plan(batchId, 'ch'));
          if (crash !== 'after-plan') {
            await worker.mergeGroups('ch', batchId, changed);
            if (crash !== 'after-partials') {
              await store.writeCommit({ ...commit(batchId, 'ch'), watermark, state });
              committed = new Map([...current].filter(([g]) => watermark === null || g * 10 + 10 > watermark));
              current = new Map([...current].filter(([g]) => watermark === null || g * 10 + 10 > watermark));
              batchId++;
            }
          }
          if (crash === 'none') continue;
          // the worker is lost: another one takes the channel and must see the groups as of the commit
          worker = table(job);
          claim = await worker.claim('ch', `worker ${++workers}`);
          store = worker.channelStore(claim);
          const restored = claim.restored.commit?.state['aggregate'] as { groups: { start: number; keys: string[]; num: number[]; obj: unknown[] }[]; seq: number } | undefined;
          const groupsOf = (restored?.groups ?? []).map((group) => [group.start / 10, { num: group.num, obj: group.obj }] as const).sort((a, b) => a[0] - b[0]);
          expect(groupsOf).toEqual([...committed].sort((a, b) => a[0] - b[0]));
          if (restored !== undefined) expect(restored.seq).toBe(batchId - 1);
          // it re-runs the pending batch (if any) from there: the model goes back to the commit
          current = new Map(committed);
        }
      }),
      { numRuns: 12 },
    );
  });

  it('windows below every channel\'s watermark become final once a batch that saw it commits: their partial rows go, the final mark floors every plan, and a late partial of them is neither written nor merged', async () => {
    const job = `final${++jobs}`;
    const state = table(job);
    await state.ensure();
    const [a, b] = [await state.claim('a', 'worker a'), await state.claim('b', 'worker b')];
    const [storeA, storeB] = [state.channelStore(a), state.channelStore(b)];
    const group = (end: number, n: number) => ({ start: end - 10, end, keys: [], num: [n], obj: [] });
    const batch = async (store: typeof storeA, channel: string, id: number, watermark: number, groups: ReturnType<typeof group>[]) => {
      await store.writePlan({ ...plan(id, channel), watermark: null });
      const merged = await state.mergeGroups(channel, id, groups, { watermark, idle: false });
      await store.writeCommit({ ...commit(id, channel), watermark, state: {} });
      return merged;
    };
    await batch(storeA, 'a', 0, 50, [group(10, 1), group(100, 2)]);
    // b has not committed a watermark yet: nothing is final
    expect(storeA.watermarkFloor?.()).toBe(Number.NEGATIVE_INFINITY);
    // b's batch sees a's committed 50 and its own 60 after the batch: the window ending at 10 is final
    const first = await batch(storeB, 'b', 0, 60, [group(10, 3), group(100, 4)]);
    expect(first.parts.map((parts) => parts.map((part) => part.num[0]).sort())).toEqual([[1, 3], [2, 4]]);
    expect(storeA.watermarkFloor?.()).toBe(50);
    // a's next batch (70 after it) sees b's 60: the least
    const merged = await batch(storeA, 'a', 1, 70, [group(100, 5)]);
    expect(merged.parts[0]?.map((part) => part.num[0]).sort()).toEqual([4, 5]);
    expect(storeA.watermarkFloor?.()).toBe(60);
    const keys = async (): Promise<string[]> => {
      const data: Sdk = await new Promise((resolve, reject) =>
        sdk.getRange(
          { tableName: 'state', direction: TableStore.Direction.FORWARD, inclusiveStartPrimaryKey: [{ job }, { k: 'p:' }, { c: TableStore.INF_MIN }], exclusiveEndPrimaryKey: [{ job }, { k: 'p;' }, { c: TableStore.INF_MIN }], limit: 100 },
          (error: unknown, result: Sdk) => (error ? reject(error) : resolve(result)),
        ),
      );
      return (data.rows as Sdk[]).map((row) => `${String(row.primaryKey[1].value)} ${String(row.primaryKey[2].value)}`);
    };
    expect(await keys()).toEqual(['p:[90,100,[]] a', 'p:[90,100,[]] b']);
    // another worker learns the final mark when it claims: a plan of b made before it knew is late
    const other = table(job);
    const b2 = await other.claim('b', 'worker b2');
    expect(other.channelStore(b2).watermarkFloor?.()).toBe(60);
    const late = await other.mergeGroups('b', 1, [group(10, 9), group(100, 6)], { watermark: 60, idle: false });
    expect(late.parts[0]).toEqual([]);
    expect(late.parts[1]?.map((part) => part.num[0]).sort()).toEqual([5, 6]);
    expect(await keys()).toEqual(['p:[90,100,[]] a', 'p:[90,100,[]] b']);
  });

  it('a merge sees the partials of a channel claimed by another worker after its own first read (the job row lists every channel)', async () => {
    const job = `listed${++jobs}`;
    const [x, y] = [table(job), table(job)];
    await x.ensure();
    await x.claim('a', 'worker x');
    const g = (n: number) => ({ start: 0, end: 30_000, keys: ['g'], num: [n], obj: [] });
    expect((await x.mergeGroups('a', 0, [g(1)])).parts[0]?.map((part) => part.num[0])).toEqual([1]);
    await y.claim('b', 'worker y');
    const fromY = await y.mergeGroups('b', 0, [g(2)]);
    expect(fromY.parts[0]?.map((part) => part.num[0]).sort()).toEqual([1, 2]);
    // x knew only channel a: it learns b from the job row's list and reads b's partial too
    const fromX = await x.mergeGroups('a', 1, [g(3)]);
    expect(fromX.parts[0]?.map((part) => part.num[0]).sort()).toEqual([2, 3]);
    expect(fromX.versions).toEqual([2 + 1]);
    // and a third channel, claimed by x itself
    await x.claim('c', 'worker x');
    expect((await x.mergeGroups('c', 0, [g(4)])).parts[0]?.map((part) => part.num[0]).sort()).toEqual([2, 3, 4]);
  });

  it('append: a window is final once the job watermark passes it (the least of the channels not caught up, the greatest when all are), and any worker emits it, though none of its own channels saw it', async () => {
    const job = `append${++jobs}`;
    const [x, y] = [table(job), table(job)];
    await x.ensure();
    const [a, b] = [await x.claim('a', 'worker x'), await y.claim('b', 'worker y')];
    const [storeA, storeB] = [x.channelStore(a), y.channelStore(b)];
    const group = (end: number, n: number) => ({ start: end - 10, end, keys: [], num: [n], obj: [] });
    // b (on worker y) saw the window ending at 10; its watermark is 40 after its batch
    await storeB.writePlan(plan(0, 'b'));
    expect((await y.finalGroups('b', 0, [group(10, 7)], { watermark: 40, idle: false })).parts).toEqual([]);
    await storeB.writeCommit({ ...commit(0, 'b'), watermark: 40, state: {} });
    // a (on worker x) has seen nothing of it; a's watermark 5 holds the job back
    await storeA.writePlan(plan(0, 'a'));
    expect((await x.finalGroups('a', 0, [group(30, 1)], { watermark: 5, idle: false })).parts).toEqual([]);
    await storeA.writeCommit({ ...commit(0, 'a'), watermark: 5, state: {} });
    // a moves to 20: the job watermark is min(20, 40) = 20, the window ending at 10 is final
    await storeA.writePlan(plan(1, 'a'));
    const final = await x.finalGroups('a', 1, [], { watermark: 20, idle: false });
    expect(final.parts.map((parts) => parts.map((part) => [part.end, part.num[0]]))).toEqual([[[10, 7]]]);
    expect(final.versions).toEqual([1]);
    await storeA.writeCommit({ ...commit(1, 'a'), watermark: 20, state: {} });
    expect(storeA.watermarkFloor?.()).toBe(20);
    // a caught up (idle) at 20: b's 40 alone holds the job watermark; the window ending at 30 is final
    await storeA.writePlan({ ...plan(2, 'a'), holding: [] });
    expect((await x.finalGroups('a', 2, [], { watermark: 20, idle: true })).parts.map((parts) => parts[0]?.end)).toEqual([30]);
    await storeA.writeCommit({ ...commit(2, 'a'), watermark: 20, state: {} });
    // the final mark is 40 now: a second emission of the window ending at 30 finds it final already
    await storeB.writePlan(plan(1, 'b'));
    expect((await y.finalGroups('b', 1, [], { watermark: 40, idle: false })).parts).toEqual([]);
  });

  it('a merge takes the partials of the other channels its worker holds from what it wrote, and from the table once one of them was taken over', async () => {
    const job = `held${++jobs}`;
    const x = table(job);
    await x.ensure();
    await x.claim('a', 'worker x');
    await x.claim('b', 'worker x');
    const g = (n: number) => ({ start: 0, end: 30_000, keys: ['g'], num: [n], obj: [] });
    await x.mergeGroups('b', 0, [g(1)]);
    const both = await x.mergeGroups('a', 0, [g(2)]);
    expect(both.parts[0]?.map((part) => part.num[0]).sort()).toEqual([1, 2]);
    expect(both.versions).toEqual([2]);
    // another worker takes b and writes its next batch: x's merge must see it, from the table
    const y = table(job);
    await y.claim('b', 'worker y');
    await y.mergeGroups('b', 1, [g(5)]);
    const after = await x.mergeGroups('a', 1, [g(3)]);
    expect(after.parts[0]?.map((part) => part.num[0]).sort()).toEqual([3, 5]);
    expect(after.versions).toEqual([2 + 2]);
  });

  it('append: a channel caught up as planned holds the job watermark until that batch is committed (its rows may still reach a window)', async () => {
    const job = `finishing${++jobs}`;
    const [x, y] = [table(job), table(job)];
    await x.ensure();
    const [a, b] = [await x.claim('a', 'worker x'), await y.claim('b', 'worker y')];
    const [storeA, storeB] = [x.channelStore(a), y.channelStore(b)];
    const group = (end: number, n: number) => ({ start: end - 10, end, keys: [], num: [n], obj: [] });
    await storeA.writePlan(plan(0, 'a'));
    await x.finalGroups('a', 0, [group(30, 1)], { watermark: 50, idle: false });
    await storeA.writeCommit({ ...commit(0, 'a'), watermark: 50, state: {} });
    await storeB.writePlan(plan(0, 'b'));
    await y.finalGroups('b', 0, [], { watermark: 10, idle: false });
    await storeB.writeCommit({ ...commit(0, 'b'), watermark: 10, state: {} });
    // b's last batch is planned caught up (its rows of the window ending at 30 not written yet)
    await storeB.writePlan({ ...plan(1, 'b'), holding: [] });
    // a (caught up too, a smaller id) waits for b's batch, then sees it still holding at 10
    const started = Date.now();
    await storeA.writePlan({ ...plan(1, 'a'), holding: [] });
    expect((await x.finalGroups('a', 1, [], { watermark: 50, idle: true })).parts).toEqual([]);
    expect(Date.now() - started).toBeGreaterThanOrEqual(1_900);
    await storeA.writeCommit({ ...commit(1, 'a'), watermark: 50, state: {} });
    // b's batch writes its rows and, every channel caught up, emits the window with them
    const final = await y.finalGroups('b', 1, [group(30, 4)], { watermark: 25, idle: true });
    expect(final.parts.map((parts) => parts.map((part) => part.num[0]).sort())).toEqual([[1, 4]]);
  });

  it('a merged sink row is written only over a lower version', async () => {
    const state = table();
    await state.ensure();
    await new Promise<void>((resolve, reject) =>
      sdk.createTable(
        { tableMeta: { tableName: 'Sink', primaryKey: [{ name: 'begin', type: 'STRING' }] }, reservedThroughput: { capacityUnit: { read: 0, write: 0 } }, tableOptions: { timeToLive: -1, maxVersions: 1 } },
        (error: unknown) => (error ? reject(error) : resolve()),
      ),
    );
    const sink = state.sink({ tableName: 'Sink', primaryKey: ['begin'], longColumns: new Set(['count']) });
    const row = (count: number, version: number) => ({ begin: 'w1', count, total: count * 1.25, [VERSION_FIELD]: version });
    const read = async (): Promise<Record<string, unknown>> => {
      const data: Sdk = await new Promise((resolve, reject) => sdk.getRow({ tableName: 'Sink', primaryKey: [{ begin: 'w1' }], maxVersions: 1 }, (error: unknown, result: Sdk) => (error ? reject(error) : resolve(result))));
      return Object.fromEntries((data.row.attributes as Sdk[]).map((cell) => [cell.columnName, typeof cell.columnValue === 'object' ? Number(cell.columnValue.toNumber()) : cell.columnValue]));
    };
    await sink.write([row(5, 5)], { batchId: 0 });
    expect(await read()).toEqual({ count: 5, total: 6.25, [SINK_VERSION_COLUMN]: 5 });
    await sink.write([row(3, 3)], { batchId: 1 });
    await sink.write([row(4, 5)], { batchId: 1 });
    expect(await read()).toEqual({ count: 5, total: 6.25, [SINK_VERSION_COLUMN]: 5 });
    expect(sink.stale()).toBe(2);
    await sink.write([row(9, 7)], { batchId: 2 });
    expect(await read()).toEqual({ count: 9, total: 11.25, [SINK_VERSION_COLUMN]: 7 });

    // two channels' first batches (batch 0 each): the merge that saw both must win over the one that saw one
    const g = { start: 0, end: 30_000, keys: ['first-batches'] };
    await state.claim('a', 'worker a');
    await state.claim('b', 'worker b');
    const alone = await state.mergeGroups('a', 0, [{ ...g, num: [2], obj: [] }]);
    const both = await state.mergeGroups('b', 0, [{ ...g, num: [3], obj: [] }]);
    const merged = (parts: typeof both, at: number) => ({ begin: 'w2', count: (parts.parts[0] ?? []).reduce((n, part) => n + (part.num[0] as number), 0), total: 0, [VERSION_FIELD]: parts.versions[at] as number });
    expect(both.versions[0]).toBeGreaterThan(alone.versions[0] as number);
    await sink.write([merged(alone, 0)], { batchId: 0 });
    await sink.write([merged(both, 0)], { batchId: 0 });
    const data: Sdk = await new Promise((resolve, reject) => sdk.getRow({ tableName: 'Sink', primaryKey: [{ begin: 'w2' }], maxVersions: 1 }, (error: unknown, result: Sdk) => (error ? reject(error) : resolve(result))));
    expect(Number((data.row.attributes as Sdk[]).find((cell) => cell.columnName === 'count').columnValue.toNumber())).toBe(5);
    void TableStore;
  });
});
