/**
 * `decodeRows(options)`: tunnel records → a columnar {@link RowTable} per batch, checked against
 * the catalog. The contract (which value each column gets, what is a problem) is the io-ts codec of
 * `row-codec.ts`; this file is its compiled form for the hot path and only calls the codec to
 * explain the records it rejects.
 *
 * Bad rows (a wrong type, a missing column, a long beyond ±(2^53−1) in number mode) follow
 * `onBadRow`: 'fail' ends the stream with a {@link BadRowError} naming the table, primary key and
 * columns; 'skip' drops and counts them; 'dead-letter' drops them and hands them to the
 * dead-letter sink of `commitAfter`, written before the batch is acknowledged.
 *
 * `typeMismatches: 'null'` is EMR's rule for an attribute whose wire type does not fit its catalog
 * type (a STRING in a `double` column): the value becomes null, the row is kept, and the value is
 * counted (`typeMismatches` and `typeMismatchesByColumn` in the metrics). A primary-key column of
 * the wrong type stays a bad row, as EMR's source throws on it. The default, 'bad-row', makes any
 * mismatch a bad row. Counting costs nothing on rows without a mismatch.
 *
 * UPDATE_ROW and DELETE_ROW records are never treated as puts: by default they become partial rows
 * as EMR's source makes them (columns they do not carry are null; see row-codec.ts), which the
 * window operators then drop when the event-time column is among the missing ones; `updates` /
 * `deletes: 'skip'` drops them instead. Both are counted in the metrics.
 */
import { map, type OperatorFunction } from 'rxjs';
import * as E from 'fp-ts/lib/Either.js';
import type { ChangeRecord } from '../wire/types.js';
import { asciiString, copyBytes, isAscii, readText } from '../wire/bytes.js';
import { VT_BLOB, VT_BOOLEAN, VT_DOUBLE, VT_INTEGER, VT_STRING } from '../wire/plainbuffer/constants.js';
import { packedCell, packedFloat64, packedInt64, packedRowCells, packedSafeInteger, readPackedCell, TAG_CELL, TAG_ROW_DATA } from '../wire/plainbuffer/packed-cells.js';
import { PACKED_PUT, packedRecordAt, packedRecords, type PackedRecords } from '../wire/packed-records.js';
import { dropFromRowChannels, type DeadLetter, type RecordBatch, type RowProblem, type TableBatch } from './batch.js';
import type { Catalog } from './catalog.js';
import {
  RECORD_TIMESTAMP_COLUMN,
  RECORD_TYPE_COLUMN,
  columnTypeColumn,
  formatPrimaryKey,
  formatProblems,
  recordTypeName,
  rowCodec,
  rowProblems,
  type ColumnOperation,
  type RowShapeOptions,
} from './row-codec.js';
import type { Column, RowTable, Value } from './table.js';

export interface DecodeRowsOptions {
  readonly catalog: Catalog;
  /** the source table's name, for messages */
  readonly table?: string;
  readonly onBadRow?: 'fail' | 'skip' | 'dead-letter';
  /** a PUT_ROW record lacking a catalog column: a bad row (default) or null as EMR does */
  readonly missingColumns?: 'bad-row' | 'null';
  /** an attribute value of the wrong type: a bad row (default) or null and counted, as EMR does */
  readonly typeMismatches?: 'bad-row' | 'null';
  readonly updates?: 'partial-row' | 'skip';
  readonly deletes?: 'partial-row' | 'skip';
  /** 'long' columns as numbers (default; unsafe values are bad rows) or exact bigints */
  readonly longs?: 'number' | 'bigint';
  /** add EMR's `__ots_record_type__`, `__ots_record_timestamp__` and `__ots_column_type_<col>` */
  readonly recordColumns?: boolean;
  /**
   * The catalog columns the pipeline reads (default: all). Only these are in the table; the others
   * are still checked — present and of their type, as the options say — so the same records are
   * bad rows, but their values are not built (a query's plan passes the columns it reads).
   */
  readonly columns?: readonly string[];
}

export interface BadRow {
  /** index of the record in the batch */
  readonly index: number;
  readonly record: ChangeRecord;
  readonly primaryKey: string;
  readonly problems: readonly RowProblem[];
  readonly message: string;
}

