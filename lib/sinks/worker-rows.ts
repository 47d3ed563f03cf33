/**
 * The worker rows of a job whose state lives in a Tablestore table (`checkpoint.table`): one row
 * per worker process, in the same table as the channel and partial rows (tablestore-state.ts).
 *
 * | row | columns | written by |
 * | --- | --- | --- |
 * | (job, `w:<worker id>`, ``) | host, pid, started, clients (JSON), renewals, state, held (JSON), drained, judgedBy | the worker (renewals); a watcher (state `dying` → `dead`) |
 *
 * - A worker writes its row when it starts and records each of its tunnel client ids before that
 *   client's first heartbeat; every renewal (about every 2 s) adds one to `renewals` with a write
 *   conditional on the value it wrote last, and says which channels it runs and whether they are
 *   all drained (caught up and committed).
 * - A watcher that saw `renewals` stand still on its own clock for a few renewal periods judges the
 *   worker dead with a write conditional on the value it saw (only one watcher wins; a worker that
 *   renewed meanwhile wins over all of them): `state` `dying`, `renewals` + 1 — so the judged
 *   worker's next renewal is refused and it learns it was judged dead. The watcher then ends the
 *   worker's tunnel clients with ShutdownTunnel and writes `dead`.
 * - A row seen `dead` or `stopped`, unchanged, for 10 minutes is deleted by a watcher (conditional
 *   on the counter it saw): restarts do not make the rows every worker reads grow without end.
 * - Nothing compares clocks of different machines: `started` is for people to read.
 */
import { createRequire } from 'node:module';
import { call, StateTableError } from './tablestore-state.js';
import { sdkClient, type TableConnection } from './tablestore-table.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Sdk = any;
const TableStore: Sdk = createRequire(import.meta.url)('tablestore');

export type WorkerState = 'live' | 'dying' | 'dead' | 'stopped';

export interface WorkerIdentity {
  /** unique per process run: `<host>:<pid>:<start, base 36>` */
  readonly id: string;
  readonly host: string;
  readonly pid: number;
  /** when it started (this machine's clock; shown, never compared) */
  readonly started: number;
}

export interface WorkerRecord extends WorkerIdentity {
  readonly clients: readonly string[];
  readonly renewals: number;
  readonly state: WorkerState;
  /** the channels it runs, as of its last renewal */
  readonly held: readonly string[];
  /** all of them caught up and committed, as of its last renewal */
  readonly drained: boolean;
  /** the worker that judged it dead */
  readonly judgedBy?: string;
}

/** `host pid 123`: how a worker is named to people */
export const workerName = (worker: Pick<WorkerIdentity, 'host' | 'pid'>): string => `${worker.host} pid ${worker.pid}`;

export interface WorkerStatus {
  readonly clients: readonly string[];
  readonly held: readonly string[];
  readonly drained: boolean;
}

const STATES: readonly WorkerState[] = ['live', 'dying', 'dead', 'stopped'];

const num = (value: unknown): number => (typeof value === 'number' ? value : typeof value === 'object' && value !== null && 'toNumber' in value ? (value as { toNumber(): number }).toNumber() : Number(value));
const long = (n: number): unknown => TableStore.Long.fromNumber(n);

const strings = (text: unknown): string[] => {
  if (typeof text !== 'string') return [];
  try {
    const parsed: unknown = JSON.parse(text);
    return Array.isArray(parsed) ? parsed.filter((item): item is string => typeof item === 'string') : [];
  } catch {
    return [];
  }
};

/** a worker row as the SDK returns it; undefined when it is not one */
export function workerRecordOf(row: Sdk): WorkerRecord | undefined {
  const k = String(row?.primaryKey?.[1]?.value ?? '');
  if (!k.startsWith('w:')) return undefined;
  const cells = new Map<string, unknown>();
  for (const cell of row.attributes ?? []) cells.set(String(cell.columnName), cell.columnValue);
  const state = String(cells.get('state') ?? '');
  const judgedBy = cells.get('judgedBy');
  return {
    id: k.slice(2),
    host: String(cells.get('host') ?? ''),
    pid: num(cells.get('pid') ?? 0),
    started: num(cells.get('started') ?? 0),
    clients: strings(cells.get('clients')),
    renewals: num(cells.get('renewals') ?? 0),
    state: (STATES as readonly string[]).includes(state) ? (state as WorkerState) : 'live',
    held: strings(cells.get('held')),
    drained: cells.get('drained') === true,
    ...(typeof judgedBy === 'string' && judgedBy !== '' ? { judgedBy } : {}),
  };
}

