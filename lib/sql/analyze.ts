/**
 * The analyzer: decoded statements → what each one means, with every name resolved and every
 * type known, before anything connects anywhere. Statements are analyzed in order against the
 * session's catalog (CREATE TABLE / CREATE SCAN add to it, DROP TABLE removes — catalog entries
 * only, as Spark's DROP of a data-source table leaves the Tablestore table alone).
 *
 * Beyond names and types it enforces the rules of Spark Structured Streaming that EMR inherits:
 * a STREAM scan is read only by a stream job; append mode on an aggregation needs a watermark on
 * the window's time; complete mode needs an aggregation; a non-aggregated column must be grouped;
 * the sink's catalog must hold every output column with a type the value can be written as.
 */
import type {
  CreateStreamStatement,
  Expr,
  FunctionCall,
  Identifier,
  InsertStatement,
  SelectItem,
  SelectStatement,
  SourceLocation,
  Statement,
  TableRef,
} from './ast.js';
import { Binder, containsAggregate, exprKey, type AggregateUse, type GroupedScope, type RowScope, type ScopeColumn } from './bind.js';
import { call, type BoundExpr } from './bound.js';
import { closestMatch, compareByPosition, sqlError, type SqlError } from './errors.js';
import { parseDuration } from './lexer.js';
import type { DecodedStatement, ScanOptions, StreamOptions, TableOptions } from './options.js';
import { formatExpression } from './printer.js';
import { RECORD_TIMESTAMP_COLUMN, RECORD_TYPE_COLUMN, columnTypeColumn } from '../stream/row-codec.js';
import { isIntegral, isNumeric, typeName, type SqlType } from './types.js';

export interface TableDef {
  readonly kind: 'table';
  /** the name the script gave it (`order_source`) */
  readonly name: string;
  readonly options: TableOptions;
  readonly loc: SourceLocation;
}

export interface ScanDef {
  readonly kind: 'scan';
  readonly name: string;
  readonly table: TableDef;
  readonly options: ScanOptions;
  readonly loc: SourceLocation;
}

export type RelationDef = TableDef | ScanDef;

export type WindowDef =
  | { readonly kind: 'tumbling'; readonly size: number; readonly offset: number; readonly text: string }
  | { readonly kind: 'hopping'; readonly size: number; readonly slide: number; readonly offset: number; readonly text: string }
  | { readonly kind: 'session'; readonly gap: number; readonly text: string };

export interface GroupKeyDef {
  /** the key's column: an input column, or `__keyN` computed before the aggregation */
  readonly name: string;
  readonly expr: BoundExpr;
  readonly computed: boolean;
}

export interface OutputColumn {
  readonly name: string;
  readonly expr: BoundExpr;
  readonly loc: SourceLocation;
}

export interface AnalyzedQuery {
  readonly relation: RelationDef;
  readonly table: TableDef;
  readonly streaming: boolean;
  /** EMR's `__ots_record_type__` & co. are read */
  readonly recordColumns: boolean;
  /** computed before anything else: watermark aliases */
  readonly derived: readonly GroupKeyDef[];
  readonly where: BoundExpr | null;
  /** the time windows and the watermark are over (a timestamp) */
  readonly eventTime: BoundExpr | null;
  readonly watermark: { readonly delayMs: number; readonly text: string } | null;
  readonly window: WindowDef | null;
  readonly aggregating: boolean;
  readonly keys: readonly GroupKeyDef[];
  readonly aggregates: readonly AggregateUse[];
  /** over the aggregation output */
  readonly having: BoundExpr | null;
  /** the SELECT list: over the input rows, or over the aggregation output when aggregating */
  readonly output: readonly OutputColumn[];
  /** over the output columns */
  readonly orderBy: readonly { readonly expr: BoundExpr; readonly descending: boolean }[];
  readonly limit: number | null;
}

export interface SinkColumn {
  readonly output: string;
  /** the catalog's spelling */
  readonly column: string;
  readonly type: SqlType;
}

export interface SinkBinding {
  readonly table: TableDef;
  readonly columns: readonly SinkColumn[];
}

export type AnalyzedStatement =
  | { readonly kind: 'createTable'; readonly table: TableDef; readonly statement: Statement }
  | { readonly kind: 'dropTable'; readonly name: string; readonly dropped: RelationDef | undefined; readonly statement: Statement }
  | { readonly kind: 'createScan'; readonly scan: ScanDef; readonly statement: Statement }
  | { readonly kind: 'select'; readonly query: AnalyzedQuery; readonly statement: Statement }
  | { readonly kind: 'insert'; readonly query: AnalyzedQuery; readonly sink: SinkBinding; readonly statement: Statement }
  | {
      readonly kind: 'stream';
      readonly name: string;
      readonly options: StreamOptions;
      readonly query: AnalyzedQuery;
      readonly sink: SinkBinding;
      readonly statement: Statement;
    }
  | { readonly kind: 'showTables'; readonly relations: readonly RelationDef[]; readonly statement: Statement }
  | { readonly kind: 'describe'; readonly relation: RelationDef; readonly columns: readonly ScopeColumn[]; readonly statement: Statement }
  | { readonly kind: 'explain'; readonly inner: AnalyzedStatement; readonly statement: Statement };

