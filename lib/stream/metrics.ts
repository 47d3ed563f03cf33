/**
 * Counters of one pipeline run. Operators add per batch, never per row, so the hot loops stay
 * free of bookkeeping. `changes` emits a snapshot after every committed batch for a CLI to show.
 */
import { Subject, type Observable } from 'rxjs';

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
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

export class StreamMetrics {
  private readonly counters: Mutable<MetricsSnapshot> = {
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
  };
  private readonly subject = new Subject<MetricsSnapshot>();

  /** a snapshot after every committed batch */
  readonly changes: Observable<MetricsSnapshot> = this.subject.asObservable();

  add(counter: Exclude<keyof MetricsSnapshot, 'restoredFrom' | 'typeMismatchesByColumn'>, amount: number): void {
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

  restored(from: 'fresh' | number): void {
    this.counters.restoredFrom = from;
  }

  snapshot(): MetricsSnapshot {
    return { ...this.counters };
  }

  /** called by `commitAfter` once a batch is durable */
  committed(): void {
    this.counters.batchesCommitted += 1;
    this.subject.next(this.snapshot());
  }
}
