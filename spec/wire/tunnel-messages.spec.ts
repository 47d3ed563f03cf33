import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { INT64_MAX, INT64_MIN, UINT64_MAX } from '../../lib/wire/int64.js';
import {
  FINISHED_TOKEN,
  TUNNEL_APIS,
  TUNNEL_MESSAGE_NAMES,
  decodeTokenString,
  encodeTokenString,
  isStreamToken,
  tunnelMessages,
  tunnelSchema,
} from '../../lib/wire/tunnel-messages.js';
import type { MessageCodec, TunnelMessageName } from '../../lib/wire/tunnel-messages.js';
import { TUNNEL_PROTO_PACKAGE } from '../../lib/wire/tunnel-proto.js';
import { WireDecodeError } from '../../lib/wire/wire-error.js';
import { messageArbitrary, withoutField } from './proto-arbitraries.js';

const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');
const fromHex = (text: string): Uint8Array => new Uint8Array(Buffer.from(text.replace(/\s+/g, ''), 'hex'));
const codecOf = (name: TunnelMessageName): MessageCodec<unknown> => tunnelMessages[name] as MessageCodec<unknown>;
const typeOf = (name: string) => tunnelSchema.lookupType(`${TUNNEL_PROTO_PACKAGE}.${name}`);

describe('tunnel message catalogue', () => {
  it('has a codec for every message of the §2 schema and nothing else', () => {
    const declared = tunnelSchema.messageTypesIn(TUNNEL_PROTO_PACKAGE).map((t) => t.name);
    expect([...TUNNEL_MESSAGE_NAMES].sort()).toEqual([...declared].sort());
    expect(declared).toHaveLength(39);
  });

  it('maps every API to its path and message pair (§1)', () => {
    expect(TUNNEL_APIS.Heartbeat).toEqual({ path: '/tunnel/heartbeat', request: 'HeartbeatRequest', response: 'HeartbeatResponse', idempotent: false });
    expect(TUNNEL_APIS.ReadRecords.idempotent).toBe(true);
    expect(TUNNEL_APIS.GetRpoByOffset.request).toBe('GetRpoRequest');
    const paths = Object.values(TUNNEL_APIS).map((a) => a.path);
    expect(new Set(paths).size).toBe(paths.length);
    for (const apiDef of Object.values(TUNNEL_APIS)) {
      expect(TUNNEL_MESSAGE_NAMES).toContain(apiDef.request);
      expect(TUNNEL_MESSAGE_NAMES).toContain(apiDef.response);
    }
  });
});

describe('round trips', () => {
  it.each(TUNNEL_MESSAGE_NAMES)('%s: decode(encode(m)) equals m', (name) => {
    const codec = codecOf(name);
    fc.assert(
      fc.property(messageArbitrary(typeOf(name)), (message) => {
        expect(codec.decode(codec.encode(message))).toEqual({ _tag: 'Right', right: message });
      }),
      { numRuns: 60 },
    );
  });

  it('keeps int64 extremes, negatives and uint64 beyond int64', () => {
    const checkpoint = { tunnelId: 't', clientId: 'c', channelId: 'p_0', checkpoint: 'tok', sequenceNumber: INT64_MIN };
    expect(tunnelMessages.CheckpointRequest.decode(tunnelMessages.CheckpointRequest.encode(checkpoint))).toEqual({ _tag: 'Right', right: checkpoint });
    const config = { flag: 'EARLIEST' as const, startOffset: UINT64_MAX, endOffset: 2n ** 63n };
    expect(tunnelMessages.StreamTunnelConfig.decode(tunnelMessages.StreamTunnelConfig.encode(config))).toEqual({ _tag: 'Right', right: config });
    const info = { channelId: 'p_0', channelRpo: INT64_MAX, channelCount: -1n };
    expect(tunnelMessages.ChannelInfo.decode(tunnelMessages.ChannelInfo.encode(info))).toEqual({ _tag: 'Right', right: info });
  });

  it('decodeWithViews gives the same messages, with bytes as plain Uint8Array views into the input', () => {
    fc.assert(
      fc.property(messageArbitrary(typeOf('ReadRecordsResponse')), (message) => {
        const codec = tunnelMessages.ReadRecordsResponse;
        expect(codec.decodeWithViews(codec.encode(message as never))).toEqual({ _tag: 'Right', right: message });
      }),
      { numRuns: 60 },
    );
    const bytes = tunnelMessages.Record.encode({ actionType: 'PUT_ROW', record: new Uint8Array([0x75, 0, 0, 0]) });
    const decoded = tunnelMessages.Record.decodeWithViews(bytes);
    if (decoded._tag === 'Left') throw decoded.left;
    expect(Object.getPrototypeOf(decoded.right.record)).toBe(Uint8Array.prototype);
    expect(decoded.right.record.buffer).toBe(bytes.buffer);
    expect(tunnelMessages.Record.decodeWithViews(bytes.subarray(0, 3))._tag).toBe('Left');
  });

  it('decodes to plain Uint8Array copies that do not alias the input', () => {
    const bytes = tunnelMessages.Record.encode({ actionType: 'PUT_ROW', record: new Uint8Array([0x75, 0, 0, 0]) });
    const decoded = tunnelMessages.Record.decode(bytes);
    if (decoded._tag === 'Left') throw decoded.left;
    expect(Object.getPrototypeOf(decoded.right.record)).toBe(Uint8Array.prototype);
    bytes.fill(0);
    expect([...decoded.right.record]).toEqual([0x75, 0, 0, 0]);
  });
});