export type Analysis = { readonly ok: true; readonly statements: readonly AnalyzedStatement[] } | { readonly ok: false; readonly errors: readonly SqlError[] };

const lower = (id: Identifier): string => id.name.toLowerCase();

export interface AnalyzeOptions {
  /**
   * analyze a top-level `SELECT … FROM <STREAM scan>` as a streaming query (kind 'select' with
   * `query.streaming`) instead of refusing it: what `sqlOperator` runs; the session cannot
   */
  readonly streamingSelects?: boolean;
}

export function analyzeScript(decoded: readonly DecodedStatement[], analyzeOptions: AnalyzeOptions = {}): Analysis {
  const catalog = new Map<string, RelationDef>();
  const errors: SqlError[] = [];
  const statements: AnalyzedStatement[] = [];
  for (const { statement, options } of decoded) {
    const result = analyzeStatement(statement, options, catalog, errors, true, analyzeOptions.streamingSelects === true);
    if (result !== undefined) statements.push(result);
  }
  return errors.length > 0 ? { ok: false, errors: [...errors].sort(compareByPosition) } : { ok: true, statements };
}

function analyzeStatement(
  statement: Statement,
  options: DecodedStatement['options'],
  catalog: Map<string, RelationDef>,
  errors: SqlError[],
  execute: boolean,
  streamingSelects = false,
): AnalyzedStatement | undefined {
  switch (statement.kind) {
    case 'CreateTable': {
      if (options.kind !== 'table') return undefined;
      const table: TableDef = { kind: 'table', name: statement.name.name, options: options.options, loc: statement.name.loc };
      const existing = catalog.get(lower(statement.name));
      if (existing !== undefined && !statement.ifNotExists) {
        errors.push(sqlError(statement.name.loc, `table '${statement.name.name}' is already defined (line ${existing.loc.line})`, 'DROP TABLE it first, or write CREATE TABLE IF NOT EXISTS'));
        return undefined;
      }
      if (execute && existing === undefined) catalog.set(lower(statement.name), table);
      return { kind: 'createTable', table: existing?.kind === 'table' ? existing : table, statement };
    }
    case 'DropTable': {
      const existing = catalog.get(lower(statement.name));
      if (existing === undefined && !statement.ifExists) {
        errors.push(unknownRelation(statement.name, catalog, 'DROP TABLE IF EXISTS ignores a missing table'));
        return undefined;
      }
      if (execute && existing !== undefined) {
        catalog.delete(lower(statement.name));
        // scans of a dropped table go with it
        for (const [key, relation] of catalog) if (relation.kind === 'scan' && relation.table === existing) catalog.delete(key);
      }
      return { kind: 'dropTable', name: statement.name.name, dropped: existing, statement };
    }
    case 'CreateScan': {
      if (options.kind !== 'scan') return undefined;
      const table = catalog.get(lower(statement.table));
      if (table === undefined) {
        errors.push(unknownRelation(statement.table, catalog, 'define it first with CREATE TABLE … USING tablestore'));
        return undefined;
      }
      if (table.kind !== 'table') {
        errors.push(sqlError(statement.table.loc, `'${statement.table.name}' is a scan; CREATE SCAN reads a table`, `scan ${table.table.name} instead`));
        return undefined;
      }
      const existing = catalog.get(lower(statement.name));
      if (existing !== undefined) {
        errors.push(sqlError(statement.name.loc, `'${statement.name.name}' is already defined (line ${existing.loc.line})`));
        return undefined;
      }
      const scan: ScanDef = { kind: 'scan', name: statement.name.name, table, options: options.options, loc: statement.name.loc };
      if (execute) catalog.set(lower(statement.name), scan);
      return { kind: 'createScan', scan, statement };
    }
    case 'Select': {
      const query = analyzeQuery(statement, catalog, errors, { mode: 'batch', streamingSelects });
      return query === undefined ? undefined : { kind: 'select', query, statement };
    }
    case 'Insert': {
      const query = analyzeQuery(statement.query, catalog, errors, { mode: 'batch', insert: statement });
      if (query === undefined) return undefined;
      const sink = bindSink(statement, query, catalog, errors);
      return sink === undefined ? undefined : { kind: 'insert', query, sink, statement };
    }
    case 'CreateStream': {
      if (options.kind !== 'stream') return undefined;
      return analyzeStream(statement, options.options, catalog, errors);
    }
    case 'ShowTables':
      return { kind: 'showTables', relations: [...catalog.values()], statement };
    case 'Describe': {
      const relation = catalog.get(lower(statement.name));
      if (relation === undefined) {
        errors.push(unknownRelation(statement.name, catalog));
        return undefined;
      }
      return { kind: 'describe', relation, columns: [...relationColumns(relation, true).values()], statement };
    }
    case 'Explain': {
      const inner = analyzeStatement(statement.statement, options, catalog, errors, false);
      return inner === undefined ? undefined : { kind: 'explain', inner, statement };
    }
  }
}

