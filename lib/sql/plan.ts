/**
 * The planner: an analyzed query → the operator chain a user could write by hand, from decoded
 * tunnel records to an output table named as the sink's columns, plus the stages EXPLAIN prints.
 *
 *   decodeRows → [withColumns] → [filterRows] → [withColumns] → [withWatermark] → window →
 *   aggregate → emitTable → projectTable(HAVING, SELECT, sink columns)
 *
 * or, without aggregation, decodeRows → [filterRows] → projectTable(SELECT, sink columns).
 * A batch stays columnar from decodeRows to the sink writer (`commitAfter` hands the table to the
 * Tablestore sink's `writeTable`): HAVING, the SELECT list and the sink's names and types are one
 * projection over the aggregate's result columns, with no row objects in between.
 */
import type { Observable, OperatorFunction } from 'rxjs';
import type { ChangeRecord } from '../wire/types.js';
import { aggregate, WINDOW, type GroupKey } from '../stream/aggregate.js';
import * as agg from '../stream/aggregates.js';
import type { OutputBatch, RecordBatch, TableBatch, WindowBounds } from '../stream/batch.js';
import type { Catalog } from '../stream/catalog.js';
import { decodeRows } from '../stream/decode-rows.js';
import { emitTable, type OutputMode } from '../stream/emit.js';
import { filterRows } from '../stream/filter-rows.js';
import { projectTable } from '../stream/project-table.js';
import { columnOf as valuesColumn, type Column, type OutputRow, type OutputValue, type RowTable, type Value } from '../stream/table.js';
import { VERSION_FIELD } from '../stream/merge-partials.js';
import { withColumns, type ColumnCompute } from '../stream/with-columns.js';
import { withWatermark } from '../stream/with-watermark.js';
import { hopping } from '../stream/windows/hopping.js';
import { session } from '../stream/windows/session.js';
import { tumbling } from '../stream/windows/tumbling.js';
import type { AnalyzedQuery, SinkBinding, WindowDef } from './analyze.js';
import { WINDOW_END, WINDOW_START, WINDOW_STRUCT, type AggregateUse } from './bind.js';
import { columnsOf, type BoundExpr } from './bound.js';
import { castValue, compileExpr, compilePredicate, toText, type EvalContext } from './evaluate.js';
import type { TableColumns } from './options.js';
import { isNumberValued, typeName, type SqlType } from './types.js';

export const EVENT_TIME_COLUMN = '__event_time';

/** One step of the chain, as EXPLAIN shows it. */
export interface Stage {
  readonly operator: string;
  readonly detail: string;
}

export interface QueryPlan {
  readonly stages: readonly Stage[];
  /** the output columns and their types, in SELECT order */
  readonly columns: readonly { readonly name: string; readonly type: SqlType }[];
  /**
   * records of one micro-batch → the batch's output as columns, named as the output columns, or
   * as the sink's columns (converted to their types) when the plan was given a sink
   */
  readonly operator: OperatorFunction<RecordBatch<ChangeRecord>, TableBatch>;
}

export interface PlanOptions extends EvalContext {
  readonly outputMode: OutputMode;
  readonly onBadRow?: 'fail' | 'skip';
  /** name (and convert) the output as this sink's columns, in the same projection as the SELECT list */
  readonly sink?: SinkBinding;
  /**
   * A step right after `aggregate` (a job spread over workers merges every channel's partials
   * there, see merge-partials.ts); the merge version of its rows is carried to the sink rows.
   */
  readonly afterAggregate?: { readonly stage: Stage; readonly operator: OperatorFunction<TableBatch, TableBatch> };
}

export function streamCatalog(catalog: TableColumns): Catalog {
  return { columns: Object.fromEntries(catalog.columns.map((column) => [column.name, { type: column.type }])) };
}

const ms = (value: number): string => (value % 60_000 === 0 ? `${value / 60_000} min` : value % 1000 === 0 ? `${value / 1000} s` : `${value} ms`);

export function describeWindow(window: WindowDef): string {
  switch (window.kind) {
    case 'tumbling':
      return `size ${ms(window.size)}${window.offset === 0 ? '' : `, offset ${ms(window.offset)}`}`;
    case 'hopping':
      return `size ${ms(window.size)}, slide ${ms(window.slide)}${window.offset === 0 ? '' : `, offset ${ms(window.offset)}`}`;
    case 'session':
      return `gap ${ms(window.gap)}`;
  }
}

