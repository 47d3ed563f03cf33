/**
 * Event time that depends only on the data (README, "Late data"): for random channel data, any
 * interleaving of the channels' source batches in virtual time (one channel far behind, bursts
 * read at full speed, lockstep), any cut into micro-batches, the rows dropped as late are exactly
 * those the definition names — a (row, window) pair is late iff the window ends at or before the
 * greatest event time among the rows before it in its own channel, minus the delay — and the sink
 * equals a direct computation over the other pairs. When a source says a channel is caught up
 * in the middle of its data (a live channel that went quiet and is written again later), rows of
 * that channel may also find their window closed; then they are reported like any late row and
 * the sink still equals the direct computation without them.
 */
import fc from 'fast-check';
import { Observable } from 'rxjs';
import { describe, expect, it } from 'vitest';
import type { ChangeRecord } from '../../lib/wire/types.js';
import { aggregate, WINDOW } from '../../lib/stream/aggregate.js';
import { count, sum } from '../../lib/stream/aggregates.js';
import { dropFromRowChannels, keepInRowChannels, type DeadLetter, type RowChannels, type WindowBounds } from '../../lib/stream/batch.js';
import { commitAfter } from '../../lib/stream/commit-after.js';
import { decodeRows } from '../../lib/stream/decode-rows.js';
import { emit } from '../../lib/stream/emit.js';
import { StreamMetrics } from '../../lib/stream/metrics.js';
import { microBatch } from '../../lib/stream/micro-batch.js';
import { memoryCheckpointStore } from '../../lib/stream/checkpoint/memory-store.js';
import { channelNote, replayable, type Position, type SourceBatch } from '../../lib/stream/source.js';
import { hopping } from '../../lib/stream/windows/hopping.js';
import { tumbling } from '../../lib/stream/windows/tumbling.js';
import { withWatermark } from '../../lib/stream/with-watermark.js';
import { memorySink } from '../../lib/sinks/memory-sink.js';
import { testScheduler } from './helpers.js';
import { orderCatalog, putOrder } from './orders.js';
import { slowSink } from './pipeline.js';

interface Row {
  readonly id: string;
  readonly channel: number;
  readonly time: number;
  readonly price: number;
}

type Windowing = { readonly kind: 'tumbling'; readonly size: number } | { readonly kind: 'hopping'; readonly size: number; readonly slide: number };

interface Case {
  /** per channel, event times in the channel's order */
  readonly times: readonly (readonly number[])[];
  /** per channel, source batch sizes (repeating) */
  readonly chunks: readonly (readonly number[])[];
  /** per channel, the virtual time of its first batch and the gaps between its batches (0: a backlog read at full speed) */
  readonly starts: readonly number[];
  readonly gaps: readonly (readonly number[])[];
  /** per channel, which of its batches (by index, repeating) say "caught up" in the middle of the data */
  readonly idle: readonly (readonly boolean[])[];
  readonly delay: number;
  readonly window: Windowing;
  readonly interval: number;
  readonly maxRecords: number | undefined;
  readonly maxRecordsPerChannel: number | undefined;
}

const channelTimes = fc
  .tuple(fc.integer({ min: 0, max: 30_000 }), fc.array(fc.oneof({ weight: 8, arbitrary: fc.integer({ min: -800, max: 2_000 }) }, { weight: 1, arbitrary: fc.integer({ min: -20_000, max: -1_000 }) }), { maxLength: 40 }))
  .map(([start, steps]) => {
    const times: number[] = [];
    let t = start;
    for (const step of [0, ...steps]) {
      t = Math.max(0, t + step);
      times.push(t);
    }
    return times;
  });

const caseArbitrary = (midStreamIdle: boolean): fc.Arbitrary<Case> =>
  fc.integer({ min: 1, max: 4 }).chain((channels) =>
    fc.record({
      times: fc.array(channelTimes, { minLength: channels, maxLength: channels }),
      chunks: fc.array(fc.array(fc.integer({ min: 1, max: 7 }), { minLength: 1, maxLength: 4 }), { minLength: channels, maxLength: channels }),
      starts: fc.array(fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 400 })), { minLength: channels, maxLength: channels }),
      gaps: fc.array(fc.array(fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 30 })), { minLength: 1, maxLength: 5 }), { minLength: channels, maxLength: channels }),
      idle: fc.array(fc.array(midStreamIdle ? fc.boolean() : fc.constant(false), { minLength: 1, maxLength: 5 }), { minLength: channels, maxLength: channels }),
      delay: fc.integer({ min: 0, max: 6_000 }),
      window: fc.oneof(
        fc.integer({ min: 1, max: 6 }).map((n): Windowing => ({ kind: 'tumbling', size: n * 1000 })),
        fc.tuple(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 3 })).map(([slide, k]): Windowing => ({ kind: 'hopping', size: slide * k * 1000, slide: slide * 1000 })),
      ),
      interval: fc.integer({ min: 1, max: 20 }),
      maxRecords: fc.option(fc.integer({ min: 1, max: 15 }), { nil: undefined }),
      maxRecordsPerChannel: fc.option(fc.integer({ min: 1, max: 10 }), { nil: undefined }),
    }),
  );