function unknownRelation(name: Identifier, catalog: ReadonlyMap<string, RelationDef>, hint?: string): SqlError {
  const names = [...catalog.values()].map((relation) => relation.name);
  const suggestion = closestMatch(name.name, names);
  return sqlError(
    name.loc,
    `unknown table or scan '${name.name}'${suggestion === undefined ? '' : ` — did you mean '${suggestion}'?`}`,
    suggestion === undefined ? (hint ?? (names.length === 0 ? 'no table is defined yet: CREATE TABLE … USING tablestore OPTIONS(…)' : `defined: ${names.join(', ')}`)) : undefined,
  );
}

/** The columns a query over the relation can read, by lower-cased name. */
function relationColumns(relation: RelationDef, withRecordColumns: boolean): Map<string, ScopeColumn> {
  const table = relation.kind === 'table' ? relation : relation.table;
  const columns = new Map<string, ScopeColumn>();
  for (const column of table.options.catalog.columns) columns.set(column.name.toLowerCase(), { name: column.name, type: column.type });
  if (withRecordColumns && relation.kind === 'scan' && relation.options.mode === 'STREAM') {
    columns.set(RECORD_TYPE_COLUMN, { name: RECORD_TYPE_COLUMN, type: 'string' });
    columns.set(RECORD_TIMESTAMP_COLUMN, { name: RECORD_TIMESTAMP_COLUMN, type: 'long' });
    for (const column of table.options.catalog.columns) {
      const name = columnTypeColumn(column.name);
      columns.set(name.toLowerCase(), { name, type: 'string' });
    }
  }
  return columns;
}

function analyzeStream(statement: CreateStreamStatement, options: StreamOptions, catalog: Map<string, RelationDef>, errors: SqlError[]): AnalyzedStatement | undefined {
  const insert = statement.insert;
  const query = analyzeQuery(insert.query, catalog, errors, { mode: 'stream', stream: statement, options });
  if (query === undefined) return undefined;
  const before = errors.length;
  const at = statement.options?.loc ?? statement.loc;
  const modeLoc = statement.options?.entries.find((entry) => entry.key.toLowerCase() === 'outputmode')?.value.loc ?? at;
  if (options.outputMode === 'complete' && !query.aggregating) {
    errors.push(sqlError(modeLoc, "outputMode 'complete' needs an aggregation (there are no groups to output)", "use 'append' for a query without GROUP BY"));
  }
  if (options.outputMode === 'append' && query.aggregating && (query.window === null || query.watermark === null)) {
    errors.push(
      sqlError(
        modeLoc,
        `outputMode 'append' on an aggregation needs ${query.window === null ? 'a window and ' : ''}a watermark: a group is appended once, when the watermark closes its window`,
        query.window === null ? "use outputMode='update' or 'complete'" : "add FROM … WATERMARK <time> DELAY OF INTERVAL 10 SECONDS, or use outputMode='update'",
      ),
    );
  }
  if (query.orderBy.length > 0 || query.limit !== null) {
    const where = insert.query.orderBy[0]?.loc ?? insert.query.limit?.loc ?? insert.query.loc;
    errors.push(sqlError(where, 'ORDER BY and LIMIT are not supported in a stream job', 'the sink is keyed by its primary key; order does not apply'));
  }
  const sink = bindSink(insert, query, catalog, errors);
  if (sink === undefined || errors.length > before) return undefined;
  return { kind: 'stream', name: statement.name.name, options, query, sink, statement };
}

interface QueryMode {
  readonly mode: 'batch' | 'stream';
  readonly stream?: CreateStreamStatement;
  readonly options?: StreamOptions;
  readonly insert?: InsertStatement;
  /** a batch-mode SELECT may read a STREAM scan (sqlOperator) */
  readonly streamingSelects?: boolean;
}

