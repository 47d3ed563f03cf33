/**
 * The embedded Tablestore emulator: the table API of the official SDKs over loopback HTTP,
 * stored durably in LMDB.
 *
 *   const emulator = await startEmulator({ dataDir: './.otsflow/data' });
 *   new TableStore.Client({ endpoint: emulator.endpoint, instancename: emulator.instanceName,
 *                           accessKeyId: emulator.credentials.accessKeyId,
 *                           secretAccessKey: emulator.credentials.accessKeySecret });
 *
 * Extension points (for the tunnel service and anything else co-hosted on this server):
 * - `emulator.router.register(path, handler)` / `registerPrefix('/tunnel/', handler)`: more routes.
 *   Every route gets authenticated requests only (V2 signature of a configured key, same
 *   instance) and the same response headers and protobuf `Error` bodies; a handler returns
 *   `Either<{code, message, status?}, bytes>`.
 * - `emulator.engine.onCommit((change, ctx) => …)`: runs inside the LMDB write transaction of
 *   every committed row mutation, after the row is written — PutRow, UpdateRow, DeleteRow and
 *   each BatchWriteRow row, with the concrete key (auto-increment resolved), the cells as applied
 *   (timestamps assigned, increments as puts) and the row before/after. Writes made by the hook
 *   to sub-databases of `ctx.env` (`engine.env.openDB(...)`) commit atomically with the row; a
 *   throwing hook rolls the row back and fails that write with OTSInternalServerError.
 *   `engine.onTableCommit` does the same for CreateTable/UpdateTable/DeleteTable.
 * - `engine.commit(job)`: run your own writes in the next group commit (durable on resolve).
 * - `engine.scan(table, start, end, limit)` / `engine.splitPoints(table, n)`: base-data reads.
 * - `options.extensions`: functions called with { engine, router, settings } before the server
 *   listens; what they return is closed (in reverse order) when the emulator closes.
 * - `createAuthenticator(...)`: the same credential check for servers of your own.
 *
 * The Tunnel service (`./tunnel/`) is attached after the extensions unless one of them attached
 * its own (`attachTunnelService`): options `partitions`, `faults`, `streamRetentionMs`, `tunnel`;
 * `emulator.tunnels` gives its change log and fault controls (e.g. withholding heartbeats).
 */
import * as E from 'fp-ts/lib/Either.js';
import { encodeErrorBody, httpStatusFor, isServiceErrorCode } from '../wire/errors.js';
import { SIGNATURE_MISMATCH_MESSAGE, buildResponseHeaders, type KeyCredential, verifyRequest } from '../wire/signing.js';
import { TableEngine } from './engine.js';
import { prepareDataDir } from './data-dir.js';
import { type AuthInput, type Identity, Router, type Screening, type RequestServed, type ServiceError, type UnauthenticatedLimits, startHttpServer } from './http-server.js';
import { registerTableRoutes } from './table-routes.js';
import {
  type AttachedTunnelService,
  type FaultPlan,
  type TunnelServiceSettings,
  DEFAULT_STREAM_PARTITIONS,
  attachTunnelService,
  tunnelServiceOf,
} from './tunnel/index.js';

export { TableEngine } from './engine.js';
export { prepareDataDir } from './data-dir.js';
export type { CommitContext, CommittedRowChange, RowCommitHook, TableCommitHook, TableEvent, RowWrite, EngineOptions } from './engine.js';
export { Router } from './http-server.js';
export type { RouteHandler, RouteResult, RequestContext, ServiceError, Identity, Screening, UnauthenticatedLimits, RequestServed } from './http-server.js';
export { DEFAULT_UNAUTHENTICATED_LIMITS } from './http-server.js';
export type { TableMeta } from './table-meta.js';

export { DEFAULT_CREDENTIALS, DEFAULT_HOST, DEFAULT_INSTANCE_NAME, type Credentials } from './defaults.js';
import { DEFAULT_CREDENTIALS, DEFAULT_HOST, DEFAULT_INSTANCE_NAME, type Credentials } from './defaults.js';
/** BatchWriteRow and single rows may carry 4 MB of data; the protobuf framing adds a little. */
export const DEFAULT_MAX_BODY_BYTES = 5 * 1024 * 1024;

export interface EmulatorSettings {
  readonly instanceName: string;
  /** stream partitions per table for the tunnel change log */
  readonly partitions: number;
  readonly credentials: readonly Credentials[];
}

export interface EmulatorExtensionContext {
  readonly engine: TableEngine;
  readonly router: Router;
  readonly settings: EmulatorSettings;
}

