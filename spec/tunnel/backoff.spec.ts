import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { throwError, of, defer } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { Backoff, backoffDelay } from '../../lib/tunnel/backoff.js';
import { DEFAULT_BACKOFF, retryWithBackoff } from '../../lib/tunnel/retry-with-backoff.js';
import { isRetryableError } from '../../lib/tunnel/errors.js';

const policy = { initialMs: 20, multiplier: 5, jitter: 0.25, maxMs: 5000 };

describe('backoffDelay', () => {
  it('grows geometrically and caps at maxMs (no jitter at random 0.5)', () => {
    const delays = [0, 1, 2, 3, 4, 5].map((attempt) => backoffDelay(policy, attempt, () => 0.5));
    expect(delays).toEqual([20, 100, 500, 2500, 5000, 5000]);
  });

  it('stays within ±jitter of the base and within [0, maxMs] (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 60 }), fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), (attempt, r) => {
        const base = Math.min(policy.maxMs, policy.initialMs * policy.multiplier ** attempt);
        const delay = backoffDelay(policy, attempt, () => r);
        expect(delay).toBeGreaterThanOrEqual(Math.floor(base * (1 - policy.jitter)));
        expect(delay).toBeLessThanOrEqual(Math.min(policy.maxMs, Math.ceil(base * (1 + policy.jitter))));
      }),
      { numRuns: 300 },
    );
  });
});

describe('Backoff', () => {
  it('grows on next() and starts over after reset()', () => {
    const backoff = new Backoff(policy, () => 0.5);
    expect([backoff.next(), backoff.next(), backoff.next()]).toEqual([20, 100, 500]);
    backoff.reset();
    expect(backoff.next()).toBe(20);
  });

  it('keeps returning the cap after many attempts', () => {
    const backoff = new Backoff(policy, () => 0.5);
    for (let i = 0; i < 2000; i++) backoff.next();
    expect(backoff.next()).toBe(5000);
  });
});

