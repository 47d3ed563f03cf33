/**
 * The tunnel service on HTTP: one route handler for every `/tunnel/...` path. It decodes the
 * protobuf request (tunnel-protocol.md §2), calls the service, encodes the response or the
 * error, and applies the fault plan on the way.
 *
 * The handler fits the emulator router (authentication and response headers are the server's
 * job). To cut a response halfway (the `drop` fault, withheld heartbeats) it needs the Node
 * response object; without one, a dropped call is answered normally.
 *
 * Not served (optional, Go SDK only): GetRpo, GetRpoByOffset, Schedule.
 */
import * as E from 'fp-ts/lib/Either.js';
import type { ServerResponse } from 'node:http';
import {
  type ChannelInfo as WireChannelInfo,
  type MessageCodec,
  type TunnelInfo as WireTunnelInfo,
  TUNNEL_APIS,
  tunnelMessages,
} from '../../wire/tunnel-messages.js';
import { type TunnelError, TUNNEL_HTTP_STATUS, tunnelError } from './errors.js';
import type { FaultInjector } from './faults.js';
import type { ReportedChannel } from './leases.js';
import type { TunnelInfo, TunnelService } from './service.js';

export interface TunnelCallContext {
  readonly path: string;
  readonly body: Uint8Array;
  /** lets faults cut the connection mid-response */
  readonly response?: ServerResponse;
}

export interface TunnelCallError {
  readonly code: string;
  readonly message: string;
  readonly status: number;
}

export type TunnelCallResult = E.Either<TunnelCallError, Uint8Array>;

export const TUNNEL_PATH_PREFIX = '/tunnel/';

export interface TunnelHandlerOptions {
  readonly service: TunnelService;
  readonly faults: FaultInjector;
  /** how injected latency waits (tests may pass a virtual one) */
  readonly sleep?: (ms: number) => Promise<void>;
}

/** What a route returns when the call must end without any response (withheld heartbeat). */
const NO_RESPONSE = Symbol('no response');

type RouteOutcome = E.Either<TunnelError, Uint8Array> | typeof NO_RESPONSE;
type Route = (body: Uint8Array) => RouteOutcome;

const asCallError = (error: TunnelError): TunnelCallError => ({ ...error, status: TUNNEL_HTTP_STATUS[error.code] });

const sleepFor = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Decodes, runs, encodes: a bad request body is OTSParameterInvalid naming every bad field. */
const route =
  <Req, Res, Out>(requestCodec: MessageCodec<Req>, responseCodec: MessageCodec<Res>, run: (request: Req) => E.Either<TunnelError, Out> | typeof NO_RESPONSE, toWire: (out: Out) => Res): Route =>
  (body) => {
    const request = requestCodec.decode(body);
    if (E.isLeft(request)) return E.left(tunnelError('OTSParameterInvalid', request.left.message));
    const result = run(request.right);
    if (result === NO_RESPONSE) return NO_RESPONSE;
    return E.map((out: Out) => responseCodec.encode(toWire(out)))(result);
  };

const EMPTY = {} as Readonly<Record<string, never>>;

/** int64 fields that the service keeps as numbers: versions, sequence numbers, timeouts. */
const safeNumber = (value: bigint, field: string): E.Either<TunnelError, number> =>
  value >= 0n && value <= BigInt(Number.MAX_SAFE_INTEGER)
    ? E.right(Number(value))
    : E.left(tunnelError('OTSParameterInvalid', `${field}: ${value} is out of range`));

const tunnelInfoToWire = (info: TunnelInfo): WireTunnelInfo => ({
  tunnelId: info.tunnelId,
  tunnelType: info.tunnelType,
  tableName: info.tableName,
  instanceName: info.instanceName,
  streamId: info.streamId,
  stage: info.stage,
  expired: info.expired,
  tunnelName: info.tunnelName,
  createTime: info.createTimeNs,
  ...(info.streamConfig === undefined
    ? {}
    : {
        streamTunnelConfig: {
          flag: info.streamConfig.flag,
          startOffset: info.streamConfig.startOffsetNs,
          endOffset: info.streamConfig.endOffsetNs,
        },
      }),
});

