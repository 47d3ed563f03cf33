/**
 * The shared part of the window operators: event times → (row, window) pairs, dropping rows
 * without event time (as Spark's window() filters nulls) and late pairs: those whose window ends
 * at or before the row's lateness limit (`watermark.limits[i]`: its channel's watermark before it,
 * never below the job watermark in force; without limits, the job watermark). Late pairs are
 * counted per window and dropped or sent to the dead-letter sink.
 */
import { map, type MonoTypeOperatorFunction } from 'rxjs';
import type { DeadLetter, TableBatch, WindowSpec } from '../batch.js';
import { eventTimes, type EventTime } from '../event-time.js';
import { rowAt } from '../table.js';

export interface WindowOptions {
  readonly eventTime: EventTime;
  /** what happens to rows behind the watermark: dropped (default) or handed to the dead-letter sink */
  readonly late?: 'drop' | 'dead-letter';
}

export function assignWindows(spec: WindowSpec, options: WindowOptions): MonoTypeOperatorFunction<TableBatch> {
  const operator = spec.kind;
  return map((batch) => {
    if (batch.windows !== undefined) throw new Error(`${operator}(): the batch already has ${batch.windows.spec.kind} windows; use one window operator per aggregation`);
    const table = batch.rows;
    const times = eventTimes(table, options.eventTime);
    const watermark = batch.watermark?.current ?? Number.NEGATIVE_INFINITY;
    const limits = batch.watermark?.limits;
    const n = table.length;
    const perRow = spec.kind === 'hopping' ? Math.ceil(spec.size / spec.slide) : 1;
    const rowIndex = new Array<number>(n * perRow);
    const starts = new Array<number>(n * perRow);
    let pairs = 0;
    let withoutTime = 0;
    let late = 0;
    let lateRows: number[] | undefined;
    let lateStarts: number[] | undefined;
    let lateWindows: Map<number, number> | undefined;
    const noteLate = (i: number, start: number): void => {
      late++;
      lateWindows ??= new Map();
      lateWindows.set(start, (lateWindows.get(start) ?? 0) + 1);
      if (options.late === 'dead-letter') {
        (lateRows ??= []).push(i);
        (lateStarts ??= []).push(start);
      }
    };
    switch (spec.kind) {
      case 'tumbling': {
        const { size, offset } = spec;
        // rows mostly arrive in time order: reuse the previous row's window while it fits
        let start = Number.NaN;
        let end = Number.NaN;
        let late = false;
        for (let i = 0; i < n; i++) {
          const t = times[i] as number;
          if (!(t >= start && t < end)) {
            if (t !== t) {
              withoutTime++;
              continue;
            }
            start = Math.floor((t - offset) / size) * size + offset;
            end = start + size;
            late = end <= watermark;
          }
          if (limits === undefined ? late : end <= (limits[i] as number)) {
            noteLate(i, start);
            continue;
          }
          rowIndex[pairs] = i;
          starts[pairs++] = start;
        }
        break;
      }
      case 'hopping': {
        const { size, slide, offset } = spec;
        for (let i = 0; i < n; i++) {
          const t = times[i] as number;
          if (t !== t) {
            withoutTime++;
            continue;
          }
          const last = Math.floor((t - offset) / slide) * slide + offset;
          for (let k = perRow - 1; k >= 0; k--) {
            const start = last - k * slide;
            if (start + size <= t) continue;
            if (start + size <= (limits === undefined ? watermark : (limits[i] as number))) {
              noteLate(i, start);
              continue;
            }
            rowIndex[pairs] = i;
            starts[pairs++] = start;
          }
        }
        break;
      }
      case 'session': {
        const { gap } = spec;
        for (let i = 0; i < n; i++) {
          const t = times[i] as number;
          if (t !== t) {
            withoutTime++;
            continue;
          }
          if (t + gap <= (limits === undefined ? watermark : (limits[i] as number))) {
            noteLate(i, t);
            continue;
          }
          rowIndex[pairs] = i;
          starts[pairs++] = t;
        }
        break;
      }
    }
    rowIndex.length = pairs;
    starts.length = pairs;
    const metrics = batch.context.metrics;
    metrics.add('rowsWithoutEventTime', withoutTime);
    metrics.add('lateRows', late);
    if (lateWindows !== undefined) {
      const length = spec.kind === 'session' ? spec.gap : spec.size;
      metrics.noteLate(
        batch.id,
        [...lateWindows].map(([start, rows]) => ({ start, end: start + length, rows })),
      );
    }
    let deadLetters = batch.deadLetters;
    if (lateRows !== undefined && lateStarts !== undefined) {
      const letters: DeadLetter[] = lateRows.map((i, j) => {
        const start = lateStarts?.[j] as number;
        const end = spec.kind === 'session' ? start + spec.gap : start + spec.size;
        return { kind: 'late-row', batchId: batch.id, row: rowAt(table, i), eventTime: times[i] as number, window: { start, end }, watermark: limits === undefined ? watermark : (limits[i] as number) };
      });
      deadLetters = [...deadLetters, ...letters];
    }
    return { ...batch, windows: { spec, length: pairs, row: rowIndex, start: starts }, deadLetters };
  });
}
