/**
 * Live progress of a running stream job. On a terminal: a block redrawn in place — records/s,
 * batches, per-channel lag, open windows and a small table of the latest window rows. Elsewhere
 * (CI logs, pipes): one plain line every few seconds, so logs stay readable.
 */
import type { JobProgress } from '../sql/session.js';
import type { LateWindow } from '../stream/metrics.js';
import type { OutputRow } from '../stream/table.js';

export interface ProgressView {
  /** latest rows are shown sorted by this column, newest last (e.g. 'begin') */
  readonly sortBy?: string;
  /** at most this many rows in the live table */
  readonly rows?: number;
}

const formatNumber = (n: number): string => Math.round(n).toLocaleString('en-US');

function formatLag(ms: number | undefined): string {
  if (ms === undefined) return '–';
  if (ms < 1_000) return `${Math.round(ms)} ms`;
  if (ms < 120_000) return `${(ms / 1000).toFixed(1)} s`;
  return `${Math.round(ms / 60_000)} min`;
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

/** The latest rows the view keeps: merged by the sort column across batches, newest last. */
export class LatestRows {
  private readonly rows = new Map<string, OutputRow>();
  constructor(private readonly view: ProgressView) {}
  add(rows: readonly OutputRow[]): void {
    for (const row of rows) {
      // by default the first column orders the rows (the window start, in the seed job)
      const key = this.view.sortBy ?? Object.keys(row)[0];
      this.rows.set(key === undefined ? JSON.stringify(row) : `${String(row[key])}\u0000${JSON.stringify(row, (_k, v: unknown) => (typeof v === 'bigint' ? String(v) : v))}`, row);
    }
    const keep = this.view.rows ?? 5;
    const sorted = [...this.rows.keys()].sort();
    for (const stale of sorted.slice(0, Math.max(0, sorted.length - keep))) this.rows.delete(stale);
  }
  list(): OutputRow[] {
    return [...this.rows.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, row]) => row);
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

/** The block a terminal shows. */
export function renderProgress(progress: JobProgress, latest: readonly OutputRow[]): string[] {
  const m = progress.metrics;
  const lines = [
    `job ${progress.job} — ${progress.state}`,
    `  ${formatNumber(progress.recordsPerSecond)} records/s · ${formatNumber(m.recordsIn)} records · ${formatNumber(m.batchesCommitted)} batches committed · ${formatNumber(m.rowsWritten)} rows written · open windows ${m.openWindows}${m.badRows > 0 ? ` · bad rows ${m.badRows}` : ''}`,
  ];
  if (m.typeMismatches > 0) lines.push(`  ${formatTypeMismatches(m.typeMismatches, m.typeMismatchesByColumn)}`);
  if (m.lateRows > 0) lines.push(`  late rows dropped ${formatNumber(m.lateRows)}: ${lateWindowsText(m.lateWindows)}`);
  if (progress.status !== undefined) lines.push(`  ${progress.status}`);
  if (progress.channels.length > 0) {
    lines.push(`  channels: ${progress.channels.map((channel) => `${channel.channelId.slice(0, 8)} ${channel.status ?? '?'} lag ${formatLag(channel.lagMs)}`).join(' · ')}`);
  }
  lines.push(...rowTable(latest));
  return lines;
}

/** One line for logs. */
export function progressLine(progress: JobProgress): string {
  const m = progress.metrics;
  const lags = progress.channels.map((channel) => channel.lagMs).filter((lag): lag is number => lag !== undefined);
  const lag = lags.length === 0 ? '' : ` · max lag ${formatLag(Math.max(...lags))}`;
  const status = progress.status === undefined ? '' : ` · ${progress.status}`;
  const late = m.lateRows > 0 ? `, late rows dropped ${formatNumber(m.lateRows)} (${lateWindowsText(m.lateWindows, 2)})` : '';
  return `job ${progress.job}: ${progress.state}${status}, ${formatNumber(progress.recordsPerSecond)} records/s, ${formatNumber(m.recordsIn)} records, ${formatNumber(m.batchesCommitted)} batches, ${formatNumber(m.rowsWritten)} rows written, ${m.openWindows} open windows${late}${m.typeMismatches > 0 ? `, ${formatTypeMismatches(m.typeMismatches, m.typeMismatchesByColumn)}` : ''}${lag}`;
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
  const latest = new LatestRows(view);
  let drawn = 0;
  let last: JobProgress | undefined;
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
    const lines = renderProgress(last, latest.list());
    const clear = drawn > 0 ? `\u001b[${drawn}F\u001b[J` : '';
    out.write(`${clear}${lines.join('\n')}\n`);
    drawn = lines.length;
  };
  return {
    update(progress) {
      last = progress;
      latest.add(progress.latestRows);
      draw(false);
    },
    close() {
      draw(true);
    },
  };
}
