/**
 * Time source of the tunnel service. Lease expiry, commit timestamps and retention all read
 * `now()`, so tests can move time forward instead of sleeping.
 */
export interface Clock {
  /** milliseconds since the Unix epoch */
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };

/** A clock that only moves when told to; for tests. */
export class ManualClock implements Clock {
  constructor(private current: number = Date.UTC(2026, 0, 1)) {}

  now(): number {
    return this.current;
  }

  advance(ms: number): void {
    if (ms < 0) throw new Error('ManualClock.advance: time does not go backwards');
    this.current += ms;
  }

  set(ms: number): void {
    this.current = ms;
  }
}
