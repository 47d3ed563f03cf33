/**
 * Security: who the emulator lets in, on the table API and on the tunnel API alike.
 *
 * Refused, each with the service's code and message: a wrong, missing or re-targeted signature,
 * an unknown access key, a tampered header or body, the wrong instance, a malformed date, a date
 * (or a captured request replayed) beyond the clock-skew window, and STS keys used without their
 * token, with a wrong one, or after their expiration — through raw HTTP, the official SDK and
 * otsflow's own tunnel client. Temporary keys that are valid get in.
 */
import * as E from 'fp-ts/lib/Either.js';
import { request as httpRequest } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Credentials, type RunningEmulator, startEmulator } from '../../lib/emulator/index.js';
import { tunnelControl } from '../../lib/tunnel/control.js';
import { createHttpTransport } from '../../lib/tunnel/http-transport.js';
import { TUNNEL_APIS, tunnelMessages } from '../../lib/wire/tunnel-messages.js';
import { tableMessages } from '../../lib/wire/table-messages.js';
import { buildRequestHeaders } from '../../lib/wire/signing.js';
import { tempDir } from '../emulator/helpers.js';
import { call, ok, sdkClient } from '../emulator/sdk.js';
import { deadline } from './fuzz-support.js';
import { type HttpAnswer, type Target, errorOf, post } from './http-support.js';

const PERMANENT: Credentials = { accessKeyId: 'LTAIpermanent', accessKeySecret: 'permanent-secret-1234' };
const HOUR = 3_600_000;
const stsKey = (name: string, expiresInMs: number): Credentials => ({
  accessKeyId: `STS.${name}`,
  accessKeySecret: `sts-secret-${name}`,
  securityToken: `CAIS-token-${name}`,
  expiration: new Date(Date.now() + expiresInMs),
});
const STS_VALID = stsKey('valid', HOUR);
const STS_EXPIRED = stsKey('expired', -1_000);
/** expires while the suite runs: in before, out after */
const STS_SHORT = stsKey('short', 4_000);

let dir: ReturnType<typeof tempDir>;
let emulator: RunningEmulator;
const targetOf = (credentials: Credentials, overrides: Partial<Target> = {}): Target => ({
  host: emulator.host,
  port: emulator.port,
  instanceName: emulator.instanceName,
  accessKeyId: credentials.accessKeyId,
  accessKeySecret: credentials.accessKeySecret,
  ...(credentials.securityToken === undefined ? {} : { stsToken: credentials.securityToken }),
  ...overrides,
});

beforeAll(async () => {
  dir = tempDir('security');
  emulator = await startEmulator({ dataDir: dir.path, port: 0, credentials: [PERMANENT, STS_VALID, STS_EXPIRED, STS_SHORT] });
  await ok(sdkClient({ endpoint: emulator.endpoint, instanceName: emulator.instanceName, credentials: PERMANENT }), 'createTable', {
    tableMeta: { tableName: 'guarded', primaryKey: [{ name: 'id', type: 'STRING' }] },
    reservedThroughput: { capacityUnit: { read: 0, write: 0 } },
    tableOptions: { timeToLive: -1, maxVersions: 1 },
  });
});

afterAll(async () => {
  await emulator?.close();
  dir?.remove();
});

/** The same checks on a table API call and on a tunnel API call. */
const APIS = [
  { name: 'table API', path: '/ListTable', other: '/DeleteTable', body: tableMessages.ListTableRequest.encode({}) },
  { name: 'tunnel API', path: TUNNEL_APIS.ListTunnel.path, other: TUNNEL_APIS.DeleteTunnel.path, body: tunnelMessages.ListTunnelRequest.encode({ tableName: 'guarded' }) },
] as const;

const refused = (answer: HttpAnswer) => errorOf(answer);
const AUTH_FAILED = (message: string | RegExp) => ({ status: 403, code: 'OTSAuthFailed', message: typeof message === 'string' ? message : expect.stringMatching(message) });

