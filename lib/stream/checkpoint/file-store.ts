/**
 * The checkpoint store on a local directory: one append-only log, `checkpoint.log`, one line per
 * plan (`offsets/N`) and per commit (`commits/N`):
 *
 *   offsets/7 1c291ca3 {"batchId":7,"watermark":null,"channels":{…}}
 *   commits/7 5e0a6b41 {"batchId":7,"offsets":{…},"watermark":null,"state":{…}}
 *
 * each with the CRC-32 of its name and JSON. A write appends one line and fdatasyncs it before it
 * resolves — one small write and one sync per plan and per commit, where a file per entry cost a
 * temp file, a rename and two more syncs (spec/bench/seed-job.ts). A process killed (or a disk that
 * filled) mid-append leaves at most a damaged last line: it was never durable, so nothing was
 * built on it, and load() cuts it off. A damaged line with intact lines after it is corruption and
 * an error. Every `retain + 100` commits — sooner when the log outgrows both 1 MiB and four times
 * what a compaction keeps — the log is compacted: the last `retain` commits and the plans after
 * them are written to a temp file, fsynced and renamed over the log.
 *
 * A location written by an older version (files under offsets/ and commits/) is read as before
 * and carried into a new log on load. A location that cannot be written (permissions, a full
 * disk) rejects with a CheckpointError naming the entry, and the pipeline stops before
 * acknowledging anything.
 */
import { constants as fsConstants, promises as fs } from 'node:fs';
import * as path from 'node:path';
import { crc32 } from 'node:zlib';
import * as E from 'fp-ts/lib/Either.js';
import type * as t from 'io-ts';
import { isAlive } from './owner-record.js';
import {
  CheckpointError,
  commitCodec,
  describeErrors,
  planCodec,
  type BatchCommit,
  type BatchPlan,
  type CheckpointStore,
  type RestoredCheckpoint,
} from './store.js';

export interface FileCheckpointOptions {
  /** how many commits (with the plans after them) a compaction of the log keeps (at least 1, default 10) */
  readonly retain?: number;
}

/** the log's file name inside the location */
export const CHECKPOINT_LOG = 'checkpoint.log';
const OFFSETS = 'offsets';
const COMMITS = 'commits';
/** commits beyond `retain` before a compaction */
const COMPACT_EXTRA_COMMITS = 100;
/** a log smaller than this is not compacted for its size */
const COMPACT_MIN_BYTES = 1 << 20;
/** …and a larger one when it is this many times what a compaction keeps (bounds the rewriting to a third) */
const COMPACT_GROWTH = 4;

type EntryKind = typeof OFFSETS | typeof COMMITS;

/** One intact line of the log. */
export interface CheckpointLogEntry {
  readonly kind: EntryKind;
  readonly batchId: number;
  /** the entry's JSON text */
  readonly json: string;
}

export interface ParsedCheckpointLog {
  readonly entries: readonly CheckpointLogEntry[];
  /** bytes up to the end of the last intact line */
  readonly intactLength: number;
  /** a damaged line with intact lines after it (1-based), which no crash explains */
  readonly damagedLine: number | undefined;
}

const LINE = /^(offsets|commits)\/(0|[1-9][0-9]*) ([0-9a-f]{8}) (.*)$/s;

const checksum = (name: string, json: string): string => crc32(`${name} ${json}`).toString(16).padStart(8, '0');

/** The log line of an entry, newline included. */
export function checkpointLogLine(kind: EntryKind, batchId: number, json: string): string {
  const name = `${kind}/${batchId}`;
  return `${name} ${checksum(name, json)} ${json}\n`;
}

/**
 * The intact entries of a log's bytes. Damaged lines at the end (a cut append) are left out and
 * `intactLength` ends before them; a damaged line followed by an intact one is `damagedLine`.
 */
