/**
 * The router and the extension contract: co-hosted routes get authenticated requests, the raw
 * response, the common error body; a failing route does not take the server down.
 */
import * as E from 'fp-ts/lib/Either.js';
import { request as httpRequest } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RequestContext, Router, type RunningEmulator, startEmulator } from '../../lib/emulator/index.js';
import { decodeErrorBody } from '../../lib/wire/errors.js';
import { buildRequestHeaders } from '../../lib/wire/signing.js';
import { tempDir } from './helpers.js';

describe('Router', () => {
  it('prefers exact paths, then the longest prefix, and refuses double registration', () => {
    const exact = () => E.right(new Uint8Array([1]));
    const short = () => E.right(new Uint8Array([2]));
    const long = () => E.right(new Uint8Array([3]));
    const router = new Router().register('/tunnel/special', exact).registerPrefix('/tunnel/', short).registerPrefix('/tunnel/deep/', long);
    expect(router.resolve('/tunnel/special')).toBe(exact);
    expect(router.resolve('/tunnel/other')).toBe(short);
    expect(router.resolve('/tunnel/deep/x')).toBe(long);
    expect(router.resolve('/PutRow')).toBeUndefined();
    expect(() => router.register('/tunnel/special', exact)).toThrow(/already registered/);
  });
});

describe('extension routes', () => {
  let dir: ReturnType<typeof tempDir>;
  let emulator: RunningEmulator;
  const seen: RequestContext[] = [];
  const internal: unknown[] = [];
  let detached = false;

  beforeAll(async () => {
    dir = tempDir('routes');
    emulator = await startEmulator({
      dataDir: dir.path,
      credentials: [
        { accessKeyId: 'first', accessKeySecret: 's1' },
        { accessKeyId: 'second', accessKeySecret: 's2' },
      ],
      instanceName: 'inst',
      onInternalError: (error) => internal.push(error),
      extensions: [
        ({ router, settings }) => {
          expect(settings).toMatchObject({ instanceName: 'inst', partitions: 4 });
          router.registerPrefix('/ext/', (context) => {
            seen.push(context);
            if (context.path === '/ext/throw') throw new Error('route bug');
            if (context.path === '/ext/teapot') return E.left({ code: 'OTSTeapot', message: 'short and stout', status: 418 });
            if (context.path === '/ext/cut') {
              context.response.destroy();
              return E.right(new Uint8Array(0));
            }
            return E.right(Buffer.from(`hello ${context.identity.accessKeyId}`));
          });
          return { close: () => void (detached = true) };
        },
      ],
    });
  });

  afterAll(async () => {
    await emulator.close();
    dir.remove();
    expect(detached).toBe(true);
  });

  const post = (path: string, accessKeyId: string, secret: string) =>
    new Promise<{ status: number; body: Buffer; headers: Record<string, unknown> } | 'reset'>((resolve) => {
      const body = Buffer.from('payload');
      const headers = buildRequestHeaders({ path, body, instanceName: 'inst', accessKeyId, accessKeySecret: secret });
      const req = httpRequest({ host: emulator.host, port: emulator.port, method: 'POST', path, headers }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks), headers: res.headers }));
      });
      req.on('error', () => resolve('reset'));
      req.end(body);
    });

  it('serves authenticated requests of any configured key, with the common response headers', async () => {
    const first = await post('/ext/hi', 'first', 's1');
    const second = await post('/ext/hi', 'second', 's2');
    expect(first !== 'reset' && first.body.toString()).toBe('hello first');
    expect(second !== 'reset' && second.body.toString()).toBe('hello second');
    if (second !== 'reset') expect(second.headers['authorization']).toMatch(/^OTS second:/);
    expect(seen.at(-1)?.body.toString()).toBe('payload');
    const before = seen.length;
    const refused = await post('/ext/hi', 'first', 's2');
    expect(refused !== 'reset' && refused.status).toBe(403);
    expect(seen.length).toBe(before);
  });

  it('answers route errors with their status and body, and route bugs with 500 while staying up', async () => {
    const teapot = await post('/ext/teapot', 'first', 's1');
    if (teapot === 'reset') throw new Error('unexpected reset');
    expect(teapot.status).toBe(418);
    expect(decodeErrorBody(teapot.body)).toEqual(E.right({ code: 'OTSTeapot', message: 'short and stout' }));
    const bug = await post('/ext/throw', 'first', 's1');
    if (bug === 'reset') throw new Error('unexpected reset');
    expect(bug.status).toBe(500);
    expect(decodeErrorBody(bug.body)).toEqual(E.right({ code: 'OTSInternalServerError', message: 'Internal server error.' }));
    expect(internal).toHaveLength(1);
    expect(await post('/ext/cut', 'first', 's1')).toBe('reset');
    const after = await post('/ext/hi', 'first', 's1');
    expect(after !== 'reset' && after.status).toBe(200);
  });
});
