import { EmbeddedActionsParser, EOF, tokenMatcher, type IToken, type TokenType } from './chevrotain.js';
import { left, right, type Either } from 'fp-ts/lib/Either.js';
import {
  CAST_TYPES,
  Redacted,
  type BinaryOperator,
  type CaseBranch,
  type CastType,
  type ColumnRef,
  type CreateScanStatement,
  type CreateStreamStatement,
  type CreateTableStatement,
  type DescribeStatement,
  type DropTableStatement,
  type ExplainableStatement,
  type Expr,
  type Identifier,
  type InsertStatement,
  type IntervalLiteral,
  type LimitClause,
  type OptionEntry,
  type OptionList,
  type OrderItem,
  type SelectItem,
  type SelectStatement,
  type ShowTablesStatement,
  type SourceLocation,
  type Statement,
  type TableRef,
  type WatermarkClause,
  type WindowBound,
} from './ast.js';
import { closestMatch, compareByPosition, type SqlError } from './errors.js';
import { checkScriptSize, checkTreeDepth } from './limits.js';
import * as T from './lexer.js';

const CAST_TYPE_ALIASES: Readonly<Record<string, CastType>> = {
  string: 'string',
  double: 'double',
  long: 'long',
  bigint: 'long',
  int: 'int',
  integer: 'int',
  boolean: 'boolean',
  timestamp: 'timestamp',
};
const CAST_TYPE_NAMES = ['String', 'Double', 'Long', 'Int', 'Boolean', 'Timestamp'] as const;

// ---------------------------------------------------------------- error messages

/**
 * Said after "expected X" when the parser fails to match token X inside a rule (keyed by
 * rule/token name); `what` replaces the token's label where that reads better.
 */
const MISMATCH_CONTEXT: Readonly<Record<string, { readonly context: string; readonly what?: string }>> = {
  'optionList/LParen': { context: "after OPTIONS (write OPTIONS(key='value', …))" },
  'optionList/RParen': { context: 'after OPTIONS list' },
  'optionEntry/Equals': { context: 'after option key' },
  'createTable/USING': { context: 'after table name' },
  'createTable/NOT': { context: 'after IF (CREATE TABLE IF NOT EXISTS)' },
  'createTable/EXISTS': { context: 'after IF NOT' },
  'createScan/ON': { context: 'after scan name' },
  'createScan/USING': { context: 'after ON <table>' },
  'createStream/INSERT': { context: 'after CREATE STREAM <name> [OPTIONS(…)]' },
  'dropTable/TABLE': { context: 'after DROP' },
  'dropTable/EXISTS': { context: 'after IF (DROP TABLE IF EXISTS)' },
  'insert/INSERT': { what: 'INSERT INTO <table> SELECT …', context: 'after CREATE STREAM <name> [OPTIONS(…)]' },
  'insert/INTO': { context: 'after INSERT' },
  'insert/RParen': { context: 'after column list' },
  'select/SELECT': { what: 'SELECT', context: 'after INSERT INTO <table> [(columns)]' },
  'showTables/TABLES': { context: 'after SHOW' },
  'functionCall/RParen': { context: 'after function arguments' },
  'parenthesized/RParen': { context: "to close '('" },
  'inList/LParen': { context: 'after IN' },
  'inList/RParen': { context: 'after IN list' },
  'castExpr/LParen': { context: 'after CAST' },
  'castExpr/AS': { context: 'in CAST(expr AS type)' },
  'castExpr/AnyWord': { what: 'a type name', context: 'after AS in CAST' },
  'castExpr/RParen': { context: 'after CAST type' },
  'caseExpr/THEN': { context: 'after WHEN condition' },
  'caseExpr/END': { context: 'to close CASE' },
  'betweenSuffix/AND': { context: 'in BETWEEN … AND …' },
  'isNullSuffix/NULL': { context: 'after IS [NOT]' },
  'watermark/DELAY': { context: 'after WATERMARK expression (WATERMARK ts DELAY OF INTERVAL …)' },
  'watermark/OF': { context: 'after DELAY' },
  'groupBy/BY': { context: 'after GROUP' },
  'orderBy/BY': { context: 'after ORDER' },
  'limit/NumberLiteral': { what: 'a row count', context: 'after LIMIT' },
  'intervalLiteral/Identifier': { what: 'a time unit (SECONDS, MINUTES, …)', context: 'after the interval amount' },
};

const DESCRIPTION_CONTEXT: Readonly<Record<string, string>> = {
  statement: '',
  explainable: 'after EXPLAIN',
};

function describeFound(token: IToken | undefined, ruleName?: string): string {
  if (token === undefined || token.tokenType === EOF) return 'end of input';
  if (token.tokenType === T.Semicolon) return "';'";
  // string contents are never quoted: they may be credentials
  if (token.tokenType === T.StringLiteral) return 'a string literal';
  if (isCredentialValue(token, ruleName)) return 'the value of a credential option (not shown)';
  const image = token.image.length > 32 ? `${token.image.slice(0, 29)}...` : token.image;
  return `'${image}'`;
}

/**
 * Whether `token`, met by the OPTIONS rules, is (part of) the value of an entry whose key is a
 * credential — `access.key.secret=abc` unquoted, `access.key.secret 'abc'` without '=': such a
 * token is not quoted in messages or hints.
 */
function isCredentialValue(token: IToken, ruleName: string | undefined): boolean {
  if (ruleName !== 'optionEntry' && ruleName !== 'optionList') return false;
  const index = statementTokens.indexOf(token);
  if (index <= 0) return false;
  // the entry starts after the ',' or '(' before the token
  let start = index;
  while (start > 0) {
    const type = statementTokens[start - 1]?.tokenType;
    if (type === T.Comma || type === T.LParen || type === T.Semicolon) break;
    start--;
  }
  const key: string[] = [];
  let i = start;
  const first = statementTokens[i];
  if (first !== undefined && first.tokenType === T.StringLiteral) {
    key.push(T.decodeStringLiteral(first.image).value);
    i++;
  } else {
    for (let word = statementTokens[i]; i < index && word !== undefined && tokenMatcher(word, T.AnyWord); word = statementTokens[i]) {
      key.push(identifierOf(word).name);
      i++;
      if (statementTokens[i]?.tokenType !== T.Dot) break;
      i++;
    }
  }
  // the token itself is (part of) the key
  if (key.length === 0 || i > index) return false;
  return T.isSensitiveOptionKey(key.join('.'));
}