describe('exact wire bytes (hand-assembled, independent of protobufjs)', () => {
  it('Channel: field numbers, int64 varint, enum number', () => {
    // 0a 03 "a_b" | 10 01 (version 1) | 18 02 (CLOSING)
    const bytes = fromHex('0a03615f6210011802');
    expect(hex(tunnelMessages.Channel.encode({ channelId: 'a_b', version: 1n, status: 'CLOSING' }))).toBe(hex(bytes));
    expect(tunnelMessages.Channel.decode(bytes)).toEqual({ _tag: 'Right', right: { channelId: 'a_b', version: 1n, status: 'CLOSING' } });
  });

  it('GetCheckpointResponse: a negative int64 is a 10-byte varint', () => {
    const bytes = fromHex('0a0154 10 ffffffffffffffffff01');
    expect(hex(tunnelMessages.GetCheckpointResponse.encode({ checkpoint: 'T', sequenceNumber: -1n }))).toBe(hex(bytes));
    expect(tunnelMessages.GetCheckpointResponse.decode(bytes)).toEqual({ _tag: 'Right', right: { checkpoint: 'T', sequenceNumber: -1n } });
  });

  it('StreamTunnelConfig: camelCase-declared uint64 fields 2 and 3', () => {
    // startOffset = 2^64-1: nine 0xff then 0x01; endOffset = 300: ac 02
    const bytes = fromHex('08 01 10 ffffffffffffffffff01 18 ac02');
    const config = { flag: 'EARLIEST', startOffset: UINT64_MAX, endOffset: 300n } as const;
    expect(hex(tunnelMessages.StreamTunnelConfig.encode(config))).toBe(hex(bytes));
    expect(tunnelMessages.StreamTunnelConfig.decode(bytes)).toEqual({ _tag: 'Right', right: config });
  });

  it('ReadRecordsResponse: records with action numbers, next_token field 2, may_more_record field 3', () => {
    // 0a 07 [08 03 | 12 03 010203] | 12 08 "finished" | 18 01
    const bytes = fromHex('0a0708031203010203 1208' + Buffer.from('finished').toString('hex') + ' 1801');
    expect(tunnelMessages.ReadRecordsResponse.decode(bytes)).toEqual({
      _tag: 'Right',
      right: { records: [{ actionType: 'DELETE_ROW', record: new Uint8Array([1, 2, 3]) }], nextToken: FINISHED_TOKEN, mayMoreRecord: true },
    });
  });

  it('Tunnel skips field number 2 and ScheduleRequest uses 3 for channels', () => {
    expect(hex(tunnelMessages.Tunnel.encode({ tableName: 't', tunnelName: 'n', tunnelType: 'BaseAndStream' }))).toBe('0a01741a016e2003');
    expect(hex(tunnelMessages.ScheduleRequest.encode({ tunnelId: 'x', channels: [{ channelId: 'c', version: 0n, status: 'TERMINATED' }] }))).toBe(
      '0a01781a070a016310001804',
    );
  });

  it('an empty message encodes to zero bytes and decodes from them', () => {
    expect(tunnelMessages.ShutdownResponse.encode({})).toHaveLength(0);
    expect(tunnelMessages.CheckpointResponse.decode(new Uint8Array())).toEqual({ _tag: 'Right', right: {} });
    expect(tunnelMessages.HeartbeatResponse.decode(new Uint8Array())).toEqual({ _tag: 'Right', right: { channels: [] } });
  });

  it('skips unknown fields (forward compatibility)', () => {
    // ConnectResponse{client_id: "c"} + unknown field 9 (varint 5)
    expect(tunnelMessages.ConnectResponse.decode(fromHex('0a01634805'))).toEqual({ _tag: 'Right', right: { clientId: 'c' } });
  });
});

