/**
 * `tunnel(options)` input: validated with io-ts, every problem collected with its path, then
 * completed with defaults (tunnel-protocol.md §9) into a `TunnelConfig`. Nothing is sent before
 * the options decode.
 */
import * as t from 'io-ts';
import * as E from 'fp-ts/lib/Either.js';
import { hostname } from 'node:os';
import { isObservable, type Observable, type SchedulerLike } from 'rxjs';
import type { BackoffPolicy, RetryPolicy } from './backoff.js';
import { TunnelOptionsError } from './errors.js';
import type { OptionIssue } from './errors.js';
import type { TunnelEvent } from './model.js';

/** Per-channel tokens to start from instead of the service checkpoint (replay). */
export type StartTokens =
  /** consulted at the first opening of each channel in this worker's lifetime */
  | Readonly<Record<string, string>>
  /**
   * consulted at every opening of a channel; `undefined` → the service checkpoint. A promise
   * (a job that keeps its positions in a table and must claim the channel first) delays the
   * channel's first read until it settles; a rejection fails the opening like a failed
   * GetCheckpoint (the channel is given back).
   */
  | ((channelId: string) => string | undefined | PromiseLike<string | undefined>);

export type { RetryPolicy } from './backoff.js';

export interface TunnelOptions {
  /** `http://host:port` or `https://host` of the instance */
  readonly endpoint: string;
  readonly instance: string;
  readonly credentials: { readonly accessKeyId: string; readonly accessKeySecret: string; readonly securityToken?: string };
  /** the tunnel by id … */
  readonly tunnelId?: string;
  /** … or by table and tunnel name (resolved with DescribeTunnel) */
  readonly tableName?: string;
  readonly tunnelName?: string;
  /** default 30 000 */
  readonly heartbeatIntervalMs?: number;
  /** default 300 000; must exceed the interval; sent to the service rounded up to seconds */
  readonly heartbeatTimeoutMs?: number;
  /** unacknowledged batches a channel may have before it stops reading; default 2 */
  readonly maxInFlightBatchesPerChannel?: number;
  /** stream channels sleep between not-full reads; default 20 ms ×5, jitter 0.25, max 5 s */
  readonly readBackoff?: Partial<BackoffPolicy>;
  /** per-request retry of transient failures; default 100 ms ×2, jitter 0.33, max 2 s, within 35 s */
  readonly requestRetry?: Partial<RetryPolicy>;
  /** wait before connecting as a new client after a lost one; default 500 ms ×2, jitter 0.5, max 10 s */
  readonly reconnectBackoff?: Partial<BackoffPolicy>;
  /** HTTP request timeout; default 60 000 */
  readonly requestTimeoutMs?: number;
  /** how long a channel told CLOSING waits for its batches' commits; default one heartbeat interval */
  readonly closingDrainTimeoutMs?: number;
  /**
   * how long an acknowledged batch's checkpoint waits for later acknowledgements of its channel, so
   * one Checkpoint call covers them all; default 0 (each written at once, one call at a time)
   */
  readonly checkpointCoalesceMs?: number;
  /** sent with ConnectTunnel; default the host name */
  readonly clientTag?: string;
  readonly startTokens?: StartTokens;
  /**
   * Called with each new client id as soon as ConnectTunnel answers; the client's first heartbeat
   * (before which the service gives it no channel) waits for the promise it returns — e.g. the id
   * recorded where another worker finds it to end the client with ShutdownTunnel should this
   * process die. A rejection is ignored (the client heartbeats anyway).
   */
  readonly beforeFirstHeartbeat?: (clientId: string) => void | PromiseLike<void>;
  /**
   * Each emission makes the current client heartbeat now instead of at its next interval (free
   * channels seen elsewhere, e.g. a dead worker's just released with ShutdownTunnel, are taken at
   * once, not up to an interval later).
   */
  readonly heartbeatNow?: Observable<unknown>;
  /** time source of every decision (heartbeats, backoff, timeouts); default asyncScheduler */
  readonly scheduler?: SchedulerLike;
  readonly onEvent?: (event: TunnelEvent) => void;
}

export type TunnelRef =
  | { readonly kind: 'id'; readonly tunnelId: string }
  | { readonly kind: 'name'; readonly tableName: string; readonly tunnelName: string };

