/**
 * The emulator with its tunnel service for integration tests and benchmarks, an OrderSource-like
 * table written through the official `tablestore` SDK, and tunnel() options pointing at it.
 */
import { createRequire } from 'node:module';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startEmulator } from '../../lib/emulator/index.js';
import type { RunningEmulator } from '../../lib/emulator/index.js';
import { attachTunnelService } from '../../lib/emulator/tunnel/index.js';
import type { AttachedTunnelService, TunnelServiceSettings } from '../../lib/emulator/tunnel/index.js';
import { createHttpTransport } from '../../lib/tunnel/http-transport.js';
import { tunnelControl } from '../../lib/tunnel/control.js';
import type { TunnelControl } from '../../lib/tunnel/control.js';
import type { TunnelOptions } from '../../lib/tunnel/options.js';
import type { ChangeRecord } from '../../lib/wire/types.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Sdk = any;
export const TableStore: Sdk = createRequire(import.meta.url)('tablestore');

export const ORDER_TABLE = 'OrderSource';

export interface TunnelEmulator {
  readonly emulator: RunningEmulator;
  readonly tunnels: AttachedTunnelService;
  readonly sdk: Sdk;
  readonly control: TunnelControl;
  close(): Promise<void>;
}

/** An official SDK client for an emulator (no retries: a failure shows at once). */
export function sdkClient(emulator: Pick<RunningEmulator, 'endpoint' | 'instanceName' | 'credentials'>): Sdk {
  return new TableStore.Client({
    endpoint: emulator.endpoint,
    instancename: emulator.instanceName,
    accessKeyId: emulator.credentials.accessKeyId,
    secretAccessKey: emulator.credentials.accessKeySecret,
    maxRetries: 0,
  });
}

