/**
 * The analyzer's errors: each malformed script is refused before anything connects, with a
 * message naming the problem, the line:col of the offending token and, where a name is close to a
 * known one, a suggestion.
 */
import * as E from 'fp-ts/lib/Either.js';
import { describe, expect, it } from 'vitest';
import { compile } from '../../lib/sql/compile.js';
import { describeSqlError } from '../../lib/sql/errors.js';

const SOURCE = `CREATE TABLE src USING tablestore OPTIONS(table.name='OrderSource',
  catalog='{"columns": {"UserId": {"type": "string"}, "OrderId": {"type": "string"}, "price": {"type": "double"}, "timestamp": {"type": "long"}}}');
CREATE TABLE sink USING tablestore OPTIONS(table.name='OrderStreamSink',
  catalog='{"columns": {"begin": {"type": "string"}, "end": {"type": "string"}, "count": {"type": "long"}, "totalPrice": {"type": "double"}}}');
CREATE SCAN v ON src USING STREAM OPTIONS(tunnel.id='t-1');
`;
const PREFIX_LINES = SOURCE.split('\n').length - 1;

/** The errors of SOURCE + `script`, as 'line:col message (hint)' with lines counted from the script's first line. */
function errors(script: string): string[] {
  const compiled = compile(SOURCE + script, { timeZone: 'UTC' });
  if (E.isRight(compiled)) throw new Error(`expected errors for:\n${script}`);
  return compiled.left.map((error) => describeSqlError({ ...error, line: error.line - PREFIX_LINES }).replace(/^line (\d+), col (\d+): /, '$1:$2 '));
}

const stream = (select: string, options = "outputMode='update'") => `CREATE STREAM job OPTIONS(${options}) INSERT INTO sink ${select};`;
const SEED_SELECT = `SELECT CAST(window.start AS String) AS begin, CAST(window.end AS String) AS end, count(*) AS count, CAST(sum(price) AS Double) AS totalPrice FROM v GROUP BY window(to_timestamp(timestamp / 1000), "30 seconds")`;

describe('the analyzer accepts', () => {
  it('the seed job, and explains it as the operator chain', () => {
    const compiled = compile(SOURCE + stream(SEED_SELECT), { timeZone: 'UTC' });
    if (E.isLeft(compiled)) throw new Error(JSON.stringify(compiled.left));
    const explained = compiled.right.explain();
    const lines = explained.split('\n');
    const operators = lines.slice(lines.findIndex((line) => line.startsWith('StreamJob')) + 1).filter((line) => line.startsWith('  ')).map((line) => line.trim().split(/\s+/)[0]);
    // after the aggregate the result stays columnar: one projection (HAVING, SELECT, sink columns) to the sink writer
    expect(operators).toEqual(['tunnelSource', 'microBatch', 'decodeRows', 'withColumns', 'tumbling', 'aggregate', 'emitTable', 'projectTable', 'commitAfter']);
    expect(explained).toContain("__event_time = to_timestamp(timestamp / 1000)");
    expect(explained).toContain('size 30 s');
  });
});