export function planQuery(query: AnalyzedQuery, options: PlanOptions): QueryPlan {
  const stages: Stage[] = [];
  const operators: OperatorFunction<never, never>[] = [];
  const add = <A, B>(operator: string, detail: string, op: OperatorFunction<A, B>): void => {
    stages.push({ operator, detail });
    operators.push(op as unknown as OperatorFunction<never, never>);
  };
  const { table } = query;
  const tableName = table.options.tableName;
  const catalog = table.options.catalog;
  add(
    'decodeRows',
    `${tableName} (${catalog.columns.map((c) => `${c.name} ${typeName(c.type)}`).join(', ')}); absent columns null${table.options.typeMismatch === 'fail' ? '; wrong attribute types fail' : ''}${query.recordColumns ? '; with __ots_record_type__ & co.' : ''}`,
    decodeRows({
      catalog: streamCatalog(catalog),
      table: tableName,
      missingColumns: 'null',
      // EMR's source: an attribute of the wrong type becomes null (counted); catalog.type.mismatch='fail' keeps it a bad row
      typeMismatches: table.options.typeMismatch === 'fail' ? 'bad-row' : 'null',
      recordColumns: query.recordColumns,
      onBadRow: options.onBadRow ?? 'fail',
      // only the columns the query reads get values; the others are still checked
      columns: readColumns(query),
    }),
  );
  const computeColumns = (entries: ReadonlyArray<readonly [string, BoundExpr]>): void => {
    const fresh = entries.filter(([name, expr]) => !(expr.kind === 'column' && expr.name === name));
    if (fresh.length === 0) return;
    add(
      'withColumns',
      fresh.map(([name, expr]) => `${name} = ${expr.text}`).join(', '),
      withColumns(Object.fromEntries(fresh.map(([name, expr]) => [name, compileExpr(expr, options)]))),
    );
  };
  computeColumns(query.derived.map((d) => [d.name, d.expr] as const));
  if (query.where !== null) add('filterRows', query.where.text, filterRows(compilePredicate(query.where, options)));

  const outputTypes = query.output.map((column) => ({ name: column.name, type: column.expr.type }));
  const selectText = query.output.map((c) => (c.expr.text === c.name ? c.name : `${c.name} = ${c.expr.text}`)).join(', ');
  const sinkText = options.sink === undefined ? '' : `; sink columns: ${describeSink(options.sink)}`;
  const outputs = outputColumns(
    query.output.map((column) => [column.name, compileExpr(column.expr, options)] as const),
    outputTypes,
    options.sink,
    options,
  );
  if (!query.aggregating) {
    add('projectTable', `${selectText}${sinkText}`, projectTable({ columns: outputs }));
    return { stages, columns: outputTypes, operator: chain(operators) };
  }

  // event time, computed keys and aggregate inputs become columns before the window
  const eventTime = query.eventTime;
  const timeColumn = eventTime === null ? undefined : eventTime.kind === 'column' ? eventTime.name : EVENT_TIME_COLUMN;
  computeColumns([
    ...(eventTime !== null && timeColumn === EVENT_TIME_COLUMN ? [[EVENT_TIME_COLUMN, eventTime] as const] : []),
    ...query.keys.filter((key) => key.computed).map((key) => [key.name, key.expr] as const),
  ]);
  if (query.watermark !== null && timeColumn !== undefined) {
    add('withWatermark', `eventTime ${timeColumn}, delay ${ms(query.watermark.delayMs)}`, withWatermark({ eventTime: timeColumn, delay: query.watermark.delayMs }));
  }
  const window = query.window;
  if (window !== null && timeColumn !== undefined) {
    const detail = `eventTime ${timeColumn}, ${describeWindow(window)}`;
    switch (window.kind) {
      case 'tumbling':
        add('tumbling', detail, tumbling({ eventTime: timeColumn, size: window.size, offset: window.offset }));
        break;
      case 'hopping':
        add('hopping', detail, hopping({ eventTime: timeColumn, size: window.size, slide: window.slide, offset: window.offset }));
        break;
      case 'session':
        add('session', detail, session({ eventTime: timeColumn, gap: window.gap }));
        break;
    }
  }
  const keys: GroupKey[] = [...(window === null ? [] : [WINDOW]), ...query.keys.map((key) => key.name)];
  const specs = Object.fromEntries(query.aggregates.map((use) => [use.name, aggregateSpec(use, options, window !== null ? timeColumn : undefined)]));
  add(
    'aggregate',
    `keys [${[...(window === null ? [] : ['window']), ...query.keys.map((key) => (key.computed ? `${key.name} = ${key.expr.text}` : key.name))].join(', ')}], ${query.aggregates.map((use) => `${use.name} = ${use.text}`).join(', ')}`,
    aggregate(keys, specs, { windowColumn: WINDOW_STRUCT }),
  );
  if (options.afterAggregate !== undefined) add(options.afterAggregate.stage.operator, options.afterAggregate.stage.detail, options.afterAggregate.operator);
  add('emitTable', `'${options.outputMode}'`, emitTable(options.outputMode));

  const inputs = [...query.keys.map((key) => key.name), ...query.aggregates.map((use) => use.name)];
  const typesOf = new Map<string, SqlType>([...query.keys.map((key) => [key.name, key.expr.type] as const), ...query.aggregates.map((use) => [use.name, use.type] as const)]);
  add(
    'projectTable',
    `${query.having === null ? '' : `HAVING ${query.having.text}; `}${selectText}${sinkText}`,
    projectTable({
      input: (table) => groupedTable(table, inputs, typesOf, window !== null),
      ...(query.having === null ? {} : { keep: compilePredicate(query.having, options) }),
      columns: outputs,
      // the merge version of a job spread over workers rides along to the sink rows
      ...(options.afterAggregate === undefined ? {} : { carry: [VERSION_FIELD] }),
    }),
  );
  return { stages, columns: outputTypes, operator: chain(operators) };
}

