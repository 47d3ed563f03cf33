/**
 * No secret leaks: unique secrets are planted everywhere a user puts one — SQL OPTIONS
 * (`access.key.secret`, written right and written wrong), `--var`, `--access-key-secret`,
 * `--security-token`, the environment, the emulator's own `--access-key-secret` — and every
 * path that prints is run: SQL errors (parse, options, analysis, run time), EXPLAIN, SHOW,
 * DESCRIBE, a running stream job with its progress lines, `--log-level debug`, `--log-format
 * json`, every tunnel command (succeeding and refused), the emulator banner.
 *
 * Library surfaces are checked in process: SqlError messages, hints and excerpts, and
 * util.inspect / JSON.stringify of compiled scripts, statements, analyzed plans, stream jobs
 * (before, while and after running), sinks and tunnel transports.
 *
 * The last test greps the combined output of every process this file spawned for every planted
 * secret, so a path added later and exercised here is covered too.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import fc from 'fast-check';
import * as E from 'fp-ts/lib/Either.js';
import { firstValueFrom, filter } from 'rxjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningEmulator, startEmulator } from '../../lib/emulator/index.js';
import { tablestoreSink } from '../../lib/sinks/tablestore-sink.js';
import { compile } from '../../lib/sql/compile.js';
import { formatSqlError, formatSqlErrors } from '../../lib/sql/printer.js';
import type { StreamJob } from '../../lib/sql/job.js';
import { tunnelControl } from '../../lib/tunnel/control.js';
import { createHttpTransport } from '../../lib/tunnel/http-transport.js';
import { tokenize } from '../../lib/sql/lexer.js';
import { type CliResult, ensureCompiledCli, runCli, type RunCliOptions } from '../cli/cli-process.js';
import { ROOT } from '../emulator/process.js';
import { createOrderSinkTable, createOrderTable, ORDER_TABLE, TableStore, writeOrders } from '../tunnel/emulator-harness.js';
import { fuzzParameters, fuzzTimeout } from './fuzz-support.js';

/** The emulator's real key: what --var, the flags and the environment carry to connect. */
const EMULATOR_SECRET = 'LEAK-emulator-secret-7f3a9c';
/** A key the emulator refuses: the failure paths print around it. */
const WRONG_SECRET = 'LEAK-wrong-secret-b41e2d';
/** Written straight into SQL text. */
const SQL_SECRET = 'LEAK-sql-literal-secret-90c1';
/** An STS token and its key's secret. */
const STS_SECRET = 'LEAK-sts-secret-55d0e8';
const STS_TOKEN = 'LEAK-CAIS-security-token-a1b2c3';
/** The emulator command's own key. */
const BANNER_SECRET = 'LEAK-banner-secret-3e8f11';
const PLANTED = [EMULATOR_SECRET, WRONG_SECRET, SQL_SECRET, STS_SECRET, STS_TOKEN, BANNER_SECRET];

const KEY_ID = 'LTAIleakcheck';
const STS_KEY_ID = 'STS.leakcheck';

let emulator: RunningEmulator;
let sdk: ReturnType<typeof makeSdk>;
let dir: string;
let tunnelId: string;

const makeSdk = (endpoint: string, instanceName: string) =>
  new TableStore.Client({ endpoint, instancename: instanceName, accessKeyId: KEY_ID, secretAccessKey: EMULATOR_SECRET, maxRetries: 0 });

/** Every process this file ran, with all it printed. */
const spawned: { readonly what: string; readonly stdout: string; readonly stderr: string }[] = [];

/**
 * One CLI process at a time: the suite runs other CLI-heavy files alongside this one on CI's two
 * cores, and their per-process time limits should not pay for parallel starts here.
 */
let cliQueue: Promise<unknown> = Promise.resolve();

