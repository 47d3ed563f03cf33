/**
 * A checkpointLocation that cannot be written, by real OS behaviour, under the seed job (compiled
 * CLI) while orders arrive:
 *
 * - the disk fills mid-run: the location is on a small tmpfs that the test fills up (ENOSPC from
 *   the kernel); where `mount` is not permitted, the job's next temp files are symlinks to
 *   /dev/full instead — the kernel's ENOSPC as well;
 * - the disk is remounted read-only mid-run (EROFS; only where `mount` is permitted);
 * - the location lies under a regular file (ENOTDIR), from the start.
 *
 * Each time the job must stop with one clear line and exit code 1, before acknowledging anything it
 * could not persist: the tunnel's checkpoints are not past the newest commit on disk. With space
 * (or the directory) back, a restart from the same location ends exact.
 */
import { execFileSync } from 'node:child_process';
import { closeSync, mkdirSync, mkdtempSync, openSync, rmSync, symlinkSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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
  startEmulatorProcess,
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

interface Breakage {
  readonly how: string;
  /** the error the job must name */
  readonly expected: RegExp;
  /** a fresh location, before the job starts */
  prepare(): string;
  /** mid-run, once the job has committed a few batches (undefined: broken from the start) */
  readonly breakIt?: (checkpoint: string, job: JobProcess) => void;
  /** space (or the directory) back */
  repair(checkpoint: string): void;
}

/** The seed job until the location breaks, then a restart once it is repaired. */
async function run(name: string, breakage: Breakage): Promise<void> {
  const started = Date.now();
  const emulator = await startEmulatorProcess({ dataDir: join(root, `${name}-data`), port: 0 });
  const jobs: JobProcess[] = [];
  try {
    const tunnelId = await seedTables(emulator.endpoint);
    const sdk = sdkClient(emulator.endpoint);
    const generator = new OrderGenerator(() => sdk, { seed: SEED, rate: 150, stepMs: 100 });
    generator.start();
    const checkpoint = breakage.prepare();
    const job = startJob({ endpoint: emulator.endpoint, tunnelId, checkpoint });
    jobs.push(job);
    if (breakage.breakIt !== undefined) {
      await until(() => listCheckpoint(checkpoint).commits.length >= 3 || job.child.exitCode !== null, 30_000, 'a few commits');
      expect(job.child.exitCode, job.stderr()).toBe(null);
      breakage.breakIt(checkpoint, job);
    }
    const exit = await Promise.race([job.exited, sleep(30_000).then(() => undefined)]);
    expect(exit, `the job must stop by itself once its checkpoint cannot be written:\n${job.stderr()}`).toBeDefined();
    expect(exit?.code).toBe(1);
    const line = failureLine(job);
    expect(line).toMatch(breakage.expected);
    expect(line).toMatch(/; nothing (after batch \d+ )?was acknowledged$/);
    await expectNothingAcknowledgedPastTheCommit(emulator, checkpoint);
    const committedBefore = listCheckpoint(checkpoint).commits.at(-1) ?? -1;

    await generator.stop();
    breakage.repair(checkpoint);
    const final = await runJobToEnd({ endpoint: emulator.endpoint, tunnelId, checkpoint }, 90_000);
    expect(final.code, final.stderr).toBe(0);
    if (committedBefore >= 0) expect(final.stderr).toMatch(new RegExp(`resuming after batch ${committedBefore} `));
    const orders = await readOrders(sdk);
    const expected = directComputation(orders);
    expect(differences(await readSeedSink(sdk), expected)).toEqual([]);
    console.log(`checkpoint disk, ${breakage.how}: stopped with \`${line}\`; after the repair it ${committedBefore < 0 ? 'started fresh' : `resumed after batch ${committedBefore}`} and ended exact over ${orders.length} orders (${((Date.now() - started) / 1000).toFixed(1)} s)`);
  } finally {
    for (const job of jobs) job.child.kill('SIGKILL');
    await emulator.close();
  }
}

const probe = join(tmpdir(), `otsflow-rel-mount-probe-${process.pid}`);
mkdirSync(probe, { recursive: true });
// RELIABILITY_NO_MOUNT=1 takes the /dev/full path even where mount works
const CAN_MOUNT = process.env['RELIABILITY_NO_MOUNT'] !== '1' && tryMount(probe);
unmount(probe);
rmSync(probe, { recursive: true, force: true });

describe('a checkpointLocation that cannot be written', () => {
  it(`the disk fills mid-run (${CAN_MOUNT ? 'a 4 MiB tmpfs filled up' : 'temp files pointed at /dev/full: no mount here'}): one line, exit 1, nothing acknowledged past the commit; a restart with space again ends exact`, async () => {
    const mounted = join(root, 'full');
    let filler = '';
    await run(
      'full',
      CAN_MOUNT
        ? {
            how: 'ENOSPC on a full tmpfs',
            expected: /checkpoint .*: cannot persist (offsets|commits)\/\d+ \(the disk is full: ENOSPC/,
            prepare: () => {
              mkdirSync(mounted, { recursive: true });
              if (!tryMount(mounted)) throw new Error(`cannot mount a tmpfs on ${mounted}`);
              return join(mounted, 'checkpoint');
            },
            breakIt: () => {
              filler = join(mounted, 'filler');
              fill(filler);
            },
            repair: () => rmSync(filler, { force: true }),
          }
        : {
            how: 'ENOSPC from /dev/full',
            expected: /checkpoint .*: cannot persist (offsets|commits)\/\d+ \(the disk is full: ENOSPC/,
            prepare: () => join(mounted, 'checkpoint'),
            breakIt: (checkpoint, job) => {
              // the job's next temp files (`.<batch>.<pid>.tmp`) already exist, as links to /dev/full
              const next = (listCheckpoint(checkpoint).commits.at(-1) ?? 0) + 1;
              for (const kind of ['offsets', 'commits']) {
                for (let batch = next; batch < next + 200; batch++) symlinkSync('/dev/full', join(checkpoint, kind, `.${batch}.${job.child.pid}.tmp`));
              }
            },
            repair: (checkpoint) => {
              for (const kind of ['offsets', 'commits']) {
                for (const temp of listCheckpoint(checkpoint).temps.filter((entry) => entry.kind === kind)) rmSync(join(checkpoint, kind, `.${temp.batchId}.${temp.pid}.tmp`), { force: true });
              }
            },
          },
    ).finally(() => unmount(mounted));
  }, 150_000);

  it.skipIf(!CAN_MOUNT)('the disk is remounted read-only mid-run (EROFS): one line, exit 1, nothing acknowledged past the commit; remounted writable, a restart ends exact', async () => {
    const mounted = join(root, 'readonly');
    await run('readonly', {
      how: 'EROFS after a read-only remount',
      expected: /checkpoint .*: cannot persist (offsets|commits)\/\d+ \(not writable: EROFS/,
      prepare: () => {
        mkdirSync(mounted, { recursive: true });
        if (!tryMount(mounted)) throw new Error(`cannot mount a tmpfs on ${mounted}`);
        return join(mounted, 'checkpoint');
      },
      breakIt: () => execFileSync('mount', ['-o', 'remount,ro', mounted]),
      repair: () => execFileSync('mount', ['-o', 'remount,rw', mounted]),
    }).finally(() => unmount(mounted));
  }, 150_000);

  it('the location lies under a regular file (ENOTDIR): one line, exit 1, nothing acknowledged; with the directory possible, a restart ends exact', async () => {
    const file = join(root, 'a-file');
    await run('enotdir', {
      how: 'ENOTDIR',
      expected: /checkpoint .*a-file\/checkpoint: cannot persist offsets\/0 \(ENOTDIR/,
      prepare: () => {
        writeFileSync(file, 'not a directory\n');
        return join(file, 'checkpoint');
      },
      repair: () => rmSync(file, { force: true }),
    });
  }, 150_000);
});
