/**
 * Bound expressions: what the analyzer makes of the syntax tree once names are resolved and types
 * inferred. Readonly plain objects tagged by `kind`, like the AST; operators and functions are all
 * `call` nodes with an `op`, so the evaluator is one dispatch table. `text` is the expression as
 * the user wrote it (canonical spelling), for EXPLAIN and messages.
 */
import type { Value } from '../stream/table.js';
import type { SqlType } from './types.js';

export type UnaryOp = 'negate' | 'not' | 'isNull' | 'isNotNull';
export type ArithmeticOp = 'add' | 'subtract' | 'multiply' | 'divide' | 'remainder';
export type ComparisonOp = 'eq' | 'ne' | 'lt' | 'le' | 'gt' | 'ge';
export type LogicalOp = 'and' | 'or';
export type FunctionOp = 'coalesce' | 'concat' | 'abs' | 'round' | 'to_timestamp' | 'from_unixtime' | 'unix_timestamp' | 'date_format';
/** `in`: args[0] IN (args[1…]); `like`: args[0] LIKE (the compiled pattern); `case`: when, then, …, [else] */
export type SpecialOp = 'in' | 'like' | 'case' | 'cast';
export type Op = UnaryOp | ArithmeticOp | ComparisonOp | LogicalOp | FunctionOp | SpecialOp;

export interface BoundLiteral {
  readonly kind: 'literal';
  readonly type: SqlType;
  readonly value: Value;
  readonly text: string;
}

export interface BoundColumn {
  readonly kind: 'column';
  readonly type: SqlType;
  /** the column's name in the batch table (a catalog column, or one the planner computes) */
  readonly name: string;
  readonly text: string;
}

export interface BoundCall {
  readonly kind: 'call';
  readonly op: Op;
  readonly args: readonly BoundExpr[];
  readonly type: SqlType;
  readonly text: string;
  /** per-op data fixed at analysis: a LIKE pattern, a date pattern, CASE's else, a cast's source type */
  readonly extra?: CallExtra;
}

export type CallExtra =
  | { readonly kind: 'like'; readonly pattern: RegExp }
  | { readonly kind: 'case'; readonly hasElse: boolean }
  | { readonly kind: 'cast'; readonly from: SqlType }
  | { readonly kind: 'format'; readonly pattern: string }
  | { readonly kind: 'round'; readonly scale: number };

export type BoundExpr = BoundLiteral | BoundColumn | BoundCall;

export const literal = (type: SqlType, value: Value, text: string): BoundLiteral => ({ kind: 'literal', type, value, text });
export const column = (name: string, type: SqlType, text: string = name): BoundColumn => ({ kind: 'column', name, type, text });
export const call = (op: Op, args: readonly BoundExpr[], type: SqlType, text: string, extra?: CallExtra): BoundCall =>
  extra === undefined ? { kind: 'call', op, args, type, text } : { kind: 'call', op, args, type, text, extra };

/** Every column an expression reads. */
export function columnsOf(expr: BoundExpr, into: Set<string> = new Set()): Set<string> {
  if (expr.kind === 'column') into.add(expr.name);
  else if (expr.kind === 'call') for (const arg of expr.args) columnsOf(arg, into);
  return into;
}
