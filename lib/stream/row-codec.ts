/**
 * The contract of row decoding, as io-ts codecs: how one tunnel record becomes one row of the
 * catalog, and every problem of a record with the column it is at. `decodeRows` runs a compiled
 * equivalent on the hot path and asks these codecs to explain the records it rejects (the two
 * are checked against each other by property tests).
 *
 * Value mapping (EMR's, see emr-streaming-sql.md §1.3): string ← STRING, boolean ← BOOLEAN,
 * binary ← BINARY, long ← INTEGER, double ← DOUBLE or INTEGER. A 'long' becomes a `number` when
 * `longs` is 'number' (the default, what the aggregation hot path wants); a value outside
 * ±(2^53−1) is then a bad row ('out-of-range') rather than a silently rounded number. With
 * `longs: 'bigint'` longs stay exact bigints.
 *
 * Record actions (§1.4, EMR-compatible append semantics): every record is one row.
 * - PUT_ROW: a full row; a catalog column it lacks is a problem unless `missingColumns` is 'null'.
 * - UPDATE_ROW: carries only the changed columns; absent columns are null, deleted cells
 *   (deleteOneVersion / deleteAllVersions) are null with their column type set.
 * - DELETE_ROW: only the primary key; every other column is null.
 * An attribute value of the wrong type is a problem, or null when `typeMismatches` is 'null'
 * (EMR's source: "type mismatch → warning + null"); a primary-key value of the wrong type is
 * always a problem (EMR throws). A long out of the number range stays a problem either way.
 * The extra EMR columns (`__ots_record_type__`, `__ots_record_timestamp__` in µs, 0 for base data,
 * `__ots_column_type_<col>`) are added when `recordColumns` is true.
 */
import * as E from 'fp-ts/lib/Either.js';
import * as t from 'io-ts';
import type { Cell, ChangeRecord, ColumnValue, PrimaryKeyValue } from '../wire/types.js';
import type { RowProblem } from './batch.js';
import type { Catalog, CatalogType } from './catalog.js';
import type { Value } from './table.js';

export interface RowShapeOptions {
  readonly longs: 'number' | 'bigint';
  readonly missingColumns: 'bad-row' | 'null';
  readonly recordColumns: boolean;
  /** an attribute (not a primary-key) value of the wrong type: a problem (default) or null, as EMR */
  readonly typeMismatches?: 'bad-row' | 'null';
}

export const RECORD_TYPE_COLUMN = '__ots_record_type__';
export const RECORD_TIMESTAMP_COLUMN = '__ots_record_timestamp__';
export const columnTypeColumn = (column: string): string => `__ots_column_type_${column}`;

export type RecordTypeName = 'PUT' | 'UPDATE' | 'DELETE';
export type ColumnOperation = 'PUT' | 'DELETE_ONE_VERSION' | 'DELETE_ALL_VERSION';

export const recordTypeName = (action: ChangeRecord['action']): RecordTypeName =>
  action === 'PUT_ROW' ? 'PUT' : action === 'UPDATE_ROW' ? 'UPDATE' : 'DELETE';

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

/** Messages of failures are the problem kinds; `describeValue` renders what was found. */
const wrongType = 'wrong-type';
const outOfRange = 'out-of-range';
const missing = 'missing';

type CellInput = PrimaryKeyValue | ColumnValue;

/** One catalog type: from a wire value to a row value. */
export function columnCodec(type: CatalogType, longs: 'number' | 'bigint'): t.Type<Value, unknown, unknown> {
  const is = (u: unknown): u is Value => u !== undefined;
  const identity = (value: Value): unknown => value;
  switch (type) {
    case 'string':
      return new t.Type<Value, unknown, unknown>('string', is, (u, c) => (typeof u === 'string' ? t.success(u) : t.failure(u, c, wrongType)), identity);
    case 'boolean':
      return new t.Type<Value, unknown, unknown>('boolean', is, (u, c) => (typeof u === 'boolean' ? t.success(u) : t.failure(u, c, wrongType)), identity);
    case 'binary':
      return new t.Type<Value, unknown, unknown>('binary', is, (u, c) => (u instanceof Uint8Array ? t.success(u) : t.failure(u, c, wrongType)), identity);
    case 'double':
      return new t.Type<Value, unknown, unknown>(
        'double',
        is,
        (u, c) => (typeof u === 'number' ? t.success(u) : typeof u === 'bigint' ? t.success(Number(u)) : t.failure(u, c, wrongType)),
        identity,
      );
    case 'long':
      return new t.Type<Value, unknown, unknown>(
        'long',
        is,
        (u, c) => {
          if (typeof u !== 'bigint') return t.failure(u, c, wrongType);
          if (longs === 'bigint') return t.success(u);
          return u <= MAX_SAFE && u >= -MAX_SAFE ? t.success(Number(u)) : t.failure(u, c, outOfRange);
        },
        identity,
      );
  }
}

interface Found {
  readonly value: CellInput | null;
  readonly operation: ColumnOperation | null;
  readonly unsupported?: string;
  readonly primaryKey?: true;
}

/**
 * Every occurrence of `column` in a record, primary key first, then cells in order. The last one
 * gives the value; each must fit the catalog type.
 */
