/**
 * `mergePartials({ store, channelId })`: the step that lets one aggregating job run on many
 * workers. Each channel of the tunnel is aggregated on its own (one owner at a time), so its
 * accumulators per group are a *partial* of the job's. After `aggregate`, this operator hands the
 * partials of the groups the batch changed to the store (which writes them per (group, channel)
 * and reads back every channel's partials of those groups), and replaces the batch's update rows
 * by the merged ones: each carries, under {@link VERSION_FIELD}, the version of its merge — the
 * sum over channels of (1 + the batch id that last wrote each partial). Partials only move forward per
 * channel, so a later read of a group sees component-wise newer partials and a higher version:
 * a sink that writes a row only when the stored version is lower keeps the most complete merge.
 *
 * ```
 * aggregate (channel a):  --b7{w1:3, w2:1}--------------b8{w2:4}---
 * store (a's partials + b's):  w1 = a7 ⊕ b3, w2 = a7 ⊕ b5      w2 = a8 ⊕ b6
 * mergePartials:          --b7[w1 v10, w2 v12]-----------b8[w2 v14]-
 * ```
 *
 * In update and complete modes the batch's update rows are replaced by the merged ones (a keyed
 * sink ends equal for both). In append mode (`output: 'append'`) a window closed by one
 * channel's watermark may still grow by another's, so the batch's own closed rows are dropped;
 * the store writes the partials and answers with the windows that became final for the *job*
 * (the job watermark combines every channel's, wherever it is held), merged from every channel's
 * partials: those are the batch's closed rows. Any worker may emit a final window — the same row.
 *
 * ```
 * append, a and b caught up to w3's end:  a: --b9{w3:2}--------   b (elsewhere): --b4{w3:5}--
 * mergePartials (a):                      --b9[closed: w3 = a9 ⊕ b4, v15]--
 * ```
 */
import { concatMap, from, map, of, type OperatorFunction } from 'rxjs';
import type { PartialGroup, TableBatch } from './batch.js';
import { tableFromRows, type OutputRow, type Value } from './table.js';

/** The field of a merged row that holds its merge version (never a sink column). */
export const VERSION_FIELD = '__otsflow_version';

export interface MergedGroups {
  /** per group of the request, in order: every channel's partial of it (this channel's included); none for a window already final for the job */
  readonly parts: readonly (readonly PartialGroup[])[];
  /** per group: the merge version (sum over the partials of batch id + 1: a new partial raises it too) */
  readonly versions: readonly number[];
}

export interface PartialStore {
  /**
   * Writes `channelId`'s partials of batch `batchId` (a partial already written by a later batch
   * stays), then reads every channel's partials of the same groups.
   */
  mergeGroups(channelId: string, batchId: number, groups: readonly PartialGroup[], after?: ChannelAfter): PromiseLike<MergedGroups>;
  /**
   * Writes the partials as `mergeGroups` does, then answers with every window that became final
   * for the job (merged from every channel's partials; `parts` carry their bounds and keys).
   */
  finalGroups(channelId: string, batchId: number, groups: readonly PartialGroup[], after: ChannelAfter): PromiseLike<MergedGroups>;
}

/** the channel as the batch leaves it: its watermark after the batch, and whether it is caught up */
export interface ChannelAfter {
  readonly watermark: number;
  readonly idle: boolean;
}

export interface MergePartialsOptions {
  readonly store: PartialStore;
  readonly channelId: string;
  /** the job's output mode (default 'update'): 'append' emits the windows final for the job */
  readonly output?: 'update' | 'complete' | 'append';
}

export function mergePartials(options: MergePartialsOptions): OperatorFunction<TableBatch, TableBatch> {
  return concatMap((batch) => {
    const view = batch.aggregation;
    if (view === undefined || view.updatedPartials === undefined || view.mergedRows === undefined) {
      throw new Error('mergePartials(): the batch has no partials; put it right after aggregate()');
    }
    const partials = view.updatedPartials();
    const mergedRows = view.mergedRows.bind(view);
    const withRows = (rows: readonly OutputRow[]): TableBatch => {
      const table = tableFromRows(rows as readonly Readonly<Record<string, Value>>[]);
      const none = tableFromRows([]);
      return {
        ...batch,
        aggregation: { ...view, updatedRows: () => rows, openRows: () => rows, closedRows: () => [], updatedTable: () => table, openTable: () => table, closedTable: () => none },
      };
    };
    const after: ChannelAfter = {
      watermark: batch.watermark?.next ?? Number.NEGATIVE_INFINITY,
      idle: batch.holdingChannels !== undefined && !batch.holdingChannels.includes(options.channelId),
    };
    if (options.output === 'append') {
      return from(options.store.finalGroups(options.channelId, batch.id, partials, after)).pipe(
        map((final) => {
          const rows = mergedRows(final.parts).map((row, i) => ({ ...row, [VERSION_FIELD]: final.versions[i] as number }));
          const table = tableFromRows(rows as readonly Readonly<Record<string, Value>>[]);
          const none = tableFromRows([]);
          return { ...batch, aggregation: { ...view, updatedRows: () => [], openRows: () => [], closedRows: () => rows, updatedTable: () => none, openTable: () => none, closedTable: () => table } };
        }),
      );
    }
    if (partials.length === 0) return of(withRows([]));
    return from(options.store.mergeGroups(options.channelId, batch.id, partials, after)).pipe(
      map((merged) => {
        // a group without partials: a window already final for the job, not merged again
        const kept = merged.parts.map((_, i) => i).filter((i) => (merged.parts[i] as readonly PartialGroup[]).length > 0);
        const rows = mergedRows(kept.map((i) => merged.parts[i] as readonly PartialGroup[]));
        return withRows(rows.map((row, j) => ({ ...row, [VERSION_FIELD]: merged.versions[kept[j] as number] as number })));
      }),
    );
  });
}
