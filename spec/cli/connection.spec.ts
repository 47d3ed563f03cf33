/**
 * Connection settings from flags and environment (precedence, every problem collected, no
 * secret quoted), and the one-line explanation of failed calls.
 */
import { describe, expect, it } from 'vitest';
import * as E from 'fp-ts/lib/Either.js';
import { resolve } from 'node:path';
import { connectionProblem, DEFAULT_DATA_DIR, EndpointUnreachableError, instanceFromEndpoint, resolveConnectionSettings } from '../../lib/cli/connection.js';
import { TransportError } from '../../lib/tunnel/http-transport.js';
import { OtsServiceError } from '../../lib/wire/errors.js';

const right = <A>(either: E.Either<readonly string[], A>): A => {
  if (E.isLeft(either)) throw new Error(`expected Right, got ${either.left.join('; ')}`);
  return either.right;
};
const left = (either: E.Either<readonly string[], unknown>): readonly string[] => {
  if (E.isRight(either)) throw new Error('expected Left');
  return either.left;
};

describe('resolveConnectionSettings', () => {
  it('is the embedded emulator on ./.otsflow/data by default; keys given as flags are reported as ignored', () => {
    expect(right(resolveConnectionSettings({}, {}))).toEqual({ settings: { kind: 'embedded', dataDir: resolve(DEFAULT_DATA_DIR) }, ignored: [], sources: {} });
    const embedded = right(resolveConnectionSettings({ endpoint: 'embedded', data: '/tmp/x', accessKeySecret: 'flag-secret', instance: 'i' }, { OTSFLOW_ACCESS_KEY_ID: 'env-id' }));
    expect(embedded.settings).toEqual({ kind: 'embedded', dataDir: '/tmp/x' });
    // flags are a mistake worth a warning; variables meant for the cloud are not
    expect(embedded.ignored).toEqual(['--instance', '--access-key-secret']);
  });

  it('takes a flag over OTSFLOW_* over ALIBABA_CLOUD_*, ignoring empty variables', () => {
    const env = {
      OTSFLOW_ENDPOINT: 'https://env.example.com/',
      OTSFLOW_INSTANCE: 'envinst',
      OTSFLOW_ACCESS_KEY_ID: '',
      ALIBABA_CLOUD_ACCESS_KEY_ID: 'ali-id',
      OTSFLOW_ACCESS_KEY_SECRET: 'ots-secret',
      ALIBABA_CLOUD_ACCESS_KEY_SECRET: 'ali-secret',
      ALIBABA_CLOUD_SECURITY_TOKEN: 'sts',
    };
    const fromEnv = right(resolveConnectionSettings({}, env));
    expect(fromEnv.settings).toEqual({
      kind: 'remote',
      endpoint: 'https://env.example.com',
      instanceName: 'envinst',
      credentials: { accessKeyId: 'ali-id', accessKeySecret: 'ots-secret', securityToken: 'sts' },
    });
    expect(fromEnv.sources).toEqual({
      endpoint: 'OTSFLOW_ENDPOINT',
      instanceName: 'OTSFLOW_INSTANCE',
      accessKeyId: 'ALIBABA_CLOUD_ACCESS_KEY_ID',
      accessKeySecret: 'OTSFLOW_ACCESS_KEY_SECRET',
      securityToken: 'ALIBABA_CLOUD_SECURITY_TOKEN',
    });
    const fromFlags = right(resolveConnectionSettings({ endpoint: 'http://127.0.0.1:8800', instance: 'flaginst', accessKeyId: 'flag-id', accessKeySecret: 'flag-secret' }, env));
    expect(fromFlags.settings).toMatchObject({ endpoint: 'http://127.0.0.1:8800', instanceName: 'flaginst', credentials: { accessKeyId: 'flag-id', accessKeySecret: 'flag-secret' } });
  });

  it('takes the instance from a *.aliyuncs.com endpoint when none is given', () => {
    expect(instanceFromEndpoint('https://myinst.cn-hangzhou.ots.aliyuncs.com')).toBe('myinst');
    expect(instanceFromEndpoint('http://127.0.0.1:8800')).toBeUndefined();
    const settings = right(resolveConnectionSettings({ endpoint: 'https://myinst.cn-hangzhou.ots.aliyuncs.com', accessKeyId: 'id', accessKeySecret: 'secret' }, {}));
    expect(settings.settings).toMatchObject({ kind: 'remote', instanceName: 'myinst' });
    expect(settings.sources['instanceName']).toBe('--endpoint host');
  });

  it('collects every problem at once, never quoting a secret', () => {
    expect(left(resolveConnectionSettings({ endpoint: 'http://127.0.0.1:1' }, {}))).toEqual([
      'a remote endpoint needs --instance (or OTSFLOW_INSTANCE), --access-key-id (or OTSFLOW_ACCESS_KEY_ID / ALIBABA_CLOUD_ACCESS_KEY_ID) and --access-key-secret (or OTSFLOW_ACCESS_KEY_SECRET / ALIBABA_CLOUD_ACCESS_KEY_SECRET)',
    ]);
    const problems = left(resolveConnectionSettings({ endpoint: 'tcp://x/y', instance: '9bad', accessKeySecret: '  ', securityToken: '' }, {}));
    expect(problems).toEqual([
      "--endpoint 'tcp://x/y' must be 'embedded' or an http:// or https:// URL without path or query",
      '--instance must be letters, digits, hyphens or underscores, starting with a letter',
      '--access-key-secret must not be empty',
      '--security-token must not be empty',
      'a remote endpoint needs --access-key-id (or OTSFLOW_ACCESS_KEY_ID / ALIBABA_CLOUD_ACCESS_KEY_ID)',
    ]);
  });
});

describe('connectionProblem', () => {
  const endpoint = 'https://x.example.com';
  it('names unreachable endpoints, refusals and unavailability; leaves request errors to the command', () => {
    expect(connectionProblem(new EndpointUnreachableError(endpoint, 'ENOTFOUND'), endpoint)).toBe('cannot reach https://x.example.com (ENOTFOUND)');
    expect(connectionProblem(new TransportError('ECONNRESET', 'socket hang up'), endpoint)).toBe('cannot reach https://x.example.com (ECONNRESET: connection reset)');
    expect(connectionProblem(new TransportError('ETIMEDOUT', 'no response to /tunnel/list within 30000 ms'), endpoint)).toBe(
      'cannot reach https://x.example.com (ETIMEDOUT: no response to /tunnel/list within 30000 ms)',
    );
    expect(connectionProblem(new TransportError('DEPTH_ZERO_SELF_SIGNED_CERT', 'self-signed certificate'), endpoint)).toBe(
      'cannot reach https://x.example.com (DEPTH_ZERO_SELF_SIGNED_CERT: self-signed certificate)',
    );
    const service = (code: string, message: string, httpStatus = 400) => new OtsServiceError({ code, message, httpStatus });
    expect(connectionProblem(service('OTSAuthFailed', 'Signature mismatch.', 403), endpoint)).toBe('access denied by https://x.example.com: OTSAuthFailed (Signature mismatch.)');
    expect(connectionProblem(service('OTSTunnelServerUnavailable', 'busy', 503), endpoint)).toBe('https://x.example.com is unavailable: OTSTunnelServerUnavailable (busy)');
    expect(connectionProblem(service('OTSClientError', 'HTTP 404: not found', 404), endpoint)).toBe(
      'unexpected answer from https://x.example.com (HTTP 404: not found); is it a Tablestore endpoint?',
    );
    expect(connectionProblem(service('OTSParameterInvalid', 'no such tunnel'), endpoint)).toBeUndefined();
  });
});
