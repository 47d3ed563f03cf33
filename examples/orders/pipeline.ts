/**
 * The seed job as an operator chain in code — what examples/orders/job.sql compiles to — on an
 * embedded emulator it starts itself, run as a job: the same live view, progress lines, graceful
 * Ctrl-C / SIGTERM stop, summary line and `--metrics-port` as `otsflow sql`. Run it with:
 *
 *   npx tsx examples/orders/pipeline.ts            # until every order is counted (--until-idle)
 *   npx tsx examples/orders/pipeline.ts --metrics-port 9464 --idle-ms 5000
 *
 * It creates OrderSource, OrderStreamSink and a Stream tunnel, writes 3,000 orders with the
 * official SDK, runs
 *
 *   tunnelSource → microBatch → decodeRows → tumbling(30 s) → aggregate(count, sum) → emit('update')
 *     → mapOutputRows(window bounds as text) → commitAfter(tablestoreSink)
 *
 * with `runJob` + `runCli` until the feed is drained, and prints the sink read back with the SDK.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  WINDOW,
  aggregate,
  commitAfter,
  count,
  decodeRows,
  emit,
  formatTimestamp,
  mapOutputRows,
  runCli,
  runJob,
  startEmulator,
  sum,
  tablestoreSink,
  timeZone,
  tumbling,
  tunnelControl,
  tunnelSource,
  createHttpTransport,
  type Catalog,
  type OutputRow,
  type WindowBounds,
} from '../../lib/index.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Sdk = any;
const TableStore: Sdk = createRequire(import.meta.url)('tablestore');
const call = (sdk: Sdk, operation: string, params: object): Promise<Sdk> =>
  new Promise((resolve, reject) => sdk[operation](params, (error: unknown, data: Sdk) => (error ? reject(error) : resolve(data))));

const ORDERS = 3_000;
const zone = timeZone('Asia/Shanghai');
if (zone._tag === 'Left') throw new Error(zone.left);

const dir = mkdtempSync(join(tmpdir(), 'otsflow-pipeline-'));
const emulator = await startEmulator({ dataDir: join(dir, 'data'), port: 0 });
const connection = { endpoint: emulator.endpoint, instanceName: emulator.instanceName, accessKeyId: emulator.credentials.accessKeyId, accessKeySecret: emulator.credentials.accessKeySecret };
const sdk = new TableStore.Client({ endpoint: emulator.endpoint, instancename: emulator.instanceName, accessKeyId: connection.accessKeyId, secretAccessKey: connection.accessKeySecret, maxRetries: 0 });
for (const [tableName, keys] of [['OrderSource', ['UserId', 'OrderId']], ['OrderStreamSink', ['begin', 'end']]] as const) {
  await call(sdk, 'createTable', {
    tableMeta: { tableName, primaryKey: keys.map((name) => ({ name, type: 'STRING' })) },
    reservedThroughput: { capacityUnit: { read: 0, write: 0 } },
    tableOptions: { timeToLive: -1, maxVersions: 1 },
  });
}
const transport = createHttpTransport({ endpoint: emulator.endpoint, instance: emulator.instanceName, credentials: emulator.credentials, requestTimeoutMs: 30_000 });
const created = await tunnelControl(transport).createTunnel({ tableName: 'OrderSource', tunnelName: 'orders', tunnelType: 'Stream' });
transport.close();
if (created._tag === 'Left') throw created.left;

// 3,000 orders over three minutes of event time (prices in quarters, so the sums are exact)
const epoch = Math.floor(Date.now() / 60_000) * 60_000 - 180_000;
for (let start = 0; start < ORDERS; start += 200) {
  const rows = Array.from({ length: Math.min(200, ORDERS - start) }, (_, i) => {
    const n = start + i;
    return {
      type: 'PUT',
      condition: new TableStore.Condition(TableStore.RowExistenceExpectation.IGNORE, null),
      primaryKey: [{ UserId: `user${n % 50}` }, { OrderId: `order${String(n).padStart(6, '0')}` }],
      attributeColumns: [{ price: 1 + (n % 400) / 4 }, { timestamp: TableStore.Long.fromNumber(epoch + n * 60) }],
    };
  });
  await call(sdk, 'batchWriteRow', { tables: [{ tableName: 'OrderSource', rows }] });
}

const catalog: Catalog = { columns: { UserId: { type: 'string' }, OrderId: { type: 'string' }, price: { type: 'double' }, timestamp: { type: 'long' } } };
const sinkCatalog: Catalog = { columns: { begin: { type: 'string' }, end: { type: 'string' }, count: { type: 'long' }, totalPrice: { type: 'double' } } };
const job = runJob({
  name: 'orders',
  source: { connection, table: 'OrderSource', tunnel: { id: created.right.tunnelId } },
  checkpoint: join(dir, 'checkpoint'),
  // windows keep state across batches: the job must be its tunnel's only consumer (checked), and owns its checkpoint
  aggregating: true,
  interval: 200,
  maxRecordsPerChannel: 10_000,
  operator: (batches) =>
    batches.pipe(
      decodeRows({ catalog, table: 'OrderSource' }),
      // `timestamp` holds milliseconds already: the event time needs no expression here
      tumbling({ eventTime: 'timestamp', size: 30_000 }),
      aggregate([WINDOW], { count: count(), totalPrice: sum('price') }),
      emit('update'),
      mapOutputRows((rows: readonly OutputRow[]) =>
        rows.map((row) => {
          const window = row['window'] as WindowBounds;
          return { begin: formatTimestamp(window.start, zone.right), end: formatTimestamp(window.end, zone.right), count: row['count'] ?? 0, totalPrice: row['totalPrice'] ?? 0 };
        }),
      ),
    ),
  sink: tablestoreSink({ ...connection, tableName: 'OrderStreamSink', catalog: sinkCatalog }),
  sinkLabel: 'OrderStreamSink',
  formatTime: (ms) => formatTimestamp(ms, zone.right) ?? String(ms),
  onLog: (level, message) => console.error(level === 'warn' ? `warning: ${message}` : message),
});
console.error(`wrote ${ORDERS} orders with event times from ${new Date(epoch).toISOString()}, one every 60 ms`);
// the live view on a terminal (progress lines elsewhere), Ctrl-C stops gracefully; flags as `otsflow sql`'s
const summaries = await runCli(job, { untilIdle: true });
if (summaries === undefined) {
  await emulator.close();
  rmSync(dir, { recursive: true, force: true });
  process.exit();
}

const page = await call(sdk, 'getRange', {
  tableName: 'OrderStreamSink',
  direction: TableStore.Direction.FORWARD,
  inclusiveStartPrimaryKey: [{ begin: TableStore.INF_MIN }, { end: TableStore.INF_MIN }],
  exclusiveEndPrimaryKey: [{ begin: TableStore.INF_MAX }, { end: TableStore.INF_MAX }],
});
console.log('begin                | end                  | count | totalPrice');
for (const row of page.rows) {
  const value = (name: string): unknown => row.attributes.find((cell: Sdk) => cell.columnName === name)?.columnValue;
  console.log(`${row.primaryKey[0].value}  | ${row.primaryKey[1].value}  | ${String(value('count')).padStart(5)} | ${value('totalPrice')}`);
}
await emulator.close();
rmSync(dir, { recursive: true, force: true });