export interface DecodedRecords {
  readonly table: RowTable;
  readonly bad: readonly BadRow[];
  readonly updates: number;
  readonly deletes: number;
  /** UPDATE_ROW / DELETE_ROW records dropped by their policy */
  readonly skipped: number;
  /** attribute values of the wrong type set to null (typeMismatches: 'null'), in rows kept */
  readonly typeMismatches: number;
  /** the same, per catalog column (only columns with at least one) */
  readonly typeMismatchesByColumn: Readonly<Record<string, number>>;
  /** indexes of the records that gave no row (bad or skipped), ascending */
  readonly dropped: readonly number[];
}

export class BadRowError extends Error {
  override readonly name = 'BadRowError';
  constructor(
    readonly table: string,
    readonly badRows: readonly BadRow[],
    readonly batchId: number,
  ) {
    const first = badRows[0];
    const more = badRows.length > 1 ? ` (and ${badRows.length - 1} more bad rows in batch ${batchId})` : ` (batch ${batchId})`;
    super(first === undefined ? `bad rows in table ${table}` : `bad row in table ${table}, primary key (${first.primaryKey}): ${first.message}${more}`);
  }
}

const STRING = 0;
const LONG_NUMBER = 1;
const LONG_BIGINT = 2;
const DOUBLE = 3;
const BOOLEAN = 4;
const BINARY = 5;
const PREDICTED_POSITIONS = 32;
const MAX_LAYOUTS = 8;

/** a primary key cell or an attribute cell, as the decode loop reads both */
interface DecodableCell {
  readonly name: string;
  readonly value?: unknown;
  readonly op?: string;
}

/** The columns of one batch being written; row `out` is the next one. */
interface BatchColumns {
  readonly n: number;
  out: number;
  readonly numbers: (number[] | undefined)[];
  readonly valids: (Uint8Array | undefined)[];
  readonly values: (Value[] | undefined)[];
  readonly operations: (ColumnOperation | null)[][] | undefined;
  readonly recordTypes: string[] | undefined;
  readonly recordTimes: number[] | undefined;
  readonly bad: number[];
  updates: number;
  deletes: number;
  skipped: number;
  /** indexes of records skipped by the update/delete policy */
  readonly skippedAt: number[];
  /** type mismatches nulled in the current row, per column (allocated at the first one) */
  pending: Int32Array | undefined;
  /** how many mismatches the current row has: 0 on the good path, which then skips all of this */
  rowMismatches: number;
  /** type mismatches of the rows kept, per column (allocated at the first one) */
  mismatches: Int32Array | undefined;
}

function writeNull(columns: BatchColumns, k: number): void {
  if (columns.numbers[k] !== undefined) {
    let valid = columns.valids[k];
    if (valid === undefined) valid = columns.valids[k] = new Uint8Array(columns.n).fill(1);
    valid[columns.out] = 0;
  } else {
    (columns.values[k] as Value[])[columns.out] = null;
  }
}

/** An attribute of the wrong type under typeMismatches: 'null': null in the row, counted if the row is kept. */
function nullMismatch(columns: BatchColumns, k: number): void {
  writeNull(columns, k);
  const pending = (columns.pending ??= new Int32Array(columns.numbers.length));
  pending[k] = (pending[k] as number) + 1;
  columns.rowMismatches++;
}

/** End of a row with mismatches: its counts join the batch's if the row is kept. */
function settleMismatches(columns: BatchColumns, kept: boolean): void {
  const pending = columns.pending as Int32Array;
  if (kept) {
    const totals = (columns.mismatches ??= new Int32Array(pending.length));
    for (let k = 0; k < pending.length; k++) totals[k] = (totals[k] as number) + (pending[k] as number);
  }
  pending.fill(0);
  columns.rowMismatches = 0;
}

/** Decodes records[i] into row `columns.out` (advancing it) or notes it as bad or skipped. */
type DecodeOne = (columns: BatchColumns, record: ChangeRecord, i: number) => void;

/** Decodes a whole batch: the records of one cell layout on a straight line, others through DecodeOne. */
type LayoutDecoder = (
  records: readonly ChangeRecord[],
  columns: BatchColumns,
  decodeOne: DecodeOne,
  nullMismatch: (columns: BatchColumns, k: number) => void,
  settleMismatches: (columns: BatchColumns, kept: boolean) => void,
) => void;

