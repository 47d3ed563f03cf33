/**
 * How a command reaches Tablestore: the connection flags (shared by `tunnel`, `sql`, `demo`),
 * their environment fallbacks, validation with every problem collected, and a `Connection` that
 * hands out tunnel transports and explains failed calls in one line.
 *
 *   --endpoint <url|embedded>     OTSFLOW_ENDPOINT                         default embedded
 *   --instance <name>             OTSFLOW_INSTANCE                         (or from a *.aliyuncs.com host)
 *   --access-key-id <id>          OTSFLOW_ACCESS_KEY_ID, ALIBABA_CLOUD_ACCESS_KEY_ID
 *   --access-key-secret <secret>  OTSFLOW_ACCESS_KEY_SECRET, ALIBABA_CLOUD_ACCESS_KEY_SECRET
 *   --security-token <token>      OTSFLOW_SECURITY_TOKEN, ALIBABA_CLOUD_SECURITY_TOKEN
 *   --data <dir>                  embedded only                            default ./.otsflow/data
 *
 * A flag wins over the environment; an empty variable counts as unset. `embedded` starts the
 * emulator in this process on the data directory (port 0, loopback, default instance and keys)
 * and closes it with the connection; don't point it at the data directory of a running
 * `otsflow emulator` — give that one's endpoint instead.
 */
import type { Command } from 'commander';
import * as t from 'io-ts';
import * as E from 'fp-ts/lib/Either.js';
import { resolve } from 'node:path';
import { catchError, defer, tap, throwError } from 'rxjs';
import { DEFAULT_CREDENTIALS, DEFAULT_INSTANCE_NAME } from '../emulator/defaults.js';
import type { RunningEmulator } from '../emulator/index.js';
import { tunnelControl, type TunnelControl, type TunnelControlOptions } from '../tunnel/control.js';
import { createHttpTransport, TransportError, type TunnelTransport } from '../tunnel/http-transport.js';
import type { RetryPolicy } from '../tunnel/options.js';
import { OtsServiceError } from '../wire/errors.js';
import { CliError, type CommandContext, declareSecretOption, type Logger, UsageError } from './log.js';

export const EMBEDDED_ENDPOINT = 'embedded';
export const DEFAULT_DATA_DIR = './.otsflow/data';
/** per request; the CLI gives up on a silent endpoint sooner than a long-running worker would */
export const DEFAULT_REQUEST_TIMEOUT_MS = 30_000;
/** idempotent calls (list, describe) retry transient failures for at most this long */
export const CLI_REQUEST_RETRY: RetryPolicy = { initialMs: 200, multiplier: 2, jitter: 0.33, maxMs: 2_000, maxElapsedMs: 10_000 };

/** The connection flags as commander parses them (camel case). */
export interface ConnectionFlags {
  readonly endpoint?: string;
  readonly instance?: string;
  readonly accessKeyId?: string;
  readonly accessKeySecret?: string;
  readonly securityToken?: string;
  readonly data?: string;
}

export interface ConnectionCredentials {
  readonly accessKeyId: string;
  readonly accessKeySecret: string;
  readonly securityToken?: string;
}

export type ConnectionSettings =
  | { readonly kind: 'embedded'; readonly dataDir: string }
  | { readonly kind: 'remote'; readonly endpoint: string; readonly instanceName: string; readonly credentials: ConnectionCredentials };

export interface ResolvedSettings {
  readonly settings: ConnectionSettings;
  /** flags given but without effect (keys for the embedded emulator, --data for a remote one) */
  readonly ignored: readonly string[];
  /** where each value came from: `accessKeyId ← ALIBABA_CLOUD_ACCESS_KEY_ID` */
  readonly sources: Readonly<Record<string, string>>;
}

interface Setting {
  readonly flag: string;
  readonly key: keyof ConnectionFlags;
  readonly env: readonly string[];
}

const SETTINGS = {
  endpoint: { flag: '--endpoint', key: 'endpoint', env: ['OTSFLOW_ENDPOINT'] },
  instanceName: { flag: '--instance', key: 'instance', env: ['OTSFLOW_INSTANCE'] },
  accessKeyId: { flag: '--access-key-id', key: 'accessKeyId', env: ['OTSFLOW_ACCESS_KEY_ID', 'ALIBABA_CLOUD_ACCESS_KEY_ID'] },
  accessKeySecret: { flag: '--access-key-secret', key: 'accessKeySecret', env: ['OTSFLOW_ACCESS_KEY_SECRET', 'ALIBABA_CLOUD_ACCESS_KEY_SECRET'] },
  securityToken: { flag: '--security-token', key: 'securityToken', env: ['OTSFLOW_SECURITY_TOKEN', 'ALIBABA_CLOUD_SECURITY_TOKEN'] },
} as const satisfies Readonly<Record<string, Setting>>;

