import type { SourceLocation } from './ast.js';

/**
 * A problem in SQL text, located at a token (1-based line/column, 0-based offset).
 * `message` never contains the value of a credential option.
 */
export interface SqlError {
  readonly message: string;
  readonly line: number;
  readonly column: number;
  readonly offset: number;
  readonly hint?: string;
}

export function sqlError(at: SourceLocation, message: string, hint?: string): SqlError {
  return hint === undefined
    ? { message, line: at.line, column: at.column, offset: at.offset }
    : { message, line: at.line, column: at.column, offset: at.offset, hint };
}

/** `line 3, col 14: expected ')' after OPTIONS list but found ';'` */
export function describeSqlError(error: SqlError): string {
  const head = `line ${error.line}, col ${error.column}: ${error.message}`;
  return error.hint === undefined ? head : `${head} (${error.hint})`;
}

export function compareByPosition(a: SqlError, b: SqlError): number {
  return a.offset - b.offset || a.line - b.line || a.column - b.column;
}

/** Edit distance with unit costs; small strings only (keys, keywords, names). */
export function levenshtein(a: string, b: string): number {
  if (a === b) return 0;
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = (previous[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1);
      current.push(Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, substitution));
    }
    previous = current;
  }
  return previous[b.length] ?? 0;
}

/**
 * The candidate closest to `word` (case-insensitive) if it is close enough to be a plausible
 * typo: at most a third of the word's length in edits, and never more than 3.
 */
export function closestMatch(word: string, candidates: readonly string[]): string | undefined {
  const lower = word.toLowerCase();
  const budget = Math.min(3, Math.max(1, Math.floor(lower.length / 3)));
  let best: string | undefined;
  let bestDistance = Number.POSITIVE_INFINITY;
  for (const candidate of candidates) {
    const distance = levenshtein(lower, candidate.toLowerCase());
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return bestDistance <= budget ? best : undefined;
}
