/**
 * `aggregate(keys, aggregates)`: a scan over batches. State is the set of open groups: per window
 * start a slot holding that window's groups (keyed by the other key columns), or per key the
 * sorted sessions of a session window. A batch's pairs are first resolved to their groups (one
 * map lookup per window change and per key), then each aggregate adds all pairs in one loop.
 *
 * At the end of a batch, windows whose end is at or before the watermark after the batch are
 * closed: removed from the state (so memory is bounded by open windows, not by records) and
 * reported to `emit` as closed. Without a window or a watermark nothing closes.
 *
 * Keys combine the window (the `WINDOW` marker, given as a key like Spark's `GROUP BY window(…)`)
 * and columns. Output rows hold the window bounds under `windowColumn` (default 'window'), the key
 * columns, then the aggregates under their names. The state is saved with each commit (only its
 * sequence when the store keeps the groups as partial rows: `groupsInPartials`).
 */
import { defer, map, type OperatorFunction } from 'rxjs';
import { restoredState, withState, type AggregationView, type PartialGroup, type TableBatch, type WindowSpec } from './batch.js';
import { encodeState } from './checkpoint/state-codec.js';
import { kernelOf, type Accumulators, type AggregateSpec, type Kernel, type PairInput } from './aggregates.js';
import { columnOf, valueAt, type Column, type OutputRow, type OutputValue, type RowTable, type Value } from './table.js';

export interface WindowKey {
  readonly kind: 'window';
}
/** The window of the batch's window operator, as a group key. */
export const WINDOW: WindowKey = Object.freeze({ kind: 'window' });

export type GroupKey = string | WindowKey;

export interface AggregateOptions {
  readonly stateKey?: string;
  /** name of the output column holding `{ start, end }` (default 'window') */
  readonly windowColumn?: string;
}

interface Group extends Accumulators {
  /** window start (NaN without a window); a session's bounds move as it grows */
  start: number;
  end: number;
  readonly keys: readonly Value[];
  /** id of the last batch that changed the group */
  touched: number;
  /** a session merged into another */
  mergedInto: Group | undefined;
}

interface WindowSlot {
  readonly start: number;
  readonly end: number;
  readonly groups: Map<unknown, Group>;
}

interface SavedGroup {
  readonly start: number;
  readonly end: number;
  readonly keys: readonly Value[];
  readonly num: readonly number[];
  readonly obj: readonly unknown[];
}

interface SavedState {
  readonly sessions: boolean;
  readonly seq: number;
  readonly groups: readonly SavedGroup[];
  /**
   * the groups live in the checkpoint store's partial rows (`groupsInPartials`): a commit carries
   * none, and the store puts them back under `groups` when it restores the state
   */
  readonly partials?: boolean;
}

const NO_WINDOW = Number.NaN;

export function aggregate(keys: readonly GroupKey[], aggregates: Readonly<Record<string, AggregateSpec>>, options: AggregateOptions = {}): OperatorFunction<TableBatch, TableBatch> {
  const windowed = keys.some((key) => typeof key !== 'string');
  const keyColumns = keys.filter((key): key is string => typeof key === 'string');
  const names = Object.keys(aggregates);
  const kernels = names.map((name) => kernelOf(aggregates[name] as AggregateSpec));
  const numBase: number[] = [];
  const objBase: number[] = [];
  let numSlots = 0;
  let objSlots = 0;
  for (const kernel of kernels) {
    numBase.push(numSlots);
    objBase.push(objSlots);
    numSlots += kernel.numSlots;
    objSlots += kernel.objSlots;
  }
  const stateKey = options.stateKey ?? 'aggregate';
  const windowColumn = options.windowColumn ?? 'window';
  if (keyColumns.includes(windowColumn) || names.includes(windowColumn) || names.some((name) => keyColumns.includes(name))) {
    throw new Error(`aggregate(): output column names must be distinct (keys ${keyColumns.join(', ')}, aggregates ${names.join(', ')}, window '${windowColumn}')`);
  }
  const config: Config = { windowed, keyColumns, names, kernels, numBase, objBase, numSlots, objSlots, stateKey, windowColumn };

  return (source) =>
    defer(() => {
      const table = new GroupTable(config);
      let restored = false;
      return source.pipe(
        map((batch) => {
          if (!restored) {
            restored = true;
            const saved = restoredState(batch, stateKey) as SavedState | undefined;
            if (saved !== undefined) table.restore(saved);
          }
          return table.apply(batch);
        }),
      );
    });
}

