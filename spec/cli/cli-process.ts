/**
 * The compiled CLI (`bin/otsflow.js` → `dist/cli/main.js`) as a user runs it: a child process
 * with its own environment, output collected. `dist/` is rebuilt first when any source under
 * `lib/` is newer than it, so a stale build is never what gets tested.
 */
import { spawn } from 'node:child_process';
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from '../emulator/process.js';

const COMPILED_MAIN = join(ROOT, 'dist', 'cli', 'main.js');

function newestSource(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestSource(path));
    else if (entry.name.endsWith('.ts') || entry.name.endsWith('.proto')) newest = Math.max(newest, statSync(path).mtimeMs);
  }
  return newest;
}

/** Builds `dist/` (tsc -p tsconfig.build.json) unless it is newer than every source file. */
export function ensureCompiledCli(): void {
  const sources = Math.max(newestSource(join(ROOT, 'lib')), statSync(join(ROOT, 'tsconfig.json')).mtimeMs, statSync(join(ROOT, 'tsconfig.build.json')).mtimeMs);
  if (existsSync(COMPILED_MAIN) && statSync(COMPILED_MAIN).mtimeMs >= sources) return;
  execFileSync(process.execPath, [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.build.json'], { cwd: ROOT, stdio: 'inherit' });
}

export interface CliResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
  /** stderr split into its non-empty lines */
  readonly stderrLines: readonly string[];
  readonly ms: number;
}

export interface RunCliOptions {
  /** added to the environment (undefined removes a variable) */
  readonly env?: Readonly<Record<string, string | undefined>>;
  readonly cwd?: string;
  readonly timeoutMs?: number;
}

/** The caller's environment without any OTSFLOW_* / ALIBABA_CLOUD_* variable, so a developer's setup never leaks in. */
const cleanEnvironment = (): NodeJS.ProcessEnv =>
  Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('OTSFLOW_') && !name.startsWith('ALIBABA_CLOUD_')));

/**
 * Runs `otsflow <args>` to its end. Asynchronous on purpose: the emulator a test talks to lives
 * in the test's own process and must keep serving while the CLI runs.
 */
export function runCli(args: readonly string[], options: RunCliOptions = {}): Promise<CliResult> {
  const env = cleanEnvironment();
  for (const [name, value] of Object.entries(options.env ?? {})) {
    if (value === undefined) delete env[name];
    else env[name] = value;
  }
  const started = Date.now();
  const child = spawn(process.execPath, [join(ROOT, 'bin', 'otsflow.js'), ...args], { cwd: options.cwd ?? ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const timeoutMs = options.timeoutMs ?? 25_000;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`otsflow ${args.join(' ')} did not end within ${timeoutMs} ms; stdout: ${stdout} stderr: ${stderr}`));
    }, timeoutMs);
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, stderrLines: stderr.split('\n').filter((line) => line.trim() !== ''), ms: Date.now() - started });
    });
  });
}
