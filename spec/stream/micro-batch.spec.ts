import { map, take, tap } from 'rxjs';
import { describe, expect, it } from 'vitest';
import type { RecordBatch } from '../../lib/stream/batch.js';
import { microBatch, SourceContractError } from '../../lib/stream/micro-batch.js';
import { StreamMetrics } from '../../lib/stream/metrics.js';
import { memoryCheckpointStore } from '../../lib/stream/checkpoint/memory-store.js';
import { channelNote, replayable, type SourceBatch } from '../../lib/stream/source.js';
import { from, Observable } from 'rxjs';
import { sourceBatch, testScheduler } from './helpers.js';

/** What the marble assertions compare: rows, positions and how many source batches the batch acknowledges. */
const summary = (batch: RecordBatch<number>) => ({ id: batch.id, rows: [...batch.rows], offsets: batch.offsets, acks: batch.acks.length });
/** Calls the batch's acknowledgements, as commitAfter would after a successful commit. */
const acknowledge = tap((batch: RecordBatch<number>) => batch.acks.forEach((ack) => void ack()));
const range = (from: number, count: number): number[] => Array.from({ length: count }, (_, i) => from + i);
const cursor = (position: unknown, skip = 0) => ({ position, skip });

describe('microBatch', () => {
  it('emits what arrived within an interval of the first waiting record, ordered by channel id', () => {
    testScheduler().run(({ cold, expectObservable }) => {
      const source = cold<SourceBatch<number>>('-a-b-------c----|', {
        a: sourceBatch('y', 0, [1, 2]),
        b: sourceBatch('x', 0, [3]),
        c: sourceBatch('y', 2, [4]),
      });
      expectObservable(source.pipe(microBatch<number>({ interval: 5 }), map(summary))).toBe('6ms a 9ms (b|)', {
        a: {
          id: 0,
          rows: [3, 1, 2],
          offsets: {
            x: { start: cursor(0), count: 1, end: cursor(1) },
            y: { start: cursor(0), count: 2, end: cursor(2) },
          },
          acks: 2,
        },
        b: { id: 1, rows: [4], offsets: { y: { start: cursor(2), count: 1, end: cursor(3) } }, acks: 1 },
      });
    });
  });

  it('cuts a batch at maxRecords at once, splitting a source batch that is acknowledged with its last record', () => {
    const acks: string[] = [];
    testScheduler().run(({ cold, expectObservable, flush }) => {
      const source = cold<SourceBatch<number>>('-a', { a: sourceBatch('x', 0, range(1, 5), acks) });
      expectObservable(source.pipe(microBatch<number>({ interval: 10, maxRecords: 3 }), acknowledge, map(summary))).toBe('-a 9ms b', {
        a: { id: 0, rows: [1, 2, 3], offsets: { x: { start: cursor(0), count: 3, end: cursor(0, 3) } }, acks: 0 },
        b: { id: 1, rows: [4, 5], offsets: { x: { start: cursor(0, 3), count: 2, end: cursor(5) } }, acks: 1 },
      });
      flush();
      expect(acks).toEqual(['x@5']);
    });
  });

  it('shares the record cap fairly between channels', () => {
    testScheduler().run(({ cold, expectObservable }) => {
      const source = cold<SourceBatch<number>>('-(ab)', { a: sourceBatch('x', 0, range(100, 10)), b: sourceBatch('z', 0, range(200, 10)) });
      expectObservable(source.pipe(microBatch<number>({ interval: 10, maxRecords: 12 }), map((batch) => batch.rows))).toBe('-a 9ms b', {
        a: [...range(100, 6), ...range(200, 6)],
        b: [...range(106, 4), ...range(206, 4)],
      });
    });
  });

  it('holds what exceeds maxRecordsPerChannel for later batches without cutting early', () => {
    testScheduler().run(({ cold, expectObservable }) => {
      const source = cold<SourceBatch<number>>('-(ab)', { a: sourceBatch('x', 0, range(1, 5)), b: sourceBatch('y', 0, [9]) });
      expectObservable(source.pipe(microBatch<number>({ interval: 5, maxRecordsPerChannel: 2 }), map((batch) => batch.rows))).toBe('6ms a 4ms b 4ms c', {
        a: [1, 2, 9],
        b: [3, 4],
        c: [5],
      });
    });
  });

  it('emits an empty batch per empty interval only when asked, with ids growing by one', () => {
    testScheduler().run(({ cold, expectObservable }) => {
      const quiet = cold<SourceBatch<number>>('-');
      expectObservable(quiet.pipe(microBatch<number>({ interval: 5 })), '^ 30ms !').toBe('');
      expectObservable(quiet.pipe(microBatch<number>({ interval: 5, emitEmpty: true }), take(3), map(summary))).toBe('5ms a 4ms b 4ms (c|)', {
        a: { id: 0, rows: [], offsets: {}, acks: 0 },
        b: { id: 1, rows: [], offsets: {}, acks: 0 },
        c: { id: 2, rows: [], offsets: {}, acks: 0 },
      });
    });
  });

  it('emits a batch that only moves positions, so empty source batches get acknowledged', () => {
    testScheduler().run(({ cold, expectObservable }) => {
      const moved: SourceBatch<number> = { channelId: 'x', position: 'token-1', next: 'finished', records: [], ack: () => undefined };
      expectObservable(cold<SourceBatch<number>>('-a', { a: moved }).pipe(microBatch<number>({ interval: 5 }), map(summary))).toBe('6ms a', {
        a: { id: 0, rows: [], offsets: { x: { start: cursor('token-1'), count: 0, end: cursor('finished') } }, acks: 1 },
      });
    });
  });

  it('on completion emits what is left, in batches within the cap, then completes', () => {
    testScheduler().run(({ cold, expectObservable }) => {
      const source = cold<SourceBatch<number>>('a 9ms |', { a: sourceBatch('x', 0, range(1, 5)) });
      expectObservable(source.pipe(microBatch<number>({ interval: 100, maxRecords: 2 }), map((batch) => batch.rows))).toBe('(ab) 6ms (c|)', {
        a: [1, 2],
        b: [3, 4],
        c: [5],
      });
    });
  });

  it('completes at once on an empty source, never emits on a silent one, and stops its timer when unsubscribed', () => {
    testScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      expectObservable(cold<SourceBatch<number>>('|').pipe(microBatch<number>({ interval: 5 }))).toBe('|');
      const silent = cold<SourceBatch<number>>('-');
      expectObservable(silent.pipe(microBatch<number>({ interval: 5 }))).toBe('');
      const ticking = cold<SourceBatch<number>>('-');
      expectObservable(ticking.pipe(microBatch<number>({ interval: 5, emitEmpty: true }), map((batch) => batch.id)), '^ 11ms !').toBe('5ms a 4ms b', { a: 0, b: 1 });
      expectSubscriptions(ticking.subscriptions).toBe('^ 11ms !');
    });
  });

  it('passes a source error on at once, dropping the buffered records', () => {
    testScheduler().run(({ cold, expectObservable }) => {
      const source = cold<SourceBatch<number>>('-a-#', { a: sourceBatch('x', 0, [1]) }, new Error('tunnel gone'));
      expectObservable(source.pipe(microBatch<number>({ interval: 5 }))).toBe('---#', undefined, new Error('tunnel gone'));
    });
  });

  it('fails with a SourceContractError when a channel jumps to an unexpected position', () => {
    testScheduler().run(({ cold, expectObservable }) => {
      const source = cold<SourceBatch<number>>('-a-b', { a: sourceBatch('x', 0, [1, 2]), b: sourceBatch('x', 5, [3]) });
      expectObservable(source.pipe(microBatch<number>({ interval: 50 }))).toBe('---#', undefined, expect.any(SourceContractError));
    });
  });

  it("with positionJumps 'follow', drops what it queued of a channel that resumes elsewhere and goes on from there", () => {
    const metrics = new StreamMetrics();
    testScheduler().run(({ cold, expectObservable }) => {
      // x: 0..5 arrives, but only 3 fit the first batch; x then comes back at 9 (another worker took 5..9)
      const source = cold<SourceBatch<number>>('-a-b----c', { a: sourceBatch('x', 0, range(0, 5)), b: sourceBatch('y', 0, [50]), c: sourceBatch('x', 9, [9, 10]) });
      // records 3 and 4 were still queued when x moved: the worker that took x over wrote them
      expectObservable(source.pipe(microBatch<number>({ interval: 5, maxRecordsPerChannel: 3, positionJumps: 'follow', metrics }), map(summary))).toBe('------a 4ms b', {
        a: { id: 0, rows: [0, 1, 2, 50], offsets: { x: { start: cursor(0), count: 3, end: cursor(0, 3) }, y: { start: cursor(0), count: 1, end: cursor(1) } }, acks: 1 },
        b: { id: 1, rows: [9, 10], offsets: { x: { start: cursor(9), count: 2, end: cursor(11) } }, acks: 1 },
      });
    });
    expect(metrics.snapshot().positionJumps).toBe(1);
  });

  it('counts batches and records in the shared metrics', () => {
    const metrics = new StreamMetrics();
    testScheduler().run(({ cold, expectObservable }) => {
      const source = cold<SourceBatch<number>>('-a---b|', { a: sourceBatch('x', 0, [1, 2]), b: sourceBatch('y', 0, [3]) });
      expectObservable(source.pipe(microBatch<number>({ interval: 2, metrics }), map((batch) => batch.context.metrics === metrics))).toBe('---a--(b|)', { a: true, b: true });
    });
    expect(metrics.snapshot()).toMatchObject({ batches: 2, recordsIn: 3 });
  });

  describe('channels for event time', () => {
    const caughtUp = (batch: SourceBatch<number>): SourceBatch<number> => ({ ...batch, caughtUp: true });
    const channels = (batch: RecordBatch<number>) => ({ id: batch.id, rows: [...batch.rows], rowChannels: batch.rowChannels, holding: batch.holdingChannels });

    it('says which channel each row came from, and which channels hold the watermark: known ones that are not caught up', () => {
      testScheduler().run(({ cold, expectObservable }) => {
        const source = cold<SourceBatch<number>>('(abc)-d----e-------f|', {
          a: channelNote('x', 'opened'),
          b: channelNote('y', 'opened'),
          c: channelNote('z', 'opened'),
          d: sourceBatch('y', 0, [1, 2]),
          e: caughtUp(sourceBatch('x', 0, [3])),
          f: channelNote('z', 'closed'),
        });
        expectObservable(source.pipe(microBatch<number>({ interval: 3 }), map(channels))).toBe('9ms a 4ms b 5ms |', {
          a: { id: 0, rows: [1, 2], rowChannels: { ids: ['y'], ends: [2] }, holding: ['x', 'y', 'z'] },
          b: { id: 1, rows: [3], rowChannels: { ids: ['x'], ends: [1] }, holding: ['y', 'z'] },
        });
      });
    });

    it('keeps a caught-up channel holding while its records wait behind the cap, and forms one batch without records when a channel goes idle', () => {
      testScheduler().run(({ cold, expectObservable }) => {
        const source = cold<SourceBatch<number>>('(abc) 11ms d', {
          a: channelNote('x', 'opened'),
          b: channelNote('y', 'opened'),
          c: caughtUp(sourceBatch('x', 0, [1, 2, 3])),
          d: channelNote('y', 'caught-up'),
        });
        expectObservable(source.pipe(microBatch<number>({ interval: 2, maxRecordsPerChannel: 2 }), map(channels))).toBe('--a-b 13ms c', {
          a: { id: 0, rows: [1, 2], rowChannels: { ids: ['x'], ends: [2] }, holding: ['x', 'y'] },
          b: { id: 1, rows: [3], rowChannels: { ids: ['x'], ends: [1] }, holding: ['y'] },
          // y went idle with nothing queued: the watermark may move, so a batch without records comes
          c: { id: 2, rows: [], rowChannels: { ids: [], ends: [] }, holding: [] },
        });
      });
    });

    it('keeps a finished channel holding until another channel opens (its children after a split), unless every known channel finished', () => {
      const run = (marbles: string, values: Record<string, SourceBatch<number>>) => {
        const seen: { rows: number[]; holding: readonly string[] | undefined }[] = [];
        testScheduler().run(({ cold }) => {
          cold<SourceBatch<number>>(marbles, values)
            .pipe(microBatch<number>({ interval: 3 }))
            .subscribe((batch) => seen.push({ rows: [...batch.rows], holding: batch.holdingChannels }));
        });
        return seen;
      };
      // p finishes (its last batch comes after its close note) while x races on; p's children open later
      const split = run('a b c - d e ---- f ---- g ---- h i ---- j |', {
        a: channelNote('x', 'opened'),
        b: channelNote('p', 'opened'),
        c: sourceBatch('x', 0, [1]),
        d: channelNote('p', 'closed'),
        e: caughtUp(sourceBatch('p', 0, [2])),
        f: sourceBatch('x', 1, [3]),
        g: sourceBatch('x', 2, [4]),
        h: channelNote('c1', 'opened'),
        i: channelNote('c2', 'opened'),
        j: sourceBatch('c1', 0, [5]),
      });
      expect(split).toEqual([
        { rows: [2, 1], holding: ['p', 'x'] },
        { rows: [3], holding: ['p', 'x'] },
        { rows: [4], holding: ['p', 'x'] },
        { rows: [], holding: ['c1', 'c2', 'x'] },
        { rows: [5], holding: ['c1', 'c2', 'x'] },
      ]);
      // base data: every channel finishes and none follows, so none holds
      const baseData = run('a b - c d ---- e f ---- |', {
        a: channelNote('b0', 'opened'),
        b: channelNote('b1', 'opened'),
        c: caughtUp(sourceBatch('b0', 0, [1])),
        d: channelNote('b0', 'closed'),
        e: caughtUp(sourceBatch('b1', 0, [2])),
        f: channelNote('b1', 'closed'),
      });
      expect(baseData).toEqual([
        { rows: [1], holding: ['b0', 'b1'] },
        { rows: [2], holding: [] },
      ]);
    });

    it('records the holding channels in the plan, and a replay uses the recorded ones', () => {
      const store = memoryCheckpointStore();
      const opened: string[] = [];
      const source = (holdBack: boolean) =>
        replayable<number>({
          open: (from) =>
            new Observable<SourceBatch<number>>((subscriber) => {
              opened.push(JSON.stringify(from ?? null));
              subscriber.next(channelNote('a', 'opened'));
              subscriber.next(channelNote('b', 'opened'));
              subscriber.next(sourceBatch('a', 0, [1, 2]));
              if (!holdBack) subscriber.next(channelNote('b', 'caught-up'));
            }),
        });
      const holdings: (readonly string[] | undefined)[] = [];
      // the first run plans batch 0 while b holds, and never commits it
      testScheduler().run(({ cold }) => {
        const run = source(true).pipe(microBatch<number>({ interval: 1, checkpoint: store })).subscribe((batch) => holdings.push(batch.holdingChannels));
        cold('-----|').subscribe({ complete: () => run.unsubscribe() });
      });
      expect(store.plans()).toEqual([{ batchId: 0, watermark: null, holding: ['a', 'b'], channels: { a: { start: { position: 0, skip: 0 }, count: 2 } } }]);
      // the restart sees b caught up at once, but batch 0 is replayed with what its plan recorded
      testScheduler().run(({ cold }) => {
        const run = source(false).pipe(microBatch<number>({ interval: 1, checkpoint: store })).subscribe((batch) => holdings.push(batch.holdingChannels));
        cold('-----|').subscribe({ complete: () => run.unsubscribe() });
      });
      expect(holdings).toEqual([['a', 'b'], ['a', 'b']]);
    });

    it('loads a plan written before per-channel watermarks and replays it without a holding set', () => {
      const store = memoryCheckpointStore();
      from(store.writePlan({ batchId: 0, watermark: 5, channels: { a: { start: { position: 0, skip: 0 }, count: 1 } } })).subscribe();
      const batches: RecordBatch<number>[] = [];
      testScheduler().run(({ cold }) => {
        const source = replayable<number>({ open: () => new Observable<SourceBatch<number>>((subscriber) => subscriber.next(sourceBatch('a', 0, [7]))) });
        const run = source.pipe(microBatch<number>({ interval: 1, checkpoint: store })).subscribe((batch) => batches.push(batch));
        cold('---|').subscribe({ complete: () => run.unsubscribe() });
      });
      expect(batches.map((batch) => ({ rows: [...batch.rows], replay: batch.replay, watermark: batch.plannedWatermark, holding: batch.holdingChannels }))).toEqual([{ rows: [7], replay: true, watermark: 5, holding: undefined }]);
    });
  });

  it('rejects nonsensical options at once', () => {
    expect(() => microBatch({ interval: 0 })).toThrow(/interval/);
    expect(() => microBatch({ interval: 5, maxRecords: 0 })).toThrow(/caps/);
  });
});
