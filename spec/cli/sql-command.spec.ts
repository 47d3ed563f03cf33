/**
 * `otsflow sql` and `otsflow demo` as a user runs them: the compiled CLI in a child process,
 * against an emulator this test starts (tables through the official SDK) or the embedded one.
 */
import * as E from 'fp-ts/lib/Either.js';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createOrderSinkTable, createOrderTable, ORDER_TABLE, sdkCall, startTunnelEmulator, TableStore, writeOrders, type TunnelEmulator } from '../tunnel/emulator-harness.js';
import { ROOT } from '../emulator/process.js';
import { ensureCompiledCli, runCli } from './cli-process.js';

let env: TunnelEmulator;
let dir: string;
/** a Stream tunnel created before the 400 orders of beforeAll were written */
let tunnelId: string;
const PLANTED = 'planted-SECRET-4242';

beforeAll(async () => {
  ensureCompiledCli();
  env = await startTunnelEmulator({ partitions: 2 });
  await createOrderTable(env.sdk);
  await createOrderSinkTable(env.sdk);
  dir = mkdtempSync(join(tmpdir(), 'otsflow-sql-cli-'));
  const created = await env.control.createTunnel({ tableName: ORDER_TABLE, tunnelName: 'cli-job', tunnelType: 'Stream' });
  if (E.isLeft(created)) throw created.left;
  tunnelId = created.right.tunnelId;
  await writeOrders(env.sdk, 0, 400);
}, 60_000);

afterAll(async () => {
  await env?.close();
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
});

const vars = (tunnelId: string, secret = env.emulator.credentials.accessKeySecret): string[] => [
  '--var', `endpoint=${env.emulator.endpoint}`,
  '--var', `instance=${env.emulator.instanceName}`,
  '--var', `access_key_id=${env.emulator.credentials.accessKeyId}`,
  '--var', `access_key_secret=${secret}`,
  '--var', `tunnel_id=${tunnelId}`,
  '--var', `checkpoint=${join(dir, `cp-${tunnelId}`)}`,
];

/** the lines that report a failure (DDL notes and progress are other lines) */
const failures = (line: string): boolean => line.startsWith('otsflow ');

const TABLE = (endpoint: string, secret: string) =>
  `CREATE TABLE orders USING tablestore OPTIONS(endpoint='${endpoint}', instance.name='otsflow', access.key.id='otsflow', access.key.secret='${secret}', table.name='OrderSource', catalog='{"columns": {"UserId": {"type": "string"}, "price": {"type": "double"}}}');`;

