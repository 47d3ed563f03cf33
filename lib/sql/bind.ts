/**
 * Name resolution and type inference for expressions: AST → {@link BoundExpr}, collecting every
 * problem as a located SqlError (with a did-you-mean where a name is close to a known one).
 *
 * Two modes. Row mode binds against the columns of the source (WHERE, GROUP BY keys, aggregate
 * arguments, the SELECT list of a query without aggregation). Grouped mode binds the SELECT list
 * and HAVING of an aggregating query: a sub-expression equal to a GROUP BY key becomes that key's
 * column, an aggregate call becomes a column of the aggregation's output, `window.start`/`end` the
 * window bounds; any other column is an error, as in Spark.
 */
import * as E from 'fp-ts/lib/Either.js';
import type { ColumnRef, Expr, FunctionCall, Identifier, SourceLocation } from './ast.js';
import { call, column, literal, type BoundExpr, type Op } from './bound.js';
import { compileFormatter, compileParser } from './datetime.js';
import { closestMatch, sqlError, type SqlError } from './errors.js';
import { formatExpression } from './printer.js';
import { commonType, isIntegral, isNumeric, typeName, widerNumeric, type SqlType } from './types.js';

export interface ScopeColumn {
  /** the column's name in the batch table */
  readonly name: string;
  readonly type: SqlType;
}

/** The columns a row-mode expression may read, by lower-cased name, and the names that qualify them. */
export interface RowScope {
  readonly columns: ReadonlyMap<string, ScopeColumn>;
  /** relation names and aliases (lower case) accepted as `qualifier.column` */
  readonly qualifiers: ReadonlySet<string>;
  /** for messages: `order_source_stream_view` */
  readonly relation: string;
}

export const AGGREGATES = ['count', 'sum', 'avg', 'min', 'max', 'first', 'last'] as const;
export type AggregateName = (typeof AGGREGATES)[number];
const WINDOW_FUNCTIONS = ['window', 'session_window', 'tumbling', 'hopping'];
const SCALAR_FUNCTIONS = ['coalesce', 'concat', 'abs', 'round', 'to_timestamp', 'from_unixtime', 'unix_timestamp', 'date_format'];
const KNOWN = [...AGGREGATES, ...WINDOW_FUNCTIONS, ...SCALAR_FUNCTIONS, 'delay', 'watermark'];

export const isAggregateCall = (expr: Expr): expr is FunctionCall =>
  expr.kind === 'FunctionCall' && (AGGREGATES as readonly string[]).includes(expr.name.name.toLowerCase());

/** Structural identity of two expressions, ignoring locations and the case of names. */
export function exprKey(expr: Expr): string {
  return JSON.stringify(expr, (key, value: unknown) => {
    if (key === 'loc' || key === 'opLoc' || key === 'typeLoc') return undefined;
    if (value !== null && typeof value === 'object' && (value as { kind?: unknown }).kind === 'Identifier') {
      return (value as Identifier).name.toLowerCase();
    }
    return value;
  });
}

/** Whether an aggregate call appears anywhere in the expression. */
export function containsAggregate(expr: Expr): boolean {
  let found = false;
  visit(expr, (node) => {
    if (isAggregateCall(node)) found = true;
  });
  return found;
}

export function visit(expr: Expr, fn: (node: Expr) => void): void {
  fn(expr);
  for (const child of children(expr)) visit(child, fn);
}

function children(expr: Expr): readonly Expr[] {
  switch (expr.kind) {
    case 'Unary':
      return [expr.operand];
    case 'Binary':
      return [expr.left, expr.right];
    case 'IsNull':
      return [expr.operand];
    case 'InList':
      return [expr.operand, ...expr.values];
    case 'Between':
      return [expr.operand, expr.low, expr.high];
    case 'Like':
      return [expr.operand, expr.pattern];
    case 'Case':
      return [...(expr.operand === null ? [] : [expr.operand]), ...expr.branches.flatMap((b) => [b.when, b.then]), ...(expr.otherwise === null ? [] : [expr.otherwise])];
    case 'Cast':
      return [expr.operand];
    case 'FunctionCall':
      return expr.args;
    default:
      return [];
  }
}

