/**
 * Which stream partition a row belongs to: a hash of its first primary-key column (the
 * partition key, as in the service), so every change of one row — and of every row sharing a
 * partition key — lands in one partition, where order is kept.
 */
import type { PrimaryKeyCell } from '../../wire/types.js';

const textEncoder = new TextEncoder();
const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;

const fnv1a = (hash: number, bytes: Uint8Array): number => {
  let h = hash;
  for (let i = 0; i < bytes.length; i++) {
    h ^= bytes[i]!;
    h = Math.imul(h, FNV_PRIME);
  }
  return h >>> 0;
};

const int64Bytes = new Uint8Array(8);
const int64View = new DataView(int64Bytes.buffer);

/** FNV-1a over a type tag and the value's bytes (INTEGER as 8 little-endian bytes). */
export const partitionKeyHash = (cell: PrimaryKeyCell): number => {
  const value = cell.value;
  if (typeof value === 'bigint') {
    int64View.setBigInt64(0, value, true);
    return fnv1a(fnv1a(FNV_OFFSET, Uint8Array.of(0)), int64Bytes);
  }
  if (typeof value === 'string') return fnv1a(fnv1a(FNV_OFFSET, Uint8Array.of(3)), textEncoder.encode(value));
  if (value instanceof Uint8Array) return fnv1a(fnv1a(FNV_OFFSET, Uint8Array.of(7)), value);
  throw new Error(`partitionKeyHash: ${value.kind} is not a stored primary-key value`);
};

export const partitionOf = (primaryKey: readonly PrimaryKeyCell[], partitions: number): number => {
  const first = primaryKey[0];
  if (first === undefined) throw new Error('partitionOf: a row without primary key');
  return partitionKeyHash(first) % partitions;
};
