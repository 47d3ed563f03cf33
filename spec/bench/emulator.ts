/**
 * Emulator throughput through the official SDK (`npx tsx spec/bench/emulator.ts`):
 *  1. PutRow rows/s, one request at a time and with 64 / 256 in flight (group commit: one fsync
 *     serves every request that arrived during the previous one);
 *  2. BatchWriteRow rows/s with 200-row batches, 1 and 4 in flight;
 *  3. GetRange rows/s, scanning the table in 5000-row pages.
 * The emulator runs in a child process (as users run it), so client and server each get a core.
 * Every acknowledged write is durable (fsynced) before its response. Sizes scale with BENCH_ROWS.
 */
import { tempDir } from '../emulator/helpers.js';
import { spawnTs, waitForOutput } from '../emulator/process.js';
import { type EndpointInfo, type Sdk, TableStore, call, condition, long, ok, sdkClient } from '../emulator/sdk.js';

const ROWS = Number(process.env.BENCH_ROWS ?? 20_000);
const TABLE = 'bench';

const row = (i: number) => ({
  primaryKey: [{ user: `user-${(i * 7919) % 5000}` }, { order: `order-${i.toString().padStart(9, '0')}` }],
  attributeColumns: [{ price: 10 + (i % 1000) / 10 }, { qty: long(i % 17) }, { note: 'benchmark row' }],
});

const rate = (rows: number, ms: number) => `${Math.round((rows / ms) * 1000).toLocaleString('en-US')} rows/s`;

const timed = async (label: string, rows: number, body: () => Promise<void>) => {
  const started = performance.now();
  await body();
  const ms = performance.now() - started;
  console.log(`${label.padEnd(44)} ${rows.toString().padStart(7)} rows in ${ms.toFixed(0).padStart(6)} ms  ${rate(rows, ms).padStart(16)}`);
};

/** Runs `count` tasks with at most `parallel` in flight. */
const pool = async (count: number, parallel: number, task: (i: number) => Promise<void>) => {
  let next = 0;
  await Promise.all(
    Array.from({ length: parallel }, async () => {
      while (next < count) await task(next++);
    }),
  );
};

const main = async () => {
  const dir = tempDir('bench-emulator');
  const child = spawnTs('spec/emulator/fixtures/emulator-process.ts', [dir.path]);
  try {
    const [line] = await waitForOutput(child, /^\{.*\}$/m);
    const info = JSON.parse(line) as EndpointInfo;
    const client: Sdk = sdkClient(info);
    await ok(client, 'createTable', {
      tableMeta: { tableName: TABLE, primaryKey: [{ name: 'user', type: 'STRING' }, { name: 'order', type: 'STRING' }] },
      reservedThroughput: { capacityUnit: { read: 0, write: 0 } },
      tableOptions: { timeToLive: -1, maxVersions: 1 },
    });
    const put = async (i: number) => {
      const result = await call(client, 'putRow', { tableName: TABLE, condition: condition('IGNORE'), ...row(i) });
      if (!result.ok) throw new Error(JSON.stringify(result.error));
    };
    const batch = async (first: number) => {
      const rows = Array.from({ length: 200 }, (_, k) => ({ type: 'PUT', condition: condition('IGNORE'), ...row(first + k) }));
      const result = await ok(client, 'batchWriteRow', { tables: [{ tableName: TABLE, rows }] });
      if (!result.tables.every((r: Sdk) => r.isOk)) throw new Error('batch row failed');
    };

    console.log(`emulator benchmark — ${ROWS} rows per phase, rows of 2 string PK columns + 3 attributes`);
    const sequential = Math.min(ROWS, 2000);
    await timed('PutRow, 1 in flight', sequential, () => pool(sequential, 1, (i) => put(i)));
    await timed('PutRow, 64 in flight', ROWS, () => pool(ROWS, 64, (i) => put(1_000_000 + i)));
    await timed('PutRow, 256 in flight', ROWS, () => pool(ROWS, 256, (i) => put(5_000_000 + i)));
    await timed('BatchWriteRow (200 rows), 1 in flight', ROWS, () => pool(ROWS / 200, 1, (b) => batch(2_000_000 + b * 200)));
    await timed('BatchWriteRow (200 rows), 4 in flight', ROWS, () => pool(ROWS / 200, 4, (b) => batch(3_000_000 + b * 200)));

    const total = sequential + 4 * ROWS;
    let scanned = 0;
    await timed('GetRange (pages of 5000), whole table', total, async () => {
      let start: Sdk[] = [{ user: TableStore.INF_MIN }, { order: TableStore.INF_MIN }];
      for (;;) {
        const page = await ok(client, 'getRange', {
          tableName: TABLE,
          direction: TableStore.Direction.FORWARD,
          inclusiveStartPrimaryKey: start,
          exclusiveEndPrimaryKey: [{ user: TableStore.INF_MAX }, { order: TableStore.INF_MAX }],
          limit: 5000,
        });
        scanned += page.rows.length;
        if (page.nextStartPrimaryKey === null) break;
        start = page.nextStartPrimaryKey.map((c: Sdk) => ({ [c.name]: c.value }));
      }
    });
    if (scanned !== total) throw new Error(`GetRange returned ${scanned} rows, expected ${total}`);
  } finally {
    child.child.kill('SIGTERM');
    await child.exited;
    dir.remove();
  }
};

await main();
