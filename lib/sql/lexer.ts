import { createToken, Lexer, type IToken, type TokenType } from './chevrotain.js';
import { left, right, type Either } from 'fp-ts/lib/Either.js';
import type { SourceLocation } from './ast.js';
import { closestMatch, type SqlError } from './errors.js';

/*
 * Token categories, from widest to narrowest:
 *   AnyWord   — anything spelled like a word, reserved keywords too: where nothing else can stand —
 *               after '.', after AS, in option keys and in INSERT column lists (`table.name`,
 *               `window.end`, `AS end`, `INSERT INTO t (begin, end)`)
 *   Name      — identifiers plus the non-reserved keywords: table, scan and stream names, column
 *               references, function names (`delay(c)`, a column named `batch` or `end`)
 *   AliasWord — a bare alias (`SELECT a total`, `FROM t o`): identifiers plus the non-reserved
 *               keywords that cannot continue the statement there (not WATERMARK, LIMIT, BETWEEN,
 *               LIKE, ASC/DESC or a word that starts a statement)
 *   PlainName — identifiers (plain or backquoted) only
 *
 * Reserved are the keywords Spark reserves in ANSI mode (docs/sql-ref-ansi-compliance.md), but
 * END: EMR runs Spark's default mode, where END is non-reserved, and here END only closes CASE.
 * TRUE (non-reserved in Spark's ANSI list) stays reserved: it is the literal wherever an expression
 * may stand, and FALSE beside it is reserved.
 */
export const AnyWord = createToken({ name: 'AnyWord', pattern: Lexer.NA, label: 'a name' });
export const Name = createToken({ name: 'Name', pattern: Lexer.NA, categories: [AnyWord], label: 'a name' });
export const AliasWord = createToken({ name: 'AliasWord', pattern: Lexer.NA, label: 'a name' });
export const PlainName = createToken({ name: 'PlainName', pattern: Lexer.NA, categories: [Name, AliasWord], label: 'a name' });

