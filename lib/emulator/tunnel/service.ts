/**
 * The Tunnel service: every call of tunnel-protocol.md §1 as a function from a decoded request
 * to `Either<TunnelError, response>`. HTTP, protobuf and fault injection live in `http.ts`;
 * leasing rules in `leases.ts`; the change log in `change-log.ts`.
 *
 * Choices (the real server is closed source, §8/§13):
 * - Channel ids have exactly one underscore, as the Java SDK splits them: base data channels
 *   are `BaseData_<range>`, stream channels `p<partition>_e<epoch>`: the initial partitions have
 *   epoch 0, the two children of a split the next free partition numbers and their parent's
 *   epoch + 1 (records carry the same epoch in their sequence info).
 * - Partition splits (change-log.ts): the parent channel reads to the split point and then
 *   answers `finished`; the children join every tunnel of the stream on its next call, each
 *   WAIT with its parent's id, and are handed out only once the parent is TERMINATED — so a
 *   key's changes are consumed in order across a split. A tunnel created after a split skips
 *   sealed partitions it would have nothing to read from.
 * - A tunnel's base data is cut into at most `baseChannels` key ranges at creation. Base tokens
 *   carry the PlainBuffer key to resume from (empty = the channel's range start); stream tokens
 *   carry `<streamId>:<partition>:<seq>` as iterator. Tokens are version 2: `total_count` and
 *   `timestamp` (µs of the data consumed) feed DescribeTunnel's channel_count and channel_rpo.
 * - BaseAndStream tunnels capture each partition's position at creation; their stream channels
 *   are handed out once every base channel terminated. Channels are created with the tunnel,
 *   so the InitBaseDataAndStreamShard stage is never observable.
 * - Leases are checked as the SDKs' handling implies: channel calls (GetCheckpoint included) by a
 *   client that does not hold the channel answer OTSResourceGone ("channel version conflict");
 *   a heartbeat that reports a channel the tunnel does not have answers OTSParameterInvalid, one
 *   that reports a version more than one ahead of the service's (or a status other than CLOSE or
 *   TERMINATED one ahead) OTSResourceGone. Stale versions are ignored, as before.
 * - Every mutation is written to LMDB before the response (group-committed; the HTTP
 *   layer answers after `durable()`), so tunnels, leases and checkpoints survive a crash;
 *   client expiry is computed lazily on every call and by an unref'd timer.
 */
import * as E from 'fp-ts/lib/Either.js';
import type { Database, RootDatabase } from 'lmdb';
import { CommitQueue } from '../commit-queue.js';
import { decodeRow, encodePrimaryKey, encodeRow } from '../../wire/plainbuffer/index.js';
import type { PrimaryKeyCell, RecordAction } from '../../wire/types.js';
import type { ChangeLog, PartitionInfo, ReadLimits } from './change-log.js';
import { type Clock, systemClock } from './clock.js';
import { type TunnelError, tunnelError } from './errors.js';
import { connectClient, expireClients, heartbeat, type HeartbeatRefusal, type Lease, ownsChannel, type ReportedChannel, releaseClient } from './leases.js';
import type { TableRowsReader } from './rows-reader.js';
import {
  type BaseChannel,
  type Channel,
  type ChannelStatus,
  type ChannelType,
  FINISHED,
  stageOf,
  type StreamChannel,
  type StreamStart,
  type Tunnel,
  type TunnelStage,
  type TunnelType,
} from './state.js';
import { type ChannelToken, decodeChannelToken, encodeChannelToken } from './tokens.js';

export interface StreamTunnelConfig {
  readonly flag?: 'LATEST' | 'EARLIEST';
  /** ns since epoch; 0 = absent */
  readonly startOffsetNs?: bigint;
  readonly endOffsetNs?: bigint;
}

export interface CreateTunnelInput {
  readonly tableName: string;
  readonly tunnelName: string;
  readonly tunnelType: TunnelType;
  readonly streamConfig?: StreamTunnelConfig;
}

export interface TunnelInfo {
  readonly tunnelId: string;
  readonly tunnelName: string;
  readonly tunnelType: TunnelType;
  readonly tableName: string;
  readonly instanceName: string;
  readonly streamId: string;
  readonly stage: TunnelStage;
  readonly expired: boolean;
  /** ns since epoch */
  readonly createTimeNs: bigint;
  readonly streamConfig?: { readonly flag: 'LATEST' | 'EARLIEST'; readonly startOffsetNs: bigint; readonly endOffsetNs: bigint };
}

