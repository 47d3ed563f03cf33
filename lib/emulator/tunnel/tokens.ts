/**
 * Channel tokens as this service writes them: base64 of a protobuf `Token{version: 2, content:
 * TokenContentV2}` (tunnel-protocol.md §5.2). Clients look only at `iterator` (non-empty ⇔
 * stream channel); everything else is ours:
 *   base    primary_key = PlainBuffer key to resume from (empty = the channel's range start)
 *   stream  iterator    = `<streamId>:<partition>:<seq>`, the next log position to read
 *   both    total_count = records delivered up to the token; timestamp = µs of that data
 */
import * as E from 'fp-ts/lib/Either.js';
import { decodeTokenString, encodeTokenString } from '../../wire/tunnel-messages.js';
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

export const encodeChannelToken = (token: ChannelToken): string => {
  switch (token.kind) {
    case 'finished':
      return FINISHED;
    case 'base':
      return encodeTokenString({
        version: 2n,
        content: { primaryKey: token.startPk, timestamp: BigInt(token.timestampUs), totalCount: BigInt(token.count) },
      });
    case 'stream':
      return encodeTokenString({
        version: 2n,
        content: {
          iterator: `${token.streamId}:${token.partition}:${token.seq}`,
          timestamp: BigInt(token.timestampUs),
          totalCount: BigInt(token.count),
        },
      });
  }
};

const ITERATOR = /^(.+):(\d+):(\d+)$/;

/** Reads a token this service issued; anything else is an error naming what is wrong. */
export const decodeChannelToken = (token: string): E.Either<string, ChannelToken> => {
  if (token === FINISHED) return E.right({ kind: 'finished' });
  const decoded = decodeTokenString(token);
  if (E.isLeft(decoded)) return E.left(decoded.left.message);
  const { content } = decoded.right;
  const count = Number(content.totalCount ?? 0n);
  const timestampUs = Number(content.timestamp ?? 0n);
  if (content.iterator !== undefined && content.iterator !== '') {
    const match = ITERATOR.exec(content.iterator);
    if (match === null) return E.left(`malformed stream iterator '${content.iterator}'`);
    return E.right({ kind: 'stream', streamId: match[1]!, partition: Number(match[2]), seq: Number(match[3]), count, timestampUs });
  }
  return E.right({ kind: 'base', startPk: content.primaryKey ?? new Uint8Array(0), count, timestampUs });
};
