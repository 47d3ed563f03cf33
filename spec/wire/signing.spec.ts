import { createHmac } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  API_VERSION,
  DEFAULT_MAX_CLOCK_SKEW_MS,
  buildRequestHeaders,
  buildResponseHeaders,
  contentMd5,
  parseOtsDate,
  signRequest,
  stringToSign,
  verifyRequest,
  verifyResponse,
} from '../../lib/wire/signing.js';
import type { KeyCredential, VerifyRequestInput } from '../../lib/wire/signing.js';
import { tableMessages } from '../../lib/wire/table-messages.js';
import { startCaptureServer, sdkClient, putRowParams } from './sdk-harness.js';
import type { CaptureServer, CapturedRequest } from './sdk-harness.js';

const AKID = 'AKID-test';
const SECRET = 'secret/with+chars=';
const STS_AKID = 'STS.AKID';
const STS_SECRET = 'sts-secret';
const STS_TOKEN = 'CAIS-token-value';
const INSTANCE = 'inst1';

const keys: Readonly<Record<string, string | KeyCredential>> = {
  [AKID]: SECRET,
  [STS_AKID]: { secret: STS_SECRET, stsToken: STS_TOKEN },
};
const lookupSecret = (id: string) => keys[id];

const asHeaders = (headers: IncomingHttpHeaders): Record<string, string> =>
  Object.fromEntries(Object.entries(headers).flatMap(([k, v]) => (v === undefined ? [] : [[k, Array.isArray(v) ? v.join(',') : v]])));

const verifyCaptured = (request: CapturedRequest, overrides: Partial<VerifyRequestInput> = {}) =>
  verifyRequest({
    method: request.method,
    path: request.path,
    headers: request.headers,
    body: request.body,
    lookupSecret,
    now: Date.parse(request.headers['x-ots-date'] as string),
    ...overrides,
  });

/** Changes one character but keeps the value well-formed: the last digit moves on by one, else the last letter changes. */
const flipOneChar = (text: string): string => {
  const digit = text.search(/\d(?=\D*$)/);
  if (digit !== -1) return text.slice(0, digit) + String((Number(text[digit]) + 1) % 10) + text.slice(digit + 1);
  return text.slice(0, -1) + (text.endsWith('x') ? 'y' : 'x');
};

describe('the string to sign (tablestore-wire.md §1.3)', () => {
  it('reproduces the captured example byte for byte', () => {
    const headers = {
      'x-ots-apiversion': '2015-12-31',
      'x-ots-instancename': 'inst1',
      'x-ots-contentmd5': '1B2M2Y8AsgTpgAmY7PhCfg==',
      'content-length': '0',
      host: '127.0.0.1',
      'x-ots-date': '2026-11-24T01:53:11.021Z',
      'x-ots-accesskeyid': 'AKID',
      'x-ots-signature': 'ignored',
      connection: 'keep-alive',
    };
    expect(stringToSign({ method: 'POST', path: '/ListTable', headers })).toBe(
      '/ListTable\nPOST\n\nx-ots-accesskeyid:AKID\nx-ots-apiversion:2015-12-31\nx-ots-contentmd5:1B2M2Y8AsgTpgAmY7PhCfg==\nx-ots-date:2026-11-24T01:53:11.021Z\nx-ots-instancename:inst1\n',
    );
  });

  it('lower-cases names, sorts by name, trims values and signs with base64 HMAC-SHA1', () => {
    const headers = { 'X-OTS-Date': ' 2024-01-01T00:00:00.000Z ', 'x-ots-a': 'v', Other: 'x' };
    const text = stringToSign({ method: 'post', path: '/tunnel/heartbeat', headers });
    expect(text).toBe('/tunnel/heartbeat\nPOST\n\nx-ots-a:v\nx-ots-date:2024-01-01T00:00:00.000Z\n');
    expect(signRequest({ method: 'POST', path: '/tunnel/heartbeat', headers, accessKeySecret: 'k' })).toBe(
      createHmac('sha1', 'k').update(text).digest('base64'),
    );
  });

  it('content MD5 is base64 of the MD5 digest (the empty body value is the captured one)', () => {
    expect(contentMd5(new Uint8Array())).toBe('1B2M2Y8AsgTpgAmY7PhCfg==');
  });
});

