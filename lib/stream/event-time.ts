/**
 * Event time of the rows of a batch, in milliseconds since the epoch, as one array of numbers
 * (NaN: the row has no event time). A column name reads a decoded column (a number, or a bigint
 * when longs are kept exact); a function computes the vector itself, e.g. for an expression.
 */
import type { RowTable } from './table.js';

export type EventTime = string | ((table: RowTable) => readonly number[]);

export function eventTimes(table: RowTable, eventTime: EventTime): readonly number[] {
  if (typeof eventTime === 'function') {
    const times = eventTime(table);
    if (times.length !== table.length) throw new RangeError(`event time function returned ${times.length} values for ${table.length} rows`);
    return times;
  }
  const column = table.columns.get(eventTime);
  if (column === undefined) {
    if (table.length === 0) return [];
    throw new Error(`event time column '${eventTime}' is not among the batch's columns (${[...table.columns.keys()].join(', ')})`);
  }
  if (column.kind === 'number') {
    const valid = column.valid;
    if (valid === undefined) return column.values;
    const times = column.values.slice();
    for (let i = 0; i < times.length; i++) if (valid[i] === 0) times[i] = Number.NaN;
    return times;
  }
  const times = new Array<number>(table.length);
  for (let i = 0; i < times.length; i++) {
    const value = column.values[i];
    if (typeof value === 'number') times[i] = value;
    else if (typeof value === 'bigint') times[i] = Number(value);
    else if (value === null || value === undefined) times[i] = Number.NaN;
    else throw new TypeError(`event time column '${eventTime}' holds a ${typeof value}, not a number of milliseconds`);
  }
  return times;
}
