/**
 * Aggregate functions: what `aggregate()` computes per group. Specs are plain tagged objects (the
 * SQL planner builds them); kernels are their batch implementations: each adds all (row, group)
 * pairs of a batch in one loop, so the per-row cost is an array read and an add.
 *
 * Results follow Spark SQL: count → number of rows (count(col): of non-null values), sum / avg /
 * min / max → null when no non-null value was seen, count(DISTINCT col) ignores nulls. sum of
 * bigint values (longs kept exact) stays a bigint. first / last keep the value of the row that
 * came first / last — by arrival order, or by the `by` column (ties by arrival order), so results
 * do not depend on how batches were cut. User-defined aggregates ({init, add, merge, result}) hold
 * any accumulator the state codec can persist (plain objects, arrays, Map, Set, bigint, bytes).
 */
import type { EventTime } from './event-time.js';
import { eventTimes } from './event-time.js';
import { rowAt, valueAt, type Column, type RowTable, type Value } from './table.js';

/** A column of the batch by name, or computed from the batch. */
export type ColumnRef = string | ((table: RowTable) => Column);

export interface UserAggregate<A, R extends Value = Value> {
  init(): A;
  /** `input` is the column's value, or the whole row when the aggregate has no input column */
  add(accumulator: A, input: Value | Readonly<Record<string, Value>>): A;
  merge(left: A, right: A): A;
  result(accumulator: A): R;
}

export type AggregateSpec =
  | { readonly kind: 'count'; readonly input: ColumnRef | undefined }
  | { readonly kind: 'sum' | 'avg' | 'min' | 'max' | 'countDistinct'; readonly input: ColumnRef }
  | { readonly kind: 'first' | 'last'; readonly input: ColumnRef; readonly by: EventTime | undefined; readonly ignoreNulls: boolean }
  | { readonly kind: 'udaf'; readonly input: ColumnRef | undefined; readonly fn: UserAggregate<unknown> };

/** count(*) without an input, count(col) with one */
export const count = (input?: ColumnRef): AggregateSpec => ({ kind: 'count', input });
export const sum = (input: ColumnRef): AggregateSpec => ({ kind: 'sum', input });
export const avg = (input: ColumnRef): AggregateSpec => ({ kind: 'avg', input });
export const min = (input: ColumnRef): AggregateSpec => ({ kind: 'min', input });
export const max = (input: ColumnRef): AggregateSpec => ({ kind: 'max', input });
export const countDistinct = (input: ColumnRef): AggregateSpec => ({ kind: 'countDistinct', input });
export const first = (input: ColumnRef, options: { readonly by?: EventTime; readonly ignoreNulls?: boolean } = {}): AggregateSpec => ({
  kind: 'first',
  input,
  by: options.by,
  ignoreNulls: options.ignoreNulls ?? false,
});
export const last = (input: ColumnRef, options: { readonly by?: EventTime; readonly ignoreNulls?: boolean } = {}): AggregateSpec => ({
  kind: 'last',
  input,
  by: options.by,
  ignoreNulls: options.ignoreNulls ?? false,
});
export const udaf = <A, R extends Value>(fn: UserAggregate<A, R>, input?: ColumnRef): AggregateSpec => ({
  kind: 'udaf',
  input,
  fn: fn as unknown as UserAggregate<unknown>,
});

/** The accumulators of one group: numeric slots in a Float64Array, the others in an array. */
export interface Accumulators {
  readonly num: Float64Array;
  readonly obj: unknown[];
}

/**
 * One batch as the kernels see it: its pairs cut into runs of consecutive pairs of one group
 * (time-ordered rows of one window make long runs), so a kernel accumulates a run in locals and
 * touches the group once per run.
 */
