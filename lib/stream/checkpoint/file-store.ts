/**
 * The checkpoint store on a local directory. Every file is written atomically: a temp file in the
 * same directory, fsync, rename over the final name, fsync of the directory — so after a crash a
 * file is either the old complete one or the new complete one. A location that cannot be written
 * (permissions, a full disk) rejects with a CheckpointError naming the file, and the pipeline stops
 * before acknowledging anything.
 */
import { constants as fsConstants, promises as fs } from 'node:fs';
import * as path from 'node:path';
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
  /** how many plans and commits to keep (at least 1, default 10) */
  readonly retain?: number;
}

const OFFSETS = 'offsets';
const COMMITS = 'commits';

export function fileCheckpointStore(location: string, options: FileCheckpointOptions = {}): CheckpointStore {
  const retain = Math.max(1, options.retain ?? 10);
  const directories = new Set<string>();

  const ensureDirectory = async (directory: string): Promise<void> => {
    if (directories.has(directory)) return;
    await fs.mkdir(directory, { recursive: true });
    await syncDirectory(path.dirname(directory));
    directories.add(directory);
  };

  const write = async (kind: string, batchId: number, body: unknown): Promise<void> => {
    const directory = path.join(location, kind);
    const file = path.join(directory, String(batchId));
    try {
      await ensureDirectory(directory);
      await writeAtomically(file, `${JSON.stringify(body)}\n`);
    } catch (error) {
      const acknowledged = batchId === 0 ? 'nothing was acknowledged' : `nothing after batch ${batchId - 1} was acknowledged`;
      throw new CheckpointError(location, `cannot persist ${kind}/${batchId} (${describeFsError(error)}); ${acknowledged}`, error);
    }
  };

  const prune = async (kind: string, newest: number): Promise<void> => {
    const directory = path.join(location, kind);
    for (const id of await batchIds(directory)) {
      if (id <= newest - retain) await fs.rm(path.join(directory, String(id)), { force: true });
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
        const commitIds = await batchIds(path.join(location, COMMITS));
        const lastCommit = commitIds[commitIds.length - 1];
        let commit: BatchCommit | undefined;
        if (lastCommit !== undefined) {
          const decoded = await readFile(path.join(location, COMMITS, String(lastCommit)), commitCodec);
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
          const decoded = await readFile(path.join(location, OFFSETS, String(nextId)), planCodec);
          if (E.isLeft(decoded)) return E.left(new CheckpointError(location, `${OFFSETS}/${nextId}: ${decoded.left}`));
          plan = decoded.right;
        }
        await removeTempFilesOfDeadProcesses(location);
        return E.right<CheckpointError, RestoredCheckpoint>({ commit, plan });
      } catch (error) {
        return E.left(new CheckpointError(location, `cannot read (${describeFsError(error)})`, error));
      }
    },
    writePlan(plan: BatchPlan) {
      return write(OFFSETS, plan.batchId, plan);
    },
    async writeCommit(commit: BatchCommit) {
      await write(COMMITS, commit.batchId, commit);
      try {
        await prune(OFFSETS, commit.batchId);
        await prune(COMMITS, commit.batchId);
      } catch {
        // pruning is housekeeping: a leftover old file is harmless and retried after the next commit
      }
    },
  };
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

const TEMP_FILE = /^\.(0|[1-9][0-9]*)\.([1-9][0-9]*)\.tmp$/;

/**
 * A process killed between writing a temp file and renaming it leaves `.<batch>.<pid>.tmp`
 * behind. On load those of processes that are gone are removed; a live process's (another job
 * on this location, or this one) are left alone. Housekeeping only: failures are ignored.
 */
async function removeTempFilesOfDeadProcesses(location: string): Promise<void> {
  for (const kind of [OFFSETS, COMMITS]) {
    const directory = path.join(location, kind);
    const names = await fs.readdir(directory).catch(() => [] as string[]);
    for (const name of names) {
      const pid = Number(TEMP_FILE.exec(name)?.[2] ?? 0);
      if (pid !== 0 && pid !== process.pid && !isAlive(pid)) await fs.rm(path.join(directory, name), { force: true }).catch(() => undefined);
    }
  }
}

async function readFile<A>(file: string, codec: t.Type<A, A, unknown>): Promise<E.Either<string, A>> {
  const text = await fs.readFile(file, 'utf8');
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    return E.left(`not JSON (${(error as Error).message})`);
  }
  const decoded = codec.decode(parsed);
  return E.isLeft(decoded) ? E.left(describeErrors(decoded.left)) : E.right(decoded.right);
}

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