describe('requests of the official Node SDK', () => {
  let server: CaptureServer;

  beforeAll(async () => {
    server = await startCaptureServer((request) => ({
      status: 200,
      headers: buildResponseHeaders({ path: request.path, body: new Uint8Array() }),
      body:
        request.path === '/ListTable'
          ? tableMessages.ListTableResponse.encode({ tableNames: ['orders'] })
          : tableMessages.PutRowResponse.encode({ consumed: { capacityUnit: { read: 0, write: 1 } } }),
    }));
  });
  afterAll(() => server.close());

  const capture = async (operation: 'listTable' | 'putRow', params: Record<string, unknown>, credentials?: { id: string; secret: string; sts?: string }) => {
    const before = server.requests.length;
    const client = sdkClient({
      endpoint: server.endpoint,
      accessKeyId: credentials?.id ?? AKID,
      accessKeySecret: credentials?.secret ?? SECRET,
      instanceName: INSTANCE,
      ...(credentials?.sts === undefined ? {} : { stsToken: credentials.sts }),
    });
    const result = await client.call(operation, params);
    expect(result.error).toBeUndefined();
    expect(server.requests).toHaveLength(before + 1);
    return server.requests[before] as CapturedRequest;
  };

  it('accepts what the SDK sends, for an empty and a non-empty body', async () => {
    const list = await capture('listTable', {});
    expect(list.body).toHaveLength(0);
    expect(verifyCaptured(list)).toEqual({
      _tag: 'Right',
      right: { accessKeyId: AKID, instanceName: INSTANCE, date: new Date(list.headers['x-ots-date'] as string) },
    });
    const put = await capture('putRow', putRowParams());
    expect(put.body.length).toBeGreaterThan(20);
    expect(verifyCaptured(put)._tag).toBe('Right');
  });

  it('buildRequestHeaders reproduces every x-ots header the SDK sends, signature included', async () => {
    const put = await capture('putRow', putRowParams());
    const ours = buildRequestHeaders({
      path: put.path,
      body: put.body,
      accessKeyId: AKID,
      accessKeySecret: SECRET,
      instanceName: INSTANCE,
      date: new Date(put.headers['x-ots-date'] as string),
    });
    const theirs = Object.fromEntries(Object.entries(asHeaders(put.headers)).filter(([name]) => name.startsWith('x-ots-')));
    expect(ours).toEqual(theirs);
    expect(theirs['x-ots-apiversion']).toBe(API_VERSION);
  });

  it('refuses the request when any one signed header value changes, each with the service code and message', async () => {
    const put = await capture('putRow', putRowParams());
    const expectations: Record<string, { code: string; message: RegExp }> = {
      'x-ots-accesskeyid': { code: 'OTSAuthFailed', message: /^The AccessKeyID does not exist\.$/ },
      'x-ots-apiversion': { code: 'OTSAuthFailed', message: /^Signature mismatch\.$/ },
      'x-ots-contentmd5': { code: 'OTSAuthFailed', message: /^Mismatch between MD5 value of request body and x-ots-contentmd5 in header\.$/ },
      'x-ots-date': { code: 'OTSAuthFailed', message: /^Signature mismatch\.$/ },
      'x-ots-instancename': { code: 'OTSAuthFailed', message: /^Signature mismatch\.$/ },
      'x-ots-signature': { code: 'OTSAuthFailed', message: /^Signature mismatch\.$/ },
    };
    const signed = Object.keys(put.headers).filter((name) => name.startsWith('x-ots-'));
    expect(signed.sort()).toEqual(Object.keys(expectations).sort());
    for (const name of signed) {
      const headers = { ...put.headers, [name]: flipOneChar(put.headers[name] as string) };
      const result = verifyCaptured({ ...put, headers });
      const expected = expectations[name] as { code: string; message: RegExp };
      expect(result, name).toMatchObject({ _tag: 'Left', left: { kind: 'AuthError', code: expected.code, httpStatus: 403 } });
      if (result._tag === 'Left') expect(result.left.message).toMatch(expected.message);
    }
  });

  it('ignores unsigned transport headers but refuses an added x-ots header (every x-ots header is signed)', async () => {
    const put = await capture('putRow', putRowParams());
    expect(verifyCaptured({ ...put, headers: { ...put.headers, host: 'elsewhere', connection: 'close', 'user-agent': 'x' } })._tag).toBe('Right');
    expect(verifyCaptured({ ...put, headers: { ...put.headers, 'x-ots-extra': '1' } })).toMatchObject({
      _tag: 'Left',
      left: { code: 'OTSAuthFailed', message: 'Signature mismatch.' },
    });
  });

  it('refuses any changed body byte; with the MD5 header forged to match, the signature still fails', async () => {
    const put = await capture('putRow', putRowParams());
    fc.assert(
      fc.property(fc.nat({ max: put.body.length - 1 }), fc.integer({ min: 1, max: 255 }), (index, xor) => {
        const body = Buffer.from(put.body);
        body[index] = (body[index] as number) ^ xor;
        expect(verifyCaptured({ ...put, body })).toMatchObject({
          _tag: 'Left',
          left: { code: 'OTSAuthFailed', message: 'Mismatch between MD5 value of request body and x-ots-contentmd5 in header.' },
        });
        const forged = { ...put.headers, 'x-ots-contentmd5': contentMd5(body) };
        expect(verifyCaptured({ ...put, body, headers: forged })).toMatchObject({ _tag: 'Left', left: { message: 'Signature mismatch.' } });
      }),
      { numRuns: 30 },
    );
  });

  it('with checkContentMd5: false a body change goes unnoticed (the signature covers the MD5 header, not the body)', async () => {
    const put = await capture('putRow', putRowParams());
    const body = Buffer.from(put.body);
    body[body.length - 1] = (body[body.length - 1] as number) ^ 1;
    expect(verifyCaptured({ ...put, body }, { checkContentMd5: false })._tag).toBe('Right');
    expect(verifyCaptured({ ...put, body })._tag).toBe('Left');
  });

  it('refuses a request dated outside the allowed skew, in either direction (no replay)', async () => {
    const list = await capture('listTable', {});
    const sent = Date.parse(list.headers['x-ots-date'] as string);
    expect(DEFAULT_MAX_CLOCK_SKEW_MS).toBe(15 * 60 * 1000);
    expect(verifyCaptured(list, { now: sent + 14 * 60 * 1000 })._tag).toBe('Right');
    for (const now of [sent + 15 * 60 * 1000 + 1, sent - 15 * 60 * 1000 - 1, new Date(sent + 3_600_000)]) {
      expect(verifyCaptured(list, { now })).toMatchObject({
        _tag: 'Left',
        left: { code: 'OTSAuthFailed', httpStatus: 403, message: `Mismatch between system time and x-ots-date: ${list.headers['x-ots-date']}.` },
      });
    }
    expect(verifyCaptured(list, { now: sent + 3_600_000, maxSkewMs: Infinity })._tag).toBe('Right');
  });

  it('refuses an unknown access key id', async () => {
    const list = await capture('listTable', {}, { id: 'nobody', secret: SECRET });
    expect(verifyCaptured(list)).toMatchObject({ _tag: 'Left', left: { code: 'OTSAuthFailed', message: 'The AccessKeyID does not exist.' } });
  });

  it('refuses a wrong secret', async () => {
    const list = await capture('listTable', {}, { id: AKID, secret: 'wrong' });
    expect(verifyCaptured(list)).toMatchObject({ _tag: 'Left', left: { code: 'OTSAuthFailed', message: 'Signature mismatch.' } });
  });

  it('checks the STS token of keys that require one', async () => {
    const good = await capture('listTable', {}, { id: STS_AKID, secret: STS_SECRET, sts: STS_TOKEN });
    expect(good.headers['x-ots-ststoken']).toBe(STS_TOKEN);
    expect(verifyCaptured(good)._tag).toBe('Right');
    const stale = await capture('listTable', {}, { id: STS_AKID, secret: STS_SECRET, sts: 'old-token' });
    expect(verifyCaptured(stale)).toMatchObject({ _tag: 'Left', left: { code: 'OTSAuthFailed', message: 'The security token is invalid.' } });
    const none = await capture('listTable', {}, { id: STS_AKID, secret: STS_SECRET });
    expect(verifyCaptured(none)).toMatchObject({ _tag: 'Left', left: { code: 'OTSAuthFailed', message: 'The security token is missing.' } });
    const ours = buildRequestHeaders({ path: good.path, body: good.body, accessKeyId: STS_AKID, accessKeySecret: STS_SECRET, stsToken: STS_TOKEN, instanceName: INSTANCE, date: new Date(good.headers['x-ots-date'] as string) });
    expect(ours['x-ots-signature']).toBe(good.headers['x-ots-signature']);
  });

  it('names every missing header with OTSParameterInvalid', async () => {
    const list = await capture('listTable', {});
    const headers = { ...list.headers };
    delete headers['x-ots-date'];
    delete headers['x-ots-signature'];
    expect(verifyCaptured({ ...list, headers })).toEqual({
      _tag: 'Left',
      left: { kind: 'AuthError', code: 'OTSParameterInvalid', httpStatus: 400, message: "Missing headers: 'x-ots-date', 'x-ots-signature'." },
    });
  });
});