function afterPrevious(previous: IToken | undefined): string {
  if (previous === undefined || previous.tokenType === EOF || previous.image === undefined) return '';
  if (previous.tokenType === T.StringLiteral) return 'after string literal';
  return `after '${previous.image}'`;
}

function describeExpected(type: TokenType): string {
  return typeof type.LABEL === 'string' ? type.LABEL : String(type.name);
}

/** "did you mean SELECT?" when a name is one edit or so away from a keyword that fits */
function keywordHint(actual: IToken | undefined, expected: readonly TokenType[]): string | undefined {
  if (actual === undefined || !tokenMatcher(actual, T.AnyWord)) return undefined;
  const words = expected.filter((type) => T.KEYWORDS.includes(type)).map((type) => String(type.name));
  const match = closestMatch(actual.image, words);
  return match === undefined ? undefined : `did you mean ${match}?`;
}

function valueHint(actual: IToken | undefined, ruleName: string, expected?: TokenType): string | undefined {
  if (ruleName === 'optionEntry' && actual !== undefined && tokenMatcher(actual, T.AnyWord)) {
    return isCredentialValue(actual, ruleName) ? 'quote the value' : `quote the value: '${actual.image}'`;
  }
  const inList = ruleName === 'optionList' && expected === T.RParen;
  if (inList && actual !== undefined && actual.tokenType !== EOF && actual.tokenType !== T.Semicolon) {
    return "separate options with ','";
  }
  return undefined;
}

/** Hints travel inside chevrotain's message string; `parse` splits them off again. */
const HINT_SEPARATOR = '\u0000';
function withHint(message: string, hint: string | undefined): string {
  return hint === undefined ? message : `${message}${HINT_SEPARATOR}${hint}`;
}

function firstTokens(paths: readonly (readonly TokenType[])[]): TokenType[] {
  const first: TokenType[] = [];
  for (const path of paths) {
    const type = path[0];
    if (type !== undefined && !first.includes(type)) first.push(type);
  }
  return first;
}

function listOfExpected(types: readonly TokenType[]): string {
  const labels = [...new Set(types.map(describeExpected))];
  if (labels.length <= 1) return labels[0] ?? 'more input';
  return `${labels.slice(0, -1).join(', ')} or ${labels.at(-1)}`;
}

const CLAUSE_KEYWORDS = ['FROM', 'WHERE', 'GROUP', 'HAVING', 'ORDER', 'LIMIT', 'WATERMARK'];

/** The statement being parsed, for messages that need the tokens around the failure. */
let statementTokens: readonly IToken[] = [];

const errorMessageProvider = {
  buildMismatchTokenMessage(options: { expected: TokenType; actual: IToken; previous: IToken; ruleName: string }): string {
    const { expected, actual, previous, ruleName } = options;
    const special = MISMATCH_CONTEXT[`${ruleName}/${String(expected.name)}`];
    const context = special?.context ?? afterPrevious(previous);
    const what = special?.what ?? describeExpected(expected);
    const message = `expected ${what}${context === '' ? '' : ` ${context}`} but found ${describeFound(actual, ruleName)}`;
    return withHint(message, keywordHint(actual, [expected]) ?? valueHint(actual, ruleName, expected));
  },
  buildNotAllInputParsedMessage(options: { firstRedundant: IToken; ruleName: string }): string {
    const { firstRedundant } = options;
    const startsStatement = [T.Create, T.Drop, T.Select, T.Insert, T.Show, T.Describe, T.Explain].some(
      (type) => firstRedundant.tokenType === type,
    );
    // `SELECT a FORM t`: FORM was taken as an alias, so the clause keyword it was meant to be
    // is the likelier fix than anything about 't'
    const index = statementTokens.indexOf(firstRedundant);
    const previous = index > 0 ? statementTokens[index - 1] : undefined;
    const misspeltClause =
      previous?.tokenType === T.Identifier ? closestMatch(previous.image, CLAUSE_KEYWORDS) : undefined;
    return withHint(
      `unexpected ${describeFound(firstRedundant)} after the end of the statement`,
      startsStatement
        ? "separate statements with ';'"
        : misspeltClause === undefined
          ? undefined
          : `is '${previous?.image}' meant to be ${misspeltClause}?`,
    );
  },
  buildNoViableAltMessage(options: {
    expectedPathsPerAlt: TokenType[][][];
    actual: IToken[];
    previous: IToken;
    customUserDescription?: string;
    ruleName: string;
  }): string {
    const { expectedPathsPerAlt, actual, previous, customUserDescription, ruleName } = options;
    const expected = firstTokens(expectedPathsPerAlt.flat());
    const what = customUserDescription ?? listOfExpected(expected);
    const context = DESCRIPTION_CONTEXT[ruleName] ?? afterPrevious(previous);
    const message = `expected ${what}${context === '' ? '' : ` ${context}`} but found ${describeFound(actual[0], ruleName)}`;
    return withHint(message, keywordHint(actual[0], expected) ?? valueHint(actual[0], ruleName));
  },
  buildEarlyExitMessage(options: {
    expectedIterationPaths: TokenType[][];
    actual: IToken[];
    previous: IToken;
    customUserDescription?: string;
    ruleName: string;
  }): string {
    const { expectedIterationPaths, actual, previous, customUserDescription } = options;
    const expected = firstTokens(expectedIterationPaths);
    const what = customUserDescription ?? listOfExpected(expected);
    const context = afterPrevious(previous);
    return withHint(
      `expected ${what}${context === '' ? '' : ` ${context}`} but found ${describeFound(actual[0])}`,
      keywordHint(actual[0], expected),
    );
  },
};

// ---------------------------------------------------------------- grammar

const loc = T.tokenLocation;

function identifierOf(token: IToken): Identifier {
  const quoted = token.tokenType === T.BackquotedIdentifier;
  return { kind: 'Identifier', name: quoted ? T.decodeBackquoted(token.image) : token.image, quoted, loc: loc(token) };
}

