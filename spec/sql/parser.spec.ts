import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { Redacted, type Statement } from '../../lib/sql/ast.js';
import { bin, call, col, expr, id, interval, lineColumnAt, nodes, num, opt, parseOk, parseOne, str, strip } from './helpers.js';

const SEED = readFileSync(new URL('../fixtures/seed-orders-job.sql', import.meta.url), 'utf8');

describe('statements', () => {
  it('CREATE TABLE with IF NOT EXISTS, dotted keys, both quote styles, numbers, booleans and string keys', () => {
    const statement = parseOne(`
      create table if not exists \`my table\` using TableStore options (
        endpoint = "embedded", table.name='T1', batch.size = 200, flag = true, neg = -3, 'odd key' = 'v'
      );`);
    expect(strip(statement)).toEqual({
      kind: 'CreateTable',
      name: id('my table', true),
      ifNotExists: true,
      provider: id('TableStore'),
      options: {
        kind: 'OptionList',
        entries: [
          opt('endpoint', 'embedded'),
          opt('table.name', 'T1'),
          opt('batch.size', '200', 'number'),
          opt('flag', 'true', 'boolean'),
          opt('neg', '-3', 'number'),
          opt('odd key', 'v'),
        ],
      },
    });
  });

  it('keeps credential values out of the tree: a Redacted that reveals on request only', () => {
    const statement = parseOne(`CREATE TABLE t USING tablestore OPTIONS(access.key.secret='s3cr3t', ACCESS.KEY.SECRET="x")`);
    if (statement.kind !== 'CreateTable') throw new Error(statement.kind);
    const [first, second] = statement.options.entries;
    expect(first?.value.kind).toBe('SecretOptionValue');
    expect(second?.value.kind).toBe('SecretOptionValue');
    const secret = first?.value.kind === 'SecretOptionValue' ? first.value.secret : undefined;
    expect(secret).toBeInstanceOf(Redacted);
    expect(secret?.reveal()).toBe('s3cr3t');
    expect(JSON.stringify(statement)).not.toContain('s3cr3t');
    expect(String(secret)).toBe('<redacted>');
  });

  it('DROP TABLE [IF EXISTS]', () => {
    expect(strip(parseOk('DROP TABLE IF EXISTS a; drop table b'))).toEqual([
      { kind: 'DropTable', name: id('a'), ifExists: true },
      { kind: 'DropTable', name: id('b'), ifExists: false },
    ]);
  });

  it('CREATE SCAN … USING STREAM with options and USING BATCH without', () => {
    expect(strip(parseOk(`CREATE SCAN v ON t USING STREAM OPTIONS(tunnel.id='x', maxoffsetsperchannel="5");
                          create scan b on t using batch`))).toEqual([
      {
        kind: 'CreateScan',
        name: id('v'),
        table: id('t'),
        mode: 'STREAM',
        options: { kind: 'OptionList', entries: [opt('tunnel.id', 'x'), opt('maxoffsetsperchannel', '5')] },
      },
      { kind: 'CreateScan', name: id('b'), table: id('t'), mode: 'BATCH', options: null },
    ]);
  });

  it('CREATE STREAM … OPTIONS(…) INSERT INTO t (cols) SELECT …', () => {
    expect(strip(parseOne(`CREATE STREAM job OPTIONS(outputMode='update') INSERT INTO sink (a, b) SELECT x, y FROM v`))).toEqual({
      kind: 'CreateStream',
      name: id('job'),
      options: { kind: 'OptionList', entries: [opt('outputMode', 'update')] },
      insert: {
        kind: 'Insert',
        table: id('sink'),
        columns: [id('a'), id('b')],
        query: {
          kind: 'Select',
          distinct: false,
          items: [
            { kind: 'SelectExpr', expr: col('x'), alias: null },
            { kind: 'SelectExpr', expr: col('y'), alias: null },
          ],
          from: { kind: 'TableRef', name: id('v'), alias: null, watermark: null },
          where: null,
          groupBy: [],
          having: null,
          orderBy: [],
          limit: null,
        },
      },
    });
  });

  it('CREATE STREAM without OPTIONS, and a bare INSERT', () => {
    const [stream, insert] = parseOk('CREATE STREAM j INSERT INTO s SELECT 1; INSERT INTO s SELECT 2');
    expect(stream?.kind === 'CreateStream' && stream.options).toBeNull();
    expect(insert?.kind).toBe('Insert');
  });

  it('batch SELECT with WHERE, ORDER BY and LIMIT', () => {
    expect(strip(parseOne('SELECT DISTINCT * FROM scan1 WHERE a > 1 ORDER BY a DESC, b LIMIT 10'))).toEqual({
      kind: 'Select',
      distinct: true,
      items: [{ kind: 'SelectStar', qualifier: null }],
      from: { kind: 'TableRef', name: id('scan1'), alias: null, watermark: null },
      where: bin('>', col('a'), num('1')),
      groupBy: [],
      having: null,
      orderBy: [
        { kind: 'OrderItem', expr: col('a'), direction: 'DESC' },
        { kind: 'OrderItem', expr: col('b'), direction: 'ASC' },
      ],
      limit: { kind: 'Limit', count: 10 },
    });
  });

  it('GROUP BY window plus other keys, HAVING, aliases with and without AS, t.*', () => {
    const statement = parseOne(`SELECT o.*, UserId uid, count(*) AS n FROM orders AS o
      GROUP BY window(ts, '1 minute'), UserId HAVING count(*) > 2`);
    expect(strip(statement)).toMatchObject({
      items: [
        { kind: 'SelectStar', qualifier: id('o') },
        { kind: 'SelectExpr', expr: col('UserId'), alias: id('uid') },
        { kind: 'SelectExpr', expr: call('count', [], { star: true }), alias: id('n') },
      ],
      from: { kind: 'TableRef', name: id('orders'), alias: id('o'), watermark: null },
      groupBy: [call('window', [col('ts'), str('1 minute')]), col('UserId')],
      having: bin('>', call('count', [], { star: true }), num('2')),
    });
  });

  it('WATERMARK … DELAY OF INTERVAL on the FROM item, with an optional event-time name', () => {
    const statement = parseOne(
      'SELECT count(*) FROM v WATERMARK to_timestamp(ts / 1000) AS event_time DELAY OF INTERVAL 10 SECONDS GROUP BY window(event_time, "30 seconds")',
    );
    expect(strip(statement)).toMatchObject({
      from: {
        kind: 'TableRef',
        name: id('v'),
        alias: null,
        watermark: {
          kind: 'Watermark',
          eventTime: call('to_timestamp', [bin('/', col('ts'), num('1000'))]),
          alias: id('event_time'),
          delay: interval(10_000, '10 SECONDS'),
        },
      },
    });
    expect(strip(parseOne('SELECT a FROM v x WATERMARK ts DELAY OF INTERVAL 2 minutes'))).toMatchObject({
      from: { alias: id('x'), watermark: { eventTime: col('ts'), alias: null, delay: interval(120_000, '2 minutes') } },
    });
    expect(strip(parseOne('SELECT a FROM v WATERMARK ts DELAY OF INTERVAL 500 MILLISECONDS'))).toMatchObject({
      from: { watermark: { delay: interval(500, '500 MILLISECONDS') } },
    });
  });

  it("EMR's own watermark spellings parse as calls: delay(c) < '2 minutes' and watermark(c, interval …)", () => {
    expect(strip(parseOne("SELECT watermark(ts, interval 10 seconds) AS wm, a FROM v WHERE delay(ts) < '2 minutes'"))).toMatchObject({
      items: [{ expr: call('watermark', [col('ts'), interval(10_000, '10 seconds')]), alias: id('wm') }, { expr: col('a') }],
      where: bin('<', call('delay', [col('ts')]), str('2 minutes')),
    });
  });

  it('SHOW TABLES, DESCRIBE [TABLE] t, DESC t', () => {
    expect(strip(parseOk('SHOW TABLES; DESCRIBE TABLE t; desc u; describe v'))).toEqual([
      { kind: 'ShowTables' },
      { kind: 'Describe', name: id('t') },
      { kind: 'Describe', name: id('u') },
      { kind: 'Describe', name: id('v') },
    ]);
  });

  it('EXPLAIN wraps any other statement', () => {
    expect(strip(parseOne('EXPLAIN DROP TABLE t'))).toEqual({
      kind: 'Explain',
      statement: { kind: 'DropTable', name: id('t'), ifExists: false },
    });
    expect(strip(parseOne('explain create stream j insert into s select 1'))).toMatchObject({
      kind: 'Explain',
      statement: { kind: 'CreateStream', name: id('j') },
    });
  });

  it('several statements, comments of three kinds, empty statements and no final semicolon', () => {
    const statements = parseOk(`-- dash comment
      SHOW TABLES; ; /* block
      comment */ DROP TABLE a // slash comment 中文
      ;;DESCRIBE b`);
    expect(statements.map((statement) => statement.kind)).toEqual(['ShowTables', 'DropTable', 'Describe']);
  });

  it('an empty script or one of comments only is zero statements', () => {
    expect(parseOk('')).toEqual([]);
    expect(parseOk('  -- nothing\n// here\n/* at all */ ;')).toEqual([]);
  });
});

