/**
 * The table engine: tables and rows on LMDB, with the service's semantics.
 *
 * LMDB layout (sub-databases of one environment, so one transaction spans them all):
 *   tables    table name → TableMeta
 *   counters  'nextTableId' → number; ['autoinc', tableId, partition] → last auto-increment value
 *             given in that partition (partition = the first key column's value, tagged by type)
 *   rows      storage key (keys.ts) → stored row (stored-row.ts)
 * Other services (the tunnel's change log) open their own sub-databases in `engine.env`.
 *
 * Every mutation runs in the commit queue (group commit, durable before it resolves). Row
 * mutations all pass through `applyWrite`, which calls the registered commit hooks inside the
 * same transaction, after the row is written: a hook's writes commit with the row or not at all.
 */
import * as E from 'fp-ts/lib/Either.js';
import { type RootDatabase, type Database, type DatabaseOptions, open } from 'lmdb';
import { randomInt, randomUUID } from 'node:crypto';
import type { Cell, PrimaryKeyCell, PutCell, RecordAction, Row } from '../wire/types.js';
import { BaseRecordWriter } from './base-records.js';
import { CommitQueue } from './commit-queue.js';
import { evaluateCondition, validateCondition } from './conditions.js';
import { type OtsError, conditionCheckFail, otsError, parameterInvalid, tableNotExist } from './errors.js';
import { MAX_STORAGE_KEY_BYTES, compareBytes, decodeStorageKey, encodeRangeCut, encodeStorageKey, tablePrefix, prefixSuccessor } from './keys.js';
import {
  type KeyUse,
  type ReadQuery,
  type ReturnContent,
  type WriteCondition,
  applyPut,
  applyUpdate,
  capacityUnits,
  checkCells,
  checkPrimaryKey,
  conditionView,
  expiryHorizon,
  hasAutoIncrementPlaceholder,
  readRow,
  rowExists,
  rowSize,
  toPutCells,
  visibleColumns,
} from './row-model.js';
import { type StoredRow, decodeStoredRow, encodeStoredRow } from './stored-row.js';
import {
  type ReservedThroughput,
  type TableDefinition,
  type TableMeta,
  type TableOptions,
  LIMITS,
  validateOptions,
  validateTableDefinition,
  validateThroughput,
  withDefaultOptions,
} from './table-meta.js';

/** Auto-increment values stay exact in a JS number (the counter's storage); at 1000 per µs-tick this is centuries away. */
const AUTO_INCREMENT_CEILING = Number.MAX_SAFE_INTEGER;
/** Successive auto-increment values in a partition differ by 2 to this much (besides the clock's advance). */
const AUTO_INCREMENT_MAX_STEP = 1000;

/** A partition key value as a counter-key part: the type tagged so 1 and "1" stay apart. */
const partitionTag = (value: PrimaryKeyCell['value']): string =>
  typeof value === 'bigint' ? `i:${value}` : typeof value === 'string' ? `s:${value}` : value instanceof Uint8Array ? `b:${Buffer.from(value).toString('base64')}` : `x:${value.kind}`;

export interface EngineOptions {
  readonly dataDir: string;
  /** ms since epoch; injectable so TTL and versions can be tested without waiting */
  readonly now?: () => number;
  /** reject custom timestamps outside the table's deviation/TTL window, like the service (default true) */
  readonly enforceTimestampWindow?: boolean;
}

export interface Consumed {
  readonly read: number;
  readonly write: number;
}

export interface RowWrite {
  readonly kind: 'put' | 'update' | 'delete';
  readonly table: string;
  readonly primaryKey: readonly PrimaryKeyCell[];
  readonly cells: readonly Cell[];
  readonly condition: WriteCondition;
  readonly returnContent: ReturnContent;
}

export interface WriteOutcome {
  /** present when the return content asked for a row */
  readonly row?: Row;
  readonly consumed: Consumed;
}

export interface ReadOutcome {
  /** undefined = no row (missing, filtered, or none of the requested columns) */
  readonly row?: Row;
  readonly consumed: Consumed;
}

