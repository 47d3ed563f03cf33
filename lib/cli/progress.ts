/**
 * Live progress of a running stream job. On a terminal: a block redrawn in place — records/s,
 * batches, batch latency, late rows dropped, each channel's lag in records and seconds, and the
 * current windows: one row per sink key (the sink's primary key), updated in place as batches
 * rewrite it, newest first. Elsewhere (CI logs, pipes): one plain line every few seconds, so logs
 * stay readable.
 */
import type { ChannelProgress, JobProgress } from '../stream/job/types.js';
import type { LateWindow } from '../stream/metrics.js';
import type { OutputRow, OutputValue } from '../stream/table.js';

export interface ProgressView {
  /**
   * rows are ordered by this column, largest (newest) first; by default the first sink key column
   * when it holds times (e.g. 'begin'), else the most recently written rows come first
   */
  readonly sortBy?: string;
  /** at most this many rows in the live table */
  readonly rows?: number;
  /** at most this many channels, one line each (default 8; the rest are summed up) */
  readonly channels?: number;
}

const formatNumber = (n: number): string => Math.round(n).toLocaleString('en-US');

function formatLag(ms: number | undefined): string {
  if (ms === undefined) return '–';
  if (ms < 1_000) return `${Math.round(ms)} ms`;
  if (ms < 120_000) return `${(ms / 1000).toFixed(1)} s`;
  return `${Math.round(ms / 60_000)} min`;
}

/** `1,500+ records · 12.3 s`: records read and not committed (`+`: the service holds more), seconds behind */
export function channelLagText(channel: ChannelProgress): string {
  const records = channel.lagRecords === undefined ? '–' : `${formatNumber(channel.lagRecords)}${channel.more === true ? '+' : ''}`;
  return `${records} records · ${formatLag(channel.lagMs)}`;
}

function cell(value: unknown): string {
  if (value === null || value === undefined) return 'null';
  if (typeof value === 'number') return Number.isInteger(value) ? String(value) : value.toFixed(2);
  return String(value);
}

/** The rows as a small boxed table (columns of the first row). */
export function rowTable(rows: readonly OutputRow[]): string[] {
  if (rows.length === 0) return ['  (no rows written yet)'];
  const names = Object.keys(rows[0] as OutputRow);
  const cells = rows.map((row) => names.map((name) => cell(row[name])));
  const widths = names.map((name, k) => Math.max(name.length, ...cells.map((line) => (line[k] as string).length)));
  const line = (values: readonly string[]) => `  | ${values.map((value, k) => value.padStart(widths[k] as number)).join(' | ')} |`;
  const border = `  +${widths.map((width) => '-'.repeat(width + 2)).join('+')}+`;
  return [border, line(names), border, ...cells.map(line), border];
}

const keyText = (value: OutputValue | undefined): string =>
  value === null || value === undefined ? '\u0000null' : typeof value === 'object' && !(value instanceof Uint8Array) ? `${value.start}/${value.end}` : value instanceof Uint8Array ? Buffer.from(value).toString('hex') : String(value);

function compareValues(a: OutputValue | undefined, b: OutputValue | undefined): number {
  if (a === b) return 0;
  if (a === null || a === undefined) return -1;
  if (b === null || b === undefined) return 1;
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  if (typeof a === 'bigint' && typeof b === 'bigint') return a < b ? -1 : a > b ? 1 : 0;
  const x = keyText(a);
  const y = keyText(b);
  return x < y ? -1 : x > y ? 1 : 0;
}

/** a time: a number, a window, or text that starts like `2026-12-07` */
const timeLike = (value: OutputValue | undefined): boolean =>
  typeof value === 'number' || typeof value === 'bigint' || (typeof value === 'string' && /^\d{4}-\d{2}-\d{2}/.test(value)) || (typeof value === 'object' && value !== null && !(value instanceof Uint8Array));

/**
 * The current rows of the sink as the view knows them: one per sink key, a later batch's row
 * replacing the earlier one in place; the `rows` newest by the sort column are kept, newest first.
 *
 *   batch 1   (00:00, 3) (00:30, 1)
 *   batch 2   (00:30, 4) (01:00, 2)
 *   current   (01:00, 2) (00:30, 4) (00:00, 3)
 */
export class CurrentRows {
  private readonly rows = new Map<string, OutputRow>();
  constructor(private readonly view: ProgressView = {}) {}

