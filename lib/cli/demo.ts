/**
 * `otsflow demo` (what `npm start` runs): the seed scenario end to end on the embedded emulator.
 * It starts an emulator on a fresh data directory, creates OrderSource, OrderStreamSink and a
 * tunnel through the official SDK and otsflow's tunnel client, writes orders at a steady rate
 * (event times over several 30 s windows, a few of them late), runs examples/orders/job.sql — the
 * seed's SQL — and after `duration` stops, reads the sink back with the official SDK and checks
 * every window against a direct computation from the generated orders.
 * PASS (exit 0) only if they agree exactly: same windows, same counts, totals to the cent.
 *
 * The job runs through the same runner as `otsflow sql` and `runCli` (run-jobs.ts): the live view,
 * `--metrics-port` (the job's and the embedded emulator's figures), the graceful stop on Ctrl-C /
 * SIGTERM and the summary line are that code. After an interrupt the generator stops, the job
 * commits its last batch and the demo ends without a verdict.
 */
import * as E from 'fp-ts/lib/Either.js';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startEmulator, type RunningEmulator } from '../emulator/index.js';
import { compile } from '../sql/compile.js';
import { formatTimestamp, type TimeZone } from '../sql/datetime.js';
import { formatSqlErrors } from '../sql/printer.js';
import { tunnelControl } from '../tunnel/control.js';
import { createHttpTransport } from '../tunnel/http-transport.js';
import type { Logger } from './log.js';
import { rowTable } from './progress.js';
import { openJobRunner, type JobRunner } from './run-jobs.js';
import { seededRandom } from '../wire/random.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Sdk = any;
const TableStore: Sdk = createRequire(import.meta.url)('tablestore');

export interface DemoOptions {
  /** seconds the generator writes orders */
  readonly durationSec: number;
  /** orders per second */
  readonly rate: number;
  /** share of orders whose event time lies 40–90 s in the past */
  readonly lateShare: number;
  readonly seed: number;
  /** session time zone of the job (window bounds as text) */
  readonly timeZone: string | undefined;
  /** keep the data directory (default: removed) */
  readonly keep: boolean;
  readonly sqlFile: string;
  /** serve the job's and the emulator's figures as Prometheus metrics on this port (0: a free one) */
  readonly metricsPort?: number;
  readonly metricsHost?: string;
  /** the live view / progress lines (default true) */
  readonly progress?: boolean;
}

export interface DemoIO {
  /** the results: the sink as read back, PASS / FAIL */
  readonly out: { write(text: string): unknown };
  /** notes, the job's summary line (stderr) */
  readonly log: Logger;
  /** where the live view is drawn (default stderr, as for `otsflow sql`) */
  readonly progressOut?: { write(text: string): unknown; isTTY?: boolean };
}

/** PASS / FAIL, or `interrupted`: Ctrl-C / SIGTERM stopped the demo before the check */
export type DemoResult = 'pass' | 'fail' | 'interrupted';

interface Order {
  readonly userId: string;
  readonly orderId: string;
  readonly price: number;
  readonly timestamp: number;
}

const call = (sdk: Sdk, operation: string, params: Record<string, unknown>): Promise<Sdk> =>
  new Promise((resolve, reject) => sdk[operation](params, (error: unknown, data: Sdk) => (error ? reject(error instanceof Error ? error : new Error(JSON.stringify(error))) : resolve(data))));

async function createTable(sdk: Sdk, tableName: string, keys: readonly string[]): Promise<void> {
  await call(sdk, 'createTable', {
    tableMeta: { tableName, primaryKey: keys.map((name) => ({ name, type: 'STRING' })) },
    reservedThroughput: { capacityUnit: { read: 0, write: 0 } },
    tableOptions: { timeToLive: -1, maxVersions: 1 },
  });
}

async function writeOrders(sdk: Sdk, orders: readonly Order[]): Promise<void> {
  for (let start = 0; start < orders.length; start += 200) {
    const rows = orders.slice(start, start + 200).map((order) => ({
      type: 'PUT',
      condition: new TableStore.Condition(TableStore.RowExistenceExpectation.IGNORE, null),
      primaryKey: [{ UserId: order.userId }, { OrderId: order.orderId }],
      attributeColumns: [{ price: order.price }, { timestamp: TableStore.Long.fromNumber(order.timestamp) }],
    }));
    const result = await call(sdk, 'batchWriteRow', { tables: [{ tableName: 'OrderSource', rows }] });
    const failed = (result.tables ?? []).filter((row: Sdk) => !row.isOk);
    if (failed.length > 0) throw new Error(`writing orders: ${failed.length} rows refused (${JSON.stringify(failed[0]?.error ?? failed[0])})`);
  }
}

