/**
 * 64-bit integers and the time units the wire uses.
 *
 * Protobuf int64/uint64 fields surface as `bigint` everywhere in otsflow; protobufjs hands out
 * `Long` objects, converted here. Tunnel times are nanoseconds since the epoch (create_time,
 * channel_rpo, tunnel_rpo, start/end offsets — tunnel-protocol.md §2.1), stream sequence
 * timestamps are microseconds (§6.5), cell timestamps milliseconds: all exceed 2^53 in their
 * unit except milliseconds, hence bigint.
 */
export const INT64_MIN = -(2n ** 63n);
export const INT64_MAX = 2n ** 63n - 1n;
export const UINT64_MAX = 2n ** 64n - 1n;

const NANOS_PER_MILLI = 1_000_000n;
const MICROS_PER_MILLI = 1_000n;

/** The structural part of a protobufjs `Long` we read (also matches the `long` package). */
export interface LongBits {
  readonly low: number;
  readonly high: number;
}

export function isLongBits(value: unknown): value is LongBits {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as { low?: unknown }).low === 'number' &&
    typeof (value as { high?: unknown }).high === 'number'
  );
}

/** `Long` (or a plain number from a Long-less protobufjs) → bigint, read as signed or unsigned 64 bits. */
export function longToBigInt(value: LongBits | number, unsigned: boolean): bigint {
  if (typeof value === 'number') return BigInt(value);
  const bits = (BigInt(value.high >>> 0) << 32n) | BigInt(value.low >>> 0);
  return unsigned ? bits : BigInt.asIntN(64, bits);
}

/**
 * bigint → the `{low, high, unsigned}` shape protobufjs writers accept for 64-bit fields; throws
 * RangeError when the value does not fit the type (a programmer error).
 */
export function bigIntToLong(value: bigint, unsigned: boolean): LongBits & { readonly unsigned: boolean } {
  if (unsigned ? value < 0n || value > UINT64_MAX : value < INT64_MIN || value > INT64_MAX) {
    throw new RangeError(`${value} does not fit ${unsigned ? 'uint64' : 'int64'}`);
  }
  const low = Number(BigInt.asIntN(32, value));
  const high = Number(BigInt.asIntN(32, value >> 32n));
  return { low, high, unsigned };
}

export function nanosToMillis(nanos: bigint): number {
  return Number(nanos / NANOS_PER_MILLI);
}

export function millisToNanos(millis: number): bigint {
  return BigInt(Math.trunc(millis)) * NANOS_PER_MILLI;
}

export function nanosToDate(nanos: bigint): Date {
  return new Date(nanosToMillis(nanos));
}

export function dateToNanos(date: Date): bigint {
  return millisToNanos(date.getTime());
}

export function microsToMillis(micros: bigint): number {
  return Number(micros / MICROS_PER_MILLI);
}

export function millisToMicros(millis: number): bigint {
  return BigInt(Math.trunc(millis)) * MICROS_PER_MILLI;
}