export interface PairInput {
  readonly table: RowTable;
  /** the row of each pair */
  readonly rows: readonly number[];
  /** the group of each run */
  readonly runs: readonly Accumulators[];
  /** run r covers pairs [bounds[r], bounds[r + 1]) */
  readonly bounds: readonly number[];
  /** arrival sequence number of pair 0; pair j has `seq + j` */
  readonly seq: number;
}

export interface Kernel {
  readonly numSlots: number;
  readonly objSlots: number;
  init(into: Accumulators, num: number, obj: number): void;
  add(input: PairInput, num: number, obj: number): void;
  merge(into: Accumulators, from: Accumulators, num: number, obj: number): void;
  result(of: Accumulators, num: number, obj: number): Value;
}

export function resolveColumn(table: RowTable, ref: ColumnRef): Column {
  if (typeof ref === 'function') return ref(table);
  const column = table.columns.get(ref);
  if (column !== undefined) return column;
  if (table.length === 0) return { kind: 'value', values: [] };
  throw new Error(`aggregate input column '${ref}' is not among the batch's columns (${[...table.columns.keys()].join(', ')})`);
}

export function kernelOf(spec: AggregateSpec): Kernel {
  switch (spec.kind) {
    case 'count':
      return spec.input === undefined ? countRows : countValues(spec.input);
    case 'sum':
      return sumKernel(spec.input, false);
    case 'avg':
      return sumKernel(spec.input, true);
    case 'min':
      return extremeKernel(spec.input, -1);
    case 'max':
      return extremeKernel(spec.input, 1);
    case 'countDistinct':
      return distinctKernel(spec.input);
    case 'first':
    case 'last':
      return orderedKernel(spec.input, spec.kind, spec.by, spec.ignoreNulls);
    case 'udaf':
      return userKernel(spec.fn, spec.input);
  }
}

const countRows: Kernel = {
  numSlots: 1,
  objSlots: 0,
  init() {},
  add({ runs, bounds }, num) {
    for (let r = 0; r < runs.length; r++) (runs[r] as Accumulators).num[num]! += (bounds[r + 1] as number) - (bounds[r] as number);
  },
  merge(into, from, num) {
    into.num[num] = (into.num[num] as number) + (from.num[num] as number);
  },
  result: (of, num) => of.num[num] as number,
};

function countValues(input: ColumnRef): Kernel {
  return {
    ...countRows,
    add({ table, rows, runs, bounds }, num) {
      const column = resolveColumn(table, input);
      for (let r = 0; r < runs.length; r++) {
        const end = bounds[r + 1] as number;
        let seen = 0;
        if (column.kind === 'number') {
          const valid = column.valid;
          if (valid === undefined) seen = end - (bounds[r] as number);
          else for (let j = bounds[r] as number; j < end; j++) if (valid[rows[j] as number] !== 0) seen++;
        } else {
          const values = column.values;
          for (let j = bounds[r] as number; j < end; j++) if (values[rows[j] as number] !== null) seen++;
        }
        (runs[r] as Accumulators).num[num]! += seen;
      }
    },
  };
}

