/**
 * Which workers of a job on a state table (`checkpoint.table`) are alive, which holds which
 * channel, and whether the whole job is drained — from the worker rows (sinks/worker-rows.ts).
 *
 * Every `renewMs` this worker renews its row (a conditional write: the renewal counter it wrote
 * last) and reads every worker row. A row whose counter stood still for `staleAfterMs` on this
 * worker's own clock belongs to a dead (or frozen) worker: this worker judges it — one conditional
 * write, so one watcher wins and a worker that renewed meanwhile wins over all — ends its tunnel
 * clients with ShutdownTunnel and heartbeats at once, so the tunnel hands the channels on now
 * rather than when their lease (300 s by default) expires. A frozen worker judged wrongly is
 * harmless: its channels' epochs moved on, so its next plan or commit is refused (channel-workers.ts),
 * and its next renewal is refused too — it registers again and goes on as a new worker would.
 *
 * ```
 *   A renews  ─ 1 ─ 2 ─ 3 ─ (kill -9) ·  ·  ·  ·  ·
 *   B watches ─ 1 ─ 2 ─ 3 ─ 3 ─ 3 ─ 3 ─ 3 ─▶ judge A (renewals 3 → 4, dying) → ShutdownTunnel(A's clients) → dead → heartbeat now
 * ```
 */
import { hostname } from 'node:os';
import { asyncScheduler, firstValueFrom, Subject, timer, type SchedulerLike, type Subscription } from 'rxjs';
import { workerName, WorkerRows, type WorkerIdentity, type WorkerRecord, type WorkerStatus } from '../sinks/worker-rows.js';
import type { TableConnection } from '../sinks/tablestore-table.js';
import { createHttpTransport } from '../tunnel/http-transport.js';
import { httpTunnelApi } from '../tunnel/http-tunnel-api.js';
import { DEFAULT_REQUEST_RETRY, type TunnelOptions } from '../tunnel/options.js';
import { retryWithBackoff } from '../tunnel/retry-with-backoff.js';

export const WORKER_RENEW_MS = 2_000;
/** four renewals missed: a GC pause or a slow request does not make a worker dead */
export const WORKER_STALE_AFTER_MS = 8_000;
/** a dead or stopped worker's row stays this long (for describe, and the drain of --until-idle), then goes */
export const WORKER_PRUNE_AFTER_MS = 600_000;
const MAX_CLIENTS = 16;

export interface WorkerPresenceOptions {
  readonly rows: WorkerRows;
  readonly identity: WorkerIdentity;
  /** the channels this worker runs now, and whether they are all caught up and committed */
  readonly status: () => Omit<WorkerStatus, 'clients'>;
  /** ShutdownTunnel of one client of the job's tunnel */
  readonly shutdown: (clientId: string) => Promise<void>;
  /** the job's channel rows: who claimed each channel last (for the drained verdict) */
  readonly claims?: () => Promise<readonly { readonly channelId: string; readonly owner: string }[]>;
  /** called once the worker is done with the tunnel (stop, dispose) */
  readonly onClose?: () => void;
  readonly renewMs?: number;
  readonly staleAfterMs?: number;
  readonly pruneAfterMs?: number;
  readonly scheduler?: SchedulerLike;
  readonly onLog: (level: 'info' | 'warn', message: string) => void;
}

/** a channel as DescribeTunnel shows it */
export interface DescribedChannel {
  readonly channelId: string;
  readonly channelType?: string;
  readonly status?: string;
  readonly clientId?: string;
}

const owned = (channel: DescribedChannel): boolean => (channel.status === 'OPEN' || channel.status === 'CLOSING') && channel.clientId !== undefined && channel.clientId !== '';

/** the tunnel client named in a channel row's owner (`<host> pid <pid> client <id>`) */
export const clientOfOwner = (owner: string): string | undefined => /\bclient (\S+)$/.exec(owner)?.[1];

/**
 * Whether the whole job is drained, as this worker sees it: every channel of the tunnel finished,
 * or held by a live worker (this one included) that says all its channels are caught up and
 * committed, or free after a worker that stopped drained held it last. A channel held by a dead
 * worker, or free after anything else, is not drained: a live worker has to take it first.
 * Undefined when drained, else what it waits for.
 */