/** An aggregate the grouped SELECT/HAVING asks for; `name` is its column in the aggregation output. */
export interface AggregateUse {
  readonly name: string;
  readonly fn: AggregateName;
  readonly distinct: boolean;
  /** null for count(*) */
  readonly input: BoundExpr | null;
  readonly type: SqlType;
  readonly text: string;
  readonly key: string;
}

/** What grouped mode resolves against. */
export interface GroupedScope {
  /** GROUP BY keys by exprKey → their column in the aggregation output */
  readonly keys: ReadonlyMap<string, ScopeColumn>;
  /** present when the query groups by a window */
  readonly window: { readonly key: string } | undefined;
  readonly aggregates: AggregateUse[];
}

export const WINDOW_START = '__window_start';
export const WINDOW_END = '__window_end';
export const WINDOW_STRUCT = 'window';

export class Binder {
  readonly errors: SqlError[] = [];

  constructor(private readonly rows: RowScope) {}

  private error(at: SourceLocation, message: string, hint?: string): void {
    this.errors.push(sqlError(at, message, hint));
  }

  /** Row mode: aggregates and window functions are errors (`where` names the clause for messages). */
  bindRow(expr: Expr, where: string): BoundExpr {
    return this.bind(expr, (node) => {
      if (node.kind === 'FunctionCall') {
        const name = node.name.name.toLowerCase();
        if ((AGGREGATES as readonly string[]).includes(name)) {
          this.error(node.loc, `aggregate function ${name}() is not allowed in ${where}`, where === 'WHERE' ? 'filter groups with HAVING' : undefined);
          return nullLiteral(node);
        }
        if (WINDOW_FUNCTIONS.includes(name)) {
          this.error(node.loc, `${name}() is only allowed in GROUP BY`);
          return nullLiteral(node);
        }
      }
      if (node.kind === 'WindowBound') {
        this.error(node.loc, `window.${node.bound} is only available when the query groups by a window`, "add GROUP BY window(<time>, '30 seconds')");
        return nullLiteral(node);
      }
      return undefined;
    });
  }

  /** Grouped mode (SELECT list and HAVING of an aggregating query). */
  bindGrouped(expr: Expr, scope: GroupedScope): BoundExpr {
    const leaf = (node: Expr): BoundExpr | undefined => {
      const key = scope.keys.get(exprKey(node));
      if (key !== undefined) return column(key.name, key.type, formatExpression(node));
      if (node.kind === 'FunctionCall') {
        const name = node.name.name.toLowerCase();
        if ((AGGREGATES as readonly string[]).includes(name)) return this.aggregate(node, name as AggregateName, scope);
        if (WINDOW_FUNCTIONS.includes(name)) {
          if (scope.window !== undefined && scope.window.key === exprKey(node)) return column(WINDOW_STRUCT, 'window', formatExpression(node));
          this.error(node.loc, `${name}() here differs from the window in GROUP BY`, 'select window.start / window.end');
          return nullLiteral(node);
        }
      }
      if (node.kind === 'WindowBound') {
        if (scope.window === undefined) {
          this.error(node.loc, `window.${node.bound} is only available when the query groups by a window`, "add window(<time>, '30 seconds') to GROUP BY");
          return nullLiteral(node);
        }
        return column(node.bound === 'start' ? WINDOW_START : WINDOW_END, 'timestamp', `window.${node.bound}`);
      }
      if (node.kind === 'ColumnRef') {
        if (node.qualifier === null && !node.name.quoted && node.name.name.toLowerCase() === 'window' && scope.window !== undefined) {
          return column(WINDOW_STRUCT, 'window', 'window');
        }
        const resolved = this.resolve(node);
        if (resolved !== undefined) {
          this.error(
            node.loc,
            `column '${node.name.name}' is neither in GROUP BY nor inside an aggregate function`,
            `add it to GROUP BY, or aggregate it, e.g. first(${node.name.name})`,
          );
        }
        return nullLiteral(node);
      }
      return undefined;
    };
    return this.bind(expr, leaf);
  }

