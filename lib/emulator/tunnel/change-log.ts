/**
 * The durable change log behind stream channels.
 *
 * Only tables with a stream are logged (a Stream/BaseAndStream tunnel enables one, as does a
 * table's stream spec); other writes cost one Map lookup. A logged row becomes one record in
 * the same LMDB write transaction as the row itself: the engine calls `append` from inside its
 * transaction, so an aborted write leaves no record and a committed one always has its record.
 *
 * Layout (sub-databases of the engine's LMDB environment):
 *   tunnel-streams  table name          → StreamDescriptor
 *   tunnel-trim     [streamId, p]       → highest trimmed seq of partition p
 *   tunnel-log      [streamId, p, seq]  → u8 action | f64le commit µs | PlainBuffer record
 * A stream position is therefore (partition, seq): seqs start at 1, grow by one per record
 * within a partition (an aborted transaction may leave a gap) and are never reused.
 *
 * Partition splits: a stream starts with `partitions` partitions, partition p taking the rows
 * whose partition-key hash h has h mod partitions = p. Splitting partition (m, r) — rows with
 * h mod m = r — seals it at its next seq and opens two children (2m, r) and (2m, r + m), with
 * the next free partition numbers and the parent's epoch + 1; every later change of its rows goes
 * to a child. A row's changes therefore lie in its partition's ancestors, in order, then in one
 * live partition: reading a parent to its end before its children keeps per-key order. Splits
 * happen on demand (`split`) or once a partition holds `SplitPolicy.afterRecords` records; the
 * descriptor that records them is written in the transaction of the change that triggered them.
 *
 * Records are encoded once, when written: a read hands the stored PlainBuffer bytes out as is.
 */
import * as E from 'fp-ts/lib/Either.js';
import type { Database, DatabaseOptions, RootDatabase } from 'lmdb';
import type { Cell, PrimaryKeyCell, RecordAction } from '../../wire/types.js';
import { float64Of, u32 } from '../../wire/bytes.js';
import { encodeRow } from '../../wire/plainbuffer/index.js';
import type { Clock } from './clock.js';
import { partitionKeyHash } from './partitioning.js';

/** One committed row change as the engine applied it: cells carry their effective timestamps. */
export interface RowChange {
  readonly action: RecordAction;
  readonly primaryKey: readonly PrimaryKeyCell[];
  /** PUT_ROW: put cells with timestamps; UPDATE_ROW: put / deleteOneVersion / deleteAllVersions; DELETE_ROW: none */
  readonly cells: readonly Cell[];
}

/** What the table engine calls, inside its write transaction, for every committed row change. */
export interface ChangeSink {
  append(table: string, changes: readonly RowChange[]): void;
}

/** One partition of a stream: which rows it takes, where it came from, whether it is sealed. */
export interface PartitionInfo {
  readonly index: number;
  /** 0 for the initial partitions, parent's + 1 for a split's children */
  readonly epoch: number;
  /** rows with partition-key hash h such that h mod modulus = residue */
  readonly modulus: number;
  readonly residue: number;
  readonly parent?: number;
  /** set once split: the two partitions that take its rows from then on */
  readonly children?: readonly [number, number];
  /** set once split: the seq after its last record (records are [1, endSeq)) */
  readonly endSeq?: number;
}

/** When partitions split by themselves (the fault plan's `split=`, the emulator's `split` setting). */
export interface SplitPolicy {
  /** a partition splits once it holds this many records (0 or absent: never) */
  readonly afterRecords?: number;
  /** most splits per stream (default 16) */
  readonly maxSplits?: number;
}

export const DEFAULT_MAX_SPLITS = 16;
/** 2^32: hashes are u32, so a partition whose modulus reaches it cannot split further */
const HASH_SPACE = 0x1_0000_0000;

export interface StreamDescriptor {
  readonly streamId: string;
  readonly table: string;
  /** partitions the stream started with */
  readonly partitions: number;
  /** every partition ever, by index (absent in descriptors written before splits existed) */
  readonly shards?: readonly PartitionInfo[];
  /** ms since epoch */
  readonly enabledAt: number;
  readonly retentionMs: number;
}

export interface LogRecord {
  readonly seq: number;
  readonly action: RecordAction;
  /** commit time, µs since epoch */
  readonly commitUs: number;
  /** PlainBuffer row with header and sequence extension */
  readonly record: Uint8Array;
}

export interface ReadLimits {
  readonly maxRecords: number;
  readonly maxBytes: number;
}