export interface ChannelInfo {
  readonly channelId: string;
  readonly channelType: ChannelType;
  readonly channelStatus: ChannelStatus;
  readonly clientId: string;
  /** ns since epoch of the data consumed up to the checkpoint */
  readonly channelRpoNs: bigint;
  readonly channelCount: bigint;
}

export interface DescribeTunnelOutput {
  readonly tunnel: TunnelInfo;
  readonly channels: readonly ChannelInfo[];
  readonly tunnelRpoNs: bigint;
}

export interface TunnelRecord {
  readonly action: RecordAction;
  /** PlainBuffer row with header */
  readonly record: Uint8Array;
}

export interface ReadRecordsOutput {
  readonly records: readonly TunnelRecord[];
  readonly nextToken: string;
  readonly mayMoreRecord: boolean;
}

export interface ChannelCall {
  readonly tunnelId: string;
  readonly clientId: string;
  readonly channelId: string;
}

export interface TunnelServiceOptions {
  readonly root: RootDatabase;
  readonly changeLog: ChangeLog;
  readonly rows: TableRowsReader;
  readonly clock?: Clock;
  readonly instanceName?: string;
  /** ReadRecords batch bounds; default 1,000 records or 4 MiB */
  readonly readLimits?: ReadLimits;
  /** most key ranges a tunnel's base data is cut into; default 4 */
  readonly baseChannels?: number;
  /** period of the expiry sweep; default 1 s, 0 = lazy expiry only */
  readonly expirySweepMs?: number;
}

export const DEFAULT_READ_LIMITS: ReadLimits = { maxRecords: 1000, maxBytes: 4 << 20 };
export const DEFAULT_CLIENT_TIMEOUT_SEC = 300;

const NS_PER_US = 1000n;
const DURABLE: Promise<void> = Promise.resolve();
const NAME_PATTERN = /^[A-Za-z0-9_-]{1,255}$/;

const parameterInvalid = (message: string): TunnelError => tunnelError('OTSParameterInvalid', message);
const tunnelMissing = (what: string): TunnelError => parameterInvalid(`Tunnel ${what} does not exist.`);
const clientGone = (clientId: string): TunnelError =>
  tunnelError('OTSResourceGone', `Client ${clientId} is not connected (unknown, shut down or heartbeat timeout).`);

const heartbeatRefused = (clientId: string, refusal: HeartbeatRefusal): TunnelError => {
  if (refusal === 'unknownClient') return clientGone(clientId);
  if (refusal.kind === 'unknownChannel') return parameterInvalid(`Channel ${refusal.channelId} reported by client ${clientId} does not exist in the tunnel.`);
  return tunnelError(
    'OTSResourceGone',
    `Channel version conflict: client ${clientId} reported channel ${refusal.channelId} ${refusal.status} at version ${refusal.reported}, the service holds version ${refusal.held}.`,
  );
};

export const streamChannelId = (partition: PartitionInfo): string => `p${partition.index}_e${partition.epoch}`;

const randomHex = (length: number): string => crypto.randomUUID().replace(/-/g, '').slice(0, length);

const decodePrimaryKey = (bytes: Uint8Array | undefined): readonly PrimaryKeyCell[] | undefined => {
  if (bytes === undefined || bytes.length === 0) return undefined;
  const row = decodeRow(bytes);
  // stored and token keys were encoded by this service; a bad one was rejected when decoded from the token
  if (E.isLeft(row)) throw row.left;
  return row.right.primaryKey;
};

export class TunnelService {
  private readonly db: Database<Tunnel, string>;
  private readonly tunnels = new Map<string, Tunnel>();
  private readonly clock: Clock;
  private readonly readLimits: ReadLimits;
  private readonly sweep: NodeJS.Timeout | undefined;
  /** group commit of the tunnel database; see save() */
  private readonly writes: CommitQueue;
  /** the latest write queued (the queue commits in order) */
  private lastWrite: Promise<void> = DURABLE;

  constructor(private readonly options: TunnelServiceOptions) {
    this.clock = options.clock ?? systemClock;
    this.readLimits = options.readLimits ?? DEFAULT_READ_LIMITS;
    this.db = options.root.openDB({ name: 'tunnel-tunnels', encoding: 'msgpack' });
    // a failed commit is handled per write, in track()
    this.writes = new CommitQueue(options.root, () => undefined);
    for (const { key, value } of this.db.getRange()) this.tunnels.set(key, value);
    const sweepMs = options.expirySweepMs ?? 1000;
    if (sweepMs > 0) {
      this.sweep = setInterval(() => this.expireClients(), sweepMs);
      this.sweep.unref();
    }
  }