export function parseCheckpointLog(bytes: Uint8Array): ParsedCheckpointLog {
  const entries: CheckpointLogEntry[] = [];
  const decoder = new TextDecoder('utf-8', { fatal: true });
  let intactLength = 0;
  let firstDamaged: number | undefined;
  let start = 0;
  for (let line = 1; start < bytes.length; line++) {
    const newline = bytes.indexOf(0x0a, start);
    const end = newline < 0 ? bytes.length : newline;
    let entry: CheckpointLogEntry | undefined;
    if (newline >= 0) {
      try {
        const match = LINE.exec(decoder.decode(bytes.subarray(start, end)));
        if (match !== null && checksum(`${match[1]}/${match[2]}`, match[4] as string) === match[3]) {
          entry = { kind: match[1] as EntryKind, batchId: Number(match[2]), json: match[4] as string };
        }
      } catch {
        // not UTF-8: damaged
      }
    }
    if (entry === undefined) {
      firstDamaged ??= line;
    } else {
      if (firstDamaged !== undefined) return { entries, intactLength, damagedLine: firstDamaged };
      entries.push(entry);
      intactLength = end + 1;
    }
    start = end + 1;
  }
  return { entries, intactLength, damagedLine: undefined };
}

export function fileCheckpointStore(location: string, options: FileCheckpointOptions = {}): CheckpointStore {
  const retain = Math.max(1, options.retain ?? 10);
  const log = path.join(location, CHECKPOINT_LOG);
  /** the log exists and its directory entry is durable */
  let logReady = false;
  /** what a compaction keeps: the newest entries' lines (commits up to `retain`, plans after the oldest) */
  const recent: { kind: EntryKind; batchId: number; line: string }[] = [];
  let commitsInLog = 0;
  let bytesInLog = 0;

  const remember = (kind: EntryKind, batchId: number, line: string): void => {
    recent.push({ kind, batchId, line });
    if (kind === COMMITS) commitsInLog++;
    bytesInLog += Buffer.byteLength(line);
    let commits = 0;
    for (const entry of recent) if (entry.kind === COMMITS) commits++;
    while (commits > retain) {
      const dropped = recent.shift();
      if (dropped?.kind === COMMITS) commits--;
    }
  };

  /**
   * A new log, durable: empty, or holding what a location written with a file per entry
   * (offsets/N, commits/N) restores to — its last commit and pending plan.
   */
  const createLog = async (): Promise<E.Either<CheckpointError, RestoredCheckpoint>> => {
    await fs.mkdir(location, { recursive: true });
    const loaded = await loadFiles(location);
    if (E.isLeft(loaded)) return loaded;
    const { commit, plan } = loaded.right;
    const lines = [...(commit === undefined ? [] : [[COMMITS, commit] as const]), ...(plan === undefined ? [] : [[OFFSETS, plan] as const])].map(([kind, body]) => {
      const line = checkpointLogLine(kind, body.batchId, JSON.stringify(body));
      remember(kind, body.batchId, line);
      return line;
    });
    await writeAtomically(log, lines.join(''));
    await syncDirectory(path.dirname(location));
    logReady = true;
    return loaded;
  };

  /** The directory and the log, durable, before the first append. */
  const prepare = async (): Promise<void> => {
    if (logReady) return;
    try {
      await fs.access(log, fsConstants.F_OK);
      logReady = true;
    } catch {
      const created = await createLog();
      if (E.isLeft(created)) throw created.left;
    }
  };

  const append = async (kind: EntryKind, batchId: number, body: unknown): Promise<void> => {
    const line = checkpointLogLine(kind, batchId, JSON.stringify(body));
    try {
      await prepare();
      // opened per append: a compaction (or an operator) may have replaced the file
      const handle = await fs.open(log, 'a');
      try {
        const bytes = Buffer.from(line, 'utf8');
        for (let written = 0; written < bytes.length; ) written += (await handle.write(bytes, written)).bytesWritten;
        await handle.datasync();
      } finally {
        await handle.close();
      }
    } catch (error) {
      if (error instanceof CheckpointError) throw error;
      const acknowledged = batchId === 0 ? 'nothing was acknowledged' : `nothing after batch ${batchId - 1} was acknowledged`;
      throw new CheckpointError(location, `cannot persist ${kind}/${batchId} (${describeFsError(error)}); ${acknowledged}`, error);
    }
    remember(kind, batchId, line);
  };

  /** Rewrites the log with the entries a compaction keeps. */
  const compact = async (): Promise<void> => {
    await writeAtomically(log, recent.map((entry) => entry.line).join(''));
    commitsInLog = 0;
    bytesInLog = 0;
    for (const entry of recent) {
      if (entry.kind === COMMITS) commitsInLog++;
      bytesInLog += Buffer.byteLength(entry.line);
    }
  };

  return {
    location,
    async load() {
      try {
        await fs.access(location, fsConstants.F_OK);
      } catch {
        return E.right({ commit: undefined, plan: undefined });
      }
      try {
        let text: Buffer | undefined;
        try {
          text = await fs.readFile(log);
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
        }
        recent.length = 0;
        commitsInLog = 0;
        bytesInLog = 0;
        if (text === undefined) {
          // a fresh location, or one written by a version with a file per entry: carried into a new log
          const created = await createLog();
          if (E.isRight(created)) await removeTempFilesOfDeadProcesses(location);
          return created;
        }
        const parsed = parseCheckpointLog(text);
        if (parsed.damagedLine !== undefined) {
          return E.left(new CheckpointError(location, `${CHECKPOINT_LOG} line ${parsed.damagedLine} is damaged and intact entries follow it; the log is inconsistent`));
        }
        let commit: BatchCommit | undefined;
        const plans = new Map<number, BatchPlan>();
        for (const entry of parsed.entries) {
          const name = `${entry.kind}/${entry.batchId}`;
          const decoded = decodeJson<BatchCommit | BatchPlan>(entry.json, (entry.kind === COMMITS ? commitCodec : planCodec) as t.Type<BatchCommit | BatchPlan, BatchCommit | BatchPlan, unknown>);
          if (E.isLeft(decoded)) return E.left(new CheckpointError(location, `${name}: ${decoded.left}`));
          if (decoded.right.batchId !== entry.batchId) return E.left(new CheckpointError(location, `${name} holds batch ${decoded.right.batchId}`));
          if (entry.kind === COMMITS) {
            if (commit !== undefined && entry.batchId <= commit.batchId) return E.left(new CheckpointError(location, `${name} follows commits/${commit.batchId}; the log is inconsistent`));
            commit = decoded.right as BatchCommit;
          } else {
            plans.set(entry.batchId, decoded.right as BatchPlan);
          }
          remember(entry.kind, entry.batchId, checkpointLogLine(entry.kind, entry.batchId, entry.json));
        }
        const nextId = commit === undefined ? 0 : commit.batchId + 1;
        const stray = [...plans.keys()].filter((id) => id > nextId).sort((a, b) => a - b);
        if (stray.length > 0) return E.left(new CheckpointError(location, `${OFFSETS}/${stray[0]} is ahead of the last commit (${commit?.batchId ?? 'none'}); the log is inconsistent`));
        // a cut append at the end was never durable: cut it off before appending after it
        if (parsed.intactLength < text.length) await fs.truncate(log, parsed.intactLength);
        logReady = true;
        await removeTempFilesOfDeadProcesses(location);
        return E.right<CheckpointError, RestoredCheckpoint>({ commit, plan: plans.get(nextId) });
      } catch (error) {
        return E.left(new CheckpointError(location, `cannot read (${describeFsError(error)})`, error));
      }
    },
    writePlan(plan: BatchPlan) {
      return append(OFFSETS, plan.batchId, plan);
    },
    async writeCommit(commit: BatchCommit) {
      await append(COMMITS, commit.batchId, commit);
      let kept = 0;
      for (const entry of recent) kept += Buffer.byteLength(entry.line);
      if (commitsInLog < retain + COMPACT_EXTRA_COMMITS && bytesInLog < Math.max(COMPACT_MIN_BYTES, COMPACT_GROWTH * kept)) return;
      try {
        await compact();
      } catch {
        // compaction is housekeeping: the log stays as it was (the rename is atomic) and is compacted after a later commit
      }
    },
  };
}