export class WorkerRows {
  readonly tableName: string;
  private readonly job: string;
  private readonly client: Sdk;

  constructor(options: TableConnection & { readonly tableName: string; readonly job: string }) {
    this.tableName = options.tableName;
    this.job = options.job;
    this.client = sdkClient(options);
  }

  private key(id: string): Sdk[] {
    return [{ job: this.job }, { k: `w:${id}` }, { c: '' }];
  }

  /** Writes this worker's row: live, renewals 0, no clients yet. */
  async register(worker: WorkerIdentity): Promise<void> {
    await call(
      this.client,
      'putRow',
      {
        tableName: this.tableName,
        condition: new TableStore.Condition(TableStore.RowExistenceExpectation.IGNORE, null),
        primaryKey: this.key(worker.id),
        attributeColumns: [{ host: worker.host }, { pid: long(worker.pid) }, { started: long(worker.started) }, { clients: '[]' }, { renewals: long(0) }, { state: 'live' }, { held: '[]' }, { drained: false }],
      },
      `PutRow ${this.tableName} worker ${worker.id}`,
    );
  }

  /**
   * Sets `columns` and `renewals` = expected + 1 if the row's `renewals` is still `expected`;
   * false when it is not (another writer came first).
   */
  async update(id: string, expected: number, columns: { readonly state?: WorkerState; readonly status?: WorkerStatus; readonly judgedBy?: string }): Promise<boolean> {
    const puts: Sdk[] = [{ renewals: long(expected + 1) }];
    if (columns.state !== undefined) puts.push({ state: columns.state });
    if (columns.status !== undefined) puts.push({ clients: JSON.stringify(columns.status.clients) }, { held: JSON.stringify(columns.status.held) }, { drained: columns.status.drained });
    if (columns.judgedBy !== undefined) puts.push({ judgedBy: columns.judgedBy });
    try {
      await call(
        this.client,
        'updateRow',
        {
          tableName: this.tableName,
          condition: new TableStore.Condition(TableStore.RowExistenceExpectation.EXPECT_EXIST, new TableStore.SingleColumnCondition('renewals', long(expected), TableStore.ComparatorType.EQUAL, false)),
          primaryKey: this.key(id),
          updateOfAttributeColumns: [{ PUT: puts }],
        },
        `UpdateRow ${this.tableName} worker ${id}`,
      );
      return true;
    } catch (error) {
      if (error instanceof StateTableError && error.code === 'OTSConditionCheckFail') return false;
      throw error;
    }
  }

  /** Deletes the row if its `renewals` is still `expected` (a row long dead or stopped); false when it is not. */
  async remove(id: string, expected: number): Promise<boolean> {
    try {
      await call(
        this.client,
        'deleteRow',
        {
          tableName: this.tableName,
          condition: new TableStore.Condition(TableStore.RowExistenceExpectation.EXPECT_EXIST, new TableStore.SingleColumnCondition('renewals', long(expected), TableStore.ComparatorType.EQUAL, false)),
          primaryKey: this.key(id),
        },
        `DeleteRow ${this.tableName} worker ${id}`,
      );
      return true;
    } catch (error) {
      if (error instanceof StateTableError && error.code === 'OTSConditionCheckFail') return false;
      throw error;
    }
  }

  async read(id: string): Promise<WorkerRecord | undefined> {
    const data = await call(this.client, 'getRow', { tableName: this.tableName, primaryKey: this.key(id), maxVersions: 1 }, `GetRow ${this.tableName} worker ${id}`);
    if (data.row?.primaryKey === undefined || data.row.primaryKey === null || (data.row.attributes ?? []).length === 0) return undefined;
    return workerRecordOf(data.row);
  }

  /** Per channel row of the job, the owner its last claim wrote (only that column: commits hold the whole state). */
  async claims(): Promise<{ channelId: string; owner: string }[]> {
    const out: { channelId: string; owner: string }[] = [];
    let start: Sdk[] | null = [{ job: this.job }, { k: 'c:' }, { c: TableStore.INF_MIN }];
    const end = [{ job: this.job }, { k: 'c;' }, { c: TableStore.INF_MIN }];
    while (start !== null) {
      const data = await call(
        this.client,
        'getRange',
        { tableName: this.tableName, direction: TableStore.Direction.FORWARD, inclusiveStartPrimaryKey: start, exclusiveEndPrimaryKey: end, maxVersions: 1, limit: 5000, columnsToGet: ['owner'] },
        `GetRange ${this.tableName} channel owners`,
      );
      for (const row of data.rows ?? []) {
        const owner = (row.attributes ?? []).find((cell: Sdk) => cell.columnName === 'owner')?.columnValue;
        out.push({ channelId: String(row.primaryKey[1].value).slice(2), owner: typeof owner === 'string' ? owner : '' });
      }
      start = data.nextStartPrimaryKey === null || data.nextStartPrimaryKey === undefined ? null : data.nextStartPrimaryKey.map((cell: Sdk) => ({ [cell.name]: cell.value }));
    }
    return out;
  }

