import { expect } from 'vitest';
import { isLeft, isRight } from 'fp-ts/lib/Either.js';
import { parse } from '../../lib/sql/parser.js';
import { Redacted, type Expr, type Statement } from '../../lib/sql/ast.js';
import type { SqlError } from '../../lib/sql/errors.js';

/** The tree without source positions, for comparing shapes. */
export function strip<T>(node: T): unknown {
  if (Array.isArray(node)) return node.map(strip);
  if (node === null || typeof node !== 'object' || node instanceof Redacted) return node;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(node)) {
    if (key === 'loc' || key === 'opLoc' || key === 'typeLoc' || key === 'raw') continue;
    out[key] = strip(value);
  }
  return out;
}

export function parseOk(text: string): readonly Statement[] {
  const result = parse(text);
  if (isLeft(result)) throw new Error(`expected ${JSON.stringify(text)} to parse: ${JSON.stringify(result.left)}`);
  return result.right;
}

export function parseOne(text: string): Statement {
  const statements = parseOk(text);
  expect(statements).toHaveLength(1);
  return statements[0] as Statement;
}

export function parseErrors(text: string): readonly SqlError[] {
  const result = parse(text);
  if (isRight(result)) throw new Error(`expected ${JSON.stringify(text)} to fail, got ${result.right.length} statements`);
  return result.left;
}

/** The expression of `SELECT <expr>` without positions. */
export function expr(text: string): unknown {
  const statement = parseOne(`SELECT ${text}`);
  if (statement.kind !== 'Select') throw new Error('not a select');
  const [item] = statement.items;
  if (item?.kind !== 'SelectExpr' || item.alias !== null) throw new Error(`not a single unaliased item: ${text}`);
  return strip(item.expr);
}

/** Walks every node of a tree (objects with a string `kind`). */
export function* nodes(value: unknown): Generator<{ readonly kind: string; readonly [key: string]: unknown }> {
  if (Array.isArray(value)) {
    for (const item of value) yield* nodes(item);
    return;
  }
  if (value === null || typeof value !== 'object' || value instanceof Redacted) return;
  const record = value as Record<string, unknown>;
  if (typeof record['kind'] === 'string') yield record as { kind: string };
  for (const child of Object.values(record)) yield* nodes(child);
}

/** 1-based line/column of an offset, counting \n, \r\n and \r as one break. */
export function lineColumnAt(text: string, offset: number): { line: number; column: number } {
  let line = 1;
  let column = 1;
  for (let i = 0; i < offset; i++) {
    const char = text[i];
    if (char === '\n' || (char === '\r' && text[i + 1] !== '\n')) {
      line++;
      column = 1;
    } else {
      column++;
    }
  }
  return { line, column };
}

// ---- expected-tree builders (positions stripped)

export const id = (name: string, quoted = false) => ({ kind: 'Identifier', name, quoted });
export const col = (name: string, qualifier: string | null = null) => ({
  kind: 'ColumnRef',
  qualifier: qualifier === null ? null : id(qualifier),
  name: id(name),
});
export const num = (text: string) => ({ kind: 'NumberLiteral', value: Number(text), text, isInteger: /^\d+$/.test(text) });
export const str = (value: string) => ({ kind: 'StringLiteral', value });
export const bin = (op: string, left: unknown, right: unknown) => ({ kind: 'Binary', op, left, right });
export const call = (name: string, args: unknown[], extra: { distinct?: boolean; star?: boolean } = {}) => ({
  kind: 'FunctionCall',
  name: id(name),
  args,
  distinct: extra.distinct ?? false,
  star: extra.star ?? false,
});
export const interval = (milliseconds: number, text: string) => ({ kind: 'IntervalLiteral', milliseconds, text });
export const opt = (key: string, text: string, token: 'string' | 'number' | 'boolean' = 'string') => ({
  kind: 'Option',
  key,
  value: { kind: 'OptionValue', text, token },
});
export type { Expr };

/**
 * `line L, col C` of the `nth` occurrence of `needle` in `text` (plus `shift` characters), so
 * expected positions are found by searching the text, not by counting by hand.
 */
export function where(text: string, needle: string, nth = 1, shift = 0): string {
  let offset = -1;
  for (let i = 0; i < nth; i++) {
    offset = text.indexOf(needle, offset + 1);
    if (offset < 0) throw new Error(`'${needle}' not found ${nth} times`);
  }
  const { line, column } = lineColumnAt(text, offset + shift);
  return `line ${line}, col ${column}`;
}