const COMPARISON: ReadonlyMap<TokenType, BinaryOperator> = new Map<TokenType, BinaryOperator>([
  [T.Equals, '='],
  [T.NotEqual, '!='],
  [T.Less, '<'],
  [T.LessOrEqual, '<='],
  [T.Greater, '>'],
  [T.GreaterOrEqual, '>='],
]);

type PredicateSuffix = (operand: Expr) => Expr;

/** Deeper than any hand-written SQL, well within the stack (each level is ~12 rule frames). */
const MAX_NESTING = 64;

class NestingTooDeep {
  constructor(readonly token: IToken) {}
}

class SqlParser extends EmbeddedActionsParser {
  /** errors found while building nodes (unknown CAST type, bad interval unit, …) */
  semanticErrors: SqlError[] = [];
  /** current expression nesting, bounded so deep input is an error and not a stack overflow */
  depth = 0;

  private nest<A>(token: IToken, parse: () => A): A {
    this.ACTION(() => {
      this.depth += 1;
      if (this.depth > MAX_NESTING) throw new NestingTooDeep(token);
    });
    const result = parse();
    this.ACTION(() => {
      this.depth -= 1;
    });
    return result;
  }

  constructor() {
    super([...T.allTokens], { maxLookahead: 3, errorMessageProvider });
    this.performSelfAnalysis();
  }

  private report(at: SourceLocation, message: string, hint?: string): void {
    this.semanticErrors.push(
      hint === undefined ? { message, ...at } : { message, ...at, hint },
    );
  }

  /**
   * IF is also a name (`if(c, a, b)`, a table called `if`), so `IF [NOT] EXISTS` is taken
   * whenever IF is followed by more than the end of the statement (or by `followers`); then a
   * misspelt clause is reported as such instead of as a table named IF.
   */
  private ifClauseAhead(followers: readonly TokenType[]): boolean {
    if (this.LA(1).tokenType !== T.If) return false;
    const next = this.LA(2).tokenType;
    return next !== EOF && next !== T.Semicolon && !followers.includes(next);
  }

  readonly statementEntry = this.RULE('statementEntry', (): Statement => {
    const statement = this.SUBRULE(this.statement);
    this.OPTION(() => this.CONSUME(T.Semicolon));
    return statement;
  });

  readonly statement = this.RULE('statement', (): Statement => {
    return this.OR({
      ERR_MSG: 'a statement (CREATE, DROP, SELECT, INSERT, SHOW, DESCRIBE or EXPLAIN)',
      DEF: [
        {
          ALT: () => {
            const explain = this.CONSUME(T.Explain);
            const statement = this.SUBRULE(this.explainable);
            return this.ACTION(() => ({ kind: 'Explain' as const, statement, loc: loc(explain) }));
          },
        },
        { ALT: () => this.SUBRULE1(this.explainable) },
      ],
    });
  });

  readonly explainable = this.RULE('explainable', (): ExplainableStatement => {
    return this.OR({
      ERR_MSG: 'a statement (CREATE, DROP, SELECT, INSERT, SHOW or DESCRIBE)',
      DEF: [
        { ALT: () => this.SUBRULE(this.create) },
        { ALT: () => this.SUBRULE(this.dropTable) },
        { ALT: () => this.SUBRULE(this.select) },
        { ALT: () => this.SUBRULE(this.insert) },
        { ALT: () => this.SUBRULE(this.showTables) },
        { ALT: () => this.SUBRULE(this.describe) },
      ],
    });
  });

  readonly create = this.RULE('create', (): CreateTableStatement | CreateScanStatement | CreateStreamStatement => {
    const create = this.CONSUME(T.Create);
    return this.OR({
      ERR_MSG: 'TABLE, SCAN or STREAM',
      DEF: [
        { ALT: () => this.SUBRULE(this.createTable, { ARGS: [create] }) },
        { ALT: () => this.SUBRULE(this.createScan, { ARGS: [create] }) },
        { ALT: () => this.SUBRULE(this.createStream, { ARGS: [create] }) },
      ],
    });
  });

  readonly createTable = this.RULE('createTable', (create: IToken): CreateTableStatement => {
    this.CONSUME(T.Table);
    let ifNotExists = false;
    this.OR1({
      MAX_LOOKAHEAD: 1,
      IGNORE_AMBIGUITIES: true,
      DEF: [
        {
          GATE: () => this.ifClauseAhead([T.Using]),
          ALT: () => {
            this.CONSUME(T.If);
            this.CONSUME(T.Not);
            this.CONSUME(T.Exists);
            ifNotExists = true;
          },
        },
        { ALT: () => undefined },
      ],
    });
    const name = this.SUBRULE(this.name);
    this.CONSUME(T.Using);
    const provider = this.SUBRULE1(this.name);
    const options = this.SUBRULE(this.optionList);
    return this.ACTION(() => ({ kind: 'CreateTable', name, ifNotExists, provider, options, loc: loc(create) }));
  });

  readonly createScan = this.RULE('createScan', (create: IToken): CreateScanStatement => {
    this.CONSUME(T.Scan);
    const name = this.SUBRULE(this.name);
    this.CONSUME(T.On);
    const table = this.SUBRULE1(this.name);
    this.CONSUME(T.Using);
    const mode = this.OR({
      ERR_MSG: 'STREAM or BATCH',
      DEF: [
        { ALT: () => (this.CONSUME(T.Stream), 'STREAM' as const) },
        { ALT: () => (this.CONSUME(T.Batch), 'BATCH' as const) },
      ],
    });
    const options = this.OPTION(() => this.SUBRULE(this.optionList)) ?? null;
    return this.ACTION(() => ({ kind: 'CreateScan', name, table, mode, options, loc: loc(create) }));
  });

  readonly createStream = this.RULE('createStream', (create: IToken): CreateStreamStatement => {
    this.CONSUME(T.Stream);
    const name = this.SUBRULE(this.name);
    const options = this.OPTION(() => this.SUBRULE(this.optionList)) ?? null;
    const insert = this.SUBRULE(this.insert);
    return this.ACTION(() => ({ kind: 'CreateStream', name, options, insert, loc: loc(create) }));
  });