async function readSink(sdk: Sdk): Promise<Map<string, { begin: string; end: string; count: number; totalPrice: number }>> {
  const rows = new Map<string, { begin: string; end: string; count: number; totalPrice: number }>();
  let start: Sdk[] = [{ begin: TableStore.INF_MIN }, { end: TableStore.INF_MIN }];
  for (;;) {
    const page = await call(sdk, 'getRange', {
      tableName: 'OrderStreamSink',
      direction: TableStore.Direction.FORWARD,
      inclusiveStartPrimaryKey: start,
      exclusiveEndPrimaryKey: [{ begin: TableStore.INF_MAX }, { end: TableStore.INF_MAX }],
      limit: 1000,
    });
    for (const row of page.rows) {
      const pk = Object.fromEntries(row.primaryKey.map((c: Sdk) => [c.name, String(c.value)]));
      const attributes = Object.fromEntries(row.attributes.map((c: Sdk) => [c.columnName, c.columnValue]));
      rows.set(`${pk.begin}|${pk.end}`, { begin: pk.begin, end: pk.end, count: Number(String(attributes.count)), totalPrice: Number(attributes.totalPrice) });
    }
    if (page.nextStartPrimaryKey === null || page.nextStartPrimaryKey === undefined) break;
    start = page.nextStartPrimaryKey.map((c: Sdk) => ({ [c.name]: c.value }));
  }
  return rows;
}

/** What the sink must hold: the seed query computed directly, window by window. */
function directComputation(orders: readonly Order[], zone: TimeZone): Map<string, { begin: string; end: string; count: number; cents: number }> {
  const windows = new Map<string, { begin: string; end: string; count: number; cents: number }>();
  for (const order of orders) {
    const start = Math.floor(order.timestamp / 30_000) * 30_000;
    const begin = formatTimestamp(start, zone) ?? '';
    const end = formatTimestamp(start + 30_000, zone) ?? '';
    const key = `${begin}|${end}`;
    const window = windows.get(key) ?? { begin, end, count: 0, cents: 0 };
    windows.set(key, { ...window, count: window.count + 1, cents: window.cents + Math.round(order.price * 100) });
  }
  return windows;
}

