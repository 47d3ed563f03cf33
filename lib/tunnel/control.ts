/**
 * The tunnel control calls (create, list, describe, delete) with typed results: wire nanoseconds
 * are kept as bigint and also given as `Date`. Each call resolves to an `Either`; List and
 * Describe (idempotent) are retried on transient failures, Create and Delete are not.
 */
import * as E from 'fp-ts/lib/Either.js';
import { asyncScheduler, firstValueFrom, map, of, catchError } from 'rxjs';
import type { Observable, SchedulerLike } from 'rxjs';
import { TUNNEL_APIS } from '../wire/tunnel-messages.js';
import type {
  ChannelInfo,
  ChannelInfoStatus,
  ChannelType,
  StartOffsetFlag,
  StreamTunnelConfig,
  TunnelInfo,
  TunnelStage,
  TunnelType,
} from '../wire/tunnel-messages.js';
import type { TunnelTransport } from './http-transport.js';
import { DEFAULT_REQUEST_RETRY } from './options.js';
import type { RetryPolicy } from './options.js';
import { retryWithBackoff } from './retry-with-backoff.js';

export type { TunnelType, TunnelStage, ChannelType, ChannelInfoStatus, StartOffsetFlag };

/** Where a stream (or the stream part of BaseAndStream) starts and optionally ends. */
export interface StreamStart {
  readonly flag?: StartOffsetFlag;
  /** start at this time instead of `flag` (sent as nanoseconds) */
  readonly startTime?: Date;
  readonly endTime?: Date;
}

export interface CreateTunnelInput {
  readonly tableName: string;
  readonly tunnelName: string;
  readonly tunnelType: TunnelType;
  readonly stream?: StreamStart;
}

export interface StreamConfigInfo {
  readonly flag?: StartOffsetFlag;
  readonly startOffsetNs?: bigint;
  readonly startTime?: Date;
  readonly endOffsetNs?: bigint;
  readonly endTime?: Date;
}

export interface TunnelSummary {
  readonly tunnelId: string;
  readonly tunnelName: string;
  readonly tableName: string;
  readonly instanceName: string;
  readonly streamId: string;
  readonly tunnelType: TunnelType | (string & {});
  readonly stage: TunnelStage | (string & {});
  readonly expired: boolean;
  readonly createTimeNs?: bigint;
  readonly createTime?: Date;
  readonly streamConfig?: StreamConfigInfo;
}

export interface ChannelSummary {
  readonly channelId: string;
  readonly channelType?: ChannelType | (string & {});
  readonly status?: ChannelInfoStatus | (string & {});
  readonly clientId?: string;
  /** consumed up to here */
  readonly rpoNs?: bigint;
  readonly rpoTime?: Date;
  /** records the channel has delivered */
  readonly count?: bigint;
}

export interface TunnelDescription {
  readonly tunnel: TunnelSummary;
  readonly channels: readonly ChannelSummary[];
  readonly tunnelRpoNs?: bigint;
  readonly tunnelRpoTime?: Date;
}

export interface TunnelControl {
  createTunnel(input: CreateTunnelInput): Promise<E.Either<Error, { readonly tunnelId: string }>>;
  /** every tunnel of the instance, or of one table */
  listTunnels(tableName?: string): Promise<E.Either<Error, readonly TunnelSummary[]>>;
  describeTunnel(tableName: string, tunnelName: string): Promise<E.Either<Error, TunnelDescription>>;
  deleteTunnel(tableName: string, tunnelName: string): Promise<E.Either<Error, void>>;
}

export interface TunnelControlOptions {
  readonly retry?: RetryPolicy;
  readonly scheduler?: SchedulerLike;
}

const NANOS_PER_MILLI = 1_000_000n;

/** Nanoseconds since the epoch → Date (millisecond precision; the bigint keeps the rest). */
export function dateFromNanos(nanos: bigint): Date {
  return new Date(Number(nanos / NANOS_PER_MILLI));
}

export function nanosFromDate(date: Date): bigint {
  return BigInt(date.getTime()) * NANOS_PER_MILLI;
}

function streamConfigInfo(config: StreamTunnelConfig): StreamConfigInfo {
  return {
    ...(config.flag === undefined ? {} : { flag: config.flag }),
    ...(config.startOffset === undefined || config.startOffset === 0n ? {} : { startOffsetNs: config.startOffset, startTime: dateFromNanos(config.startOffset) }),
    ...(config.endOffset === undefined || config.endOffset === 0n ? {} : { endOffsetNs: config.endOffset, endTime: dateFromNanos(config.endOffset) }),
  };
}