export interface RangeRequest {
  readonly table: string;
  readonly direction: 'FORWARD' | 'BACKWARD';
  readonly start: readonly PrimaryKeyCell[];
  readonly end: readonly PrimaryKeyCell[];
  readonly limit?: number;
  readonly query: ReadQuery;
}

export interface RangeOutcome {
  readonly rows: readonly Row[];
  /** where the next page starts, when the range was not exhausted */
  readonly nextStart?: readonly PrimaryKeyCell[];
  readonly consumed: Consumed;
}

/** One committed row mutation, as applied (timestamps assigned, increments resolved to puts). */
export interface CommittedRowChange {
  readonly table: string;
  readonly tableMeta: TableMeta;
  readonly action: RecordAction;
  /** concrete: an auto-increment placeholder is replaced by the generated value */
  readonly primaryKey: readonly PrimaryKeyCell[];
  /** PUT_ROW: puts; UPDATE_ROW: puts / deleteOneVersion / deleteAllVersions; DELETE_ROW: none */
  readonly cells: readonly Cell[];
  /** the stored row before and after (undefined = no row) */
  readonly before: StoredRow | undefined;
  readonly after: StoredRow | undefined;
}

export interface CommitContext {
  readonly env: RootDatabase;
  /** the engine clock at the time the change was applied (ms) */
  readonly now: number;
}

export type RowCommitHook = (change: CommittedRowChange, context: CommitContext) => void;

export interface TableEvent {
  readonly kind: 'created' | 'updated' | 'deleted';
  readonly table: TableMeta;
}

export type TableCommitHook = (event: TableEvent, context: CommitContext) => void;

export interface TableUpdate {
  readonly options?: Partial<TableOptions>;
  readonly reservedThroughput?: Partial<ReservedThroughput>;
  readonly stream?: { readonly enabled: boolean; readonly expirationTimeHours?: number };
}

/** Base-data scans for the tunnel service: latest version of each column. */
export interface ScannedRow {
  readonly primaryKey: readonly PrimaryKeyCell[];
  readonly cells: readonly PutCell[];
}

/** lmdb value codec handing out its reusable read buffer as is (see transientRowsDb). */
let readBuffer: Uint8Array | undefined;
let readBufferView: Uint8Array = new Uint8Array(0);
const TRANSIENT_VALUES = {
  encode: (value: Uint8Array): Uint8Array => value,
  /** `bytes.length` is the value's size (lmdb sets it on its buffer) */
  decode: (bytes: Uint8Array): Uint8Array => {
    // a plain view once per buffer: a subarray of a Buffer would be a new Buffer each time
    if (bytes !== readBuffer) {
      readBuffer = bytes;
      readBufferView = new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    }
    return readBufferView.subarray(0, bytes.length);
  },
};

/** Entries a GetRange page may examine; a filter that rejects everything still returns promptly. */
const RANGE_SCAN_BUDGET = 20_000;

const firstError = (errors: readonly OtsError[]): OtsError => ({
  code: errors[0]!.code,
  message: errors.map((e) => e.message).join(' '),
});

export class TableEngine {
  readonly env: RootDatabase;
  private readonly tablesDb: Database<TableMeta, string>;
  private readonly countersDb: Database<number, string | [string, number] | [string, number, string]>;
  private readonly rowsDb: Database<Buffer, Buffer>;
  /**
   * The same rows, for scans that use each stored value before reading the next: values are
   * views of lmdb's read buffer, valid until the cursor moves, instead of a Buffer copy each.
   */
  private readonly transientRowsDb: Database<Uint8Array, Buffer>;
  private readonly tables = new Map<string, TableMeta>();
  private readonly rowHooks: RowCommitHook[] = [];
  private readonly tableHooks: TableCommitHook[] = [];
  private readonly queue: CommitQueue;
  private readonly now: () => number;
  private readonly enforceTimestampWindow: boolean;
  private closed = false;