/** `otsflow <args>`, recorded for the final grep; fails if it printed a planted secret. */
async function otsflow(args: readonly string[], options: RunCliOptions = {}): Promise<CliResult> {
  const started = cliQueue.then(() => runCli(args, { timeoutMs: 60_000, ...options }));
  cliQueue = started.catch(() => undefined);
  const result = await started;
  // the label is this test's own text: it names the command, not the secrets on it
  const what = PLANTED.reduce((label, secret) => label.replaceAll(secret, '<planted>'), `otsflow ${args.join(' ')}`).slice(0, 160);
  spawned.push({ what, stdout: result.stdout, stderr: result.stderr });
  expectNoSecret(`${result.stdout}\n${result.stderr}`, what);
  return result;
}

function expectNoSecret(text: string, where: string): void {
  for (const secret of PLANTED) if (text.includes(secret)) throw new Error(`${where} shows a planted secret (${secret}):\n${text.slice(Math.max(0, text.indexOf(secret) - 400), text.indexOf(secret) + 100)}`);
}

/** JSON.stringify that survives bigints and cycles, for "what would a logger print". */
function json(value: unknown): string {
  const seen = new WeakSet<object>();
  return JSON.stringify(value, (_key, v: unknown) => {
    if (typeof v === 'bigint') return v.toString();
    if (typeof v === 'object' && v !== null) {
      if (seen.has(v)) return '[circular]';
      seen.add(v);
    }
    return v;
  });
}
const everything = (value: unknown): string => `${inspect(value, { depth: Infinity, showHidden: true, getters: true })}\n${json(value)}`;

const connectVars = (secret: string, variable = 'access_key_secret'): string[] => [
  '--var', `endpoint=${emulator.endpoint}`,
  '--var', `instance=${emulator.instanceName}`,
  '--var', `access_key_id=${KEY_ID}`,
  '--var', `${variable}=${secret}`,
  '--var', `tunnel_id=${tunnelId}`,
  '--var', `checkpoint=${join(dir, `cp-${Math.random().toString(36).slice(2)}`)}`,
];
const tableSql = (secretSql: string, endpoint = emulator.endpoint) =>
  `CREATE TABLE orders USING tablestore OPTIONS(endpoint='${endpoint}', instance.name='${emulator.instanceName}', access.key.id='${KEY_ID}', ${secretSql}, table.name='OrderSource', catalog='{"columns": {"UserId": {"type": "string"}, "price": {"type": "double"}}}')`;

beforeAll(async () => {
  ensureCompiledCli();
  dir = mkdtempSync(join(tmpdir(), 'otsflow-leaks-'));
  emulator = await startEmulator({
    dataDir: join(dir, 'data'),
    port: 0,
    partitions: 2,
    credentials: [
      { accessKeyId: KEY_ID, accessKeySecret: EMULATOR_SECRET },
      { accessKeyId: STS_KEY_ID, accessKeySecret: STS_SECRET, securityToken: STS_TOKEN, expiration: new Date(Date.now() + 3_600_000) },
    ],
  });
  sdk = makeSdk(emulator.endpoint, emulator.instanceName);
  await createOrderTable(sdk);
  await createOrderSinkTable(sdk);
  const control = tunnelControl(createHttpTransport({ endpoint: emulator.endpoint, instance: emulator.instanceName, credentials: { accessKeyId: KEY_ID, accessKeySecret: EMULATOR_SECRET }, requestTimeoutMs: 10_000 }));
  const created = await control.createTunnel({ tableName: ORDER_TABLE, tunnelName: 'leak-job', tunnelType: 'Stream' });
  if (E.isLeft(created)) throw created.left;
  tunnelId = created.right.tunnelId;
  await writeOrders(sdk, 0, 120);
}, 60_000);

afterAll(async () => {
  await emulator?.close();
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
});

// ---------------------------------------------------------------- library surfaces

