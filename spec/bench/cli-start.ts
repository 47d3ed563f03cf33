/**
 * How long the CLI takes to answer `--help` from a clone (`npx tsx spec/bench/cli-start.ts`):
 * `node bin/otsflow.js` as the README runs it, 5 times (median). With BENCH_NPX=1 also
 * `npx otsflow` in a throwaway clone with its own npm cache (never the user's): its first call
 * installs the project into the npx cache and runs `prepare`, which is why the README avoids it.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readdirSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from '../emulator/process.js';

const timed = (command: string, args: readonly string[], options: { cwd: string; env?: NodeJS.ProcessEnv }) => {
  const started = performance.now();
  const result = spawnSync(command, args, { cwd: options.cwd, env: options.env ?? process.env, encoding: 'utf8', timeout: 180_000 });
  return { ms: performance.now() - started, status: result.status, stderr: result.stderr };
};

const runs = Array.from({ length: 5 }, () => timed(process.execPath, [join(ROOT, 'bin', 'otsflow.js'), '--help'], { cwd: ROOT }).ms).sort((a, b) => a - b);
console.log(`node bin/otsflow.js --help   median ${runs[2]!.toFixed(0)} ms (min ${runs[0]!.toFixed(0)}, max ${runs[4]!.toFixed(0)})`);

if (process.env.BENCH_NPX === '1') {
  const dir = mkdtempSync(join(tmpdir(), 'otsflow-npx-bench-'));
  try {
    const clone = join(dir, 'clone');
    execFileSync('git', ['clone', '-q', ROOT, clone]);
    symlinkSync(join(ROOT, 'node_modules'), join(clone, 'node_modules'));
    cpSync(join(ROOT, 'dist'), join(clone, 'dist'), { recursive: true });
    const env = { ...process.env, npm_config_cache: join(dir, 'npm-cache'), npm_config_update_notifier: 'false' };
    for (const call of ['first', 'second']) {
      const result = timed('npx', ['otsflow', '--help'], { cwd: clone, env });
      const cache = join(dir, 'npm-cache', '_npx');
      let entries: string[] = [];
      try {
        entries = readdirSync(cache).flatMap((hash) => readdirSync(join(cache, hash)).map((name) => `${hash}/${name}`));
      } catch {
        // no npx cache yet
      }
      console.log(`npx otsflow --help (${call} call)  ${result.ms.toFixed(0)} ms, exit ${result.status}; npx cache holds: ${entries.join(', ') || 'nothing'}`);
      if (result.status !== 0) console.log(`  ${result.stderr.trim().split('\n').slice(-2).join('\n  ')}`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
