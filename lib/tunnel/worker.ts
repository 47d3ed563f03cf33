/**
 * The tunnel worker (tunnel-protocol.md §7) as an Observable of channel batches.
 *
 * A client is one client id: connect, heartbeat at once and then every interval, merge each
 * response into the local channel view (§7.2), open owned channels (GetCheckpoint, then a read
 * loop per channel) and pass statuses to their connections (§7.3). A lost client (OTSResourceGone,
 * local heartbeat timeout) closes every channel and a new client connects after a jittered
 * delay; fatal codes end the Observable with a `TunnelFatalError`; unsubscribing stops the reads,
 * flushes the checkpoints of acknowledged batches and calls ShutdownTunnel.
 *
 * Every timer runs on the given scheduler and every decision reads `scheduler.now()`, so the whole
 * state machine runs in virtual time under a TestScheduler.
 */
import { asyncScheduler, Observable, Subscription, timer } from 'rxjs';
import type { MonoTypeOperatorFunction, SchedulerLike, Subscriber } from 'rxjs';
import { Backoff } from './backoff.js';
import type { RandomSource } from './backoff.js';
import { CallSlot } from './call-slot.js';
import { ChannelConnection } from './channel-connection.js';
import type { ConnectionContext } from './channel-connection.js';
import { acceptsLocalUpdate, mergeHeartbeatResponse } from './channel-state.js';
import { errorCode, isFatalError, isResourceGone, isRetryableError, TunnelFatalError } from './errors.js';
import type { ChannelBatch, ChannelState, CheckpointPosition, TunnelCall, TunnelDataApi, TunnelEvent } from './model.js';
import type { WorkerSettings } from './options.js';
import { retryWithBackoff } from './retry-with-backoff.js';

export interface TunnelWorkerOptions {
  readonly api: TunnelDataApi;
  readonly tunnelId: string;
  readonly settings: WorkerSettings;
  readonly scheduler?: SchedulerLike;
  /** source of jitter; injectable for deterministic tests */
  readonly random?: RandomSource;
  readonly onEvent?: (event: TunnelEvent) => void;
  /** called once when nothing runs any more: after ShutdownTunnel (unsubscribe) or a fatal error */
  readonly onStopped?: () => void;
}

/** Runs a worker for as long as it is subscribed. */
export function tunnelWorker(options: TunnelWorkerOptions): Observable<ChannelBatch> {
  return new Observable<ChannelBatch>((subscriber) => {
    const worker = new Worker(options, subscriber);
    worker.start();
    return () => worker.stop();
  });
}

class Worker {
  readonly scheduler: SchedulerLike;
  readonly random: RandomSource;
  private client: TunnelClient | undefined;
  private readonly connect = new CallSlot();
  private reconnectTimer: Subscription | undefined;
  private readonly reconnectBackoff: Backoff;
  private ended = false;
  private stoppedReported = false;
  private readonly startTokensUsed = new Set<string>();

  constructor(
    readonly options: TunnelWorkerOptions,
    private readonly subscriber: Subscriber<ChannelBatch>,
  ) {
    this.scheduler = options.scheduler ?? asyncScheduler;
    this.random = options.random ?? Math.random;
    this.reconnectBackoff = new Backoff(options.settings.reconnectBackoff, this.random);
  }

  start(): void {
    this.heartbeatNow = this.options.settings.heartbeatNow?.subscribe(() => this.client?.heartbeatNow());
    this.connectClient();
  }

  private heartbeatNow: Subscription | undefined;

  emit(event: TunnelEvent): void {
    this.options.onEvent?.(event);
  }

  /** nothing runs any more: tell the owner (tunnel() closes its HTTP agent) */
  stopped(): void {
    if (this.stoppedReported) return;
    this.stoppedReported = true;
    this.options.onStopped?.();
  }

