/**
 * The public export lists of `otsflow` and `otsflow/testing`, pinned: an addition (or a removal)
 * is a deliberate change of this file. Values are what `import * as otsflow` holds at run time;
 * types are the rest of what the entry exports (read with the TypeScript checker, as a user's
 * editor does). Internals — kernels, codecs, checkpoint formats, SDK plumbing — stay out.
 */
import { join } from 'node:path';
import ts from 'typescript';
import { describe, expect, expectTypeOf, it } from 'vitest';
import * as otsflow from '../../lib/index.js';
import * as testing from '../../lib/testing/index.js';
import type { CompileOptions, JobSink, JobSummary, OutputRow, SessionOptions, Sink, StatementResult, StreamJob, TablestoreSink, WindowOptions } from '../../lib/index.js';
import { REPO } from './markdown-blocks.js';

const VALUES = [
    'addColumn', 'aggregate', 'avg', 'BadRowError', 'channelNote', 'CheckpointError', 'commitAfter',
    'compile', 'consoleSink', 'count', 'countDistinct', 'createHttpTransport', 'decodeRows',
    'DEFAULT_CREDENTIALS', 'DEFAULT_INSTANCE_NAME', 'emit', 'fileCheckpointStore', 'filterRows', 'FINISHED',
    'first', 'formatResult', 'formatSqlErrors', 'formatTimestamp', 'hopping', 'isRetryableSinkError',
    'JobError', 'last', 'mapOutputRows', 'max', 'memoryCheckpointStore', 'memorySink', 'memorySource',
    'microBatch', 'min', 'numberColumn', 'project', 'RECORD_TIMESTAMP_COLUMN', 'RECORD_TYPE_COLUMN',
    'replayable', 'retryWithBackoff', 'rowAt', 'runCli', 'runJob', 'session', 'SinkWriteError', 'SourceContractError',
    'startEmulator', 'stoppable', 'StreamMetrics', 'sum', 'systemTimeZone', 'tableFromRows', 'tableRows',
    'tablestoreSink', 'TablestoreSinkError', 'timeZone', 'TransportError', 'tumbling', 'tunnel',
    'tunnelControl', 'TunnelFatalError', 'TunnelOptionsError', 'tunnelSource', 'udaf', 'valueAt', 'WINDOW',
    'withColumns', 'withWatermark',
];

const TYPES = [
    'Acknowledge', 'AckRecord', 'AggregateOptions', 'AggregateSpec', 'BackoffPolicy', 'BadRow', 'Catalog',
    'CatalogColumn', 'CatalogType', 'Cell', 'ChangeRecord', 'ChannelBatch', 'ChannelBatchSourceOptions',
    'ChannelNote', 'ChannelOffsets', 'ChannelProgress', 'ChannelSummary', 'CheckpointStore', 'Column',
    'ColumnCompute', 'ColumnRef', 'ColumnValue', 'CommitAfterOptions', 'CommitOutcome', 'CommittedBatch',
    'CompiledScript', 'CompiledStatement', 'CompileOptions', 'ConsoleSinkOptions', 'CreateTunnelInput',
    'Credentials', 'Cursor', 'DeadLetter', 'DecodeRowsOptions', 'DeleteAllVersionsCell',
    'DeleteOneVersionCell', 'EmitOptions', 'EmulatorOptions', 'EventTime', 'FileCheckpointOptions',
    'GroupKey', 'HoppingOptions', 'HttpTransportOptions', 'IncrementCell', 'JobConnection', 'JobDefinition',
    'JobProgress', 'JobRunSettings', 'JobSink', 'JobStage',
    'JobState', 'JobSummary', 'LateWindow', 'MemoryCheckpointOptions', 'MemoryCheckpointStore', 'MemorySink',
    'MemorySource', 'MemorySourceOptions', 'MetricsSnapshot', 'MicroBatch', 'MicroBatchOptions',
    'NumberColumn', 'OutputBatch', 'OutputMode', 'OutputRow', 'OutputValue', 'Position', 'PrimaryKeyCell',
    'PrimaryKeySentinel', 'PrimaryKeyValue', 'PutCell', 'RecordAction', 'RecordBatch', 'ReplayableObservable',
    'ReplayableSource', 'ResultSet', 'RetryOptions', 'RetryPolicy', 'RetryWithBackoffOptions', 'Row',
    'RowPredicate', 'RowProblem', 'RowTable', 'RunCliOptions', 'RunContext', 'RunningEmulator', 'SequenceInfo',
    'SessionOptions', 'Sink', 'SourceBatch', 'SqlError', 'StatementResult', 'StoppableSource', 'StreamJob',
    'StreamStart', 'TableBatch', 'TablestoreSink', 'TablestoreSinkErrorCode', 'TablestoreSinkOptions',
    'TablestoreSinkSchema', 'TablestoreWriteSummary', 'TimeZone', 'TumblingOptions', 'TunnelControl',
    'TunnelControlOptions', 'TunnelDescription', 'TunnelEvent', 'TunnelOptions', 'TunnelSummary', 'TunnelTuning',
    'TunnelTransport', 'UserAggregate', 'Value', 'ValueColumn', 'WatermarkInfo', 'WindowBounds', 'WindowKey',
    'WindowOptions', 'WithWatermarkOptions', 'WriteContext',
];

