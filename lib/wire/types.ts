/**
 * The row model shared by every layer: what a PlainBuffer row decodes to, what the emulator
 * stores, and what a tunnel record carries. Plain readonly objects so they can be compared,
 * cloned and generated in property tests.
 *
 * Integers are `bigint` (Tablestore INTEGER is int64); doubles are `number`; cell timestamps
 * are milliseconds as `number` (the service bounds them far below 2^53).
 */

/** Marker values allowed in primary keys of requests only (range bounds, auto-increment). */
export interface PrimaryKeySentinel {
  readonly kind: 'INF_MIN' | 'INF_MAX' | 'AUTO_INCREMENT';
}
export const INF_MIN: PrimaryKeySentinel = Object.freeze({ kind: 'INF_MIN' });
export const INF_MAX: PrimaryKeySentinel = Object.freeze({ kind: 'INF_MAX' });
export const AUTO_INCREMENT: PrimaryKeySentinel = Object.freeze({ kind: 'AUTO_INCREMENT' });

export type PrimaryKeyValue = bigint | string | Uint8Array | PrimaryKeySentinel;

export interface PrimaryKeyCell {
  readonly name: string;
  readonly value: PrimaryKeyValue;
}

/** Attribute column values: INTEGER (int64), DOUBLE, BOOLEAN, STRING, BINARY. */
export type ColumnValue = bigint | number | boolean | string | Uint8Array;

/** A put of one version: the value, with the version's timestamp (ms) when known. */
export interface PutCell {
  readonly op: 'put';
  readonly name: string;
  readonly value: ColumnValue;
  readonly timestamp?: number;
}
/** UpdateRow: delete the version at `timestamp`. */
export interface DeleteOneVersionCell {
  readonly op: 'deleteOneVersion';
  readonly name: string;
  readonly timestamp: number;
}
/** UpdateRow: delete every version of the column. */
export interface DeleteAllVersionsCell {
  readonly op: 'deleteAllVersions';
  readonly name: string;
}
/** UpdateRow (requests only): atomically add `value` to an INTEGER column. */
export interface IncrementCell {
  readonly op: 'increment';
  readonly name: string;
  readonly value: bigint;
  readonly timestamp?: number;
}
export type Cell = PutCell | DeleteOneVersionCell | DeleteAllVersionsCell | IncrementCell;

/** The stream sequence extension carried by tunnel stream records (not by base-data records). */
export interface SequenceInfo {
  readonly epoch: number;
  /** commit time in microseconds */
  readonly timestamp: bigint;
  /** index among rows committed with the same timestamp */
  readonly rowIndex: number;
}

/** One PlainBuffer row. */
export interface Row {
  readonly primaryKey: readonly PrimaryKeyCell[];
  readonly cells: readonly Cell[];
  /** TAG_DELETE_ROW_MARKER present (DeleteRow requests, DELETE_ROW records) */
  readonly deleteMarker: boolean;
  readonly sequence?: SequenceInfo;
}

export type RecordAction = 'PUT_ROW' | 'UPDATE_ROW' | 'DELETE_ROW';

/** One change of a table as the tunnel delivers it. */
export interface ChangeRecord {
  readonly action: RecordAction;
  readonly primaryKey: readonly PrimaryKeyCell[];
  /** PUT_ROW: put cells; UPDATE_ROW: put / deleteOneVersion / deleteAllVersions; DELETE_ROW: none */
  readonly cells: readonly Cell[];
  /** stream records only; base-data records have none */
  readonly sequence?: SequenceInfo;
  /** previous values of the table's origin columns, when its stream spec asks for them */
  readonly originCells?: readonly Cell[];
}
