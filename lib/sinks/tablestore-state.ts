/**
 * Job state in a Tablestore table (`checkpoint.table`): what lets one aggregating job run as many
 * workers on many machines, and continue on any of them after any one is lost.
 *
 * One table, primary key (job STRING, k STRING, c STRING), created when missing:
 *
 * | row | columns | written by |
 * | --- | --- | --- |
 * | (job, `c`, ``) | final (the final mark) | whoever finds windows final, only upwards |
 * | (job, `c:<channel>`, ``) | epoch, owner, plan (JSON), planned, idle, commit (JSON), committed, wm | the channel's owner, fenced by epoch |
 * | (job, `p:<group>`, `<channel>`) | batch, acc (JSON accumulators), prevBatch, prev (before `batch`) | the channel's owner; a later batch's partial stays |
 *
 * A worker that is given a channel by the tunnel *claims* it: reads the channel row and bumps its
 * epoch with a conditional write (expecting the epoch, plan and commit it read), then continues
 * from the channel's commit (and re-runs its planned-but-uncommitted batch). Every later plan and
 * commit of the channel is conditional on that epoch, so a worker that lost the channel (a
 * zombie: paused past its lease, then resumed) has its next plan or commit refused and stops the
 * channel. Partials are written only if the stored one is from an earlier batch: a zombie can
 * only repeat what the new owner replays (the same plan, the same accumulators).
 *
 * A commit carries no aggregate groups (`groupsInPartials`): the partial rows hold them, and a
 * claim rebuilds the channel's state from its rows — `acc` where `batch` is committed, `prev`
 * where `batch` is the pending one. Sink rows are merged from every channel's partials and
 * written with `_otsflow_version` (the sum over the partials of batch id + 1) only when the stored
 * version is lower (see merge-partials.ts); in append mode, a window is emitted once it is final
 * for the job — its end at or before the job watermark, which combines every channel row's `wm`
 * and `idle` — and written once. Windows final for the job move the final mark up (every plan's
 * floor: later rows for them are late) and lose their partial rows.
 *
 * This layer may use the official SDK; the stream layer sees only CheckpointStore and PartialStore.
 */
import { createRequire } from 'node:module';
import * as E from 'fp-ts/lib/Either.js';
import { serviceErrorFromSdkError } from '../wire/errors.js';
import { encodeState, decodeState } from '../stream/checkpoint/state-codec.js';
import { CheckpointError, commitCodec, describeErrors, planCodec, type BatchCommit, type BatchPlan, type CheckpointStore, type RestoredCheckpoint } from '../stream/checkpoint/store.js';
import type { PartialGroup } from '../stream/batch.js';
import type { JsonValue } from '../stream/source.js';
import { VERSION_FIELD, type ChannelAfter, type MergedGroups, type PartialStore } from '../stream/merge-partials.js';
import type { Sink } from '../stream/sink.js';
import type { OutputRow, OutputValue, Value } from '../stream/table.js';
import { sdkClient, type TableConnection } from './tablestore-table.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Sdk = any;
const TableStore: Sdk = createRequire(import.meta.url)('tablestore');

/** The sink column that holds a merged row's version. */
export const SINK_VERSION_COLUMN = '_otsflow_version';

/** how long a caught-up channel's batch waits for the batches of channels finishing with it (append mode) */
const FINISHING_WAIT_MS = 2_000;

/** the job row: `k` sorts before every channel row (`c:<channel>`), so one GetRange reads them all */
const JOB_ROW = 'c';

export class FencedError extends Error {
  override readonly name = 'FencedError';
  constructor(
    readonly channelId: string,
    message: string,
  ) {
    super(message);
  }
}

export class StateTableError extends Error {
  override readonly name = 'StateTableError';
  constructor(
    message: string,
    readonly code: string | undefined,
  ) {
    super(message);
  }
}

/** One SDK call on a state table; a failure is a StateTableError with the service's code when there is one. */
export function call(client: Sdk, operation: string, params: Record<string, unknown>, what: string): Promise<Sdk> {
  return new Promise((resolve, reject) => {
    client[operation](params, (error: Sdk, data: Sdk) => {
      if (error === null || error === undefined) {
        resolve(data);
        return;
      }
      const service = serviceErrorFromSdkError(error);
      if (service !== undefined) reject(new StateTableError(`${what}: ${service.code} (${service.message})`, service.code));
      else reject(new StateTableError(`${what}: cannot reach ${String(client.config?.endpoint ?? '')} (${String(error.message ?? error)})`, typeof error.code === 'string' ? error.code : undefined));
    });
  });
}

/** transient failures worth another try (the state calls are idempotent or conditional) */
const transient = (error: unknown): boolean =>
  error instanceof StateTableError && (error.code === undefined || /ServerBusy|ServerUnavailable|Timeout|InternalServerError|QuotaExhausted|RowOperationConflict|TableNotReady|PartitionUnavailable|ECONN|EPIPE|ETIMEDOUT|socket/i.test(error.code));

async function retrying<T>(what: () => Promise<T>, attempts = 8): Promise<T> {
  let delay = 50;
  for (let attempt = 1; ; attempt++) {
    try {
      return await what();
    } catch (error) {
      if (attempt >= attempts || !transient(error)) throw error;
      await new Promise((resolve) => setTimeout(resolve, delay * (0.8 + Math.random() * 0.4)));
      delay = Math.min(delay * 2, 2_000);
    }
  }
}

const num = (value: unknown): number => (typeof value === 'number' ? value : typeof value === 'object' && value !== null && 'toNumber' in value ? (value as { toNumber(): number }).toNumber() : Number(value));
const long = (n: number): unknown => TableStore.Long.fromNumber(n);

