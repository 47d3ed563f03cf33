/**
 * Fuzz: protobuf bodies and headers sent to every emulator endpoint — all table API paths and all
 * tunnel paths, enumerated from the route registrations (TABLE_APIS, TUNNEL_APIS) and checked
 * against the router — as random bytes, protobuf-shaped bytes and mutated valid requests, signed
 * so that they pass authentication and reach the decoders; then random and mutated headers, odd
 * paths, and byte-level HTTP that node:http would refuse to send.
 *
 * Every answer must be an HTTP response carrying the service's headers and either success (a body
 * the response codec reads) or a protobuf Error body with an OTS code and a 4xx status — never a
 * hang, a dropped socket or a 5xx. Afterwards the emulator still serves the SDK and the tunnel
 * service, reported no internal error, and the process saw no unhandled rejection or exception.
 */
import fc from 'fast-check';
import * as E from 'fp-ts/lib/Either.js';
import { Agent } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningEmulator, startEmulator } from '../../lib/emulator/index.js';
import { TABLE_APIS, tableMessages } from '../../lib/wire/table-messages.js';
import { TUNNEL_APIS, tunnelMessages } from '../../lib/wire/tunnel-messages.js';
import { tempDir } from '../emulator/helpers.js';
import { TableStore, condition, long, ok, sdkClient, type Sdk } from '../emulator/sdk.js';
import { mustCall } from '../emulator/tunnel/raw-client.js';
import { TRICKY_NAMES, applyEdits, byteEdit, fuzzParameters, fuzzTimeout, protobufMessage } from './fuzz-support.js';
import { type HttpAnswer, type Target, expectServiceAnswer, post, rawExchange, requestBytes } from './http-support.js';

let dir: ReturnType<typeof tempDir>;
let emulator: RunningEmulator;
let target: Target;
let client: Sdk;
const internalErrors: unknown[] = [];
const processFailures: unknown[] = [];
const onProcessFailure = (error: unknown) => processFailures.push(error);
/** one kept-alive socket for the whole run: every answer must leave it usable or close it cleanly */
const agent = new Agent({ keepAlive: true, maxSockets: 1 });
const MAX_BODY = 256 * 1024;

interface Endpoint {
  readonly path: string;
  /** a valid request body */
  readonly seed: Uint8Array;
  /** reads a 200 body; undefined: the path has no response message */
  readonly decodeResponse?: (body: Uint8Array) => E.Either<Error, unknown>;
}
let endpoints: Endpoint[] = [];

const sdkBody = (operation: string, params: Record<string, unknown>): Uint8Array => {
  const message = TableStore.encoder.encode(operation, params);
  return Uint8Array.from(Object.getPrototypeOf(message).constructor.encode(message).finish());
};
const pk = (id: string, n: number) => [{ id }, { n: long(n) }];