  /** Stops the sweep and commits what is queued, before the environment closes. */
  close(): void {
    if (this.sweep !== undefined) clearInterval(this.sweep);
    this.writes.close();
  }

  /**
   * Resolves once every change made so far is on disk (rejects if a write failed). Callers
   * answer only after it: a response never reveals state a crash could take back.
   */
  durable(): Promise<void> {
    return this.lastWrite;
  }

  /** Releases the channels of every client past its heartbeat timeout. */
  expireClients(): void {
    const now = this.clock.now();
    for (const tunnel of [...this.tunnels.values()]) {
      const live = expireClients(tunnel, now);
      if (live !== tunnel) this.save(live);
    }
  }

  /**
   * Changes take effect in memory at once and are committed in a group: every write issued in one
   * event loop turn shares one synchronous commit and fsync, instead of one each (2-10 ms, far
   * more on a busy disk, with every channel's ReadRecords stalled behind them). Responses wait in
   * durable(). Not lmdb's asynchronous put: its completion comes back from the write thread like
   * that of transaction(callback) (see CommitQueue), and under load a /tunnel/create waited on
   * it for more than 10 s.
   */
  private save(tunnel: Tunnel): void {
    this.tunnels.set(tunnel.id, tunnel);
    this.track(this.writes.run(() => this.db.putSync(tunnel.id, tunnel)));
  }

  private track(write: Promise<unknown>): void {
    const written = write.then(
      () => undefined,
      (error: unknown) => {
        // memory must not run ahead of the disk: back to what is committed
        this.tunnels.clear();
        for (const { key, value } of this.db.getRange()) this.tunnels.set(key, value);
        throw error;
      },
    );
    // the failure reaches whoever waits in durable(); nobody waiting is no crash
    written.catch(() => undefined);
    this.lastWrite = written;
  }

  /** The tunnel with expired clients already released (and that release persisted). */
  private live(tunnelId: string): E.Either<TunnelError, Tunnel> {
    const tunnel = this.tunnels.get(tunnelId);
    if (tunnel === undefined) return E.left(tunnelMissing(`id ${tunnelId}`));
    const live = this.withSplits(expireClients(tunnel, this.clock.now()));
    if (live !== tunnel) this.save(live);
    return E.right(live);
  }

  /**
   * The tunnel with a channel for every partition split off since it last looked: each child
   * starts at its partition's first record, waits for its parent's channel, and is bounded by
   * the tunnel's start and end offsets like the channels made with it.
   */
  private withSplits(tunnel: Tunnel): Tunnel {
    const log = this.options.changeLog;
    if (tunnel.streamId === undefined || !log.isLive(tunnel.streamId)) return tunnel;
    const partitions = log.partitionsOf(tunnel.streamId);
    // a tunnel stored before splits existed has the channels of the initial partitions
    const known = tunnel.knownPartitions ?? log.streamOf(tunnel.table)?.partitions ?? partitions.length;
    if (known >= partitions.length) return tunnel;
    const byPartition = new Map<number, StreamChannel>();
    for (const c of tunnel.channels) if (c.type === 'Stream') byPartition.set(c.partition, c);
    // a Stream tunnel's start and end offsets bound every channel (BaseAndStream ones have none)
    const offsets: StreamStart = tunnel.type === 'Stream' ? (tunnel.streamStart ?? { flag: 'LATEST' }) : { flag: 'LATEST' };
    const added: StreamChannel[] = [];
    for (const partition of partitions.slice(known)) {
      const parent = partition.parent === undefined ? undefined : byPartition.get(partition.parent);
      const channel: StreamChannel = {
        id: streamChannelId(partition),
        type: 'Stream',
        partition: partition.index,
        status: 'WAIT',
        version: 0,
        // from its first record: a trimmed start shows as OTSTunnelExpired rather than a silent gap
        checkpoint: encodeChannelToken({ kind: 'stream', streamId: tunnel.streamId, partition: partition.index, seq: 1, count: 0, timestampUs: 0 }),
        sequenceNumber: 0,
        count: 0,
        rpoUs: 0,
        ...(parent === undefined ? {} : { parent: parent.id }),
        ...(offsets.startUs === undefined ? {} : { startUs: offsets.startUs }),
        ...(offsets.endUs === undefined ? {} : { endUs: offsets.endUs }),
      };
      byPartition.set(partition.index, channel);
      added.push(channel);
    }
    return { ...tunnel, channels: [...tunnel.channels, ...added], knownPartitions: partitions.length };
  }

