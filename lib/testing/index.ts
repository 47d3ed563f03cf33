/**
 * `otsflow/testing`: marble tests of pipelines and of SQL, in virtual time, with no tunnel and no
 * emulator. Nothing here imports a test framework: `testScheduler(expect)` takes yours.
 *
 *   import { expect, it } from 'vitest';
 *   import { marbleSource, putRow, sqlOperator, testScheduler } from 'otsflow/testing';
 *
 *   testScheduler(expect).run(({ cold, expectObservable }) => {
 *     const batches = marbleSource(cold, 'a-b|', { a: [putRow(…), putRow(…)], b: [putRow(…)] });
 *     expectObservable(batches.pipe(sqlOperator(sql))).toBe('a-b|', { a: […rows…], b: […] });
 *   });
 */
export { testScheduler, type ExpectLike, type DeepEqualAssertion } from './scheduler.js';
export { context, recordBatch, tableBatch, times, sourceBatch, never$, type TableBatchOptions } from './batches.js';
export { putRow, updateRow, deleteRow, recordBuilder, type KeyInput, type RecordOptions, type RowInput, type RecordBuilder } from './records.js';
export { marbleSource, type ColdFactory, type MarbleSource, type MarbleSourceOptions, type SubscriptionLogs } from './marble-source.js';
export { seededRandom, type RandomSource } from '../wire/random.js';
export { sqlOperator, compileSqlOperator, SqlOperatorError, type SqlOperatorOptions, type CompiledSqlOperator } from '../sql/sql-operator.js';
