/**
 * A checkpointLocation that cannot be written, by real OS behaviour, under the seed job (compiled
 * CLI) while orders arrive — one job's life through three breakages, in turn:
 *
 * - the location lies under a regular file (ENOTDIR), from the start;
 * - the disk fills mid-run: the location is on a small tmpfs that the test fills up (ENOSPC from
 *   the kernel); where `mount` is not permitted, the job's checkpoint log is swapped for a
 *   symlink to /dev/full instead — the kernel's ENOSPC as well;
 * - the disk is remounted read-only mid-run (EROFS; only where `mount` is permitted).
 *
 * Each time the job must stop with one clear line and exit code 1, before acknowledging anything it
 * could not persist: the tunnel's checkpoints are not past the newest commit on disk. Repaired
 * (the file gone, space freed, remounted writable), the next run resumes after that commit; the
 * last one runs until idle and OrderStreamSink ends exact.
 */
import { execFileSync } from 'node:child_process';
import { closeSync, linkSync, mkdirSync, mkdtempSync, openSync, renameSync, rmSync, symlinkSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHECKPOINT_LOG } from '../../lib/stream/checkpoint/file-store.js';
import { committedCounts, listCheckpoint } from './harness/checkpoint-dir.js';
import {
  differences,
  directComputation,
  OrderGenerator,
  readOrders,
  readSeedSink,
  runJobToEnd,
  sdkClient,
  SEED,
  seedTables,
  sleep,
  startEmulatorInProcess,
  startJob,
  tunnelAdmin,
  until,
  type EmulatorProcess,
  type JobProcess,
} from './harness/cluster.js';

let root: string;

function tryMount(dir: string): boolean {
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=4m', 'tmpfs', dir], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

const unmount = (dir: string): void => {
  try {
    execFileSync('umount', ['-l', dir], { stdio: 'ignore' });
  } catch {
    // not mounted
  }
};

/**
 * Remounts `dir` read-only. The kernel refuses (EBUSY) while a file on it is open for writing, and
 * the running job opens a temp file for every batch, so a refusal is retried until a gap between
 * two writes.
 */
function remountReadOnly(dir: string): void {
  const pause = new Int32Array(new SharedArrayBuffer(4));
  for (let attempt = 1; ; attempt++) {
    try {
      execFileSync('mount', ['-o', 'remount,ro', dir], { stdio: 'pipe' });
      return;
    } catch (error) {
      if (attempt >= 400 || !/busy/i.test(String((error as { stderr?: Buffer }).stderr ?? ''))) throw error;
      Atomics.wait(pause, 0, 0, 1 + (attempt % 7));
    }
  }
}

/** Writes zeros into `file` until the file system is full. */
function fill(file: string): number {
  const fd = openSync(file, 'w');
  const chunk = Buffer.alloc(64 * 1024);
  let written = 0;
  try {
    for (;;) written += writeSync(fd, chunk);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOSPC') throw error;
  } finally {
    closeSync(fd);
  }
  return written;
}

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'otsflow-rel-disk-'));
});

afterAll(() => {
  rmSync(root, { recursive: true, force: true });
});

/** The job's one-line failure (the CLI's `otsflow sql: …` line). */
function failureLine(job: JobProcess): string {
  const lines = job.stderr().split('\n').filter((line) => line.startsWith('otsflow sql:'));
  expect(lines, job.stderr()).toHaveLength(1);
  return lines[0] as string;
}

async function expectNothingAcknowledgedPastTheCommit(emulator: EmulatorProcess, checkpoint: string): Promise<void> {
  const admin = tunnelAdmin(emulator.endpoint);
  try {
    const committed = committedCounts(checkpoint);
    for (const channel of (await admin.describe('OrderSource', 'orders')).channels) {
      const acknowledged = Number(channel.count ?? 0n);
      expect(acknowledged, `channel ${channel.channelId}: acknowledged ${acknowledged}, persisted ${committed.get(channel.channelId) ?? 0}`).toBeLessThanOrEqual(committed.get(channel.channelId) ?? 0);
    }
  } finally {
    admin.close();
  }
}

interface Stage {
  readonly how: string;
  /** the error the job must name */
  readonly expected: RegExp;
  /** mid-run, once the job has committed a few batches (undefined: broken from the start) */
  readonly breakIt?: (job: JobProcess) => void;
  /** space (or the directory) back */
  readonly repair: () => void;
}

const probe = join(tmpdir(), `otsflow-rel-mount-probe-${process.pid}`);
mkdirSync(probe, { recursive: true });
// RELIABILITY_NO_MOUNT=1 takes the /dev/full path even where mount works
const CAN_MOUNT = process.env['RELIABILITY_NO_MOUNT'] !== '1' && tryMount(probe);
unmount(probe);
rmSync(probe, { recursive: true, force: true });

