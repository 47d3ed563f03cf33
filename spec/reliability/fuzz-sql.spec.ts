/**
 * Fuzz: SQL text, catalogs and OPTIONS all the way through `compile()` — parse, `${var}`
 * substitution, OPTIONS and catalog decoding, analysis, planning — not just the parser.
 *
 * Every case must end in Left (a non-empty list of located SqlErrors) or Right (a script whose
 * EXPLAIN works, whose statements print, and whose stream jobs explain themselves), within a time
 * bound, and never throw. The seeds are the shipped job (examples/orders/job.sql) and a script
 * using every clause of the dialect; both are checked to compile, so the mutations start from
 * scripts that reach the analyzer and planner.
 */
import { readFileSync } from 'node:fs';
import { inspect } from 'node:util';
import fc from 'fast-check';
import * as E from 'fp-ts/lib/Either.js';
import { describe, expect, it } from 'vitest';
import { compile, type CompiledScript } from '../../lib/sql/compile.js';
import type { SqlError } from '../../lib/sql/errors.js';
import { parse } from '../../lib/sql/parser.js';
import { STREAM_OPTION_KEYS, STREAM_SCAN_OPTION_KEYS, TABLE_OPTION_KEYS } from '../../lib/sql/options.js';
import { catalogTypes } from '../../lib/stream/catalog.js';
import { formatSqlError } from '../../lib/sql/printer.js';
import type { CompileOptions } from '../../lib/sql/compile.js';
import { mutateTokens, tokenMutation } from '../sql/token-mutations.js';
import { TRICKY_NAMES, fuzzParameters, fuzzTimeout, withinMs } from './fuzz-support.js';

const SEED_JOB = readFileSync(new URL('../../examples/orders/job.sql', import.meta.url), 'utf8');
const SEED_VARIABLES: Readonly<Record<string, string>> = {
  endpoint: 'https://inst.cn-hangzhou.ots.aliyuncs.com',
  access_key_id: 'LTAI-fuzz',
  access_key_secret: 'fuzz-secret-value',
  instance: 'inst',
  tunnel_id: 'c3b5a7d0-0000-4000-8000-000000000000',
  checkpoint: '/tmp/otsflow-fuzz/cp',
};

const CATALOG = '{"columns": {"id": {"type": "string"}, "n": {"type": "long"}, "price": {"type": "double"}, "ok": {"type": "boolean"}, "raw": {"type": "binary"}, "ts": {"type": "long"}}}';
const SINK_CATALOG = '{"columns": {"id": {"type": "string"}, "begin": {"type": "string"}, "c": {"type": "long"}, "total": {"type": "double"}}}';