const rowsOf = (c: Case): Row[][] => c.times.map((times, channel) => times.map((time, i) => ({ id: `c${channel}-o${i}`, channel, time, price: (i % 40) / 4 })));

/** The windows of an event time: [start, start + size) for every start that covers it. */
function windowsOf(time: number, window: Windowing): WindowBounds[] {
  const slide = window.kind === 'hopping' ? window.slide : window.size;
  const out: WindowBounds[] = [];
  for (let start = Math.floor(time / slide) * slide; start > time - window.size; start -= slide) out.push({ start, end: start + window.size });
  return out;
}

const pairKey = (id: string, start: number): string => `${id}@${start}`;

/** The README's definition: late iff the window ends at or before (greatest earlier time in the channel) − delay. */
function lateByDefinition(c: Case, rows: readonly (readonly Row[])[]): Set<string> {
  const late = new Set<string>();
  for (const channel of rows) {
    let max = Number.NEGATIVE_INFINITY;
    for (const row of channel) {
      for (const window of windowsOf(row.time, c.window)) if (window.end <= max - c.delay) late.add(pairKey(row.id, window.start));
      max = Math.max(max, row.time);
    }
  }
  return late;
}

interface Planned {
  readonly at: number;
  readonly batch: SourceBatch<ChangeRecord>;
  /** ids of the rows of the batch */
  readonly ids: readonly string[];
}

/** Every channel's source batches at their virtual times; channel notes first, as the tunnel source sends them. */
function schedule(c: Case, rows: readonly (readonly Row[])[]): Planned[] {
  const planned: Planned[] = [];
  rows.forEach((channelRows, channel) => {
    const channelId = `ch${channel}`;
    const chunks = c.chunks[channel] as readonly number[];
    const gaps = c.gaps[channel] as readonly number[];
    const idle = c.idle[channel] as readonly boolean[];
    let at = c.starts[channel] as number;
    let k = 0;
    for (let from = 0; from < channelRows.length; k++) {
      const size = chunks[k % chunks.length] as number;
      const taken = channelRows.slice(from, from + size);
      const last = from + size >= channelRows.length;
      const batch: SourceBatch<ChangeRecord> = {
        channelId,
        position: from,
        next: from + taken.length,
        records: taken.map((row) => putOrder(`u${row.channel}`, row.id, row.price, row.time)),
        ack: () => undefined,
        caughtUp: last || (idle[k % idle.length] as boolean),
      };
      planned.push({ at, batch, ids: taken.map((row) => row.id) });
      from += size;
      at += gaps[k % gaps.length] as number;
    }
  });
  // stable: batches due at the same time keep channel order, each channel keeps its own order
  return planned.map((entry, i) => ({ entry, i })).sort((a, b) => a.entry.at - b.entry.at || a.i - b.i).map(({ entry }) => entry);
}

interface Outcome {
  readonly sink: Map<string, { count: number; total: number }>;
  readonly late: Set<string>;
  readonly lateRows: number;
}

function runPipeline(c: Case, planned: readonly Planned[], channels: number): Outcome {
  const sink = memorySink({ keyColumns: ['window'] });
  const letters = memorySink<DeadLetter>();
  const metrics = new StreamMetrics();
  const scheduler = testScheduler();
  let failure: unknown;
  scheduler.run(() => {
    const source = new Observable<SourceBatch<ChangeRecord>>((subscriber) => {
      for (let channel = 0; channel < channels; channel++) subscriber.next(channelNote(`ch${channel}`, 'opened'));
      let left = planned.length;
      if (left === 0) subscriber.complete();
      for (const entry of planned) {
        scheduler.schedule(() => {
          subscriber.next(entry.batch);
          if (--left === 0) subscriber.complete();
        }, entry.at);
      }
    });
    const windowing = c.window.kind === 'tumbling' ? tumbling({ eventTime: 'timestamp', size: c.window.size, late: 'dead-letter' }) : hopping({ eventTime: 'timestamp', size: c.window.size, slide: c.window.slide, late: 'dead-letter' });
    source
      .pipe(
        microBatch({ interval: c.interval, maxRecords: c.maxRecords, maxRecordsPerChannel: c.maxRecordsPerChannel, scheduler, metrics }),
        decodeRows({ catalog: orderCatalog, table: 'OrderSource' }),
        withWatermark({ eventTime: 'timestamp', delay: c.delay }),
        windowing,
        aggregate([WINDOW], { count: count(), total: sum('price') }),
        emit('update'),
        commitAfter(sink, { scheduler, deadLetters: letters }),
      )
      .subscribe({ error: (error: unknown) => (failure = error) });
  });
  expect(failure).toBeUndefined();
  const out = new Map<string, { count: number; total: number }>();
  for (const row of sink.rows()) out.set(String((row['window'] as WindowBounds).start), { count: row['count'] as number, total: row['total'] as number });
  const late = new Set<string>();
  for (const letter of letters.rows()) {
    if (letter.kind !== 'late-row') continue;
    late.add(pairKey(String(letter.row['OrderId']), letter.window.start));
  }
  return { sink: out, late, lateRows: metrics.snapshot().lateRows };
}

