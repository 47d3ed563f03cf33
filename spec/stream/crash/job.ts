/**
 * The job the crash test kills and restarts: the seed pipeline over a paced replayable source,
 * checkpointed in `<dir>/checkpoint`, writing to the JSON file sink `<dir>/sink.json`.
 */
import * as path from 'node:path';
import { asyncScheduler, type Observable } from 'rxjs';
import type { CommittedBatch } from '../../../lib/stream/commit-after.js';
import type { StreamMetrics } from '../../../lib/stream/metrics.js';
import { memorySource } from '../../../lib/stream/source.js';
import { chunked, lockstepScenario, ordersPipeline, resultKey, toRecord, type PipelineOptions, type Scenario } from '../pipeline.js';
import { jsonFileSink } from './file-sink.js';
import { seededRandom } from '../../../lib/wire/random.js';

export function crashScenario(seed: number): Scenario {
  const next = seededRandom(seed);
  const seeds = Array.from({ length: 64 }, () => Math.floor(next() * 2 ** 31));
  return lockstepScenario({ channels: 3, perChannel: 60, chunkPattern: [3, 1, 4, 2], disorder: 3, seeds });
}

export const crashJobOptions = (scenario: Scenario): Omit<PipelineOptions, 'checkpoint'> => ({
  window: { kind: 'tumbling', size: 5_000 },
  delay: scenario.delay,
  mode: 'update',
  interval: 10,
  maxRecords: 12,
  byUser: true,
});

export const sinkFile = (dir: string): string => path.join(dir, 'sink.json');

export function crashJob(dir: string, seed: number, metrics?: StreamMetrics): Observable<CommittedBatch> {
  const scenario = crashScenario(seed);
  const channels = Object.fromEntries(Object.entries(scenario.channels).map(([id, orders]) => [id, chunked(orders.map(toRecord), scenario.chunkSizes)]));
  const source = memorySource(channels, { period: 4, scheduler: asyncScheduler });
  return ordersPipeline(source, jsonFileSink(sinkFile(dir), resultKey, { latency: 8 }), { ...crashJobOptions(scenario), checkpoint: path.join(dir, 'checkpoint'), metrics });
}
