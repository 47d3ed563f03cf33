/**
 * Marble-testing a streaming SQL query — copy this file next to your job. `sqlOperator` compiles the
 * query to the operators `otsflow sql` runs between the tunnel and the sink; here they run on
 * micro-batches drawn as marbles, in virtual time, with no tunnel and no emulator.
 *
 * The query counts orders and sums prices per 30-second window of event time, with a watermark
 * 10 s behind the newest order seen; `outputMode 'append'` outputs each window once, in the batch
 * whose watermark closes it, and drops orders that arrive after their window closed.
 */
import { expect, it } from 'vitest';
import { StreamMetrics } from 'otsflow';
import { marbleSource, recordBuilder, sqlOperator, testScheduler } from 'otsflow/testing';

const SQL = `
CREATE TABLE orders USING tablestore OPTIONS(
  table.name='OrderSource',
  catalog='{"columns": {"UserId": {"type": "string"}, "OrderId": {"type": "string"}, "price": {"type": "double"}, "timestamp": {"type": "long"}}}'
);
CREATE SCAN orders_stream ON orders USING STREAM OPTIONS(tunnel.name='orders');
SELECT CAST(window.start AS STRING) AS begin, count(*) AS orders, sum(price) AS revenue
FROM orders_stream WATERMARK to_timestamp(timestamp / 1000) AS ts DELAY OF INTERVAL 10 SECONDS
GROUP BY window(ts, '30 seconds')`;

const orders = recordBuilder({ columns: { UserId: { type: 'string' }, OrderId: { type: 'string' }, price: { type: 'double' }, timestamp: { type: 'long' } } }, ['UserId', 'OrderId']);
const T0 = Date.UTC(2026, 0, 1, 12, 0, 0); // 12:00:00 UTC, a window boundary
let serial = 0;
const order = (secondsAfterT0: number, price: number) => orders.put({ UserId: 'u1', OrderId: `o${++serial}`, price, timestamp: T0 + secondsAfterT0 * 1000 });

it('outputs each 30 s window once its watermark passes, and drops an order that comes after that', () => {
  const metrics = new StreamMetrics();
  testScheduler(expect).run(({ cold, expectObservable }) => {
    const batches = marbleSource(
      cold,
      'a-b-c-d|',
      {
        a: [order(1, 10), order(20, 5)], //        window 12:00:00: 2 orders so far; watermark → 12:00:10
        b: [order(35, 7), order(29, 1)], //        12:00:29 is late but its window is still open; watermark → 12:00:25
        c: [order(45, 2)], //                      watermark → 12:00:35: closes 12:00:00–12:00:30
        d: [order(2, 100), order(61, 3)], //       12:00:02 comes after its window closed: dropped; watermark → 12:00:51
      },
      { metrics },
    );
    expectObservable(batches.pipe(sqlOperator(SQL))).toBe('a-b-c-d|', {
      a: [],
      b: [],
      c: [{ begin: '2026-01-01 12:00:00', orders: 3, revenue: 16 }],
      d: [],
    });
  });
  expect(metrics.snapshot().lateRows).toBe(1);
});

it('in update mode outputs every window a batch changed, with its full values so far', () => {
  testScheduler(expect).run(({ cold, expectObservable }) => {
    const batches = marbleSource(cold, 'a-b', { a: [order(1, 10), order(31, 5)], b: [order(40, 1)] });
    expectObservable(batches.pipe(sqlOperator(SQL, { outputMode: 'update' }))).toBe('a-b', {
      a: [
        { begin: '2026-01-01 12:00:00', orders: 1, revenue: 10 },
        { begin: '2026-01-01 12:00:30', orders: 1, revenue: 5 },
      ],
      b: [{ begin: '2026-01-01 12:00:30', orders: 2, revenue: 6 }],
    });
  });
});
