/**
 * The row semantics of the service as pure functions of (table, clock, stored row, request):
 * primary-key checks, cell checks, what PutRow/UpdateRow make of a row, and what a read sees.
 *
 * Existence rule (tablestore-wire §8 leaves it open): a row exists while it has a visible
 * cell, or when PutRow wrote it with no attributes (a PK-only row). An UpdateRow that removes
 * the last cells removes the row; a delete-only UpdateRow of a missing row creates nothing.
 *
 * Versions beyond the table's max_versions and versions past the TTL are hidden on read and
 * dropped when the row is next written (the service's compaction does the same, later).
 */
import * as E from 'fp-ts/lib/Either.js';
import type { Cell, ColumnValue, PrimaryKeyCell, PrimaryKeyValue, PutCell, Row } from '../wire/types.js';
import { type ColumnCondition, type ConditionView, evaluateCondition } from './conditions.js';
import { type OtsError, invalidPk, otsError, parameterInvalid } from './errors.js';
import { type StoredColumn, type StoredRow, type StoredVersion, compareNames, valueSize } from './stored-row.js';
import { LIMITS, type PrimaryKeyType, type TableMeta, isValidName } from './table-meta.js';

export type RowExistence = 'IGNORE' | 'EXPECT_EXIST' | 'EXPECT_NOT_EXIST';

export interface WriteCondition {
  readonly rowExistence: RowExistence;
  readonly columnCondition?: ColumnCondition;
}

export type ReturnType = 'NONE' | 'PK' | 'AFTER_MODIFY';

export interface ReturnContent {
  readonly type: ReturnType;
  readonly columnNames: readonly string[];
}

export type TimeRange =
  | { readonly kind: 'range'; readonly start: number; readonly end: number }
  | { readonly kind: 'specific'; readonly timestamp: number };

export interface ReadQuery {
  /** empty = every column */
  readonly columnsToGet: readonly string[];
  readonly maxVersions?: number;
  readonly timeRange?: TimeRange;
  readonly filter?: ColumnCondition;
  /** column-name window [startColumn, endColumn) */
  readonly startColumn?: string;
  readonly endColumn?: string;
}

/** How the key is used: which sentinels are legal depends on it. */
export type KeyUse = 'put' | 'update' | 'delete' | 'read' | 'range';

const vtName = (value: PrimaryKeyValue): string => {
  if (typeof value === 'bigint') return 'VT_INTEGER';
  if (typeof value === 'string') return 'VT_STRING';
  if (value instanceof Uint8Array) return 'VT_BLOB';
  return value.kind === 'AUTO_INCREMENT' ? 'VT_AUTO_INCREMENT' : `VT_${value.kind}`;
};

const VT_OF_TYPE: Readonly<Record<PrimaryKeyType, string>> = { INTEGER: 'VT_INTEGER', STRING: 'VT_STRING', BINARY: 'VT_BLOB' };

const matchesType = (type: PrimaryKeyType, value: PrimaryKeyValue): boolean =>
  type === 'INTEGER' ? typeof value === 'bigint' : type === 'STRING' ? typeof value === 'string' : value instanceof Uint8Array;

const INT64_MIN = -(1n << 63n);
const INT64_MAX = (1n << 63n) - 1n;