/** Ways a user writes (or miswrites) the secret into OPTIONS. */
const SECRET_SPELLINGS = [
  `access.key.secret='${SQL_SECRET}'`,
  `access.key.secret="${SQL_SECRET}"`,
  `access.key.secret=${SQL_SECRET}`,
  `access.key.secret '${SQL_SECRET}'`,
  `access.key.secret ${SQL_SECRET}`,
  `access.key.secret=('${SQL_SECRET}')`,
  `access.key.secret='${SQL_SECRET}' '${SQL_SECRET}'`,
  `access.key.secret=\`${SQL_SECRET}\``,
  `access.key.secret=9${SQL_SECRET}`,
  `access.key.secret=-9${SQL_SECRET}`,
  `'access.key.secret'=${SQL_SECRET}`,
  `access.key.secrte='${SQL_SECRET}'`,
  `ACCESS.KEY.SECRET=${SQL_SECRET}`,
  `access.key.secret='${SQL_SECRET}`,
];

function compileOutputs(text: string, variables: Record<string, string> = {}): string {
  const result = compile(text, { variables });
  if (E.isLeft(result)) return `${formatSqlErrors(text, result.left)}\n${result.left.map((e) => formatSqlError(text, e)).join('\n')}\n${json(result.left)}\n${inspect(result.left, { depth: Infinity })}`;
  return `${result.right.explain()}\n${result.right.statements.map((s) => s.sql).join('\n')}\n${everything(result.right)}\n${everything(result.right.statements.map((s) => s.analyzed))}`;
}

