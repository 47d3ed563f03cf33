/**
 * Limits on SQL text (issue 15 item 11), at the library boundary: an oversized script is refused
 * before the lexer, a tree deeper than the limit before anything recursive walks it, and no
 * input makes `compile` throw; errors echo control characters escaped, with the caret aligned.
 */
import * as E from 'fp-ts/lib/Either.js';
import { describe, expect, it } from 'vitest';
import { compile } from '../../lib/sql/compile.js';
import { escapeControlCharacters } from '../../lib/sql/errors.js';
import { SQL_LIMITS } from '../../lib/sql/limits.js';
import { parse } from '../../lib/sql/parser.js';
import { formatSqlError } from '../../lib/sql/printer.js';

const TABLE = `CREATE TABLE t USING tablestore OPTIONS(endpoint='embedded', table.name='t', catalog='{"columns":{"a":{"type":"long"}}}');\n`;
const chain = (operator: string, terms: number) => Array.from({ length: terms }, () => 'a = 1').join(` ${operator} `);

describe('SQL limits', () => {
  it('refuses a script over the size limit before lexing it, and takes one at the limit', () => {
    const over = `SELECT '${'x'.repeat(SQL_LIMITS.maxScriptChars)}'`;
    const refused = parse(over);
    expect(refused).toEqual(
      E.left([{ message: `script too large: ${over.length.toLocaleString('en-US')} characters, the limit is ${SQL_LIMITS.maxScriptChars.toLocaleString('en-US')}`, line: 1, column: 1, offset: 0, hint: 'split it into several scripts' }]),
    );
    const at = `SELECT '${'x'.repeat(SQL_LIMITS.maxScriptChars - 10)}'`;
    expect(at.length).toBeLessThanOrEqual(SQL_LIMITS.maxScriptChars);
    expect(E.isRight(parse(at))).toBe(true);
  });

  it('takes an operator chain within the depth limit through compile, and refuses a longer one at one of its operators', () => {
    const within = compile(`${TABLE}SELECT a FROM t WHERE ${chain('OR', SQL_LIMITS.maxTreeDepth - 50)};`);
    expect(E.isRight(within)).toBe(true);
    for (const operator of ['OR', 'AND', '+']) {
      const text = `${TABLE}SELECT a FROM t WHERE ${operator === '+' ? `${Array.from({ length: 50_000 }, () => 'a').join(' + ')} = 1` : chain(operator, 50_000)};`;
      const refused = compile(text);
      expect(E.isLeft(refused)).toBe(true);
      const [error] = E.isLeft(refused) ? refused.left : [];
      expect(error?.message).toBe(`expression more than ${SQL_LIMITS.maxTreeDepth} levels deep`);
      expect(text.slice(error!.offset, error!.offset + operator.length)).toBe(operator);
    }
  });

  it('escapes control characters in error excerpts and keeps the caret under the culprit', () => {
    const source = "SELECT '\x1b[2J' + \x07 FROM t";
    const at = source.indexOf('\x07');
    const text = formatSqlError(source, { message: 'unexpected character U+0007', line: 1, column: at + 1, offset: at });
    const [, excerpt, caret] = text.split('\n');
    expect(excerpt).toBe("  1 | SELECT '\\x1b[2J' + \\x07 FROM t");
    expect(caret!.indexOf('^')).toBe(excerpt!.indexOf('\\x07'));
    expect(escapeControlCharacters('a\tb\nc\rd\u202ee\u0085')).toBe('a\tb\nc\\x0dd\\u202ee\\x85');
  });
});
