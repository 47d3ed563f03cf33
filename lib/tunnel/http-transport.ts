/**
 * POST `/tunnel/<api>` with a protobuf body and the signed headers of tunnel-protocol.md §4.1, over
 * a keep-alive agent. A call is a cold Observable: subscribing sends it, unsubscribing aborts it.
 * Non-2xx responses become `OtsServiceError` (§4.3); network failures become `TransportError`
 * with the Node error code, which the retry classification recognises.
 */
import { Observable } from 'rxjs';
import { Agent as HttpAgent, request as httpRequest } from 'node:http';
import type { IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { randomUUID } from 'node:crypto';
import { serviceErrorFromResponse } from '../wire/errors.js';
import { buildRequestHeaders } from '../wire/signing.js';
import { tunnelMessages } from '../wire/tunnel-messages.js';
import type { TunnelApi, TunnelMessageName, TunnelMessageTypes } from '../wire/tunnel-messages.js';

export interface HttpTransportOptions {
  /** `http://host:port` or `https://host` */
  readonly endpoint: string;
  readonly instance: string;
  readonly credentials: { readonly accessKeyId: string; readonly accessKeySecret: string; readonly securityToken?: string };
  readonly requestTimeoutMs: number;
  readonly maxSockets?: number;
}

/** The connection failed, was reset, or timed out before a complete response arrived. */
export class TransportError extends Error {
  readonly kind = 'TransportError' as const;

  constructor(
    /** Node's error code: ECONNRESET, ECONNREFUSED, ETIMEDOUT, … */
    readonly code: string,
    message: string,
    override readonly cause?: unknown,
  ) {
    super(message);
    this.name = 'TransportError';
  }
}

export interface TunnelTransport {
  call<Req extends TunnelMessageName, Res extends TunnelMessageName>(api: TunnelApi<Req, Res>, request: TunnelMessageTypes[Req]): Observable<TunnelMessageTypes[Res]>;
  /**
   * `call` without the response decode: the response's bytes (a success status; anything else
   * fails as in `call`), for a caller with a faster decoder of its own. Optional: transports
   * without it are called through `call`.
   */
  callBytes?<Req extends TunnelMessageName, Res extends TunnelMessageName>(api: TunnelApi<Req, Res>, request: TunnelMessageTypes[Req]): Observable<Uint8Array>;
  /** closes the keep-alive sockets; calls in flight fail */
  close(): void;
}

function transportError(error: unknown): TransportError {
  if (error instanceof TransportError) return error;
  const code = typeof (error as { code?: unknown })?.code === 'string' ? (error as { code: string }).code : 'ECONNRESET';
  return new TransportError(code, error instanceof Error ? error.message : String(error), error);
}

export function createHttpTransport(options: HttpTransportOptions): TunnelTransport {
  const url = new URL(options.endpoint);
  const secure = url.protocol === 'https:';
  const agentOptions = { keepAlive: true, maxSockets: options.maxSockets ?? 64 };
  const agent = secure ? new HttpsAgent(agentOptions) : new HttpAgent(agentOptions);
  const send = secure ? httpsRequest : httpRequest;
  const port = url.port === '' ? (secure ? 443 : 80) : Number(url.port);
  const { accessKeyId, accessKeySecret, securityToken } = options.credentials;

  const post = (path: string, body: Uint8Array): Observable<Buffer> =>
    new Observable<Buffer>((subscriber) => {
      const headers = buildRequestHeaders({
        path,
        body,
        instanceName: options.instance,
        accessKeyId,
        accessKeySecret,
        ...(securityToken === undefined ? {} : { stsToken: securityToken }),
        extraHeaders: { 'x-ots-trace-id': randomUUID() },
      });
      let settled = false;
      const request = send({
        hostname: url.hostname,
        port,
        path,
        method: 'POST',
        agent,
        timeout: options.requestTimeoutMs,
        headers: { ...headers, 'content-length': String(body.length), 'user-agent': 'otsflow-tunnel' },
      });
      const fail = (error: unknown): void => {
        if (settled) return;
        settled = true;
        subscriber.error(transportError(error));
      };
      request.on('timeout', () => request.destroy(new TransportError('ETIMEDOUT', `no response to ${path} within ${options.requestTimeoutMs} ms`)));
      request.on('error', fail);
      request.on('response', (response: IncomingMessage) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('error', fail);
        response.on('close', () => {
          if (!response.complete) fail(new TransportError('ECONNRESET', `the response to ${path} was cut off`));
        });
        response.on('end', () => {
          if (settled || !response.complete) return;
          settled = true;
          const status = response.statusCode ?? 0;
          const payload = chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks);
          if (status >= 200 && status < 300) {
            subscriber.next(payload);
            subscriber.complete();
          } else {
            const requestId = response.headers['x-ots-requestid'];
            subscriber.error(serviceErrorFromResponse(status, payload, typeof requestId === 'string' ? requestId : undefined));
          }
        });
      });
      request.end(body);
      return () => {
        if (!settled) {
          settled = true;
          request.destroy();
        }
      };
    });

  return {
    call: <Req extends TunnelMessageName, Res extends TunnelMessageName>(api: TunnelApi<Req, Res>, message: TunnelMessageTypes[Req]) =>
      new Observable<TunnelMessageTypes[Res]>((subscriber) => {
        const body = tunnelMessages[api.request].encode(message);
        return post(api.path, body).subscribe({
          next: (payload) => {
            // the payload is this call's own buffer: records may stay views into it
            const decoded = tunnelMessages[api.response].decodeWithViews(payload);
            if (decoded._tag === 'Left') subscriber.error(decoded.left);
            else subscriber.next(decoded.right);
          },
          error: (error: unknown) => subscriber.error(error),
          complete: () => subscriber.complete(),
        });
      }),
    callBytes: <Req extends TunnelMessageName, Res extends TunnelMessageName>(api: TunnelApi<Req, Res>, message: TunnelMessageTypes[Req]) =>
      // the payload is this call's own buffer: decoders may read it in place
      post(api.path, tunnelMessages[api.request].encode(message)),
    close: () => agent.destroy(),
  };
}
