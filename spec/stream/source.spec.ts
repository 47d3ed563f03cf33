import { lastValueFrom, toArray } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { isReplayable, memorySource, replayable, type SourceBatch } from '../../lib/stream/source.js';
import { testScheduler } from './helpers.js';

const shape = (batch: SourceBatch<number>) => [batch.channelId, batch.position, batch.next, [...batch.records]];

describe('memorySource', () => {
  it('delivers channels round-robin with record-index positions, and replays from any batch boundary', async () => {
    const source = memorySource({ b: [[10], [11, 12]], a: [[1, 2], [3], [4]] });
    expect((await lastValueFrom(source.pipe(toArray()))).map(shape)).toEqual([
      ['a', 0, 2, [1, 2]],
      ['b', 0, 1, [10]],
      ['a', 2, 3, [3]],
      ['b', 1, 3, [11, 12]],
      ['a', 3, 4, [4]],
    ]);
    expect((await lastValueFrom(source.open({ a: 3, b: 3 }).pipe(toArray()))).map(shape)).toEqual([['a', 3, 4, [4]]]);
    await expect(lastValueFrom(source.open({ a: 1 }))).rejects.toThrow(/not a batch boundary/);
    expect(source.opens).toEqual([undefined, { a: 3, b: 3 }, { a: 1 }]);
  });

  it('records acknowledgements and paces batches on a scheduler', () => {
    const scheduler = testScheduler();
    scheduler.run(({ expectObservable }) => {
      const source = memorySource({ a: [[1], [2]] }, { period: 3, scheduler });
      expectObservable(source.pipe()).toBe('3ms a 2ms (b|)', { a: expect.objectContaining({ position: 0 }), b: expect.objectContaining({ position: 1 }) });
    });
    const source = memorySource({ a: [[1], [2, 3]] });
    source.subscribe((batch) => void batch.ack());
    expect(source.acks).toEqual([
      { channelId: 'a', position: 0, next: 1 },
      { channelId: 'a', position: 1, next: 3 },
    ]);
    expect(source.acknowledged('a')).toBe(3);
  });

  it('makes any ReplayableSource pipeable', async () => {
    const opened: unknown[] = [];
    const inner = memorySource({ a: [[1]] });
    const source = replayable({ open: (from) => (opened.push(from), inner.open(from)) });
    expect(isReplayable(source)).toBe(true);
    expect((await lastValueFrom(source.pipe(toArray()))).map(shape)).toEqual([['a', 0, 1, [1]]]);
    await lastValueFrom(source.open({ a: 1 }).pipe(toArray()));
    expect(opened).toEqual([undefined, { a: 1 }]);
  });
});
