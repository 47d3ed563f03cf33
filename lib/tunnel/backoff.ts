/**
 * The one backoff vocabulary: jittered exponential delays `{ initialMs, maxMs, multiplier, jitter }`,
 * bounded by `maxAttempts` and/or `maxElapsedMs`. Used by the tunnel's request retries, stream
 * read backoff (§7.6) and reconnects, by `commitAfter`'s sink retries and by the Tablestore sink.
 * Pure arithmetic plus an injectable random source, so virtual-time tests are deterministic;
 * `retryWithBackoff` is the operator that waits on a scheduler.
 */
import type { RandomSource } from '../wire/random.js';

export type { RandomSource } from '../wire/random.js';

export interface BackoffPolicy {
  /** delay before the first retry, ms */
  readonly initialMs: number;
  /** cap of every delay, ms */
  readonly maxMs: number;
  /** growth of the delay per attempt */
  readonly multiplier: number;
  /** ±fraction of the delay drawn at random (0.25 → 75 %..125 %) */
  readonly jitter: number;
}

/** A complete policy of request retries within a time budget (the tunnel's `requestRetry`). */
export interface RetryPolicy extends BackoffPolicy {
  /** give up once the next attempt would start later than this after the first one */
  readonly maxElapsedMs: number;
}

/** How a failed call is retried: a (partial) backoff policy and the limits of the retries. */
export interface RetryOptions extends Partial<BackoffPolicy> {
  /** attempts in all, the first included; default: no limit */
  readonly maxAttempts?: number;
  /** give up once the next attempt would start later than this after the first one; default: no limit */
  readonly maxElapsedMs?: number;
  /** errors worth another attempt, others fail at once (default: `retryWithBackoff` retries transient Tablestore and network errors, `commitAfter` every error) */
  readonly retryable?: (error: unknown) => boolean;
  /** source of jitter; default Math.random */
  readonly random?: RandomSource;
}

/** The delay before attempt `attempt` (0-based): initial·multiplier^attempt, capped, then jittered. */
export function backoffDelay(policy: BackoffPolicy, attempt: number, random: RandomSource = Math.random): number {
  const base = Math.min(policy.maxMs, policy.initialMs * Math.pow(policy.multiplier, attempt));
  const spread = base * policy.jitter;
  const jittered = base - spread + 2 * spread * random();
  return Math.max(0, Math.min(policy.maxMs, Math.round(jittered)));
}

/** `options`' policy fields over `defaults`. */
export function backoffPolicy(options: Partial<BackoffPolicy>, defaults: BackoffPolicy): BackoffPolicy {
  return {
    initialMs: options.initialMs ?? defaults.initialMs,
    maxMs: options.maxMs ?? defaults.maxMs,
    multiplier: options.multiplier ?? defaults.multiplier,
    jitter: options.jitter ?? defaults.jitter,
  };
}

/** A backoff that grows on `next()` and starts over on `reset()`. */
export class Backoff {
  private attempt = 0;

  constructor(
    private readonly policy: BackoffPolicy,
    private readonly random: RandomSource = Math.random,
  ) {}

  next(): number {
    const delay = backoffDelay(this.policy, this.attempt, this.random);
    // stop counting once capped so the exponent never overflows to Infinity·0 = NaN
    if (this.policy.initialMs * Math.pow(this.policy.multiplier, this.attempt) < this.policy.maxMs) this.attempt += 1;
    return delay;
  }

  reset(): void {
    this.attempt = 0;
  }
}