export type PartitionRead =
  | {
      readonly kind: 'records';
      readonly records: readonly LogRecord[];
      /** position after the last record returned (or `fromSeq` when none) */
      readonly nextSeq: number;
      /** records exist at or after `nextSeq` */
      readonly more: boolean;
    }
  /** the position lies in data the retention period already removed */
  | { readonly kind: 'trimmed'; readonly trimmedThrough: number };

export interface ChangeLogOptions {
  readonly clock: Clock;
  /** stream partitions of newly enabled streams */
  readonly partitions: number;
  /** default retention of newly enabled streams */
  readonly retentionMs: number;
  /** asked on every append; default: never split by itself */
  readonly splitPolicy?: () => SplitPolicy;
}

const initialShards = (partitions: number): PartitionInfo[] =>
  Array.from({ length: partitions }, (_, p) => ({ index: p, epoch: 0, modulus: partitions, residue: p }));

/** The partitions of `stream`, also for descriptors written before splits existed. */
export const shardsOf = (stream: StreamDescriptor): readonly PartitionInfo[] => stream.shards ?? initialShards(stream.partitions);

interface PartitionState {
  nextSeq: number;
  trimmedThrough: number;
}

const ACTION_CODES: Readonly<Record<RecordAction, number>> = { PUT_ROW: 1, UPDATE_ROW: 2, DELETE_ROW: 3 };
const ACTIONS: readonly RecordAction[] = ['PUT_ROW', 'PUT_ROW', 'UPDATE_ROW', 'DELETE_ROW'];
const RECORD_OFFSET = 9;
/** trimming walks the log; doing it on every read would cost more than it saves */
const TRIM_INTERVAL_MS = 1_000;

const packRecord = (action: RecordAction, commitUs: number, record: Uint8Array): Buffer => {
  const value = Buffer.allocUnsafe(RECORD_OFFSET + record.length);
  value[0] = ACTION_CODES[action];
  value.writeDoubleLE(commitUs, 1);
  value.set(record, RECORD_OFFSET);
  return value;
};

/** A log value as read: the packed header decoded, the record copied out of LMDB's buffer. */
interface LogValue {
  readonly action: RecordAction;
  readonly commitUs: number;
  readonly record: Uint8Array;
  /** bytes of the stored value (header + record) */
  readonly length: number;
}

/**
 * Reads log values straight from LMDB's shared read buffer. With the plain binary encoding lmdb
 * hands out a Buffer copy of every value, and the record a second Buffer (subarray): creating
 * those two Buffer objects cost more than a microsecond per record, the largest item of a stream
 * ReadRecords. Records are copied into a shared arena instead and handed out as plain views;
 * a chunk lives as long as a record of it is referenced (a ReadRecords batch, normally).
 */
const ARENA_BYTES = 256 * 1024;
let arena = new Uint8Array(ARENA_BYTES);
let arenaPos = 0;
/** a plain view of lmdb's current read buffer: subarrays of a Buffer would be Buffers again */
let readBuffer: Uint8Array | undefined;
let readBufferView: Uint8Array = new Uint8Array(0);

const logValueCodec = {
  /** values are written as packed by packRecord */
  encode: (value: Buffer): Buffer => value,
  /** `bytes` is lmdb's reusable buffer, `bytes.length` the value's size: nothing may keep it */
  decode: (bytes: Uint8Array): LogValue => {
    if (bytes !== readBuffer) {
      readBuffer = bytes;
      readBufferView = new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    }
    const length = bytes.length;
    const recordLength = length - RECORD_OFFSET;
    if (arenaPos + recordLength > arena.length) {
      arena = new Uint8Array(Math.max(ARENA_BYTES, recordLength));
      arenaPos = 0;
    }
    arena.set(readBufferView.subarray(RECORD_OFFSET, length), arenaPos);
    const record = arena.subarray(arenaPos, arenaPos + recordLength);
    arenaPos += recordLength;
    return { action: ACTIONS[bytes[0]!]!, commitUs: float64Of(u32(bytes, 1), u32(bytes, 5)), record, length };
  },
};

const randomId = (): string => crypto.randomUUID().replace(/-/g, '').slice(0, 16);