  private constructor(options: EngineOptions) {
    this.now = options.now ?? Date.now;
    this.enforceTimestampWindow = options.enforceTimestampWindow ?? true;
    // 8 KiB pages raise LMDB's key limit to 4026 bytes; fsync on every commit. `noSubdir: false`:
    // lmdb-js takes a path with an extension ('/tmp/tmp.AbC') for a file unless told otherwise
    this.env = open({ path: options.dataDir, noSubdir: false, noSync: false, overlappingSync: false, pageSize: 8192, maxDbs: 64 });
    this.tablesDb = this.env.openDB<TableMeta, string>({ name: 'tables', encoding: 'msgpack' });
    this.countersDb = this.env.openDB<number, string | [string, number] | [string, number, string]>({ name: 'counters', encoding: 'msgpack' });
    this.rowsDb = this.env.openDB<Buffer, Buffer>({ name: 'rows', keyEncoding: 'binary', encoding: 'binary' });
    // `encoder` is a per-database option of lmdb-js; its typings list it for the root only
    this.transientRowsDb = this.env.openDB<Uint8Array, Buffer>({ name: 'rows', keyEncoding: 'binary', encoder: TRANSIENT_VALUES } as DatabaseOptions & { name: string });
    this.queue = new CommitQueue(this.env, () => this.reloadTables());
    this.reloadTables();
  }

  static open(options: EngineOptions): TableEngine {
    return new TableEngine(options);
  }

  private reloadTables(): void {
    this.tables.clear();
    for (const { key, value } of this.tablesDb.getRange()) this.tables.set(key, value);
  }

  /** Registers a hook run inside the write transaction of every committed row mutation. */
  onCommit(hook: RowCommitHook): () => void {
    this.rowHooks.push(hook);
    return () => {
      const at = this.rowHooks.indexOf(hook);
      if (at !== -1) this.rowHooks.splice(at, 1);
    };
  }

  /** Registers a hook run inside the write transaction of CreateTable/UpdateTable/DeleteTable. */
  onTableCommit(hook: TableCommitHook): () => void {
    this.tableHooks.push(hook);
    return () => {
      const at = this.tableHooks.indexOf(hook);
      if (at !== -1) this.tableHooks.splice(at, 1);
    };
  }

  /** Runs `job` inside the next group-committed write transaction (for other services' writes). */
  commit<T>(job: () => T): Promise<T> {
    return this.queue.run(job);
  }

  clock(): number {
    return this.now();
  }

  // -------------------------------------------------------------------------------------------
  // Tables

  table(name: string): TableMeta | undefined {
    return this.tables.get(name);
  }

  listTables(): string[] {
    return [...this.tables.keys()].sort();
  }

  describeTable(name: string): E.Either<OtsError, TableMeta> {
    const meta = this.tables.get(name);
    return meta === undefined ? E.left(tableNotExist()) : E.right(meta);
  }

  createTable(definition: TableDefinition): Promise<E.Either<OtsError, TableMeta>> {
    const checked = validateTableDefinition(definition);
    if (E.isLeft(checked)) return Promise.resolve(E.left(firstError(checked.left)));
    return this.queue.run(() => {
      if (this.tables.has(definition.name)) return E.left(otsError('OTSObjectAlreadyExist', 'Requested table already exists.'));
      if (this.tables.size >= LIMITS.maxTables) return E.left(otsError('OTSQuotaExhausted', 'Number of tables exceeded the quota.'));
      const now = this.now();
      const id = (this.countersDb.get('nextTableId') ?? 1) as number;
      this.countersDb.putSync('nextTableId', id + 1);
      const createdAt = Math.floor(now / 1000);
      const meta: TableMeta = {
        id,
        name: definition.name,
        primaryKey: definition.primaryKey,
        definedColumns: definition.definedColumns,
        options: withDefaultOptions(definition.options),
        reservedThroughput: definition.reservedThroughput,
        createdAt,
        lastIncreaseTime: createdAt,
        ...(definition.stream?.enabled ? { stream: this.newStream(definition.name, now, definition.stream.expirationTimeHours) } : {}),
      };
      this.tablesDb.putSync(meta.name, meta);
      this.runTableHooks({ kind: 'created', table: meta }, now);
      this.tables.set(meta.name, meta);
      return E.right(meta);
    });
  }

  private newStream(table: string, now: number, expirationTimeHours: number | undefined) {
    return {
      enabled: true,
      expirationTimeHours: expirationTimeHours ?? LIMITS.defaultStreamExpirationHours,
      streamId: `${table}_${randomUUID()}`,
      lastEnableTime: now,
    };
  }

