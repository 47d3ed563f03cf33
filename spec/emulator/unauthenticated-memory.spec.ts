/**
 * Memory before authentication (issue 15 item 5): requests whose signature does not verify can
 * no longer make the emulator hold their bodies. Headers that decide the answer alone get the
 * body discarded unread; a failing signature gets its body buffered only within a shared byte
 * budget; every unauthenticated body must arrive within a deadline. The attack runs against
 * `otsflow emulator` in a child process with the defaults a user gets; the in-process specs
 * check each bound with small limits.
 */
import { type IncomingMessage, request as httpRequest } from 'node:http';
import { type Socket, connect } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type RunningEmulator, DEFAULT_UNAUTHENTICATED_LIMITS, startEmulator } from '../../lib/emulator/index.js';
import { decodeErrorBody } from '../../lib/wire/errors.js';
import { buildRequestHeaders } from '../../lib/wire/signing.js';
import { tempDir } from './helpers.js';
import { condition, ok, sdkClient } from './sdk.js';
import { type RunningChild, mb, runUploadAttack, startEmulatorProcess } from './upload-attack.js';

const BODY = Math.floor(4.9 * 1024 * 1024);

/** What the emulator answered to a raw request: status, Connection header, error code and message, and when. */
interface Answer {
  readonly status: number;
  readonly connection: string | undefined;
  readonly code: string;
  readonly message: string;
  readonly afterMs: number;
}

/** Reads a response whose body is an Error message into an Answer (`started`: when the request began). */
const answerOf = (started: number, resolve: (answer: Answer) => void, reject: (error: Error) => void) => (res: IncomingMessage): void => {
  const chunks: Buffer[] = [];
  res.on('data', (c: Buffer) => chunks.push(c));
  res.on('end', () => {
    const decoded = decodeErrorBody(Buffer.concat(chunks));
    if (decoded._tag === 'Left') return reject(new Error('not an Error body'));
    resolve({ status: res.statusCode ?? 0, connection: res.headers.connection ?? undefined, code: decoded.right.code, message: decoded.right.message ?? "", afterMs: Date.now() - started });
  });
};

describe('stalled unauthenticated uploads against `otsflow emulator` (defaults)', () => {
  let dir: ReturnType<typeof tempDir>;
  let target: RunningChild | undefined;

  afterEach(async () => {
    if (target !== undefined) {
      target.spawned.child.kill('SIGTERM');
      await target.spawned.exited;
      target = undefined;
    }
    dir?.remove();
  });

  for (const kind of ['unsigned', 'wrong-signature'] as const) {
    it(`keeps RSS bounded under 60 stalled ${kind} 4.9 MB uploads, keeps serving, and closes them all by the body deadline`, async () => {
      dir = tempDir('unauth-mem');
      target = await startEmulatorProcess(dir.path);
      const connections = 60;
      const result = await runUploadAttack(target, {
        kind,
        connections,
        bodyBytes: BODY,
        holdMs: 1_500,
        awaitCloseMs: DEFAULT_UNAUTHENTICATED_LIMITS.bodyTimeoutMs + 5_000,
      });
      const offered = connections * BODY;
      const growth = result.peakRss - result.baselineRss;
      console.log(`${kind}: ${connections} × ${mb(BODY)} stalled (${mb(offered)} offered): RSS ${mb(result.baselineRss)} → peak ${mb(result.peakRss)} (+${mb(growth)})`);
      // before the bounds, the server buffered every body: growth ≈ offered (≈ 294 MB here)
      expect(growth).toBeLessThan(offered / 4);
      expect(result.closedByServer).toBe(connections);

      const out = target.spawned.stdout();
      const client = sdkClient({
        endpoint: `http://${target.host}:${target.port}`,
        instanceName: target.instanceName,
        credentials: { accessKeyId: target.accessKeyId, accessKeySecret: /accessKeySecret:\s+(\S+)/.exec(out)![1]! },
      });
      await ok(client, 'createTable', {
        tableMeta: { tableName: 'after_attack', primaryKey: [{ name: 'id', type: 'STRING' }] },
        reservedThroughput: { capacityUnit: { read: 0, write: 0 } },
        tableOptions: { timeToLive: -1, maxVersions: 1 },
      });
      // a signed body of nearly the same size is still taken whole
      await ok(client, 'putRow', { tableName: 'after_attack', condition: condition('IGNORE'), primaryKey: [{ id: 'big' }], attributeColumns: [{ blob: 'x'.repeat(1_900_000) }, { b2: 'y'.repeat(1_900_000) }] });
      const read = await ok(client, 'getRow', { tableName: 'after_attack', primaryKey: [{ id: 'big' }], maxVersions: 1 });
      expect(read.row.attributes.map((a: { columnValue: string }) => a.columnValue.length)).toEqual([1_900_000, 1_900_000]);
    }, 60_000);
  }
});

