/**
 * `seededRandom(seed)`: the one seeded generator (fault plans, jitter in tests, generated data,
 * the demo). A seed replays a run; the numbers are spread evenly over [0, 1).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { seededRandom as fromTesting } from '../../lib/testing/index.js';
import { seededRandom } from '../../lib/wire/random.js';

const draw = (next: () => number, n: number): number[] => Array.from({ length: n }, next);

describe('seededRandom', () => {
  it('the same seed gives the same sequence; the seed is taken as an unsigned 32-bit integer', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 32 - 1 }), (seed) => {
        expect(draw(seededRandom(seed), 20)).toEqual(draw(seededRandom(seed), 20));
        expect(draw(seededRandom(seed + 2 ** 32), 5)).toEqual(draw(seededRandom(seed), 5));
      }),
      { numRuns: 100 },
    );
    expect(draw(seededRandom(-1), 5)).toEqual(draw(seededRandom(2 ** 32 - 1), 5));
  });

  it('different seeds give different sequences', () => {
    const firsts = new Set(Array.from({ length: 1000 }, (_, seed) => draw(seededRandom(seed), 3).join(',')));
    expect(firsts.size).toBe(1000);
  });

  it('draws from [0, 1), evenly: each tenth gets its share of 100 000 draws within 3 %', () => {
    const next = seededRandom(42);
    const buckets = new Array<number>(10).fill(0);
    let outside = 0;
    for (let i = 0; i < 100_000; i++) {
      const x = next();
      if (x >= 0 && x < 1) buckets[Math.floor(x * 10)]! += 1;
      else outside++;
    }
    expect(outside).toBe(0);
    for (const count of buckets) expect(Math.abs(count - 10_000)).toBeLessThan(300);
  });

  it('is the one otsflow/testing exports', () => {
    expect(fromTesting).toBe(seededRandom);
  });
});
