/**
 * OPTIONS(…) lists decoded into typed settings with io-ts, and the `catalog` JSON.
 *
 * Keys are matched case-insensitively, as Spark's CaseInsensitiveStringMap (and EMR, which
 * lower-cases streaming option keys) treats them: `maxOffsetsPerChannel` and
 * `maxoffsetsperchannel` are the same option. A key given twice is an error rather than
 * Spark's silent last-one-wins. Unknown keys are errors with a did-you-mean suggestion.
 * Every error carries the line:col of the offending value (inside the catalog JSON: of the
 * offending JSON token) and never the value of a credential.
 */
import * as E from 'fp-ts/lib/Either.js';
import { sequenceS } from 'fp-ts/lib/Apply.js';
import * as RA from 'fp-ts/lib/ReadonlyArray.js';
import * as t from 'io-ts';
import {
  Redacted,
  type CreateScanStatement,
  type OptionEntry,
  type OptionList,
  type OptionValue,
  type SourceLocation,
  type Statement,
} from './ast.js';
import { closestMatch, compareByPosition, sqlError, type SqlError } from './errors.js';
import { decodeStringLiteral, locationInside, parseDuration } from './lexer.js';
import { catalogTypes, type CatalogColumn, type CatalogType } from '../stream/catalog.js';
import type { OutputMode } from '../stream/emit.js';

type Validation<A> = E.Either<readonly SqlError[], A>;
const validation = E.getApplicativeValidation(RA.getSemigroup<SqlError>());
const collect = sequenceS(validation);

// ---------------------------------------------------------------- decoded shapes

export type Endpoint = { readonly kind: 'embedded' } | { readonly kind: 'remote'; readonly url: string };

/** A column of a table's `catalog` option, with its name. */
export interface TableColumn extends CatalogColumn {
  readonly name: string;
}

/**
 * The `catalog` option as decoded: the columns in the order the JSON lists them (that order is the
 * row schema; a JS object would put integer-like names first). `streamCatalog` (plan.ts) turns it
 * into the one `Catalog` the operators and sinks take.
 */
export interface TableColumns {
  readonly columns: readonly TableColumn[];
}

export interface TableOptions {
  /** absent or `embedded`: the embedded emulator serves the table */
  readonly endpoint: Endpoint;
  readonly instanceName: string | null;
  readonly accessKeyId: string | null;
  readonly accessKeySecret: Redacted | null;
  readonly tableName: string;
  readonly catalog: TableColumns;
  /** `put` replaces the whole row (EMR default), `update` writes only the listed columns */
  readonly rowChangeType: 'put' | 'update';
  /**
   * `catalog.type.mismatch`: what reading does with an attribute whose type does not fit the
   * catalog — `null` (EMR's rule, the default: the value becomes null and is counted) or `fail`
   * (the row is a bad row and the job stops). A primary-key mismatch always fails, as in EMR.
   */
  readonly typeMismatch: 'null' | 'fail';
}

export type TunnelRef = { readonly by: 'id'; readonly id: string } | { readonly by: 'name'; readonly name: string };

export type ScanOptions =
  | { readonly mode: 'STREAM'; readonly tunnel: TunnelRef; readonly maxOffsetsPerChannel: number }
  | { readonly mode: 'BATCH' };

export type { OutputMode } from '../stream/emit.js';
export type TriggerType = 'ProcessingTime' | 'OneTime';

export interface WatermarkOption {
  /** the event-time column the delay applies to; null: the window's time expression */
  readonly column: string | null;
  readonly delayMs: number;
}

export interface StreamOptions {
  /** null: state and offsets are kept in memory only */
  readonly checkpointLocation: string | null;
  /**
   * `checkpoint.table`: a Tablestore table (on the source's endpoint) holding the job state, so
   * the job may run as many workers; null: the state lives under checkpointLocation
   */
  readonly checkpointTable: string | null;
  readonly outputMode: OutputMode;
  readonly triggerType: TriggerType;
  readonly triggerIntervalMs: number;
  readonly watermark: WatermarkOption | null;
}

export const DEFAULT_MAX_OFFSETS_PER_CHANNEL = 10_000;

