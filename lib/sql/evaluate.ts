/**
 * Bound expressions compiled to column functions: `(table) => Column`, one array loop per node
 * per batch. Numbers (long, int, double, timestamp) stay in NumberColumns with a validity mask;
 * arithmetic and comparisons on them run as plain loops. The rest goes through a per-row scalar
 * function with SQL's null rules (null in, null out; AND/OR three-valued) and Spark's casts.
 */
import * as E from 'fp-ts/lib/Either.js';
import type { ColumnCompute } from '../stream/with-columns.js';
import { valueAt, type Column, type NumberColumn, type RowTable, type Value } from '../stream/table.js';
import type { BoundCall, BoundExpr } from './bound.js';
import { compileFormatter, compileParser, formatTimestamp, parseTimestampString, type TimeZone } from './datetime.js';
import { isNumberValued, javaDoubleToString, type SqlType } from './types.js';

export interface EvalContext {
  /** the session time zone: CAST(ts AS STRING), date_format, from_unixtime, parsing */
  readonly zone: TimeZone;
}

type Scalar = (args: readonly Value[]) => Value;

export function compileExpr(expr: BoundExpr, ctx: EvalContext): ColumnCompute {
  switch (expr.kind) {
    case 'literal': {
      const { value, type } = expr;
      return (table) => constant(value, type, table.length);
    }
    case 'column': {
      const { name } = expr;
      return (table) => {
        const found = table.columns.get(name);
        if (found !== undefined) return found;
        if (table.length === 0) return { kind: 'value', values: [] };
        throw new Error(`expression reads column '${name}', which the batch lacks (${[...table.columns.keys()].join(', ')})`);
      };
    }
    case 'call':
      return compileCall(expr, ctx);
  }
}

/** A row predicate for `filterRows`: true keeps the row; false and null drop it. */
export function compilePredicate(expr: BoundExpr, ctx: EvalContext): (table: RowTable) => ArrayLike<boolean> {
  const compute = compileExpr(expr, ctx);
  return (table) => {
    const column = compute(table);
    const n = table.length;
    const flags = new Array<boolean>(n);
    for (let i = 0; i < n; i++) flags[i] = valueAt(column, i) === true;
    return flags;
  };
}

function constant(value: Value, type: SqlType, n: number): Column {
  if (typeof value === 'number' || (value === null && isNumberValued(type))) {
    const values = new Array<number>(n).fill(typeof value === 'number' ? value : 0);
    return { kind: 'number', values, valid: value === null ? new Uint8Array(n) : undefined };
  }
  return { kind: 'value', values: new Array<Value>(n).fill(value) };
}

function compileCall(expr: BoundCall, ctx: EvalContext): ColumnCompute {
  const args = expr.args.map((arg) => compileExpr(arg, ctx));
  const numeric = numericKernel(expr);
  if (numeric !== undefined) {
    const [left, right] = args as [ColumnCompute, ColumnCompute | undefined];
    return (table) => {
      const a = left(table);
      const b = right === undefined ? undefined : right(table);
      if (a.kind === 'number' && (b === undefined || b.kind === 'number')) return numeric(a, b, table.length);
      return rowWise(table.length, [a, ...(b === undefined ? [] : [b])], scalarOf(expr, ctx), expr.type);
    };
  }
  if (expr.op === 'and' || expr.op === 'or') {
    const [left, right] = args as [ColumnCompute, ColumnCompute];
    const isAnd = expr.op === 'and';
    return (table) => {
      const a = left(table);
      const b = right(table);
      const n = table.length;
      const out = new Array<Value>(n);
      for (let i = 0; i < n; i++) out[i] = logic(isAnd, valueAt(a, i), valueAt(b, i));
      return { kind: 'value', values: out };
    };
  }
  if (expr.op === 'case') {
    const hasElse = expr.extra?.kind === 'case' && expr.extra.hasElse;
    const type = expr.type;
    return (table) => {
      const columns = args.map((arg) => arg(table));
      const pairs = hasElse ? columns.length - 1 : columns.length;
      return rowWise(
        table.length,
        columns,
        (values) => {
          for (let k = 0; k < pairs; k += 2) if (values[k] === true) return values[k + 1] ?? null;
          return hasElse ? (values[values.length - 1] ?? null) : null;
        },
        type,
      );
    };
  }
  if (expr.op === 'coalesce') {
    const type = expr.type;
    return (table) => rowWise(table.length, args.map((arg) => arg(table)), (values) => values.find((value) => value !== null) ?? null, type);
  }
  const scalar = scalarOf(expr, ctx);
  const strict = expr.op !== 'isNull' && expr.op !== 'isNotNull' && expr.op !== 'in';
  const type = expr.type;
  return (table) => {
    const columns = args.map((arg) => arg(table));
    return rowWise(table.length, columns, strict ? (values) => (values.includes(null) ? null : scalar(values)) : scalar, type);
  };
}