/**
 * Compiles the decoder of one catalog; the returned function decodes one batch of records.
 *
 * Records of one table mostly share a cell layout (the same names in the same order). For the
 * layout of a batch's first record, when it is a PUT_ROW carrying each catalog column once, a
 * straight-line loop is generated (no name lookups, no per-cell dispatch: ~1.6x the generic loop);
 * records with another layout, and the modes it does not cover, take the generic loop. Both follow
 * the row codec's contract and are checked against it by property tests.
 */
export function compileDecoder(options: DecodeRowsOptions): (records: readonly ChangeRecord[]) => DecodedRecords {
  const shape: RowShapeOptions = {
    longs: options.longs ?? 'number',
    missingColumns: options.missingColumns ?? 'bad-row',
    recordColumns: options.recordColumns ?? false,
    typeMismatches: options.typeMismatches ?? 'bad-row',
  };
  const names = Object.keys(options.catalog.columns);
  const width = names.length;
  const kinds = new Int32Array(
    names.map((name) => {
      switch (options.catalog.columns[name]?.type) {
        case 'string':
          return STRING;
        case 'long':
          return shape.longs === 'number' ? LONG_NUMBER : LONG_BIGINT;
        case 'double':
          return DOUBLE;
        case 'boolean':
          return BOOLEAN;
        default:
          return BINARY;
      }
    }),
  );
  const indexOf = new Map(names.map((name, k) => [name, k]));
  const unknown = (options.columns ?? []).filter((name) => !indexOf.has(name));
  if (unknown.length > 0) throw new RangeError(`decodeRows: columns ${unknown.map((name) => `'${name}'`).join(', ')} are not in the catalog (${names.join(', ')})`);
  const kept = options.columns === undefined ? undefined : new Set(options.columns);
  /** per catalog column, 1 where the table gets its values */
  const keeps = Uint8Array.from(names, (name) => (kept === undefined || kept.has(name) ? 1 : 0));
  const codec = rowCodec(options.catalog, shape);
  const decodeOne = genericDecoder(kinds, indexOf, shape, options);
  const decodePacked = packedDecoder(names, kinds, keeps, indexOf, shape);
  const layouts = new Map<string, LayoutDecoder>();

  const layoutDecoder = (first: ChangeRecord | undefined): LayoutDecoder | undefined => {
    if (first === undefined || first.action !== 'PUT_ROW' || shape.recordColumns) return undefined;
    const pk = first.primaryKey.map((cell) => cell.name);
    const cells = first.cells.map((cell) => cell.name);
    const all = [...pk, ...cells];
    if (first.cells.some((cell) => cell.op !== 'put') || new Set(all).size !== all.length || !names.every((name) => all.includes(name))) return undefined;
    const layoutKey = JSON.stringify([pk, cells]);
    let decoder = layouts.get(layoutKey);
    if (decoder === undefined) {
      decoder = generateLayoutDecoder(pk, cells, indexOf, kinds, shape.typeMismatches === 'null');
      if (layouts.size >= MAX_LAYOUTS) layouts.clear();
      layouts.set(layoutKey, decoder);
    }
    return decoder;
  };

  return (records) => {
    const n = records.length;
    const columns: BatchColumns = {
      n,
      out: 0,
      numbers: new Array<number[] | undefined>(width),
      valids: new Array<Uint8Array | undefined>(width),
      values: new Array<Value[] | undefined>(width),
      operations: shape.recordColumns ? names.map(() => new Array<ColumnOperation | null>(n)) : undefined,
      recordTypes: shape.recordColumns ? new Array<string>(n) : undefined,
      recordTimes: shape.recordColumns ? new Array<number>(n) : undefined,
      bad: [],
      updates: 0,
      deletes: 0,
      skipped: 0,
      pending: undefined,
      rowMismatches: 0,
      mismatches: undefined,
      skippedAt: [],
    };
    for (let k = 0; k < width; k++) {
      const kind = kinds[k];
      if (kind === LONG_NUMBER || kind === DOUBLE) columns.numbers[k] = new Array<number>(n);
      else columns.values[k] = new Array<Value>(n);
    }
    // packed records (the tunnel's): read from their bytes, no record built
    const packed = shape.recordColumns ? undefined : packedRecords(records);
    if (packed !== undefined) {
      decodePacked(packed, columns, decodeOne);
    } else {
      const layout = layoutDecoder(records[0]);
      if (layout !== undefined) layout(records, columns, decodeOne, nullMismatch, settleMismatches);
      else for (let i = 0; i < n; i++) decodeOne(columns, records[i] as ChangeRecord, i);
    }

    const out = columns.out;
    const table = new Map<string, Column>();
    const { recordTypes, recordTimes, operations } = columns;
    if (recordTypes !== undefined && recordTimes !== undefined) {
      recordTypes.length = out;
      table.set(RECORD_TYPE_COLUMN, { kind: 'value', values: recordTypes });
      recordTimes.length = out;
      table.set(RECORD_TIMESTAMP_COLUMN, { kind: 'number', values: recordTimes, valid: undefined });
    }
    for (let k = 0; k < width; k++) {
      if (keeps[k] === 0) continue;
      const name = names[k] as string;
      const numeric = columns.numbers[k];
      if (numeric !== undefined) {
        numeric.length = out;
        table.set(name, { kind: 'number', values: numeric, valid: columns.valids[k]?.subarray(0, out) });
      } else {
        const column = columns.values[k] as Value[];
        column.length = out;
        table.set(name, { kind: 'value', values: column });
      }
      if (operations !== undefined) {
        const ops = operations[k] as (ColumnOperation | null)[];
        ops.length = out;
        table.set(columnTypeColumn(name), { kind: 'value', values: ops });
      }
    }
    const bad = columns.bad.map((index): BadRow => {
      const record = records[index] as ChangeRecord;
      const decoded = codec.decode(record);
      if (E.isRight(decoded)) throw new Error(`decodeRows: the compiled decoder rejected a record the row codec accepts (${formatPrimaryKey(record)})`);
      const problems = rowProblems(decoded.left, options.catalog);
      return { index, record, primaryKey: formatPrimaryKey(record), problems, message: formatProblems(problems) };
    });
    let typeMismatches = 0;
    const typeMismatchesByColumn: Record<string, number> = {};
    const mismatches = columns.mismatches;
    if (mismatches !== undefined) {
      for (let k = 0; k < width; k++) {
        const count = mismatches[k] as number;
        if (count === 0) continue;
        typeMismatches += count;
        typeMismatchesByColumn[names[k] as string] = count;
      }
    }
    const dropped = columns.skippedAt.length === 0 ? columns.bad : columns.bad.length === 0 ? columns.skippedAt : [...columns.bad, ...columns.skippedAt].sort((a, b) => a - b);
    return { table: { length: out, columns: table }, bad, updates: columns.updates, deletes: columns.deletes, skipped: columns.skipped, typeMismatches, typeMismatchesByColumn, dropped };
  };
}