interface Config {
  readonly windowed: boolean;
  readonly keyColumns: readonly string[];
  readonly names: readonly string[];
  readonly kernels: readonly Kernel[];
  readonly numBase: readonly number[];
  readonly objBase: readonly number[];
  readonly numSlots: number;
  readonly objSlots: number;
  readonly stateKey: string;
  readonly windowColumn: string;
}

class GroupTable {
  /** tumbling / hopping / no window: slots by window start (NO_WINDOW without one) */
  private readonly slots = new Map<number, WindowSlot>();
  /** session windows: per key, sessions sorted by start */
  private readonly sessions = new Map<unknown, Group[]>();
  private spec: WindowSpec | undefined;
  private seq = 0;
  private groupCount = 0;

  constructor(private readonly config: Config) {}

  apply(batch: TableBatch): TableBatch {
    const { config } = this;
    const windows = batch.windows;
    if (config.windowed && windows === undefined) throw new Error('aggregate(): WINDOW is a key but the batch has no windows; put tumbling/hopping/session before aggregate');
    if (!config.windowed && windows !== undefined) throw new Error(`aggregate(): the batch has ${windows.spec.kind} windows but WINDOW is not among the keys`);
    if (windows !== undefined) {
      if (this.spec !== undefined && JSON.stringify(this.spec) !== JSON.stringify(windows.spec)) throw new Error('aggregate(): the window spec changed between batches');
      this.spec = windows.spec;
    }
    const rows = batch.rows;
    const length = windows === undefined ? rows.length : windows.length;
    const rowOfPair = windows === undefined ? identity(rows.length) : windows.row;
    const keyOf = this.keyReader(rows);
    const updated: Group[] = [];
    const id = batch.id;
    // pairs are cut into runs of one group as they are resolved
    const runs: Group[] = [];
    const bounds: number[] = [];

    if (windows !== undefined && windows.spec.kind === 'session') {
      const groups = new Array<Group>(length);
      this.assignSessions(windows.spec.gap, windows.start, rows, rowOfPair, length, keyOf, groups);
      for (let j = 0; j < length; j++) {
        let group = groups[j] as Group;
        while (group.mergedInto !== undefined) group = group.mergedInto;
        if (group.touched !== id) {
          group.touched = id;
          updated.push(group);
        }
        if (group !== runs[runs.length - 1]) {
          runs.push(group);
          bounds.push(j);
        }
      }
    } else {
      const starts = windows?.start;
      const size = windows === undefined || windows.spec.kind === 'session' ? 0 : windows.spec.size;
      let slot = starts === undefined ? this.slot(NO_WINDOW, Number.POSITIVE_INFINITY) : undefined;
      let lastStart = Number.NaN;
      // without key columns a window has one group: look it up only when the window changes
      let group: Group | undefined;
      for (let j = 0; j < length; j++) {
        if (starts !== undefined) {
          const start = starts[j] as number;
          if (start !== lastStart) {
            slot = this.slot(start, start + size);
            lastStart = start;
            group = undefined;
          }
        }
        const row = rowOfPair[j] as number;
        if (keyOf !== undefined || group === undefined) {
          const current = slot as WindowSlot;
          const key = keyOf === undefined ? '' : keyOf(row);
          group = current.groups.get(key);
          if (group === undefined) {
            group = this.newGroup(current.start, current.end, this.keyValues(rows, row));
            current.groups.set(key, group);
          }
          if (group.touched !== id) {
            group.touched = id;
            updated.push(group);
          }
          if (group !== runs[runs.length - 1]) {
            runs.push(group);
            bounds.push(j);
          }
        }
      }
    }
    bounds.push(length);
    const input: PairInput = { table: rows, rows: rowOfPair, runs, bounds, seq: this.seq };
    for (let k = 0; k < config.kernels.length; k++) (config.kernels[k] as Kernel).add(input, config.numBase[k] as number, config.objBase[k] as number);
    this.seq += length;

    const closesAt = windows !== undefined && batch.watermark !== undefined ? batch.watermark.next : Number.NEGATIVE_INFINITY;
    const closed = this.close(closesAt);
    const metrics = batch.context.metrics;
    metrics.set('openWindows', this.openWindows());
    metrics.set('openGroups', this.groupCount);

    const view = this.view(updated, closed, windows !== undefined && batch.watermark !== undefined);
    const result: TableBatch = { ...batch, aggregation: view };
    return batch.context.checkpoint === undefined ? result : withState(result, config.stateKey, encodeState(this.snapshot(batch.context.checkpoint.groupsInPartials === true)));
  }

