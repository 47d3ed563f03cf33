/**
 * How an aggregating job (on one tunnel client) makes sure it is its tunnel's only consumer, and
 * what it does about an earlier run: the owner lease of the checkpoint location (a live earlier
 * run refused, a dead one's tunnel clients shut down at once), the wait for an earlier run's
 * leases to expire, the refusal of a lost checkpoint location and `--reset`'s new tunnel.
 */
import * as E from 'fp-ts/lib/Either.js';
import { firstValueFrom, from } from 'rxjs';
import type { createHttpTransport } from '../../tunnel/http-transport.js';
import type { tunnelControl, TunnelDescription } from '../../tunnel/control.js';
import { httpTunnelApi } from '../../tunnel/http-tunnel-api.js';
import { retryWithBackoff } from '../../tunnel/retry-with-backoff.js';
import { DEFAULT_REQUEST_RETRY } from '../../tunnel/options.js';
import { fileCheckpointStore } from '../checkpoint/file-store.js';
import { describeOwner, judgePredecessor, OwnerLease } from '../checkpoint/owner-record.js';
import { LostCheckpointError, readReplacement, SoleConsumerError, writeReplacement, type LostCheckpoint } from './restarts.js';

/** What the checks need of the job. */
export interface StartContext {
  readonly name: string;
  /** `otsflow-<name>`: earlier runs' tunnel clients carry it */
  readonly clientTag: string;
  /** this run's tunnel clients */
  readonly clientIds: ReadonlySet<string>;
  readonly lostCheckpoint: 'reset' | 'at-least-once' | undefined;
  readonly partialRowsUnnamed: string | undefined;
  readonly heartbeatTimeoutMs: number;
  log(level: 'info' | 'warn', message: string): void;
  now(): number;
  stopRequested(): boolean;
}

/**
 * The run recorded in the checkpoint location: a live one is refused at once; a dead one's
 * tunnel clients (all recorded before their first heartbeat) are shut down with ShutdownTunnel,
 * so their channels are free now instead of after their heartbeat timeout. Then this run claims
 * the location. Returns whether anything was shut down, and the claimed lease (the job renews it).
 */
export async function takeOverFromDeadPredecessor(ctx: StartContext, location: string, description: TunnelDescription, transport: ReturnType<typeof createHttpTransport>): Promise<{ readonly shut: boolean; readonly lease: OwnerLease }> {
  const judged = await judgePredecessor(location);
  if (E.isLeft(judged)) throw new Error(`checkpoint ${location}: ${judged.left}`);
  const predecessor = judged.right;
  if (predecessor.kind === 'live') {
    throw new SoleConsumerError(
      `another run of job ${ctx.name} is live on checkpoint location ${location} (${describeOwner(predecessor.record)}; ${predecessor.why}): stop it first — two copies of an aggregating job would overwrite each other's windows`,
    );
  }
  let shut = false;
  if (predecessor.kind === 'dead' && predecessor.record.clients.length > 0) {
    const recorded = new Set(predecessor.record.clients);
    const holders = new Set(description.channels.filter((c) => (c.status === 'OPEN' || c.status === 'CLOSING') && c.clientId !== undefined && recorded.has(c.clientId)).map((c) => c.clientId as string));
    const api = httpTunnelApi(transport);
    // every recorded client, not only those holding channels: one killed before its first
    // heartbeat holds none, yet the service counts it when it divides the channels
    for (const clientId of recorded) {
      try {
        await firstValueFrom(api.shutdown({ tunnelId: description.tunnel.tunnelId, clientId }).pipe(retryWithBackoff<void>({ ...DEFAULT_REQUEST_RETRY, maxElapsedMs: 5_000 })));
        if (holders.has(clientId)) shut = true;
      } catch (error) {
        // one that expired already has nothing left to release
        if (holders.has(clientId)) ctx.log('warn', `could not shut down client ${clientId} of the earlier run (${error instanceof Error ? error.message : String(error)}); waiting for its lease instead`);
      }
    }
    if (holders.size > 0) {
      ctx.log('info', `the earlier run (${describeOwner(predecessor.record)}) ended without shutting its tunnel session down (${predecessor.why}): released its channels with ShutdownTunnel (client${holders.size === 1 ? '' : 's'} ${[...holders].join(', ')})`);
    }
  }
  const lease = new OwnerLease(location, ctx.name);
  try {
    lease.claim();
  } catch (error) {
    throw new Error(`checkpoint ${location}: cannot persist owner.json (${error instanceof Error ? error.message : String(error)}); nothing was acknowledged`);
  }
  for (const clientId of ctx.clientIds) lease.addClient(clientId);
  return { shut, lease };
}