function genericDecoder(kinds: Int32Array, indexOf: ReadonlyMap<string, number>, shape: RowShapeOptions, options: DecodeRowsOptions): DecodeOne {
  const width = kinds.length;
  // cells of one table mostly come in the same order: remember which column each position held
  const pkNames: (string | undefined)[] = new Array(PREDICTED_POSITIONS);
  const pkIndex = new Int32Array(PREDICTED_POSITIONS);
  const cellNames: (string | undefined)[] = new Array(PREDICTED_POSITIONS);
  const cellIndex = new Int32Array(PREDICTED_POSITIONS);
  const missingIsBad = shape.missingColumns === 'bad-row';
  const nullMismatches = shape.typeMismatches === 'null';
  const skipUpdates = options.updates === 'skip';
  const skipDeletes = options.deletes === 'skip';
  const stamps = new Int32Array(width);
  let stamp = 0;

  return (columns, record, i) => {
    const action = record.action;
    if (action !== 'PUT_ROW') {
      if (action === 'UPDATE_ROW') {
        columns.updates++;
        if (skipUpdates) {
          columns.skipped++;
          columns.skippedAt.push(i);
          return;
        }
      } else {
        columns.deletes++;
        if (skipDeletes) {
          columns.skipped++;
          columns.skippedAt.push(i);
          return;
        }
      }
    }
    const out = columns.out;
    const { numbers, values, valids, operations } = columns;
    stamp = stamp === 0x7fffffff ? 1 : stamp + 1;
    if (stamp === 1) stamps.fill(0);
    let ok = true;
    // primary key cells first, then attribute cells; the last occurrence of a column wins
    for (let part = 0; part < 2; part++) {
      const cells: readonly DecodableCell[] = part === 0 ? record.primaryKey : record.cells;
      const predictedNames = part === 0 ? pkNames : cellNames;
      const predictedIndex = part === 0 ? pkIndex : cellIndex;
      for (let j = 0; j < cells.length; j++) {
        const cell = cells[j] as DecodableCell;
        const name = cell.name;
        let k: number;
        if (j < PREDICTED_POSITIONS && predictedNames[j] === name) {
          k = predictedIndex[j] as number;
        } else {
          k = indexOf.get(name) ?? -1;
          if (j < PREDICTED_POSITIONS) {
            predictedNames[j] = name;
            predictedIndex[j] = k;
          }
        }
        if (k < 0) continue;
        stamps[k] = stamp;
        let operation: ColumnOperation | null = null;
        if (part === 1) {
          const op = cell.op;
          if (op !== 'put') {
            if (op === 'deleteAllVersions' || op === 'deleteOneVersion') {
              writeNull(columns, k);
              if (operations !== undefined) (operations[k] as (ColumnOperation | null)[])[out] = op === 'deleteAllVersions' ? 'DELETE_ALL_VERSION' : 'DELETE_ONE_VERSION';
            } else {
              ok = false;
            }
            continue;
          }
          operation = 'PUT';
        }
        const v = cell.value;
        // a value of the wrong type: null (attributes under typeMismatches: 'null') or a bad row
        let mismatch = false;
        switch (kinds[k]) {
          case STRING:
            if (typeof v === 'string') (values[k] as Value[])[out] = v;
            else mismatch = true;
            break;
          case DOUBLE: {
            const valid = valids[k];
            if (valid !== undefined) valid[out] = 1;
            if (typeof v === 'number') (numbers[k] as number[])[out] = v;
            else if (typeof v === 'bigint') (numbers[k] as number[])[out] = Number(v);
            else mismatch = true;
            break;
          }
          case LONG_NUMBER: {
            const valid = valids[k];
            if (valid !== undefined) valid[out] = 1;
            if (typeof v !== 'bigint') {
              mismatch = true;
              break;
            }
            // |v| <= 2^53 - 1 converts exactly; anything larger converts to at least 2^53, never a safe integer
            const x = Number(v);
            if (Number.isSafeInteger(x)) (numbers[k] as number[])[out] = x;
            else ok = false;
            break;
          }
          case LONG_BIGINT:
            if (typeof v === 'bigint') (values[k] as Value[])[out] = v;
            else mismatch = true;
            break;
          case BOOLEAN:
            if (typeof v === 'boolean') (values[k] as Value[])[out] = v;
            else mismatch = true;
            break;
          default:
            if (v instanceof Uint8Array) (values[k] as Value[])[out] = v;
            else mismatch = true;
        }
        if (mismatch) {
          if (part === 1 && nullMismatches) nullMismatch(columns, k);
          else ok = false;
        }
        if (operations !== undefined) (operations[k] as (ColumnOperation | null)[])[out] = operation;
      }
    }
    for (let k = 0; k < width; k++) {
      if (stamps[k] === stamp) continue;
      if (missingIsBad && action === 'PUT_ROW') ok = false;
      writeNull(columns, k);
      if (operations !== undefined) (operations[k] as (ColumnOperation | null)[])[out] = null;
    }
    if (columns.rowMismatches !== 0) settleMismatches(columns, ok);
    if (!ok) {
      columns.bad.push(i);
      return;
    }
    if (columns.recordTypes !== undefined && columns.recordTimes !== undefined) {
      columns.recordTypes[out] = recordTypeName(action);
      columns.recordTimes[out] = record.sequence === undefined ? 0 : Number(record.sequence.timestamp);
    }
    columns.out = out + 1;
  };
}

