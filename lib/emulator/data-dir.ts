/**
 * The emulator's data directory: checked and created before LMDB opens it, so a bad path is
 * reported as what it is (a file in the way, a parent that is a file, no permission) rather
 * than as LMDB's or mkdir's raw error.
 */
import * as E from 'fp-ts/lib/Either.js';
import { mkdirSync, statSync } from 'node:fs';
import { resolve } from 'node:path';

/** Resolves `path`, creating the directory (and its parents) when missing; Left = why it cannot be used. */
export const prepareDataDir = (path: string): E.Either<string, string> => {
  const dir = resolve(path);
  let existing: ReturnType<typeof statSync>;
  try {
    existing = statSync(dir, { throwIfNoEntry: false });
  } catch (error) {
    return E.left(`cannot use the data directory '${dir}': ${reasonOf(error)}`);
  }
  if (existing !== undefined && !existing.isDirectory()) {
    return E.left(`data path '${dir}' is a file, not a directory: give a directory (it is created when missing)`);
  }
  if (existing === undefined) {
    try {
      mkdirSync(dir, { recursive: true });
    } catch (error) {
      return E.left(`cannot create the data directory '${dir}': ${reasonOf(error)}`);
    }
  }
  return E.right(dir);
};

const reasonOf = (error: unknown): string => {
  const code = (error as NodeJS.ErrnoException).code;
  return code === 'ENOTDIR' || code === 'EEXIST'
    ? 'a part of that path is a file, not a directory'
    : code === 'EACCES' || code === 'EPERM'
      ? 'permission denied'
      : (error as Error).message;
};