export const Identifier = createToken({
  name: 'Identifier',
  pattern: /[A-Za-z_][A-Za-z0-9_]*/,
  categories: [PlainName],
  label: 'a name',
});
export const BackquotedIdentifier = createToken({
  name: 'BackquotedIdentifier',
  pattern: /`(?:[^`]|``)*`/,
  line_breaks: true,
  categories: [PlainName],
  label: 'a name',
});

type KeywordKind = 'reserved' | 'non-reserved' | 'non-reserved, no bare alias';

function keyword(word: string, kind: KeywordKind): TokenType {
  const token = createToken({
    name: word,
    pattern: new RegExp(word, 'i'),
    longer_alt: Identifier,
    categories: kind === 'reserved' ? [AnyWord] : kind === 'non-reserved' ? [Name, AliasWord] : [Name],
    label: word,
  });
  if (kind !== 'reserved') NON_RESERVED.push(token);
  return token;
}

/** The keywords that are names outside the places the grammar expects them, in declaration order. */
export const NON_RESERVED: TokenType[] = [];

// Reserved (Spark's ANSI-mode list): they may not name a column or table unless backquoted (or
// after '.'/AS, in option keys and INSERT column lists).
export const Select = keyword('SELECT', 'reserved');
export const From = keyword('FROM', 'reserved');
export const Where = keyword('WHERE', 'reserved');
export const Group = keyword('GROUP', 'reserved');
export const By = keyword('BY', 'non-reserved');
export const Having = keyword('HAVING', 'reserved');
export const Order = keyword('ORDER', 'reserved');
export const Limit = keyword('LIMIT', 'non-reserved, no bare alias');
export const As = keyword('AS', 'reserved');
export const And = keyword('AND', 'reserved');
export const Or = keyword('OR', 'reserved');
export const Not = keyword('NOT', 'reserved');
export const In = keyword('IN', 'reserved');
export const Is = keyword('IS', 'reserved');
export const Null = keyword('NULL', 'reserved');
export const True = keyword('TRUE', 'reserved');
export const False = keyword('FALSE', 'reserved');
export const Case = keyword('CASE', 'reserved');
export const When = keyword('WHEN', 'reserved');
export const Then = keyword('THEN', 'reserved');
export const Else = keyword('ELSE', 'reserved');
export const End = keyword('END', 'non-reserved');
export const Cast = keyword('CAST', 'reserved');
export const Distinct = keyword('DISTINCT', 'reserved');
export const Between = keyword('BETWEEN', 'non-reserved, no bare alias');
export const Like = keyword('LIKE', 'non-reserved, no bare alias');
export const Create = keyword('CREATE', 'reserved');
export const Drop = keyword('DROP', 'non-reserved, no bare alias');
export const Table = keyword('TABLE', 'reserved');
export const Insert = keyword('INSERT', 'non-reserved, no bare alias');
export const Into = keyword('INTO', 'reserved');
export const On = keyword('ON', 'reserved');
export const Using = keyword('USING', 'reserved');
export const Interval = keyword('INTERVAL', 'non-reserved');
// Non-reserved: keywords only where the grammar expects them, names elsewhere.
export const Stream = keyword('STREAM', 'non-reserved');
export const Batch = keyword('BATCH', 'non-reserved');
export const Scan = keyword('SCAN', 'non-reserved');
export const Options = keyword('OPTIONS', 'non-reserved');
export const Tables = keyword('TABLES', 'non-reserved');
export const Show = keyword('SHOW', 'non-reserved, no bare alias');
export const Describe = keyword('DESCRIBE', 'non-reserved, no bare alias');
export const Explain = keyword('EXPLAIN', 'non-reserved, no bare alias');
export const If = keyword('IF', 'non-reserved');
export const Exists = keyword('EXISTS', 'non-reserved');
export const Watermark = keyword('WATERMARK', 'non-reserved, no bare alias');
export const Delay = keyword('DELAY', 'non-reserved');
export const Of = keyword('OF', 'non-reserved');
export const Asc = keyword('ASC', 'non-reserved, no bare alias');
export const Desc = keyword('DESC', 'non-reserved, no bare alias');

export const KEYWORDS: readonly TokenType[] = [
  Select, From, Where, Group, By, Having, Order, Limit, As, And, Or, Not, In, Is, Null, True, False,
  Case, When, Then, Else, End, Cast, Distinct, Between, Like, Create, Drop, Table, Insert, Into, On,
  Using, Interval, Stream, Batch, Scan, Options, Tables, Show, Describe, Explain, If, Exists,
  Watermark, Delay, Of, Asc, Desc,
];

export const StringLiteral = createToken({
  name: 'StringLiteral',
  pattern: /'(?:[^'\\]|\\[\s\S]|'')*'|"(?:[^"\\]|\\[\s\S]|"")*"/,
  line_breaks: true,
  label: 'a string literal',
});
export const NumberLiteral = createToken({
  name: 'NumberLiteral',
  pattern: /(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?/,
  label: 'a number',
});

export const LessOrEqual = createToken({ name: 'LessOrEqual', pattern: '<=', label: "'<='" });
export const GreaterOrEqual = createToken({ name: 'GreaterOrEqual', pattern: '>=', label: "'>='" });
export const NotEqual = createToken({ name: 'NotEqual', pattern: /<>|!=/, label: "'!='" });
export const Equals = createToken({ name: 'Equals', pattern: /==?/, label: "'='" });
export const Less = createToken({ name: 'Less', pattern: '<', label: "'<'" });
export const Greater = createToken({ name: 'Greater', pattern: '>', label: "'>'" });
export const Plus = createToken({ name: 'Plus', pattern: '+', label: "'+'" });
export const Minus = createToken({ name: 'Minus', pattern: '-', label: "'-'" });
export const Star = createToken({ name: 'Star', pattern: '*', label: "'*'" });
export const Slash = createToken({ name: 'Slash', pattern: '/', label: "'/'" });
export const Percent = createToken({ name: 'Percent', pattern: '%', label: "'%'" });
export const LParen = createToken({ name: 'LParen', pattern: '(', label: "'('" });
export const RParen = createToken({ name: 'RParen', pattern: ')', label: "')'" });
export const Comma = createToken({ name: 'Comma', pattern: ',', label: "','" });
export const Dot = createToken({ name: 'Dot', pattern: '.', label: "'.'" });
export const Semicolon = createToken({ name: 'Semicolon', pattern: ';', label: "';'" });

const WhiteSpace = createToken({ name: 'WhiteSpace', pattern: /\s+/, group: Lexer.SKIPPED, line_breaks: true });
const DashComment = createToken({ name: 'DashComment', pattern: /--[^\n\r]*/, group: Lexer.SKIPPED });
// EMR scripts (the seed) use `//` line comments; `a // b` is no valid expression anyway.
const SlashComment = createToken({ name: 'SlashComment', pattern: /\/\/[^\n\r]*/, group: Lexer.SKIPPED });
const BlockComment = createToken({
  name: 'BlockComment',
  pattern: /\/\*[\s\S]*?\*\//,
  group: Lexer.SKIPPED,
  line_breaks: true,
});

