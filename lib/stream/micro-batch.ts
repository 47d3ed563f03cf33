/**
 * `microBatch({ interval, maxRecords })`: gathers source batches into micro-batches, like
 * `bufferTime(interval, null, maxRecords)` counted in records. A batch is emitted when `interval`
 * has passed since the previous emission, at once when `maxRecords` are buffered, and for what is
 * left when the source completes. The interval clock only runs while records wait (or empty
 * batches are wanted), so an idle pipeline schedules nothing; the first record after a quiet
 * period starts it. An interval with nothing buffered emits nothing unless
 * `emitEmpty` is set; a batch that only moves positions (empty source batches, e.g. a channel's
 * `finished` marker) is not empty: its acknowledgements must reach the source.
 *
 * Records of a micro-batch are ordered by channel id, then by their order in the channel, so the
 * same plan always yields the same rows in the same order. A source batch may be split across
 * micro-batches (at `maxRecords`, or `maxRecordsPerChannel`); it is acknowledged with the
 * micro-batch that takes its last record. Under the cap, channels share it fairly.
 *
 * With `checkpoint` (a directory, or a store) the operator is the planner of the commit protocol:
 * on subscribe it loads the last commit and opens the source (which must be a
 * `ReplayableObservable`, piped directly into this operator) at the committed cursors; a batch
 * that was planned but not committed is re-run first, taking exactly the recorded records with
 * the recorded watermark; every new batch's plan is persisted under `offsets/N` before the batch
 * is emitted; and batch N+1 is emitted only after `commitAfter` committed batch N.
 *
 * Event time: each batch says which channel each row came from (`rowChannels`, ranges, no
 * per-row column) and which channels hold the job watermark back (`holdingChannels`): those the
 * source made known (an `opened` note or a batch) that are not idle — idle meaning the source said
 * the channel is caught up and nothing of it is left queued here. The holding set depends on read
 * timing, so it is part of the plan and a replay uses the recorded one. When a channel goes idle
 * while nothing is queued, one batch without records is formed so the watermark can move on
 * (as Spark's no-data batch does).
 */
import { asyncScheduler, from, Observable, Subscription, type OperatorFunction, type SchedulerLike, type Subscriber } from 'rxjs';
import * as E from 'fp-ts/lib/Either.js';
import type { Acknowledge, ChannelOffsets, Cursor, RecordBatch, RunContext } from './batch.js';
import { fileCheckpointStore } from './checkpoint/file-store.js';
import { CheckpointWriter } from './checkpoint/writer.js';
import { watermarkFromJson, watermarkToJson, type BatchPlan, type CheckpointStore, type RestoredCheckpoint } from './checkpoint/store.js';
import { StreamMetrics } from './metrics.js';
import { concatRecords, sliceRecords } from '../wire/packed-records.js';
import { isReplayable, type ChannelNote, type Position, type SourceBatch } from './source.js';

export interface MicroBatchOptions {
  /** milliseconds between batches (Infinity: only `maxRecords` and completion cut batches) */
  readonly interval: number;
  /** records per micro-batch, over all channels */
  readonly maxRecords?: number;
  /** records per channel per micro-batch (EMR's maxoffsetsperchannel); the rest waits */
  readonly maxRecordsPerChannel?: number;
  /** emit a batch with no rows and no positions when an interval passes empty */
  readonly emitEmpty?: boolean;
  readonly scheduler?: SchedulerLike;
  /** counters shared by every operator of the pipeline (default: a fresh StreamMetrics) */
  readonly metrics?: StreamMetrics;
  /** `checkpointLocation`: a directory, or a store */
  readonly checkpoint?: CheckpointStore | string;
  /**
   * A channel that resumes elsewhere than its last batch ended (it moved to another worker and
   * came back at the tunnel checkpoint): 'error' (default) ends the stream, since records could
   * count twice or not at all; 'follow' drops what it still queued of the channel and goes on
   * from the new position — right for stateless jobs whose keyed sink makes a re-read harmless and
   * whose other workers wrote what was skipped.
   */
  readonly positionJumps?: 'error' | 'follow';
}

