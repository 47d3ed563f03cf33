import { describe, expect, it } from 'vitest';
import { StreamMetrics } from '../../lib/stream/metrics.js';
import { tableRows } from '../../lib/stream/table.js';
import { context, never$, recordBatch, sourceBatch, tableBatch, times } from '../../lib/testing/index.js';

describe('batch builders', () => {
  it('recordBatch is a micro-batch as microBatch emits it: the records, nothing planned, acknowledged or saved', () => {
    const metrics = new StreamMetrics();
    const ctx = context(metrics);
    const batch = recordBatch(7, ['r1', 'r2'], ctx);
    expect(batch).toEqual({ id: 7, rows: ['r1', 'r2'], offsets: {}, acks: [], replay: false, plannedWatermark: undefined, context: { metrics, checkpoint: undefined }, deadLetters: [], state: {} });
    expect(batch.context.metrics).toBe(metrics);
    expect(recordBatch(0, []).context.metrics).not.toBe(recordBatch(0, []).context.metrics);
  });

  it('tableBatch holds the rows columnar and gives them back as they went in, in the given column order', () => {
    const rows = [
      { user: 'u1', t: 1000, price: null },
      { user: null, t: 1500, price: 2.5 },
    ];
    const batch = tableBatch(3, rows, { names: ['t', 'user', 'price'], watermark: { current: 10, next: 20 } });
    expect(batch.id).toBe(3);
    expect(batch.watermark).toEqual({ current: 10, next: 20 });
    expect([...batch.rows.columns.keys()]).toEqual(['t', 'user', 'price']);
    expect(batch.rows.columns.get('t')?.kind).toBe('number');
    expect(batch.rows.columns.get('user')?.kind).toBe('value');
    expect(tableRows(batch.rows)).toEqual(rows.map((row) => ({ t: row.t, user: row.user, price: row.price })));
  });

  it('times(id, …) is a table batch of one column t, null for a row without event time', () => {
    const batch = times(2, 100, null, 130);
    expect(batch.id).toBe(2);
    expect(tableRows(batch.rows)).toEqual([{ t: 100 }, { t: null }, { t: 130 }]);
    expect(times(0).rows.length).toBe(0);
  });

  it('sourceBatch covers [position, position + n) and records its acknowledgement', async () => {
    const acks: string[] = [];
    const batch = sourceBatch('ch1', 5, ['a', 'b', 'c'], acks);
    expect([batch.channelId, batch.position, batch.next, batch.records]).toEqual(['ch1', 5, 8, ['a', 'b', 'c']]);
    await batch.ack();
    expect(acks).toEqual(['ch1@8']);
    expect(() => sourceBatch('ch2', 0, []).ack()).not.toThrow();
  });

  it('never$ emits nothing and tells when it was unsubscribed', () => {
    const never = never$<number>();
    const values: number[] = [];
    const subscription = never.observable.subscribe((v) => values.push(v));
    expect(never.unsubscribed()).toBe(false);
    subscription.unsubscribe();
    expect(never.unsubscribed()).toBe(true);
    expect(values).toEqual([]);
  });
});
