import { spawn } from 'node:child_process';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as E from 'fp-ts/lib/Either.js';
import fc from 'fast-check';
import { firstValueFrom, from, lastValueFrom, map, toArray } from 'rxjs';
import { afterEach, describe, expect, it } from 'vitest';
import type { OutputBatch } from '../../lib/stream/batch.js';
import { decodeState, encodeState } from '../../lib/stream/checkpoint/state-codec.js';
import { CHECKPOINT_LOG, checkpointLogLine, fileCheckpointStore, parseCheckpointLog } from '../../lib/stream/checkpoint/file-store.js';
import { memoryCheckpointStore } from '../../lib/stream/checkpoint/memory-store.js';
import type { BatchCommit, BatchPlan, CheckpointStore, RestoredCheckpoint } from '../../lib/stream/checkpoint/store.js';
import { commitAfter } from '../../lib/stream/commit-after.js';
import { SourceContractError, microBatch } from '../../lib/stream/micro-batch.js';
import { StreamMetrics } from '../../lib/stream/metrics.js';
import type { Sink } from '../../lib/stream/sink.js';
import { memorySource, replayable, type ReplayableObservable, type SourceBatch } from '../../lib/stream/source.js';
import type { OutputRow } from '../../lib/stream/table.js';
import { memorySink } from '../../lib/sinks/memory-sink.js';
import { testScheduler } from './helpers.js';
import { chunked, expectedSink, lockstepScenario, ordersPipeline, scenarioArbitrary, slowSink, sortRows, toRecord, type WindowChoice } from './pipeline.js';

const loaded = async (store: CheckpointStore): Promise<RestoredCheckpoint> => {
  const result = await firstValueFrom(from(store.load()));
  if (E.isLeft(result)) throw result.left;
  return result.right;
};

const temporaryDirectories: string[] = [];
const temporaryDirectory = async (): Promise<string> => {
  const directory = await fs.mkdtemp(path.join(os.tmpdir(), 'otsflow-cp-'));
  temporaryDirectories.push(directory);
  return directory;
};
afterEach(async () => {
  for (const directory of temporaryDirectories.splice(0)) {
    await fs.chmod(directory, 0o700).catch(() => undefined);
    await fs.rm(directory, { recursive: true, force: true });
  }
});

const plan = (batchId: number): BatchPlan => ({ batchId, watermark: null, channels: { a: { start: { position: batchId, skip: 0 }, count: 1 } } });
const commit = (batchId: number): BatchCommit => ({ batchId, offsets: { a: { position: batchId + 1, skip: 0 } }, watermark: 5, state: { aggregate: { n: batchId } } });

describe('state codec', () => {
  const leaf = fc.oneof(
    fc.string(),
    fc.double(),
    fc.constantFrom(-0, Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, undefined, null),
    fc.bigInt(),
    fc.boolean(),
    fc.uint8Array({ maxLength: 4 }),
  );
  const { value } = fc.letrec<{ value: unknown }>((tie) => ({
    value: fc.oneof(
      { depthSize: 'small', withCrossShrink: true },
      leaf,
      fc.array(tie('value'), { maxLength: 3 }),
      fc.dictionary(fc.oneof(fc.string({ maxLength: 4 }), fc.constantFrom('$bigint', '$map', '$$x', '__proto__')), tie('value'), { maxKeys: 3, noNullPrototype: true }),
      fc.array(fc.tuple(leaf, tie('value')), { maxLength: 3 }).map((entries) => new Map(entries)),
      fc.array(leaf, { maxLength: 3 }).map((items) => new Set(items)),
    ),
  }));

  it('round-trips bigint, Map, Set, bytes, NaN, ±Infinity, -0, undefined and $-keys through JSON text', () => {
    fc.assert(
      fc.property(value, (original) => {
        expect(decodeState(JSON.parse(JSON.stringify(encodeState(original))))).toStrictEqual(original);
      }),
      { numRuns: 300 },
    );
  });

  it('refuses what it cannot restore faithfully', () => {
    expect(() => encodeState(new Date(0))).toThrow(/Date/);
    expect(() => encodeState({ run: () => 1 })).toThrow(/function/);
  });
});