export function jobWaitsFor(input: {
  readonly channels: readonly DescribedChannel[];
  readonly workers: readonly WorkerRecord[];
  /** per channel, the owner its state row's last claim wrote */
  readonly claims: ReadonlyMap<string, string>;
  readonly self: { readonly id: string; readonly clients: ReadonlySet<string>; readonly held: readonly string[]; readonly drained: boolean };
}): string | undefined {
  const { channels, workers, claims, self } = input;
  if (!self.drained) return 'this worker’s channels';
  const byClient = new Map<string, WorkerRecord>();
  for (const worker of workers) for (const client of worker.clients) byClient.set(client, worker);
  for (const channel of channels) {
    if (channel.status === 'TERMINATED') continue;
    if (owned(channel)) {
      const clientId = channel.clientId as string;
      if (self.clients.has(clientId)) {
        if (!self.held.includes(channel.channelId)) return `channel ${channel.channelId} (given to this worker, not running yet)`;
        continue;
      }
      const worker = byClient.get(clientId);
      if (worker === undefined) return `channel ${channel.channelId} (held by tunnel client ${clientId}, of no worker of this job)`;
      if (worker.state !== 'live') return `channel ${channel.channelId} (held by ${workerName(worker)}, ${worker.state})`;
      if (!worker.drained || !worker.held.includes(channel.channelId)) return `channel ${channel.channelId} (held by ${workerName(worker)}, not drained)`;
      continue;
    }
    const last = clientOfOwner(claims.get(channel.channelId) ?? '');
    const worker = last === undefined ? undefined : byClient.get(last);
    if (worker === undefined || worker.state !== 'stopped' || !worker.drained || !worker.held.includes(channel.channelId)) return `channel ${channel.channelId} (${channel.status ?? 'free'}, no worker holds it)`;
  }
  return undefined;
}

export class WorkerPresence {
  /** emits when this worker's tunnel client should heartbeat now (channels have been freed) */
  readonly heartbeatNow = new Subject<void>();
  private readonly scheduler: SchedulerLike;
  private readonly renewMs: number;
  private readonly staleAfterMs: number;
  private readonly pruneAfterMs: number;
  private clients: string[] = [];
  /** the counter this worker wrote last */
  private renewals = 0;
  private latest: readonly WorkerRecord[] = [];
  private claims: ReadonlyMap<string, string> = new Map();
  private readonly seen = new Map<string, { renewals: number; state: string; since: number }>();
  private chain: Promise<unknown> = Promise.resolve();
  private ticks: Subscription | undefined;
  private judging = false;
  private stopped = false;

  constructor(private readonly options: WorkerPresenceOptions) {
    this.scheduler = options.scheduler ?? asyncScheduler;
    this.renewMs = options.renewMs ?? WORKER_RENEW_MS;
    this.staleAfterMs = options.staleAfterMs ?? WORKER_STALE_AFTER_MS;
    this.pruneAfterMs = options.pruneAfterMs ?? WORKER_PRUNE_AFTER_MS;
  }

  get name(): string {
    return workerName(this.options.identity);
  }

  /** this worker's tunnel client ids, newest last */
  clientIds(): ReadonlySet<string> {
    return new Set(this.clients);
  }

  /** Writes this worker's row, then renews it and watches the others every `renewMs`. */
  async start(): Promise<void> {
    await this.options.rows.register(this.options.identity);
    this.renewals = 0;
    this.ticks = timer(this.renewMs, this.renewMs, this.scheduler).subscribe(() => this.tick());
  }

  /** Records a new tunnel client id (before its first heartbeat: the caller waits for this). */
  addClient(clientId: string): Promise<void> {
    this.clients = [...this.clients.filter((id) => id !== clientId), clientId].slice(-MAX_CLIENTS);
    return this.renew();
  }

  /** The worker row as every worker saw it at the last tick. */
  workers(): readonly WorkerRecord[] {
    return this.latest;
  }

  /** the worker whose row names tunnel client `clientId` (this one included) */
  workerOf(clientId: string): { readonly name: string; readonly self: boolean } | undefined {
    if (this.clients.includes(clientId)) return { name: this.name, self: true };
    const worker = this.latest.find((record) => record.clients.includes(clientId));
    return worker === undefined ? undefined : { name: workerName(worker), self: false };
  }

