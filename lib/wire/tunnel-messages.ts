/**
 * Tunnel service messages (tunnel-protocol.md §2) as typed codecs, plus the token helpers of §5.2.
 *
 *   const body = tunnelMessages.HeartbeatRequest.encode({ tunnelId, clientId, channels: [] });
 *   const reply = tunnelMessages.HeartbeatResponse.decode(bytes); // Either<WireDecodeError, HeartbeatResponse>
 *
 * Conventions (see proto-codec.ts): camelCase fields, int64 as bigint, enums as names, bytes as
 * Uint8Array, absent optional = absent property, repeated fields are required arrays here (use
 * `[]`), and decoding always yields an array.
 *
 * Times: `createTime`, `channelRpo`, `tunnelRpo`, `startOffset`, `endOffset` are **nanoseconds**
 * since the epoch; `ClientConfig.timeout` is **seconds** (§2.1). String enums of TunnelInfo /
 * ChannelInfo are typed with the exact strings the Java SDK's `Enum.valueOf` accepts.
 */
import { left, right } from 'fp-ts/lib/Either.js';
import type { Either } from 'fp-ts/lib/Either.js';
import { ProtoSchema } from './proto-codec.js';
import type { MessageCodec } from './proto-codec.js';
import { TUNNEL_PROTO, TUNNEL_PROTO_PACKAGE } from './tunnel-proto.js';
import { WireDecodeError } from './wire-error.js';
import { decodeReadRecordsResponseFast } from './read-records-fast.js';

export type { MessageCodec } from './proto-codec.js';

// ---- enums ----------------------------------------------------------------------------------

export type TunnelType = 'BaseData' | 'Stream' | 'BaseAndStream';
export type ChannelStatus = 'OPEN' | 'CLOSING' | 'CLOSE' | 'TERMINATED';
export type ActionType = 'PUT_ROW' | 'UPDATE_ROW' | 'DELETE_ROW';
export type StartOffsetFlag = 'LATEST' | 'EARLIEST';

/** String-typed fields of TunnelInfo / ChannelInfo (not proto enums; §3). */
export type TunnelStage = 'InitBaseDataAndStreamShard' | 'ProcessBaseData' | 'ProcessStream';
export type ChannelType = 'BaseData' | 'Stream';
/** ChannelInfo.channel_status: unlike `Channel.status` it includes WAIT */
export type ChannelInfoStatus = 'WAIT' | 'OPEN' | 'CLOSING' | 'CLOSE' | 'TERMINATED';

// ---- messages -------------------------------------------------------------------------------

/** Body of every non-2xx tunnel response; servers must never set `tunnelId` (§4.3, see errors.ts). */
export interface TunnelError {
  readonly code: string;
  readonly message?: string;
  readonly tunnelId?: string;
}

export interface StreamTunnelConfig {
  readonly flag?: StartOffsetFlag;
  /** ns since epoch */
  readonly startOffset?: bigint;
  /** ns since epoch */
  readonly endOffset?: bigint;
}

export interface Tunnel {
  readonly tableName: string;
  readonly tunnelName: string;
  readonly tunnelType: TunnelType;
  readonly streamTunnelConfig?: StreamTunnelConfig;
  readonly needAllTimeSeriesColumns?: boolean;
}
export interface CreateTunnelRequest {
  readonly tunnel: Tunnel;
}
export interface CreateTunnelResponse {
  readonly tunnelId: string;
}

export interface DeleteTunnelRequest {
  readonly tableName: string;
  readonly tunnelName: string;
  readonly tunnelId?: string;
}
export type DeleteTunnelResponse = Readonly<Record<string, never>>;

export interface ListTunnelRequest {
  /** absent or '' lists every tunnel of the instance */
  readonly tableName?: string;
}
export interface TunnelInfo {
  readonly tunnelId: string;
  readonly tunnelType: TunnelType | (string & {});
  readonly tableName: string;
  readonly instanceName: string;
  readonly streamId: string;
  readonly stage: TunnelStage | (string & {});
  readonly expired?: boolean;
  readonly tunnelName?: string;
  readonly public?: boolean;
  readonly streamTunnelConfig?: StreamTunnelConfig;
  /** ns since epoch */
  readonly createTime?: bigint;
}
export interface ListTunnelResponse {
  readonly tunnels: readonly TunnelInfo[];
}