describe('fileCheckpointStore', () => {
  /** the entries of the location's log, as names (offsets/N, commits/N), read with the log parser */
  const entries = async (location: string): Promise<string[]> => parseCheckpointLog(await fs.readFile(path.join(location, CHECKPOINT_LOG))).entries.map((e) => `${e.kind}/${e.batchId}`);

  it('starts fresh when the directory is missing, then finds the pending plan and the last commit', async () => {
    const location = path.join(await temporaryDirectory(), 'job1');
    const store = fileCheckpointStore(location);
    expect(await loaded(store)).toEqual({ commit: undefined, plan: undefined });
    await store.writePlan(plan(0));
    expect(await loaded(store)).toEqual({ commit: undefined, plan: plan(0) });
    await store.writeCommit(commit(0));
    expect(await loaded(fileCheckpointStore(location))).toEqual({ commit: commit(0), plan: undefined });
    await store.writePlan(plan(1));
    expect(await loaded(fileCheckpointStore(location))).toEqual({ commit: commit(0), plan: plan(1) });
    // one log, one line per entry, nothing else
    expect(await fs.readdir(location)).toEqual([CHECKPOINT_LOG]);
    expect(await entries(location)).toEqual(['offsets/0', 'commits/0', 'offsets/1']);
  });

  it('compacts the log to the last `retain` commits and the plans after them, and leaves no temp files', async () => {
    const location = await temporaryDirectory();
    const store = fileCheckpointStore(location, { retain: 2 });
    for (let id = 0; id < 130; id++) {
      await store.writePlan(plan(id));
      await store.writeCommit(commit(id));
    }
    await store.writePlan(plan(130));
    const names = await entries(location);
    const commits = names.filter((name) => name.startsWith('commits/')).map((name) => Number(name.slice('commits/'.length)));
    // compacted at least once (130 commits written), never below `retain`, and the newest ones in order
    expect(commits.length).toBeGreaterThanOrEqual(2);
    expect(commits.length).toBeLessThan(130);
    expect(commits).toEqual(Array.from({ length: commits.length }, (_, i) => 130 - commits.length + i));
    expect(names.at(-1)).toBe('offsets/130');
    expect(await fs.readdir(location)).toEqual([CHECKPOINT_LOG]);
    expect(await loaded(fileCheckpointStore(location))).toEqual({ commit: commit(129), plan: plan(130) });
  });

  it('cuts off a damaged last line (an append a crash cut short) and appends after the intact ones', async () => {
    const location = await temporaryDirectory();
    const store = fileCheckpointStore(location);
    await store.writePlan(plan(0));
    await store.writeCommit(commit(0));
    const intact = await fs.readFile(path.join(location, CHECKPOINT_LOG));
    const line = checkpointLogLine('offsets', 1, JSON.stringify(plan(1)));
    for (const cut of [1, 10, line.length - 1]) {
      await fs.writeFile(path.join(location, CHECKPOINT_LOG), Buffer.concat([intact, Buffer.from(line.slice(0, cut))]));
      const reopened = fileCheckpointStore(location);
      expect(await loaded(reopened)).toEqual({ commit: commit(0), plan: undefined });
      expect((await fs.readFile(path.join(location, CHECKPOINT_LOG))).equals(intact)).toBe(true);
      await reopened.writePlan(plan(1));
      expect(await loaded(fileCheckpointStore(location))).toEqual({ commit: commit(0), plan: plan(1) });
      await fs.writeFile(path.join(location, CHECKPOINT_LOG), intact);
    }
    // a whole line whose checksum does not match, at the end: cut off as well
    await fs.writeFile(path.join(location, CHECKPOINT_LOG), Buffer.concat([intact, Buffer.from(line.replace('"batchId":1', '"batchId":2'))]));
    expect(await loaded(fileCheckpointStore(location))).toEqual({ commit: commit(0), plan: undefined });
  });

  it('removes the temp files of killed processes on load, and leaves those of live ones', async () => {
    const location = await temporaryDirectory();
    const store = fileCheckpointStore(location);
    await store.writePlan(plan(0));
    await store.writeCommit(commit(0));
    await store.writePlan(plan(1));
    // a process that is gone (spawned and reaped) and one that is alive (this one's parent)
    const gone = await new Promise<number>((resolve, reject) => {
      const child = spawn(process.execPath, ['-e', '']);
      child.once('error', reject);
      child.once('exit', () => resolve(child.pid!));
    });
    const live = process.ppid;
    await fs.writeFile(path.join(location, `.${CHECKPOINT_LOG}.${gone}.tmp`), 'offsets/0 half');
    await fs.writeFile(path.join(location, `.${CHECKPOINT_LOG}.${live}.tmp`), 'in progress');
    expect(await loaded(fileCheckpointStore(location))).toEqual({ commit: commit(0), plan: plan(1) });
    expect((await fs.readdir(location)).sort()).toEqual([`.${CHECKPOINT_LOG}.${live}.tmp`, CHECKPOINT_LOG].sort());
  });

  it('reports a damaged log with the entry and the path of every problem', async () => {
    const location = await temporaryDirectory();
    const store = fileCheckpointStore(location);
    await store.writeCommit(commit(0));
    const intact = await fs.readFile(path.join(location, CHECKPOINT_LOG));
    const withLine = (line: string) => fs.writeFile(path.join(location, CHECKPOINT_LOG), Buffer.concat([intact, Buffer.from(line)]));
    await withLine(checkpointLogLine('commits', 1, '{"batchId": 1, "offsets": {"a": {"position": 1, "skip": -1}}, "watermark": "x", "state": {}}'));
    const damaged = await firstValueFrom(from(store.load()));
    expect(E.isLeft(damaged) && damaged.left.message).toBe(
      `checkpoint ${location}: commits/1: offsets.a.skip: expected non-negative integer, got -1; watermark: expected (number | null), got "x"`,
    );
    await withLine(checkpointLogLine('commits', 1, '{"batchId": 1,'));
    const truncated = await firstValueFrom(from(store.load()));
    expect(E.isLeft(truncated) && truncated.left.message).toMatch(/commits\/1: not JSON/);
    // a damaged line with intact ones after it: no crash leaves that
    await withLine(`commits/1 00000000 {}\n${checkpointLogLine('offsets', 1, JSON.stringify(plan(1)))}`);
    const inconsistent = await firstValueFrom(from(store.load()));
    expect(E.isLeft(inconsistent) && inconsistent.left.message).toBe(`checkpoint ${location}: ${CHECKPOINT_LOG} line 2 is damaged and intact entries follow it; the log is inconsistent`);
    await withLine(checkpointLogLine('offsets', 2, JSON.stringify(plan(2))));
    const stray = await firstValueFrom(from(store.load()));
    expect(E.isLeft(stray) && stray.left.message).toMatch(/offsets\/2 is ahead of the last commit \(0\)/);
  });

  it('reads a location written with a file per entry (offsets/N, commits/N) and carries it into a log', async () => {
    const location = await temporaryDirectory();
    await fs.mkdir(path.join(location, 'offsets'));
    await fs.mkdir(path.join(location, 'commits'));
    for (const id of [3, 4]) {
      await fs.writeFile(path.join(location, 'offsets', String(id)), `${JSON.stringify(plan(id))}\n`);
      await fs.writeFile(path.join(location, 'commits', String(id)), `${JSON.stringify(commit(id))}\n`);
    }
    await fs.writeFile(path.join(location, 'offsets', '5'), `${JSON.stringify(plan(5))}\n`);
    expect(await loaded(fileCheckpointStore(location))).toEqual({ commit: commit(4), plan: plan(5) });
    expect(await entries(location)).toEqual(['commits/4', 'offsets/5']);
    const store = fileCheckpointStore(location);
    expect(await loaded(store)).toEqual({ commit: commit(4), plan: plan(5) });
    await store.writeCommit(commit(5));
    expect(await loaded(fileCheckpointStore(location))).toEqual({ commit: commit(5), plan: undefined });
  });

  it('fails with a CheckpointError naming the file when the location cannot be written', async () => {
    const parent = await temporaryDirectory();
    const blocker = path.join(parent, 'a-file');
    await fs.writeFile(blocker, 'not a directory');
    await expect(fileCheckpointStore(path.join(blocker, 'job')).writePlan(plan(0))).rejects.toThrow(/cannot persist offsets\/0 .*; nothing was acknowledged$/);
    if (process.getuid?.() !== 0) {
      const readOnly = path.join(parent, 'read-only');
      await fs.mkdir(readOnly, { mode: 0o500 });
      await expect(fileCheckpointStore(readOnly).writePlan(plan(0))).rejects.toThrow(/not writable/);
    }
  });
});

