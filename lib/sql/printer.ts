/**
 * Printing: statements back to SQL (canonical spelling, minimal parentheses — `parse` of the
 * output gives the same tree), syntax trees as indented outlines for EXPLAIN and debugging,
 * and errors with the offending source line and a caret. Credentials print as `<redacted>`.
 */
import {
  Redacted,
  type Expr,
  type Identifier,
  type IntervalLiteral,
  type OptionList,
  type SelectItem,
  type SelectStatement,
  type Statement,
  type TableRef,
} from './ast.js';
import { describeSqlError, escapeControlCharacters, type SqlError } from './errors.js';
import { redactSource } from './lexer.js';

// ---------------------------------------------------------------- SQL text

/** Binding strength, loosest first; an operand printed below its slot's level gets parentheses. */
const enum Level {
  Or = 1,
  And,
  Not,
  Predicate,
  Comparison,
  Additive,
  Multiplicative,
  Unary,
  Primary,
}

function levelOf(expr: Expr): Level {
  switch (expr.kind) {
    case 'Binary':
      switch (expr.op) {
        case 'OR':
          return Level.Or;
        case 'AND':
          return Level.And;
        case '+':
        case '-':
          return Level.Additive;
        case '*':
        case '/':
        case '%':
          return Level.Multiplicative;
        default:
          return Level.Comparison;
      }
    case 'Unary':
      return expr.op === 'NOT' ? Level.Not : Level.Unary;
    case 'IsNull':
    case 'InList':
    case 'Between':
    case 'Like':
      return Level.Predicate;
    default:
      return Level.Primary;
  }
}

function identifier(id: Identifier): string {
  return id.quoted ? `\`${id.name.replaceAll('`', '``')}\`` : id.name;
}

export function quoteString(value: string): string {
  const escaped = value.replace(/[\\'\n\r\t]/g, (char) => {
    switch (char) {
      case '\n':
        return '\\n';
      case '\r':
        return '\\r';
      case '\t':
        return '\\t';
      default:
        return `\\${char}`;
    }
  });
  return `'${escaped}'`;
}

function interval(literal: IntervalLiteral): string {
  return /^\d+(?:\.\d*)? [A-Za-z]+(?: \d+(?:\.\d*)? [A-Za-z]+)*$/.test(literal.text)
    ? `INTERVAL ${literal.text}`
    : `INTERVAL ${quoteString(literal.text)}`;
}

function operand(expr: Expr, minimum: Level): string {
  const text = formatExpression(expr);
  return levelOf(expr) < minimum ? `(${text})` : text;
}

const NEGATION = (negated: boolean): string => (negated ? 'NOT ' : '');

export function formatExpression(expr: Expr): string {
  switch (expr.kind) {
    case 'StringLiteral':
      return quoteString(expr.value);
    case 'NumberLiteral':
      return expr.text;
    case 'BooleanLiteral':
      return expr.value ? 'TRUE' : 'FALSE';
    case 'NullLiteral':
      return 'NULL';
    case 'IntervalLiteral':
      return interval(expr);
    case 'ColumnRef':
      return expr.qualifier === null ? identifier(expr.name) : `${identifier(expr.qualifier)}.${identifier(expr.name)}`;
    case 'WindowBound':
      return `window.${expr.bound}`;
    case 'Unary': {
      if (expr.op === 'NOT') return `NOT ${operand(expr.operand, Level.Not)}`;
      const inner = operand(expr.operand, Level.Unary);
      // `- -1` must not become the comment `--1`
      return /^[-+]/.test(inner) ? `${expr.op} ${inner}` : `${expr.op}${inner}`;
    }
    case 'Binary': {
      const level = levelOf(expr);
      // left-associative: the right operand binds one level tighter
      const right = level === Level.Comparison ? Level.Additive : level + 1;
      return `${operand(expr.left, level)} ${expr.op} ${operand(expr.right, right)}`;
    }
    case 'IsNull':
      return `${operand(expr.operand, Level.Comparison)} IS ${NEGATION(expr.negated)}NULL`;
    case 'InList':
      return `${operand(expr.operand, Level.Comparison)} ${NEGATION(expr.negated)}IN (${expr.values.map(formatExpression).join(', ')})`;
    case 'Between':
      return `${operand(expr.operand, Level.Comparison)} ${NEGATION(expr.negated)}BETWEEN ${operand(expr.low, Level.Additive)} AND ${operand(expr.high, Level.Additive)}`;
    case 'Like':
      return `${operand(expr.operand, Level.Comparison)} ${NEGATION(expr.negated)}LIKE ${operand(expr.pattern, Level.Additive)}`;
    case 'Case': {
      const parts = ['CASE'];
      if (expr.operand !== null) parts.push(formatExpression(expr.operand));
      for (const branch of expr.branches) {
        parts.push(`WHEN ${formatExpression(branch.when)} THEN ${formatExpression(branch.then)}`);
      }
      if (expr.otherwise !== null) parts.push(`ELSE ${formatExpression(expr.otherwise)}`);
      parts.push('END');
      return parts.join(' ');
    }
    case 'Cast':
      return `CAST(${formatExpression(expr.operand)} AS ${expr.type.toUpperCase()})`;
    case 'FunctionCall': {
      const args = expr.star ? '*' : `${expr.distinct ? 'DISTINCT ' : ''}${expr.args.map(formatExpression).join(', ')}`;
      return `${identifier(expr.name)}(${args})`;
    }
  }
}

