import fc from 'fast-check';
import protobuf from 'protobufjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  HTTP_STATUS_BY_CODE,
  OtsServiceError,
  decodeErrorBody,
  encodeErrorBody,
  httpStatusFor,
  isRetryable,
  isServiceErrorCode,
  serviceErrorFromResponse,
  serviceErrorFromSdkError,
} from '../../lib/wire/errors.js';
import { buildResponseHeaders } from '../../lib/wire/signing.js';
import { WireDecodeError } from '../../lib/wire/wire-error.js';
import { putRowParams, sdkClient, startCaptureServer } from './sdk-harness.js';
import type { CaptureServer, Reply } from './sdk-harness.js';

const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');

describe('the Error body', () => {
  it('is Error{code = 1, message = 2} and nothing else', () => {
    // 0a 11 "OTSObjectNotExist" 12 1f "Requested table does not exist."
    const expected = '0a11' + Buffer.from('OTSObjectNotExist').toString('hex') + '121f' + Buffer.from('Requested table does not exist.').toString('hex');
    expect(hex(encodeErrorBody('OTSObjectNotExist', 'Requested table does not exist.'))).toBe(expected);
    expect(hex(encodeErrorBody('OTSServerBusy'))).toBe('0a0d' + Buffer.from('OTSServerBusy').toString('hex'));
  });

  it('round-trips any code and message', () => {
    fc.assert(
      fc.property(fc.string({ minLength: 1 }), fc.option(fc.string({ unit: 'binary' }), { nil: undefined }), (code, message) => {
        expect(decodeErrorBody(encodeErrorBody(code, message))).toEqual({ _tag: 'Right', right: message === undefined ? { code } : { code, message } });
      }),
    );
  });

  it('decodes bodies whose field 3 is a tunnel_id string or an access_denied_detail message', () => {
    const base = encodeErrorBody('OTSParameterInvalid', 'tunnel id not exist');
    const tunnelId = protobuf.Writer.create().uint32(26).string('tunnel-uuid').finish();
    const detail = protobuf.Writer.create().uint32(26).fork().uint32(10).string('acs:ots:*').uint32(16).int32(1).ldelim().finish();
    for (const extra of [tunnelId, detail]) {
      expect(decodeErrorBody(Buffer.concat([base, extra]))).toEqual({ _tag: 'Right', right: { code: 'OTSParameterInvalid', message: 'tunnel id not exist' } });
    }
  });

  it('without a code, or as garbage, is a Left — never a throw', () => {
    const result = decodeErrorBody(protobuf.Writer.create().uint32(18).string('message only').finish());
    expect(result).toMatchObject({ _tag: 'Left', left: { messageType: 'Error', issues: [{ path: 'code', problem: "missing required field 'code' of Error" }] } });
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 40 }), (bytes) => {
        const decoded = decodeErrorBody(bytes);
        if (decoded._tag === 'Left') expect(decoded.left).toBeInstanceOf(WireDecodeError);
      }),
      { numRuns: 300 },
    );
    expect(decodeErrorBody(Buffer.from('<html>502 Bad Gateway</html>'))._tag).toBe('Left');
  });
});

describe('HTTP status per code (tablestore-wire.md §2.3, tunnel-protocol.md §4.3)', () => {
  it.each([
    ['OTSParameterInvalid', 400],
    ['OTSInvalidPK', 400],
    ['OTSAuthFailed', 403],
    ['OTSConditionCheckFail', 403],
    ['OTSObjectNotExist', 404],
    ['OTSTableNotReady', 404],
    ['OTSMethodNotAllowed', 405],
    ['OTSObjectAlreadyExist', 409],
    ['OTSRowOperationConflict', 409],
    ['OTSRequestBodyTooLarge', 413],
    ['OTSFlowControl', 429],
    ['OTSInternalServerError', 500],
    ['OTSServerBusy', 503],
    ['OTSSequenceNumberNotMatch', 400],
    ['OTSTunnelExist', 409],
    ['OTSResourceGone', 410],
    ['OTSTunnelServerUnavailable', 503],
  ] as const)('%s → %i', (code, status) => {
    expect(httpStatusFor(code)).toBe(status);
  });

  it('knows its codes', () => {
    expect(isServiceErrorCode('OTSServerBusy')).toBe(true);
    expect(isServiceErrorCode('OTSNoSuchThing')).toBe(false);
    expect(isServiceErrorCode('toString')).toBe(false);
    for (const status of Object.values(HTTP_STATUS_BY_CODE)) expect(status >= 400 && status <= 599).toBe(true);
  });
});