beforeAll(async () => {
  process.on('unhandledRejection', onProcessFailure);
  process.on('uncaughtException', onProcessFailure);
  dir = tempDir('fuzz-emulator');
  emulator = await startEmulator({ dataDir: dir.path, port: 0, maxBodyBytes: MAX_BODY, partitions: 2, onInternalError: (error) => internalErrors.push(error) });
  target = { host: emulator.host, port: emulator.port, instanceName: emulator.instanceName, ...emulator.credentials };
  client = sdkClient(emulator);
  await ok(client, 'createTable', {
    tableMeta: { tableName: 'f', primaryKey: [{ name: 'id', type: 'STRING' }, { name: 'n', type: 'INTEGER' }] },
    reservedThroughput: { capacityUnit: { read: 0, write: 0 } },
    tableOptions: { timeToLive: -1, maxVersions: 3 },
  });
  const raw = { ...target };
  const { tunnelId } = await mustCall(raw, 'CreateTunnel', { tunnel: { tableName: 'f', tunnelName: 'fz', tunnelType: 'Stream' } });
  for (let i = 0; i < 6; i++) await ok(client, 'putRow', { tableName: 'f', condition: condition('IGNORE'), primaryKey: pk(`r${i}`, i), attributeColumns: [{ c: `v${i}` }] });
  const { clientId } = await mustCall(raw, 'ConnectTunnel', { tunnelId, clientConfig: { timeout: 60n, clientTag: 'fuzz' } });
  let channels = (await mustCall(raw, 'Heartbeat', { tunnelId, clientId, channels: [] })).channels;
  channels = (await mustCall(raw, 'Heartbeat', { tunnelId, clientId, channels })).channels;
  const channel = channels[0] ?? { channelId: 'none', version: 0n, status: 'OPEN' as const };
  const ids = { tunnelId, clientId, channelId: channel.channelId };
  const checkpoint = await mustCall(raw, 'GetCheckpoint', ids);

  const tableSeeds: Record<keyof typeof TABLE_APIS, Uint8Array> = {
    CreateTable: sdkBody('createTable', {
      tableMeta: { tableName: 'created', primaryKey: [{ name: 'k', type: 'INTEGER', option: 'AUTO_INCREMENT' }, { name: 'j', type: 'BINARY' }] },
      reservedThroughput: { capacityUnit: { read: 0, write: 0 } },
      tableOptions: { timeToLive: 86400, maxVersions: 2 },
      streamSpecification: { enableStream: true, expirationTime: 24 },
    }),
    ListTable: sdkBody('listTable', {}),
    DescribeTable: sdkBody('describeTable', { tableName: 'f' }),
    UpdateTable: sdkBody('updateTable', { tableName: 'f', tableOptions: { maxVersions: 3 } }),
    DeleteTable: sdkBody('deleteTable', { tableName: 'doomed' }),
    GetRow: sdkBody('getRow', {
      tableName: 'f',
      primaryKey: pk('r1', 1),
      maxVersions: 2,
      columnsToGet: ['c'],
      columnFilter: new TableStore.SingleColumnCondition('c', 'v1', TableStore.ComparatorType.EQUAL, true, false),
    }),
    PutRow: sdkBody('putRow', {
      tableName: 'f',
      condition: new TableStore.Condition(TableStore.RowExistenceExpectation.IGNORE, new TableStore.SingleColumnCondition('c', 'x', TableStore.ComparatorType.NOT_EQUAL)),
      primaryKey: pk('p', 7),
      attributeColumns: [{ c: 'value' }, { d: long(3) }, { e: 1.5 }, { f: true }, { g: Buffer.from('bin') }],
      returnContent: { returnType: TableStore.ReturnType.Primarykey },
    }),
    UpdateRow: sdkBody('updateRow', {
      tableName: 'f',
      condition: condition('IGNORE'),
      primaryKey: pk('r2', 2),
      updateOfAttributeColumns: [{ PUT: [{ c: 'y' }] }, { INCREMENT: [{ k: long(1) }] }, { DELETE_ALL: ['z'] }],
    }),
    DeleteRow: sdkBody('deleteRow', { tableName: 'f', condition: condition('IGNORE'), primaryKey: pk('r3', 3) }),
    GetRange: sdkBody('getRange', {
      tableName: 'f',
      direction: TableStore.Direction.FORWARD,
      inclusiveStartPrimaryKey: [{ id: TableStore.INF_MIN }, { n: TableStore.INF_MIN }],
      exclusiveEndPrimaryKey: [{ id: TableStore.INF_MAX }, { n: TableStore.INF_MAX }],
      limit: 3,
      maxVersions: 1,
    }),
    BatchGetRow: sdkBody('batchGetRow', { tables: [{ tableName: 'f', primaryKey: [pk('r1', 1), pk('r4', 4)], maxVersions: 1 }, { tableName: 'missing', primaryKey: [pk('a', 1)], maxVersions: 1 }] }),
    BatchWriteRow: sdkBody('batchWriteRow', {
      tables: [
        {
          tableName: 'f',
          rows: [
            { type: 'PUT', condition: condition('IGNORE'), primaryKey: pk('b', 1), attributeColumns: [{ c: 'v' }] },
            { type: 'UPDATE', condition: condition('IGNORE'), primaryKey: pk('b', 2), attributeColumns: [{ PUT: [{ c: 'w' }] }] },
            { type: 'DELETE', condition: condition('IGNORE'), primaryKey: pk('b', 3) },
          ],
        },
      ],
    }),
  };
  const m = tunnelMessages;
  const tunnelSeeds: Record<keyof typeof TUNNEL_APIS, Uint8Array> = {
    CreateTunnel: m.CreateTunnelRequest.encode({ tunnel: { tableName: 'f', tunnelName: 'made', tunnelType: 'BaseAndStream', streamTunnelConfig: { flag: 'EARLIEST' } } }),
    DeleteTunnel: m.DeleteTunnelRequest.encode({ tableName: 'f', tunnelName: 'made' }),
    ListTunnel: m.ListTunnelRequest.encode({ tableName: 'f' }),
    DescribeTunnel: m.DescribeTunnelRequest.encode({ tableName: 'f', tunnelName: 'fz' }),
    ConnectTunnel: m.ConnectRequest.encode({ tunnelId, clientConfig: { timeout: 30n, clientTag: 'fuzzed' } }),
    Heartbeat: m.HeartbeatRequest.encode({ tunnelId, clientId, channels }),
    ShutdownTunnel: m.ShutdownRequest.encode({ tunnelId, clientId: 'not-this-client' }),
    GetCheckpoint: m.GetCheckpointRequest.encode(ids),
    ReadRecords: m.ReadRecordsRequest.encode({ ...ids, token: checkpoint.checkpoint }),
    Checkpoint: m.CheckpointRequest.encode({ ...ids, checkpoint: checkpoint.checkpoint, sequenceNumber: checkpoint.sequenceNumber + 1n }),
    GetRpo: m.GetRpoRequest.encode({ tunnelId }),
    GetRpoByOffset: m.GetRpoRequest.encode({ tunnelId, limit: 5 }),
    Schedule: m.ScheduleRequest.encode({ tunnelId, channels }),
  };
  endpoints = [
    ...Object.entries(TABLE_APIS).map(([name, api]) => ({
      path: api.path,
      seed: tableSeeds[name as keyof typeof TABLE_APIS],
      decodeResponse: (body: Uint8Array) => tableMessages[api.response].decode(body),
    })),
    ...Object.entries(TUNNEL_APIS).map(([name, api]) => ({
      path: api.path,
      seed: tunnelSeeds[name as keyof typeof TUNNEL_APIS],
      decodeResponse: (body: Uint8Array) => (tunnelMessages[api.response] as { decode(b: Uint8Array): E.Either<Error, unknown> }).decode(body),
    })),
  ];
});

