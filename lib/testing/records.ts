/**
 * Change records as the tunnel delivers them, in one call each:
 *
 *   putRow({ UserId: 'u1', OrderId: 'o1' }, { price: 12.5, timestamp: 1_700_000_000_000n })
 *   updateRow({ UserId: 'u1', OrderId: 'o1' }, { price: 13, note: null })   // null deletes the column
 *   deleteRow({ UserId: 'u1', OrderId: 'o1' })
 *
 * Values are the wire's: a `bigint` is an INTEGER, a `number` a DOUBLE. `recordBuilder(catalog,
 * primaryKey)` converts by the catalog instead, so a 'long' column can be given a plain number:
 *
 *   const orders = recordBuilder(catalog, ['UserId', 'OrderId']);
 *   orders.put({ UserId: 'u1', OrderId: 'o1', price: 12.5, timestamp: 1_700_000_000_000 })
 */
import type { Catalog } from '../stream/catalog.js';
import type { Cell, ChangeRecord, ColumnValue, PrimaryKeyCell } from '../wire/types.js';

/** A primary key value: a whole `number` becomes an INTEGER (bigint). */
export type KeyInput = string | number | bigint | Uint8Array;

export interface RecordOptions {
  /** the commit time in ms, as a stream record's sequence carries it (`__ots_record_timestamp__` is it in µs); default: none, as base data */
  readonly commitTime?: number;
  /** index among rows committed at the same time (default 0) */
  readonly rowIndex?: number;
}

function keyValue(name: string, value: KeyInput): PrimaryKeyCell['value'] {
  if (typeof value !== 'number') return value;
  if (!Number.isSafeInteger(value)) throw new RangeError(`primary key column '${name}': ${value} is not an integer (Tablestore keys are STRING, INTEGER or BINARY)`);
  return BigInt(value);
}

function primaryKeyCells(primaryKey: Readonly<Record<string, KeyInput>>): PrimaryKeyCell[] {
  const cells = Object.entries(primaryKey).map(([name, value]) => ({ name, value: keyValue(name, value) }));
  if (cells.length === 0) throw new RangeError('a change record needs at least one primary key column');
  return cells;
}

function sequenceOf(options: RecordOptions): Pick<ChangeRecord, 'sequence'> {
  if (options.commitTime === undefined) return {};
  return { sequence: { epoch: 0, timestamp: BigInt(Math.round(options.commitTime * 1000)), rowIndex: options.rowIndex ?? 0 } };
}

/** A PUT_ROW record: the whole row. */
export function putRow(primaryKey: Readonly<Record<string, KeyInput>>, columns: Readonly<Record<string, ColumnValue>>, options: RecordOptions = {}): ChangeRecord {
  const cells: Cell[] = Object.entries(columns).map(([name, value]) => ({ op: 'put', name, value }));
  return { action: 'PUT_ROW', primaryKey: primaryKeyCells(primaryKey), cells, ...sequenceOf(options) };
}

/** An UPDATE_ROW record: the changed columns; `null` deletes a column (all its versions). */
export function updateRow(primaryKey: Readonly<Record<string, KeyInput>>, columns: Readonly<Record<string, ColumnValue | null>>, options: RecordOptions = {}): ChangeRecord {
  const cells: Cell[] = Object.entries(columns).map(([name, value]): Cell => (value === null ? { op: 'deleteAllVersions', name } : { op: 'put', name, value }));
  return { action: 'UPDATE_ROW', primaryKey: primaryKeyCells(primaryKey), cells, ...sequenceOf(options) };
}

/** A DELETE_ROW record: only the primary key. */
export function deleteRow(primaryKey: Readonly<Record<string, KeyInput>>, options: RecordOptions = {}): ChangeRecord {
  return { action: 'DELETE_ROW', primaryKey: primaryKeyCells(primaryKey), cells: [], ...sequenceOf(options) };
}

/** A row as plain values; the builder converts them to the wire types of the catalog. */
export type RowInput = Readonly<Record<string, string | number | bigint | boolean | Uint8Array | null | undefined>>;

export interface RecordBuilder {
  /** PUT_ROW of the row; null and undefined columns are left out */
  put(row: RowInput, options?: RecordOptions): ChangeRecord;
  /** UPDATE_ROW of the given columns; null deletes a column */
  update(row: RowInput, options?: RecordOptions): ChangeRecord;
  /** DELETE_ROW of the row's primary key (other columns are ignored) */
  delete(row: RowInput, options?: RecordOptions): ChangeRecord;
}

/**
 * Records of one table: rows are split into primary key and attribute columns, and values take
 * the catalog's wire type ('long' → INTEGER, 'double' → DOUBLE). A value that cannot (a fraction
 * for a 'long', text for a 'double', a primary key column missing) throws, naming the column.
 */
export function recordBuilder(catalog: Catalog, primaryKey: readonly string[]): RecordBuilder {
  if (primaryKey.length === 0) throw new RangeError('recordBuilder: name the primary key columns');
  const keyNames = new Set(primaryKey);
  const convert = (name: string, value: string | number | bigint | boolean | Uint8Array): ColumnValue => {
    const type = catalog.columns[name]?.type;
    if (type === 'long' && typeof value === 'number') {
      if (!Number.isSafeInteger(value)) throw new RangeError(`recordBuilder: column '${name}' is a long, and ${value} is not a safe integer (give a bigint)`);
      return BigInt(value);
    }
    if (type === 'double' && typeof value === 'bigint') return Number(value);
    const expected = type === 'long' ? 'bigint' : type === 'double' ? 'number' : type === 'string' ? 'string' : type === 'boolean' ? 'boolean' : undefined;
    if (expected !== undefined && typeof value !== expected) throw new TypeError(`recordBuilder: column '${name}' is a ${type}, got ${typeof value} ${String(value)}`);
    if (type === 'binary' && !(value instanceof Uint8Array)) throw new TypeError(`recordBuilder: column '${name}' is binary, got ${typeof value}`);
    return value;
  };
  const split = (row: RowInput, keepNulls: boolean): { key: Record<string, KeyInput>; columns: Record<string, ColumnValue | null> } => {
    const key: Record<string, KeyInput> = {};
    for (const name of primaryKey) {
      const value = row[name];
      if (value === null || value === undefined || typeof value === 'boolean') throw new TypeError(`recordBuilder: primary key column '${name}' is ${value === undefined ? 'missing' : String(value)}`);
      key[name] = convert(name, value) as KeyInput;
    }
    const columns: Record<string, ColumnValue | null> = {};
    for (const [name, value] of Object.entries(row)) {
      if (keyNames.has(name)) continue;
      if (value === null || value === undefined) {
        if (keepNulls && value === null) columns[name] = null;
      } else columns[name] = convert(name, value);
    }
    return { key, columns };
  };
  return {
    put: (row, options) => {
      const { key, columns } = split(row, false);
      return putRow(key, columns as Record<string, ColumnValue>, options);
    },
    update: (row, options) => {
      const { key, columns } = split(row, true);
      return updateRow(key, columns, options);
    },
    delete: (row, options) => deleteRow(split(row, false).key, options),
  };
}
