/**
 * `otsflow tunnel …` as a user runs it: the compiled CLI in a child process, against an emulator
 * this test starts (tables made with the official SDK) and against the embedded emulator on a
 * data directory. Output contracts: the tunnel id alone on stdout, `--json` documents, one-line
 * errors on stderr with exit 1 (the call failed) or 2 (the command line is wrong), no stack
 * trace unless `--log-level debug`, secrets never printed.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Subscription } from 'rxjs';
import { DEFAULT_CREDENTIALS, DEFAULT_INSTANCE_NAME, type RunningEmulator, startEmulator } from '../../lib/emulator/index.js';
import { tunnel } from '../../lib/tunnel/tunnel.js';
import { JobStateTable } from '../../lib/sinks/tablestore-state.js';
import { WorkerRows } from '../../lib/sinks/worker-rows.js';
import { WorkerPresence } from '../../lib/sql/worker-presence.js';
import { tempDir } from '../emulator/helpers.js';
import { ok, sdkClient } from '../emulator/sdk.js';
import { createOrderTable, ORDER_TABLE, tunnelOptions, until, writeOrders } from '../tunnel/emulator-harness.js';
import { type CliResult, ensureCompiledCli, runCli } from './cli-process.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const STACK_LINE = /^\s+at /m;
const PLANTED_SECRET = 'planted-SECRET-5f1e9c-never-print-me';

const createTableWith = async (emulator: RunningEmulator, tableName: string): Promise<void> => {
  await ok(sdkClient(emulator), 'createTable', {
    tableMeta: { tableName, primaryKey: [{ name: 'id', type: 'STRING' }] },
    reservedThroughput: { capacityUnit: { read: 0, write: 0 } },
    tableOptions: { timeToLive: -1, maxVersions: 1 },
  });
};

/** The whole run printed one error line, `otsflow <command>: …`, and no stack. */
const expectOneErrorLine = (result: CliResult, command: string, code: number): string => {
  expect(result.code, `exit code; stderr: ${result.stderr}`).toBe(code);
  expect(result.stderrLines, result.stderr).toHaveLength(1);
  expect(result.stderr).not.toMatch(STACK_LINE);
  const line = result.stderrLines[0] as string;
  const prefix = command === '' ? 'otsflow: ' : `otsflow ${command}: `;
  expect(line.startsWith(prefix), line).toBe(true);
  return line.slice(prefix.length);
};

const noSecretIn = (...results: CliResult[]): void => {
  for (const result of results) {
    expect(result.stdout).not.toContain(PLANTED_SECRET);
    expect(result.stderr).not.toContain(PLANTED_SECRET);
  }
};

beforeAll(() => ensureCompiledCli(), 180_000);