/** Every statement kind and clause of the dialect, each valid. */
const EVERY_CLAUSE = `CREATE TABLE IF NOT EXISTS src USING tablestore OPTIONS(table.name='Src', catalog='${CATALOG}');
CREATE TABLE sink USING tablestore OPTIONS(table.name='Sink', writer.row.change.type='update', catalog='${SINK_CATALOG}');
CREATE TABLE remote USING tablestore OPTIONS(endpoint='https://i.cn-hangzhou.ots.aliyuncs.com', instance.name='i', access.key.id='id', access.key.secret='\${secret}', table.name='R', catalog='${CATALOG}');
CREATE SCAN v ON src USING STREAM OPTIONS(tunnel.name='t', maxoffsetsperchannel=500);
CREATE SCAN b ON src USING BATCH;
SHOW TABLES;
DESCRIBE src;
DESCRIBE TABLE v;
SELECT DISTINCT id, n AS m FROM src WHERE n BETWEEN 1 AND 10 OR NOT id IN ('a', 'b') ORDER BY id DESC LIMIT 5;
SELECT id, count(*) AS c, sum(price), avg(price), min(n), max(n), count(DISTINCT n) FROM src AS s WHERE id LIKE 'a%' AND raw IS NOT NULL GROUP BY id HAVING count(*) > 1;
SELECT CASE WHEN n IS NULL THEN -1 WHEN n % 2 = 0 THEN n / 2 ELSE n * 3 + 1 END AS k, CAST(price AS String), coalesce(id, 'none'), concat(id, '-'), abs(n), round(price, 1) FROM b;
SELECT from_unixtime(ts / 1000), unix_timestamp(to_timestamp(ts / 1000)), date_format(to_timestamp(ts / 1000), 'yyyy-MM-dd HH:mm:ss') FROM remote WHERE ok = TRUE;
EXPLAIN SELECT id FROM src WHERE n <> 3 AND price >= 1.5e0;
CREATE STREAM agg OPTIONS(checkpointLocation='/tmp/otsflow-fuzz/agg', outputMode='update', triggerType='ProcessingTime', triggerIntervalMs=1000)
INSERT INTO sink SELECT id, CAST(window.start AS String) AS begin, count(*) AS c, CAST(sum(price) AS Double) AS total FROM v GROUP BY id, window(to_timestamp(ts / 1000), '30 seconds', '10 seconds');
CREATE STREAM appended OPTIONS(outputMode='append')
INSERT INTO sink (id, begin, c, total) SELECT id, CAST(window.start AS String), count(*), sum(price) FROM v WATERMARK to_timestamp(ts / 1000) AS et DELAY OF INTERVAL 10 SECONDS GROUP BY id, window(et, '1 minute');
CREATE STREAM copy OPTIONS(outputMode='update', triggerType='OneTime') INSERT INTO sink SELECT id, id AS begin, n AS c, price AS total FROM v WHERE delay(to_timestamp(ts / 1000)) < '2 minutes';
EXPLAIN CREATE STREAM copy2 INSERT INTO sink SELECT id, id AS begin, n AS c, price AS total FROM v;
INSERT INTO sink SELECT id, id AS begin, n AS c, price AS total FROM b;
DROP TABLE IF EXISTS remote;
DROP TABLE sink`;
const EVERY_CLAUSE_VARIABLES: Readonly<Record<string, string>> = { secret: 'fuzz-every-clause-secret' };

const SEEDS: readonly { readonly name: string; readonly text: string; readonly variables: Readonly<Record<string, string>> }[] = [
  { name: 'examples/orders/job.sql', text: SEED_JOB, variables: SEED_VARIABLES },
  { name: 'every clause', text: EVERY_CLAUSE, variables: EVERY_CLAUSE_VARIABLES },
];

/** A statement printed back and every error located inside the text: what a caller may rely on. */
function checkOutcome(text: string, options: CompileOptions, result: E.Either<readonly SqlError[], CompiledScript>): 'left' | 'right' {
  if (E.isLeft(result)) {
    expect(result.left.length).toBeGreaterThan(0);
    for (const error of result.left) {
      expect(typeof error.message).toBe('string');
      expect(error.message.length).toBeGreaterThan(0);
      expect(error.message).not.toMatch(/internal (parser )?error|is not a function|Cannot read propert|undefined|\[object Object\]/);
      expect(Number.isInteger(error.line) && error.line >= 1).toBe(true);
      expect(Number.isInteger(error.column) && error.column >= 1).toBe(true);
      expect(error.offset).toBeGreaterThanOrEqual(0);
      expect(error.offset).toBeLessThanOrEqual(text.length);
      expect(typeof formatSqlError(text, error)).toBe('string');
    }
    return 'left';
  }
  const script = result.right;
  expect(typeof script.explain()).toBe('string');
  for (const statement of script.statements) {
    expect(typeof statement.sql).toBe('string');
    expect(typeof statement.run).toBe('function');
  }
  // nothing connects: only statements that need no endpoint are run (stream jobs are made, not started)
  return 'right';
}

async function runOffline(script: CompiledScript): Promise<void> {
  for (const statement of script.statements) {
    const kind = statement.analyzed.kind;
    if (kind === 'select' || kind === 'insert') continue;
    const result = await statement.run();
    if (result.kind === 'job') {
      expect(typeof result.job.explain()).toBe('string');
      expect(result.job.stages.length).toBeGreaterThan(0);
    } else if (result.kind === 'rows' || result.kind === 'text') expect(typeof result.text).toBe('string');
    else expect(typeof result.message).toBe('string');
  }
}

const CASE_LIMIT_MS = 2_000;

