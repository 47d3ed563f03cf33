import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  acceptsLocalUpdate,
  checkClosed,
  FAILED_CONNECTION,
  INITIAL_CONNECTION,
  mergeHeartbeatResponse,
  notifyStatus,
} from '../../lib/tunnel/channel-state.js';
import type { ConnectionPhase, ConnectionState } from '../../lib/tunnel/channel-state.js';
import type { ChannelState, ChannelStatus } from '../../lib/tunnel/model.js';

const ch = (channelId: string, version: number, status: ChannelStatus): ChannelState => ({ channelId, version: BigInt(version), status });
const conn = (phase: ConnectionPhase, channel?: ChannelState, finished = false): ConnectionState => ({ phase, channel, finished });

describe('mergeHeartbeatResponse (§7.2)', () => {
  it('takes the server entry when its version is at least the local one', () => {
    const local = new Map([['a', ch('a', 1, 'OPEN')]]);
    expect(mergeHeartbeatResponse(local, [ch('a', 2, 'CLOSING')]).get('a')).toEqual(ch('a', 2, 'CLOSING'));
    expect(mergeHeartbeatResponse(local, [ch('a', 1, 'CLOSING')]).get('a')).toEqual(ch('a', 1, 'CLOSING'));
  });

  it('keeps a local report of a higher version the server has not seen yet', () => {
    const local = new Map([['a', ch('a', 3, 'CLOSE')]]);
    expect(mergeHeartbeatResponse(local, [ch('a', 2, 'CLOSING')]).get('a')).toEqual(ch('a', 3, 'CLOSE'));
  });

  it('drops channels the response does not list and adds new ones', () => {
    const local = new Map([
      ['a', ch('a', 1, 'OPEN')],
      ['b', ch('b', 5, 'CLOSE')],
    ]);
    const merged = mergeHeartbeatResponse(local, [ch('c', 1, 'OPEN')]);
    expect([...merged.keys()]).toEqual(['c']);
  });

  it('never lowers a version and lists exactly the response channels (property)', () => {
    const entry = fc.record({ id: fc.constantFrom('a', 'b', 'c', 'd'), version: fc.integer({ min: 0, max: 9 }), status: fc.constantFrom<ChannelStatus>('OPEN', 'CLOSING', 'CLOSE', 'TERMINATED') });
    fc.assert(
      fc.property(fc.uniqueArray(entry, { selector: (e) => e.id }), fc.uniqueArray(entry, { selector: (e) => e.id }), (locals, served) => {
        const local = new Map(locals.map((e) => [e.id, ch(e.id, e.version, e.status)]));
        const merged = mergeHeartbeatResponse(local, served.map((e) => ch(e.id, e.version, e.status)));
        expect([...merged.keys()].sort()).toEqual(served.map((e) => e.id).sort());
        for (const s of served) {
          const got = merged.get(s.id) as ChannelState;
          expect(got.version >= BigInt(s.version)).toBe(true);
          const before = local.get(s.id);
          if (before !== undefined) expect(got.version >= before.version).toBe(true);
        }
      }),
      { numRuns: 200 },
    );
  });
});

describe('acceptsLocalUpdate (§7.2 updateStatus)', () => {
  const local = new Map([['a', ch('a', 2, 'OPEN')]]);
  it('accepts a strictly newer version of a known channel', () => {
    expect(acceptsLocalUpdate(local, ch('a', 3, 'CLOSE'))).toBe(true);
  });
  it('ignores equal or older versions and unknown channels', () => {
    expect(acceptsLocalUpdate(local, ch('a', 2, 'CLOSE'))).toBe(false);
    expect(acceptsLocalUpdate(local, ch('a', 1, 'CLOSE'))).toBe(false);
    expect(acceptsLocalUpdate(local, ch('z', 9, 'CLOSE'))).toBe(false);
  });
});