/** Checks a request key against the schema with the service's messages. */
export const checkPrimaryKey = (meta: TableMeta, primaryKey: readonly PrimaryKeyCell[], use: KeyUse): E.Either<OtsError, readonly PrimaryKeyCell[]> => {
  const schema = meta.primaryKey;
  if (primaryKey.length !== schema.length) {
    return E.left(invalidPk(`Validate PK size fail. Input: ${primaryKey.length}, Meta: ${schema.length}.`));
  }
  for (let i = 0; i < schema.length; i++) {
    const column = schema[i]!;
    const cell = primaryKey[i]!;
    if (cell.name !== column.name) return E.left(invalidPk(`Validate PK name fail. Input: ${cell.name}, Meta: ${column.name}.`));
    const value = cell.value;
    if (typeof value === 'object' && !(value instanceof Uint8Array)) {
      if (value.kind === 'AUTO_INCREMENT') {
        if (use === 'read' || use === 'range') return E.left(parameterInvalid("PKAutoIncr can't be used for read operations."));
        if (use === 'delete') return E.left(parameterInvalid('Invalid row to delete which with pk auto increment.'));
        if (!column.autoIncrement) {
          return E.left(invalidPk(`Validate PK type fail. Input: VT_AUTO_INCREMENT, Meta: ${VT_OF_TYPE[column.type]}.`));
        }
        continue;
      }
      if (use !== 'range') return E.left(parameterInvalid(`${vtName(value)} is an invalid type for the primary key.`));
      continue;
    }
    if (!matchesType(column.type, value)) {
      return E.left(invalidPk(`Validate PK type fail. Input: ${vtName(value)}, Meta: ${VT_OF_TYPE[column.type]}.`));
    }
    if (typeof value !== 'bigint') {
      const length = typeof value === 'string' ? Buffer.byteLength(value) : value.length;
      if (length > LIMITS.maxPrimaryKeyStringBytes) {
        return E.left(
          parameterInvalid(
            `The length of primary key column: '${column.name}' exceeds the MaxLength:${LIMITS.maxPrimaryKeyStringBytes} with CurrentLength:${length}.`,
          ),
        );
      }
    }
  }
  return E.right(primaryKey);
};

export const hasAutoIncrementPlaceholder = (primaryKey: readonly PrimaryKeyCell[]): boolean =>
  primaryKey.some((c) => typeof c.value === 'object' && !(c.value instanceof Uint8Array) && c.value.kind === 'AUTO_INCREMENT');

export interface CellCheckOptions {
  readonly now: number;
  /** the service's [now − deviation/TTL, now + deviation) window for custom timestamps */
  readonly enforceTimestampWindow: boolean;
}

const MAX_TIMESTAMP = Number.MAX_SAFE_INTEGER;

const checkTimestamp = (meta: TableMeta, name: string, timestamp: number, options: CellCheckOptions): OtsError | undefined => {
  if (!Number.isSafeInteger(timestamp) || timestamp < 0 || timestamp > MAX_TIMESTAMP) {
    return parameterInvalid(`Invalid timestamp. Cell:${name}.`);
  }
  if (!options.enforceTimestampWindow) return undefined;
  const deviationMs = meta.options.deviationCellVersionInSec * 1000;
  let lowest = options.now - deviationMs;
  if (meta.options.timeToLive !== -1) lowest = Math.max(lowest, options.now - meta.options.timeToLive * 1000);
  if (timestamp < lowest || timestamp >= options.now + deviationMs) return parameterInvalid(`Invalid timestamp. Cell:${name}.`);
  return undefined;
};

const checkValue = (name: string, value: ColumnValue): OtsError | undefined => {
  if (typeof value === 'number' && !Number.isFinite(value)) return parameterInvalid(`NaN or Infinity can't be set to double value. Cell:${name}.`);
  if (typeof value === 'string' || value instanceof Uint8Array) {
    const length = valueSize(value);
    if (length > LIMITS.maxCellValueBytes) {
      return parameterInvalid(
        `The length of attribute column: '${name}' exceeds the MaxLength:${LIMITS.maxCellValueBytes} with CurrentLength:${length}.`,
      );
    }
  }
  return undefined;
};

/**
 * Checks the cells of a PutRow (`put` only) or UpdateRow. The decoder has already enforced
 * each cell's shape (a delete-one-version has a timestamp, an increment an INTEGER, …).
 */
