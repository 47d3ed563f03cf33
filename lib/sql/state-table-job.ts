/**
 * A CREATE STREAM job with `checkpoint.table` (issue 13): one of many workers. The state table
 * holds every channel's plans, commits and partial aggregates; this worker runs the channels the
 * tunnel gives it (channel-workers.ts) and writes merged sink rows guarded by their merge version.
 *
 * It is a feed of the stream layer's job runtime (`JobFeed`): progress, summary, `untilIdle` and
 * graceful stop are the runtime's, the same as a single-worker job's.
 */
import { hostname } from 'node:os';
import { map } from 'rxjs';
import type { OutputBatch } from '../stream/batch.js';
import type { JobFeed, JobFeedContext, JobFeedControl } from '../stream/job/types.js';
import type { RetryOptions } from '../stream/commit-after.js';
import { tableRows } from '../stream/table.js';
import { VERSION_FIELD } from '../stream/merge-partials.js';
import { isRetryableSinkError } from '../sinks/tablestore-sink.js';
import { JobStateTable } from '../sinks/tablestore-state.js';
import { tunnel } from '../tunnel/tunnel.js';
import type { ChannelBatch } from '../tunnel/model.js';
import type { AnalyzedStatement } from './analyze.js';
import { ChannelWorkers } from './channel-workers.js';
import { startWorkerPresence, thisWorker } from './worker-presence.js';
import type { TimeZone } from './datetime.js';
import { lateText } from './job.js';
import { planQuery, sinkRows, type QueryPlan } from './plan.js';

type StreamStatement = Extract<AnalyzedStatement, { kind: 'stream' }>;

export function stateTableFeed(analyzed: StreamStatement, plan: QueryPlan, zone: TimeZone): JobFeed {
  return { run: (job) => runOnStateTable(job, analyzed, plan, zone) };
}

/**
 * The job as one of many workers: the state table holds every channel's plans, commits and
 * partial aggregates; this worker runs the channels the tunnel gives it (channel-workers.ts) and
 * writes merged sink rows guarded by their merge version.
 */