describe('otsflow sql', () => {
  it('runs examples/orders/job.sql until the feed is drained: the sink holds every order', async () => {
    const result = await runCli(['sql', '-f', 'examples/orders/job.sql', ...vars(tunnelId), '--until-idle', '--idle-ms', '500', '--time-zone', 'UTC', '--no-progress'], { timeoutMs: 60_000 });
    expect(result.stderr).toMatch(/job job1: starting fresh/);
    expect(result.stderr).toMatch(/job job1: \d+ batches committed, 400 records read, \d+ rows written/);
    expect(result.code).toBe(0);
    const page = await sdkCall(env.sdk, 'getRange', {
      tableName: 'OrderStreamSink',
      direction: TableStore.Direction.FORWARD,
      inclusiveStartPrimaryKey: [{ begin: TableStore.INF_MIN }, { end: TableStore.INF_MIN }],
      exclusiveEndPrimaryKey: [{ begin: TableStore.INF_MAX }, { end: TableStore.INF_MAX }],
    });
    const counted = page.rows.reduce((sum: number, row: { attributes: { columnName: string; columnValue: unknown }[] }) => sum + Number(String(row.attributes.find((a) => a.columnName === 'count')?.columnValue)), 0);
    expect(counted).toBe(400);
  }, 90_000);

  it('prints batch query results, SHOW TABLES, DESCRIBE and EXPLAIN on stdout', async () => {
    const script = [
      TABLE(env.emulator.endpoint, env.emulator.credentials.accessKeySecret),
      'SHOW TABLES;',
      'DESCRIBE orders;',
      "SELECT UserId, count(*) AS n FROM orders WHERE UserId IN ('u01', 'u02') GROUP BY UserId ORDER BY UserId;",
      'EXPLAIN SELECT UserId FROM orders WHERE price > 1000;',
    ].join('\n');
    const result = await runCli(['sql', '-e', script]);
    expect(result.stderrLines.filter((line) => line.startsWith('otsflow sql:'))).toEqual([]);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('| orders | table | OrderSource |');
    expect(result.stdout).toMatch(/\| price\s+\| double\s+\|/);
    expect(result.stdout).toMatch(/\| u01\s+\| 5\s+\|\n\| u02\s+\| 5\s+\|/);
    expect(result.stdout).toContain('filterRows');
    expect(result.stdout).toContain('price > 1000');
  }, 30_000);

  it('keeps embedded tables and tunnels in --data across runs', async () => {
    const data = join(dir, 'embedded');
    const tunnel = await runCli(['tunnel', 'create', '--data', data, '--table', 'T', '--name', 'n', '--type', 'Stream']);
    // the table does not exist yet: a clear refusal, nothing created
    expect(tunnel.code).toBe(1);
    expect(tunnel.stderrLines).toEqual([expect.stringMatching(/^otsflow tunnel create: /)]);
    const shown = await runCli(['sql', '--data', data, '-e', "CREATE TABLE t USING tablestore OPTIONS(table.name='T', catalog='{\"columns\": {\"a\": {\"type\": \"long\"}}}'); SHOW TABLES;"]);
    expect(shown.code).toBe(0);
    expect(shown.stdout).toMatch(/\| t +\| table \| T +\| embedded +\|/);
  }, 30_000);

  it('refuses bad input with one clear line and a non-zero exit, a stack only at debug', async () => {
    const missing = await runCli(['sql', '-f', join(dir, 'nope.sql')]);
    expect(missing.code).toBe(1);
    expect(missing.stderrLines).toEqual([`otsflow sql: cannot read ${join(dir, 'nope.sql')}: no such file`]);

    const usage = await runCli(['sql']);
    expect(usage.code).toBe(2);
    expect(usage.stderrLines).toEqual(['otsflow sql: give the script with -f <file> or -e "<sql>" (one of them)']);

    const file = join(dir, 'bad.sql');
    writeFileSync(file, `${TABLE('embedded', 'x')}\nSELECT prise FROM orders;\n`);
    const bad = await runCli(['sql', '-f', file]);
    expect(bad.code).toBe(1);
    expect(bad.stderrLines[0]).toBe(`otsflow sql: ${file}:2:8: unknown column 'prise' in 'orders' — did you mean 'price'?`);
    expect(bad.stderrLines.slice(1)).toEqual(['  2 | SELECT prise FROM orders;', '    |        ^']);

    const unreachable = await runCli(['sql', '-e', `${TABLE('http://127.0.0.1:1', PLANTED)} SELECT * FROM orders;`]);
    expect(unreachable.code).toBe(1);
    expect(unreachable.stderrLines.filter(failures)).toEqual([expect.stringMatching(/^otsflow sql: cannot reach http:\/\/127\.0\.0\.1:1 \(ECONNREFUSED\)/)]);

    const denied = await runCli(['sql', '-e', `${TABLE(env.emulator.endpoint, PLANTED)} SELECT * FROM orders;`]);
    expect(denied.code).toBe(1);
    expect(denied.stderrLines.filter(failures)).toEqual([expect.stringMatching(new RegExp(`^otsflow sql: access denied by ${env.emulator.endpoint.replace(/[.]/g, '\\.')}: OTSAuthFailed`))]);

    const debug = await runCli(['sql', '--log-level', 'debug', '-e', `${TABLE('http://127.0.0.1:1', PLANTED)} SELECT * FROM orders;`]);
    expect(debug.code).toBe(1);
    expect(debug.stderr).toMatch(/\n\s+at /);

    for (const run of [unreachable, denied, debug]) expect(`${run.stdout}${run.stderr}`).not.toContain(PLANTED);
  }, 60_000);

  it('a stream job whose tunnel does not exist fails with one line naming it', async () => {
    const result = await runCli(['sql', '-f', 'examples/orders/job.sql', ...vars('no-such-tunnel'), '--until-idle', '--no-progress'], { timeoutMs: 30_000 });
    expect(result.code).toBe(1);
    expect(result.stderrLines.at(-1)).toMatch(/^otsflow sql: job job1: /);
  }, 40_000);
});