function rowWise(n: number, columns: readonly Column[], scalar: Scalar, type: SqlType): Column {
  const width = columns.length;
  const values = new Array<Value>(width);
  if (isNumberValued(type)) {
    const out = new Array<number>(n);
    let valid: Uint8Array | undefined;
    for (let i = 0; i < n; i++) {
      for (let k = 0; k < width; k++) values[k] = valueAt(columns[k] as Column, i);
      const result = scalar(values);
      if (typeof result === 'number') out[i] = result;
      else {
        out[i] = 0;
        (valid ??= new Uint8Array(n).fill(1))[i] = 0;
      }
    }
    return { kind: 'number', values: out, valid };
  }
  const out = new Array<Value>(n);
  for (let i = 0; i < n; i++) {
    for (let k = 0; k < width; k++) values[k] = valueAt(columns[k] as Column, i);
    out[i] = scalar(values);
  }
  return { kind: 'value', values: out };
}

// ---------------------------------------------------------------- numeric fast paths

type NumericKernel = (a: NumberColumn, b: NumberColumn | undefined, n: number) => Column;

function mergeValid(a: NumberColumn, b: NumberColumn | undefined, n: number): Uint8Array | undefined {
  const va = a.valid;
  const vb = b?.valid;
  if (va === undefined) return vb;
  if (vb === undefined) return va;
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = va[i]! & vb[i]!;
  return out;
}

function arithmetic(f: (x: number, y: number) => number, integral: boolean): NumericKernel {
  return (a, b, n) => {
    const x = a.values;
    const y = (b as NumberColumn).values;
    const out = new Array<number>(n);
    for (let i = 0; i < n; i++) out[i] = f(x[i] as number, y[i] as number);
    let valid = mergeValid(a, b, n);
    // integer division by zero (and x % 0) is null in Spark; so is a non-finite integral result
    if (integral) {
      for (let i = 0; i < n; i++) {
        if (!Number.isFinite(out[i] as number)) {
          if (valid === a.valid || valid === b?.valid) valid = valid === undefined ? new Uint8Array(n).fill(1) : valid.slice();
          (valid as Uint8Array)[i] = 0;
          out[i] = 0;
        }
      }
    }
    return { kind: 'number', values: out, valid };
  };
}

function comparison(f: (x: number, y: number) => boolean): NumericKernel {
  return (a, b, n) => {
    const x = a.values;
    const y = (b as NumberColumn).values;
    const valid = mergeValid(a, b, n);
    const out = new Array<Value>(n);
    for (let i = 0; i < n; i++) out[i] = valid !== undefined && valid[i] === 0 ? null : f(x[i] as number, y[i] as number);
    return { kind: 'value', values: out };
  };
}

function numericKernel(expr: BoundCall): NumericKernel | undefined {
  const integral = expr.type === 'long' || expr.type === 'int';
  switch (expr.op) {
    case 'add':
      return arithmetic((x, y) => x + y, integral);
    case 'subtract':
      return arithmetic((x, y) => x - y, integral);
    case 'multiply':
      return arithmetic((x, y) => x * y, integral);
    case 'divide':
      // Spark: x / 0 is null, also for doubles
      return arithmetic((x, y) => (y === 0 ? Number.NaN : x / y), true);
    case 'remainder':
      return arithmetic((x, y) => (y === 0 ? Number.NaN : x % y), true);
    case 'eq':
      return comparison((x, y) => x === y);
    case 'ne':
      return comparison((x, y) => x !== y);
    case 'lt':
      return comparison((x, y) => x < y);
    case 'le':
      return comparison((x, y) => x <= y);
    case 'gt':
      return comparison((x, y) => x > y);
    case 'ge':
      return comparison((x, y) => x >= y);
    case 'negate':
      return (a, _b, n) => {
        const out = new Array<number>(n);
        for (let i = 0; i < n; i++) out[i] = -(a.values[i] as number);
        return { kind: 'number', values: out, valid: a.valid };
      };
    case 'to_timestamp': {
      const from = expr.args[0]?.type;
      if (from === undefined || !(from === 'long' || from === 'int' || from === 'double') || expr.extra !== undefined) return undefined;
      // seconds → ms, truncated to whole microseconds as Spark's cast does
      return (a, _b, n) => {
        const out = new Array<number>(n);
        for (let i = 0; i < n; i++) out[i] = secondsToMs(a.values[i] as number);
        return { kind: 'number', values: out, valid: a.valid };
      };
    }
    default:
      return undefined;
  }
}

const secondsToMs = (seconds: number): number => Math.trunc(seconds * 1e6) / 1000;