describe('expressions', () => {
  it('literals: strings (both quotes, escapes, doubled quotes), numbers, TRUE/FALSE/NULL', () => {
    expect(expr(`'it''s'`)).toEqual(str("it's"));
    expect(expr(`"say \\"hi\\"\\n"`)).toEqual(str('say "hi"\n'));
    expect(expr(`'\\u0041\\t\\%'`)).toEqual(str('A\t\\%'));
    expect(expr('42')).toEqual(num('42'));
    expect(expr('3.25')).toEqual({ kind: 'NumberLiteral', value: 3.25, text: '3.25', isInteger: false });
    expect(expr('1e3')).toEqual({ kind: 'NumberLiteral', value: 1000, text: '1e3', isInteger: false });
    expect(expr('.5')).toEqual({ kind: 'NumberLiteral', value: 0.5, text: '.5', isInteger: false });
    expect(expr('12345678901234567890')).toMatchObject({ text: '12345678901234567890', isInteger: true });
    expect(expr('TRUE')).toEqual({ kind: 'BooleanLiteral', value: true });
    expect(expr('false')).toEqual({ kind: 'BooleanLiteral', value: false });
    expect(expr('Null')).toEqual({ kind: 'NullLiteral' });
  });

  it('interval literals: units in any case, several parts, string form', () => {
    expect(expr('INTERVAL 1 HOUR 30 MINUTES')).toEqual(interval(5_400_000, '1 HOUR 30 MINUTES'));
    expect(expr("interval '2 minutes'")).toEqual(interval(120_000, '2 minutes'));
    expect(expr("INTERVAL '10' SECOND")).toEqual(interval(10_000, '10 SECOND'));
    expect(expr('INTERVAL 1 day')).toEqual(interval(86_400_000, '1 day'));
  });

  it('columns: plain, qualified, backquoted, keywords after a dot, non-reserved keywords as names', () => {
    expect(expr('price')).toEqual(col('price'));
    expect(expr('o.price')).toEqual(col('price', 'o'));
    expect(expr('`odd name`')).toEqual({ kind: 'ColumnRef', qualifier: null, name: id('odd name', true) });
    expect(expr('t.table')).toEqual(col('table', 't'));
    expect(expr('batch')).toEqual(col('batch'));
    expect(expr('timestamp')).toEqual(col('timestamp'));
  });

  it('window.start and window.end are window bounds (any case), `window`.start is a column', () => {
    expect(expr('window.start')).toEqual({ kind: 'WindowBound', bound: 'start' });
    expect(expr('WINDOW.END')).toEqual({ kind: 'WindowBound', bound: 'end' });
    expect(expr('`window`.start')).toEqual({ kind: 'ColumnRef', qualifier: id('window', true), name: id('start') });
  });

  it('arithmetic precedence and left associativity', () => {
    expect(expr('a + b * c')).toEqual(bin('+', col('a'), bin('*', col('b'), col('c'))));
    expect(expr('a - b - c')).toEqual(bin('-', bin('-', col('a'), col('b')), col('c')));
    expect(expr('(a + b) % 7 / 2')).toEqual(bin('/', bin('%', bin('+', col('a'), col('b')), num('7')), num('2')));
    expect(expr('-a * +2')).toEqual(
      bin('*', { kind: 'Unary', op: '-', operand: col('a') }, { kind: 'Unary', op: '+', operand: num('2') }),
    );
  });

  it('comparisons, with <> written as != and == as =', () => {
    for (const [written, op] of [['=', '='], ['==', '='], ['!=', '!='], ['<>', '!='], ['<', '<'], ['<=', '<='], ['>', '>'], ['>=', '>=']]) {
      expect(expr(`a ${written} 1`)).toEqual(bin(op as string, col('a'), num('1')));
    }
    expect(expr('a + 1 < b * 2')).toEqual(bin('<', bin('+', col('a'), num('1')), bin('*', col('b'), num('2'))));
  });

  it('AND binds tighter than OR, NOT tighter than AND but looser than comparisons', () => {
    expect(expr('a OR b AND c')).toEqual(bin('OR', col('a'), bin('AND', col('b'), col('c'))));
    expect(expr('NOT a = 1 AND b')).toEqual(
      bin('AND', { kind: 'Unary', op: 'NOT', operand: bin('=', col('a'), num('1')) }, col('b')),
    );
    expect(expr('NOT NOT x')).toEqual({ kind: 'Unary', op: 'NOT', operand: { kind: 'Unary', op: 'NOT', operand: col('x') } });
  });

  it('IS [NOT] NULL, [NOT] IN, [NOT] BETWEEN, [NOT] LIKE', () => {
    expect(expr('a IS NULL')).toEqual({ kind: 'IsNull', operand: col('a'), negated: false });
    expect(expr('a is not null')).toEqual({ kind: 'IsNull', operand: col('a'), negated: true });
    expect(expr("a IN ('x', 'y')")).toEqual({ kind: 'InList', operand: col('a'), values: [str('x'), str('y')], negated: false });
    expect(expr('a NOT IN (1)')).toEqual({ kind: 'InList', operand: col('a'), values: [num('1')], negated: true });
    expect(expr('a BETWEEN 1 AND b + 1')).toEqual({
      kind: 'Between',
      operand: col('a'),
      low: num('1'),
      high: bin('+', col('b'), num('1')),
      negated: false,
    });
    expect(expr('a NOT BETWEEN 1 AND 2 AND c')).toEqual(
      bin('AND', { kind: 'Between', operand: col('a'), low: num('1'), high: num('2'), negated: true }, col('c')),
    );
    expect(expr("a NOT LIKE 'x%'")).toEqual({ kind: 'Like', operand: col('a'), pattern: str('x%'), negated: true });
  });

  it('CASE, searched and simple, with and without ELSE', () => {
    expect(expr("CASE WHEN a > 1 THEN 'big' WHEN a > 0 THEN 'small' ELSE 'none' END")).toEqual({
      kind: 'Case',
      operand: null,
      branches: [
        { kind: 'CaseBranch', when: bin('>', col('a'), num('1')), then: str('big') },
        { kind: 'CaseBranch', when: bin('>', col('a'), num('0')), then: str('small') },
      ],
      otherwise: str('none'),
    });
    expect(expr('case x when 1 then 2 end')).toEqual({
      kind: 'Case',
      operand: col('x'),
      branches: [{ kind: 'CaseBranch', when: num('1'), then: num('2') }],
      otherwise: null,
    });
  });

  it('CAST to every supported type, type names in any case, BIGINT/INTEGER as aliases', () => {
    const cases: Array<[string, string]> = [
      ['String', 'string'],
      ['DOUBLE', 'double'],
      ['long', 'long'],
      ['bigint', 'long'],
      ['Int', 'int'],
      ['integer', 'int'],
      ['BOOLEAN', 'boolean'],
      ['Timestamp', 'timestamp'],
    ];
    for (const [written, type] of cases) {
      expect(expr(`CAST(a AS ${written})`)).toEqual({ kind: 'Cast', operand: col('a'), type });
    }
  });

  it('function calls: count(*), count(x), count(DISTINCT x), nested and known EMR functions', () => {
    expect(expr('count(*)')).toEqual(call('count', [], { star: true }));
    expect(expr('COUNT(x)')).toEqual(call('COUNT', [col('x')]));
    expect(expr('count(DISTINCT x)')).toEqual(call('count', [col('x')], { distinct: true }));
    expect(expr('now()')).toEqual(call('now', []));
    expect(expr("window(ts, '10 minutes', '5 minutes')")).toEqual(call('window', [col('ts'), str('10 minutes'), str('5 minutes')]));
    expect(expr("session_window(ts, '5 minutes')")).toEqual(call('session_window', [col('ts'), str('5 minutes')]));
    expect(expr('TUMBLING(ts, interval 1 minute)')).toEqual(call('TUMBLING', [col('ts'), interval(60_000, '1 minute')]));
    expect(expr("date_format(from_unixtime(unix_timestamp(ts)), 'yyyy')")).toEqual(
      call('date_format', [call('from_unixtime', [call('unix_timestamp', [col('ts')])]), str('yyyy')]),
    );
    expect(expr("coalesce(a, concat(b, 'x'), round(abs(c), 2))")).toEqual(
      call('coalesce', [col('a'), call('concat', [col('b'), str('x')]), call('round', [call('abs', [col('c')]), num('2')])]),
    );
    expect(expr('if(a, 1, 2)')).toEqual(call('if', [col('a'), num('1'), num('2')]));
  });

  it('aliases may be keywords after AS, as the seed does with `AS end`', () => {
    const statement = parseOne('SELECT a AS end, b AS `select`, c AS count FROM t');
    expect(statement.kind === 'Select' && statement.items.map((item) => item.kind === 'SelectExpr' && item.alias?.name)).toEqual([
      'end',
      'select',
      'count',
    ]);
  });
});