export interface DescribeTunnelRequest {
  readonly tableName: string;
  readonly tunnelName: string;
  readonly tunnelId?: string;
}
export interface ChannelInfo {
  readonly channelId: string;
  readonly channelType?: ChannelType | (string & {});
  readonly channelStatus?: ChannelInfoStatus | (string & {});
  readonly clientId?: string;
  /** ns since epoch: consumed up to here */
  readonly channelRpo?: bigint;
  readonly channelCount?: bigint;
}
export interface DescribeTunnelResponse {
  readonly tunnel: TunnelInfo;
  readonly channels: readonly ChannelInfo[];
  /** ns since epoch */
  readonly tunnelRpo?: bigint;
}

export interface GetRpoRequest {
  readonly tunnelId?: string;
  readonly limit?: number;
}
export interface GetRpoResponse {
  /** JSON (§2.2) */
  readonly rpoInfos?: Uint8Array;
  /** JSON (§2.2) */
  readonly tunnelRpoInfos?: Uint8Array;
  readonly tunnelId?: string;
}

export interface ClientConfig {
  /** heartbeat timeout in seconds */
  readonly timeout?: bigint;
  readonly clientTag?: string;
}
export interface ConnectRequest {
  readonly tunnelId: string;
  readonly clientConfig?: ClientConfig;
}
export interface ConnectResponse {
  readonly clientId: string;
}

export interface Channel {
  readonly channelId: string;
  readonly version: bigint;
  readonly status: ChannelStatus;
  readonly detail?: Uint8Array;
}
export interface HeartbeatRequest {
  readonly tunnelId: string;
  readonly clientId: string;
  readonly channels: readonly Channel[];
}
export interface HeartbeatResponse {
  readonly channels: readonly Channel[];
}

export interface ShutdownRequest {
  readonly tunnelId: string;
  readonly clientId: string;
}
export type ShutdownResponse = Readonly<Record<string, never>>;

export interface GetCheckpointRequest {
  readonly tunnelId: string;
  readonly clientId: string;
  readonly channelId: string;
}
export interface GetCheckpointResponse {
  /** a token string, or `finished` */
  readonly checkpoint: string;
  readonly sequenceNumber: bigint;
}

export interface CheckpointRequest {
  readonly tunnelId: string;
  readonly clientId: string;
  readonly channelId: string;
  /** a token string, or `finished` */
  readonly checkpoint: string;
  readonly sequenceNumber: bigint;
}
export type CheckpointResponse = Readonly<Record<string, never>>;

export interface ReadRecordsRequest {
  readonly tunnelId: string;
  readonly clientId: string;
  readonly channelId: string;
  readonly token: string;
}
export interface TunnelRecord {
  readonly actionType: ActionType;
  /** one PlainBuffer row with header (§6) */
  readonly record: Uint8Array;
  /** PlainBuffer of the origin columns' previous values (§6.6) */
  readonly originRecord?: Uint8Array;
}
export interface ReadRecordsResponse {
  readonly records: readonly TunnelRecord[];
  /** `finished` when the channel is drained */
  readonly nextToken: string;
  readonly mayMoreRecord?: boolean;
}

export interface Token {
  /** 1 → content is TokenContent, 2 → TokenContentV2 */
  readonly version: bigint;
  readonly content: Uint8Array;
}
export interface TokenContent {
  readonly primaryKey?: Uint8Array;
  /** non-empty ⇔ stream channel (§5.2) */
  readonly iterator?: string;
  readonly timestamp?: bigint;
}
export interface TokenContentV2 extends TokenContent {
  readonly totalCount?: bigint;
}

export interface ScheduleRequest {
  readonly tunnelId: string;
  readonly channels: readonly Channel[];
}
export type ScheduleResponse = Readonly<Record<string, never>>;
export interface LockChannelRequest {
  readonly tunnelId: string;
  readonly clientId: string;
  readonly channelId: string;
  readonly lockId: string;
  readonly timeout: bigint;
}
export type LockChannelResponse = Readonly<Record<string, never>>;
export interface UnlockChannelRequest {
  readonly tunnelId: string;
  readonly clientId: string;
  readonly channelId: string;
  readonly lockId: string;
}
export type UnlockChannelResponse = Readonly<Record<string, never>>;