  private aggregate(node: FunctionCall, fn: AggregateName, scope: GroupedScope): BoundExpr {
    const text = formatExpression(node);
    const key = exprKey(node);
    const known = scope.aggregates.find((use) => use.key === key);
    if (known !== undefined) return column(known.name, known.type, text);
    let input: BoundExpr | null = null;
    let type: SqlType = 'long';
    if (node.star) {
      if (fn !== 'count') this.error(node.loc, `'*' is only allowed in count(*)`);
    } else {
      if (node.args.length !== 1) {
        this.error(node.loc, `${fn}() takes one argument, not ${node.args.length}`);
        return nullLiteral(node);
      }
      const arg = node.args[0] as Expr;
      if (containsAggregate(arg)) {
        this.error(arg.loc, `aggregate functions cannot be nested: ${formatExpression(arg)} inside ${fn}()`);
        return nullLiteral(node);
      }
      input = this.bindRow(arg, `${fn}()`);
      if (node.distinct && fn !== 'count') this.error(node.loc, `DISTINCT is only supported in count(DISTINCT …), not in ${fn}()`);
      switch (fn) {
        case 'count':
          type = 'long';
          break;
        case 'sum':
          if (!isNumeric(input.type) && input.type !== 'null') this.error(arg.loc, `sum() needs a number, not ${typeName(input.type)} (${formatExpression(arg)})`);
          type = input.type === 'double' ? 'double' : 'long';
          break;
        case 'avg':
          if (!isNumeric(input.type) && input.type !== 'null') this.error(arg.loc, `avg() needs a number, not ${typeName(input.type)} (${formatExpression(arg)})`);
          type = 'double';
          break;
        default:
          if (input.type === 'window' || input.type === 'binary') this.error(arg.loc, `${fn}() cannot take ${typeName(input.type)}`);
          type = input.type === 'int' && (fn === 'min' || fn === 'max' || fn === 'first' || fn === 'last') ? 'int' : input.type;
      }
    }
    const use: AggregateUse = { name: `__agg${scope.aggregates.length}`, fn, distinct: node.distinct, input, type, text, key };
    scope.aggregates.push(use);
    return column(use.name, use.type, text);
  }

  /** The column a reference names in the row scope, or undefined after reporting why not. */
  resolve(ref: ColumnRef): ScopeColumn | undefined {
    if (ref.qualifier !== null && !this.rows.qualifiers.has(ref.qualifier.name.toLowerCase())) {
      const suggestion = closestMatch(ref.qualifier.name, [...this.rows.qualifiers]);
      this.error(ref.qualifier.loc, `unknown table or alias '${ref.qualifier.name}'`, suggestion === undefined ? `the query reads ${this.rows.relation}` : `did you mean '${suggestion}'?`);
      return undefined;
    }
    const found = this.rows.columns.get(ref.name.name.toLowerCase());
    if (found !== undefined) return found;
    const names = [...this.rows.columns.values()].map((c) => c.name).filter((name) => !name.startsWith('__ots_column_type_'));
    const suggestion = closestMatch(ref.name.name, names);
    this.error(
      ref.name.loc,
      `unknown column '${ref.name.name}' in ${this.rows.relation}${suggestion === undefined ? '' : ` — did you mean '${suggestion}'?`}`,
      suggestion === undefined ? `columns: ${names.filter((name) => !name.startsWith('__')).join(', ')}` : undefined,
    );
    return undefined;
  }