/** The last commit and its pending plan of a location written with a file per entry (offsets/N, commits/N). */
async function loadFiles(location: string): Promise<E.Either<CheckpointError, RestoredCheckpoint>> {
  const commitIds = await batchIds(path.join(location, COMMITS));
  const lastCommit = commitIds[commitIds.length - 1];
  let commit: BatchCommit | undefined;
  if (lastCommit !== undefined) {
    const decoded = decodeJson(await fs.readFile(path.join(location, COMMITS, String(lastCommit)), 'utf8'), commitCodec);
    if (E.isLeft(decoded)) return E.left(new CheckpointError(location, `${COMMITS}/${lastCommit}: ${decoded.left}`));
    commit = decoded.right;
    if (commit.batchId !== lastCommit) return E.left(new CheckpointError(location, `${COMMITS}/${lastCommit} holds batch ${commit.batchId}`));
  }
  const nextId = lastCommit === undefined ? 0 : lastCommit + 1;
  const planIds = await batchIds(path.join(location, OFFSETS));
  const stray = planIds.filter((id) => id > nextId);
  if (stray.length > 0) return E.left(new CheckpointError(location, `${OFFSETS}/${stray[0]} is ahead of the last commit (${lastCommit ?? 'none'}); the log is inconsistent`));
  let plan: BatchPlan | undefined;
  if (planIds.includes(nextId)) {
    const decoded = decodeJson(await fs.readFile(path.join(location, OFFSETS, String(nextId)), 'utf8'), planCodec);
    if (E.isLeft(decoded)) return E.left(new CheckpointError(location, `${OFFSETS}/${nextId}: ${decoded.left}`));
    plan = decoded.right;
  }
  return E.right({ commit, plan });
}

