/**
 * The tunnel client: `tunnel(options)` consumes a tunnel as an Observable of `ChannelBatch`;
 * `tunnelControl(transport)` creates, lists, describes and deletes tunnels. `tunnelWorker` runs the
 * same worker against any `TunnelDataApi` (tests, other transports).
 */
export { tunnel } from './tunnel.js';
export { tunnelWorker } from './worker.js';
export type { TunnelWorkerOptions } from './worker.js';
export { tunnelControl, dateFromNanos, nanosFromDate } from './control.js';
export type {
  TunnelControl,
  TunnelControlOptions,
  CreateTunnelInput,
  StreamStart,
  TunnelSummary,
  ChannelSummary,
  TunnelDescription,
  StreamConfigInfo,
} from './control.js';
export { createHttpTransport, TransportError } from './http-transport.js';
export type { HttpTransportOptions, TunnelTransport } from './http-transport.js';
export { httpTunnelApi } from './http-tunnel-api.js';
export { decodeTunnelOptions, workerSettings, DEFAULT_READ_BACKOFF, DEFAULT_REQUEST_RETRY, DEFAULT_RECONNECT_BACKOFF } from './options.js';
export type { TunnelOptions, TunnelConfig, WorkerSettings, StartTokens, RetryPolicy, TunnelRef } from './options.js';
export { TunnelFatalError, TunnelOptionsError, isRetryableError, isFatalError } from './errors.js';
export type { OptionIssue } from './errors.js';
export { FINISHED } from './model.js';
export type {
  ChannelBatch,
  CommitOutcome,
  ChannelState,
  ChannelStatus,
  TunnelDataApi,
  TunnelEvent,
  TunnelCall,
  RawRecord,
  ReadRecordsResult,
  CheckpointPosition,
  RecordDecodeFailure,
  ChannelCloseReason,
} from './model.js';
export type { BackoffPolicy } from './backoff.js';
export { decodeRecords } from './decode-records.js';
