import { asyncScheduler, defer, retry, throwError, timer } from 'rxjs';
import type { MonoTypeOperatorFunction, SchedulerLike } from 'rxjs';
import { backoffDelay } from './backoff.js';
import type { BackoffPolicy, RandomSource } from './backoff.js';
import { isRetryableError } from './errors.js';

export interface RetryWithBackoffOptions {
  readonly policy: BackoffPolicy;
  /** give up once the next attempt would start later than this after the first one */
  readonly maxElapsedMs: number;
  readonly isRetryable?: (error: unknown) => boolean;
  readonly scheduler?: SchedulerLike;
  readonly random?: RandomSource;
  readonly onRetry?: (attempt: number, delayMs: number, error: unknown) => void;
}

/**
 * Resubscribes to a failed request after a jittered exponential delay while the error is
 * retryable and the elapsed-time budget lasts; otherwise lets the last error through.
 */
export function retryWithBackoff<T>(options: RetryWithBackoffOptions): MonoTypeOperatorFunction<T> {
  const scheduler = options.scheduler ?? asyncScheduler;
  const isRetryable = options.isRetryable ?? isRetryableError;
  return (source) =>
    defer(() => {
      const startedAt = scheduler.now();
      return source.pipe(
        retry({
          delay: (error: unknown, attempt: number) => {
            if (!isRetryable(error)) return throwError(() => error);
            const delayMs = backoffDelay(options.policy, attempt - 1, options.random);
            if (scheduler.now() - startedAt + delayMs > options.maxElapsedMs) return throwError(() => error);
            options.onRetry?.(attempt, delayMs, error);
            return timer(delayMs, scheduler);
          },
        }),
      );
    });
}