/**
 * The location holds no commit or plan, yet the tunnel's channels hold consumed progress: the
 * window state of that progress is gone. Without a choice that is one line and a stop.
 */
export async function checkLostCheckpoint(ctx: StartContext, location: string, description: TunnelDescription): Promise<LostCheckpoint | undefined> {
  const choice = ctx.lostCheckpoint;
  const loaded = await firstValueFrom(from(fileCheckpointStore(location).load()));
  if (E.isLeft(loaded)) return undefined;
  if (loaded.right.commit !== undefined || loaded.right.plan !== undefined) {
    if (choice !== undefined) ctx.log('info', `--${choice} not needed: ${location} holds the window state (${loaded.right.commit === undefined ? 'a planned batch' : `batch ${loaded.right.commit.batchId}`})`);
    return undefined;
  }
  const progressed = description.channels.filter((channel) => (channel.count ?? 0n) > 0n || channel.status === 'TERMINATED');
  if (progressed.length === 0) return undefined;
  const records = progressed.reduce((sum, channel) => sum + (channel.count ?? 0n), 0n);
  const rpos = progressed.map((channel) => channel.rpoTime?.getTime()).filter((time): time is number => time !== undefined);
  const upTo = rpos.length === 0 ? 'its checkpoints' : new Date(Math.max(...rpos)).toISOString();
  const holders = [...new Set(description.channels.filter((c) => (c.status === 'OPEN' || c.status === 'CLOSING') && c.clientId !== undefined && c.clientId !== '').map((c) => c.clientId as string))];
  // a partial row is recognised by its key being in the sink already; where a group can have had
  // records and still no row (append writes a window once it closes; HAVING holds groups back), it cannot
  const unnamed = ctx.partialRowsUnnamed;
  if (choice === 'at-least-once' && unnamed !== undefined) {
    throw new LostCheckpointError(
      `checkpoint location ${location} holds no window state, but tunnel ${description.tunnel.tunnelId} has progress committed by an earlier run (${records} records): --at-least-once cannot name the partial rows of ${unnamed} — run again with --reset`,
    );
  }
  if (choice === undefined) {
    throw new LostCheckpointError(
      `checkpoint location ${location} holds no window state, but tunnel ${description.tunnel.tunnelId} has progress committed by an earlier run (${records} records on ${progressed.length} channel${progressed.length === 1 ? '' : 's'}, up to ${upTo}${holders.length === 0 ? '' : `; its channels are still held by ${holders.join(', ')} — if that run is alive elsewhere, stop it first`}): the window state is gone and resuming would overwrite windows with partial totals — run again with --reset (recreate the tunnel and recompute every window from the start of the stream's retention) or --at-least-once (resume from the tunnel's checkpoints; rows rewritten partial are named in the log)`,
    );
  }
  ctx.log(
    'warn',
    choice === 'reset'
      ? `checkpoint location ${location} holds no window state, but tunnel ${description.tunnel.tunnelId} has progress (${records} records): --reset recreates the tunnel and recomputes every window`
      : `checkpoint location ${location} holds no window state, but tunnel ${description.tunnel.tunnelId} has progress (${records} records): --at-least-once resumes from the tunnel's checkpoints; sink rows rewritten partial are named below`,
  );
  return { records, upTo };
}

/**
 * --reset: DeleteTunnel + CreateTunnel of the same name and type — a Stream tunnel from the
 * earliest retained record, a BaseAndStream one from its base data (the whole table) on — and
 * the new id recorded in the location, for a definition that still names the old one.
 */