  /** Binds `expr`; `leaf` handles the nodes its mode resolves itself (returns undefined for the rest). */
  private bind(expr: Expr, leaf: (node: Expr) => BoundExpr | undefined): BoundExpr {
    const handled = leaf(expr);
    if (handled !== undefined) return handled;
    const sub = (node: Expr): BoundExpr => this.bind(node, leaf);
    const text = formatExpression(expr);
    switch (expr.kind) {
      case 'StringLiteral':
        return literal('string', expr.value, text);
      case 'NumberLiteral': {
        if (!expr.isInteger) return literal('double', expr.value, text);
        if (!Number.isSafeInteger(expr.value)) {
          this.error(expr.loc, `integer ${expr.text} is beyond ±(2^53 − 1), which otsflow cannot compute with exactly`);
          return literal('long', 0, text);
        }
        return literal(Math.abs(expr.value) <= 2_147_483_647 ? 'int' : 'long', expr.value, text);
      }
      case 'BooleanLiteral':
        return literal('boolean', expr.value, text);
      case 'NullLiteral':
        return literal('null', null, text);
      case 'IntervalLiteral':
        this.error(expr.loc, 'an INTERVAL is only allowed as a window size, slide or gap, or a watermark delay');
        return literal('null', null, text);
      case 'ColumnRef': {
        const resolved = this.resolve(expr);
        return resolved === undefined ? literal('null', null, text) : column(resolved.name, resolved.type, text);
      }
      case 'WindowBound':
        return literal('null', null, text);
      case 'Unary': {
        const operand = sub(expr.operand);
        if (expr.op === 'NOT') return call('not', [this.expectBoolean(operand, expr.operand.loc, 'NOT')], 'boolean', text);
        if (!isNumeric(operand.type) && operand.type !== 'null') this.error(expr.loc, `unary ${expr.op} needs a number, not ${typeName(operand.type)}`);
        return expr.op === '-' ? call('negate', [operand], operand.type === 'null' ? 'int' : operand.type, text) : operand;
      }
      case 'Binary':
        return this.binary(expr.op, sub(expr.left), sub(expr.right), expr.opLoc, text);
      case 'IsNull':
        return call(expr.negated ? 'isNotNull' : 'isNull', [sub(expr.operand)], 'boolean', text);
      case 'InList': {
        const operand = sub(expr.operand);
        const values = expr.values.map((value) => this.coerceForComparison(sub(value), operand, value.loc, 'IN'));
        const inList = call('in', [operand, ...values], 'boolean', text);
        return expr.negated ? call('not', [inList], 'boolean', text) : inList;
      }
      case 'Between': {
        const operand = sub(expr.operand);
        const low = this.binary('>=', operand, sub(expr.low), expr.low.loc, text);
        const high = this.binary('<=', operand, sub(expr.high), expr.high.loc, text);
        const between = call('and', [low, high], 'boolean', text);
        return expr.negated ? call('not', [between], 'boolean', text) : between;
      }
      case 'Like': {
        const operand = sub(expr.operand);
        if (operand.type !== 'string' && operand.type !== 'null') this.error(expr.operand.loc, `LIKE needs a string, not ${typeName(operand.type)}`);
        if (expr.pattern.kind !== 'StringLiteral') {
          this.error(expr.pattern.loc, 'LIKE needs a string literal pattern');
          return literal('null', null, text);
        }
        const like = call('like', [operand], 'boolean', text, { kind: 'like', pattern: likePattern(expr.pattern.value) });
        return expr.negated ? call('not', [like], 'boolean', text) : like;
      }
      case 'Case': {
        const args: BoundExpr[] = [];
        let type: SqlType = 'null';
        const operand = expr.operand === null ? null : sub(expr.operand);
        const results: Array<readonly [BoundExpr, SourceLocation]> = [];
        for (const branch of expr.branches) {
          const when = operand === null
            ? this.expectBoolean(sub(branch.when), branch.when.loc, 'WHEN')
            : this.binary('=', operand, sub(branch.when), branch.when.loc, formatExpression(branch.when));
          const then = sub(branch.then);
          args.push(when, then);
          results.push([then, branch.then.loc]);
        }
        if (expr.otherwise !== null) {
          const otherwise = sub(expr.otherwise);
          results.push([otherwise, expr.otherwise.loc]);
        }
        for (const [result, at] of results) {
          const common = commonType(type, result.type);
          if (common === undefined) this.error(at, `CASE results mix ${typeName(type)} and ${typeName(result.type)}`, 'CAST them to one type');
          else type = common;
        }
        if (expr.otherwise !== null) args.push((results.at(-1) as readonly [BoundExpr, SourceLocation])[0]);
        return call('case', args, type, text, { kind: 'case', hasElse: expr.otherwise !== null });
      }
      case 'Cast': {
        const operand = sub(expr.operand);
        if (operand.type === 'window') this.error(expr.operand.loc, 'a window cannot be cast; select window.start or window.end');
        if (expr.type === 'timestamp' && operand.type === 'boolean') this.error(expr.loc, 'a boolean cannot be cast to timestamp');
        if ((expr.type === 'boolean' && operand.type === 'timestamp') || (operand.type === 'binary' && expr.type !== 'string')) {
          this.error(expr.loc, `${typeName(operand.type)} cannot be cast to ${expr.type}`);
        }
        if (operand.type === expr.type) return { ...operand, text };
        return call('cast', [operand], expr.type, text, { kind: 'cast', from: operand.type });
      }
      case 'FunctionCall':
        return this.function(expr, sub, text);
    }
  }

