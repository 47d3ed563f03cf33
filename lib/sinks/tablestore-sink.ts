/**
 * The Tablestore sink: writes a micro-batch's output rows into a table with BatchWriteRow through
 * the official `tablestore` SDK, behaving like EMR's sink (put or update, null attributes skipped,
 * ≤ 200 rows and no repeated key per request, smaller requests after "too large") so jobs ported
 * from EMR produce the same table. The primary key comes from DescribeTable, not from the job:
 * the table is the authority on its key, and a catalog that cannot fill it is refused before
 * anything is written.
 *
 * Every row is checked and converted before the first request, so a bad row fails the write
 * without touching the table. Retriable failures (per row or per request) are retried here with
 * backoff, only the failed rows, a bounded number of times; past that, or on anything not worth
 * retrying, the write fails with a {@link TablestoreSinkError} that says whether `commitAfter`
 * should retry the batch ({@link isRetryableSinkError}). Re-writing is harmless: every change is
 * an unconditional upsert by primary key.
 *
 * SDK quirks this works around: the SDK's own retries are off (they never retry writes, and a
 * dead endpoint would stall reads for ~40 s); note that `maxRetries: 0` is process-wide in the
 * SDK (it sets a global). An attribute literally named `timestamp` cannot be written correctly
 * (the SDK reads `entry.timestamp` as the cell version, so the value becomes its own version and
 * updates overflow the SDK's buffer): the sink refuses such a catalog at `open()`.
 */
import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import { createRequire } from 'node:module';
import { inspect } from 'node:util';
import { asyncScheduler, type SchedulerLike } from 'rxjs';
import type { Catalog, CatalogType } from '../stream/catalog.js';
import { backoffDelay, backoffPolicy, type RetryOptions } from '../tunnel/backoff.js';
import { valueAt, type OutputRow, type OutputValue, type RowTable } from '../stream/table.js';
import { isRetryable, serviceErrorFromSdkError } from '../wire/errors.js';
import type { Sink, WriteContext } from './sink.js';

export interface TablestoreSinkOptions {
  readonly endpoint: string;
  readonly instanceName: string;
  readonly accessKeyId: string;
  readonly accessKeySecret: string;
  readonly securityToken?: string;
  readonly tableName: string;
  /** the sink's catalog: output columns and the types they are written as */
  readonly catalog: Catalog;
  /** 'put' (default, EMR's default): replaces the whole row; 'update': writes only the given columns */
  readonly rowChangeType?: 'put' | 'update';
  /** rows per BatchWriteRow request; default 200 (the service limit) */
  readonly maxRowsPerRequest?: number;
  /** estimated bytes per BatchWriteRow request; default 4 MiB (the service limit) */
  readonly maxBytesPerRequest?: number;
  /** BatchWriteRow requests in flight at once within one write; default 4 */
  readonly concurrency?: number;
  /**
   * retries inside one write (and one open): attempts in all, the first included (default 5),
   * delays from 100 ms doubling up to 5 s, ± 20 % jitter
   */
  readonly retry?: Pick<RetryOptions, 'maxAttempts' | 'initialMs' | 'maxMs' | 'multiplier' | 'jitter' | 'random'>;
  /** time source of the retry waits; default asyncScheduler (a TestScheduler runs them in virtual time) */
  readonly scheduler?: SchedulerLike;
  /** socket idle timeout of the sink's own client, ms; default 30 000 */
  readonly requestTimeoutMs?: number;
  /** an SDK client to reuse (tests); otherwise one is made from the options with SDK retries off */
  readonly client?: unknown;
}

export type PrimaryKeyType = 'INTEGER' | 'STRING' | 'BINARY';

export interface SinkPrimaryKeyColumn {
  readonly name: string;
  readonly type: PrimaryKeyType;
}

/** What `open()` learned and decided: the table's key, and the catalog columns written as attributes. */
export interface TablestoreSinkSchema {
  readonly tableName: string;
  readonly instanceName: string;
  /** the table's primary key, in key order */
  readonly primaryKey: readonly SinkPrimaryKeyColumn[];
  /** the other catalog columns, in catalog order */
  readonly attributes: readonly { readonly name: string; readonly type: CatalogType }[];
}

export interface TablestoreWriteSummary {
  readonly batchId: number;
  /** distinct rows written (rows sharing a primary key count once) */
  readonly rows: number;
  /** update-mode rows without any non-null attribute: nothing to update, not sent */
  readonly skipped: number;
  /** BatchWriteRow requests sent, failed ones included */
  readonly requests: number;
  /** rows sent again after a retriable failure */
  readonly retriedRows: number;
  /** requests split after the service found them too large */
  readonly splits: number;
}

export interface TablestoreSink extends Sink<OutputRow> {
  readonly tableName: string;
  readonly rowChangeType: 'put' | 'update';
  /** the table's primary-key column names, once opened */
  readonly keyColumns: readonly string[] | undefined;
  /** the table's primary key (names and types, in key order), once opened */
  readonly primaryKey: readonly SinkPrimaryKeyColumn[] | undefined;
  /** DescribeTable and the catalog checks; done once (a failed open may be retried) */
  open(): Promise<TablestoreSinkSchema>;
  /** resolves once every row is durably written */
  write(rows: readonly OutputRow[], context: WriteContext): Promise<TablestoreWriteSummary>;
  /** `write` of a columnar batch: cells are read from the columns, no row objects are made */
  writeTable(table: RowTable, context: WriteContext): Promise<TablestoreWriteSummary>;
  /** stops retry waits, waits for requests in flight, frees the sink's own connections */
  close(): Promise<void>;
}

