/**
 * The persisted state of one tunnel: its definition, its channels (with leases and
 * checkpoints) and its connected clients. Plain data, stored as one LMDB value, so every
 * service call replaces it atomically.
 */

export type TunnelType = 'BaseData' | 'Stream' | 'BaseAndStream';
export type TunnelStage = 'InitBaseDataAndStreamShard' | 'ProcessBaseData' | 'ProcessStream';
export type ChannelType = 'BaseData' | 'Stream';
export type ChannelStatus = 'WAIT' | 'OPEN' | 'CLOSING' | 'CLOSE' | 'TERMINATED';

export const FINISHED = 'finished';

/** Where a stream channel starts, as CreateTunnel asked for it. */
export interface StreamStart {
  readonly flag: 'LATEST' | 'EARLIEST';
  /** µs since epoch; set when the request carried startOffset (ns) */
  readonly startUs?: number;
  /** µs since epoch; the channel finishes once records pass it */
  readonly endUs?: number;
}

interface ChannelCommon {
  readonly id: string;
  readonly status: ChannelStatus;
  /** only grows; a change of owner or status always bumps it */
  readonly version: number;
  readonly owner?: string;
  /** the stored token (or `finished`) and the optimistic-lock counter guarding it */
  readonly checkpoint: string;
  readonly sequenceNumber: number;
  /** records consumed up to the checkpoint */
  readonly count: number;
  /** commit time (µs) of the data consumed up to the checkpoint; 0 = none yet */
  readonly rpoUs: number;
  /**
   * what a `finished` checkpoint stands for: count and rpo of the data up to the channel's end,
   * noted by the ReadRecords that returned `finished` (the token itself carries nothing)
   */
  readonly finalCount?: number;
  readonly finalRpoUs?: number;
}

export interface BaseChannel extends ChannelCommon {
  readonly type: 'BaseData';
  /** PlainBuffer primary keys bounding the channel's range [start, end); absent = table edge */
  readonly rangeStart?: Uint8Array;
  readonly rangeEnd?: Uint8Array;
}

export interface StreamChannel extends ChannelCommon {
  readonly type: 'Stream';
  /** the stream partition it reads (ChangeLog index) */
  readonly partition: number;
  /** the channel of the partition this one was split from: it opens once that one is TERMINATED */
  readonly parent?: string;
  /** records committed before this are skipped (startOffset) */
  readonly startUs?: number;
  /** the channel finishes once records pass this (endOffset) */
  readonly endUs?: number;
}

export type Channel = BaseChannel | StreamChannel;

export interface Client {
  readonly id: string;
  readonly tag: string;
  /** heartbeat timeout, seconds (ConnectTunnel's client_config.timeout) */
  readonly timeoutSec: number;
  /** ms since epoch */
  readonly lastHeartbeat: number;
}

export interface Tunnel {
  readonly id: string;
  readonly name: string;
  readonly table: string;
  readonly type: TunnelType;
  /** ms since epoch */
  readonly createdAt: number;
  readonly streamId?: string;
  readonly streamStart?: StreamStart;
  readonly channels: readonly Channel[];
  /** stream partitions the tunnel has channels for (or skipped); later ones come from splits */
  readonly knownPartitions?: number;
  /** in connect order: the order decides who gets the odd channels when they do not divide evenly */
  readonly clients: readonly Client[];
}

export const stageOf = (tunnel: Tunnel): TunnelStage =>
  tunnel.channels.some((c) => c.type === 'BaseData' && c.status !== 'TERMINATED') ? 'ProcessBaseData' : 'ProcessStream';
