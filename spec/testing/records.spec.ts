import { lastValueFrom, of } from 'rxjs';
import { describe, expect, it } from 'vitest';
import type { Catalog } from '../../lib/stream/catalog.js';
import { decodeRows } from '../../lib/stream/decode-rows.js';
import { tableRows } from '../../lib/stream/table.js';
import { deleteRow, putRow, recordBatch, recordBuilder, updateRow } from '../../lib/testing/index.js';
import type { ChangeRecord } from '../../lib/wire/types.js';

const catalog: Catalog = { columns: { id: { type: 'long' }, name: { type: 'string' }, price: { type: 'double' }, paid: { type: 'boolean' }, blob: { type: 'binary' } } };

/** The rows decodeRows makes of the records, with EMR's record columns. */
async function decode(records: readonly ChangeRecord[]) {
  const batch = await lastValueFrom(of(recordBatch(0, records)).pipe(decodeRows({ catalog, missingColumns: 'null', recordColumns: true })));
  return tableRows(batch.rows);
}

describe('change-record builders', () => {
  it('putRow, updateRow and deleteRow make the records the tunnel delivers', () => {
    expect(putRow({ id: 1, part: 'a' }, { price: 2.5, n: 3n })).toEqual({
      action: 'PUT_ROW',
      primaryKey: [{ name: 'id', value: 1n }, { name: 'part', value: 'a' }],
      cells: [{ op: 'put', name: 'price', value: 2.5 }, { op: 'put', name: 'n', value: 3n }],
    });
    expect(updateRow({ id: 2n }, { price: 4, name: null }, { commitTime: 1500, rowIndex: 2 })).toEqual({
      action: 'UPDATE_ROW',
      primaryKey: [{ name: 'id', value: 2n }],
      cells: [{ op: 'put', name: 'price', value: 4 }, { op: 'deleteAllVersions', name: 'name' }],
      sequence: { epoch: 0, timestamp: 1_500_000n, rowIndex: 2 },
    });
    expect(deleteRow({ id: 'x' })).toEqual({ action: 'DELETE_ROW', primaryKey: [{ name: 'id', value: 'x' }], cells: [] });
    expect(() => putRow({ id: 1.5 }, {})).toThrow(/'id'.*not an integer/);
    expect(() => deleteRow({})).toThrow(/primary key/);
  });

  it('decodeRows reads them as rows of the catalog, record type and commit time included', async () => {
    const bytes = new Uint8Array([1, 2]);
    const rows = await decode([
      putRow({ id: 1 }, { name: 'n1', price: 2.5, paid: true, blob: bytes }, { commitTime: 1000 }),
      updateRow({ id: 1 }, { price: 3, name: null }, { commitTime: 2000 }),
      deleteRow({ id: 1 }),
    ]);
    expect(rows.map((row) => [row['id'], row['name'], row['price'], row['paid'], row['blob'], row['__ots_record_type__'], row['__ots_record_timestamp__']])).toEqual([
      [1, 'n1', 2.5, true, bytes, 'PUT', 1_000_000],
      [1, null, 3, null, null, 'UPDATE', 2_000_000],
      [1, null, null, null, null, 'DELETE', 0],
    ]);
  });

  it("recordBuilder splits rows at the primary key and converts to the catalog's wire types", async () => {
    const table = recordBuilder(catalog, ['id']);
    const put = table.put({ id: 7, name: 'x', price: 5n, paid: false, blob: undefined });
    expect(put).toEqual(putRow({ id: 7n }, { name: 'x', price: 5, paid: false }));
    expect(table.update({ id: 7, price: 1.5, name: null })).toEqual(updateRow({ id: 7n }, { price: 1.5, name: null }));
    expect(table.delete({ id: 7, name: 'ignored' }, { commitTime: 3 })).toEqual(deleteRow({ id: 7n }, { commitTime: 3 }));
    expect((await decode([put]))[0]).toMatchObject({ id: 7, name: 'x', price: 5, paid: false, blob: null });
  });

  it('recordBuilder refuses values the catalog cannot hold, naming the column', () => {
    const table = recordBuilder(catalog, ['id']);
    expect(() => table.put({ id: 1.5 })).toThrow(/column 'id' is a long, and 1.5/);
    expect(() => table.put({ id: 1, price: 'cheap' })).toThrow(/column 'price' is a double, got string/);
    expect(() => table.put({ id: 1, name: 3 })).toThrow(/column 'name' is a string/);
    expect(() => table.put({ id: 1, blob: 'text' })).toThrow(/column 'blob' is binary/);
    expect(() => table.put({ name: 'no key' })).toThrow(/primary key column 'id' is missing/);
    expect(() => recordBuilder(catalog, [])).toThrow(/primary key/);
  });
});