export const checkCells = (
  meta: TableMeta,
  kind: 'put' | 'update',
  cells: readonly Cell[],
  options: CellCheckOptions,
): E.Either<OtsError, readonly Cell[]> => {
  if (cells.length > LIMITS.maxColumnsPerWrite) {
    return E.left(parameterInvalid(`The number of attribute columns exceeds the limit, limit count:${LIMITS.maxColumnsPerWrite}, column count: ${cells.length}.`));
  }
  const keyNames = new Set(meta.primaryKey.map((c) => c.name));
  const putKeys = new Set<string>();
  const incremented = new Set<string>();
  const touched = new Set<string>();
  let size = 0;
  for (const cell of cells) {
    const name = cell.name;
    if (!isValidName(name)) return E.left(parameterInvalid(`Invalid column name: '${name}'.`));
    if (keyNames.has(name)) return E.left(parameterInvalid(`Duplicated attribute column name with primary key column: ${name}.`));
    size += Buffer.byteLength(name);
    switch (cell.op) {
      case 'put': {
        const error = checkValue(name, cell.value) ?? (cell.timestamp === undefined ? undefined : checkTimestamp(meta, name, cell.timestamp, options));
        if (error !== undefined) return E.left(error);
        const key = `${name}\u0000${cell.timestamp ?? 'now'}`;
        if (putKeys.has(key)) return E.left(parameterInvalid(`Duplicated attribute column name: '${name}'.`));
        putKeys.add(key);
        size += valueSize(cell.value) + 8;
        break;
      }
      case 'increment':
        if (kind === 'put') return E.left(parameterInvalid('Increment is only supported by UpdateRow.'));
        if (cell.timestamp !== undefined) return E.left(parameterInvalid(`The timestamp of an increment column can not be specified. Cell:${name}.`));
        if (incremented.has(name) || touched.has(name)) {
          return E.left(parameterInvalid(`Duplicated attribute column name with increment operation: '${name}'.`));
        }
        incremented.add(name);
        size += 8;
        break;
      case 'deleteOneVersion': {
        if (kind === 'put') return E.left(parameterInvalid('Delete operations are only supported by UpdateRow.'));
        const error = Number.isSafeInteger(cell.timestamp) && cell.timestamp >= 0 ? undefined : parameterInvalid(`Invalid timestamp. Cell:${name}.`);
        if (error !== undefined) return E.left(error);
        break;
      }
      case 'deleteAllVersions':
        if (kind === 'put') return E.left(parameterInvalid('Delete operations are only supported by UpdateRow.'));
        break;
    }
    if (cell.op !== 'increment') {
      if (incremented.has(name)) return E.left(parameterInvalid(`Duplicated attribute column name with increment operation: '${name}'.`));
      touched.add(name);
    }
  }
  if (size > LIMITS.maxRowBytes) {
    return E.left(otsError('OTSOutOfRowSizeLimit', 'The total data size of columns in one row exceeded the limit.'));
  }
  if (kind === 'update' && cells.length === 0) return E.left(parameterInvalid('No attribute column is specified in UpdateRow.'));
  return E.right(cells);
};

// ---------------------------------------------------------------------------------------------
// Visibility

/** Versions older than this (ms) are expired. */
export const expiryHorizon = (meta: TableMeta, now: number): number =>
  meta.options.timeToLive === -1 ? Number.NEGATIVE_INFINITY : now - meta.options.timeToLive * 1000;

/** Versions a reader may see: within TTL, at most max_versions newest; empty columns dropped. */
export const visibleColumns = (meta: TableMeta, now: number, row: StoredRow): StoredColumn[] => {
  const horizon = expiryHorizon(meta, now);
  const maxVersions = meta.options.maxVersions;
  const out: StoredColumn[] = [];
  for (const column of row.columns) {
    let versions = column.versions;
    if (versions.length > maxVersions || (versions.length > 0 && versions[versions.length - 1]!.timestamp < horizon)) {
      versions = versions.filter((v) => v.timestamp >= horizon).slice(0, maxVersions);
    }
    if (versions.length > 0) out.push(versions === column.versions ? column : { name: column.name, versions });
  }
  return out;
};

/** Whether the row exists for conditions and reads. */
export const rowExists = (meta: TableMeta, now: number, row: StoredRow | undefined): row is StoredRow =>
  row !== undefined && (row.columns.length === 0 || visibleColumns(meta, now, row).length > 0);

