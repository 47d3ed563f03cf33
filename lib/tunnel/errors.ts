/**
 * How the worker reacts to a failed call (§4.3, §7.9): retry, give up on the channel, reconnect as
 * a new client, or end the whole Observable with a typed error.
 */
import { isRetryable } from '../wire/errors.js';
import type { TunnelCall } from './model.js';

export const FATAL_CODES: ReadonlySet<string> = new Set(['OTSParameterInvalid', 'OTSTunnelExpired', 'OTSPermissionDenied']);
/** fatal even when a channel-level call (read, checkpoint) meets them */
export const FATAL_FOR_CHANNEL_CALLS: ReadonlySet<string> = new Set(['OTSTunnelExpired', 'OTSPermissionDenied']);

const NETWORK_CODES: ReadonlySet<string> = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ERR_STREAM_PREMATURE_CLOSE',
  'UND_ERR_SOCKET',
]);

/** The service (or transport) error code of `error`, when it has one. */
export function errorCode(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' ? code : undefined;
}

function httpStatus(error: unknown): number | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const candidate = error as { httpStatus?: unknown; status?: unknown };
  const status = candidate.httpStatus ?? candidate.status;
  return typeof status === 'number' ? status : undefined;
}

/**
 * Worth another attempt of the same request: what the wire calls retryable (unavailable service,
 * busy codes, 5xx without a known code) plus connection resets, refusals and timeouts.
 */
export function isRetryableError(error: unknown): boolean {
  const code = errorCode(error);
  if (code !== undefined && NETWORK_CODES.has(code)) return true;
  const status = httpStatus(error);
  if (code !== undefined || status !== undefined) {
    return isRetryable({ ...(code === undefined ? {} : { code }), ...(status === undefined ? {} : { httpStatus: status }) });
  }
  return error instanceof Error && /socket hang up|ECONNRESET|EPIPE/i.test(error.message);
}

export function isFatalError(error: unknown, call: TunnelCall): boolean {
  const code = errorCode(error);
  if (code === undefined) return false;
  const channelCall = call === 'readRecords' || call === 'checkpoint' || call === 'getCheckpoint';
  return (channelCall ? FATAL_FOR_CHANNEL_CALLS : FATAL_CODES).has(code);
}

export function isResourceGone(error: unknown): boolean {
  return errorCode(error) === 'OTSResourceGone';
}

export function isSequenceNumberMismatch(error: unknown): boolean {
  return errorCode(error) === 'OTSSequenceNumberNotMatch';
}

/** Ends a `tunnel()` Observable: the service refused the worker for good (§7.1). */
export class TunnelFatalError extends Error {
  readonly kind = 'TunnelFatalError' as const;

  constructor(
    readonly code: string,
    readonly call: TunnelCall,
    override readonly cause: unknown,
  ) {
    super(`tunnel ${call} failed with ${code}: ${cause instanceof Error ? cause.message : String(cause)}`);
    this.name = 'TunnelFatalError';
  }
}

export interface OptionIssue {
  /** dotted path of the offending option, e.g. `credentials.accessKeyId` */
  readonly path: string;
  readonly message: string;
}

/** Ends a `tunnel()` Observable before any request when options do not validate. */
export class TunnelOptionsError extends Error {
  readonly kind = 'TunnelOptionsError' as const;

  constructor(readonly issues: readonly OptionIssue[]) {
    super(`invalid tunnel options:\n${issues.map((issue) => `  ${issue.path || '(root)'}: ${issue.message}`).join('\n')}`);
    this.name = 'TunnelOptionsError';
  }
}