for (const api of APIS) {
  describe(`${api.name} (${api.path}) refuses requests that do not prove who sent them`, () => {
    it('accepts a request signed with a configured key', async () => {
      expect((await post(targetOf(PERMANENT), api.path, api.body)).status).toBe(200);
    });

    it('refuses a wrong secret, an unknown key and the wrong instance with OTSAuthFailed', async () => {
      expect(refused(await post(targetOf(PERMANENT, { accessKeySecret: 'not-the-secret' }), api.path, api.body))).toEqual(AUTH_FAILED('Signature mismatch.'));
      expect(refused(await post(targetOf(PERMANENT, { accessKeyId: 'LTAIstranger' }), api.path, api.body))).toEqual(AUTH_FAILED('The AccessKeyID does not exist.'));
      expect(refused(await post(targetOf(PERMANENT, { instanceName: 'someone-else' }), api.path, api.body))).toEqual(AUTH_FAILED('The instance is not found.'));
    });

    it('refuses a missing signature, missing auth headers and a garbled signature', async () => {
      expect(refused(await post(targetOf(PERMANENT), api.path, api.body, { override: { 'x-ots-signature': undefined } }))).toEqual({
        status: 400,
        code: 'OTSParameterInvalid',
        message: "Missing header: 'x-ots-signature'.",
      });
      const bare = refused(await post(targetOf(PERMANENT), api.path, api.body, { unsigned: true }));
      expect(bare).toMatchObject({ status: 400, code: 'OTSParameterInvalid' });
      expect(bare.message).toBe("Missing headers: 'x-ots-accesskeyid', 'x-ots-apiversion', 'x-ots-contentmd5', 'x-ots-date', 'x-ots-instancename', 'x-ots-signature'.");
      // other lengths, other alphabets: still a plain mismatch, never an exception
      for (const signature of ['x', 'A'.repeat(28), 'A'.repeat(27) + '=', '\u00e9'.repeat(14), 'A'.repeat(500)]) {
        expect(refused(await post(targetOf(PERMANENT), api.path, api.body, { override: { 'x-ots-signature': signature } }))).toEqual(AUTH_FAILED('Signature mismatch.'));
      }
    });

    it('refuses a signature made for another path, a tampered signed header and a tampered body', async () => {
      const headers = buildRequestHeaders({ ...targetOf(PERMANENT), path: api.path, body: api.body });
      // signed for a harmless call, sent to a destructive one
      expect(refused(await post(targetOf(PERMANENT), api.other, api.body, { override: headers }))).toEqual(AUTH_FAILED('Signature mismatch.'));
      expect(refused(await post(targetOf(PERMANENT), api.path, api.body, { override: { ...headers, 'x-ots-apiversion': '2018-04-01' } }))).toEqual(AUTH_FAILED('Signature mismatch.'));
      expect(refused(await post(targetOf(PERMANENT), api.path, api.body, { override: { ...headers, 'x-ots-trace-id': 'added after signing' } }))).toEqual(AUTH_FAILED('Signature mismatch.'));
      const tampered = Buffer.concat([Buffer.from(api.body), Buffer.from([0x12, 0x00])]);
      expect(refused(await post(targetOf(PERMANENT), api.path, tampered, { override: headers }))).toEqual(
        AUTH_FAILED('Mismatch between MD5 value of request body and x-ots-contentmd5 in header.'),
      );
    });

    it('refuses dates beyond the 15-minute skew, either way, and malformed dates', async () => {
      for (const offset of [-16 * 60_000, 16 * 60_000, -30 * 24 * HOUR]) {
        const date = new Date(Date.now() + offset);
        expect(refused(await post(targetOf(PERMANENT), api.path, api.body, { date }))).toEqual(AUTH_FAILED(`Mismatch between system time and x-ots-date: ${date.toISOString()}.`));
      }
      // inside the window: accepted
      expect((await post(targetOf(PERMANENT), api.path, api.body, { date: new Date(Date.now() - 14 * 60_000) })).status).toBe(200);
      for (const text of ['yesterday', '2024-02-30T00:00:00.000Z', '2024-01-01 00:00:00', '']) {
        const answer = refused(await post(targetOf(PERMANENT), api.path, api.body, { override: { 'x-ots-date': text === '' ? undefined : text } }));
        expect(answer).toEqual({ status: 400, code: 'OTSParameterInvalid', message: text === '' ? "Missing header: 'x-ots-date'." : `Invalid date format: ${text}.` });
      }
    });

    it('STS keys: valid with their token; refused without it, with a wrong one, or once expired', async () => {
      expect((await post(targetOf(STS_VALID), api.path, api.body)).status).toBe(200);
      expect(refused(await post(targetOf(STS_VALID, { stsToken: undefined } as Partial<Target>), api.path, api.body))).toEqual(AUTH_FAILED('The security token is missing.'));
      expect(refused(await post(targetOf(STS_VALID, { stsToken: 'CAIS-forged' }), api.path, api.body))).toEqual(AUTH_FAILED('The security token is invalid.'));
      // another key's token does not do either
      expect(refused(await post(targetOf(STS_VALID, { stsToken: STS_EXPIRED.securityToken as string }), api.path, api.body))).toEqual(AUTH_FAILED('The security token is invalid.'));
      expect(refused(await post(targetOf(STS_EXPIRED), api.path, api.body))).toEqual(AUTH_FAILED('The security token you provided has expired.'));
    });
  });
}

