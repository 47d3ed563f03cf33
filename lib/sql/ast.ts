/**
 * The syntax tree of the EMR streaming SQL dialect: readonly plain objects tagged by `kind`.
 * Every node carries the location of its first token so the analyzer can point at the source.
 * Absent parts are `null` (single values) or `[]` (lists), never missing, so trees compare
 * structurally and printers need no optional-chaining.
 */

/** Where a node starts: 1-based line and column (UTF-16 units), 0-based offset into the text. */
export interface SourceLocation {
  readonly line: number;
  readonly column: number;
  readonly offset: number;
}

/**
 * A credential kept out of every printed form (toString, JSON, util.inspect, error messages).
 * Call `reveal()` where the value is actually needed (signing requests).
 */
export class Redacted {
  readonly #value: string;
  constructor(value: string) {
    this.#value = value;
  }
  reveal(): string {
    return this.#value;
  }
  toString(): string {
    return '<redacted>';
  }
  toJSON(): string {
    return '<redacted>';
  }
  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return '<redacted>';
  }
}

export interface Identifier {
  readonly kind: 'Identifier';
  /** as written (backquotes removed); Spark resolves names case-insensitively */
  readonly name: string;
  /** written in backquotes */
  readonly quoted: boolean;
  readonly loc: SourceLocation;
}

// ---------------------------------------------------------------- expressions

export interface StringLiteral {
  readonly kind: 'StringLiteral';
  readonly value: string;
  readonly loc: SourceLocation;
}

export interface NumberLiteral {
  readonly kind: 'NumberLiteral';
  readonly value: number;
  /** the digits as written, so integers beyond 2^53 can still be read exactly (BigInt(text)) */
  readonly text: string;
  readonly isInteger: boolean;
  readonly loc: SourceLocation;
}

export interface BooleanLiteral {
  readonly kind: 'BooleanLiteral';
  readonly value: boolean;
  readonly loc: SourceLocation;
}

export interface NullLiteral {
  readonly kind: 'NullLiteral';
  readonly loc: SourceLocation;
}

/** `INTERVAL 10 SECONDS`, `INTERVAL 1 HOUR 30 MINUTES`, `INTERVAL '2 minutes'` */
export interface IntervalLiteral {
  readonly kind: 'IntervalLiteral';
  readonly milliseconds: number;
  /** the interval as written after INTERVAL, for messages and printing */
  readonly text: string;
  readonly loc: SourceLocation;
}

/** `price`, `o.price` */
export interface ColumnRef {
  readonly kind: 'ColumnRef';
  readonly qualifier: Identifier | null;
  readonly name: Identifier;
  readonly loc: SourceLocation;
}

/** `window.start` / `window.end`: the bounds of the window a grouped row belongs to */
export interface WindowBound {
  readonly kind: 'WindowBound';
  readonly bound: 'start' | 'end';
  readonly loc: SourceLocation;
}

export type UnaryOperator = '-' | '+' | 'NOT';

export interface UnaryExpr {
  readonly kind: 'Unary';
  readonly op: UnaryOperator;
  readonly operand: Expr;
  readonly loc: SourceLocation;
}

export type ArithmeticOperator = '+' | '-' | '*' | '/' | '%';
/** `<>` is normalised to `!=` and `==` to `=` */
export type ComparisonOperator = '=' | '!=' | '<' | '<=' | '>' | '>=';
export type LogicalOperator = 'AND' | 'OR';
export type BinaryOperator = ArithmeticOperator | ComparisonOperator | LogicalOperator;

export interface BinaryExpr {
  readonly kind: 'Binary';
  readonly op: BinaryOperator;
  readonly left: Expr;
  readonly right: Expr;
  /** the start of the left operand */
  readonly loc: SourceLocation;
  /** the operator token, where type errors of the operation point */
  readonly opLoc: SourceLocation;
}

export interface IsNullExpr {
  readonly kind: 'IsNull';
  readonly operand: Expr;
  readonly negated: boolean;
  readonly loc: SourceLocation;
}

export interface InListExpr {
  readonly kind: 'InList';
  readonly operand: Expr;
  readonly values: readonly Expr[];
  readonly negated: boolean;
  readonly loc: SourceLocation;
}