  updateTable(name: string, update: TableUpdate): Promise<E.Either<OtsError, TableMeta>> {
    const errors = [
      ...validateOptions(update.options ?? {}),
      ...(update.reservedThroughput === undefined ? [] : validateThroughput({ read: 0, write: 0, ...update.reservedThroughput })),
    ];
    if (errors.length > 0) return Promise.resolve(E.left(firstError(errors)));
    return this.queue.run(() => {
      const current = this.tables.get(name);
      if (current === undefined) return E.left(tableNotExist());
      const now = this.now();
      const seconds = Math.floor(now / 1000);
      let meta: TableMeta = { ...current, options: withDefaultOptions(update.options ?? {}, current.options) };
      if (update.reservedThroughput !== undefined) {
        const next = { ...current.reservedThroughput, ...update.reservedThroughput };
        const increased = next.read > current.reservedThroughput.read || next.write > current.reservedThroughput.write;
        const decreased = next.read < current.reservedThroughput.read || next.write < current.reservedThroughput.write;
        meta = {
          ...meta,
          reservedThroughput: next,
          lastIncreaseTime: increased ? seconds : current.lastIncreaseTime,
          ...(decreased ? { lastDecreaseTime: seconds } : {}),
        };
      }
      if (update.stream !== undefined) {
        const { stream: _previous, ...withoutStream } = meta;
        meta = update.stream.enabled
          ? { ...withoutStream, stream: current.stream?.enabled ? current.stream : this.newStream(name, now, update.stream.expirationTimeHours) }
          : withoutStream;
      }
      this.tablesDb.putSync(name, meta);
      this.runTableHooks({ kind: 'updated', table: meta }, now);
      this.tables.set(name, meta);
      return E.right(meta);
    });
  }

  deleteTable(name: string): Promise<E.Either<OtsError, void>> {
    return this.queue.run(() => {
      const meta = this.tables.get(name);
      if (meta === undefined) return E.left(tableNotExist());
      this.tablesDb.removeSync(name);
      this.countersDb.removeSync(['autoinc', meta.id]);
      for (const key of [...this.countersDb.getKeys({ start: ['autoinc', meta.id, ''], end: ['autoinc', meta.id + 1] })]) this.countersDb.removeSync(key);
      const prefix = tablePrefix(meta.id);
      for (const key of this.rowsDb.getKeys({ start: Buffer.from(prefix), end: Buffer.from(prefixSuccessor(prefix)) })) {
        this.rowsDb.removeSync(key);
      }
      this.runTableHooks({ kind: 'deleted', table: meta }, this.now());
      this.tables.delete(name);
      return E.right(undefined);
    });
  }

  private runTableHooks(event: TableEvent, now: number): void {
    for (const hook of this.tableHooks) hook(event, { env: this.env, now });
  }

  // -------------------------------------------------------------------------------------------
  // Row writes

  /** One row mutation, durable when the promise resolves. */
  write(request: RowWrite): Promise<E.Either<OtsError, WriteOutcome>> {
    return this.queue.run(() => this.applyWrite(request));
  }

  /**
   * BatchWriteRow: each row succeeds or fails on its own, all in one transaction; the results
   * are in request order.
   */
  writeBatch(requests: readonly RowWrite[]): Promise<E.Either<OtsError, WriteOutcome>[]> {
    return this.queue.run(() =>
      requests.map((request) => {
        try {
          // a child transaction per row: a failing hook undoes only this row
          return this.env.transactionSync(() => this.applyWrite(request));
        } catch (error) {
          return E.left(otsError('OTSInternalServerError', `Internal server error: ${(error as Error).message}`));
        }
      }),
    );
  }