function attributes(row: Sdk): Map<string, unknown> {
  const out = new Map<string, unknown>();
  for (const cell of row?.attributes ?? []) out.set(String(cell.columnName), cell.columnValue);
  return out;
}

export interface ChannelClaim {
  readonly channelId: string;
  readonly epoch: number;
  readonly restored: RestoredCheckpoint;
}

export interface ChannelRecord {
  readonly channelId: string;
  readonly epoch: number;
  readonly owner: string;
  readonly committedBatch: number | undefined;
  /** the channel's watermark after its last commit; null before any event time */
  readonly watermark: number | null;
}

/** a channel's partial row of a group: the accumulators after `batch`, and before it (`prev`) */
interface WrittenPartial {
  readonly batch: number;
  readonly acc: string;
  readonly prev: { readonly batch: number; readonly acc: string } | undefined;
  /** the accumulators `acc` encodes, where this worker wrote them */
  readonly partial?: PartialGroup;
}

export interface StateTableOptions extends TableConnection {
  readonly tableName: string;
  /** the job's name: every row of it starts with it, so jobs may share a table */
  readonly job: string;
}

export class JobStateTable implements PartialStore {
  readonly tableName: string;
  readonly location: string;
  private readonly client: Sdk;
  private readonly job: string;
  /** per channel, the epoch this worker holds it with */
  private readonly epochs = new Map<string, number>();
  /** the job's channels as the job row lists them, once read (see jobView) */
  private known: string[] | undefined;
  /** the job's final mark as last read: windows ending at or before it are final (see finalize) */
  private final = Number.NEGATIVE_INFINITY;
  /** per channel, a final mark found by its batch, to apply once that batch is committed */
  private readonly pendingFinal = new Map<string, number>();
  /** per channel this worker claimed, its partial rows as last written (by key `p:<group>`) */
  private readonly written = new Map<string, Map<string, WrittenPartial>>();

  constructor(options: StateTableOptions) {
    this.tableName = options.tableName;
    this.job = options.job;
    this.location = `table ${options.tableName} (job ${options.job})`;
    this.client = sdkClient(options);
  }

  /** Creates the table when it is missing. */
  async ensure(): Promise<'created' | 'exists'> {
    try {
      await call(this.client, 'describeTable', { tableName: this.tableName }, `DescribeTable ${this.tableName}`);
      return 'exists';
    } catch (error) {
      if (!(error instanceof StateTableError) || error.code !== 'OTSObjectNotExist') throw error;
    }
    try {
      await call(
        this.client,
        'createTable',
        {
          tableMeta: { tableName: this.tableName, primaryKey: [{ name: 'job', type: 'STRING' }, { name: 'k', type: 'STRING' }, { name: 'c', type: 'STRING' }] },
          reservedThroughput: { capacityUnit: { read: 0, write: 0 } },
          tableOptions: { timeToLive: -1, maxVersions: 1 },
        },
        `CreateTable ${this.tableName}`,
      );
    } catch (error) {
      // another worker created it meanwhile
      if (!(error instanceof StateTableError) || error.code !== 'OTSObjectAlreadyExist') throw error;
    }
    return 'created';
  }

  private key(k: string, c: string): Sdk[] {
    return [{ job: this.job }, { k }, { c }];
  }

  /**
   * Takes a channel for `owner`: bumps its epoch (only if no plan or commit landed since the read:
   * a holder still writing makes the claim read again), then returns its commit and pending plan,
   * with the aggregate groups of the commit rebuilt from the channel's partial rows.
   */
  async claim(channelId: string, owner: string): Promise<ChannelClaim> {
    await this.register(channelId);
    return retrying(async () => {
      const read = await call(this.client, 'getRow', { tableName: this.tableName, primaryKey: this.key(`c:${channelId}`, ''), maxVersions: 1 }, `GetRow ${this.tableName} channel ${channelId}`);
      const cells = attributes(read.row);
      const exists = read.row?.primaryKey !== undefined && read.row.primaryKey !== null && cells.size > 0;
      const epoch = exists ? num(cells.get('epoch')) : 0;
      const next = epoch + 1;
      let condition: Sdk;
      if (exists) {
        const unchanged = new TableStore.CompositeCondition(TableStore.LogicalOperator.AND);
        unchanged.addSubCondition(new TableStore.SingleColumnCondition('epoch', long(epoch), TableStore.ComparatorType.EQUAL, false));
        // -1 where the column is missing: a plan or commit written since the read fails the claim
        unchanged.addSubCondition(new TableStore.SingleColumnCondition('planned', long(cells.has('planned') ? num(cells.get('planned')) : -1), TableStore.ComparatorType.EQUAL, !cells.has('planned')));
        unchanged.addSubCondition(new TableStore.SingleColumnCondition('committed', long(cells.has('committed') ? num(cells.get('committed')) : -1), TableStore.ComparatorType.EQUAL, !cells.has('committed')));
        condition = new TableStore.Condition(TableStore.RowExistenceExpectation.EXPECT_EXIST, unchanged);
      } else {
        condition = new TableStore.Condition(TableStore.RowExistenceExpectation.EXPECT_NOT_EXIST, null);
      }
      try {
        await call(
          this.client,
          'updateRow',
          { tableName: this.tableName, condition, primaryKey: this.key(`c:${channelId}`, ''), updateOfAttributeColumns: [{ PUT: [{ epoch: long(next) }, { owner }] }] },
          `UpdateRow ${this.tableName} channel ${channelId}`,
        );
      } catch (error) {
        if (error instanceof StateTableError && error.code === 'OTSConditionCheckFail') throw new StateTableError(`channel ${channelId} was claimed or written by another worker at the same time`, 'OTSRowOperationConflict');
        throw error;
      }
      this.epochs.set(channelId, next);
      this.written.set(channelId, new Map());
      const decode = <A>(text: unknown, codec: { decode(value: unknown): E.Either<import('io-ts').Errors, A> }, what: string): A | undefined => {
        if (typeof text !== 'string') return undefined;
        const decoded = codec.decode(JSON.parse(text));
        if (E.isLeft(decoded)) throw new CheckpointError(this.location, `channel ${channelId} ${what}: ${describeErrors(decoded.left)}`);
        return decoded.right;
      };
      const stored = decode<BatchCommit>(cells.get('commit'), commitCodec, 'commit');
      const plan = decode<BatchPlan>(cells.get('plan'), planCodec, 'plan');
      const pending = plan !== undefined && plan.batchId === (stored?.batchId ?? -1) + 1 ? plan : undefined;
      const commit = stored === undefined ? undefined : await this.withGroups(channelId, stored);
      // the job's final mark: the floor of the channel's plans
      await this.jobView();
      return { channelId, epoch: next, restored: { commit, plan: pending } };
    });
  }