declareSecretOption(SETTINGS.accessKeySecret.flag, ...SETTINGS.accessKeySecret.env);
declareSecretOption(SETTINGS.securityToken.flag, ...SETTINGS.securityToken.env);

const describeSetting = (setting: Setting): string => `${setting.flag} (or ${setting.env.join(' / ')})`;

/** Adds the connection flags to `command` (every command that talks to Tablestore). */
export function addConnectionOptions(command: Command): Command {
  return command
    .option(`${SETTINGS.endpoint.flag} <url|embedded>`, `Tablestore endpoint, or 'embedded' for an in-process emulator on --data [env ${SETTINGS.endpoint.env.join(', ')}] (default: embedded)`)
    .option(`${SETTINGS.instanceName.flag} <name>`, `instance name; taken from a *.aliyuncs.com endpoint when absent [env ${SETTINGS.instanceName.env.join(', ')}]`)
    .option(`${SETTINGS.accessKeyId.flag} <id>`, `access key id [env ${SETTINGS.accessKeyId.env.join(', ')}]`)
    .option(`${SETTINGS.accessKeySecret.flag} <secret>`, `access key secret (prefer the environment: flags show in ps) [env ${SETTINGS.accessKeySecret.env.join(', ')}]`)
    .option(`${SETTINGS.securityToken.flag} <token>`, `STS security token [env ${SETTINGS.securityToken.env.join(', ')}]`)
    .option('--data <dir>', 'data directory of the embedded emulator (created when missing)', DEFAULT_DATA_DIR);
}

// ---- validation -------------------------------------------------------------------------------

function refined<A extends string>(name: string, is: (u: string) => boolean, message: string): t.Type<A, A, unknown> {
  return new t.Type<A, A, unknown>(
    name,
    (u): u is A => typeof u === 'string' && is(u),
    (u, context) => (typeof u === 'string' && is(u) ? t.success(u as A) : t.failure(u, context, message)),
    t.identity,
  );
}

const isHttpUrl = (text: string): boolean => {
  try {
    const url = new URL(text);
    return (url.protocol === 'http:' || url.protocol === 'https:') && url.hostname !== '' && (url.pathname === '/' || url.pathname === '') && url.search === '' && url.hash === '';
  } catch {
    return false;
  }
};

const EndpointUrl = refined<string>('EndpointUrl', isHttpUrl, "must be 'embedded' or an http:// or https:// URL without path or query");
const NonEmpty = refined<string>('NonEmpty', (u) => u.trim() !== '', 'must not be empty');
const InstanceName = refined<string>('InstanceName', (u) => /^[A-Za-z][A-Za-z0-9_-]{0,63}$/.test(u), 'must be letters, digits, hyphens or underscores, starting with a letter');

const RemoteCodec = t.type({
  endpoint: EndpointUrl,
  instanceName: InstanceName,
  accessKeyId: NonEmpty,
  accessKeySecret: NonEmpty,
  securityToken: t.union([t.undefined, NonEmpty]),
});

