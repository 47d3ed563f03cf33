/**
 * The stream layer: operators, the source contract, the checkpoint, metrics. The seed job:
 *
 *   tunnelSource(options).pipe(
 *     microBatch({ interval: 1000, maxRecordsPerChannel: 10_000, checkpoint: '/tmp/spark/cp/job1' }),
 *     decodeRows({ catalog, table: 'OrderSource' }),
 *     withWatermark({ eventTime: 'timestamp', delay: 60_000 }),
 *     tumbling({ eventTime: 'timestamp', size: 30_000 }),
 *     aggregate([WINDOW], { count: count(), totalPrice: sum('price') }),
 *     emit('update'),
 *     commitAfter(sink),
 *   )
 */
export * from './source.js';
export * from './batch.js';
export * from './metrics.js';
export * from './table.js';
export * from './catalog.js';
export * from './row-codec.js';
export * from './event-time.js';
export * from './micro-batch.js';
export * from './decode-rows.js';
export * from './with-watermark.js';
export * from './windows/tumbling.js';
export * from './windows/hopping.js';
export * from './windows/session.js';
export type { WindowOptions } from './windows/assign.js';
export * from './aggregates.js';
export * from './aggregate.js';
export * from './emit.js';
export * from './sink.js';
export * from './commit-after.js';
export * from './tunnel-source.js';
export * from './checkpoint/store.js';
export * from './checkpoint/file-store.js';
export * from './checkpoint/memory-store.js';
export * from './checkpoint/state-codec.js';
export * from './filter-rows.js';
export * from './with-columns.js';
export * from './project.js';
export * from './project-table.js';
export * from './map-output-rows.js';
export * from './stoppable.js';
