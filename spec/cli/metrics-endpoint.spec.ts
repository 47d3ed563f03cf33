/**
 * `--metrics-port`: Prometheus metrics scraped over loopback and checked against what was written.
 *
 * - A running job (the seed-like SQL over 8,000 orders, a few planted 10 minutes late): records
 *   read, late rows dropped, batches and their latency histogram, open windows, per-channel lag
 *   on exactly the channels DescribeTunnel lists.
 * - `otsflow emulator --metrics-port 0` as a user runs it: requests and errors per API, bytes,
 *   and tunnel records served, after the official SDK and otsflow's tunnel client used it.
 */
import * as E from 'fp-ts/lib/Either.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { filter, first, firstValueFrom, from, map, mergeMap, scan } from 'rxjs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { metricsRegistry, registerJobMetrics, serveMetrics, countReadRecords } from '../../lib/cli/metrics-endpoint.js';
import { tunnelControl } from '../../lib/tunnel/control.js';
import { createHttpTransport } from '../../lib/tunnel/http-transport.js';
import { tunnel } from '../../lib/tunnel/tunnel.js';
import { spawn } from 'node:child_process';
import { ensureCompiledCli } from './cli-process.js';
import { ROOT, type Spawned, spawnTs, waitForOutput } from '../emulator/process.js';
import { createOrderTable, ORDER_SINK_TABLE, ORDER_TABLE, putOrders, sdkCall, startOrderEmulator, TableStore, writeOrders, type TunnelEmulator } from '../tunnel/emulator-harness.js';
import { compileJob, connectionOptions, ORDER_SINK_CATALOG, ORDER_SOURCE_CATALOG } from '../sql/compiled-job.js';

/** The value of one sample of a scrape: `name{labels} value`, labels given as a record (all must match). */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (match === null || match[1] !== name) continue;
    const got = Object.fromEntries([...(match[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((m) => [m[1], m[2]]));
    if (Object.entries(labels).every(([key, value]) => got[key] === value)) return Number(match[3]);
  }
  return undefined;
}

/** every sample of `name`, by the value of label `by` */
function samples(text: string, name: string, by: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)\{(.*)\} (\S+)$/.exec(line);
    if (match === null || match[1] !== name) continue;
    const label = new RegExp(`${by}="([^"]*)"`).exec(match[2] as string)?.[1];
    if (label !== undefined) out.set(label, Number(match[3]));
  }
  return out;
}

async function scrape(url: string): Promise<string> {
  const response = await fetch(url);
  expect(response.status).toBe(200);
  expect(response.headers.get('content-type')).toMatch(/^text\/plain/);
  return response.text();
}

