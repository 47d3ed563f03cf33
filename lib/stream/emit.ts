/**
 * `emit(mode)`: which result rows of `aggregate` a batch outputs, with Spark Structured
 * Streaming's output modes:
 * - 'update': the groups this batch changed (with their full current values), every batch;
 * - 'append': each window once, in the batch whose watermark closes it; needs a window and a
 *   watermark (Spark rejects append mode for aggregations without them);
 * - 'complete': every group every batch, including windows the watermark has closed (kept here,
 *   since the aggregate drops their state): output and state grow with the number of windows.
 */
import { defer, map, type OperatorFunction } from 'rxjs';
import { restoredState, withState, type OutputBatch, type TableBatch } from './batch.js';
import { encodeState } from './checkpoint/state-codec.js';
import type { OutputRow } from './table.js';

export type OutputMode = 'update' | 'append' | 'complete';

export interface EmitOptions {
  /** state key of complete mode's closed windows (default 'complete') */
  readonly stateKey?: string;
}

export function emit(mode: OutputMode, options: EmitOptions = {}): OperatorFunction<TableBatch, OutputBatch> {
  if (mode !== 'update' && mode !== 'append' && mode !== 'complete') throw new RangeError(`emit: unknown output mode '${String(mode)}' (update, append or complete)`);
  const stateKey = options.stateKey ?? 'complete';
  return (source) =>
    defer(() => {
      let closedRows: OutputRow[] = [];
      let restored = false;
      return source.pipe(
        map((batch): OutputBatch => {
          const view = batch.aggregation;
          if (view === undefined) throw new Error(`emit('${mode}'): the batch has no aggregation; put aggregate() before emit()`);
          const done: OutputBatch = { ...batch, rows: [], windows: undefined, aggregation: undefined };
          switch (mode) {
            case 'update':
              return { ...done, rows: view.updatedRows() };
            case 'append':
              if (!view.closes) {
                throw new Error("emit('append') needs an event-time window and a watermark: without them no window ever closes (Spark rejects append mode here too)");
              }
              return { ...done, rows: view.closedRows() };
            case 'complete': {
              if (!restored) {
                restored = true;
                const saved = restoredState(batch, stateKey) as OutputRow[] | undefined;
                if (saved !== undefined) closedRows = saved;
              }
              const closedNow = view.closedRows();
              if (closedNow.length > 0) closedRows = [...closedRows, ...closedNow];
              const result: OutputBatch = { ...done, rows: [...closedRows, ...view.openRows()] };
              return batch.context.checkpoint === undefined ? result : withState(result, stateKey, encodeState(closedRows));
            }
          }
        }),
      );
    });
}
