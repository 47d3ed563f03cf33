import { lastValueFrom, of, toArray } from 'rxjs';
import { describe, expect, it } from 'vitest';
import type { ChannelBatch, CommitOutcome } from '../../lib/tunnel/model.js';
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
    const batches = await lastValueFrom(source.open({ p0: 't1' }).pipe(toArray()));
    expect(opened).toEqual([{ p0: 't1' }]);
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

  it('refuses positions that are not token strings', async () => {
    const source = channelBatchSource(() => of());
    expect(() => source.open({ p0: 3 })).toThrow(/token strings/);
  });
});
