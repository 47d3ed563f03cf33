import * as E from 'fp-ts/lib/Either.js';
import { describe, expect, it } from 'vitest';
import { parseCatalog } from '../../lib/stream/catalog.js';

describe('catalog', () => {
  it('reads EMR catalog JSON in column order, ignoring keys EMR ignores', () => {
    const catalog = parseCatalog('{"columns": {"UserId": {"type": "string", "col": "UserId"}, "OrderId": {"type": "string"},"price": {"type": "double"}, "timestamp": {"type": "LONG"}}}');
    expect(catalog).toEqual(E.right({ columns: { UserId: { type: 'string', col: 'UserId' }, OrderId: { type: 'string' }, price: { type: 'double' }, timestamp: { type: 'long' } } }));
    expect(E.isRight(catalog) && Object.keys(catalog.right.columns)).toEqual(['UserId', 'OrderId', 'price', 'timestamp']);
  });

  it('collects every problem with its path', () => {
    expect(parseCatalog('{"columns": {"a": {"type": "float"}, "b": {}}}')).toEqual(
      E.left(['columns.a.type: unsupported column type "float" (expected one of string, long, double, boolean, binary)', 'columns.b.type: unsupported column type undefined (expected one of string, long, double, boolean, binary)']),
    );
    expect(parseCatalog('{"columns": {}}')).toEqual(E.left(['columns: a catalog needs at least one column']));
    expect(parseCatalog('{"columns": ')).toEqual(E.left([expect.stringMatching(/^catalog: not JSON/)]));
  });
});