function analyzeQuery(select: SelectStatement, catalog: ReadonlyMap<string, RelationDef>, errors: SqlError[], mode: QueryMode): AnalyzedQuery | undefined {
  if (select.from === null) {
    errors.push(sqlError(select.loc, 'a query needs FROM <table or scan>'));
    return undefined;
  }
  const from: TableRef = select.from;
  const relation = catalog.get(lower(from.name));
  if (relation === undefined) {
    errors.push(unknownRelation(from.name, catalog));
    return undefined;
  }
  const streaming = relation.kind === 'scan' && relation.options.mode === 'STREAM';
  if (mode.mode === 'stream' && !streaming) {
    errors.push(
      sqlError(
        from.name.loc,
        `a stream job reads a STREAM scan, and '${from.name.name}' is ${relation.kind === 'table' ? 'a table' : 'a BATCH scan'}`,
        `CREATE SCAN ${from.name.name}_stream ON ${relation.kind === 'table' ? relation.name : relation.table.name} USING STREAM OPTIONS(tunnel.id='…')`,
      ),
    );
    return undefined;
  }
  if (mode.mode === 'batch' && streaming && mode.streamingSelects !== true) {
    errors.push(
      sqlError(
        from.name.loc,
        `'${from.name.name}' is a STREAM scan: queries with streaming sources must run as a stream job`,
        `CREATE STREAM <job> OPTIONS(checkpointLocation='…') INSERT INTO <sink> SELECT … FROM ${from.name.name}`,
      ),
    );
    return undefined;
  }
  const table = relation.kind === 'table' ? relation : relation.table;
  const columns = relationColumns(relation, true);
  const qualifiers = new Set([lower(from.name), ...(from.alias === null ? [] : [lower(from.alias)])]);
  const derivedColumns = new Map(columns);
  const derived: GroupKeyDef[] = [];
  const before = errors.length;

  // the WATERMARK clause: its time, bound over the source columns; `AS name` makes a column of it
  let watermark: { delayMs: number; text: string; eventTime: BoundExpr; loc: SourceLocation } | null = null;
  const scopeOf = (cols: Map<string, ScopeColumn>): RowScope => ({ columns: cols, qualifiers, relation: `'${relation.name}'` });
  if (from.watermark !== null) {
    const binder = new Binder(scopeOf(columns));
    const eventTime = binder.bindRow(from.watermark.eventTime, 'WATERMARK');
    errors.push(...binder.errors);
    const text = `${formatExpression(from.watermark.eventTime)} DELAY OF ${from.watermark.delay.text}`;
    if (from.watermark.alias !== null) {
      const name = from.watermark.alias.name;
      derived.push({ name, expr: eventTime, computed: true });
      derivedColumns.set(name.toLowerCase(), { name, type: eventTime.type });
      watermark = { delayMs: from.watermark.delay.milliseconds, text, eventTime: { kind: 'column', name, type: eventTime.type, text: name }, loc: from.watermark.loc };
    } else {
      watermark = { delayMs: from.watermark.delay.milliseconds, text, eventTime, loc: from.watermark.loc };
    }
  }
  // EMR's documented form (doc 167498): `SELECT watermark(<time>, INTERVAL 10 SECONDS) [AS wm], …`.
  // Like `WATERMARK <time> [AS wm] DELAY OF …` on the FROM item: it declares the watermark, and
  // the item is an output column holding the time, named by its alias; the alias names the time
  // everywhere in the query (GROUP BY window(wm, …)), as EMR's join example uses it in ON.
  const watermarkItems = new Map<SelectItem, { expr: Expr; alias: Identifier | null; declared: boolean }>();
  for (const item of select.items) {
    if (item.kind !== 'SelectExpr' || !isWatermarkCall(item.expr)) continue;
    const call = item.expr;
    // a refused item stands as NULL from here on, so it raises no follow-up errors
    watermarkItems.set(item, { expr: { kind: 'NullLiteral', loc: call.loc }, alias: item.alias, declared: false });
    const [timeArg, delayArg] = call.args;
    if (call.args.length !== 2 || timeArg === undefined || delayArg === undefined) {
      errors.push(sqlError(call.loc, 'watermark() takes two arguments: watermark(<time>, INTERVAL 10 SECONDS)'));
      continue;
    }
    const duration = durationOf(delayArg);
    if (duration === undefined || typeof duration === 'string') {
      errors.push(sqlError(delayArg.loc, typeof duration === 'string' ? duration : "watermark() needs a delay like INTERVAL 1 MINUTE or '1 minute'"));
      continue;
    }
    if (watermark !== null) {
      errors.push(sqlError(call.loc, `a second watermark: one is already declared at line ${watermark.loc.line}, col ${watermark.loc.column}`, 'a query over one source takes one watermark'));
      continue;
    }
    const binder = new Binder(scopeOf(columns));
    const eventTime = binder.bindRow(timeArg, 'watermark()');
    errors.push(...binder.errors);
    const text = `${formatExpression(timeArg)} DELAY OF ${duration.text}`;
    const plain = eventTime.kind === 'column' && (item.alias === null || item.alias.name.toLowerCase() === eventTime.name.toLowerCase());
    if (plain && timeArg.kind === 'ColumnRef') {
      // watermark(ts, …) [AS ts]: the column itself
      watermark = { delayMs: duration.ms, text, eventTime, loc: call.loc };
      watermarkItems.set(item, { expr: timeArg, alias: item.alias ?? timeArg.name, declared: true });
      continue;
    }
    const name = item.alias?.name ?? formatExpression(call);
    derived.push({ name, expr: eventTime, computed: true });
    derivedColumns.set(name.toLowerCase(), { name, type: eventTime.type });
    watermark = { delayMs: duration.ms, text, eventTime: { kind: 'column', name, type: eventTime.type, text: name }, loc: call.loc };
    const ref: Identifier = { kind: 'Identifier', name, quoted: true, loc: item.alias?.loc ?? call.loc };
    watermarkItems.set(item, { expr: { kind: 'ColumnRef', qualifier: null, name: ref, loc: call.loc }, alias: item.alias ?? ref, declared: true });
  }
  const binder = new Binder(scopeOf(derivedColumns));

  // WHERE, minus EMR's `delay(col) < '2 minutes'` conjuncts, which declare the watermark
  let where: BoundExpr | null = null;
  if (select.where !== null) {
    const conjuncts = splitAnd(select.where);
    const kept: BoundExpr[] = [];
    for (const conjunct of conjuncts) {
      const delay = delayCondition(conjunct);
      if (delay !== undefined) {
        if (delay.error !== undefined) {
          errors.push(delay.error);
          continue;
        }
        if (watermark !== null) {
          errors.push(sqlError(conjunct.loc, `a second watermark: one is already declared at line ${watermark.loc.line}, col ${watermark.loc.column}`));
          continue;
        }
        const eventTime = binder.bindRow(delay.time, 'delay()');
        watermark = { delayMs: delay.delayMs, text: `${formatExpression(delay.time)} DELAY OF ${delay.delayText}`, eventTime, loc: conjunct.loc };
        continue;
      }
      kept.push(binder.bindRow(conjunct, 'WHERE'));
    }
    where = kept.reduce<BoundExpr | null>((all, next) => (all === null ? next : call('and', [all, next], 'boolean', `${all.text} AND ${next.text}`)), null);
    if (where !== null && where.type !== 'boolean' && where.type !== 'null') errors.push(sqlError(select.where.loc, `WHERE needs a condition (boolean), not ${typeName(where.type)}`));
  }

  // the watermark as a CREATE STREAM option
  const optionWatermark = mode.options?.watermark ?? null;
  if (optionWatermark !== null) {
    const optionLoc = mode.stream?.options?.entries.find((entry) => entry.key.toLowerCase() === 'watermark.delay')?.loc ?? select.loc;
    if (watermark !== null) {
      errors.push(sqlError(optionLoc, `option 'watermark.delay' declares a second watermark; one is already declared at line ${watermark.loc.line}, col ${watermark.loc.column}`));
    } else if (optionWatermark.column !== null) {
      const name = optionWatermark.column.split('.').at(-1) as string;
      const found = derivedColumns.get(name.toLowerCase());
      if (found === undefined) {
        const suggestion = closestMatch(name, [...derivedColumns.values()].map((c) => c.name));
        errors.push(sqlError(optionLoc, `option 'watermark.column': unknown column '${name}'${suggestion === undefined ? '' : ` — did you mean '${suggestion}'?`}`));
      } else {
        watermark = { delayMs: optionWatermark.delayMs, text: `${found.name} DELAY OF ${optionWatermark.delayMs} ms`, eventTime: { kind: 'column', name: found.name, type: found.type, text: found.name }, loc: optionLoc };
      }
    } else {
      // null column: the window's time, filled in below
      watermark = { delayMs: optionWatermark.delayMs, text: `window time DELAY OF ${optionWatermark.delayMs} ms`, eventTime: { kind: 'literal', type: 'null', value: null, text: '' }, loc: optionLoc };
    }
  }

  // star expansion (catalog columns, not EMR's record columns)
  const items: Array<{ expr: Expr; alias: Identifier | null; loc: SourceLocation }> = [];
  for (const item of select.items) {
    if (item.kind === 'SelectStar') {
      if (item.qualifier !== null && !qualifiers.has(lower(item.qualifier))) {
        errors.push(sqlError(item.qualifier.loc, `unknown table or alias '${item.qualifier.name}' in ${item.qualifier.name}.*`));
        continue;
      }
      for (const column of table.options.catalog.columns) {
        const name: Identifier = { kind: 'Identifier', name: column.name, quoted: true, loc: item.loc };
        items.push({ expr: { kind: 'ColumnRef', qualifier: null, name, loc: item.loc }, alias: null, loc: item.loc });
      }
    } else {
      const replaced = watermarkItems.get(item);
      items.push(replaced === undefined ? { expr: item.expr, alias: item.alias, loc: item.loc } : { expr: replaced.expr, alias: replaced.alias, loc: item.loc });
    }
  }

  const groupExprs: Expr[] = select.distinct && select.groupBy.length === 0 && !items.some((item) => containsAggregate(item.expr)) ? items.map((item) => item.expr) : [...select.groupBy];
  const aggregating = groupExprs.length > 0 || items.some((item) => containsAggregate(item.expr)) || (select.having !== null && containsAggregate(select.having));
  if (select.having !== null && !aggregating) errors.push(sqlError(select.having.loc, 'HAVING needs GROUP BY or an aggregate'));

  // GROUP BY: at most one window, the other keys
  let window: WindowDef | null = null;
  let windowTime: BoundExpr | null = null;
  let windowKey: string | undefined;
  const keys: GroupKeyDef[] = [];
  const keyScope = new Map<string, ScopeColumn>();
  for (const groupExpr of groupExprs) {
    if (groupExpr.kind === 'FunctionCall' && ['window', 'tumbling', 'hopping', 'session_window'].includes(groupExpr.name.name.toLowerCase())) {
      if (window !== null) {
        errors.push(sqlError(groupExpr.loc, 'a query can group by one window only'));
        continue;
      }
      const parsed = windowFunction(groupExpr, binder, errors);
      // a window that failed still groups: window.start & co. then raise no follow-up errors
      windowKey = exprKey(groupExpr);
      if (parsed !== undefined) {
        window = parsed.window;
        windowTime = parsed.time;
      }
      continue;
    }
    if (containsAggregate(groupExpr)) {
      errors.push(sqlError(groupExpr.loc, 'aggregate functions are not allowed in GROUP BY'));
      continue;
    }
    if (groupExpr.kind === 'NumberLiteral' && groupExpr.isInteger) {
      errors.push(sqlError(groupExpr.loc, 'GROUP BY by position is not supported', 'repeat the expression'));
      continue;
    }
    const bound = binder.bindRow(groupExpr, 'GROUP BY');
    if (bound.type === 'window') {
      errors.push(sqlError(groupExpr.loc, 'group by the window function itself: GROUP BY window(<time>, …)'));
      continue;
    }
    const plain = bound.kind === 'column' && columns.has(bound.name.toLowerCase());
    const name = plain ? (bound as { name: string }).name : `__key${keys.length}`;
    const key = exprKey(groupExpr);
    if (keyScope.has(key)) continue;
    keys.push({ name, expr: bound, computed: !plain });
    keyScope.set(key, { name, type: bound.type });
  }
  errors.push(...binder.errors);
  binder.errors.length = 0;

  // the event time of windows and watermark, checked against each other
  let eventTime: BoundExpr | null = windowTime;
  if (watermark !== null) {
    if (watermark.eventTime.kind === 'literal' && watermark.eventTime.text === '') {
      if (windowTime === null) errors.push(sqlError(watermark.loc, "option 'watermark.delay' without 'watermark.column' applies to the window's time, and the query has no window", "name the column: watermark.column='…'"));
      else watermark = { ...watermark, eventTime: windowTime, text: `${windowTime.text} DELAY OF ${watermark.delayMs} ms` };
    }
    const wmTime = watermark.eventTime;
    if (wmTime.type !== 'timestamp' && wmTime.type !== 'null' && !(wmTime.kind === 'literal')) {
      // a named time (WATERMARK … AS wm, watermark(…) AS wm) is shown as what it computes
      const shown = (wmTime.kind === 'column' ? derived.find((d) => d.name === wmTime.name)?.expr : undefined) ?? wmTime;
      errors.push(sqlError(watermark.loc, `a watermark needs a timestamp, and ${shown.text} is ${typeName(shown.type)}`, timeHint(shown)));
    }
    if (windowTime !== null && wmTime.kind !== 'literal' && boundKey(wmTime) !== boundKey(windowTime)) {
      errors.push(
        sqlError(
          watermark.loc,
          `the watermark is on ${wmTime.text} but the window is on ${windowTime.text}: windows can only be closed by a watermark on their own time`,
          'declare the watermark on the same expression (WATERMARK <expr> AS t … GROUP BY window(t, …))',
        ),
      );
    }
    eventTime ??= wmTime.kind === 'literal' ? null : wmTime;
  }

  // SELECT list and HAVING
  const aggregates: AggregateUse[] = [];
  const grouped: GroupedScope = { keys: keyScope, window: windowKey === undefined ? undefined : { key: windowKey }, aggregates };
  const output: OutputColumn[] = [];
  const names = new Map<string, SourceLocation>();
  const watermarkOutputs = new Set([...watermarkItems.values()].filter((replaced) => replaced.declared).map((replaced) => replaced.expr));
  for (const item of items) {
    if (aggregating && watermarkOutputs.has(item.expr) && !keyScope.has(exprKey(item.expr))) {
      const name = item.alias?.name ?? formatExpression(item.expr);
      errors.push(
        sqlError(
          item.loc,
          `watermark(…) AS ${name} is an output column, and '${name}' is neither in GROUP BY nor inside an aggregate function`,
          `group by it (GROUP BY ${name}, …), or declare the watermark without outputting it: FROM <scan> WATERMARK <time> AS ${name} DELAY OF INTERVAL …`,
        ),
      );
      continue;
    }
    const expr = aggregating ? binder.bindGrouped(item.expr, grouped) : binder.bindRow(item.expr, 'SELECT');
    const name = item.alias?.name ?? outputName(item.expr);
    const seen = names.get(name.toLowerCase());
    if (seen !== undefined) errors.push(sqlError(item.alias?.loc ?? item.loc, `output column '${name}' appears twice (first at line ${seen.line}, col ${seen.column})`, 'give one of them another name with AS'));
    names.set(name.toLowerCase(), item.alias?.loc ?? item.loc);
    output.push({ name, expr, loc: item.alias?.loc ?? item.loc });
  }
  const having = select.having === null ? null : binder.bindGrouped(select.having, grouped);
  if (having !== null && having.type !== 'boolean' && having.type !== 'null') errors.push(sqlError((select.having as Expr).loc, `HAVING needs a condition (boolean), not ${typeName(having.type)}`));

  // ORDER BY over the output columns (by name or position)
  const outputScope = new Map(output.map((column) => [column.name.toLowerCase(), { name: column.name, type: column.expr.type }]));
  const orderBinder = new Binder({ columns: outputScope, qualifiers: new Set(), relation: 'the query output' });
  const orderBy = select.orderBy.map((item) => {
    if (item.expr.kind === 'NumberLiteral' && item.expr.isInteger) {
      const target = output[item.expr.value - 1];
      if (target === undefined) errors.push(sqlError(item.expr.loc, `ORDER BY ${item.expr.value}: the query has ${output.length} output columns`));
      return { expr: { kind: 'column' as const, name: target?.name ?? '', type: target?.expr.type ?? 'null', text: target?.name ?? '' }, descending: item.direction === 'DESC' };
    }
    return { expr: orderBinder.bindRow(item.expr, 'ORDER BY'), descending: item.direction === 'DESC' };
  });
  errors.push(...binder.errors, ...orderBinder.errors);

  if (errors.length > before) return undefined;
  const readsRecordColumns = [where, ...keys.map((k) => k.expr), ...derived.map((d) => d.expr), ...output.map((o) => o.expr), ...aggregates.map((a) => a.input), eventTime]
    .some((expr) => expr !== null && [...boundColumns(expr)].some((name) => name.startsWith('__ots_')));
  return {
    relation,
    table,
    streaming,
    recordColumns: readsRecordColumns,
    derived,
    where,
    eventTime,
    watermark: watermark === null ? null : { delayMs: watermark.delayMs, text: watermark.text },
    window,
    aggregating,
    keys,
    aggregates,
    having,
    output,
    orderBy,
    limit: select.limit?.count ?? null,
  };
}