export interface BetweenExpr {
  readonly kind: 'Between';
  readonly operand: Expr;
  readonly low: Expr;
  readonly high: Expr;
  readonly negated: boolean;
  readonly loc: SourceLocation;
}

export interface LikeExpr {
  readonly kind: 'Like';
  readonly operand: Expr;
  readonly pattern: Expr;
  readonly negated: boolean;
  readonly loc: SourceLocation;
}

export interface CaseBranch {
  readonly kind: 'CaseBranch';
  readonly when: Expr;
  readonly then: Expr;
  readonly loc: SourceLocation;
}

/** searched (`CASE WHEN c THEN …`) when `operand` is null, simple (`CASE x WHEN v THEN …`) otherwise */
export interface CaseExpr {
  readonly kind: 'Case';
  readonly operand: Expr | null;
  readonly branches: readonly CaseBranch[];
  readonly otherwise: Expr | null;
  readonly loc: SourceLocation;
}

/** the CAST targets the dialect supports; names are case-insensitive in the source */
export const CAST_TYPES = ['string', 'double', 'long', 'int', 'boolean', 'timestamp'] as const;
export type CastType = (typeof CAST_TYPES)[number];

export interface CastExpr {
  readonly kind: 'Cast';
  readonly operand: Expr;
  readonly type: CastType;
  readonly typeLoc: SourceLocation;
  readonly loc: SourceLocation;
}

/** Any `name(args)`; the analyzer decides whether the name is known (see KNOWN_FUNCTIONS). */
export interface FunctionCall {
  readonly kind: 'FunctionCall';
  readonly name: Identifier;
  readonly args: readonly Expr[];
  /** `count(DISTINCT x)` */
  readonly distinct: boolean;
  /** `count(*)`: then `args` is empty */
  readonly star: boolean;
  readonly loc: SourceLocation;
}

export type Literal = StringLiteral | NumberLiteral | BooleanLiteral | NullLiteral | IntervalLiteral;

export type Expr =
  | Literal
  | ColumnRef
  | WindowBound
  | UnaryExpr
  | BinaryExpr
  | IsNullExpr
  | InListExpr
  | BetweenExpr
  | LikeExpr
  | CaseExpr
  | CastExpr
  | FunctionCall;

/** Functions the planner is expected to know, lower case; anything else is parsed too. */
export const AGGREGATE_FUNCTIONS = ['count', 'sum', 'avg', 'min', 'max'] as const;
export const KNOWN_FUNCTIONS = [
  ...AGGREGATE_FUNCTIONS,
  'to_timestamp',
  'from_unixtime',
  'unix_timestamp',
  'date_format',
  'window',
  'session_window',
  'tumbling',
  'hopping',
  'coalesce',
  'concat',
  'abs',
  'round',
  // EMR watermark spellings: `delay(col) < '2 minutes'` in WHERE, `watermark(col, interval …)` in SELECT
  'delay',
  'watermark',
] as const;

// ---------------------------------------------------------------- queries

export interface SelectExprItem {
  readonly kind: 'SelectExpr';
  readonly expr: Expr;
  readonly alias: Identifier | null;
  readonly loc: SourceLocation;
}

/** `*` or `t.*` */
export interface SelectStarItem {
  readonly kind: 'SelectStar';
  readonly qualifier: Identifier | null;
  readonly loc: SourceLocation;
}

export type SelectItem = SelectExprItem | SelectStarItem;

/** `WATERMARK expr [AS name] DELAY OF INTERVAL …` on a FROM item (Databricks spelling) */
export interface WatermarkClause {
  readonly kind: 'Watermark';
  readonly eventTime: Expr;
  readonly alias: Identifier | null;
  readonly delay: IntervalLiteral;
  readonly loc: SourceLocation;
}

export interface TableRef {
  readonly kind: 'TableRef';
  readonly name: Identifier;
  readonly alias: Identifier | null;
  readonly watermark: WatermarkClause | null;
  readonly loc: SourceLocation;
}

export interface OrderItem {
  readonly kind: 'OrderItem';
  readonly expr: Expr;
  readonly direction: 'ASC' | 'DESC';
  readonly loc: SourceLocation;
}

export interface LimitClause {
  readonly kind: 'Limit';
  readonly count: number;
  readonly loc: SourceLocation;
}

