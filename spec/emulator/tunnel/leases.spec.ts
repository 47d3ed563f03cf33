import * as E from 'fp-ts/lib/Either.js';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  connectClient,
  expireClients,
  fairShare,
  heartbeat,
  ownsChannel,
  releaseClient,
  type Lease,
  type ReportedChannel,
} from '../../../lib/emulator/tunnel/leases.js';
import type { Channel, Tunnel } from '../../../lib/emulator/tunnel/state.js';
import { stageOf } from '../../../lib/emulator/tunnel/state.js';

const channel = (id: string, type: 'BaseData' | 'Stream'): Channel =>
  type === 'BaseData'
    ? { id, type, status: 'WAIT', version: 0, checkpoint: 'token', sequenceNumber: 0, count: 0, rpoUs: 0 }
    : { id, type, partition: Number(id.slice(1, 2)), status: 'WAIT', version: 0, checkpoint: 'token', sequenceNumber: 0, count: 0, rpoUs: 0 };

const tunnel = (channels: readonly Channel[]): Tunnel => ({
  id: 't1',
  name: 'tun',
  table: 'orders',
  type: 'BaseAndStream',
  createdAt: 0,
  channels,
  clients: [],
});

const streamChannels = (n: number): Channel[] => Array.from({ length: n }, (_, i) => channel(`p${i}_0`, 'Stream'));

const client = (id: string, now: number, timeoutSec = 300) => ({ id, tag: 'host', timeoutSec, lastHeartbeat: now });

const beat = (t: Tunnel, clientId: string, reported: readonly ReportedChannel[], now: number) => {
  const result = heartbeat(t, clientId, reported, now);
  if (E.isLeft(result)) throw new Error(`heartbeat of ${clientId} refused`);
  return result.right;
};

/**
 * A client that follows the SDK state machine closely enough for the server rules: it keeps
 * what the response lists (server wins on equal or newer versions), gives CLOSING channels back
 * with CLOSE v+1 on the next heartbeat, and may finish base channels with TERMINATED v+1.
 */
class ModelClient {
  readonly channels = new Map<string, ReportedChannel>();
  constructor(readonly id: string) {}

  report(): ReportedChannel[] {
    return [...this.channels.values()];
  }

  merge(leases: readonly Lease[]): void {
    const next = new Map<string, ReportedChannel>();
    for (const lease of leases) {
      const local = this.channels.get(lease.id);
      if (local !== undefined && local.version > lease.version) next.set(lease.id, local);
      else if (lease.status === 'CLOSING') next.set(lease.id, { id: lease.id, version: lease.version + 1, status: 'CLOSE' });
      else next.set(lease.id, lease);
    }
    this.channels.clear();
    for (const [id, c] of next) this.channels.set(id, c);
  }

  finish(channelId: string): void {
    const local = this.channels.get(channelId);
    if (local?.status === 'OPEN') this.channels.set(channelId, { id: channelId, version: local.version + 1, status: 'TERMINATED' });
  }

  beat(t: Tunnel, now: number): Tunnel {
    const result = beat(t, this.id, this.report(), now);
    this.merge(result.leases);
    return result.tunnel;
  }
}

const ownedCounts = (t: Tunnel): Map<string, number> => {
  const counts = new Map<string, number>(t.clients.map((c) => [c.id, 0]));
  for (const c of t.channels) if (c.owner !== undefined && c.status === 'OPEN') counts.set(c.owner, (counts.get(c.owner) ?? 0) + 1);
  return counts;
};

describe('fairShare', () => {
  it('divides every channel, odd ones to the earliest clients', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 64 }), fc.integer({ min: 1, max: 16 }), (channels, clients) => {
        const shares = Array.from({ length: clients }, (_, i) => fairShare(channels, clients, i));
        expect(shares.reduce((a, b) => a + b, 0)).toBe(channels);
        expect(Math.max(...shares) - Math.min(...shares)).toBeLessThanOrEqual(1);
        expect([...shares].sort((a, b) => b - a)).toEqual(shares);
      }),
    );
  });
});