describe('required fields', () => {
  const withRequired = TUNNEL_MESSAGE_NAMES.flatMap((name) =>
    typeOf(name)
      .fieldsArray.filter((f) => f.required)
      .map((f) => [name, f.name, f.id] as const),
  );

  it('covers the required fields the brief names', () => {
    expect(withRequired).toContainEqual(['GetCheckpointResponse', 'sequence_number', 2]);
    expect(withRequired).toContainEqual(['ReadRecordsResponse', 'next_token', 2]);
    expect(withRequired.length).toBeGreaterThan(40);
  });

  it.each(withRequired)('%s without %s decodes to a Left naming the message and the field', (name, protoField, fieldNumber) => {
    const codec = codecOf(name);
    const camel = protoField.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());
    fc.assert(
      fc.property(messageArbitrary(typeOf(name)), (message) => {
        const result = codec.decode(withoutField(codec.encode(message), fieldNumber));
        expect(result._tag).toBe('Left');
        if (result._tag === 'Right') return;
        expect(result.left).toBeInstanceOf(WireDecodeError);
        expect(result.left.messageType).toBe(name);
        expect(result.left.issues).toContainEqual({ path: camel, problem: `missing required field '${protoField}' of ${name}` });
        expect(result.left.message).toContain(protoField);
      }),
      { numRuns: 10 },
    );
  });

  it('names nested paths and reports every missing field, not only the first', () => {
    // HeartbeatResponse{channels: [Channel{channel_id: "a"}]}: version and status missing
    const result = tunnelMessages.HeartbeatResponse.decode(fromHex('0a030a0161'));
    expect(result._tag).toBe('Left');
    if (result._tag === 'Right') return;
    expect(result.left.issues.map((i) => i.path)).toEqual(['channels.0.version', 'channels.0.status']);
  });

  it('an unknown enum number is a Left, not a number leaking through', () => {
    const result = tunnelMessages.Channel.decode(fromHex('0a016310011809'));
    expect(result._tag).toBe('Left');
    if (result._tag === 'Right') return;
    expect(result.left.issues).toEqual([{ path: 'status', problem: 'unknown ChannelStatus value 9' }]);
  });
});

describe('hostile input never throws', () => {
  it.each(TUNNEL_MESSAGE_NAMES)('%s: random bytes give an Either', (name) => {
    const codec = codecOf(name);
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 48 }), (bytes) => {
        const result = codec.decode(bytes);
        expect(['Left', 'Right']).toContain(result._tag);
        if (result._tag === 'Left') expect(result.left).toBeInstanceOf(WireDecodeError);
      }),
      { numRuns: 150 },
    );
  });

  it.each(TUNNEL_MESSAGE_NAMES)('%s: truncated or bit-flipped valid encodings give an Either', (name) => {
    const codec = codecOf(name);
    fc.assert(
      fc.property(messageArbitrary(typeOf(name)), fc.nat(), fc.nat({ max: 7 }), fc.boolean(), (message, at, bit, truncate) => {
        const bytes = new Uint8Array(codec.encode(message));
        if (bytes.length === 0) return;
        const index = at % bytes.length;
        const mutated = truncate ? bytes.subarray(0, index) : (bytes.set([(bytes[index] as number) ^ (1 << bit)], index), bytes);
        const result = codec.decode(mutated);
        expect(['Left', 'Right']).toContain(result._tag);
      }),
      { numRuns: 40 },
    );
  });

  it('a malformed buffer names the message and says why', () => {
    const result = tunnelMessages.ConnectResponse.decode(fromHex('0a05'));
    expect(result._tag).toBe('Left');
    if (result._tag === 'Right') return;
    expect(result.left.messageType).toBe('ConnectResponse');
    expect(result.left.issues[0]?.problem).toMatch(/^malformed protobuf/);
  });
});