function logic(isAnd: boolean, a: Value, b: Value): Value {
  if (isAnd) {
    if (a === false || b === false) return false;
    return a === null || b === null ? null : true;
  }
  if (a === true || b === true) return true;
  return a === null || b === null ? null : false;
}

// ---------------------------------------------------------------- scalar functions

function compare(a: Value, b: Value): number {
  if (typeof a === 'number' && typeof b === 'number') return a < b ? -1 : a > b ? 1 : 0;
  if (typeof a === 'string' && typeof b === 'string') return a < b ? -1 : a > b ? 1 : 0;
  if (typeof a === 'boolean' && typeof b === 'boolean') return Number(a) - Number(b);
  if (typeof a === 'bigint' && typeof b === 'bigint') return a < b ? -1 : a > b ? 1 : 0;
  if (a instanceof Uint8Array && b instanceof Uint8Array) return Buffer.compare(a, b);
  return Number(a) < Number(b) ? -1 : Number(a) > Number(b) ? 1 : 0;
}

function scalarOf(expr: BoundCall, ctx: EvalContext): Scalar {
  const zone = ctx.zone;
  switch (expr.op) {
    case 'negate':
      return ([a]) => -(a as number);
    case 'not':
      return ([a]) => !(a as boolean);
    case 'isNull':
      return ([a]) => a === null;
    case 'isNotNull':
      return ([a]) => a !== null;
    case 'add':
    case 'subtract':
    case 'multiply':
    case 'divide':
    case 'remainder': {
      const integral = expr.type === 'long' || expr.type === 'int';
      const f = {
        add: (x: number, y: number) => x + y,
        subtract: (x: number, y: number) => x - y,
        multiply: (x: number, y: number) => x * y,
        divide: (x: number, y: number) => (y === 0 ? null : x / y),
        remainder: (x: number, y: number) => (y === 0 ? null : x % y),
      }[expr.op];
      return ([a, b]) => {
        const result = f(Number(a), Number(b));
        return result === null || (integral && !Number.isFinite(result)) ? null : result;
      };
    }
    case 'eq':
      return ([a, b]) => compare(a ?? null, b ?? null) === 0;
    case 'ne':
      return ([a, b]) => compare(a ?? null, b ?? null) !== 0;
    case 'lt':
      return ([a, b]) => compare(a ?? null, b ?? null) < 0;
    case 'le':
      return ([a, b]) => compare(a ?? null, b ?? null) <= 0;
    case 'gt':
      return ([a, b]) => compare(a ?? null, b ?? null) > 0;
    case 'ge':
      return ([a, b]) => compare(a ?? null, b ?? null) >= 0;
    case 'in':
      // SQL: true if any equal; else null if the operand or any value is null; else false
      return (values) => {
        const operand = values[0] ?? null;
        if (operand === null) return null;
        let sawNull = false;
        for (let k = 1; k < values.length; k++) {
          const value = values[k] ?? null;
          if (value === null) sawNull = true;
          else if (compare(operand, value) === 0) return true;
        }
        return sawNull ? null : false;
      };
    case 'like': {
      const pattern = expr.extra?.kind === 'like' ? expr.extra.pattern : /^$/;
      return ([a]) => pattern.test(a as string);
    }
    case 'concat':
      return (values) => {
        const parts = values.map((value, k) => castValue(value, 'string', zone, expr.args[k]?.type));
        return parts.includes(null) ? null : parts.join('');
      };
    case 'abs':
      return ([a]) => Math.abs(a as number);
    case 'round': {
      const scale = expr.extra?.kind === 'round' ? expr.extra.scale : 0;
      return ([a]) => roundHalfUp(a as number, scale);
    }
    case 'cast': {
      const to = expr.type;
      const from = expr.extra?.kind === 'cast' ? expr.extra.from : undefined;
      return ([a]) => castValue(a ?? null, to, zone, from);
    }
    case 'to_timestamp': {
      if (expr.extra?.kind === 'format') {
        const parse = E.getOrElseW(() => () => null)(compileParser(expr.extra.pattern));
        return ([a]) => parse(a as string, zone);
      }
      const from = expr.args[0]?.type;
      return ([a]) => castValue(a ?? null, 'timestamp', zone, from);
    }
    case 'from_unixtime': {
      const format = E.getOrElseW(() => () => '')(compileFormatter(expr.extra?.kind === 'format' ? expr.extra.pattern : 'yyyy-MM-dd HH:mm:ss'));
      return ([a]) => format(Math.trunc(Number(a)) * 1000, zone);
    }
    case 'unix_timestamp': {
      // Spark divides microseconds by 10^6 truncating toward zero here (a CAST to long floors)
      if (expr.args[0]?.type === 'timestamp') return ([a]) => Math.trunc((a as number) / 1000);
      const parse = E.getOrElseW(() => () => null)(compileParser(expr.extra?.kind === 'format' ? expr.extra.pattern : 'yyyy-MM-dd HH:mm:ss'));
      return ([a]) => {
        const ms = parse(a as string, zone);
        return ms === null ? null : Math.trunc(ms / 1000);
      };
    }
    case 'date_format': {
      const format = E.getOrElseW(() => () => '')(compileFormatter(expr.extra?.kind === 'format' ? expr.extra.pattern : 'yyyy-MM-dd HH:mm:ss'));
      return ([a]) => format(a as number, zone);
    }
    default:
      throw new Error(`no scalar implementation for '${expr.op}'`);
  }
}