/** at most this many cells per record on the packed path; records with more take the generic one */
const PACKED_MAX_CELLS = 64;

/**
 * The decoder of packed records (the tunnel's ReadRecords bytes, already checked): each PUT_ROW
 * whose cells are all puts and name each column at most once is read straight from its bytes into
 * the columns, building only the values kept; any other record is built and goes through the
 * generic DecodeOne. Same contract as the generic loop (spec/stream/decode-rows-packed.spec.ts).
 */
function packedDecoder(names: readonly string[], kinds: Int32Array, keeps: Uint8Array, indexOf: ReadonlyMap<string, number>, shape: RowShapeOptions): (packed: PackedRecords, columns: BatchColumns, decodeOne: DecodeOne) => void {
  const width = kinds.length;
  const encoder = new TextEncoder();
  const nameBytes = names.map((name) => encoder.encode(name));
  const missingIsBad = shape.missingColumns === 'bad-row';
  const nullMismatches = shape.typeMismatches === 'null';
  // per cell position (key cells, then attribute cells after PACKED_MAX_CELLS), the name bytes last seen there and their column
  const predicted: (Uint8Array | undefined)[] = new Array<Uint8Array | undefined>(2 * PACKED_MAX_CELLS).fill(undefined);
  const predictedColumn = new Int32Array(2 * PACKED_MAX_CELLS);
  const stamps = new Int32Array(width);
  let stamp = 0;

  const columnOf = (buf: Uint8Array, slot: number): number => {
    const { nameStart, nameEnd } = packedCell;
    const length = nameEnd - nameStart;
    const known = predicted[slot];
    if (known !== undefined && known.length === length) {
      let same = true;
      for (let b = 0; b < length; b++) {
        if (buf[nameStart + b] !== known[b]) {
          same = false;
          break;
        }
      }
      if (same) return predictedColumn[slot] as number;
    }
    const name = readText(buf, nameStart, nameEnd, isAscii(buf, nameStart, nameEnd)) as string;
    const k = indexOf.get(name) ?? -1;
    predicted[slot] = k >= 0 ? (nameBytes[k] as Uint8Array) : buf.slice(nameStart, nameEnd);
    predictedColumn[slot] = k;
    return k;
  };

  /**
   * Reads the PUT_ROW at `start` into row `columns.out` in one pass over its cells; false where the
   * generic loop must read it (a cell with a cell type, a column named twice), after undoing what
   * counts only this row's mismatches (the generic loop writes every column of the row again).
   */
  const readRow = (buf: Uint8Array, start: number, columns: BatchColumns, i: number): boolean => {
    stamp = stamp === 0x7fffffff ? 1 : stamp + 1;
    if (stamp === 1) stamps.fill(0);
    const out = columns.out;
    const { numbers, values, valids } = columns;
    let ok = true;
    let position = 0;
    let p = packedRowCells(buf, start);
    for (let part = 0; part < 2; part++) {
      if (part === 1) {
        if (buf[p] !== TAG_ROW_DATA) break;
        p++;
        position = PACKED_MAX_CELLS;
      }
      for (let j = 0; buf[p] === TAG_CELL; j++, position++) {
        readPackedCell(buf, p);
        p = packedCell.next;
        const k = j === PACKED_MAX_CELLS || packedCell.typed ? -2 : columnOf(buf, position);
        if (k === -1) continue;
        if (k === -2 || stamps[k] === stamp) {
          if (columns.rowMismatches !== 0) {
            (columns.pending as Int32Array).fill(0);
            columns.rowMismatches = 0;
          }
          return false;
        }
        stamps[k] = stamp;
        const attribute = part === 1;
        const type = packedCell.valueType;
        const at = packedCell.payload;
        let mismatch = false;
        if (keeps[k] === 0) {
          // a column the table leaves out: only whether its value fits (what the generic loop checks)
          switch (kinds[k]) {
            case STRING:
              mismatch = type !== VT_STRING;
              break;
            case DOUBLE:
              mismatch = type !== VT_DOUBLE && type !== VT_INTEGER;
              break;
            case LONG_NUMBER:
              if (type !== VT_INTEGER) mismatch = true;
              else if (Number.isNaN(packedSafeInteger(buf, at))) ok = false;
              break;
            case LONG_BIGINT:
              mismatch = type !== VT_INTEGER;
              break;
            case BOOLEAN:
              mismatch = type !== VT_BOOLEAN;
              break;
            default:
              mismatch = type !== VT_BLOB;
          }
        } else {
          switch (kinds[k]) {
            case STRING:
              if (type === VT_STRING) {
                const { dataStart, dataEnd } = packedCell;
                (values[k] as Value[])[out] = isAscii(buf, dataStart, dataEnd) ? asciiString(buf, dataStart, dataEnd) : (readText(buf, dataStart, dataEnd, false) as string);
              } else {
                mismatch = true;
              }
              break;
            case DOUBLE: {
              const valid = valids[k];
              if (valid !== undefined) valid[out] = 1;
              if (type === VT_DOUBLE) (numbers[k] as number[])[out] = packedFloat64(buf, at);
              else if (type === VT_INTEGER) (numbers[k] as number[])[out] = Number(packedInt64(buf, at));
              else mismatch = true;
              break;
            }
            case LONG_NUMBER: {
              const valid = valids[k];
              if (valid !== undefined) valid[out] = 1;
              if (type !== VT_INTEGER) {
                mismatch = true;
                break;
              }
              const x = packedSafeInteger(buf, at);
              if (x === x) (numbers[k] as number[])[out] = x;
              else ok = false;
              break;
            }
            case LONG_BIGINT:
              if (type === VT_INTEGER) (values[k] as Value[])[out] = packedInt64(buf, at);
              else mismatch = true;
              break;
            case BOOLEAN:
              if (type === VT_BOOLEAN) (values[k] as Value[])[out] = buf[at] === 1;
              else mismatch = true;
              break;
            default:
              if (type === VT_BLOB) (values[k] as Value[])[out] = copyBytes(buf, packedCell.dataStart, packedCell.dataEnd);
              else mismatch = true;
          }
        }
        if (mismatch) {
          if (attribute && nullMismatches) nullMismatch(columns, k);
          else ok = false;
        }
      }
    }
    for (let k = 0; k < width; k++) {
      if (stamps[k] === stamp) continue;
      if (missingIsBad) ok = false;
      writeNull(columns, k);
    }
    if (columns.rowMismatches !== 0) settleMismatches(columns, ok);
    if (ok) columns.out = out + 1;
    else columns.bad.push(i);
    return true;
  };

  return (packed, columns, decodeOne) => {
    let i = 0;
    for (const segment of packed.segments) {
      const { buf, starts, actions } = segment;
      for (let j = segment.from; j < segment.to; j++, i++) {
        if (actions[j] !== PACKED_PUT || !readRow(buf, starts[j] as number, columns, i)) decodeOne(columns, packedRecordAt(segment, j), i);
      }
    }
  };
}

