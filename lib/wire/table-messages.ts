/**
 * Table API messages (tablestore-wire.md §1.4) with the official SDK's own schema, loaded at run
 * time from the installed `tablestore` package (`lib/protocol/tablestore.proto`, package
 * `main.proto`, and `tablestore_filter.proto`, package `filter.proto`), so field numbers can never
 * drift from what the SDK sends.
 *
 * Same conventions as the tunnel codecs (proto-codec.ts): camelCase fields (the SDK's compiled
 * code uses the same names), int64 as bigint, enums as names ('EXPECT_NOT_EXIST', 'FORWARD'),
 * bytes as Uint8Array, absent optional fields absent — apply proto defaults yourself
 * (e.g. `cacheBlocks` defaults to true). Rows and keys inside are PlainBuffer bytes; filters are
 * the bytes of an encoded `Filter` (decode them with `filterMessages`).
 *
 * Interfaces cover the messages the emulator serves; other messages of the schema are reachable
 * loosely typed through `tableCodec(name)`.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { ProtoSchema } from './proto-codec.js';
import type { MessageCodec } from './proto-codec.js';

export const TABLE_PROTO_PACKAGE = 'main.proto';
export const FILTER_PROTO_PACKAGE = 'filter.proto';

function loadSdkSchema(): ProtoSchema {
  const sdkRoot = dirname(createRequire(import.meta.url).resolve('tablestore/package.json'));
  const protocolDir = join(sdkRoot, 'lib', 'protocol');
  return ProtoSchema.fromTexts(['tablestore.proto', 'tablestore_filter.proto'].map((file) => readFileSync(join(protocolDir, file), 'utf8')));
}

let loaded: ProtoSchema | undefined;
/** The SDK's table + filter schema, parsed on first use. */
export function tableSchema(): ProtoSchema {
  loaded ??= loadSdkSchema();
  return loaded;
}

// ---- enums ----------------------------------------------------------------------------------

export type PrimaryKeyType = 'INTEGER' | 'STRING' | 'BINARY';
export type PrimaryKeyOption = 'AUTO_INCREMENT';
export type DefinedColumnType = 'DCT_INTEGER' | 'DCT_DOUBLE' | 'DCT_BOOLEAN' | 'DCT_STRING' | 'DCT_BLOB';
export type BloomFilterType = 'NONE' | 'CELL' | 'ROW';
export type TableStatus = 'ACTIVE' | 'INACTIVE' | 'LOADING' | 'UNLOADING' | 'UPDATING';
export type RowExistenceExpectation = 'IGNORE' | 'EXPECT_EXIST' | 'EXPECT_NOT_EXIST';
export type ReturnType = 'RT_NONE' | 'RT_PK' | 'RT_AFTER_MODIFY';
export type OperationType = 'PUT' | 'UPDATE' | 'DELETE';
export type Direction = 'FORWARD' | 'BACKWARD';
export type DataBlockType = 'DBT_PLAIN_BUFFER' | 'DBT_SIMPLE_ROW_MATRIX';
export type CompressType = 'CPT_NONE';
export type IndexUpdateMode = 'IUM_ASYNC_INDEX' | 'IUM_SYNC_INDEX';
export type IndexType = 'IT_GLOBAL_INDEX' | 'IT_LOCAL_INDEX';
export type IndexSyncPhase = 'ISP_INVALID' | 'ISP_FULL' | 'ISP_INCR';
export type FilterType = 'FT_SINGLE_COLUMN_VALUE' | 'FT_COMPOSITE_COLUMN_VALUE' | 'FT_COLUMN_PAGINATION';
export type ComparatorType = 'CT_EQUAL' | 'CT_NOT_EQUAL' | 'CT_GREATER_THAN' | 'CT_GREATER_EQUAL' | 'CT_LESS_THAN' | 'CT_LESS_EQUAL';
export type LogicalOperator = 'LO_NOT' | 'LO_AND' | 'LO_OR';

// ---- shared pieces --------------------------------------------------------------------------

