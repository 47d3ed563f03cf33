/**
 * Per-channel lag of a job, from what the tunnel tells a reader. The service gives no end offset
 * of a channel (DescribeTunnel's `channel_count` and `channel_rpo` describe what was consumed),
 * so the lag is what the job can know exactly:
 *
 * - **records**: read from the channel and not yet committed (written to the sink and
 *   acknowledged), plus `more` when the channel's last ReadRecords filled a response — the
 *   service holds more than the job has read;
 * - **seconds**: `now −` the commit time (the record's stream sequence timestamp) of the oldest
 *   record the job has not committed; when everything read is committed and the last read came
 *   back caught up, 0; when everything read is committed but the service holds more, `now −` the
 *   newest committed record's time (the channel's RPO). Base data records carry no time: no
 *   seconds.
 *
 * `trackChannelLag({ lag })` passes channel batches through unchanged but for `commit`, which also
 * tells `lag` that the batch's records are done; `lag.onEvent` must see the client's `read`,
 * `channel-opened` and `channel-closed` events. Bookkeeping is per batch, never per record (the
 * oldest and newest record of a batch are looked at).
 *
 *   tunnel     --a(3)----b(2)------|      a, b: batches of channel c (records)
 *   commit a   ------------^
 *   lag(c)     --3-------5--2--           records not committed; seconds from a's, then b's first record
 */
import { map, asyncScheduler, type OperatorFunction, type SchedulerLike } from 'rxjs';
import type { ChannelBatch, TunnelEvent } from '../tunnel/model.js';

export interface ChannelLagSnapshot {
  readonly channelId: string;
  /** records read and not yet committed */
  readonly records: number;
  /** the last ReadRecords filled a response: the service holds records not read yet */
  readonly more: boolean;
  /** see the module comment; undefined when unknown (base data, nothing committed yet) */
  readonly seconds?: number;
  /** records of this channel committed by this job */
  readonly committed: number;
  /** this job's client holds the channel open */
  readonly open: boolean;
}

interface Pending {
  readonly records: number;
  /** commit time (ms) of the batch's first record, when it has one */
  readonly firstMs: number | undefined;
  readonly lastMs: number | undefined;
}

interface ChannelEntry {
  readonly pending: Set<Pending>;
  caughtUp: boolean;
  committed: number;
  /** commit time (ms) of the newest committed record */
  committedMs: number | undefined;
  open: boolean;
}

const timeOf = (record: ChannelBatch['records'][number] | undefined): number | undefined => (record?.sequence === undefined ? undefined : Number(record.sequence.timestamp / 1000n));

export class ChannelLag {
  private readonly channels = new Map<string, ChannelEntry>();

  constructor(private readonly scheduler: SchedulerLike = asyncScheduler) {}

  private entry(channelId: string): ChannelEntry {
    let entry = this.channels.get(channelId);
    if (entry === undefined) {
      entry = { pending: new Set(), caughtUp: false, committed: 0, committedMs: undefined, open: true };
      this.channels.set(channelId, entry);
    }
    return entry;
  }

  /** the client's events: `read` (caught up or not), channels opened and closed */
  onEvent(event: TunnelEvent): void {
    if (event.kind === 'read') this.entry(event.channelId).caughtUp = event.caughtUp;
    else if (event.kind === 'channel-opened') {
      const entry = this.entry(event.channelId);
      entry.open = true;
      entry.caughtUp = false;
      // opened again (a lost session, a lease back from another worker): what it delivers now is
      // read afresh; batches of the earlier opening still in the pipeline are no longer counted
      // (an undercount until they commit, rather than counting records twice or forever)
      entry.pending.clear();
    } else if (event.kind === 'channel-closed') {
      const entry = this.channels.get(event.channelId);
      if (entry === undefined) return;
      entry.open = false;
      // a finished channel has nothing more to give; its records in flight still count
      if (event.reason === 'finished') entry.caughtUp = true;
    }
  }

  /** a batch read: its records are pending until `commit` is called on it */
  read(batch: ChannelBatch): ChannelBatch {
    const entry = this.entry(batch.channelId);
    if (batch.finished) entry.caughtUp = true;
    if (batch.records.length === 0) return batch;
    const pending: Pending = { records: batch.records.length, firstMs: timeOf(batch.records[0]), lastMs: timeOf(batch.records[batch.records.length - 1]) };
    entry.pending.add(pending);
    let done = false;
    return {
      ...batch,
      commit: () => {
        if (!done) {
          done = true;
          if (entry.pending.delete(pending)) {
            entry.committed += pending.records;
            if (pending.lastMs !== undefined) entry.committedMs = Math.max(entry.committedMs ?? pending.lastMs, pending.lastMs);
          }
        }
        return batch.commit();
      },
    };
  }

  /** The lag of every channel this job holds or has records of, open ones first, each by id. */
  snapshot(): ChannelLagSnapshot[] {
    const now = this.scheduler.now();
    const out: ChannelLagSnapshot[] = [];
    for (const [channelId, entry] of this.channels) {
      let records = 0;
      let oldest: number | undefined;
      let timed = true;
      for (const pending of entry.pending) {
        records += pending.records;
        if (pending.firstMs === undefined) timed = false;
        else oldest = oldest === undefined ? pending.firstMs : Math.min(oldest, pending.firstMs);
      }
      // a channel this job no longer holds (finished, or gone to another worker) has no lag of its own
      if (!entry.open && records === 0) continue;
      let seconds: number | undefined;
      if (records > 0) seconds = timed && oldest !== undefined ? Math.max(0, now - oldest) / 1000 : undefined;
      else if (entry.caughtUp) seconds = 0;
      else if (entry.committedMs !== undefined) seconds = Math.max(0, now - entry.committedMs) / 1000;
      out.push({ channelId, records, more: !entry.caughtUp, committed: entry.committed, open: entry.open, ...(seconds === undefined ? {} : { seconds }) });
    }
    const open = (id: string): number => (this.channels.get(id)?.open === true ? 0 : 1);
    return out.sort((a, b) => open(a.channelId) - open(b.channelId) || (a.channelId < b.channelId ? -1 : a.channelId > b.channelId ? 1 : 0));
  }
}

export interface TrackChannelLagOptions {
  /** where the lag is kept (and read with `snapshot()`); its scheduler gives the time */
  readonly lag: ChannelLag;
}

/** Channel batches through `options.lag`: see the module comment. */
export function trackChannelLag(options: TrackChannelLagOptions): OperatorFunction<ChannelBatch, ChannelBatch> {
  return map((batch) => options.lag.read(batch));
}