// Unterminated constructs are lexed as whole tokens so they are reported once, as what they are,
// instead of as a cascade of unexpected characters.
const PROBLEMS = 'problems';
const UnterminatedBlockComment = createToken({
  name: 'UnterminatedBlockComment',
  pattern: /\/\*[\s\S]*/,
  group: PROBLEMS,
  line_breaks: true,
});
const UnterminatedString = createToken({
  name: 'UnterminatedString',
  pattern: /'(?:[^'\\]|\\[\s\S]|'')*|"(?:[^"\\]|\\[\s\S]|"")*/,
  group: PROBLEMS,
  line_breaks: true,
});
const UnterminatedBackquote = createToken({
  name: 'UnterminatedBackquote',
  pattern: /`(?:[^`]|``)*/,
  group: PROBLEMS,
  line_breaks: true,
});

// Longer keywords first: with `longer_alt` a keyword wins only against identifiers, so INTO
// must be tried before IN.
const keywordsLongestFirst = [...KEYWORDS].sort((a, b) => String(b.name).length - String(a.name).length);

export const allTokens: readonly TokenType[] = [
  WhiteSpace,
  DashComment,
  SlashComment,
  BlockComment,
  UnterminatedBlockComment,
  StringLiteral,
  UnterminatedString,
  BackquotedIdentifier,
  UnterminatedBackquote,
  NumberLiteral,
  ...keywordsLongestFirst,
  Identifier,
  LessOrEqual,
  GreaterOrEqual,
  NotEqual,
  Equals,
  Less,
  Greater,
  Plus,
  Minus,
  Star,
  Slash,
  Percent,
  LParen,
  RParen,
  Comma,
  Dot,
  Semicolon,
  // categories must be known to the parser's vocabulary
  AnyWord,
  Name,
  AliasWord,
  PlainName,
];

const sqlLexer = new Lexer([...allTokens], { positionTracking: 'full', ensureOptimizations: true });

export interface LexResult {
  /** significant tokens, comments and whitespace dropped */
  readonly tokens: readonly IToken[];
  readonly errors: readonly SqlError[];
}

export function tokenLocation(token: IToken): SourceLocation {
  return { line: token.startLine ?? 1, column: token.startColumn ?? 1, offset: token.startOffset };
}

const PROBLEM_MESSAGES: Readonly<Record<string, string>> = {
  UnterminatedBlockComment: "unterminated comment: '/*' without '*/'",
  UnterminatedString: 'unterminated string literal',
  UnterminatedBackquote: 'unterminated backquoted name',
};

const CHARACTER_HINTS: Readonly<Record<string, string>> = {
  '#': "comments start with '--' or '//'",
  '[': 'quote names with backquotes: `name`',
  '{': 'JSON values must be quoted: catalog=\'{"columns": …}\'',
  '!': "use NOT or '!='",
};

export function tokenize(text: string): LexResult {
  const result = sqlLexer.tokenize(text);
  const errors: SqlError[] = [];
  for (const problem of result.groups[PROBLEMS] ?? []) {
    const name = String(problem.tokenType.name);
    errors.push({
      message: PROBLEM_MESSAGES[name] ?? `unexpected ${problem.image}`,
      ...tokenLocation(problem),
    });
  }
  for (const error of result.errors) {
    const character = String.fromCodePoint(text.codePointAt(error.offset) ?? 0x3f);
    const printable = /^[\p{L}\p{N}\p{P}\p{S}]$/u.test(character)
      ? `'${character}'`
      : `U+${(character.codePointAt(0) ?? 0).toString(16).toUpperCase().padStart(4, '0')}`;
    const hint = CHARACTER_HINTS[character];
    errors.push({
      message: `unexpected character ${printable}`,
      line: error.line ?? 1,
      column: error.column ?? 1,
      offset: error.offset,
      ...(hint === undefined ? {} : { hint }),
    });
  }
  errors.sort((a, b) => a.offset - b.offset);
  return { tokens: result.tokens, errors };
}

