/**
 * `runCli(job)`: what `otsflow sql` gives its jobs, for a job built in code. As a process (a
 * program with no stop condition of its own, default tunnel settings): SIGTERM stops it
 * gracefully — every order committed, the summary line printed, exit code 0. In process:
 * `--metrics-port` serves the job's figures while it runs, `--duration` ends it, the summaries
 * are returned; a bad flag is one line and exit code 2.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../lib/cli/log.js';
import { decodeRows, memorySink, project, runCli, runJob, type Column } from '../../lib/index.js';
import { ROOT } from '../emulator/process.js';
import { ORDER_TABLE, putOrders, startOrderEmulator, utcBound, windowTotals, type TunnelEmulator } from '../tunnel/emulator-harness.js';

const FIXTURE = join(ROOT, 'spec', 'fixtures', 'run-cli-job.ts');

describe('runCli as a program runs it', () => {
  it('SIGTERM: the last batch is committed, the summary line printed, exit code 0, and the sink equals the direct computation', async () => {
    const epoch = Math.floor(Date.now() / 60_000) * 60_000 - 120_000;
    const orders = 2_000;
    const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('OTSFLOW_')));
    const child = spawn(process.execPath, ['--import', 'tsx', FIXTURE], { cwd: ROOT, env: { ...env, EPOCH: String(epoch), ORDERS: String(orders) }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    const ready = new Promise<void>((resolve) =>
      child.stderr.on('data', (chunk: Buffer) => {
        stderr += chunk.toString();
        if (/^ready$/m.test(stderr)) resolve();
      }),
    );
    const closed = new Promise<number | null>((resolve) => child.on('close', resolve));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    await Promise.race([ready, closed]);
    child.kill('SIGTERM');
    const code = await closed;
    clearTimeout(timer);
    const lines = stderr.split('\n').filter((line) => line !== '');
    expect(code, stderr).toBe(0);
    expect(lines).toContain('SIGTERM received: committing the last batch and shutting the tunnel down');
    expect(lines.some((line) => new RegExp(`^job cli: \\d+ batches committed, ${orders} records read, \\d+ rows written in [\\d.]+ s$`).test(line)), stderr).toBe(true);
    // off a terminal: progress lines, the last one after the stop
    expect(lines.some((line) => /^job cli: stopped, [\d,]+ records\/s, 2,000 records, /.test(line)), stderr).toBe(true);

    const expected = windowTotals(Array.from({ length: orders }, (_, n) => ({ price: 1 + (n % 100) / 4, timestamp: epoch + n * 50 })), 30_000, utcBound);
    const written = new Map(
      stdout
        .split('\n')
        .filter((line) => line !== '')
        .map((line) => {
          const [begin, end, count, total] = line.split('|');
          return [`${begin}|${end}`, { count: Number(count), totalPrice: Number(total) }] as const;
        }),
    );
    expect(written).toEqual(expected);
  }, 90_000);
});

describe('runCli called in this process', () => {
  let env: TunnelEmulator;
  beforeAll(async () => {
    env = await startOrderEmulator();
  });
  afterAll(async () => {
    await env?.close();
  });
  afterEach(() => {
    process.exitCode = undefined;
  });

  const stateless = (tunnelId: string) =>
    runJob({
      name: 'copy',
      source: { connection: { endpoint: env.emulator.endpoint, instanceName: env.emulator.instanceName, ...env.emulator.credentials }, table: ORDER_TABLE, tunnel: { id: tunnelId } },
      operator: (batches) => batches.pipe(decodeRows({ catalog: { columns: { OrderId: { type: 'string' }, price: { type: 'double' } } }, table: ORDER_TABLE }), project({ OrderId: (table) => table.columns.get('OrderId') as Column, price: (table) => table.columns.get('price') as Column })),
      sink: memorySink({ keyColumns: ['OrderId'] }),
    });

  it('--metrics-port serves the job while it runs, --duration ends it, the summaries are returned and logged', async () => {
    const created = await env.control.createTunnel({ tableName: ORDER_TABLE, tunnelName: 'metrics', tunnelType: 'Stream' });
    if (created._tag === 'Left') throw created.left;
    expect(await putOrders(env.sdk, (n) => ({ userId: 'u', orderId: `m${n}`, price: n + 0.5, timestamp: Date.now() }), 0, 300)).toBe(0);
    const lines: string[] = [];
    const log = createLogger({ write: (line) => lines.push(line) });
    const job = stateless(created.right.tunnelId);
    let scraped = '';
    job.progress.subscribe((progress) => {
      const url = lines.map((line) => /^metrics on (\S+)$/.exec(line)?.[1]).find((found) => found !== undefined);
      if (scraped === '' && url !== undefined && progress.metrics.recordsIn === 300 && progress.state === 'running') {
        scraped = 'pending';
        void fetch(url).then(async (response) => (scraped = await response.text()));
      }
    });
    const summaries = await runCli(job, { argv: ['--duration', '3', '--no-progress', '--metrics-port', '0'], log });
    expect(process.exitCode).toBeUndefined();
    expect(summaries).toHaveLength(1);
    expect(summaries?.[0]).toMatchObject({ job: 'copy', recordsIn: 300, rowsWritten: 300 });
    expect(lines.some((line) => /^job copy: \d+ batches committed, 300 records read, 300 rows written in [\d.]+ s$/.test(line)), lines.join('\n')).toBe(true);
    expect(scraped).toMatch(/^otsflow_records_read_total\{job="copy"\} 300$/m);
    expect(scraped).toMatch(/^otsflow_job_running\{job="copy"\} 1$/m);
  }, 30_000);

  it('out: the live view goes to the stream given, redrawn in place when it is a terminal; --until-idle ends the run', async () => {
    const created = await env.control.createTunnel({ tableName: ORDER_TABLE, tunnelName: 'view', tunnelType: 'Stream' });
    if (created._tag === 'Left') throw created.left;
    const orders = 200;
    expect(await putOrders(env.sdk, (n) => ({ userId: 'u', orderId: `v${n}`, price: n + 0.25, timestamp: Date.now() }), 0, orders)).toBe(0);
    const drawn: string[] = [];
    const lines: string[] = [];
    const summaries = await runCli(stateless(created.right.tunnelId), {
      argv: ['--until-idle', '--idle-ms', '300'],
      out: { write: (text: string) => drawn.push(text), isTTY: true },
      log: createLogger({ write: (line) => lines.push(line) }),
    });
    expect(summaries?.[0]).toMatchObject({ job: 'copy', recordsIn: orders, rowsWritten: orders });
    expect(drawn.length, lines.join('\n')).toBeGreaterThan(1);
    expect(drawn[0]).toMatch(/^job copy — /);
    // every later block first moves the cursor up over the one before and clears it
    const blockLines = (text: string): number => text.split('\n').length - 1;
    for (let k = 1; k < drawn.length; k++) expect((drawn[k] as string).startsWith(`\u001b[${blockLines(drawn[k - 1] as string).toString()}F\u001b[J`), drawn[k]).toBe(true);
    expect(drawn.at(-1)).toMatch(/job copy — stopped\n/);
    expect(drawn.at(-1)).toContain(`${orders} records · `);
    // the log has the summary line, not the view
    expect(lines.some((line) => /^job copy: \d+ batches committed, 200 records read, 200 rows written/.test(line)), lines.join('\n')).toBe(true);
    expect(lines.some((line) => line.includes('records/s'))).toBe(false);
  }, 30_000);

  it('a bad flag: one line, exit code 2, the job never started', async () => {
    const lines: string[] = [];
    const job = stateless('unused');
    const summaries = await runCli(job, { argv: ['--bogus'], log: createLogger({ write: (line) => lines.push(line) }) });
    expect(summaries).toBeUndefined();
    expect(process.exitCode).toBe(2);
    expect(lines).toEqual(["otsflow: unknown option '--bogus' (see otsflow --help)"]);
    expect(await job.stop()).toMatchObject({ batchesCommitted: 0, durationMs: 0 });
  });
});
