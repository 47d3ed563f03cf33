export type PlainBufferErrorCode =
  | 'TRUNCATED'
  | 'BAD_HEADER'
  | 'UNEXPECTED_TAG'
  | 'CELL_CRC'
  | 'ROW_CRC'
  | 'INVALID_VALUE'
  | 'INVALID_CELL'
  | 'TRAILING_BYTES';

/**
 * Why a PlainBuffer could not be decoded: `offset` is the byte position where decoding stopped,
 * `expected` says what should have been there ("TAG_CELL_NAME (0x04)", "cell CRC 0x19", …).
 */
export class PlainBufferError extends Error {
  readonly code: PlainBufferErrorCode;
  readonly offset: number;
  readonly expected: string;

  constructor(code: PlainBufferErrorCode, offset: number, expected: string, found?: string) {
    // The bytes are at fault, not the call path: without a stack trace, rejecting garbage
    // costs about half as much (a corrupt stream can produce many of these).
    const stackTraceLimit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    super(`PlainBuffer ${code} at byte ${offset}: expected ${expected}${found === undefined ? '' : `, found ${found}`}`);
    Error.stackTraceLimit = stackTraceLimit;
    this.name = 'PlainBufferError';
    this.code = code;
    this.offset = offset;
    this.expected = expected;
  }
}