function optionKey(key: string): string {
  return /^[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*$/.test(key) ? key : quoteString(key);
}

function optionList(list: OptionList): string {
  const entries = list.entries.map((entry) => {
    const value = entry.value;
    const text =
      value.kind === 'SecretOptionValue'
        ? quoteString(String(value.secret))
        : value.token === 'string'
          ? quoteString(value.text)
          : value.text.toUpperCase();
    return `${optionKey(entry.key)}=${text}`;
  });
  return `OPTIONS(${entries.join(', ')})`;
}

function selectItem(item: SelectItem): string {
  if (item.kind === 'SelectStar') return item.qualifier === null ? '*' : `${identifier(item.qualifier)}.*`;
  return item.alias === null ? formatExpression(item.expr) : `${formatExpression(item.expr)} AS ${identifier(item.alias)}`;
}

function tableRef(ref: TableRef): string {
  let text = identifier(ref.name);
  if (ref.alias !== null) text += ` AS ${identifier(ref.alias)}`;
  if (ref.watermark !== null) {
    const { eventTime, alias, delay } = ref.watermark;
    text += ` WATERMARK ${formatExpression(eventTime)}${alias === null ? '' : ` AS ${identifier(alias)}`} DELAY OF ${interval(delay)}`;
  }
  return text;
}

function select(query: SelectStatement): string {
  const parts = [`SELECT ${query.distinct ? 'DISTINCT ' : ''}${query.items.map(selectItem).join(', ')}`];
  if (query.from !== null) parts.push(`FROM ${tableRef(query.from)}`);
  if (query.where !== null) parts.push(`WHERE ${formatExpression(query.where)}`);
  if (query.groupBy.length > 0) parts.push(`GROUP BY ${query.groupBy.map(formatExpression).join(', ')}`);
  if (query.having !== null) parts.push(`HAVING ${formatExpression(query.having)}`);
  if (query.orderBy.length > 0) {
    parts.push(`ORDER BY ${query.orderBy.map((item) => `${formatExpression(item.expr)} ${item.direction}`).join(', ')}`);
  }
  if (query.limit !== null) parts.push(`LIMIT ${query.limit.count}`);
  return parts.join(' ');
}

/** One statement as SQL, without the terminating ';'. */
export function formatStatement(statement: Statement): string {
  switch (statement.kind) {
    case 'CreateTable':
      return `CREATE TABLE ${statement.ifNotExists ? 'IF NOT EXISTS ' : ''}${identifier(statement.name)} USING ${identifier(statement.provider)} ${optionList(statement.options)}`;
    case 'DropTable':
      return `DROP TABLE ${statement.ifExists ? 'IF EXISTS ' : ''}${identifier(statement.name)}`;
    case 'CreateScan':
      return `CREATE SCAN ${identifier(statement.name)} ON ${identifier(statement.table)} USING ${statement.mode}${statement.options === null ? '' : ` ${optionList(statement.options)}`}`;
    case 'CreateStream':
      return `CREATE STREAM ${identifier(statement.name)}${statement.options === null ? '' : ` ${optionList(statement.options)}`} ${formatStatement(statement.insert)}`;
    case 'Insert': {
      const columns = statement.columns.length === 0 ? '' : ` (${statement.columns.map(identifier).join(', ')})`;
      return `INSERT INTO ${identifier(statement.table)}${columns} ${select(statement.query)}`;
    }
    case 'Select':
      return select(statement);
    case 'ShowTables':
      return 'SHOW TABLES';
    case 'Describe':
      return `DESCRIBE ${identifier(statement.name)}`;
    case 'Explain':
      return `EXPLAIN ${formatStatement(statement.statement)}`;
  }
}

export function formatScript(statements: readonly Statement[]): string {
  return statements.map((statement) => `${formatStatement(statement)};\n`).join('');
}

// ---------------------------------------------------------------- outlines

function isNode(value: unknown): value is { readonly kind: string; readonly loc?: { line: number; column: number } } {
  return typeof value === 'object' && value !== null && typeof (value as { kind?: unknown }).kind === 'string';
}

function scalar(value: unknown): string {
  if (value instanceof Redacted) return String(value);
  if (typeof value === 'string') return JSON.stringify(value);
  return String(value);
}

/**
 * An indented outline of a tree: one line per node with its scalar fields and `@line:col`,
 * children below. Generic over node kinds so it never lags behind the AST.
 */
export function explainAst(node: object, indent = ''): string {
  if (!isNode(node)) return `${indent}${scalar(node)}\n`;
  if (node.kind === 'Identifier') return `${indent}${scalar((node as Identifier).name)}\n`;
  const scalars: string[] = [];
  const children: Array<readonly [string, unknown]> = [];
  for (const [key, value] of Object.entries(node)) {
    if (key === 'kind' || key === 'loc' || key.endsWith('Loc') || key === 'raw') continue;
    if (isNode(value) && value.kind === 'Identifier') scalars.push(`${key}=${identifier(value as unknown as Identifier)}`);
    else if (isNode(value) || (Array.isArray(value) && value.length > 0)) children.push([key, value]);
    else if (Array.isArray(value) || value === null) continue;
    else scalars.push(`${key}=${scalar(value)}`);
  }
  const at = node.loc === undefined ? '' : ` @${node.loc.line}:${node.loc.column}`;
  let text = `${indent}${node.kind}${scalars.length > 0 ? ` ${scalars.join(' ')}` : ''}${at}\n`;
  for (const [key, value] of children) {
    text += `${indent}  ${key}:\n`;
    for (const child of Array.isArray(value) ? value : [value]) text += explainAst(child as object, `${indent}    `);
  }
  return text;
}

// ---------------------------------------------------------------- errors

/**
 * ```
 * line 3, col 14: expected ')' after OPTIONS list but found ';'
 *     3 | maxoffsetsperchannel="10000";
 *       |                             ^
 *   hint: …
 * ```
 * The quoted line comes from the source with credential values masked.
 */
/** Longest source excerpt shown under an error, in display characters; longer lines are cut around the caret. */
const MAX_EXCERPT_WIDTH = 120;

export function formatSqlError(source: string, error: SqlError): string {
  const lines = redactSource(source).split(/\r\n|\r|\n/);
  const line = lines[error.line - 1];
  let text = escapeControlCharacters(describeSqlError({ ...error, hint: undefined } as SqlError));
  if (line !== undefined) {
    const gutter = String(error.line);
    const pad = ' '.repeat(gutter.length);
    // characters as shown: escapes for control characters, so the caret still lines up
    const shown = Array.from(line, (character) => (character === '\t' ? character : escapeControlCharacters(character)));
    const caretAt = Math.min(shown.length, Array.from(line.slice(0, Math.max(0, error.column - 1))).length);
    let from = 0;
    let to = shown.length;
    const width = (a: number, b: number) => shown.slice(a, b).reduce((sum, piece) => sum + piece.length, 0);
    if (width(0, shown.length) > MAX_EXCERPT_WIDTH) {
      // a window around the caret: a third before it, the rest after
      from = caretAt;
      while (from > 0 && width(from - 1, caretAt) <= MAX_EXCERPT_WIDTH / 3) from -= 1;
      to = caretAt;
      while (to < shown.length && width(from, to + 1) <= MAX_EXCERPT_WIDTH) to += 1;
    }
    const head = from > 0 ? '…' : '';
    const tail = to < shown.length ? '…' : '';
    // keep tabs so the caret lines up under tab-indented code
    const lead = head.replace(/./g, ' ') + shown.slice(from, caretAt).join('').replace(/[^\t]/g, ' ');
    text += `\n  ${gutter} | ${head}${shown.slice(from, to).join('')}${tail}\n  ${pad} | ${lead}^`;
  }
  if (error.hint !== undefined) text += `\n  hint: ${escapeControlCharacters(error.hint)}`;
  return text;
}

export function formatSqlErrors(source: string, errors: readonly SqlError[]): string {
  return errors.map((error) => formatSqlError(source, error)).join('\n');
}