export interface EmulatorExtension {
  (context: EmulatorExtensionContext): { close(): Promise<void> | void } | void;
}

export interface EmulatorOptions {
  /** 0 (default) picks a free port */
  readonly port?: number;
  /** default 127.0.0.1 (loopback only) */
  readonly host?: string;
  /** where LMDB keeps the data; created when missing */
  readonly dataDir: string;
  readonly instanceName?: string;
  /** accepted keys; default [DEFAULT_CREDENTIALS] */
  readonly credentials?: readonly Credentials[];
  /** stream partitions per table (used by the tunnel change log); default 4 */
  readonly partitions?: number;
  /** tunnel fault plan, as an object or '503=0.1,latency=200ms@0.05,drop=0.02,seed=42'; default none */
  readonly faults?: FaultPlan | string;
  /** retention of streams that tunnels enable (stream specs bring their own); default 7 days */
  readonly streamRetentionMs?: number;
  /** further tunnel service knobs (clock, read limits, base channels, expiry sweep) */
  readonly tunnel?: Omit<TunnelServiceSettings, 'partitions' | 'faults' | 'retentionMs' | 'instanceName'>;
  readonly maxBodyBytes?: number;
  /**
   * what requests whose signature does not verify may hold: body bytes buffered at once over all
   * of them, and the time their bodies may take; default 16 MiB and 10 s
   */
  readonly unauthenticated?: UnauthenticatedLimits;
  /** allowed distance between x-ots-date and the wall clock; default 15 minutes, Infinity = off */
  readonly maxClockSkewMs?: number;
  /** engine clock (ms): drives cell timestamps and TTL; default Date.now */
  readonly now?: () => number;
  /** reject custom cell timestamps outside the table's deviation window; default true */
  readonly enforceTimestampWindow?: boolean;
  readonly extensions?: readonly EmulatorExtension[];
  /** unexpected handler failures (default: stderr) */
  readonly onInternalError?: (error: unknown, path: string) => void;
  /** every answered request (metrics: `otsflow emulator --metrics-port`) */
  readonly onRequest?: (served: RequestServed) => void;
}

export interface RunningEmulator {
  /** http://host:port */
  readonly endpoint: string;
  readonly host: string;
  readonly port: number;
  readonly instanceName: string;
  /** the first configured key: what clients should use */
  readonly credentials: Credentials;
  readonly settings: EmulatorSettings;
  readonly dataDir: string;
  readonly engine: TableEngine;
  readonly router: Router;
  /** the tunnel service: its change log, and `faults` to change the plan or withhold heartbeats */
  readonly tunnels: AttachedTunnelService;
  close(): Promise<void>;
}

export interface AuthenticatorOptions {
  readonly credentials: readonly Credentials[];
  readonly instanceName: string;
  readonly maxClockSkewMs?: number;
}

/** Request authentication: a known key (with its STS token, unexpired), a valid V2 signature and body MD5, the right instance. */
export const createAuthenticator = (options: AuthenticatorOptions) => {
  const secrets = new Map<string, KeyCredential>(
    options.credentials.map((c) => [
      c.accessKeyId,
      {
        secret: c.accessKeySecret,
        ...(c.securityToken === undefined ? {} : { stsToken: c.securityToken }),
        ...(c.expiration === undefined ? {} : { expiresAt: c.expiration.getTime() }),
      },
    ]),
  );
  const verify = (input: AuthInput, checkContentMd5: boolean) =>
    verifyRequest({
      method: input.method,
      path: input.path,
      headers: input.headers,
      body: input.body,
      lookupSecret: (id) => secrets.get(id),
      checkContentMd5,
      ...(options.maxClockSkewMs === undefined ? {} : { maxSkewMs: options.maxClockSkewMs }),
    });
  const authenticate = (input: AuthInput): E.Either<ServiceError, Identity> => {
    const verified = verify(input, true);
    if (E.isLeft(verified)) return E.left({ code: verified.left.code, message: verified.left.message, status: verified.left.httpStatus });
    if (verified.right.instanceName !== options.instanceName) {
      return E.left({ code: 'OTSAuthFailed', message: 'The instance is not found.', status: 403 });
    }
    return E.right({ accessKeyId: verified.right.accessKeyId, instanceName: verified.right.instanceName });
  };
  /**
   * The same checks on the headers alone, before the body is read. Every refusal but a failing
   * signature comes before the body's MD5 is looked at, so it is the final answer; a failing
   * signature may still yield to an MD5 mismatch, so that request is `untrusted` (its body is
   * read within the unauthenticated budget) rather than refused.
   */
  const screen = (input: Omit<AuthInput, 'body'>): Screening => {
    const verified = verify({ ...input, body: EMPTY }, false);
    if (E.isRight(verified)) return { kind: 'trusted' };
    const error: ServiceError = { code: verified.left.code, message: verified.left.message, status: verified.left.httpStatus };
    return verified.left.message === SIGNATURE_MISMATCH_MESSAGE ? { kind: 'untrusted', error } : { kind: 'refused', error };
  };
  return Object.assign(authenticate, { screen });
};

