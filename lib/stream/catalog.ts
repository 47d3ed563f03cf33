/**
 * EMR's catalog JSON: `{"columns": {"<name>": {"type": "<type>"}}}`. Other keys (older samples
 * write "col"/"cols") are ignored, as EMR does; column order is the JSON order.
 */
import * as E from 'fp-ts/lib/Either.js';
import * as t from 'io-ts';

export const catalogTypes = ['string', 'long', 'double', 'boolean', 'binary'] as const;
export type CatalogType = (typeof catalogTypes)[number];

export interface CatalogColumn {
  readonly type: CatalogType;
}

export interface Catalog {
  readonly columns: Readonly<Record<string, CatalogColumn>>;
}

const catalogTypeCodec = new t.Type<CatalogType, string, unknown>(
  'CatalogType',
  (u): u is CatalogType => typeof u === 'string' && (catalogTypes as readonly string[]).includes(u),
  (u, c) =>
    typeof u === 'string' && (catalogTypes as readonly string[]).includes(u.toLowerCase())
      ? t.success(u.toLowerCase() as CatalogType)
      : t.failure(u, c, `unsupported column type ${JSON.stringify(u)} (expected one of ${catalogTypes.join(', ')})`),
  (type) => type,
);

export const catalogCodec: t.Type<Catalog, Catalog, unknown> = t.type({
  columns: t.record(t.string, t.type({ type: catalogTypeCodec })),
}) as unknown as t.Type<Catalog, Catalog, unknown>;

/** Every problem of a catalog, each with its path: `columns.price.type: unsupported column type "float"`. */
export function decodeCatalog(input: unknown): E.Either<readonly string[], Catalog> {
  const result = catalogCodec.decode(input);
  if (E.isRight(result)) {
    if (Object.keys(result.right.columns).length === 0) return E.left(['columns: a catalog needs at least one column']);
    return result;
  }
  return E.left(
    result.left.map((error) => {
      const path = error.context
        .map((entry) => entry.key)
        .filter((key) => key !== '')
        .join('.');
      const message = error.message ?? `expected ${error.context[error.context.length - 1]?.type.name ?? 'a value'}, got ${JSON.stringify(error.value)}`;
      return `${path === '' ? 'catalog' : path}: ${message}`;
    }),
  );
}

/** Parses catalog JSON text (the `catalog` table option). */
export function parseCatalog(json: string): E.Either<readonly string[], Catalog> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch (error) {
    return E.left([`catalog: not JSON (${(error as Error).message})`]);
  }
  return decodeCatalog(parsed);
}
