/**
 * Random sequences of PutRow / UpdateRow / DeleteRow on a few rows, checked after every step
 * against a small independent model of the service's cell semantics (versions keyed by
 * timestamp, newest max_versions kept, PK-only rows, delete-only updates creating nothing).
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TableEngine } from '../../lib/emulator/engine.js';
import type { Cell, ColumnValue, PrimaryKeyCell } from '../../lib/wire/types.js';
import { definition, pkColumn, put, remove, rightOf, tempDir, update } from './helpers.js';

const MAX_VERSIONS = 2;
const KEYS = ['a', 'b'];
const COLUMNS = ['x', 'y', 'z'];

type ModelRow = { columns: Map<string, Map<number, ColumnValue>>; pkOnly: boolean };

const trim = (row: ModelRow) => {
  for (const [name, versions] of row.columns) {
    const kept = [...versions.keys()].sort((p, q) => q - p).slice(0, MAX_VERSIONS);
    for (const ts of versions.keys()) if (!kept.includes(ts)) versions.delete(ts);
    if (versions.size === 0) row.columns.delete(name);
  }
};

type Op =
  | { kind: 'put'; key: string; cells: { name: string; value: bigint; ts?: number }[] }
  | { kind: 'update'; key: string; cells: Cell[] }
  | { kind: 'delete'; key: string };

const valueArb = fc.bigInt({ min: -5n, max: 5n });
const tsArb = fc.option(fc.integer({ min: 1, max: 6 }), { nil: undefined });
const nameArb = fc.constantFrom(...COLUMNS);
const putCells = fc.uniqueArray(fc.record({ name: nameArb, value: valueArb, ts: tsArb }), { selector: (c) => `${c.name}@${c.ts ?? 'now'}`, maxLength: 3 });
const updateCell: fc.Arbitrary<Cell> = fc.oneof(
  fc.record({ op: fc.constant('put' as const), name: nameArb, value: valueArb, timestamp: fc.integer({ min: 1, max: 6 }) }),
  fc.record({ op: fc.constant('deleteOneVersion' as const), name: nameArb, timestamp: fc.integer({ min: 1, max: 6 }) }),
  fc.record({ op: fc.constant('deleteAllVersions' as const), name: nameArb }),
  fc.record({ op: fc.constant('increment' as const), name: nameArb, value: valueArb }),
);
// refused as a whole (tested elsewhere): an increment combined with any other operation on its
// column, and two puts of the same version
const updateCells = fc
  .array(updateCell, { minLength: 1, maxLength: 3 })
  .filter(
    (cells) =>
      cells.every((c) => c.op !== 'increment' || cells.filter((o) => o.name === c.name).length === 1) &&
      cells.every((c, i) => c.op !== 'put' || !cells.some((o, j) => j !== i && o.op === 'put' && o.name === c.name && o.timestamp === c.timestamp)),
  );
const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ kind: fc.constant('put' as const), key: fc.constantFrom(...KEYS), cells: putCells }),
  fc.record({ kind: fc.constant('update' as const), key: fc.constantFrom(...KEYS), cells: updateCells }),
  fc.record({ kind: fc.constant('delete' as const), key: fc.constantFrom(...KEYS) }),
);

let dir: ReturnType<typeof tempDir>;
let engine: TableEngine;
let clock = 100;
let tableCount = 0;

beforeAll(() => {
  dir = tempDir('model');
  engine = TableEngine.open({ dataDir: dir.path, now: () => clock, enforceTimestampWindow: false });
});

afterAll(async () => {
  await engine.close();
  dir.remove();
});

const pk = (key: string): PrimaryKeyCell[] => [{ name: 'id', value: key }];

describe('write semantics against a model', () => {
  it('agree after every operation', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(opArb, { minLength: 1, maxLength: 12 }), async (ops) => {
        const table = `m${tableCount++}`;
        // a fresh table per run (a failed run leaves one behind, the quota is 64)
        for (const name of engine.listTables()) rightOf(await engine.deleteTable(name));
        rightOf(await engine.createTable(definition(table, [pkColumn('id', 'STRING')], { maxVersions: MAX_VERSIONS })));
        const model = new Map<string, ModelRow>();
        for (const op of ops) {
          clock += 1;
          const now = clock;
          if (op.kind === 'delete') {
            rightOf(await engine.write(remove(table, pk(op.key))));
            model.delete(op.key);
          } else if (op.kind === 'put') {
            const cells: Cell[] = op.cells.map((c) => ({ op: 'put', name: c.name, value: c.value, ...(c.ts === undefined ? {} : { timestamp: c.ts }) }));
            rightOf(await engine.write(put(table, pk(op.key), cells)));
            const row: ModelRow = { columns: new Map(), pkOnly: op.cells.length === 0 };
            for (const c of op.cells) {
              if (!row.columns.has(c.name)) row.columns.set(c.name, new Map());
              row.columns.get(c.name)!.set(c.ts ?? now, c.value);
            }
            trim(row);
            model.set(op.key, row);
          } else {
            const result = await engine.write(update(table, pk(op.key), op.cells));
            const before = model.get(op.key);
            const row: ModelRow = { columns: new Map([...(before?.columns ?? [])].map(([n, v]) => [n, new Map(v)])), pkOnly: before?.pkOnly ?? false };
            let wrote = false;
            for (const c of op.cells) {
              const versions = row.columns.get(c.name) ?? new Map<number, ColumnValue>();
              if (c.op === 'put') {
                versions.set(c.timestamp!, c.value);
                wrote = true;
              } else if (c.op === 'deleteOneVersion') versions.delete(c.timestamp);
              else if (c.op === 'deleteAllVersions') versions.clear();
              else {
                const latest = before?.columns.get(c.name);
                const current = latest === undefined ? 0n : (latest.get(Math.max(...latest.keys())) as bigint);
                versions.set(now, current + c.value);
                wrote = true;
              }
              row.columns.set(c.name, versions);
            }
            trim(row);
            expect(result._tag).toBe('Right');
            if (row.columns.size > 0) model.set(op.key, { columns: row.columns, pkOnly: false });
            else if (before !== undefined && before.pkOnly && before.columns.size === 0 && !wrote) model.set(op.key, before);
            else model.delete(op.key);
          }
          for (const key of KEYS) {
            const got = rightOf(engine.getRow(table, pk(key), { columnsToGet: [], maxVersions: 10 })).row;
            const expected = model.get(key);
            if (expected === undefined) {
              expect(got).toBeUndefined();
              continue;
            }
            const cells = [...expected.columns]
              .sort(([p], [q]) => (p < q ? -1 : 1))
              .flatMap(([name, versions]) => [...versions].sort(([p], [q]) => q - p).map(([timestamp, value]) => ({ op: 'put', name, value, timestamp })));
            expect(got).toEqual({ primaryKey: pk(key), cells, deleteMarker: false });
          }
        }
      }),
      { numRuns: 60 },
    );
  });
});
