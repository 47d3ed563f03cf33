import { describe, expect, it } from 'vitest';
import { closestMatch, describeSqlError, editDistance } from '../../lib/sql/errors.js';
import { parse } from '../../lib/sql/parser.js';
import { formatSqlError } from '../../lib/sql/printer.js';
import { parseErrors } from './helpers.js';

interface Case {
  readonly sql: string;
  readonly at: string; // "line:col"
  readonly message: string;
  readonly hint?: string;
}

const OPTS = "CREATE TABLE t USING tablestore OPTIONS(";

const CASES: readonly Case[] = [
  // OPTIONS lists
  { sql: `${OPTS}a='1';`, at: '1:46', message: "expected ')' after OPTIONS list but found ';'" },
  { sql: `CREATE SCAN v ON t USING STREAM\nOPTIONS(\ntunnel.id="x",\nmaxoffsetsperchannel="10000";`, at: '4:29', message: "expected ')' after OPTIONS list but found ';'" },
  { sql: `${OPTS}a='1' b='2')`, at: '1:47', message: "expected ')' after OPTIONS list but found 'b'", hint: "separate options with ','" },
  { sql: `${OPTS}a='1',)`, at: '1:47', message: "expected an option key after ',' but found ')'" },
  { sql: `${OPTS}a 'x')`, at: '1:43', message: "expected '=' after option key but found a string literal" },
  {
    sql: `${OPTS}outputMode=update)`,
    at: '1:52',
    message: "expected an option value (a quoted string, a number, TRUE or FALSE) after '=' but found 'update'",
    hint: "quote the value: 'update'",
  },
  { sql: "CREATE TABLE t USING tablestore OPTIONS a='x'", at: '1:41', message: "expected '(' after OPTIONS (write OPTIONS(key='value', …)) but found 'a'" },
  { sql: "CREATE TABLE t USING tablestore", at: '1:32', message: "expected OPTIONS after 'tablestore' but found end of input" },
  // CREATE / DROP
  { sql: "CREATE TABLE t OPTIONS(a='1')", at: '1:16', message: "expected USING after table name but found 'OPTIONS'" },
  { sql: "CREATE TABLE USING tablestore OPTIONS(a='1')", at: '1:14', message: "expected a name after 'TABLE' but found 'USING'" },
  { sql: 'CREATE TABLE IF EXISTS t USING tablestore OPTIONS()', at: '1:17', message: "expected NOT after IF (CREATE TABLE IF NOT EXISTS) but found 'EXISTS'" },
  { sql: 'CREATE VIEW v', at: '1:8', message: "expected TABLE, SCAN or STREAM after 'CREATE' but found 'VIEW'" },
  { sql: 'CREATE SCAN v t USING STREAM', at: '1:15', message: "expected ON after scan name but found 't'" },
  { sql: 'CREATE SCAN v ON t USING STREEM', at: '1:26', message: "expected STREAM or BATCH after 'USING' but found 'STREEM'", hint: 'did you mean STREAM?' },
  { sql: 'CREATE SCAN v ON t STREAM', at: '1:20', message: "expected USING after ON <table> but found 'STREAM'" },
  {
    sql: "CREATE STREAM j OPTIONS(a='1')\nSELECT 1",
    at: '2:1',
    message: "expected INSERT INTO <table> SELECT … after CREATE STREAM <name> [OPTIONS(…)] but found 'SELECT'",
  },
  { sql: 'DROP t', at: '1:6', message: "expected TABLE after DROP but found 't'" },
  { sql: 'DROP TABLE IF t', at: '1:15', message: "expected EXISTS after IF (DROP TABLE IF EXISTS) but found 't'" },
  // statements
  {
    sql: 'SELCT a FROM t',
    at: '1:1',
    message: "expected a statement (CREATE, DROP, SELECT, INSERT, SHOW, DESCRIBE or EXPLAIN) but found 'SELCT'",
    hint: 'did you mean SELECT?',
  },
  { sql: 'SHOW TABLE', at: '1:6', message: "expected TABLES after SHOW but found 'TABLE'", hint: 'did you mean TABLES?' },
  { sql: 'DESCRIBE', at: '1:9', message: "expected a name after 'DESCRIBE' but found end of input" },
  { sql: 'EXPLAIN EXPLAIN SELECT 1', at: '1:9', message: "expected a statement (CREATE, DROP, SELECT, INSERT, SHOW or DESCRIBE) after EXPLAIN but found 'EXPLAIN'" },
  { sql: 'INSERT t SELECT 1', at: '1:8', message: "expected INTO after INSERT but found 't'" },
  { sql: 'INSERT INTO t VALUES (1)', at: '1:15', message: "expected SELECT after INSERT INTO <table> [(columns)] but found 'VALUES'" },
  { sql: 'SELECT a FORM t', at: '1:15', message: "unexpected 't' after the end of the statement", hint: "is 'FORM' meant to be FROM?" },
  { sql: 'SELECT a FROM t WERE a > 1', at: '1:22', message: "unexpected 'a' after the end of the statement", hint: "is 'WERE' meant to be WHERE?" },
  { sql: 'SELECT a FROM t SELECT b FROM u', at: '1:17', message: "unexpected 'SELECT' after the end of the statement", hint: "separate statements with ';'" },
  // SELECT clauses
  { sql: 'SELECT FROM t', at: '1:8', message: "expected a select item (an expression or *) after 'SELECT' but found 'FROM'" },
  { sql: 'SELECT a, FROM t', at: '1:11', message: "expected a select item (an expression or *) after ',' but found 'FROM'" },
  { sql: 'SELECT a FROM', at: '1:14', message: "expected a name after 'FROM' but found end of input" },
  { sql: 'SELECT a\nFROM t\nWHERE', at: '3:6', message: "expected an expression after 'WHERE' but found end of input" },
  { sql: "SELECT a FROM t GROUP window(ts, '1 minute')", at: '1:23', message: "expected BY after GROUP but found 'window'" },
  { sql: 'SELECT a FROM t ORDER a', at: '1:23', message: "expected BY after ORDER but found 'a'" },
  { sql: 'SELECT a FROM t LIMIT x', at: '1:23', message: "expected a row count after LIMIT but found 'x'" },
  { sql: 'SELECT a FROM t LIMIT 1.5', at: '1:23', message: "LIMIT needs a whole number of rows, not '1.5'" },
  { sql: 'SELECT a FROM t HAVING', at: '1:23', message: "expected an expression after 'HAVING' but found end of input" },
  // expressions
  { sql: 'SELECT (a + 1 FROM t', at: '1:15', message: "expected ')' to close '(' but found 'FROM'" },
  { sql: 'SELECT count(a FROM t', at: '1:16', message: "expected ')' after function arguments but found 'FROM'" },
  { sql: 'SELECT count(DISTINCT) FROM t', at: '1:22', message: "expected a function argument after 'DISTINCT' but found ')'" },
  {
    sql: 'SELECT CAST(a AS Strng) FROM t',
    at: '1:18',
    message: "unknown type 'Strng' in CAST; expected one of String, Double, Long, Int, Boolean, Timestamp",
    hint: "did you mean 'String'?",
  },
  { sql: 'SELECT CAST(a String) FROM t', at: '1:15', message: "expected AS in CAST(expr AS type) but found 'String'" },
  { sql: 'SELECT CAST(a AS) FROM t', at: '1:17', message: "expected a type name after AS in CAST but found ')'" },
  { sql: 'SELECT CAST(a AS String FROM t', at: '1:25', message: "expected ')' after CAST type but found 'FROM'" },
  { sql: 'SELECT CASE WHEN a THEN 1 FROM t', at: '1:27', message: "expected END to close CASE but found 'FROM'" },
  { sql: 'SELECT CASE a THEN 1 END FROM t', at: '1:15', message: "expected WHEN after 'a' but found 'THEN'", hint: 'did you mean WHEN?' },
  { sql: 'SELECT CASE WHEN a 1 END FROM t', at: '1:20', message: "expected THEN after WHEN condition but found '1'" },
  { sql: 'SELECT a IN 1, 2 FROM t', at: '1:13', message: "expected '(' after IN but found '1'" },
  { sql: 'SELECT a IN (1, 2 FROM t', at: '1:19', message: "expected ')' after IN list but found 'FROM'" },
  { sql: 'SELECT a BETWEEN 1 2 FROM t', at: '1:20', message: "expected AND in BETWEEN … AND … but found '2'" },
  { sql: 'SELECT a IS 1 FROM t', at: '1:13', message: "expected NULL after IS [NOT] but found '1'" },
  { sql: 'SELECT 1 +', at: '1:11', message: "expected an expression after '+' but found end of input" },
  { sql: 'SELECT a FROM t WHERE a = = 1', at: '1:27', message: "expected an expression after '=' but found '='" },
  { sql: "SELECT sum(*) FROM t", at: '1:12', message: "'*' is only allowed in count(*), not in sum(*)" },
  { sql: 'SELECT a.b.c FROM t', at: '1:8', message: "'a.b.c': only 'table.column' qualification is supported" },
  // watermark and intervals
  { sql: 'SELECT a FROM t WATERMARK ts DELAY INTERVAL 1 SECOND', at: '1:36', message: "expected OF after DELAY but found 'INTERVAL'" },
  { sql: 'SELECT a FROM t WATERMARK ts INTERVAL 1 SECOND', at: '1:30', message: "expected DELAY after WATERMARK expression (WATERMARK ts DELAY OF INTERVAL …) but found 'INTERVAL'" },
  { sql: 'SELECT a FROM t WATERMARK ts DELAY OF 10 SECONDS', at: '1:39', message: "expected INTERVAL after 'OF' but found '10'" },
  { sql: 'SELECT a FROM t WATERMARK ts DELAY OF INTERVAL 10 SECS', at: '1:51', message: "unknown interval unit 'SECS'", hint: 'use MILLISECONDS, SECONDS, MINUTES, HOURS, DAYS or WEEKS' },
  { sql: 'SELECT INTERVAL 3 minuts', at: '1:19', message: "unknown interval unit 'minuts'", hint: 'did you mean MINUTES?' },
  { sql: 'SELECT a FROM t WATERMARK ts DELAY OF INTERVAL 10', at: '1:50', message: 'expected a time unit (SECONDS, MINUTES, …) after the interval amount but found end of input' },
  { sql: "SELECT INTERVAL 'soon'", at: '1:17', message: "'soon' is not a duration like '30 seconds' or '1 minute 30 seconds'" },
  { sql: 'SELECT INTERVAL 3 FROM t', at: '1:19', message: "expected a time unit (SECONDS, MINUTES, …) after the interval amount but found 'FROM'" },
  // lexical
  { sql: "SELECT 'abc FROM t", at: '1:8', message: 'unterminated string literal' },
  { sql: 'SELECT `abc FROM t', at: '1:8', message: 'unterminated backquoted name' },
  { sql: 'SELECT a /* FROM t', at: '1:10', message: "unterminated comment: '/*' without '*/'" },
  { sql: 'SELECT a\n  # b FROM t', at: '2:3', message: "unexpected character '#'", hint: "comments start with '--' or '//'" },
  { sql: 'SELECT 订单 FROM t', at: '1:8', message: "unexpected character '订'" },
];