describe('notifyStatus (§7.3 connection table)', () => {
  it('WAIT + OPEN starts the read loop, no report', () => {
    const d = notifyStatus(INITIAL_CONNECTION, ch('a', 1, 'OPEN'));
    expect(d).toEqual({ state: conn('RUNNING', ch('a', 1, 'OPEN')), effect: 'start' });
  });

  it('RUNNING + OPEN (same version) changes nothing', () => {
    const d = notifyStatus(conn('RUNNING', ch('a', 1, 'OPEN')), ch('a', 1, 'OPEN'));
    expect(d.effect).toBeUndefined();
    expect(d.report).toBeUndefined();
    expect(d.state.phase).toBe('RUNNING');
  });

  it('WAIT + CLOSING closes at once and reports CLOSE version+1', () => {
    const d = notifyStatus(INITIAL_CONNECTION, ch('a', 0, 'CLOSING'));
    expect(d.report).toEqual(ch('a', 1, 'CLOSE'));
    expect(d.state.phase).toBe('CLOSED');
  });

  it('RUNNING + CLOSING drains without a report; a later CLOSING of the same version reports once closed', () => {
    const closing = notifyStatus(conn('RUNNING', ch('a', 1, 'OPEN')), ch('a', 2, 'CLOSING'));
    expect(closing.effect).toBe('drain');
    expect(closing.report).toBeUndefined();
    expect(closing.state.phase).toBe('CLOSING');
    const stillDraining = notifyStatus(closing.state, ch('a', 2, 'CLOSING'));
    expect(stillDraining.report).toBeUndefined();
    const afterClose = notifyStatus({ ...closing.state, phase: 'CLOSED' }, ch('a', 2, 'CLOSING'));
    expect(afterClose.report).toEqual(ch('a', 3, 'CLOSE'));
  });

  it('a stale status (lower version) is ignored entirely', () => {
    const running = conn('RUNNING', ch('a', 1, 'OPEN'));
    const d = notifyStatus(running, ch('a', 0, 'CLOSING'));
    expect(d).toEqual({ state: running });
  });

  it('after a local report, the server entry it supersedes is ignored', () => {
    const reported = checkClosed(conn('CLOSED', ch('a', 2, 'CLOSING')));
    expect(reported.report).toEqual(ch('a', 3, 'CLOSE'));
    expect(notifyStatus(reported.state, ch('a', 2, 'CLOSING'))).toEqual({ state: reported.state });
  });

  it('server CLOSE / TERMINATED close without a report', () => {
    const close = notifyStatus(conn('RUNNING', ch('a', 1, 'OPEN')), ch('a', 2, 'CLOSE'));
    expect(close).toEqual({ state: conn('CLOSED', ch('a', 2, 'CLOSE')), effect: 'close' });
    const terminated = notifyStatus(conn('RUNNING', ch('a', 1, 'OPEN')), ch('a', 2, 'TERMINATED'));
    expect(terminated).toEqual({ state: conn('CLOSED', ch('a', 2, 'TERMINATED'), true), effect: 'close' });
  });

  it('a closed connection that consumed its data reports TERMINATED, otherwise CLOSE', () => {
    expect(notifyStatus(conn('CLOSED', ch('a', 4, 'OPEN'), true), ch('a', 4, 'OPEN')).report).toEqual(ch('a', 5, 'TERMINATED'));
    expect(notifyStatus(conn('CLOSED', ch('a', 4, 'OPEN'), false), ch('a', 4, 'OPEN')).report).toEqual(ch('a', 5, 'CLOSE'));
  });

  it('a failed connection (GetCheckpoint failed) answers OPEN and CLOSING with CLOSE version+1, nothing else', () => {
    expect(notifyStatus(FAILED_CONNECTION, ch('a', 7, 'OPEN')).report).toEqual(ch('a', 8, 'CLOSE'));
    expect(notifyStatus(FAILED_CONNECTION, ch('a', 7, 'CLOSING')).report).toEqual(ch('a', 8, 'CLOSE'));
    expect(notifyStatus(FAILED_CONNECTION, ch('a', 7, 'CLOSE')).report).toBeUndefined();
    expect(notifyStatus(FAILED_CONNECTION, ch('a', 7, 'TERMINATED')).report).toBeUndefined();
  });

  it('checkClosed reports nothing for connections that are not closed', () => {
    for (const phase of ['WAIT', 'RUNNING', 'CLOSING'] as const) {
      expect(checkClosed(conn(phase, ch('a', 1, 'OPEN'))).report).toBeUndefined();
    }
  });
});