/** What the worker runs with: every default filled in. */
export interface WorkerSettings {
  readonly heartbeatIntervalMs: number;
  readonly heartbeatTimeoutMs: number;
  readonly maxInFlightBatchesPerChannel: number;
  readonly readBackoff: BackoffPolicy;
  readonly requestRetry: RetryPolicy;
  readonly reconnectBackoff: BackoffPolicy;
  readonly closingDrainTimeoutMs: number;
  readonly checkpointCoalesceMs: number;
  readonly clientTag: string;
  readonly startTokens: StartTokens | undefined;
  readonly beforeFirstHeartbeat?: ((clientId: string) => void | PromiseLike<void>) | undefined;
  readonly heartbeatNow?: Observable<unknown> | undefined;
}

export interface TunnelConfig extends WorkerSettings {
  readonly endpoint: string;
  readonly instance: string;
  readonly credentials: { readonly accessKeyId: string; readonly accessKeySecret: string; readonly securityToken?: string };
  readonly tunnel: TunnelRef;
  readonly requestTimeoutMs: number;
}

export const DEFAULT_READ_BACKOFF: BackoffPolicy = { initialMs: 20, multiplier: 5, jitter: 0.25, maxMs: 5_000 };
export const DEFAULT_REQUEST_RETRY: RetryPolicy = { initialMs: 100, multiplier: 2, jitter: 0.33, maxMs: 2_000, maxElapsedMs: 35_000 };
export const DEFAULT_RECONNECT_BACKOFF: BackoffPolicy = { initialMs: 500, multiplier: 2, jitter: 0.5, maxMs: 10_000 };
export const DEFAULT_HEARTBEAT_INTERVAL_MS = 30_000;
export const DEFAULT_HEARTBEAT_TIMEOUT_MS = 300_000;
export const DEFAULT_CHECKPOINT_COALESCE_MS = 0;

/** Worker settings from partial input, for callers that build a worker without `tunnel()`. */
export function workerSettings(partial: Partial<WorkerSettings> = {}): WorkerSettings {
  const heartbeatIntervalMs = partial.heartbeatIntervalMs ?? DEFAULT_HEARTBEAT_INTERVAL_MS;
  return {
    heartbeatIntervalMs,
    heartbeatTimeoutMs: partial.heartbeatTimeoutMs ?? DEFAULT_HEARTBEAT_TIMEOUT_MS,
    maxInFlightBatchesPerChannel: partial.maxInFlightBatchesPerChannel ?? 2,
    readBackoff: partial.readBackoff ?? DEFAULT_READ_BACKOFF,
    requestRetry: partial.requestRetry ?? DEFAULT_REQUEST_RETRY,
    reconnectBackoff: partial.reconnectBackoff ?? DEFAULT_RECONNECT_BACKOFF,
    closingDrainTimeoutMs: partial.closingDrainTimeoutMs ?? heartbeatIntervalMs,
    checkpointCoalesceMs: partial.checkpointCoalesceMs ?? DEFAULT_CHECKPOINT_COALESCE_MS,
    clientTag: partial.clientTag ?? hostname(),
    startTokens: partial.startTokens,
    ...(partial.beforeFirstHeartbeat === undefined ? {} : { beforeFirstHeartbeat: partial.beforeFirstHeartbeat }),
    ...(partial.heartbeatNow === undefined ? {} : { heartbeatNow: partial.heartbeatNow }),
  };
}

// ---- codecs -------------------------------------------------------------------------------

function refined<A>(name: string, message: string, is: (u: unknown) => u is A): t.Type<A, A, unknown> {
  return new t.Type<A, A, unknown>(name, is, (u, context) => (is(u) ? t.success(u) : t.failure(u, context, message)), t.identity);
}

const NonEmptyString = refined('NonEmptyString', 'must be a non-empty string', (u): u is string => typeof u === 'string' && u.length > 0);
const PositiveInt = refined('PositiveInt', 'must be a positive integer', (u): u is number => Number.isSafeInteger(u) && (u as number) > 0);
const NonNegativeInt = refined('NonNegativeInt', 'must be an integer ≥ 0', (u): u is number => Number.isSafeInteger(u) && (u as number) >= 0);
const NonNegativeNumber = refined('NonNegativeNumber', 'must be a finite number ≥ 0', (u): u is number => typeof u === 'number' && Number.isFinite(u) && u >= 0);
const Multiplier = refined('Multiplier', 'must be a finite number ≥ 1', (u): u is number => typeof u === 'number' && Number.isFinite(u) && u >= 1);
const Jitter = refined('Jitter', 'must be a number in [0, 1]', (u): u is number => typeof u === 'number' && u >= 0 && u <= 1);
const Endpoint = refined('Endpoint', 'must be an http:// or https:// URL without path or query', (u): u is string => {
  if (typeof u !== 'string') return false;
  try {
    const url = new URL(u);
    return (url.protocol === 'http:' || url.protocol === 'https:') && (url.pathname === '/' || url.pathname === '') && url.search === '';
  } catch {
    return false;
  }
});
const AnyFunction = refined('Function', 'must be a function', (u): u is (...args: never[]) => unknown => typeof u === 'function');
const Scheduler = refined(
  'SchedulerLike',
  'must be an RxJS scheduler (with now() and schedule())',
  (u): u is SchedulerLike => typeof u === 'object' && u !== null && typeof (u as SchedulerLike).now === 'function' && typeof (u as SchedulerLike).schedule === 'function',
);
const ObservableCodec = refined('Observable', 'must be an Observable', (u): u is Observable<unknown> => isObservable(u));
const StartTokensCodec = t.union([t.record(t.string, NonEmptyString), AnyFunction], 'StartTokens');

