import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));

export interface Spawned {
  readonly child: ChildProcess;
  /** everything written to stdout so far */
  stdout(): string;
  stderr(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** `node --import tsx <script> ...args`, from the project root. */
export const spawnTs = (script: string, args: readonly string[]): Spawned => {
  const child = spawn(process.execPath, ['--import', 'tsx', script, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout!.on('data', (chunk: Buffer) => (out += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (err += chunk.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  return { child, stdout: () => out, stderr: () => err, exited };
};

/** Resolves with the first match of `pattern` in stdout; rejects if the process exits or time runs out. */
export const waitForOutput = (spawned: Spawned, pattern: RegExp, timeoutMs = 20_000): Promise<RegExpMatchArray> =>
  new Promise((resolve, reject) => {
    const timer = setTimeout(() => done(new Error(`timed out waiting for ${pattern}; stdout: ${spawned.stdout()} stderr: ${spawned.stderr()}`)), timeoutMs);
    const check = () => {
      const match = spawned.stdout().match(pattern);
      if (match !== null) done(undefined, match);
    };
    const onExit = () => done(new Error(`process exited before printing ${pattern}; stdout: ${spawned.stdout()} stderr: ${spawned.stderr()}`));
    const done = (error?: Error, match?: RegExpMatchArray) => {
      clearTimeout(timer);
      spawned.child.stdout!.off('data', check);
      spawned.child.off('exit', onExit);
      if (error !== undefined) reject(error);
      else resolve(match!);
    };
    spawned.child.stdout!.on('data', check);
    spawned.child.on('exit', onExit);
    check();
  });
