/**
 * The table API routes: decode the SDK's protobuf request, run it on the engine, encode the
 * response with every field the SDK's proto2 decoder requires.
 *
 * Decisions where the service's behaviour is not pinned down (tablestore-wire §8):
 * - a batch naming a missing table fails per row with OTSObjectNotExist (the other rows run);
 * - a row in BatchWriteRow whose PlainBuffer is malformed fails alone with OTSParameterInvalid.
 */
import * as E from 'fp-ts/lib/Either.js';
import { encodePrimaryKey, encodeRow, encodeRows } from '../wire/plainbuffer/index.js';
import type * as Msg from '../wire/table-messages.js';
import { TABLE_APIS, type TableMessageName, type TableMessageTypes, tableMessages } from '../wire/table-messages.js';
import type { Cell } from '../wire/types.js';
import type { Consumed, RowWrite, TableEngine, WriteOutcome } from './engine.js';
import { type OtsError, parameterInvalid } from './errors.js';
import type { RequestContext, RouteResult, Router } from './http-server.js';
import { hasAutoIncrementPlaceholder } from './row-model.js';
import { LIMITS, type TableDefinition } from './table-meta.js';
import {
  convertCondition,
  convertReadQuery,
  convertReturnContent,
  convertTableOptions,
  decodeRowField,
  definedColumnType,
  wireStreamDetails,
  wireTableMeta,
  wireTableOptions,
  wireThroughputDetails,
} from './wire-convert.js';

const decodeRequest = <N extends TableMessageName>(name: N, body: Uint8Array): E.Either<OtsError, TableMessageTypes[N]> => {
  const decoded = tableMessages[name].decode(body);
  return E.isLeft(decoded) ? E.left(parameterInvalid(`Failed to parse the ProtoBuf message: ${decoded.left.message}.`)) : E.right(decoded.right);
};

const respond = <N extends TableMessageName>(name: N, message: TableMessageTypes[N]): RouteResult => E.right(tableMessages[name].encode(message));

const wireConsumed = (consumed: Consumed): Msg.ConsumedCapacity => ({ capacityUnit: { read: consumed.read, write: consumed.write } });

type Handler = (body: Uint8Array) => RouteResult | Promise<RouteResult>;

// ---------------------------------------------------------------------------------------------
// tables

const createTable =
  (engine: TableEngine): Handler =>
  async (body) => {
    const request = decodeRequest('CreateTableRequest', body);
    if (E.isLeft(request)) return request;
    const { tableMeta, reservedThroughput, tableOptions, streamSpec } = request.right;
    const options = convertTableOptions(tableOptions);
    if (E.isLeft(options)) return options;
    const definition: TableDefinition = {
      name: tableMeta.tableName,
      primaryKey: tableMeta.primaryKey.map((c) => ({ name: c.name, type: c.type, autoIncrement: c.option === 'AUTO_INCREMENT' })),
      definedColumns: tableMeta.definedColumn.map((c) => ({ name: c.name, type: definedColumnType(c.type) })),
      options: options.right,
      reservedThroughput: { read: reservedThroughput.capacityUnit.read ?? 0, write: reservedThroughput.capacityUnit.write ?? 0 },
      ...(streamSpec === undefined
        ? {}
        : { stream: { enabled: streamSpec.enableStream, ...(streamSpec.expirationTime === undefined ? {} : { expirationTimeHours: streamSpec.expirationTime }) } }),
    };
    const created = await engine.createTable(definition);
    return E.isLeft(created) ? created : respond('CreateTableResponse', {});
  };

const listTable =
  (engine: TableEngine): Handler =>
  (body) => {
    const request = decodeRequest('ListTableRequest', body);
    return E.isLeft(request) ? request : respond('ListTableResponse', { tableNames: engine.listTables() });
  };

const describeTable =
  (engine: TableEngine): Handler =>
  (body) => {
    const request = decodeRequest('DescribeTableRequest', body);
    if (E.isLeft(request)) return request;
    const meta = engine.describeTable(request.right.tableName);
    if (E.isLeft(meta)) return meta;
    return respond('DescribeTableResponse', {
      tableMeta: wireTableMeta(meta.right),
      reservedThroughputDetails: wireThroughputDetails(meta.right),
      tableOptions: wireTableOptions(meta.right),
      tableStatus: 'ACTIVE',
      ...(meta.right.stream === undefined ? {} : { streamDetails: wireStreamDetails(meta.right) }),
      shardSplits: [],
      indexMetas: [],
    });
  };