  retry<T>(call: TunnelCall): MonoTypeOperatorFunction<T> {
    const { requestRetry } = this.options.settings;
    return retryWithBackoff<T>({
      ...requestRetry,
      scheduler: this.scheduler,
      random: this.random,
      onRetry: (attempt, delayMs, error) => this.emit({ kind: 'request-retry', call, attempt, delayMs, error }),
    });
  }

  deliver(batch: ChannelBatch): void {
    if (!this.ended && !this.subscriber.closed) this.subscriber.next(batch);
  }

  /** The token a newly owned channel starts from, when the caller supplied one. */
  startTokenFor(channelId: string): string | undefined | PromiseLike<string | undefined> {
    const startTokens = this.options.settings.startTokens;
    if (startTokens === undefined) return undefined;
    if (typeof startTokens === 'function') return startTokens(channelId);
    if (this.startTokensUsed.has(channelId)) return undefined;
    this.startTokensUsed.add(channelId);
    return startTokens[channelId];
  }

  private connectClient(): void {
    if (this.ended) return;
    const { api, tunnelId, settings } = this.options;
    this.connect.start(
      api
        .connect({ tunnelId, timeoutSeconds: Math.ceil(settings.heartbeatTimeoutMs / 1000), clientTag: settings.clientTag })
        .pipe(this.retry('connect')),
      ({ clientId }) => {
        this.reconnectBackoff.reset();
        this.emit({ kind: 'connected', clientId });
        const client = new TunnelClient(this, clientId);
        this.client = client;
        const before = settings.beforeFirstHeartbeat?.(clientId);
        if (before === undefined || typeof before.then !== 'function') client.start();
        // the first heartbeat (the first channel) waits until the client id is recorded
        else before.then(() => client.start(), () => client.start());
      },
      (error) => {
        if (isFatalError(error, 'connect')) this.fail(error, 'connect');
        else this.scheduleReconnect();
      },
    );
  }

  private scheduleReconnect(): void {
    if (this.ended) return;
    this.reconnectTimer?.unsubscribe();
    this.reconnectTimer = timer(this.reconnectBackoff.next(), this.scheduler).subscribe(() => {
      this.reconnectTimer = undefined;
      this.connectClient();
    });
  }

  clientLost(client: TunnelClient): void {
    if (this.client !== client) return;
    this.client = undefined;
    this.scheduleReconnect();
  }

  /** A fatal code: close everything and end the Observable with a typed error. */
  fail(error: unknown, call: TunnelCall): void {
    if (this.ended) return;
    this.ended = true;
    this.heartbeatNow?.unsubscribe();
    this.connect.cancel();
    this.reconnectTimer?.unsubscribe();
    this.client?.abort();
    this.client = undefined;
    this.subscriber.error(new TunnelFatalError(errorCode(error) ?? 'OTSClientError', call, error));
    this.stopped();
  }

  /** Unsubscribed: stop reading, flush acknowledged checkpoints, ShutdownTunnel. */
  stop(): void {
    if (this.ended) return;
    this.ended = true;
    this.heartbeatNow?.unsubscribe();
    this.connect.cancel();
    this.reconnectTimer?.unsubscribe();
    const client = this.client;
    this.client = undefined;
    if (client === undefined) this.stopped();
    else client.stopAndShutdown();
  }
}

class TunnelClient {
  private current = new Map<string, ChannelState>();
  private readonly connections = new Map<string, ChannelConnection>();
  private readonly heartbeat = new CallSlot();
  private readonly opening = new Subscription();
  private ticks: Subscription | undefined;
  private heartbeatBusy = false;
  private lastHeartbeatAt: number;
  private active = true;
  private readonly context: ConnectionContext;

  constructor(
    private readonly worker: Worker,
    readonly clientId: string,
  ) {
    this.lastHeartbeatAt = worker.scheduler.now();
    const { api, tunnelId, settings } = worker.options;
    this.context = {
      api,
      tunnelId,
      clientId,
      settings,
      scheduler: worker.scheduler,
      random: worker.random,
      retry: (call) => worker.retry(call),
      emit: (event) => worker.emit(event),
      deliver: (batch) => {
        if (this.active) worker.deliver(batch);
      },
      report: (channel) => this.updateStatus(channel),
      fatal: (error, call) => worker.fail(error, call),
    };
  }