describe('otsflow demo', () => {
  it('runs the seed scenario on the embedded emulator and ends with PASS', async () => {
    const result = await runCli(['demo', '--duration', '6', '--rate', '200', '--time-zone', 'Asia/Shanghai'], { timeoutMs: 90_000 });
    const orders = /^PASS: \d+ windows, (\d+) orders \(\d+ late\)/m.exec(result.stdout)?.[1];
    expect(orders, result.stdout + result.stderr).toBeDefined();
    expect(result.stdout).toContain('OrderStreamSink, read back with the official SDK');
    expect(result.code).toBe(0);
    // the job runner's (run-jobs.ts) progress lines off a terminal, on stderr, and its summary line
    expect(result.stderrLines.some((line) => /^job job1: running, [\d,]+ records\/s, /.test(line)), result.stderr).toBe(true);
    expect(result.stderrLines).toContainEqual(expect.stringMatching(new RegExp(`^job job1: \\d+ batches committed, ${orders} records read, \\d+ rows written`)));
    expect(result.stdout).not.toMatch(/^job job1/m);
  }, 100_000);

  it('--metrics-port serves the job\'s and the emulator\'s figures; Ctrl-C stops it as `otsflow sql` stops: last batch committed, summary, no verdict, data removed', async () => {
    ensureCompiledCli();
    const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('OTSFLOW_')));
    const child = spawn(process.execPath, [join(ROOT, 'bin', 'otsflow.js'), 'demo', '--duration', '600', '--rate', '200', '--metrics-port', '0', '--time-zone', 'UTC'], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const closed = new Promise<number | null>((resolve) => child.on('close', resolve));
    try {
      const deadline = Date.now() + 40_000;
      const metric = (text: string, pattern: RegExp): number => Number(pattern.exec(text)?.[1] ?? NaN);
      let url: string | undefined;
      while (url === undefined && Date.now() < deadline && child.exitCode === null) {
        url = /metrics on (http:\/\/127\.0\.0\.1:\d+\/metrics)/.exec(stderr)?.[1];
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      expect(url, stderr).toBeDefined();
      let scraped = '';
      // until the job has read and committed some orders
      while (Date.now() < deadline && !(metric(scraped, /^otsflow_batches_committed_total\{job="job1"\} (\d+)$/m) > 0)) {
        await new Promise((resolve) => setTimeout(resolve, 200));
        scraped = await (await fetch(url as string)).text();
      }
      const read = metric(scraped, /^otsflow_records_read_total\{job="job1"\} (\d+)$/m);
      expect(read, scraped).toBeGreaterThan(0);
      // the embedded emulator's figures: the generator's BatchWriteRow requests
      expect(metric(scraped, /^otsflow_emulator_requests_total\{api="BatchWriteRow"\} (\d+)$/m), scraped).toBeGreaterThan(0);
      child.kill('SIGINT');
      expect(await closed, stderr).toBe(1);
      const lines = stderr.split('\n').filter((line) => line !== '');
      expect(lines).toContain('SIGINT received: committing the last batch and shutting the tunnel down');
      const generated = Number(/^interrupted after (\d+) orders: the sink is not checked$/m.exec(stderr)?.[1]);
      const summary = new RegExp(`^job job1: \\d+ batches committed, (\\d+) records read, \\d+ rows written`, 'm').exec(stderr);
      expect(summary, stderr).not.toBeNull();
      expect(Number(summary?.[1])).toBeGreaterThanOrEqual(read);
      expect(Number(summary?.[1])).toBeLessThanOrEqual(generated);
      expect(lines.at(-1)).toBe('otsflow demo: interrupted before the check: no verdict');
      expect(stdout).not.toMatch(/PASS|FAIL/);
      const dataDir = /\(data in (\S+)\)/.exec(stderr)?.[1];
      expect(dataDir, stderr).toBeDefined();
      expect(existsSync(dataDir as string)).toBe(false);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  }, 90_000);
});
