/**
 * Column conditions (conditional writes) and read filters share one AST, as on the wire
 * (`Filter` in tablestore_filter.proto). Evaluation is over the versions a request may see.
 *
 * Decisions the service leaves open (tablestore-wire §8): comparing values of different types
 * is never true — for every comparator, NOT_EQUAL included — because the service compares
 * only within a type; column pagination is only legal as the whole filter of a read.
 */
import * as E from 'fp-ts/lib/Either.js';
import type { ColumnValue, PrimaryKeyCell } from '../wire/types.js';
import { type OtsError, parameterInvalid } from './errors.js';
import type { StoredColumn } from './stored-row.js';
import { LIMITS } from './table-meta.js';

export type Comparator = 'EQUAL' | 'NOT_EQUAL' | 'GREATER_THAN' | 'GREATER_EQUAL' | 'LESS_THAN' | 'LESS_EQUAL';
export type LogicalOperator = 'NOT' | 'AND' | 'OR';

export interface SingleColumnCondition {
  readonly kind: 'single';
  readonly comparator: Comparator;
  readonly columnName: string;
  readonly value: ColumnValue;
  /** the condition's result when the column has no (visible) version */
  readonly passIfMissing: boolean;
  /** compare only the newest visible version; otherwise any version may match */
  readonly latestVersionOnly: boolean;
}

export interface CompositeCondition {
  readonly kind: 'composite';
  readonly operator: LogicalOperator;
  readonly conditions: readonly ColumnCondition[];
}

export interface ColumnPagination {
  readonly kind: 'pagination';
  readonly offset: number;
  readonly limit: number;
}

export type ColumnCondition = SingleColumnCondition | CompositeCondition | ColumnPagination;

/** Checks shape and limits; `allowPagination` only for a read's top-level filter. */
export const validateCondition = (condition: ColumnCondition, allowPagination: boolean): E.Either<OtsError, ColumnCondition> => {
  let count = 0;
  const visit = (node: ColumnCondition, top: boolean): OtsError | undefined => {
    count++;
    switch (node.kind) {
      case 'pagination':
        if (!(allowPagination && top)) return parameterInvalid('ColumnPaginationFilter can only be used alone as the filter of a read.');
        if (node.offset < 0 || node.limit < 0) return parameterInvalid('The offset and limit of ColumnPaginationFilter must not be negative.');
        return undefined;
      case 'single':
        if (node.columnName.length === 0) return parameterInvalid('The column name of a condition must not be empty.');
        if (typeof node.value === 'number' && !Number.isFinite(node.value)) {
          return parameterInvalid('NaN or Infinity can not be used as the value of a condition.');
        }
        return undefined;
      case 'composite': {
        const n = node.conditions.length;
        if (node.operator === 'NOT' && n !== 1) return parameterInvalid(`The number of sub conditions of NOT must be 1, got ${n}.`);
        if (node.operator !== 'NOT' && n < 2) {
          return parameterInvalid(`The number of sub conditions of ${node.operator} must be at least 2, got ${n}.`);
        }
        for (const sub of node.conditions) {
          const error = visit(sub, false);
          if (error !== undefined) return error;
        }
        return undefined;
      }
    }
  };
  const error = visit(condition, true);
  if (error !== undefined) return E.left(error);
  if (count > LIMITS.maxFilterConditions) {
    return E.left(parameterInvalid(`The number of conditions exceeds the limit: ${LIMITS.maxFilterConditions}.`));
  }
  return E.right(condition);
};

const textEncoder = new TextEncoder();

/** -1/0/1, or undefined when the values have different types. */
export const compareValues = (a: ColumnValue, b: ColumnValue): number | undefined => {
  if (typeof a !== typeof b) return undefined;
  switch (typeof a) {
    case 'bigint':
    case 'number':
      return a < (b as typeof a) ? -1 : a > (b as typeof a) ? 1 : 0;
    case 'boolean':
      return Number(a) - Number(b as boolean);
    case 'string':
      return a === b ? 0 : Math.sign(Buffer.compare(textEncoder.encode(a), textEncoder.encode(b as string)));
    default:
      if (!(b instanceof Uint8Array)) return undefined;
      return Math.sign(Buffer.compare(a, b));
  }
};

const holds = (comparator: Comparator, order: number | undefined): boolean => {
  if (order === undefined) return false;
  switch (comparator) {
    case 'EQUAL':
      return order === 0;
    case 'NOT_EQUAL':
      return order !== 0;
    case 'GREATER_THAN':
      return order > 0;
    case 'GREATER_EQUAL':
      return order >= 0;
    case 'LESS_THAN':
      return order < 0;
    case 'LESS_EQUAL':
      return order <= 0;
  }
};

/** What a condition sees of a row: the key and each column's visible versions (newest first). */
export interface ConditionView {
  readonly primaryKey: readonly PrimaryKeyCell[];
  column(name: string): StoredColumn | undefined;
}

/** Evaluates a condition; pagination nodes are projections, not predicates, and hold. */
export const evaluateCondition = (condition: ColumnCondition, view: ConditionView): boolean => {
  switch (condition.kind) {
    case 'pagination':
      return true;
    case 'composite':
      switch (condition.operator) {
        case 'NOT':
          return !evaluateCondition(condition.conditions[0]!, view);
        case 'AND':
          return condition.conditions.every((c) => evaluateCondition(c, view));
        case 'OR':
          return condition.conditions.some((c) => evaluateCondition(c, view));
      }
      return false;
    case 'single': {
      const pkCell = view.primaryKey.find((c) => c.name === condition.columnName);
      if (pkCell !== undefined) {
        const value = pkCell.value;
        if (typeof value === 'object' && !(value instanceof Uint8Array)) return condition.passIfMissing;
        return holds(condition.comparator, compareValues(value, condition.value));
      }
      const column = view.column(condition.columnName);
      if (column === undefined || column.versions.length === 0) return condition.passIfMissing;
      if (condition.latestVersionOnly) {
        return holds(condition.comparator, compareValues(column.versions[0]!.value, condition.value));
      }
      return column.versions.some((v) => holds(condition.comparator, compareValues(v.value, condition.value)));
    }
  }
};
