/**
 * What the tunnel service needs from the table engine to serve base data: scans in
 * primary-key order from a key position, and split points to cut a table into channels.
 */
import type { PrimaryKeyCell, PutCell } from '../../wire/types.js';

/** A row as base data delivers it: the latest version of each column, with its timestamp. */
export interface BaseRow {
  readonly primaryKey: readonly PrimaryKeyCell[];
  readonly cells: readonly PutCell[];
}

export interface ScanResult {
  readonly rows: readonly BaseRow[];
  /** the key of the first row not returned, when rows remain in the range */
  readonly next?: readonly PrimaryKeyCell[];
}

export interface TableRowsReader {
  hasTable(table: string): boolean;
  /**
   * Up to `limit` rows with start ≤ key < end, in key order. `start`/`end` may hold INF_MIN /
   * INF_MAX; absent = the table's edge.
   */
  scan(
    table: string,
    start: readonly PrimaryKeyCell[] | undefined,
    end: readonly PrimaryKeyCell[] | undefined,
    limit: number,
  ): ScanResult;
  /**
   * Optional: `scan` as the PlainBuffer records base data sends (the key, then each column's
   * latest version as a put with its timestamp), at most `limit` records and `maxBytes` of
   * them (at least one); `next` as in `scan`. Readers without it are encoded by the service.
   */
  scanEncoded?(
    table: string,
    start: readonly PrimaryKeyCell[] | undefined,
    end: readonly PrimaryKeyCell[] | undefined,
    limit: number,
    maxBytes: number,
  ): { readonly records: readonly Uint8Array[]; readonly next?: readonly PrimaryKeyCell[] };
  /** At most `ranges - 1` ascending keys that cut the table into ranges of similar row counts. */
  splitPoints(table: string, ranges: number): readonly (readonly PrimaryKeyCell[])[];
}