describe('the analyzer refuses', () => {
  const cases: ReadonlyArray<readonly [string, string, string]> = [
    ['an unknown column, with a suggestion', stream(SEED_SELECT.replace('sum(price)', 'sum(prise)')), "1:174 unknown column 'prise' in 'v' — did you mean 'price'?"],
    ['an unknown table', 'SELECT * FROM srcc;', "1:15 unknown table or scan 'srcc' — did you mean 'src'?"],
    ['an unknown qualifier', 'SELECT x.price FROM src;', "1:8 unknown table or alias 'x' (the query reads 'src')"],
    ['an unknown function, with a suggestion', 'SELECT to_timestmp(timestamp) FROM src;', "1:8 unknown function 'to_timestmp' — did you mean 'to_timestamp'?"],
    [
      'a streaming scan read outside a stream job',
      'SELECT * FROM v;',
      "1:15 'v' is a STREAM scan: queries with streaming sources must run as a stream job (CREATE STREAM <job> OPTIONS(checkpointLocation='…') INSERT INTO <sink> SELECT … FROM v)",
    ],
    [
      'a stream job reading a table',
      stream('SELECT price AS totalPrice FROM src'),
      "1:97 a stream job reads a STREAM scan, and 'src' is a table (CREATE SCAN src_stream ON src USING STREAM OPTIONS(tunnel.id='…'))",
    ],
    [
      'a column neither grouped nor aggregated',
      stream(SEED_SELECT.replace('count(*) AS count', 'price AS count')),
      "1:146 column 'price' is neither in GROUP BY nor inside an aggregate function (add it to GROUP BY, or aggregate it, e.g. first(price))",
    ],
    [
      'append mode on an aggregation without a watermark',
      stream(SEED_SELECT, "outputMode='append'"),
      "1:38 outputMode 'append' on an aggregation needs a watermark: a group is appended once, when the watermark closes its window (add FROM … WATERMARK <time> DELAY OF INTERVAL 10 SECONDS, or use outputMode='update')",
    ],
    ['complete mode without aggregation', stream('SELECT price AS totalPrice FROM v', "outputMode='complete'"), "1:38 outputMode 'complete' needs an aggregation (there are no groups to output) (use 'append' for a query without GROUP BY)"],
    [
      'an output column the sink catalog lacks',
      stream(SEED_SELECT.replace('AS totalPrice', 'AS total')),
      "1:195 column 'total' is not in the catalog of sink (begin, end, count, totalPrice)",
    ],
    [
      'a value the sink column cannot take',
      stream(SEED_SELECT.replace('CAST(sum(price) AS Double) AS totalPrice', 'window.start AS totalPrice')),
      "1:181 column 'totalPrice' of sink is double, but the query gives timestamp (window.start) (write unix_timestamp(…) for seconds, or CAST(… AS String))",
    ],
    [
      'a window over a long instead of a timestamp',
      stream(SEED_SELECT.replace('to_timestamp(timestamp / 1000)', 'timestamp')),
      '1:229 window() needs a timestamp, and timestamp is bigint (for milliseconds since the epoch write to_timestamp(timestamp / 1000))',
    ],
    ['window.start without a window', 'SELECT window.start FROM src;', "1:8 window.start is only available when the query groups by a window (add GROUP BY window(<time>, '30 seconds'))"],
    ['an aggregate in WHERE', 'SELECT price FROM src WHERE count(*) > 1;', '1:29 aggregate function count() is not allowed in WHERE (filter groups with HAVING)'],
    ['a nested aggregate', 'SELECT sum(count(*)) FROM src;', '1:12 aggregate functions cannot be nested: count(*) inside sum()'],
    ['arithmetic on a string', "SELECT UserId + 1 FROM src;", "1:15 '+' needs numbers, not string (UserId) (join strings with concat(a, b))"],
    ['a comparison of unrelated types', 'SELECT price FROM src WHERE UserId = TRUE;', "1:36 '=' compares string with boolean (UserId and TRUE) (CAST one side to the other type)"],
    ['a non-boolean WHERE', 'SELECT price FROM src WHERE price;', '1:29 WHERE needs a condition (boolean), not double'],
    ['a duplicate output name', 'SELECT price, price FROM src;', "1:15 output column 'price' appears twice (first at line 6, col 8) (give one of them another name with AS)"],
    ['a second window', stream(SEED_SELECT.replace('"30 seconds")', '"30 seconds"), window(to_timestamp(timestamp / 1000), "1 minute")')), '1:276 a query can group by one window only'],
    ['a slide longer than the window', "SELECT count(*) AS c FROM src GROUP BY window(to_timestamp(timestamp / 1000), '10 seconds', '20 seconds');", '1:93 the slide must be longer than 0 and at most the window size (10000 ms)'],
    [
      'a watermark on another time than the window',
      stream(SEED_SELECT.replace('FROM v', 'FROM v WATERMARK to_timestamp(timestamp) DELAY OF INTERVAL 10 SECONDS'), "outputMode='append'"),
      '1:213 the watermark is on to_timestamp(timestamp) but the window is on to_timestamp(timestamp / 1000): windows can only be closed by a watermark on their own time (declare the watermark on the same expression (WATERMARK <expr> AS t … GROUP BY window(t, …)))',
    ],
    ['DROP of an unknown table', 'DROP TABLE nope;', "1:12 unknown table or scan 'nope' (DROP TABLE IF EXISTS ignores a missing table)"],
    ['CREATE TABLE of a defined name', "CREATE TABLE src USING tablestore OPTIONS(table.name='X', catalog='{\"columns\": {\"a\": {\"type\": \"long\"}}}');", "1:14 table 'src' is already defined (line 1) (DROP TABLE it first, or write CREATE TABLE IF NOT EXISTS)"],
    ['a scan of an unknown table', "CREATE SCAN w ON nope USING BATCH;", "1:18 unknown table or scan 'nope' (define it first with CREATE TABLE … USING tablestore)"],
    ['INSERT into a scan', stream(SEED_SELECT).replace('INSERT INTO sink', 'INSERT INTO v'), "1:60 'v' is a scan; INSERT INTO writes a table (write src)"],
    ['ORDER BY in a stream job', stream(`${SEED_SELECT} ORDER BY begin`), '1:284 ORDER BY and LIMIT are not supported in a stream job (the sink is keyed by its primary key; order does not apply)'],
    ['a LIKE pattern that is not a literal', 'SELECT price FROM src WHERE UserId LIKE OrderId;', '1:41 LIKE needs a string literal pattern'],
    ['a bad date pattern', "SELECT date_format(to_timestamp(timestamp / 1000), 123) FROM src;", '1:52 the pattern of date_format() must be a string literal'],
    ['unix_timestamp() without arguments', 'SELECT unix_timestamp() FROM src;', '1:8 unix_timestamp() without arguments is processing time, which a replayed batch cannot reproduce (pass a time: unix_timestamp(ts))'],
  ];
  for (const [what, script, expected] of cases) {
    it(what, () => {
      // the one problem of the script: no follow-up errors
      expect(errors(script)).toEqual([expected]);
    });
  }

  it('collects every problem of a script, in source order', () => {
    const found = errors('SELECT prise FROM src;\nSELECT UserId + 1 FROM src;\nSELECT * FROM nope;');
    expect(found.map((line) => line.split(' ')[0])).toEqual(['1:8', '2:15', '3:15']);
  });

  it('an unknown ${variable} in an option value, at the value', () => {
    expect(errors("CREATE SCAN w ON src USING STREAM OPTIONS(tunnel.id='${tunnel_id}');")).toContain("1:53 unknown variable '${tunnel_id}' (give it with --var tunnel_id=… or the environment variable OTSFLOW_VAR_tunnel_id (or write $${tunnel_id} for the literal text))");
  });

  it('a bad session time zone', () => {
    const compiled = compile('SHOW TABLES', { timeZone: 'Mars/Olympus' });
    expect(E.isLeft(compiled) && compiled.left[0]?.message).toMatch(/^session time zone: /);
  });
});