  private byName(tableName: string, tunnelName: string): Tunnel | undefined {
    for (const tunnel of this.tunnels.values()) if (tunnel.table === tableName && tunnel.name === tunnelName) return tunnel;
    return undefined;
  }

  // ------------------------------------------------------------------ control plane

  createTunnel(input: CreateTunnelInput): E.Either<TunnelError, { readonly tunnelId: string }> {
    const problems: string[] = [];
    if (!NAME_PATTERN.test(input.tableName)) problems.push(`tunnel.table_name: invalid table name '${input.tableName}'`);
    else if (!this.options.rows.hasTable(input.tableName)) problems.push(`tunnel.table_name: table '${input.tableName}' does not exist`);
    if (!NAME_PATTERN.test(input.tunnelName)) problems.push(`tunnel.tunnel_name: invalid tunnel name '${input.tunnelName}'`);
    const start = input.streamConfig?.startOffsetNs ?? 0n;
    const end = input.streamConfig?.endOffsetNs ?? 0n;
    if (start < 0n || end < 0n) problems.push('tunnel.stream_tunnel_config: offsets must not be negative');
    if (end !== 0n && end < start) problems.push('tunnel.stream_tunnel_config: endOffset must not be less than startOffset');
    if (problems.length > 0) return E.left(parameterInvalid(problems.join('; ')));
    if (this.byName(input.tableName, input.tunnelName) !== undefined) {
      return E.left(tunnelError('OTSTunnelExist', `Tunnel ${input.tunnelName} already exists on table ${input.tableName}.`));
    }

    const channels: Channel[] = [];
    if (input.tunnelType !== 'Stream') channels.push(...this.baseChannels(input.tableName));
    let streamId: string | undefined;
    let streamStart: StreamStart | undefined;
    let knownPartitions: number | undefined;
    if (input.tunnelType !== 'BaseData') {
      const stream = this.options.changeLog.enableStream(input.tableName);
      streamId = stream.streamId;
      streamStart = {
        flag: input.streamConfig?.flag ?? 'LATEST',
        ...(start > 0n ? { startUs: Number(start / NS_PER_US) } : {}),
        ...(end > 0n ? { endUs: Number(end / NS_PER_US) } : {}),
      };
      const partitions = this.options.changeLog.partitionsOf(stream.streamId);
      knownPartitions = partitions.length;
      const created = new Map<number, StreamChannel>();
      for (const partition of partitions) {
        const parent = partition.parent === undefined ? undefined : created.get(partition.parent);
        const channel = this.streamChannel(stream.streamId, partition, input.tunnelType === 'BaseAndStream' ? { flag: 'LATEST' } : streamStart, parent?.id);
        if (channel !== undefined) {
          created.set(partition.index, channel);
          channels.push(channel);
        }
      }
    }
    const tunnel: Tunnel = {
      id: crypto.randomUUID(),
      name: input.tunnelName,
      table: input.tableName,
      type: input.tunnelType,
      createdAt: this.clock.now(),
      ...(streamId === undefined ? {} : { streamId }),
      ...(streamStart === undefined ? {} : { streamStart }),
      ...(knownPartitions === undefined ? {} : { knownPartitions }),
      channels,
      clients: [],
    };
    this.save(tunnel);
    return E.right({ tunnelId: tunnel.id });
  }

  private baseChannels(table: string): BaseChannel[] {
    const splits = this.options.rows.splitPoints(table, Math.max(1, this.options.baseChannels ?? 4));
    const bounds = [undefined, ...splits.map((key) => encodePrimaryKey(key)), undefined];
    return bounds.slice(0, -1).map((rangeStart, i) => {
      const rangeEnd = bounds[i + 1];
      return {
        id: `BaseData_${i}`,
        type: 'BaseData',
        status: 'WAIT',
        version: 0,
        checkpoint: encodeChannelToken({ kind: 'base', startPk: rangeStart ?? new Uint8Array(0), count: 0, timestampUs: 0 }),
        sequenceNumber: 0,
        count: 0,
        rpoUs: 0,
        ...(rangeStart === undefined ? {} : { rangeStart }),
        ...(rangeEnd === undefined ? {} : { rangeEnd }),
      };
    });
  }