/** Spark's ROUND: half away from zero, at `scale` decimal places (negative: tens, hundreds, …). */
export function roundHalfUp(value: number, scale: number): number {
  if (!Number.isFinite(value)) return value;
  const factor = 10 ** Math.abs(scale);
  if (scale >= 0) {
    // through the shortest decimal text, so 2.675 rounds as written, not as its binary neighbour
    const shifted = Number(`${Math.abs(value)}e${scale}`);
    return Math.sign(value) * (Math.round(shifted) / factor) || 0;
  }
  return Math.sign(value) * Math.round(Math.abs(value) / factor) * factor || 0;
}

const TRUE_STRINGS = new Set(['t', 'true', 'y', 'yes', '1']);
const FALSE_STRINGS = new Set(['f', 'false', 'n', 'no', '0']);

/** Spark's (non-ANSI) CAST of one value: what cannot convert becomes null. */
export function castValue(value: Value, to: SqlType, zone: TimeZone, from?: SqlType): Value {
  if (value === null) return null;
  if (from === 'timestamp' && typeof value === 'number') {
    // a timestamp as a number is seconds since the epoch (Spark); fractional only as double
    if (to === 'double') return value / 1000;
    if (to === 'long' || to === 'int') return castValue(Math.floor(value / 1000), to, zone);
    if (to === 'timestamp') return value;
  }
  switch (to) {
    case 'string':
      return toText(value, zone, from);
    case 'double':
      if (typeof value === 'number') return value;
      if (typeof value === 'bigint') return Number(value);
      if (typeof value === 'boolean') return value ? 1 : 0;
      if (typeof value === 'string') {
        const trimmed = value.trim();
        const parsed = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?[dDfF]?$/.test(trimmed) ? Number.parseFloat(trimmed) : specialDouble(trimmed);
        return parsed === undefined ? null : parsed;
      }
      return null;
    case 'long':
    case 'int': {
      let n: number | null = null;
      if (typeof value === 'number') n = Number.isFinite(value) ? Math.trunc(value) : null;
      else if (typeof value === 'bigint') n = Number(value);
      else if (typeof value === 'boolean') n = value ? 1 : 0;
      else if (typeof value === 'string') {
        const trimmed = value.trim();
        n = /^[+-]?\d+(\.\d*)?$/.test(trimmed) ? Math.trunc(Number.parseFloat(trimmed)) : null;
      }
      if (n === null || !Number.isSafeInteger(n)) return null;
      if (to === 'int') return n > 2_147_483_647 || n < -2_147_483_648 ? null : n;
      return n;
    }
    case 'boolean':
      if (typeof value === 'boolean') return value;
      if (typeof value === 'number') return value !== 0;
      if (typeof value === 'string') {
        const lower = value.trim().toLowerCase();
        return TRUE_STRINGS.has(lower) ? true : FALSE_STRINGS.has(lower) ? false : null;
      }
      return null;
    case 'timestamp':
      if (typeof value === 'number') return secondsToMs(value);
      if (typeof value === 'bigint') return Number(value) * 1000;
      if (typeof value === 'string') return parseTimestampString(value, zone);
      return null;
    case 'binary':
      if (value instanceof Uint8Array) return value;
      if (typeof value === 'string') return new Uint8Array(Buffer.from(value, 'utf8'));
      return null;
    default:
      return value;
  }
}

function specialDouble(text: string): number | undefined {
  const lower = text.toLowerCase();
  if (lower === 'nan') return Number.NaN;
  if (lower === 'infinity' || lower === '+infinity' || lower === 'inf') return Number.POSITIVE_INFINITY;
  if (lower === '-infinity' || lower === '-inf') return Number.NEGATIVE_INFINITY;
  return undefined;
}

/** The text a value has as a Spark string; timestamps format in the session zone (null beyond its range). */
export function toText(value: Value, zone: TimeZone, type?: SqlType): string | null {
  if (typeof value === 'string') return value;
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  if (typeof value === 'bigint') return String(value);
  if (value instanceof Uint8Array) return Buffer.from(value).toString('utf8');
  if (typeof value === 'number') {
    if (type === 'timestamp') return formatTimestamp(value, zone);
    return Number.isInteger(value) && type !== 'double' ? String(value) : javaDoubleToString(value);
  }
  return String(value);
}
