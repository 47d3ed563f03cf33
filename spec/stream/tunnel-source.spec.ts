import { lastValueFrom, Observable, of, toArray } from 'rxjs';
import { describe, expect, it } from 'vitest';
import type { ChannelBatch, CommitOutcome } from '../../lib/tunnel/model.js';
import type { StartTokens } from '../../lib/tunnel/options.js';
import { channelBatchSource } from '../../lib/stream/tunnel-source.js';
import { putOrder } from './orders.js';

const channelBatch = (channelId: string, fromToken: string, nextToken: string, outcome: CommitOutcome, commits: string[]): ChannelBatch => ({
  channelId,
  clientId: 'client-1',
  fromToken,
  nextToken,
  records: [putOrder('u', `o-${fromToken}`, 1, 1)],
  stream: true,
  finished: nextToken === 'finished',
  commit: () => {
    commits.push(`${channelId}:${nextToken}`);
    return Promise.resolve(outcome);
  },
});

describe('tunnel as a replayable source', () => {
  it('maps tokens to positions, acks to channel commits, and opens channels at recorded tokens', async () => {
    const commits: string[] = [];
    const opened: unknown[] = [];
    const source = channelBatchSource((startTokens) => {
      opened.push(startTokens);
      return of(
        channelBatch('p0', 't1', 't2', { kind: 'committed', sequenceNumber: 1n }, commits),
        channelBatch('p1', 's1', 'finished', { kind: 'failed', error: new Error('OTSTunnelExpired') }, commits),
      );
    });
    const delivered = await lastValueFrom(source.open({ p0: 't1' }).pipe(toArray()));
    expect(opened).toEqual([{ p0: 't1' }]);
    // p1's last batch: the channel is closed just before it, so it never counts as merely idle
    expect(delivered.map((batch) => batch.note ?? batch.channelId)).toEqual(['p0', 'closed', 'p1']);
    const batches = delivered.filter((batch) => batch.note === undefined);
    expect(batches.map((batch) => [batch.channelId, batch.position, batch.next, batch.records.length])).toEqual([
      ['p0', 't1', 't2', 1],
      ['p1', 's1', 'finished', 1],
    ]);
    await expect(batches[0]?.ack()).resolves.toBeUndefined();
    await expect(batches[1]?.ack()).rejects.toThrow('OTSTunnelExpired');
    expect(commits).toEqual(['p0:t2', 'p1:finished']);
    await lastValueFrom(source.pipe(toArray()));
    expect(opened).toEqual([{ p0: 't1' }, undefined]);
  });

  /**
   * A fake worker that opens p0 twice in one run, as a lost session does. Like the real one it
   * consults a record of start tokens at a channel's first opening only and a function at every
   * opening, falling back to the service checkpoint — which stayed at t1, where the run began.
   */
  const reopeningTunnel = (asked: (string | undefined)[]) => (startTokens: StartTokens | undefined) =>
    new Observable<ChannelBatch>((subscriber) => {
      let openings = 0;
      const startAt = (): string => {
        const token = typeof startTokens === 'function' ? (startTokens('p0') as string | undefined) : openings++ === 0 ? startTokens?.['p0'] : undefined;
        asked.push(token);
        return token ?? 't1';
      };
      const log = ['t1', 't2', 't3', 't4'];
      const serve = (from: string, batches: number): void => {
        for (let i = log.indexOf(from); i < log.indexOf(from) + batches; i++) {
          subscriber.next(channelBatch('p0', log[i] as string, log[i + 1] as string, { kind: 'skipped', reason: 'channel-closed' }, []));
        }
      };
      serve(startAt(), 2); // first session: t1→t2, t2→t3, then the session is lost
      serve(startAt(), 1); // second session
      subscriber.complete();
    });

  it("with reopen 'checkpoint' (default) a channel opened again starts at the service checkpoint", async () => {
    const asked: (string | undefined)[] = [];
    const batches = await lastValueFrom(channelBatchSource(reopeningTunnel(asked)).open({ p0: 't1' }).pipe(toArray()));
    // t1→t2 again: microBatch sees p0 jump back and ends the stream (or follows, for stateless jobs)
    expect(asked).toEqual(['t1', undefined]);
    expect(batches.map((batch) => `${batch.position}→${batch.next}`)).toEqual(['t1→t2', 't2→t3', 't1→t2']);
  });

  it("with reopen 'resume' a channel opened again starts right after the last batch delivered", async () => {
    const asked: (string | undefined)[] = [];
    const batches = await lastValueFrom(channelBatchSource(reopeningTunnel(asked), { reopen: 'resume' }).open({ p0: 't1' }).pipe(toArray()));
    expect(asked).toEqual(['t1', 't3']);
    expect(batches.map((batch) => `${batch.position}→${batch.next}`)).toEqual(['t1→t2', 't2→t3', 't3→t4']);
    // opened without recorded positions: the first opening starts at the service checkpoint
    const fresh: (string | undefined)[] = [];
    await lastValueFrom(channelBatchSource(reopeningTunnel(fresh), { reopen: 'resume' }).open(undefined).pipe(toArray()));
    expect(fresh).toEqual([undefined, 't3']);
  });

  it('closes the channels a checkpoint left at the finished token before anything else (the service hands them out no more)', async () => {
    const commits: string[] = [];
    const source = channelBatchSource(() => of(channelBatch('p2', 't1', 't2', { kind: 'committed', sequenceNumber: 1n }, commits)));
    const batches = await lastValueFrom(source.open({ p0: 'finished', p1: 't7', p2: 't1' }).pipe(toArray()));
    expect(batches.map((batch) => [batch.channelId, batch.note ?? batch.position])).toEqual([
      ['p0', 'closed'],
      ['p2', 't1'],
    ]);
    const fresh = await lastValueFrom(source.open(undefined).pipe(toArray()));
    expect(fresh.map((batch) => batch.note)).toEqual([undefined]);
  });

  it('refuses positions that are not token strings', async () => {
    const source = channelBatchSource(() => of());
    expect(() => source.open({ p0: 3 })).toThrow(/token strings/);
  });
});
