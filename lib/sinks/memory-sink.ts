/**
 * A sink into memory: a keyed upsert table when `keyColumns` are given (the last write of a key
 * wins, like a Tablestore PutRow), an append log otherwise. Every write is also recorded, so tests
 * can see what was written when. Writes complete synchronously.
 */
import { of, type Observable } from 'rxjs';
import type { OutputRow } from '../stream/table.js';
import type { Sink, WriteContext } from './sink.js';

export interface MemorySink<T = OutputRow> extends Sink<T> {
  /** current contents: one row per key (in first-written order), or every row appended */
  rows(): T[];
  /** the row stored under the key values, in `keyColumns` order */
  get(...key: readonly unknown[]): T | undefined;
  /** every write, in order */
  readonly writes: readonly { readonly batchId: number; readonly rows: readonly T[] }[];
  clear(): void;
}

export function memorySink<T = OutputRow>(options: { readonly keyColumns?: readonly string[] } = {}): MemorySink<T> {
  const { keyColumns } = options;
  const table = new Map<string, T>();
  const log: T[] = [];
  const writes: { batchId: number; rows: readonly T[] }[] = [];
  // typed, so a bigint 1n, a number 1 and a string '1n' stay three keys
  const keyOf = (values: readonly unknown[]): string =>
    JSON.stringify(values, (_, value: unknown) =>
      typeof value === 'bigint' ? { $bigint: String(value) } : value instanceof Uint8Array ? { $bytes: Buffer.from(value).toString('hex') } : value,
    );
  return {
    keyColumns,
    write(rows: readonly T[], context: WriteContext): Observable<void> {
      writes.push({ batchId: context.batchId, rows: [...rows] });
      for (const row of rows) {
        if (keyColumns === undefined) log.push(row);
        else table.set(keyOf(keyColumns.map((column) => (row as Record<string, unknown>)[column])), row);
      }
      return of(undefined);
    },
    rows: () => (keyColumns === undefined ? [...log] : [...table.values()]),
    get: (...key) => table.get(keyOf(key)),
    writes,
    clear() {
      table.clear();
      log.length = 0;
      writes.length = 0;
    },
  };
}
