/**
 * Partition splits survive kill -9: an emulator in its own process splits its stream partitions
 * (fault plan `split=5,splits=3`) while rows are written, is killed with SIGKILL and restarted on
 * the same data directory without the plan; the tunnel's channels, the sealed ends and the
 * routing are as before the kill, and a consumer reads every acknowledged write, in order per row.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { DEFAULT_CREDENTIALS, DEFAULT_INSTANCE_NAME } from '../../../lib/emulator/index.js';
import { ok as sdkOk, sdkClient, TableStore } from '../sdk.js';
import { killHard, startChild } from './child-process.js';
import { mustCall, type RawEndpoint } from './raw-client.js';
import { RawWorker } from './raw-worker.js';

describe('partition splits across kill -9 of the emulator', () => {
  let dataDir: string | undefined;
  let running: ChildProcess | undefined;

  afterEach(async () => {
    if (running !== undefined && running.exitCode === null && running.signalCode === null) await killHard(running);
    if (dataDir !== undefined) rmSync(dataDir, { recursive: true, force: true });
  });

  it('keeps the split partitions, their channels and every acknowledged record', async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'otsflow-tunnel-split-crash-'));
    const first = await startChild(dataDir, 'split=5,splits=3');
    running = first.child;
    const endpointAt = (port: number): RawEndpoint => ({ host: '127.0.0.1', port, instanceName: DEFAULT_INSTANCE_NAME, ...DEFAULT_CREDENTIALS });
    const sdkAt = (port: number) => sdkClient({ endpoint: `http://127.0.0.1:${port}`, instanceName: DEFAULT_INSTANCE_NAME, credentials: DEFAULT_CREDENTIALS });
    let endpoint = endpointAt(first.port);
    let sdk = sdkAt(first.port);
    await sdkOk(sdk, 'createTable', {
      tableMeta: { tableName: 'T', primaryKey: [{ name: 'user', type: 'STRING' }, { name: 'n', type: 'INTEGER' }] },
      reservedThroughput: { capacityUnit: { read: 0, write: 0 } },
      tableOptions: { timeToLive: -1, maxVersions: 1 },
    });
    const { tunnelId } = await mustCall(endpoint, 'CreateTunnel', { tunnel: { tableName: 'T', tunnelName: 'crash', tunnelType: 'Stream' } });
    const written: string[] = [];
    const put = async (user: string, n: number, v: number): Promise<void> => {
      await sdkOk(sdk, 'putRow', {
        tableName: 'T',
        condition: new TableStore.Condition(TableStore.RowExistenceExpectation.IGNORE, null),
        primaryKey: [{ user }, { n: TableStore.Long.fromNumber(n) }],
        attributeColumns: [{ v: TableStore.Long.fromNumber(v) }],
      });
      written.push(`${user}/${n}=${v}`);
    };
    let v = 0;
    for (let i = 0; i < 24; i++) await put(['ann', 'bob', 'cyd'][i % 3]!, i % 4, ++v);
    const before = await mustCall(endpoint, 'DescribeTunnel', { tableName: 'T', tunnelName: 'crash' });
    expect(before.channels).toHaveLength(2 + 2 * 3);

    await killHard(first.child);
    const second = await startChild(dataDir);
    running = second.child;
    endpoint = endpointAt(second.port);
    sdk = sdkAt(second.port);
    expect(await mustCall(endpoint, 'DescribeTunnel', { tableName: 'T', tunnelName: 'crash' })).toEqual(before);
    // the routing is the same after the restart: later writes of a key follow its earlier ones
    for (let i = 0; i < 12; i++) await put(['ann', 'bob', 'cyd'][i % 3]!, i % 4, ++v);
    expect((await mustCall(endpoint, 'DescribeTunnel', { tableName: 'T', tunnelName: 'crash' })).channels).toHaveLength(2 + 2 * 3);

    const worker = await new RawWorker(endpoint, tunnelId).connect(300n);
    const read: string[] = [];
    const done = new Set<string>();
    for (let round = 0, idle = 0; idle < 2 && round < 50; round++) {
      await worker.heartbeat();
      let progressed = false;
      for (const channelId of worker.open()) {
        if (done.has(channelId)) continue;
        const drained = await worker.drain(channelId);
        for (const r of drained.records) {
          read.push(`${String(r.row.primaryKey[0]!.value)}/${String(r.row.primaryKey[1]!.value)}=${String((r.row.cells[0] as { value: bigint }).value)}`);
        }
        if (drained.records.length > 0) progressed = true;
        if (drained.lastToken === 'finished') {
          done.add(channelId);
          worker.terminate(channelId);
          progressed = true;
        }
      }
      idle = progressed ? 0 : idle + 1;
    }
    const byKey = (lines: readonly string[]) => {
      const m = new Map<string, string[]>();
      for (const line of lines) {
        const [key, value] = line.split('=');
        m.set(key!, [...(m.get(key!) ?? []), value!]);
      }
      return m;
    };
    expect(read).toHaveLength(written.length);
    expect(byKey(read)).toEqual(byKey(written));
    expect(done.size).toBe(3);
  });
});
