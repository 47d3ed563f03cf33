/**
 * Leases checked as the service checks them, in raw signed HTTP + protobuf: GetCheckpoint by a
 * client that does not hold the channel, heartbeats that report a channel the tunnel does not
 * have or a version ahead of the service's — and that nothing such a heartbeat carried is
 * adopted. Codes: OTSResourceGone for lease conflicts ("channel version conflict" in the Java
 * SDK's ErrorCode), OTSParameterInvalid for a channel that does not exist.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type RunningEmulator, startEmulator } from '../../../lib/emulator/index.js';
import { ok as sdkOk, sdkClient } from '../sdk.js';
import { callTunnel, mustCall, type RawEndpoint } from './raw-client.js';
import { RawWorker } from './raw-worker.js';

describe('strict leases over HTTP', () => {
  let dataDir: string;
  let emulator: RunningEmulator;
  let endpoint: RawEndpoint;

  beforeEach(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'otsflow-tunnel-leases-'));
    emulator = await startEmulator({ dataDir, port: 0, partitions: 2, tunnel: { expirySweepMs: 0 } });
    endpoint = { host: emulator.host, port: emulator.port, instanceName: emulator.instanceName, ...emulator.credentials };
    await sdkOk(sdkClient(emulator), 'createTable', {
      tableMeta: { tableName: 'T', primaryKey: [{ name: 'id', type: 'STRING' }] },
      reservedThroughput: { capacityUnit: { read: 0, write: 0 } },
      tableOptions: { timeToLive: -1, maxVersions: 1 },
    });
  });

  afterEach(async () => {
    await emulator.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  const setUp = async () => {
    const tunnelId = (await mustCall(endpoint, 'CreateTunnel', { tunnel: { tableName: 'T', tunnelName: 'tun', tunnelType: 'Stream' } })).tunnelId;
    const owner = await new RawWorker(endpoint, tunnelId).connect(300n);
    await owner.heartbeat();
    const idle = await new RawWorker(endpoint, tunnelId).connect(300n);
    expect(owner.open()).toEqual(['p0_e0', 'p1_e0']);
    const describe = () => mustCall(endpoint, 'DescribeTunnel', { tableName: 'T', tunnelName: 'tun' });
    return { tunnelId, owner, idle, describe };
  };

  it('refuses GetCheckpoint to a connected client that does not hold the channel', async () => {
    const { tunnelId, owner, idle } = await setUp();
    const ids = { tunnelId, channelId: 'p0_e0' };
    expect(await mustCall(endpoint, 'GetCheckpoint', { ...ids, clientId: owner.clientId })).toMatchObject({ sequenceNumber: 0n });
    expect(await callTunnel(endpoint, 'GetCheckpoint', { ...ids, clientId: idle.clientId })).toMatchObject({
      left: { status: 410, code: 'OTSResourceGone', message: expect.stringContaining('p0_e0') },
    });
    expect(await callTunnel(endpoint, 'GetCheckpoint', { ...ids, clientId: 'nobody' })).toMatchObject({ left: { code: 'OTSResourceGone' } });
    expect(await callTunnel(endpoint, 'GetCheckpoint', { ...ids, channelId: 'p7_e0', clientId: owner.clientId })).toMatchObject({
      left: { status: 400, code: 'OTSParameterInvalid' },
    });
  });

  it('refuses a heartbeat that reports an unknown channel, and adopts nothing it carried', async () => {
    const { tunnelId, owner, describe } = await setUp();
    const before = await describe();
    const refused = await callTunnel(endpoint, 'Heartbeat', {
      tunnelId,
      clientId: owner.clientId,
      channels: [
        { channelId: 'p0_e0', version: 2n, status: 'CLOSE' },
        { channelId: 'p9_e3', version: 1n, status: 'OPEN' },
      ],
    });
    expect(refused).toMatchObject({ left: { status: 400, code: 'OTSParameterInvalid', message: expect.stringContaining('p9_e3') } });
    expect((await describe()).channels).toEqual(before.channels);
  });

  it('refuses a version ahead of the service, by the owner or anyone, and does not adopt a CLOSE at such a version', async () => {
    const { tunnelId, owner, idle, describe } = await setUp();
    const before = await describe();
    expect(before.channels.map((c) => [c.channelId, c.channelStatus, c.clientId])).toEqual([
      ['p0_e0', 'OPEN', owner.clientId],
      ['p1_e0', 'OPEN', owner.clientId],
    ]);
    for (const [clientId, channel] of [
      [owner.clientId, { channelId: 'p0_e0', version: 5n, status: 'CLOSE' as const }],
      [owner.clientId, { channelId: 'p0_e0', version: 3n, status: 'TERMINATED' as const }],
      [owner.clientId, { channelId: 'p0_e0', version: 2n, status: 'OPEN' as const }],
      [idle.clientId, { channelId: 'p1_e0', version: 9n, status: 'CLOSE' as const }],
    ] as const) {
      const refused = await callTunnel(endpoint, 'Heartbeat', { tunnelId, clientId, channels: [channel] });
      expect(refused).toMatchObject({ left: { status: 410, code: 'OTSResourceGone', message: expect.stringMatching(/version conflict.*version \d+.*holds version 1/) } });
      expect((await describe()).channels).toEqual(before.channels);
    }
    // the protocol's own moves still work: stale versions are ignored, CLOSE at v+1 gives back
    await mustCall(endpoint, 'Heartbeat', { tunnelId, clientId: idle.clientId, channels: [{ channelId: 'p0_e0', version: 1n, status: 'CLOSE' }] });
    expect((await describe()).channels).toEqual(before.channels);
    await mustCall(endpoint, 'Heartbeat', { tunnelId, clientId: owner.clientId, channels: [{ channelId: 'p0_e0', version: 2n, status: 'CLOSE' }] });
    const after = await describe();
    // given back, then handed to the idle client (its fair share) on its next heartbeat
    expect(after.channels.find((c) => c.channelId === 'p0_e0')).toMatchObject({ channelStatus: 'CLOSE', clientId: '' });
    await idle.heartbeat();
    expect(idle.open()).toEqual(['p0_e0']);
  });
});
