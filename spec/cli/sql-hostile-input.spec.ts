/**
 * `otsflow sql` against hostile scripts and secrets (issue 15 items 11 and 12), run as a user runs
 * it (the compiled CLI in a child process):
 * - what a script holds is shown escaped, never executed by the terminal;
 * - errors shown are capped, with a count of the rest; source excerpts are cut around the caret;
 * - size and depth limits, binary and non-UTF-8 files fail fast with one clear line;
 * - variables come from the environment (`OTSFLOW_VAR_<name>`) as well as `--var`.
 */
import * as E from 'fp-ts/lib/Either.js';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compile } from '../../lib/sql/compile.js';
import { SQL_LIMITS } from '../../lib/sql/limits.js';
import { MAX_ERRORS_SHOWN } from '../../lib/cli/sql-run.js';
import { createOrderTable, startTunnelEmulator, writeOrders, type TunnelEmulator } from '../tunnel/emulator-harness.js';
import { ROOT } from '../emulator/process.js';
import { ensureCompiledCli, runCli } from './cli-process.js';

let dir: string;

beforeAll(() => {
  ensureCompiledCli();
  dir = mkdtempSync(join(tmpdir(), 'otsflow-sql-hostile-'));
});

afterAll(() => {
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
});

const scriptFile = (name: string, content: string | Buffer): string => {
  const file = join(dir, name);
  writeFileSync(file, content);
  return file;
};

/** C0 controls but tab and newline, DEL, C1 controls: none may reach the terminal raw. */
// eslint-disable-next-line no-control-regex
const RAW_CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/;
/** the same, but a terminal's line discipline adds carriage returns of its own */
// eslint-disable-next-line no-control-regex
const RAW_CONTROL_BUT_CR = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/;

