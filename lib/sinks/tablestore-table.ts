/**
 * Reading a Tablestore table through the official SDK, for batch queries: DescribeTable for its
 * primary key, then GetRange over the whole key space, page by page. Rows come back as PUT_ROW
 * change records so a batch query runs through the same decode → operators path as a stream job.
 */
import { createRequire } from 'node:module';
import type { Cell, ChangeRecord, PrimaryKeyCell } from '../wire/types.js';
import { serviceErrorFromSdkError } from '../wire/errors.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Sdk = any;
const TableStore: Sdk = createRequire(import.meta.url)('tablestore');

export interface TableConnection {
  readonly endpoint: string;
  readonly instanceName: string;
  readonly accessKeyId: string;
  readonly accessKeySecret: string;
  readonly securityToken?: string;
}

export type KeyType = 'INTEGER' | 'STRING' | 'BINARY';

export interface TableSchema {
  readonly tableName: string;
  readonly primaryKey: readonly { readonly name: string; readonly type: KeyType }[];
}

/** A failure of a table call, with the service's code when there is one; never the secret. */
export class TableAccessError extends Error {
  override readonly name = 'TableAccessError';
  constructor(
    message: string,
    readonly code: string | undefined,
  ) {
    super(message);
  }
}

export function sdkClient(connection: TableConnection): Sdk {
  return new TableStore.Client({
    endpoint: connection.endpoint,
    instancename: connection.instanceName,
    accessKeyId: connection.accessKeyId,
    secretAccessKey: connection.accessKeySecret,
    ...(connection.securityToken === undefined ? {} : { stsToken: connection.securityToken }),
    maxRetries: 0,
  });
}

function sdkCall(client: Sdk, operation: string, params: Record<string, unknown>, what: string): Promise<Sdk> {
  return new Promise((resolve, reject) => {
    client[operation](params, (error: Sdk, data: Sdk) => {
      if (error === null || error === undefined) {
        resolve(data);
        return;
      }
      const service = serviceErrorFromSdkError(error);
      const endpoint = String(client.config?.endpoint ?? '');
      if (service !== undefined) {
        const denied = service.code === 'OTSAuthFailed' || service.code === 'OTSNoPermissionAccess' || service.code === 'OTSPermissionDenied';
        reject(new TableAccessError(denied ? `access denied by ${endpoint}: ${service.code} (${service.message})` : `${what}: ${service.code} (${service.message})`, service.code));
      } else {
        // the SDK says NetworkingError; the errno in its message says why
        const errno = /\b(E[A-Z]{3,})\b/.exec(String(error.message ?? ''))?.[1];
        const code = errno ?? (typeof error.code === 'string' ? error.code : undefined);
        reject(new TableAccessError(`cannot reach ${endpoint} (${code ?? String(error.message ?? error)}) for ${what}`, code));
      }
    });
  });
}

const KEY_TYPES: Readonly<Record<number, KeyType>> = { 1: 'INTEGER', 2: 'STRING', 3: 'BINARY' };

export async function describeTable(client: Sdk, tableName: string): Promise<TableSchema> {
  const described = await sdkCall(client, 'describeTable', { tableName }, `DescribeTable ${tableName}`);
  const primaryKey = (described.tableMeta?.primaryKey ?? []).map((column: Sdk) => ({ name: String(column.name), type: KEY_TYPES[Number(column.type)] ?? 'STRING' }));
  return { tableName, primaryKey };
}

const plain = (value: Sdk): Sdk => {
  // the SDK's Int64 (TableStore.Long is a factory, not a class)
  if (typeof value === 'object' && value !== null && typeof value.toBuffer === 'function' && typeof value.toNumber === 'function') {
    return BigInt(value.toString());
  }
  if (Buffer.isBuffer(value)) return new Uint8Array(value);
  return value;
};

/** Every row of the table in primary-key order, as PUT_ROW records (latest version of each column). */
export async function* scanTable(client: Sdk, schema: TableSchema, pageSize = 5000): AsyncGenerator<ChangeRecord[]> {
  let start: Sdk[] = schema.primaryKey.map((column) => ({ [column.name]: TableStore.INF_MIN }));
  const end = schema.primaryKey.map((column) => ({ [column.name]: TableStore.INF_MAX }));
  for (;;) {
    const page = await sdkCall(
      client,
      'getRange',
      { tableName: schema.tableName, direction: TableStore.Direction.FORWARD, inclusiveStartPrimaryKey: start, exclusiveEndPrimaryKey: end, limit: pageSize, maxVersions: 1 },
      `GetRange ${schema.tableName}`,
    );
    const records: ChangeRecord[] = (page.rows ?? []).map((row: Sdk) => {
      const primaryKey: PrimaryKeyCell[] = (row.primaryKey ?? []).map((cell: Sdk) => ({ name: String(cell.name), value: plain(cell.value) }));
      const cells: Cell[] = (row.attributes ?? []).map((cell: Sdk) => ({ op: 'put', name: String(cell.columnName), value: plain(cell.columnValue), timestamp: Number(cell.timestamp?.toString?.() ?? cell.timestamp ?? 0) }));
      return { action: 'PUT_ROW', primaryKey, cells };
    });
    if (records.length > 0) yield records;
    if (page.nextStartPrimaryKey === null || page.nextStartPrimaryKey === undefined) return;
    start = page.nextStartPrimaryKey.map((cell: Sdk) => ({ [cell.name]: cell.value }));
  }
}