  /**
   * What DescribeTunnel said: channels without an owner are taken at once by a heartbeat now —
   * not stream channels waiting for the base data to finish (nobody may take them yet).
   */
  described(channels: readonly DescribedChannel[]): void {
    const baseRunning = channels.some((channel) => channel.channelType === 'BaseData' && channel.status !== 'TERMINATED');
    const takeable = (channel: DescribedChannel): boolean => channel.status !== 'TERMINATED' && !owned(channel) && !(baseRunning && channel.channelType === 'Stream' && channel.status === 'WAIT');
    if (channels.some(takeable)) this.heartbeatNow.next();
  }

  /**
   * Graceful end: the row says `stopped`, with the channels this worker ran and whether they were
   * drained (taken before its last batches were committed: by now it runs none).
   */
  async stop(final: Omit<WorkerStatus, 'clients'>): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.ticks?.unsubscribe();
    this.heartbeatNow.complete();
    await this.serial(async () => {
      if (await this.options.rows.update(this.options.identity.id, this.renewals, { state: 'stopped', status: { ...final, clients: this.clients } })) this.renewals++;
    }).catch(() => undefined);
    this.options.onClose?.();
  }

  /** A failure: nothing more is written (the row goes stale, and the others judge it). */
  dispose(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.ticks?.unsubscribe();
    this.heartbeatNow.complete();
    this.options.onClose?.();
  }

  private serial<T>(work: () => Promise<T>): Promise<T> {
    const next = this.chain.then(work, work);
    this.chain = next.catch(() => undefined);
    return next;
  }

  private renew(): Promise<void> {
    return this.serial(async () => {
      const { id } = this.options.identity;
      const status = { ...this.options.status(), clients: this.clients };
      if (await this.options.rows.update(id, this.renewals, { status })) {
        this.renewals++;
        return;
      }
      // someone else wrote our row: a watcher judged this worker dead (it was paused, or cut off)
      const row = await this.options.rows.read(id);
      if (row === undefined) {
        await this.options.rows.register(this.options.identity);
        this.renewals = 0;
        if (await this.options.rows.update(id, 0, { status })) this.renewals = 1;
        return;
      }
      this.options.onLog(
        'warn',
        `this worker was judged dead by ${row.judgedBy ?? 'another worker'} (its renewals stood still for ${Math.round(this.staleAfterMs / 1000)} s: paused, or cut off): its tunnel clients were ended and its channels moved on; any plan or commit it still makes is refused — going on as a new worker`,
      );
      if (await this.options.rows.update(id, row.renewals, { state: 'live', status })) this.renewals = row.renewals + 1;
      // the old tunnel client is gone: find out now and connect anew
      if (!this.stopped) this.heartbeatNow.next();
    });
  }

  private tick(): void {
    if (this.stopped) return;
    this.renew().catch(() => undefined);
    if (this.judging) return;
    this.judging = true;
    this.watch()
      .catch(() => undefined)
      .finally(() => (this.judging = false));
  }

  /**
   * Whether the whole job is drained (see jobWaitsFor), from the tunnel's channels now and the
   * rows as of the last tick: undefined when it is, else what it waits for.
   */
  waitsFor(channels: readonly DescribedChannel[], self: { readonly held: readonly string[]; readonly drained: boolean }): string | undefined {
    return jobWaitsFor({ channels, workers: this.latest, claims: this.claims, self: { id: this.options.identity.id, clients: this.clientIds(), ...self } });
  }

  private waitingFor: string | undefined;
  private waitLoggedAt = -Infinity;

  /**
   * --until-idle: what the whole job's drain waits for, said when this worker is drained itself
   * and the reason changed (at most every 10 s).
   */
  noteWait(waits: string | undefined): void {
    if (waits === undefined || waits === 'this worker’s channels' || waits === this.waitingFor) return;
    const now = this.scheduler.now();
    if (now - this.waitLoggedAt < 10_000) return;
    this.waitingFor = waits;
    this.waitLoggedAt = now;
    this.options.onLog('info', `--until-idle: this worker is drained; the job is not yet: ${waits}`);
  }

  private async watch(): Promise<void> {
    const [rows, claims] = await Promise.all([this.options.rows.list(), this.options.claims?.()]);
    this.latest = rows;
    if (claims !== undefined) this.claims = new Map(claims.map((claim) => [claim.channelId, claim.owner]));
    const now = this.scheduler.now();
    for (const worker of rows) {
      if (worker.id === this.options.identity.id || this.stopped) continue;
      const seen = this.seen.get(worker.id);
      if (worker.state === 'dead' || worker.state === 'stopped') {
        if (seen !== undefined && seen.state === worker.state && seen.renewals === worker.renewals) {
          // gone for long: the row goes too (unless it changed meanwhile)
          if (now - seen.since >= this.pruneAfterMs && (await this.options.rows.remove(worker.id, worker.renewals))) this.seen.delete(worker.id);
          continue;
        }
        // a worker gone since the last look: its channels are free, take them now
        if (seen !== undefined && !this.stopped) this.heartbeatNow.next();
        this.seen.set(worker.id, { renewals: worker.renewals, state: worker.state, since: now });
        continue;
      }
      if (seen === undefined || seen.renewals !== worker.renewals || seen.state !== worker.state) {
        this.seen.set(worker.id, { renewals: worker.renewals, state: worker.state, since: now });
        continue;
      }
      if (now - seen.since < this.staleAfterMs) continue;
      this.seen.set(worker.id, { ...seen, since: now });
      await this.judge(worker, now - seen.since);
    }
  }

  private async judge(worker: WorkerRecord, stoodStillMs: number): Promise<void> {
    const { rows } = this.options;
    // one conditional write: the watcher that wins acts; a renewal meanwhile beats every watcher
    if (!(await rows.update(worker.id, worker.renewals, { state: 'dying', judgedBy: this.name }))) return;
    const ended: string[] = [];
    const failed: string[] = [];
    for (const clientId of worker.clients) {
      try {
        await this.options.shutdown(clientId);
        ended.push(clientId);
      } catch (error) {
        failed.push(`${clientId} (${error instanceof Error ? error.message : String(error)})`);
      }
    }
    await rows.update(worker.id, worker.renewals + 1, { state: 'dead' }).catch(() => false);
    this.options.onLog(
      'info',
      `worker ${workerName(worker)} did not renew its row for ${(stoodStillMs / 1000).toFixed(1)} s (renewals stood at ${worker.renewals}): judged dead; ended its tunnel client${ended.length === 1 ? '' : 's'} ${ended.join(', ') || '(none recorded)'} with ShutdownTunnel, its channels move on now${failed.length === 0 ? '' : `; could not end ${failed.join(', ')} (their lease expires instead)`}`,
    );
    if (!this.stopped) this.heartbeatNow.next();
  }
}

