import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  INT64_MAX,
  INT64_MIN,
  UINT64_MAX,
  bigIntToLong,
  dateToNanos,
  longToBigInt,
  microsToMillis,
  millisToMicros,
  millisToNanos,
  nanosToDate,
  nanosToMillis,
} from '../../lib/wire/int64.js';

describe('bigint ↔ Long bits', () => {
  it('round-trips the whole int64 and uint64 ranges', () => {
    fc.assert(fc.property(fc.bigInt(INT64_MIN, INT64_MAX), (v) => {
      expect(longToBigInt(bigIntToLong(v, false), false)).toBe(v);
    }));
    fc.assert(fc.property(fc.bigInt(0n, UINT64_MAX), (v) => {
      expect(longToBigInt(bigIntToLong(v, true), true)).toBe(v);
    }));
  });

  it('splits into the 32-bit halves protobufjs expects', () => {
    expect(bigIntToLong(-1n, false)).toEqual({ low: -1, high: -1, unsigned: false });
    expect(bigIntToLong(2n ** 32n + 5n, false)).toEqual({ low: 5, high: 1, unsigned: false });
    expect(longToBigInt({ low: -1, high: -1 }, true)).toBe(UINT64_MAX);
    expect(longToBigInt({ low: -1, high: -1 }, false)).toBe(-1n);
    expect(longToBigInt(12, false)).toBe(12n);
  });

  it('refuses values outside the type', () => {
    expect(() => bigIntToLong(INT64_MAX + 1n, false)).toThrow(RangeError);
    expect(() => bigIntToLong(-1n, true)).toThrow(RangeError);
    expect(() => bigIntToLong(UINT64_MAX + 1n, true)).toThrow(RangeError);
  });
});

describe('wire time units', () => {
  it('nanoseconds ↔ Date / ms keep millisecond precision beyond 2^53 ns', () => {
    const date = new Date('2024-09-13T10:59:07.913Z');
    expect(dateToNanos(date)).toBe(1_726_225_147_913_000_000n);
    expect(nanosToDate(1_726_225_147_913_999_999n)).toEqual(date);
    expect(nanosToMillis(millisToNanos(1_726_225_147_913))).toBe(1_726_225_147_913);
  });

  it('microseconds (stream sequence timestamps) ↔ ms', () => {
    expect(microsToMillis(1_700_000_000_000_999n)).toBe(1_700_000_000_000);
    expect(millisToMicros(1_700_000_000_000)).toBe(1_700_000_000_000_000n);
  });
});
