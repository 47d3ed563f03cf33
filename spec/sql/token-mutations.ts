/**
 * Token-level edits of a valid SQL script, for the fuzz specs (spec/sql/fuzz.spec.ts for the
 * parser, spec/reliability/fuzz-sql.spec.ts for every stage): the tokens keep their text and are
 * joined by single spaces, so the edits, not the layout, decide what breaks.
 */
import fc from 'fast-check';
import { tokenize } from '../../lib/sql/lexer.js';

export type TokenMutation =
  | { readonly kind: 'delete'; readonly at: number }
  | { readonly kind: 'duplicate'; readonly at: number }
  | { readonly kind: 'swap'; readonly at: number; readonly with: number }
  | { readonly kind: 'replace'; readonly at: number; readonly text: string }
  | { readonly kind: 'insert'; readonly at: number; readonly text: string }
  /** a token of a kind in `similar` replaced by another of its kind: the syntax holds, the meaning changes */
  | { readonly kind: 'similar'; readonly at: number; readonly pick: number };

export interface TokenMutationOptions {
  /** texts that replace or are inserted */
  readonly texts: readonly string[];
  /** also insert tokens (these texts, or short random strings) */
  readonly insert?: boolean;
  /** token type name → texts of that kind; enables 'similar' edits */
  readonly similar?: Readonly<Record<string, readonly string[]>>;
}

export function tokenMutation(options: TokenMutationOptions): fc.Arbitrary<TokenMutation> {
  const texts = fc.constantFrom(...options.texts);
  const kinds: fc.WeightedArbitrary<TokenMutation>[] = [
    { arbitrary: fc.record({ kind: fc.constant('delete' as const), at: fc.nat() }), weight: 1 },
    { arbitrary: fc.record({ kind: fc.constant('duplicate' as const), at: fc.nat() }), weight: 1 },
    { arbitrary: fc.record({ kind: fc.constant('swap' as const), at: fc.nat(), with: fc.nat() }), weight: 1 },
    { arbitrary: fc.record({ kind: fc.constant('replace' as const), at: fc.nat(), text: texts }), weight: 1 },
  ];
  if (options.insert === true) {
    kinds.push({ arbitrary: fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), text: fc.oneof(texts, fc.string({ maxLength: 6 })) }), weight: 1 });
  }
  if (options.similar !== undefined) {
    kinds.push({ arbitrary: fc.record({ kind: fc.constant('similar' as const), at: fc.nat(), pick: fc.nat() }), weight: 4 });
  }
  return fc.oneof(...kinds);
}

export function mutateTokens(source: string, mutations: readonly TokenMutation[], similar: Readonly<Record<string, readonly string[]>> = {}): string {
  const lexed = tokenize(source).tokens;
  const tokens = lexed.map((token) => token.image);
  const kinds = lexed.map((token) => String(token.tokenType.name));
  for (const change of mutations) {
    if (tokens.length === 0) break;
    const at = change.at % tokens.length;
    switch (change.kind) {
      case 'delete':
        tokens.splice(at, 1);
        break;
      case 'duplicate':
        tokens.splice(at, 0, tokens[at] ?? '');
        break;
      case 'swap': {
        const other = change.with % tokens.length;
        [tokens[at], tokens[other]] = [tokens[other] ?? '', tokens[at] ?? ''];
        break;
      }
      case 'replace':
        tokens[at] = change.text;
        break;
      case 'insert':
        tokens.splice(at, 0, change.text);
        break;
      case 'similar': {
        // the next token from `at` on that has a kind in `similar` (kinds line up only until a
        // delete, duplicate or insert moved the tokens)
        for (let k = 0; k < tokens.length; k++) {
          const index = (at + k) % tokens.length;
          const pool = similar[kinds[index] ?? ''];
          if (pool !== undefined && kinds.length === tokens.length) {
            tokens[index] = pool[change.pick % pool.length] as string;
            break;
          }
        }
        break;
      }
    }
  }
  return tokens.join(' ');
}
