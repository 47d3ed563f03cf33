/**
 * Service errors on the wire: the protobuf `Error` body every non-2xx response carries, the HTTP
 * status per code (tablestore-wire.md §2.3, tunnel-protocol.md §4.3), a typed error for clients,
 * and the retry classification.
 *
 * The body is `Error{code = 1, message = 2}` as in the SDK's tablestore.proto. Field 3 is
 * deliberately never written: tunnel servers once put a string `tunnel_id` there, the Java SDK
 * parses bodies with the main-API `Error` whose field 3 is a nested message, so a string there
 * would turn every error into "Network error.". Decoding skips field 3 whatever it holds.
 */
import type { Either } from 'fp-ts/lib/Either.js';
import { ProtoSchema } from './proto-codec.js';
import type { WireDecodeError } from './wire-error.js';

export interface ErrorBody {
  readonly code: string;
  readonly message?: string;
}

const errorCodec = ProtoSchema.fromText(`
syntax = "proto2";
message Error { required string code = 1; optional string message = 2; }
`).codec<ErrorBody>('Error');

export function encodeErrorBody(code: string, message?: string): Uint8Array {
  return errorCodec.encode(message === undefined ? { code } : { code, message });
}

export function decodeErrorBody(bytes: Uint8Array): Either<WireDecodeError, ErrorBody> {
  return errorCodec.decode(bytes);
}

/** HTTP status per service error code (first the table API's, then the tunnel service's). */
export const HTTP_STATUS_BY_CODE = {
  OTSParameterInvalid: 400,
  OTSInvalidPK: 400,
  OTSOutOfRowSizeLimit: 400,
  OTSOutOfColumnCountLimit: 400,
  OTSMissingHeader: 400,
  OTSUnsupportOperation: 400,
  OTSAuthFailed: 403,
  OTSConditionCheckFail: 403,
  OTSNotEnoughCapacityUnit: 403,
  OTSCapacityUnitExhausted: 403,
  OTSQuotaExhausted: 403,
  OTSTooFrequentReservedThroughputAdjustment: 403,
  OTSObjectNotExist: 404,
  OTSTableNotReady: 404,
  OTSMethodNotAllowed: 405,
  OTSRequestTimeout: 408,
  OTSObjectAlreadyExist: 409,
  OTSRowOperationConflict: 409,
  OTSRequestBodyTooLarge: 413,
  OTSFlowControl: 429,
  OTSInternalServerError: 500,
  OTSServerBusy: 503,
  OTSPartitionUnavailable: 503,
  OTSTimeout: 503,
  OTSServerUnavailable: 503,
  // tunnel service (statuses are the reference's suggestion; clients key on the code)
  OTSSequenceNumberNotMatch: 400,
  OTSTunnelExpired: 400,
  OTSPermissionDenied: 403,
  OTSTunnelExist: 409,
  OTSResourceGone: 410,
  OTSTunnelServerUnavailable: 503,
} as const satisfies Readonly<Record<string, number>>;

export type ServiceErrorCode = keyof typeof HTTP_STATUS_BY_CODE;

export function isServiceErrorCode(code: string): code is ServiceErrorCode {
  return Object.prototype.hasOwnProperty.call(HTTP_STATUS_BY_CODE, code);
}

export function httpStatusFor(code: ServiceErrorCode): number {
  return HTTP_STATUS_BY_CODE[code];
}

/** Codes the services ask clients to retry (docs "retry" column, SDK retry lists, §4.3 / §7.6). */
const RETRYABLE_CODES: ReadonlySet<string> = new Set([
  'OTSTunnelServerUnavailable',
  'OTSRowOperationConflict',
  'OTSNotEnoughCapacityUnit',
  'OTSTableNotReady',
  'OTSPartitionUnavailable',
  'OTSServerBusy',
  'OTSOperationThrottled',
  'OTSTooFrequentReservedThroughputAdjustment',
  'OTSInternalServerError',
  'OTSTimeout',
  'OTSServerUnavailable',
]);
const TOO_FREQUENT_TABLE_OPERATIONS = 'Too frequent table operations.';

export interface RetryInput {
  readonly code?: string;
  readonly httpStatus?: number;
  readonly message?: string;
}