  private function(expr: FunctionCall, sub: (node: Expr) => BoundExpr, text: string): BoundExpr {
    const name = expr.name.name.toLowerCase();
    const args = expr.args.map(sub);
    const arity = (min: number, max: number): boolean => {
      if (args.length >= min && args.length <= max) return true;
      this.error(expr.loc, `${name}() takes ${min === max ? min : `${min} to ${max}`} argument${max === 1 ? '' : 's'}, not ${args.length}`);
      return false;
    };
    const pattern = (index: number): string | undefined => {
      const source = expr.args[index];
      if (source === undefined) return undefined;
      if (source.kind !== 'StringLiteral') {
        this.error(source.loc, `the pattern of ${name}() must be a string literal`);
        return undefined;
      }
      return source.value;
    };
    const checkPattern = (index: number, kind: 'format' | 'parse'): { kind: 'format'; pattern: string } | undefined => {
      const text = pattern(index);
      if (text === undefined) return undefined;
      const compiled = kind === 'format' ? compileFormatter(text) : compileParser(text);
      if (E.isLeft(compiled)) {
        this.error((expr.args[index] as Expr).loc, `bad date pattern '${text}': ${compiled.left}`);
        return undefined;
      }
      return { kind: 'format', pattern: text };
    };
    switch (name) {
      case 'coalesce': {
        if (!arity(1, 64)) return literal('null', null, text);
        let type: SqlType = 'null';
        args.forEach((arg, i) => {
          const common = commonType(type, arg.type);
          if (common === undefined) this.error((expr.args[i] as Expr).loc, `coalesce() mixes ${typeName(type)} and ${typeName(arg.type)}`, 'CAST them to one type');
          else type = common;
        });
        return call('coalesce', args, type, text);
      }
      case 'concat':
        if (!arity(1, 64)) return literal('null', null, text);
        args.forEach((arg, i) => {
          if (arg.type === 'window') this.error((expr.args[i] as Expr).loc, 'concat() cannot take a window');
        });
        return call('concat', args, 'string', text);
      case 'abs': {
        if (!arity(1, 1)) return literal('null', null, text);
        const arg = args[0] as BoundExpr;
        if (!isNumeric(arg.type) && arg.type !== 'null') this.error(expr.loc, `abs() needs a number, not ${typeName(arg.type)}`);
        return call('abs', args, arg.type === 'null' ? 'int' : arg.type, text);
      }
      case 'round': {
        if (!arity(1, 2)) return literal('null', null, text);
        const arg = args[0] as BoundExpr;
        if (!isNumeric(arg.type) && arg.type !== 'null') this.error(expr.loc, `round() needs a number, not ${typeName(arg.type)}`);
        let scale = 0;
        const scaleArg = expr.args[1];
        if (scaleArg !== undefined) {
          if (scaleArg.kind !== 'NumberLiteral' && !(scaleArg.kind === 'Unary' && scaleArg.op === '-' && scaleArg.operand.kind === 'NumberLiteral')) {
            this.error(scaleArg.loc, 'the scale of round() must be an integer literal');
          } else {
            scale = scaleArg.kind === 'NumberLiteral' ? scaleArg.value : -(scaleArg.operand as { value: number }).value;
            if (!Number.isInteger(scale) || Math.abs(scale) > 15) this.error(scaleArg.loc, 'the scale of round() must be an integer in [-15, 15]');
          }
        }
        return call('round', [arg], arg.type === 'null' ? 'double' : arg.type, text, { kind: 'round', scale });
      }
      case 'to_timestamp': {
        if (!arity(1, 2)) return literal('null', null, text);
        const arg = args[0] as BoundExpr;
        if (args.length === 2) {
          if (arg.type !== 'string' && arg.type !== 'null') this.error(expr.loc, `to_timestamp(text, pattern) needs a string, not ${typeName(arg.type)}`);
          const extra = checkPattern(1, 'parse');
          return extra === undefined ? literal('null', null, text) : call('to_timestamp', [arg], 'timestamp', text, extra);
        }
        if (!isNumeric(arg.type) && arg.type !== 'string' && arg.type !== 'timestamp' && arg.type !== 'null') {
          this.error(expr.loc, `to_timestamp() needs seconds since the epoch, a string or a timestamp, not ${typeName(arg.type)}`);
        }
        return arg.type === 'timestamp' ? { ...arg, text } : call('to_timestamp', [arg], 'timestamp', text);
      }
      case 'from_unixtime': {
        if (!arity(1, 2)) return literal('null', null, text);
        const arg = args[0] as BoundExpr;
        if (!isNumeric(arg.type) && arg.type !== 'null') this.error(expr.loc, `from_unixtime() needs seconds since the epoch, not ${typeName(arg.type)}`);
        const extra = args.length === 2 ? checkPattern(1, 'format') : { kind: 'format' as const, pattern: 'yyyy-MM-dd HH:mm:ss' };
        return extra === undefined ? literal('null', null, text) : call('from_unixtime', [arg], 'string', text, extra);
      }
      case 'unix_timestamp': {
        if (args.length === 0) {
          this.error(expr.loc, 'unix_timestamp() without arguments is processing time, which a replayed batch cannot reproduce', 'pass a time: unix_timestamp(ts)');
          return literal('null', null, text);
        }
        if (!arity(1, 2)) return literal('null', null, text);
        const arg = args[0] as BoundExpr;
        if (arg.type === 'timestamp') {
          if (args.length === 2) this.error((expr.args[1] as Expr).loc, 'unix_timestamp(timestamp) takes no pattern');
          return call('unix_timestamp', [arg], 'long', text);
        }
        if (arg.type !== 'string' && arg.type !== 'null') this.error(expr.loc, `unix_timestamp() needs a timestamp or a string, not ${typeName(arg.type)}`);
        const extra = args.length === 2 ? checkPattern(1, 'parse') : { kind: 'format' as const, pattern: 'yyyy-MM-dd HH:mm:ss' };
        return extra === undefined ? literal('null', null, text) : call('unix_timestamp', [arg], 'long', text, extra);
      }
      case 'date_format': {
        if (!arity(2, 2)) return literal('null', null, text);
        const arg = args[0] as BoundExpr;
        if (arg.type !== 'timestamp' && arg.type !== 'string' && arg.type !== 'null') {
          this.error(expr.loc, `date_format() needs a timestamp, not ${typeName(arg.type)}`, isNumeric(arg.type) ? 'convert epoch seconds with to_timestamp(x)' : undefined);
        }
        const extra = checkPattern(1, 'format');
        const time = arg.type === 'string' ? call('cast', [arg], 'timestamp', arg.text, { kind: 'cast', from: 'string' }) : arg;
        return extra === undefined ? literal('null', null, text) : call('date_format', [time], 'string', text, extra);
      }
      case 'delay':
        this.error(expr.loc, "delay() is only allowed as a WHERE condition: WHERE delay(<time>) < '2 minutes'");
        return literal('null', null, text);
      case 'watermark':
        this.error(expr.loc, 'watermark() is only allowed as a whole SELECT item', 'SELECT watermark(<time>, INTERVAL 10 SECONDS) AS wm, … (or FROM v WATERMARK <time> DELAY OF INTERVAL 10 SECONDS)');
        return literal('null', null, text);
      default: {
        const suggestion = closestMatch(name, KNOWN);
        this.error(expr.name.loc, `unknown function '${expr.name.name}'${suggestion === undefined ? '' : ` — did you mean '${suggestion}'?`}`);
        return literal('null', null, text);
      }
    }
  }