export async function runDemo(options: DemoOptions, io: DemoIO): Promise<DemoResult> {
  const dataDir = mkdtempSync(join(tmpdir(), 'otsflow-demo-'));
  const info = (message: string): void => io.log.info(message);
  let runner: JobRunner | undefined;
  let emulator: RunningEmulator | undefined;
  try {
    // opened first: its metrics hook goes into the emulator, its signal handlers cover the setup
    runner = await openJobRunner(
      {
        progress: options.progress ?? true,
        view: { sortBy: 'begin', rows: 6 },
        ...(io.progressOut === undefined ? {} : { out: io.progressOut }),
        ...(options.metricsPort === undefined ? {} : { metricsPort: options.metricsPort, metricsHost: options.metricsHost ?? '127.0.0.1' }),
      },
      io.log,
    );
    const onRequest = runner.onRequest;
    emulator = await startEmulator({ dataDir: join(dataDir, 'data'), port: 0, ...(onRequest === undefined ? {} : { onRequest }) });
    info(`emulator on ${emulator.endpoint} (data in ${dataDir})`);
    const sdk = new TableStore.Client({
      endpoint: emulator.endpoint,
      instancename: emulator.instanceName,
      accessKeyId: emulator.credentials.accessKeyId,
      secretAccessKey: emulator.credentials.accessKeySecret,
      maxRetries: 0,
    });
    await createTable(sdk, 'OrderSource', ['UserId', 'OrderId']);
    await createTable(sdk, 'OrderStreamSink', ['begin', 'end']);
    const transport = createHttpTransport({ endpoint: emulator.endpoint, instance: emulator.instanceName, credentials: emulator.credentials, requestTimeoutMs: 30_000 });
    const created = await tunnelControl(transport).createTunnel({ tableName: 'OrderSource', tunnelName: 'orders', tunnelType: 'Stream' });
    transport.close();
    if (E.isLeft(created)) throw new Error(`creating the tunnel: ${created.left.message}`);
    info(`tables OrderSource and OrderStreamSink, tunnel ${created.right.tunnelId}`);

    const sql = readFileSync(options.sqlFile, 'utf8');
    const compiled = compile(sql, {
      ...(options.timeZone === undefined ? {} : { timeZone: options.timeZone }),
      variables: {
        endpoint: emulator.endpoint,
        instance: emulator.instanceName,
        access_key_id: emulator.credentials.accessKeyId,
        access_key_secret: emulator.credentials.accessKeySecret,
        tunnel_id: created.right.tunnelId,
        checkpoint: join(dataDir, 'checkpoint', 'job1'),
      },
      onLog: (level, message) => (level === 'warn' ? io.log.warn(message) : info(message)),
      progressIntervalMs: 1_000,
    });
    if (E.isLeft(compiled)) throw new Error(`${options.sqlFile}:\n${formatSqlErrors(sql, compiled.left)}`);
    const zone = compiled.right.timeZone;
    let failed = false;
    let jobs = 0;
    for (const statement of compiled.right.statements) {
      const result = await statement.run();
      if (result.kind !== 'job') continue;
      jobs++;
      result.job.done.catch(() => {
        failed = true;
      });
      runner.add(result.job);
    }
    if (jobs === 0) throw new Error(`${options.sqlFile} defines no stream job`);
    info(`running ${options.sqlFile} (time zone ${zone.id}) for ${options.durationSec} s at ${options.rate} orders/s`);

    // the generator: a tick every 100 ms, event times a little behind now, some well behind
    const next = seededRandom(options.seed);
    const orders: Order[] = [];
    const started = Date.now();
    let written = 0;
    let lateOrders = 0;
    while (!failed && !runner.interrupted && Date.now() - started < options.durationSec * 1000) {
      const due = Math.floor(((Date.now() - started) / 1000) * options.rate);
      const batch: Order[] = [];
      for (; written < due; written++) {
        const late = next() < options.lateShare;
        if (late) lateOrders++;
        const timestamp = Date.now() - (late ? 40_000 + Math.floor(next() * 50_000) : Math.floor(next() * 2_000));
        batch.push({ userId: `user${String(Math.floor(next() * 500)).padStart(3, '0')}`, orderId: `order${String(written).padStart(8, '0')}`, price: Math.round(1 + next() * 99_999) / 100, timestamp });
      }
      if (batch.length > 0) {
        await writeOrders(sdk, batch);
        orders.push(...batch);
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    if (!failed && !runner.interrupted) info(`generator stopped after ${orders.length} orders; waiting for the job to catch up`);
    // until the feed is drained (or the job fails, or a signal stops it); the summary line; a failed job rejects
    await runner.wait({ untilIdle: true });
    if (runner.interrupted) {
      info(`interrupted after ${orders.length} orders: the sink is not checked`);
      return 'interrupted';
    }

    const actual = await readSink(sdk);
    const expected = directComputation(orders, zone);
    const sorted = [...actual.values()].sort((a, b) => (a.begin < b.begin ? -1 : 1));
    io.out.write(`\nOrderStreamSink, read back with the official SDK (${sorted.length} windows):\n${rowTable(sorted.map((row) => ({ ...row }))).join('\n')}\n\n`);
    const problems: string[] = [];
    for (const [key, want] of expected) {
      const got = actual.get(key);
      if (got === undefined) problems.push(`window ${want.begin} is missing`);
      else if (got.count !== want.count || Math.round(got.totalPrice * 100) !== want.cents) {
        problems.push(`window ${want.begin}: count ${got.count}, total ${got.totalPrice.toFixed(2)}; expected ${want.count}, ${(want.cents / 100).toFixed(2)}`);
      }
    }
    for (const key of actual.keys()) if (!expected.has(key)) problems.push(`window ${key.split('|')[0]} has no orders but is in the sink`);
    if (problems.length === 0) {
      io.out.write(`PASS: ${expected.size} windows, ${orders.length} orders (${lateOrders} late) — every count and total equals the direct computation\n`);
      return 'pass';
    }
    io.out.write(`FAIL: ${problems.length} of ${expected.size} windows differ from the direct computation\n${problems.slice(0, 20).map((line) => `  ${line}`).join('\n')}\n`);
    return 'fail';
  } finally {
    // stops what still runs, takes the signal handlers off, closes the metrics endpoint
    await runner?.close();
    await emulator?.close();
    if (options.keep) info(`data kept in ${dataDir}`);
    else rmSync(dataDir, { recursive: true, force: true });
  }
}
