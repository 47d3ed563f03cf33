/**
 * What flows between the operators: one micro-batch per emission. Per-record data sits in
 * `rows` (an array of records, a columnar {@link RowTable}, or output rows); everything else rides
 * along so the last operator can write, persist and acknowledge exactly what this batch covered.
 */
import type { Observable } from 'rxjs';
import type { ChangeRecord } from '../wire/types.js';
import type { StreamMetrics } from './metrics.js';
import type { Position } from './source.js';
import type { OutputRow, RowTable, Value } from './table.js';

/** A point inside a channel: a source batch's position plus how many of its records precede it. */
export interface Cursor {
  readonly position: Position;
  readonly skip: number;
}

/** Per channel: where a micro-batch starts, how many records it takes, where it ends. */
export interface ChannelOffsets {
  readonly start: Cursor;
  readonly count: number;
  readonly end: Cursor;
}

/** Acknowledges one source batch upstream. */
export type Acknowledge = () => void | PromiseLike<unknown>;

export interface WatermarkInfo {
  /** the job watermark in force for this batch: windows ending at or before it are closed */
  readonly current: number;
  /** the job watermark after this batch, which closes windows at the end of the batch */
  readonly next: number;
  /**
   * Per row, the lateness limit: a row whose window ends at or before it is late. It is the row's
   * own channel watermark just before the row (that channel's greatest earlier event time − delay),
   * never below `current`. Absent: every row's limit is `current`.
   */
  readonly limits?: readonly number[];
}

/**
 * Which channel each row of a batch came from, without a per-row column: rows are grouped by
 * channel (in channel id order, each channel's rows in its own order), so row `i` belongs to
 * `ids[k]` for the first `k` with `i < ends[k]`.
 */
export interface RowChannels {
  readonly ids: readonly string[];
  readonly ends: readonly number[];
}

/** The channel ranges after dropping the rows at `dropped` (ascending row indexes). */
export function dropFromRowChannels(channels: RowChannels, dropped: readonly number[]): RowChannels {
  if (dropped.length === 0) return channels;
  const ends = channels.ends.slice();
  let k = 0;
  let removed = 0;
  for (const index of dropped) {
    for (; k < ends.length && index >= (channels.ends[k] as number); k++) ends[k] = (channels.ends[k] as number) - removed;
    removed++;
  }
  for (; k < ends.length; k++) ends[k] = (channels.ends[k] as number) - removed;
  return { ids: channels.ids, ends };
}

/** The channel ranges after keeping only the rows at `kept` (ascending row indexes). */
export function keepInRowChannels(channels: RowChannels, kept: readonly number[]): RowChannels {
  const ends = new Array<number>(channels.ends.length);
  let j = 0;
  for (let k = 0; k < ends.length; k++) {
    const end = channels.ends[k] as number;
    while (j < kept.length && (kept[j] as number) < end) j++;
    ends[k] = j;
  }
  return { ids: channels.ids, ends };
}

export interface TumblingSpec {
  readonly kind: 'tumbling';
  readonly size: number;
  readonly offset: number;
}
export interface HoppingSpec {
  readonly kind: 'hopping';
  readonly size: number;
  readonly slide: number;
  readonly offset: number;
}
export interface SessionSpec {
  readonly kind: 'session';
  readonly gap: number;
}
export type WindowSpec = TumblingSpec | HoppingSpec | SessionSpec;

/**
 * The (row, window) pairs of a batch, columnar: pair `j` puts row `row[j]` into the window starting
 * at `start[j]` (sessions: `start[j]` is the row's event time; the aggregate merges sessions). Rows
 * without event time and late pairs are already left out.
 */
export interface WindowAssignment {
  readonly spec: WindowSpec;
  readonly length: number;
  readonly row: readonly number[];
  readonly start: readonly number[];
}

export interface WindowBounds {
  readonly start: number;
  readonly end: number;
}

/** A cell-level problem found while decoding a record against the catalog. */
export interface RowProblem {
  readonly column: string;
  readonly problem: 'missing' | 'wrong-type' | 'out-of-range';
  readonly expected: string;
  /** a short description of what was found */
  readonly actual: string;
}

export type DeadLetter =
  | {
      readonly kind: 'bad-row';
      readonly batchId: number;
      readonly table: string;
      /** `UserId="u1", OrderId="o7"` */
      readonly primaryKey: string;
      readonly record: ChangeRecord;
      readonly problems: readonly RowProblem[];
      readonly message: string;
    }
  | {
      readonly kind: 'late-row';
      readonly batchId: number;
      readonly row: Readonly<Record<string, Value>>;
      readonly eventTime: number;
      readonly window: WindowBounds;
      readonly watermark: number;
    };

