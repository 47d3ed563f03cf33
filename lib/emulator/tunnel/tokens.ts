/**
 * Channel tokens as this service writes them: base64 of a protobuf `Token{version: 2, content:
 * TokenContentV2}` (tunnel-protocol.md §5.2). Clients look only at `iterator` (non-empty ⇔
 * stream channel); everything else is ours:
 *   base    primary_key = PlainBuffer key to resume from (empty = the channel's range start)
 *   stream  iterator    = `<streamId>:<partition>:<seq>`, the next log position to read
 *   both    total_count = records delivered up to the token; timestamp = µs of that data
 */
import * as E from 'fp-ts/lib/Either.js';
import protobuf from 'protobufjs';
import { FINISHED } from './state.js';

export type ChannelToken =
  | { readonly kind: 'finished' }
  | { readonly kind: 'base'; readonly startPk: Uint8Array; readonly count: number; readonly timestampUs: number }
  | {
      readonly kind: 'stream';
      readonly streamId: string;
      readonly partition: number;
      readonly seq: number;
      readonly count: number;
      readonly timestampUs: number;
    };

interface TokenContent {
  readonly primaryKey?: Uint8Array;
  readonly iterator?: string;
  readonly timestamp?: bigint;
  readonly totalCount?: bigint;
}

const TOKEN_VERSION = 2;

const encodeContent = (content: TokenContent): Uint8Array => {
  const writer = protobuf.Writer.create();
  if (content.primaryKey !== undefined) writer.uint32(10).bytes(content.primaryKey);
  if (content.iterator !== undefined) writer.uint32(18).string(content.iterator);
  if (content.timestamp !== undefined) writer.uint32(24).int64(content.timestamp.toString());
  if (content.totalCount !== undefined) writer.uint32(32).int64(content.totalCount.toString());
  return writer.finish();
};

const encodeTokenString = (content: TokenContent): string => {
  const bytes = protobuf.Writer.create().uint32(8).int64(TOKEN_VERSION).uint32(18).bytes(encodeContent(content)).finish();
  return Buffer.from(bytes).toString('base64');
};

const readInt64 = (reader: protobuf.Reader): bigint => {
  const value = reader.int64() as unknown as { low: number; high: number } | number;
  if (typeof value === 'number') return BigInt(value);
  return (BigInt(value.high) << 32n) | BigInt(value.low >>> 0);
};

/** Throws protobufjs errors on malformed input; the caller turns them into a value. */
const decodeTokenString = (token: string): { version: bigint; content: TokenContent } => {
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(token)) throw new Error('not base64');
  const outer = protobuf.Reader.create(Buffer.from(token, 'base64'));
  let version: bigint | undefined;
  let contentBytes: Uint8Array | undefined;
  while (outer.pos < outer.len) {
    const tag = outer.uint32();
    if (tag === 8) version = readInt64(outer);
    else if (tag === 18) contentBytes = outer.bytes();
    else outer.skipType(tag & 7);
  }
  if (version === undefined || contentBytes === undefined) throw new Error('Token.version and Token.content are required');
  const inner = protobuf.Reader.create(contentBytes);
  const content: { -readonly [K in keyof TokenContent]: TokenContent[K] } = {};
  while (inner.pos < inner.len) {
    const tag = inner.uint32();
    if (tag === 10) content.primaryKey = inner.bytes();
    else if (tag === 18) content.iterator = inner.string();
    else if (tag === 24) content.timestamp = readInt64(inner);
    else if (tag === 32) content.totalCount = readInt64(inner);
    else inner.skipType(tag & 7);
  }
  return { version, content };
};

export const encodeChannelToken = (token: ChannelToken): string => {
  switch (token.kind) {
    case 'finished':
      return FINISHED;
    case 'base':
      return encodeTokenString({
        primaryKey: token.startPk,
        timestamp: BigInt(token.timestampUs),
        totalCount: BigInt(token.count),
      });
    case 'stream':
      return encodeTokenString({
        iterator: `${token.streamId}:${token.partition}:${token.seq}`,
        timestamp: BigInt(token.timestampUs),
        totalCount: BigInt(token.count),
      });
  }
};

const ITERATOR = /^(.+):(\d+):(\d+)$/;

/** Reads a token this service issued; anything else is an error naming what is wrong. */
export const decodeChannelToken = (token: string): E.Either<string, ChannelToken> => {
  if (token === FINISHED) return E.right({ kind: 'finished' });
  let decoded: ReturnType<typeof decodeTokenString>;
  try {
    decoded = decodeTokenString(token);
  } catch (error) {
    return E.left(`not a Token (${(error as Error).message})`);
  }
  if (decoded.version !== BigInt(TOKEN_VERSION)) return E.left(`unsupported token version ${decoded.version}`);
  const { content } = decoded;
  const count = Number(content.totalCount ?? 0n);
  const timestampUs = Number(content.timestamp ?? 0n);
  if (content.iterator !== undefined && content.iterator !== '') {
    const match = ITERATOR.exec(content.iterator);
    if (match === null) return E.left(`malformed stream iterator '${content.iterator}'`);
    return E.right({ kind: 'stream', streamId: match[1]!, partition: Number(match[2]), seq: Number(match[3]), count, timestampUs });
  }
  return E.right({ kind: 'base', startPk: content.primaryKey ?? new Uint8Array(0), count, timestampUs });
};
