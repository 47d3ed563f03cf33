/**
 * `retryWithBackoff(options)`: resubscribes to a failed source after a jittered exponential delay,
 * waited on `scheduler` (so tests run it in virtual time), while the error is retryable and
 * neither `maxAttempts` nor `maxElapsedMs` is used up; otherwise lets the last error through.
 *
 *   source:                         -#
 *   retryWithBackoff({ initialMs: 100, multiplier: 2, jitter: 0 }), second attempt succeeds:
 *   attempts at 0 and 100 ms        -- 100ms -a|
 *
 * Defaults: 100 ms doubling up to 30 s, ± 20 % jitter, no limit of attempts or time, and the
 * errors of `isRetryableError` (unavailable service, busy codes, 5xx, connection resets) retried.
 */
import { asyncScheduler, defer, retry, throwError, timer } from 'rxjs';
import type { MonoTypeOperatorFunction, SchedulerLike } from 'rxjs';
import { backoffDelay, backoffPolicy, type BackoffPolicy, type RetryOptions } from './backoff.js';
import { isRetryableError } from './errors.js';

export interface RetryWithBackoffOptions extends RetryOptions {
  readonly scheduler?: SchedulerLike;
  /** called before each wait: the failed attempt's number (1-based), the delay and its error */
  readonly onRetry?: (attempt: number, delayMs: number, error: unknown) => void;
}

export const DEFAULT_BACKOFF: BackoffPolicy = { initialMs: 100, maxMs: 30_000, multiplier: 2, jitter: 0.2 };

export function retryWithBackoff<T>(options: RetryWithBackoffOptions = {}): MonoTypeOperatorFunction<T> {
  const scheduler = options.scheduler ?? asyncScheduler;
  const isRetryable = options.retryable ?? isRetryableError;
  const policy = backoffPolicy(options, DEFAULT_BACKOFF);
  const maxAttempts = options.maxAttempts ?? Infinity;
  const maxElapsedMs = options.maxElapsedMs ?? Infinity;
  if (!(maxAttempts >= 1)) throw new RangeError(`retryWithBackoff: maxAttempts must be >= 1, got ${maxAttempts}`);
  return (source) =>
    defer(() => {
      const startedAt = scheduler.now();
      return source.pipe(
        retry({
          delay: (error: unknown, attempt: number) => {
            if (attempt >= maxAttempts || !isRetryable(error)) return throwError(() => error);
            const delayMs = backoffDelay(policy, attempt - 1, options.random);
            if (scheduler.now() - startedAt + delayMs > maxElapsedMs) return throwError(() => error);
            options.onRetry?.(attempt, delayMs, error);
            return timer(delayMs, scheduler);
          },
        }),
      );
    });
}