describe('our own requests (tunnel paths, other clients)', () => {
  const input = fc.record({
    path: fc.constantFrom('/tunnel/heartbeat', '/tunnel/readrecords', '/PutRow'),
    body: fc.uint8Array({ maxLength: 64 }),
    accessKeyId: fc.constantFrom(AKID, STS_AKID),
    instanceName: fc.stringMatching(/^[a-z][a-z0-9-]{0,15}$/),
    date: fc.date({ min: new Date('2000-01-01T00:00:00Z'), max: new Date('2100-01-01T00:00:00Z'), noInvalidDate: true }),
    traceId: fc.uuid(),
  });

  it('verify(build(x)) accepts, and any corrupted signature character is refused', () => {
    fc.assert(
      fc.property(input, fc.nat(), (x, at) => {
        const credential = keys[x.accessKeyId] as string | KeyCredential;
        const secret = typeof credential === 'string' ? credential : credential.secret;
        const headers = buildRequestHeaders({
          path: x.path,
          body: x.body,
          accessKeyId: x.accessKeyId,
          accessKeySecret: secret,
          instanceName: x.instanceName,
          date: x.date,
          extraHeaders: { 'x-ots-sdk-traceid': x.traceId },
          ...(typeof credential === 'string' ? {} : { stsToken: credential.stsToken as string }),
        });
        const request = { method: 'POST', path: x.path, headers, body: x.body, lookupSecret, now: x.date };
        expect(verifyRequest(request)).toEqual({ _tag: 'Right', right: { accessKeyId: x.accessKeyId, instanceName: x.instanceName, date: x.date } });
        const signature = headers['x-ots-signature'] as string;
        const index = at % signature.length;
        const replaced = signature[index] === 'A' ? 'B' : 'A';
        const corrupted = { ...headers, 'x-ots-signature': signature.slice(0, index) + replaced + signature.slice(index + 1) };
        expect(verifyRequest({ ...request, headers: corrupted })).toMatchObject({ _tag: 'Left', left: { message: 'Signature mismatch.' } });
      }),
      { numRuns: 100 },
    );
  });

  it('accepts the Go SDKs\' odd date layout and refuses malformed dates', () => {
    expect(parseOtsDate('2024-09-13T10:59:07.91310Z')?.toISOString()).toBe('2024-09-13T10:59:07.913Z');
    expect(parseOtsDate('2024-09-13T10:59:07Z')?.toISOString()).toBe('2024-09-13T10:59:07.000Z');
    for (const bad of ['2024-02-30T00:00:00.000Z', '2024-09-13 10:59:07Z', 'Fri, 13 Sep 2024 10:59:07 GMT', '2024-09-13T24:00:00.000Z', '']) {
      expect(parseOtsDate(bad)).toBeUndefined();
    }
    const headers = { ...buildRequestHeaders({ path: '/x', body: new Uint8Array(), accessKeyId: AKID, accessKeySecret: SECRET, instanceName: 'i' }), 'x-ots-date': 'yesterday' };
    expect(verifyRequest({ method: 'POST', path: '/x', headers, body: new Uint8Array(), lookupSecret })).toMatchObject({
      _tag: 'Left',
      left: { code: 'OTSParameterInvalid', httpStatus: 400, message: 'Invalid date format: yesterday.' },
    });
  });
});