/** Every message of §2 by its protobuf name. */
export interface TunnelMessageTypes {
  Error: TunnelError;
  Tunnel: Tunnel;
  CreateTunnelRequest: CreateTunnelRequest;
  CreateTunnelResponse: CreateTunnelResponse;
  DeleteTunnelRequest: DeleteTunnelRequest;
  DeleteTunnelResponse: DeleteTunnelResponse;
  ListTunnelRequest: ListTunnelRequest;
  TunnelInfo: TunnelInfo;
  ListTunnelResponse: ListTunnelResponse;
  DescribeTunnelRequest: DescribeTunnelRequest;
  ChannelInfo: ChannelInfo;
  DescribeTunnelResponse: DescribeTunnelResponse;
  GetRpoRequest: GetRpoRequest;
  GetRpoResponse: GetRpoResponse;
  ClientConfig: ClientConfig;
  ConnectRequest: ConnectRequest;
  ConnectResponse: ConnectResponse;
  Channel: Channel;
  HeartbeatRequest: HeartbeatRequest;
  HeartbeatResponse: HeartbeatResponse;
  ShutdownRequest: ShutdownRequest;
  ShutdownResponse: ShutdownResponse;
  GetCheckpointRequest: GetCheckpointRequest;
  GetCheckpointResponse: GetCheckpointResponse;
  CheckpointRequest: CheckpointRequest;
  CheckpointResponse: CheckpointResponse;
  ReadRecordsRequest: ReadRecordsRequest;
  Record: TunnelRecord;
  ReadRecordsResponse: ReadRecordsResponse;
  Token: Token;
  TokenContent: TokenContent;
  TokenContentV2: TokenContentV2;
  StreamTunnelConfig: StreamTunnelConfig;
  ScheduleRequest: ScheduleRequest;
  ScheduleResponse: ScheduleResponse;
  LockChannelRequest: LockChannelRequest;
  LockChannelResponse: LockChannelResponse;
  UnlockChannelRequest: UnlockChannelRequest;
  UnlockChannelResponse: UnlockChannelResponse;
}
export type TunnelMessageName = keyof TunnelMessageTypes;

export const TUNNEL_MESSAGE_NAMES: readonly TunnelMessageName[] = [
  'Error',
  'Tunnel',
  'CreateTunnelRequest',
  'CreateTunnelResponse',
  'DeleteTunnelRequest',
  'DeleteTunnelResponse',
  'ListTunnelRequest',
  'TunnelInfo',
  'ListTunnelResponse',
  'DescribeTunnelRequest',
  'ChannelInfo',
  'DescribeTunnelResponse',
  'GetRpoRequest',
  'GetRpoResponse',
  'ClientConfig',
  'ConnectRequest',
  'ConnectResponse',
  'Channel',
  'HeartbeatRequest',
  'HeartbeatResponse',
  'ShutdownRequest',
  'ShutdownResponse',
  'GetCheckpointRequest',
  'GetCheckpointResponse',
  'CheckpointRequest',
  'CheckpointResponse',
  'ReadRecordsRequest',
  'Record',
  'ReadRecordsResponse',
  'Token',
  'TokenContent',
  'TokenContentV2',
  'StreamTunnelConfig',
  'ScheduleRequest',
  'ScheduleResponse',
  'LockChannelRequest',
  'LockChannelResponse',
  'UnlockChannelRequest',
  'UnlockChannelResponse',
];

const schema = ProtoSchema.fromText(TUNNEL_PROTO);

/** The parsed §2 schema, for code that needs protobufjs reflection directly. */
export const tunnelSchema: ProtoSchema = schema;

/** ReadRecordsResponse with its fast path (read-records-fast.ts) in front of decodeWithViews. */
function readRecordsCodec(generic: MessageCodec<ReadRecordsResponse>): MessageCodec<ReadRecordsResponse> {
  return {
    typeName: generic.typeName,
    encode: (message) => generic.encode(message),
    decode: (bytes) => generic.decode(bytes),
    decodeWithViews: (bytes) => {
      const fast = decodeReadRecordsResponseFast(bytes);
      return fast === undefined ? generic.decodeWithViews(bytes) : right(fast);
    },
  };
}

/** A typed codec per message name. */
export const tunnelMessages: { readonly [K in TunnelMessageName]: MessageCodec<TunnelMessageTypes[K]> } = Object.fromEntries(
  TUNNEL_MESSAGE_NAMES.map((name) => {
    const codec = schema.codec(`${TUNNEL_PROTO_PACKAGE}.${name}`);
    return [name, name === 'ReadRecordsResponse' ? readRecordsCodec(codec as MessageCodec<ReadRecordsResponse>) : codec];
  }),
) as { readonly [K in TunnelMessageName]: MessageCodec<TunnelMessageTypes[K]> };

// ---- the APIs (§1) --------------------------------------------------------------------------