function boundColumns(expr: BoundExpr, into = new Set<string>()): Set<string> {
  if (expr.kind === 'column') into.add(expr.name);
  if (expr.kind === 'call') for (const arg of expr.args) boundColumns(arg, into);
  return into;
}

/** Structural identity of bound expressions (texts and locations aside). */
function boundKey(expr: BoundExpr): string {
  return JSON.stringify(expr, (key, value: unknown) => (key === 'text' ? undefined : value instanceof RegExp ? value.source : value));
}

function timeHint(expr: BoundExpr): string | undefined {
  if (isIntegral(expr.type)) return `for milliseconds since the epoch write to_timestamp(${expr.text} / 1000)`;
  if (isNumeric(expr.type)) return `for seconds since the epoch write to_timestamp(${expr.text})`;
  if (expr.type === 'string') return `parse it: to_timestamp(${expr.text}, 'yyyy-MM-dd HH:mm:ss')`;
  return undefined;
}

/** Spark's name for an unaliased output column. */
function outputName(expr: Expr): string {
  if (expr.kind === 'ColumnRef') return expr.name.name;
  if (expr.kind === 'WindowBound') return expr.bound;
  return formatExpression(expr);
}

function splitAnd(expr: Expr): Expr[] {
  return expr.kind === 'Binary' && expr.op === 'AND' ? [...splitAnd(expr.left), ...splitAnd(expr.right)] : [expr];
}