  readonly dropTable = this.RULE('dropTable', (): DropTableStatement => {
    const drop = this.CONSUME(T.Drop);
    this.CONSUME(T.Table);
    let ifExists = false;
    this.OR({
      MAX_LOOKAHEAD: 1,
      IGNORE_AMBIGUITIES: true,
      DEF: [
        {
          GATE: () => this.ifClauseAhead([]),
          ALT: () => {
            this.CONSUME(T.If);
            this.CONSUME(T.Exists);
            ifExists = true;
          },
        },
        { ALT: () => undefined },
      ],
    });
    const name = this.SUBRULE(this.name);
    return this.ACTION(() => ({ kind: 'DropTable', name, ifExists, loc: loc(drop) }));
  });

  readonly insert = this.RULE('insert', (): InsertStatement => {
    const insert = this.CONSUME(T.Insert);
    this.CONSUME(T.Into);
    const table = this.SUBRULE(this.name);
    const columns: Identifier[] = [];
    this.OPTION(() => {
      this.CONSUME(T.LParen);
      this.AT_LEAST_ONE_SEP({
        SEP: T.Comma,
        ERR_MSG: 'a column name',
        DEF: () => {
          // any word: nothing else can stand in the list (`INSERT INTO snk (begin, end, c, s)`)
          const column = this.CONSUME(T.AnyWord);
          this.ACTION(() => columns.push(identifierOf(column)));
        },
      });
      this.CONSUME(T.RParen);
    });
    const query = this.SUBRULE(this.select);
    return this.ACTION(() => ({ kind: 'Insert', table, columns, query, loc: loc(insert) }));
  });

  readonly showTables = this.RULE('showTables', (): ShowTablesStatement => {
    const show = this.CONSUME(T.Show);
    this.CONSUME(T.Tables);
    return this.ACTION(() => ({ kind: 'ShowTables', loc: loc(show) }));
  });

  readonly describe = this.RULE('describe', (): DescribeStatement => {
    const keyword = this.OR([{ ALT: () => this.CONSUME(T.Describe) }, { ALT: () => this.CONSUME(T.Desc) }]);
    this.OPTION(() => this.CONSUME(T.Table));
    const name = this.SUBRULE(this.name);
    return this.ACTION(() => ({ kind: 'Describe', name, loc: loc(keyword) }));
  });

  // -------------------------------------------------------------- OPTIONS(k=v, …)

  readonly optionList = this.RULE('optionList', (): OptionList => {
    const keyword = this.CONSUME(T.Options);
    this.CONSUME(T.LParen);
    const entries: OptionEntry[] = [];
    this.MANY_SEP({
      SEP: T.Comma,
      DEF: () => {
        const entry = this.SUBRULE(this.optionEntry);
        this.ACTION(() => entries.push(entry));
      },
    });
    this.CONSUME(T.RParen);
    return this.ACTION(() => ({ kind: 'OptionList', entries, loc: loc(keyword) }));
  });

  readonly optionEntry = this.RULE('optionEntry', (): OptionEntry => {
    const key = this.OR({
      ERR_MSG: 'an option key',
      DEF: [
        {
          ALT: () => {
            const literal = this.CONSUME(T.StringLiteral);
            return this.ACTION(() => ({ text: T.decodeStringLiteral(literal.image).value, first: literal }));
          },
        },
        {
          ALT: () => {
            const first = this.CONSUME(T.AnyWord);
            const parts = [first];
            this.MANY(() => {
              this.CONSUME(T.Dot);
              parts.push(this.CONSUME1(T.AnyWord));
            });
            return this.ACTION(() => ({ text: parts.map((part) => identifierOf(part).name).join('.'), first }));
          },
        },
      ],
    });
    this.CONSUME(T.Equals);
    const value = this.OR1({
      ERR_MSG: 'an option value (a quoted string, a number, TRUE or FALSE)',
      DEF: [
        { ALT: () => ({ token: this.CONSUME1(T.StringLiteral), type: 'string' as const, negative: false }) },
        { ALT: () => ({ token: this.CONSUME(T.NumberLiteral), type: 'number' as const, negative: false }) },
        {
          ALT: () => {
            this.CONSUME(T.Minus);
            return { token: this.CONSUME1(T.NumberLiteral), type: 'number' as const, negative: true };
          },
        },
        { ALT: () => ({ token: this.CONSUME(T.True), type: 'boolean' as const, negative: false }) },
        { ALT: () => ({ token: this.CONSUME(T.False), type: 'boolean' as const, negative: false }) },
      ],
    });
    return this.ACTION((): OptionEntry => {
      const { token, type, negative } = value;
      const text =
        type === 'string'
          ? T.decodeStringLiteral(token.image).value
          : type === 'boolean'
            ? token.image.toLowerCase()
            : `${negative ? '-' : ''}${token.image}`;
      const at = loc(token);
      return {
        kind: 'Option',
        key: key.text,
        value: T.isSensitiveOptionKey(key.text)
          ? { kind: 'SecretOptionValue', secret: new Redacted(text), loc: at }
          : { kind: 'OptionValue', text, token: type, raw: token.image, loc: at },
        loc: loc(key.first),
      };
    });
  });

  // -------------------------------------------------------------- SELECT

  readonly select = this.RULE('select', (): SelectStatement => {
    const keyword = this.CONSUME(T.Select);
    const distinct = this.OPTION(() => (this.CONSUME(T.Distinct), true)) ?? false;
    const items: SelectItem[] = [];
    this.AT_LEAST_ONE_SEP({
      SEP: T.Comma,
      ERR_MSG: 'a select item (an expression or *)',
      DEF: () => {
        const item = this.SUBRULE(this.selectItem);
        this.ACTION(() => items.push(item));
      },
    });
    const from = this.OPTION1(() => {
      this.CONSUME(T.From);
      return this.SUBRULE(this.tableRef);
    }) ?? null;
    const where = this.OPTION2(() => {
      this.CONSUME(T.Where);
      return this.SUBRULE(this.expression);
    }) ?? null;
    const groupBy = this.OPTION3(() => this.SUBRULE(this.groupBy)) ?? [];
    const having = this.OPTION4(() => {
      this.CONSUME(T.Having);
      return this.SUBRULE1(this.expression);
    }) ?? null;
    const orderBy = this.OPTION5(() => this.SUBRULE(this.orderBy)) ?? [];
    const limit = this.OPTION6(() => this.SUBRULE(this.limit)) ?? null;
    return this.ACTION(() => ({
      kind: 'Select',
      distinct,
      items,
      from,
      where,
      groupBy,
      having,
      orderBy,
      limit,
      loc: loc(keyword),
    }));
  });

