/**
 * Tunnel service benchmark (`npx tsx spec/bench/tunnel-service.ts`):
 *  1. BatchWriteRow cost of the change log: rows/s of 200-row batches into an OrderSource-like
 *     table, without a stream and with a BaseAndStream tunnel (every row logged);
 *  2. ReadRecords throughput of one stream channel: records/s and MB/s of PlainBuffer records,
 *     through the route handler (protobuf in and out, response decoded as a client would);
 *  3. the same two over loopback HTTP: BatchWriteRow through the official SDK, ReadRecords as
 *     signed raw POSTs on a keep-alive connection.
 * Sizes scale with BENCH_ROWS (default 100,000).
 */
import * as E from 'fp-ts/lib/Either.js';
import { Agent, request } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TableEngine } from '../../lib/emulator/engine.js';
import { startEmulator } from '../../lib/emulator/index.js';
import { buildRequestHeaders } from '../../lib/wire/signing.js';
import { sdkClient, TableStore, ok as sdkOk } from '../emulator/sdk.js';
import { attachTunnelService, type TunnelRouter } from '../../lib/emulator/tunnel/index.js';
import { type TunnelMessageTypes, tunnelMessages } from '../../lib/wire/tunnel-messages.js';
import type { PrimaryKeyCell } from '../../lib/wire/types.js';
import { definition, IGNORE, NO_RETURN, pkColumn, tempDir } from '../emulator/helpers.js';
import type { RowWrite } from '../../lib/emulator/engine.js';

const ROWS = Number(process.env.BENCH_ROWS ?? 100_000);
const BATCH = 200;
const IN_FLIGHT = 4;

type Handler = Parameters<TunnelRouter['registerPrefix']>[1];

const orderRow = (i: number): RowWrite => ({
  kind: 'put',
  table: 'OrderSource',
  primaryKey: [
    { name: 'UserId', value: `user-${(i * 7919) % 5000}` },
    { name: 'OrderId', value: `order-${i.toString().padStart(9, '0')}` },
  ] satisfies PrimaryKeyCell[],
  cells: [
    { op: 'put', name: 'price', value: 10 + (i % 1000) / 10 },
    { op: 'put', name: 'timestamp', value: BigInt(1_700_000_000_000 + i) },
  ],
  condition: IGNORE,
  returnContent: NO_RETURN,
});

const setup = async () => {
  const dir = tempDir('bench-tunnel');
  const engine = TableEngine.open({ dataDir: dir.path });
  let handler: Handler | undefined;
  const attached = attachTunnelService(engine, { registerPrefix: (_p, h) => (handler = h) }, { expirySweepMs: 0 });
  const created = await engine.createTable(definition('OrderSource', [pkColumn('UserId', 'STRING'), pkColumn('OrderId', 'STRING')]));
  if (E.isLeft(created)) throw new Error(created.left.message);
  const close = async () => {
    attached.detach();
    await engine.close();
    dir.remove();
  };
  return { engine, attached, handler: handler!, close };
};

const call = async <Req extends keyof TunnelMessageTypes, Res extends keyof TunnelMessageTypes>(
  handler: Handler,
  path: string,
  request: Req,
  body: TunnelMessageTypes[Req],
  response: Res,
): Promise<TunnelMessageTypes[Res]> => {
  const result = await handler({ path, body: tunnelMessages[request].encode(body) });
  if (E.isLeft(result)) throw new Error(`${result.left.code}: ${result.left.message}`);
  const decoded = tunnelMessages[response].decode(result.right);
  if (E.isLeft(decoded)) throw decoded.left;
  return decoded.right;
};

/** Writes ROWS rows in BATCH-row BatchWriteRow calls, IN_FLIGHT at a time; returns rows/s. */
const writeRows = async (engine: TableEngine, offset: number): Promise<number> => {
  const started = performance.now();
  let next = 0;
  const worker = async () => {
    while (next < ROWS) {
      const from = next;
      next += BATCH;
      const results = await engine.writeBatch(Array.from({ length: Math.min(BATCH, ROWS - from) }, (_, i) => orderRow(offset + from + i)));
      if (results.some(E.isLeft)) throw new Error('batch write failed');
    }
  };
  await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
  return ROWS / ((performance.now() - started) / 1000);
};

const fmt = (n: number): string => Math.round(n).toLocaleString('en-US');

