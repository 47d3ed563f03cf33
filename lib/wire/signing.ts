/**
 * Tablestore V2 request signatures, for both sides of the wire (tunnel-protocol.md §4.1,
 * tablestore-wire.md §1.2–§1.3 and §2.5).
 *
 *   StringToSign = path "\n" method "\n" "\n"            (empty canonical query)
 *                + for each x-ots-* header except x-ots-signature, sorted by lower-case name:
 *                    lower(name) ":" trim(value) "\n"
 *   x-ots-signature = base64(HMAC-SHA1(accessKeySecret, UTF-8(StringToSign)))
 *
 * Values are trimmed like the Java/Go/Python SDKs; the Node SDK does not trim, but an HTTP server
 * only ever sees trimmed values, so both agree on the wire.
 *
 * Responses (checked by the Java main client and the Python SDK, ignored by Node and by tunnel
 * clients) carry x-ots-requestid, x-ots-date, x-ots-contentmd5, x-ots-contenttype and
 *   authorization: OTS <accessKeyId>:base64(HMAC-SHA1(secret, Σ sorted "name:value\n" of x-ots-* + path))
 */
import { createHmac, hash, randomUUID, timingSafeEqual } from 'node:crypto';
import { left, right } from 'fp-ts/lib/Either.js';
import type { Either } from 'fp-ts/lib/Either.js';

export type HeaderValue = string | readonly string[] | undefined;
/** Header names in any case; Node's `IncomingMessage.headers` fits as is. */
export type Headers = Readonly<Record<string, HeaderValue>>;

/** The API version every official client sends (the Go tunnel client sends '2018-04-01'). */
export const API_VERSION = '2015-12-31';
/** The service refuses requests whose x-ots-date is further than this from its clock. */
export const DEFAULT_MAX_CLOCK_SKEW_MS = 15 * 60 * 1000;
/** Any value works; Java/Python only check that the header is present. */
export const RESPONSE_CONTENT_TYPE = 'protocol buffer';

const SIGNATURE_HEADER = 'x-ots-signature';
const OTS_HEADER = /^x-ots-/i;

function headerText(value: HeaderValue): string | undefined {
  if (value === undefined) return undefined;
  return typeof value === 'string' ? value : value.join(',');
}

/** The `x-ots-*` part of the string to sign: one "name:value\n" line per header, sorted by name. */
export function canonicalOtsHeaders(headers: Headers): string {
  const lines: Array<readonly [string, string]> = [];
  for (const name of Object.keys(headers)) {
    const lower = name.toLowerCase();
    const value = headerText(headers[name]);
    if (value === undefined || !OTS_HEADER.test(lower) || lower === SIGNATURE_HEADER) continue;
    lines.push([lower, value.trim()]);
  }
  lines.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  let text = '';
  for (const [name, value] of lines) text += `${name}:${value}\n`;
  return text;
}

export interface SignRequestInput {
  readonly method: string;
  /** the request path without query string, e.g. `/PutRow` or `/tunnel/heartbeat` */
  readonly path: string;
  readonly headers: Headers;
  readonly accessKeySecret: string;
}

export function stringToSign(input: Omit<SignRequestInput, 'accessKeySecret'>): string {
  return `${input.path}\n${input.method.toUpperCase()}\n\n${canonicalOtsHeaders(input.headers)}`;
}

function hmacSha1Base64(secret: string, text: string): string {
  return createHmac('sha1', secret).update(text, 'utf8').digest('base64');
}

/** The value of `x-ots-signature` for a request. */
export function signRequest(input: SignRequestInput): string {
  return hmacSha1Base64(input.accessKeySecret, stringToSign(input));
}

/** base64(MD5(body)), the value of `x-ots-contentmd5`. */
export function contentMd5(body: Uint8Array): string {
  // one-shot: createHash() looks up a command-line option on every call (Node 20), which cost more
  // than the digest for the tunnel's small requests
  return hash('md5', body, 'base64');
}

export interface RequestCredentials {
  readonly accessKeyId: string;
  readonly accessKeySecret: string;
  readonly stsToken?: string;
}

