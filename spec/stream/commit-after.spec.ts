import { lastValueFrom, map, of, type Observable } from 'rxjs';
import type { TestScheduler } from 'rxjs/testing';
import { describe, expect, it } from 'vitest';
import type { DeadLetter, OutputBatch } from '../../lib/stream/batch.js';
import { commitAfter, DEFAULT_SINK_RETRY, SinkWriteError, type CommittedBatch } from '../../lib/stream/commit-after.js';
import { StreamMetrics } from '../../lib/stream/metrics.js';
import type { Sink } from '../../lib/stream/sink.js';
import { tableFromRows, type OutputRow, type RowTable, type Value } from '../../lib/stream/table.js';
import { memorySink } from '../../lib/sinks/memory-sink.js';
import { context, never$, recordBatch, testScheduler } from './helpers.js';

const noJitter = { initialMs: 10, multiplier: 2, jitter: 0 };

/** A batch of output rows whose acknowledgements note the virtual time they were called at. */
function outputBatch(scheduler: TestScheduler, id: number, rows: readonly OutputRow[], acked: string[], metrics = new StreamMetrics()): OutputBatch {
  return { ...recordBatch(id, rows, context(metrics)), acks: [() => void acked.push(`batch ${id} at ${scheduler.now()}`)] };
}

/** A sink whose writes follow a script of marble results, one per attempt. */
function scriptedSink(cold: (marbles: string, values?: Record<string, unknown>, error?: unknown) => Observable<unknown>, script: readonly string[]): Sink & { attempts: number } {
  const sink = {
    attempts: 0,
    write: () => cold(script[Math.min(sink.attempts++, script.length - 1)] as string, undefined, new Error('throttled')),
  };
  return sink;
}

const committed = map((result: CommittedBatch) => ({ batchId: result.batchId, rowsWritten: result.rowsWritten, attempts: result.attempts }));