function isWatermarkCall(expr: Expr): expr is FunctionCall {
  return expr.kind === 'FunctionCall' && expr.name.name.toLowerCase() === 'watermark' && !expr.name.quoted;
}

/** `delay(t) < '2 minutes'` (or `<=`, or INTERVAL) → the watermark it declares. */
function delayCondition(expr: Expr): { time: Expr; delayMs: number; delayText: string; error?: SqlError } | undefined {
  if (expr.kind !== 'Binary' || (expr.op !== '<' && expr.op !== '<=')) return undefined;
  const left = expr.left;
  if (left.kind !== 'FunctionCall' || left.name.name.toLowerCase() !== 'delay') return undefined;
  const time = left.args[0];
  if (left.args.length !== 1 || time === undefined) return { time: left, delayMs: 0, delayText: '', error: sqlError(left.loc, 'delay() takes one argument: the event time') };
  const right = expr.right;
  const duration = durationOf(right);
  if (duration === undefined) return { time, delayMs: 0, delayText: '', error: sqlError(right.loc, "delay(…) < needs a duration like '2 minutes' or INTERVAL 2 MINUTES") };
  if (typeof duration === 'string') return { time, delayMs: 0, delayText: '', error: sqlError(right.loc, duration) };
  return { time, delayMs: duration.ms, delayText: duration.text };
}