const EMPTY = Buffer.alloc(0);


const statusOf = (error: ServiceError): number => error.status ?? (isServiceErrorCode(error.code) ? httpStatusFor(error.code) : 500);

export const startEmulator = async (options: EmulatorOptions): Promise<RunningEmulator> => {
  const credentials = options.credentials ?? [DEFAULT_CREDENTIALS];
  if (credentials.length === 0) throw new Error('startEmulator: at least one credential is needed');
  const partitions = options.partitions ?? DEFAULT_STREAM_PARTITIONS;
  if (!Number.isInteger(partitions) || partitions < 1) throw new Error(`startEmulator: partitions must be a positive integer, got ${partitions}`);
  const settings: EmulatorSettings = { instanceName: options.instanceName ?? DEFAULT_INSTANCE_NAME, partitions, credentials };
  const prepared = prepareDataDir(options.dataDir);
  if (E.isLeft(prepared)) throw new Error(`startEmulator: ${prepared.left}`);
  const dataDir = prepared.right;

  const engine = TableEngine.open({
    dataDir,
    ...(options.now === undefined ? {} : { now: options.now }),
    ...(options.enforceTimestampWindow === undefined ? {} : { enforceTimestampWindow: options.enforceTimestampWindow }),
  });
  const router = registerTableRoutes(new Router(), engine);
  const closers: { close(): Promise<void> | void }[] = [];
  try {
    for (const extension of options.extensions ?? []) {
      const closer = extension({ engine, router, settings });
      if (closer !== undefined) closers.push(closer);
    }
    // the tunnel service is built in, unless an extension attached its own
    let tunnels = tunnelServiceOf(engine);
    if (tunnels === undefined) {
      const attached = attachTunnelService(engine, router, {
        ...options.tunnel,
        partitions,
        instanceName: settings.instanceName,
        ...(options.faults === undefined ? {} : { faults: options.faults }),
        ...(options.streamRetentionMs === undefined ? {} : { retentionMs: options.streamRetentionMs }),
      });
      closers.push({ close: () => attached.detach() });
      tunnels = attached;
    }
    const secrets = new Map(credentials.map((c) => [c.accessKeyId, c.accessKeySecret]));
    const authenticate = createAuthenticator({
      credentials,
      instanceName: settings.instanceName,
      ...(options.maxClockSkewMs === undefined ? {} : { maxClockSkewMs: options.maxClockSkewMs }),
    });
    const http = await startHttpServer({
      host: options.host ?? DEFAULT_HOST,
      port: options.port ?? 0,
      maxBodyBytes: options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES,
      router,
      authenticate,
      screen: authenticate.screen,
      ...(options.unauthenticated === undefined ? {} : { unauthenticated: options.unauthenticated }),
      responseHeaders: ({ path, requestId, body, identity }) => {
        const secret = identity === undefined ? undefined : secrets.get(identity.accessKeyId);
        return buildResponseHeaders({
          path,
          body,
          requestId,
          ...(identity === undefined || secret === undefined ? {} : { credentials: { accessKeyId: identity.accessKeyId, accessKeySecret: secret } }),
        });
      },
      encodeError: (error) => encodeErrorBody(error.code, error.message),
      statusOf,
      ...(options.onInternalError === undefined ? {} : { onInternalError: options.onInternalError }),
      ...(options.onRequest === undefined ? {} : { onRequest: options.onRequest }),
    });
    const host = http.host;
    let closed: Promise<void> | undefined;
    return {
      endpoint: `http://${host.includes(':') ? `[${host}]` : host}:${http.port}`,
      host,
      port: http.port,
      instanceName: settings.instanceName,
      credentials: credentials[0]!,
      settings,
      dataDir,
      engine,
      router,
      tunnels,
      close: () =>
        (closed ??= (async () => {
          await http.close();
          for (const closer of [...closers].reverse()) await closer.close();
          await engine.close();
        })()),
    };
  } catch (error) {
    for (const closer of [...closers].reverse()) await closer.close();
    await engine.close();
    throw error;
  }
};