describe('otsflow sql with hostile scripts', () => {
  it('escapes control and escape bytes it echoes (an OSC title sequence, bidi overrides) and keeps the caret under the culprit', async () => {
    const file = scriptFile('escape.sql', 'SELECT \x1b]0;TITLE\x07 FROM t;\nSELECT 1 \u202e\x9b31m FROM t;\n');
    const result = await runCli(['sql', '-f', file]);
    expect(result.code).toBe(1);
    expect(result.stderr).not.toMatch(RAW_CONTROL);
    expect(result.stderrLines.slice(0, 3)).toEqual([
      `otsflow sql: ${file}:1:8: unexpected character U+001B`,
      '  1 | SELECT \\x1b]0;TITLE\\x07 FROM t;',
      '    |        ^',
    ]);
    // the caret under the second culprit counts the escape's width before it
    const bell = result.stderrLines.indexOf(`otsflow sql: ${file}:1:17: unexpected character U+0007`);
    expect(bell).toBeGreaterThan(0);
    expect(result.stderrLines[bell + 2]).toBe(`    | ${' '.repeat('SELECT \\x1b]0;TITLE'.length)}^`);
    expect(result.stderrLines).toContain('  2 | SELECT 1 \\u202e\\x9b31m FROM t;');

    const json = await runCli(['sql', '--log-format', 'json', '-f', file]);
    expect(json.stderr).not.toMatch(RAW_CONTROL);
    for (const line of json.stderrLines) expect(() => JSON.parse(line)).not.toThrow();
  });

  it.skipIf(spawnSync('script', ['--version']).status !== 0)('escapes control characters in results shown on a terminal, and keeps them byte for byte when piped', async () => {
    const sql = `CREATE TABLE \`t\x1b]0;TITLE\x07\` USING tablestore OPTIONS(endpoint='embedded', table.name='x', catalog='{"columns":{"a":{"type":"long"}}}'); SHOW TABLES;`;
    const args = ['sql', '--data', join(dir, 'tty-data'), '-e', sql];
    // `script` gives the CLI a pseudo-terminal as stdout
    const onTerminal = spawnSync('script', ['-qec', `"${process.execPath}" "${join(ROOT, 'bin', 'otsflow.js')}" ${args.map((a) => `'${a.replace(/'/g, "'\\''")}'`).join(' ')}`, '/dev/null'], {
      encoding: 'utf8',
      timeout: 30_000,
    });
    expect(onTerminal.status).toBe(0);
    expect(onTerminal.stdout).toContain('| t\\x1b]0;TITLE\\x07 | table |');
    expect(onTerminal.stdout).not.toMatch(RAW_CONTROL_BUT_CR);
    const piped = await runCli(args);
    expect(piped.code).toBe(0);
    expect(piped.stdout).toContain('| t\x1b]0;TITLE\x07 | table |');
  });

  it('shows at most MAX_ERRORS_SHOWN errors for garbage, then one line counting the rest; excerpts of long lines are cut', async () => {
    // printable garbage with newlines and characters the lexer refuses: many errors, no NUL, valid UTF-8
    const garbage = fc.sample(fc.array(fc.constantFrom('a', ' ', '(', '#', '[', '{', '\x1b', '\x01', '\n', 'é', '@', '?', '$'), { minLength: 4096, maxLength: 4096 }), { seed: 15, numRuns: 1 })[0]!.join('');
    const expectedErrors = compile(garbage);
    expect(E.isLeft(expectedErrors)).toBe(true);
    const total = E.isLeft(expectedErrors) ? expectedErrors.left.length : 0;
    expect(total).toBeGreaterThan(MAX_ERRORS_SHOWN);
    const file = scriptFile('garbage.sql', garbage);
    const result = await runCli(['sql', '-f', file]);
    expect(result.code).toBe(1);
    const headlines = result.stderrLines.filter((line) => line.startsWith('otsflow sql:'));
    expect(headlines.length).toBe(MAX_ERRORS_SHOWN + 1);
    expect(headlines.at(-1)).toBe(`otsflow sql: ${file}: ${total - MAX_ERRORS_SHOWN} more errors not shown (${total} in all; fix the ones above first)`);
    expect(result.stderr).not.toMatch(RAW_CONTROL);

    const longLine = `SELECT ${'a + '.repeat(500)}#`;
    const long = await runCli(['sql', '-e', longLine]);
    const excerpt = long.stderrLines[1]!;
    expect(excerpt.length).toBeLessThan(140);
    expect(excerpt).toMatch(/^ {2}1 \| …(a \+ )+#$/);
    expect(long.stderrLines[2]!.indexOf('^')).toBe(excerpt.indexOf('#'));
  });

  it('fails fast with one clear line on a script over the size limit (a 10 MB string literal, 10 MB of "(")', async () => {
    for (const [name, content] of [
      ['string.sql', `SELECT '${'a'.repeat(10 * 1024 * 1024)}';`],
      ['parens.sql', `SELECT ${'('.repeat(10 * 1024 * 1024)}`],
    ] as const) {
      const file = scriptFile(name, content);
      const result = await runCli(['sql', '-f', file]);
      expect(result.code).toBe(1);
      expect(result.stderrLines).toEqual([`otsflow sql: ${file} is too large for a SQL script: ${content.length.toLocaleString('en-US')} bytes, the limit is ${SQL_LIMITS.maxScriptChars.toLocaleString('en-US')} characters`]);
    }
    // within the byte bound but over the character limit: the compiler's own limit
    const inline = `SELECT '${'é'.repeat(SQL_LIMITS.maxScriptChars)}'`;
    const file = scriptFile('chars.sql', inline);
    const result = await runCli(['sql', '-f', file]);
    expect(result.code).toBe(1);
    expect(result.stderrLines[0]).toBe(
      `otsflow sql: ${file}:1:1: script too large: ${inline.length.toLocaleString('en-US')} characters, the limit is ${SQL_LIMITS.maxScriptChars.toLocaleString('en-US')} (split it into several scripts)`,
    );
    expect(result.stderrLines.length).toBeLessThanOrEqual(3);
  }, 60_000);

  it('fails fast on nesting and on operator chains deeper than the limit, instead of overflowing the stack', async () => {
    const nested = await runCli(['sql', '-e', `SELECT ${'('.repeat(100_000)}1`]);
    expect(nested.code).toBe(1);
    expect(nested.stderrLines[0]).toMatch(/^otsflow sql: -e:1:\d+: expression nested more than 64 levels deep$/);

    const terms = SQL_LIMITS.maxTreeDepth + 500;
    const chain = `SELECT ${Array.from({ length: terms }, () => 'a').join(' + ')} FROM t`;
    const deep = await runCli(['sql', '-e', chain]);
    expect(deep.code).toBe(1);
    expect(deep.stderrLines.filter((line) => line.startsWith('otsflow sql:'))).toEqual([
      expect.stringMatching(new RegExp(`^otsflow sql: -e:1:\\d+: expression more than ${SQL_LIMITS.maxTreeDepth} levels deep \\(a chain of operators`)),
    ]);
    expect(deep.stderr).not.toMatch(/Maximum call stack/);
  }, 60_000);

  it('refuses a binary file and a file that is not UTF-8 with one line naming the byte', async () => {
    const binary = scriptFile('binary.sql', Buffer.concat([Buffer.from('SELECT 1;\nSEL'), Buffer.from([0x00, 0xff, 0x1b]), Buffer.alloc(4000, 0x41)]));
    const bin = await runCli(['sql', '-f', binary]);
    expect(bin.code).toBe(1);
    expect(bin.stderrLines).toEqual([`otsflow sql: ${binary} is not SQL text: a NUL byte at line 2, byte 4 of the line (a binary file?)`]);

    const latin1 = scriptFile('latin1.sql', Buffer.from("SELECT 'caf\xe9' FROM t;\n", 'latin1'));
    const notUtf8 = await runCli(['sql', '-f', latin1]);
    expect(notUtf8.code).toBe(1);
    expect(notUtf8.stderrLines).toEqual([`otsflow sql: ${latin1} is not UTF-8 text: byte 0xe9 at line 1, byte 12 of the line (save the script as UTF-8)`]);
  });
});