  /**
   * The commit with its aggregate groups put back (`groupsInPartials`): each of the channel's
   * partial rows as of the commit — its accumulators, or the ones before the batch that wrote it
   * when that batch is the pending one (written, not committed) — less the windows the channel's
   * watermark closed. Also remembers what the channel wrote, for the `prev` of its next writes.
   */
  private async withGroups(channelId: string, commit: BatchCommit): Promise<BatchCommit> {
    const written = this.written.get(channelId) ?? new Map<string, WrittenPartial>();
    const groups: JsonValue[] = [];
    const watermark = commit.watermark;
    for (const row of await this.range('p:', 'p;')) {
      if (String(row.primaryKey[2].value) !== channelId) continue;
      const k = String(row.primaryKey[1].value);
      const cells = attributes(row);
      const batch = num(cells.get('batch'));
      const prevBatch = cells.has('prevBatch') ? num(cells.get('prevBatch')) : undefined;
      const prev = typeof cells.get('prev') === 'string' ? (cells.get('prev') as string) : undefined;
      const entry: WrittenPartial = { batch, acc: String(cells.get('acc')), prev: prev === undefined || prevBatch === undefined ? undefined : { batch: prevBatch, acc: prev } };
      written.set(k, entry);
      const acc = batch <= commit.batchId ? entry.acc : batch === commit.batchId + 1 ? entry.prev?.acc : undefined;
      if (acc === undefined) continue;
      const [start, end, keys] = JSON.parse(k.slice(2)) as [JsonValue, JsonValue, JsonValue];
      // a window the channel's watermark closed left its state (its row stays for the merges)
      if (watermark !== null && typeof end === 'number' && end <= watermark) continue;
      const { num: nums, obj } = JSON.parse(acc) as { num: JsonValue; obj: JsonValue };
      groups.push({ start, end, keys, num: nums, obj });
    }
    const state: Record<string, JsonValue> = {};
    for (const [stateKey, value] of Object.entries(commit.state)) {
      const saved = value as { partials?: unknown } | null;
      state[stateKey] = saved !== null && typeof saved === 'object' && !Array.isArray(saved) && saved.partials === true ? { ...(value as Record<string, JsonValue>), groups } : value;
    }
    return { ...commit, state };
  }

  /** Forgets a channel this worker no longer holds (its writes would be refused anyway). */
  release(channelId: string): void {
    this.epochs.delete(channelId);
    this.written.delete(channelId);
  }

  private async fencedWrite(channelId: string, column: 'plan' | 'commit', value: string, batchId: number, extra: readonly Record<string, unknown>[] = []): Promise<void> {
    const epoch = this.epochs.get(channelId);
    if (epoch === undefined) throw new FencedError(channelId, `channel ${channelId} is not held by this worker: batch ${batchId} not persisted`);
    const condition = new TableStore.Condition(TableStore.RowExistenceExpectation.EXPECT_EXIST, new TableStore.SingleColumnCondition('epoch', long(epoch), TableStore.ComparatorType.EQUAL, false));
    try {
      await retrying(() =>
        call(
          this.client,
          'updateRow',
          { tableName: this.tableName, condition, primaryKey: this.key(`c:${channelId}`, ''), updateOfAttributeColumns: [{ PUT: [{ [column]: value }, { [column === 'commit' ? 'committed' : 'planned']: long(batchId) }, ...extra] }] },
          `UpdateRow ${this.tableName} channel ${channelId} ${column} ${batchId}`,
        ),
      );
    } catch (error) {
      if (error instanceof StateTableError && error.code === 'OTSConditionCheckFail') {
        this.epochs.delete(channelId);
        throw new FencedError(channelId, `channel ${channelId} was taken over by another worker (epoch ${epoch} is no longer current): its ${column} of batch ${batchId} was refused`);
      }
      throw error;
    }
  }