const backoffFields = { initialMs: NonNegativeNumber, maxMs: NonNegativeNumber, multiplier: Multiplier, jitter: Jitter };

const knownKeys = {
  root: [
    'endpoint', 'instance', 'credentials', 'tunnelId', 'tableName', 'tunnelName', 'heartbeatIntervalMs', 'heartbeatTimeoutMs',
    'maxInFlightBatchesPerChannel', 'readBackoff', 'requestRetry', 'reconnectBackoff', 'requestTimeoutMs', 'closingDrainTimeoutMs',
    'checkpointCoalesceMs', 'clientTag', 'startTokens', 'beforeFirstHeartbeat', 'heartbeatNow', 'scheduler', 'onEvent',
  ],
  credentials: ['accessKeyId', 'accessKeySecret', 'securityToken'],
  backoff: Object.keys(backoffFields),
  retry: [...Object.keys(backoffFields), 'maxElapsedMs'],
} as const;

const OptionsCodec = t.intersection([
  t.type({
    endpoint: Endpoint,
    instance: NonEmptyString,
    credentials: t.intersection([t.type({ accessKeyId: NonEmptyString, accessKeySecret: NonEmptyString }), t.partial({ securityToken: NonEmptyString })]),
  }),
  t.partial({
    tunnelId: NonEmptyString,
    tableName: NonEmptyString,
    tunnelName: NonEmptyString,
    heartbeatIntervalMs: PositiveInt,
    heartbeatTimeoutMs: PositiveInt,
    maxInFlightBatchesPerChannel: PositiveInt,
    readBackoff: t.partial(backoffFields),
    requestRetry: t.partial({ ...backoffFields, maxElapsedMs: NonNegativeNumber }),
    reconnectBackoff: t.partial(backoffFields),
    requestTimeoutMs: PositiveInt,
    closingDrainTimeoutMs: NonNegativeInt,
    checkpointCoalesceMs: NonNegativeInt,
    clientTag: NonEmptyString,
    startTokens: StartTokensCodec,
    beforeFirstHeartbeat: AnyFunction,
    heartbeatNow: ObservableCodec,
    scheduler: Scheduler,
    onEvent: AnyFunction,
  }),
]);

/** `a.b.c` from an io-ts context, skipping the member indexes of intersections and unions. */
function contextPath(context: t.Context): string {
  const keys: string[] = [];
  for (let index = 1; index < context.length; index++) {
    const parent = context[index - 1]?.type;
    if (parent instanceof t.IntersectionType || parent instanceof t.UnionType) continue;
    const key = context[index]?.key;
    if (key !== undefined && key !== '') keys.push(key);
  }
  return keys.join('.');
}

function issueOf(error: t.ValidationError): OptionIssue {
  const path = contextPath(error.context);
  if (error.value === undefined) return { path, message: 'is required' };
  if (error.message !== undefined) return { path, message: error.message };
  const expected = error.context[error.context.length - 1]?.type.name ?? 'a valid value';
  return { path, message: `must be ${expected}` };
}

function unknownKeys(value: unknown, allowed: readonly string[], prefix: string): OptionIssue[] {
  if (typeof value !== 'object' || value === null) return [];
  return Object.keys(value)
    .filter((key) => !allowed.includes(key))
    .map((key) => ({ path: prefix + key, message: 'is not a known option' }));
}

/** `defaults` overridden by the fields of `given` that are present (an explicit `undefined` is absent). */
function withDefaults<A extends object>(defaults: A, given: Partial<A> | undefined): A {
  const merged = { ...defaults };
  for (const [key, value] of Object.entries(given ?? {})) if (value !== undefined) (merged as Record<string, unknown>)[key] = value;
  return merged;
}