describe('time-bound credentials and replays', () => {
  it('an STS key works until its expiration and is refused from then on, on both APIs', async () => {
    for (const api of APIS) expect((await post(targetOf(STS_SHORT), api.path, api.body)).status).toBe(200);
    const wait = (STS_SHORT.expiration as Date).getTime() - Date.now() + 50;
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    for (const api of APIS) expect(refused(await post(targetOf(STS_SHORT), api.path, api.body))).toEqual(AUTH_FAILED('The security token you provided has expired.'));
  });

  it('the official SDK and the otsflow tunnel client: a valid STS key works, an expired one is OTSAuthFailed', async () => {
    const sdkWith = (key: Credentials) =>
      sdkClient({ endpoint: emulator.endpoint, instanceName: emulator.instanceName, credentials: key }, { stsToken: key.securityToken });
    expect((await call(sdkWith(STS_VALID), 'describeTable', { tableName: 'guarded' })).ok).toBe(true);
    const expired = await call(sdkWith(STS_EXPIRED), 'describeTable', { tableName: 'guarded' });
    expect(expired.ok === false && expired.error).toMatchObject({ status: 403, code: 'OTSAuthFailed', message: 'The security token you provided has expired.' });

    const controlWith = (key: Credentials) =>
      tunnelControl(
        createHttpTransport({
          endpoint: emulator.endpoint,
          instance: emulator.instanceName,
          credentials: { accessKeyId: key.accessKeyId, accessKeySecret: key.accessKeySecret, ...(key.securityToken === undefined ? {} : { securityToken: key.securityToken }) },
          requestTimeoutMs: 5_000,
        }),
        { retry: { initialMs: 10, multiplier: 1, jitter: 0, maxMs: 10, maxElapsedMs: 0 } },
      );
    const listed = await controlWith(STS_VALID).listTunnels('guarded');
    expect(E.isRight(listed)).toBe(true);
    const denied = await controlWith(STS_EXPIRED).listTunnels('guarded');
    expect(E.isLeft(denied) && { code: (denied.left as { code?: string }).code, message: denied.left.message }).toEqual({
      code: 'OTSAuthFailed',
      message: expect.stringContaining('The security token you provided has expired.'),
    });
  });

  it('a captured request replayed as is: accepted within the skew window, refused after it', async () => {
    const strict = tempDir('security-replay');
    const replayed = await startEmulator({ dataDir: strict.path, port: 0, credentials: [PERMANENT], maxClockSkewMs: 1_500 });
    try {
      const replays: (() => Promise<HttpAnswer>)[] = [];
      for (const api of APIS) {
        const headers = buildRequestHeaders({ instanceName: replayed.instanceName, ...PERMANENT, path: api.path, body: api.body });
        const send = () =>
          deadline(
            new Promise<HttpAnswer>((resolve, reject) => {
              const req = httpRequest({ host: replayed.host, port: replayed.port, method: 'POST', path: api.path, agent: false, headers: { ...headers, 'content-length': api.body.length } }, (res) => {
                const chunks: Buffer[] = [];
                res.on('data', (c: Buffer) => chunks.push(c));
                res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
              });
              req.on('error', reject);
              req.end(Buffer.from(api.body));
            }),
            5_000,
            'replay',
          );
        expect((await send()).status).toBe(200);
        // V2 signatures carry no nonce: within the window the same bytes pass, as on the service
        expect((await send()).status).toBe(200);
        replays.push(send);
      }
      await new Promise((resolve) => setTimeout(resolve, 1_700));
      for (const replay of replays) expect(refused(await replay())).toEqual(AUTH_FAILED(/^Mismatch between system time and x-ots-date: /));
    } finally {
      await replayed.close();
      strict.remove();
    }
  });
});