  start(): void {
    if (!this.active || this.ticks !== undefined) return;
    this.lastHeartbeatAt = this.worker.scheduler.now();
    this.ticks = timer(0, this.worker.options.settings.heartbeatIntervalMs, this.worker.scheduler).subscribe(() => this.tick());
  }

  /** an extra heartbeat now (not before the first one: that waits for beforeFirstHeartbeat) */
  heartbeatNow(): void {
    if (this.ticks !== undefined) this.tick();
  }

  private tick(): void {
    if (!this.active) return;
    if (this.worker.scheduler.now() - this.lastHeartbeatAt > this.worker.options.settings.heartbeatTimeoutMs) {
      this.lose('heartbeat-timeout');
      return;
    }
    if (this.heartbeatBusy) return;
    this.heartbeatBusy = true;
    const { api, tunnelId } = this.worker.options;
    const sent = [...this.current.values()];
    this.heartbeat.start(
      api.heartbeat({ tunnelId, clientId: this.clientId, channels: sent }).pipe(this.worker.retry<readonly ChannelState[]>('heartbeat')),
      (received) => {
        this.lastHeartbeatAt = this.worker.scheduler.now();
        this.worker.emit({ kind: 'heartbeat', clientId: this.clientId, sent, received });
        this.applyHeartbeat(received);
      },
      (error) => {
        this.heartbeatBusy = false;
        if (isFatalError(error, 'heartbeat')) this.worker.fail(error, 'heartbeat');
        else if (isResourceGone(error)) this.lose('resource-gone', error);
        else if (!isRetryableError(error)) this.lose('heartbeat-failed', error);
        // a transient failure that outlived its retries: the next tick tries again, the timeout decides
      },
    );
  }

  /** §7.2: merge, drop what the server no longer lists, open new channels, then notify all. */
  private applyHeartbeat(received: readonly ChannelState[]): void {
    const merged = mergeHeartbeatResponse(this.current, received);
    for (const [channelId, connection] of this.connections) {
      if (!merged.has(channelId)) {
        connection.forceClose('revoked');
        this.connections.delete(channelId);
      }
    }
    this.current = merged;
    const toOpen = [...merged.values()].filter((channel) => channel.status === 'OPEN' && !this.connections.has(channel.channelId));
    if (toOpen.length === 0) {
      this.notifyAll(new Map());
      return;
    }
    const positions = new Map<string, (CheckpointPosition & { startToken: string }) | undefined>();
    let outstanding = toOpen.length;
    const { api, tunnelId } = this.worker.options;
    for (const channel of toOpen) {
      const slot = new CallSlot();
      this.opening.add(() => slot.cancel());
      slot.start(
        api.getCheckpoint({ tunnelId, clientId: this.clientId, channelId: channel.channelId }).pipe(this.worker.retry<CheckpointPosition>('getCheckpoint')),
        (position) => {
          const opened = (given: string | undefined): void => {
            const startToken = given ?? position.checkpoint;
            positions.set(channel.channelId, { ...position, startToken });
            this.worker.emit({ kind: 'channel-opened', channelId: channel.channelId, version: channel.version, token: startToken, sequenceNumber: position.sequenceNumber });
            if (--outstanding === 0) this.notifyAll(positions);
          };
          const given = this.worker.startTokenFor(channel.channelId);
          if (given === undefined || typeof given === 'string') {
            opened(given);
            return;
          }
          // an asynchronous start token (a claim on a job state table): open once it is known
          let cancelled = false;
          this.opening.add(() => (cancelled = true));
          Promise.resolve(given).then(
            (token) => {
              if (!cancelled) opened(token);
            },
            () => {
              if (cancelled) return;
              positions.set(channel.channelId, undefined);
              if (--outstanding === 0) this.notifyAll(positions);
            },
          );
        },
        (error) => {
          if (isFatalError(error, 'getCheckpoint')) {
            this.worker.fail(error, 'getCheckpoint');
            return;
          }
          positions.set(channel.channelId, undefined);
          if (--outstanding === 0) this.notifyAll(positions);
        },
      );
    }
  }