function durationOf(expr: Expr): { ms: number; text: string } | string | undefined {
  if (expr.kind === 'IntervalLiteral') return { ms: expr.milliseconds, text: expr.text };
  if (expr.kind === 'StringLiteral') {
    const parsed = parseDuration(expr.value);
    return parsed._tag === 'Right' ? { ms: parsed.right, text: expr.value } : parsed.left;
  }
  return undefined;
}

function windowFunction(expr: FunctionCall, binder: Binder, errors: SqlError[]): { window: WindowDef; time: BoundExpr } | undefined {
  const name = expr.name.name.toLowerCase();
  const [timeArg, ...rest] = expr.args;
  const expected = name === 'window' ? 'window(<time>, <size>[, <slide>[, <start offset>]])' : name === 'hopping' ? 'hopping(<time>, <size>, <slide>)' : name === 'tumbling' ? 'tumbling(<time>, <size>)' : 'session_window(<time>, <gap>)';
  const max = name === 'window' ? 4 : name === 'hopping' ? 3 : 2;
  const min = name === 'hopping' ? 3 : 2;
  if (timeArg === undefined || expr.args.length < min || expr.args.length > max) {
    errors.push(sqlError(expr.loc, `${name}() takes ${min === max ? min : `${min} to ${max}`} arguments: ${expected}`));
    return undefined;
  }
  const time = binder.bindRow(timeArg, `${name}()`);
  if (time.type !== 'timestamp' && time.type !== 'null') {
    errors.push(sqlError(timeArg.loc, `${name}() needs a timestamp, and ${time.text} is ${typeName(time.type)}`, timeHint(time)));
    return undefined;
  }
  const durations: number[] = [];
  for (const arg of rest) {
    const duration = durationOf(arg);
    if (duration === undefined || typeof duration === 'string') {
      errors.push(sqlError(arg.loc, typeof duration === 'string' ? duration : `${name}() needs durations like '30 seconds' or INTERVAL 30 SECONDS`));
      return undefined;
    }
    durations.push(duration.ms);
  }
  const text = formatExpression(expr);
  const at = (i: number): SourceLocation => (rest[i] ?? expr).loc;
  if (name === 'session_window') {
    const gap = durations[0] as number;
    if (!(gap > 0)) return void errors.push(sqlError(at(0), 'the session gap must be longer than 0'));
    return { window: { kind: 'session', gap, text }, time };
  }
  const size = durations[0] as number;
  const slide = durations[1] ?? size;
  const offset = durations[2] ?? 0;
  if (!(size > 0)) return void errors.push(sqlError(at(0), 'the window size must be longer than 0'));
  if (!(slide > 0 && slide <= size)) return void errors.push(sqlError(at(1), `the slide must be longer than 0 and at most the window size (${size} ms)`));
  if (!(offset >= 0 && offset < slide)) return void errors.push(sqlError(at(2), `the start offset must be at least 0 and shorter than the slide (${slide} ms)`));
  if (slide === size) return { window: { kind: 'tumbling', size, offset, text }, time };
  return { window: { kind: 'hopping', size, slide, offset, text }, time };
}

