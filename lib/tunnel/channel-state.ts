/**
 * The channel state machine of tunnel-protocol.md §7.2–7.3 as pure functions, so every rule can
 * be tested without timers or I/O. `worker.ts` applies the decisions.
 */
import type { ChannelState } from './model.js';

/**
 * §7.2: the new local view after a heartbeat. Per channel of the response, the server's entry wins
 * unless the local one has a higher version (a local CLOSE/TERMINATED not yet seen by the
 * server); channels missing from the response are dropped.
 */
export function mergeHeartbeatResponse(
  current: ReadonlyMap<string, ChannelState>,
  response: readonly ChannelState[],
): Map<string, ChannelState> {
  const merged = new Map<string, ChannelState>();
  for (const served of response) {
    const local = current.get(served.channelId);
    merged.set(served.channelId, local !== undefined && local.version > served.version ? local : served);
  }
  return merged;
}

/** §7.2 updateStatus: a local change is kept only for a known channel and a strictly newer version. */
export function acceptsLocalUpdate(current: ReadonlyMap<string, ChannelState>, update: ChannelState): boolean {
  const known = current.get(update.channelId);
  return known !== undefined && update.version > known.version;
}

/** WAIT: not started; RUNNING: reading; CLOSING: told to stop, draining; CLOSED: done. */
export type ConnectionPhase = 'WAIT' | 'RUNNING' | 'CLOSING' | 'CLOSED';

export interface ConnectionState {
  readonly phase: ConnectionPhase;
  /** the last status applied (server's, or the local report that followed it) */
  readonly channel: ChannelState | undefined;
  /** the channel's data is fully consumed (read `finished`, or the server said TERMINATED) */
  readonly finished: boolean;
}

export type ConnectionEffect =
  /** WAIT → RUNNING: start the read loop */
  | 'start'
  /** RUNNING → CLOSING: stop reading, let acknowledged batches commit, then close */
  | 'drain'
  /** stop at once, no report (server CLOSE / TERMINATED) */
  | 'close';

export interface NotifyDecision {
  readonly state: ConnectionState;
  readonly effect?: ConnectionEffect;
  /** a local status to push through updateStatus (reported on the next heartbeat) */
  readonly report?: ChannelState;
}

export const INITIAL_CONNECTION: ConnectionState = { phase: 'WAIT', channel: undefined, finished: false };

/** A connection that could not start (GetCheckpoint failed): it only answers OPEN/CLOSING with CLOSE. */
export const FAILED_CONNECTION: ConnectionState = { phase: 'CLOSED', channel: undefined, finished: false };

/**
 * §7.3 "check": a closed connection reports version+1, TERMINATED when its data was consumed,
 * else CLOSE; other phases report nothing yet.
 */
export function checkClosed(state: ConnectionState): NotifyDecision {
  if (state.phase !== 'CLOSED' || state.channel === undefined) return { state };
  const report: ChannelState = {
    channelId: state.channel.channelId,
    version: state.channel.version + 1n,
    status: state.finished ? 'TERMINATED' : 'CLOSE',
  };
  return { state: { ...state, channel: report }, report };
}

/** §7.3 notifyStatus: apply one status from a heartbeat response to a connection. */
export function notifyStatus(state: ConnectionState, served: ChannelState): NotifyDecision {
  if (state.channel !== undefined && state.channel.version > served.version) return { state };
  const current: ConnectionState = { ...state, channel: served };
  switch (served.status) {
    case 'OPEN':
      if (current.phase === 'WAIT') return { state: { ...current, phase: 'RUNNING' }, effect: 'start' };
      return checkClosed(current);
    case 'CLOSING':
      if (current.phase === 'WAIT') return checkClosed({ ...current, phase: 'CLOSED' });
      if (current.phase === 'RUNNING') return { ...checkClosed({ ...current, phase: 'CLOSING' }), effect: 'drain' };
      return checkClosed(current);
    case 'CLOSE':
      return { state: { ...current, phase: 'CLOSED' }, effect: 'close' };
    case 'TERMINATED':
      return { state: { ...current, phase: 'CLOSED', finished: true }, effect: 'close' };
  }
}
