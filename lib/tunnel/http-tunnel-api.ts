/** The worker's `TunnelDataApi` over HTTP: maps its requests to the §2 messages and back. */
import { map } from 'rxjs';
import { TUNNEL_APIS, tunnelMessages } from '../wire/tunnel-messages.js';
import type { ReadRecordsResponse, TunnelRecord } from '../wire/tunnel-messages.js';
import { decodeReadRecordsPacked } from '../wire/read-records-fast.js';
import type { TunnelTransport } from './http-transport.js';
import type { RawRecord, ReadRecordsResult, TunnelDataApi } from './model.js';

function rawRecords(records: readonly TunnelRecord[]): { records: RawRecord[]; byteSize: number } {
  const raw = new Array<RawRecord>(records.length);
  let byteSize = 0;
  for (let index = 0; index < records.length; index++) {
    const record = records[index] as TunnelRecord;
    byteSize += record.record.length + (record.originRecord?.length ?? 0);
    raw[index] =
      record.originRecord === undefined
        ? { action: record.actionType, record: record.record }
        : { action: record.actionType, record: record.record, originRecord: record.originRecord };
  }
  return { records: raw, byteSize };
}

function readRecordsResult(response: ReadRecordsResponse): ReadRecordsResult {
  const { records, byteSize } = rawRecords(response.records);
  return response.mayMoreRecord === undefined
    ? { records, nextToken: response.nextToken, byteSize }
    : { records, nextToken: response.nextToken, byteSize, mayMoreRecord: response.mayMoreRecord };
}

export function httpTunnelApi(transport: TunnelTransport): TunnelDataApi {
  return {
    connect: ({ tunnelId, timeoutSeconds, clientTag }) =>
      transport
        .call(TUNNEL_APIS.ConnectTunnel, { tunnelId, clientConfig: { timeout: BigInt(timeoutSeconds), clientTag } })
        .pipe(map((response) => ({ clientId: response.clientId }))),
    heartbeat: ({ tunnelId, clientId, channels }) =>
      transport
        .call(TUNNEL_APIS.Heartbeat, {
          tunnelId,
          clientId,
          channels: channels.map(({ channelId, version, status }) => ({ channelId, version, status })),
        })
        .pipe(map((response) => response.channels.map(({ channelId, version, status }) => ({ channelId, version, status })))),
    shutdown: ({ tunnelId, clientId }) => transport.call(TUNNEL_APIS.ShutdownTunnel, { tunnelId, clientId }).pipe(map(() => undefined)),
    getCheckpoint: (request) =>
      transport
        .call(TUNNEL_APIS.GetCheckpoint, request)
        .pipe(map((response) => ({ checkpoint: response.checkpoint, sequenceNumber: response.sequenceNumber }))),
    readRecords: (request) =>
      transport.callBytes === undefined
        ? transport.call(TUNNEL_APIS.ReadRecords, request).pipe(map(readRecordsResult))
        : transport.callBytes(TUNNEL_APIS.ReadRecords, request).pipe(
            map((payload): ReadRecordsResult => {
              // one walk over the bytes that checks every record and keeps it packed (built only when
              // read; decodeRows reads the bytes); anything it declines goes the generic way
              // (messages, views, decodeRecords), which decodes it again and names what is wrong
              const fast = decodeReadRecordsPacked(payload);
              if (fast !== undefined) {
                const { changes, nextToken, byteSize } = fast;
                return fast.mayMoreRecord === undefined ? { records: [], changes, nextToken, byteSize } : { records: [], changes, nextToken, byteSize, mayMoreRecord: fast.mayMoreRecord };
              }
              const decoded = tunnelMessages.ReadRecordsResponse.decodeWithViews(payload);
              if (decoded._tag === 'Left') throw decoded.left;
              return readRecordsResult(decoded.right);
            }),
          ),
    checkpoint: (request) => transport.call(TUNNEL_APIS.Checkpoint, request).pipe(map(() => undefined)),
  };
}