const updateTable =
  (engine: TableEngine): Handler =>
  async (body) => {
    const request = decodeRequest('UpdateTableRequest', body);
    if (E.isLeft(request)) return request;
    const { tableName, reservedThroughput, tableOptions, streamSpec } = request.right;
    const options = convertTableOptions(tableOptions);
    if (E.isLeft(options)) return options;
    const capacity = reservedThroughput?.capacityUnit;
    const updated = await engine.updateTable(tableName, {
      options: options.right,
      ...(capacity === undefined
        ? {}
        : { reservedThroughput: { ...(capacity.read === undefined ? {} : { read: capacity.read }), ...(capacity.write === undefined ? {} : { write: capacity.write }) } }),
      ...(streamSpec === undefined
        ? {}
        : { stream: { enabled: streamSpec.enableStream, ...(streamSpec.expirationTime === undefined ? {} : { expirationTimeHours: streamSpec.expirationTime }) } }),
    });
    if (E.isLeft(updated)) return updated;
    return respond('UpdateTableResponse', {
      reservedThroughputDetails: wireThroughputDetails(updated.right),
      tableOptions: wireTableOptions(updated.right),
      streamDetails: wireStreamDetails(updated.right),
    });
  };

const deleteTable =
  (engine: TableEngine): Handler =>
  async (body) => {
    const request = decodeRequest('DeleteTableRequest', body);
    if (E.isLeft(request)) return request;
    const deleted = await engine.deleteTable(request.right.tableName);
    return E.isLeft(deleted) ? deleted : respond('DeleteTableResponse', {});
  };

// ---------------------------------------------------------------------------------------------
// single-row writes

type WriteKind = RowWrite['kind'];

/** The row of a write request, checked for the shape its operation allows. */
const toRowWrite = (
  kind: WriteKind,
  table: string,
  field: string,
  rowBytes: Uint8Array,
  conditionField: string,
  condition: Msg.Condition,
  returnContent: Msg.ReturnContent | undefined,
): E.Either<OtsError, RowWrite> => {
  const row = decodeRowField(field, rowBytes);
  if (E.isLeft(row)) return row;
  const { primaryKey, cells, deleteMarker } = row.right;
  if (kind === 'delete' && cells.length > 0) return E.left(parameterInvalid(`${field}: a row to delete carries no attribute columns.`));
  if (kind !== 'delete' && deleteMarker) return E.left(parameterInvalid(`${field}: only DeleteRow may carry the delete marker.`));
  if (kind === 'put' && cells.some((c) => c.op !== 'put')) {
    return E.left(parameterInvalid(`${field}: PutRow cells must be plain puts, without cell types.`));
  }
  const converted = convertCondition(conditionField, condition);
  if (E.isLeft(converted)) return converted;
  return E.right({ kind, table, primaryKey, cells: cells as readonly Cell[], condition: converted.right, returnContent: convertReturnContent(returnContent) });
};

const writeResponse = (outcome: WriteOutcome): Msg.WriteRowResponse => ({
  consumed: wireConsumed(outcome.consumed),
  ...(outcome.row === undefined ? {} : { row: encodeRow(outcome.row) }),
});

const putRow =
  (engine: TableEngine): Handler =>
  async (body) => {
    const request = decodeRequest('PutRowRequest', body);
    if (E.isLeft(request)) return request;
    const { tableName, row, condition, returnContent } = request.right;
    const write = toRowWrite('put', tableName, 'row', row, 'condition', condition, returnContent);
    if (E.isLeft(write)) return write;
    const outcome = await engine.write(write.right);
    return E.isLeft(outcome) ? outcome : respond('PutRowResponse', writeResponse(outcome.right));
  };

const updateRow =
  (engine: TableEngine): Handler =>
  async (body) => {
    const request = decodeRequest('UpdateRowRequest', body);
    if (E.isLeft(request)) return request;
    const { tableName, rowChange, condition, returnContent } = request.right;
    const write = toRowWrite('update', tableName, 'rowChange', rowChange, 'condition', condition, returnContent);
    if (E.isLeft(write)) return write;
    const outcome = await engine.write(write.right);
    return E.isLeft(outcome) ? outcome : respond('UpdateRowResponse', writeResponse(outcome.right));
  };

const deleteRow =
  (engine: TableEngine): Handler =>
  async (body) => {
    const request = decodeRequest('DeleteRowRequest', body);
    if (E.isLeft(request)) return request;
    const { tableName, primaryKey, condition, returnContent } = request.right;
    const write = toRowWrite('delete', tableName, 'primaryKey', primaryKey, 'condition', condition, returnContent);
    if (E.isLeft(write)) return write;
    const outcome = await engine.write(write.right);
    return E.isLeft(outcome) ? outcome : respond('DeleteRowResponse', writeResponse(outcome.right));
  };