  readonly selectItem = this.RULE('selectItem', (): SelectItem => {
    return this.OR({
      ERR_MSG: 'a select item (an expression or *)',
      DEF: [
        {
          ALT: () => {
            const star = this.CONSUME(T.Star);
            return this.ACTION(() => ({ kind: 'SelectStar' as const, qualifier: null, loc: loc(star) }));
          },
        },
        {
          ALT: () => {
            const qualifier = this.CONSUME(T.Name);
            this.CONSUME(T.Dot);
            this.CONSUME1(T.Star);
            return this.ACTION(() => ({ kind: 'SelectStar' as const, qualifier: identifierOf(qualifier), loc: loc(qualifier) }));
          },
        },
        {
          ALT: () => {
            const expr = this.SUBRULE(this.expression);
            const alias = this.OPTION(() => this.SUBRULE(this.alias)) ?? null;
            return this.ACTION(() => ({ kind: 'SelectExpr' as const, expr, alias, loc: expr.loc }));
          },
        },
      ],
    });
  });

  /** `AS anything` (keywords too: the seed writes `AS end`) or a bare name (see AliasWord) */
  readonly alias = this.RULE('alias', (): Identifier => {
    const token = this.OR([
      {
        ALT: () => {
          this.CONSUME(T.As);
          return this.CONSUME(T.AnyWord);
        },
      },
      { ALT: () => this.CONSUME(T.AliasWord) },
    ]);
    return this.ACTION(() => identifierOf(token));
  });

  readonly tableRef = this.RULE('tableRef', (): TableRef => {
    const name = this.SUBRULE(this.name);
    const alias = this.OPTION(() => this.SUBRULE(this.alias)) ?? null;
    const watermark = this.OPTION1(() => this.SUBRULE(this.watermark)) ?? null;
    return this.ACTION(() => ({ kind: 'TableRef', name, alias, watermark, loc: name.loc }));
  });

  readonly watermark = this.RULE('watermark', (): WatermarkClause => {
    const keyword = this.CONSUME(T.Watermark);
    const eventTime = this.SUBRULE(this.expression);
    const alias = this.OPTION(() => {
      this.CONSUME(T.As);
      return identifierOf(this.CONSUME(T.AnyWord));
    }) ?? null;
    this.CONSUME(T.Delay);
    this.CONSUME(T.Of);
    const delay = this.SUBRULE(this.intervalLiteral);
    return this.ACTION(() => ({ kind: 'Watermark', eventTime, alias, delay, loc: loc(keyword) }));
  });

  readonly groupBy = this.RULE('groupBy', (): Expr[] => {
    this.CONSUME(T.Group);
    this.CONSUME(T.By);
    const keys: Expr[] = [];
    this.AT_LEAST_ONE_SEP({
      SEP: T.Comma,
      ERR_MSG: 'a grouping expression',
      DEF: () => {
        const key = this.SUBRULE(this.expression);
        this.ACTION(() => keys.push(key));
      },
    });
    return keys;
  });

  readonly orderBy = this.RULE('orderBy', (): OrderItem[] => {
    this.CONSUME(T.Order);
    this.CONSUME(T.By);
    const items: OrderItem[] = [];
    this.AT_LEAST_ONE_SEP({
      SEP: T.Comma,
      ERR_MSG: 'an ordering expression',
      DEF: () => {
        const expr = this.SUBRULE(this.expression);
        const direction =
          this.OPTION(() =>
            this.OR([
              { ALT: () => (this.CONSUME(T.Asc), 'ASC' as const) },
              { ALT: () => (this.CONSUME(T.Desc), 'DESC' as const) },
            ]),
          ) ?? 'ASC';
        this.ACTION(() => items.push({ kind: 'OrderItem', expr, direction, loc: expr.loc }));
      },
    });
    return items;
  });

  readonly limit = this.RULE('limit', (): LimitClause => {
    const keyword = this.CONSUME(T.Limit);
    const count = this.CONSUME(T.NumberLiteral);
    return this.ACTION(() => {
      const value = Number(count.image);
      if (!/^\d+$/.test(count.image) || !Number.isSafeInteger(value)) {
        this.report(loc(count), `LIMIT needs a whole number of rows, not '${count.image}'`);
      }
      return { kind: 'Limit', count: value, loc: loc(keyword) };
    });
  });

  readonly name = this.RULE('name', (): Identifier => {
    const token = this.CONSUME(T.Name);
    return this.ACTION(() => identifierOf(token));
  });

  // -------------------------------------------------------------- expressions, by precedence

  readonly expression = this.RULE('expression', (): Expr => this.nest(this.LA(1), () => this.SUBRULE(this.orExpr)));

  readonly orExpr = this.RULE('orExpr', (): Expr => {
    let result = this.SUBRULE(this.andExpr);
    this.MANY(() => {
      const op = this.CONSUME(T.Or);
      const rightOperand = this.SUBRULE1(this.andExpr);
      result = this.ACTION(() => binary('OR', result, rightOperand, op));
    });
    return result;
  });

  readonly andExpr = this.RULE('andExpr', (): Expr => {
    let result = this.SUBRULE(this.notExpr);
    this.MANY(() => {
      const op = this.CONSUME(T.And);
      const rightOperand = this.SUBRULE1(this.notExpr);
      result = this.ACTION(() => binary('AND', result, rightOperand, op));
    });
    return result;
  });