afterAll(async () => {
  agent.destroy();
  await emulator?.close();
  dir?.remove();
  process.off('unhandledRejection', onProcessFailure);
  process.off('uncaughtException', onProcessFailure);
});

/** A fuzz answer: well formed, and a success body the path's response codec reads. */
function checkAnswer(answer: HttpAnswer, endpoint: Endpoint | undefined, what: string): void {
  const error = expectServiceAnswer(answer, what);
  if (error === undefined && endpoint?.decodeResponse !== undefined) {
    const decoded = endpoint.decodeResponse(answer.body);
    if (E.isLeft(decoded)) throw new Error(`${what}: 200 with a body its response codec refuses: ${decoded.left.message}`);
  }
}

const endpointArb = () => fc.constantFrom(...endpoints);

describe('fuzz: every emulator endpoint answers hostile input with the service error', () => {
  it('covers every registered route with a valid seed request', async () => {
    const registered = (emulator.router as unknown as { exact?: Map<string, unknown> }).exact;
    const paths = new Set(endpoints.map((e) => e.path));
    if (registered !== undefined) for (const path of registered.keys()) expect(paths, `registered route ${path} is fuzzed`).toContain(path);
    for (const path of paths) expect(emulator.router.resolve(path), path).toBeDefined();
    expect(endpoints.length).toBe(Object.keys(TABLE_APIS).length + Object.keys(TUNNEL_APIS).length);
    // the seeds are good requests: most succeed, the rest fail for a stated reason, none is unparseable
    let succeeded = 0;
    for (const endpoint of endpoints) {
      const answer = await post(target, endpoint.path, endpoint.seed, { agent });
      checkAnswer(answer, endpoint, `seed ${endpoint.path}`);
      if (answer.status === 200) succeeded++;
      else expect(answer.body.toString('latin1')).not.toMatch(/Failed to parse|cannot decode/);
    }
    expect(succeeded).toBeGreaterThanOrEqual(endpoints.length - 5);
  });

  const BODIES = 700;
  it(
    'signed bodies: random bytes, protobuf-shaped bytes and mutated valid requests, to every path',
    async () => {
      const body = fc.oneof(
        { weight: 3, arbitrary: fc.tuple(endpointArb(), fc.array(byteEdit, { minLength: 1, maxLength: 4 })).map(([endpoint, edits]) => [endpoint, applyEdits(endpoint.seed, edits)] as const) },
        { weight: 2, arbitrary: fc.tuple(endpointArb(), protobufMessage) },
        { weight: 1, arbitrary: fc.tuple(endpointArb(), fc.uint8Array({ maxLength: 200 })) },
        // another endpoint's request: valid protobuf of the wrong message
        { weight: 1, arbitrary: fc.tuple(endpointArb(), endpointArb()).map(([endpoint, other]) => [endpoint, other.seed] as const) },
      );
      await fc.assert(
        fc.asyncProperty(body, async ([endpoint, bytes]) => {
          const answer = await post(target, endpoint.path, bytes, { agent, timeoutMs: 5_000 });
          checkAnswer(answer, endpoint, `${endpoint.path} ${Buffer.from(bytes).toString('hex').slice(0, 120)}`);
        }),
        fuzzParameters(BODIES, { caseTimeoutMs: 6_000 }),
      );
      expect(internalErrors).toEqual([]);
    },
    fuzzTimeout(BODIES, 40_000),
  );

  const HEADERS = 300;
  it(
    'random and mutated headers, signed and unsigned: dates, versions, ids, duplicates, extra x-ots headers',
    async () => {
      const headerValue = fc.oneof(
        fc.string({ maxLength: 24 }).filter((s) => /^[\t\x20-\x7e]*$/.test(s)),
        fc.constantFrom('', ' ', '2015-12-31', '2018-04-01', '9999-12-31T23:59:59.999Z', '1970-01-01T00:00:00Z', '2024-02-30T00:00:00Z', 'yesterday', '0', '-1', 'null', 'OTS a:b', 'protocol buffer', '\t'),
      );
      const headerName = fc.constantFrom(
        'x-ots-date',
        'x-ots-apiversion',
        'x-ots-accesskeyid',
        'x-ots-instancename',
        'x-ots-contentmd5',
        'x-ots-signature',
        'x-ots-ststoken',
        'x-ots-trace-id',
        'x-ots-sdk-traceid',
        'x-ots-tunnel-type',
        'content-type',
        'authorization',
        'user-agent',
        'x-ots-' + 'a'.repeat(200),
      );
      const change = fc.oneof(
        // after signing: the signature no longer holds, or a required header is gone
        fc.record({ kind: fc.constant('override' as const), name: headerName, value: fc.oneof(headerValue, fc.array(headerValue, { minLength: 2, maxLength: 3 })) }),
        fc.record({ kind: fc.constant('drop' as const), name: headerName }),
        // before signing: a signed request that reaches the routes with strange x-ots headers
        fc.record({ kind: fc.constant('signed' as const), name: fc.oneof(headerName.filter((n) => n.startsWith('x-ots-') && n !== 'x-ots-signature'), fc.constantFrom(...TRICKY_NAMES.filter((n) => /^[a-z_]+$/.test(n))).map((n) => `x-ots-${n.replace(/_/g, '-')}`)), value: headerValue }),
        fc.record({ kind: fc.constant('date' as const), offsetMs: fc.integer({ min: -40 * 60_000, max: 40 * 60_000 }) }),
      );
      await fc.assert(
        fc.asyncProperty(endpointArb(), fc.array(change, { minLength: 1, maxLength: 3 }), async (endpoint, changes) => {
          const override: Record<string, string | string[] | undefined> = {};
          const signedExtra: Record<string, string> = {};
          let date: Date | undefined;
          for (const c of changes) {
            if (c.kind === 'override') override[c.name] = typeof c.value === 'string' ? c.value : [...c.value];
            else if (c.kind === 'drop') override[c.name] = undefined;
            else if (c.kind === 'signed') signedExtra[c.name] = c.value;
            else date = new Date(Date.now() + c.offsetMs);
          }
          const answer = await post(target, endpoint.path, endpoint.seed, { agent, override, signedExtra, ...(date === undefined ? {} : { date }), timeoutMs: 5_000 });
          checkAnswer(answer, endpoint, `${endpoint.path} with ${JSON.stringify(changes)}`);
        }),
        fuzzParameters(HEADERS, { caseTimeoutMs: 6_000 }),
      );
      expect(internalErrors).toEqual([]);
    },
    fuzzTimeout(HEADERS, 30_000),
  );

  const PATHS = 150;
  it(
    'odd paths, query strings and methods, signed for the path they name',
    async () => {
      const path = fc.oneof(
        fc.constantFrom('/', '//PutRow', '/PutRow/', '/putrow', '/tunnel', '/tunnel/', '/tunnel/../PutRow', '/tunnel/CONNECT', '/%00', '/PutRow%20', '/__proto__', '/constructor', '/tunnel/__proto__', '/tunnel/constructor', `/${'A'.repeat(4000)}`),
        fc.string({ maxLength: 12 }).map((s) => `/${encodeURIComponent(s)}`),
        fc.string({ maxLength: 12 }).map((s) => `/tunnel/${encodeURIComponent(s)}`),
      );
      const method = fc.constantFrom('POST', 'POST', 'POST', 'GET', 'PUT', 'DELETE', 'OPTIONS', 'PATCH');
      await fc.assert(
        fc.asyncProperty(path, method, fc.option(fc.constantFrom('?x=1', '?', '?a=%00&b', '#frag')), endpointArb(), async (signedPath, verb, query, endpoint) => {
          const answer = await post(target, signedPath, endpoint.seed, { agent, method: verb, requestPath: signedPath + (query ?? ''), timeoutMs: 5_000 });
          checkAnswer(answer, undefined, `${verb} ${signedPath}${query ?? ''}`);
          if (verb !== 'POST') expect(answer.status).toBe(405);
        }),
        fuzzParameters(PATHS, { caseTimeoutMs: 6_000 }),
      );
      expect(internalErrors).toEqual([]);
    },
    fuzzTimeout(PATHS, 30_000),
  );

  const RAW = 150;
  it(
    'byte-level HTTP: broken request lines, bad header names, lying or conflicting lengths, huge headers, pipelining',
    async () => {
      const requestLine = fc.constantFrom('POST /ListTable HTTP/1.1', 'POST /ListTable HTTP/1.0', 'POST /ListTable HTTP/2.0', 'POST /ListTable', 'POST  /ListTable HTTP/1.1', 'BREW /ListTable HTTP/1.1', 'POST http://evil/ListTable HTTP/1.1', 'POST * HTTP/1.1', '', 'POST /tunnel/list HTTP/1.1');
      const header = fc.oneof(
        fc.constantFrom<[string, string]>(['content-length', '-1'], ['content-length', '1e3'], ['content-length', '99999999999999999999'], ['content-length', '0, 5'], ['transfer-encoding', 'chunked'], ['transfer-encoding', 'gzip'], ['transfer-encoding', 'chunked, identity'], ['bad header', 'x'], ['x-ots-date', 'a\u0000b'], ['x-ots-signature', '\u00ff\u00fe'], ['expect', '100-continue'], ['connection', 'upgrade'], ['upgrade', 'websocket'], ['content-type', 'application/json']),
        fc.tuple(fc.string({ minLength: 1, maxLength: 10 }), fc.string({ maxLength: 20 })),
        fc.integer({ min: 8_000, max: 40_000 }).map((size): [string, string] => ['x-ots-padding', 'p'.repeat(size)]),
      );
      await fc.assert(
        fc.asyncProperty(requestLine, fc.array(header, { maxLength: 4 }), fc.uint8Array({ maxLength: 64 }), fc.boolean(), async (line, headers, body, pipelined) => {
          const first = requestBytes(line, [['host', 'x'], ['content-length', String(body.length)], ...headers], body);
          const bytes = pipelined ? Buffer.concat([first, requestBytes('POST /ListTable HTTP/1.1', [['host', 'x'], ['content-length', '0']], new Uint8Array(0))]) : first;
          const exchange = await rawExchange(target.host, target.port, bytes, 5_000);
          // whatever the HTTP parser makes of it, the answer is a response, never a silent close
          expect(exchange.status, `no answer to ${JSON.stringify(bytes.toString('latin1').slice(0, 200))}`).toBeDefined();
          const answerHeaders = Object.fromEntries(
            exchange.head
              .split('\r\n')
              .slice(1)
              .map((l) => [l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 1).trim()]),
          );
          checkAnswer({ status: exchange.status as number, headers: answerHeaders, body: exchange.body }, undefined, JSON.stringify(bytes.toString('latin1').slice(0, 200)));
        }),
        fuzzParameters(RAW, { caseTimeoutMs: 6_000 }),
      );
      expect(internalErrors).toEqual([]);
    },
    fuzzTimeout(RAW, 30_000),
  );

  it('still serves the SDK and the tunnel service afterwards, with no internal error and nothing unhandled', async () => {
    // the fuzzed requests may have dropped table f (a DescribeTable body sent to /DeleteTable is a valid DeleteTable)
    await ok(client, 'createTable', {
      tableMeta: { tableName: 'after', primaryKey: [{ name: 'id', type: 'STRING' }, { name: 'n', type: 'INTEGER' }] },
      reservedThroughput: { capacityUnit: { read: 0, write: 0 } },
      tableOptions: { timeToLive: -1, maxVersions: 1 },
    });
    await ok(client, 'putRow', { tableName: 'after', condition: condition('IGNORE'), primaryKey: pk('after', 1), attributeColumns: [{ c: 'fine' }] });
    const row = await ok(client, 'getRow', { tableName: 'after', primaryKey: pk('after', 1), maxVersions: 1 });
    expect(row.row.attributes[0].columnValue).toBe('fine');
    await mustCall({ ...target }, 'CreateTunnel', { tunnel: { tableName: 'after', tunnelName: 'still', tunnelType: 'Stream' } });
    const listed = await mustCall({ ...target }, 'ListTunnel', { tableName: 'after' });
    expect(listed.tunnels.map((t) => t.tunnelName)).toEqual(['still']);
    const answer = await post(target, '/ListTable', tableMessages.ListTableRequest.encode({}), { agent });
    expect(answer.status).toBe(200);
    expect(internalErrors).toEqual([]);
    expect(processFailures).toEqual([]);
  });
});