describe('a checkpointLocation that cannot be written', () => {
  it(`ENOTDIR from the start, ENOSPC mid-run (${CAN_MOUNT ? 'a 4 MiB tmpfs filled up' : 'the log swapped for a link to /dev/full: no mount here'})${CAN_MOUNT ? ', EROFS mid-run (remounted read-only)' : ''}: each time one line, exit 1, nothing acknowledged past the newest commit; repaired, the job resumes and ends exact`, async () => {
    const started = Date.now();
    const emulator = await startEmulatorInProcess({ dataDir: join(root, 'data'), port: 0 });
    // the location's parent: first a regular file, then a directory (a tmpfs where mount works)
    const disk = join(root, 'disk');
    const checkpoint = join(disk, 'checkpoint');
    const jobs: JobProcess[] = [];
    const report: string[] = [];
    const sdk = sdkClient(emulator.endpoint);
    const generator = new OrderGenerator(() => sdk, { seed: SEED, rate: 150, stepMs: 100 });
    try {
      const tunnelId = await seedTables(emulator.endpoint);
      generator.start();
      let filler = '';
      const stages: Stage[] = [
        {
          how: 'ENOTDIR (the location under a regular file)',
          // the job's first write there is owner.json (which run holds the location)
          expected: /checkpoint .*disk\/checkpoint: cannot persist owner\.json \(ENOTDIR/,
          repair: () => {
            rmSync(disk, { force: true });
            mkdirSync(disk);
            if (CAN_MOUNT && !tryMount(disk)) throw new Error(`cannot mount a tmpfs on ${disk}`);
          },
        },
        CAN_MOUNT
          ? {
              how: 'ENOSPC (the tmpfs filled up)',
              expected: /checkpoint .*: cannot persist (offsets|commits)\/\d+ \(the disk is full: ENOSPC/,
              breakIt: () => {
                filler = join(disk, 'filler');
                fill(filler);
              },
              repair: () => rmSync(filler, { force: true }),
            }
          : {
              how: 'ENOSPC (the log is swapped for a link to /dev/full)',
              expected: /checkpoint .*: cannot persist (offsets|commits)\/\d+ \(the disk is full: ENOSPC/,
              breakIt: () => {
                // the job opens its log per append: the next append opens /dev/full. A hard link keeps
                // the log's content, appends up to the swap included (the rename is atomic)
                const log = join(checkpoint, CHECKPOINT_LOG);
                linkSync(log, `${log}.saved`);
                symlinkSync('/dev/full', `${log}.full`);
                renameSync(`${log}.full`, log);
              },
              repair: () => {
                const log = join(checkpoint, CHECKPOINT_LOG);
                renameSync(`${log}.saved`, log);
              },
            },
        ...(CAN_MOUNT
          ? [
              {
                how: 'EROFS (remounted read-only)',
                expected: /checkpoint .*: cannot persist (offsets|commits)\/\d+ \(not writable: EROFS/,
                breakIt: () => remountReadOnly(disk),
                repair: () => execFileSync('mount', ['-o', 'remount,rw', disk]),
              },
            ]
          : []),
      ];
      writeFileSync(disk, 'a regular file, not a directory\n');

      for (const stage of stages) {
        const committedFirst = listCheckpoint(checkpoint).commits.at(-1) ?? -1;
        const job = startJob({ endpoint: emulator.endpoint, tunnelId, checkpoint });
        jobs.push(job);
        if (stage.breakIt !== undefined) {
          await until(() => (listCheckpoint(checkpoint).commits.at(-1) ?? -1) >= committedFirst + 3 || job.child.exitCode !== null, 30_000, `a few commits before ${stage.how}`);
          expect(job.child.exitCode, job.stderr()).toBe(null);
          stage.breakIt(job);
        }
        const exit = await Promise.race([job.exited, sleep(30_000).then(() => undefined)]);
        expect(exit, `${stage.how}: the job must stop by itself once its checkpoint cannot be written:\n${job.stderr()}`).toBeDefined();
        expect(exit?.code).toBe(1);
        const line = failureLine(job);
        expect(line).toMatch(stage.expected);
        expect(line).toMatch(/; nothing (after batch \d+ )?was acknowledged$/);
        await expectNothingAcknowledgedPastTheCommit(emulator, checkpoint);
        report.push(`${stage.how}: \`${line}\``);
        stage.repair();
      }

      await generator.stop();
      const committed = listCheckpoint(checkpoint).commits.at(-1) ?? -1;
      const final = await runJobToEnd({ endpoint: emulator.endpoint, tunnelId, checkpoint }, 90_000);
      expect(final.code, final.stderr).toBe(0);
      expect(final.stderr).toMatch(new RegExp(`resuming after batch ${committed} `));
      const orders = await readOrders(sdk);
      expect(differences(await readSeedSink(sdk), directComputation(orders))).toEqual([]);
      console.log(
        [`checkpoint disk: ${stages.length} breakages, then resumed after batch ${committed} and ended exact over ${orders.length} orders (${((Date.now() - started) / 1000).toFixed(1)} s)`, ...report.map((line) => `  ${line}`)].join('\n'),
      );
    } finally {
      generator.abort();
      for (const job of jobs) job.child.kill('SIGKILL');
      await emulator.close();
      unmount(disk);
    }
  }, 180_000);
});