  /** The channel of `info` from where `start` says; none for a sealed partition with nothing left to read. */
  private streamChannel(streamId: string, info: PartitionInfo, start: StreamStart, parent: string | undefined): StreamChannel | undefined {
    const log = this.options.changeLog;
    const partition = info.index;
    const seq =
      start.startUs !== undefined
        ? log.seqAtOrAfter(streamId, partition, start.startUs)
        : start.flag === 'EARLIEST'
          ? log.earliestSeq(streamId, partition)
          : log.latestSeq(streamId, partition);
    if (info.endSeq !== undefined && seq >= info.endSeq) return undefined;
    return {
      id: streamChannelId(info),
      type: 'Stream',
      partition,
      ...(parent === undefined ? {} : { parent }),
      status: 'WAIT',
      version: 0,
      checkpoint: encodeChannelToken({ kind: 'stream', streamId, partition, seq, count: 0, timestampUs: 0 }),
      sequenceNumber: 0,
      count: 0,
      rpoUs: 0,
      ...(start.startUs === undefined ? {} : { startUs: start.startUs }),
      ...(start.endUs === undefined ? {} : { endUs: start.endUs }),
    };
  }

  deleteTunnel(input: { readonly tableName: string; readonly tunnelName: string }): E.Either<TunnelError, void> {
    const tunnel = this.byName(input.tableName, input.tunnelName);
    if (tunnel === undefined) return E.left(tunnelMissing(`${input.tunnelName} of table ${input.tableName}`));
    // in the write queue, so no earlier write of this tunnel can land after it
    this.track(this.writes.run(() => this.db.removeSync(tunnel.id)));
    this.tunnels.delete(tunnel.id);
    return E.right(undefined);
  }

  /** Tunnels of `tableName`, or of the whole instance when it is empty. */
  listTunnels(input: { readonly tableName?: string }): E.Either<TunnelError, readonly TunnelInfo[]> {
    const table = input.tableName ?? '';
    return E.right(
      [...this.tunnels.values()]
        .filter((t) => table === '' || t.table === table)
        .sort((a, b) => a.createdAt - b.createdAt)
        .map((t) => this.info(t)),
    );
  }

  describeTunnel(input: { readonly tableName: string; readonly tunnelName: string }): E.Either<TunnelError, DescribeTunnelOutput> {
    const found = this.byName(input.tableName, input.tunnelName);
    if (found === undefined) return E.left(tunnelMissing(`${input.tunnelName} of table ${input.tableName}`));
    return E.map((tunnel: Tunnel) => {
      const channels = tunnel.channels.map(
        (c): ChannelInfo => ({
          channelId: c.id,
          channelType: c.type,
          channelStatus: c.status,
          clientId: c.owner ?? '',
          channelRpoNs: BigInt(c.rpoUs) * NS_PER_US,
          channelCount: BigInt(c.count),
        }),
      );
      // the slowest channel still consuming: a TERMINATED one (base data done, a parent after a
      // split) holds nothing back; when every channel is done, the last one to finish
      const consuming = tunnel.channels.filter((c) => c.rpoUs > 0 && c.status !== 'TERMINATED').map((c) => c.rpoUs);
      const done = tunnel.channels.filter((c) => c.rpoUs > 0).map((c) => c.rpoUs);
      const rpoUs = consuming.length > 0 ? Math.min(...consuming) : done.length > 0 ? Math.max(...done) : 0;
      const tunnelRpoNs = BigInt(rpoUs) * NS_PER_US;
      return { tunnel: this.info(tunnel), channels, tunnelRpoNs };
    })(this.live(found.id));
  }

  private info(tunnel: Tunnel): TunnelInfo {
    const start = tunnel.streamStart;
    return {
      tunnelId: tunnel.id,
      tunnelName: tunnel.name,
      tunnelType: tunnel.type,
      tableName: tunnel.table,
      instanceName: this.options.instanceName ?? 'otsflow',
      streamId: tunnel.streamId ?? '',
      stage: stageOf(tunnel),
      expired: this.isExpired(tunnel),
      createTimeNs: BigInt(tunnel.createdAt) * 1_000_000n,
      ...(start === undefined
        ? {}
        : {
            streamConfig: {
              // the SDKs send either a flag or a start offset; the service reports the flag as LATEST then
              flag: start.startUs === undefined ? start.flag : 'LATEST',
              startOffsetNs: BigInt(start.startUs ?? 0) * NS_PER_US,
              endOffsetNs: BigInt(start.endUs ?? 0) * NS_PER_US,
            },
          }),
    };
  }