export async function resetTunnel(ctx: StartContext, location: string, description: TunnelDescription, control: ReturnType<typeof tunnelControl>): Promise<TunnelDescription> {
  const old = description.tunnel;
  const deleted = await control.deleteTunnel(old.tableName, old.tunnelName);
  if (E.isLeft(deleted)) throw new Error(`--reset: cannot delete tunnel ${old.tunnelName} of ${old.tableName}: ${deleted.left.message}`);
  const endTime = old.streamConfig?.endTime;
  const created = await control.createTunnel({
    tableName: old.tableName,
    tunnelName: old.tunnelName,
    tunnelType: old.tunnelType as 'BaseData' | 'Stream' | 'BaseAndStream',
    // a Stream tunnel from the earliest retained record; BaseAndStream's base data already covers the table
    ...(old.tunnelType === 'Stream' ? { stream: { flag: 'EARLIEST' as const, ...(endTime === undefined ? {} : { endTime }) } } : endTime === undefined ? {} : { stream: { endTime } }),
  });
  if (E.isLeft(created)) throw new Error(`--reset: deleted tunnel ${old.tunnelName} of ${old.tableName} (${old.tunnelId}) but cannot create it again: ${created.left.message} — create it with otsflow tunnel create and run again`);
  const earlier = readReplacement(location);
  writeReplacement(location, { tunnelId: created.right.tunnelId, tunnelName: old.tunnelName, replaces: [...(earlier?.replaces ?? []), old.tunnelId] });
  ctx.log('warn', `--reset: tunnel ${old.tunnelName} of ${old.tableName} recreated as ${created.right.tunnelId} (was ${old.tunnelId}); every window is recomputed from the start of the stream's retention`);
  const described = await control.describeTunnel(old.tableName, old.tunnelName);
  if (E.isLeft(described)) throw new Error(`cannot describe tunnel ${old.tunnelName} of ${old.tableName}: ${described.left.message}`);
  return described.right;
}

/**
 * An aggregating job must be the only consumer of its tunnel (partials are not merged on one
 * tunnel client). Clients with this job's tag are earlier runs of it; they pass only at startup
 * (see outwaitEarlierRuns): once this run is connected, one of them holding channels is a second
 * copy of the job, consuming alongside.
 */
export function checkSoleConsumer(ctx: StartContext, described: TunnelDescription, allowEarlierRuns = false): void {
  const foreign = described.channels.find(
    (channel) =>
      (channel.status === 'OPEN' || channel.status === 'CLOSING') &&
      channel.clientId !== undefined &&
      channel.clientId !== '' &&
      !ctx.clientIds.has(channel.clientId) &&
      !(allowEarlierRuns && channel.clientId.startsWith(`${ctx.clientTag}_`)),
  );
  if (foreign !== undefined) {
    throw new SoleConsumerError(
      `tunnel ${described.tunnel.tunnelId} is also consumed by client ${foreign.clientId} (channel ${foreign.channelId}); an aggregating job must be the only consumer of its tunnel, because otsflow does not merge partial aggregates across workers yet — stop the other consumer or give this job a tunnel of its own`,
    );
  }
}

/**
 * Channels still held by a client with this job's tag belong to an earlier run: one that crashed
 * keeps its leases until the service expires it (one heartbeat timeout), while a live one — the
 * same job started twice — never lets go, and two copies would each aggregate part of the
 * channels and overwrite each other's rows. So connect only once such leases are gone, and refuse
 * to start when they outlive the timeout.
 */
export async function outwaitEarlierRuns(ctx: StartContext, first: TunnelDescription, describe: () => Promise<TunnelDescription>): Promise<void> {
  const timeoutMs = ctx.heartbeatTimeoutMs;
  // the service sweeps expired clients on its own schedule: allow a little past the timeout
  const deadline = ctx.now() + timeoutMs + Math.max(2_000, timeoutMs / 10);
  let described = first;
  let announced = false;
  for (;;) {
    const held = described.channels.find((channel) => (channel.status === 'OPEN' || channel.status === 'CLOSING') && channel.clientId?.startsWith(`${ctx.clientTag}_`) === true);
    if (held === undefined || ctx.stopRequested()) return;
    if (ctx.now() > deadline) {
      throw new SoleConsumerError(
        `tunnel ${described.tunnel.tunnelId} is still consumed by client ${held.clientId} (channel ${held.channelId}) after its lease should have expired: another run of job ${ctx.name} is consuming it — stop that one first (an aggregating job must be the only consumer of its tunnel)`,
      );
    }
    if (!announced) {
      announced = true;
      ctx.log('info', `waiting up to ${Math.ceil((deadline - ctx.now()) / 1000)} s for an earlier run's leases to expire (client ${held.clientId} holds channel ${held.channelId})`);
    }
    await new Promise((resolve) => setTimeout(resolve, Math.min(250, Math.max(50, timeoutMs / 8))));
    described = await describe();
  }
}
