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

/**
 * Edit distance counting an adjacent transposition as one edit (optimal string alignment):
 * `FORM` is one typo away from `FROM`. Small strings only (keys, keywords, names).
 */
export function editDistance(a: string, b: string): number {
  if (a === b) return 0;
  const rows: number[][] = Array.from({ length: a.length + 1 }, (_, i) =>
    Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  );
  const at = (i: number, j: number): number => rows[i]?.[j] ?? 0;
  for (let i = 1; i <= a.length; i++) {
    const row = rows[i] ?? [];
    for (let j = 1; j <= b.length; j++) {
      const same = a[i - 1] === b[j - 1];
      let best = Math.min(at(i - 1, j) + 1, at(i, j - 1) + 1, at(i - 1, j - 1) + (same ? 0 : 1));
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) best = Math.min(best, at(i - 2, j - 2) + 1);
      row[j] = best;
    }
  }
  return at(a.length, b.length);
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
    const distance = editDistance(lower, candidate.toLowerCase());
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return bestDistance <= budget ? best : undefined;
}

/**
 * `text` safe to print on a terminal: control characters (C0 but tab and newline, DEL, C1) and
 * the bidirectional overrides that reorder what is shown become visible escapes (`\x1b`,
 * `\u202e`), so a script cannot set the terminal's title or hide text by being echoed.
 */
export function escapeControlCharacters(text: string): string {
  return text.replace(UNSAFE_CHARACTERS, escapeCharacter);
}

// eslint-disable-next-line no-control-regex
const UNSAFE_CHARACTERS = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

const escapeCharacter = (character: string): string => {
  const code = character.charCodeAt(0);
  return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
};
