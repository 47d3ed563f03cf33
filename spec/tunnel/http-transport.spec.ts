/**
 * The HTTP transport against a scripted loopback server: signed protobuf requests, typed
 * responses, service errors, cut responses, timeouts and aborts.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { firstValueFrom } from 'rxjs';
import { createHttpTransport, TransportError } from '../../lib/tunnel/http-transport.js';
import { httpTunnelApi } from '../../lib/tunnel/http-tunnel-api.js';
import { isRetryableError } from '../../lib/tunnel/errors.js';
import { encodeErrorBody, OtsServiceError } from '../../lib/wire/errors.js';
import { verifyRequest } from '../../lib/wire/signing.js';
import { tunnelMessages } from '../../lib/wire/tunnel-messages.js';
import { encodeRow } from '../../lib/wire/plainbuffer/index.js';

type Handler = (request: IncomingMessage, body: Buffer, response: ServerResponse) => void;

describe('createHttpTransport', () => {
  let server: Server;
  let endpoint: string;
  let handler: Handler = () => undefined;
  const closedRequests: string[] = [];

  beforeAll(async () => {
    server = createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => handler(request, Buffer.concat(chunks), response));
      response.on('close', () => {
        if (!response.writableFinished) closedRequests.push(request.url ?? '');
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  const credentials = { accessKeyId: 'ak', accessKeySecret: 'secret', securityToken: 'sts-token' };
  const transport = () => createHttpTransport({ endpoint, instance: 'inst', credentials, requestTimeoutMs: 300 });

  it('POSTs the protobuf request to /tunnel/<api> with a valid V2 signature and the STS token, and decodes the response', async () => {
    let seen: { path: string; verified: boolean; sts: unknown; request: unknown } | undefined;
    handler = (request, body, response) => {
      const verified = verifyRequest({
        method: request.method ?? '',
        path: request.url ?? '',
        headers: request.headers,
        body,
        lookupSecret: (id) => (id === 'ak' ? { secret: 'secret', stsToken: 'sts-token' } : undefined),
      });
      seen = { path: request.url ?? '', verified: verified._tag === 'Right', sts: request.headers['x-ots-ststoken'], request: tunnelMessages.HeartbeatRequest.decode(body) };
      response.writeHead(200, { 'x-ots-requestid': 'r1' });
      response.end(tunnelMessages.HeartbeatResponse.encode({ channels: [{ channelId: 'c1', version: 7n, status: 'CLOSING' }] }));
    };
    const t = transport();
    const channels = await firstValueFrom(httpTunnelApi(t).heartbeat({ tunnelId: 't', clientId: 'c', channels: [{ channelId: 'c1', version: 6n, status: 'OPEN' }] }));
    t.close();
    expect(channels).toEqual([{ channelId: 'c1', version: 7n, status: 'CLOSING' }]);
    expect(seen).toEqual({
      path: '/tunnel/heartbeat',
      verified: true,
      sts: 'sts-token',
      request: { _tag: 'Right', right: { tunnelId: 't', clientId: 'c', channels: [{ channelId: 'c1', version: 6n, status: 'OPEN' }] } },
    });
  });

  it('decodes ReadRecords records straight into change records, with their byte size', async () => {
    const record = encodeRow({ primaryKey: [{ name: 'id', value: 1n }], cells: [], deleteMarker: false });
    handler = (_request, _body, response) => {
      response.writeHead(200);
      response.end(tunnelMessages.ReadRecordsResponse.encode({ records: [{ actionType: 'DELETE_ROW', record }], nextToken: 'finished', mayMoreRecord: false }));
    };
    const t = transport();
    const result = await firstValueFrom(httpTunnelApi(t).readRecords({ tunnelId: 't', clientId: 'c', channelId: 'ch', token: 'tok' }));
    t.close();
    expect(result).toEqual({ records: [], changes: [{ action: 'DELETE_ROW', primaryKey: [{ name: 'id', value: 1n }], cells: [] }], nextToken: 'finished', mayMoreRecord: false, byteSize: record.length });
  });

  it('maps ReadRecords records the one-walk decode leaves alone (an origin record) to raw records with their byte size', async () => {
    const record = encodeRow({ primaryKey: [{ name: 'id', value: 1n }], cells: [], deleteMarker: false });
    const originRecord = Uint8Array.from([0x75, 0, 0, 0]);
    handler = (_request, _body, response) => {
      response.writeHead(200);
      response.end(tunnelMessages.ReadRecordsResponse.encode({ records: [{ actionType: 'UPDATE_ROW', record, originRecord }], nextToken: 'finished' }));
    };
    const t = transport();
    const result = await firstValueFrom(httpTunnelApi(t).readRecords({ tunnelId: 't', clientId: 'c', channelId: 'ch', token: 'tok' }));
    t.close();
    expect(result).toEqual({ records: [{ action: 'UPDATE_ROW', record: Uint8Array.from(record), originRecord }], nextToken: 'finished', byteSize: record.length + originRecord.length });
  });

  it('a non-2xx response with an Error body becomes an OtsServiceError with code, status and request id', async () => {
    handler = (_request, _body, response) => {
      response.writeHead(400, { 'x-ots-requestid': 'r-400' });
      response.end(encodeErrorBody('OTSSequenceNumberNotMatch', 'expected 4'));
    };
    const t = transport();
    const error = await firstValueFrom(httpTunnelApi(t).checkpoint({ tunnelId: 't', clientId: 'c', channelId: 'ch', checkpoint: 'x', sequenceNumber: 3n })).catch((e: unknown) => e);
    t.close();
    expect(error).toBeInstanceOf(OtsServiceError);
    expect(error).toMatchObject({ code: 'OTSSequenceNumberNotMatch', message: 'expected 4', httpStatus: 400, requestId: 'r-400' });
    expect(isRetryableError(error)).toBe(false);
  });

  it('a 502 without a protobuf body is OTSTunnelServerUnavailable, retryable', async () => {
    handler = (_request, _body, response) => {
      response.writeHead(502);
      response.end('<html>bad gateway</html>');
    };
    const t = transport();
    const error = await firstValueFrom(httpTunnelApi(t).shutdown({ tunnelId: 't', clientId: 'c' })).catch((e: unknown) => e);
    t.close();
    expect(error).toMatchObject({ code: 'OTSTunnelServerUnavailable', httpStatus: 502 });
    expect(isRetryableError(error)).toBe(true);
  });

  it('a response cut in the middle is a retryable ECONNRESET TransportError', async () => {
    handler = (_request, _body, response) => {
      response.writeHead(200, { 'content-length': '100' });
      response.write(Buffer.alloc(10));
      setTimeout(() => response.socket?.destroy(), 5);
    };
    const t = transport();
    const error = await firstValueFrom(httpTunnelApi(t).getCheckpoint({ tunnelId: 't', clientId: 'c', channelId: 'ch' })).catch((e: unknown) => e);
    t.close();
    expect(error).toBeInstanceOf(TransportError);
    expect(error).toMatchObject({ code: 'ECONNRESET' });
    expect(isRetryableError(error)).toBe(true);
  });

  it('no response within the request timeout is a retryable ETIMEDOUT TransportError', async () => {
    handler = () => undefined;
    const t = transport();
    const error = await firstValueFrom(httpTunnelApi(t).connect({ tunnelId: 't', timeoutSeconds: 5, clientTag: 'x' })).catch((e: unknown) => e);
    t.close();
    expect(error).toMatchObject({ kind: 'TransportError', code: 'ETIMEDOUT' });
    expect(isRetryableError(error)).toBe(true);
  });

  it('unsubscribing aborts the request', async () => {
    let arrived = (): void => undefined;
    const arrival = new Promise<void>((resolve) => (arrived = resolve));
    handler = () => arrived();
    const t = transport();
    const subscription = httpTunnelApi(t).readRecords({ tunnelId: 't', clientId: 'c', channelId: 'ch', token: 'abort-me' }).subscribe();
    await arrival;
    subscription.unsubscribe();
    await new Promise((resolve) => setTimeout(resolve, 50));
    t.close();
    expect(closedRequests).toContain('/tunnel/readrecords');
  });
});