export interface BuildRequestHeadersInput extends RequestCredentials {
  readonly path: string;
  readonly body: Uint8Array;
  readonly instanceName: string;
  /** defaults to now */
  readonly date?: Date;
  /** defaults to API_VERSION */
  readonly apiVersion?: string;
  /** more headers to send; `x-ots-*` ones are signed too (e.g. a trace id) */
  readonly extraHeaders?: Readonly<Record<string, string>>;
}

/** Every header a client sends with a POST, signed. Names are lower case. */
export function buildRequestHeaders(input: BuildRequestHeadersInput): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(input.extraHeaders ?? {})) headers[name.toLowerCase()] = value;
  headers['x-ots-date'] = (input.date ?? new Date()).toISOString();
  headers['x-ots-apiversion'] = input.apiVersion ?? API_VERSION;
  headers['x-ots-accesskeyid'] = input.accessKeyId;
  headers['x-ots-instancename'] = input.instanceName;
  headers['x-ots-contentmd5'] = contentMd5(input.body);
  if (input.stsToken !== undefined) headers['x-ots-ststoken'] = input.stsToken;
  delete headers[SIGNATURE_HEADER];
  headers[SIGNATURE_HEADER] = signRequest({ method: 'POST', path: input.path, headers, accessKeySecret: input.accessKeySecret });
  return headers;
}

// ---------------------------------------------------------------------------------------------
// server side: verifying a request

export type AuthErrorCode = 'OTSAuthFailed' | 'OTSParameterInvalid';

/** Why a request is refused, ready to become an error response (`encodeErrorBody(code, message)`, `httpStatus`). */
export interface AuthError {
  readonly kind: 'AuthError';
  readonly code: AuthErrorCode;
  readonly httpStatus: 400 | 403;
  readonly message: string;
}

/** The message of a signature that does not verify: the one refusal checked after the body's MD5. */
export const SIGNATURE_MISMATCH_MESSAGE = 'Signature mismatch.';

const authFailed = (message: string): AuthError => ({ kind: 'AuthError', code: 'OTSAuthFailed', httpStatus: 403, message });
const parameterInvalid = (message: string): AuthError => ({ kind: 'AuthError', code: 'OTSParameterInvalid', httpStatus: 400, message });

/** A key's secret, and the STS token requests made with it must carry (temporary credentials). */
export interface KeyCredential {
  readonly secret: string;
  readonly stsToken?: string;
  /** ms since epoch from which the key (an STS key: its token) is refused as expired */
  readonly expiresAt?: number;
}

export interface VerifyRequestInput {
  readonly method: string;
  /** path without query string */
  readonly path: string;
  readonly headers: Headers;
  readonly body: Uint8Array;
  /** the secret of a key (or the secret plus a required STS token); undefined = unknown key */
  readonly lookupSecret: (accessKeyId: string) => string | KeyCredential | undefined;
  /** the server's clock, ms since epoch or a Date; defaults to Date.now() */
  readonly now?: number | Date;
  /** defaults to DEFAULT_MAX_CLOCK_SKEW_MS; Infinity disables the check */
  readonly maxSkewMs?: number;
  /** defaults to true */
  readonly checkContentMd5?: boolean;
}

export interface VerifiedRequest {
  readonly accessKeyId: string;
  readonly instanceName: string;
  /** the x-ots-date, parsed */
  readonly date: Date;
}

/** Headers every official client sends; a request without one is malformed. */
export const REQUIRED_REQUEST_HEADERS = [
  'x-ots-accesskeyid',
  'x-ots-apiversion',
  'x-ots-contentmd5',
  'x-ots-date',
  'x-ots-instancename',
  'x-ots-signature',
] as const;

/**
 * Checks, in order: required headers present (all missing ones named) → key known → x-ots-date
 * parses and is within the allowed skew (both directions, so an old request cannot be replayed)
 * → STS token when the key needs one, and the key not expired → x-ots-contentmd5 matches the
 * body → signature, compared
 * in constant time. The first failure is the answer, with the service's code and message.
 */