// ---------------------------------------------------------------------------------------------
// reads

const keyOnly = (field: string, bytes: Uint8Array) => {
  const row = decodeRowField(field, bytes);
  if (E.isLeft(row)) return row;
  if (row.right.cells.length > 0) return E.left(parameterInvalid(`${field}: a primary key carries no attribute columns.`));
  return E.right(row.right.primaryKey);
};

const getRow =
  (engine: TableEngine): Handler =>
  (body) => {
    const request = decodeRequest('GetRowRequest', body);
    if (E.isLeft(request)) return request;
    const key = keyOnly('primaryKey', request.right.primaryKey);
    if (E.isLeft(key)) return key;
    const query = convertReadQuery('', request.right);
    if (E.isLeft(query)) return query;
    const outcome = engine.getRow(request.right.tableName, key.right, query.right);
    if (E.isLeft(outcome)) return outcome;
    return respond('GetRowResponse', {
      consumed: wireConsumed(outcome.right.consumed),
      row: outcome.right.row === undefined ? new Uint8Array(0) : encodeRow(outcome.right.row),
    });
  };

const getRange =
  (engine: TableEngine): Handler =>
  (body) => {
    const request = decodeRequest('GetRangeRequest', body);
    if (E.isLeft(request)) return request;
    const start = keyOnly('inclusiveStartPrimaryKey', request.right.inclusiveStartPrimaryKey);
    if (E.isLeft(start)) return start;
    const end = keyOnly('exclusiveEndPrimaryKey', request.right.exclusiveEndPrimaryKey);
    if (E.isLeft(end)) return end;
    const query = convertReadQuery('', request.right);
    if (E.isLeft(query)) return query;
    const outcome = engine.getRange({
      table: request.right.tableName,
      direction: request.right.direction,
      start: start.right,
      end: end.right,
      ...(request.right.limit === undefined ? {} : { limit: request.right.limit }),
      query: query.right,
    });
    if (E.isLeft(outcome)) return outcome;
    const { rows, nextStart, consumed } = outcome.right;
    return respond('GetRangeResponse', {
      consumed: wireConsumed(consumed),
      rows: encodeRows(rows),
      ...(nextStart === undefined ? {} : { nextStartPrimaryKey: encodePrimaryKey(nextStart) }),
    });
  };

const rowError = (error: OtsError) => ({ isOk: false, error: { code: error.code, message: error.message } });

const batchGetRow =
  (engine: TableEngine): Handler =>
  (body) => {
    const request = decodeRequest('BatchGetRowRequest', body);
    if (E.isLeft(request)) return request;
    const tables = request.right.tables;
    const total = tables.reduce((n, t) => n + t.primaryKey.length, 0);
    if (total === 0) return E.left(parameterInvalid('No row specified in the request of BatchGetRow.'));
    if (total > LIMITS.maxBatchGetRows) return E.left(parameterInvalid(`Rows count exceeds the upper limit: ${LIMITS.maxBatchGetRows}.`));
    const seen = new Set<string>();
    for (const table of tables) {
      if (seen.has(table.tableName)) return E.left(parameterInvalid(`Duplicated table name: ${table.tableName}.`));
      seen.add(table.tableName);
      if (table.primaryKey.length === 0) return E.left(parameterInvalid(`No row specified for table: '${table.tableName}'.`));
    }
    const response: Msg.BatchGetRowResponse = {
      tables: tables.map((table, t) => {
        const query = convertReadQuery(`tables.${t}.`, table);
        return {
          tableName: table.tableName,
          rows: table.primaryKey.map((bytes, r) => {
            if (E.isLeft(query)) return rowError(query.left);
            const key = keyOnly(`tables.${t}.primaryKey.${r}`, bytes);
            if (E.isLeft(key)) return rowError(key.left);
            const outcome = engine.getRow(table.tableName, key.right, query.right);
            if (E.isLeft(outcome)) return rowError(outcome.left);
            return {
              isOk: true,
              consumed: wireConsumed(outcome.right.consumed),
              row: outcome.right.row === undefined ? new Uint8Array(0) : encodeRow(outcome.right.row),
            };
          }),
        };
      }),
    };
    return respond('BatchGetRowResponse', response);
  };

// ---------------------------------------------------------------------------------------------
// BatchWriteRow

const OPERATION_KINDS: Readonly<Record<Msg.OperationType, WriteKind>> = { PUT: 'put', UPDATE: 'update', DELETE: 'delete' };

const keyIdentity = (write: RowWrite): string | undefined =>
  hasAutoIncrementPlaceholder(write.primaryKey) ? undefined : `${write.table}\u0000${Buffer.from(encodePrimaryKey(write.primaryKey)).toString('latin1')}`;