export interface TableErrorBody {
  readonly code: string;
  readonly message?: string;
}
export interface PrimaryKeySchema {
  readonly name: string;
  readonly type: PrimaryKeyType;
  readonly option?: PrimaryKeyOption;
}
export interface DefinedColumnSchema {
  readonly name: string;
  readonly type: DefinedColumnType;
}
export interface IndexMeta {
  readonly name: string;
  readonly primaryKey: readonly string[];
  readonly definedColumn: readonly string[];
  readonly indexUpdateMode: IndexUpdateMode;
  readonly indexType: IndexType;
  readonly indexSyncPhase?: IndexSyncPhase;
}
export interface TableMeta {
  readonly tableName: string;
  readonly primaryKey: readonly PrimaryKeySchema[];
  readonly definedColumn: readonly DefinedColumnSchema[];
  readonly indexMeta: readonly IndexMeta[];
}
export interface TableOptions {
  readonly timeToLive?: number;
  readonly maxVersions?: number;
  readonly bloomFilterType?: BloomFilterType;
  readonly blockSize?: number;
  readonly deviationCellVersionInSec?: bigint;
  readonly allowUpdate?: boolean;
}
export interface CapacityUnit {
  readonly read?: number;
  readonly write?: number;
}
export interface ReservedThroughput {
  readonly capacityUnit: CapacityUnit;
}
export interface ReservedThroughputDetails {
  readonly capacityUnit: CapacityUnit;
  readonly lastIncreaseTime: bigint;
  readonly lastDecreaseTime?: bigint;
}
export interface ConsumedCapacity {
  readonly capacityUnit: CapacityUnit;
}
export interface StreamSpecification {
  readonly enableStream: boolean;
  /** hours */
  readonly expirationTime?: number;
}
export interface StreamDetails {
  readonly enableStream: boolean;
  readonly streamId?: string;
  readonly expirationTime?: number;
  readonly lastEnableTime?: bigint;
}
export interface PartitionRange {
  readonly begin: Uint8Array;
  readonly end: Uint8Array;
}
export interface Condition {
  readonly rowExistence: RowExistenceExpectation;
  /** an encoded `Filter` */
  readonly columnCondition?: Uint8Array;
}
export interface ReturnContent {
  readonly returnType?: ReturnType;
  readonly returnColumnNames: readonly string[];
}
export interface TimeRange {
  readonly startTime?: bigint;
  readonly endTime?: bigint;
  readonly specificTime?: bigint;
}

// ---- table operations -----------------------------------------------------------------------

export interface CreateTableRequest {
  readonly tableMeta: TableMeta;
  readonly reservedThroughput: ReservedThroughput;
  readonly tableOptions?: TableOptions;
  readonly partitions: readonly PartitionRange[];
  readonly streamSpec?: StreamSpecification;
  readonly indexMetas: readonly IndexMeta[];
}
export type EmptyMessage = Readonly<Record<string, never>>;
export interface ListTableResponse {
  readonly tableNames: readonly string[];
}
export interface DescribeTableRequest {
  readonly tableName: string;
}
export interface DescribeTableResponse {
  readonly tableMeta: TableMeta;
  readonly reservedThroughputDetails: ReservedThroughputDetails;
  readonly tableOptions: TableOptions;
  readonly tableStatus: TableStatus;
  readonly streamDetails?: StreamDetails;
  readonly shardSplits: readonly Uint8Array[];
  readonly indexMetas: readonly IndexMeta[];
}
export interface UpdateTableRequest {
  readonly tableName: string;
  readonly reservedThroughput?: ReservedThroughput;
  readonly tableOptions?: TableOptions;
  readonly streamSpec?: StreamSpecification;
}
export interface UpdateTableResponse {
  readonly reservedThroughputDetails: ReservedThroughputDetails;
  readonly tableOptions: TableOptions;
  readonly streamDetails?: StreamDetails;
}
export interface DeleteTableRequest {
  readonly tableName: string;
}

// ---- row operations -------------------------------------------------------------------------