/** Canonical spellings, as the messages show them. */
export const TABLE_OPTION_KEYS = [
  'endpoint',
  'access.key.id',
  'access.key.secret',
  'instance.name',
  'table.name',
  'catalog',
  'catalog.type.mismatch',
  'writer.row.change.type',
] as const;
export const STREAM_SCAN_OPTION_KEYS = ['tunnel.id', 'tunnel.name', 'maxoffsetsperchannel'] as const;
export const STREAM_OPTION_KEYS = [
  'checkpointLocation',
  'checkpoint.table',
  'outputMode',
  'triggerType',
  'triggerIntervalMs',
  'watermark.column',
  'watermark.delay',
] as const;

const OWNER_OF_KEY: ReadonlyArray<readonly [readonly string[], string]> = [
  [TABLE_OPTION_KEYS, 'CREATE TABLE … USING tablestore OPTIONS'],
  [STREAM_SCAN_OPTION_KEYS, 'CREATE SCAN … USING STREAM OPTIONS'],
  [STREAM_OPTION_KEYS, 'CREATE STREAM … OPTIONS'],
];

// ---------------------------------------------------------------- JSON with positions

/** A problem at `offset` into the decoded option text (a syntax error, a repeated member). */
class JsonProblem {
  constructor(
    readonly offset: number,
    readonly message: string,
  ) {}
}

interface JsonDocument {
  readonly value: unknown;
  /** offset of the value at each path (keys joined by NUL) */
  readonly positions: ReadonlyMap<string, number>;
  /** member names of each object, in source order (plain objects reorder integer-like keys) */
  readonly memberOrder: ReadonlyMap<string, readonly string[]>;
  readonly duplicates: ReadonlyArray<{ readonly path: readonly string[]; readonly offset: number }>;
}

const pathKey = (path: readonly string[]): string => path.join('\u0000');

/** Catalogs are three levels deep; anything past this is not a catalog. */
const MAX_JSON_DEPTH = 64;
/** sticky: matches at `lastIndex` without copying the rest of the text */
const JSON_LITERAL = /(?:true|false|null|-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?)/y;