  readonly notExpr = this.RULE('notExpr', (): Expr => {
    return this.OR({
      ERR_MSG: 'an expression',
      DEF: [
        {
          ALT: () => {
            const not = this.CONSUME(T.Not);
            const operand = this.nest(not, () => this.SUBRULE(this.notExpr));
            return this.ACTION(() => ({ kind: 'Unary' as const, op: 'NOT' as const, operand, loc: loc(not) }));
          },
        },
        { ALT: () => this.SUBRULE(this.predicate) },
      ],
    });
  });

  /** comparisons, then at most one IS / IN / BETWEEN / LIKE suffix (as Spark's grammar) */
  readonly predicate = this.RULE('predicate', (): Expr => {
    const operand = this.SUBRULE(this.comparison);
    const suffix = this.OPTION(() =>
      this.OR([
        { ALT: () => this.SUBRULE(this.isNullSuffix) },
        { ALT: () => this.SUBRULE(this.inList) },
        { ALT: () => this.SUBRULE(this.betweenSuffix) },
        { ALT: () => this.SUBRULE(this.likeSuffix) },
      ]),
    );
    return this.ACTION(() => (suffix === undefined ? operand : suffix(operand)));
  });

  readonly isNullSuffix = this.RULE('isNullSuffix', (): PredicateSuffix => {
    this.CONSUME(T.Is);
    const negated = this.OPTION(() => (this.CONSUME(T.Not), true)) ?? false;
    this.CONSUME(T.Null);
    return (operand) => ({ kind: 'IsNull', operand, negated, loc: operand.loc });
  });

  readonly inList = this.RULE('inList', (): PredicateSuffix => {
    const negated = this.OPTION(() => (this.CONSUME(T.Not), true)) ?? false;
    this.CONSUME(T.In);
    this.CONSUME(T.LParen);
    const values: Expr[] = [];
    this.AT_LEAST_ONE_SEP({
      SEP: T.Comma,
      ERR_MSG: 'a value',
      DEF: () => {
        const value = this.SUBRULE(this.expression);
        this.ACTION(() => values.push(value));
      },
    });
    this.CONSUME(T.RParen);
    return (operand) => ({ kind: 'InList', operand, values, negated, loc: operand.loc });
  });

  readonly betweenSuffix = this.RULE('betweenSuffix', (): PredicateSuffix => {
    const negated = this.OPTION(() => (this.CONSUME(T.Not), true)) ?? false;
    this.CONSUME(T.Between);
    const low = this.SUBRULE(this.additive);
    this.CONSUME(T.And);
    const high = this.SUBRULE1(this.additive);
    return (operand) => ({ kind: 'Between', operand, low, high, negated, loc: operand.loc });
  });

  readonly likeSuffix = this.RULE('likeSuffix', (): PredicateSuffix => {
    const negated = this.OPTION(() => (this.CONSUME(T.Not), true)) ?? false;
    this.CONSUME(T.Like);
    const pattern = this.SUBRULE(this.additive);
    return (operand) => ({ kind: 'Like', operand, pattern, negated, loc: operand.loc });
  });

  readonly comparison = this.RULE('comparison', (): Expr => {
    let result = this.SUBRULE(this.additive);
    this.MANY(() => {
      const op = this.OR([
        { ALT: () => this.CONSUME(T.Equals) },
        { ALT: () => this.CONSUME(T.NotEqual) },
        { ALT: () => this.CONSUME(T.LessOrEqual) },
        { ALT: () => this.CONSUME(T.GreaterOrEqual) },
        { ALT: () => this.CONSUME(T.Less) },
        { ALT: () => this.CONSUME(T.Greater) },
      ]);
      const rightOperand = this.SUBRULE1(this.additive);
      result = this.ACTION(() => binary(COMPARISON.get(op.tokenType) ?? '=', result, rightOperand, op));
    });
    return result;
  });

  readonly additive = this.RULE('additive', (): Expr => {
    let result = this.SUBRULE(this.multiplicative);
    this.MANY(() => {
      const op = this.OR([{ ALT: () => this.CONSUME(T.Plus) }, { ALT: () => this.CONSUME(T.Minus) }]);
      const rightOperand = this.SUBRULE1(this.multiplicative);
      result = this.ACTION(() => binary(op.image as '+' | '-', result, rightOperand, op));
    });
    return result;
  });

  readonly multiplicative = this.RULE('multiplicative', (): Expr => {
    let result = this.SUBRULE(this.unary);
    this.MANY(() => {
      const op = this.OR([
        { ALT: () => this.CONSUME(T.Star) },
        { ALT: () => this.CONSUME(T.Slash) },
        { ALT: () => this.CONSUME(T.Percent) },
      ]);
      const rightOperand = this.SUBRULE1(this.unary);
      result = this.ACTION(() => binary(op.image as '*' | '/' | '%', result, rightOperand, op));
    });
    return result;
  });

  readonly unary = this.RULE('unary', (): Expr => {
    return this.OR({
      ERR_MSG: 'an expression',
      DEF: [
        {
          ALT: () => {
            const op = this.OR1([{ ALT: () => this.CONSUME(T.Minus) }, { ALT: () => this.CONSUME(T.Plus) }]);
            const operand = this.nest(op, () => this.SUBRULE(this.unary));
            return this.ACTION(() => ({ kind: 'Unary' as const, op: op.image as '-' | '+', operand, loc: loc(op) }));
          },
        },
        { ALT: () => this.SUBRULE(this.primary) },
      ],
    });
  });

  readonly primary = this.RULE('primary', (): Expr => {
    return this.OR({
      ERR_MSG: 'an expression',
      DEF: [
        {
          ALT: () => {
            const token = this.CONSUME(T.NumberLiteral);
            return this.ACTION(() => ({
              kind: 'NumberLiteral' as const,
              value: Number(token.image),
              text: token.image,
              isInteger: /^\d+$/.test(token.image),
              loc: loc(token),
            }));
          },
        },
        {
          ALT: () => {
            const token = this.CONSUME(T.StringLiteral);
            return this.ACTION(() => ({
              kind: 'StringLiteral' as const,
              value: T.decodeStringLiteral(token.image).value,
              loc: loc(token),
            }));
          },
        },
        {
          ALT: () => {
            const token = this.CONSUME(T.True);
            return this.ACTION(() => ({ kind: 'BooleanLiteral' as const, value: true, loc: loc(token) }));
          },
        },
        {
          ALT: () => {
            const token = this.CONSUME(T.False);
            return this.ACTION(() => ({ kind: 'BooleanLiteral' as const, value: false, loc: loc(token) }));
          },
        },
        {
          ALT: () => {
            const token = this.CONSUME(T.Null);
            return this.ACTION(() => ({ kind: 'NullLiteral' as const, loc: loc(token) }));
          },
        },
        { ALT: () => this.SUBRULE(this.intervalLiteral) },
        { ALT: () => this.SUBRULE(this.castExpr) },
        { ALT: () => this.SUBRULE(this.caseExpr) },
        { ALT: () => this.SUBRULE(this.parenthesized) },
        { ALT: () => this.SUBRULE(this.functionCall) },
        { ALT: () => this.SUBRULE(this.columnRef) },
      ],
    });
  });

