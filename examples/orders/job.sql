-- The seed scenario's statements (shared/seed/000_fbecb763a7265edd.txt), as written there: only the
-- endpoint, the keys, the tunnel id and the checkpoint location are ${variables}, filled per
-- installation. `npm start` (otsflow demo) runs this file on the embedded emulator; against a real
-- Tablestore instance:
--
--   node bin/otsflow.js sql -f examples/orders/job.sql --var endpoint=https://<instance>.<region>.ots.aliyuncs.com \
--     --var instance=<instance> --var access_key_id=… --var access_key_secret=… \
--     --var tunnel_id=$(node bin/otsflow.js tunnel create --table OrderSource --name orders --type Stream …) \
--     --var checkpoint=/tmp/otsflow/cp/job1
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
checkpointLocation='${checkpoint}',
outputMode='update'
)
INSERT INTO order_stream_sink
SELECT CAST(window.start AS String) AS begin, CAST(window.end AS String) AS end, count(*) AS count, CAST(sum(price) AS Double) AS totalPrice FROM order_source_stream_view GROUP BY window(to_timestamp(timestamp / 1000), "30 seconds");