/**
 * Generates the straight-line decoder of one cell layout: each position's name is compared with
 * the expected one and its value checked and stored with code specialised to the column's type.
 * Names enter the generated source only as JSON string literals.
 */
function generateLayoutDecoder(pk: readonly string[], cells: readonly string[], indexOf: ReadonlyMap<string, number>, kinds: Int32Array, nullMismatches: boolean): LayoutDecoder {
  const lines: string[] = [];
  const store = (k: number, value: string, attribute: boolean): string[] => {
    // a value of the wrong type: null and counted (attributes under typeMismatches: 'null') or a bad row
    const mismatch = attribute && nullMismatches ? `nullMismatch(columns, ${k});` : 'ok = false;';
    switch (kinds[k]) {
      case STRING:
        return [`if (typeof ${value} === 'string') c${k}[out] = ${value}; else ${mismatch}`];
      case DOUBLE:
        return [
          `if (valids[${k}] !== undefined) valids[${k}][out] = 1;`,
          `if (typeof ${value} === 'number') c${k}[out] = ${value}; else if (typeof ${value} === 'bigint') c${k}[out] = Number(${value}); else ${mismatch}`,
        ];
      case LONG_NUMBER:
        return [
          `if (valids[${k}] !== undefined) valids[${k}][out] = 1;`,
          `if (typeof ${value} !== 'bigint') ${mismatch} else if (Number.isSafeInteger(x = Number(${value}))) c${k}[out] = x; else ok = false;`,
        ];
      case LONG_BIGINT:
        return [`if (typeof ${value} === 'bigint') c${k}[out] = ${value}; else ${mismatch}`];
      case BOOLEAN:
        return [`if (typeof ${value} === 'boolean') c${k}[out] = ${value}; else ${mismatch}`];
      default:
        return [`if (${value} instanceof Uint8Array) c${k}[out] = ${value}; else ${mismatch}`];
    }
  };
  const matches = [`r.action === 'PUT_ROW'`, `pk.length === ${pk.length}`, `cs.length === ${cells.length}`];
  pk.forEach((name, j) => matches.push(`pk[${j}].name === ${JSON.stringify(name)}`));
  cells.forEach((name, j) => matches.push(`cs[${j}].name === ${JSON.stringify(name)}`, `cs[${j}].op === 'put'`));
  const body: string[] = [];
  pk.forEach((name, j) => {
    const k = indexOf.get(name);
    if (k !== undefined) body.push(`v = pk[${j}].value;`, ...store(k, 'v', false));
  });
  cells.forEach((name, j) => {
    const k = indexOf.get(name);
    if (k !== undefined) body.push(`v = cs[${j}].value;`, ...store(k, 'v', true));
  });
  const declarations = kinds.reduce<string[]>((all, kind, k) => {
    all.push(`const c${k} = ${kind === LONG_NUMBER || kind === DOUBLE ? 'columns.numbers' : 'columns.values'}[${k}];`);
    return all;
  }, []);
  lines.push(
    ...declarations,
    'const valids = columns.valids;',
    'const n = records.length;',
    'let v, x;',
    'for (let i = 0; i < n; i++) {',
    '  const r = records[i];',
    '  const pk = r.primaryKey, cs = r.cells;',
    `  if (${matches.join(' && ')}) {`,
    '    const out = columns.out;',
    '    let ok = true;',
    ...body.map((line) => `    ${line}`),
    ...(nullMismatches ? ['    if (columns.rowMismatches !== 0) settleMismatches(columns, ok);'] : []),
    '    if (ok) columns.out = out + 1; else columns.bad.push(i);',
    '  } else {',
    '    decodeOne(columns, r, i);',
    '  }',
    '}',
  );
  return new Function('records', 'columns', 'decodeOne', 'nullMismatch', 'settleMismatches', lines.join('\n')) as LayoutDecoder;
}

