import assert from 'node:assert/strict';
import { map, of } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { testScheduler } from '../../lib/testing/index.js';

describe('testScheduler', () => {
  it("with vitest's expect: equal frames pass, and a differing value fails the run with expect's message", () => {
    testScheduler(expect).run(({ cold, expectObservable }) => {
      expectObservable(cold('a-b|', { a: 1n, b: new Uint8Array([1]) }).pipe(map((v) => v))).toBe('a-b|', { a: 1n, b: new Uint8Array([1]) });
    });
    expect(() =>
      testScheduler(expect).run(({ cold, expectObservable }) => {
        expectObservable(cold('a|', { a: 1n })).toBe('a|', { a: 2n });
      }),
    ).toThrow(/expected/i);
    expect(() =>
      testScheduler(expect).run(({ cold, expectObservable }) => {
        expectObservable(cold('a|', { a: 1 })).toBe('-a|', { a: 1 });
      }),
    ).toThrow();
  });

  it('with an assertDeepEqual function (node:assert): strict, so 1 and 1n differ', () => {
    testScheduler({ assertDeepEqual: assert.deepStrictEqual }).run(({ cold, expectObservable }) => {
      expectObservable(cold('a|', { a: { n: 1n } })).toBe('a|', { a: { n: 1n } });
    });
    expect(() =>
      testScheduler({ assertDeepEqual: assert.deepStrictEqual }).run(({ cold, expectObservable }) => {
        expectObservable(cold('a|', { a: { n: 1n } })).toBe('a|', { a: { n: 1 } });
      }),
    ).toThrow(assert.AssertionError);
  });

  it('runs time in virtual frames and refuses anything but an expect or an assertion', () => {
    const scheduler = testScheduler(expect);
    scheduler.run(({ expectObservable, time }) => {
      expect(time('---|')).toBe(3);
      expectObservable(of(1)).toBe('(a|)', { a: 1 });
    });
    expect(() => testScheduler({} as never)).toThrow(/expect/);
    expect(() => testScheduler(null as never)).toThrow(TypeError);
  });
});
