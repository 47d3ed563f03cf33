/**
 * The service attached to the real table engine, driven through its route handler with
 * protobuf bodies (no sockets): commit hooks feed the log, table events enable/drop streams.
 */
import * as E from 'fp-ts/lib/Either.js';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { TableEngine } from '../../../lib/emulator/engine.js';
import { type AttachedTunnelService, attachTunnelService, type TunnelRouter } from '../../../lib/emulator/tunnel/index.js';
import type { TunnelCallResult } from '../../../lib/emulator/tunnel/http.js';
import { decodeRow } from '../../../lib/wire/plainbuffer/index.js';
import { type TunnelMessageTypes, tunnelMessages } from '../../../lib/wire/tunnel-messages.js';
import type { Row } from '../../../lib/wire/types.js';
import { definition, pkColumn, put, remove, rightOf, tempDir, update } from '../helpers.js';

type Handler = Parameters<TunnelRouter['registerPrefix']>[1];

const row = (bytes: Uint8Array): Row => {
  const decoded = decodeRow(bytes);
  if (E.isLeft(decoded)) throw decoded.left;
  return decoded.right;
};

const order = (user: string, id: string) => [
  { name: 'UserId', value: user },
  { name: 'OrderId', value: id },
];

describe('attachTunnelService', () => {
  let dir: ReturnType<typeof tempDir>;
  let now: number;
  let engine: TableEngine;
  let handler: Handler;
  let attached: AttachedTunnelService;

  beforeEach(async () => {
    dir = tempDir('tunnel-attach');
    now = Date.UTC(2026, 0, 1);
    engine = TableEngine.open({ dataDir: dir.path, now: () => now });
    const router: TunnelRouter = {
      registerPrefix: (prefix, h) => {
        expect(prefix).toBe('/tunnel/');
        handler = h;
      },
    };
    attached = attachTunnelService(engine, router, { partitions: 2, expirySweepMs: 0 });
    rightOf(await engine.createTable(definition('OrderSource', [pkColumn('UserId', 'STRING'), pkColumn('OrderId', 'STRING')])));
  });

  afterEach(async () => {
    attached.detach();
    await engine.close();
    dir.remove();
  });

  const call = async <Req extends keyof TunnelMessageTypes, Res extends keyof TunnelMessageTypes>(
    path: string,
    request: Req,
    body: TunnelMessageTypes[Req],
    response: Res,
  ): Promise<TunnelMessageTypes[Res]> => {
    const result: TunnelCallResult = await handler({ path, body: tunnelMessages[request].encode(body) });
    if (E.isLeft(result)) throw new Error(`${result.left.code} (${result.left.status}): ${result.left.message}`);
    return rightOf(tunnelMessages[response].decode(result.right));
  };

  const readAll = async (tunnelId: string, clientId: string, channelId: string) => {
    let { checkpoint: token } = await call('/tunnel/getcheckpoint', 'GetCheckpointRequest', { tunnelId, clientId, channelId }, 'GetCheckpointResponse');
    const records: TunnelMessageTypes['Record'][] = [];
    for (;;) {
      const batch = await call('/tunnel/readrecords', 'ReadRecordsRequest', { tunnelId, clientId, channelId, token }, 'ReadRecordsResponse');
      records.push(...batch.records);
      if (batch.nextToken === 'finished' || batch.records.length === 0) return { records, token: batch.nextToken };
      token = batch.nextToken;
    }
  };

  it('delivers base rows, then every committed engine write in order — and nothing of a refused write', async () => {
    for (let i = 0; i < 5; i++) {
      rightOf(await engine.write(put('OrderSource', order('u1', `o${i}`), [{ op: 'put', name: 'price', value: 1.5 * i }])));
    }
    const { tunnelId } = await call(
      '/tunnel/create',
      'CreateTunnelRequest',
      { tunnel: { tableName: 'OrderSource', tunnelName: 'orders', tunnelType: 'BaseAndStream' } },
      'CreateTunnelResponse',
    );
    const { clientId } = await call('/tunnel/connect', 'ConnectRequest', { tunnelId, clientConfig: { timeout: 300n, clientTag: 'spec' } }, 'ConnectResponse');
    const first = await call('/tunnel/heartbeat', 'HeartbeatRequest', { tunnelId, clientId, channels: [] }, 'HeartbeatResponse');
    expect(first.channels.map((c) => [c.channelId, c.version, c.status])).toEqual([
      ['BaseData_0', 1n, 'OPEN'],
      ['BaseData_1', 1n, 'OPEN'],
      ['BaseData_2', 1n, 'OPEN'],
      ['BaseData_3', 1n, 'OPEN'],
    ]);
    const base: Row[] = [];
    for (const channel of first.channels) {
      const { records, token } = await readAll(tunnelId, clientId, channel.channelId);
      expect(token).toBe('finished');
      base.push(...records.map((r) => row(r.record)));
      await call('/tunnel/checkpoint', 'CheckpointRequest', { tunnelId, clientId, channelId: channel.channelId, checkpoint: 'finished', sequenceNumber: 1n }, 'CheckpointResponse');
    }
    expect(base.map((r) => r.primaryKey[1]!.value)).toEqual(['o0', 'o1', 'o2', 'o3', 'o4']);
    expect(base[2]!.cells).toEqual([{ op: 'put', name: 'price', value: 3, timestamp: now }]);

    const second = await call(
      '/tunnel/heartbeat',
      'HeartbeatRequest',
      { tunnelId, clientId, channels: first.channels.map((c) => ({ channelId: c.channelId, version: 2n, status: 'TERMINATED' as const })) },
      'HeartbeatResponse',
    );
    expect(second.channels.map((c) => c.channelId)).toEqual(['p0_e0', 'p1_e0']);

    now += 1000;
    const results = await engine.writeBatch([
      put('OrderSource', order('u2', 'a'), [{ op: 'put', name: 'price', value: 10 }]),
      update('OrderSource', order('u2', 'a'), [{ op: 'put', name: 'price', value: 11, timestamp: now - 5 }, { op: 'deleteAllVersions', name: 'note' }]),
      put('OrderSource', order('u2', 'b'), [{ op: 'put', name: 'price', value: 1 }], { rowExistence: 'EXPECT_EXIST' }),
      remove('OrderSource', order('u2', 'a')),
    ]);
    expect(results.map(E.isRight)).toEqual([true, true, false, true]);
    const streamed = (await Promise.all(second.channels.map((c) => readAll(tunnelId, clientId, c.channelId)))).flatMap((r) => r.records);
    expect(streamed.map((r) => r.actionType)).toEqual(['PUT_ROW', 'UPDATE_ROW', 'DELETE_ROW']);
    const rows = streamed.map((r) => row(r.record));
    expect(rows.map((r) => r.primaryKey)).toEqual([order('u2', 'a'), order('u2', 'a'), order('u2', 'a')]);
    expect(rows[0]!.cells).toEqual([{ op: 'put', name: 'price', value: 10, timestamp: now }]);
    expect(rows[1]!.cells).toEqual([
      { op: 'put', name: 'price', value: 11, timestamp: now - 5 },
      { op: 'deleteAllVersions', name: 'note' },
    ]);
    expect(rows[2]!.deleteMarker).toBe(true);
    expect(rows.map((r) => r.sequence)).toEqual([0, 1, 2].map((rowIndex) => ({ epoch: 0, timestamp: BigInt(now) * 1000n, rowIndex })));
  });

  it('logs tables with a stream spec from their creation, and drops tunnels with their table', async () => {
    rightOf(
      await engine.createTable({
        ...definition('Streamed', [pkColumn('id', 'INTEGER')]),
        stream: { enabled: true, expirationTimeHours: 24 },
      }),
    );
    const stream = attached.changeLog.streamOf('Streamed')!;
    expect(stream).toMatchObject({ streamId: engine.table('Streamed')!.stream!.streamId, retentionMs: 24 * 3600 * 1000, partitions: 2 });
    rightOf(await engine.write(put('Streamed', [{ name: 'id', value: 7n }], [{ op: 'put', name: 'v', value: 'x' }])));
    const { tunnelId } = await call(
      '/tunnel/create',
      'CreateTunnelRequest',
      { tunnel: { tableName: 'Streamed', tunnelName: 't', tunnelType: 'Stream', streamTunnelConfig: { flag: 'EARLIEST' } } },
      'CreateTunnelResponse',
    );
    const { clientId } = await call('/tunnel/connect', 'ConnectRequest', { tunnelId }, 'ConnectResponse');
    const leases = await call('/tunnel/heartbeat', 'HeartbeatRequest', { tunnelId, clientId, channels: [] }, 'HeartbeatResponse');
    const records = (await Promise.all(leases.channels.map((c) => readAll(tunnelId, clientId, c.channelId)))).flatMap((r) => r.records);
    expect(records.map((r) => row(r.record).primaryKey)).toEqual([[{ name: 'id', value: 7n }]]);

    rightOf(await engine.deleteTable('Streamed'));
    expect(attached.changeLog.streamOf('Streamed')).toBeUndefined();
    const listed = await call('/tunnel/list', 'ListTunnelRequest', {}, 'ListTunnelResponse');
    expect(listed.tunnels.map((t) => t.tableName)).toEqual([]);
  });

  it('answers injected unavailability with 503 OTSTunnelServerUnavailable and garbage with OTSParameterInvalid', async () => {
    attached.faults.setPlan({ unavailableRate: 1, dropRate: 0, seed: 3 });
    const refused = await handler({ path: '/tunnel/list', body: tunnelMessages.ListTunnelRequest.encode({}) });
    expect(refused).toEqual(E.left({ code: 'OTSTunnelServerUnavailable', message: expect.any(String), status: 503 }));
    attached.faults.setPlan({ unavailableRate: 0, dropRate: 0, seed: 3 });
    const garbage = await handler({ path: '/tunnel/connect', body: Uint8Array.of(0xff, 0xff, 0xff) });
    expect(garbage).toMatchObject({ left: { code: 'OTSParameterInvalid', status: 400 } });
    const missing = await handler({ path: '/tunnel/connect', body: tunnelMessages.ConnectRequest.encode({ tunnelId: 'nope' }) });
    expect(missing).toMatchObject({ left: { code: 'OTSParameterInvalid', status: 400 } });
    const unknownPath = await handler({ path: '/tunnel/schedule', body: new Uint8Array(0) });
    expect(unknownPath).toMatchObject({ left: { code: 'OTSParameterInvalid' } });
  });
});
