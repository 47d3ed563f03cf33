/**
 * Jittered exponential backoff, shared by per-request retries, the stream read backoff (§7.6)
 * and reconnects. Pure arithmetic plus an injectable random source so virtual-time tests are
 * deterministic.
 */

export interface BackoffPolicy {
  readonly initialMs: number;
  readonly maxMs: number;
  readonly multiplier: number;
  /** ±fraction of the delay drawn at random (0.25 → 75 %..125 %) */
  readonly jitter: number;
}

export type RandomSource = () => number;

/** The delay before attempt `attempt` (0-based): initial·multiplier^attempt, capped, then jittered. */
export function backoffDelay(policy: BackoffPolicy, attempt: number, random: RandomSource = Math.random): number {
  const base = Math.min(policy.maxMs, policy.initialMs * Math.pow(policy.multiplier, attempt));
  const spread = base * policy.jitter;
  const jittered = base - spread + 2 * spread * random();
  return Math.max(0, Math.min(policy.maxMs, Math.round(jittered)));
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
