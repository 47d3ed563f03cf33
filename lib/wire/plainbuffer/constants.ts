/** PlainBuffer wire constants (tunnel-protocol.md §6.2; identical in the Node, Java and Go SDKs). */
export const HEADER = 0x75;

export const TAG_ROW_PK = 0x01;
export const TAG_ROW_DATA = 0x02;
export const TAG_CELL = 0x03;
export const TAG_CELL_NAME = 0x04;
export const TAG_CELL_VALUE = 0x05;
export const TAG_CELL_TYPE = 0x06;
export const TAG_CELL_TIMESTAMP = 0x07;
export const TAG_DELETE_ROW_MARKER = 0x08;
export const TAG_ROW_CHECKSUM = 0x09;
export const TAG_CELL_CHECKSUM = 0x0a;
export const TAG_EXTENSION = 0x0b;
export const TAG_SEQ_INFO = 0x0c;
export const TAG_SEQ_INFO_EPOCH = 0x0d;
export const TAG_SEQ_INFO_TS = 0x0e;
export const TAG_SEQ_INFO_ROW_INDEX = 0x0f;

export const CELL_DELETE_ALL_VERSION = 0x01;
export const CELL_DELETE_ONE_VERSION = 0x03;
export const CELL_INCREMENT = 0x04;

export const VT_INTEGER = 0x00;
export const VT_DOUBLE = 0x01;
export const VT_BOOLEAN = 0x02;
export const VT_STRING = 0x03;
export const VT_BLOB = 0x07;
export const VT_INF_MIN = 0x09;
export const VT_INF_MAX = 0x0a;
export const VT_AUTO_INCREMENT = 0x0b;

const TAG_NAMES: readonly string[] = [
  'NONE',
  'TAG_ROW_PK',
  'TAG_ROW_DATA',
  'TAG_CELL',
  'TAG_CELL_NAME',
  'TAG_CELL_VALUE',
  'TAG_CELL_TYPE',
  'TAG_CELL_TIMESTAMP',
  'TAG_DELETE_ROW_MARKER',
  'TAG_ROW_CHECKSUM',
  'TAG_CELL_CHECKSUM',
  'TAG_EXTENSION',
  'TAG_SEQ_INFO',
  'TAG_SEQ_INFO_EPOCH',
  'TAG_SEQ_INFO_TS',
  'TAG_SEQ_INFO_ROW_INDEX',
];

export function hex2(byte: number): string {
  return '0x' + byte.toString(16).padStart(2, '0').toUpperCase();
}

/** "TAG_CELL_NAME (0x04)" — how error messages name a tag. */
export function describeTag(tag: number): string {
  const name = TAG_NAMES[tag];
  return name !== undefined && tag !== 0 ? `${name} (${hex2(tag)})` : `unknown tag ${hex2(tag)}`;
}
