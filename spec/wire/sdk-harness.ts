/**
 * A loopback HTTP server that records raw requests and answers with crafted replies, plus the
 * official `tablestore` SDK pointed at it — to see exactly what the SDK sends and how it reads
 * what we answer.
 */
import { createServer } from 'node:http';
import type { IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRequire } from 'node:module';

export interface CapturedRequest {
  readonly method: string;
  readonly path: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer;
}

export interface Reply {
  readonly status: number;
  readonly headers?: Readonly<Record<string, string>>;
  readonly body: Uint8Array;
}

export interface CaptureServer {
  readonly endpoint: string;
  readonly requests: CapturedRequest[];
  close(): Promise<void>;
}

export async function startCaptureServer(reply: (request: CapturedRequest) => Reply): Promise<CaptureServer> {
  const requests: CapturedRequest[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const captured: CapturedRequest = {
        method: req.method ?? '',
        path: (req.url ?? '').split('?')[0] ?? '',
        headers: req.headers,
        body: Buffer.concat(chunks),
      };
      requests.push(captured);
      const answer = reply(captured);
      res.writeHead(answer.status, { ...answer.headers, 'content-length': String(answer.body.length) });
      res.end(Buffer.from(answer.body));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export interface SdkError {
  readonly code: unknown;
  readonly message: string;
}

/** The few SDK calls the specs use, promisified; `error` is what the SDK's callback got. */
export interface SdkClient {
  call(operation: 'listTable' | 'putRow' | 'describeTable' | 'getRow', params: Record<string, unknown>): Promise<{ error?: SdkError; data?: unknown }>;
}

const require = createRequire(import.meta.url);
// The SDK ships no types.
export const TableStore = require('tablestore') as {
  Client: new (options: Record<string, unknown>) => Record<string, (params: Record<string, unknown>, callback: (error: unknown, data: unknown) => void) => void>;
  Condition: new (existence: number, columnCondition: unknown) => unknown;
  RowExistenceExpectation: Record<string, number>;
  Long: { fromNumber(n: number): unknown };
};

export function sdkClient(options: { endpoint: string; accessKeyId: string; accessKeySecret: string; instanceName: string; stsToken?: string }): SdkClient {
  const client = new TableStore.Client({
    accessKeyId: options.accessKeyId,
    secretAccessKey: options.accessKeySecret,
    endpoint: options.endpoint,
    instancename: options.instanceName,
    maxRetries: 0,
    ...(options.stsToken === undefined ? {} : { stsToken: options.stsToken }),
  });
  return {
    call: (operation, params) =>
      new Promise((resolve) => {
        const method = client[operation] as (p: Record<string, unknown>, cb: (error: unknown, data: unknown) => void) => void;
        method.call(client, params, (error, data) => resolve(error ? { error: error as SdkError } : { data }));
      }),
  };
}

export const putRowParams = (): Record<string, unknown> => ({
  tableName: 'orders',
  condition: new TableStore.Condition(TableStore.RowExistenceExpectation.IGNORE as number, null),
  primaryKey: [{ id: 'order-1' }],
  attributeColumns: [{ amount: TableStore.Long.fromNumber(42) }, { note: 'ünïcode' }],
});