export function verifyRequest(input: VerifyRequestInput): Either<AuthError, VerifiedRequest> {
  const headers = lowerCaseHeaders(input.headers);
  const missing = REQUIRED_REQUEST_HEADERS.filter((name) => (headers.get(name) ?? '') === '');
  if (missing.length > 0) {
    return left(parameterInvalid(`Missing header${missing.length > 1 ? 's' : ''}: ${missing.map((name) => `'${name}'`).join(', ')}.`));
  }
  const header = (name: (typeof REQUIRED_REQUEST_HEADERS)[number]): string => headers.get(name) as string;

  const accessKeyId = header('x-ots-accesskeyid');
  const found = input.lookupSecret(accessKeyId);
  if (found === undefined) return left(authFailed('The AccessKeyID does not exist.'));
  const credential: KeyCredential = typeof found === 'string' ? { secret: found } : found;

  const dateText = header('x-ots-date');
  const date = parseOtsDate(dateText);
  if (date === undefined) return left(parameterInvalid(`Invalid date format: ${dateText}.`));
  const now = input.now === undefined ? Date.now() : typeof input.now === 'number' ? input.now : input.now.getTime();
  if (Math.abs(now - date.getTime()) > (input.maxSkewMs ?? DEFAULT_MAX_CLOCK_SKEW_MS)) {
    return left(authFailed(`Mismatch between system time and x-ots-date: ${dateText}.`));
  }

  if (credential.stsToken !== undefined) {
    const token = headers.get('x-ots-ststoken');
    if (token === undefined || token === '') return left(authFailed('The security token is missing.'));
    if (!constantTimeEqual(token, credential.stsToken)) return left(authFailed('The security token is invalid.'));
  }
  if (credential.expiresAt !== undefined && now >= credential.expiresAt) {
    return left(authFailed('The security token you provided has expired.'));
  }

  if (input.checkContentMd5 !== false && !constantTimeEqual(header('x-ots-contentmd5'), contentMd5(input.body))) {
    return left(authFailed('Mismatch between MD5 value of request body and x-ots-contentmd5 in header.'));
  }

  const expected = signRequest({ method: input.method, path: input.path, headers: input.headers, accessKeySecret: credential.secret });
  if (!constantTimeEqual(header('x-ots-signature'), expected)) return left(authFailed(SIGNATURE_MISMATCH_MESSAGE));

  return right({ accessKeyId, instanceName: header('x-ots-instancename'), date });
}

function lowerCaseHeaders(headers: Headers): Map<string, string> {
  const map = new Map<string, string>();
  for (const name of Object.keys(headers)) {
    const value = headerText(headers[name]);
    if (value !== undefined) map.set(name.toLowerCase(), value.trim());
  }
  return map;
}

/** Equal-length comparisons take the same time whatever differs; only the length can leak. */
function constantTimeEqual(actual: string, expected: string): boolean {
  const a = Buffer.from(actual, 'utf8');
  const b = Buffer.from(expected, 'utf8');
  return a.length === b.length && timingSafeEqual(a, b);
}

const OTS_DATE = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?Z$/;

/**
 * `yyyy-MM-ddTHH:mm:ss[.fraction]Z` in UTC. Any fraction length is accepted: the Go SDKs' layout
 * prints a bogus 5-digit "fraction" (tunnel-protocol.md §4.1), still well under one second.
 */
export function parseOtsDate(text: string): Date | undefined {
  const match = OTS_DATE.exec(text);
  if (match === null) return undefined;
  const [year, month, day, hour, minute, second] = match.slice(1, 7).map(Number) as [number, number, number, number, number, number];
  const millis = Number((match[7] ?? '0').padEnd(3, '0').slice(0, 3));
  const time = Date.UTC(year, month - 1, day, hour, minute, second, millis);
  const date = new Date(time);
  // Date.UTC rolls over (month 13, Feb 30); a real date reads back the same fields.
  if (date.getUTCFullYear() !== year || date.getUTCMonth() !== month - 1 || date.getUTCDate() !== day || hour > 23 || minute > 59 || second > 59) {
    return undefined;
  }
  return date;
}

