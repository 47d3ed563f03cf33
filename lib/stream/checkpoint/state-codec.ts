/**
 * Operator state → JSON and back, faithfully: bigint, Map, Set, Uint8Array, NaN, ±Infinity, -0
 * and undefined survive a round trip, which plain JSON would turn into errors, `{}` or null.
 *
 * Tagged forms are objects with exactly one key: `{"$bigint": "12"}`, `{"$map": [[k, v], …]}`,
 * `{"$set": […]}`, `{"$bytes": "<base64>"}`, `{"$number": "NaN"}`, `{"$undefined": 0}`. Keys of
 * plain objects that start with `$` are written with one more `$`, so no plain object reads back
 * as a tag. Anything else (functions, symbols, class instances) is a programmer error.
 */
import type { JsonValue } from '../source.js';

export function encodeState(value: unknown): JsonValue {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return value;
    case 'number':
      if (Number.isNaN(value)) return { $number: 'NaN' };
      if (value === Number.POSITIVE_INFINITY) return { $number: 'Infinity' };
      if (value === Number.NEGATIVE_INFINITY) return { $number: '-Infinity' };
      if (Object.is(value, -0)) return { $number: '-0' };
      return value;
    case 'bigint':
      return { $bigint: value.toString() };
    case 'undefined':
      return { $undefined: 0 };
    case 'object': {
      if (value === null) return null;
      if (Array.isArray(value)) return value.map(encodeState);
      if (value instanceof Map) return { $map: [...value].map(([k, v]) => [encodeState(k), encodeState(v)]) };
      if (value instanceof Set) return { $set: [...value].map(encodeState) };
      if (value instanceof Uint8Array) return { $bytes: Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64') };
      if (value instanceof Float64Array) return { $f64: [...value].map(encodeState) };
      const prototype = Object.getPrototypeOf(value) as unknown;
      if (prototype !== Object.prototype && prototype !== null) {
        throw new TypeError(`state cannot persist an instance of ${(value as object).constructor?.name ?? 'a class'}; use plain objects, arrays, Map, Set, bigint or Uint8Array`);
      }
      const out: Record<string, JsonValue> = {};
      for (const [key, entry] of Object.entries(value)) setOwn(out, key.startsWith('$') ? `$${key}` : key, encodeState(entry));
      return out;
    }
    default:
      throw new TypeError(`state cannot persist a ${typeof value}`);
  }
}

export function decodeState(json: JsonValue): unknown {
  if (json === null || typeof json !== 'object') return json;
  if (Array.isArray(json)) return json.map(decodeState);
  const keys = Object.keys(json);
  const object = json as { readonly [key: string]: JsonValue };
  if (keys.length === 1) {
    const tag = keys[0] as string;
    const body = object[tag] as JsonValue;
    switch (tag) {
      case '$bigint':
        return BigInt(body as string);
      case '$number':
        return body === '-0' ? -0 : Number(body);
      case '$undefined':
        return undefined;
      case '$map':
        return new Map((body as readonly (readonly [JsonValue, JsonValue])[]).map(([k, v]) => [decodeState(k), decodeState(v)]));
      case '$set':
        return new Set((body as readonly JsonValue[]).map(decodeState));
      case '$bytes':
        return new Uint8Array(Buffer.from(body as string, 'base64'));
      case '$f64':
        return Float64Array.from((body as readonly JsonValue[]).map((entry) => decodeState(entry) as number));
      default:
        break;
    }
  }
  const out: Record<string, unknown> = {};
  for (const key of keys) setOwn(out, key.startsWith('$$') ? key.slice(1) : key, decodeState(object[key] as JsonValue));
  return out;
}

/** Assigns an own property even for the key `__proto__`. */
function setOwn(target: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}
