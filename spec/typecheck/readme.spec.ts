/**
 * The README's ```ts blocks compile against the public entries (`otsflow`, `otsflow/testing`)
 * and import nothing a user could not; the check itself finds a wrong block.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { codeBlocks, privateImports, REPO, typeErrors } from './markdown-blocks.js';

const README = readFileSync(join(REPO, 'README.md'), 'utf8');

describe('README code blocks', () => {
  it('every ```ts block type-checks as a module of a user of the package', () => {
    const blocks = codeBlocks(README);
    expect(blocks.length).toBeGreaterThanOrEqual(2);
    expect(typeErrors(README, 'README.md')).toEqual([]);
  });

  it('they import only public entries', () => {
    expect(privateImports(README)).toEqual([]);
    expect(README).toMatch(/from 'otsflow\/testing'/);
  });

  it('the check reports a wrong type, an unknown name and a private import, at their README lines', () => {
    const bad = [
      '# x',
      '```ts',
      "import { testScheduler } from 'otsflow/testing';",
      'const n: number = testScheduler;',
      '```',
      '```sh',
      'not checked',
      '```',
      '```ts',
      "import { emit } from '../lib/stream/emit.js';",
      'noSuchName(emit);',
      '```',
    ].join('\n');
    expect(codeBlocks(bad).map((block) => block.line)).toEqual([3, 10]);
    const errors = typeErrors(bad, 'bad.md');
    expect(errors).toHaveLength(3);
    expect(errors[0]).toMatch(/^bad\.md:4:7 Type .* is not assignable to type 'number'/);
    expect(errors[1]).toMatch(/^bad\.md:10:22 Cannot find module '\.\.\/lib\/stream\/emit\.js'/);
    expect(errors[2]).toMatch(/^bad\.md:11:1 Cannot find name 'noSuchName'/);
    expect(privateImports(bad)).toEqual(['../lib/stream/emit.js']);
  });
});
