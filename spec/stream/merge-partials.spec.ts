/**
 * `mergePartials` over the job state table (a real emulator, the official SDK): random rows split
 * over three channels, each aggregated on its own in random micro-batches (the channels' batches
 * interleaved), each batch's update rows replaced by the merge of every channel's partials. Per
 * group, the merged row with the greatest version must equal a direct computation over all rows —
 * count, sum, avg, min, max, count(DISTINCT), first/last by event time — whichever channel saw
 * what and in which order the merges ran; and versions only grow per group as the batches go.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Subject } from 'rxjs';
import { DEFAULT_CREDENTIALS, DEFAULT_INSTANCE_NAME, startEmulator, type RunningEmulator } from '../../lib/emulator/index.js';
import { JobStateTable } from '../../lib/sinks/tablestore-state.js';
import { aggregate } from '../../lib/stream/aggregate.js';
import { avg, count, countDistinct, first, last, max, min, sum } from '../../lib/stream/aggregates.js';
import type { OutputBatch, TableBatch } from '../../lib/stream/batch.js';
import { emit } from '../../lib/stream/emit.js';
import { mergePartials, VERSION_FIELD } from '../../lib/stream/merge-partials.js';
import type { OutputRow } from '../../lib/stream/table.js';
import { tempDir } from '../emulator/helpers.js';
import { context, tableBatch } from './helpers.js';

let emulator: RunningEmulator;
let data: { path: string; remove(): void };
let jobs = 0;

beforeAll(async () => {
  data = tempDir('merge-partials');
  emulator = await startEmulator({ dataDir: data.path, port: 0 });
  await new JobStateTable({ endpoint: emulator.endpoint, instanceName: DEFAULT_INSTANCE_NAME, ...DEFAULT_CREDENTIALS, tableName: 'state', job: 'none' }).ensure();
});

afterAll(async () => {
  await emulator.close();
  data.remove();
});

type Row = {
  readonly k: string;
  readonly v: number;
  readonly t: number;
};

const CHANNELS = ['a', 'b', 'c'] as const;

describe('mergePartials over the job state table', () => {
  it('the newest merge of every group equals a direct computation over every channel\'s rows (random rows, batches and interleavings)', async () => {
    const row = fc.record({ k: fc.constantFrom('k1', 'k2', 'k3'), v: fc.integer({ min: -50, max: 50 }), channel: fc.constantFrom(...CHANNELS), cut: fc.boolean() });
    await fc.assert(
      fc.asyncProperty(fc.array(row, { minLength: 1, maxLength: 40 }), fc.array(fc.constantFrom(...CHANNELS), { minLength: 1, maxLength: 30 }), async (generated, order) => {
        const job = `merge${++jobs}`;
        // distinct event times: first/last by event time have no ties to break
        const rows = generated.map((entry, i) => ({ ...entry, t: (i * 7919) % 1009 }));
        const state = new JobStateTable({ endpoint: emulator.endpoint, instanceName: DEFAULT_INSTANCE_NAME, ...DEFAULT_CREDENTIALS, tableName: 'state', job });
        for (const channel of CHANNELS) await state.claim(channel, 'worker');
        // per channel its rows in order, cut into batches where `cut` says
        const batches = new Map<string, Row[][]>(CHANNELS.map((channel) => [channel, []]));
        for (const entry of rows) {
          const list = batches.get(entry.channel) as Row[][];
          if (list.length === 0 || entry.cut) list.push([]);
          (list[list.length - 1] as Row[]).push({ k: entry.k, v: entry.v, t: entry.t });
        }
        // one pipeline per channel, fed one batch at a time; the channels' batches interleaved as
        // `order` says (the rest after)
        const merged: OutputRow[] = [];
        const pipelines = new Map(
          CHANNELS.map((channel) => {
            const input = new Subject<TableBatch>();
            let resolve: (() => void) | undefined;
            let failure: unknown;
            input
              .pipe(
                aggregate(['k'], { n: count(), total: sum('v'), mean: avg('v'), low: min('v'), high: max('v'), distinct: countDistinct('v'), earliest: first('v', { by: 't' }), latest: last('v', { by: 't' }) }),
                mergePartials({ store: state, channelId: channel }),
                emit('update'),
              )
              .subscribe({
                next: (batch: OutputBatch) => {
                  merged.push(...batch.rows);
                  resolve?.();
                },
                error: (error: unknown) => {
                  failure = error;
                  resolve?.();
                },
              });
            const ctx = context();
            let id = 0;
            return [
              channel,
              async (): Promise<boolean> => {
                const list = batches.get(channel) as Row[][];
                if (id >= list.length) return false;
                const done = new Promise<void>((settle) => (resolve = settle));
                input.next({ ...tableBatch(id, list[id] as Row[]), context: ctx });
                id++;
                await done;
                if (failure !== undefined) throw failure;
                return true;
              },
            ] as const;
          }),
        );
        for (const channel of order) await (pipelines.get(channel) as () => Promise<boolean>)();
        for (const channel of CHANNELS) while (await (pipelines.get(channel) as () => Promise<boolean>)());

        // per group, the row of the greatest version
        const newest = new Map<string, OutputRow>();
        for (const out of merged) {
          const kept = newest.get(String(out['k']));
          if (kept === undefined || (out[VERSION_FIELD] as number) >= (kept[VERSION_FIELD] as number)) newest.set(String(out['k']), out);
        }
        const direct = new Map<string, Record<string, unknown>>();
        for (const k of new Set(rows.map((entry) => entry.k))) {
          const mine = rows.filter((entry) => entry.k === k);
          const values = mine.map((entry) => entry.v);
          const byTime = [...mine].sort((x, y) => x.t - y.t);
          const total = values.reduce((s, v) => s + v, 0);
          direct.set(k, { k, n: mine.length, total, mean: total / mine.length, low: Math.min(...values), high: Math.max(...values), distinct: new Set(values).size, earliest: byTime[0]?.v, latest: byTime[byTime.length - 1]?.v });
        }
        expect(new Map([...newest].map(([k, out]) => [k, Object.fromEntries(Object.entries(out).filter(([name]) => name !== VERSION_FIELD).map(([name, value]) => [name, typeof value === 'bigint' ? Number(value) : value]))]))).toEqual(direct);
      }),
      { numRuns: 12 },
    );
  }, 120_000);
});
