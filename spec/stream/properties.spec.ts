/**
 * Batch-split invariance: however the records are cut into source batches and micro-batches, and
 * whatever their arrival order within the watermark, the sink ends with what a direct computation
 * over all orders gives — for every aggregate, window kind and output mode.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { OutputMode } from '../../lib/stream/emit.js';
import { StreamMetrics } from '../../lib/stream/metrics.js';
import { memorySource } from '../../lib/stream/source.js';
import { memorySink } from '../../lib/sinks/memory-sink.js';
import { chunked, expectedSink, lockstepScenario, ordersPipeline, scenarioArbitrary, sortRows, toRecord, windowArbitrary } from './pipeline.js';
import { testScheduler } from './helpers.js';

describe('batch-split invariance', () => {
  it('the sink ends equal to a direct computation of every aggregate, for any cut of the records into batches', () => {
    fc.assert(
      fc.property(
        scenarioArbitrary,
        windowArbitrary,
        fc.constantFrom<OutputMode>('update', 'complete', 'append'),
        fc.boolean(),
        fc.option(fc.integer({ min: 1, max: 12 }), { nil: undefined }),
        fc.integer({ min: 1, max: 6 }),
        (input, window, chosenMode, byUser, maxRecords, interval) => {
          // superseded sessions would stay behind in a keyed sink in the other modes
          const mode = window.kind === 'session' ? 'append' : chosenMode;
          const scenario = lockstepScenario(input);
          const sink = memorySink({ keyColumns: ['window', 'UserId'] });
          const metrics = new StreamMetrics();
          const scheduler = testScheduler();
          let failure: unknown;
          scheduler.run(() => {
            const channels = Object.fromEntries(Object.entries(scenario.channels).map(([id, orders]) => [id, chunked(orders.map(toRecord), scenario.chunkSizes)]));
            const source = memorySource(channels, { period: 1, scheduler, notes: true });
            ordersPipeline(source, sink, { window, delay: scenario.delay, mode, interval, maxRecords, byUser, scheduler, metrics }).subscribe({ error: (error: unknown) => (failure = error) });
          });
          expect(failure).toBeUndefined();
          expect(metrics.snapshot().lateRows, 'the scenario keeps every row within the watermark').toBe(0);
          expect(sortRows(sink.rows())).toEqual(sortRows(expectedSink(scenario, window, byUser, mode)));
        },
      ),
      { numRuns: 150 },
    );
  });
});
