/**
 * What `checkpointLocation` holds, as Spark's offset and commit logs do:
 *
 * - `offsets/N`, the plan of batch N, written before the batch runs: per channel the cursor it
 *   starts at and how many records it takes, the watermark in force, and the channels that hold
 *   the watermark back after it (`holding`; older plans lack it and replay with the old rule). A restart that finds a
 *   plan without its commit re-runs exactly that plan, so the replayed batch equals the lost one.
 * - `commits/N`, written after batch N's output is durable: every channel's cursor after the
 *   batch, the watermark after it, and each stateful operator's state (state-codec JSON).
 *
 * Stores return anything `from()` accepts, so the file store can use promises while tests drive
 * an in-memory store in virtual time.
 */
import * as E from 'fp-ts/lib/Either.js';
import * as t from 'io-ts';
import type { ObservableInput } from 'rxjs';
import type { Cursor } from '../batch.js';
import type { JsonValue } from '../source.js';

export interface PlannedChannel {
  readonly start: Cursor;
  readonly count: number;
}

export interface BatchPlan {
  readonly batchId: number;
  /** the watermark in force for the batch; null before any event time */
  readonly watermark: number | null;
  /**
   * the channels holding the job watermark back after the batch (known, not caught up); absent in
   * plans written before per-channel watermarks
   */
  readonly holding?: readonly string[];
  readonly channels: Readonly<Record<string, PlannedChannel>>;
}

export interface BatchCommit {
  readonly batchId: number;
  /** every channel's cursor after the batch (not only the channels it read) */
  readonly offsets: Readonly<Record<string, Cursor>>;
  /** the watermark after the batch; null before any event time */
  readonly watermark: number | null;
  /** operator state by state key, encoded by state-codec */
  readonly state: Readonly<Record<string, JsonValue>>;
}

export interface RestoredCheckpoint {
  /** the last commit; undefined on a fresh start */
  readonly commit: BatchCommit | undefined;
  /** the plan of the batch after it, when that batch was planned but not committed */
  readonly plan: BatchPlan | undefined;
}

export class CheckpointError extends Error {
  override readonly name = 'CheckpointError';
  constructor(
    readonly location: string,
    message: string,
    override readonly cause?: unknown,
  ) {
    super(`checkpoint ${location}: ${message}`);
  }
}

export interface CheckpointStore {
  readonly location: string;
  /**
   * the store holds every aggregate group itself and puts them back into the restored state
   * (see `CheckpointSession.groupsInPartials`); commits then carry no groups
   */
  readonly groupsInPartials?: boolean;
  /**
   * the least watermark a new plan may carry (a job on many workers: windows the job made final
   * take no more rows, late ones are dropped and counted); none: the committed watermark alone
   */
  watermarkFloor?(): number;
  load(): ObservableInput<E.Either<CheckpointError, RestoredCheckpoint>>;
  writePlan(plan: BatchPlan): ObservableInput<void>;
  /** persists the commit atomically; may prune plans and commits older than it */
  writeCommit(commit: BatchCommit): ObservableInput<void>;
}

const json: t.Type<JsonValue, JsonValue, unknown> = t.recursion<JsonValue, JsonValue, unknown>(
  'JsonValue',
  () => t.union([t.null, t.boolean, t.number, t.string, t.array(json), t.record(t.string, json)]) as unknown as t.Type<JsonValue, JsonValue, unknown>,
);

const count = t.refinement(t.number, (n) => Number.isSafeInteger(n) && n >= 0, 'non-negative integer');

const cursorCodec = t.type({ position: json, skip: count });

export const planCodec: t.Type<BatchPlan, BatchPlan, unknown> = t.intersection([
  t.type({
    batchId: count,
    watermark: t.union([t.number, t.null]),
    channels: t.record(t.string, t.type({ start: cursorCodec, count })),
  }),
  t.partial({ holding: t.array(t.string) }),
]) as unknown as t.Type<BatchPlan, BatchPlan, unknown>;

export const commitCodec: t.Type<BatchCommit, BatchCommit, unknown> = t.type({
  batchId: count,
  offsets: t.record(t.string, cursorCodec),
  watermark: t.union([t.number, t.null]),
  state: t.record(t.string, json),
}) as unknown as t.Type<BatchCommit, BatchCommit, unknown>;

/**
 * Every problem of a decoded file, with its path: `offsets.a.skip: expected non-negative integer,
 * got -1`. The branches of a union are reported once, as the union.
 */
export function describeErrors(errors: t.Errors): string {
  const messages = errors.map((error) => {
    const keys: string[] = [];
    let expected = error.context[0]?.type.name ?? 'a value';
    error.context.forEach((entry, i) => {
      const parent = error.context[i - 1]?.type;
      if (parent instanceof t.UnionType) return;
      if (entry.key !== '') keys.push(entry.key);
      expected = entry.type.name;
    });
    return `${keys.length === 0 ? '(root)' : keys.join('.')}: expected ${expected}, got ${JSON.stringify(error.value)}`;
  });
  return [...new Set(messages)].join('; ');
}

/** The watermark as files hold it: -Infinity (no event time yet) is null. */
export const watermarkToJson = (watermark: number): number | null => (Number.isFinite(watermark) ? watermark : null);
export const watermarkFromJson = (watermark: number | null): number => watermark ?? Number.NEGATIVE_INFINITY;