describe('otsflow sql variables from the environment', () => {
  let env: TunnelEmulator;
  const SCRIPT = [
    "CREATE TABLE orders USING tablestore OPTIONS(endpoint='${endpoint}', instance.name='${instance}', access.key.id='${access_key_id}',",
    "  access.key.secret='${access_key_secret}', table.name='OrderSource', catalog='{\"columns\": {\"UserId\": {\"type\": \"string\"}, \"price\": {\"type\": \"double\"}}}');",
    'SELECT count(*) AS n FROM orders;',
  ].join('\n');

  beforeAll(async () => {
    env = await startTunnelEmulator({ partitions: 1 });
    await createOrderTable(env.sdk);
    await writeOrders(env.sdk, 0, 37);
  }, 60_000);

  afterAll(async () => {
    await env?.close();
  });

  const connection = () => ({
    OTSFLOW_VAR_endpoint: env.emulator.endpoint,
    OTSFLOW_VAR_instance: env.emulator.instanceName,
    OTSFLOW_VAR_access_key_id: env.emulator.credentials.accessKeyId,
  });

  it('fills ${name} from OTSFLOW_VAR_<name>, so the secret is never on the command line; --var still wins', async () => {
    const secret = env.emulator.credentials.accessKeySecret;
    const args = ['sql', '-e', SCRIPT];
    const result = await runCli(args, { env: { ...connection(), OTSFLOW_VAR_access_key_secret: secret } });
    expect(result.stderrLines.filter((line) => line.startsWith('otsflow sql:'))).toEqual([]);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/\|\s*37\s*\|/);
    expect(args.join(' ')).not.toContain(secret);
    expect(`${result.stdout}${result.stderr}`).not.toContain(secret);

    // a wrong secret in the environment is overridden by --var (flag wins, as for `otsflow tunnel`)
    const overridden = await runCli(['sql', '-e', SCRIPT, '--var', `access_key_secret=${secret}`], { env: { ...connection(), OTSFLOW_VAR_access_key_secret: 'wrong-secret-from-env' } });
    expect(overridden.code).toBe(0);
    expect(overridden.stdout).toMatch(/\|\s*37\s*\|/);

    // and the environment's secret is really what signs: a wrong one is refused, and masked in the output
    const wrong = await runCli(['sql', '-e', SCRIPT], { env: { ...connection(), OTSFLOW_VAR_access_key_secret: 'wrong-secret-from-env' } });
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toMatch(/access denied by .*OTSAuthFailed/);
    expect(`${wrong.stdout}${wrong.stderr}`).not.toContain('wrong-secret-from-env');
  }, 60_000);

  it('names a malformed OTSFLOW_VAR_ variable, and an empty one counts as unset', async () => {
    const bad = await runCli(['sql', '-e', 'SHOW TABLES;'], { env: { 'OTSFLOW_VAR_bad-name': 'x' } });
    expect(bad.code).toBe(2);
    expect(bad.stderrLines).toEqual([`otsflow sql: environment variable OTSFLOW_VAR_bad-name: the part after OTSFLOW_VAR_ must be a name of letters, digits and '_'`]);

    const empty = await runCli(['sql', '-e', SCRIPT], { env: { ...connection(), OTSFLOW_VAR_access_key_secret: '' } });
    expect(empty.code).toBe(1);
    expect(empty.stderrLines[0]).toMatch(/unknown variable '\$\{access_key_secret\}'/);
  }, 30_000);
});