describe('otsflow tunnel against a running emulator', () => {
  const dir = tempDir('cli-tunnel');
  let emulator: RunningEmulator;
  let connect: string[];

  beforeAll(async () => {
    emulator = await startEmulator({ dataDir: dir.path, port: 0, partitions: 2 });
    await createTableWith(emulator, 'orders');
    await createOrderTable(sdkClient(emulator));
    connect = ['--endpoint', emulator.endpoint, '--instance', emulator.instanceName, '--access-key-id', emulator.credentials.accessKeyId, '--access-key-secret', emulator.credentials.accessKeySecret];
  });

  afterAll(async () => {
    await emulator?.close();
    dir.remove();
  });

  it('create → list → describe → delete, in text and in JSON', async () => {
    const created = await runCli(['tunnel', 'create', ...connect, '--table', 'orders', '--name', 'roundtrip', '--type', 'stream', '--start', 'earliest']);
    expect(created.code, created.stderr).toBe(0);
    // the id alone on stdout, so `id=$(otsflow tunnel create …)` works
    const id = created.stdout.trim();
    expect(id).toMatch(UUID);
    expect(created.stdout).toBe(`${id}\n`);
    expect(created.stderrLines).toEqual([`created Stream tunnel 'roundtrip' on table 'orders', from earliest: ${id}`]);

    const listed = await runCli(['tunnel', 'list', ...connect]);
    expect(listed.code, listed.stderr).toBe(0);
    const [header, ...rows] = listed.stdout.trimEnd().split('\n');
    expect(header?.split(/\s{2,}/)).toEqual(['NAME', 'ID', 'TYPE', 'STAGE', 'TABLE', 'EXPIRED', 'CREATED']);
    const row = rows.find((line) => line.includes(id));
    expect(row?.split(/\s{2,}/).slice(0, 6)).toEqual(['roundtrip', id, 'Stream', 'ProcessStream', 'orders', 'no']);

    const json = await runCli(['tunnel', 'list', ...connect, '--table', 'orders', '--json']);
    expect(json.code, json.stderr).toBe(0);
    const tunnels = JSON.parse(json.stdout) as Record<string, unknown>[];
    const mine = tunnels.find((t) => t['tunnelId'] === id);
    expect(mine).toMatchObject({ tunnelName: 'roundtrip', tableName: 'orders', instanceName: emulator.instanceName, tunnelType: 'Stream', stage: 'ProcessStream', expired: false });
    // bigint nanoseconds as a decimal string, the same instant as the ISO time
    expect(mine?.['createTimeNs']).toMatch(/^\d{19}$/);
    expect(BigInt(mine?.['createTimeNs'] as string) / 1_000_000n).toBe(BigInt(Date.parse(mine?.['createTime'] as string)));
    expect(Math.abs(Date.parse(mine?.['createTime'] as string) - Date.now())).toBeLessThan(60_000);

    const describedJson = await runCli(['tunnel', 'describe', ...connect, '--table', 'orders', '--name', 'roundtrip', '--json']);
    expect(describedJson.code, describedJson.stderr).toBe(0);
    const description = JSON.parse(describedJson.stdout) as { tunnel: Record<string, unknown>; channels: Record<string, unknown>[] };
    expect(description.tunnel).toMatchObject({ tunnelId: id, tunnelName: 'roundtrip', tunnelType: 'Stream' });
    expect(description.channels).toHaveLength(2);
    expect(description.channels.every((c) => c['channelType'] === 'Stream' && c['status'] === 'WAIT' && c['count'] === '0')).toBe(true);

    const describedById = await runCli(['tunnel', 'describe', ...connect, '--id', id]);
    expect(describedById.code, describedById.stderr).toBe(0);
    expect(describedById.stdout).toMatch(new RegExp(`^tunnel\\s+roundtrip\\nid\\s+${id}\\ntable\\s+orders\\n`));
    expect(describedById.stdout).toMatch(/^rpo\s+- \(nothing consumed yet\)$/m);
    expect(describedById.stdout).toMatch(/^CHANNEL\s+TYPE\s+STATUS\s+CLIENT\s+RPO TIME\s+RECORDS$/m);
    for (const channel of description.channels) expect(describedById.stdout).toMatch(new RegExp(`^${channel['channelId'] as string}\\s+Stream\\s+WAIT\\s+-\\s+-\\s+0$`, 'm'));

    const deleted = await runCli(['tunnel', 'delete', ...connect, '--id', id]);
    expect(deleted.code, deleted.stderr).toBe(0);
    expect(deleted.stdout).toBe('');
    expect(deleted.stderrLines).toEqual([`deleted tunnel 'roundtrip' of table 'orders' (${id})`]);

    const after = await runCli(['tunnel', 'list', ...connect, '--json']);
    expect((JSON.parse(after.stdout) as { tunnelId: string }[]).map((t) => t.tunnelId)).not.toContain(id);
    const gone = await runCli(['tunnel', 'describe', ...connect, '--table', 'orders', '--name', 'roundtrip']);
    expect(expectOneErrorLine(gone, 'tunnel describe', 1)).toMatch(/^cannot describe tunnel 'roundtrip' of table 'orders': OTSParameterInvalid \(.+\)$/);
    const goneById = await runCli(['tunnel', 'delete', ...connect, '--id', id]);
    expect(expectOneErrorLine(goneById, 'tunnel delete', 1)).toBe(`no tunnel with id ${id} on instance ${emulator.instanceName}`);
  });

  it('create passes the type and stream window through: BaseAndStream by default, --start/--end times kept', async () => {
    const base = await runCli(['tunnel', 'create', ...connect, '--table', 'orders', '--name', 'defaults']);
    expect(base.code, base.stderr).toBe(0);
    const windowed = await runCli([
      'tunnel', 'create', ...connect, '--table', 'orders', '--name', 'window', '--type', 'Stream',
      '--start', '2030-01-01T00:00:00Z', '--end', '2030-01-02T08:00:00+08:00',
    ]);
    expect(windowed.code, windowed.stderr).toBe(0);
    const baseData = await runCli(['tunnel', 'create', ...connect, '--table', 'orders', '--name', 'snapshot', '--type', 'BaseData']);
    expect(baseData.code, baseData.stderr).toBe(0);

    const listed = JSON.parse((await runCli(['tunnel', 'list', ...connect, '--table', 'orders', '--json'])).stdout) as Record<string, any>[];
    const byName = new Map(listed.map((t) => [t['tunnelName'], t]));
    expect(byName.get('defaults')).toMatchObject({ tunnelId: base.stdout.trim(), tunnelType: 'BaseAndStream', streamConfig: { flag: 'LATEST' } });
    expect(byName.get('window')).toMatchObject({
      tunnelId: windowed.stdout.trim(),
      streamConfig: { startTime: '2030-01-01T00:00:00.000Z', startOffsetNs: (BigInt(Date.UTC(2030, 0, 1)) * 1_000_000n).toString(), endTime: '2030-01-02T00:00:00.000Z' },
    });
    expect(byName.get('snapshot')).toMatchObject({ tunnelType: 'BaseData', stage: 'ProcessBaseData' });

    const duplicate = await runCli(['tunnel', 'create', ...connect, '--table', 'orders', '--name', 'defaults']);
    expect(expectOneErrorLine(duplicate, 'tunnel create', 1)).toMatch(/^cannot create tunnel 'defaults' on table 'orders': OTSTunnelExist \(.+\)$/);
    expect(duplicate.stdout).toBe('');
    for (const name of ['defaults', 'window', 'snapshot']) expect((await runCli(['tunnel', 'delete', ...connect, '--table', 'orders', '--name', name])).code).toBe(0);
  });

  it('describe shows what consumption did: channel status, client, RPO time and record counts', async () => {
    const created = await runCli(['tunnel', 'create', ...connect, '--table', ORDER_TABLE, '--name', 'consumed', '--type', 'Stream']);
    expect(created.code, created.stderr).toBe(0);
    const tunnelId = created.stdout.trim();
    const writtenFrom = Date.now();
    await writeOrders(sdkClient(emulator), 0, 40, 20);
    let delivered = 0;
    let subscription: Subscription | undefined;
    try {
      subscription = tunnel(tunnelOptions(emulator, tunnelId)).subscribe({
        next: (batch) => {
          delivered += batch.records.length;
          void batch.commit();
        },
      });
      // the counts and RPO the service reports follow the checkpoints
      await until(() => delivered >= 40, 20_000, '40 records delivered');
      let channels: Record<string, string>[] = [];
      let document: Record<string, any> = {};
      const deadline = Date.now() + 20_000;
      while (Date.now() < deadline) {
        const described = await runCli(['tunnel', 'describe', ...connect, '--id', tunnelId, '--json']);
        expect(described.code, described.stderr).toBe(0);
        document = JSON.parse(described.stdout) as Record<string, any>;
        channels = document['channels'] as Record<string, string>[];
        if (channels.reduce((sum, c) => sum + Number(c['count'] ?? 0), 0) === 40) break;
      }
      expect(channels.reduce((sum, c) => sum + Number(c['count']), 0)).toBe(40);
      for (const channel of channels.filter((c) => Number(c['count']) > 0)) {
        expect(channel['status']).toBe('OPEN');
        expect(channel['clientId']).toMatch(/\S/);
        expect(BigInt(channel['rpoNs'] as string) / 1_000_000n).toBe(BigInt(Date.parse(channel['rpoTime'] as string)));
        expect(Date.parse(channel['rpoTime'] as string)).toBeGreaterThanOrEqual(writtenFrom - 1_000);
      }
      expect(Date.parse(document['tunnelRpoTime'] as string)).toBeGreaterThanOrEqual(writtenFrom - 1_000);

      const text = await runCli(['tunnel', 'describe', ...connect, '--table', ORDER_TABLE, '--name', 'consumed']);
      expect(text.code, text.stderr).toBe(0);
      expect(text.stdout).toMatch(/^rpo\s+\d{4}-\d{2}-\d{2}T[\d:.]+Z \(\d+ s ago\)$/m);
      for (const channel of channels.filter((c) => Number(c['count']) > 0)) {
        expect(text.stdout).toMatch(new RegExp(`^${channel['channelId']}\\s+Stream\\s+OPEN\\s+${channel['clientId']}\\s+${channel['rpoTime']}\\s+${channel['count']}$`, 'm'));
      }
    } finally {
      subscription?.unsubscribe();
    }
  });

  it('describe --state-table names the worker (host, pid) that holds each channel, from the job\'s worker rows', async () => {
    const created = await runCli(['tunnel', 'create', ...connect, '--table', ORDER_TABLE, '--name', 'shared', '--type', 'Stream']);
    expect(created.code, created.stderr).toBe(0);
    const tunnelId = created.stdout.trim();
    const table = { endpoint: emulator.endpoint, instanceName: emulator.instanceName, ...emulator.credentials };
    const state = new JobStateTable({ ...table, tableName: 'shared_state', job: 'job1' });
    await state.ensure();
    // two workers as a job runs them: a worker row each (renewed), channels claimed in the state table
    const identities = [
      { id: 'machine-a:101:x', host: 'machine-a', pid: 101, started: Date.now() },
      { id: 'machine-b:202:y', host: 'machine-b', pid: 202, started: Date.now() },
    ];
    const running: { presence: WorkerPresence; subscription: Subscription }[] = [];
    try {
      for (const identity of identities) {
        const presence = new WorkerPresence({
          rows: new WorkerRows({ ...table, tableName: 'shared_state', job: 'job1' }),
          identity,
          status: () => ({ held: [], drained: false }),
          shutdown: () => Promise.resolve(),
          renewMs: 200,
          onLog: () => undefined,
        });
        await presence.start();
        const subscription = tunnel(
          tunnelOptions(emulator, tunnelId, {
            beforeFirstHeartbeat: (clientId) => presence.addClient(clientId),
            startTokens: (channelId) => state.claim(channelId, `${identity.host} pid ${identity.pid} client ${[...presence.clientIds()].at(-1) ?? ''}`).then(() => undefined),
          }),
        ).subscribe({ next: (batch) => void batch.commit() });
        running.push({ presence, subscription });
      }
      // both hold channels (the tunnel spreads its channels over the two clients)
      let channels: Record<string, any>[] = [];
      const deadline = Date.now() + 20_000;
      for (;;) {
        const described = await runCli(['tunnel', 'describe', ...connect, '--id', tunnelId, '--state-table', 'shared_state', '--json']);
        expect(described.code, described.stderr).toBe(0);
        channels = (JSON.parse(described.stdout) as Record<string, any>)['channels'] as Record<string, any>[];
        if (channels.length > 0 && channels.every((c) => c['status'] === 'OPEN' && typeof c['worker'] === 'string') && new Set(channels.map((c) => c['worker'])).size === 2) break;
        if (Date.now() > deadline) throw new Error(`both workers never held channels: ${JSON.stringify(channels)}`);
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
      // expected, from the workers' own client ids
      const nameOf = (clientId: string): string => {
        const at = running.findIndex(({ presence }) => presence.clientIds().has(clientId));
        return `${identities[at]?.host} pid ${identities[at]?.pid}`;
      };
      for (const channel of channels) expect(channel['worker']).toBe(nameOf(channel['clientId'] as string));
      const text = await runCli(['tunnel', 'describe', ...connect, '--id', tunnelId, '--state-table', 'shared_state']);
      expect(text.code, text.stderr).toBe(0);
      expect(text.stdout).toMatch(/^CHANNEL\s+TYPE\s+STATUS\s+CLIENT\s+WORKER\s+RPO TIME\s+RECORDS$/m);
      for (const channel of channels) expect(text.stdout).toMatch(new RegExp(`^${channel['channelId']}\\s+Stream\\s+OPEN\\s+${channel['clientId']}\\s+${nameOf(channel['clientId'] as string)}\\s`, 'm'));
      expect(text.stdout).toContain('job job1, state table shared_state: 2 workers');
      for (const identity of identities) expect(text.stdout).toMatch(new RegExp(`^${identity.host} pid ${identity.pid}\\s+live\\s`, 'm'));
      // a state table that does not exist: one line, exit 1
      const missing = await runCli(['tunnel', 'describe', ...connect, '--id', tunnelId, '--state-table', 'no_such_state']);
      expect(expectOneErrorLine(missing, 'tunnel describe', 1)).toMatch(/no_such_state/);
    } finally {
      for (const { presence, subscription } of running) {
        subscription.unsubscribe();
        presence.dispose();
      }
    }
  });

  it('a missing table, wrong keys and a wrong instance are one clear line each, exit 1', async () => {
    const missing = await runCli(['tunnel', 'create', ...connect, '--table', 'no_such_table', '--name', 'x']);
    expect(expectOneErrorLine(missing, 'tunnel create', 1)).toBe("cannot create tunnel 'x' on table 'no_such_table': OTSParameterInvalid (tunnel.table_name: table 'no_such_table' does not exist)");

    const wrongKey = [...connect.slice(0, -1), PLANTED_SECRET];
    const denied = await runCli(['tunnel', 'list', ...wrongKey]);
    expect(expectOneErrorLine(denied, 'tunnel list', 1)).toMatch(new RegExp(`^access denied by ${emulator.endpoint}: OTSAuthFailed \\(.+\\)$`));
    const deniedCreate = await runCli(['tunnel', 'create', ...wrongKey, '--table', 'orders', '--name', 'x']);
    expect(expectOneErrorLine(deniedCreate, 'tunnel create', 1)).toMatch(/^access denied by .*: OTSAuthFailed/);

    const wrongInstance = await runCli(['tunnel', 'list', ...connect.map((arg, i) => (connect[i - 1] === '--instance' ? 'elsewhere' : arg))]);
    expect(expectOneErrorLine(wrongInstance, 'tunnel list', 1)).toMatch(/^access denied by .*: OTSAuthFailed \(The instance is not found\.\)$/);
    noSecretIn(denied, deniedCreate);
  });

  it('a planted --access-key-secret never appears, in text or JSON, at any log level, on success or failure', async () => {
    const embeddedDir = tempDir('cli-planted');
    const plantedKeys = ['--endpoint', emulator.endpoint, '--instance', emulator.instanceName, '--access-key-id', 'nobody', '--access-key-secret', PLANTED_SECRET];
    const runs = await Promise.all([
      runCli(['tunnel', 'list', ...plantedKeys, '--log-level', 'debug']),
      runCli(['tunnel', 'list', ...plantedKeys, '--log-level', 'debug', '--log-format', 'json']),
      runCli(['tunnel', 'create', `--access-key-secret=${PLANTED_SECRET}`, '--endpoint', emulator.endpoint, '--instance', emulator.instanceName, '--access-key-id', 'x', '--table', 'orders', '--name', 'n', '--log-level', 'debug']),
      // refused before any request: the flag is there, the endpoint is not valid
      runCli(['tunnel', 'list', '--endpoint', 'ftp://nowhere', '--access-key-secret', PLANTED_SECRET, '--log-level', 'debug']),
      // commander's own error path
      runCli(['tunnel', 'list', '--access-key-secret', PLANTED_SECRET, '--bogus', '--log-level', 'debug']),
      // the embedded emulator ignores keys, the command succeeds
      runCli(['tunnel', 'list', '--data', join(embeddedDir.path, 'data'), '--access-key-secret', PLANTED_SECRET, '--log-level', 'debug']),
      // the secret from the environment, an error that happens to contain it
      runCli(['tunnel', 'describe', ...connect, '--table', 'orders', '--name', PLANTED_SECRET, '--log-level', 'debug'], {
        env: { OTSFLOW_ACCESS_KEY_SECRET: PLANTED_SECRET },
      }),
    ]);
    embeddedDir.remove();
    expect(runs.map((run) => run.code)).toEqual([1, 1, 1, 2, 2, 0, 1]);
    noSecretIn(...runs);
    // where it would have been, the mask is
    expect(runs[6]?.stderr).toContain("cannot describe tunnel '<redacted>' of table 'orders'");
    expect(runs[5]?.stderr).toContain('warning: --access-key-secret is ignored with the embedded emulator');
  });

  it('--log-level debug adds call traces and the stack; --log-format json prints one JSON object per line', async () => {
    const debug = await runCli(['tunnel', 'create', ...connect, '--table', 'no_such_table', '--name', 'x', '--log-level', 'debug']);
    expect(debug.code).toBe(1);
    expect(debug.stderrLines).toContain("otsflow tunnel create: cannot create tunnel 'x' on table 'no_such_table': OTSParameterInvalid (tunnel.table_name: table 'no_such_table' does not exist)");
    expect(debug.stderr).toMatch(/^debug: calling http:\/\/127\.0\.0\.1:\d+\/tunnel\/create$/m);
    expect(debug.stderr).toMatch(/^debug: CliError: cannot create tunnel/m);
    expect(debug.stderr).toMatch(STACK_LINE);
    expect(debug.stderr).toMatch(/^caused by: OtsServiceError: /m);

    const failed = await runCli(['tunnel', 'create', ...connect, '--table', 'no_such_table', '--name', 'x', '--log-format', 'json']);
    expect(failed.code).toBe(1);
    const errorLines = failed.stderrLines.map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(errorLines).toHaveLength(1);
    expect(Object.keys(errorLines[0] ?? {}).slice(0, 3)).toEqual(['time', 'level', 'msg']);
    expect(errorLines[0]).toMatchObject({ level: 'error', command: 'tunnel create', exitCode: 1, msg: expect.stringMatching(/^otsflow tunnel create: cannot create tunnel 'x'/) });
    expect(errorLines[0]).not.toHaveProperty('stack');
    expect(Number.isNaN(Date.parse(errorLines[0]?.['time'] as string))).toBe(false);

    const json = await runCli(['--log-format', 'json', 'tunnel', 'create', ...connect, '--table', 'orders', '--name', 'json-logged', '--log-level', 'debug']);
    expect(json.code, json.stderr).toBe(0);
    const lines = json.stderrLines.map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(lines.length).toBeGreaterThan(2);
    expect(lines.every((line) => typeof line['time'] === 'string' && typeof line['level'] === 'string' && typeof line['msg'] === 'string')).toBe(true);
    expect(lines.filter((line) => line['level'] === 'debug').length).toBeGreaterThan(0);
    expect(lines.find((line) => line['level'] === 'info')).toMatchObject({ tunnelId: json.stdout.trim(), table: 'orders', name: 'json-logged', type: 'BaseAndStream' });

    const usage = await runCli(['tunnel', 'create', '--log-format', 'json', '--name', 'x']);
    expect(usage.code).toBe(2);
    expect(usage.stderrLines.map((line) => JSON.parse(line) as unknown)).toEqual([
      expect.objectContaining({ level: 'error', exitCode: 2, msg: "otsflow tunnel create: required option '--table <name>' not specified (see --help)" }),
    ]);
  });

  it('takes the connection from the environment: OTSFLOW_* first, ALIBABA_CLOUD_* keys as fallback', async () => {
    const env = {
      OTSFLOW_ENDPOINT: emulator.endpoint,
      OTSFLOW_INSTANCE: emulator.instanceName,
      ALIBABA_CLOUD_ACCESS_KEY_ID: emulator.credentials.accessKeyId,
      ALIBABA_CLOUD_ACCESS_KEY_SECRET: emulator.credentials.accessKeySecret,
    };
    const listed = await runCli(['tunnel', 'list', '--json'], { env });
    expect(listed.code, listed.stderr).toBe(0);
    expect(Array.isArray(JSON.parse(listed.stdout))).toBe(true);
    // OTSFLOW_ACCESS_KEY_SECRET wins over ALIBABA_CLOUD_ACCESS_KEY_SECRET, a flag over both
    const overridden = await runCli(['tunnel', 'list'], { env: { ...env, OTSFLOW_ACCESS_KEY_SECRET: PLANTED_SECRET } });
    expect(expectOneErrorLine(overridden, 'tunnel list', 1)).toMatch(/^access denied by /);
    const flagWins = await runCli(['tunnel', 'list', '--access-key-secret', emulator.credentials.accessKeySecret], { env: { ...env, OTSFLOW_ACCESS_KEY_SECRET: PLANTED_SECRET } });
    expect(flagWins.code, flagWins.stderr).toBe(0);
    noSecretIn(overridden, flagWins);
  });
});

describe('otsflow tunnel on the embedded emulator', () => {
  it('is durable across processes: a tunnel created by one run is listed and described by the next', async () => {
    const dir = tempDir('cli-embedded');
    try {
      const data = join(dir.path, 'data');
      // a table in the data directory, made with the official SDK
      const setup = await startEmulator({ dataDir: data, port: 0 });
      await createTableWith(setup, 'events');
      await setup.close();

      const created = await runCli(['tunnel', 'create', '--data', data, '--table', 'events', '--name', 'durable', '--type', 'Stream']);
      expect(created.code, created.stderr).toBe(0);
      const id = created.stdout.trim();
      expect(id).toMatch(UUID);

      const listed = await runCli(['tunnel', 'list', '--endpoint', 'embedded', '--data', data, '--json']);
      expect(listed.code, listed.stderr).toBe(0);
      expect(JSON.parse(listed.stdout)).toEqual([
        expect.objectContaining({ tunnelId: id, tunnelName: 'durable', tableName: 'events', instanceName: DEFAULT_INSTANCE_NAME, tunnelType: 'Stream' }),
      ]);
      const described = await runCli(['tunnel', 'describe', '--data', data, '--id', id]);
      expect(described.code, described.stderr).toBe(0);
      expect(described.stdout).toMatch(/^type\s+Stream$/m);

      // the emulator was closed cleanly: the data directory opens again with the tunnel in it
      const reopened = await startEmulator({ dataDir: data, port: 0 });
      try {
        expect(reopened.credentials).toEqual(DEFAULT_CREDENTIALS);
        const again = await runCli(['tunnel', 'list', '--endpoint', reopened.endpoint, '--instance', reopened.instanceName, '--access-key-id', DEFAULT_CREDENTIALS.accessKeyId, '--access-key-secret', DEFAULT_CREDENTIALS.accessKeySecret, '--json']);
        expect((JSON.parse(again.stdout) as { tunnelId: string }[]).map((t) => t.tunnelId)).toEqual([id]);
      } finally {
        await reopened.close();
      }

      const deleted = await runCli(['tunnel', 'delete', '--data', data, '--table', 'events', '--name', 'durable']);
      expect(deleted.code, deleted.stderr).toBe(0);
      const empty = await runCli(['tunnel', 'list', '--data', data]);
      expect(empty.code).toBe(0);
      expect(empty.stdout).toBe('');
      expect(empty.stderrLines).toEqual(['0 tunnels']);
    } finally {
      dir.remove();
    }
  });

  it('defaults to ./.otsflow/data under the working directory', async () => {
    const dir = tempDir('cli-default-data');
    try {
      const missing = await runCli(['tunnel', 'create', '--table', 'events', '--name', 'n'], { cwd: dir.path });
      expect(expectOneErrorLine(missing, 'tunnel create', 1)).toBe("cannot create tunnel 'n' on table 'events': OTSParameterInvalid (tunnel.table_name: table 'events' does not exist)");
      expect(existsSync(join(dir.path, '.otsflow', 'data'))).toBe(true);
    } finally {
      dir.remove();
    }
  });
});

describe('otsflow tunnel refuses bad input with one line', () => {
  /** run in an empty directory: a refused command line must not even open the embedded emulator there */
  const usage = async (args: string[], command: string): Promise<string> => {
    const cwd = tempDir('cli-usage');
    try {
      const line = expectOneErrorLine(await runCli(args, { cwd: cwd.path }), command, 2);
      expect(readdirSync(cwd.path), `${args.join(' ')} left files behind`).toEqual([]);
      return line;
    } finally {
      cwd.remove();
    }
  };

  it('missing flags, unknown type, bad times, conflicting references: exit 2, nothing sent', async () => {
    const results = await Promise.all([
      usage(['tunnel', 'create', '--name', 'n'], 'tunnel create'),
      usage(['tunnel', 'create', '--table', 't', '--name', 'n', '--type', 'Snapshot'], 'tunnel create'),
      usage(['tunnel', 'create', '--table', 't', '--name', 'n', '--start', 'yesterday'], 'tunnel create'),
      usage(['tunnel', 'create', '--table', 't', '--name', 'n', '--end', '2024-02-30'], 'tunnel create'),
      usage(['tunnel', 'create', '--table', 't', '--name', 'n', '--start', '2024-05-01T12:00:00'], 'tunnel create'),
      usage(['tunnel', 'create', '--table', 't', '--name', 'n', '--start', '2024-05-02T00:00:00Z', '--end', '2024-05-01T00:00:00Z'], 'tunnel create'),
      usage(['tunnel', 'create', '--table', 't', '--name', 'n', '--type', 'BaseData', '--start', 'earliest'], 'tunnel create'),
      usage(['tunnel', 'describe'], 'tunnel describe'),
      usage(['tunnel', 'describe', '--id', 'x', '--table', 't'], 'tunnel describe'),
      usage(['tunnel', 'delete', '--table', 't'], 'tunnel delete'),
      usage(['tunnel', 'create', '--table', '', '--name', 'n'], 'tunnel create'),
      usage(['tunnel', 'list', '--colour'], 'tunnel list'),
      usage(['tunnel', 'lsit'], 'tunnel'),
      // a program option: commander refuses it at the top level
      usage(['tunnel', 'list', '--log-level', 'loud'], ''),
    ]);
    expect(results).toEqual([
      "required option '--table <name>' not specified (see --help)",
      "option '--type <type>' argument 'Snapshot' is invalid. Use one of BaseAndStream, Stream, BaseData. (see --help)",
      "option '--start <when>' argument 'yesterday' is invalid. Use latest, earliest, or an ISO 8601 time with a zone, e.g. 2024-05-01T12:00:00Z. (see --help)",
      "option '--end <time>' argument '2024-02-30' is invalid. Use an ISO 8601 time with a zone, e.g. 2024-05-01T12:00:00Z, 2024-05-01T20:00:00+08:00 or 2024-05-01. (see --help)",
      "option '--start <when>' argument '2024-05-01T12:00:00' is invalid. Use latest, earliest, or an ISO 8601 time with a zone, e.g. 2024-05-01T12:00:00Z. (see --help)",
      '--end 2024-05-01T00:00:00.000Z is before --start 2024-05-02T00:00:00.000Z',
      '--start applies to Stream and BaseAndStream tunnels, not BaseData',
      'give --id, or --table and --name',
      'give either --id, or --table and --name, not both',
      '--table needs --name',
      '--table must not be empty',
      "unknown option '--colour' (see --help)",
      "unknown command 'lsit' (Did you mean list?) (see --help)",
      "option '--log-level <level>' argument 'loud' is invalid. Allowed choices are error, warn, info, debug. (see --help)",
    ]);
  });

  it('a remote endpoint without instance or keys lists everything missing; a bad endpoint is named', async () => {
    expect(await usage(['tunnel', 'list', '--endpoint', 'http://127.0.0.1:1'], 'tunnel list')).toBe(
      'a remote endpoint needs --instance (or OTSFLOW_INSTANCE), --access-key-id (or OTSFLOW_ACCESS_KEY_ID / ALIBABA_CLOUD_ACCESS_KEY_ID) and --access-key-secret (or OTSFLOW_ACCESS_KEY_SECRET / ALIBABA_CLOUD_ACCESS_KEY_SECRET)',
    );
    expect(await usage(['tunnel', 'list', '--endpoint', 'https://myinst.cn-hangzhou.ots.aliyuncs.com/path', '--access-key-id', 'a', '--access-key-secret', 'b'], 'tunnel list')).toBe(
      "--endpoint 'https://myinst.cn-hangzhou.ots.aliyuncs.com/path' must be 'embedded' or an http:// or https:// URL without path or query",
    );
  });

  it('an unreachable endpoint is one line, fast, for retried (list) and unretried (create) calls', async () => {
    const connect = ['--endpoint', 'http://127.0.0.1:1', '--instance', 'i', '--access-key-id', 'a', '--access-key-secret', PLANTED_SECRET];
    const [list, create, describeById] = await Promise.all([
      runCli(['tunnel', 'list', ...connect]),
      runCli(['tunnel', 'create', ...connect, '--table', 't', '--name', 'n']),
      runCli(['tunnel', 'describe', ...connect, '--id', 'x']),
    ]);
    expect(expectOneErrorLine(list, 'tunnel list', 1)).toBe('cannot reach http://127.0.0.1:1 (ECONNREFUSED)');
    expect(expectOneErrorLine(create, 'tunnel create', 1)).toBe('cannot reach http://127.0.0.1:1 (ECONNREFUSED)');
    expect(expectOneErrorLine(describeById, 'tunnel describe', 1)).toBe('cannot reach http://127.0.0.1:1 (ECONNREFUSED)');
    expect(Math.max(list.ms, create.ms, describeById.ms)).toBeLessThan(10_000);
    noSecretIn(list, create, describeById);

    const debug = await runCli(['tunnel', 'list', ...connect, '--log-level', 'debug']);
    expect(debug.code).toBe(1);
    expect(debug.stderr).toMatch(STACK_LINE);
    expect(debug.stderrLines).toContain('otsflow tunnel list: cannot reach http://127.0.0.1:1 (ECONNREFUSED)');
  });

  it('--help works for every subcommand and documents the flags and exit codes', async () => {
    const helps = await Promise.all(['create', 'list', 'describe', 'delete'].map((sub) => runCli(['tunnel', sub, '--help'])));
    for (const help of helps) {
      expect(help.code).toBe(0);
      expect(help.stdout).toContain('--endpoint <url|embedded>');
      expect(help.stdout).toContain('--log-level <level>');
      expect(help.stdout).toContain('Exit codes: 0 done; 1 the call failed');
    }
    expect(helps[0]?.stdout).toMatch(/--type <type>\s+BaseAndStream \| Stream \| BaseData/);
    expect(helps[1]?.stdout).toContain('--json');
    expect(helps[2]?.stdout).toContain('--id <tunnelId>');
  });
});