function parseJsonDocument(text: string): E.Either<JsonProblem, JsonDocument> {
  const positions = new Map<string, number>();
  const memberOrder = new Map<string, string[]>();
  const duplicates: Array<{ path: readonly string[]; offset: number }> = [];
  let i = 0;

  const fail = (message: string): never => {
    throw new JsonProblem(i, message);
  };
  const found = (): string => (i >= text.length ? 'end of text' : `'${text[i]}'`);
  const skipSpace = (): void => {
    while (i < text.length && ' \t\n\r'.includes(text[i] ?? '')) i++;
  };
  const expect = (char: string, context: string): void => {
    skipSpace();
    if (text[i] !== char) fail(`expected '${char}' ${context} but found ${found()}`);
    i++;
  };

  const parseString = (): string => {
    i++; // opening quote
    let value = '';
    for (;;) {
      const char = text[i];
      if (char === undefined) return fail('unterminated JSON string');
      if (char === '"') {
        i++;
        return value;
      }
      if (char === '\\') {
        const escape = text[i + 1];
        const simple: Record<string, string> = { '"': '"', '\\': '\\', '/': '/', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t' };
        if (escape !== undefined && Object.hasOwn(simple, escape)) {
          value += simple[escape];
          i += 2;
        } else if (escape === 'u' && /^[0-9a-fA-F]{4}$/.test(text.slice(i + 2, i + 6))) {
          value += String.fromCharCode(Number.parseInt(text.slice(i + 2, i + 6), 16));
          i += 6;
        } else {
          i++;
          fail('invalid escape in JSON string');
        }
      } else if (char < ' ') {
        fail('control character in JSON string');
      } else {
        value += char;
        i++;
      }
    }
  };

  const parseValue = (path: readonly string[]): unknown => {
    skipSpace();
    positions.set(pathKey(path), i);
    const char = text[i];
    // recursion per level: a hostile document must not overflow the stack
    if ((char === '{' || char === '[') && path.length >= MAX_JSON_DEPTH) fail(`JSON nested more than ${MAX_JSON_DEPTH} levels deep`);
    if (char === '{') {
      i++;
      const object: Record<string, unknown> = {};
      const members: string[] = [];
      memberOrder.set(pathKey(path), members);
      skipSpace();
      if (text[i] === '}') {
        i++;
        return object;
      }
      for (;;) {
        skipSpace();
        if (text[i] !== '"') fail(`expected a quoted property name but found ${found()}`);
        const keyOffset = i;
        const key = parseString();
        if (members.includes(key)) duplicates.push({ path: [...path, key], offset: keyOffset });
        expect(':', `after property name "${key}"`);
        const member = parseValue([...path, key]);
        if (!members.includes(key)) members.push(key);
        // defineProperty: a member named "__proto__" stays data, not a prototype change
        Object.defineProperty(object, key, { value: member, enumerable: true, writable: true, configurable: true });
        skipSpace();
        if (text[i] === ',') {
          i++;
          continue;
        }
        if (text[i] === '}') {
          i++;
          return object;
        }
        fail(`expected ',' or '}' after object member but found ${found()}`);
      }
    }
    if (char === '[') {
      i++;
      const array: unknown[] = [];
      skipSpace();
      if (text[i] === ']') {
        i++;
        return array;
      }
      for (;;) {
        array.push(parseValue([...path, String(array.length)]));
        skipSpace();
        if (text[i] === ',') {
          i++;
          continue;
        }
        if (text[i] === ']') {
          i++;
          return array;
        }
        fail(`expected ',' or ']' after array element but found ${found()}`);
      }
    }
    if (char === '"') return parseString();
    JSON_LITERAL.lastIndex = i;
    const literal = JSON_LITERAL.exec(text);
    if (literal !== null) {
      i += literal[0].length;
      return literal[0] === 'true' ? true : literal[0] === 'false' ? false : literal[0] === 'null' ? null : Number(literal[0]);
    }
    return fail(`expected a JSON value but found ${found()}`);
  };

  try {
    const value = parseValue([]);
    skipSpace();
    if (i < text.length) fail(`unexpected ${found()} after the JSON value`);
    return E.right({ value, positions, memberOrder, duplicates });
  } catch (problem) {
    if (problem instanceof JsonProblem) return E.left(problem);
    throw problem;
  }
}

// ---------------------------------------------------------------- codecs

/** Messages carry an optional hint after this separator until they become SqlErrors. */
const HINT = '\u0000';

const isObject = (u: unknown): u is Record<string, unknown> => typeof u === 'object' && u !== null && !Array.isArray(u);

function textCodec<A>(name: string, decode: (text: string) => E.Either<string, A>, is: (u: unknown) => u is A): t.Type<A, unknown> {
  return new t.Type<A, unknown>(
    name,
    is,
    (u, c) => {
      if (typeof u !== 'string') return t.failure(u, c, `expected text, not ${u instanceof Redacted ? 'a credential' : typeof u}`);
      const decoded = decode(u);
      return E.isRight(decoded) ? t.success(decoded.right) : t.failure(u, c, decoded.left);
    },
    (a) => a,
  );
}

const isString = (u: unknown): u is string => typeof u === 'string';
const isNumber = (u: unknown): u is number => typeof u === 'number';

const NonEmptyText = textCodec('NonEmptyText', (s) => (s.trim() === '' ? E.left('must not be empty') : E.right(s)), isString);

const AnyText = textCodec('Text', (s) => E.right(s), isString);

const Secret = new t.Type<Redacted, unknown>(
  'Secret',
  (u): u is Redacted => u instanceof Redacted,
  (u, c) => (u instanceof Redacted ? t.success(u) : t.failure(u, c, 'expected a credential')),
  (a) => a,
);

function wholeNumber(min: number, what: string) {
  return textCodec(
    what,
    (s) => {
      const value = Number(s);
      return /^\d+$/.test(s.trim()) && Number.isSafeInteger(value) && value >= min
        ? E.right(value)
        : E.left(`must be ${what}, not '${s}'`);
    },
    isNumber,
  );
}
const PositiveInteger = wholeNumber(1, 'a positive whole number');
const NonNegativeInteger = wholeNumber(0, 'a whole number ≥ 0');

function oneOf<A extends string>(canonical: readonly A[]) {
  const list = canonical.join(', ');
  return textCodec(
    `oneOf(${list})`,
    (s): E.Either<string, A> => {
      const match = canonical.find((value) => value.toLowerCase() === s.trim().toLowerCase());
      if (match !== undefined) return E.right(match);
      const suggestion = closestMatch(s, canonical);
      return E.left(`must be one of ${list}, not '${s}'${suggestion === undefined ? '' : `${HINT}did you mean '${suggestion}'?`}`);
    },
    (u): u is A => typeof u === 'string' && (canonical as readonly string[]).includes(u),
  );
}

const EndpointCodec = textCodec(
  'Endpoint',
  (s): E.Either<string, Endpoint> => {
    const trimmed = s.trim();
    if (trimmed === '' || trimmed.toLowerCase() === 'embedded') return E.right({ kind: 'embedded' });
    let url: URL;
    try {
      url = new URL(trimmed);
    } catch {
      return E.left(`must be 'embedded' or an http(s):// URL, not '${s}'`);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      return E.left(`must be an http:// or https:// URL, not '${s}'`);
    }
    return E.right({ kind: 'remote', url: trimmed });
  },
  (u): u is Endpoint => isObject(u) && (u['kind'] === 'embedded' || u['kind'] === 'remote'),
);

const Duration = textCodec(
  'Duration',
  (s) => {
    const parsed = parseDuration(s);
    if (E.isLeft(parsed)) return parsed;
    return parsed.right > 0 ? parsed : E.left(`must be longer than 0, not '${s}'`);
  },
  isNumber,
);

const ColumnName = textCodec(
  'ColumnName',
  (s) =>
    /^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$/.test(s.trim())
      ? E.right(s.trim())
      : E.left(`must name a column (letters, digits, '_'; optionally 'table.column'), not '${s}'`),
  isString,
);

const TYPE_ALIASES: Readonly<Record<string, CatalogType>> = {
  string: 'string',
  long: 'long',
  bigint: 'long',
  int: 'long',
  integer: 'long',
  short: 'long',
  byte: 'long',
  double: 'double',
  float: 'double',
  boolean: 'boolean',
  binary: 'binary',
};

const CatalogTypeCodec = new t.Type<CatalogType, unknown>(
  'CatalogType',
  (u): u is CatalogType => typeof u === 'string' && (catalogTypes as readonly string[]).includes(u),
  (u, c) => {
    const column = c.at(-2)?.key ?? '?';
    if (typeof u !== 'string') return t.failure(u, c, `column '${column}' needs "type" as a string`);
    // own members only: 'constructor' or '__proto__' are not types
    const key = u.toLowerCase();
    if (Object.hasOwn(TYPE_ALIASES, key)) return t.success(TYPE_ALIASES[key] as CatalogType);
    const suggestion = closestMatch(u, Object.keys(TYPE_ALIASES));
    return t.failure(
      u,
      c,
      `column '${column}' has unknown type '${u}'; expected ${catalogTypes.join(', ')}` +
        (suggestion === undefined ? '' : `${HINT}did you mean '${suggestion}'?`),
    );
  },
  (a) => a,
);

const COLUMNS_SHAPE = '{"columns": {"<name>": {"type": "string"}, …}}';

/**
 * `{"columns": {"<name>": {"type": "<type>"}, …}}`; other members (`col`, `cols` in old EMR
 * samples) are ignored as EMR ignores them. Validates the parsed JSON value; the order of the
 * columns is restored from the document afterwards.
 */
const CatalogShape = new t.Type<ReadonlyArray<readonly [string, CatalogType]>, unknown>(
  'Catalog',
  (u): u is ReadonlyArray<readonly [string, CatalogType]> => Array.isArray(u),
  (u, c) => {
    if (!isObject(u)) return t.failure(u, c, `must be a JSON object like ${COLUMNS_SHAPE}`);
    const columnsContext = t.appendContext(c, 'columns', t.unknown, u['columns']);
    const columns = u['columns'];
    if (columns === undefined) {
      const suggestion = closestMatch('columns', Object.keys(u));
      return t.failure(
        u,
        c,
        `has no "columns" member; expected ${COLUMNS_SHAPE}` +
          (suggestion === undefined ? '' : `${HINT}found "${suggestion}" — write "columns"`),
      );
    }
    if (!isObject(columns)) return t.failure(columns, columnsContext, `"columns" must be an object of column name → {"type": …}`);
    const names = Object.keys(columns);
    if (names.length === 0) return t.failure(columns, columnsContext, 'defines no columns');
    const errors: t.ValidationError[] = [];
    const result: Array<readonly [string, CatalogType]> = [];
    for (const name of names) {
      const spec = columns[name];
      const specContext = t.appendContext(columnsContext, name, t.unknown, spec);
      if (!isObject(spec)) {
        errors.push({ value: spec, context: specContext, message: `column '${name}' must be an object like {"type": "string"}` });
        continue;
      }
      const typeValue = spec['type'];
      if (typeValue === undefined) {
        errors.push({ value: spec, context: specContext, message: `column '${name}' has no "type"` });
        continue;
      }
      const decoded = CatalogTypeCodec.validate(typeValue, t.appendContext(specContext, 'type', CatalogTypeCodec, typeValue));
      if (E.isLeft(decoded)) errors.push(...decoded.left);
      else result.push([name, decoded.right]);
    }
    return errors.length > 0 ? t.failures(errors) : t.success(result);
  },
  (a) => a,
);

const CatalogCodec = new t.Type<TableColumns, unknown>(
  'CatalogJson',
  (u): u is TableColumns => isObject(u) && Array.isArray(u['columns']),
  (u, c) => {
    if (typeof u !== 'string') return t.failure(u, c, 'expected JSON text');
    const document = parseJsonDocument(u);
    if (E.isLeft(document)) return t.failure(document.left, c, `invalid JSON: ${document.left.message}`);
    const { value, memberOrder, duplicates } = document.right;
    const duplicateErrors = duplicates.map(({ path, offset }) => ({
      value: new JsonProblem(offset, 'repeated member'),
      context: path.reduce((context, key) => t.appendContext(context, key, t.unknown), c),
      message: `"${path.at(-1)}" appears twice`,
    }));
    const shape = CatalogShape.validate(value, c);
    if (E.isLeft(shape) || duplicateErrors.length > 0) {
      return t.failures([...duplicateErrors, ...(E.isLeft(shape) ? shape.left : [])]);
    }
    const types = new Map(shape.right);
    const order = memberOrder.get(pathKey(['columns'])) ?? [...types.keys()];
    return t.success({
      columns: order.flatMap((name) => {
        const type = types.get(name);
        return type === undefined ? [] : [{ name, type }];
      }),
    });
  },
  (a) => a,
);

/** A codec that lets an absent option through as `fallback`. */
function withDefault<A, B>(codec: t.Type<A, unknown>, fallback: B): t.Type<A | B, unknown> {
  return new t.Type<A | B, unknown>(
    `${codec.name} = ${String(fallback)}`,
    (u): u is A | B => u === fallback || codec.is(u),
    (u, c) => (u === undefined ? t.success(fallback) : codec.validate(u, c)),
    (a) => a,
  );
}

const TableOptionsCodec = t.type({
  endpoint: withDefault(EndpointCodec, { kind: 'embedded' } as Endpoint),
  'access.key.id': withDefault(AnyText, null),
  'access.key.secret': withDefault(Secret, null),
  'instance.name': withDefault(NonEmptyText, null),
  'table.name': NonEmptyText,
  catalog: CatalogCodec,
  'catalog.type.mismatch': withDefault(oneOf(['null', 'fail'] as const), 'null' as const),
  'writer.row.change.type': withDefault(oneOf(['put', 'update'] as const), 'put' as const),
});

const StreamScanOptionsCodec = t.type({
  'tunnel.id': withDefault(NonEmptyText, null),
  'tunnel.name': withDefault(NonEmptyText, null),
  maxoffsetsperchannel: withDefault(PositiveInteger, DEFAULT_MAX_OFFSETS_PER_CHANNEL),
});

const StreamOptionsCodec = t.type({
  checkpointLocation: withDefault(NonEmptyText, null),
  'checkpoint.table': withDefault(NonEmptyText, null),
  outputMode: withDefault(oneOf(['append', 'update', 'complete'] as const), 'append' as const),
  triggerType: withDefault(oneOf(['ProcessingTime', 'OneTime'] as const), 'ProcessingTime' as const),
  triggerIntervalMs: withDefault(NonNegativeInteger, 0),
  'watermark.column': withDefault(ColumnName, null),
  'watermark.delay': withDefault(Duration, null),
});

// ---------------------------------------------------------------- OPTIONS list → record → codec

interface NormalisedOptions {
  readonly record: Readonly<Record<string, string | Redacted>>;
  readonly entries: ReadonlyMap<string, OptionEntry>;
}

/** Unknown and repeated keys are reported; the remaining options are still decoded. */
function normalise(
  list: OptionList | null,
  keys: readonly string[],
  statementLabel: string,
): NormalisedOptions & { readonly errors: readonly SqlError[] } {
  const record: Record<string, string | Redacted> = {};
  const entries = new Map<string, OptionEntry>();
  const errors: SqlError[] = [];
  for (const entry of list?.entries ?? []) {
    const canonical = keys.find((key) => key.toLowerCase() === entry.key.toLowerCase());
    if (canonical === undefined) {
      errors.push(unknownOption(entry, keys, statementLabel));
      continue;
    }
    const first = entries.get(canonical);
    if (first !== undefined) {
      errors.push(
        sqlError(entry.loc, `option '${canonical}' is given twice`, `first given at line ${first.loc.line}, col ${first.loc.column}`),
      );
      continue;
    }
    entries.set(canonical, entry);
    record[canonical] = entry.value.kind === 'SecretOptionValue' ? entry.value.secret : entry.value.text;
  }
  return { record, entries, errors };
}

/** EMR connector options otsflow does not take, with what to do instead (porting scripts). */
const EMR_ONLY_OPTIONS: Readonly<Record<string, string>> = {
  'ots.client': 'otsflow connects to the tunnel with its own client id',
  maxoffsetspertrigger: "EMR never read it; use 'maxoffsetsperchannel'",
  version: 'the sink always batches BatchWriteRow requests (≤ 200 rows, ≤ 4 MiB)',
  'batch.update.size': 'the sink always batches BatchWriteRow requests (≤ 200 rows, ≤ 4 MiB)',
  'writer.batch.request.type': 'the sink writes with BatchWriteRow',
  'search.index.name': 'batch scans read the table by primary key',
  'compute.mode': 'batch scans read the table by primary key',
};

function unknownOption(entry: OptionEntry, keys: readonly string[], statementLabel: string): SqlError {
  const lower = entry.key.toLowerCase();
  const emrOnly = Object.hasOwn(EMR_ONLY_OPTIONS, lower) ? EMR_ONLY_OPTIONS[lower] : undefined;
  if (emrOnly !== undefined) return sqlError(entry.loc, `EMR option '${entry.key}' is not supported by otsflow`, emrOnly);
  const own = closestMatch(entry.key, keys);
  if (own !== undefined) return sqlError(entry.loc, `unknown option '${entry.key}' — did you mean '${own}'?`);
  // a key (or a near miss of one) of another statement kind
  for (const [ownerKeys, owner] of OWNER_OF_KEY) {
    const exact = ownerKeys.find((key) => key.toLowerCase() === entry.key.toLowerCase());
    const near = exact ?? closestMatch(entry.key, ownerKeys);
    if (near !== undefined) {
      const where = `'${near}' belongs in ${owner}, not in ${statementLabel}`;
      return exact === undefined
        ? sqlError(entry.loc, `unknown option '${entry.key}' — did you mean '${near}'?`, where)
        : sqlError(entry.loc, `unknown option '${entry.key}'`, where);
    }
  }
  return sqlError(entry.loc, `unknown option '${entry.key}'`, `${statementLabel} accepts ${keys.length > 0 ? keys.join(', ') : 'no options'}`);
}

/** Where an io-ts error points: the option's value, or the JSON token inside it. */
function locate(error: t.ValidationError, options: NormalisedOptions, fallback: SourceLocation): SourceLocation {
  const [key, ...inner] = error.context.map((entry) => entry.key).filter((entry) => entry !== '');
  const entry = key === undefined ? undefined : options.entries.get(key);
  if (entry === undefined) return fallback;
  const value = entry.value;
  if (value.kind !== 'OptionValue' || value.token !== 'string') return value.loc;
  let offset: number | undefined;
  if (error.value instanceof JsonProblem) {
    offset = error.value.offset;
  } else if (key === 'catalog') {
    const document = parseJsonDocument(value.text);
    if (E.isRight(document)) {
      for (let depth = inner.length; depth >= 0 && offset === undefined; depth--) {
        offset = document.right.positions.get(pathKey(inner.slice(0, depth)));
      }
    }
  }
  return offset === undefined ? value.loc : locationInValue(value, offset);
}

function locationInValue(value: OptionValue, offset: number): SourceLocation {
  const { sourceIndex } = decodeStringLiteral(value.raw);
  const index = sourceIndex[Math.min(offset, sourceIndex.length - 1)] ?? 0;
  return locationInside(value.loc, value.raw, index);
}

/**
 * Value problems in source order, then missing required options: a missing option is often the
 * consequence of a misspelt key or a bad value reported before it.
 */
function decodeWith<A>(
  codec: t.Type<A, unknown>,
  options: NormalisedOptions,
  missingAt: SourceLocation,
): Validation<A> {
  return E.mapLeft((errors: t.Errors) => {
    const invalid: SqlError[] = [];
    const missing: SqlError[] = [];
    for (const error of errors) {
      const key = error.context.map((entry) => entry.key).find((entry) => entry !== '') ?? '?';
      if (error.value === undefined && error.context.length <= 2) {
        missing.push(sqlError(missingAt, `missing required option '${key}'`));
        continue;
      }
      const [message = 'invalid value', hint] = (error.message ?? 'invalid value').split(HINT);
      invalid.push(sqlError(locate(error, options, missingAt), `option '${key}': ${message}`, hint));
    }
    return [...invalid.sort(compareByPosition), ...missing];
  })(codec.decode(options.record));
}

// ---------------------------------------------------------------- per statement

/**
 * Key problems, value problems and cross-option checks of one list, all collected: the
 * cross-option `finish` runs once the values decoded. Key problems (an unknown or repeated key)
 * lead: `tabel.name` is reported before the `missing required option 'table.name'` it causes.
 */
function decodeOptions<R, A>(
  list: OptionList | null,
  keys: readonly string[],
  statementLabel: string,
  codec: t.Type<R, unknown>,
  missingAt: SourceLocation,
  finish: (raw: R, options: NormalisedOptions) => Validation<A>,
): Validation<A> {
  const options = normalise(list, keys, statementLabel);
  const keyProblems: Validation<undefined> = options.errors.length > 0 ? E.left(options.errors) : E.right(undefined);
  const values = E.chain((raw: R) => finish(raw, options))(decodeWith(codec, options, missingAt));
  return E.map(({ values: decoded }: { values: A }) => decoded)(collect({ keyProblems, values }));
}

/** `CREATE TABLE … USING tablestore OPTIONS(…)` */
export function decodeTableOptions(list: OptionList): Validation<TableOptions> {
  return decodeOptions(list, TABLE_OPTION_KEYS, 'CREATE TABLE', TableOptionsCodec, list.loc, (raw, options) => {
    const decoded: TableOptions = {
      endpoint: raw.endpoint,
      instanceName: raw['instance.name'],
      accessKeyId: raw['access.key.id'],
      accessKeySecret: raw['access.key.secret'],
      tableName: raw['table.name'],
      catalog: raw.catalog,
      rowChangeType: raw['writer.row.change.type'],
      typeMismatch: raw['catalog.type.mismatch'],
    };
    if (decoded.endpoint.kind === 'embedded') return E.right(decoded);
    // EMR requires these for a real instance; empty credentials are allowed (the seed has them).
    const missing = (['instance.name', 'access.key.id', 'access.key.secret'] as const).filter((key) => raw[key] === null);
    const endpointLoc = options.entries.get('endpoint')?.value.loc ?? list.loc;
    return missing.length === 0
      ? E.right(decoded)
      : E.left(
          missing.map((key) =>
            sqlError(
              list.loc,
              `missing required option '${key}'`,
              `the remote endpoint at line ${endpointLoc.line} needs instance.name, access.key.id and access.key.secret`,
            ),
          ),
        );
  });
}

/** `CREATE SCAN … USING STREAM|BATCH [OPTIONS(…)]` */
export function decodeScanOptions(scan: CreateScanStatement): Validation<ScanOptions> {
  const list = scan.options;
  const at = list?.loc ?? scan.loc;
  if (scan.mode === 'BATCH') {
    // tunnel options on a batch scan are a mistake worth reporting (EMR issue #442 is the reverse)
    return decodeOptions(list, [], 'CREATE SCAN … USING BATCH', t.unknown, at, () => E.right({ mode: 'BATCH' as const }));
  }
  return decodeOptions(list, STREAM_SCAN_OPTION_KEYS, 'CREATE SCAN … USING STREAM', StreamScanOptionsCodec, at, (raw, options) => {
    const id = raw['tunnel.id'];
    const name = raw['tunnel.name'];
    if (id !== null && name !== null) {
      const second = options.entries.get('tunnel.name')?.loc ?? at;
      return E.left([sqlError(second, "give either 'tunnel.id' or 'tunnel.name', not both")]);
    }
    const tunnel: TunnelRef | null = id !== null ? { by: 'id', id } : name !== null ? { by: 'name', name } : null;
    if (tunnel === null) {
      return E.left([
        sqlError(at, "missing required option 'tunnel.id'", "a STREAM scan reads a tunnel: give 'tunnel.id' (or 'tunnel.name')"),
      ]);
    }
    return E.right({ mode: 'STREAM' as const, tunnel, maxOffsetsPerChannel: raw.maxoffsetsperchannel });
  });
}

/** `CREATE STREAM job [OPTIONS(…)] INSERT INTO …` */
export function decodeStreamOptions(list: OptionList | null, statementLoc: SourceLocation): Validation<StreamOptions> {
  const at = list?.loc ?? statementLoc;
  return decodeOptions(list, STREAM_OPTION_KEYS, 'CREATE STREAM', StreamOptionsCodec, at, (raw, options) => {
    const column = raw['watermark.column'];
    const delay = raw['watermark.delay'];
    if (column !== null && delay === null) {
      const columnLoc = options.entries.get('watermark.column')?.loc ?? at;
      return E.left([
        sqlError(columnLoc, "option 'watermark.column' needs 'watermark.delay'", "e.g. watermark.delay='10 seconds'"),
      ]);
    }
    return E.right({
      checkpointLocation: raw.checkpointLocation,
      checkpointTable: raw['checkpoint.table'],
      outputMode: raw.outputMode,
      triggerType: raw.triggerType,
      triggerIntervalMs: raw.triggerIntervalMs,
      watermark: delay === null ? null : { column, delayMs: delay },
    });
  });
}

export type StatementOptions =
  | { readonly kind: 'table'; readonly options: TableOptions }
  | { readonly kind: 'scan'; readonly options: ScanOptions }
  | { readonly kind: 'stream'; readonly options: StreamOptions }
  | { readonly kind: 'none' };

/** The decoded OPTIONS of a statement (of the explained one for EXPLAIN). */
export function decodeStatementOptions(statement: Statement): Validation<StatementOptions> {
  switch (statement.kind) {
    case 'CreateTable': {
      const provider = statement.provider.name.toLowerCase() === 'tablestore'
        ? E.right(undefined)
        : E.left([
            sqlError(statement.provider.loc, `unsupported data source '${statement.provider.name}'`, 'otsflow reads and writes Tablestore: USING tablestore'),
          ]);
      return E.map(({ options }: { options: TableOptions }): StatementOptions => ({ kind: 'table', options }))(
        collect({ provider, options: decodeTableOptions(statement.options) }),
      );
    }
    case 'CreateScan':
      return E.map((options: ScanOptions): StatementOptions => ({ kind: 'scan', options }))(decodeScanOptions(statement));
    case 'CreateStream':
      return E.map((options: StreamOptions): StatementOptions => ({ kind: 'stream', options }))(
        decodeStreamOptions(statement.options, statement.loc),
      );
    case 'Explain':
      return decodeStatementOptions(statement.statement);
    default:
      return E.right({ kind: 'none' });
  }
}

export interface DecodedStatement {
  readonly statement: Statement;
  readonly options: StatementOptions;
}

/**
 * Decodes the OPTIONS of every statement; errors of all statements are collected, statement by
 * statement in script order, each statement's in the order `decodeOptions` gives (key problems
 * first, then values, then missing options) — not re-sorted by position.
 */
export function decodeScript(statements: readonly Statement[]): Validation<readonly DecodedStatement[]> {
  const decoded = statements.map((statement) =>
    E.map((options: StatementOptions): DecodedStatement => ({ statement, options }))(decodeStatementOptions(statement)),
  );
  const errors = decoded.flatMap((result) => (E.isLeft(result) ? result.left : []));
  if (errors.length > 0) return E.left(errors);
  return E.right(decoded.flatMap((result) => (E.isRight(result) ? [result.right] : [])));
}
