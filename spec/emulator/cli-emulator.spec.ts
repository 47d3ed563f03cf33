/**
 * `otsflow emulator` as a user runs it: prints endpoint, instance and key, serves the SDK,
 * and exits 0 on SIGTERM after closing the store.
 */
import { mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { tempDir } from './helpers.js';
import { type Spawned, spawnTs, waitForOutput } from './process.js';
import { condition, ok, sdkClient } from './sdk.js';

let running: Spawned | undefined;

afterEach(() => {
  if (running !== undefined && running.child.exitCode === null) running.child.kill('SIGKILL');
  running = undefined;
});

describe('otsflow emulator', () => {
  it('prints how to connect, serves PutRow/GetRow and stops cleanly on SIGTERM', async () => {
    const dir = tempDir('cli');
    try {
      running = spawnTs('lib/cli/main.ts', ['emulator', '--port', '0', '--data', dir.path]);
      await waitForOutput(running, /Press Ctrl\+C to stop\./);
      const output = running.stdout();
      const endpoint = /endpoint:\s+(http:\/\/127\.0\.0\.1:\d+)/.exec(output)?.[1];
      const instanceName = /instance:\s+(\S+)/.exec(output)?.[1];
      const accessKeyId = /accessKeyId:\s+(\S+)/.exec(output)?.[1];
      const accessKeySecret = /accessKeySecret:\s+(\S+)/.exec(output)?.[1];
      expect([endpoint, instanceName, accessKeyId, accessKeySecret].every((v) => v !== undefined)).toBe(true);
      expect(output).toContain(`data:            ${dir.path}`);

      const client = sdkClient({ endpoint: endpoint!, instanceName: instanceName!, credentials: { accessKeyId: accessKeyId!, accessKeySecret: accessKeySecret! } });
      await ok(client, 'createTable', {
        tableMeta: { tableName: 'cli', primaryKey: [{ name: 'id', type: 'STRING' }] },
        reservedThroughput: { capacityUnit: { read: 0, write: 0 } },
        tableOptions: { timeToLive: -1, maxVersions: 1 },
      });
      await ok(client, 'putRow', { tableName: 'cli', condition: condition('IGNORE'), primaryKey: [{ id: 'k' }], attributeColumns: [{ greeting: 'hello' }] });
      const read = await ok(client, 'getRow', { tableName: 'cli', primaryKey: [{ id: 'k' }], maxVersions: 1 });
      expect(read.row.attributes[0].columnValue).toBe('hello');

      running.child.kill('SIGTERM');
      const exit = await running.exited;
      expect(exit).toEqual({ code: 0, signal: null });
      expect(running.stdout()).toContain('otsflow emulator: closed');
    } finally {
      dir.remove();
    }
  });

  it('refuses a bad port with a clear message and a non-zero exit', async () => {
    running = spawnTs('lib/cli/main.ts', ['emulator', '--port', 'eighty', '--data', '/tmp/otsflow-never-created']);
    const exit = await running.exited;
    expect(exit.code).toBe(2);
    expect(running.stderr()).toContain("--port must be an integer in [0, 65535], got 'eighty'");
  });

  it('uses a data directory whose name has a dot (as mktemp -d makes), existing or created, and keeps the store inside it', async () => {
    const dir = tempDir('dotted');
    try {
      for (const data of [join(dir.path, 'tmp.AbC'), join(dir.path, 'new.dir', 'data.v2')]) {
        if (data.endsWith('tmp.AbC')) mkdirSync(data);
        running = spawnTs('lib/cli/main.ts', ['emulator', '--port', '0', '--data', data]);
        await waitForOutput(running, /Press Ctrl\+C to stop\./);
        expect(running.stdout()).toContain(`data:            ${data}`);
        const endpoint = /endpoint:\s+(http:\/\/127\.0\.0\.1:\d+)/.exec(running.stdout())![1]!;
        const client = sdkClient({ endpoint, instanceName: 'otsflow', credentials: { accessKeyId: 'otsflow', accessKeySecret: 'otsflow-local-secret' } });
        await ok(client, 'createTable', {
          tableMeta: { tableName: 'dotted', primaryKey: [{ name: 'id', type: 'STRING' }] },
          reservedThroughput: { capacityUnit: { read: 0, write: 0 } },
          tableOptions: { timeToLive: -1, maxVersions: 1 },
        });
        running.child.kill('SIGTERM');
        expect(await running.exited).toEqual({ code: 0, signal: null });
        expect(statSync(data).isDirectory()).toBe(true);
        expect(readdirSync(data)).toContain('data.mdb');
      }
    } finally {
      dir.remove();
    }
  });

  it('refuses a data path that is a file, or under a file, naming the path and the problem (exit 2)', async () => {
    const dir = tempDir('datafile');
    try {
      const file = join(dir.path, 'store.db');
      writeFileSync(file, 'not a directory');
      running = spawnTs('lib/cli/main.ts', ['emulator', '--port', '0', '--data', file]);
      expect((await running.exited).code).toBe(2);
      expect(running.stderr()).toContain(`--data: data path '${file}' is a file, not a directory: give a directory (it is created when missing)`);
      expect(running.stderr()).not.toMatch(/EEXIST|Is a directory/);
      expect(readFileSync(file, 'utf8')).toBe('not a directory');

      running = spawnTs('lib/cli/main.ts', ['emulator', '--port', '0', '--data', join(file, 'data')]);
      expect((await running.exited).code).toBe(2);
      expect(running.stderr()).toContain(`--data: cannot use the data directory '${join(file, 'data')}': a part of that path is a file, not a directory`);
    } finally {
      dir.remove();
    }
  });
});
