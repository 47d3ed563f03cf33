/**
 * Type-checks the ```ts blocks of a Markdown file as a user's modules would be: each block is one
 * module beside the repository's files, compiled with tsconfig.json (so `otsflow` and
 * `otsflow/testing` resolve as they do for a user), and only the blocks' own diagnostics are
 * computed — the library itself is checked by `tsc -p tsconfig.json`, so this stays fast.
 */
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

export const REPO = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

export interface CodeBlock {
  /** 1-based line of the block's first code line in the Markdown */
  readonly line: number;
  readonly code: string;
}

/** The fenced blocks whose info string is `ts` (or `typescript`). */
export function codeBlocks(markdown: string): CodeBlock[] {
  const blocks: CodeBlock[] = [];
  const lines = markdown.split('\n');
  for (let i = 0; i < lines.length; i++) {
    if (!/^```(ts|typescript)\s*$/.test(lines[i] ?? '')) continue;
    const start = i + 1;
    let end = start;
    while (end < lines.length && !/^```\s*$/.test(lines[end] ?? '')) end++;
    blocks.push({ line: start + 1, code: lines.slice(start, end).join('\n') });
    i = end;
  }
  return blocks;
}

let options: ts.CompilerOptions | undefined;
function compilerOptions(): ts.CompilerOptions {
  if (options !== undefined) return options;
  const parsed = ts.getParsedCommandLineOfConfigFile(join(REPO, 'tsconfig.json'), {}, { ...ts.sys, onUnRecoverableConfigFileDiagnostic: (d) => { throw new Error(ts.flattenDiagnosticMessageText(d.messageText, '\n')); } });
  if (parsed === undefined) throw new Error('cannot read tsconfig.json');
  options = { ...parsed.options, noEmit: true };
  return options;
}

/** `file:line:column message` for every type error of the blocks, with lines of the Markdown. */
export function typeErrors(markdown: string, markdownName: string): string[] {
  const blocks = codeBlocks(markdown);
  const files = new Map(blocks.map((block, k) => [join(REPO, `__markdown_block_${k}.ts`), block] as const));
  const opts = compilerOptions();
  const host = ts.createCompilerHost(opts, true);
  const { fileExists, readFile, getSourceFile } = host;
  host.fileExists = (name) => files.has(name) || fileExists.call(host, name);
  host.readFile = (name) => files.get(name)?.code ?? readFile.call(host, name);
  host.getSourceFile = (name, version, onError, shouldCreate) => {
    const block = files.get(name);
    return block === undefined ? getSourceFile.call(host, name, version, onError, shouldCreate) : ts.createSourceFile(name, block.code, version, true, ts.ScriptKind.TS);
  };
  const program = ts.createProgram([...files.keys()], opts, host);
  const errors: string[] = [];
  for (const [name, block] of files) {
    const source = program.getSourceFile(name);
    if (source === undefined) throw new Error(`the block at ${markdownName}:${block.line} was not compiled`);
    for (const diagnostic of [...program.getSyntacticDiagnostics(source), ...program.getSemanticDiagnostics(source)]) {
      const at = diagnostic.start === undefined ? { line: 0, character: 0 } : source.getLineAndCharacterOfPosition(diagnostic.start);
      errors.push(`${markdownName}:${block.line + at.line}:${at.character + 1} ${ts.flattenDiagnosticMessageText(diagnostic.messageText, ' ')}`);
    }
  }
  return errors;
}

/** Module specifiers the blocks import that a user of the package could not: relative paths into the repository. */
export function privateImports(markdown: string): string[] {
  const found: string[] = [];
  for (const block of codeBlocks(markdown)) {
    for (const match of block.code.matchAll(/\bfrom\s+['"]([^'"]+)['"]/g)) {
      const specifier = match[1] as string;
      if (specifier.startsWith('.') || specifier.startsWith('/') || specifier.startsWith('otsflow/') && specifier !== 'otsflow/testing') found.push(specifier);
    }
  }
  return found;
}
