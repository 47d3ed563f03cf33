/**
 * `emit(mode)`: which result rows of `aggregate` a batch outputs, with Spark Structured
 * Streaming's output modes:
 * - 'update': the groups this batch changed (with their full current values), every batch;
 * - 'append': each window once, in the batch whose watermark closes it; needs a window and a
 *   watermark (Spark rejects append mode for aggregations without them);
 * - 'complete': every group every batch, including windows the watermark has closed (kept here,
 *   since the aggregate drops their state): output and state grow with the number of windows.
 *
 * `emitTable(mode)` is the same choice with the result kept as columns (a {@link RowTable} built
 * from the groups), for a projection that stays columnar up to a sink writer that reads columns
 * (`projectTable`, `commitAfter`): the SQL planner uses it.
 *
 *   a: groups {w1: 3, w2: 1} changed w2    emit('update')        a': [{ window: w2, n: 1 }]
 *   a: groups {w1: 3, w2: 1} changed w2    emitTable('update')   a': { window: [w2], n: [1] }
 */
import { defer, map, type OperatorFunction } from 'rxjs';
import { restoredState, withState, type AggregationView, type MicroBatch, type OutputBatch, type TableBatch } from './batch.js';
import { encodeState } from './checkpoint/state-codec.js';
import { concatTables, tableFromRows, tableRows, type OutputRow, type RowTable, type Value } from './table.js';

export type OutputMode = 'update' | 'append' | 'complete';

export interface EmitOptions {
  /** state key of complete mode's closed windows (default 'complete') */
  readonly stateKey?: string;
}

/** How one representation (rows or a table) is read from the view and kept across batches. */
interface Shape<T> {
  readonly updated: (view: AggregationView) => T;
  readonly closed: (view: AggregationView) => T;
  readonly open: (view: AggregationView) => T;
  readonly empty: T;
  readonly length: (value: T) => number;
  readonly concat: (values: readonly T[]) => T;
  /** complete mode's closed windows as saved in the checkpoint (rows, the same for both shapes) */
  readonly save: (value: T) => readonly OutputRow[];
  readonly restore: (saved: readonly OutputRow[]) => T;
}

const rowsShape: Shape<readonly OutputRow[]> = {
  updated: (view) => view.updatedRows(),
  closed: (view) => view.closedRows(),
  open: (view) => view.openRows(),
  empty: [],
  length: (rows) => rows.length,
  concat: (parts) => parts.flat(),
  save: (rows) => rows,
  restore: (saved) => saved,
};

const tableShape: Shape<RowTable> = {
  updated: (view) => view.updatedTable(),
  closed: (view) => view.closedTable(),
  open: (view) => view.openTable(),
  empty: { length: 0, columns: new Map() },
  length: (table) => table.length,
  concat: concatTables,
  save: (table) => tableRows(table) as OutputRow[],
  restore: (saved) => tableFromRows(saved as readonly Readonly<Record<string, Value>>[]),
};

function emitAs<T>(name: string, shape: Shape<T>, mode: OutputMode, options: EmitOptions): OperatorFunction<TableBatch, MicroBatch<T>> {
  if (mode !== 'update' && mode !== 'append' && mode !== 'complete') throw new RangeError(`${name}: unknown output mode '${String(mode)}' (update, append or complete)`);
  const stateKey = options.stateKey ?? 'complete';
  return (source) =>
    defer(() => {
      let closed: T = shape.empty;
      let restored = false;
      return source.pipe(
        map((batch): MicroBatch<T> => {
          const view = batch.aggregation;
          if (view === undefined) throw new Error(`${name}('${mode}'): the batch has no aggregation; put aggregate() before ${name}()`);
          const done = (rows: T): MicroBatch<T> => ({ ...batch, rows, windows: undefined, aggregation: undefined });
          switch (mode) {
            case 'update':
              return done(shape.updated(view));
            case 'append':
              if (!view.closes) {
                throw new Error(`${name}('append') needs an event-time window and a watermark: without them no window ever closes (Spark rejects append mode here too)`);
              }
              return done(shape.closed(view));
            case 'complete': {
              if (!restored) {
                restored = true;
                const saved = restoredState(batch, stateKey) as OutputRow[] | undefined;
                if (saved !== undefined) closed = shape.restore(saved);
              }
              const closedNow = shape.closed(view);
              if (shape.length(closedNow) > 0) closed = shape.concat([closed, closedNow]);
              const result = done(shape.concat([closed, shape.open(view)]));
              return batch.context.checkpoint === undefined ? result : withState(result, stateKey, encodeState(shape.save(closed)));
            }
          }
        }),
      );
    });
}

export function emit(mode: OutputMode, options: EmitOptions = {}): OperatorFunction<TableBatch, OutputBatch> {
  return emitAs('emit', rowsShape, mode, options);
}

export function emitTable(mode: OutputMode, options: EmitOptions = {}): OperatorFunction<TableBatch, TableBatch> {
  return emitAs('emitTable', tableShape, mode, options);
}
