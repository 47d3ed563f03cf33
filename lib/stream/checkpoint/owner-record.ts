/**
 * `checkpointLocation/owner.json`: which process runs the job on this location, and which tunnel
 * client ids it connected as. A restart reads it to tell a dead predecessor (its tunnel clients
 * may be shut down at once with ShutdownTunnel, instead of waiting out their heartbeat timeout)
 * from a live copy of the same job (which must be refused).
 *
 * - The live owner rewrites the record every `renewMs` (a counter goes up) and records each tunnel
 *   client id synchronously, before that client's first heartbeat — so every client that ever held
 *   a channel for this run is named here, even when the process is killed right after connecting.
 * - A predecessor is dead when, on the same host and boot, its pid is gone or belongs to a process
 *   started at another time (pid reuse); on another host (a shared checkpoint directory), when its
 *   counter stands still for `staleAfterMs`. A live owner that finds someone else's record in the
 *   file has been taken over and must stop (`renew` says so).
 *
 * Writes are atomic (temp file, fsync, rename), as every checkpoint file.
 */
import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import * as E from 'fp-ts/lib/Either.js';
import * as t from 'io-ts';
import { describeErrors } from './store.js';

export const OWNER_FILE = 'owner.json';
const MAX_CLIENTS = 16;
/** how often a live owner rewrites its record */
export const OWNER_RENEW_MS = 2_000;

const ownerCodec = t.intersection([
  t.type({
    job: t.string,
    runId: t.string,
    pid: t.number,
    host: t.string,
    startedAt: t.number,
    renewals: t.number,
    clients: t.array(t.string),
  }),
  t.partial({ bootId: t.string, processStart: t.string }),
]);

export type OwnerRecord = t.TypeOf<typeof ownerCodec>;

/** locations held by a live job of this process, by run id: one process may run several jobs */
const heldHere = new Map<string, string>();

export type Predecessor =
  | { readonly kind: 'none' }
  | { readonly kind: 'dead'; readonly record: OwnerRecord; readonly why: string }
  | { readonly kind: 'live'; readonly record: OwnerRecord; readonly why: string };

const readText = (file: string): string | undefined => {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
};

/** This machine's boot: a pid names the same process only within one boot. */
export const bootId = (): string | undefined => readText('/proc/sys/kernel/random/boot_id')?.trim();

/** When process `pid` started (clock ticks since boot, /proc/<pid>/stat field 22); undefined off Linux or when gone. */
export function processStart(pid: number): string | undefined {
  const stat = readText(`/proc/${pid}/stat`);
  if (stat === undefined) return undefined;
  // the command name (field 2) may hold spaces and parentheses: count fields after its last ')'
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return fields[19];
}

/** Whether process `pid` exists (on this machine). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: alive, another user's
    return (error as NodeJS.ErrnoException).code !== 'ESRCH';
  }
}

export function describeOwner(record: OwnerRecord): string {
  return `pid ${record.pid} on ${record.host}, started ${new Date(record.startedAt).toISOString()}`;
}

/** The record in `location`, if any; a damaged one is an error naming the file. */
export function readOwner(location: string): E.Either<string, OwnerRecord | undefined> {
  const file = path.join(location, OWNER_FILE);
  const text = readText(file);
  if (text === undefined) return E.right(undefined);
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    return E.left(`${file}: not JSON (${(error as Error).message})`);
  }
  const decoded = ownerCodec.decode(parsed);
  return E.isLeft(decoded) ? E.left(`${file}: ${describeErrors(decoded.left)}`) : E.right(decoded.right);
}

/**
 * Whether the run recorded in `location` is still alive. Same host and boot: answered at once from
 * the pid. Otherwise: the record is watched for `staleAfterMs`; a live owner renews it meanwhile.
 */