export interface TunnelApi<Req extends TunnelMessageName, Res extends TunnelMessageName> {
  readonly path: string;
  readonly request: Req;
  readonly response: Res;
  /** the Java SDK retries it on 5xx / network errors */
  readonly idempotent: boolean;
}

const api = <Req extends TunnelMessageName, Res extends TunnelMessageName>(
  path: string,
  request: Req,
  response: Res,
  idempotent: boolean,
): TunnelApi<Req, Res> => ({ path, request, response, idempotent });

/** Every tunnel call: HTTP POST to `path`, body = `request`, 2xx body = `response`. */
export const TUNNEL_APIS = {
  CreateTunnel: api('/tunnel/create', 'CreateTunnelRequest', 'CreateTunnelResponse', false),
  DeleteTunnel: api('/tunnel/delete', 'DeleteTunnelRequest', 'DeleteTunnelResponse', false),
  ListTunnel: api('/tunnel/list', 'ListTunnelRequest', 'ListTunnelResponse', true),
  DescribeTunnel: api('/tunnel/describe', 'DescribeTunnelRequest', 'DescribeTunnelResponse', true),
  ConnectTunnel: api('/tunnel/connect', 'ConnectRequest', 'ConnectResponse', false),
  Heartbeat: api('/tunnel/heartbeat', 'HeartbeatRequest', 'HeartbeatResponse', false),
  ShutdownTunnel: api('/tunnel/shutdown', 'ShutdownRequest', 'ShutdownResponse', false),
  GetCheckpoint: api('/tunnel/getcheckpoint', 'GetCheckpointRequest', 'GetCheckpointResponse', true),
  ReadRecords: api('/tunnel/readrecords', 'ReadRecordsRequest', 'ReadRecordsResponse', true),
  Checkpoint: api('/tunnel/checkpoint', 'CheckpointRequest', 'CheckpointResponse', false),
  GetRpo: api('/tunnel/getrpo', 'GetRpoRequest', 'GetRpoResponse', true),
  GetRpoByOffset: api('/tunnel/getrpobyoffset', 'GetRpoRequest', 'GetRpoResponse', true),
  Schedule: api('/tunnel/schedule', 'ScheduleRequest', 'ScheduleResponse', false),
} as const;
export type TunnelApiName = keyof typeof TUNNEL_APIS;

// ---- tokens (§5.2, §5.3) --------------------------------------------------------------------

/** The literal checkpoint / next_token that marks a drained channel. */
export const FINISHED_TOKEN = 'finished';

export type TokenVersion = 1n | 2n;

export interface ParsedToken {
  readonly version: TokenVersion;
  /** TokenContent for version 1 (never has totalCount), TokenContentV2 for version 2 */
  readonly content: TokenContentV2;
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** Token string = standard padded base64 of `Token{version, content}`. */
export function encodeTokenString(token: ParsedToken): string {
  const content =
    token.version === 1n
      ? tunnelMessages.TokenContent.encode(withoutTotalCount(token.content))
      : tunnelMessages.TokenContentV2.encode(token.content);
  return Buffer.from(tunnelMessages.Token.encode({ version: token.version, content })).toString('base64');
}

function withoutTotalCount(content: TokenContentV2): TokenContent {
  if (content.totalCount !== undefined) throw new TypeError('a version 1 token has no totalCount');
  return content;
}

/** Parses a token string; `finished` and anything else that is not a token is a Left. */
export function decodeTokenString(token: string): Either<WireDecodeError, ParsedToken> {
  if (token.length === 0 || !BASE64.test(token)) {
    return left(new WireDecodeError('Token', [{ path: '', problem: 'not a padded base64 string' }]));
  }
  const outer = tunnelMessages.Token.decode(Buffer.from(token, 'base64'));
  if (outer._tag === 'Left') return outer;
  const { version, content } = outer.right;
  if (version !== 1n && version !== 2n) {
    return left(new WireDecodeError('Token', [{ path: 'version', problem: `unsupported token version ${version}` }]));
  }
  const inner = version === 1n ? tunnelMessages.TokenContent.decode(content) : tunnelMessages.TokenContentV2.decode(content);
  if (inner._tag === 'Left') return inner;
  return right({ version, content: inner.right });
}

/** The only thing clients derive from a token: stream channel ⇔ non-empty iterator. `finished` and garbage are not. */
export function isStreamToken(token: string): boolean {
  const parsed = decodeTokenString(token);
  return parsed._tag === 'Right' && (parsed.right.content.iterator ?? '') !== '';
}