  /** Returns a function from row index to the map key of its non-window key columns. */
  private keyReader(rows: RowTable): ((row: number) => unknown) | undefined {
    const columns = this.config.keyColumns.map((name) => {
      const column = rows.columns.get(name);
      if (column === undefined && rows.length > 0) throw new Error(`aggregate(): key column '${name}' is not among the batch's columns`);
      return column ?? ({ kind: 'value', values: [] } as Column);
    });
    if (columns.length === 0) return undefined;
    if (columns.length === 1) {
      const column = columns[0] as Column;
      if (column.kind === 'value') {
        const values = column.values;
        return (row) => {
          const value = values[row] as Value;
          return value instanceof Uint8Array ? `x${Buffer.from(value).toString('hex')}` : value;
        };
      }
      return (row) => valueAt(column, row);
    }
    return (row) => {
      let key = '';
      for (const column of columns) key += encodeKeyPart(valueAt(column, row));
      return key;
    };
  }

  private keyValues(rows: RowTable, row: number): Value[] {
    return this.config.keyColumns.map((name) => {
      const column = rows.columns.get(name);
      return column === undefined ? null : valueAt(column, row);
    });
  }

  private newGroup(start: number, end: number, keys: readonly Value[]): Group {
    const group: Group = {
      start,
      end,
      keys,
      num: new Float64Array(this.config.numSlots),
      obj: new Array<unknown>(this.config.objSlots),
      touched: -1,
      mergedInto: undefined,
    };
    const { kernels, numBase, objBase } = this.config;
    for (let k = 0; k < kernels.length; k++) (kernels[k] as Kernel).init(group, numBase[k] as number, objBase[k] as number);
    this.groupCount++;
    return group;
  }