/** The source broke its contract (see source.ts), or cannot replay what a plan recorded. */
export class SourceContractError extends Error {
  override readonly name = 'SourceContractError';
}

interface Segment<R> {
  readonly batch: SourceBatch<R>;
  /** records of the batch already taken by earlier micro-batches */
  from: number;
}

const key = (position: Position | Cursor): string => JSON.stringify(position);
const sameCursor = (a: Cursor, b: Cursor): boolean => a.skip === b.skip && key(a.position) === key(b.position);

export function microBatch<R>(options: MicroBatchOptions): OperatorFunction<SourceBatch<R>, RecordBatch<R>> {
  if (!(options.interval > 0)) throw new RangeError(`microBatch: interval must be > 0 ms, got ${options.interval}`);
  for (const cap of [options.maxRecords, options.maxRecordsPerChannel]) {
    if (cap !== undefined && !(cap >= 1)) throw new RangeError(`microBatch: record caps must be >= 1, got ${cap}`);
  }
  return (source) =>
    new Observable<RecordBatch<R>>((subscriber) => {
      const store = typeof options.checkpoint === 'string' ? fileCheckpointStore(options.checkpoint) : options.checkpoint;
      const batcher = new MicroBatcher<R>(options, subscriber);
      if (store === undefined) {
        batcher.start(undefined);
        batcher.subscription.add(source.subscribe(batcher.sourceObserver()));
        return batcher.subscription;
      }
      if (!isReplayable(source)) {
        subscriber.error(new SourceContractError('microBatch: a checkpoint needs a replayable source piped directly into microBatch (see ReplayableSource)'));
        return undefined;
      }
      batcher.subscription.add(
        from(store.load()).subscribe({
          next: (loaded) => {
            if (E.isLeft(loaded)) {
              subscriber.error(loaded.left);
              return;
            }
            const from = batcher.start({ store, restored: loaded.right });
            if (!subscriber.closed) batcher.subscription.add(source.open(from).subscribe(batcher.sourceObserver()));
          },
          error: (error: unknown) => subscriber.error(error),
        }),
      );
      return batcher.subscription;
    });
}

class MicroBatcher<R> {
  readonly subscription = new Subscription();
  private readonly queues = new Map<string, Segment<R>[]>();
  /** per channel, the position its next source batch must start at */
  private readonly expected = new Map<string, string>();
  /** per channel, records of its first source batch that a restored cursor already covers */
  private readonly restoredSkip = new Map<string, number>();
  /** channels the source made known and has not closed */
  private readonly known = new Set<string>();
  /** known channels that finished: they hold the watermark until another channel opens */
  private readonly ended = new Set<string>();
  /** channels whose last word from the source was "caught up" */
  private readonly caughtUp = new Set<string>();
  /** the holding channels of the last formed batch */
  private lastHolding: ReadonlySet<string> = new Set();
  /** a channel stopped holding the watermark since the last batch: form one even without records */
  private holdingMoved = false;
  private readonly scheduler: SchedulerLike;
  private readonly maxRecords: number;
  private readonly maxPerChannel: number;
  private context!: RunContext;
  private writer: CheckpointWriter | undefined;
  private store: CheckpointStore | undefined;
  private replayPlan: BatchPlan | undefined;
  private buffered = 0;
  private nextId = 0;
  private awaitingCommit = false;
  private planning = false;
  private planned: RecordBatch<R> | undefined;
  private due = false;
  private sourceDone = false;
  private draining = false;
  private again = false;
  private timer: Subscription | undefined;

  constructor(
    private readonly options: MicroBatchOptions,
    private readonly subscriber: Subscriber<RecordBatch<R>>,
  ) {
    this.scheduler = options.scheduler ?? asyncScheduler;
    this.maxRecords = options.maxRecords ?? Number.POSITIVE_INFINITY;
    this.maxPerChannel = options.maxRecordsPerChannel ?? Number.POSITIVE_INFINITY;
    this.subscription.add(() => this.timer?.unsubscribe());
  }

