/**
 * fast-check arbitraries for protobuf messages, derived from protobufjs reflection so every
 * message of a schema can be generated: surfaced shapes (camelCase, bigint, enum names,
 * Uint8Array), optional fields sometimes absent, repeated fields always present. 64-bit fields
 * favour the extremes.
 */
import fc from 'fast-check';
import protobuf from 'protobufjs';
import { INT64_MAX, INT64_MIN, UINT64_MAX } from '../../lib/wire/int64.js';

const int64 = fc.oneof(fc.constantFrom(INT64_MIN, INT64_MAX, -1n, 0n, 1n, 2n ** 53n + 1n), fc.bigInt(INT64_MIN, INT64_MAX));
const uint64 = fc.oneof(fc.constantFrom(0n, UINT64_MAX, INT64_MAX, 2n ** 63n, 1_700_000_000_000_000_000n), fc.bigInt(0n, UINT64_MAX));
const int32 = fc.oneof(fc.constantFrom(-(2 ** 31), 2 ** 31 - 1, 0, -1), fc.integer());
const uint32 = fc.oneof(fc.constantFrom(0, 2 ** 32 - 1), fc.nat({ max: 2 ** 32 - 1 }));

function scalar(type: string): fc.Arbitrary<unknown> {
  switch (type) {
    case 'int64':
    case 'sint64':
    case 'sfixed64':
      return int64;
    case 'uint64':
    case 'fixed64':
      return uint64;
    case 'int32':
    case 'sint32':
    case 'sfixed32':
      return int32;
    case 'uint32':
    case 'fixed32':
      return uint32;
    case 'double':
      return fc.double({ noNaN: true });
    case 'float':
      return fc.float({ noNaN: true, noDefaultInfinity: true }).map((f) => Math.fround(f));
    case 'bool':
      return fc.boolean();
    case 'string':
      return fc.string({ unit: 'binary', maxLength: 24 });
    case 'bytes':
      return fc.uint8Array({ maxLength: 32 });
    default:
      throw new Error(`no arbitrary for ${type}`);
  }
}

const cache = new Map<protobuf.Type, fc.Arbitrary<Record<string, unknown>>>();

export function messageArbitrary(type: protobuf.Type, depth = 0): fc.Arbitrary<Record<string, unknown>> {
  const cached = cache.get(type);
  if (cached !== undefined && depth === 0) return cached;
  type.resolveAll();
  const model: Record<string, fc.Arbitrary<unknown>> = {};
  const requiredKeys: string[] = [];
  for (const field of type.fieldsArray) {
    field.resolve();
    const name = protobuf.util.camelCase(field.name);
    const resolved = field.resolvedType;
    let arb: fc.Arbitrary<unknown>;
    if (resolved instanceof protobuf.Enum) arb = fc.constantFrom(...Object.keys(resolved.values));
    else if (resolved instanceof protobuf.Type) {
      if (depth > 3) {
        if (field.required) throw new Error(`recursion too deep at ${type.name}.${field.name}`);
        continue;
      }
      arb = messageArbitrary(resolved, depth + 1);
    } else arb = scalar(field.type);
    if (field.repeated) {
      model[name] = fc.array(arb, { maxLength: depth > 1 ? 1 : 3 });
      requiredKeys.push(name);
    } else {
      model[name] = arb;
      if (field.required) requiredKeys.push(name);
    }
  }
  const arbitrary = fc.record(model, { requiredKeys });
  if (depth === 0) cache.set(type, arbitrary);
  return arbitrary;
}

/** The bytes of an encoded message with every occurrence of one field removed (independent of our codec). */
export function withoutField(bytes: Uint8Array, fieldNumber: number): Uint8Array {
  const reader = protobuf.Reader.create(bytes);
  const kept: Uint8Array[] = [];
  while (reader.pos < reader.len) {
    const start = reader.pos;
    const tag = reader.uint32();
    reader.skipType(tag & 7);
    if (tag >>> 3 !== fieldNumber) kept.push(bytes.subarray(start, reader.pos));
  }
  return Buffer.concat(kept);
}
