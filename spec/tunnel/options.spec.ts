import { describe, expect, it } from 'vitest';
import * as E from 'fp-ts/lib/Either.js';
import { asyncScheduler } from 'rxjs';
import { decodeTunnelOptions } from '../../lib/tunnel/options.js';
import type { TunnelConfig } from '../../lib/tunnel/options.js';
import type { TunnelOptionsError } from '../../lib/tunnel/errors.js';

const valid = {
  endpoint: 'http://127.0.0.1:8080',
  instance: 'inst',
  credentials: { accessKeyId: 'ak', accessKeySecret: 'sk' },
  tunnelId: 'tid',
};

const right = (input: unknown): TunnelConfig => {
  const result = decodeTunnelOptions(input);
  if (E.isLeft(result)) throw new Error(result.left.message);
  return result.right;
};
const issues = (input: unknown): ReadonlyArray<{ path: string; message: string }> => {
  const result = decodeTunnelOptions(input);
  if (E.isRight(result)) throw new Error('expected invalid options');
  return (result.left as TunnelOptionsError).issues;
};

describe('decodeTunnelOptions', () => {
  it('fills the documented defaults (§9)', () => {
    const config = right(valid);
    expect(config.tunnel).toEqual({ kind: 'id', tunnelId: 'tid' });
    expect(config.heartbeatIntervalMs).toBe(30_000);
    expect(config.heartbeatTimeoutMs).toBe(300_000);
    expect(config.maxInFlightBatchesPerChannel).toBe(2);
    expect(config.readBackoff).toEqual({ initialMs: 20, multiplier: 5, jitter: 0.25, maxMs: 5_000 });
    expect(config.requestRetry.maxElapsedMs).toBe(35_000);
    expect(config.closingDrainTimeoutMs).toBe(30_000);
    expect(config.requestTimeoutMs).toBe(60_000);
    expect(config.clientTag.length).toBeGreaterThan(0);
  });

  it('accepts table + tunnel name, an STS token, partial backoffs and a scheduler', () => {
    const config = right({
      ...valid,
      tunnelId: undefined,
      tableName: 'orders',
      tunnelName: 'job',
      credentials: { ...valid.credentials, securityToken: 'sts' },
      readBackoff: { maxMs: 200 },
      heartbeatIntervalMs: 100,
      heartbeatTimeoutMs: 1_000,
      scheduler: asyncScheduler,
      startTokens: { c1: 'tok' },
    });
    expect(config.tunnel).toEqual({ kind: 'name', tableName: 'orders', tunnelName: 'job' });
    expect(config.credentials.securityToken).toBe('sts');
    expect(config.readBackoff).toEqual({ initialMs: 20, multiplier: 5, jitter: 0.25, maxMs: 200 });
    expect(config.closingDrainTimeoutMs).toBe(100);
    expect(config.startTokens).toEqual({ c1: 'tok' });
  });

  it('collects every problem with its path', () => {
    const found = issues({
      endpoint: 'ftp://x',
      instance: '',
      credentials: { accessKeyId: 'ak' },
      heartbeatIntervalMs: -1,
      maxInFlightBatchesPerChannel: 1.5,
      readBackoff: { jitter: 2 },
      tunnelId: 'tid',
    });
    const paths = found.map((issue) => issue.path);
    expect(paths).toEqual(
      expect.arrayContaining(['endpoint', 'instance', 'credentials.accessKeySecret', 'heartbeatIntervalMs', 'maxInFlightBatchesPerChannel', 'readBackoff.jitter']),
    );
    expect(found.find((issue) => issue.path === 'credentials.accessKeySecret')?.message).toBe('is required');
    expect(found.find((issue) => issue.path === 'instance')?.message).toBe('must be a non-empty string');
  });

  it('requires a tunnel id or a table and tunnel name, not both', () => {
    expect(issues({ ...valid, tunnelId: undefined }).map((i) => i.path)).toContain('tunnelId');
    expect(issues({ ...valid, tunnelId: undefined, tableName: 't' }).map((i) => i.path)).toContain('tunnelId');
    expect(issues({ ...valid, tableName: 't', tunnelName: 'n' })[0]?.message).toMatch(/not both/);
  });

  it('requires the heartbeat timeout to exceed the interval', () => {
    const found = issues({ ...valid, heartbeatIntervalMs: 5_000, heartbeatTimeoutMs: 5_000 });
    expect(found).toEqual([{ path: 'heartbeatTimeoutMs', message: 'must exceed heartbeatIntervalMs (5000 ≤ 5000)' }]);
  });

  it('rejects unknown keys (typos) instead of ignoring them', () => {
    expect(issues({ ...valid, heartbeatIntervallMs: 10 })).toEqual([{ path: 'heartbeatIntervallMs', message: 'is not a known option' }]);
    expect(issues({ ...valid, credentials: { ...valid.credentials, token: 'x' } })).toEqual([{ path: 'credentials.token', message: 'is not a known option' }]);
  });

  it('rejects a non-scheduler, a non-object and an endpoint with a path', () => {
    expect(issues({ ...valid, scheduler: {} }).map((i) => i.path)).toEqual(['scheduler']);
    expect(issues(null)).toEqual([{ path: '', message: 'options must be an object' }]);
    expect(issues({ ...valid, endpoint: 'http://h/x' }).map((i) => i.path)).toEqual(['endpoint']);
  });

  it('rejects a backoff whose initial delay exceeds its maximum', () => {
    expect(issues({ ...valid, requestRetry: { initialMs: 10, maxMs: 5 } })).toEqual([{ path: 'requestRetry.maxMs', message: 'must be ≥ initialMs' }]);
  });
});