describe('parser errors are human and located', () => {
  it(`has at least 30 malformed inputs (${CASES.length})`, () => {
    expect(CASES.length).toBeGreaterThanOrEqual(30);
  });

  for (const { sql, at, message, hint } of CASES) {
    it(JSON.stringify(sql), () => {
      const errors = parseErrors(sql);
      const [first] = errors;
      expect(first?.message).toBe(message);
      expect(`${first?.line}:${first?.column}`).toBe(at);
      expect(first?.hint).toBe(hint);
      // the offset agrees with line:col
      const [line, column] = at.split(':').map(Number);
      const lines = sql.split('\n');
      const offset = lines.slice(0, (line ?? 1) - 1).reduce((sum, text) => sum + text.length + 1, 0) + (column ?? 1) - 1;
      expect(first?.offset).toBe(offset);
    });
  }
});

describe('error collection', () => {
  it('reports one error per bad statement and checks every statement', () => {
    const errors = parseErrors('SELECT a FROM t;\nSELECT FROM u;\nSHOW TABLES;\nDROP x;\nSELECT c FROM v WHERE');
    expect(errors.map(describeSqlError)).toEqual([
      "line 2, col 8: expected a select item (an expression or *) after 'SELECT' but found 'FROM'",
      "line 4, col 6: expected TABLE after DROP but found 'x'",
      "line 5, col 22: expected an expression after 'WHERE' but found end of input",
    ]);
  });

  it('reports every malformed literal of a statement that otherwise parses', () => {
    const errors = parseErrors('SELECT CAST(a AS text), INTERVAL 1 fortnight, CAST(b AS bool) FROM t LIMIT 2.5');
    expect(errors.map((error) => `${error.column} ${error.message.split(';')[0]}`)).toEqual([
      "18 unknown type 'text' in CAST",
      "36 unknown interval unit 'fortnight'",
      "57 unknown type 'bool' in CAST",
      "76 LIMIT needs a whole number of rows, not '2.5'",
    ]);
  });

  it('a lexical error is reported once, not echoed as a syntax error of its statement', () => {
    const errors = parseErrors("SELECT a § b FROM t; SELECT 'x");
    expect(errors.map(describeSqlError)).toEqual(["line 1, col 10: unexpected character '§'", 'line 1, col 29: unterminated string literal']);
  });

  it('never reports an error without a valid position', () => {
    for (const sql of ['', ';', 'SELECT', '(', ')', "'", '`', '/*', 'SELECT a FROM t WHERE (']) {
      const result = parse(sql);
      if (result._tag === 'Left') {
        for (const error of result.left) {
          expect(error.line).toBeGreaterThanOrEqual(1);
          expect(error.column).toBeGreaterThanOrEqual(1);
          expect(error.offset).toBeLessThanOrEqual(sql.length);
        }
      }
    }
  });
});