export function tunnelSummary(info: TunnelInfo): TunnelSummary {
  return {
    tunnelId: info.tunnelId,
    tunnelName: info.tunnelName ?? '',
    tableName: info.tableName,
    instanceName: info.instanceName,
    streamId: info.streamId,
    tunnelType: info.tunnelType,
    stage: info.stage,
    expired: info.expired ?? false,
    ...(info.createTime === undefined ? {} : { createTimeNs: info.createTime, createTime: dateFromNanos(info.createTime) }),
    ...(info.streamTunnelConfig === undefined ? {} : { streamConfig: streamConfigInfo(info.streamTunnelConfig) }),
  };
}

export function channelSummary(info: ChannelInfo): ChannelSummary {
  return {
    channelId: info.channelId,
    ...(info.channelType === undefined ? {} : { channelType: info.channelType }),
    ...(info.channelStatus === undefined ? {} : { status: info.channelStatus }),
    ...(info.clientId === undefined ? {} : { clientId: info.clientId }),
    ...(info.channelRpo === undefined || info.channelRpo === 0n ? {} : { rpoNs: info.channelRpo, rpoTime: dateFromNanos(info.channelRpo) }),
    ...(info.channelCount === undefined ? {} : { count: info.channelCount }),
  };
}

/** §2.1: a start time replaces the flag; an end offset is sent only when set. */
function wireStreamConfig(stream: StreamStart): StreamTunnelConfig {
  return {
    ...(stream.startTime === undefined ? { flag: stream.flag ?? 'LATEST' } : { startOffset: nanosFromDate(stream.startTime) }),
    ...(stream.endTime === undefined ? {} : { endOffset: nanosFromDate(stream.endTime) }),
  };
}

export function tunnelControl(transport: TunnelTransport, options: TunnelControlOptions = {}): TunnelControl {
  const policy = options.retry ?? DEFAULT_REQUEST_RETRY;
  const scheduler = options.scheduler ?? asyncScheduler;
  const run = <T>(call: Observable<T>, idempotent: boolean): Promise<E.Either<Error, T>> =>
    firstValueFrom(
      (idempotent ? call.pipe(retryWithBackoff<T>({ ...policy, scheduler })) : call).pipe(
        map((value) => E.right(value) as E.Either<Error, T>),
        catchError((error: unknown) => of(E.left(error instanceof Error ? error : new Error(String(error))))),
      ),
    );
  return {
    createTunnel: (input) =>
      run(
        transport
          .call(TUNNEL_APIS.CreateTunnel, {
            tunnel: {
              tableName: input.tableName,
              tunnelName: input.tunnelName,
              tunnelType: input.tunnelType,
              ...(input.stream === undefined && input.tunnelType === 'BaseData' ? {} : { streamTunnelConfig: wireStreamConfig(input.stream ?? {}) }),
            },
          })
          .pipe(map((response) => ({ tunnelId: response.tunnelId }))),
        TUNNEL_APIS.CreateTunnel.idempotent,
      ),
    listTunnels: (tableName) =>
      run(
        transport.call(TUNNEL_APIS.ListTunnel, tableName === undefined ? {} : { tableName }).pipe(map((response) => response.tunnels.map(tunnelSummary))),
        TUNNEL_APIS.ListTunnel.idempotent,
      ),
    describeTunnel: (tableName, tunnelName) =>
      run(
        transport.call(TUNNEL_APIS.DescribeTunnel, { tableName, tunnelName }).pipe(
          map(
            (response): TunnelDescription => ({
              tunnel: tunnelSummary(response.tunnel),
              channels: response.channels.map(channelSummary),
              ...(response.tunnelRpo === undefined || response.tunnelRpo === 0n ? {} : { tunnelRpoNs: response.tunnelRpo, tunnelRpoTime: dateFromNanos(response.tunnelRpo) }),
            }),
          ),
        ),
        TUNNEL_APIS.DescribeTunnel.idempotent,
      ),
    deleteTunnel: (tableName, tunnelName) =>
      run(transport.call(TUNNEL_APIS.DeleteTunnel, { tableName, tunnelName }).pipe(map((): void => undefined)), TUNNEL_APIS.DeleteTunnel.idempotent),
  };
}
