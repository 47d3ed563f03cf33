-- The seed job as one job on many workers: its state (batch plans, per-channel positions,
-- partial aggregates) lives in the Tablestore table `checkpoint.table` on the source's endpoint,
-- so the same file started N times, on one machine or many, is one job:
--
--   node bin/otsflow.js sql -f examples/orders/many-workers/job.sql --var endpoint=… --var instance=… \
--     --var access_key_id=… --var access_key_secret=… --var tunnel_id=… --var state_table=job1_state
--
-- Only CREATE STREAM differs from examples/orders/job.sql.
DROP TABLE IF EXISTS order_source;
CREATE TABLE order_source
USING tablestore
OPTIONS(
endpoint="${endpoint}",
access.key.id="${access_key_id}",
access.key.secret="${access_key_secret}",
instance.name="${instance}",
table.name="OrderSource",
catalog='{"columns": {"UserId": {"type": "string"}, "OrderId": {"type": "string"},"price": {"type": "double"}, "timestamp": {"type": "long"}}}'
);

DROP TABLE IF EXISTS order_stream_sink;
CREATE TABLE order_stream_sink
USING tablestore
OPTIONS(
endpoint="${endpoint}",
access.key.id="${access_key_id}",
access.key.secret="${access_key_secret}",
instance.name="${instance}",
table.name="OrderStreamSink",
catalog='{"columns": {"begin": {"type": "string"},"end": {"type": "string"}, "count": {"type": "long"}, "totalPrice": {"type": "double"}}}'
);

//在order_source表上创建视图order_source_stream_view。
CREATE SCAN order_source_stream_view ON order_source USING STREAM
OPTIONS(
tunnel.id="${tunnel_id}",
maxoffsetsperchannel="10000");

//在视图order_source_stream_view上运行Stream SQL作业，如下样例会按30s粒度进行订单数和订单金额的聚合。
CREATE STREAM job1
options(
checkpoint.table='${state_table}',
outputMode='update'
)
INSERT INTO order_stream_sink
SELECT CAST(window.start AS String) AS begin, CAST(window.end AS String) AS end, count(*) AS count, CAST(sum(price) AS Double) AS totalPrice FROM order_source_stream_view GROUP BY window(to_timestamp(timestamp / 1000), "30 seconds");
