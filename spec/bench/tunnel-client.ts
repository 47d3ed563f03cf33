/**
 * Tunnel client throughput and memory: `npx tsx spec/bench/tunnel-client.ts` (ROWS=200000 by
 * default). The emulator runs in a child process; this process writes OrderSource-like rows with
 * the official SDK, then consumes 4-channel tunnels with tunnel():
 *   1. BaseData tunnel, a subscriber that commits every batch at once → records/s
 *   2. Stream tunnel over the same writes → records/s
 *   3. BaseData tunnel again with a subscriber 10× slower than run 1 (one batch at a time) →
 *      heap/RSS high-water marks and the most uncommitted batches/records ever held.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { tunnel } from '../../lib/tunnel/tunnel.js';
import { createHttpTransport } from '../../lib/tunnel/http-transport.js';
import { tunnelControl } from '../../lib/tunnel/control.js';
import type { TunnelType } from '../../lib/tunnel/control.js';
import type { ChannelBatch } from '../../lib/tunnel/model.js';
import { createOrderTable, ORDER_TABLE, sdkClient, writeOrders } from '../tunnel/emulator-harness.js';

const ROWS = Number(process.env['ROWS'] ?? 200_000);
const MAX_IN_FLIGHT = 2;

interface Endpoint {
  readonly endpoint: string;
  readonly instanceName: string;
  readonly credentials: { readonly accessKeyId: string; readonly accessKeySecret: string };
}

const dataDir = mkdtempSync(join(tmpdir(), 'otsflow-bench-tunnel-client-'));
const child = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(new URL('./tunnel-client-emulator.ts', import.meta.url)), dataDir], {
  stdio: ['ignore', 'pipe', 'inherit'],
});
const emulator = await new Promise<Endpoint>((resolve) => {
  createInterface({ input: child.stdout as NodeJS.ReadableStream }).once('line', (line) => resolve(JSON.parse(line) as Endpoint));
});

const sdk = sdkClient(emulator);
const transport = createHttpTransport({ endpoint: emulator.endpoint, instance: emulator.instanceName, credentials: emulator.credentials, requestTimeoutMs: 60_000 });
const control = tunnelControl(transport);

async function createTunnel(tunnelName: string, tunnelType: TunnelType): Promise<string> {
  const created = await control.createTunnel({ tableName: ORDER_TABLE, tunnelName, tunnelType });
  if (created._tag === 'Left') throw created.left;
  return created.right.tunnelId;
}

const options = (tunnelId: string) => ({
  endpoint: emulator.endpoint,
  instance: emulator.instanceName,
  credentials: emulator.credentials,
  tunnelId,
  heartbeatIntervalMs: 200,
  heartbeatTimeoutMs: 5_000,
  maxInFlightBatchesPerChannel: MAX_IN_FLIGHT,
  readBackoff: { initialMs: 5, multiplier: 2, maxMs: 100 },
  clientTag: 'bench',
});

interface RunResult {
  readonly records: number;
  readonly batches: number;
  readonly seconds: number;
  readonly heapPeakMb: number;
  readonly rssPeakMb: number;
  readonly heapStartMb: number;
  readonly maxUncommittedBatches: number;
  readonly maxUncommittedRecords: number;
  /** CPU seconds this (client) process spent during the run */
  readonly clientCpuSeconds: number;
}