export async function judgePredecessor(location: string, options: { readonly staleAfterMs?: number; readonly pollMs?: number } = {}): Promise<E.Either<string, Predecessor>> {
  const first = readOwner(location);
  if (E.isLeft(first) || first.right === undefined) return E.map((): Predecessor => ({ kind: 'none' }))(first);
  const record = first.right;
  if (record.pid === process.pid && record.host === hostname() && record.bootId === bootId()) {
    // this very process: a job of this session still running there, or one that has ended
    return heldHere.get(path.resolve(location)) === record.runId
      ? E.right({ kind: 'live', record, why: 'a job of this process is running there' })
      : E.right({ kind: 'dead', record, why: 'an ended job of this process' });
  }
  if (record.host === hostname() && record.bootId !== undefined && record.bootId === bootId()) {
    if (!isAlive(record.pid)) return E.right({ kind: 'dead', record, why: `pid ${record.pid} is gone` });
    const started = processStart(record.pid);
    if (record.processStart !== undefined && started !== undefined && started !== record.processStart) return E.right({ kind: 'dead', record, why: `pid ${record.pid} is another process now` });
    return E.right({ kind: 'live', record, why: `pid ${record.pid} is running` });
  }
  if (record.host === hostname() && record.bootId !== undefined && bootId() !== undefined && record.bootId !== bootId()) {
    return E.right({ kind: 'dead', record, why: 'the machine restarted since' });
  }
  // another host (or no way to tell): a live owner renews its record every OWNER_RENEW_MS
  const staleAfterMs = options.staleAfterMs ?? 3 * OWNER_RENEW_MS + 500;
  const deadline = Date.now() + staleAfterMs;
  while (Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, options.pollMs ?? 250));
    const now = readOwner(location);
    if (E.isLeft(now)) return now;
    if (now.right === undefined || now.right.runId !== record.runId || now.right.renewals !== record.renewals) {
      return E.right({ kind: 'live', record: now.right ?? record, why: `its record is renewed (host ${record.host})` });
    }
  }
  return E.right({ kind: 'dead', record, why: `its record was not renewed for ${Math.round(staleAfterMs / 1000)} s` });
}

/** The record of this process's run; `claim` writes it, `addClient` and `renew` keep it current. */
export class OwnerLease {
  readonly record: { -readonly [K in keyof OwnerRecord]: OwnerRecord[K] };
  constructor(
    readonly location: string,
    job: string,
  ) {
    const boot = bootId();
    const started = processStart(process.pid);
    this.record = {
      job,
      runId: randomBytes(8).toString('hex'),
      pid: process.pid,
      host: hostname(),
      startedAt: Date.now(),
      renewals: 0,
      clients: [],
      ...(boot === undefined ? {} : { bootId: boot }),
      ...(started === undefined ? {} : { processStart: started }),
    };
  }

  /** Writes the record (durably). Throws on a location that cannot be written. */
  claim(): void {
    mkdirSync(this.location, { recursive: true });
    this.write(true);
    heldHere.set(path.resolve(this.location), this.record.runId);
  }

  /** The job ended: the record stays (a restart reads it), but it no longer stands for a live job. */
  release(): void {
    if (heldHere.get(path.resolve(this.location)) === this.record.runId) heldHere.delete(path.resolve(this.location));
  }

  /** Records a tunnel client id, durably, before the caller lets it heartbeat. */
  addClient(clientId: string): void {
    if (this.record.clients.includes(clientId)) return;
    this.record.clients.push(clientId);
    // sessions replaced long ago have expired on the service: the newest few are enough
    if (this.record.clients.length > MAX_CLIENTS) this.record.clients.splice(0, this.record.clients.length - MAX_CLIENTS);
    this.write(true);
  }

  /**
   * Renews the record; `taken` when another run's record replaced it (that run judged this one
   * dead): this run must stop without writing anything more.
   */
  renew(): { readonly kind: 'renewed' } | { readonly kind: 'taken'; readonly by: OwnerRecord } | { readonly kind: 'failed'; readonly error: unknown } {
    const current = readOwner(this.location);
    if (E.isRight(current) && current.right !== undefined && current.right.runId !== this.record.runId) return { kind: 'taken', by: current.right };
    this.record.renewals++;
    try {
      this.write(false);
      return { kind: 'renewed' };
    } catch (error) {
      return { kind: 'failed', error };
    }
  }

  private write(durable: boolean): void {
    writeFileAtomicallySync(path.join(this.location, OWNER_FILE), `${JSON.stringify(this.record)}\n`, durable);
  }
}

/** Temp file, (fsync), rename over `file`, (fsync of the directory). */
export function writeFileAtomicallySync(file: string, text: string, durable = true): void {
  const directory = path.dirname(file);
  const temp = path.join(directory, `.${path.basename(file)}.${process.pid}.tmp`);
  const fd = openSync(temp, 'w');
  try {
    writeSync(fd, text);
    if (durable) fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(temp, file);
  if (durable) {
    const handle = openSync(directory, 'r');
    try {
      fsyncSync(handle);
    } finally {
      closeSync(handle);
    }
  }
}