  private checkWrite(meta: TableMeta, request: RowWrite, now: number): OtsError | undefined {
    const use: KeyUse = request.kind;
    const pk = checkPrimaryKey(meta, request.primaryKey, use);
    if (E.isLeft(pk)) return pk.left;
    const { rowExistence, columnCondition } = request.condition;
    if (hasAutoIncrementPlaceholder(request.primaryKey)) {
      if (rowExistence !== 'IGNORE') return parameterInvalid(`Invalid expect:${rowExistence} when modify row with pk auto increment.`);
      if (columnCondition !== undefined) return parameterInvalid("Can't set condition when modify row with pk auto increment.");
    }
    if (request.kind === 'delete' && rowExistence === 'EXPECT_NOT_EXIST') {
      return parameterInvalid('Invalid condition: EXPECT_NOT_EXIST while deleting row.');
    }
    if (columnCondition !== undefined) {
      const checked = validateCondition(columnCondition, false);
      if (E.isLeft(checked)) return checked.left;
    }
    if (request.kind === 'update' && !meta.options.allowUpdate) {
      return parameterInvalid(`UpdateRow is not allowed on table '${meta.name}': allow_update is false.`);
    }
    if (request.kind !== 'delete') {
      const cells = checkCells(meta, request.kind, request.cells, { now, enforceTimestampWindow: this.enforceTimestampWindow });
      if (E.isLeft(cells)) return cells.left;
    }
    return undefined;
  }

  /**
   * Assigns the auto-increment value as the service does: unique and strictly increasing within
   * the row's partition (its first key column), large (time-based: the clock in microseconds),
   * and never consecutive — code that assumes 1, 2, 3 fails here, not in production. Values
   * written explicitly keep the partition's counter above them.
   */
  private resolveAutoIncrement(meta: TableMeta, primaryKey: readonly PrimaryKeyCell[]): readonly PrimaryKeyCell[] {
    const index = meta.primaryKey.findIndex((c) => c.autoIncrement);
    if (index === -1) return primaryKey;
    const counterKey: [string, number, string] = ['autoinc', meta.id, partitionTag(primaryKey[0]!.value)];
    // stores written before counters were per partition kept one per table
    const last = Math.max(this.countersDb.get(counterKey) ?? 0, this.countersDb.get(['autoinc', meta.id]) ?? 0);
    const cell = primaryKey[index]!;
    if (typeof cell.value === 'bigint') {
      if (cell.value > BigInt(last) && cell.value <= BigInt(AUTO_INCREMENT_CEILING)) this.countersDb.putSync(counterKey, Number(cell.value));
      return primaryKey;
    }
    const next = Math.max(last, this.now() * 1000) + randomInt(2, AUTO_INCREMENT_MAX_STEP + 1);
    if (next > AUTO_INCREMENT_CEILING) throw new Error(`auto-increment counter of table '${meta.name}' exhausted`);
    this.countersDb.putSync(counterKey, next);
    return primaryKey.map((c, i) => (i === index ? { name: c.name, value: BigInt(next) } : c));
  }

