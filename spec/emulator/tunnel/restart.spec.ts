/**
 * Crash safety: the emulator is killed with SIGKILL (no shutdown code runs) and restarted on
 * the same data directory; tunnels, leases, checkpoints and the change log are all still there.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as E from 'fp-ts/lib/Either.js';
import { afterEach, describe, expect, it } from 'vitest';
import { DEFAULT_CREDENTIALS, DEFAULT_INSTANCE_NAME } from '../../../lib/emulator/index.js';
import { decodeRow } from '../../../lib/wire/plainbuffer/index.js';
import { ok as sdkOk, sdkClient, TableStore } from '../sdk.js';
import { killHard, startChild } from './child-process.js';
import { mustCall, type RawEndpoint } from './raw-client.js';

describe('emulator restart after kill -9', () => {
  let dataDir: string | undefined;
  let running: ChildProcess | undefined;

  afterEach(async () => {
    if (running !== undefined && running.exitCode === null && running.signalCode === null) await killHard(running);
    if (dataDir !== undefined) rmSync(dataDir, { recursive: true, force: true });
  });

  it('keeps tunnels, leases, checkpoints and the log', async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'otsflow-tunnel-restart-'));
    const first = await startChild(dataDir);
    running = first.child;
    const endpointAt = (port: number): RawEndpoint => ({ host: '127.0.0.1', port, instanceName: DEFAULT_INSTANCE_NAME, ...DEFAULT_CREDENTIALS });
    const sdkAt = (port: number) =>
      sdkClient({ endpoint: `http://127.0.0.1:${port}`, instanceName: DEFAULT_INSTANCE_NAME, credentials: DEFAULT_CREDENTIALS });
    let endpoint = endpointAt(first.port);
    let sdk = sdkAt(first.port);
    await sdkOk(sdk, 'createTable', {
      tableMeta: { tableName: 'OrderSource', primaryKey: [{ name: 'UserId', type: 'STRING' }, { name: 'OrderId', type: 'STRING' }] },
      reservedThroughput: { capacityUnit: { read: 0, write: 0 } },
      tableOptions: { timeToLive: -1, maxVersions: 1 },
    });
    const put = (user: string, order: string) =>
      sdkOk(sdk, 'putRow', {
        tableName: 'OrderSource',
        condition: new TableStore.Condition(TableStore.RowExistenceExpectation.IGNORE, null),
        primaryKey: [{ UserId: user }, { OrderId: order }],
        attributeColumns: [{ price: 1.5 }],
      });

    const { tunnelId } = await mustCall(endpoint, 'CreateTunnel', { tunnel: { tableName: 'OrderSource', tunnelName: 'crash', tunnelType: 'Stream' } });
    const { clientId } = await mustCall(endpoint, 'ConnectTunnel', { tunnelId, clientConfig: { timeout: 300n, clientTag: 'restart' } });
    const leases = (await mustCall(endpoint, 'Heartbeat', { tunnelId, clientId, channels: [] })).channels;
    expect(leases.map((c) => c.channelId)).toEqual(['p0_e0', 'p1_e0']);
    for (let i = 0; i < 6; i++) await put('same-user', `before-${i}`);
    const partitioned = await Promise.all(
      leases.map(async (lease) => {
        const ids = { tunnelId, clientId, channelId: lease.channelId };
        const { checkpoint } = await mustCall(endpoint, 'GetCheckpoint', ids);
        return { ids, checkpoint, batch: await mustCall(endpoint, 'ReadRecords', { ...ids, token: checkpoint }) };
      }),
    );
    const busy = partitioned.find((p) => p.batch.records.length > 0)!;
    expect(busy.batch).toMatchObject({ mayMoreRecord: true, records: { length: 3 } });
    // the first three are consumed
    const three = busy.batch;
    await mustCall(endpoint, 'Checkpoint', { ...busy.ids, checkpoint: three.nextToken, sequenceNumber: 1n });
    for (let i = 0; i < 3; i++) await put('same-user', `after-${i}`);
    const describedBefore = await mustCall(endpoint, 'DescribeTunnel', { tableName: 'OrderSource', tunnelName: 'crash' });

    await killHard(first.child);
    const second = await startChild(dataDir);
    running = second.child;
    endpoint = endpointAt(second.port);
    sdk = sdkAt(second.port);

    expect(await mustCall(endpoint, 'DescribeTunnel', { tableName: 'OrderSource', tunnelName: 'crash' })).toEqual(describedBefore);
    expect(await mustCall(endpoint, 'GetCheckpoint', busy.ids)).toEqual({ checkpoint: three.nextToken, sequenceNumber: 1n });
    // the lease is still this client's: same channels, same versions, no reconnect needed
    const again = await mustCall(endpoint, 'Heartbeat', { tunnelId, clientId, channels: leases });
    expect(again.channels).toEqual(leases);
    // the log resumes exactly after the checkpoint: the rest of the first writes, then the later ones
    const resumed = await mustCall(endpoint, 'ReadRecords', { ...busy.ids, token: three.nextToken });
    const orders = resumed.records.map((r) => {
      const row = decodeRow(r.record);
      if (E.isLeft(row)) throw row.left;
      return row.right.primaryKey[1]!.value;
    });
    expect(orders).toEqual(['before-3', 'before-4', 'before-5']);
    // writes keep flowing into the same log after the restart
    await put('same-user', 'after-restart');
    let token = three.nextToken;
    const all: string[] = [];
    for (;;) {
      const batch = await mustCall(endpoint, 'ReadRecords', { ...busy.ids, token });
      if (batch.records.length === 0) break;
      for (const r of batch.records) {
        const row = decodeRow(r.record);
        if (E.isLeft(row)) throw row.left;
        all.push(String(row.right.primaryKey[1]!.value));
      }
      token = batch.nextToken;
    }
    expect(all).toEqual(['before-3', 'before-4', 'before-5', 'after-0', 'after-1', 'after-2', 'after-restart']);
  });
});