/** Decodes and completes the options; `Left` lists every problem with its path. */
export function decodeTunnelOptions(input: unknown): E.Either<TunnelOptionsError, TunnelConfig> {
  if (typeof input !== 'object' || input === null) return E.left(new TunnelOptionsError([{ path: '', message: 'options must be an object' }]));
  const raw = input as Record<string, unknown>;
  const issues: OptionIssue[] = [
    ...unknownKeys(raw, knownKeys.root, ''),
    ...unknownKeys(raw['credentials'], knownKeys.credentials, 'credentials.'),
    ...unknownKeys(raw['readBackoff'], knownKeys.backoff, 'readBackoff.'),
    ...unknownKeys(raw['reconnectBackoff'], knownKeys.backoff, 'reconnectBackoff.'),
    ...unknownKeys(raw['requestRetry'], knownKeys.retry, 'requestRetry.'),
  ];
  const decoded = OptionsCodec.decode(input);
  if (E.isLeft(decoded)) issues.push(...decoded.left.map(issueOf));
  if (raw['tunnelId'] === undefined && (raw['tableName'] === undefined || raw['tunnelName'] === undefined)) {
    issues.push({ path: 'tunnelId', message: 'give either tunnelId, or tableName and tunnelName' });
  }
  if (raw['tunnelId'] !== undefined && (raw['tableName'] !== undefined || raw['tunnelName'] !== undefined)) {
    issues.push({ path: 'tunnelId', message: 'give either tunnelId, or tableName and tunnelName, not both' });
  }
  const interval = typeof raw['heartbeatIntervalMs'] === 'number' ? raw['heartbeatIntervalMs'] : DEFAULT_HEARTBEAT_INTERVAL_MS;
  const timeout = typeof raw['heartbeatTimeoutMs'] === 'number' ? raw['heartbeatTimeoutMs'] : DEFAULT_HEARTBEAT_TIMEOUT_MS;
  if (timeout <= interval) {
    issues.push({ path: 'heartbeatTimeoutMs', message: `must exceed heartbeatIntervalMs (${timeout} ≤ ${interval})` });
  }
  for (const key of ['readBackoff', 'reconnectBackoff', 'requestRetry'] as const) {
    const policy = raw[key] as { initialMs?: unknown; maxMs?: unknown } | undefined;
    if (typeof policy?.initialMs === 'number' && typeof policy.maxMs === 'number' && policy.initialMs > policy.maxMs) {
      issues.push({ path: `${key}.maxMs`, message: 'must be ≥ initialMs' });
    }
  }
  if (issues.length > 0 || E.isLeft(decoded)) return E.left(new TunnelOptionsError(issues));

  const options = decoded.right as TunnelOptions;
  const tunnel: TunnelRef =
    options.tunnelId !== undefined
      ? { kind: 'id', tunnelId: options.tunnelId }
      : { kind: 'name', tableName: options.tableName as string, tunnelName: options.tunnelName as string };
  const heartbeatIntervalMs = options.heartbeatIntervalMs ?? DEFAULT_HEARTBEAT_INTERVAL_MS;
  return E.right({
    endpoint: options.endpoint.replace(/\/$/, ''),
    instance: options.instance,
    credentials: options.credentials,
    tunnel,
    requestTimeoutMs: options.requestTimeoutMs ?? 60_000,
    ...workerSettings({
      heartbeatIntervalMs,
      heartbeatTimeoutMs: options.heartbeatTimeoutMs ?? DEFAULT_HEARTBEAT_TIMEOUT_MS,
      maxInFlightBatchesPerChannel: options.maxInFlightBatchesPerChannel ?? 2,
      readBackoff: withDefaults(DEFAULT_READ_BACKOFF, options.readBackoff),
      requestRetry: withDefaults(DEFAULT_REQUEST_RETRY, options.requestRetry),
      reconnectBackoff: withDefaults(DEFAULT_RECONNECT_BACKOFF, options.reconnectBackoff),
      closingDrainTimeoutMs: options.closingDrainTimeoutMs ?? heartbeatIntervalMs,
      ...(options.checkpointCoalesceMs !== undefined ? { checkpointCoalesceMs: options.checkpointCoalesceMs } : {}),
      ...(options.clientTag !== undefined ? { clientTag: options.clientTag } : {}),
      startTokens: options.startTokens,
      ...(options.beforeFirstHeartbeat === undefined ? {} : { beforeFirstHeartbeat: options.beforeFirstHeartbeat }),
      ...(options.heartbeatNow === undefined ? {} : { heartbeatNow: options.heartbeatNow }),
    }),
  });
}
