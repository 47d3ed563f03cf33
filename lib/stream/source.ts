/**
 * The source contract the pipeline starts from, and an in-memory replayable source.
 *
 * What a source (the tunnel client) must implement to be used with a checkpoint:
 *
 * - `open(from)` returns a cold Observable of {@link SourceBatch}es. For every channel listed in
 *   `from` it starts reading at exactly that position (not at its own upstream checkpoint);
 *   channels not listed start wherever the source would start on its own (the tunnel's
 *   checkpoints). Unsubscribing stops reading.
 * - Within a channel, batches arrive in order and `batch.position` equals the previous batch's
 *   `next`. Channels may interleave freely.
 * - Replay: opening a channel at a `position` a batch once had yields that batch's records again,
 *   first and in the same order (more records may follow them, and chunking may differ).
 * - Positions are opaque to the pipeline but must survive `JSON.stringify`/`JSON.parse` unchanged
 *   (the tunnel uses its token strings).
 * - `ack()` means "every record of this batch is durably processed": the source may commit `next`
 *   upstream (tunnel Checkpoint). Acks of one channel come in order; calling one twice is harmless;
 *   a rejected ack is only counted (the pipeline's own checkpoint already holds the position).
 * - Backpressure: a source should stop reading a channel while it has many unacknowledged batches,
 *   so memory stays bounded when the sink is slower than the feed.
 * - Event time (optional, but needed for a watermark that does not depend on read timing): a
 *   source makes each channel known before its first records with an `opened` note, sets
 *   `caughtUp` on a batch after which the service had no more records for the channel (or sends a
 *   `caught-up` note when a read came back empty), and a `closed` note when the channel leaves
 *   this reader. A known channel that is not caught up holds the job watermark back; a caught-up
 *   (idle) one does not, until it delivers again (see with-watermark.ts). Notes are
 *   {@link SourceBatch}es with `note` set: no records, their positions are ignored, never acked.
 *
 * Without a checkpoint, any `Observable<SourceBatch>` can feed `microBatch`.
 */
import { Observable, type SchedulerLike } from 'rxjs';

/** JSON values: what positions and persisted state reduce to. */
export type JsonValue = null | boolean | number | string | readonly JsonValue[] | { readonly [key: string]: JsonValue };

/** An opaque, JSON-serialisable per-channel resume position chosen by the source. */
export type Position = JsonValue;

export interface SourceBatch<R> {
  readonly channelId: string;
  /** where this batch was read from: opening the channel here yields these records first */
  readonly position: Position;
  /** the position after this batch's last record */
  readonly next: Position;
  readonly records: readonly R[];
  /** the batch is durably processed: commit `next` upstream */
  ack(): void | PromiseLike<unknown>;
  /** after this batch the service had no more records for the channel (it is idle for now) */
  readonly caughtUp?: boolean;
  /** a channel note rather than a batch (see the contract above) */
  readonly note?: ChannelNote;
}

export type ChannelNote = 'opened' | 'caught-up' | 'closed';

/** A note about a channel: no records, no position. */
export function channelNote<R>(channelId: string, note: ChannelNote): SourceBatch<R> {
  return { channelId, position: null, next: null, records: [], ack: () => undefined, note };
}

export interface ReplayableSource<R> {
  open(from: Readonly<Record<string, Position>> | undefined): Observable<SourceBatch<R>>;
}

/** An Observable of the source's own start positions that can also be re-opened at recorded ones. */
export type ReplayableObservable<R> = Observable<SourceBatch<R>> & ReplayableSource<R>;

export function isReplayable<R>(source: Observable<SourceBatch<R>>): source is ReplayableObservable<R> {
  return typeof (source as Partial<ReplayableSource<R>>).open === 'function';
}

/** Turns a replayable source into the Observable `microBatch` is piped onto. */
export function replayable<R>(source: ReplayableSource<R>): ReplayableObservable<R> {
  const live = new Observable<SourceBatch<R>>((subscriber) => source.open(undefined).subscribe(subscriber));
  return Object.assign(live, { open: (from: Readonly<Record<string, Position>> | undefined) => source.open(from) });
}