  /** Every worker row of the job. */
  async list(): Promise<WorkerRecord[]> {
    const out: WorkerRecord[] = [];
    let start: Sdk[] | null = [{ job: this.job }, { k: 'w:' }, { c: TableStore.INF_MIN }];
    const end = [{ job: this.job }, { k: 'w;' }, { c: TableStore.INF_MIN }];
    while (start !== null) {
      const data = await call(
        this.client,
        'getRange',
        { tableName: this.tableName, direction: TableStore.Direction.FORWARD, inclusiveStartPrimaryKey: start, exclusiveEndPrimaryKey: end, maxVersions: 1, limit: 1000 },
        `GetRange ${this.tableName} workers`,
      );
      for (const row of data.rows ?? []) {
        const record = workerRecordOf(row);
        if (record !== undefined) out.push(record);
      }
      start = data.nextStartPrimaryKey === null || data.nextStartPrimaryKey === undefined ? null : data.nextStartPrimaryKey.map((cell: Sdk) => ({ [cell.name]: cell.value }));
    }
    return out;
  }
}

export interface JobRows {
  readonly job: string;
  readonly workers: readonly WorkerRecord[];
  /** per channel row: the channel and the owner its last claim wrote */
  readonly channels: readonly { readonly channelId: string; readonly owner: string; readonly epoch: number }[];
}

/**
 * Every job's worker and channel rows in a state table, for `otsflow tunnel describe --state-table`:
 * one GetRange per job to find the next job, then its `c:` and `w:` rows (never its partials).
 */
export async function readJobRows(connection: TableConnection, tableName: string): Promise<JobRows[]> {
  const client = sdkClient(connection);
  const range = async (start: Sdk[], end: Sdk[], limit: number, columns?: readonly string[]): Promise<Sdk[]> => {
    const rows: Sdk[] = [];
    let from: Sdk[] | null = start;
    while (from !== null) {
      const data = await call(
        client,
        'getRange',
        { tableName, direction: TableStore.Direction.FORWARD, inclusiveStartPrimaryKey: from, exclusiveEndPrimaryKey: end, maxVersions: 1, limit: Math.min(limit, 5000), ...(columns === undefined ? {} : { columnsToGet: columns }) },
        `GetRange ${tableName}`,
      );
      rows.push(...(data.rows ?? []));
      from = rows.length >= limit || data.nextStartPrimaryKey === null || data.nextStartPrimaryKey === undefined ? null : data.nextStartPrimaryKey.map((cell: Sdk) => ({ [cell.name]: cell.value }));
    }
    return rows;
  };
  const jobs: JobRows[] = [];
  let after: Sdk[] = [{ job: TableStore.INF_MIN }, { k: TableStore.INF_MIN }, { c: TableStore.INF_MIN }];
  const last = [{ job: TableStore.INF_MAX }, { k: TableStore.INF_MAX }, { c: TableStore.INF_MAX }];
  for (let guard = 0; guard < 1_000; guard++) {
    const [first] = await range(after, last, 1);
    if (first === undefined) break;
    const job = String(first.primaryKey[0].value);
    const channels = (await range([{ job }, { k: 'c:' }, { c: TableStore.INF_MIN }], [{ job }, { k: 'c;' }, { c: TableStore.INF_MIN }], 100_000, ['owner', 'epoch'])).map((row) => {
      const cells = new Map<string, unknown>();
      for (const cell of row.attributes ?? []) cells.set(String(cell.columnName), cell.columnValue);
      return { channelId: String(row.primaryKey[1].value).slice(2), owner: String(cells.get('owner') ?? ''), epoch: num(cells.get('epoch') ?? 0) };
    });
    const workers = (await range([{ job }, { k: 'w:' }, { c: TableStore.INF_MIN }], [{ job }, { k: 'w;' }, { c: TableStore.INF_MIN }], 100_000)).map(workerRecordOf).filter((record): record is WorkerRecord => record !== undefined);
    jobs.push({ job, workers, channels });
    // the next job: past every row of this one
    after = [{ job }, { k: TableStore.INF_MAX }, { c: TableStore.INF_MAX }];
  }
  return jobs;
}
