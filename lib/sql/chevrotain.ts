/**
 * chevrotain, loaded from its single-file bundle: the package's module tree (lodash-es and ~200
 * files) takes ~650 ms to load, the bundle of the same version ~25 ms — most of a CLI start. The
 * package exports only its entry point, so the bundle is found next to it.
 */
import type * as Chevrotain from 'chevrotain';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';

const entry = createRequire(import.meta.url).resolve('chevrotain');
const chevrotain = (await import(pathToFileURL(join(dirname(entry), '..', 'chevrotain.min.mjs')).href)) as typeof Chevrotain;

export const { createToken, Lexer, EmbeddedActionsParser, EOF, tokenMatcher } = chevrotain;
export type { IToken, TokenType } from 'chevrotain';