describe('retryWithBackoff', () => {
  const unavailable = Object.assign(new Error('busy'), { code: 'OTSTunnelServerUnavailable' });
  const invalid = Object.assign(new Error('bad'), { code: 'OTSParameterInvalid' });
  const retry = { initialMs: 100, multiplier: 2, jitter: 0, maxMs: 1000 };
  const tunnelErrors = { retryable: isRetryableError };

  it('resubscribes after 100, 200, 400 ms and succeeds on the 4th attempt', () => {
    const scheduler = new TestScheduler((a, b) => expect(a).toEqual(b));
    scheduler.run(({ expectObservable }) => {
      let attempts = 0;
      const attemptsAt: number[] = [];
      const source = defer(() => {
        attemptsAt.push(scheduler.now());
        return ++attempts < 4 ? throwError(() => unavailable) : of('ok');
      });
      expectObservable(source.pipe(retryWithBackoff({ ...retry, maxElapsedMs: 10_000, scheduler }))).toBe('700ms (a|)', { a: 'ok' });
      scheduler.flush();
      expect(attemptsAt).toEqual([0, 100, 300, 700]);
    });
  });

  it('lets a non-retryable error through at once', () => {
    const scheduler = new TestScheduler((a, b) => expect(a).toEqual(b));
    scheduler.run(({ expectObservable }) => {
      expectObservable(throwError(() => invalid).pipe(retryWithBackoff({ ...retry, maxElapsedMs: 10_000, scheduler }))).toBe('#', undefined, invalid);
    });
  });

  it('gives up when the next attempt would exceed the elapsed budget', () => {
    const scheduler = new TestScheduler((a, b) => expect(a).toEqual(b));
    scheduler.run(({ expectObservable }) => {
      // attempts at 0, 100, 300; the next would start at 700 > 500
      expectObservable(throwError(() => unavailable).pipe(retryWithBackoff({ ...retry, maxElapsedMs: 500, scheduler }))).toBe('300ms #', undefined, unavailable);
    });
  });

  it('treats 5xx without a code and connection resets as retryable', () => {
    const scheduler = new TestScheduler((a, b) => expect(a).toEqual(b));
    scheduler.run(({ expectObservable }) => {
      const errors = [Object.assign(new Error('bad gateway'), { httpStatus: 502 }), Object.assign(new Error('reset'), { code: 'ECONNRESET' })];
      let attempt = 0;
      const source = defer(() => (attempt < errors.length ? throwError(() => errors[attempt++]) : of('ok')));
      expectObservable(source.pipe(retryWithBackoff({ ...retry, maxElapsedMs: 10_000, scheduler }))).toBe('300ms (a|)', { a: 'ok' });
    });
  });

  it('with the defaults a user gets: 100 ms doubling (no spread at random 0.5), every attempt counted, no limit', () => {
    const scheduler = new TestScheduler((a, b) => expect(a).toEqual(b));
    const retries: [number, number][] = [];
    scheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const failures = 5;
      let attempts = 0;
            const source = defer(() => (++attempts <= failures ? throwError(() => unavailable) : of('ok')));
      const expected = Array.from({ length: failures }, (_, k) => Math.min(DEFAULT_BACKOFF.maxMs, DEFAULT_BACKOFF.initialMs * DEFAULT_BACKOFF.multiplier ** k)).reduce((sum, delay) => sum + delay, 0);
      expectObservable(source.pipe(retryWithBackoff({ scheduler, random: () => 0.5, onRetry: (attempt, delayMs) => retries.push([attempt, delayMs]) }))).toBe(`${expected}ms (a|)`, { a: 'ok' });
      // a cold source is resubscribed once per attempt
      const failing = cold('-#', undefined, unavailable);
      expectObservable(failing.pipe(retryWithBackoff({ scheduler, random: () => 0.5, maxAttempts: 3 }))).toBe('- 100ms - 200ms -#', undefined, unavailable);
      expectSubscriptions(failing.subscriptions).toBe(['^!', '- 100ms ^!', '- 100ms - 200ms ^!']);
    });
    expect(retries).toEqual([[1, 100], [2, 200], [3, 400], [4, 800], [5, 1600]]);
    expect(DEFAULT_BACKOFF).toEqual({ initialMs: 100, maxMs: 30_000, multiplier: 2, jitter: 0.2 });
  });

  it('stops after maxAttempts attempts in all, with the jitter drawn from `random`', () => {
    const scheduler = new TestScheduler((a, b) => expect(a).toEqual(b));
    scheduler.run(({ expectObservable }) => {
      const attemptsAt: number[] = [];
      const source = defer(() => {
        attemptsAt.push(scheduler.now());
        return throwError(() => unavailable);
      });
      // jitter 0.5 at random 0 draws the low end: 50, 100 ms
      expectObservable(source.pipe(retryWithBackoff({ initialMs: 100, multiplier: 2, jitter: 0.5, maxAttempts: 3, random: () => 0, scheduler }))).toBe('150ms #', undefined, unavailable);
      scheduler.flush();
      expect(attemptsAt).toEqual([0, 50, 150]);
    });
    expect(() => retryWithBackoff({ maxAttempts: 0 })).toThrow(RangeError);
  });

  it('retries whatever `retryable` says, and nothing else', () => {
    const scheduler = new TestScheduler((a, b) => expect(a).toEqual(b));
    scheduler.run(({ cold, expectObservable }) => {
      const mine = new Error('mine');
      expectObservable(cold('#', undefined, mine).pipe(retryWithBackoff({ ...retry, maxAttempts: 2, retryable: (error) => error === mine, scheduler }))).toBe('100ms #', undefined, mine);
      expectObservable(cold('#', undefined, unavailable).pipe(retryWithBackoff({ ...retry, ...tunnelErrors, retryable: () => false, scheduler }))).toBe('#', undefined, unavailable);
    });
  });

  it('unsubscribing during a wait cancels the retry', () => {
    const scheduler = new TestScheduler((a, b) => expect(a).toEqual(b));
    scheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const failing = cold('#', undefined, unavailable);
      expectObservable(failing.pipe(retryWithBackoff({ ...retry, scheduler })), '150ms !').toBe('');
      expectSubscriptions(failing.subscriptions).toBe(['(^!)', '100ms (^!)']);
    });
  });
});
