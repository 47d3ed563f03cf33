/**
 * The emulator's HTTP front: POST only, bodies read with a hard size limit, every request
 * authenticated before it reaches a route, every response (success or error) carrying the
 * headers official clients check.
 *
 * Memory before authentication is bounded: the headers are screened before the body is read.
 * A request whose headers already decide the answer (no signature headers, an unknown key, a
 * stale date) has its body discarded as it arrives, never buffered; a request whose signature
 * fails but whose answer may still depend on the body (its MD5 is checked first) is buffered only
 * within a byte budget shared by all such requests; and every unauthenticated body must arrive
 * within a deadline, or the connection is answered and closed. Routes are registered per exact path ("/PutRow") or per
 * prefix ("/tunnel/"), so other services can share the server and its credentials.
 *
 * The server never crashes on input: a handler that throws becomes 500 OTSInternalServerError,
 * and socket/parse errors only close the offending connection.
 */
import * as E from 'fp-ts/lib/Either.js';
import { type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';

/** Any service error: a Tablestore/Tunnel code, its message, and optionally an explicit status. */
export interface ServiceError {
  readonly code: string;
  readonly message: string;
  readonly status?: number;
}

export interface Identity {
  readonly accessKeyId: string;
  readonly instanceName: string;
}

export interface RequestContext {
  /** path without query string, e.g. "/PutRow" or "/tunnel/readrecords" */
  readonly path: string;
  readonly body: Buffer;
  /** lower-cased names, as Node delivers them */
  readonly headers: IncomingHttpHeaders;
  readonly requestId: string;
  readonly identity: Identity;
  /**
   * The raw response, for routes that must misbehave on purpose (fault injection cutting a
   * response mid-body). A route that ends or destroys it itself gets no second answer.
   */
  readonly response: ServerResponse;
}

export type RouteResult = E.Either<ServiceError, Uint8Array>;
export type RouteHandler = (context: RequestContext) => RouteResult | Promise<RouteResult>;

export class Router {
  private readonly exact = new Map<string, RouteHandler>();
  private readonly prefixes: { readonly prefix: string; readonly handler: RouteHandler }[] = [];

  /** Serves exactly `path`. Registering a path twice is a programmer error. */
  register(path: string, handler: RouteHandler): this {
    if (this.exact.has(path)) throw new Error(`Router: ${path} is already registered`);
    this.exact.set(path, handler);
    return this;
  }

  /** Serves every path starting with `prefix` (longest prefix wins). */
  registerPrefix(prefix: string, handler: RouteHandler): this {
    this.prefixes.push({ prefix, handler });
    this.prefixes.sort((a, b) => b.prefix.length - a.prefix.length);
    return this;
  }

  resolve(path: string): RouteHandler | undefined {
    return this.exact.get(path) ?? this.prefixes.find((p) => path.startsWith(p.prefix))?.handler;
  }
}

export interface AuthInput {
  readonly method: string;
  readonly path: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer;
}

/**
 * What the headers alone say about a request, before its body is read:
 * - `trusted`: the signature over the headers holds; the body is read (up to maxBodyBytes);
 * - `refused`: the answer is `error` whatever the body holds; the body is discarded unread;
 * - `untrusted`: the headers fail, but the answer may depend on the body (`authenticate` decides
 *   once it has it); when the unauthenticated byte budget cannot hold the body, `error` is sent.
 */
export type Screening =
  | { readonly kind: 'trusted' }
  | { readonly kind: 'refused'; readonly error: ServiceError }
  | { readonly kind: 'untrusted'; readonly error: ServiceError };

export interface UnauthenticatedLimits {
  /** bytes of request bodies buffered at once over all requests that are not trusted */
  readonly maxBytesInFlight: number;
  /** time an unauthenticated request's body may take to arrive, ms */
  readonly bodyTimeoutMs: number;
}

/** 16 MiB: three full-size bodies at once; refusals by signature rarely carry more. */
export const DEFAULT_UNAUTHENTICATED_LIMITS: UnauthenticatedLimits = { maxBytesInFlight: 16 * 1024 * 1024, bodyTimeoutMs: 10_000 };

export interface HttpServerOptions {
  readonly host: string;
  readonly port: number;
  readonly maxBodyBytes: number;
  readonly router: Router;
  readonly authenticate: (input: AuthInput) => E.Either<ServiceError, Identity>;
  /** header screening before the body is read; default: every request is `trusted` (bodies read whole) */
  readonly screen?: (input: Omit<AuthInput, 'body'>) => Screening;
  /** bounds on what requests that are not `trusted` may hold; default DEFAULT_UNAUTHENTICATED_LIMITS */
  readonly unauthenticated?: UnauthenticatedLimits;
  /** response headers for a body: request id, date, content MD5/type, authorization */
  readonly responseHeaders: (input: { path: string; requestId: string; body: Uint8Array; identity?: Identity }) => Record<string, string>;
  readonly encodeError: (error: ServiceError) => Uint8Array;
  readonly statusOf: (error: ServiceError) => number;
  /** where unexpected handler failures are reported (default: stderr) */
  readonly onInternalError?: (error: unknown, path: string) => void;
  /** every answer sent (for metrics); called after the response is handed to the socket */
  readonly onRequest?: (served: RequestServed) => void;
}

/** One answered request, as `onRequest` sees it. */
export interface RequestServed {
  /** path without query string, e.g. "/PutRow" or "/tunnel/readrecords" (any path a client sent) */
  readonly path: string;
  readonly status: number;
  /** the service error code of an error answer */
  readonly code?: string;
  /** request body bytes (its content-length) */
  readonly requestBytes: number;
  /** the response body */
  readonly body: Uint8Array;
  /** from the request's arrival to the answer */
  readonly ms: number;
}

export interface RunningHttpServer {
  readonly server: Server;
  readonly host: string;
  readonly port: number;
  close(): Promise<void>;
}

type BodyRead =
  | { readonly kind: 'body'; readonly body: Buffer }
  | { readonly kind: 'tooLarge' }
  | { readonly kind: 'overBudget' }
  | { readonly kind: 'timeout' }
  | { readonly kind: 'aborted' };

/** A shared byte budget: what bodies of untrusted requests may hold at once. */
class ByteBudget {
  private used = 0;
  constructor(private readonly limit: number) {}
  take(bytes: number): boolean {
    if (this.used + bytes > this.limit) return false;
    this.used += bytes;
    return true;
  }
  give(bytes: number): void {
    this.used -= bytes;
  }
}

interface ReadLimits {
  readonly maxBytes: number;
  /** bytes are taken from it as they arrive and given back by the caller (`release`) */
  readonly budget?: ByteBudget;
  readonly timeoutMs?: number;
  /** discard every byte: only the end (or the deadline) is awaited */
  readonly discard?: boolean;
}

interface BodyReading {
  readonly result: Promise<BodyRead>;
  /** gives back what the body took from the budget */
  release(): void;
}

/**
 * Reads the body, refusing (without buffering) anything over `maxBytes`, anything the budget
 * cannot hold, and anything that has not arrived by the deadline. With `discard`, nothing is kept.
 */
const readBody = (req: IncomingMessage, limits: ReadLimits): BodyReading => {
  let held = 0;
  const release = () => {
    limits.budget?.give(held);
    held = 0;
  };
  const result = new Promise<BodyRead>((resolve) => {
    const declared = req.headers['content-length'];
    if (declared !== undefined && Number(declared) > limits.maxBytes) {
      resolve({ kind: 'tooLarge' });
      return;
    }
    // a declared length is reserved whole, up front: a body the budget cannot hold is not started
    const reserved = !limits.discard && limits.budget !== undefined && declared !== undefined;
    if (reserved) {
      if (!limits.budget!.take(Number(declared))) {
        resolve({ kind: 'overBudget' });
        return;
      }
      held = Number(declared);
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let settled = false;
    const timer =
      limits.timeoutMs === undefined
        ? undefined
        : setTimeout(() => {
            chunks.length = 0;
            settle({ kind: 'timeout' });
          }, limits.timeoutMs);
    timer?.unref();
    const settle = (outcome: BodyRead) => {
      if (settled) return;
      settled = true;
      if (timer !== undefined) clearTimeout(timer);
      if (outcome.kind !== 'body') release();
      resolve(outcome);
    };
    req.on('data', (chunk: Buffer) => {
      if (settled) return;
      size += chunk.length;
      if (size > limits.maxBytes) {
        chunks.length = 0;
        settle({ kind: 'tooLarge' });
        return;
      }
      if (limits.discard) return;
      if (limits.budget !== undefined && !reserved) {
        if (!limits.budget.take(chunk.length)) {
          chunks.length = 0;
          settle({ kind: 'overBudget' });
          return;
        }
        held += chunk.length;
      }
      chunks.push(chunk);
    });
    req.on('end', () => settle({ kind: 'body', body: chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size) }));
    req.on('error', () => settle({ kind: 'aborted' }));
    req.on('aborted', () => settle({ kind: 'aborted' }));
  });
  return { result, release };
};

/** How long a refused oversized upload may keep streaming into the void before the socket is cut. */
const DISCARD_GRACE_MS = 2_000;

export const startHttpServer = (options: HttpServerOptions): Promise<RunningHttpServer> => {
  const reportInternal =
    options.onInternalError ?? ((error: unknown, path: string) => console.error(`otsflow emulator: internal error on ${path}:`, error));

  const arrived = new WeakMap<ServerResponse, number>();
  const send = (res: ServerResponse, path: string, requestId: string, status: number, body: Uint8Array, identity?: Identity, close = false, code?: string) => {
    if (res.headersSent || res.writableEnded || res.destroyed) return;
    const headers: Record<string, string | number> = {
      ...options.responseHeaders({ path, requestId, body, ...(identity === undefined ? {} : { identity }) }),
      'content-length': body.length,
    };
    if (close) headers.connection = 'close';
    res.writeHead(status, headers);
    res.end(body);
    if (options.onRequest !== undefined) {
      const length = Number(res.req?.headers['content-length'] ?? 0);
      const since = arrived.get(res);
      options.onRequest({ path, status, ...(code === undefined ? {} : { code }), requestBytes: Number.isFinite(length) ? length : 0, body, ms: since === undefined ? 0 : performance.now() - since });
    }
  };

  const sendError = (res: ServerResponse, path: string, requestId: string, error: ServiceError, identity?: Identity, close = false) =>
    send(res, path, requestId, error.status ?? options.statusOf(error), options.encodeError(error), identity, close, error.code);

  const unauthenticated = options.unauthenticated ?? DEFAULT_UNAUTHENTICATED_LIMITS;
  const budget = new ByteBudget(unauthenticated.maxBytesInFlight);

  /** Answers at once, closing the connection, and discards the rest of the upload; cuts the socket if it goes on too long. */
  const refuseAndDiscard = (req: IncomingMessage, res: ServerResponse, path: string, requestId: string, error: ServiceError) => {
    req.resume();
    const cut = setTimeout(() => req.socket.destroy(), DISCARD_GRACE_MS);
    cut.unref();
    res.on('close', () => clearTimeout(cut));
    sendError(res, path, requestId, error, undefined, true);
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const requestId = randomUUID();
    const path = (req.url ?? '/').split('?')[0]!;
    if (req.method !== 'POST') {
      req.resume();
      sendError(res, path, requestId, { code: 'OTSMethodNotAllowed', message: 'Only POST method for requests is supported.' });
      return;
    }
    const screening: Screening = options.screen?.({ method: req.method, path, headers: req.headers }) ?? { kind: 'trusted' };
    const read = readBody(
      req,
      screening.kind === 'trusted'
        ? { maxBytes: options.maxBodyBytes }
        : { maxBytes: options.maxBodyBytes, timeoutMs: unauthenticated.bodyTimeoutMs, ...(screening.kind === 'refused' ? { discard: true } : { budget }) },
    );
    const body = await read.result;
    if (body.kind === 'aborted') {
      res.destroy();
      return;
    }
    if (body.kind === 'tooLarge') {
      refuseAndDiscard(req, res, path, requestId, {
        code: 'OTSRequestBodyTooLarge',
        message: `The size of POST data is too large: the limit is ${options.maxBodyBytes} bytes.`,
      });
      return;
    }
    if (screening.kind !== 'trusted' && body.kind !== 'body') {
      // the body cannot be afforded (budget) or did not come in time: answer from the headers
      refuseAndDiscard(req, res, path, requestId, screening.error);
      return;
    }
    if (body.kind !== 'body') throw new Error(`unexpected body outcome ${body.kind} for a trusted request`);
    if (screening.kind === 'refused') {
      sendError(res, path, requestId, screening.error);
      return;
    }
    let auth: E.Either<ServiceError, Identity>;
    try {
      auth = options.authenticate({ method: req.method, path, headers: req.headers, body: body.body });
    } finally {
      read.release();
    }
    if (E.isLeft(auth)) {
      sendError(res, path, requestId, auth.left);
      return;
    }
    const identity = auth.right;
    const handler = options.router.resolve(path);
    if (handler === undefined) {
      sendError(res, path, requestId, { code: 'OTSParameterInvalid', message: `Unsupported operation: '${path.replace(/^\//, '')}'.` }, identity);
      return;
    }
    let result: RouteResult;
    try {
      result = await handler({ path, body: body.body, headers: req.headers, requestId, identity, response: res });
    } catch (error) {
      reportInternal(error, path);
      result = E.left({ code: 'OTSInternalServerError', message: 'Internal server error.' });
    }
    if (E.isLeft(result)) sendError(res, path, requestId, result.left, identity);
    else send(res, path, requestId, 200, result.right, identity);
  };

  const server = createServer((req, res) => {
    if (options.onRequest !== undefined) arrived.set(res, performance.now());
    handle(req, res).catch((error: unknown) => {
      reportInternal(error, req.url ?? '');
      if (!res.headersSent) res.destroy();
    });
  });
  // the SDK reuses keep-alive sockets; closing them early surfaces as NetworkingError
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 66_000;
  server.requestTimeout = 120_000;
  // what node's HTTP parser refuses never reaches a route; it still gets the service's Error body
  server.on('clientError', (error: NodeJS.ErrnoException, socket) => {
    if (!socket.writable) {
      socket.destroy();
      return;
    }
    const tooLarge = error.code === 'HPE_HEADER_OVERFLOW';
    const status = tooLarge ? 431 : error.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400;
    const body = options.encodeError({ code: 'OTSParameterInvalid', message: tooLarge ? 'The request headers are too large.' : 'Malformed HTTP request.' });
    const headers = { ...options.responseHeaders({ path: '', requestId: randomUUID(), body }), 'content-length': String(body.length), connection: 'close' };
    const head = Object.entries(headers).map(([name, value]) => `${name}: ${value}\r\n`).join('');
    socket.end(Buffer.concat([Buffer.from(`HTTP/1.1 ${status} ${tooLarge ? 'Request Header Fields Too Large' : status === 408 ? 'Request Timeout' : 'Bad Request'}\r\n${head}\r\n`, 'latin1'), Buffer.from(body)]));
  });

  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      const address = server.address() as AddressInfo;
      resolve({
        server,
        host: options.host,
        port: address.port,
        close: () =>
          new Promise<void>((done) => {
            server.close(() => done());
            server.closeAllConnections();
          }),
      });
    });
  });
};