/** Output batches of `n` as rows, from a memory source through microBatch with a checkpoint. */
function countingPipeline(source: ReplayableObservable<number>, store: CheckpointStore, sink: Sink, options: { maxRecords?: number } = {}) {
  return source.pipe(
    microBatch<number>({ interval: 1, maxRecords: options.maxRecords, checkpoint: store }),
    map((batch): OutputBatch => ({ ...batch, rows: batch.rows.map((n): OutputRow => ({ n, batch: batch.id })) })),
    commitAfter(sink, { retry: { maxAttempts: 1 } }),
  );
}

describe('the commit protocol', () => {
  it('persists each plan before its batch runs, the commit after its output is written, and acknowledges last', async () => {
    const trace: string[] = [];
    const store = memoryCheckpointStore();
    const traced: CheckpointStore = {
      location: 'traced',
      load: () => store.load(),
      writePlan: (p) => {
        trace.push(`plan ${p.batchId}`);
        return store.writePlan(p);
      },
      writeCommit: (c) => {
        trace.push(`commit ${c.batchId}`);
        return store.writeCommit(c);
      },
    };
    const sink: Sink = {
      write: (_rows, { batchId }) => {
        trace.push(`write ${batchId}`);
        return Promise.resolve();
      },
    };
    const inner = memorySource({ a: [[1, 2], [3]], b: [[4]] });
    const source = replayable({
      open: (start) =>
        inner.open(start).pipe(
          map((batch) => ({
            ...batch,
            ack: () => {
              trace.push(`ack ${batch.channelId}@${String(batch.next)}`);
              return batch.ack();
            },
          })),
        ),
    });
    const results = await lastValueFrom(countingPipeline(source, traced, sink, { maxRecords: 2 }).pipe(toArray()));
    // batch 1 may be planned as soon as batch 0 is committed; acknowledgements wait for their commit
    expect(trace).toEqual(['plan 0', 'write 0', 'commit 0', 'plan 1', 'ack a@2', 'write 1', 'commit 1', 'ack a@3', 'ack b@1']);
    expect(results.map((r) => r.batchId)).toEqual([0, 1]);
    expect(inner.acks.map((ack) => `${ack.channelId}@${String(ack.next)}`)).toEqual(['a@2', 'a@3', 'b@1']);
    expect(store.commits().map((c) => c.offsets)).toEqual([
      { a: { position: 2, skip: 0 } },
      { a: { position: 3, skip: 0 }, b: { position: 1, skip: 0 } },
    ]);
  });

  it('stops before processing a batch whose plan cannot be persisted, and before acknowledging one whose commit cannot', async () => {
    const planFails = memoryCheckpointStore();
    planFails.failNext('plan', Object.assign(new Error('ENOSPC: no space left on device'), { code: 'ENOSPC' }));
    const sink = memorySink();
    const first = memorySource({ a: [[1]] });
    await expect(lastValueFrom(countingPipeline(first, planFails, sink))).rejects.toThrow(/cannot persist offsets\/0 \(ENOSPC/);
    expect(sink.writes).toEqual([]);
    expect(first.acks).toEqual([]);

    const commitFails = memoryCheckpointStore();
    commitFails.failNext('commit', new Error('EACCES: permission denied'));
    const second = memorySource({ a: [[1]] });
    await expect(lastValueFrom(countingPipeline(second, commitFails, sink))).rejects.toThrow(/cannot persist commits\/0/);
    expect(sink.rows()).toEqual([{ n: 1, batch: 0 }]);
    expect(second.acks).toEqual([]);

    // the restart re-runs the planned batch 0 and ends committed
    const restarted = memorySource({ a: [[1]] });
    await lastValueFrom(countingPipeline(restarted, commitFails, sink));
    expect(commitFails.commits().map((c) => c.batchId)).toEqual([0]);
    expect(restarted.acks.map((ack) => ack.next)).toEqual([1]);
  });

  it('re-runs a planned batch exactly — same records from the same cursors, same id, the recorded watermark — then goes on', async () => {
    const store = memoryCheckpointStore();
    await firstValueFrom(from(store.writeCommit({ batchId: 6, offsets: { a: { position: 2, skip: 1 } }, watermark: 40, state: {} })), { defaultValue: undefined });
    await firstValueFrom(from(store.writePlan({ batchId: 7, watermark: 40, channels: { a: { start: { position: 2, skip: 1 }, count: 3 } } })), { defaultValue: undefined });
    const source = memorySource({ a: [[0, 1], [2, 3, 4], [5, 6]] });
    const metrics = new StreamMetrics();
    const batches = await lastValueFrom(
      source.pipe(
        microBatch<number>({ interval: 1, checkpoint: store, metrics }),
        map((batch): OutputBatch => ({ ...batch, rows: [{ ids: batch.rows.join(','), id: batch.id, replay: batch.replay, planned: batch.plannedWatermark ?? null }] })),
        commitAfter(memorySink()),
        toArray(),
      ),
    );
    expect(source.opens).toEqual([{ a: 2 }]);
    expect(batches.map((b) => [b.batchId, b.replay, b.offsets['a']?.start, b.offsets['a']?.end])).toEqual([
      [7, true, { position: 2, skip: 1 }, { position: 5, skip: 1 }],
      [8, false, { position: 5, skip: 1 }, { position: 7, skip: 0 }],
    ]);
    expect(store.commits().map((c) => c.batchId)).toContain(8);
    expect(metrics.snapshot()).toMatchObject({ restoredFrom: 6, batchesReplayed: 1 });
  });

  it('skips what a restored cursor already consumed even when the re-read chunks the records differently', async () => {
    const store = memoryCheckpointStore();
    await firstValueFrom(from(store.writeCommit({ batchId: 0, offsets: { a: { position: 0, skip: 3 } }, watermark: null, state: {} })), { defaultValue: undefined });
    const rechunked = memorySource({ a: [[1, 2], [3, 4, 5]] });
    const sink = memorySink();
    const results = await lastValueFrom(countingPipeline(rechunked, store, sink).pipe(toArray()));
    expect(sink.rows()).toEqual([
      { n: 4, batch: 1 },
      { n: 5, batch: 1 },
    ]);
    expect(results.map((r) => r.offsets)).toEqual([{ a: { start: { position: 0, skip: 2 }, count: 2, end: { position: 5, skip: 0 } } }]);
    expect(rechunked.acks.map((ack) => ack.next)).toEqual([2, 5]);
  });

  it('fails clearly when the source cannot deliver what a plan recorded', async () => {
    const store = memoryCheckpointStore();
    await firstValueFrom(from(store.writePlan({ batchId: 0, watermark: null, channels: { a: { start: { position: 0, skip: 0 }, count: 5 } } })), { defaultValue: undefined });
    await expect(lastValueFrom(countingPipeline(memorySource({ a: [[1, 2]] }), store, memorySink()))).rejects.toThrow(SourceContractError);
    await expect(lastValueFrom(countingPipeline(memorySource({ a: [[1, 2]] }), store, memorySink()))).rejects.toThrow(/completed before delivering the 5 records of channel 'a' recorded for batch 0/);
  });

  it('refuses a checkpoint on a source that cannot replay', async () => {
    const plain = from([] as SourceBatch<number>[]);
    await expect(lastValueFrom(plain.pipe(microBatch<number>({ interval: 1, checkpoint: memoryCheckpointStore() })))).rejects.toThrow(/replayable source/);
  });
});

describe('restart after a crash at any moment', () => {
  it('ends with the sink equal to the direct computation, however often and wherever the job was killed', () => {
    let replayed = 0;
    let restoredMidway = 0;
    fc.assert(
      fc.property(
        scenarioArbitrary,
        fc.oneof(
          fc.integer({ min: 1, max: 6 }).map((n): WindowChoice => ({ kind: 'tumbling', size: n * 1000 })),
          fc.integer({ min: 1, max: 3 }).map((n): WindowChoice => ({ kind: 'hopping', size: n * 2000, slide: 1000 })),
        ),
        fc.constantFrom('update' as const, 'append' as const),
        fc.boolean(),
        fc.option(fc.integer({ min: 1, max: 10 }), { nil: undefined }),
        fc.array(fc.integer({ min: 1, max: 160 }), { minLength: 1, maxLength: 4 }),
        (input, window, mode, byUser, maxRecords, crashes) => {
          const scenario = lockstepScenario(input);
          const scheduler = testScheduler();
          const store = memoryCheckpointStore('memory', { delay: 1, scheduler });
          const durable = memorySink({ keyColumns: ['window', 'UserId'] });
          const metrics = new StreamMetrics();
          const failures: unknown[] = [];
          let completed = false;
          scheduler.run(() => {
            const channels = Object.fromEntries(Object.entries(scenario.channels).map(([id, orders]) => [id, chunked(orders.map(toRecord), scenario.chunkSizes)]));
            const start = () =>
              ordersPipeline(memorySource(channels, { period: 1, scheduler }), slowSink(durable, 2, scheduler), {
                window, delay: scenario.delay, mode, interval: 3, maxRecords, byUser, checkpoint: store, scheduler, metrics,
              }).subscribe({ error: (error: unknown) => failures.push(error), complete: () => (completed = true) });
            let running = start();
            for (const at of [...crashes].sort((a, b) => a - b)) {
              scheduler.schedule(() => {
                running.unsubscribe();
                completed = false;
                running = start();
              }, at);
            }
          });
          expect(failures).toEqual([]);
          expect(completed).toBe(true);
          const snapshot = metrics.snapshot();
          expect(snapshot.lateRows).toBe(0);
          expect(sortRows(durable.rows())).toEqual(sortRows(expectedSink(scenario, window, byUser, mode)));
          replayed += snapshot.batchesReplayed;
          if (typeof snapshot.restoredFrom === 'number') restoredMidway++;
        },
      ),
      { numRuns: 120 },
    );
    // the crashes did land inside batches and after commits, not only before the first or after the last
    expect(replayed).toBeGreaterThan(10);
    expect(restoredMidway).toBeGreaterThan(10);
  });
});