  /** Runs inside a write transaction. */
  private applyWrite(request: RowWrite): E.Either<OtsError, WriteOutcome> {
    const meta = this.tables.get(request.table);
    if (meta === undefined) return E.left(tableNotExist());
    const now = this.now();
    const invalid = this.checkWrite(meta, request, now);
    if (invalid !== undefined) return E.left(invalid);
    const primaryKey = this.resolveAutoIncrement(meta, request.primaryKey);
    const key = encodeStorageKey(meta.id, meta.primaryKey, primaryKey);
    if (key.length > MAX_STORAGE_KEY_BYTES) {
      return E.left(parameterInvalid(`The primary key is too large for the emulator's storage: ${key.length} > ${MAX_STORAGE_KEY_BYTES} bytes encoded.`));
    }
    const keyBuffer = Buffer.from(key.buffer, key.byteOffset, key.byteLength);
    const stored = this.rowsDb.get(keyBuffer);
    const before = stored === undefined ? undefined : decodeStoredRow(stored);
    const exists = rowExists(meta, now, before);
    const { rowExistence, columnCondition } = request.condition;
    if ((rowExistence === 'EXPECT_EXIST' && !exists) || (rowExistence === 'EXPECT_NOT_EXIST' && exists)) return E.left(conditionCheckFail());
    if (columnCondition !== undefined) {
      const columns = exists ? visibleColumns(meta, now, before) : [];
      if (!evaluateCondition(columnCondition, conditionView(primaryKey, columns))) return E.left(conditionCheckFail());
    }

    let after: StoredRow | undefined;
    let applied: readonly Cell[];
    switch (request.kind) {
      case 'put':
        ({ row: after, applied } = applyPut(meta, now, request.cells));
        break;
      case 'update': {
        const result = applyUpdate(meta, now, before, request.cells);
        if (E.isLeft(result)) return result;
        ({ row: after, applied } = result.right);
        break;
      }
      case 'delete':
        after = undefined;
        applied = [];
        break;
    }
    if (after !== undefined) this.rowsDb.putSync(keyBuffer, Buffer.from(encodeStoredRow(after)));
    else if (stored !== undefined) this.rowsDb.removeSync(keyBuffer);

    const change: CommittedRowChange = {
      table: meta.name,
      tableMeta: meta,
      action: request.kind === 'put' ? 'PUT_ROW' : request.kind === 'update' ? 'UPDATE_ROW' : 'DELETE_ROW',
      primaryKey,
      cells: applied,
      before: exists ? before : undefined,
      after,
    };
    for (const hook of this.rowHooks) hook(change, { env: this.env, now });

    const requestSize = rowSize({ primaryKey, cells: request.cells, deleteMarker: false });
    const consumed: Consumed = {
      read: rowExistence !== 'IGNORE' || columnCondition !== undefined ? 1 : 0,
      write: capacityUnits(requestSize),
    };
    const returned = this.returnedRow(meta, now, primaryKey, after, request.returnContent);
    return E.right(returned === undefined ? { consumed } : { row: returned, consumed });
  }

  private returnedRow(
    meta: TableMeta,
    now: number,
    primaryKey: readonly PrimaryKeyCell[],
    after: StoredRow | undefined,
    returnContent: ReturnContent,
  ): Row | undefined {
    switch (returnContent.type) {
      case 'NONE':
        return undefined;
      case 'PK':
        return { primaryKey, cells: [], deleteMarker: false };
      case 'AFTER_MODIFY': {
        const wanted = new Set(returnContent.columnNames);
        const columns = after === undefined ? [] : visibleColumns(meta, now, after).filter((c) => wanted.has(c.name));
        return { primaryKey, cells: toPutCells(columns.map((c) => ({ name: c.name, versions: c.versions.slice(0, 1) }))), deleteMarker: false };
      }
    }
  }

  // -------------------------------------------------------------------------------------------
  // Reads (committed data; no transaction needed)

  private checkQuery(query: ReadQuery): OtsError | undefined {
    if (query.maxVersions === undefined && query.timeRange === undefined) {
      return parameterInvalid('No version condition is specified while querying row.');
    }
    if (query.maxVersions !== undefined && (!Number.isInteger(query.maxVersions) || query.maxVersions <= 0)) {
      return parameterInvalid('MaxVersions must be greater than 0.');
    }
    const range = query.timeRange;
    if (range !== undefined) {
      const bad = range.kind === 'range' ? !(range.start >= 0 && range.start < range.end) : !(range.timestamp >= 0);
      if (bad) return parameterInvalid('Invalid time range.');
    }
    if (query.columnsToGet.length > LIMITS.maxColumnsToGet) {
      return parameterInvalid(`The number of columns to get exceeds the limit: ${LIMITS.maxColumnsToGet}.`);
    }
    if (query.filter !== undefined) {
      const checked = validateCondition(query.filter, true);
      if (E.isLeft(checked)) return checked.left;
    }
    return undefined;
  }

  getRow(table: string, primaryKey: readonly PrimaryKeyCell[], query: ReadQuery): E.Either<OtsError, ReadOutcome> {
    const meta = this.tables.get(table);
    if (meta === undefined) return E.left(tableNotExist());
    const pk = checkPrimaryKey(meta, primaryKey, 'read');
    if (E.isLeft(pk)) return pk;
    const invalid = this.checkQuery(query);
    if (invalid !== undefined) return E.left(invalid);
    const key = encodeStorageKey(meta.id, meta.primaryKey, primaryKey);
    const stored = key.length > MAX_STORAGE_KEY_BYTES ? undefined : this.rowsDb.get(Buffer.from(key));
    const row = readRow(meta, this.now(), primaryKey, stored === undefined ? undefined : decodeStoredRow(stored), query);
    const consumed = { read: capacityUnits(row === undefined ? 0 : rowSize(row)), write: 0 };
    return E.right(row === undefined ? { consumed } : { row, consumed });
  }