  /** A stream channel whose checkpoint points into trimmed data can never be read again. */
  private isExpired(tunnel: Tunnel): boolean {
    const log = this.options.changeLog;
    return tunnel.channels.some((c) => {
      if (c.type !== 'Stream' || c.status === 'TERMINATED' || tunnel.streamId === undefined || !log.isLive(tunnel.streamId)) return false;
      const token = decodeChannelToken(c.checkpoint);
      return E.isRight(token) && token.right.kind === 'stream' && token.right.seq < log.earliestSeq(tunnel.streamId, c.partition);
    });
  }

  /** Forgets the tunnels of a dropped table (the service deletes them with the table). */
  dropTable(tableName: string): void {
    const doomed = [...this.tunnels.values()].filter((t) => t.table === tableName);
    if (doomed.length === 0) return;
    // in the transaction dropping the table (this runs inside it), and once more behind the writes
    // already queued, one of which could otherwise bring a tunnel back
    this.options.root.transactionSync(() => {
      for (const tunnel of doomed) this.db.removeSync(tunnel.id);
    });
    for (const tunnel of doomed) this.tunnels.delete(tunnel.id);
    this.track(this.writes.run(() => doomed.forEach((tunnel) => this.db.removeSync(tunnel.id))));
  }

  // ------------------------------------------------------------------ data plane

  connect(input: {
    readonly tunnelId: string;
    readonly timeoutSec?: number;
    readonly clientTag?: string;
  }): E.Either<TunnelError, { readonly clientId: string }> {
    return E.map((tunnel: Tunnel) => {
      const tag = input.clientTag !== undefined && input.clientTag !== '' ? input.clientTag : 'client';
      const timeoutSec = input.timeoutSec !== undefined && input.timeoutSec > 0 ? input.timeoutSec : DEFAULT_CLIENT_TIMEOUT_SEC;
      const clientId = `${tag}_${randomHex(12)}`;
      this.save(connectClient(tunnel, { id: clientId, tag, timeoutSec, lastHeartbeat: this.clock.now() }));
      return { clientId };
    })(this.live(input.tunnelId));
  }

  heartbeat(input: {
    readonly tunnelId: string;
    readonly clientId: string;
    readonly channels: readonly ReportedChannel[];
  }): E.Either<TunnelError, { readonly channels: readonly Lease[] }> {
    return E.chain((tunnel: Tunnel) => {
      const result = heartbeat(tunnel, input.clientId, input.channels, this.clock.now());
      if (E.isLeft(result)) return E.left(heartbeatRefused(input.clientId, result.left));
      this.save(result.right.tunnel);
      return E.right({ channels: result.right.leases });
    })(this.live(input.tunnelId));
  }

  shutdown(input: { readonly tunnelId: string; readonly clientId: string }): E.Either<TunnelError, void> {
    return E.map((tunnel: Tunnel) => {
      // idempotent: a client that already expired has nothing left to release
      if (tunnel.clients.some((c) => c.id === input.clientId)) this.save(releaseClient(tunnel, input.clientId));
    })(this.live(input.tunnelId));
  }

  private channelOf(input: ChannelCall, requireOwner: boolean): E.Either<TunnelError, { tunnel: Tunnel; channel: Channel }> {
    return E.chain((tunnel: Tunnel) => {
      const channel = tunnel.channels.find((c) => c.id === input.channelId);
      if (channel === undefined) return E.left(parameterInvalid(`Channel ${input.channelId} does not exist in tunnel ${tunnel.id}.`));
      if (!tunnel.clients.some((c) => c.id === input.clientId)) return E.left(clientGone(input.clientId));
      if (requireOwner && !ownsChannel(tunnel, input.clientId, input.channelId)) {
        return E.left(
          tunnelError(
            'OTSResourceGone',
            `Channel ${input.channelId} is not held by client ${input.clientId} (owner: ${channel.owner ?? 'none'}, status ${channel.status}, version ${channel.version}).`,
          ),
        );
      }
      return E.right({ tunnel, channel });
    })(this.live(input.tunnelId));
  }

