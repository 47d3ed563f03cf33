import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { isRight } from 'fp-ts/lib/Either.js';
import { describe, expect, it } from 'vitest';
import type { SqlError } from '../../lib/sql/errors.js';
import { parseScript } from '../../lib/sql/index.js';
import { parse } from '../../lib/sql/parser.js';
import { formatScript } from '../../lib/sql/printer.js';
import { lineColumnAt, strip } from './helpers.js';
import { mutateTokens, tokenMutation } from './token-mutations.js';

const SEED = readFileSync(new URL('../fixtures/seed-orders-job.sql', import.meta.url), 'utf8');

const VALID = [
  SEED,
  "CREATE TABLE IF NOT EXISTS t USING tablestore OPTIONS(table.name='T', catalog='{\"columns\": {\"a\": {\"type\": \"long\"}}}')",
  "CREATE SCAN v ON t USING STREAM OPTIONS(tunnel.name='x', maxoffsetsperchannel=10)",
  'SELECT DISTINCT a, b AS c, count(DISTINCT d) FROM t AS x WHERE a BETWEEN 1 AND 2 OR NOT b IN (1, 2) GROUP BY a HAVING count(*) > 1 ORDER BY a DESC LIMIT 5',
  "SELECT CASE WHEN a IS NOT NULL THEN CAST(a AS Long) ELSE -1 END, window.start FROM v WATERMARK to_timestamp(ts / 1000) AS et DELAY OF INTERVAL 10 SECONDS GROUP BY window(et, '1 minute', '30 seconds')",
  "EXPLAIN CREATE STREAM j OPTIONS(outputMode='update') INSERT INTO s (a) SELECT a % 2 FROM v WHERE delay(ts) < '2 minutes' AND a LIKE 'x%'",
  'SHOW TABLES; DESCRIBE TABLE t; DROP TABLE IF EXISTS t',
];

/** The spelling of every token kind of the dialect, plus some near misses. */
const TOKEN_TEXTS = [
  ...'SELECT FROM WHERE GROUP BY HAVING ORDER LIMIT AS AND OR NOT IN IS NULL TRUE FALSE CASE WHEN THEN ELSE END CAST DISTINCT BETWEEN LIKE CREATE DROP TABLE INSERT INTO ON USING INTERVAL STREAM BATCH SCAN OPTIONS TABLES SHOW DESCRIBE EXPLAIN IF EXISTS WATERMARK DELAY OF ASC DESC'.split(' '),
  'a', 'price', 'window', 'start', 'end', 'count', 'sum', 'to_timestamp', 'String', 'SECONDS', 'minute', 'tunnel', 'id',
  '`quoted name`', "'text'", '"30 seconds"', `'{"columns": {}}'`, '1', '1000', '3.5', '1e3', '.5',
  '=', '==', '!=', '<>', '<', '<=', '>', '>=', '+', '-', '*', '/', '%', '(', ')', ',', '.', ';',
  '-- comment\n', '// comment\n', '/* c */', "'unterminated", '`open', '/* open', '#', '§', '中',
];

const SEPARATORS = [' ', '  ', '\n', '\r\n', '\t', ''];

function expectLocated(text: string, errors: readonly SqlError[]): void {
  expect(errors.length).toBeGreaterThan(0);
  for (const error of errors) {
    expect(error.message).not.toMatch(/internal parser error|nested too deeply/);
    expect(error.message.length).toBeGreaterThan(0);
    expect(error.offset).toBeGreaterThanOrEqual(0);
    expect(error.offset).toBeLessThanOrEqual(text.length);
    expect(lineColumnAt(text, error.offset)).toEqual({ line: error.line, column: error.column });
  }
}

/** parse and parseScript never throw; they give statements or located errors. */
function checkTotal(text: string): void {
  const parsed = parse(text);
  if (!isRight(parsed)) expectLocated(text, parsed.left);
  const decoded = parseScript(text);
  if (!isRight(decoded)) expectLocated(text, decoded.left);
}

/** A parsed script printed and parsed again is the same tree. */
function checkRoundTrip(text: string): void {
  const parsed = parse(text);
  if (!isRight(parsed)) return;
  const printed = formatScript(parsed.right);
  const reparsed = parse(printed);
  if (!isRight(reparsed)) throw new Error(`printed form does not parse:\n${printed}\n${JSON.stringify(reparsed.left)}`);
  expect(strip(reparsed.right)).toEqual(strip(parsed.right));
}

const tokenSoup = fc
  .array(fc.tuple(fc.constantFrom(...TOKEN_TEXTS), fc.constantFrom(...SEPARATORS)), { maxLength: 40 })
  .map((parts) => parts.map(([token, separator]) => token + separator).join(''));

const mutation = tokenMutation({ texts: TOKEN_TEXTS });

describe('fuzz: the parser is total and its errors are located', () => {
  it('random token soup from the dialect', () => {
    fc.assert(fc.property(tokenSoup, checkTotal), { numRuns: 400 });
  });

  it('valid statements with tokens deleted, duplicated, swapped or replaced', () => {
    fc.assert(
      fc.property(fc.constantFrom(...VALID), fc.array(mutation, { minLength: 1, maxLength: 4 }), (source, mutations) => {
        const text = mutateTokens(source, mutations);
        checkTotal(text);
        checkRoundTrip(text);
      }),
      { numRuns: 400 },
    );
  });

  it('valid statements with characters inserted or removed anywhere', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...VALID),
        fc.nat(),
        fc.nat({ max: 3 }),
        fc.string({ unit: 'binary', maxLength: 3 }),
        (source, position, removed, inserted) => {
          const at = position % (source.length + 1);
          checkTotal(source.slice(0, at) + inserted + source.slice(at + removed));
        },
      ),
      { numRuns: 300 },
    );
  });

  it('arbitrary text, including lone surrogates and control characters', () => {
    fc.assert(fc.property(fc.string({ unit: 'binary', maxLength: 60 }), checkTotal), { numRuns: 300 });
  });

  it('deep nesting is a located error, not a stack overflow', () => {
    expect(isRight(parse(`SELECT ${'('.repeat(60)}1${')'.repeat(60)}`))).toBe(true);
    for (const depth of [65, 5000]) {
      // [opening text, closing text, index of the opening whose nesting crosses the limit]
      for (const [open, close, crossing] of [['(', ')', 64], ['abs(', ')', 64], ['NOT ', '', 63], ['- ', '', 63]] as const) {
        const text = `SELECT ${open.repeat(depth)}1${close.repeat(depth)}`;
        const result = parse(text);
        expect(isRight(result)).toBe(false);
        if (isRight(result)) continue;
        const [error] = result.left;
        expect(error?.message).toBe('expression nested more than 64 levels deep');
        expect(error?.offset).toBe('SELECT '.length + open.length * crossing);
      }
    }
  });

  it('the valid corpus itself parses and round-trips', () => {
    for (const source of VALID) {
      expect(isRight(parse(source))).toBe(true);
      checkRoundTrip(source);
    }
  });
});
