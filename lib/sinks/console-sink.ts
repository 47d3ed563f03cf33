/**
 * A sink that prints each batch as a table, like Spark's console sink. Output goes to the given
 * writable stream (stdout by default), so tests can capture it. Window bounds print as
 * `[start, end)` in ISO time, binary as hex.
 */
import type { Writable } from 'node:stream';
import type { OutputRow, OutputValue } from '../stream/table.js';
import type { Sink, WriteContext } from './sink.js';

export interface ConsoleSinkOptions {
  readonly out?: Writable;
  /** columns to show, in order (default: the keys of the first row) */
  readonly columns?: readonly string[];
  /** rows shown per batch (default 20) */
  readonly maxRows?: number;
}

export function consoleSink(options: ConsoleSinkOptions = {}): Sink<OutputRow> {
  const out = options.out ?? process.stdout;
  const maxRows = options.maxRows ?? 20;
  return {
    write(rows, context: WriteContext) {
      const text = formatBatch(rows, context.batchId, options.columns, maxRows);
      return new Promise<void>((resolve, reject) => {
        out.write(text, (error) => (error ? reject(error) : resolve()));
      });
    },
  };
}

export function formatValue(value: OutputValue | undefined): string {
  if (value === null || value === undefined) return 'null';
  if (value instanceof Uint8Array) return `0x${Buffer.from(value).toString('hex')}`;
  if (typeof value === 'object') return `[${isoTime(value.start)}, ${isoTime(value.end)})`;
  return String(value);
}

const isoTime = (ms: number): string => (Number.isFinite(ms) ? new Date(ms).toISOString() : String(ms));

export function formatBatch(rows: readonly OutputRow[], batchId: number, columns: readonly string[] | undefined, maxRows: number): string {
  const rule = '-------------------------------------------';
  const header = `${rule}\nBatch: ${batchId}\n${rule}\n`;
  const names = columns ?? Object.keys(rows[0] ?? {});
  if (names.length === 0) return `${header}(no rows)\n\n`;
  const shown = rows.slice(0, maxRows);
  const cells = shown.map((row) => names.map((name) => formatValue(row[name])));
  const widths = names.map((name, k) => Math.max(name.length, ...cells.map((line) => (line[k] as string).length)));
  const border = `+${widths.map((width) => '-'.repeat(width)).join('+')}+`;
  const line = (values: readonly string[], pad: 'start' | 'end'): string =>
    `|${values.map((value, k) => (pad === 'start' ? value.padStart(widths[k] as number) : value.padEnd(widths[k] as number))).join('|')}|`;
  const body = cells.map((values) => line(values, 'start'));
  const more = rows.length > shown.length ? `only showing top ${shown.length} of ${rows.length} rows\n` : '';
  return `${header}${border}\n${line(names, 'end')}\n${border}\n${body.map((text) => `${text}\n`).join('')}${border}\n${more}\n`;
}
