/**
 * The emulator's Tunnel service, attached to a table engine and an HTTP router:
 *
 *   const tunnels = attachTunnelService(engine, router, { partitions: 4, faults: 'drop=0.01,seed=7' });
 *
 * - every committed row mutation of a table with a stream is appended to the change log from
 *   the engine's commit hook, inside the row's own transaction;
 * - CreateTable/UpdateTable with a stream spec enable the table's stream (with its id and
 *   expiration); DeleteTable drops the stream and the table's tunnels;
 * - a Stream/BaseAndStream tunnel enables a stream on its table by itself (retention = the
 *   `retentionMs` option) — DescribeTable does not show such a stream;
 * - `/tunnel/...` requests go to the service through the fault plan;
 * - stream partitions split once they hold `split.afterRecords` records (the fault plan's
 *   `split=` wins over the setting), or on demand with `splitPartition`.
 */
import * as E from 'fp-ts/lib/Either.js';
import type { ServerResponse } from 'node:http';
import type { TableEngine } from '../engine.js';
import { ChangeLog, type PartitionInfo, type ReadLimits, type SplitPolicy } from './change-log.js';
import type { Clock } from './clock.js';
import { type FaultPlan, FaultInjector, NO_FAULTS, parseFaultPlan } from './faults.js';
import { createTunnelHandler, TUNNEL_PATH_PREFIX, type TunnelCallResult } from './http.js';
import { TunnelService } from './service.js';

export { ChangeLog, type ChangeSink, DEFAULT_MAX_SPLITS, type PartitionInfo, type RowChange, type SplitPolicy, type StreamDescriptor } from './change-log.js';
export { type Clock, ManualClock, systemClock } from './clock.js';
export { type FaultDecision, type FaultPlan, FaultInjector, NO_FAULTS, parseFaultPlan } from './faults.js';
export { createTunnelHandler, TUNNEL_PATH_PREFIX, type TunnelCallContext, type TunnelCallResult } from './http.js';
export { partitionOf } from './partitioning.js';
export type { TableRowsReader } from './rows-reader.js';
export { DEFAULT_CLIENT_TIMEOUT_SEC, DEFAULT_READ_LIMITS, streamChannelId, TunnelService } from './service.js';

export const DEFAULT_STREAM_PARTITIONS = 4;
export const DEFAULT_RETENTION_MS = 7 * 24 * 3600 * 1000;

export interface TunnelServiceSettings {
  /** stream partitions of newly enabled streams (default 4) */
  readonly partitions?: number;
  /** retention of streams that tunnels enable (default 7 days); stream specs bring their own */
  readonly retentionMs?: number;
  /** a plan object or the CLI syntax ('503=0.1,latency=200ms@0.05,drop=0.02,seed=42') */
  readonly faults?: FaultPlan | string;
  /** defaults to the engine's clock, so expiry, retention and commit times agree */
  readonly clock?: Clock;
  readonly instanceName?: string;
  readonly readLimits?: ReadLimits;
  readonly baseChannels?: number;
  /** period of the lease expiry sweep (default 1 s; 0 = only on calls) */
  readonly expirySweepMs?: number;
  /** stream partitions split by themselves once this full (default: never; the fault plan's `split=` wins) */
  readonly split?: SplitPolicy;
}

/** The slice of the emulator router the service needs. */
export interface TunnelRouter {
  registerPrefix(
    prefix: string,
    handler: (context: { readonly path: string; readonly body: Uint8Array; readonly response?: ServerResponse }) => Promise<TunnelCallResult>,
  ): unknown;
}

export interface AttachedTunnelService {
  readonly service: TunnelService;
  readonly changeLog: ChangeLog;
  readonly faults: FaultInjector;
  /**
   * Splits a live stream partition of `table` now (the channel `p<partition>_e<k>`); Left says
   * why not. Tunnels of the table see the children on their next call.
   */
  splitPartition(table: string, partition: number): E.Either<string, readonly [PartitionInfo, PartitionInfo]>;
  detach(): void;
}

/** Resolves a fault plan given as text; a bad plan is reported with every problem. */
export const resolveFaultPlan = (faults: FaultPlan | string | undefined): E.Either<readonly string[], FaultPlan> =>
  faults === undefined ? E.right(NO_FAULTS) : typeof faults === 'string' ? parseFaultPlan(faults) : E.right(faults);

const HOUR_MS = 3600 * 1000;

/** One service per engine: two change logs on one environment would log every row twice. */
const attachedByEngine = new WeakMap<TableEngine, AttachedTunnelService>();

/** The service attached to `engine`, if any (startEmulator attaches one unless an extension did). */
export const tunnelServiceOf = (engine: TableEngine): AttachedTunnelService | undefined => attachedByEngine.get(engine);

export const attachTunnelService = (engine: TableEngine, router: TunnelRouter, settings: TunnelServiceSettings = {}): AttachedTunnelService => {
  if (attachedByEngine.has(engine)) throw new Error('attachTunnelService: this engine already has a tunnel service');
  const plan = resolveFaultPlan(settings.faults);
  if (E.isLeft(plan)) throw new Error(`invalid fault plan: ${plan.left.join('; ')}`);
  const clock: Clock = settings.clock ?? { now: () => engine.clock() };
  const faults = new FaultInjector(plan.right);
  const standingSplit: SplitPolicy = settings.split ?? {};
  const changeLog = new ChangeLog(engine.env, {
    clock,
    partitions: settings.partitions ?? DEFAULT_STREAM_PARTITIONS,
    retentionMs: settings.retentionMs ?? DEFAULT_RETENTION_MS,
    splitPolicy: () => faults.currentPlan().split ?? standingSplit,
  });
  const service = new TunnelService({
    root: engine.env,
    changeLog,
    rows: engine,
    clock,
    ...(settings.instanceName === undefined ? {} : { instanceName: settings.instanceName }),
    ...(settings.readLimits === undefined ? {} : { readLimits: settings.readLimits }),
    ...(settings.baseChannels === undefined ? {} : { baseChannels: settings.baseChannels }),
    ...(settings.expirySweepMs === undefined ? {} : { expirySweepMs: settings.expirySweepMs }),
  });

  // tables that already had a stream spec before the service was attached
  for (const name of engine.listTables()) {
    const stream = engine.table(name)?.stream;
    if (stream?.enabled) {
      changeLog.enableStream(name, { streamId: stream.streamId, retentionMs: stream.expirationTimeHours * HOUR_MS });
    }
  }
  const offRows = engine.onCommit((change) => changeLog.append(change.table, [change]));
  const offTables = engine.onTableCommit((event) => {
    if (event.kind === 'deleted') {
      service.dropTable(event.table.name);
      changeLog.disableStream(event.table.name);
      return;
    }
    const stream = event.table.stream;
    if (stream?.enabled) {
      changeLog.enableStream(event.table.name, { streamId: stream.streamId, retentionMs: stream.expirationTimeHours * HOUR_MS });
    }
  });
  router.registerPrefix(TUNNEL_PATH_PREFIX, createTunnelHandler({ service, faults }));
  const attached: AttachedTunnelService = {
    service,
    changeLog,
    faults,
    splitPartition: (table, partition) => changeLog.split(table, partition),
    detach: () => {
      offRows();
      offTables();
      service.close();
      attachedByEngine.delete(engine);
    },
  };
  attachedByEngine.set(engine, attached);
  return attached;
};