const findColumn = (columns: readonly StoredColumn[], name: string): StoredColumn | undefined => {
  // columns are sorted; rows are narrow enough that a linear scan beats a Map build
  for (const column of columns) if (column.name === name) return column;
  return undefined;
};

export const conditionView = (primaryKey: readonly PrimaryKeyCell[], columns: readonly StoredColumn[]): ConditionView => ({
  primaryKey,
  column: (name) => findColumn(columns, name),
});

// ---------------------------------------------------------------------------------------------
// Writes

export interface AppliedWrite {
  /** the row after the write; undefined = no row */
  readonly row: StoredRow | undefined;
  /** the cells as applied: timestamps assigned, increments turned into puts of the sum */
  readonly applied: readonly Cell[];
}

const putVersion = (versions: StoredVersion[], version: StoredVersion): void => {
  const at = versions.findIndex((v) => v.timestamp <= version.timestamp);
  if (at === -1) versions.push(version);
  else if (versions[at]!.timestamp === version.timestamp) versions[at] = version;
  else versions.splice(at, 0, version);
};

const finish = (meta: TableMeta, now: number, columns: Map<string, StoredVersion[]>): StoredRow => {
  const horizon = expiryHorizon(meta, now);
  const out: StoredColumn[] = [];
  for (const [name, versions] of columns) {
    const kept = versions.filter((v) => v.timestamp >= horizon).slice(0, meta.options.maxVersions);
    if (kept.length > 0) out.push({ name, versions: kept });
  }
  out.sort((a, b) => compareNames(a.name, b.name));
  return { columns: out };
};

/** PutRow: the new row replaces every column of the old one. */
export const applyPut = (meta: TableMeta, now: number, cells: readonly Cell[]): AppliedWrite => {
  const columns = new Map<string, StoredVersion[]>();
  const applied: PutCell[] = [];
  for (const cell of cells) {
    if (cell.op !== 'put') continue;
    const timestamp = cell.timestamp ?? now;
    let versions = columns.get(cell.name);
    if (versions === undefined) columns.set(cell.name, (versions = []));
    putVersion(versions, { timestamp, value: cell.value });
    applied.push({ op: 'put', name: cell.name, value: cell.value, timestamp });
  }
  const row = finish(meta, now, columns);
  // every cell already expired (possible only without the timestamp window): nothing is left
  return { row: cells.length > 0 && row.columns.length === 0 ? undefined : row, applied };
};

/** UpdateRow on the current row (undefined = missing). Errors: increment of a non-INTEGER or overflow. */
export const applyUpdate = (meta: TableMeta, now: number, current: StoredRow | undefined, cells: readonly Cell[]): E.Either<OtsError, AppliedWrite> => {
  const existing = current !== undefined && rowExists(meta, now, current) ? current : undefined;
  const visible = existing === undefined ? [] : visibleColumns(meta, now, existing);
  const columns = new Map<string, StoredVersion[]>();
  for (const column of visible) columns.set(column.name, [...column.versions]);
  const applied: Cell[] = [];
  let wrote = false;
  for (const cell of cells) {
    switch (cell.op) {
      case 'put': {
        const timestamp = cell.timestamp ?? now;
        let versions = columns.get(cell.name);
        if (versions === undefined) columns.set(cell.name, (versions = []));
        putVersion(versions, { timestamp, value: cell.value });
        applied.push({ op: 'put', name: cell.name, value: cell.value, timestamp });
        wrote = true;
        break;
      }
      case 'increment': {
        const latest = findColumn(visible, cell.name)?.versions[0]?.value;
        if (latest !== undefined && typeof latest !== 'bigint') {
          return E.left(parameterInvalid(`The type of column '${cell.name}' must be INTEGER for increment.`));
        }
        const sum = (latest ?? 0n) + cell.value;
        if (sum < INT64_MIN || sum > INT64_MAX) return E.left(parameterInvalid(`Increment overflow of column '${cell.name}'.`));
        let versions = columns.get(cell.name);
        if (versions === undefined) columns.set(cell.name, (versions = []));
        putVersion(versions, { timestamp: now, value: sum });
        applied.push({ op: 'put', name: cell.name, value: sum, timestamp: now });
        wrote = true;
        break;
      }
      case 'deleteOneVersion': {
        const versions = columns.get(cell.name);
        if (versions !== undefined) {
          const at = versions.findIndex((v) => v.timestamp === cell.timestamp);
          if (at !== -1) versions.splice(at, 1);
        }
        applied.push(cell);
        break;
      }
      case 'deleteAllVersions':
        columns.delete(cell.name);
        applied.push(cell);
        break;
    }
  }
  const row = finish(meta, now, columns);
  if (row.columns.length > 0) return E.right({ row, applied });
  // no cells left: a PK-only row that only saw deletes stays; anything else is gone
  const keepPkOnly = existing !== undefined && existing.columns.length === 0 && !wrote;
  return E.right({ row: keepPkOnly ? row : undefined, applied });
};