  private notifyAll(opened: ReadonlyMap<string, (CheckpointPosition & { startToken: string }) | undefined>): void {
    if (!this.active) return;
    for (const channel of [...this.current.values()]) {
      let connection = this.connections.get(channel.channelId);
      if (connection === undefined) {
        // OPEN without a position means GetCheckpoint failed; CLOSING without a connection needs
        // no position either: both only answer with CLOSE (Go's failConn)
        if (channel.status !== 'OPEN' && channel.status !== 'CLOSING') continue;
        connection = new ChannelConnection(this.context, channel.channelId, opened.get(channel.channelId));
        this.connections.set(channel.channelId, connection);
      }
      connection.notify(this.current.get(channel.channelId) ?? channel);
    }
    this.heartbeatBusy = false;
  }

  /** §7.2 updateStatus: keep a newer local status for the next heartbeat; forget closed connections. */
  private updateStatus(update: ChannelState): void {
    if (!this.active || !acceptsLocalUpdate(this.current, update)) return;
    this.current.set(update.channelId, update);
    this.worker.emit({ kind: 'channel-reported', channel: update });
    if (this.connections.get(update.channelId)?.closed) this.connections.delete(update.channelId);
  }

  private lose(reason: 'heartbeat-timeout' | 'resource-gone' | 'heartbeat-failed', error?: unknown): void {
    if (!this.active) return;
    this.abort('client-lost');
    this.worker.emit(error === undefined ? { kind: 'client-lost', clientId: this.clientId, reason } : { kind: 'client-lost', clientId: this.clientId, reason, error });
    this.worker.clientLost(this);
  }

  /** Close every channel without reports or checkpoints. */
  abort(reason: 'client-lost' | 'stopped' = 'stopped'): void {
    if (!this.active) return;
    this.active = false;
    this.ticks?.unsubscribe();
    this.heartbeat.cancel();
    this.opening.unsubscribe();
    for (const connection of this.connections.values()) connection.forceClose(reason);
    this.connections.clear();
  }

  /**
   * Unsubscribe: no more heartbeats or reads; acknowledged batches get their checkpoints (bounded
   * by the drain timeout), then ShutdownTunnel releases the channels at once.
   */
  stopAndShutdown(): void {
    if (!this.active) return;
    this.active = false;
    this.ticks?.unsubscribe();
    this.heartbeat.cancel();
    this.opening.unsubscribe();
    const connections = [...this.connections.values()];
    this.connections.clear();
    let waiting = connections.length;
    let deadline: Subscription | undefined;
    let shutdownStarted = false;
    const shutdown = (): void => {
      if (shutdownStarted) return;
      shutdownStarted = true;
      deadline?.unsubscribe();
      for (const connection of connections) connection.forceClose('stopped');
      const { api, tunnelId } = this.worker.options;
      new CallSlot().startVoid(
        api.shutdown({ tunnelId, clientId: this.clientId }).pipe(this.worker.retry<void>('shutdown')),
        () => {
          this.worker.emit({ kind: 'shutdown', clientId: this.clientId });
          this.worker.stopped();
        },
        (error) => {
          this.worker.emit({ kind: 'shutdown', clientId: this.clientId, error });
          this.worker.stopped();
        },
      );
    };
    deadline = timer(this.worker.options.settings.closingDrainTimeoutMs, this.worker.scheduler).subscribe(() => shutdown());
    if (waiting === 0) shutdown();
    for (const connection of connections) {
      connection.stopAndFlush(() => {
        if (--waiting === 0) shutdown();
      });
    }
  }
}