export interface MemorySourceOptions {
  /** emit one source batch per `period` on `scheduler`; without it everything is emitted synchronously */
  readonly period?: number;
  readonly scheduler?: SchedulerLike;
  /** complete after the last batch (default) or stay open like a live feed */
  readonly complete?: boolean;
  /**
   * announce every channel with an `opened` note when opened, and mark each channel's last batch
   * `caughtUp` (default false: plain batches only)
   */
  readonly notes?: boolean;
}

export interface AckRecord {
  readonly channelId: string;
  readonly position: Position;
  readonly next: Position;
}

export interface MemorySource<R> extends ReplayableObservable<R> {
  /** acknowledgements received, in call order */
  readonly acks: readonly AckRecord[];
  /** per channel, the highest record index acknowledged */
  acknowledged(channelId: string): number;
  /** how many times the source was opened, and from where */
  readonly opens: readonly (Readonly<Record<string, Position>> | undefined)[];
}

/**
 * A replayable source over pre-split batches per channel: `{ a: [[r1, r2], [r3]] }` delivers
 * channel `a` as two batches. Positions are record indexes within the channel, so a batch's
 * `position` is the index of its first record. Channels are interleaved round-robin in key order.
 */
export function memorySource<R>(
  channels: Readonly<Record<string, readonly (readonly R[])[]>>,
  options: MemorySourceOptions = {},
): MemorySource<R> {
  const acks: AckRecord[] = [];
  const opens: (Readonly<Record<string, Position>> | undefined)[] = [];
  const acknowledged = new Map<string, number>();
  const channelIds = Object.keys(channels).sort();

  const batchesOf = (channelId: string, from: Position | undefined): SourceBatch<R>[] => {
    const chunks = channels[channelId] ?? [];
    const out: SourceBatch<R>[] = [];
    let index = 0;
    const start = from === undefined ? 0 : from;
    if (typeof start !== 'number') throw new TypeError(`memorySource: position of channel '${channelId}' is not a record index: ${JSON.stringify(start)}`);
    for (const [c, chunk] of chunks.entries()) {
      const position = index;
      index += chunk.length;
      if (position < start) {
        if (index > start) throw new RangeError(`memorySource: position ${start} of channel '${channelId}' is not a batch boundary`);
        continue;
      }
      const next = index;
      out.push({
        channelId,
        position,
        next,
        records: chunk,
        ...(options.notes === true && c === chunks.length - 1 ? { caughtUp: true } : {}),
        ack: () => {
          acks.push({ channelId, position, next });
          acknowledged.set(channelId, Math.max(acknowledged.get(channelId) ?? 0, next));
        },
      });
    }
    return out;
  };

  const open = (from: Readonly<Record<string, Position>> | undefined): Observable<SourceBatch<R>> =>
    new Observable<SourceBatch<R>>((subscriber) => {
      opens.push(from);
      const perChannel = channelIds.map((id) => batchesOf(id, from?.[id]));
      const ordered: SourceBatch<R>[] = options.notes === true ? channelIds.map((id) => channelNote<R>(id, 'opened')) : [];
      if (options.notes === true) perChannel.forEach((batches, i) => batches.length === 0 && ordered.push(channelNote<R>(channelIds[i] as string, 'caught-up')));
      for (let round = 0; perChannel.some((batches) => round < batches.length); round++) {
        for (const batches of perChannel) {
          const batch = batches[round];
          if (batch !== undefined) ordered.push(batch);
        }
      }
      const complete = options.complete ?? true;
      if (options.period === undefined) {
        for (const batch of ordered) {
          if (subscriber.closed) return;
          subscriber.next(batch);
        }
        if (complete) subscriber.complete();
        return;
      }
      const { period, scheduler } = options;
      if (scheduler === undefined) throw new TypeError('memorySource: `period` needs a `scheduler`');
      let next = 0;
      const tick = (): void => {
        const batch = ordered[next++];
        if (batch !== undefined) subscriber.next(batch);
        if (next < ordered.length) subscription.add(scheduler.schedule(tick, period));
        else if (complete) subscriber.complete();
      };
      const subscription = scheduler.schedule(tick, period);
      return subscription;
    });

  const live = open(undefined);
  return Object.assign(live, {
    open,
    acks,
    opens,
    acknowledged: (channelId: string) => acknowledged.get(channelId) ?? 0,
  });
}