/** sum and avg: num slots [sum, non-null count]; obj slot: the bigint part of a sum of exact longs */
function sumKernel(input: ColumnRef, average: boolean): Kernel {
  return {
    numSlots: 2,
    objSlots: 1,
    init(into, _num, obj) {
      into.obj[obj] = null;
    },
    add({ table, rows, runs, bounds }, num, obj) {
      const column = resolveColumn(table, input);
      if (column.kind === 'number') {
        const values = column.values;
        const valid = column.valid;
        for (let r = 0; r < runs.length; r++) {
          const end = bounds[r + 1] as number;
          let total = 0;
          let seen = 0;
          if (valid === undefined) {
            for (let j = bounds[r] as number; j < end; j++) total += values[rows[j] as number] as number;
            seen = end - (bounds[r] as number);
          } else {
            for (let j = bounds[r] as number; j < end; j++) {
              const row = rows[j] as number;
              if (valid[row] === 0) continue;
              total += values[row] as number;
              seen++;
            }
          }
          const acc = (runs[r] as Accumulators).num;
          acc[num]! += total;
          acc[num + 1]! += seen;
        }
        return;
      }
      const values = column.values;
      for (let r = 0; r < runs.length; r++) {
        const group = runs[r] as Accumulators;
        const end = bounds[r + 1] as number;
        for (let j = bounds[r] as number; j < end; j++) {
          const value = values[rows[j] as number];
          if (value === null || value === undefined) continue;
          if (typeof value === 'number') group.num[num]! += value;
          else if (typeof value === 'bigint') {
            if (average) group.num[num]! += Number(value);
            else group.obj[obj] = ((group.obj[obj] as bigint | null) ?? 0n) + value;
          } else throw new TypeError(`${average ? 'avg' : 'sum'}(): a ${typeof value} is not a number`);
          group.num[num + 1]!++;
        }
      }
    },
    merge(into, from, num, obj) {
      into.num[num] = (into.num[num] as number) + (from.num[num] as number);
      into.num[num + 1] = (into.num[num + 1] as number) + (from.num[num + 1] as number);
      const big = from.obj[obj] as bigint | null;
      if (big !== null) into.obj[obj] = ((into.obj[obj] as bigint | null) ?? 0n) + big;
    },
    result(of, num, obj) {
      const seen = of.num[num + 1] as number;
      if (seen === 0) return null;
      const total = of.num[num] as number;
      if (average) return total / seen;
      const big = of.obj[obj] as bigint | null;
      if (big === null) return total;
      return total === 0 ? big : Number(big) + total;
    },
  };
}

/** Orders values of one column type; bytes compare lexicographically. */
export function compareValues(a: Exclude<Value, null>, b: Exclude<Value, null>): number {
  if (a instanceof Uint8Array && b instanceof Uint8Array) return Buffer.compare(a, b);
  return a < b ? -1 : a > b ? 1 : 0;
}

/** min (sign -1) and max (sign 1): obj slot holds the extreme value or null */
function extremeKernel(input: ColumnRef, sign: 1 | -1): Kernel {
  const better = (candidate: Exclude<Value, null>, current: Value): boolean => current === null || compareValues(candidate, current as Exclude<Value, null>) * sign > 0;
  return {
    numSlots: 0,
    objSlots: 1,
    init(into, _num, obj) {
      into.obj[obj] = null;
    },
    add({ table, rows, runs, bounds }, _num, obj) {
      const column = resolveColumn(table, input);
      for (let r = 0; r < runs.length; r++) {
        const group = runs[r] as Accumulators;
        const end = bounds[r + 1] as number;
        let current = group.obj[obj] as Value;
        if (column.kind === 'number') {
          const values = column.values;
          const valid = column.valid;
          for (let j = bounds[r] as number; j < end; j++) {
            const row = rows[j] as number;
            if (valid !== undefined && valid[row] === 0) continue;
            const value = values[row] as number;
            if (current === null || (sign > 0 ? value > (current as number) : value < (current as number))) current = value;
          }
        } else {
          const values = column.values;
          for (let j = bounds[r] as number; j < end; j++) {
            const value = values[rows[j] as number];
            if (value !== null && value !== undefined && better(value, current)) current = value;
          }
        }
        group.obj[obj] = current;
      }
    },
    merge(into, from, _num, obj) {
      const value = from.obj[obj] as Value;
      if (value !== null && better(value, into.obj[obj] as Value)) into.obj[obj] = value;
    },
    result: (of, _num, obj) => of.obj[obj] as Value,
  };
}