const routes = (service: TunnelService, faults: FaultInjector): ReadonlyMap<string, Route> => {
  const m = tunnelMessages;
  return new Map<string, Route>([
    [
      TUNNEL_APIS.CreateTunnel.path,
      route(
        m.CreateTunnelRequest,
        m.CreateTunnelResponse,
        ({ tunnel }) => {
          const config = tunnel.streamTunnelConfig;
          return service.createTunnel({
            tableName: tunnel.tableName,
            tunnelName: tunnel.tunnelName,
            tunnelType: tunnel.tunnelType,
            ...(config === undefined
              ? {}
              : {
                  streamConfig: {
                    ...(config.flag === undefined ? {} : { flag: config.flag }),
                    ...(config.startOffset === undefined ? {} : { startOffsetNs: config.startOffset }),
                    ...(config.endOffset === undefined ? {} : { endOffsetNs: config.endOffset }),
                  },
                }),
          });
        },
        (out) => out,
      ),
    ],
    [TUNNEL_APIS.DeleteTunnel.path, route(m.DeleteTunnelRequest, m.DeleteTunnelResponse, (r) => service.deleteTunnel(r), () => EMPTY)],
    [
      TUNNEL_APIS.ListTunnel.path,
      route(
        m.ListTunnelRequest,
        m.ListTunnelResponse,
        (r) => service.listTunnels(r.tableName === undefined ? {} : { tableName: r.tableName }),
        (tunnels) => ({ tunnels: tunnels.map(tunnelInfoToWire) }),
      ),
    ],
    [
      TUNNEL_APIS.DescribeTunnel.path,
      route(
        m.DescribeTunnelRequest,
        m.DescribeTunnelResponse,
        (r) => service.describeTunnel(r),
        (out) => ({
          tunnel: tunnelInfoToWire(out.tunnel),
          channels: out.channels.map(
            (c): WireChannelInfo => ({
              channelId: c.channelId,
              channelType: c.channelType,
              channelStatus: c.channelStatus,
              clientId: c.clientId,
              channelRpo: c.channelRpoNs,
              channelCount: c.channelCount,
            }),
          ),
          tunnelRpo: out.tunnelRpoNs,
        }),
      ),
    ],
    [
      TUNNEL_APIS.ConnectTunnel.path,
      route(
        m.ConnectRequest,
        m.ConnectResponse,
        (r) => {
          const timeout = r.clientConfig?.timeout;
          const checked = timeout === undefined ? E.right(undefined) : safeNumber(timeout, 'client_config.timeout');
          if (E.isLeft(checked)) return checked;
          return service.connect({
            tunnelId: r.tunnelId,
            ...(checked.right === undefined ? {} : { timeoutSec: checked.right }),
            ...(r.clientConfig?.clientTag === undefined ? {} : { clientTag: r.clientConfig.clientTag }),
          });
        },
        (out) => out,
      ),
    ],
    [
      TUNNEL_APIS.Heartbeat.path,
      route(
        m.HeartbeatRequest,
        m.HeartbeatResponse,
        (r) => {
          if (faults.isHeartbeatWithheld(r.clientId)) return NO_RESPONSE;
          const channels: ReportedChannel[] = [];
          for (const [i, c] of r.channels.entries()) {
            const version = safeNumber(c.version, `channels.${i}.version`);
            if (E.isLeft(version)) return version;
            channels.push({ id: c.channelId, version: version.right, status: c.status });
          }
          return service.heartbeat({ tunnelId: r.tunnelId, clientId: r.clientId, channels });
        },
        (out) => ({ channels: out.channels.map((l) => ({ channelId: l.id, version: BigInt(l.version), status: l.status })) }),
      ),
    ],
    [TUNNEL_APIS.ShutdownTunnel.path, route(m.ShutdownRequest, m.ShutdownResponse, (r) => service.shutdown(r), () => EMPTY)],
    [
      TUNNEL_APIS.GetCheckpoint.path,
      route(
        m.GetCheckpointRequest,
        m.GetCheckpointResponse,
        (r) => service.getCheckpoint(r),
        (out) => ({ checkpoint: out.checkpoint, sequenceNumber: BigInt(out.sequenceNumber) }),
      ),
    ],
    [
      TUNNEL_APIS.Checkpoint.path,
      route(
        m.CheckpointRequest,
        m.CheckpointResponse,
        (r) => {
          const sequenceNumber = safeNumber(r.sequenceNumber, 'sequence_number');
          if (E.isLeft(sequenceNumber)) return sequenceNumber;
          return service.checkpoint({ ...r, sequenceNumber: sequenceNumber.right });
        },
        () => EMPTY,
      ),
    ],
    [
      TUNNEL_APIS.ReadRecords.path,
      route(
        m.ReadRecordsRequest,
        m.ReadRecordsResponse,
        (r) => service.readRecords(r),
        (out) => ({
          records: out.records.map((record) => ({ actionType: record.action, record: record.record })),
          nextToken: out.nextToken,
          mayMoreRecord: out.mayMoreRecord,
        }),
      ),
    ],
  ]);
};

/** Writes the head and part of the body, then cuts the connection: the client sees a reset mid-response. */
const cutResponse = (response: ServerResponse, body: Uint8Array): void => {
  response.writeHead(200, { 'content-length': body.length, 'x-ots-requestid': 'dropped' });
  response.write(body.subarray(0, Math.floor(body.length / 2)));
  response.socket?.destroy();
  response.destroy();
};

export const createTunnelHandler = (options: TunnelHandlerOptions): ((context: TunnelCallContext) => Promise<TunnelCallResult>) => {
  const table = routes(options.service, options.faults);
  const sleep = options.sleep ?? sleepFor;
  return async (context) => {
    const run = table.get(context.path);
    if (run === undefined) {
      return E.left({ code: 'OTSParameterInvalid', message: `Unsupported tunnel operation: '${context.path}'.`, status: 400 });
    }
    const fault = options.faults.decide();
    if (fault.delayMs > 0) await sleep(fault.delayMs);
    if (context.path === TUNNEL_APIS.ReadRecords.path && options.faults.currentPlan().slowReads !== undefined) {
      const request = tunnelMessages.ReadRecordsRequest.decode(context.body);
      const held = E.isRight(request) ? options.faults.readDelay(request.right.channelId) : 0;
      if (held > 0) await sleep(held);
    }
    if (fault.kind === 'unavailable') {
      return E.left({ code: 'OTSTunnelServerUnavailable', message: 'Tunnel service is unavailable (injected fault).', status: 503 });
    }
    const outcome = run(context.body);
    // Whatever a call changed or saw changed is on disk before anyone hears of it. ReadRecords
    // needs no wait: it reveals table data (committed before) and whether the caller holds the
    // channel, which the caller only acts on after a heartbeat or connect answer, and those wait.
    if (context.path !== TUNNEL_APIS.ReadRecords.path) await options.service.durable();
    if (outcome === NO_RESPONSE) {
      context.response?.socket?.destroy();
      context.response?.destroy();
      return E.left({ code: 'OTSTunnelServerUnavailable', message: 'Heartbeat withheld (injected fault).', status: 503 });
    }
    if (E.isLeft(outcome)) return E.left(asCallError(outcome.left));
    if (fault.kind === 'drop' && context.response !== undefined) cutResponse(context.response, outcome.right);
    return outcome;
  };
};