/**
 * Whether the service says "try again later". Idempotency is the caller's call: the official SDKs
 * retry writes only for the throttling/conflict codes, never blind on 5xx.
 * A known non-retryable code wins over a 5xx status; an unknown code on a 5xx is retryable
 * (that is how the Go client treats a non-protobuf 5xx body).
 */
export function isRetryable(error: RetryInput): boolean {
  const { code, httpStatus, message } = error;
  if (code !== undefined && RETRYABLE_CODES.has(code)) return true;
  if (code === 'OTSQuotaExhausted') return message === TOO_FREQUENT_TABLE_OPERATIONS;
  if (code !== undefined && isServiceErrorCode(code)) return false;
  return httpStatus !== undefined && httpStatus >= 500 && httpStatus <= 599;
}

/** A service error as a client sees it. */
export class OtsServiceError extends Error {
  readonly kind = 'OtsServiceError' as const;
  readonly code: string;
  readonly httpStatus: number;
  readonly requestId: string | undefined;

  constructor(init: { readonly code: string; readonly message: string; readonly httpStatus: number; readonly requestId?: string }) {
    super(init.message);
    this.name = 'OtsServiceError';
    this.code = init.code;
    this.httpStatus = init.httpStatus;
    this.requestId = init.requestId;
  }

  get retryable(): boolean {
    return isRetryable(this);
  }
}

/**
 * The error a non-2xx response stands for. A body that is not an `Error` message is mapped like
 * the Go tunnel client does: 5xx → OTSTunnelServerUnavailable (retryable), else OTSClientError.
 */
export function serviceErrorFromResponse(httpStatus: number, body: Uint8Array, requestId?: string): OtsServiceError {
  const decoded = decodeErrorBody(body);
  if (decoded._tag === 'Right') {
    return new OtsServiceError({ code: decoded.right.code, message: decoded.right.message ?? '', httpStatus, ...(requestId === undefined ? {} : { requestId }) });
  }
  const code = httpStatus >= 500 && httpStatus <= 599 ? 'OTSTunnelServerUnavailable' : 'OTSClientError';
  const text = Buffer.from(body).toString('utf8').slice(0, 200);
  return new OtsServiceError({
    code,
    message: `HTTP ${httpStatus}${text === '' ? '' : `: ${text}`}`,
    httpStatus,
    ...(requestId === undefined ? {} : { requestId }),
  });
}

/**
 * Recovers the service error from an error of the official Node SDK (`tablestore`), which never
 * decodes error bodies (tablestore-wire.md §2.2): its `code` is the HTTP status and its `message`
 * is the raw protobuf body as UTF-8 followed by " requestId:<id>". Returns undefined for errors
 * that did not come from a service response (network, client-side validation).
 */
export function serviceErrorFromSdkError(error: unknown): OtsServiceError | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const { code, message } = error as { code?: unknown; message?: unknown };
  if (typeof code !== 'number' || typeof message !== 'string') return undefined;
  const requestIdAt = message.lastIndexOf(' requestId:');
  const requestId = requestIdAt === -1 ? undefined : message.slice(requestIdAt + ' requestId:'.length) || undefined;
  const bodyText = requestIdAt === -1 ? message : message.slice(0, requestIdAt);
  // The body went through Buffer#toString('utf8'): ASCII survives, so the code (always ASCII and
  // < 128 bytes, a one-byte length) and any ASCII message shorter than 128 bytes decode exactly.
  const decoded = decodeErrorBody(Buffer.from(bodyText, 'utf8'));
  if (decoded._tag === 'Right') {
    return new OtsServiceError({ code: decoded.right.code, message: decoded.right.message ?? '', httpStatus: code, ...(requestId === undefined ? {} : { requestId }) });
  }
  // Longer messages have a two-byte length varint; its first byte (≥ 0x80, never followed by a
  // continuation byte) became U+FFFD, the second stayed one character.
  const match = /^\n[\s\S](OTS[A-Za-z]+)\x12/.exec(bodyText);
  if (match?.[1] !== undefined) {
    const afterTag = (match[0] as string).length;
    const messageStart = afterTag + (bodyText[afterTag] === '\uFFFD' ? 2 : 1);
    return new OtsServiceError({ code: match[1], message: bodyText.slice(messageStart), httpStatus: code, ...(requestId === undefined ? {} : { requestId }) });
  }
  return undefined;
}