/** count(DISTINCT col): obj slot holds a Set of the values (bytes as hex strings) */
function distinctKernel(input: ColumnRef): Kernel {
  return {
    numSlots: 0,
    objSlots: 1,
    init(into, _num, obj) {
      into.obj[obj] = new Set();
    },
    add({ table, rows, runs, bounds }, _num, obj) {
      const column = resolveColumn(table, input);
      for (let r = 0; r < runs.length; r++) {
        const distinct = (runs[r] as Accumulators).obj[obj] as Set<unknown>;
        const end = bounds[r + 1] as number;
        for (let j = bounds[r] as number; j < end; j++) {
          const value = valueAt(column, rows[j] as number);
          if (value !== null) distinct.add(value instanceof Uint8Array ? Buffer.from(value).toString('hex') : value);
        }
      }
    },
    merge(into, from, _num, obj) {
      const target = into.obj[obj] as Set<unknown>;
      for (const value of from.obj[obj] as Set<unknown>) target.add(value);
    },
    result: (of, _num, obj) => (of.obj[obj] as Set<unknown>).size,
  };
}

/**
 * first / last: num slots [order, arrival], obj slot: the value. `order` is the `by` time (0
 * without one); a row replaces the kept one when it is earlier (first) or later (last) in
 * (order, arrival).
 */
function orderedKernel(input: ColumnRef, kind: 'first' | 'last', by: EventTime | undefined, ignoreNulls: boolean): Kernel {
  const wins = (order: number, seq: number, keptOrder: number, keptSeq: number): boolean =>
    keptOrder !== keptOrder || (kind === 'first' ? order < keptOrder || (order === keptOrder && seq < keptSeq) : order > keptOrder || (order === keptOrder && seq > keptSeq));
  return {
    numSlots: 2,
    objSlots: 1,
    init(into, num, obj) {
      into.num[num] = Number.NaN;
      into.num[num + 1] = Number.NaN;
      into.obj[obj] = null;
    },
    add({ table, rows, runs, bounds, seq }, num, obj) {
      const column = resolveColumn(table, input);
      const orders = by === undefined ? undefined : eventTimes(table, by);
      for (let r = 0; r < runs.length; r++) {
        const group = runs[r] as Accumulators;
        const end = bounds[r + 1] as number;
        for (let j = bounds[r] as number; j < end; j++) {
          const row = rows[j] as number;
          const value = valueAt(column, row);
          if (ignoreNulls && value === null) continue;
          const order = orders === undefined ? 0 : (orders[row] as number);
          if (order !== order) continue;
          if (wins(order, seq + j, group.num[num] as number, group.num[num + 1] as number)) {
            group.num[num] = order;
            group.num[num + 1] = seq + j;
            group.obj[obj] = value;
          }
        }
      }
    },
    merge(into, from, num, obj) {
      const order = from.num[num] as number;
      if (order !== order) return;
      if (wins(order, from.num[num + 1] as number, into.num[num] as number, into.num[num + 1] as number)) {
        into.num[num] = order;
        into.num[num + 1] = from.num[num + 1] as number;
        into.obj[obj] = from.obj[obj];
      }
    },
    result: (of, _num, obj) => of.obj[obj] as Value,
  };
}

function userKernel(fn: UserAggregate<unknown>, input: ColumnRef | undefined): Kernel {
  return {
    numSlots: 0,
    objSlots: 1,
    init(into, _num, obj) {
      into.obj[obj] = fn.init();
    },
    add({ table, rows, runs, bounds }, _num, obj) {
      const column = input === undefined ? undefined : resolveColumn(table, input);
      for (let r = 0; r < runs.length; r++) {
        const group = runs[r] as Accumulators;
        const end = bounds[r + 1] as number;
        let accumulator = group.obj[obj];
        for (let j = bounds[r] as number; j < end; j++) {
          const row = rows[j] as number;
          accumulator = fn.add(accumulator, column === undefined ? rowAt(table, row) : valueAt(column, row));
        }
        group.obj[obj] = accumulator;
      }
    },
    merge(into, from, _num, obj) {
      into.obj[obj] = fn.merge(into.obj[obj], from.obj[obj]);
    },
    result: (of, _num, obj) => fn.result(of.obj[obj]),
  };
}