  /** The checkpoint store of one claimed channel: its plans and commits, fenced by its epoch. */
  channelStore(claim: ChannelClaim): CheckpointStore {
    return {
      location: `${this.location} channel ${claim.channelId}`,
      groupsInPartials: true,
      watermarkFloor: () => this.final,
      load: () => Promise.resolve(E.right(claim.restored)),
      // caught up (the plan holds the job watermark no more) is recorded with the plan, so every
      // channel's batch reads the others' as they go idle; the watermark with the commit
      writePlan: (plan) => this.fencedWrite(claim.channelId, 'plan', JSON.stringify(plan), plan.batchId, [{ idle: plan.holding !== undefined && !plan.holding.includes(claim.channelId) }]),
      writeCommit: async (commit) => {
        await this.fencedWrite(claim.channelId, 'commit', JSON.stringify(commit), commit.batchId, commit.watermark === null ? [] : [{ wm: commit.watermark }]);
        // the windows this batch found final: their sink rows are durable now
        const final = this.pendingFinal.get(claim.channelId);
        this.pendingFinal.delete(claim.channelId);
        if (final !== undefined) await this.finalize(final);
      },
    };
  }

  /** Every channel row of the job (for the job watermark and what `describe` shows). */
  async channels(): Promise<ChannelRecord[]> {
    const out: ChannelRecord[] = [];
    for (const row of await this.range('c:', 'c;')) {
      const cells = attributes(row);
      const k = String(row.primaryKey[1].value);
      let watermark: number | null = null;
      const commit = cells.get('commit');
      if (typeof commit === 'string') watermark = (JSON.parse(commit) as { watermark: number | null }).watermark;
      const committed = cells.get('committed');
      out.push({ channelId: k.slice(2), epoch: num(cells.get('epoch')), owner: String(cells.get('owner') ?? ''), committedBatch: committed === undefined ? undefined : num(committed), watermark });
    }
    return out;
  }

  /** rows with job and k in [from, to) */
  private async range(from: string, to: string, c?: { from: unknown; to: unknown }, columns?: readonly string[]): Promise<Sdk[]> {
    const rows: Sdk[] = [];
    let start: Sdk[] | null = [{ job: this.job }, { k: from }, { c: c?.from ?? TableStore.INF_MIN }];
    const end = [{ job: this.job }, { k: to }, { c: c?.to ?? TableStore.INF_MIN }];
    while (start !== null) {
      const data = await retrying(() =>
        call(this.client, 'getRange', { tableName: this.tableName, direction: TableStore.Direction.FORWARD, inclusiveStartPrimaryKey: start, exclusiveEndPrimaryKey: end, maxVersions: 1, limit: 5000, ...(columns === undefined ? {} : { columnsToGet: columns }) }, `GetRange ${this.tableName}`),
      );
      rows.push(...(data.rows ?? []));
      start = data.nextStartPrimaryKey === null || data.nextStartPrimaryKey === undefined ? null : data.nextStartPrimaryKey.map((cell: Sdk) => ({ [cell.name]: cell.value }));
    }
    return rows;
  }

  // ------------------------------------------------------------------------------ partials

  /**
   * Writes `channelId`'s partials of batch `batchId`, each with the accumulators before this batch
   * (what a restore from the last commit needs while this batch is not committed), unless a later
   * batch wrote them; returns the indices of those refused.
   */
  private async writePartials(channelId: string, batchId: number, groups: readonly PartialGroup[]): Promise<{ keys: string[]; refused: Set<number>; skipped: Set<number> }> {
    const written = this.written.get(channelId);
    if (written === undefined) throw new FencedError(channelId, `channel ${channelId} is not held by this worker: its partials of batch ${batchId} are not written`);
    const keys = groups.map((group) => `p:${JSON.stringify(encodeState([group.start, group.end, group.keys]))}`);
    const entries = groups.map((group, i): WrittenPartial => {
      const before = written.get(keys[i] as string);
      const prev = before === undefined ? undefined : before.batch < batchId ? { batch: before.batch, acc: before.acc } : before.prev;
      return { batch: batchId, acc: JSON.stringify(encodeState({ num: group.num, obj: group.obj })), prev, partial: group };
    });
    const refused = new Set<number>();
    // a window already final for the job takes no partial (a plan formed before this worker
    // learnt the final mark, e.g. a channel claimed as it moved): its rows are pruned, or soon
    const skipped = new Set<number>();
    groups.forEach((group, i) => {
      if (group.end <= this.final) skipped.add(i);
    });
    const live = entries.map((_, i) => i).filter((i) => !skipped.has(i));
    // remembered before the write is sent: a merge of another channel this worker holds, which
    // takes this channel's partials from here, never sees less than the table may already hold
    const before = live.map((i) => written.get(keys[i] as string));
    for (const i of live) written.set(keys[i] as string, entries[i] as WrittenPartial);
    for (let offset = 0; offset < live.length; offset += 200) {
      const rows = live.slice(offset, offset + 200).map((i) => {
        const entry = entries[i] as WrittenPartial;
        return {
          type: 'UPDATE',
          condition: new TableStore.Condition(TableStore.RowExistenceExpectation.IGNORE, new TableStore.SingleColumnCondition('batch', long(batchId), TableStore.ComparatorType.LESS_EQUAL, true)),
          primaryKey: this.key(keys[i] as string, channelId),
          attributeColumns: [{ PUT: [{ batch: long(batchId) }, { acc: entry.acc }, ...(entry.prev === undefined ? [] : [{ prevBatch: long(entry.prev.batch) }, { prev: entry.prev.acc }])] }],
          returnContent: { returnType: TableStore.ReturnType.Primarykey },
        };
      });
      for (const i of await this.batchWrite(rows, `partials of channel ${channelId} batch ${batchId}`, new Set(['OTSConditionCheckFail']))) refused.add(live[offset + i] as number);
    }
    // a later batch's partial is there (this worker is a zombie for the channel): as it was
    live.forEach((i, j) => {
      if (!refused.has(i)) return;
      const kept = before[j];
      if (kept === undefined) written.delete(keys[i] as string);
      else written.set(keys[i] as string, kept);
    });
    return { keys, refused, skipped };
  }

