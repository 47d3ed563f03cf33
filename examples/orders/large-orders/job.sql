-- A stateless job: every order over 1000 copied into LargeOrders. Stateless jobs may run as several
-- workers on one tunnel — the tunnel service spreads its channels over them — so this job keeps no
-- checkpointLocation: each worker resumes from the tunnel's checkpoints, and the sink, keyed by the
-- order's primary key, makes a re-delivered record harmless. Run it with two workers:
--
--   npx tsx examples/orders/large-orders/run.ts
--
-- or by hand, once per worker:  node bin/otsflow.js sql -f examples/orders/large-orders/job.sql --var …
--
-- The catalogs list the columns the job reads and writes; OrderSource's `timestamp` is left out
-- because the official Node SDK cannot write an attribute of that name (it takes the key as the
-- cell version), so the sink refuses one.
CREATE TABLE order_source USING tablestore OPTIONS(
endpoint="${endpoint}", access.key.id="${access_key_id}", access.key.secret="${access_key_secret}", instance.name="${instance}",
table.name="OrderSource",
catalog='{"columns": {"UserId": {"type": "string"}, "OrderId": {"type": "string"}, "price": {"type": "double"}}}');

CREATE TABLE large_orders USING tablestore OPTIONS(
endpoint="${endpoint}", access.key.id="${access_key_id}", access.key.secret="${access_key_secret}", instance.name="${instance}",
table.name="LargeOrders",
catalog='{"columns": {"UserId": {"type": "string"}, "OrderId": {"type": "string"}, "price": {"type": "double"}}}');

CREATE SCAN orders ON order_source USING STREAM OPTIONS(tunnel.id="${tunnel_id}");

CREATE STREAM large_orders_job OPTIONS(outputMode='append')
INSERT INTO large_orders SELECT * FROM orders WHERE price > 1000;
