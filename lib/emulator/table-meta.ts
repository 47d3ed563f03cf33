/**
 * Table metadata: what CreateTable declares, what DescribeTable echoes, and the checks the
 * service applies to it (names, key schema, options), collected rather than first-fail.
 */
import * as E from 'fp-ts/lib/Either.js';
import { type OtsError, parameterInvalid } from './errors.js';

export type PrimaryKeyType = 'INTEGER' | 'STRING' | 'BINARY';
export type DefinedColumnType = 'INTEGER' | 'DOUBLE' | 'BOOLEAN' | 'STRING' | 'BINARY';

export interface PrimaryKeyColumnSchema {
  readonly name: string;
  readonly type: PrimaryKeyType;
  readonly autoIncrement: boolean;
}

export interface DefinedColumnSchema {
  readonly name: string;
  readonly type: DefinedColumnType;
}

export interface TableOptions {
  /** seconds; -1 = never expire */
  readonly timeToLive: number;
  readonly maxVersions: number;
  /** max distance (s) between a custom cell timestamp and the server clock */
  readonly deviationCellVersionInSec: number;
  readonly allowUpdate: boolean;
}

export interface StreamSettings {
  readonly enabled: boolean;
  readonly expirationTimeHours: number;
  readonly streamId: string;
  /** ms since epoch of the last time the stream was switched on */
  readonly lastEnableTime: number;
}

export interface ReservedThroughput {
  readonly read: number;
  readonly write: number;
}

export interface TableMeta {
  /** storage prefix; never reused, so rows of a dropped table can never resurface */
  readonly id: number;
  readonly name: string;
  readonly primaryKey: readonly PrimaryKeyColumnSchema[];
  readonly definedColumns: readonly DefinedColumnSchema[];
  readonly options: TableOptions;
  readonly reservedThroughput: ReservedThroughput;
  /** seconds since epoch */
  readonly createdAt: number;
  readonly lastIncreaseTime: number;
  readonly lastDecreaseTime?: number;
  readonly stream?: StreamSettings;
}

/** What a CreateTable request asks for, before the engine assigns an id and times. */
export interface TableDefinition {
  readonly name: string;
  readonly primaryKey: readonly PrimaryKeyColumnSchema[];
  readonly definedColumns: readonly DefinedColumnSchema[];
  readonly options: Partial<TableOptions>;
  readonly reservedThroughput: ReservedThroughput;
  readonly stream?: { readonly enabled: boolean; readonly expirationTimeHours?: number };
}

export const DEFAULT_TABLE_OPTIONS: TableOptions = {
  timeToLive: -1,
  maxVersions: 1,
  deviationCellVersionInSec: 86_400,
  allowUpdate: true,
};

export const LIMITS = {
  maxPrimaryKeyColumns: 4,
  maxDefinedColumns: 32,
  maxNameBytes: 255,
  maxPrimaryKeyStringBytes: 1024,
  maxCellValueBytes: 2 * 1024 * 1024,
  maxRowBytes: 4 * 1024 * 1024,
  maxBatchWriteRows: 200,
  maxBatchGetRows: 100,
  maxRangeRows: 5000,
  maxRangeBytes: 4 * 1024 * 1024,
  maxColumnsToGet: 128,
  /** attribute columns one PutRow/UpdateRow (or one BatchWriteRow row) may carry */
  maxColumnsPerWrite: 1024,
  maxFilterConditions: 32,
  maxTables: 64,
  maxCapacityUnit: 100_000,
  defaultStreamExpirationHours: 168,
} as const;

const NAME_PATTERN = /^[A-Za-z_][A-Za-z0-9_]*$/;

export const isValidName = (name: string): boolean =>
  NAME_PATTERN.test(name) && Buffer.byteLength(name) <= LIMITS.maxNameBytes;

/** Checks a definition the way the service does; every problem is reported, in declaration order. */
export const validateTableDefinition = (def: TableDefinition): E.Either<readonly OtsError[], TableDefinition> => {
  const errors: OtsError[] = [];
  if (!isValidName(def.name)) errors.push(parameterInvalid(`Invalid table name: '${def.name}'.`));
  const pk = def.primaryKey;
  if (pk.length === 0) errors.push(parameterInvalid('The number of primary key columns must be in range: [1, 4].'));
  if (pk.length > LIMITS.maxPrimaryKeyColumns) {
    errors.push(parameterInvalid(`The number of primary key columns must be in range: [1, 4]. Current: ${pk.length}.`));
  }
  const seen = new Set<string>();
  pk.forEach((column, index) => {
    if (!isValidName(column.name)) errors.push(parameterInvalid(`Invalid column name: '${column.name}'.`));
    if (seen.has(column.name)) errors.push(parameterInvalid(`Duplicated primary key name: '${column.name}'.`));
    seen.add(column.name);
    if (column.autoIncrement) {
      if (column.type !== 'INTEGER') {
        errors.push(parameterInvalid(`Auto-increment primary key '${column.name}' must be of type INTEGER.`));
      }
      if (index === 0) errors.push(parameterInvalid('The partition key can not be an auto-increment column.'));
    }
  });
  if (pk.filter((c) => c.autoIncrement).length > 1) {
    errors.push(parameterInvalid('At most one primary key column can be auto-increment.'));
  }
  if (def.definedColumns.length > LIMITS.maxDefinedColumns) {
    errors.push(parameterInvalid(`The number of defined columns must be in range: [0, ${LIMITS.maxDefinedColumns}].`));
  }
  for (const column of def.definedColumns) {
    if (!isValidName(column.name)) errors.push(parameterInvalid(`Invalid column name: '${column.name}'.`));
    if (seen.has(column.name)) errors.push(parameterInvalid(`Duplicated column name: '${column.name}'.`));
    seen.add(column.name);
  }
  errors.push(...validateOptions(def.options));
  errors.push(...validateThroughput(def.reservedThroughput));
  return errors.length > 0 ? E.left(errors) : E.right(def);
};

export const validateOptions = (options: Partial<TableOptions>): OtsError[] => {
  const errors: OtsError[] = [];
  const ttl = options.timeToLive;
  if (ttl !== undefined && (ttl === 0 || ttl < -1 || !Number.isInteger(ttl))) {
    errors.push(parameterInvalid('TimeToLive cannot be 0 or less than -1.'));
  }
  if (options.maxVersions !== undefined && (options.maxVersions <= 0 || !Number.isInteger(options.maxVersions))) {
    errors.push(parameterInvalid('MaxVersions must be greater than 0.'));
  }
  const deviation = options.deviationCellVersionInSec;
  if (deviation !== undefined && (deviation <= 0 || !Number.isFinite(deviation))) {
    errors.push(parameterInvalid('DeviationCellVersionInSec must be greater than 0.'));
  }
  return errors;
};

export const validateThroughput = (throughput: ReservedThroughput): OtsError[] =>
  [throughput.read, throughput.write].some((cu) => cu < 0 || cu > LIMITS.maxCapacityUnit || !Number.isInteger(cu))
    ? [parameterInvalid(`Reserved capacity unit must be in range: [0, ${LIMITS.maxCapacityUnit}].`)]
    : [];

export const withDefaultOptions = (options: Partial<TableOptions>, base: TableOptions = DEFAULT_TABLE_OPTIONS): TableOptions => ({
  timeToLive: options.timeToLive ?? base.timeToLive,
  maxVersions: options.maxVersions ?? base.maxVersions,
  deviationCellVersionInSec: options.deviationCellVersionInSec ?? base.deviationCellVersionInSec,
  allowUpdate: options.allowUpdate ?? base.allowUpdate,
});