  async mergeGroups(channelId: string, batchId: number, groups: readonly PartialGroup[], after?: ChannelAfter): Promise<MergedGroups> {
    const { keys, refused, skipped } = await this.writePartials(channelId, batchId, groups);
    // then every other channel's partial of each group, with the channel rows. This channel's
    // partial is the one just written (unless a later batch's was there); so is the partial of
    // another channel this worker holds, as this worker last wrote it — if the channel row read
    // with them still has this worker's epoch: nobody else wrote the channel since this worker
    // claimed it, and whoever writes it after that read merges after this channel's write. A
    // window already final for the job (its partials pruned, or about to be) is not merged again.
    const merging = groups.map((group, i) => !skipped.has(i) && group.end > this.final);
    const held = (channel: string): boolean => channel !== channelId && this.epochs.has(channel) && this.written.has(channel);
    const wanted = (channel: string): Sdk[][] => groups.flatMap((_, i) => (merging[i] === true && (channel === channelId ? refused.has(i) : !held(channel)) ? [this.key(keys[i] as string, channel)] : []));
    const job = await this.jobView(after === undefined ? undefined : { channelId, ...after }, wanted);
    // windows below every channel's watermark take no more rows: their partials can go
    if (job.everyChannel > this.final) this.pendingFinal.set(channelId, job.everyChannel);
    const parts = groups.map((group, i) => ({ partials: merging[i] === true && !refused.has(i) ? [group] : ([] as PartialGroup[]), version: merging[i] === true && !refused.has(i) ? batchId + 1 : 0 }));
    const add = (i: number, batch: number, acc: { num: readonly number[]; obj: readonly unknown[] }): void => {
      const group = groups[i] as PartialGroup;
      const entry = parts[i] as { partials: PartialGroup[]; version: number };
      // batch + 1: a channel's first partial (batch 0) must raise the version too
      entry.version += batch + 1;
      entry.partials.push({ start: group.start, end: group.end, keys: group.keys, num: acc.num, obj: acc.obj });
    };
    const fromTable = (channel: string, rows: readonly (Map<string, unknown> | undefined)[], picked: (i: number) => boolean): void => {
      let j = 0;
      groups.forEach((_, i) => {
        if (!picked(i)) return;
        const row = rows[j++];
        if (row !== undefined) add(i, num(row.get('batch')), decodeState(JSON.parse(String(row.get('acc')))) as { num: number[]; obj: unknown[] });
      });
    };
    for (const channel of job.channels) {
      if (channel !== channelId && held(channel)) {
        if (job.epochs.get(channel) === this.epochs.get(channel)) {
          const written = this.written.get(channel) as Map<string, WrittenPartial>;
          groups.forEach((_, i) => {
            if (merging[i] !== true) return;
            const entry = written.get(keys[i] as string);
            if (entry !== undefined) add(i, entry.batch, entry.partial ?? (decodeState(JSON.parse(entry.acc)) as { num: number[]; obj: unknown[] }));
          });
        } else {
          // taken over meanwhile: its partials as the table has them
          const picked = (i: number): boolean => merging[i] === true;
          fromTable(channel, await this.batchGetAll(groups.flatMap((_, i) => (picked(i) ? [this.key(keys[i] as string, channel)] : [])), 'partials'), picked);
        }
        continue;
      }
      fromTable(channel, job.extra.get(channel) ?? [], (i) => merging[i] === true && (channel === channelId ? refused.has(i) : true));
    }
    groups.forEach((group, i) => {
      if (group.end <= job.final) (parts[i] as { partials: PartialGroup[] }).partials = [];
    });
    return { parts: parts.map((p) => p.partials), versions: parts.map((p) => p.version) };
  }



  /**
   * Append mode: writes `channelId`'s partials of batch `batchId` (as mergeGroups does), then
   * merges every window that became final for the job since the final mark — its end at or
   * before the job watermark, the least watermark of the channels not caught up (the greatest of
   * all when every one is) — from every channel's partials of it, wherever they came from.
   */
  async finalGroups(channelId: string, batchId: number, groups: readonly PartialGroup[], after?: ChannelAfter): Promise<MergedGroups> {
    if (groups.length > 0) await this.writePartials(channelId, batchId, groups);
    const self = after === undefined ? undefined : { channelId, ...after };
    let job = await this.jobView(self);
    // A channel caught up as planned holds the job watermark until its batch is committed (its
    // rows are in its partials then). Channels finishing at once would each see the others still
    // holding and none emit what all of them allow: a caught-up channel waits (a while) for those
    // with a greater id, which do not wait for it — the last of them to commit sees all.
    for (const started = Date.now(); after?.idle === true && job.finishing.some((other) => other > channelId) && Date.now() - started < FINISHING_WAIT_MS; ) {
      await new Promise((resolve) => setTimeout(resolve, 25));
      job = await this.jobView(self);
    }
    if (!(job.watermark > job.final)) return { parts: [], versions: [] };
    const byGroup = new Map<string, { partials: PartialGroup[]; version: number }>();
    for (const row of await this.range('p:', 'p;', undefined, ['batch', 'acc'])) {
      const k = String(row.primaryKey[1].value);
      const [start, end, keys] = decodeState(JSON.parse(k.slice(2))) as [number, number, Value[]];
      if (!(end > job.final && end <= job.watermark)) continue;
      const cells = attributes(row);
      let entry = byGroup.get(k);
      if (entry === undefined) byGroup.set(k, (entry = { partials: [], version: 0 }));
      entry.version += num(cells.get('batch')) + 1;
      const acc = decodeState(JSON.parse(String(cells.get('acc')))) as { num: number[]; obj: unknown[] };
      entry.partials.push({ start, end, keys, num: acc.num, obj: acc.obj });
    }
    this.pendingFinal.set(channelId, job.watermark);
    const entries = [...byGroup.values()];
    return { parts: entries.map((entry) => entry.partials), versions: entries.map((entry) => entry.version) };
  }