const TESTING_VALUES = [
    'compileSqlOperator', 'context', 'deleteRow', 'marbleSource', 'never$', 'putRow', 'recordBatch',
    'recordBuilder', 'seededRandom', 'sourceBatch', 'sqlOperator', 'SqlOperatorError', 'tableBatch',
    'testScheduler', 'times', 'updateRow',
];

const TESTING_TYPES = [
    'ColdFactory', 'CompiledSqlOperator', 'DeepEqualAssertion', 'ExpectLike', 'KeyInput', 'MarbleSource',
    'MarbleSourceOptions', 'RandomSource', 'RecordBuilder', 'RecordOptions', 'RowInput', 'SqlOperatorOptions',
    'SubscriptionLogs', 'TableBatchOptions',

];

/** Every name an entry exports, split into values (what exists at run time) and types only. */
function exportsOf(entry: string): { values: string[]; types: string[] } {
  const file = join(REPO, entry);
  const program = ts.createProgram([file], { module: ts.ModuleKind.NodeNext, moduleResolution: ts.ModuleResolutionKind.NodeNext, target: ts.ScriptTarget.ES2022, strict: true, noEmit: true, skipLibCheck: true });
  const checker = program.getTypeChecker();
  const source = program.getSourceFile(file);
  const module = source === undefined ? undefined : checker.getSymbolAtLocation(source);
  if (module === undefined) throw new Error(`cannot read the exports of ${entry}`);
  const values: string[] = [];
  const types: string[] = [];
  for (const symbol of checker.getExportsOfModule(module)) {
    const target = symbol.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(symbol) : symbol;
    (target.flags & ts.SymbolFlags.Value ? values : types).push(symbol.name);
  }
  return { values: values.sort(), types: types.sort() };
}

const sorted = (names: readonly string[]): string[] => [...names].sort();

describe('the public API', () => {
  const main = exportsOf('lib/index.ts');
  const entry = exportsOf('lib/testing/index.ts');

  it('otsflow exports exactly the pinned values and types', () => {
    expect(main.values).toEqual(sorted(VALUES));
    expect(main.types).toEqual(sorted(TYPES));
    expect(sorted(Object.keys(otsflow))).toEqual(sorted(VALUES));
  });

  it('otsflow/testing exports exactly the pinned values and types', () => {
    expect(entry.values).toEqual(sorted(TESTING_VALUES));
    expect(entry.types).toEqual(sorted(TESTING_TYPES));
    expect(sorted(Object.keys(testing))).toEqual(sorted(TESTING_VALUES));
  });

  it('holds none of the internals the issue named, and no name twice across the two entries', () => {
    const all = [...main.values, ...main.types];
    for (const internal of ['kernelOf', 'Kernel', 'PairInput', 'compileDecoder', 'planCodec', 'rowCodec', 'sdkClient', 'backoff', 'parseCatalog', 'CheckpointHandle', 'catalogCodec', 'encodeState', 'INF_MIN']) {
      expect(all).not.toContain(internal);
    }
    expect([...entry.values, ...entry.types].filter((name) => all.includes(name))).toEqual([]);
  });

  it('"session" is the session window: its options are SessionOptions; compile takes CompileOptions', () => {
    expectTypeOf<SessionOptions>().toEqualTypeOf<Parameters<typeof otsflow.session>[0]>();
    expectTypeOf<SessionOptions>().toMatchTypeOf<WindowOptions>();
    expectTypeOf<CompileOptions>().toEqualTypeOf<NonNullable<Parameters<typeof otsflow.compile>[1]>>();
    expect(() => otsflow.session({ eventTime: 't', gap: 0 })).toThrow(/gap must be > 0 ms/);
  });

  it('one job runtime: runJob gives the StreamJob a compiled CREATE STREAM gives, and runCli runs either', () => {
    expectTypeOf(otsflow.runJob<OutputRow>).returns.toEqualTypeOf<StreamJob>();
    expectTypeOf<Extract<StatementResult, { kind: 'job' }>['job']>().toEqualTypeOf<StreamJob>();
    expectTypeOf<Parameters<typeof otsflow.runCli>[0]>().toEqualTypeOf<StreamJob | readonly StreamJob[]>();
    expectTypeOf(otsflow.runCli).returns.resolves.toEqualTypeOf<readonly JobSummary[] | undefined>();
    // a job's sink is the stream layer's Sink (plus optional open/existingKeys): the Tablestore sink is one as it is
    expectTypeOf<TablestoreSink>().toMatchTypeOf<JobSink<OutputRow>>();
    expectTypeOf<JobSink<OutputRow>>().toMatchTypeOf<Sink<OutputRow>>();
    expect(() => otsflow.runJob({ name: '', source: { connection: { endpoint: '', instanceName: '', accessKeyId: '', accessKeySecret: '' }, table: 't', tunnel: { name: 'n' } }, operator: () => { throw new Error('unused'); }, sink: otsflow.memorySink() })).toThrow(/needs a name/);
  });

  it('every exported function and class is one (nothing exported as undefined)', () => {
    for (const name of VALUES) expect(otsflow[name as keyof typeof otsflow], name).toBeDefined();
    for (const name of TESTING_VALUES) expect(testing[name as keyof typeof testing], name).toBeDefined();
  });
});
