/**
 * The README's commands work in a clone as written, without npm in between (issue 15 item 13):
 * `npx otsflow` inside the clone installs the project into npm's npx cache and runs `prepare`
 * first (6–15 s measured), and an interrupted first call leaves that cache broken, so the README
 * and the examples run `node bin/otsflow.js …`. Each command path they show answers `--help`, and
 * `bin/otsflow.js` names what is missing when the clone is not installed or built.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { ROOT } from '../emulator/process.js';
import { ensureCompiledCli, runCli } from './cli-process.js';

const DOCS = ['README.md', 'examples/orders/job.sql', 'examples/orders/large-orders/job.sql'];
const read = (file: string) => readFileSync(join(ROOT, file), 'utf8');

/** `node bin/otsflow.js tunnel list|describe|delete …` → [['tunnel','list'], ['tunnel','describe'], ['tunnel','delete']] */
const commandPaths = (text: string): string[][] => {
  const paths = new Map<string, string[]>();
  for (const match of text.matchAll(/node bin\/otsflow\.js((?: [a-z|]+)+)/g)) {
    const words = match[1]!.trim().split(' ');
    const expand = (at: number, prefix: string[]): void => {
      if (at === words.length) {
        paths.set(prefix.join(' '), prefix);
        return;
      }
      for (const alternative of words[at]!.split('|')) expand(at + 1, [...prefix, alternative]);
    };
    expand(0, []);
  }
  return [...paths.values()];
};

beforeAll(() => ensureCompiledCli());

describe('the README runs the CLI without npx', () => {
  it('shows no npx/npm exec route to otsflow as a command, in the README or the examples', () => {
    for (const file of DOCS) {
      // a command line or an inline command; the README's note on why is prose (`npx otsflow` alone)
      expect(read(file)).not.toMatch(/(^|`|--\s+|\$\()(npx|npm exec( --)?) otsflow [a-z-]/m);
    }
    expect(read('README.md')).toMatch(/node bin\/otsflow\.js sql -f examples\/orders\/job\.sql/);
  });

  it('every command path the README and examples show answers --help from the clone', async () => {
    const paths = commandPaths(DOCS.map(read).join('\n'));
    const shown = paths.map((path) => path.join(' '));
    // the README's own list: demo, sql, tunnel create/list/describe/delete, emulator
    expect(shown).toEqual(expect.arrayContaining(['demo', 'sql', 'tunnel create', 'tunnel list', 'tunnel describe', 'tunnel delete', 'emulator']));
    for (const path of paths) {
      const result = await runCli([...path, '--help']);
      expect({ path: path.join(' '), code: result.code }).toEqual({ path: path.join(' '), code: 0 });
      expect(result.stdout).toMatch(new RegExp(`^Usage: otsflow ${path.join(' ')}`, 'm'));
    }
  }, 60_000);
});

describe('bin/otsflow.js in a clone that is not ready', () => {
  const run = (dir: string) => spawnSync(process.execPath, [join(dir, 'bin', 'otsflow.js'), '--help'], { cwd: dir, encoding: 'utf8' });

  it('names the missing build, then the missing dependencies, in one line each', () => {
    const dir = mkdtempSync(join(tmpdir(), 'otsflow-clone-'));
    try {
      mkdirSync(join(dir, 'bin'));
      copyFileSync(join(ROOT, 'bin', 'otsflow.js'), join(dir, 'bin', 'otsflow.js'));
      copyFileSync(join(ROOT, 'package.json'), join(dir, 'package.json'));
      const unbuilt = run(dir);
      expect(unbuilt.status).toBe(1);
      expect(unbuilt.stderr.trim()).toBe('otsflow: the compiled CLI is missing; run `npm install` (or `npm run build`) in the otsflow folder first.');

      // built, but no node_modules next to it
      cpSync(join(ROOT, 'dist'), join(dir, 'dist'), { recursive: true });
      const uninstalled = run(dir);
      expect(uninstalled.status).toBe(1);
      expect(uninstalled.stderr.trim()).toMatch(/^otsflow: the dependency '[^']+' is not installed; run `npm install` in the otsflow folder first\.$/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
