/**
 * SQL front-end throughput: the seed script (what `otsflow sql -f` parses once per job) and a
 * large generated script, syntax only and with OPTIONS/catalog decoding.
 * Run: npx vitest bench --run spec/bench/sql-parse.bench.ts
 */
import { readFileSync } from 'node:fs';
import { bench, describe } from 'vitest';
import { parse, parseScript } from '../../lib/sql/index.js';

const SEED = readFileSync(new URL('../fixtures/seed-orders-job.sql', import.meta.url), 'utf8');
const QUERY =
  "SELECT CASE WHEN price > 100 THEN 'big' ELSE 'small' END AS size, count(*) AS n, sum(price * 1.1) AS total " +
  "FROM v WATERMARK to_timestamp(ts / 1000) AS et DELAY OF INTERVAL 10 SECONDS " +
  "WHERE UserId IN ('a', 'b', 'c') AND price BETWEEN 1 AND 1000 GROUP BY window(et, '30 seconds'), UserId HAVING count(*) > 1;\n";
const LARGE = SEED + QUERY.repeat(1000);

// first call builds the chevrotain grammar; keep it out of the measurements
parse('SHOW TABLES');

describe('sql front end', () => {
  bench('parse seed script (6 statements)', () => {
    parse(SEED);
  });
  bench('parseScript seed script (with options and catalogs)', () => {
    parseScript(SEED);
  });
  bench(`parse large script (${(LARGE.length / 1024).toFixed(0)} KiB, 1006 statements)`, () => {
    parse(LARGE);
  }, { iterations: 20 });
});
