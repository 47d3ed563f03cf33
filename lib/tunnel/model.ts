/**
 * The tunnel client's vocabulary: the data-plane API the worker drives (implemented over HTTP
 * by `http-tunnel-api.ts`, by fakes in tests), the batches it delivers and the events it reports.
 *
 * int64 wire fields (versions, sequence numbers) are `bigint` so nothing is rounded.
 */
import type { Observable } from 'rxjs';
import type { ChangeRecord } from '../wire/types.js';

/** The literal token that ends a channel (base data fully read, or a parent stream partition drained). */
export { FINISHED_TOKEN as FINISHED } from '../wire/tunnel-messages.js';

/** Channel status as heartbeats carry it (§3: no WAIT on the wire here). */
export type ChannelStatus = 'OPEN' | 'CLOSING' | 'CLOSE' | 'TERMINATED';

/** One entry of a heartbeat request or response. */
export interface ChannelState {
  readonly channelId: string;
  readonly version: bigint;
  readonly status: ChannelStatus;
}

export type RecordActionCode = 'PUT_ROW' | 'UPDATE_ROW' | 'DELETE_ROW';

/** A record as ReadRecords returns it: PlainBuffer bytes still to decode. */
export interface RawRecord {
  readonly action: RecordActionCode;
  readonly record: Uint8Array;
  readonly originRecord?: Uint8Array;
}

export interface ReadRecordsResult {
  readonly records: readonly RawRecord[];
  readonly nextToken: string;
  /** server hint that more records are buffered (decides the stream read backoff) */
  readonly mayMoreRecord?: boolean;
  /** total PlainBuffer bytes of the records (the "900 KiB is full" rule when the hint is absent) */
  readonly byteSize: number;
  /**
   * The records already decoded, when the API decodes them itself (the HTTP API's fast path, one
   * walk from the response bytes to change records); `records` is then empty.
   */
  readonly changes?: readonly ChangeRecord[];
}

export interface CheckpointPosition {
  readonly checkpoint: string;
  readonly sequenceNumber: bigint;
}

/**
 * The calls a worker makes. Each returns a cold Observable that emits once and completes, or
 * errors (an `OtsServiceError` from the service, a transport error for the network). Retries are
 * the worker's business, so implementations do not retry.
 */
export interface TunnelDataApi {
  connect(request: { readonly tunnelId: string; readonly timeoutSeconds: number; readonly clientTag: string }): Observable<{ readonly clientId: string }>;
  heartbeat(request: { readonly tunnelId: string; readonly clientId: string; readonly channels: readonly ChannelState[] }): Observable<readonly ChannelState[]>;
  shutdown(request: { readonly tunnelId: string; readonly clientId: string }): Observable<void>;
  getCheckpoint(request: { readonly tunnelId: string; readonly clientId: string; readonly channelId: string }): Observable<CheckpointPosition>;
  readRecords(request: { readonly tunnelId: string; readonly clientId: string; readonly channelId: string; readonly token: string }): Observable<ReadRecordsResult>;
  checkpoint(request: {
    readonly tunnelId: string;
    readonly clientId: string;
    readonly channelId: string;
    readonly checkpoint: string;
    readonly sequenceNumber: bigint;
  }): Observable<void>;
}

/** What became of a batch's commit. Never a rejection: commit promises always resolve. */
export type CommitOutcome =
  /** the channel checkpoint now covers this batch (possibly through a later batch's token) */
  | { readonly kind: 'committed'; readonly sequenceNumber: bigint }
  /** the channel left this client before the checkpoint could be written; another owner replays it */
  | { readonly kind: 'skipped'; readonly reason: 'channel-closed' | 'worker-stopped' }
  | { readonly kind: 'failed'; readonly error: unknown };

/**
 * One ReadRecords response of one channel, decoded. The stream layer may treat
 * (`channelId`, `fromToken`) as a replay position: opening the channel at `fromToken` yields these
 * records again, in the same order, at the head of the channel.
 */
export interface ChannelBatch {
  readonly channelId: string;
  /** the client id (connection) that read it; changes when the worker reconnects */
  readonly clientId: string;
  /**
   * token this batch was read from: the previous batch's `nextToken` within one opening of the
   * channel (undelivered empty reads in between are folded into this batch)
   */
  readonly fromToken: string;
  /** token after this batch; checkpointing it marks the records as consumed (`finished` ends the channel) */
  readonly nextToken: string;
  readonly records: readonly ChangeRecord[];
  /** stream channel (token with an iterator) rather than base data */
  readonly stream: boolean;
  /** `nextToken` is `finished`: this is the channel's last batch (it may be empty) */
  readonly finished: boolean;
  /**
   * Acknowledges the batch: frees one slot of the channel's in-flight bound and checkpoints
   * `nextToken` once every earlier batch of the channel is acknowledged (commits of a channel are
   * applied in order). Idempotent; the promise resolves, never rejects.
   */
  commit(): Promise<CommitOutcome>;
}

export type ChannelCloseReason = 'closing' | 'finished' | 'error' | 'revoked' | 'client-lost' | 'stopped';

/** What the worker reports besides batches: for metrics, logs and tests. */
export type TunnelEvent =
  | { readonly kind: 'connected'; readonly clientId: string }
  | { readonly kind: 'heartbeat'; readonly clientId: string; readonly sent: readonly ChannelState[]; readonly received: readonly ChannelState[] }
  | { readonly kind: 'channel-opened'; readonly channelId: string; readonly version: bigint; readonly token: string; readonly sequenceNumber: bigint }
  | { readonly kind: 'channel-closed'; readonly channelId: string; readonly reason: ChannelCloseReason; readonly error?: unknown }
  | { readonly kind: 'channel-reported'; readonly channel: ChannelState }
  /** a ReadRecords answer; `caughtUp`: it did not fill a batch (stream) or ended the channel (base data) */
  | { readonly kind: 'read'; readonly channelId: string; readonly records: number; readonly caughtUp: boolean }
  | { readonly kind: 'checkpoint-failed'; readonly channelId: string; readonly error: unknown }
  | { readonly kind: 'decode-error'; readonly channelId: string; readonly error: RecordDecodeFailure }
  | { readonly kind: 'request-retry'; readonly call: TunnelCall; readonly attempt: number; readonly delayMs: number; readonly error: unknown }
  | { readonly kind: 'client-lost'; readonly clientId: string; readonly reason: 'heartbeat-timeout' | 'resource-gone' | 'heartbeat-failed'; readonly error?: unknown }
  | { readonly kind: 'shutdown'; readonly clientId: string; readonly error?: unknown };

export type TunnelCall = 'connect' | 'heartbeat' | 'shutdown' | 'getCheckpoint' | 'readRecords' | 'checkpoint' | 'control';

/** A record of a batch that did not decode; the whole batch is refused and the channel closed. */
export interface RecordDecodeFailure {
  readonly kind: 'RecordDecodeFailure';
  /** index of the record within the ReadRecords response */
  readonly recordIndex: number;
  readonly part: 'record' | 'originRecord';
  readonly message: string;
  readonly cause?: unknown;
}