describe('retry classification', () => {
  it.each([
    [{ code: 'OTSTunnelServerUnavailable', httpStatus: 503 }, true],
    [{ code: 'OTSServerBusy' }, true],
    [{ code: 'OTSPartitionUnavailable' }, true],
    [{ code: 'OTSRowOperationConflict', httpStatus: 409 }, true],
    [{ code: 'OTSNotEnoughCapacityUnit', httpStatus: 403 }, true],
    [{ code: 'OTSQuotaExhausted', message: 'Too frequent table operations.' }, true],
    [{ code: 'OTSQuotaExhausted', message: 'Number of tables exceeded the quota.' }, false],
    [{ code: 'OTSParameterInvalid', httpStatus: 400 }, false],
    [{ code: 'OTSTunnelExpired' }, false],
    [{ code: 'OTSResourceGone', httpStatus: 410 }, false],
    [{ code: 'OTSSequenceNumberNotMatch' }, false],
    [{ code: 'OTSConditionCheckFail', httpStatus: 403 }, false],
    [{ code: 'OTSObjectNotExist', httpStatus: 503 }, false],
    [{ httpStatus: 502 }, true],
    [{ code: 'SomethingNew', httpStatus: 500 }, true],
    [{ httpStatus: 404 }, false],
  ])('%j → %s', (input, expected) => {
    expect(isRetryable(input)).toBe(expected);
  });
});

describe('client-side error values', () => {
  it('a protobuf Error body becomes an OtsServiceError with the status and request id', () => {
    const error = serviceErrorFromResponse(409, encodeErrorBody('OTSTunnelExist', 'tunnel exists'), 'rid-9');
    expect(error).toBeInstanceOf(OtsServiceError);
    expect(error).toBeInstanceOf(Error);
    expect(error).toMatchObject({ code: 'OTSTunnelExist', message: 'tunnel exists', httpStatus: 409, requestId: 'rid-9', retryable: false });
  });

  it('a non-protobuf body maps like the Go client: 5xx → OTSTunnelServerUnavailable (retryable), else OTSClientError', () => {
    const gateway = serviceErrorFromResponse(502, Buffer.from('<html>bad gateway</html>'));
    expect(gateway).toMatchObject({ code: 'OTSTunnelServerUnavailable', httpStatus: 502, retryable: true, requestId: undefined });
    expect(gateway.message).toContain('bad gateway');
    expect(serviceErrorFromResponse(400, new Uint8Array())).toMatchObject({ code: 'OTSClientError', httpStatus: 400, retryable: false });
  });
});

describe('how the official Node SDK surfaces our error responses (tablestore-wire.md §2.2)', () => {
  let server: CaptureServer;
  let nextReply: Reply;

  beforeAll(async () => {
    server = await startCaptureServer(() => nextReply);
  });
  afterAll(() => server.close());

  const errorReply = (code: Parameters<typeof httpStatusFor>[0], message: string, requestId: string): Reply => {
    const body = encodeErrorBody(code, message);
    return { status: httpStatusFor(code), headers: buildResponseHeaders({ path: '/DescribeTable', body, requestId }), body };
  };
  const client = () => sdkClient({ endpoint: server.endpoint, accessKeyId: 'id', accessKeySecret: 'secret', instanceName: 'i' });

  it('OTSObjectNotExist: the callback error carries the status as code and the raw body as message', async () => {
    nextReply = errorReply('OTSObjectNotExist', 'Requested table does not exist.', 'rid-404');
    const { error } = await client().call('describeTable', { tableName: 'missing' });
    expect(error?.code).toBe(404);
    expect(error?.message).toBe('\n\u0011OTSObjectNotExist\u0012\u001fRequested table does not exist. requestId:rid-404');
    expect(serviceErrorFromSdkError(error)).toMatchObject({
      code: 'OTSObjectNotExist',
      message: 'Requested table does not exist.',
      httpStatus: 404,
      requestId: 'rid-404',
    });
  });

  it('OTSConditionCheckFail on a write', async () => {
    nextReply = errorReply('OTSConditionCheckFail', 'Condition check failed.', 'rid-403');
    const { error } = await client().call('putRow', putRowParams());
    expect(error?.code).toBe(403);
    expect(serviceErrorFromSdkError(error)).toMatchObject({ code: 'OTSConditionCheckFail', message: 'Condition check failed.', httpStatus: 403 });
  });

  it('recovers code and message even past 127 bytes, where the length varint gets mangled', async () => {
    const long = `Invalid column name: '${'c'.repeat(150)}'.`;
    nextReply = errorReply('OTSParameterInvalid', long, 'rid-long');
    const { error } = await client().call('describeTable', { tableName: 't' });
    expect(error?.code).toBe(400);
    expect(serviceErrorFromSdkError(error)).toMatchObject({ code: 'OTSParameterInvalid', message: long, httpStatus: 400, requestId: 'rid-long' });
  });

  it('is not fooled by errors that never reached a server', () => {
    expect(serviceErrorFromSdkError(Object.assign(new Error('connect ECONNREFUSED'), { code: 'NetworkingError' }))).toBeUndefined();
    expect(serviceErrorFromSdkError(Object.assign(new Error('rid'), { code: 'NotFound' }))).toBeUndefined();
    expect(serviceErrorFromSdkError('boom')).toBeUndefined();
  });
});
