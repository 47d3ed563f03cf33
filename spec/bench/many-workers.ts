/**
 * The seed job over a backlog, as worker processes of the compiled CLI against the emulator in a
 * process of its own: 1, 2 and 4 workers with the job state in a Tablestore table
 * (`examples/orders/many-workers/job.sql`, `checkpoint.table`), against one worker with the state
 * in a local directory (`examples/orders/job.sql`, `checkpointLocation`).
 *
 *   npx tsx spec/bench/many-workers.ts [orders=100000] [configs=local,1,2,4]
 *
 * Each configuration gets a fresh emulator, the same backlog (written with the SDK before the job
 * starts, 4 stream channels), and its workers started together. Printed per configuration:
 * records/s (orders ÷ time from the spawn until the sink equals the direct computation) and the
 * job's CPU µs per record (user + system time of every worker process, read at its exit through a
 * preloaded hook; node's start-up included, ~0.3–0.5 s of CPU a process, so also printed without
 * it: minus the CPU of an idle worker started and stopped on an empty job, the median of three).
 * The emulator's CPU is not counted. On a shared machine the figures vary from run to run: run
 * configurations in pairs (`local,1,local,1,…`; each is compared with the local run before it).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { ROOT } from '../emulator/process.js';
import {
  CREDENTIALS,
  differences,
  directComputation,
  INSTANCE,
  OrderGenerator,
  readOrders,
  readSeedSink,
  sdkClient,
  SEED_SQL,
  seedTables,
  sleep,
  startEmulatorProcess,
} from '../reliability/harness/cluster.js';

const ORDERS = Number(process.argv[2] ?? 100_000);
const CONFIGS = (process.argv[3] ?? 'local,1,2,4').split(',');
const TABLE_SQL = join(ROOT, 'examples', 'orders', 'many-workers', 'job.sql');

const work = mkdtempSync(join(tmpdir(), 'otsflow-bench-workers-'));
const HOOK = join(work, 'cpu-hook.mjs');
writeFileSync(HOOK, "import { writeSync } from 'node:fs';\nprocess.on('exit', () => { const u = process.cpuUsage(); writeSync(2, `\\nCPU_US ${u.user + u.system}\\n`); });\n");

interface Worker {
  readonly exited: Promise<number>;
  stderr(): string;
  stop(): void;
}

let runs = 0;

function startWorker(endpoint: string, tunnelId: string, config: string, index: number, run: number): Worker {
  const local = config === 'local';
  const args = [
    ...(process.env['BENCH_PROF'] === undefined || index === 99 ? [] : ['--cpu-prof', '--cpu-prof-dir', process.env['BENCH_PROF']]),
    '--import',
    HOOK,
    join(ROOT, 'bin', 'otsflow.js'),
    'sql',
    '-f',
    local ? SEED_SQL : TABLE_SQL,
    ...Object.entries({ endpoint, instance: INSTANCE, access_key_id: CREDENTIALS.accessKeyId, access_key_secret: CREDENTIALS.accessKeySecret, tunnel_id: tunnelId, checkpoint: join(work, `cp-${run}-${config}-${index}`), state_table: 'bench_state' }).flatMap(([k, v]) => ['--var', `${k}=${v}`]),
    '--time-zone',
    'UTC',
    '--no-progress',
    '--heartbeat-interval-ms',
    '500',
    '--heartbeat-timeout-ms',
    '5000',
  ];
  const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('OTSFLOW_')));
  const child = spawn(process.execPath, args, { cwd: work, env, stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
  const exited = new Promise<number>((resolve) =>
    child.on('exit', () => {
      const match = /CPU_US (\d+)/.exec(err);
      resolve(match === null ? Number.NaN : Number(match[1]));
    }),
  );
  return { exited, stderr: () => err, stop: () => child.kill('SIGTERM') };
}

async function run(config: string): Promise<{ seconds: number; cpuUs: number; idleCpuUs: number; workers: number; batches: number }> {
  const root = mkdtempSync(join(work, `run-${config}-`));
  // a checkpoint directory per run: a repeated configuration starts fresh on its fresh emulator
  const run = ++runs;
  const emulator = await startEmulatorProcess({ dataDir: join(root, 'data'), port: 0 });
  try {
    const tunnelId = await seedTables(emulator.endpoint);
    const sdk = sdkClient(emulator.endpoint);
    // idle workers first (nothing written yet): the CPU of starting and stopping a process, the
    // median of three (one alone varies by ±0.3 s on a shared machine, ±1.5 µs/record here)
    const idles: number[] = [];
    for (let i = 0; i < 3; i++) {
      const idle = startWorker(emulator.endpoint, tunnelId, config, 99, run);
      await sleep(4_000);
      idle.stop();
      idles.push(await idle.exited);
    }
    const idleCpuUs = idles.sort((a, b) => a - b)[1] as number;
    const generator = new OrderGenerator(() => sdk, { seed: 7, rate: 1, stepMs: 100, lateShare: 0.02 });
    await generator.writeNow(ORDERS);
    const expected = directComputation(await readOrders(sdk));
    const count = config === 'local' ? 1 : Number(config);
    const started = Date.now();
    const workers = Array.from({ length: count }, (_, i) => startWorker(emulator.endpoint, tunnelId, config, i, run));
    for (;;) {
      await sleep(250);
      const differ = differences(await readSeedSink(sdk), expected);
      if (differ.length === 0) break;
      if (Date.now() - started > Number(process.env['BENCH_TIMEOUT_MS'] ?? 600_000)) {
        throw new Error(`${config}: the sink is not exact in time: ${differ.length} rows differ, e.g. ${differ.slice(0, 5).join('; ')}\n${workers.map((w) => w.stderr().slice(-2000)).join('\n---\n')}`);
      }
    }
    const seconds = (Date.now() - started) / 1000;
    for (const worker of workers) worker.stop();
    const cpus = await Promise.all(workers.map((worker) => worker.exited));
    const batches = workers.reduce((sum, worker) => sum + Number(/(\d+) batches committed/.exec(worker.stderr())?.[1] ?? Number.NaN), 0);
    return { seconds, cpuUs: cpus.reduce((a, b) => a + b, 0), idleCpuUs, workers: count, batches };
  } finally {
    await emulator.close();
    rmSync(root, { recursive: true, force: true });
  }
}

const rows: string[] = [];
let localPerRecord: number | undefined;
try {
  for (const config of CONFIGS) {
    const result = await run(config);
    const perRecord = result.cpuUs / ORDERS;
    const net = (result.cpuUs - result.idleCpuUs * result.workers) / ORDERS;
    if (config === 'local') localPerRecord = net;
    const vsLocal = localPerRecord === undefined || config === 'local' ? '' : ` (${net / localPerRecord >= 1 ? '+' : ''}${((net / localPerRecord - 1) * 100).toFixed(0)} % vs local)`;
    const line = `${config === 'local' ? 'local directory, 1 worker ' : `state table, ${config} worker${config === '1' ? ' ' : 's'}`}: ${Math.round(ORDERS / result.seconds).toLocaleString('en')} records/s (${result.seconds.toFixed(1)} s), job CPU ${perRecord.toFixed(1)} µs/record, ${net.toFixed(1)} µs/record without start-up (${(result.idleCpuUs / 1000).toFixed(0)} ms a process)${vsLocal}, ${result.batches} batches`;
    console.log(line);
    rows.push(line);
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}
console.log(`\n${ORDERS.toLocaleString('en')} orders, 4 channels:\n${rows.join('\n')}`);
