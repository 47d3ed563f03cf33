/**
 * Between the wire (protobuf messages with PlainBuffer inside) and the engine's plain values.
 * Every malformed input becomes an OTSParameterInvalid that names the field and the problem.
 */
import * as E from 'fp-ts/lib/Either.js';
import { decodeFilterValue, decodeRow } from '../wire/plainbuffer/index.js';
import type * as Msg from '../wire/table-messages.js';
import { filterMessages } from '../wire/table-messages.js';
import type { Row } from '../wire/types.js';
import type { ColumnCondition, Comparator, LogicalOperator } from './conditions.js';
import { type OtsError, parameterInvalid } from './errors.js';
import type { ReadQuery, ReturnContent, RowExistence, TimeRange, WriteCondition } from './row-model.js';
import type { DefinedColumnType, TableMeta } from './table-meta.js';
import { LIMITS } from './table-meta.js';

/** A PlainBuffer field holding exactly one row. */
export const decodeRowField = (field: string, bytes: Uint8Array): E.Either<OtsError, Row> => {
  const decoded = decodeRow(bytes);
  return E.isLeft(decoded) ? E.left(parameterInvalid(`Invalid PlainBuffer in ${field}: ${decoded.left.message}.`)) : decoded;
};

const COMPARATORS: Readonly<Record<Msg.ComparatorType, Comparator>> = {
  CT_EQUAL: 'EQUAL',
  CT_NOT_EQUAL: 'NOT_EQUAL',
  CT_GREATER_THAN: 'GREATER_THAN',
  CT_GREATER_EQUAL: 'GREATER_EQUAL',
  CT_LESS_THAN: 'LESS_THAN',
  CT_LESS_EQUAL: 'LESS_EQUAL',
};

const OPERATORS: Readonly<Record<Msg.LogicalOperator, LogicalOperator>> = { LO_NOT: 'NOT', LO_AND: 'AND', LO_OR: 'OR' };

/** An encoded `Filter` (column condition or read filter). */
export const decodeFilter = (field: string, bytes: Uint8Array): E.Either<OtsError, ColumnCondition> => {
  const filter = filterMessages.Filter.decode(bytes);
  return E.isLeft(filter) ? E.left(parameterInvalid(`${field}: ${filter.left.message}.`)) : fromFilter(field, filter.right, 0);
};

/** Nesting is bounded like the condition count, so hostile input cannot exhaust the stack. */
const fromFilter = (field: string, filter: Msg.Filter, depth: number): E.Either<OtsError, ColumnCondition> => {
  if (depth > LIMITS.maxFilterConditions) return E.left(parameterInvalid(`${field}: filters nest deeper than ${LIMITS.maxFilterConditions} levels.`));
  const inner = filter.filter;
  switch (filter.type) {
    case 'FT_SINGLE_COLUMN_VALUE': {
      const single = filterMessages.SingleColumnValueFilter.decode(inner);
      if (E.isLeft(single)) return E.left(parameterInvalid(`${field}: ${single.left.message}.`));
      const value = decodeFilterValue(single.right.columnValue);
      if (E.isLeft(value)) return E.left(parameterInvalid(`${field}.columnValue: ${value.left.message}.`));
      return E.right({
        kind: 'single',
        comparator: COMPARATORS[single.right.comparator],
        columnName: single.right.columnName,
        value: value.right,
        passIfMissing: !single.right.filterIfMissing,
        latestVersionOnly: single.right.latestVersionOnly,
      });
    }
    case 'FT_COMPOSITE_COLUMN_VALUE': {
      const composite = filterMessages.CompositeColumnValueFilter.decode(inner);
      if (E.isLeft(composite)) return E.left(parameterInvalid(`${field}: ${composite.left.message}.`));
      const conditions: ColumnCondition[] = [];
      for (const [i, sub] of composite.right.subFilters.entries()) {
        const decoded = fromFilter(`${field}.subFilters.${i}`, sub, depth + 1);
        if (E.isLeft(decoded)) return decoded;
        conditions.push(decoded.right);
      }
      return E.right({ kind: 'composite', operator: OPERATORS[composite.right.combinator], conditions });
    }
    case 'FT_COLUMN_PAGINATION': {
      const pagination = filterMessages.ColumnPaginationFilter.decode(inner);
      if (E.isLeft(pagination)) return E.left(parameterInvalid(`${field}: ${pagination.left.message}.`));
      return E.right({ kind: 'pagination', offset: pagination.right.offset, limit: pagination.right.limit });
    }
  }
};

const EXISTENCE: Readonly<Record<Msg.RowExistenceExpectation, RowExistence>> = {
  IGNORE: 'IGNORE',
  EXPECT_EXIST: 'EXPECT_EXIST',
  EXPECT_NOT_EXIST: 'EXPECT_NOT_EXIST',
};

export const convertCondition = (field: string, condition: Msg.Condition): E.Either<OtsError, WriteCondition> => {
  const rowExistence = EXISTENCE[condition.rowExistence];
  if (condition.columnCondition === undefined || condition.columnCondition.length === 0) return E.right({ rowExistence });
  const columnCondition = decodeFilter(`${field}.columnCondition`, condition.columnCondition);
  return E.isLeft(columnCondition) ? columnCondition : E.right({ rowExistence, columnCondition: columnCondition.right });
};

export const convertReturnContent = (content: Msg.ReturnContent | undefined): ReturnContent => {
  const type = content?.returnType ?? 'RT_NONE';
  return {
    type: type === 'RT_PK' ? 'PK' : type === 'RT_AFTER_MODIFY' ? 'AFTER_MODIFY' : 'NONE',
    columnNames: content?.returnColumnNames ?? [],
  };
};

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