/** compile() as a case: never throws, answers in time, and its answer is well formed. */
function compileCase(text: string, options: CompileOptions): { outcome: 'left' | 'right'; result: E.Either<readonly SqlError[], CompiledScript> } {
  let result: E.Either<readonly SqlError[], CompiledScript>;
  try {
    result = withinMs(CASE_LIMIT_MS, 'compile', () => compile(text, options));
  } catch (error) {
    throw new Error(`compile threw on ${inspect(text.slice(0, 400))}: ${(error as Error)?.stack ?? String(error)}`);
  }
  return { outcome: checkOutcome(text, options, result), result };
}

// ---------------------------------------------------------------- mutations

const TOKEN_TEXTS = [
  ...'SELECT FROM WHERE GROUP BY HAVING ORDER LIMIT AS AND OR NOT IN IS NULL TRUE FALSE CASE WHEN THEN ELSE END CAST DISTINCT BETWEEN LIKE CREATE DROP TABLE INSERT INTO ON USING INTERVAL STREAM BATCH SCAN OPTIONS TABLES SHOW DESCRIBE EXPLAIN IF EXISTS WATERMARK DELAY OF ASC DESC'.split(' '),
  'window', 'window.start', 'window.end', 'count', 'sum', 'avg', 'min', 'max', 'to_timestamp', 'from_unixtime', 'unix_timestamp', 'date_format', 'delay', 'coalesce',
  'String', 'Long', 'Double', 'Boolean', 'Binary', 'Timestamp', 'SECONDS', 'MINUTES', 'HOURS', 'DAYS',
  'src', 'sink', 'v', 'b', 'id', 'n', 'price', 'ts', 'raw', 'ok', 'et',
  "'30 seconds'", "'-1 seconds'", "'0 seconds'", "'99999999999 days'", "'1 fortnight'", "''", "'%'", "'${secret}'", "'${nope}'", "'$${literal}'",
  '0', '-1', '1', '10', '1e308', '1e309', '-9223372036854775809', '9223372036854775808', '0.0', 'NaN', '.5', '007',
  '=', '==', '!=', '<>', '<', '<=', '>', '>=', '+', '-', '*', '/', '%', '(', ')', ',', '.', ';',
  '-- c\n', '/* c */', "'unterminated", '`open', '/* open', '#', '§', '中', '\u0000', '`__proto__`', '`constructor`', '__proto__', 'constructor', 'toString', 'hasOwnProperty',
];

const SIMILAR: Readonly<Record<string, readonly string[]>> = {
  Identifier: ['src', 'sink', 'v', 'b', 'id', 'n', 'price', 'ts', 'raw', 'ok', 'et', 'nope', 'window', 'count', 'sum', 'max', 'delay', 'to_timestamp', 'date_format', 'coalesce', 'String', 'Long', 'Timestamp', '`__proto__`', '`constructor`', '`a b`', 'job1', 'remote'],
  StringLiteral: ["'30 seconds'", "'1 minute'", "'0 seconds'", "'-5 seconds'", "'1 fortnight'", "''", "'x'", "'%'", "'update'", "'append'", "'complete'", "'OneTime'", "'ProcessingTime'", "'embedded'", "'https://x.ots.aliyuncs.com'", "'${secret}'", "'${nope}'", `'{"columns": {"id": {"type": "long"}}}'`, `'{"columns": {}}'`, "'yyyy-MM-dd'", "'Asia/Shanghai'"],
  NumberLiteral: ['0', '1', '-1', '2', '1000', '1e308', '0.5', '9223372036854775807', '99999999999999999999'],
};

const mutation = tokenMutation({ texts: TOKEN_TEXTS, insert: true, similar: SIMILAR });

/** Character-level edits: what a bad paste or a wrong encoding does. */
const charEdit = fc.oneof(
  fc.record({ at: fc.nat(), remove: fc.integer({ min: 0, max: 3 }), insert: fc.string({ maxLength: 3, unit: 'binary' }) }),
  fc.record({ at: fc.nat(), remove: fc.constant(0), insert: fc.constantFrom("'", '"', '`', '(', ')', ';', '${', '}', '/*', '--', '\\', '\n', '\r') }),
);
function mutateChars(source: string, edits: readonly { at: number; remove: number; insert: string }[]): string {
  let text = source;
  for (const edit of edits) {
    const at = edit.at % (text.length + 1);
    text = text.slice(0, at) + edit.insert + text.slice(at + edit.remove);
  }
  return text;
}