describe('the metrics of a running job', () => {
  const ORDERS = 8_000;
  const WINDOW_MS = 30_000;
  const EPOCH = Math.floor(Date.now() / 3_600_000) * 3_600_000 - 3_600_000;
  const PLANTED = new Set([2_500, 4_000, 6_100, 7_777]);
  let env: TunnelEmulator;

  beforeAll(async () => {
    env = await startOrderEmulator();
  });
  afterAll(async () => {
    await env?.close();
  });

  const order = (n: number) => ({ userId: `u${n % 97}`, orderId: `o${String(n).padStart(6, '0')}`, price: (n % 400) + 0.25, timestamp: EPOCH + n * 50 - (PLANTED.has(n) ? 600_000 : 0) });

  it('counts what was written, the late rows dropped, each batch latency, and the lag of every channel', async () => {
    const created = await env.control.createTunnel({ tableName: ORDER_TABLE, tunnelName: 'metrics', tunnelType: 'Stream' });
    if (E.isLeft(created)) throw created.left;
    await putOrders(env.sdk, order, 0, ORDERS);
    const connection = connectionOptions(env.emulator);
    const text = `
CREATE TABLE src USING tablestore OPTIONS(${connection}, table.name="${ORDER_TABLE}",
  ${ORDER_SOURCE_CATALOG});
CREATE TABLE sink USING tablestore OPTIONS(${connection}, table.name="${ORDER_SINK_TABLE}",
  ${ORDER_SINK_CATALOG});
CREATE SCAN view ON src USING STREAM OPTIONS(tunnel.id="${created.right.tunnelId}", maxoffsetsperchannel="1000");
CREATE STREAM metered OPTIONS(outputMode='update')
INSERT INTO sink
SELECT CAST(window.start AS String) AS begin, CAST(window.end AS String) AS end, count(*) AS count, CAST(sum(price) AS Double) AS totalPrice
FROM view WHERE delay(to_timestamp(timestamp / 1000)) < '2 minutes'
GROUP BY window(to_timestamp(timestamp / 1000), "30 seconds");`;
    const job = await compileJob(text, { timeZone: 'UTC', progressIntervalMs: 200 });
    const registry = metricsRegistry();
    registerJobMetrics(registry).add(job);
    const endpoint = await serveMetrics(registry, { port: 0 });
    try {
      expect(endpoint.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
      job.start();
      // while it runs: after the first committed batch
      await firstValueFrom(job.progress.pipe(filter((p) => p.metrics.batchesCommitted >= 1)));
      const running = await scrape(endpoint.url);
      expect(sample(running, 'otsflow_job_running', { job: 'metered' })).toBe(1);
      expect(sample(running, 'otsflow_records_read_total', { job: 'metered' })).toBeGreaterThan(0);
      expect(sample(running, 'otsflow_process_cpu_seconds_total')).toBeGreaterThan(0);

      await job.untilIdle(1_000);
      await new Promise((resolve) => setTimeout(resolve, 500));
      const idle = await scrape(endpoint.url);
      expect(sample(idle, 'otsflow_records_read_total', { job: 'metered' })).toBe(ORDERS);
      expect(sample(idle, 'otsflow_late_rows_dropped_total', { job: 'metered' })).toBe(PLANTED.size);
      const batches = sample(idle, 'otsflow_batches_committed_total', { job: 'metered' }) as number;
      expect(batches).toBeGreaterThanOrEqual(ORDERS / 4 / 1000);
      // one latency observation per committed batch
      expect(sample(idle, 'otsflow_batch_latency_seconds_count', { job: 'metered' })).toBe(batches);
      expect(sample(idle, 'otsflow_batch_latency_seconds_bucket', { job: 'metered', le: '+Inf' })).toBe(batches);
      // windows of the orders on time: each written at least once
      const windows = new Set([...Array(ORDERS).keys()].filter((n) => !PLANTED.has(n)).map((n) => Math.floor(order(n).timestamp / WINDOW_MS)));
      expect(sample(idle, 'otsflow_rows_written_total', { job: 'metered' })).toBeGreaterThanOrEqual(windows.size);
      // the watermark trails the newest event time by the delay at least; windows ending after it hold state
      const newest = Math.max(...[...Array(ORDERS).keys()].map((n) => order(n).timestamp));
      const watermark = (sample(idle, 'otsflow_watermark_seconds', { job: 'metered' }) as number) * 1000;
      expect(watermark).toBeGreaterThan(EPOCH);
      expect(watermark).toBeLessThanOrEqual(newest - 120_000);
      expect(sample(idle, 'otsflow_open_windows', { job: 'metered' })).toBe([...windows].filter((w) => (w + 1) * WINDOW_MS > watermark).length);
      // lag on exactly the channels DescribeTunnel lists, 0 once idle
      const described = await env.control.describeTunnel(ORDER_TABLE, 'metrics');
      if (E.isLeft(described)) throw described.left;
      const ids = described.right.channels.map((channel) => channel.channelId).sort();
      for (const name of ['otsflow_channel_lag_records', 'otsflow_channel_lag_seconds', 'otsflow_channel_more_records']) {
        const lag = samples(idle, name, 'channel');
        expect([...lag.keys()].sort()).toEqual(ids);
        expect([...lag.values()].every((value) => value === 0)).toBe(true);
      }
      const summary = await job.stop();
      expect(sample(await scrape(endpoint.url), 'otsflow_rows_written_total', { job: 'metered' })).toBe(summary.rowsWritten);
      // anything but GET /metrics is refused
      expect((await fetch(endpoint.url.replace('/metrics', '/'))).status).toBe(404);
    } finally {
      await job.stop();
      await endpoint.close();
    }
  }, 120_000);
});

describe('otsflow sql --metrics-port', () => {
  let env: TunnelEmulator | undefined;
  afterEach(async () => {
    await env?.close();
    env = undefined;
  });

  it('serves the running job\'s figures until Ctrl-C: every record written is counted as read', async () => {
    ensureCompiledCli();
    env = await startOrderEmulator({ partitions: 2 });
    const created = await env.control.createTunnel({ tableName: ORDER_TABLE, tunnelName: 'cli', tunnelType: 'Stream' });
    if (E.isLeft(created)) throw created.left;
    const ORDERS = 1_500;
    await writeOrders(env.sdk, 0, ORDERS);
    const connection = `endpoint="${env.emulator.endpoint}", access.key.id="${env.emulator.credentials.accessKeyId}", access.key.secret="\${secret}", instance.name="${env.emulator.instanceName}"`;
    const text = `CREATE TABLE src USING tablestore OPTIONS(${connection}, table.name="${ORDER_TABLE}",
  ${ORDER_SOURCE_CATALOG});
CREATE TABLE sink USING tablestore OPTIONS(${connection}, table.name="${ORDER_SINK_TABLE}",
  ${ORDER_SINK_CATALOG});
CREATE SCAN view ON src USING STREAM OPTIONS(tunnel.id="${created.right.tunnelId}");
CREATE STREAM clijob OPTIONS(outputMode='update')
INSERT INTO sink SELECT CAST(window.start AS String) AS begin, CAST(window.end AS String) AS end, count(*) AS count, CAST(sum(price) AS Double) AS totalPrice
FROM view GROUP BY window(to_timestamp(timestamp / 1000), "30 seconds");`;
    const child = spawn(process.execPath, [join(ROOT, 'bin', 'otsflow.js'), 'sql', '-e', text, '--metrics-port', '0', '--time-zone', 'UTC'], {
      cwd: ROOT,
      env: { ...process.env, OTSFLOW_VAR_secret: env.emulator.credentials.accessKeySecret },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    try {
      const deadline = Date.now() + 30_000;
      let url: string | undefined;
      while (url === undefined && Date.now() < deadline) {
        url = /metrics on (http:\/\/127\.0\.0\.1:\d+\/metrics)/.exec(stderr)?.[1];
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      expect(url, stderr).toBeDefined();
      let scraped = '';
      while (Date.now() < deadline) {
        scraped = await scrape(url as string);
        if (sample(scraped, 'otsflow_records_read_total', { job: 'clijob' }) === ORDERS && sample(scraped, 'otsflow_channel_lag_records', { job: 'clijob' }) !== undefined) break;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      expect(sample(scraped, 'otsflow_records_read_total', { job: 'clijob' })).toBe(ORDERS);
      expect(sample(scraped, 'otsflow_job_running', { job: 'clijob' })).toBe(1);
      expect(samples(scraped, 'otsflow_channel_lag_records', 'channel').size).toBe(2);
      child.kill('SIGINT');
      expect(await exited).toBe(0);
      expect(stderr).toMatch(/job clijob: \d+ batches committed, 1500 records read/);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  }, 90_000);
});

describe('otsflow emulator --metrics-port', () => {
  let running: Spawned | undefined;
  let dir: string | undefined;
  afterEach(() => {
    if (running !== undefined && running.child.exitCode === null) running.child.kill('SIGKILL');
    running = undefined;
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  it('counts requests and errors per API, bytes, and the tunnel records it served', async () => {
    dir = mkdtempSync(join(tmpdir(), 'otsflow-emulator-metrics-'));
    running = spawnTs('lib/cli/main.ts', ['emulator', '--port', '0', '--metrics-port', '0', '--data', dir, '--partitions', '2']);
    await waitForOutput(running, /Press Ctrl\+C to stop\./);
    const output = running.stdout();
    const endpoint = /endpoint:\s+(http:\/\/127\.0\.0\.1:\d+)/.exec(output)?.[1] as string;
    const url = /metrics:\s+(http:\/\/127\.0\.0\.1:\d+\/metrics)/.exec(output)?.[1] as string;
    const instance = /instance:\s+(\S+)/.exec(output)?.[1] as string;
    const credentials = { accessKeyId: /accessKeyId:\s+(\S+)/.exec(output)?.[1] as string, accessKeySecret: /accessKeySecret:\s+(\S+)/.exec(output)?.[1] as string };
    expect(url).toBeDefined();
    const sdk = new TableStore.Client({ endpoint, instancename: instance, accessKeyId: credentials.accessKeyId, secretAccessKey: credentials.accessKeySecret, maxRetries: 0 });

    await createOrderTable(sdk);
    const PUTS = 7;
    for (let n = 0; n < PUTS; n++) {
      await sdkCall(sdk, 'putRow', { tableName: ORDER_TABLE, condition: new TableStore.Condition(TableStore.RowExistenceExpectation.IGNORE, null), primaryKey: [{ UserId: 'u' }, { OrderId: `p${n}` }], attributeColumns: [{ price: n }] });
    }
    const MISSING = 3;
    for (let n = 0; n < MISSING; n++) await expect(sdkCall(sdk, 'getRow', { tableName: 'NoSuchTable', primaryKey: [{ id: 'x' }] })).rejects.toBeDefined();

    const transport = createHttpTransport({ endpoint, instance, credentials, requestTimeoutMs: 10_000 });
    const created = await tunnelControl(transport).createTunnel({ tableName: ORDER_TABLE, tunnelName: 't', tunnelType: 'Stream' });
    transport.close();
    if (E.isLeft(created)) throw created.left;
    const RECORDS = 1_234;
    await writeOrders(sdk, 0, RECORDS);
    // otsflow's tunnel client reads them all, each batch committed
    const read = await firstValueFrom(
      tunnel({ endpoint, instance, credentials, tunnelId: created.right.tunnelId, clientTag: 'metrics' }).pipe(
        mergeMap((batch) => from(batch.commit()).pipe(map(() => batch.records.length))),
        scan((sum, count) => sum + count, 0),
        first((sum) => sum >= RECORDS),
      ),
    );
    expect(read).toBe(RECORDS);

    const text = await scrape(url);
    expect(sample(text, 'otsflow_emulator_requests_total', { api: 'PutRow' })).toBe(PUTS);
    expect(sample(text, 'otsflow_emulator_requests_total', { api: 'CreateTable' })).toBe(1);
    expect(sample(text, 'otsflow_emulator_errors_total', { api: 'GetRow', code: 'OTSObjectNotExist' })).toBe(MISSING);
    expect(sample(text, 'otsflow_emulator_requests_total', { api: 'GetRow' })).toBe(MISSING);
    expect(sample(text, 'otsflow_emulator_records_served_total')).toBe(RECORDS);
    expect(sample(text, 'otsflow_emulator_requests_total', { api: 'tunnel/readrecords' })).toBeGreaterThanOrEqual(2);
    expect(sample(text, 'otsflow_emulator_request_bytes_total', { api: 'PutRow' })).toBeGreaterThan(PUTS * 20);
    // ReadRecords answers hold at least the PlainBuffer bytes of every record
    expect(sample(text, 'otsflow_emulator_response_bytes_total', { api: 'tunnel/readrecords' })).toBeGreaterThan(RECORDS * 20);
    expect(sample(text, 'otsflow_emulator_request_duration_seconds_count', { api: 'PutRow' })).toBe(PUTS);
    // paths a client makes up do not become labels of their own beyond a bound
    expect([...samples(text, 'otsflow_emulator_requests_total', 'api').keys()].every((api) => /^(tunnel\/)?[A-Za-z]+$|^other$/.test(api))).toBe(true);

    running.child.kill('SIGTERM');
    expect(await running.exited).toEqual({ code: 0, signal: null });
  }, 60_000);
});

describe('countReadRecords', () => {
  it('counts the records of a ReadRecordsResponse without decoding them', async () => {
    const { tunnelMessages } = await import('../../lib/wire/tunnel-messages.js');
    for (const n of [0, 1, 17, 500]) {
      const body = tunnelMessages.ReadRecordsResponse.encode({ records: Array.from({ length: n }, (_, k) => ({ actionType: 'PUT_ROW', record: new Uint8Array(k % 50) })), nextToken: 'x', mayMoreRecord: n === 500 });
      expect(countReadRecords(body)).toBe(n);
    }
  });
});