export class ChangeLog implements ChangeSink {
  private readonly streamsDb: Database<StreamDescriptor, string>;
  private readonly trimDb: Database<number, [string, number]>;
  private readonly logDb: Database<LogValue, [string, number, number]>;
  private readonly streamsByTable = new Map<string, StreamDescriptor>();
  private readonly partitionStates = new Map<string, PartitionState[]>();
  private lastCommitUs = 0;
  private lastTxnId = -1;
  private nextRowIndex = 0;
  private lastTrimAt = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly root: RootDatabase,
    private readonly options: ChangeLogOptions,
  ) {
    if (!Number.isInteger(options.partitions) || options.partitions < 1) {
      throw new Error(`ChangeLog: partitions must be a positive integer, got ${options.partitions}`);
    }
    this.streamsDb = root.openDB({ name: 'tunnel-streams', encoding: 'msgpack' });
    this.trimDb = root.openDB({ name: 'tunnel-trim', keyEncoding: 'ordered-binary', encoding: 'msgpack' });
    // `encoder` is a per-database option of lmdb-js; its typings list it for the root only
    this.logDb = root.openDB({ name: 'tunnel-log', keyEncoding: 'ordered-binary', encoder: logValueCodec } as DatabaseOptions & { name: string });
    for (const { value } of this.streamsDb.getRange()) this.load(value);
  }

  private load(stream: StreamDescriptor): void {
    this.streamsByTable.set(stream.table, stream);
    const states: PartitionState[] = [];
    for (let p = 0; p < shardsOf(stream).length; p++) {
      const trimmedThrough = this.trimDb.get([stream.streamId, p]) ?? 0;
      let nextSeq = trimmedThrough + 1;
      for (const { key, value } of this.logDb.getRange({
        start: [stream.streamId, p, Number.MAX_SAFE_INTEGER],
        end: [stream.streamId, p, 0],
        reverse: true,
        limit: 1,
      })) {
        nextSeq = Math.max(nextSeq, key[2] + 1);
        this.lastCommitUs = Math.max(this.lastCommitUs, value.commitUs);
      }
      states.push({ nextSeq, trimmedThrough });
    }
    this.partitionStates.set(stream.streamId, states);
  }

  private states(streamId: string): PartitionState[] {
    const states = this.partitionStates.get(streamId);
    if (states === undefined) throw new Error(`ChangeLog: unknown stream ${streamId}`);
    return states;
  }

  /** false once the stream was disabled (or its table dropped) */
  isLive(streamId: string): boolean {
    return this.partitionStates.has(streamId);
  }

  streamOf(table: string): StreamDescriptor | undefined {
    return this.streamsByTable.get(table);
  }

  /** The stream with id `streamId`, if live. */
  private streamById(streamId: string): StreamDescriptor | undefined {
    for (const stream of this.streamsByTable.values()) if (stream.streamId === streamId) return stream;
    return undefined;
  }

  /** Every partition of a live stream, by index (sealed ones included). */
  partitionsOf(streamId: string): readonly PartitionInfo[] {
    const stream = this.streamById(streamId);
    if (stream === undefined) throw new Error(`ChangeLog: unknown stream ${streamId}`);
    return shardsOf(stream);
  }

  /** Where a sealed partition ends (records are [1, endSeq)); undefined while it takes records. */
  endSeq(streamId: string, partition: number): number | undefined {
    return this.partitionsOf(streamId)[partition]?.endSeq;
  }

  /** The live partition of `table`'s stream that takes the changes of rows with this primary key. */
  partitionFor(table: string, primaryKey: readonly PrimaryKeyCell[]): PartitionInfo {
    const stream = this.streamsByTable.get(table);
    if (stream === undefined) throw new Error(`ChangeLog: table ${table} has no stream`);
    const shards = shardsOf(stream);
    const first = primaryKey[0];
    if (first === undefined) throw new Error('ChangeLog: a row without primary key');
    const hash = partitionKeyHash(first);
    let shard = shards[hash % stream.partitions]!;
    while (shard.children !== undefined) {
      const [a, b] = shard.children;
      const left = shards[a]!;
      shard = hash % left.modulus === left.residue ? left : shards[b]!;
    }
    return shard;
  }

  /**
   * Splits live partition `partition` of `table`'s stream into two children (see the module doc).
   * Joins the caller's write transaction when there is one. Left: why it cannot split.
   */
  split(table: string, partition: number): E.Either<string, readonly [PartitionInfo, PartitionInfo]> {
    const stream = this.streamsByTable.get(table);
    if (stream === undefined) return E.left(`table ${table} has no stream`);
    const shards = shardsOf(stream);
    const parent = shards[partition];
    if (parent === undefined) return E.left(`stream ${stream.streamId} has no partition ${partition}`);
    if (parent.endSeq !== undefined) return E.left(`partition ${partition} of stream ${stream.streamId} was already split`);
    if (parent.modulus * 2 > HASH_SPACE) return E.left(`partition ${partition} of stream ${stream.streamId} is too narrow to split`);
    const states = this.states(stream.streamId);
    const endSeq = states[partition]!.nextSeq;
    const left: PartitionInfo = { index: shards.length, epoch: parent.epoch + 1, modulus: parent.modulus * 2, residue: parent.residue, parent: partition };
    const right: PartitionInfo = { ...left, index: shards.length + 1, residue: parent.residue + parent.modulus };
    const updated: StreamDescriptor = {
      ...stream,
      shards: [...shards.map((s) => (s.index === partition ? { ...s, children: [left.index, right.index] as const, endSeq } : s)), left, right],
    };
    const write = (): void => {
      this.streamsDb.put(stream.table, updated);
    };
    if (this.inWriteTransaction()) {
      write();
      // should the caller's transaction roll back, memory would route to children the disk does not
      // know: once it is over, make sure the descriptor there is this one (or a later split's)
      queueMicrotask(() => this.persistSplits(table));
    } else this.root.transactionSync(write);
    this.streamsByTable.set(table, updated);
    states.push({ nextSeq: 1, trimmedThrough: 0 }, { nextSeq: 1, trimmedThrough: 0 });
    return E.right([left, right]);
  }

  private persistSplits(table: string): void {
    const current = this.streamsByTable.get(table);
    if (current === undefined) return;
    const stored = this.streamsDb.get(table);
    if (stored !== undefined && stored.streamId === current.streamId && shardsOf(stored).length >= shardsOf(current).length) return;
    this.root.transactionSync(() => this.streamsDb.put(table, current));
  }

  private inWriteTransaction(): boolean {
    try {
      this.root.getWriteTxnId();
      return true;
    } catch {
      return false;
    }
  }

  /** Splits the partition that just took a record when the policy says it is full. */
  private splitIfDue(stream: StreamDescriptor, shard: PartitionInfo, state: PartitionState): void {
    const policy = this.options.splitPolicy?.();
    const after = policy?.afterRecords ?? 0;
    if (after <= 0 || state.nextSeq - 1 < after) return;
    const splits = (shardsOf(stream).length - stream.partitions) / 2;
    if (splits >= (policy?.maxSplits ?? DEFAULT_MAX_SPLITS)) return;
    this.split(stream.table, shard.index);
  }

  /** Starts logging `table` (idempotent: an enabled stream keeps its id, partitions and data). */
  enableStream(
    table: string,
    settings: { readonly streamId?: string; readonly retentionMs?: number; readonly partitions?: number } = {},
  ): StreamDescriptor {
    const existing = this.streamsByTable.get(table);
    if (existing !== undefined) return existing;
    const stream: StreamDescriptor = {
      streamId: settings.streamId ?? `${table}-${randomId()}`,
      table,
      partitions: settings.partitions ?? this.options.partitions,
      enabledAt: this.options.clock.now(),
      retentionMs: settings.retentionMs ?? this.options.retentionMs,
    };
    this.root.transactionSync(() => {
      this.streamsDb.put(table, stream);
    });
    this.streamsByTable.set(table, stream);
    this.partitionStates.set(
      stream.streamId,
      Array.from({ length: stream.partitions }, () => ({ nextSeq: 1, trimmedThrough: 0 })),
    );
    return stream;
  }

  /** Stops logging `table` and forgets its records (DeleteTable, or a stream spec switched off). */
  disableStream(table: string): void {
    const stream = this.streamsByTable.get(table);
    if (stream === undefined) return;
    this.streamsByTable.delete(table);
    this.partitionStates.delete(stream.streamId);
    this.root.transactionSync(() => {
      this.streamsDb.remove(table);
      for (let p = 0; p < shardsOf(stream).length; p++) {
        this.trimDb.remove([stream.streamId, p]);
        for (const key of this.logDb.getKeys({ start: [stream.streamId, p, 0], end: [stream.streamId, p, Number.MAX_SAFE_INTEGER] })) {
          this.logDb.remove(key);
        }
      }
    });
  }

  /**
   * Appends committed changes of `table`. Called inside the engine's write transaction; calls
   * within one transaction share a commit timestamp and number their rows consecutively.
   */
  append(table: string, changes: readonly RowChange[]): void {
    const stream = this.streamsByTable.get(table);
    if (stream === undefined || changes.length === 0) return;
    let txnId: number;
    try {
      txnId = this.root.getWriteTxnId();
    } catch {
      this.root.transactionSync(() => this.append(table, changes));
      return;
    }
    if (txnId !== this.lastTxnId) {
      this.lastTxnId = txnId;
      this.lastCommitUs = Math.max(this.options.clock.now() * 1000, this.lastCommitUs + 1);
      this.nextRowIndex = 0;
    }
    const commitUs = this.lastCommitUs;
    const timestamp = BigInt(commitUs);
    const states = this.states(stream.streamId);
    for (const change of changes) {
      // a split below replaces the descriptor: route with the current one
      const current = this.streamsByTable.get(table)!;
      const shard = this.partitionFor(table, change.primaryKey);
      const state = states[shard.index]!;
      const record = encodeRow({
        primaryKey: change.primaryKey,
        cells: change.cells,
        deleteMarker: change.action === 'DELETE_ROW',
        sequence: { epoch: shard.epoch, timestamp, rowIndex: this.nextRowIndex++ },
      });
      this.logDb.put([stream.streamId, shard.index, state.nextSeq++], packRecord(change.action, commitUs, record) as unknown as LogValue);
      this.splitIfDue(current, shard, state);
    }
  }

  /** The position of the next record to be written (LATEST). */
  latestSeq(streamId: string, partition: number): number {
    return this.states(streamId)[partition]!.nextSeq;
  }

  /** The oldest retained position (EARLIEST). */
  earliestSeq(streamId: string, partition: number): number {
    return this.states(streamId)[partition]!.trimmedThrough + 1;
  }

  /** The first retained position whose record committed at or after `commitUs`. */
  seqAtOrAfter(streamId: string, partition: number, commitUs: number): number {
    const state = this.states(streamId)[partition]!;
    for (const { key, value } of this.logDb.getRange({
      start: [streamId, partition, state.trimmedThrough + 1],
      end: [streamId, partition, Number.MAX_SAFE_INTEGER],
    })) {
      if (value.commitUs >= commitUs) return key[2];
    }
    return state.nextSeq;
  }

  /** Reads records from `fromSeq` on, up to the limits (always at least one record when any remains). */
  read(streamId: string, partition: number, fromSeq: number, limits: ReadLimits): PartitionRead {
    this.trimIfDue();
    const state = this.states(streamId)[partition]!;
    if (fromSeq <= state.trimmedThrough) return { kind: 'trimmed', trimmedThrough: state.trimmedThrough };
    const records: LogRecord[] = [];
    let bytes = 0;
    let nextSeq = fromSeq;
    let more = false;
    for (const { key, value } of this.logDb.getRange({
      start: [streamId, partition, fromSeq],
      end: [streamId, partition, Number.MAX_SAFE_INTEGER],
    })) {
      const size = value.length - RECORD_OFFSET;
      if (records.length >= limits.maxRecords || (records.length > 0 && bytes + size > limits.maxBytes)) {
        more = true;
        break;
      }
      records.push({ seq: key[2], action: value.action, commitUs: value.commitUs, record: value.record });
      bytes += size;
      nextSeq = key[2] + 1;
    }
    return { kind: 'records', records, nextSeq, more };
  }

  private trimIfDue(): void {
    const now = this.options.clock.now();
    if (now - this.lastTrimAt < TRIM_INTERVAL_MS) return;
    this.trim();
  }

  /** Removes records older than each stream's retention; returns how many were removed. */
  trim(): number {
    const now = this.options.clock.now();
    this.lastTrimAt = now;
    let removed = 0;
    for (const stream of this.streamsByTable.values()) {
      const horizonUs = (now - stream.retentionMs) * 1000;
      const states = this.states(stream.streamId);
      states.forEach((state, partition) => {
        const expired: number[] = [];
        for (const { key, value } of this.logDb.getRange({
          start: [stream.streamId, partition, state.trimmedThrough + 1],
          end: [stream.streamId, partition, Number.MAX_SAFE_INTEGER],
        })) {
          if (value.commitUs >= horizonUs) break;
          expired.push(key[2]);
        }
        if (expired.length === 0) return;
        const trimmedThrough = expired[expired.length - 1]!;
        this.root.transactionSync(() => {
          for (const seq of expired) this.logDb.remove([stream.streamId, partition, seq]);
          this.trimDb.put([stream.streamId, partition], trimmedThrough);
        });
        state.trimmedThrough = trimmedThrough;
        removed += expired.length;
      });
    }
    return removed;
  }
}