export interface SelectStatement {
  readonly kind: 'Select';
  readonly distinct: boolean;
  readonly items: readonly SelectItem[];
  readonly from: TableRef | null;
  readonly where: Expr | null;
  readonly groupBy: readonly Expr[];
  readonly having: Expr | null;
  readonly orderBy: readonly OrderItem[];
  readonly limit: LimitClause | null;
  readonly loc: SourceLocation;
}

// ---------------------------------------------------------------- OPTIONS

/** A value as written: a quoted string, a number or a boolean (kept as text, decoded later). */
export interface OptionValue {
  readonly kind: 'OptionValue';
  readonly text: string;
  readonly token: 'string' | 'number' | 'boolean';
  /** the token exactly as in the source (quotes and escapes), to map positions inside the value */
  readonly raw: string;
  readonly loc: SourceLocation;
}

/** The value of a credential-like key (see isSensitiveOptionKey): never printed. */
export interface SecretOptionValue {
  readonly kind: 'SecretOptionValue';
  readonly secret: Redacted;
  readonly loc: SourceLocation;
}

export interface OptionEntry {
  readonly kind: 'Option';
  /** dotted key as written, e.g. `access.key.id`; matched case-insensitively when decoded */
  readonly key: string;
  readonly value: OptionValue | SecretOptionValue;
  /** the key's first token */
  readonly loc: SourceLocation;
}

export interface OptionList {
  readonly kind: 'OptionList';
  readonly entries: readonly OptionEntry[];
  /** the OPTIONS keyword */
  readonly loc: SourceLocation;
}

// ---------------------------------------------------------------- statements

/** `CREATE TABLE [IF NOT EXISTS] t USING tablestore OPTIONS(…)` */
export interface CreateTableStatement {
  readonly kind: 'CreateTable';
  readonly name: Identifier;
  readonly ifNotExists: boolean;
  readonly provider: Identifier;
  readonly options: OptionList;
  readonly loc: SourceLocation;
}

/** `DROP TABLE [IF EXISTS] t` */
export interface DropTableStatement {
  readonly kind: 'DropTable';
  readonly name: Identifier;
  readonly ifExists: boolean;
  readonly loc: SourceLocation;
}

/** `CREATE SCAN v ON t USING STREAM|BATCH [OPTIONS(…)]` */
export interface CreateScanStatement {
  readonly kind: 'CreateScan';
  readonly name: Identifier;
  readonly table: Identifier;
  readonly mode: 'STREAM' | 'BATCH';
  readonly options: OptionList | null;
  readonly loc: SourceLocation;
}

/** `INSERT INTO t [(c, …)] SELECT …` */
export interface InsertStatement {
  readonly kind: 'Insert';
  readonly table: Identifier;
  readonly columns: readonly Identifier[];
  readonly query: SelectStatement;
  readonly loc: SourceLocation;
}

/** `CREATE STREAM job [OPTIONS(…)] INSERT INTO t SELECT …` */
export interface CreateStreamStatement {
  readonly kind: 'CreateStream';
  readonly name: Identifier;
  readonly options: OptionList | null;
  readonly insert: InsertStatement;
  readonly loc: SourceLocation;
}

export interface ShowTablesStatement {
  readonly kind: 'ShowTables';
  readonly loc: SourceLocation;
}

/** `DESCRIBE [TABLE] t` (also `DESC t`) */
export interface DescribeStatement {
  readonly kind: 'Describe';
  readonly name: Identifier;
  readonly loc: SourceLocation;
}

export interface ExplainStatement {
  readonly kind: 'Explain';
  readonly statement: ExplainableStatement;
  readonly loc: SourceLocation;
}

export type ExplainableStatement =
  | CreateTableStatement
  | DropTableStatement
  | CreateScanStatement
  | CreateStreamStatement
  | InsertStatement
  | SelectStatement
  | ShowTablesStatement
  | DescribeStatement;

export type Statement = ExplainableStatement | ExplainStatement;

export type Node =
  | Statement
  | Expr
  | Identifier
  | CaseBranch
  | SelectItem
  | TableRef
  | WatermarkClause
  | OrderItem
  | LimitClause
  | OptionList
  | OptionEntry
  | OptionValue
  | SecretOptionValue;
