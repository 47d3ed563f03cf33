/**
 * The job process of `seed-job.ts`: compiles the seed SQL against the emulator and tunnel named
 * in $SEED_JOB, runs it until `rows` records are committed, and prints one JSON line with its own
 * CPU (process.cpuUsage from start() to the last commit) and wall time.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { JobRun } from './seed-job.js';
import { compileJob } from '../sql/compiled-job.js';

interface Settings {
  readonly endpoint: string;
  readonly instanceName: string;
  readonly credentials: { readonly accessKeyId: string; readonly accessKeySecret: string };
  readonly tunnelId: string;
  readonly rows: number;
  readonly checkpoint: string;
}

const settings = JSON.parse(process.env['SEED_JOB'] ?? '') as Settings;
const sqlFile = fileURLToPath(new URL('../../examples/orders/job.sql', import.meta.url));
const sql = readFileSync(sqlFile, 'utf8');
const job = await compileJob(sql, {
  timeZone: 'UTC',
  variables: {
    endpoint: settings.endpoint,
    instance: settings.instanceName,
    access_key_id: settings.credentials.accessKeyId,
    access_key_secret: settings.credentials.accessKeySecret,
    tunnel_id: settings.tunnelId,
    checkpoint: settings.checkpoint,
  },
});
const running = job;

// PROFILE=dir: a V8 CPU profile of the run alone (start() to the last commit), not of the startup
const profileDir = process.env['PROFILE'];
const inspector = profileDir === undefined ? undefined : new Session();
if (inspector !== undefined) {
  inspector.connect();
  await inspector.post('Profiler.enable');
  await inspector.post('Profiler.setSamplingInterval', { interval: 200 });
  await inspector.post('Profiler.start');
  // allocations too, the collected ones included: they are what the garbage collector's share costs
  await inspector.post('HeapProfiler.startSampling', { samplingInterval: 16_384, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true });
}
const cpuStart = process.cpuUsage();
const started = performance.now();
const run = await new Promise<JobRun>((resolve, reject) => {
  running.done.catch(reject);
  const subscription = running.progress.subscribe((progress) => {
    const metrics = progress.metrics;
    if (metrics.recordsIn >= settings.rows && metrics.batchesCommitted === metrics.batches) {
      const cpu = process.cpuUsage(cpuStart);
      const seconds = (performance.now() - started) / 1000;
      queueMicrotask(() => subscription.unsubscribe());
      resolve({ records: metrics.recordsIn, batches: metrics.batchesCommitted, rowsWritten: metrics.rowsWritten, seconds, cpuUserUs: cpu.user, cpuSystemUs: cpu.system });
    }
  });
  running.start();
});
if (inspector !== undefined && profileDir !== undefined) {
  const { profile } = await inspector.post('Profiler.stop');
  writeFileSync(join(profileDir, `seed-job-${process.pid}.cpuprofile`), JSON.stringify(profile));
  const { profile: heap } = await inspector.post('HeapProfiler.stopSampling');
  writeFileSync(join(profileDir, `seed-job-${process.pid}.heapprofile`), JSON.stringify(heap));
  inspector.disconnect();
}
await running.stop();
process.stdout.write(`${JSON.stringify(run)}\n`);
