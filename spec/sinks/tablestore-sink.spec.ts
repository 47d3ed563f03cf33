import { createServer, request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { inspect } from 'node:util';
import { lastValueFrom, of, toArray, VirtualTimeScheduler } from 'rxjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_CREDENTIALS, startEmulator, type RunningEmulator } from '../../lib/emulator/index.js';
import type { CommittedRowChange } from '../../lib/emulator/index.js';
import {
  isRetryableSinkError,
  tablestoreSink,
  TablestoreSinkError,
  type TablestoreSink,
  type TablestoreSinkOptions,
} from '../../lib/sinks/tablestore-sink.js';
import type { Catalog } from '../../lib/stream/catalog.js';
import { commitAfter, SinkWriteError } from '../../lib/stream/commit-after.js';
import { tableFromRows, type OutputRow, type Value } from '../../lib/stream/table.js';
import { condition, long, ok, plain, sdkClient, TableStore, type Sdk } from '../emulator/sdk.js';
import { tempDir } from '../emulator/helpers.js';
import { encodeErrorBody } from '../../lib/wire/errors.js';
import { startChaosProxy } from '../tunnel/chaos-proxy.js';
import { recordBatch } from '../stream/helpers.js';

/** Rows whose commits the emulator fails (per row, OTSInternalServerError) while their budget lasts. */
const faults = new Map<string, number>();
const faultKey = (table: string, key: readonly unknown[]): string => `${table}|${key.map(String).join('|')}`;
const seenCommits: string[] = [];

let emulator: RunningEmulator;
let data: { path: string; remove(): void };
let sdk: Sdk;

beforeAll(async () => {
  data = tempDir('sink');
  emulator = await startEmulator({
    dataDir: data.path,
    port: 0,
    extensions: [
      ({ engine }) => {
        const off = engine.onCommit((change: CommittedRowChange) => {
          const key = faultKey(
            change.table,
            change.primaryKey.map((cell) => cell.value),
          );
          seenCommits.push(key);
          const left = faults.get(key);
          if (left !== undefined && left > 0) {
            faults.set(key, left - 1);
            throw new Error(`injected fault for ${key}`);
          }
        });
        return { close: off };
      },
    ],
  });
  sdk = sdkClient(emulator);
});

afterAll(async () => {
  await emulator.close();
  data.remove();
});

let tableCounter = 0;
const uniqueName = (base: string): string => `${base}_${++tableCounter}`;

async function createTable(name: string, primaryKey: readonly (readonly [string, 'STRING' | 'INTEGER' | 'BINARY', 'AUTO_INCREMENT'?])[]): Promise<string> {
  await ok(sdk, 'createTable', {
    tableMeta: { tableName: name, primaryKey: primaryKey.map(([n, type, option]) => ({ name: n, type, ...(option === undefined ? {} : { option }) })) },
    reservedThroughput: { capacityUnit: { read: 0, write: 0 } },
    tableOptions: { timeToLive: -1, maxVersions: 1 },
  });
  return name;
}

/** Every row of a table through GetRange: [[pk name, value]…] and {column: value}, values made plain (Int64LE → bigint, Buffer → bytes). */
async function readAll(table: string, pkNames: readonly string[]): Promise<{ key: unknown[]; columns: Record<string, unknown> }[]> {
  const rows: { key: unknown[]; columns: Record<string, unknown> }[] = [];
  let start: Sdk[] = pkNames.map((name) => ({ [name]: TableStore.INF_MIN }));
  for (;;) {
    const page = await ok(sdk, 'getRange', {
      tableName: table,
      direction: TableStore.Direction.FORWARD,
      inclusiveStartPrimaryKey: start,
      exclusiveEndPrimaryKey: pkNames.map((name) => ({ [name]: TableStore.INF_MAX })),
      limit: 5000,
      maxVersions: 1,
    });
    for (const row of page.rows as Sdk[]) {
      const columns: Record<string, unknown> = {};
      for (const attribute of row.attributes as Sdk[]) columns[attribute.columnName as string] = plain(attribute.columnValue);
      rows.push({ key: (row.primaryKey as Sdk[]).map((cell) => plain(cell.value)), columns });
    }
    if (page.nextStartPrimaryKey === null || page.nextStartPrimaryKey === undefined) return rows;
    start = (page.nextStartPrimaryKey as Sdk[]).map((cell) => ({ [cell.name as string]: cell.value }));
  }
}

const SECRET = DEFAULT_CREDENTIALS.accessKeySecret;

const seedCatalog: Catalog = { columns: { begin: { type: 'string' }, end: { type: 'string' }, count: { type: 'long' }, totalPrice: { type: 'double' } } };

function sinkFor(table: string, catalog: Catalog, extra: Partial<TablestoreSinkOptions> = {}): TablestoreSink {
  return tablestoreSink({
    endpoint: emulator.endpoint,
    instanceName: emulator.instanceName,
    accessKeyId: emulator.credentials.accessKeyId,
    accessKeySecret: emulator.credentials.accessKeySecret,
    tableName: table,
    catalog,
    retry: { initialMs: 5, maxMs: 50 },
    ...extra,
  });
}

/** The SDK client with every BatchWriteRow's row count and keys recorded. */
function recordingClient(): { client: Sdk; requests: { rows: number; keys: string[] }[] } {
  const requests: { rows: number; keys: string[] }[] = [];
  const real = sdkClient(emulator);
  return {
    requests,
    client: {
      describeTable: (params: unknown, callback: unknown) => real.describeTable(params, callback),
      batchWriteRow: (params: Sdk, callback: unknown) => {
        const rows = params.tables[0].rows as Sdk[];
        requests.push({ rows: rows.length, keys: rows.map((row) => JSON.stringify((row.primaryKey as Sdk[]).map((cell) => Object.values(cell).map(String)))) });
        return real.batchWriteRow(params, callback);
      },
    },
  };
}

/**
 * An HTTP proxy in front of the emulator that answers the next BatchWriteRow requests itself, with
 * service errors from a script (status, code, message), and forwards everything else.
 */
async function scriptedProxy(): Promise<{ endpoint: string; script: [number, string, string][]; answered: () => number; close(): Promise<void> }> {
  const script: [number, string, string][] = [];
  let answered = 0;
  const server = createServer((req, res) => {
    const next = req.url === '/BatchWriteRow' ? script.shift() : undefined;
    if (next !== undefined) {
      answered++;
      req.resume();
      req.on('end', () => {
        const body = encodeErrorBody(next[1], next[2]);
        res.writeHead(next[0], { 'content-length': body.length, 'x-ots-requestid': `scripted-${answered}` });
        res.end(body);
      });
      return;
    }
    const upstream = httpRequest({ host: emulator.host, port: emulator.port, method: req.method, path: req.url, headers: req.headers }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    script,
    answered: () => answered,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

async function failure(promise: Promise<unknown>): Promise<TablestoreSinkError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (error === undefined) throw new Error('expected the promise to reject');
  expect(error).toBeInstanceOf(TablestoreSinkError);
  const sinkError = error as TablestoreSinkError;
  expect(sinkError.message).not.toContain(SECRET);
  expect(inspect(sinkError, { depth: 10, showHidden: true })).not.toContain(SECRET);
  return sinkError;
}

const orderRow = (begin: string, count: number | bigint, totalPrice: number): OutputRow => ({
  begin,
  end: begin.replace(':00.000Z', ':30.000Z'),
  count,
  totalPrice,
});

describe('tablestoreSink', () => {
  it('writes the seed OrderStreamSink rows and they read back exactly, long as INTEGER and double as DOUBLE', async () => {
    const table = await createTable(uniqueName('OrderStreamSink'), [
      ['begin', 'STRING'],
      ['end', 'STRING'],
    ]);
    const sink = sinkFor(table, seedCatalog);
    expect(sink.keyColumns).toBeUndefined();
    const summary = await sink.write(
      [orderRow('2024-01-01T00:00:00.000Z', 3, 3.0), orderRow('2024-01-01T00:01:00.000Z', 2n, 19.25), { ...orderRow('2024-01-01T00:02:00.000Z', 1, 0.1), extra: 'not in catalog' }],
      { batchId: 7 },
    );
    expect(summary).toEqual({ batchId: 7, rows: 3, skipped: 0, requests: 1, retriedRows: 0, splits: 0 });
    // the first write opened the sink
    expect(sink.keyColumns).toEqual(['begin', 'end']);
    expect(sink.primaryKey).toEqual([
      { name: 'begin', type: 'STRING' },
      { name: 'end', type: 'STRING' },
    ]);
    const stored = await readAll(table, ['begin', 'end']);
    expect(stored).toEqual([
      { key: ['2024-01-01T00:00:00.000Z', '2024-01-01T00:00:30.000Z'], columns: { count: 3n, totalPrice: 3 } },
      { key: ['2024-01-01T00:01:00.000Z', '2024-01-01T00:01:30.000Z'], columns: { count: 2n, totalPrice: 19.25 } },
      { key: ['2024-01-01T00:02:00.000Z', '2024-01-01T00:02:30.000Z'], columns: { count: 1n, totalPrice: 0.1 } },
    ]);
    // types on the wire: INTEGER decodes to the SDK's Int64LE, DOUBLE to a JS number, 3.0 included
    const row = await ok(sdk, 'getRow', { tableName: table, primaryKey: [{ begin: '2024-01-01T00:00:00.000Z' }, { end: '2024-01-01T00:00:30.000Z' }], maxVersions: 1 });
    const byName = Object.fromEntries((row.row.attributes as Sdk[]).map((a) => [a.columnName, a.columnValue]));
    expect(TableStore.Long.fromNumber(0).constructor.isInt64LE(byName.count)).toBe(true);
    expect(typeof byName.totalPrice).toBe('number');
    await sink.close();
  });

  it('open() describes the table once and exposes its key; writing an empty batch is harmless', async () => {
    const table = await createTable(uniqueName('Described'), [
      ['id', 'INTEGER'],
      ['tag', 'BINARY'],
      ['name', 'STRING'],
    ]);
    const recorder = recordingClient();
    let describes = 0;
    const client = { ...recorder.client, describeTable: (p: unknown, cb: unknown) => (describes++, recorder.client.describeTable(p, cb)) };
    const sink = sinkFor(table, { columns: { name: { type: 'string' }, tag: { type: 'binary' }, id: { type: 'long' }, v: { type: 'double' } } }, { client });
    const schema = await sink.open();
    expect(schema).toEqual({
      tableName: table,
      instanceName: emulator.instanceName,
      primaryKey: [
        { name: 'id', type: 'INTEGER' },
        { name: 'tag', type: 'BINARY' },
        { name: 'name', type: 'STRING' },
      ],
      attributes: [{ name: 'v', type: 'double' }],
    });
    await Promise.all([sink.open(), sink.write([], { batchId: 0 }), sink.open()]);
    expect(describes).toBe(1);
    expect(recorder.requests).toEqual([]);
    await sink.close();
  });

  it('splits more than 200 rows into several BatchWriteRow requests, each within the row and byte limits', async () => {
    const table = await createTable(uniqueName('Many'), [['k', 'STRING']]);
    const catalog: Catalog = { columns: { k: { type: 'string' }, n: { type: 'long' }, pad: { type: 'string' } } };
    const rows = Array.from({ length: 450 }, (_, i) => ({ k: `k${String(i).padStart(4, '0')}`, n: i, pad: 'x'.repeat(100) }));

    const byCount = recordingClient();
    const sink = sinkFor(table, catalog, { client: byCount.client });
    const summary = await sink.write(rows, { batchId: 1 });
    expect(byCount.requests.map((r) => r.rows)).toEqual([200, 200, 50]);
    expect(summary).toMatchObject({ rows: 450, requests: 3, splits: 0 });
    const stored = await readAll(table, ['k']);
    expect(stored).toHaveLength(450);
    expect(stored[449]).toEqual({ key: ['k0449'], columns: { n: 449n, pad: 'x'.repeat(100) } });

    const bySize = recordingClient();
    const small = sinkFor(table, catalog, { client: bySize.client, maxRowsPerRequest: 120, maxBytesPerRequest: 8 * 1024 });
    await small.write(rows, { batchId: 2 });
    // ~150 bytes a row: about 50 rows fit in 8 KiB
    expect(bySize.requests.length).toBeGreaterThan(8);
    expect(Math.max(...bySize.requests.map((r) => r.rows))).toBeLessThan(60);
    expect(bySize.requests.reduce((n, r) => n + r.rows, 0)).toBe(450);
    expect(() => sinkFor(table, catalog, { maxRowsPerRequest: 201 })).toThrow(/maxRowsPerRequest must be an integer in \[1, 200\]/);
    await Promise.all([sink.close(), small.close()]);
  });

  it('collapses rows sharing a key: put keeps the last row, update applies them in order; no request repeats a key', async () => {
    const table = await createTable(uniqueName('Dupes'), [['k', 'STRING']]);
    const catalog: Catalog = { columns: { k: { type: 'string' }, a: { type: 'long' }, b: { type: 'string' } } };
    const recorder = recordingClient();
    const put = sinkFor(table, catalog, { client: recorder.client });
    const rows: OutputRow[] = [
      { k: 'x', a: 1, b: 'first' },
      { k: 'y', a: 10 },
      { k: 'x', a: 2 },
      { k: 'z', a: 20 },
    ];
    expect(await put.write(rows, { batchId: 0 })).toMatchObject({ rows: 3, requests: 1 });
    expect(await readAll(table, ['k'])).toEqual([
      { key: ['x'], columns: { a: 2n } },
      { key: ['y'], columns: { a: 10n } },
      { key: ['z'], columns: { a: 20n } },
    ]);

    const update = sinkFor(table, catalog, { client: recorder.client, rowChangeType: 'update' });
    await update.write(
      [
        { k: 'x', a: 3, b: 'kept' },
        { k: 'x', a: 4, b: null },
      ],
      { batchId: 1 },
    );
    expect((await readAll(table, ['k']))[0]).toEqual({ key: ['x'], columns: { a: 4n, b: 'kept' } });
    for (const request of recorder.requests) expect(new Set(request.keys).size).toBe(request.keys.length);
    expect(recorder.requests.map((r) => r.rows)).toEqual([3, 1]);
    await Promise.all([put.close(), update.close()]);
  });

  it("put replaces the whole row, update keeps the other columns; null attributes are skipped (EMR's semantics)", async () => {
    const table = await createTable(uniqueName('Modes'), [['k', 'STRING']]);
    const seed = async (k: string): Promise<void> => {
      await ok(sdk, 'putRow', {
        tableName: table,
        condition: condition('IGNORE'),
        primaryKey: [{ k }],
        attributeColumns: [{ count: long(1) }, { note: 'kept?' }, { totalPrice: 1.5 }],
      });
    };
    await Promise.all([seed('p'), seed('u'), seed('pn'), seed('un'), seed('u0')]);
    const catalog: Catalog = { columns: { k: { type: 'string' }, count: { type: 'long' }, totalPrice: { type: 'double' } } };
    const put = sinkFor(table, catalog);
    const update = sinkFor(table, catalog, { rowChangeType: 'update' });
    expect(put.rowChangeType).toBe('put');
    await put.write(
      [
        { k: 'p', count: 5, totalPrice: 2 },
        { k: 'pn', count: 6, totalPrice: null },
      ],
      { batchId: 0 },
    );
    const summary = await update.write(
      [
        { k: 'u', count: 5, totalPrice: 2 },
        { k: 'un', count: 6, totalPrice: null },
        { k: 'u0', count: null },
        { k: 'fresh', count: null, totalPrice: null },
      ],
      { batchId: 0 },
    );
    expect(summary).toMatchObject({ rows: 2, skipped: 2 });
    expect(Object.fromEntries((await readAll(table, ['k'])).map((row) => [row.key[0], row.columns]))).toEqual({
      p: { count: 5n, totalPrice: 2 },
      pn: { count: 6n },
      u: { count: 5n, note: 'kept?', totalPrice: 2 },
      un: { count: 6n, note: 'kept?', totalPrice: 1.5 },
      u0: { count: 1n, note: 'kept?', totalPrice: 1.5 },
    });
    await Promise.all([put.close(), update.close()]);
  });

  it('writes INTEGER and BINARY primary keys (numbers, bigints at the int64 ends, Uint8Arrays) and every attribute type', async () => {
    const table = await createTable(uniqueName('Typed'), [
      ['id', 'INTEGER'],
      ['tag', 'BINARY'],
    ]);
    const catalog: Catalog = {
      columns: { id: { type: 'long' }, tag: { type: 'binary' }, s: { type: 'string' }, l: { type: 'long' }, d: { type: 'double' }, b: { type: 'boolean' }, bin: { type: 'binary' } },
    };
    const sink = sinkFor(table, catalog);
    const bytes = new Uint8Array([9, 8, 7, 6]).subarray(1, 3);
    const summary = await sink.write(
      [
        { id: 2n ** 63n - 1n, tag: new Uint8Array([0xff]), s: 'max', l: -(2n ** 63n), d: 2n ** 60n, b: false, bin: bytes },
        { id: -(2n ** 63n), tag: new Uint8Array([]), s: 'min' },
        { id: 1, tag: new Uint8Array([1, 2]), s: 'one (number)', b: true },
        { id: 1n, tag: new Uint8Array([1, 2]), s: 'one (bigint) wins', l: Number.MAX_SAFE_INTEGER },
        { id: -0, tag: new Uint8Array([0]), s: 'zero', d: -1.5 },
      ],
      { batchId: 3 },
    );
    expect(summary.rows).toBe(4);
    expect(await readAll(table, ['id', 'tag'])).toEqual([
      { key: [-(2n ** 63n), []], columns: { s: 'min' } },
      { key: [0n, [0]], columns: { s: 'zero', d: -1.5 } },
      { key: [1n, [1, 2]], columns: { s: 'one (bigint) wins', l: BigInt(Number.MAX_SAFE_INTEGER) } },
      { key: [2n ** 63n - 1n, [0xff]], columns: { s: 'max', l: -(2n ** 63n), d: 2 ** 60, b: false, bin: [8, 7] } },
    ]);
    await sink.close();
  });

  it('writeTable writes a columnar batch as write writes the same rows, and commitAfter hands it a table batch as is', async () => {
    const columns = [
      ['id', 'INTEGER'],
      ['tag', 'BINARY'],
    ] as const;
    const [fromRows, fromTable, fromPipeline] = await Promise.all([createTable(uniqueName('Rows'), columns), createTable(uniqueName('Table'), columns), createTable(uniqueName('Piped'), columns)]);
    const catalog: Catalog = { columns: { id: { type: 'long' }, tag: { type: 'binary' }, s: { type: 'string' }, l: { type: 'long' }, d: { type: 'double' }, b: { type: 'boolean' } } };
    const rows: Record<string, Value>[] = Array.from({ length: 250 }, (_, i) => ({
      id: i % 3 === 0 ? BigInt(i) * 1_000_000_007n : i,
      tag: new Uint8Array([i % 7, i % 5]),
      s: i % 4 === 0 ? null : `row ${i}`,
      l: i % 5 === 0 ? null : -i,
      d: i / 8,
      b: i % 2 === 0,
    }));
    const table = tableFromRows(rows, ['id', 'tag', 's', 'l', 'd', 'b']);
    const sinks = [sinkFor(fromRows, catalog), sinkFor(fromTable, catalog), sinkFor(fromPipeline, catalog)] as const;
    const viaRows = await sinks[0].write(rows, { batchId: 1 });
    const viaTable = await sinks[1].writeTable(table, { batchId: 1 });
    expect(viaTable).toEqual(viaRows);
    const committed = await lastValueFrom(of({ ...recordBatch(0, []), rows: table }).pipe(commitAfter(sinks[2]), toArray()));
    expect(committed.map((batch) => batch.rowsWritten)).toEqual([250]);
    const expected = await readAll(fromRows, ['id', 'tag']);
    expect(expected).toHaveLength(250);
    expect(await readAll(fromTable, ['id', 'tag'])).toEqual(expected);
    expect(await readAll(fromPipeline, ['id', 'tag'])).toEqual(expected);
    await Promise.all(sinks.map((sink) => sink.close()));
  });

  it('refuses bad rows before writing anything, with a non-retryable error naming table, key and column', async () => {
    const table = await createTable(uniqueName('BadRows'), [
      ['begin', 'STRING'],
      ['end', 'STRING'],
    ]);
    const sink = sinkFor(table, { columns: { ...seedCatalog.columns, flag: { type: 'boolean' } } });
    const good = orderRow('2024-01-01T00:00:00.000Z', 1, 1);
    const cases: [OutputRow, RegExp, string][] = [
      [{ begin: 'b1', count: 1 }, /a row has no value for primary key column 'end' \(absent; other key values: begin="b1"\)/, 'end'],
      [{ begin: 'b1', end: null }, /no value for primary key column 'end' \(null; other key values: begin="b1"\)/, 'end'],
      [{ begin: null, end: null }, /no value for primary key column 'begin' \(null; other key values: none\)/, 'begin'],
      [{ begin: 'b', end: 'e', count: { start: 0, end: 30_000 } }, /row \(begin="b", end="e"\), column 'count' \(long\): window bounds \{start: 0, end: 30000\} cannot be stored/, 'count'],
      [{ begin: 'b', end: 'e', count: 1.5 }, /row \(begin="b", end="e"\), column 'count' \(long\): number 1\.5 cannot be written as long: not an integer/, 'count'],
      [{ begin: 'b', end: 'e', count: 2 ** 53 + 2 }, /column 'count' \(long\): integer 9007199254740994 cannot be written as long exactly/, 'count'],
      [{ begin: 'b', end: 'e', count: 2n ** 63n }, /column 'count' \(long\): bigint 9223372036854775808n cannot be written as long: outside the 64-bit range/, 'count'],
      [{ begin: 'b', end: 'e', count: '7' }, /column 'count' \(long\): string "7" cannot be written as long/, 'count'],
      [{ begin: 'b', end: 'e', totalPrice: Number.NaN }, /column 'totalPrice' \(double\): number NaN cannot be written as double: the service refuses NaN/, 'totalPrice'],
      [{ begin: 'b', end: 'e', flag: 1 }, /column 'flag' \(boolean\): integer 1 cannot be written as boolean/, 'flag'],
      [{ begin: 7, end: 'e' }, /row \(begin=7, end="e"\), primary key column 'begin' \(STRING\): integer 7 cannot be written as string/, 'begin'],
    ];
    for (const [row, message, column] of cases) {
      const error = await failure(sink.write([good, row], { batchId: 4 }));
      expect(error.message).toMatch(message);
      expect(error.message).toContain(`table '${table}'`);
      expect(error).toMatchObject({ code: 'InvalidRow', retryable: false, column, tableName: table });
      expect(isRetryableSinkError(error)).toBe(false);
    }
    expect(await readAll(table, ['begin', 'end'])).toEqual([]);
    await sink.close();
  });

  it('refuses a missing table, naming the table and the instance; a later open succeeds once it exists', async () => {
    const table = uniqueName('NotYet');
    const sink = sinkFor(table, seedCatalog);
    const error = await failure(sink.open());
    expect(error.message).toBe(`tablestore sink: table '${table}' does not exist in instance '${emulator.instanceName}' (Requested table does not exist.)`);
    expect(error).toMatchObject({ code: 'OTSObjectNotExist', retryable: false });
    expect((await failure(sink.write([orderRow('b', 1, 1)], { batchId: 0 }))).code).toBe('OTSObjectNotExist');
    expect(sink.keyColumns).toBeUndefined();
    await createTable(table, [
      ['begin', 'STRING'],
      ['end', 'STRING'],
    ]);
    await sink.write([orderRow('2024-01-01T00:00:00.000Z', 1, 1)], { batchId: 1 });
    expect(sink.keyColumns).toEqual(['begin', 'end']);
    await sink.close();
  });

  it('refuses a catalog that cannot fill the primary key: a key column missing, an incompatible type, auto-increment', async () => {
    const table = await createTable(uniqueName('Keys'), [
      ['begin', 'STRING'],
      ['end', 'STRING'],
    ]);
    const missing = await failure(sinkFor(table, { columns: { begin: { type: 'string' }, count: { type: 'long' } } }).open());
    expect(missing.message).toBe(`tablestore sink: table '${table}': primary key column 'end' (STRING) is not in the sink's catalog (catalog columns: begin, count)`);
    expect(missing).toMatchObject({ code: 'SchemaMismatch', column: 'end', retryable: false });

    const mistyped = await failure(sinkFor(table, { columns: { begin: { type: 'string' }, end: { type: 'long' } } }).open());
    expect(mistyped.message).toContain(`primary key column 'end' is STRING, but the catalog types it 'long'`);

    const ints = await createTable(uniqueName('IntKeys'), [['id', 'INTEGER']]);
    expect((await failure(sinkFor(ints, { columns: { id: { type: 'double' } } }).open())).message).toContain(
      `table '${ints}': primary key column 'id' is INTEGER, but the catalog types it 'double' (a INTEGER key is written from 'long')`,
    );
    const bins = await createTable(uniqueName('BinKeys'), [['id', 'BINARY']]);
    expect((await failure(sinkFor(bins, { columns: { id: { type: 'string' } } }).open())).column).toBe('id');

    const auto = await createTable(uniqueName('AutoInc'), [
      ['p', 'STRING'],
      ['seq', 'INTEGER', 'AUTO_INCREMENT'],
    ]);
    expect((await failure(sinkFor(auto, { columns: { p: { type: 'string' }, seq: { type: 'long' } } }).open())).message).toContain(
      `primary key column 'seq' is auto-increment`,
    );
    const badName = await failure(sinkFor(table, { columns: { ...seedCatalog.columns, 'total price': { type: 'double' } } }).open());
    expect(badName.message).toContain('attribute column name "total price" is not a valid Tablestore column name');
  });

  it("refuses an attribute named 'timestamp' (the SDK makes its value the cell version); a key column of that name works", async () => {
    // the SDK quirk itself, pinned: an attribute entry's `timestamp` key is read as the version of its first column
    const probe = await createTable(uniqueName('TimestampQuirk'), [['k', 'STRING']]);
    const version = Date.now() - 1_000;
    await ok(sdk, 'putRow', { tableName: probe, condition: condition('IGNORE'), primaryKey: [{ k: 'a' }], attributeColumns: [{ timestamp: long(version) }] });
    const read = await ok(sdk, 'getRow', { tableName: probe, primaryKey: [{ k: 'a' }], maxVersions: 1 });
    expect((read.row.attributes as Sdk[]).map((a) => [a.columnName, plain(a.columnValue), plain(a.timestamp)])).toEqual([['timestamp', BigInt(version), BigInt(version)]]);
    // …so a small value is an invalid version and the row is refused
    const refused = await ok(sdk, 'batchWriteRow', {
      tables: [{ tableName: probe, rows: [{ type: 'PUT', condition: condition('IGNORE'), primaryKey: [{ k: 'b' }], attributeColumns: [{ timestamp: long(3) }] }] }],
    });
    expect(refused.tables[0]).toMatchObject({ isOk: false, errorCode: 'OTSParameterInvalid' });

    const table = await createTable(uniqueName('Events'), [['k', 'STRING']]);
    const error = await failure(sinkFor(table, { columns: { k: { type: 'string' }, timestamp: { type: 'long' } } }).open());
    expect(error.message).toContain(`table '${table}': attribute column 'timestamp' cannot be written through the Node SDK`);
    expect(error).toMatchObject({ code: 'SchemaMismatch', column: 'timestamp' });

    const keyed = await createTable(uniqueName('KeyedByTime'), [['timestamp', 'INTEGER']]);
    const sink = sinkFor(keyed, { columns: { timestamp: { type: 'long' }, n: { type: 'long' } } });
    await sink.write([{ timestamp: 3, n: 1 }], { batchId: 0 });
    expect(await readAll(keyed, ['timestamp'])).toEqual([{ key: [3n], columns: { n: 1n } }]);
    await sink.close();
  });

  it('retries only the rows the service failed with a retriable code, then succeeds', async () => {
    const table = await createTable(uniqueName('Flaky'), [['k', 'STRING']]);
    faults.set(faultKey(table, ['k3']), 1);
    faults.set(faultKey(table, ['k7']), 2);
    const start = seenCommits.length;
    const sink = sinkFor(table, { columns: { k: { type: 'string' }, n: { type: 'long' } } });
    const rows = Array.from({ length: 10 }, (_, i) => ({ k: `k${i}`, n: i }));
    const summary = await sink.write(rows, { batchId: 5 });
    // round 1: 10 rows, k3 and k7 fail; round 2: both again, k7 fails; round 3: k7
    expect(summary).toMatchObject({ rows: 10, requests: 3, retriedRows: 3 });
    const commits = seenCommits.slice(start);
    expect(commits.filter((key) => key === faultKey(table, ['k3']))).toHaveLength(2);
    expect(commits.filter((key) => key === faultKey(table, ['k7']))).toHaveLength(3);
    expect(commits.filter((key) => key === faultKey(table, ['k0']))).toHaveLength(1);
    expect((await readAll(table, ['k'])).map((row) => row.columns.n)).toEqual(rows.map((row) => BigInt(row.n)));
    await sink.close();
  });

  it('waits between its retries on the scheduler it is given: the default delays, in virtual time', async () => {
    const table = await createTable(uniqueName('Virtual'), [['k', 'STRING']]);
    faults.set(faultKey(table, ['slow']), 2);
    const scheduler = new VirtualTimeScheduler();
    // default retry policy (100 ms, doubling), jitter drawn at its middle: waits of exactly 100 and 200 ms
    const sink = sinkFor(table, { columns: { k: { type: 'string' }, n: { type: 'long' } } }, { retry: { random: () => 0.5 }, scheduler });
    let settled = false;
    const written = sink.write([{ k: 'slow', n: 1 }], { batchId: 1 }).finally(() => {
      settled = true;
    });
    while (!settled) {
      await new Promise((resolve) => setTimeout(resolve, 2));
      scheduler.flush();
    }
    await written;
    expect(scheduler.now()).toBe(300);
    expect(faults.get(faultKey(table, ['slow']))).toBe(0);
    expect((await readAll(table, ['k'])).map((row) => row.columns)).toEqual([{ n: 1n }]);
    await sink.close();
  });

  it('gives up after its attempts with a retryable error, which commitAfter then retries', async () => {
    const table = await createTable(uniqueName('Stuck'), [['k', 'STRING']]);
    faults.set(faultKey(table, ['stuck']), 4);
    const sink = sinkFor(table, { columns: { k: { type: 'string' }, n: { type: 'long' } } }, { retry: { maxAttempts: 3, initialMs: 1, maxMs: 5 } });
    const error = await failure(sink.write([{ k: 'ok', n: 1 }, { k: 'stuck', n: 2 }], { batchId: 6 }));
    expect(error.message).toMatch(
      new RegExp(`^tablestore sink: table '${table}': 1 row\\(s\\) of batch 6 still failing after 3 attempt\\(s\\) \\(first: k="stuck"\\): OTSInternalServerError: Internal server error`),
    );
    expect(error).toMatchObject({ code: 'OTSInternalServerError', retryable: true, primaryKey: 'k="stuck"' });
    expect(isRetryableSinkError(error)).toBe(true);

    // through commitAfter: the batch's second write (the fault budget is spent by then) succeeds
    const acked: number[] = [];
    const batch = { ...recordBatch(8, [{ k: 'stuck', n: 3 }] as readonly OutputRow[]), acks: [() => void acked.push(8)] };
    faults.set(faultKey(table, ['stuck']), 3);
    const committed = await lastValueFrom(of(batch).pipe(commitAfter(sink, { retry: { initialMs: 1, retryable: isRetryableSinkError } }), toArray()));
    expect(committed.map((c) => [c.batchId, c.attempts])).toEqual([[8, 2]]);
    expect(acked).toEqual([8]);
    expect((await readAll(table, ['k'])).find((row) => row.key[0] === 'stuck')?.columns).toEqual({ n: 3n });

    // and a non-retryable error ends the stream at the first attempt
    const bad = { ...recordBatch(9, [{ k: 'x', n: 0.5 }] as readonly OutputRow[]) };
    const ended = await lastValueFrom(of(bad).pipe(commitAfter(sink, { retry: { initialMs: 1, retryable: isRetryableSinkError } }))).catch((e: unknown) => e);
    expect(ended).toBeInstanceOf(SinkWriteError);
    expect((ended as SinkWriteError).attempts).toBe(1);
    await sink.close();
  });

  it('fails on a row the service refuses for good, naming the key, the code and the message', async () => {
    const table = await createTable(uniqueName('Refused'), [['k', 'STRING']]);
    const sink = sinkFor(table, { columns: { k: { type: 'string' }, n: { type: 'long' } } });
    const longKey = 'k'.repeat(2_000);
    const error = await failure(sink.write([{ k: 'fine', n: 1 }, { k: longKey, n: 2 }], { batchId: 2 }));
    expect(error.message).toMatch(new RegExp(`^tablestore sink: table '${table}': row \\(k="k{76}\\.\\.\\.\\) was refused: OTSParameterInvalid: The length of primary key column: 'k' exceeds`));
    expect(error).toMatchObject({ code: 'OTSParameterInvalid', retryable: false });
    expect(error.primaryKey).toContain('k="kkk');
    await sink.close();
  });

  it('splits a request the service finds too large and carries on with smaller ones', async () => {
    const table = await createTable(uniqueName('Large'), [['k', 'STRING']]);
    const catalog: Catalog = { columns: { k: { type: 'string' }, blob: { type: 'string' } } };
    // 150 rows of 30 KB: 4.5 MB, over the 4 MB BatchWriteRow limit but under the emulator's 5 MiB body limit
    const rows = Array.from({ length: 150 }, (_, i) => ({ k: `k${String(i).padStart(3, '0')}`, blob: String(i % 10).repeat(30_000) }));
    const recorder = recordingClient();
    const greedy = sinkFor(table, catalog, { client: recorder.client, maxBytesPerRequest: 64 * 1024 * 1024 });
    const summary = await greedy.write(rows, { batchId: 0 });
    expect(summary.splits).toBe(1);
    expect(recorder.requests.map((r) => r.rows)).toEqual([150, 120, 30]);
    // the next write starts from the smaller size (EMR's 80 %, growing by 10 per success)
    recorder.requests.length = 0;
    await greedy.write(rows, { batchId: 1 });
    expect(recorder.requests[0]?.rows).toBeLessThanOrEqual(140);
    expect(await readAll(table, ['k'])).toHaveLength(150);

    const sized = recordingClient();
    const sink = sinkFor(table, catalog, { client: sized.client });
    expect(await sink.write(rows, { batchId: 2 })).toMatchObject({ splits: 0, requests: 2 });
    await Promise.all([greedy.close(), sink.close()]);
  });

  it('retries requests cut off by the network, and everything is written', async () => {
    const table = await createTable(uniqueName('Chaos'), [['k', 'STRING']]);
    const proxy = await startChaosProxy({ host: emulator.host, port: emulator.port }, 0.3, 7);
    try {
      const sink = sinkFor(table, { columns: { k: { type: 'string' }, n: { type: 'long' } } }, { endpoint: proxy.endpoint, maxRowsPerRequest: 20, retry: { maxAttempts: 30, initialMs: 1, maxMs: 5 } });
      const rows = Array.from({ length: 200 }, (_, i) => ({ k: `k${String(i).padStart(3, '0')}`, n: i }));
      const summary = await sink.write(rows, { batchId: 0 });
      expect(proxy.dropped()).toBeGreaterThan(0);
      expect(summary.retriedRows).toBeGreaterThan(0);
      expect(await readAll(table, ['k'])).toHaveLength(200);
      await sink.close();
    } finally {
      await proxy.close();
    }
  });

  it('retries whole requests the service answers with a retriable error, and fails at once on one that is not', async () => {
    const table = await createTable(uniqueName('Answers'), [['k', 'STRING']]);
    const proxy = await scriptedProxy();
    try {
      const sink = sinkFor(table, { columns: { k: { type: 'string' }, n: { type: 'long' } } }, { endpoint: proxy.endpoint, maxRowsPerRequest: 2, concurrency: 1 });
      proxy.script.push([503, 'OTSServerBusy', 'Server is busy.'], [409, 'OTSRowOperationConflict', 'Data is being modified by the other request.'], [500, 'OTSInternalServerError', 'Internal server error.']);
      const summary = await sink.write([{ k: 'a', n: 1 }, { k: 'b', n: 2 }, { k: 'c', n: 3 }], { batchId: 0 });
      expect(proxy.answered()).toBe(3);
      // round 1: [a, b] busy, [c] conflict; round 2: [a, b] internal error, [c] written; round 3: [a, b] written
      expect(summary).toMatchObject({ rows: 3, requests: 5, retriedRows: 5 });
      expect(await readAll(table, ['k'])).toHaveLength(3);

      proxy.script.push([403, 'OTSAuthFailed', 'Signature mismatch.']);
      const refused = await failure(sink.write([{ k: 'd', n: 4 }], { batchId: 1 }));
      expect(refused.message).toBe(`tablestore sink: table '${table}': row (k="d") failed: OTSAuthFailed: Signature mismatch.`);
      expect(refused).toMatchObject({ code: 'OTSAuthFailed', retryable: false, requestId: 'scripted-4', primaryKey: 'k="d"' });
      expect(proxy.answered()).toBe(4);
      await sink.close();
    } finally {
      await proxy.close();
    }
  });

  it('names the table and the instance when the table is dropped under an open sink', async () => {
    const table = await createTable(uniqueName('Dropped'), [['k', 'STRING']]);
    const sink = sinkFor(table, { columns: { k: { type: 'string' }, n: { type: 'long' } } });
    await sink.open();
    await ok(sdk, 'deleteTable', { tableName: table });
    const error = await failure(sink.write([{ k: 'a', n: 1 }], { batchId: 0 }));
    expect(error.message).toBe(
      `tablestore sink: table '${table}': row (k="a") was refused: OTSObjectNotExist: Requested table does not exist. (table '${table}' does not exist in instance '${emulator.instanceName}')`,
    );
    expect(error.retryable).toBe(false);
    await sink.close();
  });

  it('never shows the secret: not in errors (auth, network), toString, inspect or JSON', async () => {
    const table = await createTable(uniqueName('Secret'), [
      ['begin', 'STRING'],
      ['end', 'STRING'],
    ]);
    const sink = sinkFor(table, seedCatalog);
    await sink.open();
    for (const text of [String(sink), `${sink}`, inspect(sink, { showHidden: true, depth: Infinity }), JSON.stringify(sink)]) {
      expect(text).not.toContain(SECRET);
      expect(text).toContain(table);
    }
    const wrongSecret = 'not-the-secret-3f9a1c';
    const denied = sinkFor(table, seedCatalog, { accessKeySecret: wrongSecret });
    const error = await failure(denied.open());
    expect(error.message).toBe(
      `tablestore sink: table '${table}' in instance '${emulator.instanceName}': access to instance '${emulator.instanceName}' with access key '${emulator.credentials.accessKeyId}' refused: OTSAuthFailed: Signature mismatch.`,
    );
    expect(error.retryable).toBe(false);
    for (const text of [error.message, inspect(error, { showHidden: true, depth: Infinity }), String(denied), inspect(denied, { showHidden: true })]) {
      expect(text).not.toContain(wrongSecret);
    }
    // an endpoint nobody listens on: retryable, after the sink's own attempts
    const unreachable = sinkFor(table, seedCatalog, { endpoint: 'http://127.0.0.1:1', retry: { maxAttempts: 2, initialMs: 1 } });
    const network = await failure(unreachable.open());
    expect(network.message).toMatch(/DescribeTable failed after 2 attempt\(s\): NetworkingError: connect ECONNREFUSED/);
    expect(network.retryable).toBe(true);
    await Promise.all([sink.close(), denied.close(), unreachable.close()]);
  });

  it('close() ends retry waits at once, waits for requests in flight, and refuses writes afterwards', async () => {
    const table = await createTable(uniqueName('Closing'), [['k', 'STRING']]);
    faults.set(faultKey(table, ['slow']), 100);
    const sink = sinkFor(table, { columns: { k: { type: 'string' }, n: { type: 'long' } } }, { retry: { initialMs: 60_000 } });
    await sink.open();
    const pending = sink.write([{ k: 'slow', n: 1 }], { batchId: 0 });
    const outcome = pending.then(
      () => 'written',
      (e: unknown) => e,
    );
    // let the first attempt fail and the write start waiting
    for (let i = 0; i < 100 && !seenCommits.includes(faultKey(table, ['slow'])); i++) await new Promise((resolve) => setTimeout(resolve, 10));
    // the failed attempt's answer is back within a few ms on loopback: the write now waits 60 s to retry
    await new Promise((resolve) => setTimeout(resolve, 150));
    const began = Date.now();
    await sink.close();
    expect(Date.now() - began).toBeLessThan(5_000);
    const error = await outcome;
    expect(error).toBeInstanceOf(TablestoreSinkError);
    expect(error).toMatchObject({ code: 'SinkClosed', retryable: false });
    expect((error as Error).message).toBe(
      `tablestore sink: table '${table}': the sink is closed, 1 row(s) of batch 0 not written (last error OTSInternalServerError: Internal server error: injected fault for ${faultKey(table, ['slow'])})`,
    );
    expect((await failure(sink.write([{ k: 'late', n: 1 }], { batchId: 1 }))).code).toBe('SinkClosed');
    await sink.close();
    faults.delete(faultKey(table, ['slow']));
  });
});