// ---------------------------------------------------------------- literal text

export interface DecodedString {
  readonly value: string;
  /** for each UTF-16 unit of `value` (and one past its end), its index in the quoted source text */
  readonly sourceIndex: readonly number[];
}

const ESCAPES: Readonly<Record<string, string>> = {
  n: '\n',
  t: '\t',
  r: '\r',
  b: '\b',
  '0': '\0',
  Z: '\x1a',
};

/**
 * Spark's string literal rules: backslash escapes (`\n`, `\t`, `\'`, `\uXXXX`, … `\%` and `\_`
 * keep their backslash for LIKE) and, as in standard SQL, a doubled quote.
 */
export function decodeStringLiteral(image: string): DecodedString {
  const quote = image[0] ?? "'";
  const end = image.length - 1;
  let value = '';
  const sourceIndex: number[] = [];
  let i = 1;
  while (i < end) {
    const char = image[i] ?? '';
    if (char === '\\' && i + 1 < end) {
      const next = image[i + 1] ?? '';
      let decoded: string;
      let width = 2;
      const hex = next === 'u' ? /^[0-9a-fA-F]{4}/.exec(image.slice(i + 2, i + 6)) : null;
      if (hex !== null) {
        decoded = String.fromCharCode(Number.parseInt(hex[0], 16));
        width = 6;
      } else if (next === '%' || next === '_') {
        decoded = `\\${next}`;
      } else {
        decoded = ESCAPES[next] ?? next;
      }
      for (const unit of decoded) {
        value += unit;
        sourceIndex.push(i);
      }
      i += width;
    } else if (char === quote && image[i + 1] === quote) {
      value += quote;
      sourceIndex.push(i);
      i += 2;
    } else {
      value += char;
      sourceIndex.push(i);
      i += 1;
    }
  }
  sourceIndex.push(end);
  return { value, sourceIndex };
}

export function decodeBackquoted(image: string): string {
  return image.slice(1, -1).replaceAll('``', '`');
}

/** The location of `index` inside a token that starts at `start`, following its line breaks. */
export function locationInside(start: SourceLocation, image: string, index: number): SourceLocation {
  let { line, column } = start;
  for (let i = 0; i < index && i < image.length; i++) {
    const char = image[i];
    if (char === '\n' || (char === '\r' && image[i + 1] !== '\n')) {
      line += 1;
      column = 1;
    } else {
      column += 1;
    }
  }
  return { line, column, offset: start.offset + index };
}

// ---------------------------------------------------------------- durations

const UNIT_MILLISECONDS: Readonly<Record<string, number>> = {
  microsecond: 0.001,
  millisecond: 1,
  second: 1000,
  minute: 60_000,
  hour: 3_600_000,
  day: 86_400_000,
  week: 604_800_000,
};

/** The millisecond length of an interval unit (`SECONDS`, `minute`, …), singular or plural. */
export function intervalUnitMilliseconds(unit: string): number | undefined {
  const singular = unit.toLowerCase().replace(/s$/, '');
  return Object.hasOwn(UNIT_MILLISECONDS, singular) ? UNIT_MILLISECONDS[singular] : undefined;
}

export const INTERVAL_UNITS: readonly string[] = Object.keys(UNIT_MILLISECONDS).map((unit) => `${unit}s`);

/**
 * Spark's duration strings as used by `window(ts, '30 seconds')` and watermark delays:
 * one or more `<number> <unit>` pairs, optionally preceded by `interval`.
 */