const main = async () => {
  console.log(`tunnel-service bench: ${ROWS.toLocaleString('en-US')} OrderSource rows, BatchWriteRow of ${BATCH}, ${IN_FLIGHT} in flight`);

  // 1. change-log cost on BatchWriteRow
  const plain = await setup();
  await writeRows(plain.engine, 10_000_000); // warm-up: JIT, LMDB file growth
  const without = await writeRows(plain.engine, 0);
  await plain.close();

  const logged = await setup();
  await call(
    logged.handler,
    '/tunnel/create',
    'CreateTunnelRequest',
    { tunnel: { tableName: 'OrderSource', tunnelName: 'bench', tunnelType: 'Stream' } },
    'CreateTunnelResponse',
  );
  await writeRows(logged.engine, 10_000_000);
  const withTunnel = await writeRows(logged.engine, 0);
  console.log(`BatchWriteRow without stream : ${fmt(without)} rows/s`);
  console.log(`BatchWriteRow with tunnel    : ${fmt(withTunnel)} rows/s (change log costs ${((1 - withTunnel / without) * 100).toFixed(1)} %)`);

  // 2. ReadRecords of one stream channel, from its start to the end of the log
  const tunnelId = (
    await call(
      logged.handler,
      '/tunnel/create',
      'CreateTunnelRequest',
      { tunnel: { tableName: 'OrderSource', tunnelName: 'reader', tunnelType: 'Stream', streamTunnelConfig: { flag: 'EARLIEST' } } },
      'CreateTunnelResponse',
    )
  ).tunnelId;
  const { clientId } = await call(logged.handler, '/tunnel/connect', 'ConnectRequest', { tunnelId }, 'ConnectResponse');
  const leases = await call(logged.handler, '/tunnel/heartbeat', 'HeartbeatRequest', { tunnelId, clientId, channels: [] }, 'HeartbeatResponse');
  const channelId = leases.channels[0]!.channelId;
  let { checkpoint: token } = await call(logged.handler, '/tunnel/getcheckpoint', 'GetCheckpointRequest', { tunnelId, clientId, channelId }, 'GetCheckpointResponse');
  let records = 0;
  let recordBytes = 0;
  let responseBytes = 0;
  let calls = 0;
  const started = performance.now();
  for (;;) {
    const result = await logged.handler({ path: '/tunnel/readrecords', body: tunnelMessages.ReadRecordsRequest.encode({ tunnelId, clientId, channelId, token }) });
    if (E.isLeft(result)) throw new Error(result.left.message);
    const response = tunnelMessages.ReadRecordsResponse.decode(result.right);
    if (E.isLeft(response)) throw response.left;
    calls++;
    responseBytes += result.right.length;
    records += response.right.records.length;
    for (const r of response.right.records) recordBytes += r.record.length;
    token = response.right.nextToken;
    if (!response.right.mayMoreRecord) break;
  }
  const seconds = (performance.now() - started) / 1000;
  console.log(
    `ReadRecords (handler, 1 channel of ${leases.channels.length}): ${fmt(records / seconds)} records/s, ` +
      `${(recordBytes / seconds / 1e6).toFixed(1)} MB/s of records (${(responseBytes / seconds / 1e6).toFixed(1)} MB/s responses), ` +
      `${records.toLocaleString('en-US')} records in ${calls} calls, ${(recordBytes / records).toFixed(0)} B/record`,
  );
  await logged.close();
  await overHttp();
};

