/**
 * The seed job end to end: `npx tsx spec/bench/seed-job.ts` (ROWS=250000 by default).
 *
 * Three processes, so the job's CPU is measured alone:
 *   1. the emulator with its tunnel service (tunnel-client-emulator.ts);
 *   2. this process: creates OrderSource, OrderStreamSink and a Stream tunnel with the official SDK
 *      and writes ROWS orders (BatchWriteRow of 200) before the job starts, so the job reads a
 *      backlog at full speed;
 *   3. the job (seed-job-run.ts), RUNS times (default 3) one after the other, each on a tunnel of
 *      its own over the same records: the seed SQL (examples/orders/job.sql: 30-second
 *      windows, update mode, sink OrderStreamSink, a checkpoint location) until every record is
 *      committed; it reports its own user+system CPU from start() to the last commit.
 * The machine's other load moves the CPU figure between runs: the minimum and the median are
 * printed. Then the sink is read back with the SDK and checked against the per-window counts and totals
 * computed here from the written orders.
 *
 * PROFILE=dir writes a V8 CPU profile of the job process's run (start() to the last commit) into
 * dir (the profiler costs CPU itself: measure without it).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import * as E from 'fp-ts/lib/Either.js';
import { createHttpTransport } from '../../lib/tunnel/http-transport.js';
import { tunnelControl } from '../../lib/tunnel/control.js';
import { createOrderSinkTable, createOrderTable, order, ORDER_TABLE, readOrderSink, sdkClient, utcBound, windowTotals, writeOrders, type WindowTotal } from '../tunnel/emulator-harness.js';

const ROWS = Number(process.env['ROWS'] ?? 250_000);
/** job runs, each over a Stream tunnel of its own created before the writes (so each reads all ROWS) */
const RUNS = Number(process.env['RUNS'] ?? 3);

interface Endpoint {
  readonly endpoint: string;
  readonly instanceName: string;
  readonly credentials: { readonly accessKeyId: string; readonly accessKeySecret: string };
}

export interface JobRun {
  readonly records: number;
  readonly batches: number;
  readonly rowsWritten: number;
  readonly seconds: number;
  readonly cpuUserUs: number;
  readonly cpuSystemUs: number;
}

const firstLine = (stream: NodeJS.ReadableStream): Promise<string> => new Promise((resolve) => createInterface({ input: stream }).once('line', resolve));

const dataDir = mkdtempSync(join(tmpdir(), 'otsflow-bench-seed-job-'));
const emulatorProcess = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(new URL('./tunnel-client-emulator.ts', import.meta.url)), join(dataDir, 'data')], {
  stdio: ['ignore', 'pipe', 'inherit'],
});
const emulator = JSON.parse(await firstLine(emulatorProcess.stdout as NodeJS.ReadableStream)) as Endpoint;
const sdk = sdkClient(emulator);

/** begin|end (UTC, as the job prints them: it runs with TZ=UTC below) → count and total, straight from the written orders */
function expectedWindows(): Map<string, WindowTotal> {
  const orders = [];
  for (let n = 0; n < ROWS; n++) orders.push(order(n));
  return windowTotals(orders, 30_000, utcBound);
}

const cents = (price: number | undefined): number | undefined => (price === undefined ? undefined : Math.round(price * 100));

try {
  await createOrderTable(sdk);
  await createOrderSinkTable(sdk);
  const transport = createHttpTransport({ endpoint: emulator.endpoint, instance: emulator.instanceName, credentials: emulator.credentials, requestTimeoutMs: 60_000 });
  const tunnelIds: string[] = [];
  for (let run = 0; run < RUNS; run++) {
    const created = await tunnelControl(transport).createTunnel({ tableName: ORDER_TABLE, tunnelName: `bench-seed-${run}`, tunnelType: 'Stream' });
    if (E.isLeft(created)) throw created.left;
    tunnelIds.push(created.right.tunnelId);
  }
  transport.close();
  const writeStarted = performance.now();
  await writeOrders(sdk, 0, ROWS, 200);
  console.log(`setup: wrote ${ROWS.toLocaleString('en-US')} orders with BatchWriteRow of 200 in ${((performance.now() - writeStarted) / 1000).toFixed(1)} s`);

  const runs: JobRun[] = [];
  for (const [run, tunnelId] of tunnelIds.entries()) {
    const jobProcess = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(new URL('./seed-job-run.ts', import.meta.url))], {
      stdio: ['ignore', 'pipe', 'inherit'],
      env: {
        ...process.env,
        TZ: 'UTC',
        SEED_JOB: JSON.stringify({ ...emulator, tunnelId, rows: ROWS, checkpoint: join(dataDir, `checkpoint-${run}`) }),
      },
    });
    const result = JSON.parse(await firstLine(jobProcess.stdout as NodeJS.ReadableStream)) as JobRun;
    const exitCode = await new Promise<number | null>((resolve) => jobProcess.once('exit', resolve));
    if (exitCode !== 0) throw new Error(`the job process exited with ${exitCode}`);
    runs.push(result);
    const cpuUs = result.cpuUserUs + result.cpuSystemUs;
    console.log(
      `run ${run + 1}: ${result.records.toLocaleString('en-US')} records in ${result.seconds.toFixed(2)} s = ${Math.round(result.records / result.seconds).toLocaleString('en-US')} records/s; ` +
        `job process CPU ${(cpuUs / 1e6).toFixed(2)} s (user ${(result.cpuUserUs / 1e6).toFixed(2)}, system ${(result.cpuSystemUs / 1e6).toFixed(2)}) = ${(cpuUs / result.records).toFixed(2)} µs/record; ` +
        `${result.batches} batches, ${result.rowsWritten} sink rows written`,
    );
  }
  const perRecord = runs.map((run) => (run.cpuUserUs + run.cpuSystemUs) / run.records).sort((a, b) => a - b);
  const rates = runs.map((run) => run.records / run.seconds).sort((a, b) => b - a);
  const median = <T>(sorted: readonly T[]): T => sorted[Math.floor((sorted.length - 1) / 2)] as T;
  console.log(
    `seed job (30 s windows, update mode, OrderStreamSink), ${ROWS.toLocaleString('en-US')} records, ${RUNS} runs: job process CPU ${perRecord[0]!.toFixed(2)} µs/record at best, ` +
      `${median(perRecord).toFixed(2)} median; ${Math.round(rates[0]!).toLocaleString('en-US')} records/s at best, ${Math.round(median(rates)).toLocaleString('en-US')} median`,
  );

  const expected = expectedWindows();
  const actual = await readOrderSink(sdk);
  const wrong = [...expected].filter(([key, want]) => actual.get(key)?.count !== want.count || cents(actual.get(key)?.totalPrice) !== cents(want.totalPrice));
  if (wrong.length > 0 || actual.size !== expected.size) {
    throw new Error(`the sink disagrees with the direct computation: ${wrong.length} of ${expected.size} windows differ, ${actual.size} windows in the sink`);
  }
  console.log(`check: OrderStreamSink holds the ${expected.size} windows with the counts and totals computed from the written orders`);
} finally {
  emulatorProcess.kill('SIGTERM');
  await new Promise((resolve) => emulatorProcess.once('exit', resolve));
  rmSync(dataDir, { recursive: true, force: true });
}