export interface GetRowRequest {
  readonly tableName: string;
  /** PlainBuffer primary key */
  readonly primaryKey: Uint8Array;
  readonly columnsToGet: readonly string[];
  readonly timeRange?: TimeRange;
  readonly maxVersions?: number;
  readonly cacheBlocks?: boolean;
  readonly filter?: Uint8Array;
  readonly startColumn?: string;
  readonly endColumn?: string;
  readonly token?: Uint8Array;
  readonly transactionId?: string;
}
export interface GetRowResponse {
  readonly consumed: ConsumedCapacity;
  /** PlainBuffer row; zero-length = not found */
  readonly row: Uint8Array;
  readonly nextToken?: Uint8Array;
}
export interface PutRowRequest {
  readonly tableName: string;
  readonly row: Uint8Array;
  readonly condition: Condition;
  readonly returnContent?: ReturnContent;
  readonly transactionId?: string;
}
export interface UpdateRowRequest {
  readonly tableName: string;
  readonly rowChange: Uint8Array;
  readonly condition: Condition;
  readonly returnContent?: ReturnContent;
  readonly transactionId?: string;
}
export interface DeleteRowRequest {
  readonly tableName: string;
  readonly primaryKey: Uint8Array;
  readonly condition: Condition;
  readonly returnContent?: ReturnContent;
  readonly transactionId?: string;
}
/** PutRow / UpdateRow / DeleteRow responses */
export interface WriteRowResponse {
  readonly consumed: ConsumedCapacity;
  readonly row?: Uint8Array;
}
export interface GetRangeRequest {
  readonly tableName: string;
  readonly direction: Direction;
  readonly columnsToGet: readonly string[];
  readonly timeRange?: TimeRange;
  readonly maxVersions?: number;
  readonly limit?: number;
  readonly inclusiveStartPrimaryKey: Uint8Array;
  readonly exclusiveEndPrimaryKey: Uint8Array;
  readonly cacheBlocks?: boolean;
  readonly filter?: Uint8Array;
  readonly startColumn?: string;
  readonly endColumn?: string;
  readonly token?: Uint8Array;
  readonly transactionId?: string;
  readonly dataBlockTypeHint?: DataBlockType;
  readonly returnEntirePrimaryKeys?: boolean;
  readonly compressTypeHint?: CompressType;
}
export interface GetRangeResponse {
  readonly consumed: ConsumedCapacity;
  /** header + rows; zero-length = none */
  readonly rows: Uint8Array;
  readonly nextStartPrimaryKey?: Uint8Array;
  readonly nextToken?: Uint8Array;
  readonly dataBlockType?: DataBlockType;
  readonly compressType?: CompressType;
}
export interface TableInBatchGetRowRequest {
  readonly tableName: string;
  readonly primaryKey: readonly Uint8Array[];
  readonly token: readonly Uint8Array[];
  readonly columnsToGet: readonly string[];
  readonly timeRange?: TimeRange;
  readonly maxVersions?: number;
  readonly cacheBlocks?: boolean;
  readonly filter?: Uint8Array;
  readonly startColumn?: string;
  readonly endColumn?: string;
}
export interface BatchGetRowRequest {
  readonly tables: readonly TableInBatchGetRowRequest[];
}
export interface RowInBatchGetRowResponse {
  readonly isOk: boolean;
  readonly error?: TableErrorBody;
  readonly consumed?: ConsumedCapacity;
  readonly row?: Uint8Array;
  readonly nextToken?: Uint8Array;
}
export interface TableInBatchGetRowResponse {
  readonly tableName: string;
  readonly rows: readonly RowInBatchGetRowResponse[];
}
export interface BatchGetRowResponse {
  readonly tables: readonly TableInBatchGetRowResponse[];
}
export interface RowInBatchWriteRowRequest {
  readonly type: OperationType;
  readonly rowChange: Uint8Array;
  readonly condition: Condition;
  readonly returnContent?: ReturnContent;
}
export interface TableInBatchWriteRowRequest {
  readonly tableName: string;
  readonly rows: readonly RowInBatchWriteRowRequest[];
}
export interface BatchWriteRowRequest {
  readonly tables: readonly TableInBatchWriteRowRequest[];
  readonly transactionId?: string;
}
export interface RowInBatchWriteRowResponse {
  readonly isOk: boolean;
  readonly error?: TableErrorBody;
  readonly consumed?: ConsumedCapacity;
  readonly row?: Uint8Array;
}
export interface TableInBatchWriteRowResponse {
  readonly tableName: string;
  readonly rows: readonly RowInBatchWriteRowResponse[];
}
export interface BatchWriteRowResponse {
  readonly tables: readonly TableInBatchWriteRowResponse[];
}

// ---- filters (filter.proto) -----------------------------------------------------------------

export interface Filter {
  readonly type: FilterType;
  /** the encoded inner filter message named by `type` */
  readonly filter: Uint8Array;
}
export interface SingleColumnValueFilter {
  readonly comparator: ComparatorType;
  readonly columnName: string;
  /** PlainBuffer value without length prefix (tablestore-wire.md §3.6) */
  readonly columnValue: Uint8Array;
  readonly filterIfMissing: boolean;
  readonly latestVersionOnly: boolean;
}
export interface CompositeColumnValueFilter {
  readonly combinator: LogicalOperator;
  readonly subFilters: readonly Filter[];
}
export interface ColumnPaginationFilter {
  readonly offset: number;
  readonly limit: number;
}

/** The table-API messages by protobuf name (package `main.proto`). */
export interface TableMessageTypes {
  Error: TableErrorBody;
  CreateTableRequest: CreateTableRequest;
  CreateTableResponse: EmptyMessage;
  ListTableRequest: EmptyMessage;
  ListTableResponse: ListTableResponse;
  DescribeTableRequest: DescribeTableRequest;
  DescribeTableResponse: DescribeTableResponse;
  UpdateTableRequest: UpdateTableRequest;
  UpdateTableResponse: UpdateTableResponse;
  DeleteTableRequest: DeleteTableRequest;
  DeleteTableResponse: EmptyMessage;
  GetRowRequest: GetRowRequest;
  GetRowResponse: GetRowResponse;
  PutRowRequest: PutRowRequest;
  PutRowResponse: WriteRowResponse;
  UpdateRowRequest: UpdateRowRequest;
  UpdateRowResponse: WriteRowResponse;
  DeleteRowRequest: DeleteRowRequest;
  DeleteRowResponse: WriteRowResponse;
  GetRangeRequest: GetRangeRequest;
  GetRangeResponse: GetRangeResponse;
  BatchGetRowRequest: BatchGetRowRequest;
  BatchGetRowResponse: BatchGetRowResponse;
  BatchWriteRowRequest: BatchWriteRowRequest;
  BatchWriteRowResponse: BatchWriteRowResponse;
}
export type TableMessageName = keyof TableMessageTypes;