describe('formatSqlError', () => {
  it('prints the source line and a caret under the column, then the hint', () => {
    const sql = "CREATE SCAN v ON t USING STREAM\nOPTIONS(\n\ttunnel.id='x' maxoffsetsperchannel='1')";
    const [error] = parseErrors(sql);
    expect(formatSqlError(sql, error!)).toBe(
      [
        "line 3, col 16: expected ')' after OPTIONS list but found 'maxoffsetsperchannel'",
        "  3 | \ttunnel.id='x' maxoffsetsperchannel='1')",
        '    | \t              ^',
        "  hint: separate options with ','",
      ].join('\n'),
    );
  });

  it('masks credential values on the quoted line and never names a string token', () => {
    const sql = "CREATE TABLE t USING tablestore OPTIONS(access.key.secret='hunter2' 'more')";
    const [error] = parseErrors(sql);
    const text = formatSqlError(sql, error!);
    expect(text).not.toContain('hunter2');
    // the whole value up to the entry's end: the second string may be the rest of the secret
    expect(text).toContain("access.key.secret=****************)");
    expect(text).not.toContain('more');
    expect(error?.message).toBe("expected ')' after OPTIONS list but found a string literal");
  });
});

describe('suggestions', () => {
  it('edit distance counts insertions, deletions, substitutions and adjacent swaps as one edit each', () => {
    expect(editDistance('FORM', 'FROM')).toBe(1);
    expect(editDistance('kitten', 'sitting')).toBe(3);
    expect(editDistance('', 'abc')).toBe(3);
    expect(editDistance('tunnel.idd', 'tunnel.id')).toBe(1);
    expect(editDistance('same', 'same')).toBe(0);
  });

  it('suggests only plausible typos: at most a third of the word, never more than 3 edits', () => {
    expect(closestMatch('selct', ['SELECT', 'DELETE'])).toBe('SELECT');
    expect(closestMatch('xyz', ['SELECT', 'FROM'])).toBeUndefined();
    expect(closestMatch('ab', ['abc', 'xy'])).toBe('abc');
    expect(closestMatch('checkpointlocatoin', ['checkpointLocation', 'outputMode'])).toBe('checkpointLocation');
    expect(closestMatch('maxoffsets', ['maxoffsetsperchannel'])).toBeUndefined();
  });
});