export type TablestoreSinkErrorCode =
  | 'InvalidOptions'
  | 'SchemaMismatch'
  | 'InvalidRow'
  | 'SinkClosed'
  | 'NetworkingError'
  | 'TimeoutError'
  | 'OTSClientError'
  | (string & {});

export class TablestoreSinkError extends Error {
  override readonly name = 'TablestoreSinkError';
  readonly tableName: string;
  /** the service's code (OTSServerBusy, …), the SDK's transport code, or the sink's own */
  readonly code: TablestoreSinkErrorCode;
  /** whether writing the same rows again later may succeed */
  readonly retryable: boolean;
  /** the row's primary key as text, when one row is to blame */
  readonly primaryKey: string | undefined;
  readonly column: string | undefined;
  readonly requestId: string | undefined;

  constructor(
    message: string,
    init: {
      readonly tableName: string;
      readonly code: TablestoreSinkErrorCode;
      readonly retryable: boolean;
      readonly primaryKey?: string;
      readonly column?: string;
      readonly requestId?: string;
    },
  ) {
    super(message);
    this.tableName = init.tableName;
    this.code = init.code;
    this.retryable = init.retryable;
    this.primaryKey = init.primaryKey;
    this.column = init.column;
    this.requestId = init.requestId;
  }
}

/**
 * For `commitAfter(sink, { retry: { retryable: isRetryableSinkError } })`: the sink's errors say
 * whether a retry can help; other errors (not the sink's) are retried, as `commitAfter` does by default.
 */
export function isRetryableSinkError(error: unknown): boolean {
  if (error instanceof TablestoreSinkError) return error.retryable;
  if (typeof error === 'object' && error !== null && (error as { name?: unknown }).name === 'TablestoreSinkError') {
    return (error as { retryable?: unknown }).retryable !== false;
  }
  return true;
}

export function tablestoreSink(options: TablestoreSinkOptions): TablestoreSink {
  return new TablestoreSinkImpl(options);
}

// ---------------------------------------------------------------------------------------------
// the SDK, as far as the sink uses it

type Callback = (error: unknown, data: unknown) => void;

interface SdkClient {
  describeTable(params: { readonly tableName: string }, callback: Callback): unknown;
  batchWriteRow(params: unknown, callback: Callback): unknown;
}

interface SdkModule {
  readonly Client: new (config: Record<string, unknown>) => SdkClient;
  readonly Long: { fromString(text: string): unknown };
  readonly Condition: new (rowExistence: number, columnCondition: null) => unknown;
  readonly RowExistenceExpectation: { readonly IGNORE: number };
}

let sdkModule: SdkModule | undefined;
const loadSdk = (): SdkModule => (sdkModule ??= createRequire(import.meta.url)('tablestore') as SdkModule);

/** The SDK row shapes: primary key `[{name: value}]`, attribute entries `{name: value}`. */
type SdkCell = Readonly<Record<string, unknown>>;

interface BatchRowResult {
  readonly isOk?: boolean;
  readonly errorCode?: string | null;
  readonly errorMessage?: string | null;
}

// ---------------------------------------------------------------------------------------------

const DEFAULT_MAX_ROWS = 200;
const DEFAULT_MAX_BYTES = 4 * 1024 * 1024;
const DEFAULT_ATTEMPTS = 5;
const DEFAULT_RETRY = { initialMs: 100, maxMs: 5_000, multiplier: 2, jitter: 0.2 };
/** the wait after failed attempt `attempt` (1-based) */
const retryDelay = (retry: RetryOptions, attempt: number): number => backoffDelay(backoffPolicy(retry, DEFAULT_RETRY), attempt - 1, retry.random);
/** One output row's cells by column name (undefined: absent). */
type CellsOf = (name: string) => OutputValue | undefined;
/** The rows of one write, from row objects or from columns. */
interface RowsOf {
  readonly length: number;
  cells(index: number): CellsOf;
}

/** EMR's v1 writer: after "too large", 80 % of the rows, then +10 per successful request */
const BACKOFF_FRACTION = 0.8;
const GROWTH_PER_SUCCESS = 10;

/** PlainBuffer per cell: cell tag, name tag + length, value tag + length + type, checksum tag + crc */
const CELL_OVERHEAD = 15;
/** header, section tags, row checksum, and the protobuf framing of the row, its type and condition */
const ROW_OVERHEAD = 32;
const REQUEST_OVERHEAD = 32;

/** Codes worth another try for an unconditional upsert (the wire list plus throttling/timeouts). */
const EXTRA_RETRYABLE_CODES: ReadonlySet<string> = new Set(['OTSQuotaExhausted', 'OTSFlowControl', 'OTSRequestTimeout']);
const retryableCode = (code: string, message: string | undefined, httpStatus?: number): boolean =>
  EXTRA_RETRYABLE_CODES.has(code) || isRetryable({ code, ...(message === undefined ? {} : { message }), ...(httpStatus === undefined ? {} : { httpStatus }) });