/** BatchWriteRow through the SDK (with/without a tunnel) and ReadRecords over loopback HTTP. */
const overHttp = async () => {
  const rows = Math.min(ROWS, 40_000);
  const run = async (withTunnel: boolean) => {
    const dataDir = mkdtempSync(join(tmpdir(), 'otsflow-bench-http-'));
    const emulator = await startEmulator({ dataDir, port: 0, partitions: 4 });
    const sdk = sdkClient(emulator);
    await sdkOk(sdk, 'createTable', {
      tableMeta: { tableName: 'OrderSource', primaryKey: [{ name: 'UserId', type: 'STRING' }, { name: 'OrderId', type: 'STRING' }] },
      reservedThroughput: { capacityUnit: { read: 0, write: 0 } },
      tableOptions: { timeToLive: -1, maxVersions: 1 },
    });
    const endpoint = { host: emulator.host, port: emulator.port, instanceName: emulator.instanceName, ...emulator.credentials };
    const agent = new Agent({ keepAlive: true, maxSockets: IN_FLIGHT });
    const rawCall = <Req extends keyof TunnelMessageTypes, Res extends keyof TunnelMessageTypes>(
      path: string,
      requestName: Req,
      body: TunnelMessageTypes[Req],
      responseName: Res,
    ): Promise<{ message: TunnelMessageTypes[Res]; bytes: number }> =>
      new Promise((resolve, reject) => {
        const bytes = tunnelMessages[requestName].encode(body);
        const headers = buildRequestHeaders({ ...endpoint, path, body: bytes });
        const req = request({ host: endpoint.host, port: endpoint.port, method: 'POST', path, agent, headers: { ...headers, 'content-length': bytes.length } }, (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            const all = Buffer.concat(chunks);
            if (res.statusCode !== 200) return reject(new Error(`${path}: HTTP ${res.statusCode}`));
            const decoded = tunnelMessages[responseName].decode(all);
            if (E.isLeft(decoded)) return reject(decoded.left);
            resolve({ message: decoded.right, bytes: all.length });
          });
        });
        req.on('error', reject);
        req.end(bytes);
      });
    if (withTunnel) {
      await rawCall('/tunnel/create', 'CreateTunnelRequest', { tunnel: { tableName: 'OrderSource', tunnelName: 'bench', tunnelType: 'Stream' } }, 'CreateTunnelResponse');
    }
    const batch = (from: number) =>
      sdkOk(sdk, 'batchWriteRow', {
        tables: [
          {
            tableName: 'OrderSource',
            rows: Array.from({ length: BATCH }, (_, i) => {
              const row = orderRow(from + i);
              return {
                type: 'PUT',
                condition: new TableStore.Condition(TableStore.RowExistenceExpectation.IGNORE, null),
                primaryKey: row.primaryKey.map((c) => ({ [c.name]: c.value })),
                attributeColumns: [{ price: 10 + ((from + i) % 1000) / 10 }, { eventTime: TableStore.Long.fromNumber(1_700_000_000_000 + from + i) }],
                returnContent: { returnType: TableStore.ReturnType.NONE },
              };
            }),
          },
        ],
      });
    let next = 0;
    const started = performance.now();
    await Promise.all(
      Array.from({ length: IN_FLIGHT }, async () => {
        while (next < rows) {
          const from = next;
          next += BATCH;
          await batch(from);
        }
      }),
    );
    const writeRate = rows / ((performance.now() - started) / 1000);
    let readLine = '';
    if (withTunnel) {
      const { message: created } = await rawCall(
        '/tunnel/create',
        'CreateTunnelRequest',
        { tunnel: { tableName: 'OrderSource', tunnelName: 'reader', tunnelType: 'Stream', streamTunnelConfig: { flag: 'EARLIEST' } } },
        'CreateTunnelResponse',
      );
      const tunnelId = created.tunnelId;
      const { message: connected } = await rawCall('/tunnel/connect', 'ConnectRequest', { tunnelId }, 'ConnectResponse');
      const clientId = connected.clientId;
      const { message: leases } = await rawCall('/tunnel/heartbeat', 'HeartbeatRequest', { tunnelId, clientId, channels: [] }, 'HeartbeatResponse');
      const channelId = leases.channels[0]!.channelId;
      let token = (await rawCall('/tunnel/getcheckpoint', 'GetCheckpointRequest', { tunnelId, clientId, channelId }, 'GetCheckpointResponse')).message.checkpoint;
      let records = 0;
      let recordBytes = 0;
      let responseBytes = 0;
      const readStarted = performance.now();
      for (;;) {
        const { message, bytes } = await rawCall('/tunnel/readrecords', 'ReadRecordsRequest', { tunnelId, clientId, channelId, token }, 'ReadRecordsResponse');
        records += message.records.length;
        responseBytes += bytes;
        for (const r of message.records) recordBytes += r.record.length;
        token = message.nextToken;
        if (!message.mayMoreRecord) break;
      }
      const seconds = (performance.now() - readStarted) / 1000;
      readLine =
        `ReadRecords (HTTP, 1 channel): ${fmt(records / seconds)} records/s, ${(recordBytes / seconds / 1e6).toFixed(1)} MB/s of records ` +
        `(${(responseBytes / seconds / 1e6).toFixed(1)} MB/s responses), ${records.toLocaleString('en-US')} records`;
    }
    agent.destroy();
    await emulator.close();
    rmSync(dataDir, { recursive: true, force: true });
    return { writeRate, readLine };
  };
  const plain = await run(false);
  const logged = await run(true);
  console.log(`BatchWriteRow via SDK, no stream : ${fmt(plain.writeRate)} rows/s (${rows.toLocaleString('en-US')} rows)`);
  console.log(`BatchWriteRow via SDK, tunnel    : ${fmt(logged.writeRate)} rows/s (change log costs ${((1 - logged.writeRate / plain.writeRate) * 100).toFixed(1)} %)`);
  console.log(logged.readLine);
};

await main();
