import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CAST_TYPES } from '../../lib/sql/ast.js';
import { explainAst, formatExpression, formatScript, formatStatement, quoteString } from '../../lib/sql/printer.js';
import { expr, parseOk, parseOne, strip } from './helpers.js';

const SEED = readFileSync(new URL('../fixtures/seed-orders-job.sql', import.meta.url), 'utf8');

// ---- generated expression trees, in the shape the parser produces (positions left out)

type Tree = Record<string, unknown>;

const plainName = fc.constantFrom('a', 'b', 'price', 'UserId', 'ts', 'x_1');
const identifier = fc.oneof(
  { weight: 4, arbitrary: plainName.map((name) => ({ kind: 'Identifier', name, quoted: false })) },
  { weight: 1, arbitrary: fc.string({ maxLength: 5 }).map((name) => ({ kind: 'Identifier', name, quoted: true })) },
);

const numberText = fc.oneof(
  fc.nat().map(String),
  fc.tuple(fc.nat({ max: 999 }), fc.nat({ max: 999 })).map(([whole, fraction]) => `${whole}.${fraction}`),
  fc.tuple(fc.nat({ max: 99 }), fc.integer({ min: -20, max: 20 })).map(([mantissa, exponent]) => `${mantissa}e${exponent}`),
);

const UNIT_MS: Readonly<Record<string, number>> = {
  microseconds: 0.001,
  MILLISECONDS: 1,
  second: 1000,
  SECONDS: 1000,
  Minutes: 60_000,
  hour: 3_600_000,
  DAYS: 86_400_000,
  week: 604_800_000,
};

const intervalLiteral = fc
  .array(fc.tuple(fc.nat({ max: 500 }), fc.constantFrom(...Object.keys(UNIT_MS))), { minLength: 1, maxLength: 3 })
  .map((parts) => {
    let milliseconds = 0;
    for (const [amount, unit] of parts) milliseconds += amount * (UNIT_MS[unit] ?? 0);
    return { kind: 'IntervalLiteral', milliseconds, text: parts.map(([amount, unit]) => `${amount} ${unit}`).join(' ') };
  });

const leaf: fc.Arbitrary<Tree> = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 8 }).map((value) => ({ kind: 'StringLiteral', value })),
  numberText.map((text) => ({ kind: 'NumberLiteral', value: Number(text), text, isInteger: /^\d+$/.test(text) })),
  fc.boolean().map((value) => ({ kind: 'BooleanLiteral', value })),
  fc.constant({ kind: 'NullLiteral' }),
  intervalLiteral,
  fc.tuple(fc.option(identifier, { nil: null }), identifier).map(([qualifier, name]) => ({ kind: 'ColumnRef', qualifier, name })),
  fc.constantFrom('start', 'end').map((bound) => ({ kind: 'WindowBound', bound })),
);

const { tree } = fc.letrec<{ tree: Tree }>((tie) => {
  const sub = tie('tree');
  const list = fc.array(sub, { minLength: 1, maxLength: 3 });
  return {
    tree: fc.oneof(
      { depthSize: 'small', withCrossShrink: true },
      leaf,
      fc.tuple(fc.constantFrom('-', '+', 'NOT'), sub).map(([op, operand]) => ({ kind: 'Unary', op, operand })),
      fc
        .tuple(fc.constantFrom('+', '-', '*', '/', '%', '=', '!=', '<', '<=', '>', '>=', 'AND', 'OR'), sub, sub)
        .map(([op, left, right]) => ({ kind: 'Binary', op, left, right })),
      fc.tuple(sub, fc.boolean()).map(([operand, negated]) => ({ kind: 'IsNull', operand, negated })),
      fc.tuple(sub, list, fc.boolean()).map(([operand, values, negated]) => ({ kind: 'InList', operand, values, negated })),
      fc.tuple(sub, sub, sub, fc.boolean()).map(([operand, low, high, negated]) => ({ kind: 'Between', operand, low, high, negated })),
      fc.tuple(sub, sub, fc.boolean()).map(([operand, pattern, negated]) => ({ kind: 'Like', operand, pattern, negated })),
      fc
        .tuple(fc.option(sub, { nil: null }), fc.array(fc.tuple(sub, sub), { minLength: 1, maxLength: 2 }), fc.option(sub, { nil: null }))
        .map(([operand, branches, otherwise]) => ({
          kind: 'Case',
          operand,
          branches: branches.map(([when, then]) => ({ kind: 'CaseBranch', when, then })),
          otherwise,
        })),
      fc.tuple(sub, fc.constantFrom(...CAST_TYPES)).map(([operand, type]) => ({ kind: 'Cast', operand, type })),
      fc
        .tuple(identifier, fc.array(sub, { maxLength: 3 }), fc.boolean())
        .map(([name, args, distinct]) => ({ kind: 'FunctionCall', name, args, distinct: distinct && args.length > 0, star: false })),
      fc.constantFrom('count', 'COUNT').map((name) => ({
        kind: 'FunctionCall',
        name: { kind: 'Identifier', name, quoted: false },
        args: [],
        distinct: false,
        star: true,
      })),
    ),
  };
});