  private expectBoolean(expr: BoundExpr, at: SourceLocation, what: string): BoundExpr {
    if (expr.type !== 'boolean' && expr.type !== 'null') this.error(at, `${what} needs a condition (boolean), not ${typeName(expr.type)} (${expr.text})`);
    return expr;
  }

  /** `value` as the type it is compared with: strings compared with timestamps or numbers are cast, like Spark. */
  private coerceForComparison(value: BoundExpr, other: BoundExpr, at: SourceLocation, what: string): BoundExpr {
    if (value.type === other.type || value.type === 'null' || other.type === 'null') return value;
    if (isNumeric(value.type) && isNumeric(other.type)) return value;
    if (value.type === 'string' && (other.type === 'timestamp' || isNumeric(other.type))) {
      const target: SqlType = other.type === 'timestamp' ? 'timestamp' : 'double';
      return call('cast', [value], target, value.text, { kind: 'cast', from: 'string' });
    }
    if (value.type === 'string' && other.type === 'boolean') return call('cast', [value], 'boolean', value.text, { kind: 'cast', from: 'string' });
    this.error(at, `${what} compares ${typeName(other.type)} with ${typeName(value.type)} (${other.text} and ${value.text})`, 'CAST one side to the other type');
    return value;
  }

  private binary(op: string, left: BoundExpr, right: BoundExpr, at: SourceLocation, text: string): BoundExpr {
    switch (op) {
      case 'AND':
      case 'OR':
        return call(op === 'AND' ? 'and' : 'or', [this.expectBoolean(left, at, op), this.expectBoolean(right, at, op)], 'boolean', text);
      case '+':
      case '-':
      case '*':
      case '/':
      case '%': {
        for (const side of [left, right]) {
          if (!isNumeric(side.type) && side.type !== 'null') {
            this.error(at, `'${op}' needs numbers, not ${typeName(side.type)} (${side.text})`, side.type === 'string' && op === '+' ? 'join strings with concat(a, b)' : undefined);
          }
        }
        const ops: Record<string, Op> = { '+': 'add', '-': 'subtract', '*': 'multiply', '/': 'divide', '%': 'remainder' };
        const wider = widerNumeric(left.type === 'null' ? 'int' : left.type, right.type === 'null' ? 'int' : right.type);
        // Spark's `/` is always fractional; int arithmetic widens to bigint rather than wrapping
        const type: SqlType = op === '/' ? 'double' : isIntegral(wider) ? 'long' : 'double';
        return call(ops[op] as Op, [left, right], type, text);
      }
      default: {
        const ops: Record<string, Op> = { '=': 'eq', '!=': 'ne', '<': 'lt', '<=': 'le', '>': 'gt', '>=': 'ge' };
        const coercedRight = this.coerceForComparison(right, left, at, `'${op}'`);
        const coercedLeft = coercedRight === right && left.type === 'string' && right.type !== 'string' ? this.coerceForComparison(left, right, at, `'${op}'`) : left;
        if (coercedLeft.type === 'window' || coercedRight.type === 'window') this.error(at, 'a window cannot be compared; use window.start or window.end');
        return call(ops[op] as Op, [coercedLeft, coercedRight], 'boolean', text);
      }
    }
  }
}

function nullLiteral(node: Expr): BoundExpr {
  return literal('null', null, formatExpression(node));
}

/** SQL LIKE (`%` any run, `_` one character, `\` escapes) as an anchored RegExp. */
export function likePattern(pattern: string): RegExp {
  let source = '';
  for (let i = 0; i < pattern.length; i++) {
    const char = pattern[i] as string;
    if (char === '\\' && i + 1 < pattern.length) source += escapeRegExp(pattern[++i] as string);
    else if (char === '%') source += '[\\s\\S]*';
    else if (char === '_') source += '[\\s\\S]';
    else source += escapeRegExp(char);
  }
  return new RegExp(`^${source}$`, 'u');
}

const escapeRegExp = (text: string): string => text.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&');
