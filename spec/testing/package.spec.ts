/**
 * What `npm pack` ships, and that a project installing the tarball can use both entries: the
 * tarball is unpacked into a temporary project's node_modules/otsflow (what npm install does with
 * it), the package's dependencies are linked from this checkout's node_modules (no network), and a
 * consumer module imports `otsflow` and `otsflow/testing` through the package's `exports` — run
 * by node, and type-checked against the shipped .d.ts files. Needs a built dist/ (`npm run build`;
 * `npm ci` builds it).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const REPO = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const pkg = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { name: string; dependencies: Record<string, string>; exports: Record<string, { types: string; default: string }>; bin: Record<string, string> };

let work: string;
let files: string[];
let project: string;

beforeAll(() => {
  if (!existsSync(join(REPO, 'dist', 'testing', 'index.js'))) throw new Error('dist/ has no testing entry: run `npm run build` first');
  work = mkdtempSync(join(tmpdir(), 'otsflow-pack-'));
  // --ignore-scripts: pack what is built, without rebuilding (prepare) on every run
  const out = execFileSync('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', work], { cwd: REPO, encoding: 'utf8', env: { ...process.env, npm_config_loglevel: 'error', npm_config_update_notifier: 'false' } });
  const [packed] = JSON.parse(out) as { filename: string; files: { path: string }[] }[];
  if (packed === undefined) throw new Error(`npm pack printed no result: ${out}`);
  files = packed.files.map((file) => file.path).sort();
  project = join(work, 'consumer');
  const installed = join(project, 'node_modules', pkg.name);
  mkdirSync(installed, { recursive: true });
  execFileSync('tar', ['-xzf', join(work, packed.filename), '-C', installed, '--strip-components=1']);
  for (const dependency of Object.keys(pkg.dependencies)) {
    const target = join(project, 'node_modules', dependency);
    mkdirSync(dirname(target), { recursive: true });
    symlinkSync(join(REPO, 'node_modules', dependency), target, 'dir');
  }
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module', dependencies: { [pkg.name]: `file:${packed.filename}` } }));
}, 60_000);

afterAll(() => {
  if (work !== undefined) rmSync(work, { recursive: true, force: true });
});

describe('npm pack', () => {
  it('ships the built entries, their types, the CLI, the sources and the examples — no specs', () => {
    for (const entry of Object.values(pkg.exports)) {
      expect(files).toContain(entry.default.replace(/^\.\//, ''));
      expect(files).toContain(entry.types.replace(/^\.\//, ''));
    }
    for (const bin of Object.values(pkg.bin)) expect(files).toContain(bin);
    expect(files).toEqual(expect.arrayContaining(['package.json', 'README.md', 'dist/cli/main.js', 'lib/testing/index.ts', 'examples/testing/operators.spec.ts', 'examples/testing/sql-query.spec.ts']));
    expect(files.filter((file) => /^(spec|node_modules|\.otsflow|\.ci)\//.test(file))).toEqual([]);
  });

  it('a project that installed the tarball imports otsflow and otsflow/testing through exports, and runs sqlOperator', () => {
    writeFileSync(
      join(project, 'check.mjs'),
      `
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { StreamMetrics } from 'otsflow';
import { marbleSource, putRow, sqlOperator, testScheduler } from 'otsflow/testing';
const sql = "CREATE TABLE t USING tablestore OPTIONS(table.name='T', catalog='{\\"columns\\": {\\"k\\": {\\"type\\": \\"string\\"}, \\"v\\": {\\"type\\": \\"double\\"}}}'); " +
  "CREATE SCAN s ON t USING STREAM OPTIONS(tunnel.name='x'); SELECT k, v * 2 AS twice FROM s WHERE v > 1";
const metrics = new StreamMetrics();
testScheduler({ assertDeepEqual: assert.deepStrictEqual }).run(({ cold, expectObservable }) => {
  const batches = marbleSource(cold, 'a|', { a: [putRow({ k: 'a' }, { v: 1 }), putRow({ k: 'b' }, { v: 3 })] }, { metrics });
  expectObservable(batches.pipe(sqlOperator(sql))).toBe('a|', { a: [{ k: 'b', twice: 6 }] });
});
let refused = '';
try { await import('otsflow/dist/sql/plan.js'); } catch (error) { refused = error.code; }
const require = createRequire(import.meta.url);
console.log(JSON.stringify({ rowsFiltered: metrics.snapshot().rowsFiltered, refused, resolved: require.resolve('otsflow/testing') }));
`,
    );
    const out = execFileSync(process.execPath, ['check.mjs'], { cwd: project, encoding: 'utf8' });
    const result = JSON.parse(out) as { rowsFiltered: number; refused: string; resolved: string };
    expect(result.rowsFiltered).toBe(1);
    expect(result.refused).toBe('ERR_PACKAGE_PATH_NOT_EXPORTED');
    expect(result.resolved).toBe(join(project, 'node_modules', pkg.name, 'dist', 'testing', 'index.js'));
  });

  it("the shipped declarations type a consumer's TypeScript (NodeNext), and a wrong use is an error", () => {
    const good = join(project, 'good.ts');
    const bad = join(project, 'bad.ts');
    writeFileSync(
      good,
      `import { tumbling, type OutputRow } from 'otsflow';
import { recordBuilder, sqlOperator, tableBatch, testScheduler, type SqlOperatorOptions } from 'otsflow/testing';
const options: SqlOperatorOptions = { timeZone: 'UTC', outputMode: 'update' };
export const operator = sqlOperator('…', options);
export const scheduler = testScheduler({ assertDeepEqual: () => undefined });
export const batch = tableBatch(0, [{ t: 1 }]);
export const window = tumbling({ eventTime: 't', size: 10 });
export const row: OutputRow | undefined = undefined;
export const orders = recordBuilder({ columns: { id: { type: 'string' } } }, ['id']);
`,
    );
    writeFileSync(bad, `import { sqlOperator } from 'otsflow/testing';\nexport const operator = sqlOperator(42);\n`);
    const options: ts.CompilerOptions = { module: ts.ModuleKind.NodeNext, moduleResolution: ts.ModuleResolutionKind.NodeNext, target: ts.ScriptTarget.ES2022, strict: true, noEmit: true, skipLibCheck: true, types: [], typeRoots: [join(REPO, 'node_modules', '@types')] };
    const resolved = ts.resolveModuleName('otsflow/testing', good, options, ts.sys).resolvedModule?.resolvedFileName;
    expect(resolved).toBe(join(project, 'node_modules', pkg.name, 'dist', 'testing', 'index.d.ts'));
    const program = ts.createProgram([good, bad], { ...options, types: ['node'] });
    const errors = (file: string) => ts.getPreEmitDiagnostics(program, program.getSourceFile(file)).map((d) => ts.flattenDiagnosticMessageText(d.messageText, ' '));
    expect(errors(good)).toEqual([]);
    expect(errors(bad)).toEqual([expect.stringMatching(/Argument of type 'number' is not assignable to parameter of type 'string'/)]);
  });
});