  /**
   * The channel rows and the job row: every channel, the job watermark (the least watermark of
   * the channels not caught up, or the greatest of all when every one is), the least watermark of
   * every channel, and the final mark; with them, per channel, the rows at the keys `extra` gives
   * for it (a channel's partials), in the same requests.
   *
   * The channels are those the job row lists (a claim lists a channel before its first write):
   * one BatchGetRow reads the job row, the channel rows and the extra rows of the channels this
   * worker knows; channels the list adds are read in a second one. A channel listed after this
   * read wrote its partials after this worker's (written before the read), so its own merge sees
   * them. A table without the list (an older job) is read with a GetRange of the channel rows.
   */
  private async jobView(
    self?: { readonly channelId: string } & ChannelAfter,
    extra: (channelId: string) => readonly Sdk[][] = () => [],
  ): Promise<{ channels: string[]; epochs: Map<string, number>; finishing: string[]; watermark: number; everyChannel: number; final: number; extra: Map<string, (Map<string, unknown> | undefined)[]> }> {
    const channelRows = new Map<string, Map<string, unknown>>();
    const extraRows = new Map<string, (Map<string, unknown> | undefined)[]>();
    let job: Map<string, unknown> | undefined;
    const read = async (channels: readonly string[], withJob: boolean): Promise<void> => {
      const keys: Sdk[][] = [];
      const slots: { channelId?: string; index?: number }[] = [];
      if (withJob) {
        keys.push(this.key(JOB_ROW, ''));
        slots.push({});
      }
      for (const channelId of channels) {
        keys.push(this.key(`c:${channelId}`, ''));
        slots.push({ channelId });
        const more = extra(channelId);
        extraRows.set(channelId, new Array(more.length).fill(undefined));
        more.forEach((key, index) => {
          keys.push(key);
          slots.push({ channelId, index });
        });
      }
      const chunks: number[] = [];
      for (let offset = 0; offset < keys.length; offset += 100) chunks.push(offset);
      await Promise.all(
        chunks.map(async (offset) => {
          const rows = await this.batchGet(keys.slice(offset, offset + 100), 'channel rows and partials', ['epoch', 'wm', 'idle', 'planned', 'committed', 'final', 'channels', 'batch', 'acc']);
          rows.forEach((row, j) => {
            const slot = slots[offset + j] as { channelId?: string; index?: number };
            if (slot.channelId === undefined) job = row;
            else if (slot.index === undefined) channelRows.set(slot.channelId, row ?? new Map());
            else (extraRows.get(slot.channelId) as (Map<string, unknown> | undefined)[])[slot.index] = row;
          });
        }),
      );
    };
    const listed = (): string[] | undefined => {
      const text = job?.get('channels');
      return typeof text === 'string' ? (JSON.parse(text) as string[]) : undefined;
    };
    if (this.known !== undefined) {
      await read(this.known, true);
      const added = (listed() ?? []).filter((channelId) => !(this.known as string[]).includes(channelId));
      if (added.length > 0) {
        this.known.push(...added);
        await read(added, false);
      }
    } else {
      const found: string[] = [];
      for (const row of await this.range(JOB_ROW, 'c;', undefined, ['epoch', 'wm', 'idle', 'planned', 'committed', 'final', 'channels'])) {
        const k = String(row.primaryKey[1].value);
        if (k === JOB_ROW) job = attributes(row);
        else {
          found.push(k.slice(2));
          channelRows.set(k.slice(2), attributes(row));
        }
      }
      const list = listed();
      // every channel row is listed: the next reads go by the list
      if (list !== undefined && found.every((channelId) => list.includes(channelId))) this.known = [...list];
      for (const channelId of found) {
        const more = extra(channelId);
        if (more.length === 0) continue;
        extraRows.set(channelId, await this.batchGetAll(more, 'partials'));
      }
    }
    const final = job?.get('final');
    if (typeof final === 'number' && final > this.final) this.final = final;
    let holding = Number.POSITIVE_INFINITY;
    let holds = false;
    let greatest = Number.NEGATIVE_INFINITY;
    let least = Number.POSITIVE_INFINITY;
    const finishing: string[] = [];
    const inFlight = (cells: Map<string, unknown>): boolean => cells.has('planned') && num(cells.get('planned')) > (cells.has('committed') ? num(cells.get('committed')) : -1);
    const channels = [...channelRows.keys()].filter((channelId) => (channelRows.get(channelId) as Map<string, unknown>).size > 0);
    for (const channelId of channels) {
      const cells = channelRows.get(channelId) as Map<string, unknown>;
      // the calling channel as its batch leaves it (what its commit records)
      const own = self !== undefined && channelId === self.channelId;
      const wm = own ? self.watermark : cells.get('wm');
      const watermark = typeof wm === 'number' ? wm : Number.NEGATIVE_INFINITY;
      if (watermark > greatest) greatest = watermark;
      if (watermark < least) least = watermark;
      if (!(own ? self.idle : cells.get('idle') === true && !inFlight(cells))) {
        holds = true;
        if (watermark < holding) holding = watermark;
      }
      // caught up as planned, but its batch (whose rows may still reach a window) is not committed
      if (!own && cells.get('idle') === true && inFlight(cells)) finishing.push(channelId);
    }
    const epochs = new Map(channels.map((channelId) => [channelId, num((channelRows.get(channelId) as Map<string, unknown>).get('epoch'))]));
    return { channels, epochs, finishing, watermark: channels.length === 0 ? Number.NEGATIVE_INFINITY : holds ? holding : greatest, everyChannel: channels.length === 0 ? Number.NEGATIVE_INFINITY : least, final: this.final, extra: extraRows };
  }

