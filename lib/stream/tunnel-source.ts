/**
 * The tunnel client as a replayable source: each `ChannelBatch` becomes a `SourceBatch` whose
 * position is the token it was read from, whose `next` is the token after it, and whose ack is
 * the channel commit (tunnel Checkpoint). `open(from)` starts the listed channels at the given
 * tokens (the tunnel's `startTokens`, used at the first opening of each channel); other channels
 * start at the service checkpoint.
 *
 * A channel that the service takes away and gives back within one run restarts at the service
 * checkpoint, which may lie behind records already taken into a micro-batch: `microBatch` then
 * stops with a SourceContractError rather than count records twice, and a restart resumes
 * exactly from the checkpoint location.
 */
import { map, type Observable } from 'rxjs';
import type { ChangeRecord } from '../wire/types.js';
import type { ChannelBatch } from '../tunnel/model.js';
import type { TunnelOptions } from '../tunnel/options.js';
import { tunnel } from '../tunnel/tunnel.js';
import { replayable, type Position, type ReplayableObservable, type SourceBatch } from './source.js';

/** Commits that did not go through reject, so `commitAfter` counts them. */
export function fromChannelBatch(batch: ChannelBatch): SourceBatch<ChangeRecord> {
  return {
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

/** A replayable source over any opener of channel batches (`tunnel()` with start tokens, a fake in tests). */
export function channelBatchSource(openTunnel: (startTokens: Readonly<Record<string, string>> | undefined) => Observable<ChannelBatch>): ReplayableObservable<ChangeRecord> {
  return replayable({
    open(from: Readonly<Record<string, Position>> | undefined) {
      let startTokens: Record<string, string> | undefined;
      if (from !== undefined) {
        startTokens = {};
        for (const [channelId, position] of Object.entries(from)) {
          if (typeof position !== 'string') throw new TypeError(`tunnel positions are token strings; channel '${channelId}' has ${JSON.stringify(position)}`);
          startTokens[channelId] = position;
        }
      }
      return openTunnel(startTokens).pipe(map(fromChannelBatch));
    },
  });
}

/** `tunnel(options)` as the source of a checkpointed pipeline. */
export function tunnelSource(options: Omit<TunnelOptions, 'startTokens'>): ReplayableObservable<ChangeRecord> {
  return channelBatchSource((startTokens) => tunnel(startTokens === undefined ? options : { ...options, startTokens }));
}
