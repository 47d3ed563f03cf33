/**
 * Raw HTTP to the emulator for the fuzz and security specs: signed (or deliberately unsigned)
 * POSTs through node:http, and byte-exact requests over a bare socket for what node:http will not
 * send (bad header names, lying lengths, broken request lines). Every call has a deadline, so a
 * request the server never answers fails its case instead of hanging the run.
 */
import * as E from 'fp-ts/lib/Either.js';
import { type Agent, request as httpRequest } from 'node:http';
import { connect } from 'node:net';
import { expect } from 'vitest';
import { decodeErrorBody } from '../../lib/wire/errors.js';
import { buildRequestHeaders, contentMd5 } from '../../lib/wire/signing.js';
import { deadline } from './fuzz-support.js';

export interface Target {
  readonly host: string;
  readonly port: number;
  readonly instanceName: string;
  readonly accessKeyId: string;
  readonly accessKeySecret: string;
  readonly stsToken?: string;
}

export interface HttpAnswer {
  readonly status: number;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  readonly body: Buffer;
}

export interface PostOptions {
  /** headers after signing: they override the signed ones (a tampered request) */
  readonly override?: Readonly<Record<string, string | readonly string[] | undefined>>;
  /** x-ots-* headers signed with the request */
  readonly signedExtra?: Readonly<Record<string, string>>;
  readonly date?: Date;
  readonly unsigned?: boolean;
  readonly method?: string;
  /** the path on the request line when it differs from the signed one (query strings) */
  readonly requestPath?: string;
  readonly agent?: Agent | false;
  readonly timeoutMs?: number;
}

/** One POST, signed like the SDKs sign it unless told otherwise. */
export function post(target: Target, path: string, body: Uint8Array, options: PostOptions = {}): Promise<HttpAnswer> {
  const signed = options.unsigned
    ? {}
    : buildRequestHeaders({
        path,
        body,
        instanceName: target.instanceName,
        accessKeyId: target.accessKeyId,
        accessKeySecret: target.accessKeySecret,
        ...(target.stsToken === undefined ? {} : { stsToken: target.stsToken }),
        ...(options.date === undefined ? {} : { date: options.date }),
        ...(options.signedExtra === undefined ? {} : { extraHeaders: options.signedExtra }),
      });
  const headers: Record<string, string | string[]> = { ...signed, 'content-length': String(body.length) };
  for (const [name, value] of Object.entries(options.override ?? {})) {
    if (value === undefined) delete headers[name];
    else headers[name] = typeof value === 'string' ? value : [...value];
  }
  const answer = new Promise<HttpAnswer>((resolve, reject) => {
    const req = httpRequest(
      { host: target.host, port: target.port, method: options.method ?? 'POST', path: options.requestPath ?? path, headers, agent: options.agent ?? false },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => {
          if (!res.complete) reject(new Error(`${path}: response cut short`));
          else resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) });
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(Buffer.from(body));
  });
  return deadline(answer, options.timeoutMs ?? 10_000, `POST ${path}`);
}

export interface ServiceErrorAnswer {
  readonly status: number;
  readonly code: string;
  readonly message: string;
}

/** The protobuf Error body of a non-2xx answer; fails the test when there is none. */
export function errorOf(answer: HttpAnswer): ServiceErrorAnswer {
  const decoded = decodeErrorBody(answer.body);
  if (E.isLeft(decoded)) throw new Error(`HTTP ${answer.status} without a protobuf Error body: ${answer.body.toString('hex').slice(0, 200)}`);
  return { status: answer.status, code: decoded.right.code, message: decoded.right.message ?? '' };
}

/** Codes the service answers a client's mistake with (4xx); anything else from a fuzz case is a finding. */
export const CLIENT_ERROR_CODES =
  /^OTS(ParameterInvalid|MissingHeader|AuthFailed|PermissionDenied|ObjectNotExist|ObjectAlreadyExist|TableNotReady|InvalidPK|ConditionCheckFail|OutOfRowSizeLimit|OutOfColumnCountLimit|RequestBodyTooLarge|MethodNotAllowed|UnsupportOperation|RowOperationConflict|QuotaExhausted|NotEnoughCapacityUnit|CapacityUnitExhausted|TooFrequentReservedThroughputAdjustment|SequenceNumberNotMatch|TunnelExpired|TunnelExist|ResourceGone)$/;