  /** rows a batch wrote; `key`: the sink's primary key columns (none: the whole row is its key) */
  add(rows: readonly OutputRow[], key: readonly string[] = []): void {
    for (const row of rows) {
      const id = key.length === 0 ? Object.values(row).map(keyText).join('\u0001') : key.map((column) => keyText(row[column])).join('\u0001');
      this.rows.delete(id);
      this.rows.set(id, row);
    }
    const keep = this.view.rows ?? 5;
    if (this.rows.size > keep) {
      const ordered = this.ordered(key);
      for (const [id] of ordered.slice(keep)) this.rows.delete(id);
    }
    this.key = key;
  }

  private key: readonly string[] = [];

  private ordered(key: readonly string[]): [string, OutputRow][] {
    const entries = [...this.rows.entries()];
    const first = entries[0]?.[1];
    const column = this.view.sortBy ?? key[0] ?? (first === undefined ? undefined : Object.keys(first)[0]);
    // by default the first key column orders the rows when it holds times (a window's start, as
    // text or a number); otherwise the most recently written come first
    const by = this.view.sortBy !== undefined || (column !== undefined && entries.every(([, row]) => timeLike(row[column]))) ? column : undefined;
    // newest first; among equals, the later written first
    const position = new Map(entries.map(([id], index) => [id, index]));
    return entries.sort(([ia, a], [ib, b]) => (by === undefined ? 0 : compareValues(b[by], a[by])) || (position.get(ib) as number) - (position.get(ia) as number));
  }

  /** the current rows, newest first */
  list(): OutputRow[] {
    return this.ordered(this.key).map(([, row]) => row);
  }
}

/** `price 3, note 1`: type mismatches per column, most first (at most 4 columns named). */
export function formatTypeMismatches(total: number, byColumn: Readonly<Record<string, number>>): string {
  const columns = Object.entries(byColumn).sort(([a, x], [b, y]) => y - x || (a < b ? -1 : 1));
  const named = columns.slice(0, 4).map(([column, count]) => `${column} ${formatNumber(count)}`);
  if (columns.length > 4) named.push(`${columns.length - 4} more columns`);
  return `${formatNumber(total)} wrong-type values read as null (${named.join(', ')})`;
}

/** The latest windows that lost late rows, with their counts: `12:00:45 ×3 · 12:01:30 ×1` (UTC times). */
export function lateWindowsText(windows: readonly LateWindow[], most = 4): string {
  const latest = windows.slice(-most);
  const text = latest.map((window) => `${new Date(window.start).toISOString().slice(11, 19)}–${new Date(window.end).toISOString().slice(11, 19)} ×${window.rows}`).join(' · ');
  return `${windows.length > most ? `${windows.length} windows, latest ${text}` : text} UTC`;
}

/** `41 ms (mean 38 ms over 90 batches)` */
function latencyText(m: JobProgress['metrics']): string | undefined {
  if (m.batchLatencyMs === undefined) return undefined;
  const mean = m.batchLatencies > 0 ? m.batchLatencyMsSum / m.batchLatencies : m.batchLatencyMs;
  return `${formatLag(m.batchLatencyMs)} (mean ${formatLag(mean)} over ${formatNumber(m.batchLatencies)} batches)`;
}

/** The block a terminal shows: `current` are the current rows, newest first. */
export function renderProgress(progress: JobProgress, current: readonly OutputRow[], view: ProgressView = {}): string[] {
  const m = progress.metrics;
  const lines = [
    `job ${progress.job} — ${progress.state}`,
    `  ${formatNumber(progress.recordsPerSecond)} records/s · ${formatNumber(m.recordsIn)} records · ${formatNumber(m.batchesCommitted)} batches committed · ${formatNumber(m.rowsWritten)} rows written · open windows ${m.openWindows}${m.badRows > 0 ? ` · bad rows ${m.badRows}` : ''}`,
    `  batch latency ${latencyText(m) ?? '–'}`,
  ];
  if (m.lateRows > 0) lines.push(`  late rows dropped ${formatNumber(m.lateRows)}: ${lateWindowsText(m.lateWindows)}`);
  if (m.typeMismatches > 0) lines.push(`  ${formatTypeMismatches(m.typeMismatches, m.typeMismatchesByColumn)}`);
  if (progress.status !== undefined) lines.push(`  ${progress.status}`);
  if (progress.channels.length > 0) {
    const most = view.channels ?? 8;
    const shown = progress.channels.slice(0, most);
    const width = Math.max(...shown.map((channel) => (channel.status ?? '?').length));
    const owners = shown.some((channel) => channel.worker !== undefined);
    lines.push(`  channels (${progress.channels.length}), lag = records read and not committed (+: more at the service) · seconds behind${owners ? ' · held by' : ''}:`);
    const lags = shown.map((channel) => channelLagText(channel));
    const lagWidth = owners ? Math.max(...lags.map((text) => text.length)) : 0;
    shown.forEach((channel, i) => {
      const lag = lags[i] as string;
      const holder = owners ? `  ${lag.padEnd(lagWidth)}  ${channel.worker ?? (channel.clientId === undefined || channel.clientId === '' ? '–' : `client ${channel.clientId}`)}` : `  ${lag}`;
      lines.push(`    ${channel.channelId.slice(0, 12).padEnd(12)} ${(channel.status ?? '?').padEnd(width)}${holder}`);
    });
    const rest = progress.channels.slice(most);
    if (rest.length > 0) {
      const records = rest.reduce((sum, channel) => sum + (channel.lagRecords ?? 0), 0);
      const lags = rest.map((channel) => channel.lagMs).filter((lag): lag is number => lag !== undefined);
      lines.push(`    … ${rest.length} more: ${formatNumber(records)} records · max ${formatLag(lags.length === 0 ? undefined : Math.max(...lags))}`);
    }
  }
  if (current.length > 0) lines.push(`  current rows (one per ${progress.sinkKey.length === 0 ? 'row' : progress.sinkKey.join(', ')}, newest first):`);
  lines.push(...rowTable(current));
  return lines;
}