/** The whole-request answers that mean "send less at once". */
const tooLarge = (code: string, message: string): boolean =>
  code === 'OTSRequestBodyTooLarge' || (code === 'OTSParameterInvalid' && /too large|exceed|upper limit|data size/i.test(message));

const PK_COMPATIBLE: Readonly<Record<PrimaryKeyType, CatalogType>> = { STRING: 'string', INTEGER: 'long', BINARY: 'binary' };
const COLUMN_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

interface PreparedRow {
  /** typed identity of the primary key, for "same row" */
  readonly identity: string;
  /** the key for messages: begin="a", end="b" */
  readonly keyText: string;
  readonly primaryKey: readonly SdkCell[];
  readonly attributes: Map<string, { readonly value: unknown; readonly bytes: number }>;
  readonly keyBytes: number;
}

const rowBytes = (row: PreparedRow): number => {
  let bytes = ROW_OVERHEAD + row.keyBytes;
  for (const cell of row.attributes.values()) bytes += cell.bytes;
  return bytes;
};

interface Failure {
  readonly code: string;
  readonly message: string;
  readonly retryable: boolean;
  readonly tooLarge: boolean;
  readonly httpStatus?: number;
  readonly requestId?: string;
}

interface ChunkOutcome {
  readonly retry: PreparedRow[];
  readonly fatal: TablestoreSinkError[];
  last: Failure | undefined;
}

interface Stats {
  requests: number;
  splits: number;
}

interface Sleeper {
  cancel(): void;
}

class TablestoreSinkImpl implements TablestoreSink {
  readonly tableName: string;
  readonly rowChangeType: 'put' | 'update';
  readonly #options: TablestoreSinkOptions;
  readonly #maxRows: number;
  readonly #maxBytes: number;
  readonly #concurrency: number;
  readonly #maxAttempts: number;
  readonly #retry: RetryOptions;
  readonly #scheduler: SchedulerLike;
  readonly #client: SdkClient;
  readonly #agent: HttpAgent | undefined;
  readonly #ignore: unknown;
  readonly #secrets: readonly string[];
  #schema: TablestoreSinkSchema | undefined;
  #opening: Promise<TablestoreSinkSchema> | undefined;
  #rowsLimit: number;
  #closed = false;
  readonly #inflight = new Set<Promise<unknown>>();
  readonly #sleepers = new Set<Sleeper>();

