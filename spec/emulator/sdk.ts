/**
 * The official Node SDK (`tablestore`, untyped CommonJS) as the tests drive it: promisified
 * calls, and the service error recovered from the SDK's raw error (tablestore-wire §2.2).
 */
import { createRequire } from 'node:module';
import { serviceErrorFromSdkError } from '../../lib/wire/errors.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Sdk = any;
export const TableStore: Sdk = createRequire(import.meta.url)('tablestore');

export interface EndpointInfo {
  readonly endpoint: string;
  readonly instanceName: string;
  readonly credentials: { readonly accessKeyId: string; readonly accessKeySecret: string };
}

export const sdkClient = (emulator: EndpointInfo, overrides: Record<string, unknown> = {}): Sdk =>
  new TableStore.Client({
    endpoint: emulator.endpoint,
    instancename: emulator.instanceName,
    accessKeyId: emulator.credentials.accessKeyId,
    secretAccessKey: emulator.credentials.accessKeySecret,
    maxRetries: 0,
    ...overrides,
  });

export interface CallFailure {
  readonly status: number | string;
  readonly code: string | undefined;
  readonly message: string;
}

export type CallResult = { readonly ok: true; readonly data: Sdk } | { readonly ok: false; readonly error: CallFailure };

export const call = (client: Sdk, operation: string, params: Record<string, unknown>): Promise<CallResult> =>
  new Promise((resolve) => {
    client[operation](params, (error: Sdk, data: Sdk) => {
      if (error === null || error === undefined) {
        resolve({ ok: true, data });
        return;
      }
      const service = serviceErrorFromSdkError(error);
      resolve({ ok: false, error: { status: error.code, code: service?.code, message: service?.message ?? String(error.message) } });
    });
  });

/** The data of a call that must succeed. */
export const ok = async (client: Sdk, operation: string, params: Record<string, unknown>): Promise<Sdk> => {
  const result = await call(client, operation, params);
  if (!result.ok) throw new Error(`${operation} failed: ${JSON.stringify(result.error)}`);
  return result.data;
};

/** The failure of a call that must fail. */
export const fails = async (client: Sdk, operation: string, params: Record<string, unknown>): Promise<CallFailure> => {
  const result = await call(client, operation, params);
  if (result.ok) throw new Error(`${operation} unexpectedly succeeded`);
  return result.error;
};

export const condition = (existence: 'IGNORE' | 'EXPECT_EXIST' | 'EXPECT_NOT_EXIST', columnCondition: Sdk = null): Sdk =>
  new TableStore.Condition(TableStore.RowExistenceExpectation[existence], columnCondition);

export const long = (n: number | bigint | string): Sdk => TableStore.Long.fromString(String(n));

/** SDK values → plain comparable values (Int64LE → bigint, Buffer → number[]). */
export const plain = (value: Sdk): unknown => {
  if (value === null || value === undefined) return value;
  if (TableStore.Long && typeof value === 'object' && typeof value.toNumber === 'function' && typeof value.toBuffer === 'function') {
    return BigInt(value.toString());
  }
  if (Buffer.isBuffer(value)) return [...value];
  return value;
};

export const attributes = (row: Sdk): [string, unknown, unknown][] =>
  (row?.attributes ?? []).map((a: Sdk) => [a.columnName, plain(a.columnValue), plain(a.timestamp)]);

export const primaryKey = (row: Sdk): [string, unknown][] => (row?.primaryKey ?? []).map((c: Sdk) => [c.name, plain(c.value)]);
