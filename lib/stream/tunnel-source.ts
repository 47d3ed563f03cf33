/**
 * The tunnel client as a replayable source: each `ChannelBatch` becomes a `SourceBatch` whose
 * position is the token it was read from, whose `next` is the token after it, and whose ack is
 * the channel commit (tunnel Checkpoint). `open(from)` starts the listed channels at the given
 * tokens (the tunnel's `startTokens`, used at the first opening of each channel); other channels
 * start at the service checkpoint.
 *
 * A channel that the service takes away and gives back within one run — a lost tunnel session
 * (heartbeat timeout, a service restart), or another worker that held it meanwhile — is opened
 * again as `reopen` says:
 *
 * - 'checkpoint' (default): at the service checkpoint, which may lie behind records already taken
 *   into a micro-batch: `microBatch` then stops with a SourceContractError rather than count
 *   records twice (or, with `positionJumps: 'follow'`, drops what it queued of the channel — right
 *   for stateless jobs that share the tunnel);
 * - 'resume': right after the last batch this source delivered of the channel, so the pipeline
 *   goes on without a gap or a record twice. Every record delivered before is still held by the
 *   pipeline (queued, in a batch, or committed to the checkpoint location), and the service
 *   checkpoint can only be behind it while this pipeline is the channel's sole consumer — what
 *   aggregating jobs require. Acknowledgements of batches read by the lost client no longer
 *   reach the service; the first one of the new client covers them.
 *
 * For event time the source also reports channels (see source.ts): an `opened` note when the
 * client opens a channel (before its first read), `caughtUp` on a batch whose ReadRecords did not
 * fill a response (stream) or ended the channel, a `caught-up` note when a read came back empty
 * and caught up, and a `closed` note when a channel finished. A channel closed for another reason
 * (lost session, lease moved, read error) stays known: it comes back and holds the watermark.
 */
import { Observable } from 'rxjs';
import type { ChangeRecord } from '../wire/types.js';
import { FINISHED, type ChannelBatch, type TunnelEvent } from '../tunnel/model.js';
import type { StartTokens, TunnelOptions } from '../tunnel/options.js';
import { tunnel } from '../tunnel/tunnel.js';
import { channelNote, replayable, type Position, type ReplayableObservable, type SourceBatch } from './source.js';

/** Commits that did not go through reject, so `commitAfter` counts them. */
export function fromChannelBatch(batch: ChannelBatch, caughtUp?: boolean): SourceBatch<ChangeRecord> {
  return {
    ...(caughtUp === undefined ? {} : { caughtUp }),
    channelId: batch.channelId,
    position: batch.fromToken,
    next: batch.nextToken,
    records: batch.records,
    ack: () =>
      batch.commit().then((outcome) => {
        if (outcome.kind === 'failed') throw outcome.error;
      }),
  };
}

export interface ChannelBatchSourceOptions {
  /** where a channel opened again within one run starts (see above); default 'checkpoint' */
  readonly reopen?: 'checkpoint' | 'resume';
}

/**
 * Opens the tunnel at `startTokens`; `onEvent`, when given, must receive the client's events
 * (`tunnel()`'s `onEvent`), synchronously and in order with the batches, for the channel notes.
 */
export type TunnelOpener = (startTokens: StartTokens | undefined, onEvent?: (event: TunnelEvent) => void) => Observable<ChannelBatch>;

/**
 * Adds the channel notes and `caughtUp` flags to the batches of one opening. The client reports a
 * read (`read` event) just before it delivers the read's batch, so the flag of the last read of a
 * channel belongs to the next batch of that channel.
 */
function withChannelNotes(
  open: (onEvent: (event: TunnelEvent) => void) => Observable<ChannelBatch>,
  position: (batch: ChannelBatch) => void,
  finished: readonly string[],
): Observable<SourceBatch<ChangeRecord>> {
  return new Observable<SourceBatch<ChangeRecord>>((subscriber) => {
    // channels opened at the FINISHED token ended in an earlier run: the service hands them out
    // no more, so they are closed before anything else
    for (const channelId of finished) subscriber.next(channelNote(channelId, 'closed'));
    const lastRead = new Map<string, boolean>();
    const onEvent = (event: TunnelEvent): void => {
      if (subscriber.closed) return;
      if (event.kind === 'channel-opened') {
        lastRead.delete(event.channelId);
        subscriber.next(channelNote(event.channelId, 'opened'));
      } else if (event.kind === 'read') {
        lastRead.set(event.channelId, event.caughtUp);
        if (event.records === 0 && event.caughtUp) subscriber.next(channelNote(event.channelId, 'caught-up'));
      } else if (event.kind === 'channel-closed' && event.reason === 'finished') {
        // only a finished channel is gone for good; one closed for any other reason (a lost
        // session, a lease moved, an error) comes back and keeps holding the watermark meanwhile
        lastRead.delete(event.channelId);
        subscriber.next(channelNote(event.channelId, 'closed'));
      }
    };
    return open(onEvent).subscribe({
      next: (batch) => {
        position(batch);
        // the channel ends with this batch: closed before it, so it never counts as merely idle
        if (batch.finished) subscriber.next(channelNote(batch.channelId, 'closed'));
        subscriber.next(fromChannelBatch(batch, batch.finished || lastRead.get(batch.channelId) === true));
      },
      error: (error: unknown) => subscriber.error(error),
      complete: () => subscriber.complete(),
    });
  });
}

/** A replayable source over any opener of channel batches (`tunnel()` with start tokens, a fake in tests). */
export function channelBatchSource(openTunnel: TunnelOpener, options: ChannelBatchSourceOptions = {}): ReplayableObservable<ChangeRecord> {
  return replayable({
    open(from: Readonly<Record<string, Position>> | undefined) {
      let startTokens: Record<string, string> | undefined;
      const finished: string[] = [];
      if (from !== undefined) {
        startTokens = {};
        for (const [channelId, position] of Object.entries(from)) {
          if (typeof position !== 'string') throw new TypeError(`tunnel positions are token strings; channel '${channelId}' has ${JSON.stringify(position)}`);
          startTokens[channelId] = position;
          if (position === FINISHED) finished.push(channelId);
        }
      }
      if (options.reopen !== 'resume') return withChannelNotes((onEvent) => openTunnel(startTokens, onEvent), () => undefined, finished);
      // per channel, the token after the last batch delivered downstream in this opening
      const delivered = new Map<string, string>();
      const given = startTokens;
      const resumeAt = (channelId: string): string | undefined => delivered.get(channelId) ?? given?.[channelId];
      return withChannelNotes(
        (onEvent) => openTunnel(resumeAt, onEvent),
        (batch) => delivered.set(batch.channelId, batch.nextToken),
        finished,
      );
    },
  });
}

/** `tunnel(options)` as the source of a checkpointed pipeline. */
export function tunnelSource(options: Omit<TunnelOptions, 'startTokens'>, sourceOptions: ChannelBatchSourceOptions = {}): ReplayableObservable<ChangeRecord> {
  return channelBatchSource(
    (startTokens, onEvent) =>
      tunnel({
        ...options,
        ...(startTokens === undefined ? {} : { startTokens }),
        onEvent: (event) => {
          options.onEvent?.(event);
          onEvent?.(event);
        },
      }),
    sourceOptions,
  );
}