  constructor(options: TablestoreSinkOptions) {
    const invalid = (message: string): TablestoreSinkError =>
      new TablestoreSinkError(`tablestore sink: ${message}`, { tableName: options.tableName, code: 'InvalidOptions', retryable: false });
    if (typeof options.tableName !== 'string' || options.tableName === '') throw invalid('tableName is required');
    if (typeof options.instanceName !== 'string' || options.instanceName === '') throw invalid(`instanceName is required (table '${options.tableName}')`);
    const maxRows = options.maxRowsPerRequest ?? DEFAULT_MAX_ROWS;
    if (!Number.isInteger(maxRows) || maxRows < 1 || maxRows > DEFAULT_MAX_ROWS) {
      throw invalid(`maxRowsPerRequest must be an integer in [1, ${DEFAULT_MAX_ROWS}] (the BatchWriteRow limit), got ${String(maxRows)}`);
    }
    const maxBytes = options.maxBytesPerRequest ?? DEFAULT_MAX_BYTES;
    if (!Number.isFinite(maxBytes) || maxBytes <= 0) throw invalid(`maxBytesPerRequest must be a positive number, got ${String(maxBytes)}`);
    const concurrency = options.concurrency ?? 4;
    if (!Number.isInteger(concurrency) || concurrency < 1) throw invalid(`concurrency must be a positive integer, got ${String(concurrency)}`);
    const maxAttempts = options.retry?.maxAttempts ?? DEFAULT_ATTEMPTS;
    if (!(maxAttempts >= 1)) throw invalid(`retry.maxAttempts must be >= 1, got ${String(maxAttempts)}`);
    const rowChangeType = options.rowChangeType ?? 'put';
    if (rowChangeType !== 'put' && rowChangeType !== 'update') throw invalid(`rowChangeType must be 'put' or 'update', got ${String(rowChangeType)}`);
    if (options.catalog === undefined || typeof options.catalog.columns !== 'object' || options.catalog.columns === null) {
      throw invalid(`a catalog is required (table '${options.tableName}')`);
    }

    this.tableName = options.tableName;
    this.rowChangeType = rowChangeType;
    this.#options = options;
    this.#maxRows = maxRows;
    this.#rowsLimit = maxRows;
    this.#maxBytes = maxBytes;
    this.#concurrency = concurrency;
    this.#maxAttempts = maxAttempts;
    this.#retry = { ...DEFAULT_RETRY, ...options.retry };
    this.#scheduler = options.scheduler ?? asyncScheduler;
    this.#secrets = [options.accessKeySecret, options.securityToken].filter((s): s is string => typeof s === 'string' && s.length >= 4);

    const sdk = loadSdk();
    this.#ignore = new sdk.Condition(sdk.RowExistenceExpectation.IGNORE, null);
    if (options.client !== undefined) {
      this.#client = options.client as SdkClient;
      this.#agent = undefined;
    } else {
      let protocol: string;
      try {
        protocol = new URL(options.endpoint).protocol;
      } catch {
        throw invalid(`endpoint is not a URL: ${JSON.stringify(this.#redact(String(options.endpoint)))}`);
      }
      if (protocol !== 'http:' && protocol !== 'https:') throw invalid(`endpoint must be http:// or https://, got ${JSON.stringify(this.#redact(options.endpoint))}`);
      // an agent of our own, so close() can free its keep-alive sockets without touching others
      this.#agent = protocol === 'https:' ? new HttpsAgent({ keepAlive: true }) : new HttpAgent({ keepAlive: true });
      this.#client = new sdk.Client({
        endpoint: options.endpoint,
        instancename: options.instanceName,
        accessKeyId: options.accessKeyId,
        secretAccessKey: options.accessKeySecret,
        ...(options.securityToken === undefined ? {} : { stsToken: options.securityToken }),
        maxRetries: 0,
        httpOptions: { timeout: options.requestTimeoutMs ?? 30_000, agent: this.#agent },
      });
    }
  }

  get keyColumns(): readonly string[] | undefined {
    return this.#schema?.primaryKey.map((column) => column.name);
  }

  get primaryKey(): readonly SinkPrimaryKeyColumn[] | undefined {
    return this.#schema?.primaryKey;
  }

  open(): Promise<TablestoreSinkSchema> {
    if (this.#schema !== undefined) return Promise.resolve(this.#schema);
    if (this.#closed) return Promise.reject(this.#closedError());
    this.#opening ??= this.#track(
      this.#describe().then(
        (schema) => {
          this.#schema = schema;
          this.#opening = undefined;
          return schema;
        },
        (error: unknown) => {
          this.#opening = undefined;
          throw error;
        },
      ),
    );
    return this.#opening;
  }

  write(rows: readonly OutputRow[], context: WriteContext): Promise<TablestoreWriteSummary> {
    if (this.#closed) return Promise.reject(this.#closedError());
    const cells = (i: number): CellsOf => {
      const row = rows[i] as OutputRow;
      return (name) => row[name];
    };
    return this.#track(this.#write({ length: rows.length, cells }, context.batchId));
  }

  writeTable(table: RowTable, context: WriteContext): Promise<TablestoreWriteSummary> {
    if (this.#closed) return Promise.reject(this.#closedError());
    const cells = (i: number): CellsOf => (name) => {
      const column = table.columns.get(name);
      return column === undefined ? undefined : (valueAt(column, i) as OutputValue);
    };
    return this.#track(this.#write({ length: table.length, cells }, context.batchId));
  }

  async close(): Promise<void> {
    if (!this.#closed) {
      this.#closed = true;
      for (const sleeper of [...this.#sleepers]) sleeper.cancel();
    }
    while (this.#inflight.size > 0) await Promise.allSettled([...this.#inflight]);
    this.#agent?.destroy();
  }

  toString(): string {
    return `TablestoreSink(table '${this.tableName}' in instance '${this.#options.instanceName}' at ${this.#redact(String(this.#options.endpoint))}, accessKeyId '${this.#options.accessKeyId}', ${this.rowChangeType})`;
  }

  toJSON(): Record<string, unknown> {
    return { kind: 'TablestoreSink', tableName: this.tableName, instanceName: this.#options.instanceName, endpoint: this.#redact(String(this.#options.endpoint)), rowChangeType: this.rowChangeType };
  }

  [inspect.custom](): string {
    return this.toString();
  }

  // -------------------------------------------------------------------------------------------
  // open

  async #describe(): Promise<TablestoreSinkSchema> {
    const { tableName } = this;
    const instance = this.#options.instanceName;
    for (let attempt = 1; ; attempt++) {
      try {
        const data = (await this.#call('describeTable', { tableName })) as { tableMeta?: { primaryKey?: readonly { name?: unknown; type?: unknown; option?: unknown }[] } };
        return this.#checkSchema(data.tableMeta?.primaryKey ?? []);
      } catch (error) {
        if (error instanceof TablestoreSinkError) throw error;
        const failure = this.#classify(error);
        if (failure.code === 'OTSObjectNotExist') {
          throw this.#error(`tablestore sink: table '${tableName}' does not exist in instance '${instance}' (${failure.message})`, failure, { retryable: false });
        }
        if (!failure.retryable || attempt >= this.#maxAttempts) {
          const what = failure.code === 'OTSAuthFailed' ? `access to instance '${instance}' with access key '${this.#options.accessKeyId}' refused` : `DescribeTable failed`;
          const tries = failure.retryable ? ` after ${attempt} attempt(s)` : '';
          throw this.#error(`tablestore sink: table '${tableName}' in instance '${instance}': ${what}${tries}: ${failure.code}: ${failure.message}`, failure);
        }
        await this.#sleep(retryDelay(this.#retry, attempt));
      }
    }
  }

  #checkSchema(described: readonly { name?: unknown; type?: unknown; option?: unknown }[]): TablestoreSinkSchema {
    const { tableName } = this;
    const refuse = (message: string, column?: string): TablestoreSinkError =>
      new TablestoreSinkError(`tablestore sink: table '${tableName}': ${message}`, {
        tableName,
        code: 'SchemaMismatch',
        retryable: false,
        ...(column === undefined ? {} : { column }),
      });
    const catalog = this.#options.catalog.columns;
    const has = (name: string): boolean => Object.prototype.hasOwnProperty.call(catalog, name);
    if (described.length === 0) throw refuse('DescribeTable returned no primary key');
    const primaryKey = described.map((column): SinkPrimaryKeyColumn => {
      const name = String(column.name);
      const type = pkType(column.type);
      if (type === undefined) throw refuse(`primary key column '${name}' has a type the sink cannot write (${String(column.type)})`, name);
      // own property only: protobufjs puts proto2 defaults on the prototype, and this enum's default is AUTO_INCREMENT
      const option = Object.prototype.hasOwnProperty.call(column, 'option') ? column.option : undefined;
      if (option === 1 || option === 'AUTO_INCREMENT') {
        throw refuse(`primary key column '${name}' is auto-increment; the sink upserts rows by a key taken from the output, so every key column must come from the catalog`, name);
      }
      return { name, type };
    });
    for (const { name, type } of primaryKey) {
      if (!has(name)) {
        throw refuse(`primary key column '${name}' (${type}) is not in the sink's catalog (catalog columns: ${Object.keys(catalog).join(', ') || 'none'})`, name);
      }
      const catalogType = catalog[name]!.type;
      if (PK_COMPATIBLE[type] !== catalogType) {
        throw refuse(`primary key column '${name}' is ${type}, but the catalog types it '${catalogType}' (a ${type} key is written from '${PK_COMPATIBLE[type]}')`, name);
      }
    }
    const keyNames = new Set(primaryKey.map((column) => column.name));
    const attributes = Object.entries(catalog)
      .filter(([name]) => !keyNames.has(name))
      .map(([name, column]) => ({ name, type: column.type }));
    for (const { name } of attributes) {
      if (name === 'timestamp') {
        throw refuse(
          "attribute column 'timestamp' cannot be written through the Node SDK: it reads an attribute entry's 'timestamp' key as the cell version, so the value would become its own version (and updates fail); rename the column (e.g. AS ts)",
          name,
        );
      }
      if (!COLUMN_NAME.test(name) || Buffer.byteLength(name) > 255) {
        throw refuse(`attribute column name ${JSON.stringify(name)} is not a valid Tablestore column name (letters, digits and '_', not starting with a digit, at most 255 bytes)`, name);
      }
    }
    return { tableName, instanceName: this.#options.instanceName, primaryKey, attributes };
  }

  // -------------------------------------------------------------------------------------------
  // write

  async #write(rows: RowsOf, batchId: number): Promise<TablestoreWriteSummary> {
    const schema = await this.open();
    const { prepared, skipped } = this.#prepare(rows, schema);
    const stats: Stats = { requests: 0, splits: 0 };
    let retriedRows = 0;
    let pending = prepared;
    for (let attempt = 1; pending.length > 0; attempt++) {
      const outcome = await this.#sendAll(pending, stats);
      if (outcome.fatal.length > 0) {
        const [first] = outcome.fatal as [TablestoreSinkError, ...TablestoreSinkError[]];
        if (outcome.fatal.length === 1) throw first;
        throw new TablestoreSinkError(`${first.message} (and ${outcome.fatal.length - 1} more failed row(s) in batch ${batchId})`, {
          tableName: first.tableName,
          code: first.code,
          retryable: false,
          ...(first.primaryKey === undefined ? {} : { primaryKey: first.primaryKey }),
          ...(first.requestId === undefined ? {} : { requestId: first.requestId }),
        });
      }
      if (outcome.retry.length === 0) break;
      const last = outcome.last!;
      const unwritten = `${outcome.retry.length} row(s) of batch ${batchId} not written (last error ${last.code}: ${last.message})`;
      if (this.#closed) throw this.#closedError(unwritten);
      if (attempt >= this.#maxAttempts) {
        const sample = outcome.retry[0]!.keyText;
        throw this.#error(
          `tablestore sink: table '${this.tableName}': ${outcome.retry.length} row(s) of batch ${batchId} still failing after ${attempt} attempt(s) (first: ${sample}): ${last.code}: ${last.message}`,
          last,
          { retryable: true, ...(outcome.retry.length === 1 ? { primaryKey: sample } : {}) },
        );
      }
      retriedRows += outcome.retry.length;
      try {
        await this.#sleep(retryDelay(this.#retry, attempt));
      } catch {
        throw this.#closedError(unwritten);
      }
      pending = outcome.retry;
    }
    return { batchId, rows: prepared.length, skipped, requests: stats.requests, retriedRows, splits: stats.splits };
  }

  /** Checks and converts every row; rows sharing a key collapse (put: the last wins; update: later columns win). */
  #prepare(rows: RowsOf, schema: TablestoreSinkSchema): { prepared: PreparedRow[]; skipped: number } {
    const byIdentity = new Map<string, PreparedRow>();
    for (let i = 0; i < rows.length; i++) {
      const prepared = this.#convert(rows.cells(i), schema);
      const earlier = byIdentity.get(prepared.identity);
      if (earlier !== undefined && this.rowChangeType === 'update') {
        for (const [name, cell] of prepared.attributes) earlier.attributes.set(name, cell);
        continue;
      }
      if (earlier !== undefined) byIdentity.delete(prepared.identity); // keep the order of the last write
      byIdentity.set(prepared.identity, prepared);
    }
    const prepared = [...byIdentity.values()];
    if (this.rowChangeType === 'put') return { prepared, skipped: 0 };
    // the service refuses an update without columns; with nothing non-null there is nothing to change
    const withColumns = prepared.filter((row) => row.attributes.size > 0);
    return { prepared: withColumns, skipped: prepared.length - withColumns.length };
  }

  #convert(row: CellsOf, schema: TablestoreSinkSchema): PreparedRow {
    const { tableName } = this;
    const catalog = this.#options.catalog.columns;
    const keyParts: string[] = [];
    const identityParts: string[] = [];
    const primaryKey: SdkCell[] = [];
    let keyBytes = 0;
    const presentKey = (): string =>
      schema.primaryKey
        .filter((column) => row(column.name) !== undefined && row(column.name) !== null)
        .map((column) => `${column.name}=${describeValue(row(column.name) as OutputValue)}`)
        .join(', ');
    for (const column of schema.primaryKey) {
      const value = row(column.name);
      if (value === undefined || value === null) {
        const others = presentKey();
        throw new TablestoreSinkError(
          `tablestore sink: table '${tableName}': a row has no value for primary key column '${column.name}' (${value === null ? 'null' : 'absent'}; other key values: ${others === '' ? 'none' : others})`,
          { tableName, code: 'InvalidRow', retryable: false, column: column.name, primaryKey: others },
        );
      }
      const converted = convertValue(value, catalog[column.name]!.type);
      if (typeof converted === 'string') {
        throw new TablestoreSinkError(`tablestore sink: table '${tableName}': row (${presentKey()}), primary key column '${column.name}' (${column.type}): ${converted}`, {
          tableName,
          code: 'InvalidRow',
          retryable: false,
          column: column.name,
          primaryKey: presentKey(),
        });
      }
      primaryKey.push({ [column.name]: converted.value });
      keyBytes += CELL_OVERHEAD + Buffer.byteLength(column.name) + converted.bytes;
      keyParts.push(`${column.name}=${describeValue(value)}`);
      identityParts.push(identityOf(value, column.type));
    }
    const keyText = keyParts.join(', ');
    const attributes = new Map<string, { value: unknown; bytes: number }>();
    for (const { name, type } of schema.attributes) {
      const value = row(name);
      if (value === undefined || value === null) continue;
      const converted = convertValue(value, type);
      if (typeof converted === 'string') {
        throw new TablestoreSinkError(`tablestore sink: table '${tableName}': row (${keyText}), column '${name}' (${type}): ${converted}`, {
          tableName,
          code: 'InvalidRow',
          retryable: false,
          column: name,
          primaryKey: keyText,
        });
      }
      attributes.set(name, { value: converted.value, bytes: CELL_OVERHEAD + Buffer.byteLength(name) + converted.bytes });
    }
    return { identity: identityParts.join(','), keyText, primaryKey, attributes, keyBytes };
  }

  /** One round: every pending row once, in requests of bounded size, a few at a time. */
  async #sendAll(rows: readonly PreparedRow[], stats: Stats): Promise<ChunkOutcome> {
    const chunks = this.#chunk(rows);
    const total: ChunkOutcome = { retry: [], fatal: [], last: undefined };
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < chunks.length && total.fatal.length === 0) {
        const chunk = chunks[next++]!;
        const outcome = await this.#sendChunk(chunk, stats);
        total.retry.push(...outcome.retry);
        total.fatal.push(...outcome.fatal);
        total.last = outcome.last ?? total.last;
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.#concurrency, chunks.length) }, worker));
    return total;
  }

  #chunk(rows: readonly PreparedRow[]): PreparedRow[][] {
    const budget = this.#maxBytes - REQUEST_OVERHEAD - Buffer.byteLength(this.tableName);
    const chunks: PreparedRow[][] = [];
    let current: PreparedRow[] = [];
    let bytes = 0;
    for (const row of rows) {
      const size = rowBytes(row);
      if (current.length > 0 && (current.length >= this.#rowsLimit || bytes + size > budget)) {
        chunks.push(current);
        current = [];
        bytes = 0;
      }
      current.push(row);
      bytes += size;
    }
    if (current.length > 0) chunks.push(current);
    return chunks;
  }

  async #sendChunk(chunk: readonly PreparedRow[], stats: Stats): Promise<ChunkOutcome> {
    stats.requests++;
    let data: unknown;
    try {
      data = await this.#call('batchWriteRow', { tables: [{ tableName: this.tableName, rows: chunk.map((row) => this.#sdkRow(row)) }] });
    } catch (error) {
      const failure = this.#classify(error);
      if (failure.tooLarge && chunk.length > 1) {
        stats.splits++;
        const cut = Math.max(1, Math.floor(chunk.length * BACKOFF_FRACTION));
        this.#rowsLimit = Math.min(this.#rowsLimit, cut);
        const first = await this.#sendChunk(chunk.slice(0, cut), stats);
        const second = first.fatal.length > 0 ? { retry: [], fatal: [], last: undefined } : await this.#sendChunk(chunk.slice(cut), stats);
        return { retry: [...first.retry, ...second.retry], fatal: [...first.fatal, ...second.fatal], last: second.last ?? first.last };
      }
      if (failure.retryable) return { retry: [...chunk], fatal: [], last: failure };
      const row = chunk.length === 1 ? chunk[0] : undefined;
      const scope = row === undefined ? `a BatchWriteRow request of ${chunk.length} row(s) (first: ${chunk[0]!.keyText})` : `row (${row.keyText})`;
      const hint =
        failure.code === 'OTSObjectNotExist'
          ? ` (table '${this.tableName}' does not exist in instance '${this.#options.instanceName}')`
          : failure.tooLarge
            ? ' (the row alone is too large for one request)'
            : '';
      return {
        retry: [],
        fatal: [
          this.#error(`tablestore sink: table '${this.tableName}': ${scope} failed: ${failure.code}: ${failure.message}${hint}`, failure, {
            ...(row === undefined ? {} : { primaryKey: row.keyText }),
          }),
        ],
        last: failure,
      };
    }
    const results = (data as { tables?: readonly BatchRowResult[] } | undefined)?.tables;
    if (!Array.isArray(results) || results.length !== chunk.length) {
      const failure: Failure = {
        code: 'OTSClientError',
        message: `BatchWriteRow answered ${Array.isArray(results) ? results.length : 'no'} row result(s) for ${chunk.length} row(s)`,
        retryable: true,
        tooLarge: false,
      };
      return { retry: [...chunk], fatal: [], last: failure };
    }
    this.#rowsLimit = Math.min(this.#maxRows, this.#rowsLimit + GROWTH_PER_SUCCESS);
    const outcome: ChunkOutcome = { retry: [], fatal: [], last: undefined };
    results.forEach((result, index) => {
      if (result.isOk === true) return;
      const row = chunk[index]!;
      const code = result.errorCode ?? 'OTSClientError';
      const message = this.#redact(result.errorMessage ?? '');
      const failure: Failure = { code, message, retryable: retryableCode(code, message), tooLarge: false };
      if (failure.retryable) {
        outcome.retry.push(row);
        outcome.last = failure;
        return;
      }
      const hint = code === 'OTSObjectNotExist' ? ` (table '${this.tableName}' does not exist in instance '${this.#options.instanceName}')` : '';
      outcome.fatal.push(
        new TablestoreSinkError(`tablestore sink: table '${this.tableName}': row (${row.keyText}) was refused: ${code}: ${message}${hint}`, {
          tableName: this.tableName,
          code,
          retryable: false,
          primaryKey: row.keyText,
        }),
      );
    });
    return outcome;
  }

  #sdkRow(row: PreparedRow): unknown {
    const columns = [...row.attributes].map(([name, cell]) => ({ [name]: cell.value }));
    return this.rowChangeType === 'put'
      ? { type: 'PUT', condition: this.#ignore, primaryKey: row.primaryKey, attributeColumns: columns }
      : { type: 'UPDATE', condition: this.#ignore, primaryKey: row.primaryKey, attributeColumns: [{ PUT: columns }] };
  }

  // -------------------------------------------------------------------------------------------
  // plumbing

  #call(operation: 'describeTable' | 'batchWriteRow', params: unknown): Promise<unknown> {
    return new Promise((resolve, reject) => {
      try {
        const method = this.#client[operation] as (params: unknown, callback: Callback) => unknown;
        method.call(this.#client, params, (error: unknown, data: unknown) => (error === null || error === undefined ? resolve(data) : reject(error as Error)));
      } catch (error) {
        reject(error as Error);
      }
    });
  }

  /** What an SDK error stands for, and whether another try can help. */
  #classify(error: unknown): Failure {
    const service = serviceErrorFromSdkError(error);
    if (service !== undefined) {
      const message = this.#redact(service.message);
      return {
        code: service.code,
        message,
        retryable: retryableCode(service.code, message, service.httpStatus),
        tooLarge: tooLarge(service.code, message),
        httpStatus: service.httpStatus,
        ...(service.requestId === undefined ? {} : { requestId: service.requestId }),
      };
    }
    const { code, message } = (typeof error === 'object' && error !== null ? error : {}) as { code?: unknown; message?: unknown };
    const text = this.#redact(typeof message === 'string' ? message.split(' requestId:')[0]! : String(error));
    if (code === 'NetworkingError' || code === 'TimeoutError') return { code, message: text, retryable: true, tooLarge: false };
    if (typeof code === 'number') {
      // a status whose body is not a service error (a proxy in between): 5xx and 429 are transient
      return { code: `HTTP${code}`, message: text === '' ? `HTTP ${code}` : text, retryable: code >= 500 || code === 429, tooLarge: code === 413, httpStatus: code };
    }
    if (typeof code === 'string' && code !== '') return { code, message: text, retryable: false, tooLarge: false };
    // thrown while building the request or decoding the answer: the same rows would fail the same way
    return { code: 'OTSClientError', message: text, retryable: false, tooLarge: false };
  }

  #error(message: string, failure: Failure, extra: { readonly retryable?: boolean; readonly primaryKey?: string } = {}): TablestoreSinkError {
    return new TablestoreSinkError(this.#redact(message), {
      tableName: this.tableName,
      code: failure.code,
      retryable: extra.retryable ?? failure.retryable,
      ...(extra.primaryKey === undefined ? {} : { primaryKey: extra.primaryKey }),
      ...(failure.requestId === undefined ? {} : { requestId: failure.requestId }),
    });
  }

  #closedError(detail?: string): TablestoreSinkError {
    const message = `tablestore sink: table '${this.tableName}': the sink is closed${detail === undefined ? '' : `, ${detail}`}`;
    return new TablestoreSinkError(this.#redact(message), { tableName: this.tableName, code: 'SinkClosed', retryable: false });
  }

  #redact(text: string): string {
    let out = text;
    for (const secret of this.#secrets) out = out.split(secret).join('***');
    return out;
  }

  #track<T>(promise: Promise<T>): Promise<T> {
    this.#inflight.add(promise);
    const forget = (): void => void this.#inflight.delete(promise);
    promise.then(forget, forget);
    return promise;
  }

  /** A retry wait that close() cuts short (the waiting write then fails as closed). */
  #sleep(ms: number): Promise<void> {
    if (this.#closed) return Promise.reject(this.#closedError());
    return new Promise((resolve, reject) => {
      const sleeper: Sleeper = {
        cancel: () => {
          wait.unsubscribe();
          this.#sleepers.delete(sleeper);
          reject(this.#closedError());
        },
      };
      const wait = this.#scheduler.schedule(() => {
        this.#sleepers.delete(sleeper);
        resolve();
      }, ms);
      this.#sleepers.add(sleeper);
    });
  }
}