/**
 * What every answer must look like: the service's headers, and either success or an Error body
 * with an OTS code and a 4xx status. Returns the error, if any.
 */
export function expectServiceAnswer(answer: HttpAnswer, what: string): ServiceErrorAnswer | undefined {
  expect(answer.headers['x-ots-requestid'], `${what}: x-ots-requestid`).toBeDefined();
  expect(answer.headers['x-ots-contentmd5'], `${what}: x-ots-contentmd5`).toBe(contentMd5(answer.body));
  if (answer.status === 200) return undefined;
  const error = errorOf(answer);
  expect(error.code, `${what}: HTTP ${answer.status} ${error.code} ${error.message}`).toMatch(CLIENT_ERROR_CODES);
  expect(answer.status, `${what}: ${error.code} ${error.message}`).toBeGreaterThanOrEqual(400);
  expect(answer.status, `${what}: ${error.code} ${error.message}`).toBeLessThan(500);
  expect(error.message.length, `${what}: message of ${error.code}`).toBeGreaterThan(0);
  return error;
}

export interface RawExchange {
  /** the status line's code, or undefined when the server closed without answering */
  readonly status: number | undefined;
  readonly head: string;
  readonly body: Buffer;
  readonly closed: boolean;
}

/**
 * Writes `bytes` on a fresh socket (then half-closes it) and reads one response: its head, and a
 * body of its content-length. Resolves once the response is whole or the server closed.
 */
export function rawExchange(host: string, port: number, bytes: Uint8Array, timeoutMs = 10_000): Promise<RawExchange> {
  const exchange = new Promise<RawExchange>((resolve, reject) => {
    const socket = connect(port, host);
    let received = Buffer.alloc(0);
    let settled = false;
    const parse = (closed: boolean): RawExchange | undefined => {
      // interim answers (100 Continue) precede the real one
      for (let end = received.indexOf('\r\n\r\n'); end >= 0 && /^HTTP\/1\.[01] 1\d\d/.test(received.toString('latin1', 0, 12)); end = received.indexOf('\r\n\r\n')) {
        received = received.subarray(end + 4);
      }
      const end = received.indexOf('\r\n\r\n');
      if (end < 0) return closed ? { status: undefined, head: received.toString('latin1'), body: Buffer.alloc(0), closed } : undefined;
      const head = received.subarray(0, end).toString('latin1');
      const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(head)?.[1]);
      const length = Number(/\r\ncontent-length: *(\d+)/i.exec(head)?.[1] ?? '0');
      const body = received.subarray(end + 4, end + 4 + length);
      if (body.length < length && !closed) return undefined;
      return { status: Number.isNaN(status) ? undefined : status, head, body: Buffer.from(body), closed };
    };
    const finish = (result: RawExchange) => {
      if (settled) return;
      settled = true;
      socket.destroy();
      resolve(result);
    };
    socket.on('data', (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      const result = parse(false);
      if (result !== undefined) finish(result);
    });
    socket.on('close', () => finish(parse(true) as RawExchange));
    socket.on('error', (error: NodeJS.ErrnoException) => {
      // a reset after the answer was read is the server closing a connection it gave up on
      if (error.code === 'ECONNRESET' || error.code === 'EPIPE') finish(parse(true) as RawExchange);
      else if (!settled) reject(error);
    });
    socket.on('connect', () => socket.end(Buffer.from(bytes)));
  });
  return deadline(exchange, timeoutMs, 'raw request');
}

/** A whole request as bytes: request line, headers in the given order (repeats allowed), body. */
export function requestBytes(requestLine: string, headers: readonly (readonly [string, string])[], body: Uint8Array): Buffer {
  const head = `${requestLine}\r\n${headers.map(([name, value]) => `${name}: ${value}\r\n`).join('')}\r\n`;
  return Buffer.concat([Buffer.from(head, 'latin1'), Buffer.from(body)]);
}
