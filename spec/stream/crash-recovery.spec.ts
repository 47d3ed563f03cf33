/**
 * kill -9 at random moments: a child process runs the checkpointed seed job into a file sink and
 * is SIGKILLed at a random time — before its first plan, between plan and output, between output
 * and commit, after the end; the job is then restarted from the same checkpoint location on the
 * replayable source and run to completion, and the sink must equal the direct computation.
 */
import { spawn } from 'node:child_process';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { lastValueFrom } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { readJsonSink } from './crash/file-sink.js';
import { crashJob, crashJobOptions, crashScenario, sinkFile } from './crash/job.js';
import { StreamMetrics } from '../../lib/stream/metrics.js';
import { expectedSink, sortRows } from './pipeline.js';

const CHILD = path.join(import.meta.dirname, 'crash', 'child.ts');
const RUNS = 20;

interface Outcome {
  readonly output: string;
  readonly signal: NodeJS.Signals | null;
}

/** Starts the job in a child and SIGKILLs it `killAfter` ms after it reports `ready`. */
function runAndKill(dir: string, seed: number, killAfter: number): Promise<Outcome> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', CHILD, dir, String(seed)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    let errors = '';
    let timer: NodeJS.Timeout | undefined;
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString('utf8');
      if (timer === undefined && output.includes('ready')) timer = setTimeout(() => child.kill('SIGKILL'), killAfter);
    });
    child.stderr.on('data', (chunk: Buffer) => (errors += chunk.toString('utf8')));
    child.on('error', reject);
    child.on('exit', (_code, signal) => {
      clearTimeout(timer);
      if (output.includes('error') || (signal === null && !output.includes('done'))) reject(new Error(`child failed: ${output}${errors}`));
      else resolve({ output, signal });
    });
  });
}

describe('crash recovery', () => {
  it(`after a SIGKILL at a random moment and a restart from the checkpoint, the sink equals the reference (${RUNS} runs)`, async () => {
    const root = await fs.mkdtemp(path.join(os.tmpdir(), 'otsflow-crash-'));
    let interrupted = 0;
    let replayed = 0;
    let resumed = 0;
    try {
      for (let run = 0; run < RUNS; run++) {
        const dir = path.join(root, `run-${run}`);
        await fs.mkdir(dir);
        const seed = Math.floor(Math.random() * 2 ** 31);
        const killAfter = Math.floor(Math.random() * 350);
        const outcome = await runAndKill(dir, seed, killAfter);
        if (!outcome.output.includes('done')) interrupted++;
        // the restart: same checkpoint location, same replayable source, run to completion
        const metrics = new StreamMetrics();
        await lastValueFrom(crashJob(dir, seed, metrics), { defaultValue: undefined });
        const restart = metrics.snapshot();
        if (restart.batchesReplayed > 0) replayed++;
        if (typeof restart.restoredFrom === 'number') resumed++;
        const scenario = crashScenario(seed);
        const options = crashJobOptions(scenario);
        expect(sortRows(await readJsonSink(sinkFile(dir))), `run ${run}: seed ${seed}, killed ${killAfter} ms after start`).toEqual(
          sortRows(expectedSink(scenario, options.window, options.byUser, options.mode)),
        );
      }
    } finally {
      await fs.rm(root, { recursive: true, force: true });
    }
    // most kills must land while the job was running, or the test proves little
    expect(interrupted).toBeGreaterThanOrEqual(RUNS * 0.6);
    console.log(`crash recovery: ${interrupted}/${RUNS} kills interrupted the job, ${resumed} restarts resumed after a commit, ${replayed} re-ran a planned batch`);
    expect(resumed).toBeGreaterThan(0);
    expect(replayed).toBeGreaterThan(0);
  }, 90_000);
});