describe('response headers (tablestore-wire.md §2.5)', () => {
  const body = new Uint8Array([10, 3, 1, 2, 3]);
  const date = new Date('2026-01-02T03:04:05.678Z');

  it('carry request id, date, MD5, content type and an authorization over the x-ots headers and the path', () => {
    const headers = buildResponseHeaders({ path: '/PutRow', body, requestId: 'rid-1', date, credentials: { accessKeyId: AKID, accessKeySecret: SECRET } });
    const md5 = contentMd5(body);
    const signed = `x-ots-contentmd5:${md5}\nx-ots-contenttype:protocol buffer\nx-ots-date:2026-01-02T03:04:05.678Z\nx-ots-requestid:rid-1\n/PutRow`;
    expect(headers).toEqual({
      'x-ots-requestid': 'rid-1',
      'x-ots-date': '2026-01-02T03:04:05.678Z',
      'x-ots-contentmd5': md5,
      'x-ots-contenttype': 'protocol buffer',
      authorization: `OTS ${AKID}:${createHmac('sha1', SECRET).update(signed).digest('base64')}`,
    });
  });

  it('pass the Python SDK checks, which catch a changed body, header or key', () => {
    const headers = buildResponseHeaders({ path: '/GetRow', body, date, credentials: { accessKeyId: AKID, accessKeySecret: SECRET } });
    const check = { path: '/GetRow', status: 200, headers, body, accessKeyId: AKID, accessKeySecret: SECRET, now: date };
    expect(verifyResponse(check)._tag).toBe('Right');
    expect(verifyResponse({ ...check, body: new Uint8Array([1]) })).toMatchObject({ _tag: 'Left', left: { message: 'MD5 mismatch in response.' } });
    expect(verifyResponse({ ...check, headers: { ...headers, 'x-ots-requestid': 'other' } })).toMatchObject({ _tag: 'Left', left: { message: 'Invalid signature in response.' } });
    expect(verifyResponse({ ...check, path: '/PutRow' })).toMatchObject({ _tag: 'Left', left: { message: 'Invalid signature in response.' } });
    expect(verifyResponse({ ...check, accessKeyId: 'other' })).toMatchObject({ _tag: 'Left', left: { message: 'Invalid accesskeyid in response.' } });
    expect(verifyResponse({ ...check, now: date.getTime() + 16 * 60 * 1000 })._tag).toBe('Left');
    const { authorization, ...unsigned } = headers;
    void authorization;
    expect(verifyResponse({ ...check, headers: unsigned })).toMatchObject({ _tag: 'Left', left: { message: '"Authorization" is missing in response header.' } });
    expect(verifyResponse({ ...check, status: 404, headers: unsigned })._tag).toBe('Right');
  });

  it('always carry a fresh request id', () => {
    const a = buildResponseHeaders({ path: '/x', body });
    const b = buildResponseHeaders({ path: '/x', body });
    expect(a['x-ots-requestid']).toMatch(/^[0-9a-f-]{36}$/);
    expect(a['x-ots-requestid']).not.toBe(b['x-ots-requestid']);
    expect(a).not.toHaveProperty('authorization');
  });
});
