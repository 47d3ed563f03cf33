/**
 * Counters of one pipeline run. Operators add per batch, never per row, so the hot loops stay
 * free of bookkeeping. `changes` emits a snapshot after every committed batch for a CLI to show.
 */
import { Subject, type Observable } from 'rxjs';

/** Late rows dropped from one window (session windows: the late row's own would-be session). */
export interface LateWindow {
  readonly start: number;
  readonly end: number;
  readonly rows: number;
}

/** At most this many windows keep their late-row counts (the latest by start). */
const LATE_WINDOWS_KEPT = 1_000;
/** Per-batch late counts wait this many batches for a reader (a log line), then go. */
const LATE_BATCHES_KEPT = 64;

export interface MetricsSnapshot {
  /** micro-batches formed by `microBatch` */
  readonly batches: number;
  /** micro-batches whose output and state are durable */
  readonly batchesCommitted: number;
  /** batches recomputed from a plan recorded before a restart */
  readonly batchesReplayed: number;
  readonly recordsIn: number;
  readonly rowsDecoded: number;
  /** records that did not match the catalog */
  readonly badRows: number;
  /** bad rows dropped under the 'skip' policy */
  readonly badRowsSkipped: number;
  /** attribute values of the wrong type that became null (decodeRows' typeMismatches: 'null', EMR's rule) */
  readonly typeMismatches: number;
  /** the same per catalog column; columns without any are absent */
  readonly typeMismatchesByColumn: Readonly<Record<string, number>>;
  readonly updateRecords: number;
  readonly deleteRecords: number;
  /** UPDATE_ROW / DELETE_ROW records dropped by their policy */
  readonly changeRecordsSkipped: number;
  /** rows a filterRows predicate dropped (WHERE) */
  readonly rowsFiltered: number;
  /** rows without event time, which no window takes (as Spark's window() filters nulls) */
  readonly rowsWithoutEventTime: number;
  /** (row, window) pairs behind the watermark */
  readonly lateRows: number;
  readonly deadLetters: number;
  /** gauge: windows holding state */
  readonly openWindows: number;
  /** gauge: groups holding state */
  readonly openGroups: number;
  /** gauge: the watermark after the last batch (-Infinity before any event time) */
  readonly watermark: number;
  readonly rowsWritten: number;
  readonly sinkRetries: number;
  readonly ackFailures: number;
  /** channels that resumed elsewhere than their last batch ended (followed under positionJumps: 'follow') */
  readonly positionJumps: number;
  /** how the run started: 'fresh' (no checkpoint), or the batch id it resumed after */
  readonly restoredFrom: 'fresh' | number | undefined;
  /** late rows dropped per window, by window start (the latest 1,000 windows with any) */
  readonly lateWindows: readonly LateWindow[];
  /** the last committed batch: ms from its forming to its commit (undefined before the first) */
  readonly batchLatencyMs: number | undefined;
  /** the sum over every committed batch whose latency was noted (the mean is this / batchLatencies) */
  readonly batchLatencyMsSum: number;
  readonly batchLatencies: number;
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };
type Counter = Exclude<keyof MetricsSnapshot, 'restoredFrom' | 'lateWindows' | 'typeMismatchesByColumn' | 'batchLatencyMs'>;

export class StreamMetrics {
  private readonly lateByWindow = new Map<string, { start: number; end: number; rows: number }>();
  private readonly lateByBatch = new Map<number, readonly LateWindow[]>();
  private readonly counters: Mutable<Omit<MetricsSnapshot, 'lateWindows'>> = {
    batches: 0,
    batchesCommitted: 0,
    batchesReplayed: 0,
    recordsIn: 0,
    rowsDecoded: 0,
    badRows: 0,
    badRowsSkipped: 0,
    typeMismatches: 0,
    typeMismatchesByColumn: {},
    updateRecords: 0,
    deleteRecords: 0,
    changeRecordsSkipped: 0,
    rowsFiltered: 0,
    rowsWithoutEventTime: 0,
    lateRows: 0,
    deadLetters: 0,
    openWindows: 0,
    openGroups: 0,
    watermark: Number.NEGATIVE_INFINITY,
    rowsWritten: 0,
    sinkRetries: 0,
    ackFailures: 0,
    positionJumps: 0,
    restoredFrom: undefined,
    batchLatencyMs: undefined,
    batchLatencyMsSum: 0,
    batchLatencies: 0,
  };
  private readonly subject = new Subject<MetricsSnapshot>();

  /** a snapshot after every committed batch */
  readonly changes: Observable<MetricsSnapshot> = this.subject.asObservable();

  add(counter: Counter, amount: number): void {
    if (amount !== 0) this.counters[counter] += amount;
  }

  /** per batch: the type mismatches of each column (adds to `typeMismatches` too) */
  addTypeMismatches(byColumn: Readonly<Record<string, number>>): void {
    const totals = { ...this.counters.typeMismatchesByColumn };
    for (const [column, count] of Object.entries(byColumn)) {
      totals[column] = (totals[column] ?? 0) + count;
      this.counters.typeMismatches += count;
    }
    this.counters.typeMismatchesByColumn = totals;
  }

  set(gauge: 'openWindows' | 'openGroups' | 'watermark', value: number): void {
    this.counters[gauge] = value;
  }

  /** a committed batch took `ms` from its forming to its commit */
  noteBatchLatency(ms: number): void {
    this.counters.batchLatencyMs = ms;
    this.counters.batchLatencyMsSum += ms;
    this.counters.batchLatencies += 1;
  }

  restored(from: 'fresh' | number): void {
    this.counters.restoredFrom = from;
  }

  /** Late rows a window operator dropped from batch `batchId`, per window. */
  noteLate(batchId: number, windows: readonly LateWindow[]): void {
    for (const window of windows) {
      const key = `${window.start}:${window.end}`;
      const entry = this.lateByWindow.get(key);
      if (entry !== undefined) entry.rows += window.rows;
      else this.lateByWindow.set(key, { ...window });
    }
    if (this.lateByWindow.size > LATE_WINDOWS_KEPT) {
      const oldest = [...this.lateByWindow].sort((a, b) => a[1].start - b[1].start).slice(0, this.lateByWindow.size - LATE_WINDOWS_KEPT);
      for (const [key] of oldest) this.lateByWindow.delete(key);
    }
    this.lateByBatch.set(batchId, [...(this.lateByBatch.get(batchId) ?? []), ...windows]);
    for (const id of this.lateByBatch.keys()) if (id < batchId - LATE_BATCHES_KEPT) this.lateByBatch.delete(id);
  }

  /** The late rows of batch `batchId` per window (each batch's once; empty when it dropped none). */
  takeLate(batchId: number): readonly LateWindow[] {
    const windows = this.lateByBatch.get(batchId) ?? [];
    this.lateByBatch.delete(batchId);
    return windows;
  }

  snapshot(): MetricsSnapshot {
    const lateWindows = this.lateByWindow.size === 0 ? [] : [...this.lateByWindow.values()].map((window) => ({ ...window })).sort((a, b) => a.start - b.start);
    return { ...this.counters, lateWindows };
  }

  /** called by `commitAfter` once a batch is durable */
  committed(): void {
    this.counters.batchesCommitted += 1;
    this.subject.next(this.snapshot());
  }
}