/** The catalog columns `query` reads, in catalog order (a superset: every expression over input rows). */
function readColumns(query: AnalyzedQuery): string[] {
  const read = new Set<string>();
  const exprs = [query.where, query.eventTime, ...query.derived.map((d) => d.expr), ...query.keys.map((k) => k.expr), ...query.aggregates.map((a) => a.input), ...query.output.map((o) => o.expr)];
  for (const expr of exprs) if (expr !== null) columnsOf(expr, read);
  return query.table.options.catalog.columns.map((column) => column.name).filter((name) => read.has(name));
}

/** The operators one after the other (`pipe` with a list of dynamic length). */
function chain(operators: readonly OperatorFunction<never, never>[]): OperatorFunction<RecordBatch<ChangeRecord>, TableBatch> {
  return (source) => operators.reduce<Observable<never>>((upstream, operator) => operator(upstream), source as unknown as Observable<never>) as unknown as Observable<TableBatch>;
}

function aggregateSpec(use: AggregateUse, ctx: EvalContext, timeColumn: string | undefined): agg.AggregateSpec {
  const input: ColumnCompute | undefined = use.input === null ? undefined : use.input.kind === 'column' ? ((name) => (table: RowTable) => columnOf(table, name))(use.input.name) : compileExpr(use.input, ctx);
  switch (use.fn) {
    case 'count':
      return use.distinct ? agg.countDistinct(input as ColumnCompute) : agg.count(input);
    case 'sum':
      return agg.sum(input as ColumnCompute);
    case 'avg':
      return agg.avg(input as ColumnCompute);
    case 'min':
      return agg.min(input as ColumnCompute);
    case 'max':
      return agg.max(input as ColumnCompute);
    case 'first':
      return agg.first(input as ColumnCompute, timeColumn === undefined ? {} : { by: timeColumn });
    case 'last':
      return agg.last(input as ColumnCompute, timeColumn === undefined ? {} : { by: timeColumn });
  }
}

function columnOf(table: RowTable, name: string): Column {
  const column = table.columns.get(name);
  if (column !== undefined) return column;
  return { kind: 'value', values: new Array<Value>(table.length).fill(null) };
}

/**
 * The aggregate's result columns as HAVING and the SELECT list read them: the window's bounds as
 * number columns beside its struct, and columns of non-numeric types as value columns (the
 * aggregate makes a NumberColumn of any all-numeric or all-null column). Columns, not rows.
 */