  getCheckpoint(input: ChannelCall): E.Either<TunnelError, { readonly checkpoint: string; readonly sequenceNumber: number }> {
    // only the holder may read a channel's checkpoint, as it alone may read or write the channel
    return E.map(({ channel }: { channel: Channel }) => ({ checkpoint: channel.checkpoint, sequenceNumber: channel.sequenceNumber }))(
      this.channelOf(input, true),
    );
  }

  checkpoint(input: ChannelCall & { readonly checkpoint: string; readonly sequenceNumber: number }): E.Either<TunnelError, void> {
    return E.chain(({ tunnel, channel }: { tunnel: Tunnel; channel: Channel }) => {
      if (input.sequenceNumber !== channel.sequenceNumber + 1) {
        return E.left(
          tunnelError(
            'OTSSequenceNumberNotMatch',
            `Checkpoint sequence number ${input.sequenceNumber} does not follow the stored ${channel.sequenceNumber} of channel ${channel.id}.`,
          ),
        );
      }
      const token = this.channelToken(tunnel, channel, input.checkpoint);
      if (E.isLeft(token)) return token;
      const position = token.right;
      const updated: Channel = {
        ...channel,
        checkpoint: input.checkpoint,
        sequenceNumber: input.sequenceNumber,
        ...(position.kind !== 'finished'
          ? { count: position.count, rpoUs: position.timestampUs }
          : { count: channel.finalCount ?? channel.count, rpoUs: channel.finalRpoUs ?? channel.rpoUs }),
      };
      this.save({ ...tunnel, channels: tunnel.channels.map((c) => (c.id === channel.id ? updated : c)) });
      return E.right(undefined);
    })(this.channelOf(input, true));
  }

  /** Decodes a token and checks that it belongs to this channel. */
  private channelToken(tunnel: Tunnel, channel: Channel, token: string): E.Either<TunnelError, ChannelToken> {
    const decoded = decodeChannelToken(token);
    if (E.isLeft(decoded)) return E.left(parameterInvalid(`Invalid token for channel ${channel.id}: ${decoded.left}`));
    const position = decoded.right;
    if (position.kind === 'finished') return decoded;
    if (channel.type === 'BaseData' && position.kind !== 'base') {
      return E.left(parameterInvalid(`Token of a stream channel given to base data channel ${channel.id}.`));
    }
    if (channel.type === 'Stream' && (position.kind !== 'stream' || position.streamId !== tunnel.streamId || position.partition !== channel.partition)) {
      return E.left(parameterInvalid(`Token does not belong to stream channel ${channel.id}.`));
    }
    if (position.kind === 'base' && position.startPk.length > 0 && E.isLeft(decodeRow(position.startPk))) {
      return E.left(parameterInvalid(`Invalid primary key in the token of channel ${channel.id}.`));
    }
    return decoded;
  }

  readRecords(input: ChannelCall & { readonly token: string }): E.Either<TunnelError, ReadRecordsOutput> {
    return E.chain(({ tunnel, channel }: { tunnel: Tunnel; channel: Channel }): E.Either<TunnelError, ReadRecordsOutput> => {
      const token = this.channelToken(tunnel, channel, input.token);
      if (E.isLeft(token)) return token;
      const position = token.right;
      if (position.kind === 'finished') return E.right({ records: [], nextToken: FINISHED, mayMoreRecord: false });
      const read: E.Either<TunnelError, ReadRecordsOutput & { readonly endRpoUs: number }> =
        position.kind === 'base' && channel.type === 'BaseData'
          ? E.right(this.readBase(tunnel, channel, position))
          : position.kind === 'stream' && channel.type === 'Stream'
            ? this.readStream(tunnel, channel, position)
            : E.left(parameterInvalid(`Token does not match channel ${channel.id}.`));
      if (E.isRight(read) && read.right.nextToken === FINISHED) this.noteEnd(tunnel, channel, position.count + read.right.records.length, read.right.endRpoUs);
      return read;
    })(this.channelOf(input, true));
  }

  /** Remembers what the channel's `finished` stands for (DescribeTunnel's count and rpo once it is checkpointed). */
  private noteEnd(tunnel: Tunnel, channel: Channel, count: number, rpoUs: number): void {
    if (channel.finalCount === count && channel.finalRpoUs === rpoUs) return;
    const updated: Channel = { ...channel, finalCount: count, finalRpoUs: rpoUs };
    this.save({ ...tunnel, channels: tunnel.channels.map((c) => (c.id === channel.id ? updated : c)) });
  }

