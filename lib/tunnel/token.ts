/**
 * The one thing a client reads from a token (tunnel-protocol.md §5.2): a stream channel's token
 * carries a non-empty iterator. Anything that does not parse (including `finished`) counts as
 * base data, as in the Java client; stream-ness only picks the read backoff.
 */
import protobuf from 'protobufjs';

function iteratorOf(content: Uint8Array): string | undefined {
  const reader = protobuf.Reader.create(content);
  let iterator: string | undefined;
  while (reader.pos < reader.len) {
    const tag = reader.uint32();
    if (tag >>> 3 === 2 && (tag & 7) === 2) iterator = reader.string();
    else reader.skipType(tag & 7);
  }
  return iterator;
}

export function isStreamToken(token: string): boolean {
  try {
    const reader = protobuf.Reader.create(Buffer.from(token, 'base64'));
    let content: Uint8Array | undefined;
    while (reader.pos < reader.len) {
      const tag = reader.uint32();
      if (tag >>> 3 === 2 && (tag & 7) === 2) content = reader.bytes();
      else reader.skipType(tag & 7);
    }
    return content !== undefined && (iteratorOf(content) ?? '').length > 0;
  } catch {
    return false;
  }
}
