import { lastValueFrom, from } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { memorySink } from '../../lib/sinks/memory-sink.js';

describe('memorySink', () => {
  it('upserts by key columns: the last write of a key wins, keys keep their first-written order', async () => {
    const sink = memorySink({ keyColumns: ['window', 'user'] });
    const w1 = { start: 0, end: 30_000 };
    await lastValueFrom(from(sink.write([{ window: w1, user: 'a', n: 1 }, { window: w1, user: 'b', n: 1 }], { batchId: 0 })), { defaultValue: undefined });
    await lastValueFrom(from(sink.write([{ window: { start: 0, end: 30_000 }, user: 'a', n: 2 }], { batchId: 1 })), { defaultValue: undefined });
    expect(sink.rows()).toEqual([
      { window: w1, user: 'a', n: 2 },
      { window: w1, user: 'b', n: 1 },
    ]);
    expect(sink.get(w1, 'b')).toEqual({ window: w1, user: 'b', n: 1 });
    expect(sink.writes.map((write) => [write.batchId, write.rows.length])).toEqual([
      [0, 2],
      [1, 1],
    ]);
  });

  it('tells bigint keys from equal-looking numbers and strings', () => {
    const sink = memorySink({ keyColumns: ['k'] });
    sink.write([{ k: 1n, v: 'bigint' }, { k: 1, v: 'number' }, { k: '1n', v: 'string' }], { batchId: 0 });
    expect(sink.rows()).toHaveLength(3);
    expect(sink.get(1n)).toEqual({ k: 1n, v: 'bigint' });
  });

  it('appends every row without key columns, and clears', () => {
    const sink = memorySink();
    sink.write([{ n: 1 }, { n: 1 }], { batchId: 0 });
    expect(sink.rows()).toEqual([{ n: 1 }, { n: 1 }]);
    sink.clear();
    expect(sink.rows()).toEqual([]);
    expect(sink.writes).toEqual([]);
  });
});
