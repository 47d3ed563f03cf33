/**
 * A deliberately dumb tunnel client for protocol tests: one signed HTTP POST per call, protobuf
 * in and out, no retries and no state machine — so the server is checked on its own, not
 * through otsflow's tunnel client.
 */
import * as E from 'fp-ts/lib/Either.js';
import { request } from 'node:http';
import { decodeErrorBody } from '../../../lib/wire/errors.js';
import { buildRequestHeaders } from '../../../lib/wire/signing.js';
import { TUNNEL_APIS, type TunnelApiName, type TunnelMessageTypes, tunnelMessages } from '../../../lib/wire/tunnel-messages.js';

export interface RawEndpoint {
  readonly host: string;
  readonly port: number;
  readonly instanceName: string;
  readonly accessKeyId: string;
  readonly accessKeySecret: string;
}

type Api = (typeof TUNNEL_APIS)[TunnelApiName];
type RequestOf<A extends TunnelApiName> = TunnelMessageTypes[(typeof TUNNEL_APIS)[A]['request']];
type ResponseOf<A extends TunnelApiName> = TunnelMessageTypes[(typeof TUNNEL_APIS)[A]['response']];

export interface RawError {
  readonly status: number;
  readonly code: string;
  readonly message: string;
  readonly requestId: string | undefined;
}

export interface RawResponse {
  readonly status: number;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  readonly body: Buffer;
}

/** POSTs `body` to `path`, signed; rejects on transport errors (resets, cut responses). */
export const post = (endpoint: RawEndpoint, path: string, body: Uint8Array, extraHeaders: Record<string, string> = {}): Promise<RawResponse> =>
  new Promise((resolve, reject) => {
    const headers = buildRequestHeaders({ ...endpoint, path, body, extraHeaders });
    const req = request(
      { host: endpoint.host, port: endpoint.port, method: 'POST', path, agent: false, headers: { ...headers, 'content-length': body.length } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => {
          if (!res.complete) reject(new Error('response cut short'));
          else resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) });
        });
        res.on('error', reject);
        res.on('aborted', () => reject(new Error('response aborted')));
      },
    );
    req.on('error', reject);
    req.end(body);
  });

/** One tunnel call: Right = decoded response, Left = the service error (status, code, message). */
export const callTunnel = async <A extends TunnelApiName>(endpoint: RawEndpoint, api: A, message: RequestOf<A>): Promise<E.Either<RawError, ResponseOf<A>>> => {
  const spec: Api = TUNNEL_APIS[api];
  const requestCodec = tunnelMessages[spec.request] as { encode(m: RequestOf<A>): Uint8Array };
  const responseCodec = tunnelMessages[spec.response] as { decode(b: Uint8Array): E.Either<Error, ResponseOf<A>> };
  const response = await post(endpoint, spec.path, requestCodec.encode(message));
  const requestId = response.headers['x-ots-requestid'] as string | undefined;
  if (response.status < 200 || response.status >= 300) {
    const error = decodeErrorBody(response.body);
    if (E.isLeft(error)) throw new Error(`HTTP ${response.status} with an undecodable body: ${error.left.message}`);
    return E.left({ status: response.status, code: error.right.code, message: error.right.message ?? '', requestId });
  }
  if (requestId === undefined) throw new Error(`${api}: success response without x-ots-requestid`);
  const decoded = responseCodec.decode(response.body);
  if (E.isLeft(decoded)) throw decoded.left;
  return E.right(decoded.right);
};

/** The same, for calls expected to succeed. */
export const mustCall = async <A extends TunnelApiName>(endpoint: RawEndpoint, api: A, message: RequestOf<A>): Promise<ResponseOf<A>> => {
  const result = await callTunnel(endpoint, api, message);
  if (E.isLeft(result)) throw new Error(`${api} failed: ${result.left.status} ${result.left.code}: ${result.left.message}`);
  return result.right;
};