  /** the rows at `keys`, 100 a BatchGetRow, the requests at once */
  private async batchGetAll(keys: readonly Sdk[][], what: string): Promise<(Map<string, unknown> | undefined)[]> {
    const out: (Map<string, unknown> | undefined)[] = [];
    const chunks: Sdk[][][] = [];
    for (let offset = 0; offset < keys.length; offset += 100) chunks.push(keys.slice(offset, offset + 100));
    for (const rows of await Promise.all(chunks.map((chunk) => this.batchGet(chunk, what, ['batch', 'acc'])))) out.push(...rows);
    return out;
  }

  /** Lists a channel in the job row (before its first write), unless it is listed. */
  private async register(channelId: string): Promise<void> {
    await retrying(async () => {
      const read = await call(this.client, 'getRow', { tableName: this.tableName, primaryKey: this.key(JOB_ROW, ''), maxVersions: 1, columnsToGet: ['channels'] }, `GetRow ${this.tableName} job row`);
      const text = attributes(read.row).get('channels');
      const list = typeof text === 'string' ? (JSON.parse(text) as string[]) : [];
      if (list.includes(channelId)) return;
      // only over the list read ('' where there was none: a list written since fails the condition)
      const condition = new TableStore.Condition(TableStore.RowExistenceExpectation.IGNORE, new TableStore.SingleColumnCondition('channels', typeof text === 'string' ? text : '', TableStore.ComparatorType.EQUAL, typeof text !== 'string'));
      try {
        await call(this.client, 'updateRow', { tableName: this.tableName, condition, primaryKey: this.key(JOB_ROW, ''), updateOfAttributeColumns: [{ PUT: [{ channels: JSON.stringify([...list, channelId].sort()) }] }] }, `UpdateRow ${this.tableName} job row`);
      } catch (error) {
        if (error instanceof StateTableError && error.code === 'OTSConditionCheckFail') throw new StateTableError(`the job row's channel list changed while channel ${channelId} was added`, 'OTSRowOperationConflict');
        throw error;
      }
    });
  }

  /**
   * Windows ending at or before `mark` are final (their sink rows written): the job's final mark
   * moves up to it (only ever up: new plans of every channel drop rows for those windows as late),
   * then their partial rows are deleted, so the table holds the open windows only.
   */
  private async finalize(mark: number): Promise<void> {
    try {
      await retrying(() =>
        call(
          this.client,
          'updateRow',
          {
            tableName: this.tableName,
            condition: new TableStore.Condition(TableStore.RowExistenceExpectation.IGNORE, new TableStore.SingleColumnCondition('final', mark, TableStore.ComparatorType.LESS_THAN, true)),
            primaryKey: this.key(JOB_ROW, ''),
            updateOfAttributeColumns: [{ PUT: [{ final: mark }] }],
          },
          `UpdateRow ${this.tableName} final mark`,
        ),
      );
    } catch (error) {
      // another worker moved it further
      if (!(error instanceof StateTableError && error.code === 'OTSConditionCheckFail')) throw error;
    }
    if (mark > this.final) this.final = mark;
    // what this worker remembers of those windows goes too
    for (const written of this.written.values()) {
      for (const k of written.keys()) {
        const end = (JSON.parse(k.slice(2)) as JsonValue[])[1];
        if (typeof end === 'number' && end <= mark) written.delete(k);
      }
    }
    const done: Sdk[] = [];
    for (const row of await this.range('p:', 'p;', undefined, ['batch'])) {
      const k = String(row.primaryKey[1].value);
      const end = (JSON.parse(k.slice(2)) as JsonValue[])[1];
      if (typeof end === 'number' && end <= mark) {
        done.push({ type: 'DELETE', condition: new TableStore.Condition(TableStore.RowExistenceExpectation.IGNORE, null), primaryKey: this.key(k, String(row.primaryKey[2].value)), returnContent: { returnType: TableStore.ReturnType.Primarykey } });
      }
    }
    for (let offset = 0; offset < done.length; offset += 200) await this.batchWrite(done.slice(offset, offset + 200), 'final partials', new Set());
  }