describe('the seed script', () => {
  const statements = parseOk(SEED);

  it('parses verbatim into its six statements', () => {
    expect(statements.map((statement) => statement.kind)).toEqual([
      'DropTable',
      'CreateTable',
      'DropTable',
      'CreateTable',
      'CreateScan',
      'CreateStream',
    ]);
  });

  it('the job is the windowed aggregation of the seed', () => {
    const job = statements[5] as Statement;
    expect(strip(job)).toEqual({
      kind: 'CreateStream',
      name: id('job1'),
      options: {
        kind: 'OptionList',
        entries: [opt('checkpointLocation', '/tmp/spark/cp/job1'), opt('outputMode', 'update')],
      },
      insert: {
        kind: 'Insert',
        table: id('order_stream_sink'),
        columns: [],
        query: {
          kind: 'Select',
          distinct: false,
          items: [
            { kind: 'SelectExpr', expr: { kind: 'Cast', operand: { kind: 'WindowBound', bound: 'start' }, type: 'string' }, alias: id('begin') },
            { kind: 'SelectExpr', expr: { kind: 'Cast', operand: { kind: 'WindowBound', bound: 'end' }, type: 'string' }, alias: id('end') },
            { kind: 'SelectExpr', expr: call('count', [], { star: true }), alias: id('count') },
            { kind: 'SelectExpr', expr: { kind: 'Cast', operand: call('sum', [col('price')]), type: 'double' }, alias: id('totalPrice') },
          ],
          from: { kind: 'TableRef', name: id('order_source_stream_view'), alias: null, watermark: null },
          where: null,
          groupBy: [call('window', [call('to_timestamp', [bin('/', col('timestamp'), num('1000'))]), str('30 seconds')])],
          having: null,
          orderBy: [],
          limit: null,
        },
      },
    });
  });

  it('every node’s line:col agrees with its offset, and names sit where they are written', () => {
    let checked = 0;
    for (const node of nodes(statements)) {
      expect(node['loc'], node.kind).toBeDefined();
      for (const key of ['loc', 'opLoc', 'typeLoc']) {
        const at = node[key] as { line: number; column: number; offset: number } | undefined;
        if (at === undefined) continue;
        expect(lineColumnAt(SEED, at.offset)).toEqual({ line: at.line, column: at.column });
        checked++;
      }
      if (node.kind === 'Identifier') {
        const at = node['loc'] as { offset: number };
        expect(SEED.slice(at.offset).startsWith(node['name'] as string)).toBe(true);
      }
    }
    expect(checked).toBeGreaterThan(80);
  });

  it('points at the tokens: the catalog value on line 12, `price` in sum(price) on line 40', () => {
    const sourceTable = statements[1];
    if (sourceTable?.kind !== 'CreateTable') throw new Error('no table');
    const catalog = sourceTable.options.entries.find((entry) => entry.key === 'catalog');
    expect(catalog?.loc).toMatchObject({ line: 12, column: 1 });
    expect(catalog?.value.loc).toMatchObject({ line: 12, column: 9 });
    const price = [...nodes(statements[5])].find((node) => node.kind === 'ColumnRef' && (node['name'] as { name: string }).name === 'price');
    const at = price?.['loc'] as { line: number; column: number; offset: number };
    expect(at.line).toBe(40);
    expect(SEED.slice(at.offset, at.offset + 5)).toBe('price');
  });
});