  private readBase(tunnel: Tunnel, channel: BaseChannel, position: Extract<ChannelToken, { kind: 'base' }>): ReadRecordsOutput & { readonly endRpoUs: number } {
    const start = decodePrimaryKey(position.startPk.length > 0 ? position.startPk : channel.rangeStart);
    const end = decodePrimaryKey(channel.rangeEnd);
    const { maxRecords, maxBytes } = this.readLimits;
    const encoded = this.options.rows.scanEncoded?.(tunnel.table, start, end, maxRecords, maxBytes) ?? this.scanAndEncode(tunnel.table, start, end);
    const records: TunnelRecord[] = new Array<TunnelRecord>(encoded.records.length);
    for (let i = 0; i < records.length; i++) records[i] = { action: 'PUT_ROW', record: encoded.records[i]! };
    const next = encoded.next;
    const nowUs = this.clock.now() * 1000;
    const nextToken =
      next === undefined
        ? FINISHED
        : encodeChannelToken({ kind: 'base', startPk: encodePrimaryKey(next), count: position.count + records.length, timestampUs: nowUs });
    return { records, nextToken, mayMoreRecord: next !== undefined, endRpoUs: nowUs };
  }

  /** scanEncoded for readers without it. */
  private scanAndEncode(
    table: string,
    start: readonly PrimaryKeyCell[] | undefined,
    end: readonly PrimaryKeyCell[] | undefined,
  ): { readonly records: readonly Uint8Array[]; readonly next?: readonly PrimaryKeyCell[] } {
    const scan = this.options.rows.scan(table, start, end, this.readLimits.maxRecords);
    const records: Uint8Array[] = [];
    let bytes = 0;
    for (const row of scan.rows) {
      const record = encodeRow({ primaryKey: row.primaryKey, cells: row.cells, deleteMarker: false });
      if (records.length > 0 && bytes + record.length > this.readLimits.maxBytes) return { records, next: row.primaryKey };
      records.push(record);
      bytes += record.length;
    }
    return scan.next === undefined ? { records } : { records, next: scan.next };
  }

  private readStream(
    tunnel: Tunnel,
    channel: StreamChannel,
    position: Extract<ChannelToken, { kind: 'stream' }>,
  ): E.Either<TunnelError, ReadRecordsOutput & { readonly endRpoUs: number }> {
    const log = this.options.changeLog;
    if (!log.isLive(position.streamId)) {
      return E.left(tunnelError('OTSTunnelExpired', `The stream of table ${tunnel.table} behind tunnel ${tunnel.id} no longer exists.`));
    }
    const read = log.read(position.streamId, position.partition, position.seq, this.readLimits);
    if (read.kind === 'trimmed') {
      return E.left(
        tunnelError(
          'OTSTunnelExpired',
          `OTSTrimmedDataAccess: records of channel ${channel.id} up to position ${read.trimmedThrough} passed the stream retention; the token points at ${position.seq}.`,
        ),
      );
    }
    const records: TunnelRecord[] = [];
    let nextSeq = read.nextSeq;
    let timestampUs = position.timestampUs;
    let finished = false;
    for (const record of read.records) {
      if (channel.endUs !== undefined && record.commitUs > channel.endUs) {
        finished = true;
        nextSeq = record.seq;
        break;
      }
      if (channel.startUs !== undefined && record.commitUs < channel.startUs) continue;
      records.push({ action: record.action, record: record.record });
      timestampUs = record.commitUs;
    }
    if (channel.endUs !== undefined && !read.more && this.clock.now() * 1000 > channel.endUs) finished = true;
    // a split partition ends where its children begin
    const endSeq = log.endSeq(position.streamId, position.partition);
    if (endSeq !== undefined && !read.more && nextSeq >= endSeq) finished = true;
    if (finished) return E.right({ records, nextToken: FINISHED, mayMoreRecord: false, endRpoUs: timestampUs });
    const nextToken = encodeChannelToken({
      kind: 'stream',
      streamId: position.streamId,
      partition: position.partition,
      seq: nextSeq,
      count: position.count + records.length,
      timestampUs,
    });
    return E.right({ records, nextToken, mayMoreRecord: read.more, endRpoUs: timestampUs });
  }
}
