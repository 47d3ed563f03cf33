/**
 * Channel leasing: which client consumes which channel. Pure functions of (tunnel, input, now)
 * so the rules can be checked exhaustively without a server.
 *
 * Rules (tunnel-protocol.md §7.2–7.3, §8):
 * - a channel has at most one owner; owned channels are OPEN, or CLOSING while being taken
 *   away; every change of owner or status bumps the version, which never decreases;
 * - a client reports CLOSE/TERMINATED with a higher version to give a channel back;
 * - each heartbeat moves the caller toward its fair share: with A assignable channels and C
 *   clients (in connect order), client i is entitled to ⌊A/C⌋, plus one if i < A mod C.
 *   Surplus channels are marked CLOSING (and kept in the caller's responses until it reports
 *   CLOSE); missing ones are taken from the free channels, base data before stream;
 * - stream channels stay unassignable until every base channel is TERMINATED, and a channel
 *   split off a partition until its parent's channel is TERMINATED;
 * - reports are checked: a channel the tunnel does not have, or a version more than one ahead
 *   of the service's (one ahead only for CLOSE/TERMINATED, the statuses a client moves to),
 *   refuse the whole heartbeat; older or equal versions and reports on channels the client does
 *   not hold are stale and ignored;
 * - a client silent for longer than its timeout, or shut down, loses all its channels.
 */
import * as E from 'fp-ts/lib/Either.js';
import { type Channel, type Client, FINISHED, type Tunnel } from './state.js';

export type ReportedStatus = 'OPEN' | 'CLOSING' | 'CLOSE' | 'TERMINATED';

export interface ReportedChannel {
  readonly id: string;
  readonly version: number;
  readonly status: ReportedStatus;
}

export interface Lease {
  readonly id: string;
  readonly version: number;
  readonly status: 'OPEN' | 'CLOSING';
}

/** Why a heartbeat is refused; the service turns it into an error code. */
export type HeartbeatRefusal =
  | 'unknownClient'
  | { readonly kind: 'unknownChannel'; readonly channelId: string }
  | { readonly kind: 'versionAhead'; readonly channelId: string; readonly status: ReportedStatus; readonly reported: number; readonly held: number };

export interface HeartbeatResult {
  readonly tunnel: Tunnel;
  /** every channel the client owns, as the heartbeat response lists them */
  readonly leases: readonly Lease[];
}

export const isExpired = (client: Client, now: number): boolean => now - client.lastHeartbeat > client.timeoutSec * 1000;

/** A channel given back (or taken from a vanished owner) is free again; finished ones are done. */
const released = (channel: Channel, version: number): Channel => {
  const { owner: _owner, ...rest } = channel;
  return { ...rest, status: channel.checkpoint === FINISHED ? 'TERMINATED' : 'CLOSE', version };
};

const isHeld = (channel: Channel): boolean => channel.status === 'OPEN' || channel.status === 'CLOSING';

/** Releases every channel of `clientId` and forgets the client (ShutdownTunnel, expiry). */
export const releaseClient = (tunnel: Tunnel, clientId: string): Tunnel => ({
  ...tunnel,
  channels: tunnel.channels.map((c) => (c.owner === clientId && isHeld(c) ? released(c, c.version + 1) : c)),
  clients: tunnel.clients.filter((c) => c.id !== clientId),
});

export const expireClients = (tunnel: Tunnel, now: number): Tunnel =>
  tunnel.clients.filter((c) => isExpired(c, now)).reduce((t, c) => releaseClient(t, c.id), tunnel);

export const connectClient = (tunnel: Tunnel, client: Client): Tunnel => ({
  ...tunnel,
  clients: [...tunnel.clients, client],
});

const baseUnfinished = (tunnel: Tunnel): boolean =>
  tunnel.channels.some((c) => c.type === 'BaseData' && c.status !== 'TERMINATED');

/** Channels that take part in the division: not finished, not waiting for base data or a parent. */
const isAssignable = (channel: Channel, streamBlocked: boolean, terminated: ReadonlySet<string>): boolean =>
  channel.status !== 'TERMINATED' &&
  !(channel.type === 'Stream' && (streamBlocked || (channel.parent !== undefined && !terminated.has(channel.parent))));

