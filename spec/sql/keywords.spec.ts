/**
 * Non-reserved keywords are names: every keyword the lexer knows as non-reserved (Spark's list,
 * docs/sql-ref-ansi-compliance.md, plus END, which EMR's Spark default mode leaves non-reserved)
 * is tried in every name position of the grammar, in lower and upper case, and must come back as
 * that name — and the printed statement must parse to the same tree.
 */
import * as E from 'fp-ts/lib/Either.js';
import { describe, expect, it } from 'vitest';
import type { Statement } from '../../lib/sql/ast.js';
import { compile } from '../../lib/sql/compile.js';
import { AliasWord, KEYWORDS, NON_RESERVED } from '../../lib/sql/lexer.js';
import { parse } from '../../lib/sql/parser.js';
import { formatSqlErrors, formatStatement } from '../../lib/sql/printer.js';
import { parseErrors, parseOk, strip } from './helpers.js';

const word = (type: (typeof KEYWORDS)[number]): string => String(type.name);
const nonReserved = NON_RESERVED.map(word);
const reserved = KEYWORDS.filter((type) => !NON_RESERVED.includes(type)).map(word);
/** bare aliases take the non-reserved words that cannot continue the statement there */
const bareAliasable = NON_RESERVED.filter((type) => (type.CATEGORIES ?? []).includes(AliasWord)).map(word);

/** Every name the tree holds: identifiers and the dot-separated parts of option keys. */
function namesIn(node: unknown, into: string[] = []): string[] {
  if (Array.isArray(node)) {
    for (const item of node) namesIn(item, into);
  } else if (node !== null && typeof node === 'object') {
    const record = node as Record<string, unknown>;
    if (record['kind'] === 'Identifier' && typeof record['name'] === 'string') into.push(record['name']);
    if (record['kind'] === 'Option' && typeof record['key'] === 'string') into.push(...record['key'].split('.'));
    for (const [key, value] of Object.entries(record)) if (key !== 'loc') namesIn(value, into);
  }
  return into;
}

const CAT = `catalog='{"columns": {"k": {"type": "string"}}}'`;
/** `{w}` marks each name position; the template must hold no other occurrence of the word. */
const POSITIONS: ReadonlyArray<readonly [string, string]> = [
  ['CREATE TABLE name, provider and option keys', `CREATE TABLE {w} USING {w} OPTIONS(table.name='T', {w}='x', {w}.{w}='y', ${CAT})`],
  ['CREATE SCAN name and table', 'CREATE SCAN {w} ON {w} USING STREAM'],
  ['CREATE STREAM name, INSERT table and column list', "CREATE STREAM {w} OPTIONS({w}='x') INSERT INTO {w} ({w}, x, {w}) SELECT a, b, c FROM t"],
  ['INSERT column list (the issue: begin, end, c, s)', 'INSERT INTO snk (begin, {w}, c, s) SELECT a, b, c, d FROM t'],
  ['DROP TABLE, DESCRIBE [TABLE]', 'DROP TABLE IF EXISTS {w}; DESCRIBE {w}; DESCRIBE TABLE {w}; DESC {w}'],
  ['column references and FROM table', 'SELECT {w}, {w} + 1 AS x FROM {w} WHERE {w} > 0 GROUP BY {w} HAVING max({w}) > 1 ORDER BY {w} DESC LIMIT 2'],
  ['qualified names: qualifier and column, table AS alias, qualifier.*', 'SELECT {w}.{w}, {w}.* FROM t AS {w}'],
  ['after a dot, several parts', 'SELECT t.{w}, {w}.x FROM t'],
  ['select AS alias', 'SELECT a AS {w}, b AS x FROM t'],
  ['function names and their arguments', 'SELECT {w}({w}), count({w}) FROM t'],
  ['window over a column', "SELECT count(*) FROM t GROUP BY window({w}, '1 minute')"],
  ['WATERMARK time and AS name', 'SELECT a FROM t WATERMARK {w} AS {w} DELAY OF INTERVAL 1 MINUTE'],
  ['CASE over columns', 'SELECT CASE {w} WHEN {w} THEN {w} ELSE {w} END AS x FROM t'],
  ['IN, BETWEEN, LIKE, IS NULL over columns', "SELECT a FROM t WHERE {w} IN (1) AND {w} BETWEEN 1 AND 2 AND {w} LIKE 'x' AND {w} IS NOT NULL"],
];

function roundTrips(statements: readonly Statement[]): void {
  for (const statement of statements) {
    const printed = formatStatement(statement);
    expect(strip(parseOk(printed)), printed).toEqual([strip(statement)]);
  }
}