describe('unauthenticated bounds, one at a time (small limits)', () => {
  let dir: ReturnType<typeof tempDir>;
  let emulator: RunningEmulator;
  const BUDGET = 256 * 1024;
  const DEADLINE_MS = 400;

  beforeAll(async () => {
    dir = tempDir('unauth-bounds');
    emulator = await startEmulator({ dataDir: dir.path, port: 0, unauthenticated: { maxBytesInFlight: BUDGET, bodyTimeoutMs: DEADLINE_MS } });
  });

  afterAll(async () => {
    await emulator.close();
    dir.remove();
  });

  /** Sends the headers and `sent` bytes of a body declared `declared` long; resolves with the answer. */
  const send = (headers: Record<string, string>, declared: number, sent: number): Promise<Answer> =>
    new Promise((resolve, reject) => {
      const started = Date.now();
      const req = httpRequest({ host: emulator.host, port: emulator.port, method: 'POST', path: '/PutRow', headers: { ...headers, 'content-length': String(declared) } }, answerOf(started, resolve, reject));
      req.on('error', () => undefined); // the server may close while we still write
      req.write(Buffer.alloc(sent, 0x62));
      if (sent === declared) req.end();
    });

  const wrongSignature = (body: Uint8Array) =>
    buildRequestHeaders({ path: '/PutRow', body, instanceName: emulator.instanceName, accessKeyId: emulator.credentials.accessKeyId, accessKeySecret: 'wrong' });

  it('answers a request without signature headers from its headers, keeping none of its body, after the body ends', async () => {
    const answer = await send({}, 100_000, 100_000);
    expect(answer).toMatchObject({ status: 400, code: 'OTSParameterInvalid' });
    expect(answer.message).toMatch(/^Missing headers: 'x-ots-accesskeyid'/);
    expect(answer.connection).not.toBe('close');
  });

  it('answers a stalled body of a refused request at the deadline, and closes the connection', async () => {
    const answer = await send({}, 100_000, 50_000);
    expect(answer).toMatchObject({ status: 400, code: 'OTSParameterInvalid', connection: 'close' });
    expect(answer.afterMs).toBeGreaterThanOrEqual(DEADLINE_MS - 50);
  });

  it('still checks the MD5 of a wrongly signed body the budget can hold, as before', async () => {
    const body = Buffer.alloc(10_000, 0x62);
    const headers = { ...wrongSignature(body), 'x-ots-contentmd5': '1B2M2Y8AsgTpgAmY7PhCfg==' };
    const answer = await send(headers, body.length, body.length);
    expect(answer).toMatchObject({ status: 403, code: 'OTSAuthFailed', message: 'Mismatch between MD5 value of request body and x-ots-contentmd5 in header.' });
    const signedWrong = await send(wrongSignature(body), body.length, body.length);
    expect(signedWrong).toMatchObject({ status: 403, code: 'OTSAuthFailed', message: 'Signature mismatch.' });
  });

  it('answers a wrongly signed body larger than the budget at once with Signature mismatch and closes', async () => {
    const body = Buffer.alloc(BUDGET + 1, 0x62);
    const answer = await send(wrongSignature(body), body.length, 1_000);
    expect(answer).toMatchObject({ status: 403, code: 'OTSAuthFailed', message: 'Signature mismatch.', connection: 'close' });
    expect(answer.afterMs).toBeLessThan(DEADLINE_MS);
  });

  it('shares the budget: while stalled bodies hold it, the next wrongly signed body is refused at once; afterwards it is read again', async () => {
    const piece = Math.floor(BUDGET / 2);
    const stalled: Socket[] = [];
    const headersOf = (body: Uint8Array) =>
      `POST /PutRow HTTP/1.1\r\nhost: x\r\ncontent-length: ${body.length}\r\n${Object.entries(wrongSignature(body)).map(([k, v]) => `${k}: ${v}\r\n`).join('')}\r\n`;
    for (let i = 0; i < 2; i += 1) {
      const socket = connect(emulator.port, emulator.host);
      socket.on('error', () => undefined);
      stalled.push(socket);
      socket.write(headersOf(Buffer.alloc(piece)));
      socket.write(Buffer.alloc(100));
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
    const body = Buffer.alloc(1_000, 0x62);
    const refused = await send(wrongSignature(body), body.length, body.length);
    expect(refused).toMatchObject({ message: 'Signature mismatch.', connection: 'close' });
    // the stalled ones hit the deadline and give their share back
    await new Promise((resolve) => setTimeout(resolve, DEADLINE_MS + 200));
    for (const socket of stalled) socket.destroy();
    const md5Checked = await send({ ...wrongSignature(body), 'x-ots-contentmd5': '1B2M2Y8AsgTpgAmY7PhCfg==' }, body.length, body.length);
    expect(md5Checked.message).toBe('Mismatch between MD5 value of request body and x-ots-contentmd5 in header.');
  });

  it('reads a signed body whole, larger than the budget and slower than the deadline (both bound unauthenticated bodies only)', async () => {
    const client = sdkClient(emulator);
    await ok(client, 'createTable', {
      tableMeta: { tableName: 'signed', primaryKey: [{ name: 'id', type: 'STRING' }] },
      reservedThroughput: { capacityUnit: { read: 0, write: 0 } },
      tableOptions: { timeToLive: -1, maxVersions: 1 },
    });
    await ok(client, 'putRow', { tableName: 'signed', condition: condition('IGNORE'), primaryKey: [{ id: 'k' }], attributeColumns: [{ v: 'z'.repeat(BUDGET * 2) }] });
    const read = await ok(client, 'getRow', { tableName: 'signed', primaryKey: [{ id: 'k' }], maxVersions: 1 });
    expect(read.row.attributes[0].columnValue.length).toBe(BUDGET * 2);

    // a correctly signed body that arrives in two halves, the deadline apart: it reaches the route
    const garbage = Buffer.alloc(2_000, 0xff);
    const signed = buildRequestHeaders({ path: '/PutRow', body: garbage, instanceName: emulator.instanceName, ...emulator.credentials });
    const answer = await new Promise<Answer>((resolve, reject) => {
      const started = Date.now();
      const req = httpRequest({ host: emulator.host, port: emulator.port, method: 'POST', path: '/PutRow', headers: { ...signed, 'content-length': String(garbage.length) } }, answerOf(started, resolve, reject));
      req.on('error', reject);
      req.write(garbage.subarray(0, 1_000));
      setTimeout(() => req.end(garbage.subarray(1_000)), DEADLINE_MS + 200);
    });
    expect(answer.afterMs).toBeGreaterThanOrEqual(DEADLINE_MS + 200);
    expect(answer.status).toBe(400);
    expect(answer.code).toBe('OTSParameterInvalid');
    expect(answer.connection).not.toBe('close');
  });
});
