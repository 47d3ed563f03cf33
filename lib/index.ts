/**
 * otsflow's public face: the stream operators, the tunnel client, the sinks, the SQL compiler and
 * the embedded emulator.
 *
 *   tunnelSource(options).pipe(microBatch(…), decodeRows(…), tumbling(…), aggregate(…), emit('update'), commitAfter(tablestoreSink(…)))
 *   compile(sqlText, { timeZone: 'Asia/Shanghai' })
 */
export * from './wire/types.js';
export * from './stream/index.js';
export * from './sinks/index.js';
export { tunnel, tunnelControl, createHttpTransport, TunnelFatalError, TunnelOptionsError, FINISHED } from './tunnel/index.js';
export type { TunnelOptions, ChannelBatch, CommitOutcome, TunnelControl, TunnelDescription, TunnelSummary, ChannelSummary, TunnelEvent } from './tunnel/index.js';
export { compile, parse, parseScript, formatResult, JobError, timeZone, systemTimeZone, formatTimestamp } from './sql/index.js';
export type { CompiledScript, CompiledStatement, StatementResult, StreamJob, JobProgress, JobSummary, SessionOptions, SqlError, TimeZone } from './sql/index.js';
export { startEmulator, DEFAULT_CREDENTIALS, DEFAULT_INSTANCE_NAME } from './emulator/index.js';
export type { RunningEmulator, EmulatorOptions } from './emulator/index.js';
