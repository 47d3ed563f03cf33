import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as E from 'fp-ts/lib/Either.js';
import type { ReadQuery, ReturnContent, WriteCondition } from '../../lib/emulator/row-model.js';
import type { RowWrite } from '../../lib/emulator/engine.js';
import type { TableDefinition, PrimaryKeyColumnSchema } from '../../lib/emulator/table-meta.js';
import type { Cell, PrimaryKeyCell } from '../../lib/wire/types.js';

export const tempDir = (label: string): { path: string; remove: () => void } => {
  const path = mkdtempSync(join(tmpdir(), `otsflow-${label}-`));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
};

export const definition = (
  name: string,
  primaryKey: readonly PrimaryKeyColumnSchema[],
  options: TableDefinition['options'] = {},
): TableDefinition => ({ name, primaryKey, definedColumns: [], options, reservedThroughput: { read: 0, write: 0 } });

export const pkColumn = (name: string, type: PrimaryKeyColumnSchema['type'], autoIncrement = false): PrimaryKeyColumnSchema => ({
  name,
  type,
  autoIncrement,
});

export const IGNORE: WriteCondition = { rowExistence: 'IGNORE' };
export const NO_RETURN: ReturnContent = { type: 'NONE', columnNames: [] };
export const LATEST: ReadQuery = { columnsToGet: [], maxVersions: 1 };

export const put = (table: string, primaryKey: PrimaryKeyCell[], cells: Cell[], condition: WriteCondition = IGNORE, returnContent = NO_RETURN): RowWrite => ({
  kind: 'put',
  table,
  primaryKey,
  cells,
  condition,
  returnContent,
});

export const update = (table: string, primaryKey: PrimaryKeyCell[], cells: Cell[], condition: WriteCondition = IGNORE, returnContent = NO_RETURN): RowWrite => ({
  kind: 'update',
  table,
  primaryKey,
  cells,
  condition,
  returnContent,
});

export const remove = (table: string, primaryKey: PrimaryKeyCell[], condition: WriteCondition = IGNORE): RowWrite => ({
  kind: 'delete',
  table,
  primaryKey,
  cells: [],
  condition,
  returnContent: NO_RETURN,
});

export const rightOf = <A>(either: E.Either<unknown, A>): A => {
  if (E.isLeft(either)) throw new Error(`expected Right, got Left ${JSON.stringify(either.left)}`);
  return either.right;
};

export const leftOf = <L>(either: E.Either<L, unknown>): L => {
  if (E.isRight(either)) throw new Error('expected Left, got Right');
  return either.left;
};