function occurrences(record: ChangeRecord, column: string): Found[] {
  const found: Found[] = [];
  for (const cell of record.primaryKey) if (cell.name === column) found.push({ value: cell.value, operation: null, primaryKey: true });
  for (const cell of record.cells) if (cell.name === column) found.push(fromCell(cell));
  return found;
}

function fromCell(cell: Cell): Found {
  switch (cell.op) {
    case 'put':
      return { value: cell.value, operation: 'PUT' };
    case 'deleteOneVersion':
      return { value: null, operation: 'DELETE_ONE_VERSION' };
    case 'deleteAllVersions':
      return { value: null, operation: 'DELETE_ALL_VERSION' };
    case 'increment':
      return { value: null, operation: null, unsupported: 'an increment cell' };
  }
}

/**
 * The row codec of a catalog: decodes a ChangeRecord into a row object, or fails with one error
 * per problematic column (context key = column name, message = problem kind).
 */
export function rowCodec(catalog: Catalog, options: RowShapeOptions): t.Type<Record<string, Value>, unknown, ChangeRecord> {
  const columns = Object.entries(catalog.columns).map(([name, column]) => ({ name, type: column.type, codec: columnCodec(column.type, options.longs) }));
  const nullMismatches = options.typeMismatches === 'null';
  return new t.Type<Record<string, Value>, unknown, ChangeRecord>(
    'Row',
    (u): u is Record<string, Value> => typeof u === 'object' && u !== null,
    (record, context) => {
      const row: Record<string, Value> = {};
      const errors: t.ValidationError[] = [];
      if (options.recordColumns) {
        row[RECORD_TYPE_COLUMN] = recordTypeName(record.action);
        row[RECORD_TIMESTAMP_COLUMN] = record.sequence === undefined ? 0 : Number(record.sequence.timestamp);
      }
      for (const column of columns) {
        const columnContext = t.appendContext(context, column.name, column.codec, undefined);
        const found = occurrences(record, column.name);
        let operation: ColumnOperation | null = null;
        if (found.length === 0) {
          if (record.action === 'PUT_ROW' && options.missingColumns === 'bad-row') errors.push({ value: undefined, context: columnContext, message: missing });
          row[column.name] = null;
        }
        for (const occurrence of found) {
          operation = occurrence.operation;
          if (occurrence.unsupported !== undefined) {
            errors.push({ value: { kind: occurrence.unsupported }, context: columnContext, message: wrongType });
          } else if (occurrence.value === null) {
            row[column.name] = null;
          } else {
            const decoded = column.codec.validate(occurrence.value, columnContext);
            if (E.isRight(decoded)) row[column.name] = decoded.right;
            else if (nullMismatches && occurrence.primaryKey !== true && decoded.left.every((error) => error.message === wrongType)) row[column.name] = null;
            else errors.push(...decoded.left);
          }
        }
        if (options.recordColumns) row[columnTypeColumn(column.name)] = operation;
      }
      return errors.length > 0 ? t.failures(errors) : t.success(row);
    },
    (row) => row,
  );
}

/** The problems of a failed row decode, one per column. */
export function rowProblems(errors: t.Errors, catalog: Catalog): RowProblem[] {
  return errors.map((error) => {
    const column = error.context[error.context.length - 1]?.key ?? '';
    const expected = catalog.columns[column]?.type ?? 'a catalog column';
    const problem = (error.message ?? wrongType) as RowProblem['problem'];
    return { column, problem, expected, actual: problem === missing ? 'nothing' : describeValue(error.value) };
  });
}

/** `string "abc"`, `long 12`, `binary (3 bytes)`. */
export function describeValue(value: unknown): string {
  if (typeof value === 'string') return `string ${JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value)}`;
  if (typeof value === 'bigint') return `long ${value}`;
  if (typeof value === 'number') return `double ${value}`;
  if (typeof value === 'boolean') return `boolean ${value}`;
  if (value instanceof Uint8Array) return `binary (${value.length} bytes)`;
  if (typeof value === 'object' && value !== null && 'kind' in value) return String((value as { kind: unknown }).kind);
  return String(value);
}

/** `UserId="u1", OrderId="o7"`, for messages. */
export function formatPrimaryKey(record: ChangeRecord): string {
  return record.primaryKey
    .map((cell) => {
      const value = cell.value;
      const shown =
        typeof value === 'string'
          ? JSON.stringify(value)
          : typeof value === 'bigint'
            ? String(value)
            : value instanceof Uint8Array
              ? `0x${Buffer.from(value).toString('hex')}`
              : value.kind;
      return `${cell.name}=${shown}`;
    })
    .join(', ');
}

export function formatProblems(problems: readonly RowProblem[]): string {
  return problems
    .map((p) =>
      p.problem === 'missing'
        ? `column '${p.column}' is missing (expected ${p.expected})`
        : p.problem === 'out-of-range'
          ? `column '${p.column}': ${p.actual} does not fit a number exactly (use longs: 'bigint')`
          : `column '${p.column}': expected ${p.expected}, got ${p.actual}`,
    )
    .join('; ');
}
