/**
 * checkpointLocation/owner.json: telling a dead predecessor (its tunnel clients may be shut down)
 * from a live copy of the job (refused). Real processes: a child that runs, one that has exited.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import * as E from 'fp-ts/lib/Either.js';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { bootId, judgePredecessor, OWNER_FILE, OwnerLease, processStart, readOwner, type OwnerRecord } from '../../lib/stream/checkpoint/owner-record.js';

let dir: string;
const children: ChildProcess[] = [];

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'otsflow-owner-'));
});
afterEach(() => {
  for (const child of children.splice(0)) child.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

const sleeper = async (): Promise<ChildProcess> => {
  const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)'], { stdio: 'ignore' });
  children.push(child);
  await new Promise((resolve) => child.once('spawn', resolve));
  return child;
};

const exited = async (): Promise<number> => {
  const child = spawn(process.execPath, ['-e', ''], { stdio: 'ignore' });
  await new Promise((resolve) => child.once('exit', resolve));
  return child.pid as number;
};

const record = (fields: Partial<OwnerRecord>): OwnerRecord => {
  const boot = bootId();
  return { job: 'job1', runId: 'r1', pid: 1, host: hostname(), startedAt: Date.UTC(2026, 0, 1), renewals: 3, clients: ['otsflow-job1_a'], ...(boot === undefined ? {} : { bootId: boot }), ...fields };
};
const put = (value: OwnerRecord): void => writeFileSync(join(dir, OWNER_FILE), JSON.stringify(value));
const judged = async (options?: { staleAfterMs?: number; pollMs?: number }) => {
  const result = await judgePredecessor(dir, options);
  if (E.isLeft(result)) throw new Error(result.left);
  return result.right;
};

describe('judgePredecessor', () => {
  it('no record: no predecessor', async () => {
    expect(await judged()).toEqual({ kind: 'none' });
  });

  it('same host and boot: a running pid started when recorded is live, at once', async () => {
    const child = await sleeper();
    const started = processStart(child.pid as number);
    put(record({ pid: child.pid as number, ...(started === undefined ? {} : { processStart: started }) }));
    const at = Date.now();
    const verdict = await judged();
    expect(verdict.kind).toBe('live');
    expect(Date.now() - at).toBeLessThan(500);
  });

  it('same host and boot: a pid that is gone, or that now names a process started at another time, is dead', async () => {
    put(record({ pid: await exited() }));
    expect(await judged()).toMatchObject({ kind: 'dead', why: expect.stringMatching(/is gone$/) });
    const child = await sleeper();
    if (processStart(child.pid as number) === undefined) return; // no /proc: pid reuse cannot be told apart here
    put(record({ pid: child.pid as number, processStart: '1' }));
    expect(await judged()).toMatchObject({ kind: 'dead', why: expect.stringMatching(/is another process now$/) });
  });

  it('same host, another boot: dead', async () => {
    if (bootId() === undefined) return;
    const child = await sleeper();
    put(record({ pid: child.pid as number, bootId: 'another-boot' }));
    expect(await judged()).toMatchObject({ kind: 'dead', why: 'the machine restarted since' });
  });

  it('another host: dead when its record stands still, live when it is renewed meanwhile', async () => {
    put(record({ host: 'elsewhere', pid: 4242 }));
    expect(await judged({ staleAfterMs: 400, pollMs: 50 })).toMatchObject({ kind: 'dead', why: expect.stringMatching(/not renewed/) });
    const renewing = setInterval(() => {
      const now = readOwner(dir);
      if (E.isRight(now) && now.right !== undefined) put({ ...now.right, renewals: now.right.renewals + 1 });
    }, 100);
    try {
      expect(await judged({ staleAfterMs: 1_000, pollMs: 50 })).toMatchObject({ kind: 'live', why: expect.stringMatching(/renewed/) });
    } finally {
      clearInterval(renewing);
    }
  });

  it('in this very process: live while the job holding the location runs, dead once it released it', async () => {
    const lease = new OwnerLease(dir, 'job1');
    lease.claim();
    expect(await judged()).toMatchObject({ kind: 'live', why: 'a job of this process is running there' });
    lease.release();
    expect(await judged()).toMatchObject({ kind: 'dead', why: 'an ended job of this process' });
  });

  it('a damaged record is an error naming the file', async () => {
    writeFileSync(join(dir, OWNER_FILE), '{"job": 1');
    const result = await judgePredecessor(dir);
    expect(E.isLeft(result) && result.left).toMatch(new RegExp(`${OWNER_FILE}: not JSON`));
    writeFileSync(join(dir, OWNER_FILE), JSON.stringify({ ...record({}), pid: 'x' }));
    const wrong = await judgePredecessor(dir);
    expect(E.isLeft(wrong) && wrong.left).toMatch(/pid: expected number, got "x"/);
  });
});

describe('OwnerLease', () => {
  it('records every client id at once, renews, and learns when another run took the location over', () => {
    const first = new OwnerLease(dir, 'job1');
    first.claim();
    first.addClient('otsflow-job1_a');
    first.addClient('otsflow-job1_b');
    first.addClient('otsflow-job1_a');
    const stored = JSON.parse(readFileSync(join(dir, OWNER_FILE), 'utf8')) as OwnerRecord;
    expect(stored).toMatchObject({ job: 'job1', pid: process.pid, host: hostname(), clients: ['otsflow-job1_a', 'otsflow-job1_b'], renewals: 0 });
    expect(first.renew()).toEqual({ kind: 'renewed' });
    expect((JSON.parse(readFileSync(join(dir, OWNER_FILE), 'utf8')) as OwnerRecord).renewals).toBe(1);
    const second = new OwnerLease(dir, 'job1');
    second.claim();
    expect(first.renew()).toMatchObject({ kind: 'taken', by: { runId: second.record.runId } });
    expect(second.renew()).toEqual({ kind: 'renewed' });
  });
});