/** Statements of the seeds spliced together in random order. */
const SEED_STATEMENTS = SEEDS.flatMap((seed) => seed.text.split(/;\s*\n/).map((statement) => statement.trim()).filter((s) => s !== ''));

const variablesArb: fc.Arbitrary<Record<string, string>> = fc.oneof(
  fc.constant({ ...SEED_VARIABLES, ...EVERY_CLAUSE_VARIABLES }),
  fc
    .dictionary(fc.oneof(fc.constantFrom(...Object.keys(SEED_VARIABLES), 'secret', ...TRICKY_NAMES), fc.string({ maxLength: 8 })), fc.oneof(fc.string({ maxLength: 12 }), fc.constantFrom("'", '${secret}', '$${x}', '\n', 'embedded', 'https://x.ots.aliyuncs.com', '1e999')), { maxKeys: 8 })
    .map((random) => ({ ...SEED_VARIABLES, ...EVERY_CLAUSE_VARIABLES, ...random })),
);

const sessionArb: fc.Arbitrary<CompileOptions> = fc.record(
  {
    variables: variablesArb,
    timeZone: fc.oneof(fc.constantFrom('UTC', 'Asia/Shanghai', '+08:00', 'GMT-14:00', 'Mars/Olympus', '', 'UTC+99', '\u0000'), fc.string({ maxLength: 8 })),
  },
  { requiredKeys: ['variables'] },
);

// ---------------------------------------------------------------- OPTIONS and catalogs

const optionValueText = fc.oneof(
  fc.string({ maxLength: 16 }),
  fc.constantFrom('embedded', 'https://i.cn-hangzhou.ots.aliyuncs.com', 'http://127.0.0.1:1', 'ftp://x', 'update', 'append', 'complete', 'put', 'ProcessingTime', 'OneTime', '10 seconds', '-5 seconds', '1 fortnight', '0', '-1', '1e999', 'NaN', '${secret}', '$${x}', '${', ...TRICKY_NAMES),
);
/** An option value as SQL: quoted (either quote), a number or a boolean. */
const optionValueSql = fc.oneof(
  optionValueText.map((text) => `'${text.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`),
  optionValueText.map((text) => `"${text.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`),
  fc.oneof(fc.integer(), fc.double(), fc.constantFrom(1e308, -0, 2 ** 53 + 1)).map((n) => (Number.isFinite(n) ? String(n) : '1')),
  fc.constantFrom('TRUE', 'FALSE'),
);
const optionKey = (known: readonly string[]) =>
  fc.oneof(
    { weight: 4, arbitrary: fc.constantFrom(...known) },
    { weight: 1, arbitrary: fc.constantFrom('access.key.secrte', 'tabel.name', 'CATALOG', 'Table.Name', 'checkpointlocation', '`table`.`name`', "'quoted.key'", '__proto__', 'constructor', 'toString') },
  );
const optionList = (known: readonly string[]) =>
  fc.array(fc.tuple(optionKey(known), optionValueSql), { maxLength: 9 }).map((entries) => entries.map(([key, value]) => `${key}=${value}`).join(', '));

/** Catalog JSON: valid-shaped with random names and types, near misses, and plain garbage. */
const columnName = fc.oneof(fc.constantFrom('id', 'n', 'price', 'ts', 'begin', 'c', 'total', ...TRICKY_NAMES), fc.string({ maxLength: 10 }));
const columnType = fc.oneof(fc.constantFrom(...catalogTypes, 'int', 'bigint', 'float', 'LONG', 'timestamp', 'decimal', ...TRICKY_NAMES), fc.string({ maxLength: 8 }));
const shapedCatalog = fc
  .array(fc.tuple(columnName, fc.oneof({ weight: 5, arbitrary: columnType.map((type) => ({ type })) }, { weight: 1, arbitrary: fc.jsonValue() })), { maxLength: 8 })
  .map((columns) => `{"columns": {${columns.map(([name, spec]) => `${JSON.stringify(name)}: ${JSON.stringify(spec)}`).join(', ')}}}`);