/** Whole-request checks of repeated rows: conditions and increments need one write per row. */
const checkRepeatedRows = (writes: readonly E.Either<OtsError, RowWrite>[]): OtsError | undefined => {
  const byKey = new Map<string, RowWrite[]>();
  for (const write of writes) {
    if (E.isLeft(write)) continue;
    const identity = keyIdentity(write.right);
    if (identity === undefined) continue;
    const group = byKey.get(identity);
    if (group === undefined) byKey.set(identity, [write.right]);
    else group.push(write.right);
  }
  for (const group of byKey.values()) {
    if (group.length < 2) continue;
    if (group.some((w) => w.condition.rowExistence !== 'IGNORE')) {
      return parameterInvalid('Repeated rows do not support row exist expectation check in BatchModify.');
    }
    if (group.some((w) => w.condition.columnCondition !== undefined)) {
      return parameterInvalid('Repeated rows do not support row condition check in BatchModify.');
    }
    if (group.some((w) => w.cells.some((c) => c.op === 'increment'))) {
      return parameterInvalid('Repeated rows do not support increment in BatchModify.');
    }
  }
  return undefined;
};

const batchWriteRow =
  (engine: TableEngine): Handler =>
  async (body) => {
    const request = decodeRequest('BatchWriteRowRequest', body);
    if (E.isLeft(request)) return request;
    const tables = request.right.tables;
    const total = tables.reduce((n, t) => n + t.rows.length, 0);
    if (tables.length === 0 || total === 0) return E.left(parameterInvalid('No row is specified in BatchWriteRow.'));
    if (total > LIMITS.maxBatchWriteRows) return E.left(parameterInvalid(`Rows count exceeds the upper limit: ${LIMITS.maxBatchWriteRows}.`));
    const seen = new Set<string>();
    for (const table of tables) {
      if (seen.has(table.tableName)) return E.left(parameterInvalid(`Duplicated table name: ${table.tableName}.`));
      seen.add(table.tableName);
      if (table.rows.length === 0) return E.left(parameterInvalid(`No operation is specified for table: '${table.tableName}'.`));
    }
    const size = tables.reduce((n, t) => n + t.rows.reduce((m, r) => m + r.rowChange.length, 0), 0);
    if (size > LIMITS.maxRowBytes) return E.left(parameterInvalid(`The total data size of BatchWriteRow exceeds the limit: ${LIMITS.maxRowBytes} bytes.`));

    const writes = tables.flatMap((table, t) =>
      table.rows.map((row, r) =>
        toRowWrite(
          OPERATION_KINDS[row.type],
          table.tableName,
          `tables.${t}.rows.${r}.rowChange`,
          row.rowChange,
          `tables.${t}.rows.${r}.condition`,
          row.condition,
          row.returnContent,
        ),
      ),
    );
    const repeated = checkRepeatedRows(writes);
    if (repeated !== undefined) return E.left(repeated);

    const valid = writes.flatMap((w) => (E.isRight(w) ? [w.right] : []));
    const outcomes = await engine.writeBatch(valid);
    let next = 0;
    const results = writes.map((w) => (E.isLeft(w) ? w : outcomes[next++]!));
    let at = 0;
    return respond('BatchWriteRowResponse', {
      tables: tables.map((table) => ({
        tableName: table.tableName,
        rows: table.rows.map(() => {
          const result = results[at++]!;
          if (E.isLeft(result)) return rowError(result.left);
          return { isOk: true, ...writeResponse(result.right) };
        }),
      })),
    });
  };

// ---------------------------------------------------------------------------------------------

/** Registers every table API path of the SDK on `router`. */
export const registerTableRoutes = (router: Router, engine: TableEngine): Router => {
  const handlers: Readonly<Record<keyof typeof TABLE_APIS, Handler>> = {
    CreateTable: createTable(engine),
    ListTable: listTable(engine),
    DescribeTable: describeTable(engine),
    UpdateTable: updateTable(engine),
    DeleteTable: deleteTable(engine),
    GetRow: getRow(engine),
    PutRow: putRow(engine),
    UpdateRow: updateRow(engine),
    DeleteRow: deleteRow(engine),
    GetRange: getRange(engine),
    BatchGetRow: batchGetRow(engine),
    BatchWriteRow: batchWriteRow(engine),
  };
  for (const [name, api] of Object.entries(TABLE_APIS)) {
    const handler = handlers[name as keyof typeof TABLE_APIS];
    router.register(api.path, (context: RequestContext) => handler(context.body));
  }
  return router;
};