/** One line for logs. */
export function progressLine(progress: JobProgress): string {
  const m = progress.metrics;
  const lags = progress.channels.map((channel) => channel.lagMs).filter((lag): lag is number => lag !== undefined);
  const behind = progress.channels.reduce((sum, channel) => sum + (channel.lagRecords ?? 0), 0);
  const lag = lags.length === 0 ? '' : ` · lag ${formatNumber(behind)}${progress.channels.some((channel) => channel.more === true) ? '+' : ''} records, max ${formatLag(Math.max(...lags))}`;
  const status = progress.status === undefined ? '' : ` · ${progress.status}`;
  const late = m.lateRows > 0 ? `, late rows dropped ${formatNumber(m.lateRows)} (${lateWindowsText(m.lateWindows, 2)})` : '';
  const latency = m.batchLatencyMs === undefined ? '' : `, batch latency ${formatLag(m.batchLatencyMs)}`;
  return `job ${progress.job}: ${progress.state}${status}, ${formatNumber(progress.recordsPerSecond)} records/s, ${formatNumber(m.recordsIn)} records, ${formatNumber(m.batchesCommitted)} batches, ${formatNumber(m.rowsWritten)} rows written, ${m.openWindows} open windows${late}${latency}${m.typeMismatches > 0 ? `, ${formatTypeMismatches(m.typeMismatches, m.typeMismatchesByColumn)}` : ''}${lag}`;
}

export interface ProgressPrinter {
  update(progress: JobProgress): void;
  /** final redraw; the block stays on screen */
  close(): void;
}

/**
 * Prints progress to `out`: redrawn in place on a TTY (at most every `refreshMs`), a line every
 * `lineEveryMs` otherwise.
 */
export function progressPrinter(out: NodeJS.WriteStream | { write(text: string): unknown; isTTY?: boolean }, view: ProgressView = {}, options: { refreshMs?: number; lineEveryMs?: number } = {}): ProgressPrinter {
  const tty = out.isTTY === true;
  const current = new CurrentRows(view);
  let drawn = 0;
  let last: JobProgress | undefined;
  let seen: readonly OutputRow[] | undefined;
  let lastDraw = 0;
  const refresh = options.refreshMs ?? 250;
  const every = options.lineEveryMs ?? 5_000;
  const draw = (force: boolean): void => {
    if (last === undefined) return;
    const now = Date.now();
    if (!force && now - lastDraw < (tty ? refresh : every)) return;
    lastDraw = now;
    if (!tty) {
      out.write(`${progressLine(last)}\n`);
      return;
    }
    const lines = renderProgress(last, current.list(), view);
    const clear = drawn > 0 ? `\u001b[${drawn}F\u001b[J` : '';
    out.write(`${clear}${lines.join('\n')}\n`);
    drawn = lines.length;
  };
  return {
    update(progress) {
      last = progress;
      // each batch's rows once: the snapshot repeats them until the next batch commits
      if (progress.latestRows !== seen) current.add(progress.latestRows, progress.sinkKey);
      seen = progress.latestRows;
      draw(false);
    },
    close() {
      draw(true);
    },
  };
}