/** The filter messages by protobuf name (package `filter.proto`). */
export interface FilterMessageTypes {
  Filter: Filter;
  SingleColumnValueFilter: SingleColumnValueFilter;
  CompositeColumnValueFilter: CompositeColumnValueFilter;
  ColumnPaginationFilter: ColumnPaginationFilter;
}
export type FilterMessageName = keyof FilterMessageTypes;

export const TABLE_MESSAGE_NAMES: readonly TableMessageName[] = [
  'Error',
  'CreateTableRequest',
  'CreateTableResponse',
  'ListTableRequest',
  'ListTableResponse',
  'DescribeTableRequest',
  'DescribeTableResponse',
  'UpdateTableRequest',
  'UpdateTableResponse',
  'DeleteTableRequest',
  'DeleteTableResponse',
  'GetRowRequest',
  'GetRowResponse',
  'PutRowRequest',
  'PutRowResponse',
  'UpdateRowRequest',
  'UpdateRowResponse',
  'DeleteRowRequest',
  'DeleteRowResponse',
  'GetRangeRequest',
  'GetRangeResponse',
  'BatchGetRowRequest',
  'BatchGetRowResponse',
  'BatchWriteRowRequest',
  'BatchWriteRowResponse',
];
export const FILTER_MESSAGE_NAMES: readonly FilterMessageName[] = ['Filter', 'SingleColumnValueFilter', 'CompositeColumnValueFilter', 'ColumnPaginationFilter'];

type Codecs<Types> = { readonly [K in keyof Types]: MessageCodec<Types[K]> };

const buildCodecs = <Types>(names: readonly (keyof Types & string)[], pkg: string): Codecs<Types> =>
  Object.fromEntries(names.map((name) => [name, tableSchema().codec(`${pkg}.${name}`)])) as Codecs<Types>;

/** Typed codecs of the table API (the SDK schema is read when this module loads). */
export const tableMessages: Codecs<TableMessageTypes> = buildCodecs<TableMessageTypes>(TABLE_MESSAGE_NAMES, TABLE_PROTO_PACKAGE);
export const filterMessages: Codecs<FilterMessageTypes> = buildCodecs<FilterMessageTypes>(FILTER_MESSAGE_NAMES, FILTER_PROTO_PACKAGE);

/** Any other message of the SDK schema, loosely typed, e.g. `tableCodec('ComputeSplitPointsBySizeRequest')`. */
export function tableCodec(name: string): MessageCodec<Readonly<Record<string, unknown>>> {
  return tableSchema().codec(name.includes('.') ? name : `${TABLE_PROTO_PACKAGE}.${name}`);
}

/** The table operations the emulator serves: path → request/response message names. */
export const TABLE_APIS = {
  CreateTable: { path: '/CreateTable', request: 'CreateTableRequest', response: 'CreateTableResponse' },
  ListTable: { path: '/ListTable', request: 'ListTableRequest', response: 'ListTableResponse' },
  DescribeTable: { path: '/DescribeTable', request: 'DescribeTableRequest', response: 'DescribeTableResponse' },
  UpdateTable: { path: '/UpdateTable', request: 'UpdateTableRequest', response: 'UpdateTableResponse' },
  DeleteTable: { path: '/DeleteTable', request: 'DeleteTableRequest', response: 'DeleteTableResponse' },
  GetRow: { path: '/GetRow', request: 'GetRowRequest', response: 'GetRowResponse' },
  PutRow: { path: '/PutRow', request: 'PutRowRequest', response: 'PutRowResponse' },
  UpdateRow: { path: '/UpdateRow', request: 'UpdateRowRequest', response: 'UpdateRowResponse' },
  DeleteRow: { path: '/DeleteRow', request: 'DeleteRowRequest', response: 'DeleteRowResponse' },
  GetRange: { path: '/GetRange', request: 'GetRangeRequest', response: 'GetRangeResponse' },
  BatchGetRow: { path: '/BatchGetRow', request: 'BatchGetRowRequest', response: 'BatchGetRowResponse' },
  BatchWriteRow: { path: '/BatchWriteRow', request: 'BatchWriteRowRequest', response: 'BatchWriteRowResponse' },
} as const satisfies Readonly<Record<string, { readonly path: string; readonly request: TableMessageName; readonly response: TableMessageName }>>;
export type TableApiName = keyof typeof TABLE_APIS;