describe('every non-reserved keyword is a name in every name position', () => {
  it('knows the list (Spark: END, BY, LIMIT, BETWEEN, LIKE, DROP, INSERT, INTERVAL are non-reserved; SELECT, FROM, AS, … are not)', () => {
    for (const expected of ['END', 'BY', 'LIMIT', 'BETWEEN', 'LIKE', 'DROP', 'INSERT', 'INTERVAL', 'STREAM', 'OPTIONS', 'WATERMARK', 'DESC']) expect(nonReserved).toContain(expected);
    for (const expected of ['SELECT', 'FROM', 'WHERE', 'AS', 'AND', 'CASE', 'TABLE', 'ON', 'USING', 'NULL']) expect(reserved).toContain(expected);
  });

  for (const [position, template] of POSITIONS) {
    it(position, () => {
      const expectedCount = template.split('{w}').length - 1;
      const failures: string[] = [];
      for (const keyword of nonReserved) {
        for (const spelling of [keyword.toLowerCase(), keyword]) {
          const sql = template.replaceAll('{w}', spelling);
          const result = parse(sql);
          if (E.isLeft(result)) {
            failures.push(`${sql}\n${formatSqlErrors(sql, result.left)}`);
            continue;
          }
          const found = namesIn(result.right).filter((name) => name === spelling).length;
          if (found !== expectedCount) failures.push(`${sql}: ${found} names '${spelling}', expected ${expectedCount}`);
          roundTrips(result.right);
        }
      }
      expect(failures).toEqual([]);
    });
  }

  it('bare aliases: every non-reserved word that cannot continue the statement there', () => {
    expect(bareAliasable).toEqual(expect.arrayContaining(['END', 'BY', 'INTERVAL', 'STREAM', 'OPTIONS']));
    for (const excluded of ['WATERMARK', 'LIMIT', 'BETWEEN', 'LIKE', 'ASC', 'DESC', 'DROP', 'INSERT', 'SHOW', 'DESCRIBE', 'EXPLAIN']) expect(bareAliasable).not.toContain(excluded);
    for (const keyword of bareAliasable) {
      const sql = `SELECT a ${keyword.toLowerCase()}, b + 1 ${keyword} FROM t ${keyword.toLowerCase()} WHERE a > 0`;
      const statements = parseOk(sql);
      expect(namesIn(statements).filter((name) => name.toLowerCase() === keyword.toLowerCase()), sql).toHaveLength(3);
      roundTrips(statements);
    }
    // the excluded ones keep their meaning after a select item or a table
    expect(strip(parseOk('SELECT a FROM t LIMIT 3'))).toMatchObject([{ from: { alias: null }, limit: { count: 3 } }]);
    expect(strip(parseOk('SELECT a FROM t WATERMARK ts DELAY OF INTERVAL 1 SECOND'))).toMatchObject([{ from: { alias: null, watermark: { kind: 'Watermark' } } }]);
    expect(parseErrors('SELECT a FROM t DROP TABLE x')[0]?.hint).toBe("separate statements with ';'");
  });

  it('reserved keywords stay refused as bare names, and are names after AS, after a dot, in option keys and INSERT column lists', () => {
    for (const keyword of reserved) {
      // (as a column a few are literals or operators: SELECT null, SELECT true)
      expect(parse(`SELECT a FROM ${keyword.toLowerCase()}`)._tag, keyword).toBe('Left');
      expect(parse(`CREATE SCAN ${keyword.toLowerCase()} ON t USING STREAM`)._tag, keyword).toBe('Left');
      const sql = `CREATE STREAM j OPTIONS(${keyword}.x='1') INSERT INTO s (${keyword.toLowerCase()}, b) SELECT t.${keyword} AS ${keyword.toLowerCase()}, b FROM t`;
      const [statement] = parseOk(sql);
      expect(namesIn(statement).filter((name) => name.toLowerCase() === keyword.toLowerCase()), sql).toHaveLength(4);
      expect(parseOk(`SELECT \`${keyword.toLowerCase()}\` FROM \`${keyword}\``)).toHaveLength(1);
    }
  });

  it("the issue's statement compiles: INSERT INTO snk (begin, end, c, s) into a sink whose columns are named so", () => {
    const catalog = (columns: Record<string, string>) => JSON.stringify({ columns: Object.fromEntries(Object.entries(columns).map(([name, type]) => [name, { type }])) });
    const sql = `CREATE TABLE src USING tablestore OPTIONS(table.name='S', catalog='${catalog({ UserId: 'string', price: 'double', timestamp: 'long' })}');
CREATE TABLE snk USING tablestore OPTIONS(table.name='K', catalog='${catalog({ begin: 'string', end: 'string', c: 'long', s: 'double' })}');
CREATE SCAN v ON src USING STREAM OPTIONS(tunnel.id='x');
CREATE STREAM job OPTIONS(outputMode='update') INSERT INTO snk (begin, end, c, s)
SELECT CAST(window.start AS String) AS begin, CAST(window.end AS String) AS end, count(*) AS c, sum(price) AS s FROM v GROUP BY window(to_timestamp(timestamp / 1000), '30 seconds')`;
    const compiled = compile(sql, { timeZone: 'UTC' });
    if (E.isLeft(compiled)) throw new Error(formatSqlErrors(sql, compiled.left));
    const job = compiled.right.statements[3]?.analyzed;
    expect(job?.kind === 'stream' && job.sink.columns.map((column) => `${column.output}→${column.column}`)).toEqual(['begin→begin', 'end→end', 'c→c', 's→s']);
  });
});