/** Count and total per window start over every (row, window) pair that is not late. */
function direct(c: Case, rows: readonly (readonly Row[])[], late: ReadonlySet<string>): Map<string, { count: number; total: number }> {
  const out = new Map<string, { count: number; total: number }>();
  for (const row of rows.flat()) {
    for (const window of windowsOf(row.time, c.window)) {
      if (late.has(pairKey(row.id, window.start))) continue;
      const entry = out.get(String(window.start)) ?? { count: 0, total: 0 };
      out.set(String(window.start), { count: entry.count + 1, total: entry.total + row.price });
    }
  }
  return out;
}

describe('event time depends only on the data', () => {
  it('drops exactly the rows the definition names as late, and the sink equals a direct computation, for any interleaving and batch cut', () => {
    fc.assert(
      fc.property(caseArbitrary(false), (c) => {
        const rows = rowsOf(c);
        const expectedLate = lateByDefinition(c, rows);
        const outcome = runPipeline(c, schedule(c, rows), rows.length);
        expect([...outcome.late].sort()).toEqual([...expectedLate].sort());
        expect(outcome.lateRows).toBe(expectedLate.size);
        expect(outcome.sink).toEqual(direct(c, rows, expectedLate));
      }),
      { numRuns: 300 },
    );
  });

  it('gives the same sink and the same late rows when one channel is read far behind the others, or all in lockstep', () => {
    fc.assert(
      fc.property(caseArbitrary(false), fc.nat({ max: 3 }), fc.integer({ min: 200, max: 5_000 }), (c, slowPick, behind) => {
        const rows = rowsOf(c);
        const slow = slowPick % rows.length;
        // the same data: lockstep (every channel one batch per tick) and one channel held back by `behind`
        const lockstep: Case = { ...c, starts: c.starts.map(() => 0), gaps: c.gaps.map(() => [1]) };
        const heldBack: Case = { ...c, starts: c.starts.map((_, k) => (k === slow ? behind : 0)), gaps: c.gaps.map((_, k) => (k === slow ? [50] : [0])) };
        const a = runPipeline(lockstep, schedule(lockstep, rows), rows.length);
        const b = runPipeline(heldBack, schedule(heldBack, rows), rows.length);
        expect(b.sink).toEqual(a.sink);
        expect([...b.late].sort()).toEqual([...a.late].sort());
      }),
      { numRuns: 100 },
    );
  });

  it('drops a row beyond the definition only in a channel that said it was caught up before the row, and reports it; the sink equals the direct computation without the reported rows', () => {
    fc.assert(
      fc.property(caseArbitrary(true), (c) => {
        const rows = rowsOf(c);
        const planned = schedule(c, rows);
        const expectedLate = lateByDefinition(c, rows);
        const outcome = runPipeline(c, planned, rows.length);
        for (const key of expectedLate) expect(outcome.late.has(key), `${key} is late by the data`).toBe(true);
        // rows of each channel that follow one of its batches flagged caught up
        const afterIdle = new Set<string>();
        const idleSeen = new Set<string>();
        for (const entry of planned) {
          if (idleSeen.has(entry.batch.channelId)) for (const id of entry.ids) afterIdle.add(id);
          if (entry.batch.caughtUp === true) idleSeen.add(entry.batch.channelId);
        }
        for (const key of outcome.late) {
          if (expectedLate.has(key)) continue;
          expect(afterIdle.has(key.slice(0, key.indexOf('@'))), `${key} was dropped though its channel never went idle before it`).toBe(true);
        }
        expect(outcome.lateRows).toBe(outcome.late.size);
        expect(outcome.sink).toEqual(direct(c, rows, outcome.late));
      }),
      { numRuns: 200 },
    );
  });

  it('replays exactly after a crash at any moment: a restart from the checkpoint ends with the same sink and late rows', () => {
    let replays = 0;
    let restarts = 0;
    fc.assert(
      fc.property(caseArbitrary(false), fc.integer({ min: 0, max: 600 }), fc.integer({ min: 1, max: 6 }), fc.integer({ min: 0, max: 6 }), (c, crashAt, storeDelay, sinkDelay) => {
        const rows = rowsOf(c);
        const planned = schedule(c, rows);
        const expectedLate = lateByDefinition(c, rows);
        const sink = memorySink({ keyColumns: ['window'] });
        const letters = memorySink<DeadLetter>();
        const scheduler = testScheduler();
        const failures: unknown[] = [];
        let completed = false;
        scheduler.run(() => {
          const store = memoryCheckpointStore('memory', { delay: storeDelay, scheduler });
          // each opening re-announces the channels and delivers from the given positions, on its own timing
          const source = replayable<ChangeRecord>({
            open: (from: Readonly<Record<string, Position>> | undefined) =>
              new Observable<SourceBatch<ChangeRecord>>((subscriber) => {
                const rest = planned.filter((entry) => (entry.batch.position as number) >= ((from?.[entry.batch.channelId] as number | undefined) ?? 0));
                for (let channel = 0; channel < rows.length; channel++) {
                  const channelId = `ch${channel}`;
                  subscriber.next(channelNote(channelId, 'opened'));
                  if (!rest.some((entry) => entry.batch.channelId === channelId)) subscriber.next(channelNote(channelId, 'caught-up'));
                }
                let left = rest.length;
                if (left === 0) subscriber.complete();
                const subscription = scheduler.schedule(() => undefined);
                for (const entry of rest) {
                  subscription.add(
                    scheduler.schedule(() => {
                      subscriber.next(entry.batch);
                      if (--left === 0) subscriber.complete();
                    }, entry.at),
                  );
                }
                return subscription;
              }),
          });
          const start = (metrics = new StreamMetrics()) => {
            const windowing = c.window.kind === 'tumbling' ? tumbling({ eventTime: 'timestamp', size: c.window.size, late: 'dead-letter' }) : hopping({ eventTime: 'timestamp', size: c.window.size, slide: c.window.slide, late: 'dead-letter' });
            return source
              .pipe(
                microBatch({ interval: c.interval, maxRecords: c.maxRecords, maxRecordsPerChannel: c.maxRecordsPerChannel, scheduler, checkpoint: store, metrics }),
                decodeRows({ catalog: orderCatalog, table: 'OrderSource' }),
                withWatermark({ eventTime: 'timestamp', delay: c.delay }),
                windowing,
                aggregate([WINDOW], { count: count(), total: sum('price') }),
                emit('update'),
                commitAfter(slowSink(sink, sinkDelay, scheduler), { scheduler, deadLetters: letters }),
              )
              .subscribe({ error: (error: unknown) => failures.push(error), complete: () => (completed = true) });
          };
          const first = start();
          scheduler.schedule(() => {
            if (completed) return;
            first.unsubscribe();
            const metrics = new StreamMetrics();
            start(metrics);
            restarts++;
            scheduler.schedule(() => (replays += metrics.snapshot().batchesReplayed), 100_000);
          }, crashAt);
        });
        expect(failures).toEqual([]);
        expect(completed).toBe(true);
        const late = new Set(letters.rows().flatMap((letter) => (letter.kind === 'late-row' ? [pairKey(String(letter.row['OrderId']), letter.window.start)] : [])));
        expect([...late].sort()).toEqual([...expectedLate].sort());
        const out = new Map<string, { count: number; total: number }>();
        for (const row of sink.rows()) out.set(String((row['window'] as WindowBounds).start), { count: row['count'] as number, total: row['total'] as number });
        expect(out).toEqual(direct(c, rows, expectedLate));
      }),
      { numRuns: 200 },
    );
    // the crashes land inside batches too: planned batches are replayed
    expect(restarts).toBeGreaterThan(20);
    expect(replays).toBeGreaterThan(5);
  });

  it('keeps each row with its channel when rows are dropped (bad rows, WHERE)', () => {
    const perRow = (channels: RowChannels): string[] => channels.ids.flatMap((id, k) => Array.from({ length: (channels.ends[k] as number) - (k === 0 ? 0 : (channels.ends[k - 1] as number)) }, () => id));
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 6 }), { maxLength: 5 }), fc.array(fc.boolean(), { maxLength: 40 }), (sizes, flags) => {
        const ends: number[] = [];
        sizes.reduce((total, size) => (ends.push(total + size), total + size), 0);
        const channels: RowChannels = { ids: sizes.map((_, k) => `ch${k}`), ends };
        const rows = perRow(channels);
        const kept = rows.map((_, i) => i).filter((i) => flags[i] !== false);
        const dropped = rows.map((_, i) => i).filter((i) => flags[i] === false);
        const expected = kept.map((i) => rows[i]);
        expect(perRow(keepInRowChannels(channels, kept))).toEqual(expected);
        expect(perRow(dropFromRowChannels(channels, dropped))).toEqual(expected);
      }),
    );
  });
});