const deepJson = fc.integer({ min: 1, max: 20_000 }).chain((depth) =>
  fc.constantFrom(
    '['.repeat(depth) + ']'.repeat(depth),
    `{"columns": {"a": ${'{"type": '.repeat(depth)}"long"${'}'.repeat(depth)}}}`,
    '{"columns":' + '['.repeat(depth),
  ),
);
const catalogText = fc.oneof(
  { weight: 4, arbitrary: shapedCatalog },
  { weight: 2, arbitrary: fc.json({ maxDepth: 4 }) },
  { weight: 1, arbitrary: deepJson },
  { weight: 1, arbitrary: fc.string({ maxLength: 30 }) },
  { weight: 1, arbitrary: fc.constantFrom('{"columns": {}}', '{"columns": []}', '{"columns": null}', '{"cols": {"a": {"type": "long"}}}', '{"columns": {"a": {"type": "long"}, "a": {"type": "long"}}}', '{"columns": {"a": {"type": "long"}}} trailing', '{"columns": {"a": {"type": "\\ud800"}}}') },
);
const sqlQuoted = (text: string) => `'${text.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;

/** A script whose tables, scans and jobs take random OPTIONS and catalogs, then queries them. */
const optionsScript = fc
  .record({
    source: fc.tuple(optionList(TABLE_OPTION_KEYS), catalogText),
    sink: fc.tuple(optionList(TABLE_OPTION_KEYS), catalogText),
    scan: optionList(STREAM_SCAN_OPTION_KEYS),
    stream: optionList(STREAM_OPTION_KEYS),
    query: fc.constantFrom(
      'SELECT * FROM t',
      'SELECT count(*) FROM t GROUP BY window(to_timestamp(ts / 1000), "30 seconds")',
      'SELECT `__proto__`, `constructor` FROM t',
      'DESCRIBE t; DESCRIBE v; SHOW TABLES',
      'CREATE STREAM j OPTIONS(%STREAM%) INSERT INTO s SELECT * FROM v',
      'CREATE STREAM j OPTIONS(%STREAM%) INSERT INTO s SELECT id, CAST(window.start AS String) AS begin, count(*) AS c, CAST(sum(price) AS Double) AS total FROM v GROUP BY id, window(to_timestamp(ts / 1000), "30 seconds")',
      'EXPLAIN CREATE STREAM j OPTIONS(%STREAM%) INSERT INTO s SELECT * FROM v',
    ),
  })
  .map(({ source, sink, scan, stream, query }) =>
    [
      `CREATE TABLE t USING tablestore OPTIONS(${[source[0], `catalog=${sqlQuoted(source[1])}`].filter((s) => s !== '').join(', ')})`,
      `CREATE TABLE s USING tablestore OPTIONS(${[sink[0], `catalog=${sqlQuoted(sink[1])}`].filter((s) => s !== '').join(', ')})`,
      `CREATE SCAN v ON t USING STREAM OPTIONS(${scan})`,
      query.replace(/%STREAM%/g, stream),
    ].join(';\n'),
  );

// ---------------------------------------------------------------- the properties

describe('fuzz: compile() is total over SQL, OPTIONS and catalogs', () => {
  it('compiles the seeds, explains them and makes their stream jobs', async () => {
    for (const seed of SEEDS) {
      const { outcome, result } = compileCase(seed.text, { variables: seed.variables, timeZone: 'UTC' });
      if (E.isLeft(result)) throw new Error(`${seed.name} does not compile: ${result.left.map((e) => formatSqlError(seed.text, e)).join('\n')}`);
      expect(outcome).toBe('right');
      expect(result.right.explain()).toContain('commitAfter');
      await runOffline(result.right);
    }
  });

  const MUTATED = 100;
  it(
    'token-level mutations of the seeds (delete, duplicate, swap, replace, insert) reach every stage',
    async () => {
      let pastParser = 0;
      await fc.assert(
        fc.asyncProperty(fc.constantFrom(...SEEDS), fc.array(mutation, { minLength: 1, maxLength: 3 }), fc.option(fc.constantFrom('UTC', 'Mars/Olympus')), async (seed, mutations, zone) => {
          const text = mutateTokens(seed.text, mutations, SIMILAR);
          const { result } = compileCase(text, { variables: seed.variables, ...(zone === null ? {} : { timeZone: zone }) });
          if (E.isRight(parse(text))) pastParser++;
          if (E.isRight(result)) await runOffline(result.right);
        }),
        fuzzParameters(MUTATED),
      );
      if (process.env['OTSFLOW_FUZZ_VERBOSE']) console.log(`past the parser: ${pastParser}`);
      // the mutations must not all die in the parser: many reach OPTIONS decoding, analysis and planning
      expect(pastParser).toBeGreaterThan(fuzzParameters(MUTATED).numRuns! / 20);
    },
    fuzzTimeout(MUTATED, 30_000),
  );

  const CHARS = 80;
  it(
    'character-level edits (quotes, comments, ${, control characters, lone surrogates)',
    () => {
      fc.assert(
        fc.property(fc.constantFrom(...SEEDS), fc.array(charEdit, { minLength: 1, maxLength: 4 }), sessionArb, (seed, edits, session) => {
          compileCase(mutateChars(seed.text, edits), session);
        }),
        fuzzParameters(CHARS),
      );
    },
    fuzzTimeout(CHARS, 30_000),
  );

  const SPLICED = 100;
  it(
    'statements of the seeds spliced in random order, with random variables and time zones',
    () => {
      fc.assert(
        fc.property(fc.array(fc.constantFrom(...SEED_STATEMENTS), { minLength: 1, maxLength: 8 }), sessionArb, (statements, session) => {
          compileCase(statements.join(';\n'), session);
        }),
        fuzzParameters(SPLICED),
      );
    },
    fuzzTimeout(SPLICED, 30_000),
  );

  const OPTIONS = 150;
  it(
    'random OPTIONS keys and values, and random catalogs (valid-shaped, near misses, garbage, deeply nested)',
    async () => {
      const outcomes = { left: 0, right: 0 };
      await fc.assert(
        fc.asyncProperty(optionsScript, sessionArb, async (text, session) => {
          const { outcome, result } = compileCase(text, session);
          outcomes[outcome]++;
          if (E.isRight(result)) await runOffline(result.right);
        }),
        fuzzParameters(OPTIONS),
      );
      expect(outcomes.left).toBeGreaterThan(0);
    },
    fuzzTimeout(OPTIONS, 30_000),
  );

  it('deeply nested catalog JSON is a located error, not a stack overflow', () => {
    for (const depth of [100, 10_000, 100_000]) {
      const text = `CREATE TABLE t USING tablestore OPTIONS(table.name='T', catalog='${'['.repeat(depth)}${']'.repeat(depth)}')`;
      const { result } = compileCase(text, {});
      expect(E.isLeft(result) && result.left[0]?.message).toMatch(/option 'catalog'.*nested/);
    }
  });

  it('names every JavaScript object has are unknown, not found on the prototype (CAST types, options, variables)', () => {
    const table = `CREATE TABLE t USING tablestore OPTIONS(table.name='T', catalog='{"columns": {"a": {"type": "long"}}}');\n`;
    for (const name of ['constructor', '__proto__', 'toString', 'hasOwnProperty']) {
      const messages = (text: string): string[] => {
        const { result } = compileCase(table + text, { variables: {} });
        return E.isLeft(result) ? result.left.map((e) => e.message) : [];
      };
      expect(messages(`SELECT CAST(a AS ${name}) FROM t`)).toEqual([expect.stringContaining(`unknown type '${name}' in CAST`)]);
      expect(messages(`CREATE TABLE u USING tablestore OPTIONS(${name}=1, table.name='U', catalog='{"columns": {"a": {"type": "long"}}}')`)).toEqual([
        expect.stringContaining(`unknown option '${name}'`),
      ]);
      expect(messages(`CREATE TABLE u USING tablestore OPTIONS(table.name='\${${name}}', catalog='{"columns": {"a": {"type": "long"}}}')`)).toEqual([
        `unknown variable '\${${name}}'`,
      ]);
    }
  });

  it('type names that are properties of every object are unknown types, not accepted', () => {
    for (const type of ['constructor', '__proto__', 'toString', 'hasOwnProperty', 'valueOf']) {
      const text = `CREATE TABLE t USING tablestore OPTIONS(table.name='T', catalog='{"columns": {"a": {"type": "${type}"}}}'); SELECT a FROM t`;
      const { result } = compileCase(text, {});
      expect(E.isLeft(result) && result.left.map((e) => e.message)).toEqual([expect.stringContaining(`column 'a' has unknown type '${type}'`)]);
    }
  });
});