/** Consumes `tunnelId` until `target` records arrived; `processMs(batch)` > 0 makes a serial slow subscriber. */
function consume(tunnelId: string, target: number, processMs: (batch: ChannelBatch) => number): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const mb = (bytes: number) => Math.round((bytes / 2 ** 20) * 10) / 10;
    const heapStart = process.memoryUsage().heapUsed;
    let heapPeak = heapStart;
    let rssPeak = process.memoryUsage().rss;
    const sampler = setInterval(() => {
      const usage = process.memoryUsage();
      heapPeak = Math.max(heapPeak, usage.heapUsed);
      rssPeak = Math.max(rssPeak, usage.rss);
    }, 10);
    let records = 0;
    let batches = 0;
    let uncommittedBatches = 0;
    let uncommittedRecords = 0;
    let maxUncommittedBatches = 0;
    let maxUncommittedRecords = 0;
    const queue: ChannelBatch[] = [];
    let busy = false;
    const started = performance.now();
    const cpuStart = process.cpuUsage();
    let done = false;
    const commit = (batch: ChannelBatch): void => {
      uncommittedBatches--;
      uncommittedRecords -= batch.records.length;
      records += batch.records.length;
      void batch.commit();
      if (records >= target && !done) {
        done = true;
        const seconds = (performance.now() - started) / 1000;
        const cpu = process.cpuUsage(cpuStart);
        clearInterval(sampler);
        subscription.unsubscribe();
        resolve({
          records,
          batches,
          seconds,
          heapPeakMb: mb(heapPeak),
          rssPeakMb: mb(rssPeak),
          heapStartMb: mb(heapStart),
          maxUncommittedBatches,
          maxUncommittedRecords,
          clientCpuSeconds: (cpu.user + cpu.system) / 1e6,
        });
      }
    };
    const drain = (): void => {
      if (busy || done) return;
      const next = queue.shift();
      if (next === undefined) return;
      busy = true;
      setTimeout(() => {
        busy = false;
        commit(next);
        drain();
      }, processMs(next));
    };
    const subscription = tunnel(options(tunnelId)).subscribe({
      next: (batch) => {
        batches++;
        uncommittedBatches++;
        uncommittedRecords += batch.records.length;
        maxUncommittedBatches = Math.max(maxUncommittedBatches, uncommittedBatches);
        maxUncommittedRecords = Math.max(maxUncommittedRecords, uncommittedRecords);
        if (processMs(batch) === 0) commit(batch);
        else {
          queue.push(batch);
          drain();
        }
      },
      error: reject,
    });
  });
}

const report = (label: string, run: RunResult): void => {
  console.log(
    `${label}: ${run.records} records in ${run.seconds.toFixed(2)} s = ${Math.round(run.records / run.seconds).toLocaleString('en-US')} records/s ` +
      `(${run.batches} batches, ~${Math.round(run.records / run.batches)} per batch, client CPU ${run.clientCpuSeconds.toFixed(2)} s); heap ${run.heapStartMb} → peak ${run.heapPeakMb} MB, ` +
      `RSS peak ${run.rssPeakMb} MB; at most ${run.maxUncommittedBatches} batches / ${run.maxUncommittedRecords} records uncommitted`,
  );
};

try {
  await createOrderTable(sdk);
  const streamTunnel = await createTunnel('bench-stream', 'Stream');
  const writeStarted = performance.now();
  await writeOrders(sdk, 0, ROWS, 200);
  console.log(`setup: wrote ${ROWS} rows with BatchWriteRow of 200 in ${((performance.now() - writeStarted) / 1000).toFixed(1)} s`);

  const base = await consume(await createTunnel('bench-base', 'BaseData'), ROWS, () => 0);
  report('base data, 4 channels, commit every batch', base);
  const stream = await consume(streamTunnel, ROWS, () => 0);
  report('stream, 4 channels, commit every batch   ', stream);

  // 10× slower than run 1, per record, one batch at a time
  const fastMsPerRecord = (base.seconds * 1000) / base.records;
  const slowTarget = Math.min(ROWS, 50_000);
  const slow = await consume(await createTunnel('bench-slow', 'BaseData'), slowTarget, (batch) => batch.records.length * fastMsPerRecord * 10);
  report(`slow subscriber (10×: ${(fastMsPerRecord * 10 * 1000).toFixed(1)} µs/record)`, slow);
  console.log(
    `bound: ${4 * MAX_IN_FLIGHT} batches (4 channels × ${MAX_IN_FLIGHT} in flight); heap growth at peak ${(slow.heapPeakMb - slow.heapStartMb).toFixed(1)} MB while ` +
      `${slowTarget} records passed through`,
  );
} finally {
  transport.close();
  child.kill('SIGTERM');
  await new Promise((resolve) => child.once('exit', resolve));
  rmSync(dataDir, { recursive: true, force: true });
}