export function parseDuration(text: string): Either<string, number> {
  const body = text.trim().replace(/^interval\s+/i, '');
  const pairs = [...body.matchAll(/(\d+(?:\.\d+)?)\s*([A-Za-z]+)\s*/g)];
  const consumed = pairs.reduce((length, match) => length + match[0].length, 0);
  if (pairs.length === 0 || consumed !== body.length) {
    return left(`'${text}' is not a duration like '30 seconds' or '1 minute 30 seconds'`);
  }
  let milliseconds = 0;
  for (const [, amount, unit] of pairs) {
    const unitMilliseconds = intervalUnitMilliseconds(unit ?? '');
    if (unitMilliseconds === undefined) {
      const suggestion = closestMatch(unit ?? '', INTERVAL_UNITS);
      return left(
        `unknown time unit '${unit}' in '${text}'` + (suggestion === undefined ? '' : ` — did you mean '${suggestion}'?`),
      );
    }
    milliseconds += Number(amount) * unitMilliseconds;
  }
  return right(milliseconds);
}

// ---------------------------------------------------------------- credentials

/**
 * Keys whose values are credentials. Near-misses of `access.key.secret` count too, so a typo in
 * the key does not put the secret into an "unknown option" report or a printed tree.
 */
export function isSensitiveOptionKey(key: string): boolean {
  const lower = key.toLowerCase();
  if (/secret|password|token/.test(lower)) return true;
  return closestMatch(lower, ['access.key.secret']) !== undefined;
}

/**
 * The text with the values of credential options overwritten by '*' (same length, line breaks
 * kept), so error excerpts can quote source lines safely. The value is everything after the key
 * (and its '=', when there is one) up to the ',' or ')' that ends the entry: a value left unquoted,
 * parenthesised or written as several tokens is hidden whole.
 */
export function redactSource(text: string): string {
  const { tokens } = tokenize(text);
  const spans: Array<readonly [number, number]> = [];
  /** the end (exclusive) of the value starting at `from` */
  const valueEnd = (from: number): number => {
    let depth = 0;
    let k = from;
    for (; k < tokens.length; k++) {
      const type = tokens[k]?.tokenType;
      if (type === LParen) depth++;
      else if (type === RParen) {
        if (depth === 0) break;
        depth--;
      } else if ((type === Comma || type === Semicolon) && depth === 0) break;
    }
    return k;
  };
  const hide = (from: number): number => {
    const end = valueEnd(from);
    const first = tokens[from];
    const last = tokens[end - 1];
    if (first !== undefined && last !== undefined && end > from) spans.push([first.startOffset, last.endOffset ?? last.startOffset]);
    return end - 1;
  };
  let key: string[] = [];
  let keyEnd = -1;
  /** whether the key being assembled opens an entry of a parenthesised list: `(key …` or `, key …` */
  let keyOpensEntry = false;
  let depth = 0;
  for (let i = 0; i < tokens.length; i++) {
    const token = tokens[i];
    if (token === undefined) break;
    const type = token.tokenType;
    if (type === LParen) depth++;
    else if (type === RParen && depth > 0) depth--;
    const sensitiveKeyBefore = key.length > 0 && keyEnd === i - 1 && isSensitiveOptionKey(key.join('.'));
    if (type === Equals && key.length > 0) {
      if (sensitiveKeyBefore) i = hide(i + 1);
      key = [];
    } else if (type === Dot) {
      // keeps the key being assembled
    } else if (sensitiveKeyBefore && keyOpensEntry && depth > 0 && type !== Comma && type !== RParen && type !== Semicolon) {
      // `access.key.secret 'x'`: the '=' is missing, the value is still a credential
      i = hide(i);
      key = [];
    } else if (type === StringLiteral && tokens[i + 1]?.tokenType === Equals) {
      key = [decodeStringLiteral(token.image).value];
      keyEnd = i;
    } else if (isWordToken(type)) {
      const continues = tokens[i - 1]?.tokenType === Dot;
      if (!continues) keyOpensEntry = tokens[i - 1]?.tokenType === LParen || tokens[i - 1]?.tokenType === Comma;
      key = continues ? [...key, token.image] : [token.image];
      keyEnd = i;
    } else {
      key = [];
    }
  }
  if (spans.length === 0) return text;
  let redacted = '';
  let cursor = 0;
  for (const [start, end] of spans) {
    redacted += text.slice(cursor, start) + text.slice(start, end + 1).replace(/[^\r\n]/g, '*');
    cursor = end + 1;
  }
  return redacted + text.slice(cursor);
}

function isWordToken(type: TokenType): boolean {
  return type === Identifier || type === BackquotedIdentifier || KEYWORDS.includes(type);
}
