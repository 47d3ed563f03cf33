/**
 * Tunnel service errors as values, with the codes official clients react to (tunnel-protocol.md
 * §4.3): OTSParameterInvalid / OTSTunnelExpired stop a worker, OTSResourceGone makes it
 * reconnect (or, on a channel call, drop the channel), OTSSequenceNumberNotMatch makes the
 * checkpointer re-read the stored sequence, OTSTunnelServerUnavailable is retried.
 *
 * Channel calls by a client that does not hold the channel answer OTSResourceGone ("channel
 * version conflict" in the Java SDK's words), not OTSPermissionDenied, which clients treat as
 * fatal for the whole worker.
 */
export type TunnelErrorCode =
  | 'OTSParameterInvalid'
  | 'OTSTunnelExist'
  | 'OTSResourceGone'
  | 'OTSSequenceNumberNotMatch'
  | 'OTSTunnelExpired'
  | 'OTSTunnelServerUnavailable'
  | 'OTSPermissionDenied';

export interface TunnelError {
  readonly code: TunnelErrorCode;
  readonly message: string;
}

export const tunnelError = (code: TunnelErrorCode, message: string): TunnelError => ({ code, message });

export const TUNNEL_HTTP_STATUS: Readonly<Record<TunnelErrorCode, number>> = {
  OTSParameterInvalid: 400,
  OTSSequenceNumberNotMatch: 400,
  OTSTunnelExpired: 400,
  OTSPermissionDenied: 403,
  OTSTunnelExist: 409,
  OTSResourceGone: 410,
  OTSTunnelServerUnavailable: 503,
};