// ---------------------------------------------------------------------------------------------
// Reads

const inTimeRange = (range: TimeRange | undefined, timestamp: number): boolean =>
  range === undefined || (range.kind === 'specific' ? timestamp === range.timestamp : timestamp >= range.start && timestamp < range.end);

/**
 * What a read returns for one stored row: undefined when the row is missing, filtered out, or
 * has none of the requested columns. Columns by name, versions newest first.
 */
export const readRow = (
  meta: TableMeta,
  now: number,
  primaryKey: readonly PrimaryKeyCell[],
  stored: StoredRow | undefined,
  query: ReadQuery,
): Row | undefined => {
  if (!rowExists(meta, now, stored)) return undefined;
  const wanted = query.columnsToGet.length > 0 ? new Set(query.columnsToGet) : undefined;
  const maxVersions = query.maxVersions ?? Number.POSITIVE_INFINITY;
  const projected: StoredColumn[] = [];
  for (const column of visibleColumns(meta, now, stored)) {
    if (wanted !== undefined && !wanted.has(column.name)) continue;
    if (query.startColumn !== undefined && compareNames(column.name, query.startColumn) < 0) continue;
    if (query.endColumn !== undefined && compareNames(column.name, query.endColumn) >= 0) continue;
    const versions: StoredVersion[] = [];
    for (const version of column.versions) {
      if (versions.length >= maxVersions) break;
      if (inTimeRange(query.timeRange, version.timestamp)) versions.push(version);
    }
    if (versions.length > 0) projected.push({ name: column.name, versions });
  }
  let columns = projected;
  const filter = query.filter;
  if (filter !== undefined) {
    if (filter.kind === 'pagination') columns = columns.slice(filter.offset, filter.offset + filter.limit);
    else if (!evaluateCondition(filter, conditionView(primaryKey, projected))) return undefined;
  }
  if (columns.length === 0) {
    // a PK-only answer only when the caller asked for the whole row or for key columns
    const asksForKey = wanted === undefined ? stored.columns.length === 0 : meta.primaryKey.some((c) => wanted.has(c.name));
    if (!asksForKey) return undefined;
  }
  return { primaryKey, cells: toPutCells(columns), deleteMarker: false };
};

export const toPutCells = (columns: readonly StoredColumn[]): PutCell[] => {
  const cells: PutCell[] = [];
  for (const column of columns) {
    for (const version of column.versions) cells.push({ op: 'put', name: column.name, value: version.value, timestamp: version.timestamp });
  }
  return cells;
};

/** Bytes a row occupies, for capacity units and page limits. */
export const rowSize = (row: Row): number => {
  let size = 0;
  for (const cell of row.primaryKey) {
    const v = cell.value;
    size += Buffer.byteLength(cell.name) + (typeof v === 'bigint' ? 8 : typeof v === 'string' ? Buffer.byteLength(v) : v instanceof Uint8Array ? v.length : 1);
  }
  for (const cell of row.cells) size += Buffer.byteLength(cell.name) + 8 + (cell.op === 'put' || cell.op === 'increment' ? valueSize(cell.value) : 0);
  return size;
};

export const capacityUnits = (bytes: number): number => Math.max(1, Math.ceil(bytes / 4096));