  /** Sets up the run; returns the positions to open a replayable source at. */
  start(checkpoint: { store: CheckpointStore; restored: RestoredCheckpoint } | undefined): Record<string, Position> | undefined {
    const metrics = this.options.metrics ?? new StreamMetrics();
    if (checkpoint === undefined) {
      this.context = { metrics, checkpoint: undefined };
      this.restartTimer();
      return undefined;
    }
    const { store, restored } = checkpoint;
    this.store = store;
    this.writer = new CheckpointWriter(store, restored, () => {
      this.awaitingCommit = false;
      this.drain();
    });
    this.context = { metrics, checkpoint: this.writer };
    metrics.restored(restored.commit === undefined ? 'fresh' : restored.commit.batchId);
    this.nextId = restored.commit === undefined ? 0 : restored.commit.batchId + 1;
    const cursors = new Map(this.writer.cursors());
    if (restored.plan !== undefined) {
      if (restored.plan.batchId !== this.nextId) {
        this.subscriber.error(new SourceContractError(`checkpoint ${store.location}: plan ${restored.plan.batchId} does not follow commit ${this.nextId - 1}`));
        return undefined;
      }
      for (const [channelId, planned] of Object.entries(restored.plan.channels)) {
        const committed = cursors.get(channelId);
        if (committed !== undefined && !sameCursor(committed, planned.start) && this.options.positionJumps !== 'follow') {
          this.subscriber.error(
            new SourceContractError(`checkpoint ${store.location}: plan ${restored.plan.batchId} starts channel '${channelId}' at ${key(planned.start)} but commit ${this.nextId - 1} left it at ${key(committed)}`),
          );
          return undefined;
        }
        cursors.set(channelId, planned.start);
      }
      this.replayPlan = restored.plan;
    }
    const from: Record<string, Position> = {};
    // channels read before the restart hold the watermark until the source says they are caught up
    for (const channelId of cursors.keys()) this.known.add(channelId);
    for (const [channelId, cursor] of cursors) {
      from[channelId] = cursor.position;
      this.expected.set(channelId, key(cursor.position));
      this.restoredSkip.set(channelId, cursor.skip);
    }
    this.restartTimer();
    return from;
  }

  sourceObserver() {
    return {
      next: (batch: SourceBatch<R>) => this.receive(batch),
      error: (error: unknown) => this.subscriber.error(error),
      complete: () => {
        this.sourceDone = true;
        this.drain();
      },
    };
  }

  private receive(batch: SourceBatch<R>): void {
    const { channelId } = batch;
    if (batch.note !== undefined) {
      this.note(channelId, batch.note);
      return;
    }
    this.see(channelId, false);
    if (batch.caughtUp === true) this.caughtUp.add(channelId);
    else this.caughtUp.delete(channelId);
    const expected = this.expected.get(channelId);
    if (expected !== undefined && expected !== key(batch.position) && this.options.positionJumps === 'follow') {
      this.followJump(channelId);
    } else if (expected !== undefined && expected !== key(batch.position)) {
      this.subscriber.error(
        new SourceContractError(`channel '${channelId}' delivered a batch at ${key(batch.position)} where ${expected} was next; restart from the checkpoint to resume exactly`),
      );
      return;
    }
    this.expected.set(channelId, key(batch.next));
    // a restored cursor skips records already consumed; a re-read may chunk them differently, so
    // the skip can span batches (a fully skipped batch stays queued as empty, acknowledged later)
    const skip = Math.min(this.restoredSkip.get(channelId) ?? 0, batch.records.length);
    const skipLeft = (this.restoredSkip.get(channelId) ?? 0) - skip;
    if (skipLeft > 0) this.restoredSkip.set(channelId, skipLeft);
    else this.restoredSkip.delete(channelId);
    let queue = this.queues.get(channelId);
    if (queue === undefined) this.queues.set(channelId, (queue = []));
    queue.push({ batch, from: skip });
    this.buffered += batch.records.length - skip;
    if (this.timer === undefined) this.restartTimer();
    this.drain();
  }

