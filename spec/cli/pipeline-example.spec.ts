/**
 * examples/orders/pipeline.ts as a user runs it (`npx tsx examples/orders/pipeline.ts`), with the
 * settings it ships with: a process that starts its own emulator, writes the orders, runs the
 * hand-written chain with `runJob` + `runCli` until idle and prints the sink read back. The sink
 * must equal the 30-second windows computed here from the orders the example says it wrote, and
 * the output must carry what `otsflow sql` prints: progress lines (off a terminal), the job's log
 * and the summary line. A bad flag is one line and exit code 2, as for `otsflow sql`.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../emulator/process.js';

const EXAMPLE = join(ROOT, 'examples', 'orders', 'pipeline.ts');

interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderrLines: readonly string[];
}

function runExample(args: readonly string[] = []): Promise<Run> {
  // no OTSFLOW_* settings of the developer's leak in (log level, format)
  const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('OTSFLOW_')));
  const child = spawn(process.execPath, ['--import', 'tsx', EXAMPLE, ...args], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`the example did not end within 90 s; stdout: ${stdout} stderr: ${stderr}`));
    }, 90_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderrLines: stderr.split('\n').filter((line) => line.trim() !== '') });
    });
  });
}

/** `2026-12-07 12:31:00` in Asia/Shanghai (UTC+8 all year) */
const shanghai = (ms: number): string => new Date(ms + 8 * 3_600_000).toISOString().slice(0, 19).replace('T', ' ');

describe('examples/orders/pipeline.ts (runJob + runCli)', () => {
  it('fills OrderStreamSink with the exact 30-second counts and totals of the orders it wrote, and prints progress and the summary as otsflow sql does', async () => {
    const run = await runExample();
    expect(run.code, run.stderrLines.join('\n')).toBe(0);

    // what the example says it wrote: order n at epoch + n·60 ms, price 1 + (n mod 400)/4
    const wrote = run.stderrLines.map((line) => /^wrote (\d+) orders with event times from (\S+), one every 60 ms$/.exec(line)).find((match) => match !== null);
    expect(wrote, run.stderrLines.join('\n')).toBeDefined();
    const orders = Number(wrote![1]);
    const epoch = Date.parse(wrote![2] as string);
    const expected = new Map<number, { count: number; total: number }>();
    for (let n = 0; n < orders; n++) {
      const start = Math.floor((epoch + n * 60) / 30_000) * 30_000;
      const window = expected.get(start) ?? { count: 0, total: 0 };
      window.count += 1;
      window.total += 1 + (n % 400) / 4;
      expected.set(start, window);
    }
    const expectedRows = [...expected.entries()].sort(([a], [b]) => a - b).map(([start, window]) => `${shanghai(start)}|${shanghai(start + 30_000)}|${window.count}|${window.total}`);

    // the sink as the example read it back with the SDK
    const sinkRows = run.stdout
      .split('\n')
      .slice(1)
      .filter((line) => line.trim() !== '')
      .map((line) => line.split('|').map((cell) => cell.trim()).join('|'));
    expect(sinkRows).toEqual(expectedRows);

    // progress lines (stderr is no terminal), the job's own log, the summary line
    const lines = run.stderrLines;
    expect(lines.some((line) => /^job orders: (running|stopping|stopped), [\d,]+ records\/s, 3,000 records, [\d,]+ batches, [\d,]+ rows written, \d+ open windows/.test(line)), lines.join('\n')).toBe(true);
    expect(lines.filter((line) => /^job orders: starting fresh \(no checkpoint in \S+checkpoint\)$/.test(line)), lines.join('\n')).toHaveLength(1);
    const summary = lines.map((line) => /^job orders: (\d+) batches committed, (\d+) records read, (\d+) rows written in [\d.]+ s$/.exec(line)).find((match) => match !== null);
    expect(summary, lines.join('\n')).toBeDefined();
    expect(Number(summary![2])).toBe(orders);
    // update mode writes a window each batch its count changed: at least once each
    expect(Number(summary![3])).toBeGreaterThanOrEqual(expected.size);
  }, 100_000);

  it('refuses a bad flag with one line and exit code 2, as otsflow sql does', async () => {
    const run = await runExample(['--idle-ms', '-5']);
    expect(run.code).toBe(2);
    expect(run.stderrLines.filter((line) => line.startsWith('otsflow:'))).toEqual(["otsflow: option '--idle-ms <ms>' argument '-5' is invalid. --idle-ms must be a number > 0. (see otsflow --help)"]);
    expect(run.stdout).toBe('');
  }, 100_000);
});