/** Output columns → the sink table's catalog: by name, or by position with INSERT INTO t (a, b). */
function bindSink(insert: InsertStatement, query: AnalyzedQuery, catalog: ReadonlyMap<string, RelationDef>, errors: SqlError[]): SinkBinding | undefined {
  const target = catalog.get(lower(insert.table));
  if (target === undefined) {
    errors.push(unknownRelation(insert.table, catalog, 'define the sink with CREATE TABLE … USING tablestore OPTIONS(…, catalog=…)'));
    return undefined;
  }
  if (target.kind !== 'table') {
    errors.push(sqlError(insert.table.loc, `'${insert.table.name}' is a scan; INSERT INTO writes a table`, `write ${target.table.name}`));
    return undefined;
  }
  const sinkColumns = target.options.catalog.columns;
  const byName = new Map(sinkColumns.map((column) => [column.name.toLowerCase(), column]));
  const before = errors.length;
  if (insert.columns.length > 0 && insert.columns.length !== query.output.length) {
    errors.push(sqlError(insert.table.loc, `INSERT INTO ${insert.table.name} lists ${insert.columns.length} columns but the query gives ${query.output.length}`));
    return undefined;
  }
  const columns: SinkColumn[] = [];
  query.output.forEach((output, i) => {
    const targetName = insert.columns[i]?.name ?? output.name;
    const at = insert.columns[i]?.loc ?? output.loc;
    const column = byName.get(targetName.toLowerCase());
    if (column === undefined) {
      const suggestion = closestMatch(targetName, sinkColumns.map((c) => c.name));
      errors.push(
        sqlError(
          at,
          `column '${targetName}' is not in the catalog of ${target.name} (${sinkColumns.map((c) => c.name).join(', ')})${suggestion === undefined ? '' : ` — did you mean '${suggestion}'?`}`,
          insert.columns.length === 0 && /[^\w]/.test(output.name) ? 'name the column with AS' : undefined,
        ),
      );
      return;
    }
    const problem = storable(output.expr.type, column.type);
    if (problem !== undefined) {
      errors.push(sqlError(output.loc, `column '${column.name}' of ${target.name} is ${typeName(column.type)}, but the query gives ${typeName(output.expr.type)} (${output.expr.text})`, problem));
      return;
    }
    columns.push({ output: output.name, column: column.name, type: column.type });
  });
  if (errors.length > before) return undefined;
  return { table: target, columns };
}

/** Why a value of `from` cannot be written into a `to` column (undefined: it can). */
function storable(from: SqlType, to: SqlType): string | undefined {
  if (from === to || from === 'null' || to === 'string') return from === 'window' ? 'select window.start or window.end' : undefined;
  if (to === 'long' && from === 'int') return undefined;
  if (to === 'double' && isNumeric(from)) return undefined;
  if (to === 'binary' && from === 'string') return undefined;
  if (from === 'window') return 'select window.start or window.end';
  if (to === 'long' && from === 'double') return 'add CAST(… AS Long) (it truncates)';
  if (from === 'timestamp' && isNumeric(to)) return 'write unix_timestamp(…) for seconds, or CAST(… AS String)';
  return `add CAST(… AS ${to === 'long' ? 'Long' : to[0]?.toUpperCase() + to.slice(1)})`;
}