describe('heartbeat leasing', () => {
  it('refuses a client it does not know (OTSResourceGone upstream)', () => {
    expect(heartbeat(tunnel(streamChannels(2)), 'ghost', [], 0)).toEqual(E.left('unknownClient'));
  });

  it('gives a lone client every channel with version 1, and keeps returning them', () => {
    let t = connectClient(tunnel(streamChannels(4)), client('a', 0));
    const first = beat(t, 'a', [], 0);
    expect(first.leases).toEqual(streamChannels(4).map((c) => ({ id: c.id, version: 1, status: 'OPEN' })));
    t = first.tunnel;
    const second = beat(t, 'a', first.leases, 1000);
    expect(second.leases).toEqual(first.leases);
    expect(ownsChannel(second.tunnel, 'a', 'p0_0')).toBe(true);
    expect(ownsChannel(second.tunnel, 'b', 'p0_0')).toBe(false);
  });

  it('hands out base channels first and stream channels only once every base channel terminated', () => {
    let t = connectClient(tunnel([...streamChannels(2), channel('BaseData_0', 'BaseData')]), client('a', 0));
    const a = new ModelClient('a');
    t = a.beat(t, 0);
    expect(a.report().map((c) => c.id)).toEqual(['BaseData_0']);
    expect(stageOf(t)).toBe('ProcessBaseData');
    a.finish('BaseData_0');
    t = a.beat(t, 1);
    expect(t.channels.find((c) => c.id === 'BaseData_0')).toMatchObject({ status: 'TERMINATED', version: 2 });
    expect(t.channels.find((c) => c.id === 'BaseData_0')?.owner).toBeUndefined();
    expect(a.report().map((c) => c.id).sort()).toEqual(['p0_0', 'p1_0']);
    expect(stageOf(t)).toBe('ProcessStream');
  });

  it('moves channels to a new client through CLOSING → CLOSE, never lowering a version', () => {
    let t = connectClient(tunnel(streamChannels(4)), client('a', 0));
    const a = new ModelClient('a');
    const b = new ModelClient('b');
    t = a.beat(t, 0);
    t = connectClient(t, client('b', 0));
    t = b.beat(t, 1);
    expect(b.report()).toEqual([]); // nothing free yet
    const revoke = beat(t, 'a', a.report(), 2);
    expect(revoke.leases.filter((l) => l.status === 'CLOSING')).toEqual([
      { id: 'p2_0', version: 2, status: 'CLOSING' },
      { id: 'p3_0', version: 2, status: 'CLOSING' },
    ]);
    // the owner has not reacted yet: CLOSING is repeated with the same version
    const again = beat(revoke.tunnel, 'a', a.report(), 3);
    expect(again.leases).toEqual(revoke.leases);
    a.merge(again.leases);
    t = a.beat(again.tunnel, 4); // reports CLOSE v3
    expect(t.channels.filter((c) => c.status === 'CLOSE').map((c) => [c.id, c.version])).toEqual([
      ['p2_0', 3],
      ['p3_0', 3],
    ]);
    t = b.beat(t, 5);
    expect(b.report()).toEqual([
      { id: 'p2_0', version: 4, status: 'OPEN' },
      { id: 'p3_0', version: 4, status: 'OPEN' },
    ]);
    expect(a.report().map((c) => c.id)).toEqual(['p0_0', 'p1_0']);
  });

  it('ignores reports from a client that does not own the channel and stale versions', () => {
    let t = connectClient(connectClient(tunnel(streamChannels(2)), client('a', 0)), client('b', 0));
    const a = new ModelClient('a');
    t = a.beat(t, 0);
    const before = t.channels;
    // p0_0 is at version 1, held by a
    t = beat(t, 'b', [{ id: 'p0_0', version: 2, status: 'CLOSE' }], 1).tunnel;
    t = beat(t, 'a', [{ id: 'p0_0', version: 0, status: 'CLOSE' }], 2).tunnel;
    t = beat(t, 'a', [{ id: 'p0_0', version: 1, status: 'TERMINATED' }], 3).tunnel;
    expect(t.channels.find((c) => c.id === 'p0_0')).toEqual(before.find((c) => c.id === 'p0_0'));
  });

  it('refuses a report of a channel the tunnel does not have, or a version ahead of its own', () => {
    let t = connectClient(connectClient(tunnel(streamChannels(2)), client('a', 0)), client('b', 0));
    t = new ModelClient('a').beat(t, 0);
    const held = t.channels.find((c) => c.id === 'p0_0')!;
    expect(held).toMatchObject({ owner: 'a', version: 1 });
    expect(heartbeat(t, 'a', [{ id: 'p9_0', version: 1, status: 'OPEN' }], 1)).toEqual(E.left({ kind: 'unknownChannel', channelId: 'p9_0' }));
    for (const [status, version] of [
      ['CLOSE', 3],
      ['TERMINATED', 9],
      ['OPEN', 2],
      ['CLOSING', 2],
    ] as const) {
      // by the owner or by anyone else: nothing the protocol lets a client send
      for (const who of ['a', 'b']) {
        expect(heartbeat(t, who, [{ id: 'p0_0', version, status }], 1)).toEqual(
          E.left({ kind: 'versionAhead', channelId: 'p0_0', status, reported: version, held: 1 }),
        );
      }
    }
    // one refused report refuses the whole heartbeat: the good report beside it is not adopted either
    expect(
      E.isLeft(
        heartbeat(
          t,
          'a',
          [
            { id: 'p1_0', version: 2, status: 'CLOSE' },
            { id: 'p0_0', version: 5, status: 'CLOSE' },
          ],
          1,
        ),
      ),
    ).toBe(true);
    // the next version with CLOSE is the normal give-back
    const given = beat(t, 'a', [{ id: 'p0_0', version: 2, status: 'CLOSE' }], 1).tunnel;
    expect(given.channels.find((c) => c.id === 'p0_0')).toMatchObject({ status: 'OPEN', owner: 'a', version: 3 });
  });

  it('keeps a split-off channel waiting until its parent is TERMINATED', () => {
    const parent = channel('p0_0', 'Stream');
    const child = (id: string, partition: number): Channel => ({ ...channel(id, 'Stream'), partition, parent: 'p0_0' } as Channel);
    let t = connectClient(tunnel([parent, child('p2_1', 2), child('p3_1', 3)]), client('a', 0));
    const a = new ModelClient('a');
    t = a.beat(t, 0);
    expect(a.report().map((c) => [c.id, c.status])).toEqual([['p0_0', 'OPEN']]);
    t = a.beat(t, 1);
    expect(a.report().map((c) => c.id)).toEqual(['p0_0']);
    a.finish('p0_0');
    t = a.beat(t, 2);
    expect(t.channels.find((c) => c.id === 'p0_0')).toMatchObject({ status: 'TERMINATED', version: 2 });
    expect(a.report().map((c) => [c.id, c.status, c.version])).toEqual([
      ['p2_1', 'OPEN', 1],
      ['p3_1', 'OPEN', 1],
    ]);
  });

  it('releases the channels of a client silent for longer than its timeout (version + 1)', () => {
    let t = connectClient(connectClient(tunnel(streamChannels(4)), client('a', 0, 10)), client('b', 0, 10));
    const a = new ModelClient('a');
    const b = new ModelClient('b');
    t = a.beat(t, 0);
    t = b.beat(t, 0);
    expect(ownedCounts(t)).toEqual(new Map([['a', 2], ['b', 2]]));
    // only b keeps heartbeating
    t = b.beat(t, 9_000);
    t = expireClients(t, 10_000);
    expect(t.clients.map((c) => c.id)).toEqual(['a', 'b']);
    t = expireClients(t, 10_001);
    expect(t.clients.map((c) => c.id)).toEqual(['b']);
    expect(t.channels.filter((c) => c.status === 'CLOSE').map((c) => c.version)).toEqual([2, 2]);
    t = b.beat(t, 10_002);
    expect(ownedCounts(t)).toEqual(new Map([['b', 4]]));
    expect(E.isLeft(heartbeat(t, 'a', a.report(), 10_003))).toBe(true);
  });

  it('shutdown frees the channels at once; a finished checkpoint makes a released channel TERMINATED', () => {
    let t = connectClient(tunnel([channel('BaseData_0', 'BaseData'), channel('BaseData_1', 'BaseData')]), client('a', 0));
    t = beat(t, 'a', [], 0).tunnel;
    t = { ...t, channels: t.channels.map((c) => (c.id === 'BaseData_1' ? { ...c, checkpoint: 'finished' } : c)) };
    t = releaseClient(t, 'a');
    expect(t.clients).toEqual([]);
    expect(t.channels.map((c) => [c.id, c.status, c.version, c.owner])).toEqual([
      ['BaseData_0', 'CLOSE', 2, undefined],
      ['BaseData_1', 'TERMINATED', 2, undefined],
    ]);
  });

  it('keeps its invariants under any interleaving and converges to fair shares', () => {
    type Step =
      | { kind: 'connect' }
      | { kind: 'beat'; who: number }
      | { kind: 'silence'; ms: number }
      | { kind: 'shutdown'; who: number }
      | { kind: 'finish'; who: number };
    const step: fc.Arbitrary<Step> = fc.oneof(
      fc.constant<Step>({ kind: 'connect' }),
      fc.integer({ min: 0, max: 5 }).map((who): Step => ({ kind: 'beat', who })),
      fc.integer({ min: 0, max: 5 }).map((who): Step => ({ kind: 'beat', who })),
      fc.integer({ min: 1, max: 15_000 }).map((ms): Step => ({ kind: 'silence', ms })),
      fc.integer({ min: 0, max: 5 }).map((who): Step => ({ kind: 'shutdown', who })),
      fc.integer({ min: 0, max: 5 }).map((who): Step => ({ kind: 'finish', who })),
    );
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 3 }),
        fc.integer({ min: 1, max: 6 }),
        fc.array(step, { maxLength: 60 }),
        (bases, streams, steps) => {
          let t = tunnel([
            ...Array.from({ length: bases }, (_, i) => channel(`BaseData_${i}`, 'BaseData')),
            ...streamChannels(streams),
          ]);
          let now = 0;
          let nextId = 0;
          const models = new Map<string, ModelClient>();
          const versions = new Map(t.channels.map((c) => [c.id, c.version]));
          const check = (): void => {
            const live = new Set(t.clients.map((c) => c.id));
            for (const c of t.channels) {
              expect(c.version).toBeGreaterThanOrEqual(versions.get(c.id)!);
              versions.set(c.id, c.version);
              const held = c.status === 'OPEN' || c.status === 'CLOSING';
              expect(c.owner !== undefined).toBe(held);
              if (c.owner !== undefined) expect(live.has(c.owner)).toBe(true);
              if (c.type === 'Stream' && held) expect(stageOf(t)).toBe('ProcessStream');
            }
          };
          const pick = (who: number): ModelClient | undefined => {
            const ids = t.clients.map((c) => c.id);
            const id = ids[who % Math.max(ids.length, 1)];
            return id === undefined ? undefined : models.get(id);
          };
          for (const s of steps) {
            if (s.kind === 'connect') {
              const id = `c${nextId++}`;
              models.set(id, new ModelClient(id));
              t = connectClient(t, client(id, now, 10));
            } else if (s.kind === 'beat') {
              const m = pick(s.who);
              if (m !== undefined) t = m.beat(t, now);
            } else if (s.kind === 'silence') {
              now += s.ms;
              t = expireClients(t, now);
            } else if (s.kind === 'shutdown') {
              const m = pick(s.who);
              if (m !== undefined) t = releaseClient(t, m.id);
            } else {
              const m = pick(s.who);
              const base = m?.report().find((c) => c.id.startsWith('BaseData') && c.status === 'OPEN');
              if (m !== undefined && base !== undefined) m.finish(base.id);
            }
            check();
          }
          // then everyone heartbeats in turn: the division settles to fair shares
          if (t.clients.length > 0) {
            for (let round = 0; round < 4 + bases; round++) {
              for (const c of t.clients) {
                const m = models.get(c.id)!;
                for (const r of m.report()) if (r.id.startsWith('BaseData') && r.status === 'OPEN') m.finish(r.id);
                t = m.beat(t, now);
                check();
              }
            }
            const assignable = t.channels.filter((c) => c.status !== 'TERMINATED').length;
            expect(assignable).toBe(streams);
            const counts = ownedCounts(t);
            t.clients.forEach((c, i) => expect(counts.get(c.id)).toBe(fairShare(streams, t.clients.length, i)));
          }
        },
      ),
      { numRuns: 200 },
    );
  });
});