// ---------------------------------------------------------------------------------------------
// responses

export interface BuildResponseHeadersInput {
  /** the request path, e.g. `/PutRow`: the response signature ends with it */
  readonly path: string;
  readonly body: Uint8Array;
  /** defaults to a random UUID */
  readonly requestId?: string;
  /** defaults to now */
  readonly date?: Date;
  /**
   * The verified requester's key: with it the response carries `authorization`. Leave it out for
   * requests that failed authentication (clients only demand it on 2xx and non-auth 403s).
   */
  readonly credentials?: { readonly accessKeyId: string; readonly accessKeySecret: string };
}

/** The headers every response should carry so that all official SDKs accept it (tablestore-wire.md §2.5). */
export function buildResponseHeaders(input: BuildResponseHeadersInput): Record<string, string> {
  const headers: Record<string, string> = {
    'x-ots-requestid': input.requestId ?? randomUUID(),
    'x-ots-date': (input.date ?? new Date()).toISOString(),
    'x-ots-contentmd5': contentMd5(input.body),
    'x-ots-contenttype': RESPONSE_CONTENT_TYPE,
  };
  if (input.credentials !== undefined) {
    headers['authorization'] = responseAuthorization(input.path, headers, input.credentials.accessKeyId, input.credentials.accessKeySecret);
  }
  return headers;
}

/** `OTS <accessKeyId>:<signature>` over the response's x-ots-* headers and the request path. */
export function responseAuthorization(path: string, headers: Headers, accessKeyId: string, accessKeySecret: string): string {
  return `OTS ${accessKeyId}:${hmacSha1Base64(accessKeySecret, canonicalOtsHeaders(headers) + path)}`;
}

export interface ResponseCheckError {
  readonly kind: 'ResponseCheckError';
  readonly message: string;
}

export interface VerifyResponseInput {
  readonly path: string;
  readonly status: number;
  readonly headers: Headers;
  readonly body: Uint8Array;
  readonly accessKeyId: string;
  readonly accessKeySecret: string;
  readonly now?: number | Date;
  readonly maxSkewMs?: number;
}

/**
 * The checks the Python SDK (the strictest official client) applies to a response: on 2xx the four
 * x-ots headers must be present; a present MD5 must match the body; a present date must parse and
 * be within the skew; a present authorization (required on 2xx) must be ours and match.
 */
export function verifyResponse(input: VerifyResponseInput): Either<ResponseCheckError, void> {
  const fail = (message: string): Either<ResponseCheckError, void> => left({ kind: 'ResponseCheckError', message });
  const headers = lowerCaseHeaders(input.headers);
  const success = input.status >= 200 && input.status < 300;
  if (success) {
    for (const name of ['x-ots-contentmd5', 'x-ots-requestid', 'x-ots-date', 'x-ots-contenttype']) {
      if (!headers.has(name)) return fail(`"${name}" is missing in response header.`);
    }
  }
  const md5 = headers.get('x-ots-contentmd5');
  if (md5 !== undefined && md5 !== contentMd5(input.body)) return fail('MD5 mismatch in response.');
  const dateText = headers.get('x-ots-date');
  if (dateText !== undefined) {
    const date = parseOtsDate(dateText);
    if (date === undefined) return fail('Invalid date format in response.');
    const now = input.now === undefined ? Date.now() : typeof input.now === 'number' ? input.now : input.now.getTime();
    if (Math.abs(now - date.getTime()) > (input.maxSkewMs ?? DEFAULT_MAX_CLOCK_SKEW_MS)) {
      return fail('The difference between date in response and system time is more than 15 minutes.');
    }
  }
  const authorization = headers.get('authorization');
  if (authorization === undefined) return success ? fail('"Authorization" is missing in response header.') : right(undefined);
  const expected = responseAuthorization(input.path, input.headers, input.accessKeyId, input.accessKeySecret);
  if (!authorization.startsWith(`OTS ${input.accessKeyId}:`)) return fail('Invalid accesskeyid in response.');
  return constantTimeEqual(authorization, expected) ? right(undefined) : fail('Invalid signature in response.');
}