describe('encoding is typed and strict (programmer errors throw)', () => {
  const encodeUntyped = (name: TunnelMessageName, value: unknown) => () => codecOf(name).encode(value);

  it('names every offending field', () => {
    expect(encodeUntyped('HeartbeatRequest', { tunnelId: 1, channels: [{ channelId: 'c', version: 1.5, status: 'OPEN' }] })).toThrow(
      /tunnelId: expected a string, got 1; clientId: missing required field 'client_id'; channels\.0\.version: expected a int64 bigint/,
    );
  });

  it('refuses values outside the 64-bit range and unknown enum names', () => {
    expect(encodeUntyped('Channel', { channelId: 'c', version: INT64_MAX + 1n, status: 'OPEN' })).toThrow(/version: expected a value in int64 range/);
    expect(encodeUntyped('StreamTunnelConfig', { startOffset: -1n })).toThrow(/startOffset: expected a value in uint64 range/);
    expect(encodeUntyped('Channel', { channelId: 'c', version: 1n, status: 'WAIT' })).toThrow(/status: expected one of OPEN\|CLOSING\|CLOSE\|TERMINATED/);
  });

  it('refuses misspelt fields instead of silently dropping them', () => {
    expect(encodeUntyped('ConnectResponse', { clientId: 'c', client_id: 'c' })).toThrow(/client_id: no such field in ConnectResponse/);
  });

  it('accepts safe-integer numbers for 64-bit fields and known numbers for enums', () => {
    const bytes = codecOf('Channel').encode({ channelId: 'c', version: 7, status: 2 });
    expect(tunnelMessages.Channel.decode(bytes)).toEqual({ _tag: 'Right', right: { channelId: 'c', version: 7n, status: 'CLOSING' } });
  });
});

describe('tokens (§5.2)', () => {
  const contentV2 = fc.record(
    {
      primaryKey: fc.uint8Array({ maxLength: 16 }),
      iterator: fc.string({ maxLength: 12 }),
      timestamp: fc.bigInt(INT64_MIN, INT64_MAX),
      totalCount: fc.bigInt(0n, INT64_MAX),
    },
    { requiredKeys: [] },
  );

  it('round-trip through padded standard base64 for versions 1 and 2', () => {
    fc.assert(
      fc.property(contentV2, fc.boolean(), (content, v1) => {
        const { totalCount, ...v1Content } = content;
        const token = v1 ? { version: 1n as const, content: v1Content } : { version: 2n as const, content };
        void totalCount;
        const text = encodeTokenString(token);
        expect(text).toMatch(/^[A-Za-z0-9+/]+={0,2}$/);
        expect(text.length % 4).toBe(0);
        expect(decodeTokenString(text)).toEqual({ _tag: 'Right', right: token });
        expect(isStreamToken(text)).toBe((content.iterator ?? '') !== '');
      }),
      { numRuns: 200 },
    );
  });

  it('reads a hand-made token: Token{version 2, content: TokenContentV2{iterator "s:0:5"}}', () => {
    const content = Buffer.concat([Buffer.from([0x12, 5]), Buffer.from('s:0:5')]);
    const token = Buffer.concat([Buffer.from([0x08, 0x02, 0x12, content.length]), content]).toString('base64');
    expect(decodeTokenString(token)).toEqual({ _tag: 'Right', right: { version: 2n, content: { iterator: 's:0:5' } } });
    expect(isStreamToken(token)).toBe(true);
  });

  it('finished, garbage, unpadded base64 and unknown versions are Lefts and not stream tokens', () => {
    for (const text of [FINISHED_TOKEN, '', '!!!!', 'CAI', Buffer.from([0x08, 0x07, 0x12, 0x00]).toString('base64')]) {
      expect(decodeTokenString(text)._tag).toBe('Left');
      expect(isStreamToken(text)).toBe(false);
    }
    fc.assert(fc.property(fc.string(), (text) => void decodeTokenString(text)));
  });

  it('a version 1 token cannot carry totalCount', () => {
    expect(() => encodeTokenString({ version: 1n, content: { totalCount: 1n } })).toThrow(TypeError);
  });
});
