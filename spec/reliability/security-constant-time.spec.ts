/**
 * Security: secrets are compared in constant time. The signature, the body MD5 and the STS token
 * a request carries go through crypto.timingSafeEqual against the expected value — with equal
 * lengths, so the comparison cannot stop at the first differing byte — and nothing on the way
 * compares them with `===` first. The spy wraps the real function, so verification still works.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';

vi.mock('node:crypto', async (importOriginal) => {
  const actual = await importOriginal<typeof import('node:crypto')>();
  return { ...actual, timingSafeEqual: vi.fn(actual.timingSafeEqual) };
});

const crypto = await import('node:crypto');
const { buildRequestHeaders, signRequest, verifyRequest } = await import('../../lib/wire/signing.js');

const SECRET = 'constant-time-secret';
const STS = { secret: SECRET, stsToken: 'CAIS-constant-time-token' };
const body = Buffer.from('a body');
const path = '/ListTable';
const headersFor = (stsToken?: string) => buildRequestHeaders({ path, body, instanceName: 'i', accessKeyId: 'k', accessKeySecret: SECRET, ...(stsToken === undefined ? {} : { stsToken }) });
const spy = vi.mocked(crypto.timingSafeEqual);

/** The [actual, expected] pairs timingSafeEqual saw, as text. */
const comparisons = (): string[][] => spy.mock.calls.map(([a, b]) => [Buffer.from(a as Uint8Array).toString(), Buffer.from(b as Uint8Array).toString()]);

afterEach(() => spy.mockClear());

describe('constant-time comparisons in request verification', () => {
  it('compares the signature, the body MD5 and the STS token with timingSafeEqual, never by ===', () => {
    const headers = headersFor(STS.stsToken);
    const verified = verifyRequest({ method: 'POST', path, headers, body, lookupSecret: () => STS });
    expect(verified._tag).toBe('Right');
    const seen = comparisons();
    const expectedSignature = signRequest({ method: 'POST', path, headers, accessKeySecret: SECRET });
    expect(seen).toContainEqual([headers['x-ots-signature'], expectedSignature]);
    expect(seen).toContainEqual([headers['x-ots-contentmd5'], headers['x-ots-contentmd5']]);
    expect(seen).toContainEqual([STS.stsToken, STS.stsToken]);
  });

  it('a signature wrong in its first or in its last character takes the same path: one full-length comparison', () => {
    const headers = headersFor();
    const good = headers['x-ots-signature'] as string;
    const flip = (text: string, at: number) => text.slice(0, at) + (text[at] === 'A' ? 'B' : 'A') + text.slice(at + 1);
    for (const forged of [flip(good, 0), flip(good, good.length - 2)]) {
      spy.mockClear();
      const result = verifyRequest({ method: 'POST', path, headers: { ...headers, 'x-ots-signature': forged }, body, lookupSecret: () => SECRET });
      expect(result._tag === 'Left' && result.left.message).toBe('Signature mismatch.');
      const signatureComparisons = comparisons().filter(([actual]) => actual === forged);
      expect(signatureComparisons).toEqual([[forged, good]]);
      expect(spy.mock.calls.every(([a, b]) => (a as Uint8Array).length === (b as Uint8Array).length)).toBe(true);
    }
  });

  it('a signature of another length is refused without calling timingSafeEqual on unequal lengths (which would throw)', () => {
    const headers = headersFor();
    for (const forged of ['', 'x', 'A'.repeat(100), '\u00e9\u00e9']) {
      spy.mockClear();
      const result = verifyRequest({ method: 'POST', path, headers: { ...headers, 'x-ots-signature': forged }, body, lookupSecret: () => SECRET });
      expect(result._tag).toBe('Left');
      expect(spy.mock.calls.every(([a, b]) => (a as Uint8Array).length === (b as Uint8Array).length)).toBe(true);
    }
  });
});
