/**
 * `compile(sql, options)`: SQL text → a script of runnable statements, or every problem as a
 * located SqlError — before anything connects. Parsing, `${var}` substitution, OPTIONS decoding,
 * analysis and planning all happen here; `run()` of a statement (and `start()` of a stream job)
 * is where connections are made.
 */
import * as E from 'fp-ts/lib/Either.js';
import { pipe } from 'fp-ts/lib/function.js';
import { analyzeScript, type AnalyzedStatement } from './analyze.js';
import { systemTimeZone, timeZone, type TimeZone } from './datetime.js';
import { sqlError, type SqlError } from './errors.js';
import { decodeScript } from './options.js';
import { parse } from './parser.js';
import { formatStatement } from './printer.js';
import { explainStatement, planStatement, type CompiledStatement, type CompileOptions } from './job.js';
import { substituteVariables } from './variables.js';

export type { CompileOptions };

export interface CompiledScript {
  readonly statements: readonly CompiledStatement[];
  readonly timeZone: TimeZone;
  /** EXPLAIN of every statement, in order */
  explain(): string;
}

export function compile(text: string, options: CompileOptions = {}): E.Either<readonly SqlError[], CompiledScript> {
  try {
    return compileUnsafe(text, options);
  } catch (error) {
    // parse() bounds script size and tree depth; this is the last line should a later stage still recurse too deep
    if (error instanceof RangeError) return E.left([sqlError({ line: 1, column: 1, offset: 0 }, 'script too complex to compile: the call stack ran out', 'split long expressions')]);
    throw error;
  }
}

function compileUnsafe(text: string, options: CompileOptions): E.Either<readonly SqlError[], CompiledScript> {
  const zone = options.timeZone === undefined ? E.right(systemTimeZone()) : timeZone(options.timeZone);
  if (E.isLeft(zone)) return E.left([sqlError({ line: 1, column: 1, offset: 0 }, `session time zone: ${zone.left}`)]);
  return pipe(
    parse(text),
    E.chain((statements) => substituteVariables(statements, options.variables ?? {})),
    E.chain(decodeScript),
    E.chain((decoded) => {
      const analysis = analyzeScript(decoded);
      return analysis.ok ? E.right(analysis.statements) : E.left(analysis.errors);
    }),
    E.map((statements: readonly AnalyzedStatement[]): CompiledScript => {
      const compiled = statements.map((statement) => planStatement(statement, zone.right, options));
      return {
        statements: compiled,
        timeZone: zone.right,
        explain: () => statements.map((statement) => `${formatStatement(statement.statement)};\n${explainStatement(statement, zone.right, options)}`).join('\n'),
      };
    }),
  );
}