  private note(channelId: string, note: ChannelNote): void {
    if (note === 'closed') {
      // a finished channel may have handed its keys to children not opened yet (a partition
      // split): it holds at its own watermark until another channel opens
      this.caughtUp.delete(channelId);
      if (this.known.has(channelId)) this.ended.add(channelId);
    } else {
      this.see(channelId, note === 'opened');
      if (note === 'caught-up') this.caughtUp.add(channelId);
      else this.caughtUp.delete(channelId);
    }
    if (this.holdingMoved || this.hasQueued()) return;
    const holding = new Set(this.holdingChannels());
    for (const id of this.lastHolding) {
      if (!holding.has(id)) {
        this.holdingMoved = true;
        break;
      }
    }
    if (this.holdingMoved && this.timer === undefined) this.restartTimer();
  }

  /**
   * A channel the source opened or delivered. An opening of another channel (or the first sight
   * of an unknown one) after a channel finished ends the finished one's hold: its children, if
   * any, are open by then. Only an `opened` note makes a finished channel live again.
   */
  private see(channelId: string, opened: boolean): void {
    if (this.ended.has(channelId)) {
      if (opened) this.ended.delete(channelId);
      return;
    }
    if (opened || !this.known.has(channelId)) {
      for (const ended of this.ended) this.known.delete(ended);
      this.ended.clear();
    }
    this.known.add(channelId);
  }

  /**
   * Known channels that may still deliver records: not caught up, or with records queued here.
   * Finished channels count as not caught up (their children may not be open yet), unless every
   * known channel finished.
   */
  private holdingChannels(): string[] {
    const holding: string[] = [];
    const onlyEnded = this.ended.size === this.known.size;
    for (const channelId of this.known) {
      const idle = this.ended.has(channelId) ? onlyEnded : this.caughtUp.has(channelId);
      if (!idle || this.hasRecordsQueued(channelId)) holding.push(channelId);
    }
    return holding.sort();
  }

  private hasRecordsQueued(channelId: string): boolean {
    for (const segment of this.queues.get(channelId) ?? []) if (segment.batch.records.length > segment.from) return true;
    return false;
  }

  /** Forgets what is queued of a channel that resumes at another position (positionJumps: 'follow'). */
  private followJump(channelId: string): void {
    for (const segment of this.queues.get(channelId) ?? []) this.buffered -= segment.batch.records.length - segment.from;
    this.queues.delete(channelId);
    this.restoredSkip.delete(channelId);
    // a replay cannot be exact once one of its channels moved; stateless jobs do not need it to be
    if (this.replayPlan !== undefined && Object.hasOwn(this.replayPlan.channels, channelId)) this.replayPlan = undefined;
    this.context.metrics.add('positionJumps', 1);
  }

  /** The interval clock runs while records wait (or empty batches are wanted): an idle pipeline sleeps. */
  private restartTimer(): void {
    this.timer?.unsubscribe();
    this.timer = undefined;
    if (!Number.isFinite(this.options.interval)) return;
    if (!this.options.emitEmpty && !this.holdingMoved && !this.hasQueued()) return;
    this.timer = this.scheduler.schedule(() => {
      this.due = true;
      this.timer = undefined;
      this.drain();
    }, this.options.interval);
  }

  /** Runs steps until none makes progress; re-entrant calls (a synchronous commit) just ask for another round. */
  private drain(): void {
    if (this.draining) {
      this.again = true;
      return;
    }
    this.draining = true;
    try {
      do {
        this.again = false;
        this.step();
      } while (this.again && !this.subscriber.closed);
    } catch (error) {
      this.subscriber.error(error);
    } finally {
      this.draining = false;
    }
  }

