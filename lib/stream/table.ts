/**
 * The columnar shape decoded rows take inside a batch. Measured on the seed workload, one plain
 * object per row costs about a third of the pipeline's throughput; per-batch column arrays
 * (numbers in plain arrays, which V8 keeps unboxed) keep decode → window → aggregate near a
 * hand-written loop. Typed arrays were measured too: their off-heap buffers cost twice the
 * allocation time per batch. Rows as objects are materialised only where they leave the hot path (output, dead letters).
 */
import type { WindowBounds } from './batch.js';

/** A decoded cell value. 'long' columns hold numbers unless the decoder keeps bigints. */
export type Value = string | number | bigint | boolean | Uint8Array | null;

/** Numbers (double, long-as-number) with an optional validity mask: `valid[i] === 0` is null. */
export interface NumberColumn {
  readonly kind: 'number';
  readonly values: readonly number[];
  readonly valid: Uint8Array | undefined;
}

/** Any values, null for null. */
export interface ValueColumn {
  readonly kind: 'value';
  readonly values: readonly Value[];
}

export type Column = NumberColumn | ValueColumn;

export interface RowTable {
  readonly length: number;
  /** columns in schema order */
  readonly columns: ReadonlyMap<string, Column>;
}

/** A row as it leaves the aggregation: group keys, the window bounds, aggregate results. */
export type OutputValue = Value | WindowBounds;
export type OutputRow = Readonly<Record<string, OutputValue>>;

export function valueAt(column: Column, index: number): Value {
  if (column.kind === 'number') {
    return column.valid !== undefined && column.valid[index] === 0 ? null : (column.values[index] ?? null);
  }
  return column.values[index] ?? null;
}

/** One row as a plain object (for output, dead letters and row-at-a-time functions). */
export function rowAt(table: RowTable, index: number): Record<string, Value> {
  const row: Record<string, Value> = {};
  for (const [name, column] of table.columns) row[name] = valueAt(column, index);
  return row;
}

export function tableRows(table: RowTable): Record<string, Value>[] {
  const rows = new Array<Record<string, Value>>(table.length);
  for (let i = 0; i < table.length; i++) rows[i] = rowAt(table, i);
  return rows;
}

/**
 * Builds a table from row objects; a column whose values are all numbers or null becomes a
 * NumberColumn. `names` fixes the column order (default: keys in first-seen order).
 */
export function tableFromRows(rows: readonly Readonly<Record<string, Value>>[], names?: readonly string[]): RowTable {
  const columnNames = names ?? [...new Set(rows.flatMap((row) => Object.keys(row)))];
  const columns = new Map<string, Column>();
  for (const name of columnNames) {
    const raw = rows.map((row) => row[name] ?? null);
    columns.set(name, raw.every((value) => value === null || typeof value === 'number') ? numberColumn(raw as readonly (number | null)[]) : { kind: 'value', values: raw });
  }
  return { length: rows.length, columns };
}

export function numberColumn(values: readonly (number | null)[]): NumberColumn {
  const numbers = new Array<number>(values.length).fill(0);
  let valid: Uint8Array | undefined;
  for (let i = 0; i < values.length; i++) {
    const value = values[i];
    if (value === null || value === undefined) {
      valid ??= new Uint8Array(values.length).fill(1);
      valid[i] = 0;
    } else {
      numbers[i] = value;
    }
  }
  return { kind: 'number', values: numbers, valid };
}

/** The rows at `indexes`, in that order. */
export function takeRows(table: RowTable, indexes: ArrayLike<number>): RowTable {
  const columns = new Map<string, Column>();
  const n = indexes.length;
  for (const [name, column] of table.columns) {
    if (column.kind === 'number') {
      const values = new Array<number>(n);
      let valid: Uint8Array | undefined;
      for (let j = 0; j < n; j++) {
        const i = indexes[j] as number;
        values[j] = column.values[i] as number;
        if (column.valid !== undefined && column.valid[i] === 0) {
          valid ??= new Uint8Array(n).fill(1);
          valid[j] = 0;
        }
      }
      columns.set(name, { kind: 'number', values, valid });
    } else {
      const values = new Array<Value>(n);
      for (let j = 0; j < n; j++) values[j] = column.values[indexes[j] as number] ?? null;
      columns.set(name, { kind: 'value', values });
    }
  }
  return { length: n, columns };
}

export const emptyTable: RowTable = { length: 0, columns: new Map() };

/** A column of `values`: a NumberColumn when every value is a number or null, else a ValueColumn. */
export function columnOf(values: readonly Value[]): Column {
  for (const value of values) if (value !== null && typeof value !== 'number') return { kind: 'value', values };
  return numberColumn(values as readonly (number | null)[]);
}

/** Some rows of a table as objects (the output of one batch, for the live view): `[from, to)`. */
export function rowsBetween(table: RowTable, from: number, to: number): Record<string, OutputValue>[] {
  const rows: Record<string, OutputValue>[] = [];
  for (let i = Math.max(0, from); i < Math.min(to, table.length); i++) rows.push(rowAt(table, i));
  return rows;
}

/** The rows of `tables` one after the other; a column missing from a table is null there. */
export function concatTables(tables: readonly RowTable[]): RowTable {
  const nonEmpty = tables.filter((table) => table.length > 0);
  if (nonEmpty.length === 0) return tables[0] ?? emptyTable;
  if (nonEmpty.length === 1) return nonEmpty[0] as RowTable;
  const names = [...new Set(nonEmpty.flatMap((table) => [...table.columns.keys()]))];
  const length = nonEmpty.reduce((sum, table) => sum + table.length, 0);
  const columns = new Map<string, Column>();
  for (const name of names) {
    const values: Value[] = [];
    for (const table of nonEmpty) {
      const column = table.columns.get(name);
      for (let i = 0; i < table.length; i++) values.push(column === undefined ? null : valueAt(column, i));
    }
    columns.set(name, columnOf(values));
  }
  return { length, columns };
}