/** The run-wide context every batch of one pipeline shares. */
export interface RunContext {
  readonly metrics: StreamMetrics;
  /** present when `microBatch` was given a checkpoint */
  readonly checkpoint: CheckpointHandle | undefined;
}

/** How `commitAfter` reaches the checkpoint opened by `microBatch`. */
export interface CheckpointHandle {
  /** where state lives, for messages */
  readonly location: string;
  /** operator state of the last commit, decoded, by state key */
  readonly restoredState: Readonly<Record<string, unknown>>;
  /**
   * the store keeps each aggregate group's accumulators itself (the job state table's partial rows,
   * written every batch for the groups it changed): `aggregate` saves only the rest of its state
   */
  readonly groupsInPartials?: boolean;
  /** persists the batch's offsets and state atomically, then lets `microBatch` plan the next batch */
  commit(batch: MicroBatch<unknown>): Observable<void>;
}

export interface AggregationView {
  /** result rows of the groups this batch changed (update mode) */
  updatedRows(): readonly OutputRow[];
  /** result rows of the groups the watermark closed at the end of this batch (append mode) */
  closedRows(): readonly OutputRow[];
  /** result rows of every group still open after this batch */
  openRows(): readonly OutputRow[];
  /**
   * The same three results as columns, built from the groups directly (no row objects): the
   * window bounds as a value column of {@link WindowBounds} under the window column, keys and
   * aggregates as columns (numbers in NumberColumns).
   */
  updatedTable(): RowTable;
  closedTable(): RowTable;
  openTable(): RowTable;
  /** whether groups can ever close (a window and a watermark are present) */
  readonly closes: boolean;
  /** the state key of the aggregate, to name its snapshot */
  readonly stateKey: string;
  /**
   * The accumulators of the groups this batch changed (update mode's groups), as plain values:
   * what a job spread over workers stores per (group, channel) and merges (see merge-partials.ts).
   */
  updatedPartials?(): readonly PartialGroup[];
  /** result rows of groups whose partials (any number each, e.g. one per channel) are merged */
  mergedRows?(groups: readonly (readonly PartialGroup[])[]): OutputRow[];
}

/** One group's accumulators, JSON-safe once passed through the state codec. */
export interface PartialGroup {
  readonly start: number;
  readonly end: number;
  readonly keys: readonly Value[];
  readonly num: readonly number[];
  readonly obj: readonly unknown[];
}

export interface MicroBatch<T> {
  /** grows by one per batch; after a restart the replayed batch keeps its planned id */
  readonly id: number;
  readonly rows: T;
  readonly offsets: Readonly<Record<string, ChannelOffsets>>;
  /** acknowledgements of the source batches whose last records are in this batch */
  readonly acks: readonly Acknowledge[];
  /** the batch re-runs a plan recorded before a restart */
  readonly replay: boolean;
  /** the watermark recorded in the batch's plan; it overrides the computed one */
  readonly plannedWatermark: number | undefined;
  /** which channel each row came from (set by `microBatch`; kept by operators that drop rows) */
  readonly rowChannels?: RowChannels;
  /**
   * The channels that hold the job watermark back after this batch: known to the source and not
   * caught up (they may still deliver records). Set by `microBatch` when it forms (or replays) the
   * batch; absent on batches from elsewhere, which keep the single-watermark rule.
   */
  readonly holdingChannels?: readonly string[];
  readonly context: RunContext;
  readonly watermark?: WatermarkInfo;
  readonly windows?: WindowAssignment;
  readonly aggregation?: AggregationView;
  readonly deadLetters: readonly DeadLetter[];
  /** operator snapshots taken for the commit (encoded, JSON-safe), by state key */
  readonly state: Readonly<Record<string, unknown>>;
}

export type RecordBatch<R = ChangeRecord> = MicroBatch<readonly R[]>;
export type TableBatch = MicroBatch<RowTable>;
export type OutputBatch<O = OutputRow> = MicroBatch<readonly O[]>;

/** Adds an operator's snapshot to the batch; two operators may not share a state key. */
export function withState<T>(batch: MicroBatch<T>, stateKey: string, snapshot: unknown): MicroBatch<T> {
  if (Object.prototype.hasOwnProperty.call(batch.state, stateKey)) {
    throw new Error(`two stateful operators use the state key '${stateKey}'; give one of them a distinct stateKey`);
  }
  return { ...batch, state: { ...batch.state, [stateKey]: snapshot } };
}

/** The state an operator saved under `stateKey` in the last commit, if any. */
export function restoredState(batch: MicroBatch<unknown>, stateKey: string): unknown {
  const restored = batch.context.checkpoint?.restoredState;
  return restored !== undefined && Object.prototype.hasOwnProperty.call(restored, stateKey) ? restored[stateKey] : undefined;
}
