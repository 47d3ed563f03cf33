/**
 * Garbage, truncated and corrupted bodies, bad signatures, oversized uploads and broken HTTP:
 * each gets the service's error code in a protobuf Error body, and the server keeps serving.
 */
import fc from 'fast-check';
import { request as httpRequest } from 'node:http';
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningEmulator, startEmulator } from '../../lib/emulator/index.js';
import { decodeErrorBody } from '../../lib/wire/errors.js';
import { buildRequestHeaders, verifyResponse } from '../../lib/wire/signing.js';
import { tempDir } from './helpers.js';
import { type Sdk, TableStore, condition, long, ok, sdkClient } from './sdk.js';

let dir: ReturnType<typeof tempDir>;
let emulator: RunningEmulator;
let client: Sdk;
const internalErrors: unknown[] = [];
const MAX_BODY = 64 * 1024;

beforeAll(async () => {
  dir = tempDir('hostile');
  emulator = await startEmulator({ dataDir: dir.path, port: 0, maxBodyBytes: MAX_BODY, onInternalError: (error) => internalErrors.push(error) });
  client = sdkClient(emulator);
  await ok(client, 'createTable', {
    tableMeta: { tableName: 'h', primaryKey: [{ name: 'id', type: 'STRING' }, { name: 'n', type: 'INTEGER' }] },
    reservedThroughput: { capacityUnit: { read: 0, write: 0 } },
    tableOptions: { timeToLive: -1, maxVersions: 2 },
  });
});

afterAll(async () => {
  await emulator.close();
  dir.remove();
});

interface RawResponse {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: Buffer;
}

/** Encodes a request body exactly as the SDK's client does. */
const sdkBody = (operation: string, params: Record<string, unknown>): Buffer => {
  const message = TableStore.encoder.encode(operation, params);
  return Buffer.from(Object.getPrototypeOf(message).constructor.encode(message).finish());
};