/** A report of the owner with the next version: CLOSE gives the channel back, TERMINATED ends it. */
const adoptReport = (channel: Channel, report: ReportedChannel): Channel => {
  if (report.version <= channel.version) return channel;
  if (report.status === 'CLOSE') return released(channel, report.version);
  // TERMINATED (checkReport lets nothing else through)
  const { owner: _owner, ...rest } = channel;
  return {
    ...rest,
    status: 'TERMINATED',
    version: report.version,
    // the end was read: count and rpo up to it, even if the `finished` checkpoint was lost
    ...(channel.finalCount === undefined ? {} : { count: channel.finalCount }),
    ...(channel.finalRpoUs === undefined ? {} : { rpoUs: channel.finalRpoUs }),
  };
};

/** Left: the report cannot come from a client that follows the protocol. */
const checkReport = (channel: Channel | undefined, report: ReportedChannel): HeartbeatRefusal | undefined => {
  if (channel === undefined) return { kind: 'unknownChannel', channelId: report.id };
  const movesTo = report.status === 'CLOSE' || report.status === 'TERMINATED';
  const allowed = channel.version + (movesTo ? 1 : 0);
  if (report.version <= allowed) return undefined;
  return { kind: 'versionAhead', channelId: report.id, status: report.status, reported: report.version, held: channel.version };
};

/** Fair shares in connect order: the first (A mod C) clients take one channel more. */
export const fairShare = (assignable: number, clients: number, index: number): number =>
  Math.floor(assignable / clients) + (index < assignable % clients ? 1 : 0);

export const heartbeat = (
  tunnel: Tunnel,
  clientId: string,
  reported: readonly ReportedChannel[],
  now: number,
): E.Either<HeartbeatRefusal, HeartbeatResult> => {
  const live = expireClients(tunnel, now);
  const clientIndex = live.clients.findIndex((c) => c.id === clientId);
  if (clientIndex < 0) return E.left('unknownClient');
  const byId = new Map(live.channels.map((c) => [c.id, c]));
  for (const report of reported) {
    const refusal = checkReport(byId.get(report.id), report);
    if (refusal !== undefined) return E.left(refusal);
  }
  const reports = new Map(reported.map((r) => [r.id, r]));
  let channels = live.channels.map((channel) => {
    const report = reports.get(channel.id);
    return report !== undefined && channel.owner === clientId && (report.status === 'CLOSE' || report.status === 'TERMINATED')
      ? adoptReport(channel, report)
      : channel;
  });

  const streamBlocked = baseUnfinished({ ...live, channels });
  const terminated = new Set(channels.filter((c) => c.status === 'TERMINATED').map((c) => c.id));
  const assignable = channels.filter((c) => isAssignable(c, streamBlocked, terminated)).length;
  const share = fairShare(assignable, live.clients.length, clientIndex);
  const mine = channels.filter((c) => c.owner === clientId && c.status === 'OPEN');
  if (mine.length > share) {
    const revoked = new Set(mine.slice(share).map((c) => c.id));
    channels = channels.map((c) => (revoked.has(c.id) ? { ...c, status: 'CLOSING' as const, version: c.version + 1 } : c));
  } else if (mine.length < share) {
    const free = channels
      .filter((c) => c.owner === undefined && (c.status === 'WAIT' || c.status === 'CLOSE') && isAssignable(c, streamBlocked, terminated))
      .sort((a, b) => (a.type === b.type ? 0 : a.type === 'BaseData' ? -1 : 1));
    const taken = new Set(free.slice(0, share - mine.length).map((c) => c.id));
    channels = channels.map((c) =>
      taken.has(c.id) ? { ...c, status: 'OPEN' as const, owner: clientId, version: c.version + 1 } : c,
    );
  }

  const clients = live.clients.map((c) => (c.id === clientId ? { ...c, lastHeartbeat: now } : c));
  const leases = channels
    .filter((c) => c.owner === clientId && isHeld(c))
    .map((c) => ({ id: c.id, version: c.version, status: c.status as Lease['status'] }));
  return E.right({ tunnel: { ...live, channels, clients }, leases });
};

/** Reads and checkpoints are allowed to the owner of an OPEN or CLOSING channel only. */
export const ownsChannel = (tunnel: Tunnel, clientId: string, channelId: string): boolean =>
  tunnel.channels.some((c) => c.id === channelId && c.owner === clientId && isHeld(c));