async function runOnStateTable(job: JobFeedContext, analyzed: StreamStatement, plan: QueryPlan, zone: TimeZone): Promise<JobFeedControl> {
  /** what the whole job's drain waits for at the last look (undefined: drained) */
  let jobWaitsFor: string | undefined = 'the first look at the job';
  const context = { sourceConnection: job.connection, credentials: job.credentials, tunnelId: job.tunnelId };
  const { query, sink: binding, options: streamOptions } = analyzed;
  const scan = query.relation;
  if (scan.kind !== 'scan' || scan.options.mode !== 'STREAM') throw new Error('a stream job reads a STREAM scan');
  if (query.window?.kind === 'session') throw new Error(`job ${job.name}: checkpoint.table does not take session windows (their bounds depend on every channel's rows); use tumbling or hopping windows`);
  const state = new JobStateTable({ ...context.sourceConnection, tableName: streamOptions.checkpointTable as string, job: job.name });
  if ((await state.ensure()) === 'created') job.log('info', `created the state table ${state.tableName}`);
  const longColumns = new Set(binding.columns.filter((column) => column.type === 'long').map((column) => column.column));
  const sink = state.sink({ tableName: binding.table.options.tableName, primaryKey: [...job.keyColumns], longColumns, output: streamOptions.outputMode });
  const toSink = sinkRows(binding, plan.columns, { zone });
  const retry: RetryOptions = { ...(job.sinkRetry ?? {}), retryable: (error) => isRetryableSinkError(error) };
  let clientId = '';
  const owner = `${hostname()} pid ${process.pid}`;
  const workers = new ChannelWorkers({
    state,
    owner: () => `${owner} client ${clientId}`,
    interval: job.interval,
    outputMode: streamOptions.outputMode,
    maxRecordsPerChannel: scan.options.maxOffsetsPerChannel,
    metrics: job.metrics,
    operator: (merge) => {
      const planned = planQuery(query, { zone, outputMode: streamOptions.outputMode, afterAggregate: { stage: { operator: 'mergePartials', detail: '' }, operator: merge } }).operator;
      // merged rows are few per batch (changed groups): the state sink takes them as row objects
      return (source) => planned(source).pipe(map((batch): OutputBatch => ({ ...batch, rows: tableRows(batch.rows) })));
    },
    toSink: (rows, batch) => {
      const out = toSink(rows);
      if (out.length > 0) job.showRows(out.slice(-20).map((row) => Object.fromEntries(Object.entries(row).filter(([name]) => name !== VERSION_FIELD))));
      void batch;
      return out;
    },
    sink,
    retry,
    onCommitted: (channelId, committed) => {
      const late = job.metrics.takeLate(committed.batchId);
      if (late.length > 0) job.log('info', `channel ${channelId} batch ${committed.batchId}: ${lateText(late, zone)}`);
      job.publish();
    },
    onLog: (level, message) => job.log(level, message),
    onError: (error) => job.fail(error),
  });
  job.onDispose(() => workers.dispose());
  // this worker's row among the job's workers: renewed, watching the others (worker-presence.ts)
  const presence = await startWorkerPresence({
    connection: context.sourceConnection,
    credentials: context.credentials,
    tableName: state.tableName,
    job: job.name,
    tunnelId: context.tunnelId,
    identity: thisWorker(Date.now()),
    status: () => ({ held: workers.held(), drained: job.locallyDrained() }),
    onLog: (level, message) => job.log(level, message),
  });
  job.onDispose(() => presence.dispose());
  const tuning = job.tuning;
  const feed = tunnel({
    endpoint: context.sourceConnection.endpoint,
    instance: context.sourceConnection.instanceName,
    credentials: context.credentials,
    tunnelId: context.tunnelId,
    clientTag: job.clientTag,
    // a channel is its own pipeline here: let it read ahead while its batch commits, so its
    // micro-batches are as large as a single-worker job's (which spans every channel)
    maxInFlightBatchesPerChannel: 8,
    ...tuning,
    startTokens: workers.startToken,
    // recorded in this worker's row before the first heartbeat: should this process die, the
    // others end the client with ShutdownTunnel; and take freed channels at once
    beforeFirstHeartbeat: (id) => presence.addClient(id),
    heartbeatNow: presence.heartbeatNow,
    onEvent: (event) => {
      if (event.kind === 'connected') clientId = event.clientId;
      // a channel given back (CLOSE: revoked, drained) or finished is reported now, not at the next interval
      if (event.kind === 'channel-reported' && (event.channel.status === 'CLOSE' || event.channel.status === 'TERMINATED')) presence.heartbeatNow.next();
      job.onTunnelEvent(event);
      workers.onEvent(event);
    },
  });
  job.running();
  job.log('info', `reading ${scan.name} (tunnel ${context.tunnelId}) as one of the job's workers, state in table ${state.tableName}, writing ${binding.table.options.tableName}`);
  const subscription = feed.subscribe({
    next: (batch: ChannelBatch) => {
      job.noteRecords(batch.records.length);
      workers.deliver(batch);
    },
    error: (error: unknown) => {
      workers.dispose();
      job.fail(error);
    },
  });
  job.onDispose(() => subscription.unsubscribe());
  job.onStop(() => {
    const final = { held: workers.held(), drained: job.locallyDrained() };
    workers.stop(() => {
      // the last acknowledgements reach the service as the client shuts down
      subscription.unsubscribe();
      void presence.stop(final).finally(() => job.finish());
    });
  });
  const share = (): string => {
    const held = workers.held();
    return held.length === 0 ? 'no channels' : `channels ${held.join(', ')}`;
  };
  let lastShare = '';
  job.pollTunnel((described) => {
    jobWaitsFor = presence.waitsFor(described.channels, { held: workers.held(), drained: job.locallyDrained() });
    presence.noteWait(job.idleWanted ? jobWaitsFor : undefined);
    // free channels are taken at once — unless this worker is about to stop because the whole job is drained
    if (!(job.idleWanted && jobWaitsFor === undefined)) presence.described(described.channels);
    const now = share();
    if (now !== lastShare) {
      lastShare = now;
      job.log('info', `this worker (${presence.name}, tunnel client ${clientId}) holds ${now} of ${described.channels.length}`);
    }
    return (channels) =>
      channels.map((channel) => {
        const holder = channel.clientId === undefined || channel.clientId === '' ? undefined : presence.workerOf(channel.clientId);
        return holder === undefined ? channel : { ...channel, worker: holder.self ? `${holder.name} (this worker)` : holder.name };
      });
  });
  // the whole job is drained when every channel of the tunnel is caught up and committed wherever
  // it is held, as the worker rows and DescribeTunnel tell
  return { drained: () => jobWaitsFor === undefined };
}
