/**
 * Why bytes could not be decoded as a protobuf message. Decoders return it as a `Left`; it is
 * an `Error` so callers can also throw it into an Observable unchanged.
 */

export interface WireIssue {
  /** dotted path of the offending field as surfaced in TS (camelCase), e.g. `channels.0.status`; '' = the whole message */
  readonly path: string;
  readonly problem: string;
}

export class WireDecodeError extends Error {
  readonly kind = 'WireDecodeError' as const;

  constructor(
    /** protobuf message name, e.g. `HeartbeatResponse` */
    readonly messageType: string,
    /** every problem found, each with its field path */
    readonly issues: readonly WireIssue[],
  ) {
    // Garbage input is the sender's fault, not the call path's: skip the stack trace (cheap rejects).
    const stackTraceLimit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    super(`cannot decode ${messageType}: ${issues.map((i) => (i.path === '' ? i.problem : `${i.path}: ${i.problem}`)).join('; ')}`);
    Error.stackTraceLimit = stackTraceLimit;
    this.name = 'WireDecodeError';
  }
}