// ---------------------------------------------------------------------------------------------
// values

const pkType = (type: unknown): PrimaryKeyType | undefined => {
  switch (type) {
    case 1:
    case 'INTEGER':
      return 'INTEGER';
    case 2:
    case 'STRING':
      return 'STRING';
    case 3:
    case 'BINARY':
      return 'BINARY';
    default:
      return undefined;
  }
};

const isWindowBounds = (value: OutputValue): value is { readonly start: number; readonly end: number } =>
  typeof value === 'object' && value !== null && !(value instanceof Uint8Array);

/** The SDK value for a catalog type and its payload size, or why the value cannot be written. */
function convertValue(value: OutputValue, type: CatalogType): { readonly value: unknown; readonly bytes: number } | string {
  if (isWindowBounds(value)) {
    return `window bounds ${describeValue(value)} cannot be stored in a column; select window.start or window.end (cast to string or long) instead`;
  }
  const got = (): string => `${kindOf(value)} ${describeValue(value)}`;
  switch (type) {
    case 'long': {
      if (typeof value === 'number') {
        if (!Number.isInteger(value)) return `${got()} cannot be written as long: not an integer`;
        if (!Number.isSafeInteger(value)) return `${got()} cannot be written as long exactly: beyond ±2^53 a number has lost digits (use a bigint)`;
        return { value: loadSdk().Long.fromString(String(value)), bytes: 8 };
      }
      if (typeof value === 'bigint') {
        if (value < INT64_MIN || value > INT64_MAX) return `${got()} cannot be written as long: outside the 64-bit range`;
        return { value: loadSdk().Long.fromString(value.toString()), bytes: 8 };
      }
      return `${got()} cannot be written as long`;
    }
    case 'double': {
      const number = typeof value === 'bigint' ? Number(value) : value;
      if (typeof number !== 'number') return `${got()} cannot be written as double`;
      if (!Number.isFinite(number)) return `${got()} cannot be written as double: the service refuses NaN and infinities`;
      // a JS number is what the SDK encodes as DOUBLE (integral values included)
      return { value: number, bytes: 8 };
    }
    case 'string':
      return typeof value === 'string' ? { value, bytes: 4 + Buffer.byteLength(value) } : `${got()} cannot be written as string`;
    case 'boolean':
      return typeof value === 'boolean' ? { value, bytes: 1 } : `${got()} cannot be written as boolean`;
    case 'binary': {
      if (!(value instanceof Uint8Array)) return `${got()} cannot be written as binary`;
      const buffer = Buffer.isBuffer(value) ? value : Buffer.from(value.buffer, value.byteOffset, value.byteLength);
      return { value: buffer, bytes: 4 + buffer.length };
    }
  }
}

const kindOf = (value: OutputValue): string =>
  value instanceof Uint8Array ? 'binary' : typeof value === 'number' ? (Number.isInteger(value) ? 'integer' : 'number') : typeof value;

/** A value for messages: short, typed, never the whole of a large string. */
function describeValue(value: OutputValue): string {
  const clip = (text: string): string => (text.length > 80 ? `${text.slice(0, 77)}...` : text);
  if (value === null) return 'null';
  if (typeof value === 'string') return clip(JSON.stringify(value));
  if (typeof value === 'bigint') return `${value}n`;
  if (value instanceof Uint8Array) return clip(`0x${Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('hex')}`);
  if (typeof value === 'object') return `{start: ${value.start}, end: ${value.end}}`;
  return String(value);
}

/** The identity of a key cell by the value it is written as: 1, 1n and 1.0 into INTEGER are one key. */
function identityOf(value: OutputValue, type: PrimaryKeyType): string {
  switch (type) {
    case 'STRING':
      return JSON.stringify(value);
    case 'INTEGER':
      return `i${String(value)}`;
    case 'BINARY': {
      const bytes = value as Uint8Array;
      return `b${Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex')}`;
    }
  }
}