  getRange(request: RangeRequest): E.Either<OtsError, RangeOutcome> {
    const meta = this.tables.get(request.table);
    if (meta === undefined) return E.left(tableNotExist());
    for (const bound of [request.start, request.end]) {
      const pk = checkPrimaryKey(meta, bound, 'range');
      if (E.isLeft(pk)) return pk;
    }
    const invalid = this.checkQuery(request.query);
    if (invalid !== undefined) return E.left(invalid);
    if (request.limit !== undefined && !(request.limit > 0)) return E.left(parameterInvalid('The limit must be greater than 0.'));
    const backward = request.direction === 'BACKWARD';
    const startCut = encodeRangeCut(meta.id, meta.primaryKey, request.start, backward);
    const endCut = encodeRangeCut(meta.id, meta.primaryKey, request.end, backward);
    const order = compareBytes(startCut, endCut);
    if (!backward && order >= 0) return E.left(parameterInvalid('Begin key must less than end key in FORWARD'));
    if (backward && order <= 0) return E.left(parameterInvalid('Begin key must more than end key in BACKWARD'));
    const lower = Buffer.from(backward ? endCut : startCut);
    const upper = Buffer.from(backward ? startCut : endCut);
    const limit = Math.min(request.limit ?? LIMITS.maxRangeRows, LIMITS.maxRangeRows);
    const now = this.now();
    const rows: Row[] = [];
    let bytes = 0;
    let scanned = 0;
    let nextKey: Buffer | undefined;
    for (const { key, value } of this.rangeEntries(lower, upper, backward)) {
      if (rows.length >= limit || bytes >= LIMITS.maxRangeBytes || scanned >= RANGE_SCAN_BUDGET) {
        nextKey = key;
        break;
      }
      scanned++;
      const primaryKey = decodeStorageKey(meta.primaryKey, key);
      const row = readRow(meta, now, primaryKey, decodeStoredRow(value), request.query);
      if (row === undefined) continue;
      rows.push(row);
      bytes += rowSize(row);
    }
    const consumed = { read: capacityUnits(bytes), write: 0 };
    return E.right(nextKey === undefined ? { rows, consumed } : { rows, nextStart: decodeStorageKey(meta.primaryKey, nextKey), consumed });
  }

  /**
   * Entries with lower ≤ key < upper, ascending or descending. Cuts may be longer than LMDB keys
   * (bounds of 4 long string columns): LMDB gets clamped bounds that enclose the range, the
   * exact bounds are applied here.
   */
  private *rangeEntries<V = Buffer>(
    lower: Buffer,
    upper: Buffer,
    backward: boolean,
    db: Database<V, Buffer> = this.rowsDb as unknown as Database<V, Buffer>,
  ): Generator<{ key: Buffer; value: V }> {
    const clamp = (cut: Buffer, above: boolean): Buffer =>
      cut.length <= MAX_STORAGE_KEY_BYTES ? cut : above ? Buffer.from(prefixSuccessor(cut.subarray(0, MAX_STORAGE_KEY_BYTES))) : cut.subarray(0, MAX_STORAGE_KEY_BYTES);
    const entries = backward
      ? db.getRange({ start: clamp(upper, true), reverse: true })
      : db.getRange({ start: clamp(lower, false), end: clamp(upper, true) });
    // forward, LMDB applies both bounds exactly unless they were clamped, so most scans need no
    // compare per row; backward, it only gets the upper bound, inclusively
    const lowerExact = lower.length <= MAX_STORAGE_KEY_BYTES;
    const upperExact = upper.length <= MAX_STORAGE_KEY_BYTES;
    for (const entry of entries) {
      const { key } = entry;
      if (backward ? compareBytes(key, upper) >= 0 : !lowerExact && compareBytes(key, lower) < 0) continue;
      if (backward ? compareBytes(key, lower) < 0 : !upperExact && compareBytes(key, upper) >= 0) return;
      yield entry;
    }
  }

