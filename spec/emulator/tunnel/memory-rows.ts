/** An in-memory `TableRowsReader` for service tests: rows kept sorted by primary key. */
import type { BaseRow, ScanResult, TableRowsReader } from '../../../lib/emulator/tunnel/rows-reader.js';
import type { PrimaryKeyCell, PrimaryKeyValue } from '../../../lib/wire/types.js';

const rank = (value: PrimaryKeyValue): number =>
  typeof value === 'object' && 'kind' in value ? (value.kind === 'INF_MIN' ? -1 : 1) : 0;

const compareValues = (a: PrimaryKeyValue, b: PrimaryKeyValue): number => {
  const ra = rank(a);
  const rb = rank(b);
  if (ra !== 0 || rb !== 0) return ra - rb;
  if (typeof a === 'bigint' && typeof b === 'bigint') return a < b ? -1 : a > b ? 1 : 0;
  if (typeof a === 'string' && typeof b === 'string') return Buffer.compare(Buffer.from(a), Buffer.from(b));
  return Buffer.compare(a as Uint8Array, b as Uint8Array);
};

export const compareKeys = (a: readonly PrimaryKeyCell[], b: readonly PrimaryKeyCell[]): number => {
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    const c = compareValues(a[i]!.value, b[i]!.value);
    if (c !== 0) return c;
  }
  return 0;
};

export class MemoryRows implements TableRowsReader {
  private readonly tables = new Map<string, BaseRow[]>();

  createTable(table: string): void {
    this.tables.set(table, []);
  }

  put(table: string, row: BaseRow): void {
    const rows = this.tables.get(table);
    if (rows === undefined) throw new Error(`no table ${table}`);
    const at = rows.findIndex((r) => compareKeys(r.primaryKey, row.primaryKey) >= 0);
    if (at >= 0 && compareKeys(rows[at]!.primaryKey, row.primaryKey) === 0) rows[at] = row;
    else if (at >= 0) rows.splice(at, 0, row);
    else rows.push(row);
  }

  hasTable(table: string): boolean {
    return this.tables.has(table);
  }

  scan(
    table: string,
    start: readonly PrimaryKeyCell[] | undefined,
    end: readonly PrimaryKeyCell[] | undefined,
    limit: number,
  ): ScanResult {
    const inRange = (this.tables.get(table) ?? []).filter(
      (r) => (start === undefined || compareKeys(r.primaryKey, start) >= 0) && (end === undefined || compareKeys(r.primaryKey, end) < 0),
    );
    const next = inRange[limit];
    return next === undefined ? { rows: inRange.slice(0, limit) } : { rows: inRange.slice(0, limit), next: next.primaryKey };
  }

  splitPoints(table: string, ranges: number): readonly (readonly PrimaryKeyCell[])[] {
    const rows = this.tables.get(table) ?? [];
    const size = Math.ceil(rows.length / ranges);
    if (size === 0) return [];
    const points: PrimaryKeyCell[][] = [];
    for (let i = size; i < rows.length; i += size) points.push([...rows[i]!.primaryKey]);
    return points;
  }
}