describe('formatExpression', () => {
  it('prints any expression so that it parses back to the same tree (parentheses only where needed)', () => {
    fc.assert(
      fc.property(tree, (generated) => {
        const text = formatExpression(generated as never);
        expect(expr(text)).toEqual(generated);
      }),
      { numRuns: 500 },
    );
  });

  it('adds parentheses by precedence and keeps associativity', () => {
    const cases: Array<[string, string]> = [
      ['(a + b) * c', '(a + b) * c'],
      ['a + (b * c)', 'a + b * c'],
      ['a - (b - c)', 'a - (b - c)'],
      ['(a - b) - c', 'a - b - c'],
      ['NOT (a AND b)', 'NOT (a AND b)'],
      ['(NOT a) AND b', 'NOT a AND b'],
      ['(a OR b) AND c', '(a OR b) AND c'],
      ['-(-1)', '- -1'],
      ['(a IS NULL) IS NULL', '(a IS NULL) IS NULL'],
      ['(a = b) = c', 'a = b = c'],
      ['a BETWEEN (b = c) AND d', 'a BETWEEN (b = c) AND d'],
      ["`we``ird`.`x y` <> 'it''s'", "`we``ird`.`x y` != 'it\\'s'"],
      ["CAST(window.end AS string)", 'CAST(window.end AS STRING)'],
      ["INTERVAL '2 minutes'", 'INTERVAL 2 minutes'],
      ["INTERVAL '2  minutes'", "INTERVAL '2  minutes'"],
    ];
    for (const [written, printed] of cases) {
      const statement = parseOne(`SELECT ${written}`);
      if (statement.kind !== 'Select' || statement.items[0]?.kind !== 'SelectExpr') throw new Error(written);
      expect(formatExpression(statement.items[0].expr)).toBe(printed);
    }
  });

  it('quotes strings with escapes the lexer reads back', () => {
    expect(quoteString("a'b\\c\nd\te")).toBe("'a\\'b\\\\c\\nd\\te'");
    expect(expr(quoteString("a'b\\c\nd\te\r"))).toEqual({ kind: 'StringLiteral', value: "a'b\\c\nd\te\r" });
  });
});

describe('formatStatement', () => {
  it('prints the seed job as one canonical line', () => {
    const job = parseOk(SEED)[5];
    expect(job && formatStatement(job)).toBe(
      "CREATE STREAM job1 OPTIONS(checkpointLocation='/tmp/spark/cp/job1', outputMode='update') INSERT INTO order_stream_sink " +
        'SELECT CAST(window.start AS STRING) AS begin, CAST(window.end AS STRING) AS end, count(*) AS count, ' +
        'CAST(sum(price) AS DOUBLE) AS totalPrice FROM order_source_stream_view ' +
        "GROUP BY window(to_timestamp(timestamp / 1000), '30 seconds')",
    );
  });

  it('prints every statement kind so it parses back to the same tree, secrets as <redacted>', () => {
    const script = `${SEED};
      CREATE TABLE IF NOT EXISTS \`t t\` USING tablestore OPTIONS('odd key'=1, flag=true, neg=-2.5);
      CREATE SCAN b ON t USING BATCH; SHOW TABLES; DESCRIBE x; EXPLAIN DROP TABLE y;
      SELECT DISTINCT o.*, a FROM t AS o WATERMARK ts AS et DELAY OF INTERVAL 5 SECONDS WHERE a IN (1) GROUP BY a HAVING a > 1 ORDER BY a DESC LIMIT 3`;
    const statements = parseOk(script);
    const printed = formatScript(statements);
    expect(printed).toContain("access.key.secret='<redacted>'");
    expect(printed).toContain("OPTIONS('odd key'=1, flag=TRUE, neg=-2.5)");
    expect(strip(parseOk(printed))).toEqual(strip(statements));
  });
});

describe('explainAst', () => {
  it('outlines a tree with scalars inline, positions and nested children', () => {
    const statement = parseOne('SELECT a + 1 AS x\nFROM t WHERE b IS NOT NULL');
    expect(explainAst(statement)).toBe(
      [
        'Select distinct=false @1:1',
        '  items:',
        '    SelectExpr alias=x @1:8',
        '      expr:',
        '        Binary op="+" @1:8',
        '          left:',
        '            ColumnRef name=a @1:8',
        '          right:',
        '            NumberLiteral value=1 text="1" isInteger=true @1:12',
        '  from:',
        '    TableRef name=t @2:6',
        '  where:',
        '    IsNull negated=true @2:14',
        '      operand:',
        '        ColumnRef name=b @2:14',
        '',
      ].join('\n'),
    );
  });

  it('shows credentials as <redacted>', () => {
    const text = explainAst(parseOne("CREATE TABLE t USING tablestore OPTIONS(access.key.secret='pa55', password='x')"));
    expect(text).toContain('SecretOptionValue secret=<redacted>');
    expect(text).not.toMatch(/pa55|'x'/);
  });
});