  /** the rows at `keys` (undefined where there is none), in order; each failed row is read again */
  private async batchGet(keys: readonly Sdk[][], what: string, columns?: readonly string[]): Promise<(Map<string, unknown> | undefined)[]> {
    const out: (Map<string, unknown> | undefined)[] = new Array(keys.length).fill(undefined);
    let pending = keys.map((key, index) => ({ key, index }));
    for (let attempt = 1; pending.length > 0; attempt++) {
      const data = await retrying(() => call(this.client, 'batchGetRow', { tables: [{ tableName: this.tableName, primaryKey: pending.map((entry) => entry.key), maxVersions: 1, ...(columns === undefined ? {} : { columnsToGet: columns }) }] }, `BatchGetRow ${what}`));
      const results: Sdk[] = data.tables?.[0] ?? [];
      const again: typeof pending = [];
      pending.forEach((entry, j) => {
        const result = results[j];
        if (result?.isOk === true) {
          const cells = new Map<string, unknown>();
          for (const cell of result.attributes ?? []) cells.set(String(cell.columnName), cell.columnValue);
          out[entry.index] = cells.size === 0 ? undefined : cells;
          return;
        }
        const error = new StateTableError(`BatchGetRow ${what}: ${String(result?.errorCode ?? 'no result')} (${String(result?.errorMessage ?? '')})`, result?.errorCode ?? undefined);
        if (!transient(error) || attempt >= 8) throw error;
        again.push(entry);
      });
      pending = again;
      if (pending.length > 0) await new Promise((resolve) => setTimeout(resolve, 50 * attempt));
    }
    return out;
  }

  /** writes `rows`, each failed row again; returns the indices of the rows refused with a `harmless` code */
  private async batchWrite(rows: Sdk[], what: string, harmless: ReadonlySet<string>): Promise<number[]> {
    let pending = rows.map((row, index) => ({ row, index }));
    const refused: number[] = [];
    for (let attempt = 1; pending.length > 0; attempt++) {
      const data = await retrying(() => call(this.client, 'batchWriteRow', { tables: [{ tableName: this.tableName, rows: pending.map((entry) => entry.row) }] }, `BatchWriteRow ${what}`));
      const results: Sdk[] = data.tables ?? [];
      const again: typeof pending = [];
      results.forEach((result: Sdk, i: number) => {
        if (result.isOk) return;
        const code = String(result.errorCode ?? '');
        const entry = pending[i] as (typeof pending)[number];
        if (harmless.has(code)) {
          refused.push(entry.index);
          return;
        }
        const error = new StateTableError(`BatchWriteRow ${what}: ${code} (${String(result.errorMessage ?? '')})`, code);
        if (!transient(error) || attempt >= 8) throw error;
        again.push(entry);
      });
      pending = again;
      if (pending.length > 0) await new Promise((resolve) => setTimeout(resolve, 50 * attempt));
    }
    return refused;
  }

  /**
   * The sink of a job spread over workers: each row carries its merge version; it is written (a
   * whole-row put with `_otsflow_version`) only when the stored version is lower. In append mode
   * a row is a final window, written once: only where no version is stored yet (a second worker
   * emitting the same window writes the same row, and nothing replaces it).
   */
  sink(options: { readonly tableName: string; readonly primaryKey: readonly string[]; readonly longColumns: ReadonlySet<string>; readonly output?: 'update' | 'complete' | 'append' }): Sink<OutputRow> & { readonly stale: () => number } {
    let stale = 0;
    const sinkClient = this.client;
    const cell = (name: string, value: OutputValue): unknown => {
      if (typeof value === 'bigint') return TableStore.Long.fromString(value.toString());
      if (typeof value === 'number' && options.longColumns.has(name)) return long(value);
      if (value instanceof Uint8Array) return Buffer.from(value);
      return value;
    };
    const write = async (rows: readonly OutputRow[]): Promise<void> => {
      for (let offset = 0; offset < rows.length; offset += 200) {
        const chunk = rows.slice(offset, offset + 200).map((row) => {
          const version = row[VERSION_FIELD];
          if (typeof version !== 'number') throw new Error(`merged sink row without a version: ${JSON.stringify(Object.keys(row))}`);
          const attributeColumns: Sdk[] = [];
          for (const [name, value] of Object.entries(row)) {
            if (name === VERSION_FIELD || options.primaryKey.includes(name) || value === null || value === undefined) continue;
            attributeColumns.push({ [name]: cell(name, value) });
          }
          attributeColumns.push({ [SINK_VERSION_COLUMN]: long(version) });
          return {
            type: 'PUT',
            condition: new TableStore.Condition(
              TableStore.RowExistenceExpectation.IGNORE,
              options.output === 'append'
                ? new TableStore.SingleColumnCondition(SINK_VERSION_COLUMN, long(-1), TableStore.ComparatorType.EQUAL, true)
                : new TableStore.SingleColumnCondition(SINK_VERSION_COLUMN, long(version), TableStore.ComparatorType.LESS_THAN, true),
            ),
            primaryKey: options.primaryKey.map((name) => ({ [name]: cell(name, row[name] ?? null) })),
            attributeColumns,
            returnContent: { returnType: TableStore.ReturnType.Primarykey },
          };
        });
        let pending = chunk;
        for (let attempt = 1; pending.length > 0; attempt++) {
          const data = await retrying(() => call(sinkClient, 'batchWriteRow', { tables: [{ tableName: options.tableName, rows: pending }] }, `BatchWriteRow ${options.tableName}`));
          const again: Sdk[] = [];
          (data.tables ?? []).forEach((result: Sdk, i: number) => {
            if (result.isOk) return;
            const code = String(result.errorCode ?? '');
            // a merge that saw more is there already
            if (code === 'OTSConditionCheckFail') {
              stale++;
              return;
            }
            const error = new StateTableError(`BatchWriteRow ${options.tableName}: ${code} (${String(result.errorMessage ?? '')})`, code);
            if (!transient(error) || attempt >= 8) throw error;
            again.push(pending[i]);
          });
          pending = again;
          if (pending.length > 0) await new Promise((resolve) => setTimeout(resolve, 50 * attempt));
        }
      }
    };
    return { write: (rows) => write(rows), stale: () => stale };
  }
}