const convertTimeRange = (field: string, range: Msg.TimeRange | undefined): E.Either<OtsError, TimeRange | undefined> => {
  if (range === undefined) return E.right(undefined);
  const inRange = (v: bigint) => v >= 0n && v <= MAX_SAFE;
  if (range.specificTime !== undefined) {
    return inRange(range.specificTime)
      ? E.right({ kind: 'specific', timestamp: Number(range.specificTime) })
      : E.left(parameterInvalid(`${field}.specificTime is out of range.`));
  }
  if (range.startTime === undefined || range.endTime === undefined) {
    return E.left(parameterInvalid(`${field} needs start_time and end_time, or specific_time.`));
  }
  const end = range.endTime > MAX_SAFE ? MAX_SAFE : range.endTime;
  if (!inRange(range.startTime) || end < 0n) return E.left(parameterInvalid(`${field} is out of range.`));
  return E.right({ kind: 'range', start: Number(range.startTime), end: Number(end) });
};

interface ReadFields {
  readonly columnsToGet: readonly string[];
  readonly timeRange?: Msg.TimeRange;
  readonly maxVersions?: number;
  readonly filter?: Uint8Array;
  readonly startColumn?: string;
  readonly endColumn?: string;
}

export const convertReadQuery = (field: string, fields: ReadFields): E.Either<OtsError, ReadQuery> => {
  const timeRange = convertTimeRange(`${field}timeRange`, fields.timeRange);
  if (E.isLeft(timeRange)) return timeRange;
  let filter: ColumnCondition | undefined;
  if (fields.filter !== undefined && fields.filter.length > 0) {
    const decoded = decodeFilter(`${field}filter`, fields.filter);
    if (E.isLeft(decoded)) return decoded;
    filter = decoded.right;
  }
  return E.right({
    columnsToGet: [...new Set(fields.columnsToGet)],
    ...(fields.maxVersions === undefined ? {} : { maxVersions: fields.maxVersions }),
    ...(timeRange.right === undefined ? {} : { timeRange: timeRange.right }),
    ...(filter === undefined ? {} : { filter }),
    ...(fields.startColumn === undefined ? {} : { startColumn: fields.startColumn }),
    ...(fields.endColumn === undefined ? {} : { endColumn: fields.endColumn }),
  });
};

// ---------------------------------------------------------------------------------------------
// table metadata

const DEFINED_TYPES: Readonly<Record<Msg.DefinedColumnType, DefinedColumnType>> = {
  DCT_INTEGER: 'INTEGER',
  DCT_DOUBLE: 'DOUBLE',
  DCT_BOOLEAN: 'BOOLEAN',
  DCT_STRING: 'STRING',
  DCT_BLOB: 'BINARY',
};
const WIRE_DEFINED_TYPES: Readonly<Record<DefinedColumnType, Msg.DefinedColumnType>> = {
  INTEGER: 'DCT_INTEGER',
  DOUBLE: 'DCT_DOUBLE',
  BOOLEAN: 'DCT_BOOLEAN',
  STRING: 'DCT_STRING',
  BINARY: 'DCT_BLOB',
};

export const definedColumnType = (type: Msg.DefinedColumnType): DefinedColumnType => DEFINED_TYPES[type];

export const wireTableMeta = (meta: TableMeta): Msg.TableMeta => ({
  tableName: meta.name,
  primaryKey: meta.primaryKey.map((c) => ({ name: c.name, type: c.type, ...(c.autoIncrement ? { option: 'AUTO_INCREMENT' as const } : {}) })),
  definedColumn: meta.definedColumns.map((c) => ({ name: c.name, type: WIRE_DEFINED_TYPES[c.type] })),
  indexMeta: [],
});

export const wireTableOptions = (meta: TableMeta): Msg.TableOptions => ({
  timeToLive: meta.options.timeToLive,
  maxVersions: meta.options.maxVersions,
  deviationCellVersionInSec: BigInt(meta.options.deviationCellVersionInSec),
  allowUpdate: meta.options.allowUpdate,
});

export const wireThroughputDetails = (meta: TableMeta): Msg.ReservedThroughputDetails => ({
  capacityUnit: { read: meta.reservedThroughput.read, write: meta.reservedThroughput.write },
  lastIncreaseTime: BigInt(meta.lastIncreaseTime),
  ...(meta.lastDecreaseTime === undefined ? {} : { lastDecreaseTime: BigInt(meta.lastDecreaseTime) }),
});

export const wireStreamDetails = (meta: TableMeta): Msg.StreamDetails =>
  meta.stream === undefined
    ? { enableStream: false }
    : {
        enableStream: meta.stream.enabled,
        streamId: meta.stream.streamId,
        expirationTime: meta.stream.expirationTimeHours,
        lastEnableTime: BigInt(meta.stream.lastEnableTime),
      };

/** Table options as the engine takes them (only the fields the request set). */
export const convertTableOptions = (options: Msg.TableOptions | undefined): E.Either<OtsError, Partial<TableMeta['options']>> => {
  if (options === undefined) return E.right({});
  const deviation = options.deviationCellVersionInSec;
  if (deviation !== undefined && (deviation <= 0n || deviation > MAX_SAFE)) {
    return E.left(parameterInvalid('DeviationCellVersionInSec must be greater than 0.'));
  }
  return E.right({
    ...(options.timeToLive === undefined ? {} : { timeToLive: options.timeToLive }),
    ...(options.maxVersions === undefined ? {} : { maxVersions: options.maxVersions }),
    ...(deviation === undefined ? {} : { deviationCellVersionInSec: Number(deviation) }),
    ...(options.allowUpdate === undefined ? {} : { allowUpdate: options.allowUpdate }),
  });
};