describe('commitAfter', () => {
  it('hands a columnar batch to writeTable when the sink has it, else writes it as row objects', () => {
    const rows: OutputRow[] = [{ k: 'a', n: 1 }, { k: 'b', n: null }, { k: 'c', n: 3 }];
    const table = tableFromRows(rows as Record<string, Value>[]);
    const tables: RowTable[] = [];
    const columnar: Sink = { write: () => { throw new Error('write is not used when writeTable exists'); }, writeTable: (written) => {
        tables.push(written);
        return of(undefined);
      },
    };
    const plain = memorySink({ keyColumns: ['k'] });
    const scheduler = testScheduler();
    scheduler.run(({ cold, expectObservable }) => {
      const batch = { ...outputBatch(scheduler, 0, [], []), rows: table };
      expectObservable(cold('a|', { a: batch }).pipe(commitAfter(columnar), committed)).toBe('a|', { a: { batchId: 0, rowsWritten: 3, attempts: 1 } });
      expectObservable(cold('a|', { a: batch }).pipe(commitAfter(plain), committed)).toBe('a|', { a: { batchId: 0, rowsWritten: 3, attempts: 1 } });
    });
    expect(tables).toEqual([table]);
    expect(plain.rows()).toEqual(rows);
  });

  it('writes the rows, then acknowledges, then reports the batch committed', () => {
    const acked: string[] = [];
    const sink = memorySink({ keyColumns: ['k'] });
    const scheduler = testScheduler();
    scheduler.run(({ cold, expectObservable }) => {
      const source = cold('a-b|', { a: outputBatch(scheduler, 0, [{ k: 1, n: 1 }], acked), b: outputBatch(scheduler, 1, [{ k: 1, n: 2 }], acked) });
      expectObservable(source.pipe(commitAfter(sink), committed)).toBe('a-b|', { a: { batchId: 0, rowsWritten: 1, attempts: 1 }, b: { batchId: 1, rowsWritten: 1, attempts: 1 } });
    });
    expect(acked).toEqual(['batch 0 at 0', 'batch 1 at 2']);
    expect(sink.rows()).toEqual([{ k: 1, n: 2 }]);
  });

  it('retries a failing sink with backoff and acknowledges only once a write succeeded', () => {
    const acked: string[] = [];
    const metrics = new StreamMetrics();
    const scheduler = testScheduler();
    scheduler.run(({ cold, expectObservable }) => {
      const sink = scriptedSink(cold, ['--#', '--#', '--|']);
      const source = cold('a', { a: outputBatch(scheduler, 0, [{ k: 1 }], acked, metrics) });
      // attempt 1 fails at 2, retry at 12 fails at 14, retry at 34 succeeds at 36
      expectObservable(source.pipe(commitAfter(sink, { retry: noJitter, scheduler }), committed)).toBe('36ms a', { a: { batchId: 0, rowsWritten: 1, attempts: 3 } });
    });
    expect(acked).toEqual(['batch 0 at 36']);
    expect(metrics.snapshot()).toMatchObject({ sinkRetries: 2, batchesCommitted: 1, rowsWritten: 1 });
  });

  it('gives up after maxAttempts, or at once on an error not worth retrying, without acknowledging', () => {
    const acked: string[] = [];
    const scheduler = testScheduler();
    scheduler.run(({ cold, expectObservable }) => {
      const failing = scriptedSink(cold, ['-#']);
      expectObservable(cold('a', { a: outputBatch(scheduler, 3, [{ k: 1 }], acked) }).pipe(commitAfter(failing, { retry: { ...noJitter, maxAttempts: 2 }, scheduler }))).toBe(
        '12ms #',
        undefined,
        new SinkWriteError('sink write of batch 3 failed after 2 attempt(s): throttled', 3, 2, new Error('throttled')),
      );
      const refused = scriptedSink(cold, ['-#']);
      expectObservable(cold('a', { a: outputBatch(scheduler, 4, [{ k: 1 }], acked) }).pipe(commitAfter(refused, { retry: { ...noJitter, retryable: () => false }, scheduler }))).toBe(
        '-#',
        undefined,
        expect.objectContaining({ name: 'SinkWriteError', attempts: 1 }),
      );
    });
    expect(acked).toEqual([]);
  });

  it('commits batches one at a time, in order', () => {
    const acked: string[] = [];
    const scheduler = testScheduler();
    scheduler.run(({ cold, expectObservable }) => {
      const slow = { write: () => cold('-----|') };
      const source = cold('ab', { a: outputBatch(scheduler, 0, [{ k: 1 }], acked), b: outputBatch(scheduler, 1, [{ k: 2 }], acked) });
      expectObservable(source.pipe(commitAfter(slow), map((result) => result.batchId))).toBe('5ms a 4ms b', { a: 0, b: 1 });
    });
    expect(acked).toEqual(['batch 0 at 5', 'batch 1 at 10']);
  });

  it('writes dead letters before the rows, and refuses a batch with dead letters but no dead-letter sink', async () => {
    const letter: DeadLetter = { kind: 'late-row', batchId: 0, row: { t: 1 }, eventTime: 1, window: { start: 0, end: 10 }, watermark: 20 };
    const order: string[] = [];
    const deadLetters: Sink<DeadLetter> = {
      write: (rows) => {
        order.push(`dead letters ${rows.length}`);
        return Promise.resolve();
      },
    };
    const sink: Sink = {
      write: (rows) => {
        order.push(`rows ${rows.length}`);
        return Promise.resolve();
      },
    };
    const scheduler = testScheduler();
    scheduler.run(({ cold, expectObservable }) => {
      const batch = { ...outputBatch(scheduler, 0, [{ k: 1 }], []), deadLetters: [letter] };
      expectObservable(cold('a', { a: batch }).pipe(commitAfter(sink))).toBe('#', undefined, expect.objectContaining({ message: expect.stringMatching(/no deadLetters sink/) }));
    });
    const batch: OutputBatch = { ...recordBatch(0, [{ k: 1 }] as readonly OutputRow[]), deadLetters: [letter] };
    await lastValueFrom(of(batch).pipe(commitAfter(sink, { deadLetters })));
    expect(order).toEqual(['dead letters 1', 'rows 1']);
  });

  it('skips the write of a batch without rows but still acknowledges it, and counts failed acknowledgements', async () => {
    const metrics = new StreamMetrics();
    const writes: number[] = [];
    const sink: Sink = {
      write: (rows) => {
        writes.push(rows.length);
        return Promise.resolve();
      },
    };
    const scheduler = testScheduler();
    const acked: string[] = [];
    scheduler.run(({ cold, expectObservable }) => {
      const failingAck = { ...outputBatch(scheduler, 0, [], acked, metrics), acks: [() => Promise.reject(new Error('checkpoint refused')), () => void acked.push('second')] };
      expectObservable(cold('a', { a: failingAck }).pipe(commitAfter(sink), committed)).toBe('a', { a: { batchId: 0, rowsWritten: 0, attempts: 0 } });
    });
    await Promise.resolve();
    expect(writes).toEqual([]);
    expect(acked).toEqual(['second']);
    expect(metrics.snapshot().ackFailures).toBe(1);
  });

  it('is empty on empty, silent on never, passes errors and unsubscribes upstream', () => {
    testScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      expectObservable(cold<OutputBatch>('|').pipe(commitAfter(memorySink()))).toBe('|');
      expectObservable(cold<OutputBatch>('-#').pipe(commitAfter(memorySink()))).toBe('-#');
      const source = cold('---a', { a: recordBatch(0, [] as readonly OutputRow[]) });
      expectObservable(source.pipe(commitAfter(memorySink())), '^-!').toBe('');
      expectSubscriptions(source.subscriptions).toBe('^-!');
    });
    const never = never$<OutputBatch>();
    never.observable.pipe(commitAfter(memorySink())).subscribe().unsubscribe();
    expect(never.unsubscribed()).toBe(true);
  });

  it('retries with the defaults a user gets: 100 ms doubling up to 30 s, 8 attempts in all, every error', () => {
    const acked: string[] = [];
    const metrics = new StreamMetrics();
    const scheduler = testScheduler();
    // random 0.5 draws the middle of the ± 20 % jitter: the delays are the bare policy's
    const delays = Array.from({ length: DEFAULT_SINK_RETRY.maxAttempts - 1 }, (_, retry) => Math.min(30_000, 100 * 2 ** retry));
    const failedAt = delays.reduce((sum, delay) => sum + delay + 1, 1);
    scheduler.run(({ cold, expectObservable }) => {
      const failing = scriptedSink(cold, ['-#']);
      expectObservable(cold('a', { a: outputBatch(scheduler, 5, [{ k: 1 }], acked, metrics) }).pipe(commitAfter(failing, { retry: { random: () => 0.5 }, scheduler }))).toBe(
        `${failedAt}ms #`,
        undefined,
        expect.objectContaining({ name: 'SinkWriteError', attempts: 8 }),
      );
    });
    expect(acked).toEqual([]);
    expect(metrics.snapshot()).toMatchObject({ sinkRetries: 7, batchesCommitted: 0 });
  });
});