  private step(): void {
    if (this.subscriber.closed) return;
    if (this.planned !== undefined) {
      const batch = this.planned;
      this.planned = undefined;
      this.emit(batch);
      return;
    }
    if (this.planning || this.awaitingCommit) return;
    const nothingQueued = !this.hasQueued();
    if (this.replayPlan !== undefined) {
      const plan = this.replayPlan;
      if (!this.replayReady(plan)) {
        if (this.sourceDone) {
          this.subscriber.error(new SourceContractError(`the source completed before delivering the ${describePlan(plan)} recorded for batch ${plan.batchId}`));
        }
        return;
      }
      this.replayPlan = undefined;
      this.context.metrics.add('batchesReplayed', 1);
      this.emit(this.form(plan.batchId, true, watermarkFromJson(plan.watermark), plan));
      return;
    }
    if (this.sourceDone && nothingQueued) {
      this.subscriber.complete();
      return;
    }
    const full = this.buffered >= this.maxRecords;
    if (!full && !this.due && !this.sourceDone) return;
    const emptyTick = this.due && !full && nothingQueued;
    this.due = false;
    if (emptyTick && !this.options.emitEmpty && !this.holdingMoved) {
      this.restartTimer();
      return;
    }
    const watermark = this.writer?.watermark;
    const batch = this.form(this.nextId, false, watermark, undefined);
    this.restartTimer();
    if (this.store === undefined) {
      this.emit(batch);
      return;
    }
    const plan: BatchPlan = {
      batchId: batch.id,
      watermark: watermarkToJson(watermark ?? Number.NEGATIVE_INFINITY),
      ...(batch.holdingChannels === undefined ? {} : { holding: batch.holdingChannels }),
      channels: Object.fromEntries(Object.entries(batch.offsets).map(([channelId, offsets]) => [channelId, { start: offsets.start, count: offsets.count }])),
    };
    this.planning = true;
    this.subscription.add(
      from(this.store.writePlan(plan)).subscribe({
        error: (error: unknown) => this.subscriber.error(error),
        complete: () => {
          this.planning = false;
          this.planned = batch;
          this.drain();
        },
      }),
    );
  }

  private hasQueued(): boolean {
    if (this.buffered > 0) return true;
    for (const queue of this.queues.values()) if (queue.length > 0) return true;
    return false;
  }

  private emit(batch: RecordBatch<R>): void {
    this.nextId = batch.id + 1;
    if (this.store !== undefined) this.awaitingCommit = true;
    const metrics = this.context.metrics;
    metrics.add('batches', 1);
    metrics.add('recordsIn', batch.rows.length);
    this.again = true;
    this.subscriber.next(batch);
  }

  private replayReady(plan: BatchPlan): boolean {
    for (const [channelId, planned] of Object.entries(plan.channels)) {
      let available = 0;
      for (const segment of this.queues.get(channelId) ?? []) available += segment.batch.records.length - segment.from;
      if (available < planned.count) return false;
    }
    return true;
  }

