/**
 * examples/orders/large-orders/job.sql run by two workers sharing one tunnel:
 *
 *   npx tsx examples/orders/large-orders/run.ts        (after npm install, which builds the CLI)
 *
 * An embedded emulator (4 stream partitions) holds OrderSource and LargeOrders; orders are written
 * with the official SDK while worker A runs `otsflow sql -f job.sql`, worker B joins a second later,
 * and the tunnel spreads its 4 channels over both. Both stop once the feed is drained. The run
 * prints which worker owned which channel (from DescribeTunnel) and checks that LargeOrders holds
 * exactly the orders over 1000.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { createHttpTransport, startEmulator, tunnelControl } from '../../../lib/index.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Sdk = any;
const TableStore: Sdk = createRequire(import.meta.url)('tablestore');
const call = (sdk: Sdk, operation: string, params: object): Promise<Sdk> =>
  new Promise((resolve, reject) => sdk[operation](params, (error: unknown, data: Sdk) => (error ? reject(error) : resolve(data))));
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const JOB = fileURLToPath(new URL('./job.sql', import.meta.url));

const dir = mkdtempSync(join(tmpdir(), 'otsflow-large-orders-'));
const emulator = await startEmulator({ dataDir: dir, port: 0, partitions: 4 });
const sdk = new TableStore.Client({ endpoint: emulator.endpoint, instancename: emulator.instanceName, accessKeyId: emulator.credentials.accessKeyId, secretAccessKey: emulator.credentials.accessKeySecret, maxRetries: 0 });
for (const tableName of ['OrderSource', 'LargeOrders']) {
  await call(sdk, 'createTable', {
    tableMeta: { tableName, primaryKey: [{ name: 'UserId', type: 'STRING' }, { name: 'OrderId', type: 'STRING' }] },
    reservedThroughput: { capacityUnit: { read: 0, write: 0 } },
    tableOptions: { timeToLive: -1, maxVersions: 1 },
  });
}
const transport = createHttpTransport({ endpoint: emulator.endpoint, instance: emulator.instanceName, credentials: emulator.credentials, requestTimeoutMs: 30_000 });
const control = tunnelControl(transport);
const created = await control.createTunnel({ tableName: 'OrderSource', tunnelName: 'large-orders', tunnelType: 'Stream' });
if (created._tag === 'Left') throw created.left;

const vars = { endpoint: emulator.endpoint, instance: emulator.instanceName, access_key_id: emulator.credentials.accessKeyId, access_key_secret: emulator.credentials.accessKeySecret, tunnel_id: created.right.tunnelId };
const worker = (name: string) => {
  const args = [join(ROOT, 'bin', 'otsflow.js'), 'sql', '-f', JOB, '--until-idle', '--idle-ms', '3000', '--no-progress', '--heartbeat-interval-ms', '300', '--heartbeat-timeout-ms', '3000', ...Object.entries(vars).flatMap(([k, v]) => ['--var', `${k}=${v}`])];
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'inherit', 'pipe'] });
  createInterface({ input: child.stderr }).on('line', (line) => process.stderr.write(`[worker ${name}] ${line}\n`));
  return new Promise<number>((resolve) => child.on('exit', (code) => resolve(code ?? 1)));
};

// who owns which channel, sampled while the workers run
const owners = new Map<string, Set<string>>();
const sampler = setInterval(() => {
  void control.describeTunnel('OrderSource', 'large-orders').then((described) => {
    if (described._tag === 'Left') return;
    for (const channel of described.right.channels) {
      if (channel.status !== 'OPEN' || channel.clientId === undefined || channel.clientId === '') continue;
      const set = owners.get(channel.clientId) ?? new Set<string>();
      set.add(channel.channelId);
      owners.set(channel.clientId, set);
    }
  });
}, 250);

const orders: { UserId: string; OrderId: string; price: number }[] = [];
const write = async (from: number, count: number): Promise<void> => {
  const rows = [];
  for (let n = from; n < from + count; n++) {
    const order = { UserId: `user${n % 37}`, OrderId: `order${String(n).padStart(6, '0')}`, price: ((n * 7919) % 2000) + 0.5 };
    orders.push(order);
    rows.push({
      type: 'PUT',
      condition: new TableStore.Condition(TableStore.RowExistenceExpectation.IGNORE, null),
      primaryKey: [{ UserId: order.UserId }, { OrderId: order.OrderId }],
      attributeColumns: [{ price: order.price }, { timestamp: TableStore.Long.fromNumber(Date.now()) }],
    });
  }
  await call(sdk, 'batchWriteRow', { tables: [{ tableName: 'OrderSource', rows }] });
};

const a = worker('A');
await new Promise((resolve) => setTimeout(resolve, 1_500));
const b = worker('B');
for (let round = 0; round < 30; round++) {
  await write(round * 100, 100);
  await new Promise((resolve) => setTimeout(resolve, 200));
}
const codes = await Promise.all([a, b]);
clearInterval(sampler);

const large = new Set(orders.filter((order) => order.price > 1000).map((order) => `${order.UserId}/${order.OrderId}`));
const written = new Set<string>();
let start: Sdk[] = [{ UserId: TableStore.INF_MIN }, { OrderId: TableStore.INF_MIN }];
for (;;) {
  const page = await call(sdk, 'getRange', { tableName: 'LargeOrders', direction: TableStore.Direction.FORWARD, inclusiveStartPrimaryKey: start, exclusiveEndPrimaryKey: [{ UserId: TableStore.INF_MAX }, { OrderId: TableStore.INF_MAX }], limit: 5000 });
  for (const row of page.rows) written.add(`${row.primaryKey[0].value}/${row.primaryKey[1].value}`);
  if (page.nextStartPrimaryKey === null) break;
  start = page.nextStartPrimaryKey.map((cell: Sdk) => ({ [cell.name]: cell.value }));
}
transport.close();
await emulator.close();
rmSync(dir, { recursive: true, force: true });

for (const [client, channels] of owners) console.log(`client ${client} owned channels ${[...channels].map((id) => id.slice(0, 8)).join(', ')}`);
const missing = [...large].filter((key) => !written.has(key)).length;
const extra = [...written].filter((key) => !large.has(key)).length;
const ok = codes.every((code) => code === 0) && missing === 0 && extra === 0 && owners.size >= 2;
console.log(`${ok ? 'PASS' : 'FAIL'}: ${orders.length} orders, ${large.size} over 1000, ${written.size} in LargeOrders (${missing} missing, ${extra} extra); ${owners.size} workers held channels; exit codes ${codes.join(', ')}`);
process.exitCode = ok ? 0 : 1;