async function batchIds(directory: string): Promise<number[]> {
  let names: string[];
  try {
    names = await fs.readdir(directory);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
  return names
    .filter((name) => /^(0|[1-9][0-9]*)$/.test(name))
    .map(Number)
    .sort((a, b) => a - b);
}

/** `.checkpoint.log.<pid>.tmp` (a compaction), `.<batch>.<pid>.tmp` (older versions' entry files) */
const TEMP_FILE = /^\.(?:checkpoint\.log|0|[1-9][0-9]*)\.([1-9][0-9]*)\.tmp$/;

/**
 * A process killed between writing a temp file and renaming it leaves it behind. On load those of
 * processes that are gone are removed; a live process's (another job on this location, or this
 * one) are left alone. Housekeeping only: failures are ignored.
 */
async function removeTempFilesOfDeadProcesses(location: string): Promise<void> {
  for (const directory of [location, path.join(location, OFFSETS), path.join(location, COMMITS)]) {
    const names = await fs.readdir(directory).catch(() => [] as string[]);
    for (const name of names) {
      const pid = Number(TEMP_FILE.exec(name)?.[1] ?? 0);
      if (pid !== 0 && pid !== process.pid && !isAlive(pid)) await fs.rm(path.join(directory, name), { force: true }).catch(() => undefined);
    }
  }
}

function decodeJson<A>(text: string, codec: t.Type<A, A, unknown>): E.Either<string, A> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    return E.left(`not JSON (${(error as Error).message})`);
  }
  const decoded = codec.decode(parsed);
  return E.isLeft(decoded) ? E.left(describeErrors(decoded.left)) : E.right(decoded.right);
}

/** A temp file in the same directory, fsync, rename over `file`, fsync of the directory. */
async function writeAtomically(file: string, text: string): Promise<void> {
  const temp = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.tmp`);
  const handle = await fs.open(temp, 'w');
  try {
    await handle.writeFile(text, 'utf8');
    await handle.sync();
  } finally {
    await handle.close();
  }
  await fs.rename(temp, file);
  await syncDirectory(path.dirname(file));
}

async function syncDirectory(directory: string): Promise<void> {
  const handle = await fs.open(directory, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

function describeFsError(error: unknown): string {
  const code = (error as NodeJS.ErrnoException).code;
  const message = error instanceof Error ? error.message : String(error);
  if (code === 'ENOSPC') return `the disk is full: ${message}`;
  if (code === 'EACCES' || code === 'EPERM' || code === 'EROFS') return `not writable: ${message}`;
  return message;
}