  /** Takes the next batch's records: exactly the plan's counts, or the fair share of the caps. */
  private form(id: number, replay: boolean, plannedWatermark: number | undefined, plan: BatchPlan | undefined): RecordBatch<R> {
    const channelIds = [...this.queues.keys()].sort();
    const allowance = plan === undefined ? this.allocate(channelIds) : new Map(Object.entries(plan.channels).map(([channelId, planned]) => [channelId, planned.count]));
    const taken: (readonly R[])[] = [];
    const rowIds: string[] = [];
    const rowEnds: number[] = [];
    let rowCount = 0;
    const offsets: Record<string, ChannelOffsets> = {};
    const acks: Acknowledge[] = [];
    for (const channelId of channelIds) {
      const queue = this.queues.get(channelId) as Segment<R>[];
      const head = queue[0];
      if (head === undefined) continue;
      const start: Cursor = { position: head.batch.position, skip: head.from };
      let end = start;
      let left = allowance.get(channelId) ?? 0;
      let count = 0;
      let moved = false;
      while (queue.length > 0) {
        const segment = queue[0] as Segment<R>;
        const records = segment.batch.records;
        const available = records.length - segment.from;
        // a replay stops right after its count: later empty batches belong to the next plan
        if (available === 0 && (plan === undefined || left > 0)) {
          acks.push(segment.batch.ack.bind(segment.batch));
          queue.shift();
          end = { position: segment.batch.next, skip: 0 };
          moved = true;
          continue;
        }
        if (left === 0) break;
        const take = Math.min(available, left);
        // packed records (the tunnel's) are sliced and joined packed: no record is built here
        taken.push(take === records.length ? records : sliceRecords(records, segment.from, segment.from + take));
        segment.from += take;
        left -= take;
        count += take;
        moved = true;
        if (segment.from === records.length) {
          acks.push(segment.batch.ack.bind(segment.batch));
          queue.shift();
          end = { position: segment.batch.next, skip: 0 };
        } else {
          end = { position: segment.batch.position, skip: segment.from };
        }
      }
      if (moved) offsets[channelId] = { start, count, end };
      if (count > 0) {
        rowCount += count;
        rowIds.push(channelId);
        rowEnds.push(rowCount);
      }
    }
    this.holdingMoved = false;
    // a replay holds the watermark with the channels its plan recorded (none: a plan written
    // before per-channel watermarks, replayed with the single-watermark rule it was run with)
    const holding = plan === undefined ? this.holdingChannels() : plan.holding;
    if (plan === undefined) this.lastHolding = new Set(holding);
    // a batch that is one whole source batch shares its array; otherwise one copy
    const rows: readonly R[] = taken.length === 0 ? [] : concatRecords(taken);
    this.buffered -= rows.length;
    return {
      id,
      rows,
      offsets,
      acks,
      replay,
      plannedWatermark,
      rowChannels: { ids: rowIds, ends: rowEnds },
      ...(holding === undefined ? {} : { holdingChannels: holding }),
      context: this.context,
      deadLetters: [],
      state: {},
    };
  }

  /** Fair shares of `maxRecords` among channels with records, each capped by `maxRecordsPerChannel`. */
  private allocate(channelIds: readonly string[]): Map<string, number> {
    const wanted = new Map<string, number>();
    for (const channelId of channelIds) {
      let available = 0;
      for (const segment of this.queues.get(channelId) ?? []) available += segment.batch.records.length - segment.from;
      if (available > 0) wanted.set(channelId, Math.min(available, this.maxPerChannel));
    }
    let total = 0;
    for (const n of wanted.values()) total += n;
    if (total <= this.maxRecords) return wanted;
    const granted = new Map<string, number>();
    const bySize = [...wanted].sort((a, b) => a[1] - b[1] || (a[0] < b[0] ? -1 : 1));
    let left = this.maxRecords;
    bySize.forEach(([channelId, n], i) => {
      const share = Math.min(n, Math.floor(left / (bySize.length - i)));
      granted.set(channelId, share);
      left -= share;
    });
    // what rounding left goes one record each to the channels still wanting the most; ties rotate
    // with the batch id, so no channel is always first
    const rotation = this.nextId % channelIds.length;
    const rank = (channelId: string): number => (channelIds.indexOf(channelId) - rotation + channelIds.length) % channelIds.length;
    const needy = [...granted.keys()]
      .filter((channelId) => (granted.get(channelId) as number) < (wanted.get(channelId) as number))
      .sort((a, b) => (wanted.get(b) as number) - (granted.get(b) as number) - ((wanted.get(a) as number) - (granted.get(a) as number)) || rank(a) - rank(b));
    for (const channelId of needy) {
      if (left === 0) break;
      granted.set(channelId, (granted.get(channelId) as number) + 1);
      left -= 1;
    }
    return granted;
  }
}

function describePlan(plan: BatchPlan): string {
  return Object.entries(plan.channels)
    .map(([channelId, planned]) => `${planned.count} records of channel '${channelId}'`)
    .join(', ');
}