export function decodeRows(options: DecodeRowsOptions): OperatorFunction<RecordBatch<ChangeRecord>, TableBatch> {
  const decode = compileDecoder(options);
  const table = options.table ?? 'source';
  const policy = options.onBadRow ?? 'fail';
  return map((batch) => {
    const decoded = decode(batch.rows);
    const metrics = batch.context.metrics;
    metrics.add('rowsDecoded', decoded.table.length);
    metrics.add('updateRecords', decoded.updates);
    metrics.add('deleteRecords', decoded.deletes);
    metrics.add('changeRecordsSkipped', decoded.skipped);
    if (decoded.typeMismatches > 0) metrics.addTypeMismatches(decoded.typeMismatchesByColumn);
    // rows keep their channel: the ranges shrink by the records that gave no row
    const channels = batch.rowChannels === undefined || decoded.dropped.length === 0 ? {} : { rowChannels: dropFromRowChannels(batch.rowChannels, decoded.dropped) };
    if (decoded.bad.length === 0) return { ...batch, rows: decoded.table, ...channels };
    metrics.add('badRows', decoded.bad.length);
    if (policy === 'fail') throw new BadRowError(table, decoded.bad, batch.id);
    if (policy === 'skip') {
      metrics.add('badRowsSkipped', decoded.bad.length);
      return { ...batch, rows: decoded.table, ...channels };
    }
    const letters = decoded.bad.map(
      (bad): DeadLetter => ({
        kind: 'bad-row',
        batchId: batch.id,
        table,
        primaryKey: bad.primaryKey,
        record: bad.record,
        problems: bad.problems,
        message: bad.message,
      }),
    );
    return { ...batch, rows: decoded.table, ...channels, deadLetters: [...batch.deadLetters, ...letters] };
  });
}