/** This process as a worker: `<host>:<pid>:<start, base 36>`. */
export function thisWorker(now: number): WorkerIdentity {
  return { id: `${hostname()}:${process.pid}:${now.toString(36)}`, host: hostname(), pid: process.pid, started: now };
}

/**
 * A worker of the job on `tableName`, registered and renewing: ShutdownTunnel over a transport of
 * its own (closed when the worker stops or fails).
 */
export async function startWorkerPresence(options: {
  readonly connection: TableConnection;
  readonly credentials: TunnelOptions['credentials'];
  readonly tableName: string;
  readonly job: string;
  readonly tunnelId: string;
  readonly identity: WorkerIdentity;
  readonly status: WorkerPresenceOptions['status'];
  readonly onLog: WorkerPresenceOptions['onLog'];
  readonly renewMs?: number;
  readonly staleAfterMs?: number;
  readonly pruneAfterMs?: number;
}): Promise<WorkerPresence> {
  const transport = createHttpTransport({ endpoint: options.connection.endpoint, instance: options.connection.instanceName, credentials: options.credentials, requestTimeoutMs: 10_000 });
  const api = httpTunnelApi(transport);
  const rows = new WorkerRows({ ...options.connection, tableName: options.tableName, job: options.job });
  const presence = new WorkerPresence({
    rows,
    identity: options.identity,
    status: options.status,
    claims: () => rows.claims(),
    shutdown: (clientId) => firstValueFrom(api.shutdown({ tunnelId: options.tunnelId, clientId }).pipe(retryWithBackoff<void>({ ...DEFAULT_REQUEST_RETRY, maxElapsedMs: 5_000 }))),
    onLog: options.onLog,
    onClose: () => transport.close(),
    ...(options.renewMs === undefined ? {} : { renewMs: options.renewMs }),
    ...(options.staleAfterMs === undefined ? {} : { staleAfterMs: options.staleAfterMs }),
    ...(options.pruneAfterMs === undefined ? {} : { pruneAfterMs: options.pruneAfterMs }),
  });
  try {
    await presence.start();
  } catch (error) {
    transport.close();
    throw error;
  }
  return presence;
}
