/**
 * A SQL script compiled and its statements run, for specs and benches that drive a stream job in
 * process: the job it defines, not yet started.
 */
import * as E from 'fp-ts/lib/Either.js';
import { compile, type StreamJob } from '../../lib/sql/index.js';
import { formatSqlErrors } from '../../lib/sql/printer.js';
import type { RunningEmulator } from '../../lib/emulator/index.js';
import { ORDER_SINK_TABLE, ORDER_TABLE } from '../tunnel/emulator-harness.js';

/** The connection part of a tablestore table's OPTIONS for this emulator: endpoint, keys, instance. */
export const connectionOptions = (emulator: Pick<RunningEmulator, 'endpoint' | 'instanceName' | 'credentials'>): string =>
  `endpoint="${emulator.endpoint}", access.key.id="${emulator.credentials.accessKeyId}", access.key.secret="${emulator.credentials.accessKeySecret}", instance.name="${emulator.instanceName}"`;

/** The catalog OPTION of OrderSource as the seed job reads it. */
export const ORDER_SOURCE_CATALOG = `catalog='{"columns": {"UserId": {"type": "string"}, "OrderId": {"type": "string"}, "price": {"type": "double"}, "timestamp": {"type": "long"}}}'`;

/** The catalog OPTION of OrderStreamSink: window bounds, count and total. */
export const ORDER_SINK_CATALOG = `catalog='{"columns": {"begin": {"type": "string"}, "end": {"type": "string"}, "count": {"type": "long"}, "totalPrice": {"type": "double"}}}'`;

/**
 * Compiles `text`, runs its statements (tables, scans, the stream) and resolves with the stream
 * job, not started. Throws with the printed errors where `text` does not compile, and where it
 * defines no stream job.
 */
export async function compileJob(text: string, options: Parameters<typeof compile>[1]): Promise<StreamJob> {
  const compiled = compile(text, options);
  if (E.isLeft(compiled)) throw new Error(formatSqlErrors(text, compiled.left));
  let job: StreamJob | undefined;
  for (const statement of compiled.right.statements) {
    const result = await statement.run();
    if (result.kind === 'job') job = result.job;
  }
  if (job === undefined) throw new Error('the SQL defines no stream job');
  return job;
}

/**
 * The seed-like event-time job of event-time-backlog.spec.ts and bench/backlog.ts: 45 s windows of
 * OrderSource into OrderStreamSink, rows more than 2 minutes behind dropped, update mode,
 * checkpoints in `checkpoint`.
 */
export function eventTimeJobSql(emulator: Pick<RunningEmulator, 'endpoint' | 'instanceName' | 'credentials'>, tunnelId: string, checkpoint: string): string {
  const connection = connectionOptions(emulator);
  return `
CREATE TABLE order_source USING tablestore OPTIONS(${connection}, table.name="${ORDER_TABLE}",
  ${ORDER_SOURCE_CATALOG});
CREATE TABLE order_stream_sink USING tablestore OPTIONS(${connection}, table.name="${ORDER_SINK_TABLE}",
  ${ORDER_SINK_CATALOG});
CREATE SCAN order_source_stream_view ON order_source USING STREAM OPTIONS(tunnel.id="${tunnelId}", maxoffsetsperchannel="10000");
CREATE STREAM job1 OPTIONS(checkpointLocation='${checkpoint}', outputMode='update')
INSERT INTO order_stream_sink
SELECT CAST(window.start AS String) AS begin, CAST(window.end AS String) AS end, count(*) AS count, CAST(sum(price) AS Double) AS totalPrice
FROM order_source_stream_view WHERE delay(to_timestamp(timestamp / 1000)) < '2 minutes'
GROUP BY window(to_timestamp(timestamp / 1000), "45 seconds");`;
}