  readonly parenthesized = this.RULE('parenthesized', (): Expr => {
    this.CONSUME(T.LParen);
    const inner = this.SUBRULE(this.expression);
    this.CONSUME(T.RParen);
    return inner;
  });

  readonly intervalLiteral = this.RULE('intervalLiteral', (): IntervalLiteral => {
    const keyword = this.CONSUME(T.Interval);
    return this.OR({
      ERR_MSG: "an interval amount (INTERVAL 10 SECONDS or INTERVAL '10 seconds')",
      DEF: [
        {
          ALT: () => {
            const text = this.CONSUME(T.StringLiteral);
            const unit = this.OPTION({
              GATE: () => T.intervalUnitMilliseconds(this.LA(1).image ?? '') !== undefined,
              DEF: () => this.CONSUME(T.Identifier),
            });
            return this.ACTION((): IntervalLiteral => {
              const body = T.decodeStringLiteral(text.image).value;
              const written = unit === undefined ? body : `${body} ${unit.image}`;
              const parsed = T.parseDuration(written);
              if (parsed._tag === 'Left') this.report(loc(text), parsed.left);
              return {
                kind: 'IntervalLiteral',
                milliseconds: parsed._tag === 'Right' ? parsed.right : 0,
                text: written,
                loc: loc(keyword),
              };
            });
          },
        },
        {
          ALT: () => {
            const parts: Array<readonly [IToken, IToken]> = [];
            this.AT_LEAST_ONE(() => {
              const amount = this.CONSUME(T.NumberLiteral);
              const unit = this.CONSUME1(T.Identifier);
              parts.push([amount, unit]);
            });
            return this.ACTION((): IntervalLiteral => {
              let milliseconds = 0;
              for (const [amount, unit] of parts) {
                const unitMilliseconds = T.intervalUnitMilliseconds(unit.image);
                if (unitMilliseconds === undefined) {
                  const suggestion = closestMatch(unit.image, T.INTERVAL_UNITS);
                  this.report(
                    loc(unit),
                    `unknown interval unit '${unit.image}'`,
                    suggestion === undefined
                      ? 'use MILLISECONDS, SECONDS, MINUTES, HOURS, DAYS or WEEKS'
                      : `did you mean ${suggestion.toUpperCase()}?`,
                  );
                } else {
                  milliseconds += Number(amount.image) * unitMilliseconds;
                }
              }
              return {
                kind: 'IntervalLiteral',
                milliseconds,
                text: parts.map(([amount, unit]) => `${amount.image} ${unit.image}`).join(' '),
                loc: loc(keyword),
              };
            });
          },
        },
      ],
    });
  });

  readonly castExpr = this.RULE('castExpr', (): Expr => {
    const keyword = this.CONSUME(T.Cast);
    this.CONSUME(T.LParen);
    const operand = this.SUBRULE(this.expression);
    this.CONSUME(T.As);
    const typeToken = this.CONSUME(T.AnyWord);
    this.CONSUME(T.RParen);
    return this.ACTION(() => {
      const alias = typeToken.image.toLowerCase();
      // own members only: CAST(x AS constructor) is no type
      const type = Object.hasOwn(CAST_TYPE_ALIASES, alias) ? CAST_TYPE_ALIASES[alias] : undefined;
      if (type === undefined) {
        const suggestion = closestMatch(typeToken.image, [...CAST_TYPE_NAMES, ...CAST_TYPES]);
        this.report(
          loc(typeToken),
          `unknown type '${typeToken.image}' in CAST; expected one of ${CAST_TYPE_NAMES.join(', ')}`,
          suggestion === undefined ? undefined : `did you mean '${suggestion}'?`,
        );
      }
      return { kind: 'Cast' as const, operand, type: type ?? 'string', typeLoc: loc(typeToken), loc: loc(keyword) };
    });
  });

  readonly caseExpr = this.RULE('caseExpr', (): Expr => {
    const keyword = this.CONSUME(T.Case);
    const operand = this.OPTION(() => this.SUBRULE(this.expression)) ?? null;
    const branches: CaseBranch[] = [];
    this.AT_LEAST_ONE({
      ERR_MSG: 'WHEN',
      DEF: () => {
        const when = this.CONSUME(T.When);
        const condition = this.SUBRULE1(this.expression);
        this.CONSUME(T.Then);
        const result = this.SUBRULE2(this.expression);
        this.ACTION(() => branches.push({ kind: 'CaseBranch', when: condition, then: result, loc: loc(when) }));
      },
    });
    const otherwise = this.OPTION1(() => {
      this.CONSUME(T.Else);
      return this.SUBRULE3(this.expression);
    }) ?? null;
    this.CONSUME(T.End);
    return this.ACTION(() => ({ kind: 'Case' as const, operand, branches, otherwise, loc: loc(keyword) }));
  });