describe('library surfaces never show a planted secret', () => {
  it('SQL errors, hints and quoted source lines, for every way of writing the secret', () => {
    for (const spelling of SECRET_SPELLINGS) {
      for (const rest of ['', ', bogus.option=1', ", catalog='{broken"]) {
        const text = `${tableSql(spelling + rest)};\nSELECT prise FROM orders`;
        expectNoSecret(compileOutputs(text), `compile of ${spelling}${rest}`);
      }
    }
  });

  const MUTATED = 120;
  it(
    'SQL errors when the rest of the script is mutated around a secret entry',
    () => {
      // key=value entries: a value hidden whatever the edits around it do. (Without its '=', an
      // entry is recognised as one only inside an intact list; the test above covers that form.)
      const spellings = SECRET_SPELLINGS.filter((s) => /secret['`]?=/i.test(s) && !s.endsWith(`'${SQL_SECRET}`));
      fc.assert(
        fc.property(fc.constantFrom(...spellings), fc.array(fc.tuple(fc.nat(), fc.constantFrom('delete', 'duplicate', ',', '(', ')', ';', '=', "'x'", 'OPTIONS', 'SELECT')), { minLength: 1, maxLength: 3 }), (spelling, edits) => {
          const before = `CREATE TABLE orders USING tablestore OPTIONS(endpoint='http://127.0.0.1:1', instance.name='i', access.key.id='k', `;
          const after = `, table.name='T', catalog='{"columns": {"a": {"type": "long"}}}'); SELECT a FROM orders WHERE a > 1`;
          // edits fall on the tokens around the secret entry, never inside it
          const outside = [...tokenize(before).tokens.map((t) => t.image), '\u0000', ...tokenize(after).tokens.map((t) => t.image)];
          for (const [at, edit] of edits) {
            const index = at % outside.length;
            if (outside[index] === '\u0000') continue;
            if (edit === 'delete') outside.splice(index, 1);
            else if (edit === 'duplicate') outside.splice(index, 0, outside[index] as string);
            else outside.splice(index, 0, edit);
          }
          const text = outside.join(' ').replace('\u0000', spelling);
          expectNoSecret(compileOutputs(text), `compile of ${text}`);
        }),
        fuzzParameters(MUTATED),
      );
    },
    fuzzTimeout(MUTATED, 20_000),
  );

  it('compiled scripts, statements, plans and stream jobs (inspect, JSON, EXPLAIN), with the secret as a variable or in the text', async () => {
    const job = readFileSync(join(ROOT, 'examples', 'orders', 'job.sql'), 'utf8');
    const variables = { endpoint: emulator.endpoint, instance: emulator.instanceName, access_key_id: KEY_ID, access_key_secret: EMULATOR_SECRET, tunnel_id: tunnelId, checkpoint: join(dir, 'cp-inspect') };
    for (const [text, vars] of [
      [job, variables],
      [job.replaceAll('${access_key_secret}', SQL_SECRET), variables],
      [`${tableSql(`access.key.secret='${SQL_SECRET}'`)}; SHOW TABLES; DESCRIBE orders; EXPLAIN SELECT UserId FROM orders WHERE price > 1`, {}],
    ] as const) {
      const compiled = compile(text, { variables: vars });
      if (E.isLeft(compiled)) throw new Error(formatSqlErrors(text, compiled.left));
      expectNoSecret(compileOutputs(text, vars), 'the compiled script');
      for (const statement of compiled.right.statements) {
        if (statement.analyzed.kind === 'select') continue;
        const result = await statement.run();
        expectNoSecret(everything(result), `the result of ${statement.analyzed.kind}`);
        if (result.kind === 'job') expectNoSecret(`${result.job.explain()}\n${everything(result.job.stages)}`, 'EXPLAIN of a job');
      }
    }
  });

  it('a stream job while it runs against the emulator and after it stopped: the job, its progress and its summary', async () => {
    const text = readFileSync(join(ROOT, 'examples', 'orders', 'job.sql'), 'utf8');
    const compiled = compile(text, {
      variables: { endpoint: emulator.endpoint, instance: emulator.instanceName, access_key_id: KEY_ID, access_key_secret: EMULATOR_SECRET, tunnel_id: tunnelId, checkpoint: join(dir, 'cp-running') },
      tunnel: { heartbeatIntervalMs: 200 },
      progressIntervalMs: 100,
    });
    if (E.isLeft(compiled)) throw new Error(formatSqlErrors(text, compiled.left));
    let job: StreamJob | undefined;
    for (const statement of compiled.right.statements) {
      const result = await statement.run();
      if (result.kind === 'job') job = result.job;
    }
    if (job === undefined) throw new Error('no job');
    const progress: unknown[] = [];
    job.progress.subscribe((update) => progress.push(update));
    job.start();
    await firstValueFrom(job.progress.pipe(filter((update) => update.metrics.recordsIn > 0 || update.state === 'failed')));
    expect(progress.some((p) => (p as { state: string }).state === 'running')).toBe(true);
    expectNoSecret(everything(job), 'a running job');
    const summary = await job.stop();
    expectNoSecret(`${everything(job)}\n${everything(summary)}\n${everything(progress)}`, 'a stopped job, its summary and progress');
  }, 30_000);

  it('sinks, tunnel transports and the errors of refused calls', async () => {
    const sink = tablestoreSink({ endpoint: emulator.endpoint, instanceName: emulator.instanceName, accessKeyId: KEY_ID, accessKeySecret: WRONG_SECRET, securityToken: STS_TOKEN, tableName: 'OrderStreamSink', catalog: { columns: { begin: { type: 'string' }, end: { type: 'string' } } } });
    const opened = await sink.open().then(() => undefined, (error: unknown) => error);
    expect(opened).toBeInstanceOf(Error);
    expectNoSecret(`${everything(sink)}\n${everything(opened)}\n${(opened as Error).stack}`, 'a refused sink');
    const transport = createHttpTransport({ endpoint: emulator.endpoint, instance: emulator.instanceName, credentials: { accessKeyId: KEY_ID, accessKeySecret: WRONG_SECRET, securityToken: STS_TOKEN }, requestTimeoutMs: 5_000 });
    const denied = await tunnelControl(transport, { retry: { initialMs: 1, multiplier: 1, jitter: 0, maxMs: 1, maxElapsedMs: 0 } }).listTunnels(ORDER_TABLE);
    expect(E.isLeft(denied)).toBe(true);
    expectNoSecret(`${everything(transport)}\n${everything(denied)}\n${E.isLeft(denied) ? denied.left.stack : ''}`, 'a refused tunnel call');
    transport.close();
    await sink.close?.();
  });
});

// ---------------------------------------------------------------- the CLI

describe('the CLI never prints a planted secret', () => {
  it('otsflow sql: parse, OPTIONS and analysis errors with the secret in the text, text and json logs, debug', async () => {
    // (the text format at debug is exercised by the runs below; every spelling by the library test)
    const cases: [string, string[]][] = [[`access.key.secret=${SQL_SECRET}, access.key.secret '${SQL_SECRET}', bogus=1`, ['--log-format', 'json', '--log-level', 'debug']]];
    for (const result of await Promise.all(cases.map(([spelling, flags]) => otsflow(['sql', ...flags, '-e', `${tableSql(spelling)}; SELECT prise FROM orders`])))) {
      expect(result.code).toBe(1);
      expect(result.stderr).toContain('otsflow sql');
    }
  }, 60_000);

  it('otsflow sql: EXPLAIN, SHOW TABLES, DESCRIBE and a batch query, the secret in --var (under any name) or in the text', async () => {
    const script = (secretSql: string) => `${tableSql(secretSql)}; SHOW TABLES; DESCRIBE orders; EXPLAIN SELECT UserId FROM orders WHERE price > 1; SELECT UserId, count(*) AS n FROM orders GROUP BY UserId ORDER BY UserId LIMIT 2`;
    const [viaVar, denied] = await Promise.all([
      otsflow(['sql', '--log-level', 'debug', '--var', `sk=${EMULATOR_SECRET}`, '-e', script("access.key.secret='${sk}'")]),
      // refused at run time: the denial is explained without the key
      otsflow(['sql', '--log-format', 'json', '--log-level', 'debug', '-e', script(`access.key.secret='${WRONG_SECRET}'`)]),
    ]);
    expect(viaVar.code).toBe(0);
    expect(viaVar.stdout).toContain('filterRows');
    expect(viaVar.stdout).toMatch(/\| orders +\| table/);
    expect(denied.code).toBe(1);
    expect(denied.stderr).toMatch(/access denied/);
  }, 60_000);

  it('otsflow sql -f examples/orders/job.sql: a running job with progress lines at debug, text and json, and a refused one', async () => {
    const [run, refused] = await Promise.all([
      // the library's job above consumed this tunnel: a fresh checkpoint location says so unless told
      otsflow(['sql', '-f', 'examples/orders/job.sql', ...connectVars(EMULATOR_SECRET), '--at-least-once', '--until-idle', '--idle-ms', '400', '--heartbeat-interval-ms', '300', '--log-level', 'debug', '--time-zone', 'UTC']),
      otsflow(['sql', '-f', 'examples/orders/job.sql', ...connectVars(WRONG_SECRET), '--until-idle', '--idle-ms', '400', '--log-format', 'json', '--log-level', 'debug']),
    ]);
    expect(run.stderr).toMatch(/job job1: \d+ batches committed, \d+ records read/);
    expect(run.code).toBe(0);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/Signature mismatch|OTSAuthFailed|access denied/);
  }, 90_000);

  it('otsflow tunnel create|list|describe: flags, environment, STS token, refused and unreachable, debug and json', async () => {
    const remote = ['--endpoint', emulator.endpoint, '--instance', emulator.instanceName, '--access-key-id', KEY_ID];
    const debugJson = ['--log-level', 'debug', '--log-format', 'json'];
    // refused and unreachable: independent of the rest, run alongside it
    const failing = Promise.all([
      otsflow(['tunnel', 'list', ...remote, '--access-key-secret', WRONG_SECRET, '--security-token', STS_TOKEN, '--log-level', 'debug'], { env: { OTSFLOW_LOG_FORMAT: 'json' } }),
      otsflow(['tunnel', 'list', '--endpoint', 'http://127.0.0.1:1', '--instance', 'i', '--access-key-id', KEY_ID, '--log-level', 'debug'], { env: { OTSFLOW_ACCESS_KEY_SECRET: WRONG_SECRET } }),
    ]);
    const created = await otsflow(['tunnel', 'create', ...remote, `--access-key-secret=${EMULATOR_SECRET}`, '--table', ORDER_TABLE, '--name', 'leak-cli', '--type', 'Stream', '--log-level', 'debug']);
    expect(created.code).toBe(0);
    const listed = await otsflow(['tunnel', 'list', ...remote, '--table', ORDER_TABLE, '--json', ...debugJson], { env: { OTSFLOW_ACCESS_KEY_SECRET: EMULATOR_SECRET } });
    expect(listed.code).toBe(0);
    expect(listed.stdout).toContain('leak-cli');
    const described = await otsflow(['tunnel', 'describe', '--endpoint', emulator.endpoint, '--instance', emulator.instanceName, '--table', ORDER_TABLE, '--name', 'leak-cli', '--log-level', 'debug'], {
      env: { ALIBABA_CLOUD_ACCESS_KEY_ID: STS_KEY_ID, ALIBABA_CLOUD_ACCESS_KEY_SECRET: STS_SECRET, ALIBABA_CLOUD_SECURITY_TOKEN: STS_TOKEN },
    });
    expect(described.code).toBe(0);
    expect(described.stdout).toContain('leak-cli');
    const [wrong, unreachable] = await failing;
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toMatch(/access denied/);
    expect(unreachable.code).toBe(1);
    expect(unreachable.stderr).toMatch(/cannot reach/);
  }, 90_000);

  it('otsflow emulator: the banner with --access-key-secret, at debug, until SIGINT', async () => {
    const data = join(dir, 'banner');
    const child = spawn(process.execPath, [join(ROOT, 'bin', 'otsflow.js'), 'emulator', '--port', '0', '--data', data, '--access-key-secret', BANNER_SECRET, '--log-level', 'debug'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    const deadline = Date.now() + 20_000;
    while (!stdout.includes('Press Ctrl+C') && Date.now() < deadline && child.exitCode === null) await new Promise((resolve) => setTimeout(resolve, 50));
    const endpoint = /endpoint: +(\S+)/.exec(stdout)?.[1];
    expect(endpoint).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    // it really runs with that key: a client signing with it gets in
    const control = tunnelControl(createHttpTransport({ endpoint: endpoint as string, instance: 'otsflow', credentials: { accessKeyId: 'otsflow', accessKeySecret: BANNER_SECRET }, requestTimeoutMs: 5_000 }));
    expect(E.isRight(await control.listTunnels())).toBe(true);
    child.kill('SIGINT');
    expect(await exited).toBe(0);
    spawned.push({ what: 'otsflow emulator', stdout, stderr });
    expect(stdout).toMatch(/accessKeySecret: +<redacted>/);
    expectNoSecret(`${stdout}\n${stderr}`, 'otsflow emulator');
  }, 30_000);

  it('the combined output of every process spawned here shows none of the planted secrets', () => {
    // every path ran: the grep has something to look at
    expect(spawned.length).toBeGreaterThanOrEqual(10);
    const combined = spawned.map((run) => `### ${run.what}\n${run.stdout}\n${run.stderr}`).join('\n');
    expect(combined.length).toBeGreaterThan(5_000);
    for (const secret of PLANTED) {
      const at = combined.indexOf(secret);
      expect(at, at < 0 ? '' : combined.slice(Math.max(0, at - 300), at + 80)).toBe(-1);
    }
    // the secrets were there to be leaked: masked, not absent
    expect(combined).toContain('<redacted>');
  });
});