/** `myinstance` of `https://myinstance.cn-hangzhou.ots.aliyuncs.com` */
export function instanceFromEndpoint(endpoint: string): string | undefined {
  try {
    const host = new URL(endpoint).hostname;
    return host.endsWith('.aliyuncs.com') ? host.split('.')[0] : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The connection the flags and environment ask for, or every problem with them. Values are never
 * quoted in problems (they may be secrets), except the endpoint.
 */
export function resolveConnectionSettings(flags: ConnectionFlags, env: NodeJS.ProcessEnv = process.env): E.Either<readonly string[], ResolvedSettings> {
  const sources: Record<string, string> = {};
  const pick = (name: keyof typeof SETTINGS): string | undefined => {
    const setting = SETTINGS[name];
    const flagged = flags[setting.key];
    if (flagged !== undefined) {
      sources[name] = setting.flag;
      return flagged;
    }
    for (const variable of setting.env) {
      const value = env[variable];
      if (value !== undefined && value !== '') {
        sources[name] = variable;
        return value;
      }
    }
    return undefined;
  };
  const endpointValue = pick('endpoint') ?? EMBEDDED_ENDPOINT;
  const instanceGiven = pick('instanceName');
  const raw = {
    endpoint: endpointValue.replace(/\/+$/, ''),
    instanceName: instanceGiven ?? instanceFromEndpoint(endpointValue),
    accessKeyId: pick('accessKeyId'),
    accessKeySecret: pick('accessKeySecret'),
    securityToken: pick('securityToken'),
  };
  if (instanceGiven === undefined && raw.instanceName !== undefined) sources['instanceName'] = '--endpoint host';

  if (endpointValue === EMBEDDED_ENDPOINT) {
    // the emulator has its own instance and keys; flags for others are a mistake worth a warning,
    // variables meant for the cloud are not
    const ignored = (['instanceName', 'accessKeyId', 'accessKeySecret', 'securityToken'] as const)
      .filter((name) => flags[SETTINGS[name].key] !== undefined)
      .map((name) => SETTINGS[name].flag);
    return E.right({ settings: { kind: 'embedded', dataDir: resolve(flags.data ?? DEFAULT_DATA_DIR) }, ignored, sources });
  }

  const decoded = RemoteCodec.decode(raw);
  if (E.isLeft(decoded)) {
    const missing: string[] = [];
    const invalid: string[] = [];
    for (const error of decoded.left) {
      const key = error.context[1]?.key as keyof typeof SETTINGS | undefined;
      if (key === undefined) continue;
      const setting = SETTINGS[key];
      if (error.value === undefined) missing.push(describeSetting(setting));
      // an optional value fails `t.undefined` too, without a message: its refinement says why
      else if (error.message === undefined) continue;
      else if (key === 'endpoint') invalid.push(`${setting.flag} '${String(error.value)}' ${error.message}`);
      else invalid.push(`${setting.flag} ${error.message}`);
    }
    const unique = (items: string[]) => [...new Set(items)];
    const problems = [
      ...unique(invalid),
      ...(missing.length === 0 ? [] : [`a remote endpoint needs ${listOf(unique(missing))}`]),
    ];
    return E.left(problems);
  }
  const remote = decoded.right;
  const ignored = flags.data !== undefined && flags.data !== DEFAULT_DATA_DIR ? ['--data'] : [];
  return E.right({
    settings: {
      kind: 'remote',
      endpoint: remote.endpoint,
      instanceName: remote.instanceName,
      credentials: {
        accessKeyId: remote.accessKeyId,
        accessKeySecret: remote.accessKeySecret,
        ...(remote.securityToken === undefined ? {} : { securityToken: remote.securityToken }),
      },
    },
    ignored,
    sources,
  });
}

const listOf = (items: readonly string[]): string =>
  items.length <= 1 ? (items[0] ?? '') : `${items.slice(0, -1).join(', ')} and ${items[items.length - 1]}`;

// ---- the connection -------------------------------------------------------------------------

/** The endpoint refused the connection or does not resolve: not worth retrying. */
export class EndpointUnreachableError extends Error {
  readonly kind = 'EndpointUnreachableError' as const;

  constructor(
    readonly endpoint: string,
    /** ECONNREFUSED, ENOTFOUND, … (deliberately not `code`: retry classification keys on that) */
    readonly networkCode: string,
    override readonly cause?: unknown,
  ) {
    super(`cannot reach ${endpoint} (${networkCode})`);
    this.name = 'EndpointUnreachableError';
  }
}

const UNREACHABLE_CODES: ReadonlySet<string> = new Set(['ECONNREFUSED', 'ENOTFOUND']);
const ACCESS_DENIED_CODES: ReadonlySet<string> = new Set(['OTSAuthFailed', 'OTSPermissionDenied', 'OTSNoPermissionAccess']);
const UNAVAILABLE_CODES: ReadonlySet<string> = new Set(['OTSServerUnavailable', 'OTSTunnelServerUnavailable', 'OTSServerBusy', 'OTSTimeout', 'OTSInternalServerError']);
const NETWORK_WORDS: Readonly<Record<string, string>> = {
  ETIMEDOUT: 'no answer in time',
  ECONNRESET: 'connection reset',
  EPIPE: 'connection closed',
  EAI_AGAIN: 'name lookup failed',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
};

export interface Connection {
  readonly kind: ConnectionSettings['kind'];
  /** `http://127.0.0.1:<port>` for the embedded emulator */
  readonly endpoint: string;
  readonly instanceName: string;
  readonly credentials: ConnectionCredentials;
  /** the embedded emulator's data directory */
  readonly dataDir?: string;
  /** the embedded emulator itself (tables via its engine, faults, …) */
  readonly emulator?: RunningEmulator;
  /** a tunnel transport (debug-logged, unreachable endpoints fail fast); closed with the connection */
  tunnelTransport(options?: { readonly requestTimeoutMs?: number }): TunnelTransport;
  /** create/list/describe/delete over a new transport, with the CLI's retry budget */
  tunnelControl(options?: TunnelControlOptions): TunnelControl;
  /** options for `new TableStore.Client(...)` of the official SDK */
  tablestoreClientOptions(): Readonly<Record<string, unknown>>;
  /**
   * A failed call as a one-line `CliError`: connection problems (unreachable, access denied,
   * unavailable) stand alone, other service errors follow `doing` (`cannot create tunnel 'x'`).
   */
  failure(error: unknown, doing: string): CliError;
  close(): Promise<void>;
}

export interface OpenConnectionOptions {
  readonly requestTimeoutMs?: number;
  readonly retry?: RetryPolicy;
}

/** What `error`, met while talking to `endpoint`, means to a user; undefined for service errors about the request itself. */
export function connectionProblem(error: unknown, endpoint: string): string | undefined {
  if (error instanceof EndpointUnreachableError) return error.message;
  if (error instanceof TransportError) {
    const words = NETWORK_WORDS[error.code];
    if (error.code === 'ETIMEDOUT') return `cannot reach ${endpoint} (ETIMEDOUT: ${error.message})`;
    if (words !== undefined) return `cannot reach ${endpoint} (${error.code}: ${words})`;
    return UNREACHABLE_CODES.has(error.code) ? `cannot reach ${endpoint} (${error.code})` : `cannot reach ${endpoint} (${error.code}: ${error.message})`;
  }
  if (error instanceof OtsServiceError) {
    if (ACCESS_DENIED_CODES.has(error.code)) return `access denied by ${endpoint}: ${error.code} (${error.message})`;
    if (UNAVAILABLE_CODES.has(error.code)) return `${endpoint} is unavailable: ${error.code} (${error.message})`;
    if (error.code === 'OTSClientError') return `unexpected answer from ${endpoint} (${error.message}); is it a Tablestore endpoint?`;
    return undefined;
  }
  if (error instanceof Error && (error as { kind?: unknown }).kind === 'WireDecodeError') return `unexpected answer from ${endpoint}: ${error.message}`;
  return undefined;
}

const serviceMessage = (error: unknown): string => {
  if (error instanceof OtsServiceError) return `${error.code} (${error.message})`;
  return error instanceof Error ? error.message : String(error);
};

function loggedTransport(inner: TunnelTransport, endpoint: string, log: Logger): TunnelTransport {
  return {
    call: (api, request) =>
      defer(() => {
        const started = Date.now();
        log.debug(`calling ${endpoint}${api.path}`);
        return inner.call(api, request).pipe(
          tap({
            next: () => log.debug(`${api.path} answered`, { ms: Date.now() - started }),
            error: (error: unknown) =>
              log.debug(`${api.path} failed`, { ms: Date.now() - started, code: (error as { code?: unknown })?.code, error: (error as Error)?.message }),
          }),
          catchError((error: unknown) =>
            throwError(() => (error instanceof TransportError && UNREACHABLE_CODES.has(error.code) ? new EndpointUnreachableError(endpoint, error.code, error) : error)),
          ),
        );
      }),
    close: () => inner.close(),
  };
}

/** Opens what `settings` describe: the embedded emulator is started here, a remote one only recorded. */
export async function openConnection(settings: ConnectionSettings, log: Logger, options: OpenConnectionOptions = {}): Promise<Connection> {
  let emulator: RunningEmulator | undefined;
  let endpoint: string;
  let instanceName: string;
  let credentials: ConnectionCredentials;
  if (settings.kind === 'embedded') {
    try {
      // loaded here: commands that never start an emulator do not pay for LMDB
      const { startEmulator } = await import('../emulator/index.js');
      emulator = await startEmulator({
        dataDir: settings.dataDir,
        port: 0,
        instanceName: DEFAULT_INSTANCE_NAME,
        credentials: [DEFAULT_CREDENTIALS],
        onInternalError: (error, path) => log.error(`embedded emulator: internal error on ${path}: ${(error as Error)?.message ?? String(error)}`, { stack: (error as Error)?.stack }),
      });
    } catch (error) {
      throw new CliError(`cannot open the embedded emulator on ${settings.dataDir}: ${(error as Error)?.message ?? String(error)}`, { cause: error });
    }
    endpoint = emulator.endpoint;
    instanceName = emulator.instanceName;
    credentials = emulator.credentials;
    log.debug('embedded emulator started', { endpoint, dataDir: emulator.dataDir });
  } else {
    ({ endpoint, instanceName, credentials } = settings);
  }
  log.addSecret(credentials.accessKeySecret);
  log.addSecret(credentials.securityToken);

  const transports = new Set<TunnelTransport>();
  let closed: Promise<void> | undefined;
  const requestTimeoutMs = options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
  const tunnelTransport = (transportOptions: { readonly requestTimeoutMs?: number } = {}): TunnelTransport => {
    if (closed !== undefined) throw new Error('the connection is closed');
    const transport = loggedTransport(
      createHttpTransport({ endpoint, instance: instanceName, credentials, requestTimeoutMs: transportOptions.requestTimeoutMs ?? requestTimeoutMs }),
      endpoint,
      log,
    );
    transports.add(transport);
    return transport;
  };
  // shown to users, it says where the data is for the embedded emulator
  const shownEndpoint = emulator === undefined ? endpoint : `the embedded emulator (${emulator.dataDir})`;
  return {
    kind: settings.kind,
    endpoint,
    instanceName,
    credentials,
    ...(emulator === undefined ? {} : { dataDir: emulator.dataDir, emulator }),
    tunnelTransport,
    tunnelControl: (controlOptions = {}) => tunnelControl(tunnelTransport(), { retry: options.retry ?? CLI_REQUEST_RETRY, ...controlOptions }),
    tablestoreClientOptions: () => ({
      endpoint,
      instancename: instanceName,
      accessKeyId: credentials.accessKeyId,
      secretAccessKey: credentials.accessKeySecret,
      ...(credentials.securityToken === undefined ? {} : { stsToken: credentials.securityToken }),
    }),
    failure: (error, doing) => {
      const problem = connectionProblem(error, shownEndpoint);
      return new CliError(problem ?? `${doing}: ${serviceMessage(error)}`, { cause: error });
    },
    close: () =>
      (closed ??= (async () => {
        for (const transport of transports) transport.close();
        transports.clear();
        if (emulator !== undefined) {
          await emulator.close();
          log.debug('embedded emulator closed');
        }
      })()),
  };
}

/**
 * Resolves the connection flags (a `UsageError` listing every problem), opens the connection,
 * runs `use` and closes the connection whatever happens. Ignored flags are warned about.
 */
export async function withConnection<T>(flags: ConnectionFlags, context: Pick<CommandContext, 'log'>, use: (connection: Connection) => Promise<T>, options: OpenConnectionOptions = {}): Promise<T> {
  const { log } = context;
  log.addSecret(flags.accessKeySecret);
  log.addSecret(flags.securityToken);
  const resolved = resolveConnectionSettings(flags);
  if (E.isLeft(resolved)) throw new UsageError(resolved.left.join('; '));
  const { settings, ignored, sources } = resolved.right;
  if (settings.kind === 'remote') {
    log.addSecret(settings.credentials.accessKeySecret);
    log.addSecret(settings.credentials.securityToken);
  }
  for (const flag of ignored) log.warn(`${flag} is ignored with ${settings.kind === 'embedded' ? 'the embedded emulator' : 'a remote endpoint'}`);
  log.debug('connection settings', {
    kind: settings.kind,
    ...(settings.kind === 'embedded' ? { dataDir: settings.dataDir } : { endpoint: settings.endpoint, instance: settings.instanceName, accessKeyId: settings.credentials.accessKeyId }),
    ...Object.fromEntries(Object.entries(sources).map(([name, source]) => [`${name}From`, source])),
  });
  const connection = await openConnection(settings, log, options);
  try {
    return await use(connection);
  } finally {
    await connection.close();
  }
}
