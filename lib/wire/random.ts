/**
 * The one seeded random generator (mulberry32): tiny, fast, and good enough to spread faults,
 * jitter and generated test data — the point is that a seed replays a run. Every layer that
 * needs a repeatable `() => number` in [0, 1) uses this one.
 */

/** A source of numbers in [0, 1), as `Math.random`. */
export type RandomSource = () => number;

/** mulberry32 from `seed` (taken as an unsigned 32-bit integer): the same seed, the same sequence. */
export function seededRandom(seed: number): RandomSource {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}
