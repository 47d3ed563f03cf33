/**
 * otsflow's public face: the stream operators, the tunnel client, the sinks, the SQL compiler and
 * the embedded emulator — with their option and result types and the errors a user catches.
 * Everything else (codecs, kernels, checkpoint formats, SDK plumbing) stays inside; the list is
 * pinned by spec/typecheck/public-api.spec.ts, so an addition here is a deliberate one.
 *
 *   tunnelSource(options).pipe(microBatch(…), decodeRows(…), tumbling(…), aggregate(…), emit('update'), commitAfter(tablestoreSink(…)))
 *   compile(sqlText, { timeZone: 'Asia/Shanghai' })
 *   await runCli(runJob({ name, source, checkpoint, aggregating, operator, sink }))
 *
 * Marble testing helpers live in `otsflow/testing`.
 */

// ---- the row model: what a change record carries
export type {
  ChangeRecord,
  RecordAction,
  Row,
  PrimaryKeyCell,
  PrimaryKeyValue,
  PrimaryKeySentinel,
  ColumnValue,
  Cell,
  PutCell,
  DeleteOneVersionCell,
  DeleteAllVersionsCell,
  IncrementCell,
  SequenceInfo,
} from './wire/types.js';

// ---- sources
export { tunnelSource, type ChannelBatchSourceOptions } from './stream/tunnel-source.js';
export { memorySource, replayable, channelNote } from './stream/source.js';
export type { SourceBatch, Position, ChannelNote, ReplayableSource, ReplayableObservable, MemorySource, MemorySourceOptions, AckRecord } from './stream/source.js';

// ---- batches and tables
export type { MicroBatch, RecordBatch, TableBatch, OutputBatch, RunContext, WatermarkInfo, WindowBounds, ChannelOffsets, Cursor, Acknowledge, DeadLetter, RowProblem } from './stream/batch.js';
export { valueAt, rowAt, tableRows, tableFromRows, numberColumn } from './stream/table.js';
export type { Value, Column, NumberColumn, ValueColumn, RowTable, OutputValue, OutputRow } from './stream/table.js';
export type { Catalog, CatalogColumn, CatalogType } from './stream/catalog.js';
export { RECORD_TYPE_COLUMN, RECORD_TIMESTAMP_COLUMN } from './stream/row-codec.js';
export { StreamMetrics, type MetricsSnapshot, type LateWindow } from './stream/metrics.js';

// ---- operators
export { microBatch, SourceContractError, type MicroBatchOptions } from './stream/micro-batch.js';
export { decodeRows, BadRowError, type DecodeRowsOptions, type BadRow } from './stream/decode-rows.js';
export { filterRows, type RowPredicate } from './stream/filter-rows.js';
export { withColumns, addColumn, type ColumnCompute } from './stream/with-columns.js';
export { project } from './stream/project.js';
export { withWatermark, type WithWatermarkOptions } from './stream/with-watermark.js';
export type { EventTime } from './stream/event-time.js';
export type { WindowOptions } from './stream/windows/assign.js';
export { tumbling, type TumblingOptions } from './stream/windows/tumbling.js';
export { hopping, type HoppingOptions } from './stream/windows/hopping.js';
export { session, type SessionOptions } from './stream/windows/session.js';
export { count, sum, avg, min, max, countDistinct, first, last, udaf, type AggregateSpec, type UserAggregate, type ColumnRef } from './stream/aggregates.js';
export { aggregate, WINDOW, type AggregateOptions, type WindowKey, type GroupKey } from './stream/aggregate.js';
export { emit, type EmitOptions, type OutputMode } from './stream/emit.js';
export { mapOutputRows } from './stream/map-output-rows.js';
export { stoppable, type StoppableSource } from './stream/stoppable.js';
export { commitAfter, SinkWriteError, type CommitAfterOptions, type CommittedBatch } from './stream/commit-after.js';
export { retryWithBackoff, type RetryWithBackoffOptions } from './tunnel/retry-with-backoff.js';
export type { BackoffPolicy, RetryOptions, RetryPolicy } from './tunnel/backoff.js';

// ---- checkpoints
export { fileCheckpointStore, type FileCheckpointOptions } from './stream/checkpoint/file-store.js';
export { memoryCheckpointStore, type MemoryCheckpointStore, type MemoryCheckpointOptions } from './stream/checkpoint/memory-store.js';
export { CheckpointError, type CheckpointStore } from './stream/checkpoint/store.js';

// ---- sinks
export type { Sink, WriteContext } from './stream/sink.js';
export { memorySink, type MemorySink } from './sinks/memory-sink.js';
export { consoleSink, type ConsoleSinkOptions } from './sinks/console-sink.js';
export { tablestoreSink, isRetryableSinkError, TablestoreSinkError } from './sinks/tablestore-sink.js';
export type { TablestoreSink, TablestoreSinkOptions, TablestoreSinkSchema, TablestoreWriteSummary, TablestoreSinkErrorCode } from './sinks/tablestore-sink.js';

// ---- the tunnel client
export { tunnel, tunnelControl, createHttpTransport, TransportError, TunnelFatalError, TunnelOptionsError, FINISHED } from './tunnel/index.js';
export type {
  TunnelOptions,
  ChannelBatch,
  CommitOutcome,
  TunnelEvent,
  TunnelControl,
  TunnelControlOptions,
  CreateTunnelInput,
  StreamStart,
  TunnelDescription,
  TunnelSummary,
  ChannelSummary,
  TunnelTransport,
  HttpTransportOptions,
} from './tunnel/index.js';

// ---- SQL
export { compile, formatResult, formatSqlErrors, timeZone, systemTimeZone, formatTimestamp } from './sql/index.js';
export type { CompileOptions, CompiledScript, CompiledStatement, StatementResult, ResultSet, SqlError, TimeZone } from './sql/index.js';

// ---- jobs: any chain (by hand or compiled) run with progress, untilIdle, graceful stop, summary; and as a command
export { runJob, JobError } from './stream/job/index.js';
export type { JobDefinition, JobSink, JobStage, JobConnection, TunnelTuning, StreamJob, JobProgress, JobState, JobSummary, ChannelProgress } from './stream/job/index.js';
export { runCli, type RunCliOptions, type JobRunSettings } from './cli/run-jobs.js';

// ---- the embedded emulator
export { startEmulator, DEFAULT_CREDENTIALS, DEFAULT_INSTANCE_NAME } from './emulator/index.js';
export type { RunningEmulator, EmulatorOptions, Credentials } from './emulator/index.js';
