/**
 * A channel's lag as the job knows it: records read and not committed, and seconds from the
 * commit time of the oldest of them (0 once everything is committed and the last read caught up).
 */
import fc from 'fast-check';
import { VirtualTimeScheduler, from, lastValueFrom, map, toArray } from 'rxjs';
import { testScheduler } from './helpers.js';
import { describe, expect, it } from 'vitest';
import { ChannelLag, trackChannelLag } from '../../lib/stream/channel-lag.js';
import type { ChannelBatch, CommitOutcome } from '../../lib/tunnel/model.js';
import type { ChangeRecord } from '../../lib/wire/types.js';

const record = (commitMs: number): ChangeRecord => ({ action: 'PUT_ROW', primaryKey: [], cells: [], sequence: { epoch: 0, timestamp: BigInt(commitMs) * 1000n, rowIndex: 0 } });

function batch(channelId: string, commitTimes: readonly number[], commits: string[] = [], finished = false): ChannelBatch {
  return {
    channelId,
    clientId: 'c1',
    fromToken: 't',
    nextToken: finished ? 'finished' : 't2',
    records: commitTimes.map(record),
    stream: true,
    finished,
    commit: () => {
      commits.push(channelId);
      return Promise.resolve<CommitOutcome>({ kind: 'committed', sequenceNumber: 1n });
    },
  };
}

describe('trackChannelLag', () => {
  it('passes batches through and counts their records as pending, seconds from the oldest (marbles)', () => {
    const scheduler = testScheduler();
    scheduler.run(({ cold, expectObservable }) => {
      const lag = new ChannelLag(scheduler);
      // records committed to the stream at 0 ms (a) and 5–6 ms (b, c on another channel)
      const source = cold('a 9ms b 9ms c|', { a: batch('p0', [0]), b: batch('p0', [5, 6]), c: batch('p1', [6]) });
      const seen = source.pipe(
        trackChannelLag({ lag }),
        map((b) => ({ channel: b.channelId, records: b.records.length, lag: lag.snapshot().map((s) => [s.channelId, s.records, s.seconds]) })),
      );
      expectObservable(seen).toBe('a 9ms b 9ms c|', {
        a: { channel: 'p0', records: 1, lag: [['p0', 1, 0]] },
        b: { channel: 'p0', records: 2, lag: [['p0', 3, 0.01]] },
        c: { channel: 'p1', records: 1, lag: [['p0', 3, 0.02], ['p1', 1, 0.014]] },
      });
    });
  });
});

describe('ChannelLag', () => {
  it('counts records read and not committed, and seconds from the oldest of them', async () => {
    const scheduler = new VirtualTimeScheduler();
    const lag = new ChannelLag(scheduler);
    const inner: string[] = [];
    lag.onEvent({ kind: 'read', channelId: 'a', records: 3, caughtUp: false });
    const [a1, a2] = await lastValueFrom(from([batch('a', [1_000, 1_500, 2_000], inner), batch('a', [2_500, 3_000], inner)]).pipe(trackChannelLag({ lag }), toArray()));
    scheduler.frame = 10_000;
    expect(lag.snapshot()).toEqual([{ channelId: 'a', records: 5, more: true, committed: 0, open: true, seconds: 9 }]);
    await a1?.commit();
    await a1?.commit(); // idempotent, as the client's
    expect(inner).toEqual(['a', 'a']);
    expect(lag.snapshot()).toEqual([{ channelId: 'a', records: 2, more: true, committed: 3, open: true, seconds: 7.5 }]);
    await a2?.commit();
    // all committed, the service holds more: behind by the newest committed record
    expect(lag.snapshot()).toEqual([{ channelId: 'a', records: 0, more: true, committed: 5, open: true, seconds: 7 }]);
    lag.onEvent({ kind: 'read', channelId: 'a', records: 0, caughtUp: true });
    expect(lag.snapshot()).toEqual([{ channelId: 'a', records: 0, more: false, committed: 5, open: true, seconds: 0 }]);
  });

  it('open channels first; a finished one is caught up; base data has no seconds; one gone elsewhere is not listed', () => {
    const scheduler = new VirtualTimeScheduler();
    const lag = new ChannelLag(scheduler);
    for (const id of ['c', 'b', 'a']) lag.onEvent({ kind: 'channel-opened', channelId: id, version: 1n, token: 't', sequenceNumber: 0n });
    const base: ChannelBatch = { ...batch('a', [], [], true), records: [{ action: 'PUT_ROW', primaryKey: [], cells: [] }] };
    lag.read(base);
    lag.onEvent({ kind: 'channel-closed', channelId: 'a', reason: 'finished' });
    lag.onEvent({ kind: 'channel-closed', channelId: 'c', reason: 'revoked' });
    expect(lag.snapshot()).toEqual([
      { channelId: 'b', records: 0, more: true, committed: 0, open: true },
      { channelId: 'a', records: 1, more: false, committed: 0, open: false },
    ]);
  });

  it('a channel opened again counts only what it reads afresh', async () => {
    const scheduler = new VirtualTimeScheduler();
    const lag = new ChannelLag(scheduler);
    const first = lag.read(batch('a', [100, 200]));
    lag.onEvent({ kind: 'channel-closed', channelId: 'a', reason: 'client-lost' });
    lag.onEvent({ kind: 'channel-opened', channelId: 'a', version: 2n, token: 't', sequenceNumber: 0n });
    const again = lag.read(batch('a', [100, 200, 300]));
    scheduler.frame = 1_100;
    expect(lag.snapshot()).toEqual([{ channelId: 'a', records: 3, more: true, committed: 0, open: true, seconds: 1 }]);
    await first.commit();
    await again.commit();
    expect(lag.snapshot()).toEqual([{ channelId: 'a', records: 0, more: true, committed: 3, open: true, seconds: 0.8 }]);
  });

  it('equals a direct count over any interleaving of reads and commits on channels out of step', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.record({ channel: fc.constantFrom('p0', 'p1', 'p2'), records: fc.integer({ min: 1, max: 50 }), commitNow: fc.boolean() }), { minLength: 1, maxLength: 40 }),
        async (steps) => {
          const scheduler = new VirtualTimeScheduler();
          const lag = new ChannelLag(scheduler);
          const held: { channel: string; batch: ChannelBatch; first: number; count: number }[] = [];
          let clock = 0;
          for (const step of steps) {
            const times = Array.from({ length: step.records }, () => (clock += 10));
            const tracked = lag.read(batch(step.channel, times));
            held.push({ channel: step.channel, batch: tracked, first: times[0] as number, count: step.records });
            if (step.commitNow) {
              const oldest = held.find((entry) => entry.channel === step.channel);
              if (oldest !== undefined) {
                held.splice(held.indexOf(oldest), 1);
                await oldest.batch.commit();
              }
            }
          }
          scheduler.frame = clock + 1_000;
          for (const snapshot of lag.snapshot()) {
            const mine = held.filter((entry) => entry.channel === snapshot.channelId);
            expect(snapshot.records).toBe(mine.reduce((sum, entry) => sum + entry.count, 0));
            if (mine.length > 0) expect(snapshot.seconds).toBe((scheduler.frame - Math.min(...mine.map((entry) => entry.first))) / 1000);
          }
        },
      ),
      { numRuns: 100 },
    );
  });
});