function groupedTable(table: RowTable, names: readonly string[], types: ReadonlyMap<string, SqlType>, windowed: boolean): RowTable {
  const n = table.length;
  const columns = new Map<string, Column>();
  if (windowed) {
    const struct = table.columns.get(WINDOW_STRUCT);
    const bounds = struct === undefined || struct.kind !== 'value' ? [] : (struct.values as unknown as readonly WindowBounds[]);
    const starts = new Array<number>(n);
    const ends = new Array<number>(n);
    for (let i = 0; i < n; i++) {
      starts[i] = (bounds[i] as WindowBounds).start;
      ends[i] = (bounds[i] as WindowBounds).end;
    }
    columns.set(WINDOW_START, { kind: 'number', values: starts, valid: undefined });
    columns.set(WINDOW_END, { kind: 'number', values: ends, valid: undefined });
    columns.set(WINDOW_STRUCT, struct ?? { kind: 'value', values: new Array<Value>(n).fill(null) });
  }
  for (const name of names) {
    const column = table.columns.get(name) ?? { kind: 'value', values: new Array<Value>(n).fill(null) };
    if (column.kind === 'number' && !isNumberValued(types.get(name) ?? 'null')) {
      const values = new Array<Value>(n);
      for (let i = 0; i < n; i++) values[i] = column.valid !== undefined && column.valid[i] === 0 ? null : (column.values[i] as number);
      columns.set(name, { kind: 'value', values });
    } else {
      columns.set(name, column);
    }
  }
  return { length: n, columns };
}

/**
 * The projection's columns: the SELECT list, or — given a sink — the sink's columns, each from
 * its output column converted to the sink column's type (to text for string columns).
 */
function outputColumns(
  select: ReadonlyArray<readonly [string, ColumnCompute]>,
  types: readonly { readonly name: string; readonly type: SqlType }[],
  sink: SinkBinding | undefined,
  ctx: EvalContext,
): Record<string, ColumnCompute> {
  if (sink === undefined) return Object.fromEntries(select);
  const computeOf = new Map(select);
  const convert = sinkConversions(sink, types, ctx);
  return Object.fromEntries(
    convert.map(({ output, column, convert: conversion }) => {
      const compute = computeOf.get(output) ?? ((table: RowTable): Column => ({ kind: 'value', values: new Array<Value>(table.length).fill(null) }));
      if (conversion === undefined) return [column, compute] as const;
      return [
        column,
        (table: RowTable): Column => {
          const from = compute(table);
          const values = new Array<Value>(table.length);
          for (let i = 0; i < table.length; i++) values[i] = conversion(valueAtOf(from, i)) as Value;
          return valuesColumn(values);
        },
      ] as const;
    }),
  );
}

function valueAtOf(column: Column, index: number): OutputValue {
  if (column.kind === 'number') return column.valid !== undefined && column.valid[index] === 0 ? null : (column.values[index] ?? null);
  return (column.values[index] ?? null) as OutputValue;
}

/** Per sink column: the output column it takes and the conversion to its type (undefined: as is). */
function sinkConversions(
  binding: SinkBinding,
  columns: readonly { readonly name: string; readonly type: SqlType }[],
  ctx: EvalContext,
): { readonly output: string; readonly column: string; readonly convert: ((value: OutputValue) => OutputValue) | undefined }[] {
  const typeOf = new Map(columns.map((column) => [column.name, column.type]));
  return binding.columns.map((column) => {
    const from = typeOf.get(column.output) ?? 'null';
    const convert =
      from === column.type || from === 'null' || (column.type !== 'string' && column.type !== 'binary')
        ? undefined
        : column.type === 'string'
          ? (value: OutputValue) => (value === null ? null : toText(value as Value, ctx.zone, from))
          : (value: OutputValue) => castValue(value as Value, column.type, ctx.zone, from);
    return { output: column.output, column: column.column, convert };
  });
}

/** Output rows → rows named and typed as the sink's catalog columns. */
export function sinkRows(binding: SinkBinding, columns: readonly { readonly name: string; readonly type: SqlType }[], ctx: EvalContext): (rows: readonly OutputRow[]) => OutputRow[] {
  const conversions = sinkConversions(binding, columns, ctx);
  return (rows) =>
    rows.map((row) => {
      const out: Record<string, OutputValue> = {};
      for (const { output, column, convert } of conversions) out[column] = convert === undefined ? (row[output] ?? null) : convert(row[output] ?? null);
      const version = row[VERSION_FIELD];
      if (version !== undefined) out[VERSION_FIELD] = version;
      return out;
    });
}

export function describeSink(binding: SinkBinding): string {
  return binding.columns.map((c) => (c.output === c.column ? c.column : `${c.column} ← ${c.output}`)).join(', ');
}