export async function startTunnelEmulator(settings: TunnelServiceSettings = {}): Promise<TunnelEmulator> {
  const dataDir = mkdtempSync(join(tmpdir(), 'otsflow-tunnel-client-'));
  let tunnels: AttachedTunnelService | undefined;
  const emulator = await startEmulator({
    dataDir,
    port: 0,
    extensions: [
      ({ engine, router }) => {
        const attached = attachTunnelService(engine, router, settings);
        tunnels = attached;
        return { close: () => attached.detach() };
      },
    ],
  });
  const sdk = sdkClient(emulator);
  const transport = createHttpTransport({ endpoint: emulator.endpoint, instance: emulator.instanceName, credentials: emulator.credentials, requestTimeoutMs: 30_000 });
  return {
    emulator,
    tunnels: tunnels as AttachedTunnelService,
    sdk,
    control: tunnelControl(transport),
    close: async () => {
      transport.close();
      await emulator.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** The seed scenario's emulator: 4 stream partitions, OrderSource and OrderStreamSink created. */
export async function startOrderEmulator(settings: TunnelServiceSettings = {}): Promise<TunnelEmulator> {
  const env = await startTunnelEmulator({ partitions: 4, ...settings });
  await createOrderTable(env.sdk);
  await createOrderSinkTable(env.sdk);
  return env;
}

export const sdkCall = (sdk: Sdk, operation: string, params: Record<string, unknown>): Promise<Sdk> =>
  new Promise((resolve, reject) => {
    sdk[operation](params, (error: unknown, data: Sdk) => (error ? reject(error instanceof Error ? error : new Error(JSON.stringify(error))) : resolve(data)));
  });

/** The seed scenario's sink: OrderStreamSink keyed by the window's `begin` and `end` strings. */
export const ORDER_SINK_TABLE = 'OrderStreamSink';

export async function createOrderSinkTable(sdk: Sdk): Promise<void> {
  await sdkCall(sdk, 'createTable', {
    tableMeta: { tableName: ORDER_SINK_TABLE, primaryKey: [{ name: 'begin', type: 'STRING' }, { name: 'end', type: 'STRING' }] },
    reservedThroughput: { capacityUnit: { read: 0, write: 0 } },
    tableOptions: { timeToLive: -1, maxVersions: 1 },
  });
}

export async function createOrderTable(sdk: Sdk): Promise<void> {
  await sdkCall(sdk, 'createTable', {
    tableMeta: {
      tableName: ORDER_TABLE,
      primaryKey: [
        { name: 'UserId', type: 'STRING' },
        { name: 'OrderId', type: 'STRING' },
      ],
    },
    reservedThroughput: { capacityUnit: { read: 0, write: 0 } },
    tableOptions: { timeToLive: -1, maxVersions: 1 },
  });
}

/**
 * Order times start at this process's start: the SDK writes a column named `timestamp` with the
 * cell timestamp equal to its value, and the service refuses cell times far from now.
 */
const ORDER_EPOCH_MS = BigInt(Date.now());

/** Order n: deterministic content, so a delivered record can be checked field by field. */
export function order(n: number): { userId: string; orderId: string; price: number; timestamp: bigint } {
  return { userId: `u${String(n % 97).padStart(2, '0')}`, orderId: `o${String(n).padStart(7, '0')}`, price: (n % 1000) + 0.25, timestamp: ORDER_EPOCH_MS + BigInt(n) };
}

/** An OrderSource row: key, price and event time (epoch ms). */
export interface OrderRow {
  readonly userId: string;
  readonly orderId: string;
  readonly price: number;
  readonly timestamp: number | bigint;
}

/** One BatchWriteRow of `orders` into OrderSource; resolves with the rows that failed (none: all written). */
export async function putOrderBatch(sdk: Sdk, orders: readonly OrderRow[]): Promise<Sdk[]> {
  const rows = orders.map((o) => ({
    type: 'PUT',
    condition: new TableStore.Condition(TableStore.RowExistenceExpectation.IGNORE, null),
    primaryKey: [{ UserId: o.userId }, { OrderId: o.orderId }],
    attributeColumns: [{ price: o.price }, { timestamp: TableStore.Long.fromString(String(o.timestamp)) }],
    returnContent: { returnType: TableStore.ReturnType.NONE },
  }));
  const result = await sdkCall(sdk, 'batchWriteRow', { tables: [{ tableName: ORDER_TABLE, rows }] });
  return (result.tables ?? []).filter((row: Sdk) => !row.isOk);
}

/**
 * Writes `order(n)` for n in [from, from+count) with BatchWriteRow of `batchSize` rows; resolves
 * with how many rows failed.
 */
export async function putOrders(sdk: Sdk, order: (n: number) => OrderRow, from: number, count: number, batchSize = 200): Promise<number> {
  let failed = 0;
  for (let start = from; start < from + count; start += batchSize) {
    const orders = [];
    for (let n = start; n < Math.min(from + count, start + batchSize); n++) orders.push(order(n));
    failed += (await putOrderBatch(sdk, orders)).length;
  }
  return failed;
}

/** Writes orders [from, from+count) with BatchWriteRow of `batchSize` rows. */
export async function writeOrders(sdk: Sdk, from: number, count: number, batchSize = 200, price: (n: number) => number = (n) => order(n).price): Promise<void> {
  for (let start = from; start < from + count; start += batchSize) {
    const orders = [];
    for (let n = start; n < Math.min(from + count, start + batchSize); n++) orders.push({ ...order(n), price: price(n) });
    const failed = await putOrderBatch(sdk, orders);
    if (failed.length > 0) throw new Error(`BatchWriteRow: ${failed.length} rows failed: ${JSON.stringify(failed[0])}`);
  }
}

export async function deleteOrder(sdk: Sdk, n: number): Promise<void> {
  const o = order(n);
  await sdkCall(sdk, 'deleteRow', {
    tableName: ORDER_TABLE,
    condition: new TableStore.Condition(TableStore.RowExistenceExpectation.IGNORE, null),
    primaryKey: [{ UserId: o.userId }, { OrderId: o.orderId }],
  });
}

export function tunnelOptions(emulator: RunningEmulator, tunnelId: string, overrides: Partial<TunnelOptions> = {}): TunnelOptions {
  return {
    endpoint: emulator.endpoint,
    instance: emulator.instanceName,
    credentials: emulator.credentials,
    tunnelId,
    heartbeatIntervalMs: 100,
    heartbeatTimeoutMs: 2_000,
    readBackoff: { initialMs: 5, multiplier: 2, maxMs: 50 },
    requestRetry: { initialMs: 10, maxMs: 200, maxElapsedMs: 20_000 },
    reconnectBackoff: { initialMs: 50, maxMs: 500 },
    clientTag: 'spec',
    ...overrides,
  };
}

/** Order number of a record, from its OrderId. */
export const orderNumber = (record: ChangeRecord): number => Number(String(record.primaryKey[1]?.value).slice(1));

/** The put cells of a record by name. */
export const cellValues = (record: ChangeRecord): Record<string, unknown> =>
  Object.fromEntries(record.cells.filter((cell) => cell.op === 'put').map((cell) => [cell.name, cell.op === 'put' ? cell.value : undefined]));

/** Resolves when `condition()` holds, polling every 20 ms; rejects after `timeoutMs`. */
export async function until(condition: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** One window of OrderStreamSink: how many orders and their total price. */
export interface WindowTotal {
  count: number;
  totalPrice: number;
}

/**
 * OrderStreamSink read back with GetRange, page by page: `begin|end` (as the job wrote them) →
 * count and totalPrice.
 */
export async function readOrderSink(sdk: Sdk): Promise<Map<string, WindowTotal>> {
  const rows = new Map<string, WindowTotal>();
  let start: unknown[] = [{ begin: TableStore.INF_MIN }, { end: TableStore.INF_MIN }];
  for (;;) {
    const page = await sdkCall(sdk, 'getRange', {
      tableName: ORDER_SINK_TABLE,
      direction: TableStore.Direction.FORWARD,
      inclusiveStartPrimaryKey: start,
      exclusiveEndPrimaryKey: [{ begin: TableStore.INF_MAX }, { end: TableStore.INF_MAX }],
      limit: 1000,
    });
    for (const row of page.rows) {
      const pk = Object.fromEntries(row.primaryKey.map((cell: { name: string; value: unknown }) => [cell.name, String(cell.value)]));
      const attributes = Object.fromEntries(row.attributes.map((cell: { columnName: string; columnValue: unknown }) => [cell.columnName, cell.columnValue]));
      rows.set(`${pk.begin}|${pk.end}`, { count: Number(String(attributes.count)), totalPrice: attributes.totalPrice as number });
    }
    if (page.nextStartPrimaryKey === null || page.nextStartPrimaryKey === undefined) break;
    start = page.nextStartPrimaryKey.map((cell: { name: string; value: unknown }) => ({ [cell.name]: cell.value }));
  }
  return rows;
}

/**
 * Count and total price per tumbling window, computed directly from orders: `begin|end` with each
 * bound printed by `bound` (epoch ms → text, as the job prints it in its time zone).
 */
export function windowTotals(
  orders: Iterable<{ price: number; timestamp: number | bigint }>,
  windowMs: number,
  bound: (ms: number) => string,
): Map<string, WindowTotal> {
  const windows = new Map<string, WindowTotal>();
  for (const o of orders) {
    const start = Math.floor(Number(o.timestamp) / windowMs) * windowMs;
    const key = `${bound(start)}|${bound(start + windowMs)}`;
    const window = windows.get(key) ?? { count: 0, totalPrice: 0 };
    windows.set(key, { count: window.count + 1, totalPrice: window.totalPrice + o.price });
  }
  return windows;
}

/** A window bound as the job prints it with time zone UTC: `yyyy-MM-dd HH:mm:ss`. */
export const utcBound = (ms: number): string => new Date(ms).toISOString().slice(0, 19).replace('T', ' ');