  readonly functionCall = this.RULE('functionCall', (): Expr => {
    const nameToken = this.CONSUME(T.Name);
    this.CONSUME(T.LParen);
    let distinct = false;
    let star: IToken | undefined;
    const args: Expr[] = [];
    this.OPTION(() => {
      this.OR([
        { ALT: () => (star = this.CONSUME(T.Star)) },
        {
          ALT: () => {
            this.OPTION1(() => {
              this.CONSUME(T.Distinct);
              distinct = true;
            });
            this.AT_LEAST_ONE_SEP({
              SEP: T.Comma,
              ERR_MSG: 'a function argument',
              DEF: () => {
                const arg = this.SUBRULE(this.expression);
                this.ACTION(() => args.push(arg));
              },
            });
          },
        },
      ]);
    });
    this.CONSUME(T.RParen);
    return this.ACTION(() => {
      const name = identifierOf(nameToken);
      if (star !== undefined && name.name.toLowerCase() !== 'count') {
        this.report(loc(star), `'*' is only allowed in count(*), not in ${name.name}(*)`);
      }
      return { kind: 'FunctionCall' as const, name, args, distinct, star: star !== undefined, loc: name.loc };
    });
  });

  readonly columnRef = this.RULE('columnRef', (): ColumnRef | WindowBound => {
    const first = this.CONSUME(T.Name);
    const rest: IToken[] = [];
    this.MANY(() => {
      this.CONSUME(T.Dot);
      rest.push(this.CONSUME(T.AnyWord));
    });
    return this.ACTION((): ColumnRef | WindowBound => {
      const head = identifierOf(first);
      const tail = rest.map(identifierOf);
      const [second] = tail;
      if (second === undefined) return { kind: 'ColumnRef', qualifier: null, name: head, loc: head.loc };
      const bound = second.name.toLowerCase();
      if (tail.length === 1 && !head.quoted && head.name.toLowerCase() === 'window' && (bound === 'start' || bound === 'end')) {
        return { kind: 'WindowBound', bound, loc: head.loc };
      }
      if (tail.length > 1) {
        const written = [head, ...tail].map((part) => part.name).join('.');
        this.report(head.loc, `'${written}': only 'table.column' qualification is supported`);
      }
      return { kind: 'ColumnRef', qualifier: head, name: tail.at(-1) ?? second, loc: head.loc };
    });
  });
}

function binary(op: BinaryOperator, leftOperand: Expr, rightOperand: Expr, token: IToken): Expr {
  return { kind: 'Binary', op, left: leftOperand, right: rightOperand, loc: leftOperand.loc, opLoc: loc(token) };
}

// ---------------------------------------------------------------- entry point

let sharedParser: SqlParser | undefined;
function parserInstance(): SqlParser {
  sharedParser ??= new SqlParser();
  return sharedParser;
}

/** The position just after `token`, for "found end of input" errors. */
function locationAfter(token: IToken): SourceLocation {
  const end = token.endOffset ?? token.startOffset;
  return { line: token.endLine ?? 1, column: (token.endColumn ?? 0) + 1, offset: end + 1 };
}

function recognitionError(exception: { message: string; token: IToken }, statementTokens: readonly IToken[]): SqlError {
  const [message = exception.message, hint] = exception.message.split(HINT_SEPARATOR);
  const token = exception.token;
  const last = statementTokens.at(-1);
  const at =
    token.tokenType === EOF || Number.isNaN(token.startOffset)
      ? last === undefined
        ? { line: 1, column: 1, offset: 0 }
        : locationAfter(last)
      : loc(token);
  return hint === undefined ? { message, ...at } : { message, ...at, hint };
}

/** Statements are split at ';' first, so each one is parsed (and reported) on its own. */
function splitStatements(tokens: readonly IToken[]): IToken[][] {
  const groups: IToken[][] = [[]];
  for (const token of tokens) {
    groups.at(-1)?.push(token);
    if (token.tokenType === T.Semicolon) groups.push([]);
  }
  return groups;
}

/**
 * Parses a script of `;`-separated statements. Never throws: every problem (lexical, syntactic,
 * or a malformed literal such as an unknown CAST type) comes back as a located SqlError, at
 * most one syntax error per statement, all statements checked.
 */
export function parse(text: string): Either<readonly SqlError[], readonly Statement[]> {
  // limits first: an oversized script is refused before the lexer, an over-deep tree before anything walks it
  const tooLarge = checkScriptSize(text);
  if (tooLarge !== undefined) return left([tooLarge]);
  try {
    const parsed = parseUnsafe(text);
    const tooDeep = parsed._tag === 'Right' ? checkTreeDepth(parsed.right) : [];
    return tooDeep.length > 0 ? left(tooDeep) : parsed;
  } catch (error) {
    const message =
      error instanceof RangeError
        ? 'statement nested too deeply'
        : `internal parser error: ${error instanceof Error ? error.message : String(error)}`;
    return left([{ message, line: 1, column: 1, offset: 0 }]);
  }
}

function parseUnsafe(text: string): Either<readonly SqlError[], readonly Statement[]> {
  const lexed = T.tokenize(text);
  const errors: SqlError[] = [...lexed.errors];
  const statements: Statement[] = [];
  const parser = parserInstance();
  let lexErrorIndex = 0;
  for (const group of splitStatements(lexed.tokens)) {
    const significant = group.filter((token) => token.tokenType !== T.Semicolon);
    const terminator = group.at(-1);
    const end = terminator?.tokenType === T.Semicolon ? terminator.startOffset : Number.POSITIVE_INFINITY;
    // A statement around a lexical error is not parsed: its syntax errors would only echo it.
    let spoiled = false;
    while (lexErrorIndex < lexed.errors.length && (lexed.errors[lexErrorIndex]?.offset ?? 0) < end) {
      spoiled = true;
      lexErrorIndex++;
    }
    if (significant.length === 0 || spoiled) continue;
    parser.semanticErrors = [];
    parser.depth = 0;
    parser.input = group;
    statementTokens = group;
    let statement: Statement | undefined;
    try {
      statement = parser.statementEntry();
    } catch (error) {
      if (!(error instanceof NestingTooDeep)) throw error;
      errors.push({ message: `expression nested more than ${MAX_NESTING} levels deep`, ...loc(error.token) });
      continue;
    }
    errors.push(...parser.semanticErrors);
    const [syntaxError] = parser.errors;
    if (syntaxError !== undefined) {
      errors.push(recognitionError(syntaxError, group));
    } else if (statement !== undefined) {
      statements.push(statement);
    }
  }
  if (errors.length > 0) return left(errors.sort(compareByPosition));
  return right(statements);
}
