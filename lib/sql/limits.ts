/**
 * Size and depth limits on SQL text, checked before the work they bound so hostile input fails
 * fast with one clear error instead of minutes of lexing or a blown stack:
 * - the script's length, before the lexer sees it (10 MB of `(` took minutes and gigabytes);
 * - the depth of every syntax tree, before anything recursive walks it: a chain of 200 000
 *   `a + a + …` parses as a 200 000-deep left-leaning tree (the parser's nesting guard counts
 *   parentheses and calls, not operator chains).
 * The tree walk is iterative, so it cannot overflow the stack it protects.
 */
import type { Statement } from './ast.js';
import { type SqlError, sqlError } from './errors.js';

export const SQL_LIMITS = {
  /** characters (UTF-16 units) in one script: far above real jobs (the seed's is 3 KB) */
  maxScriptChars: 1024 * 1024,
  /** levels of one syntax tree, counting each operator of a chain as one level */
  maxTreeDepth: 1000,
} as const;

/** The script-size error, or undefined when `text` is within the limit. */
export function checkScriptSize(text: string, maxChars: number = SQL_LIMITS.maxScriptChars): SqlError | undefined {
  if (text.length <= maxChars) return undefined;
  return sqlError(
    { line: 1, column: 1, offset: 0 },
    `script too large: ${text.length.toLocaleString('en-US')} characters, the limit is ${maxChars.toLocaleString('en-US')}`,
    'split it into several scripts',
  );
}

interface Located {
  readonly kind: string;
  readonly loc?: { readonly line: number; readonly column: number; readonly offset: number };
  readonly opLoc?: { readonly line: number; readonly column: number; readonly offset: number };
}

const isNode = (value: unknown): value is Located =>
  typeof value === 'object' && value !== null && typeof (value as { kind?: unknown }).kind === 'string';

/**
 * The first node of each statement deeper than `maxDepth` (at its operator when it has one),
 * as an error; [] when every tree is within the limit.
 */
export function checkTreeDepth(statements: readonly Statement[], maxDepth: number = SQL_LIMITS.maxTreeDepth): readonly SqlError[] {
  const errors: SqlError[] = [];
  for (const statement of statements) {
    // [value, its level, the nearest operator above it (or the node above it)]
    const stack: [unknown, number, Located | undefined][] = [[statement, 1, undefined]];
    while (stack.length > 0) {
      const [value, depth, parent] = stack.pop()!;
      if (typeof value !== 'object' || value === null) continue;
      if (!isNode(value)) {
        // a list or a plain holder (an option entry, a select item): its parts sit at its own level
        for (const child of Object.values(value)) if (typeof child === 'object' && child !== null) stack.push([child, depth, parent]);
        continue;
      }
      if (depth > maxDepth) {
        // pointed at the nearest operator above: in a chain, one of its operators
        const culprit = parent ?? value;
        const at = culprit.opLoc ?? culprit.loc ?? { line: 1, column: 1, offset: 0 };
        errors.push(sqlError(at, `expression more than ${maxDepth} levels deep`, 'a chain of operators counts one level per operator: split it, e.g. with IN (…)'));
        break;
      }
      // pushed last to first, so the first (left) operand is walked first: down a chain's spine
      for (const [key, child] of Object.entries(value).reverse()) {
        if (key === 'loc' || key === 'opLoc') continue;
        if (typeof child === 'object' && child !== null) stack.push([child, depth + 1, value.opLoc !== undefined || parent?.opLoc === undefined ? value : parent]);
      }
    }
  }
  return errors;
}
