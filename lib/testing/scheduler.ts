/**
 * A `TestScheduler` for marble tests whose frames are compared by your test framework's deep
 * equality, so typed values (bigints, Uint8Arrays, Maps) compare as values:
 *
 *   import { expect } from 'vitest';           // or jest's expect
 *   testScheduler(expect).run(({ cold, expectObservable }) => { … });
 *
 *   import assert from 'node:assert/strict';    // or any (actual, expected) => void that throws
 *   testScheduler({ assertDeepEqual: assert.deepEqual }).run(…);
 *
 * No test framework is imported here: you hand in the one you use.
 */
import { TestScheduler } from 'rxjs/testing';

/** What `expect` of vitest or jest offers that the scheduler needs. */
export type ExpectLike = (actual: unknown) => { toEqual(expected: unknown): unknown };

export interface DeepEqualAssertion {
  /** throws when `actual` and `expected` differ */
  readonly assertDeepEqual: (actual: unknown, expected: unknown) => unknown;
}

export function testScheduler(assert: ExpectLike | DeepEqualAssertion): TestScheduler {
  if (typeof assert === 'function') return new TestScheduler((actual, expected) => void assert(actual).toEqual(expected));
  if (assert !== null && typeof assert === 'object' && typeof assert.assertDeepEqual === 'function') {
    const { assertDeepEqual } = assert;
    return new TestScheduler((actual, expected) => void assertDeepEqual(actual, expected));
  }
  throw new TypeError('testScheduler: pass `expect` (vitest, jest) or { assertDeepEqual: (actual, expected) => void }');
}
