/**
 * SQL types as the analyzer sees them, and how their values look at run time:
 * string → string, long/int → number (safe integers; longs beyond ±(2^53−1) are bad rows at
 * decode), double → number, boolean → boolean, binary → Uint8Array, timestamp → number of
 * milliseconds since the epoch (fractional: Spark keeps microseconds), null → null.
 * `window` is the struct `GROUP BY window(…)` produces; only its `start`/`end` can be stored.
 */
import type { CatalogType } from '../stream/catalog.js';

export type SqlType = 'string' | 'long' | 'int' | 'double' | 'boolean' | 'binary' | 'timestamp' | 'null' | 'window';

export const isNumeric = (type: SqlType): boolean => type === 'long' || type === 'int' || type === 'double';
export const isIntegral = (type: SqlType): boolean => type === 'long' || type === 'int';
/** types whose run-time values are numbers (kept in NumberColumns) */
export const isNumberValued = (type: SqlType): boolean => isNumeric(type) || type === 'timestamp';

/** The wider of two numeric types (null adopts the other). */
export function widerNumeric(a: SqlType, b: SqlType): SqlType {
  if (a === 'null') return b;
  if (b === 'null') return a;
  if (a === 'double' || b === 'double') return 'double';
  if (a === 'long' || b === 'long') return 'long';
  return 'int';
}

/** The type values of both types can share (CASE branches, coalesce, IN lists), if any. */
export function commonType(a: SqlType, b: SqlType): SqlType | undefined {
  if (a === b) return a;
  if (a === 'null') return b;
  if (b === 'null') return a;
  if (isNumeric(a) && isNumeric(b)) return widerNumeric(a, b);
  return undefined;
}

export function catalogSqlType(type: CatalogType): SqlType {
  return type;
}

/** How a type is named in messages and EXPLAIN (Spark's spelling). */
export function typeName(type: SqlType): string {
  switch (type) {
    case 'long':
      return 'bigint';
    case 'window':
      return 'struct<start: timestamp, end: timestamp>';
    default:
      return type;
  }
}

/**
 * Java's Double.toString, which Spark uses for CAST(double AS STRING): `1.0`, `0.001`,
 * `1.0E-4`, `1.2345678E7`, `NaN`, `Infinity`. Both use the shortest repr that round-trips.
 */
export function javaDoubleToString(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Number.POSITIVE_INFINITY) return 'Infinity';
  if (value === Number.NEGATIVE_INFINITY) return '-Infinity';
  if (value === 0) return Object.is(value, -0) ? '-0.0' : '0.0';
  const magnitude = Math.abs(value);
  if (magnitude >= 1e-3 && magnitude < 1e7) {
    const text = String(value);
    return text.includes('.') ? text : `${text}.0`;
  }
  // scientific: shortest digits, mantissa with at least one fractional digit
  const [mantissa = '', exponent = '0'] = value.toExponential().split('e');
  const digits = mantissa.includes('.') ? mantissa : `${mantissa}.0`;
  return `${digits}E${Number(exponent)}`;
}
