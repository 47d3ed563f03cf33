/**
 * The checkpoint as one run sees it: what was restored, the cursors committed so far, and the
 * commit step `commitAfter` calls once a batch's output is durable.
 */
import { defer, EMPTY, from, ignoreElements, Observable, tap } from 'rxjs';
import type { CheckpointHandle, Cursor, MicroBatch } from '../batch.js';
import type { JsonValue } from '../source.js';
import { decodeState } from './state-codec.js';
import { watermarkFromJson, watermarkToJson, type BatchCommit, type CheckpointStore, type RestoredCheckpoint } from './store.js';

export class CheckpointWriter implements CheckpointHandle {
  readonly location: string;
  readonly restoredState: Readonly<Record<string, unknown>>;
  readonly groupsInPartials: boolean;
  private readonly offsets: Map<string, Cursor>;
  private lastCommitted: number;
  #watermark: number;

  constructor(
    private readonly store: CheckpointStore,
    restored: RestoredCheckpoint,
    private readonly onCommitted: (batchId: number) => void,
  ) {
    this.location = store.location;
    this.groupsInPartials = store.groupsInPartials === true;
    const state: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(restored.commit?.state ?? {})) state[key] = decodeState(value);
    this.restoredState = state;
    this.offsets = new Map(Object.entries(restored.commit?.offsets ?? {}));
    this.lastCommitted = restored.commit?.batchId ?? -1;
    this.#watermark = watermarkFromJson(restored.commit?.watermark ?? null);
  }

  /**
   * the watermark after the last committed batch: the one in force for the next plan — raised to
   * the store's floor where it has one (a job on many workers: windows already final for the job)
   */
  get watermark(): number {
    const floor = this.store.watermarkFloor?.() ?? Number.NEGATIVE_INFINITY;
    return floor > this.#watermark ? floor : this.#watermark;
  }

  /** the committed cursor of each channel */
  cursors(): ReadonlyMap<string, Cursor> {
    return this.offsets;
  }

  commit(batch: MicroBatch<unknown>): Observable<void> {
    return defer(() => {
      if (batch.id <= this.lastCommitted) return EMPTY;
      if (batch.id !== this.lastCommitted + 1) throw new Error(`commit of batch ${batch.id} after batch ${this.lastCommitted}: batches must be committed in order`);
      const offsets = new Map(this.offsets);
      for (const [channelId, channel] of Object.entries(batch.offsets)) offsets.set(channelId, channel.end);
      const watermark = batch.watermark?.next ?? this.watermark;
      const commit: BatchCommit = {
        batchId: batch.id,
        offsets: Object.fromEntries(offsets),
        watermark: watermarkToJson(watermark),
        state: batch.state as Readonly<Record<string, JsonValue>>,
      };
      return from(this.store.writeCommit(commit)).pipe(
        ignoreElements(),
        tap({
          complete: () => {
            for (const [channelId, cursor] of offsets) this.offsets.set(channelId, cursor);
            this.lastCommitted = batch.id;
            this.#watermark = watermark;
            this.onCommitted(batch.id);
          },
        }),
      );
    });
  }
}