  // -------------------------------------------------------------------------------------------
  // Base-data access for the tunnel service

  hasTable(table: string): boolean {
    return this.tables.has(table);
  }

  /** Up to `limit` rows with start ≤ key < end in key order (bounds may hold INF_MIN/INF_MAX). */
  scan(
    table: string,
    start: readonly PrimaryKeyCell[] | undefined,
    end: readonly PrimaryKeyCell[] | undefined,
    limit: number,
  ): { rows: readonly ScannedRow[]; next?: readonly PrimaryKeyCell[] } {
    const meta = this.tables.get(table);
    if (meta === undefined) return { rows: [] };
    const prefix = tablePrefix(meta.id);
    const lower = Buffer.from(start === undefined ? prefix : encodeRangeCut(meta.id, meta.primaryKey, start, false));
    const upper = Buffer.from(end === undefined ? prefixSuccessor(prefix) : encodeRangeCut(meta.id, meta.primaryKey, end, false));
    const now = this.now();
    const rows: ScannedRow[] = [];
    for (const { key, value } of this.rangeEntries(lower, upper, false)) {
      const primaryKey = decodeStorageKey(meta.primaryKey, key);
      if (rows.length >= limit) return { rows, next: primaryKey };
      const row = readRow(meta, now, primaryKey, decodeStoredRow(value), { columnsToGet: [], maxVersions: 1 });
      if (row !== undefined) rows.push({ primaryKey, cells: row.cells as PutCell[] });
    }
    return { rows };
  }

  /**
   * `scan`, encoded: the same rows as PlainBuffer records (what `encodeRow` makes of them), up to
   * `limit` records and `maxBytes` of them (always at least one), and the key of the first row
   * not returned. Built from the stored bytes without the row objects in between.
   */
  scanEncoded(
    table: string,
    start: readonly PrimaryKeyCell[] | undefined,
    end: readonly PrimaryKeyCell[] | undefined,
    limit: number,
    maxBytes: number,
  ): { records: readonly Uint8Array[]; next?: readonly PrimaryKeyCell[] } {
    const meta = this.tables.get(table);
    if (meta === undefined) return { records: [] };
    const prefix = tablePrefix(meta.id);
    const lower = Buffer.from(start === undefined ? prefix : encodeRangeCut(meta.id, meta.primaryKey, start, false));
    const upper = Buffer.from(end === undefined ? prefixSuccessor(prefix) : encodeRangeCut(meta.id, meta.primaryKey, end, false));
    const horizon = expiryHorizon(meta, this.now());
    const writer = new BaseRecordWriter(meta.primaryKey);
    const records: Uint8Array[] = [];
    let bytes = 0;
    for (const { key, value } of this.rangeEntries(lower, upper, false, this.transientRowsDb)) {
      if (records.length >= limit) return { records, next: decodeStorageKey(meta.primaryKey, key) };
      const record = writer.record(key, value, horizon);
      if (record === undefined) continue;
      if (records.length > 0 && bytes + record.length > maxBytes) return { records, next: decodeStorageKey(meta.primaryKey, key) };
      records.push(record);
      bytes += record.length;
    }
    return { records };
  }

  /** At most `ranges - 1` ascending keys cutting the table into ranges of similar row counts. */
  splitPoints(table: string, ranges: number): readonly (readonly PrimaryKeyCell[])[] {
    const meta = this.tables.get(table);
    if (meta === undefined || ranges <= 1) return [];
    const prefix = tablePrefix(meta.id);
    const keys = [...this.rowsDb.getKeys({ start: Buffer.from(prefix), end: Buffer.from(prefixSuccessor(prefix)) })];
    const cuts = new Set<number>();
    for (let i = 1; i < ranges; i++) cuts.add(Math.floor((keys.length * i) / ranges));
    const points: PrimaryKeyCell[][] = [];
    for (const at of cuts) if (at > 0 && at < keys.length) points.push(decodeStorageKey(meta.primaryKey, keys[at]!));
    return points;
  }

  // -------------------------------------------------------------------------------------------

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.queue.close();
    await this.env.close();
  }
}