  /**
   * Puts each pair's event time into its key's sessions: the sessions overlapping [t, t + gap)
   * merge into one (accumulators merged now; this batch's values are added afterwards to the
   * surviving group, found through `mergedInto`).
   */
  private assignSessions(
    gap: number,
    times: readonly number[],
    rows: RowTable,
    rowOfPair: readonly number[],
    length: number,
    keyOf: ((row: number) => unknown) | undefined,
    groups: Group[],
  ): void {
    const { kernels, numBase, objBase } = this.config;
    for (let j = 0; j < length; j++) {
      const row = rowOfPair[j] as number;
      const t = times[j] as number;
      const key = keyOf === undefined ? '' : keyOf(row);
      let list = this.sessions.get(key);
      if (list === undefined) this.sessions.set(key, (list = []));
      // sessions are disjoint and sorted: find the first whose end is after t
      let lo = 0;
      let hi = list.length;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if ((list[mid] as Group).end > t) hi = mid;
        else lo = mid + 1;
      }
      let last = lo;
      while (last < list.length && (list[last] as Group).start < t + gap) last++;
      if (last === lo) {
        const group = this.newGroup(t, t + gap, this.keyValues(rows, row));
        list.splice(lo, 0, group);
        groups[j] = group;
        continue;
      }
      const survivor = list[lo] as Group;
      survivor.start = Math.min(survivor.start, t);
      survivor.end = Math.max(survivor.end, t + gap);
      for (let m = lo + 1; m < last; m++) {
        const merged = list[m] as Group;
        for (let k = 0; k < kernels.length; k++) (kernels[k] as Kernel).merge(survivor, merged, numBase[k] as number, objBase[k] as number);
        survivor.end = Math.max(survivor.end, merged.end);
        merged.mergedInto = survivor;
        this.groupCount--;
      }
      if (last - lo > 1) list.splice(lo + 1, last - lo - 1);
      groups[j] = survivor;
    }
  }

  private slot(start: number, end: number): WindowSlot {
    let slot = this.slots.get(start);
    if (slot === undefined) {
      slot = { start, end, groups: new Map() };
      this.slots.set(start, slot);
    }
    return slot;
  }

  private close(watermark: number): Group[] {
    const closed: Group[] = [];
    if (watermark === Number.NEGATIVE_INFINITY) return closed;
    for (const [start, slot] of this.slots) {
      if (slot.end > watermark) continue;
      for (const group of slot.groups.values()) closed.push(group);
      this.groupCount -= slot.groups.size;
      this.slots.delete(start);
    }
    for (const [key, list] of this.sessions) {
      let open = 0;
      while (open < list.length && (list[open] as Group).end <= watermark) open++;
      if (open === 0) continue;
      for (let m = 0; m < open; m++) closed.push(list[m] as Group);
      this.groupCount -= open;
      if (open === list.length) this.sessions.delete(key);
      else list.splice(0, open);
    }
    return closed;
  }

  private openWindows(): number {
    let sessions = 0;
    for (const list of this.sessions.values()) sessions += list.length;
    return this.slots.size + sessions;
  }

  private *openGroups(): Generator<Group> {
    for (const slot of this.slots.values()) yield* slot.groups.values();
    for (const list of this.sessions.values()) yield* list;
  }

  private view(updated: readonly Group[], closed: readonly Group[], closes: boolean): AggregationView {
    const once = <T>(compute: () => T): (() => T) => {
      let value: T | undefined;
      return () => (value ??= compute());
    };
    return {
      updatedRows: once(() => updated.filter((group) => group.mergedInto === undefined).map((group) => this.resultRow(group))),
      closedRows: once(() => closed.map((group) => this.resultRow(group))),
      openRows: once(() => [...this.openGroups()].map((group) => this.resultRow(group))),
      updatedTable: once(() => this.resultTable(updated.filter((group) => group.mergedInto === undefined))),
      closedTable: once(() => this.resultTable(closed)),
      openTable: once(() => this.resultTable([...this.openGroups()])),
      closes,
      stateKey: this.config.stateKey,
      updatedPartials: () =>
        updated.filter((group) => group.mergedInto === undefined).map((group) => ({ start: group.start, end: group.end, keys: group.keys, num: [...group.num], obj: [...group.obj] })),
      mergedRows: (groups) => groups.map((parts) => this.resultRow(this.merge(parts))),
    };
  }

  /** One group from partials of it (e.g. one per channel), merged by each kernel's merge. */
  private merge(parts: readonly PartialGroup[]): Group {
    const first = parts[0];
    if (first === undefined) throw new Error('aggregate(): merging no partials');
    const { kernels, numBase, objBase } = this.config;
    const group = this.newGroup(first.start, first.end, first.keys);
    this.groupCount--;
    for (const part of parts) {
      const from: Accumulators = { num: Float64Array.from(part.num), obj: [...part.obj] };
      for (let k = 0; k < kernels.length; k++) (kernels[k] as Kernel).merge(group, from, numBase[k] as number, objBase[k] as number);
    }
    return group;
  }

  private resultRow(group: Group): OutputRow {
    const { config } = this;
    const row: Record<string, OutputValue> = {};
    if (config.windowed) row[config.windowColumn] = { start: group.start, end: group.end };
    config.keyColumns.forEach((name, k) => {
      row[name] = group.keys[k] ?? null;
    });
    config.names.forEach((name, k) => {
      row[name] = (config.kernels[k] as Kernel).result(group, config.numBase[k] as number, config.objBase[k] as number);
    });
    return row;
  }

  /** resultRow's values, column by column */
  private resultTable(groups: readonly Group[]): RowTable {
    const { config } = this;
    const n = groups.length;
    const columns = new Map<string, Column>();
    if (config.windowed) {
      const bounds = new Array<Value>(n);
      for (let i = 0; i < n; i++) bounds[i] = { start: (groups[i] as Group).start, end: (groups[i] as Group).end } as unknown as Value;
      columns.set(config.windowColumn, { kind: 'value', values: bounds });
    }
    config.keyColumns.forEach((name, k) => {
      const values = new Array<Value>(n);
      for (let i = 0; i < n; i++) values[i] = (groups[i] as Group).keys[k] ?? null;
      columns.set(name, columnOf(values));
    });
    config.names.forEach((name, k) => {
      const kernel = config.kernels[k] as Kernel;
      const num = config.numBase[k] as number;
      const obj = config.objBase[k] as number;
      const values = new Array<Value>(n);
      for (let i = 0; i < n; i++) values[i] = kernel.result(groups[i] as Group, num, obj);
      columns.set(name, columnOf(values));
    });
    return { length: n, columns };
  }

  private snapshot(partials: boolean): SavedState {
    const sessions = this.sessions.size > 0 || this.spec?.kind === 'session';
    if (partials) return { sessions, seq: this.seq, groups: [], partials: true };
    const groups: SavedGroup[] = [];
    for (const group of this.openGroups()) groups.push({ start: group.start, end: group.end, keys: group.keys, num: [...group.num], obj: group.obj });
    return { sessions, seq: this.seq, groups };
  }

  restore(saved: SavedState): void {
    this.seq = saved.seq;
    for (const entry of saved.groups) {
      const group: Group = {
        start: entry.start,
        end: entry.end,
        keys: entry.keys,
        num: Float64Array.from(entry.num),
        obj: [...entry.obj],
        touched: -1,
        mergedInto: undefined,
      };
      this.groupCount++;
      const key = mapKey(entry.keys);
      if (saved.sessions) {
        // saved in start order per key, so the lists come back sorted
        let list = this.sessions.get(key);
        if (list === undefined) this.sessions.set(key, (list = []));
        list.push(group);
      } else {
        this.slot(entry.start, entry.end).groups.set(key, group);
      }
    }
  }
}

function identity(n: number): number[] {
  const rows = new Array<number>(n);
  for (let i = 0; i < n; i++) rows[i] = i;
  return rows;
}

/** A typed, length-prefixed key part, so composite keys of different values never collide. */
function encodeKeyPart(value: Value): string {
  if (value === null) return '_';
  if (typeof value === 'string') return `s${value.length}:${value}`;
  if (typeof value === 'number') return `n${value};`;
  if (typeof value === 'bigint') return `b${value};`;
  if (typeof value === 'boolean') return value ? 't' : 'f';
  return `x${Buffer.from(value).toString('hex')};`;
}

/** The map key of a group's non-window key values; the same as `keyReader` computes per row. */
function mapKey(values: readonly Value[]): unknown {
  if (values.length === 0) return '';
  if (values.length === 1) {
    const value = values[0] as Value;
    return value instanceof Uint8Array ? `x${Buffer.from(value).toString('hex')}` : value;
  }
  let key = '';
  for (const value of values) key += encodeKeyPart(value);
  return key;
}