const post = (
  path: string,
  body: Uint8Array,
  options: { secret?: string; accessKeyId?: string; instanceName?: string; headers?: Record<string, string>; method?: string; chunked?: boolean } = {},
): Promise<RawResponse> =>
  new Promise((resolve, reject) => {
    const signed = buildRequestHeaders({
      path,
      body,
      instanceName: options.instanceName ?? emulator.instanceName,
      accessKeyId: options.accessKeyId ?? emulator.credentials.accessKeyId,
      accessKeySecret: options.secret ?? emulator.credentials.accessKeySecret,
    });
    const headers: Record<string, string> = { ...signed, ...options.headers };
    if (options.chunked) headers['transfer-encoding'] = 'chunked';
    else headers['content-length'] = String(body.length);
    const req = httpRequest({ host: emulator.host, port: emulator.port, method: options.method ?? 'POST', path, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
    if (options.chunked) {
      // several writes: the body streams in without a declared length
      for (let at = 0; at < body.length; at += 16 * 1024) req.write(Buffer.from(body.subarray(at, at + 16 * 1024)));
      req.end();
    } else req.end(Buffer.from(body));
  });

const errorOf = (response: RawResponse) => {
  const decoded = decodeErrorBody(response.body);
  if (decoded._tag === 'Left') throw new Error(`not an Error body: ${response.body.toString('hex')}`);
  return { status: response.status, code: decoded.right.code, message: decoded.right.message ?? '' };
};

const goodPut = (id: string) =>
  sdkBody('putRow', { tableName: 'h', condition: condition('IGNORE'), primaryKey: [{ id }, { n: long(1) }], attributeColumns: [{ c: 'value' }] });

describe('hostile input', () => {
  it('answers garbage and truncated protobuf with OTSParameterInvalid naming the problem', async () => {
    const garbage = errorOf(await post('/PutRow', Buffer.from('this is not protobuf')));
    expect(garbage.status).toBe(400);
    expect(garbage.code).toBe('OTSParameterInvalid');
    expect(garbage.message).toMatch(/^Failed to parse the ProtoBuf message: cannot decode PutRowRequest/);

    const body = goodPut('t');
    const truncated = errorOf(await post('/PutRow', body.subarray(0, body.length - 7)));
    expect(truncated).toMatchObject({ status: 400, code: 'OTSParameterInvalid' });
    expect(truncated.message).toContain('PutRowRequest');

    const missingFields = errorOf(await post('/GetRow', Buffer.alloc(0)));
    expect(missingFields.message).toMatch(/tableName/);
  });

  it('answers corrupt PlainBuffer with OTSParameterInvalid naming the field and the byte', async () => {
    const row = TableStore.PlainBufferBuilder.serializeForPutRow([{ id: 'a' }, { n: long(1) }], [{ c: 'x' }]) as Buffer;
    const corrupt = Buffer.from(row);
    corrupt.writeUInt8(corrupt.readUInt8(corrupt.length - 1) ^ 0xff, corrupt.length - 1); // row checksum
    const message = TableStore.encoder.encode('putRow', { tableName: 'h', condition: condition('IGNORE'), primaryKey: [{ id: 'a' }, { n: long(1) }], attributeColumns: [{ c: 'x' }] });
    message.row = corrupt;
    const body = Buffer.from(Object.getPrototypeOf(message).constructor.encode(message).finish());
    const error = errorOf(await post('/PutRow', body));
    expect(error).toMatchObject({ status: 400, code: 'OTSParameterInvalid' });
    expect(error.message).toMatch(/^Invalid PlainBuffer in row: PlainBuffer ROW_CRC at byte \d+/);
  });

  it('refuses bad credentials with OTSAuthFailed and missing headers with OTSParameterInvalid', async () => {
    const body = goodPut('auth');
    expect(errorOf(await post('/PutRow', body, { secret: 'wrong secret' }))).toEqual({ status: 403, code: 'OTSAuthFailed', message: 'Signature mismatch.' });
    expect(errorOf(await post('/PutRow', body, { accessKeyId: 'stranger' }))).toEqual({ status: 403, code: 'OTSAuthFailed', message: 'The AccessKeyID does not exist.' });
    expect(errorOf(await post('/PutRow', body, { instanceName: 'other' }))).toEqual({ status: 403, code: 'OTSAuthFailed', message: 'The instance is not found.' });
    expect(errorOf(await post('/PutRow', body, { headers: { 'x-ots-contentmd5': '1B2M2Y8AsgTpgAmY7PhCfg==' } })).message).toBe(
      'Mismatch between MD5 value of request body and x-ots-contentmd5 in header.',
    );
    const unsigned = await new Promise<RawResponse>((resolve, reject) => {
      const req = httpRequest({ host: emulator.host, port: emulator.port, method: 'POST', path: '/ListTable', headers: { 'content-length': '0' } }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      });
      req.on('error', reject);
      req.end();
    });
    expect(errorOf(unsigned)).toMatchObject({ status: 400, code: 'OTSParameterInvalid' });
    expect(errorOf(unsigned).message).toMatch(/^Missing headers: 'x-ots-accesskeyid'/);
    // the SDK with a wrong secret sees the same
    const wrong = sdkClient(emulator, { secretAccessKey: 'nope' });
    const failure = await new Promise<Sdk>((resolve) => wrong.listTable({}, (error: Sdk) => resolve(error)));
    expect(failure.code).toBe(403);
  });

  it('refuses oversized bodies with OTSRequestBodyTooLarge, declared or streamed', async () => {
    const big = Buffer.alloc(MAX_BODY + 1, 7);
    const declared = await post('/PutRow', big);
    expect(errorOf(declared)).toMatchObject({ status: 413, code: 'OTSRequestBodyTooLarge' });
    expect(errorOf(declared).message).toContain(`${MAX_BODY} bytes`);
    const streamed = await post('/PutRow', Buffer.alloc(MAX_BODY * 3, 1), { chunked: true });
    expect(errorOf(streamed)).toMatchObject({ status: 413, code: 'OTSRequestBodyTooLarge' });
  });

  it('answers other methods with 405, unknown operations with 400, and keeps response headers on errors', async () => {
    const get = await post('/ListTable', Buffer.alloc(0), { method: 'GET' });
    expect(errorOf(get)).toEqual({ status: 405, code: 'OTSMethodNotAllowed', message: 'Only POST method for requests is supported.' });
    const unknown = await post('/DropEverything', Buffer.alloc(0));
    expect(errorOf(unknown)).toEqual({ status: 400, code: 'OTSParameterInvalid', message: "Unsupported operation: 'DropEverything'." });
    expect(unknown.headers['x-ots-requestid']).toMatch(/^[0-9a-f-]{36}$/);
    expect(unknown.headers['x-ots-contentmd5']).toBeDefined();
    expect(unknown.headers['x-ots-date']).toBeDefined();
    expect(unknown.headers['authorization']).toMatch(/^OTS otsflow:/);
  });

  it('survives broken HTTP and clients that hang up mid-body', async () => {
    await new Promise<void>((resolve) => {
      const socket = connect(emulator.port, emulator.host, () => socket.end('THIS IS NOT HTTP\r\n\r\n'));
      socket.on('data', () => undefined);
      socket.on('close', () => resolve());
      socket.on('error', () => resolve());
    });
    await new Promise<void>((resolve) => {
      const socket = connect(emulator.port, emulator.host, () => {
        socket.write(`POST /PutRow HTTP/1.1\r\nhost: x\r\ncontent-length: 1000\r\n\r\nhalf a body`);
        setTimeout(() => socket.destroy(), 20);
      });
      socket.on('close', () => resolve());
      socket.on('error', () => resolve());
    });
  });

  it('never fails internally on random bodies or on mutations of real SDK requests', async () => {
    const paths = ['/CreateTable', '/ListTable', '/DescribeTable', '/UpdateTable', '/DeleteTable', '/PutRow', '/GetRow', '/UpdateRow', '/DeleteRow', '/GetRange', '/BatchGetRow', '/BatchWriteRow'];
    const seeds: [string, Buffer][] = [
      ['/PutRow', goodPut('seed')],
      ['/GetRow', sdkBody('getRow', { tableName: 'h', primaryKey: [{ id: 'seed' }, { n: long(1) }], maxVersions: 1, columnsToGet: ['c'] })],
      [
        '/UpdateRow',
        sdkBody('updateRow', {
          tableName: 'h',
          condition: new TableStore.Condition(TableStore.RowExistenceExpectation.IGNORE, new TableStore.SingleColumnCondition('c', 'x', TableStore.ComparatorType.EQUAL)),
          primaryKey: [{ id: 'seed' }, { n: long(1) }],
          updateOfAttributeColumns: [{ PUT: [{ c: 'y' }] }, { INCREMENT: [{ k: long(1) }] }, { DELETE_ALL: ['z'] }],
        }),
      ],
      [
        '/GetRange',
        sdkBody('getRange', {
          tableName: 'h',
          direction: TableStore.Direction.FORWARD,
          inclusiveStartPrimaryKey: [{ id: TableStore.INF_MIN }, { n: TableStore.INF_MIN }],
          exclusiveEndPrimaryKey: [{ id: TableStore.INF_MAX }, { n: TableStore.INF_MAX }],
          limit: 5,
        }),
      ],
      [
        '/BatchWriteRow',
        sdkBody('batchWriteRow', {
          tables: [{ tableName: 'h', rows: [{ type: 'PUT', condition: condition('IGNORE'), primaryKey: [{ id: 'b' }, { n: long(2) }], attributeColumns: [{ c: 'v' }] }] }],
        }),
      ],
    ];
    const mutated = fc
      .tuple(fc.constantFrom(...seeds), fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }), fc.nat())
      .map(([[path, body], flips, cut]) => {
        const copy = Buffer.from(body);
        for (const [at, value] of flips) copy[at % copy.length] = value;
        return [path, cut % 3 === 0 ? copy.subarray(0, cut % (copy.length + 1)) : copy] as const;
      });
    const random = fc.tuple(fc.constantFrom(...paths), fc.uint8Array({ maxLength: 200 }).map((b) => Buffer.from(b)));
    await fc.assert(
      fc.asyncProperty(fc.oneof(mutated, random), async ([path, body]) => {
        const response = await post(path, body);
        if (response.status !== 200) {
          const error = errorOf(response);
          expect(error.code).toMatch(/^OTS/);
          expect(response.status).toBeLessThan(500);
        }
      }),
      { numRuns: 300 },
    );
    expect(internalErrors).toEqual([]);
  });

  it('signs successful responses the way the strictest official client checks them', async () => {
    const response = await post('/ListTable', Buffer.alloc(0));
    expect(response.status).toBe(200);
    const checked = verifyResponse({
      path: '/ListTable',
      status: response.status,
      headers: response.headers,
      body: response.body,
      accessKeyId: emulator.credentials.accessKeyId,
      accessKeySecret: emulator.credentials.accessKeySecret,
    });
    expect(checked._tag).toBe('Right');
  });

  it('still serves good requests afterwards', async () => {
    await ok(client, 'putRow', { tableName: 'h', condition: condition('IGNORE'), primaryKey: [{ id: 'after' }, { n: long(1) }], attributeColumns: [{ c: 'fine' }] });
    const row = await ok(client, 'getRow', { tableName: 'h', primaryKey: [{ id: 'after' }, { n: long(1) }], maxVersions: 1 });
    expect(row.row.attributes[0].columnValue).toBe('fine');
  });
});
