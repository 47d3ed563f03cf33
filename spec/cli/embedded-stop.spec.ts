/**
 * `otsflow sql` on an `embedded` endpoint (the README's local run of examples/orders/job.sql):
 * when the job stops, its tunnel session is shut down before the in-process emulator closes, as
 * StreamJob.stop() promises ("the tunnel shut down"). Otherwise the data directory keeps the
 * channels leased to a client that is gone — a later run waits out the lease (300 s by default) or
 * has to release them itself — and the last batch's tunnel checkpoint may never land.
 *
 * Default settings a user gets (heartbeats, --idle-ms); the emulator runs in this process only to
 * set the data directory up and to read DescribeTunnel afterwards.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as E from 'fp-ts/lib/Either.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator, type RunningEmulator } from '../../lib/emulator/index.js';
import { createHttpTransport } from '../../lib/tunnel/http-transport.js';
import { tunnelControl } from '../../lib/tunnel/control.js';
import { CREDENTIALS, INSTANCE, sdkCall, sdkClient, seedTables, TableStore } from '../reliability/harness/cluster.js';
import { ensureCompiledCli, runCli } from './cli-process.js';

const ORDERS = 240;
let root: string;
let tunnelId: string;

async function describeChannels(emulator: RunningEmulator) {
  const transport = createHttpTransport({ endpoint: emulator.endpoint, instance: INSTANCE, credentials: CREDENTIALS, requestTimeoutMs: 10_000 });
  try {
    const described = await tunnelControl(transport).describeTunnel('OrderSource', 'orders');
    if (E.isLeft(described)) throw described.left;
    return described.right.channels;
  } finally {
    transport.close();
  }
}

beforeAll(async () => {
  ensureCompiledCli();
  root = mkdtempSync(join(tmpdir(), 'otsflow-embedded-stop-'));
  const emulator = await startEmulator({ dataDir: join(root, 'data'), port: 0, instanceName: INSTANCE, credentials: [CREDENTIALS] });
  try {
    tunnelId = await seedTables(emulator.endpoint);
    const sdk = sdkClient(emulator.endpoint);
    const base = Math.floor(Date.now() / 30_000) * 30_000 - 120_000;
    for (let start = 0; start < ORDERS; start += 80) {
      const rows = Array.from({ length: 80 }, (_, i) => ({
        type: 'PUT',
        condition: new TableStore.Condition(TableStore.RowExistenceExpectation.IGNORE, null),
        primaryKey: [{ UserId: `u${(start + i) % 5}` }, { OrderId: `o${start + i}` }],
        attributeColumns: [{ price: 1.25 }, { timestamp: TableStore.Long.fromNumber(base + (start + i) * 250) }],
        returnContent: { returnType: TableStore.ReturnType.NONE },
      }));
      await sdkCall(sdk, 'batchWriteRow', { tables: [{ tableName: 'OrderSource', rows }] });
    }
  } finally {
    await emulator.close();
  }
}, 30_000);

afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('otsflow sql on the embedded emulator', () => {
  it('shuts its tunnel session down before the emulator closes: no channel stays leased, every record is checkpointed', async () => {
    const result = await runCli(
      [
        'sql',
        '-f',
        'examples/orders/job.sql',
        '--data',
        join(root, 'data'),
        ...['endpoint=embedded', `instance=${INSTANCE}`, `access_key_id=${CREDENTIALS.accessKeyId}`, `tunnel_id=${tunnelId}`, `checkpoint=${join(root, 'cp')}`].flatMap((v) => ['--var', v]),
        '--until-idle',
        '--no-progress',
      ],
      { timeoutMs: 60_000, env: { OTSFLOW_VAR_access_key_secret: CREDENTIALS.accessKeySecret } },
    );
    expect({ code: result.code, stderr: result.stderr }).toMatchObject({ code: 0 });
    expect(result.stderr).toContain(`${ORDERS} records read`);

    const emulator = await startEmulator({ dataDir: join(root, 'data'), port: 0, instanceName: INSTANCE, credentials: [CREDENTIALS] });
    try {
      const channels = await describeChannels(emulator);
      expect(channels.length).toBeGreaterThan(0);
      expect(channels.filter((channel) => channel.status === 'OPEN' || channel.clientId !== '')).toEqual([]);
      expect(channels.reduce((sum, channel) => sum + Number(channel.count ?? 0), 0)).toBe(ORDERS);
    } finally {
      await emulator.close();
    }
  }, 90_000);
});
