/**
 * Typed encode/decode over protobufjs reflection (proto2), shared by the tunnel and table schemas.
 *
 * Surface conventions (the same for every message):
 * - field names are camelCase (protobufjs default: `tunnel_id` → `tunnelId`);
 * - 64-bit integers are `bigint` both ways (encode also takes a safe-integer `number`);
 * - enums are their **names** (`'OPEN'`, `'BaseAndStream'`), like the JSON side and the string
 *   enums of TunnelInfo/ChannelInfo; encode also takes a known number, decode never yields one;
 * - `bytes` are `Uint8Array` (decode copies, so results never alias the input; decodeWithViews
 *   does not copy);
 * - an absent optional field is an absent property (proto2 "has" semantics, no defaults filled in);
 *   a repeated field always decodes to an array (possibly empty).
 *
 * Decoding never throws: malformed bytes, every missing `required` field (with its path, not just
 * the first one protobufjs would report) and unknown enum numbers come back as a `WireDecodeError`.
 * Encoding a message that breaks the schema is a programmer error and throws a TypeError naming
 * every offending field.
 */
import { left, right } from 'fp-ts/lib/Either.js';
import type { Either } from 'fp-ts/lib/Either.js';
import { Buffer } from 'node:buffer';
import protobuf from 'protobufjs';
import { bigIntToLong, isLongBits, longToBigInt } from './int64.js';
import { WireDecodeError } from './wire-error.js';
import type { WireIssue } from './wire-error.js';

export interface MessageCodec<T> {
  /** short protobuf name, e.g. `HeartbeatRequest` */
  readonly typeName: string;
  encode(message: T): Uint8Array;
  decode(bytes: Uint8Array): Either<WireDecodeError, T>;
  /**
   * Like decode, but `bytes` fields are Uint8Array views into `bytes` instead of copies: for a
   * buffer the caller owns and will not change, such as a response body. Saves an allocation
   * per field, which for ReadRecordsResponse is one per record.
   */
  decodeWithViews(bytes: Uint8Array): Either<WireDecodeError, T>;
}

type ScalarKind = 'int32' | 'uint32' | 'float' | 'bool' | 'string';
type FieldKind = ScalarKind | 'int64' | 'uint64' | 'bytes' | 'enum' | 'message';

interface FieldPlan {
  /** the surfaced (camelCase) name */
  readonly name: string;
  /** the declared name, which is also the property name protobufjs uses (schemas parsed with keepCase) */
  readonly protoName: string;
  readonly kind: FieldKind;
  readonly repeated: boolean;
  readonly required: boolean;
  readonly enumType?: protobuf.Enum;
  readonly messageType?: protobuf.Type;
}

interface MessagePlan {
  readonly typeName: string;
  readonly strict: protobuf.Type;
  /** same message with every `required` relaxed, so decode reports all missing fields itself */
  readonly relaxed: protobuf.Type;
  readonly fields: readonly FieldPlan[];
  readonly fieldNames: ReadonlySet<string>;
  /** the conversions of this message, compiled on first use (see compileConversions) */
  conversions?: Conversions;
}

/** A message's own fields converted; `issues` undefined = the fast run (see decodeWith). */
interface Conversions {
  readonly toWire: (input: Record<string, unknown>, path: string, issues: WireIssue[] | undefined) => Record<string, unknown>;
  readonly fromWire: (wire: Record<string, unknown>, copyBytes: boolean, path: string, issues: WireIssue[] | undefined) => Record<string, unknown>;
}

const SCALAR_KINDS: Readonly<Record<string, FieldKind>> = {
  int32: 'int32',
  sint32: 'int32',
  sfixed32: 'int32',
  uint32: 'uint32',
  fixed32: 'uint32',
  double: 'float',
  float: 'float',
  bool: 'bool',
  string: 'string',
  bytes: 'bytes',
  int64: 'int64',
  sint64: 'int64',
  sfixed64: 'int64',
  uint64: 'uint64',
  fixed64: 'uint64',
};

const PARSE_OPTIONS: protobuf.IParseOptions = { keepCase: true };

const hasOwn = (object: object, key: string): boolean => Object.prototype.hasOwnProperty.call(object, key);
const join = (path: string, key: string | number): string => (path === '' ? String(key) : `${path}.${key}`);

/**
 * A parsed proto2 schema. `strictRoot` and `relaxedRoot` must come from the same source; use
 * `ProtoSchema.fromText` or `ProtoSchema.fromFiles`.
 */
export class ProtoSchema {
  private readonly plans = new Map<protobuf.Type, MessagePlan>();

  private constructor(
    private readonly strictRoot: protobuf.Root,
    private readonly relaxedRoot: protobuf.Root,
  ) {}

  static fromText(schemaText: string): ProtoSchema {
    return ProtoSchema.fromTexts([schemaText]);
  }

  /** Several .proto sources (already read) that together form one root, e.g. a schema plus its filter file. */
  static fromTexts(schemaTexts: readonly string[]): ProtoSchema {
    const strict = new protobuf.Root();
    const relaxed = new protobuf.Root();
    for (const text of schemaTexts) {
      protobuf.parse(text, strict, PARSE_OPTIONS);
      protobuf.parse(relaxRequired(text), relaxed, PARSE_OPTIONS);
    }
    return new ProtoSchema(strict, relaxed);
  }

  /** The reflection type, for callers that need protobufjs directly (e.g. the SDK's own names). */
  lookupType(fullName: string): protobuf.Type {
    return this.strictRoot.lookupType(fullName);
  }

  /** Every message type declared directly in a package, e.g. `protocol`. */
  messageTypesIn(packageName: string): readonly protobuf.Type[] {
    return this.strictRoot.lookup(packageName) instanceof protobuf.Namespace
      ? (this.strictRoot.lookup(packageName) as protobuf.Namespace).nestedArray.filter((n): n is protobuf.Type => n instanceof protobuf.Type)
      : [];
  }

  /** A codec for one message; throws if the name is not in the schema (programmer error). */
  codec<T>(fullName: string): MessageCodec<T> {
    const plan = this.planFor(this.strictRoot.lookupType(fullName));
    return {
      typeName: plan.typeName,
      encode: (message: T): Uint8Array => encodeWith(this, plan, message),
      decode: (bytes: Uint8Array): Either<WireDecodeError, T> => decodeWith<T>(this, plan, bytes, true),
      // a plain Uint8Array input makes protobufjs hand out plain Uint8Array views, not Buffers
      decodeWithViews: (bytes: Uint8Array): Either<WireDecodeError, T> =>
        decodeWith<T>(this, plan, Buffer.isBuffer(bytes) ? new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength) : bytes, false),
    };
  }

  /** @internal */
  planFor(type: protobuf.Type): MessagePlan {
    const cached = this.plans.get(type);
    if (cached !== undefined) return cached;
    type.resolveAll();
    const fields = type.fieldsArray.map((field): FieldPlan => {
      if (field.map) throw new TypeError(`${type.fullName}.${field.name}: map fields are not supported`);
      field.resolve();
      const resolved = field.resolvedType;
      const base = { name: protobuf.util.camelCase(field.name), protoName: field.name, repeated: field.repeated, required: field.required };
      if (resolved instanceof protobuf.Enum) return { ...base, kind: 'enum', enumType: resolved };
      if (resolved instanceof protobuf.Type) return { ...base, kind: 'message', messageType: resolved };
      const kind = SCALAR_KINDS[field.type];
      if (kind === undefined) throw new TypeError(`${type.fullName}.${field.name}: unsupported field type ${field.type}`);
      return { ...base, kind };
    });
    const plan: MessagePlan = {
      typeName: type.name,
      strict: type,
      relaxed: this.relaxedRoot.lookupType(type.fullName),
      fields,
      fieldNames: new Set(fields.map((f) => f.name)),
    };
    this.plans.set(type, plan);
    return plan;
  }
}

function relaxRequired(schemaText: string): string {
  return schemaText.replace(/\brequired\b/g, 'optional');
}


// ---------------------------------------------------------------------------------------------
// decode
//
// Conversions run twice only when something is wrong: first without building field paths (a
// string per field and per array item was most of the cost of big messages), and again with
// paths to report every problem where it is. `issues` undefined means the first run; it just
// notes that a problem exists. Loops instead of map(): no closure per call.

/** Set by a conversion run without `issues` when it saw a problem. */
let problemSeen = false;

function decodeWith<T>(schema: ProtoSchema, plan: MessagePlan, bytes: Uint8Array, copyBytes: boolean): Either<WireDecodeError, T> {
  let wire: protobuf.Message;
  try {
    wire = plan.relaxed.decode(bytes);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    return left(new WireDecodeError(plan.typeName, [{ path: '', problem: `malformed protobuf (${reason})` }]));
  }
  problemSeen = false;
  const value = fromWire(schema, plan, wire as unknown as Record<string, unknown>, copyBytes, '', undefined);
  if (!problemSeen) return right(value as T);
  const issues: WireIssue[] = [];
  fromWire(schema, plan, wire as unknown as Record<string, unknown>, copyBytes, '', issues);
  return left(new WireDecodeError(plan.typeName, issues));
}

function fromWire(
  schema: ProtoSchema,
  plan: MessagePlan,
  wire: Record<string, unknown>,
  copyBytes: boolean,
  path: string,
  issues: WireIssue[] | undefined,
): Record<string, unknown> {
  return conversionsOf(schema, plan).fromWire(wire, copyBytes, path, issues);
}

function fieldFromWire(
  schema: ProtoSchema,
  field: FieldPlan,
  value: unknown,
  copyBytes: boolean,
  path: string,
  issues: WireIssue[] | undefined,
): unknown {
  switch (field.kind) {
    case 'int64':
    case 'uint64':
      return isLongBits(value) || typeof value === 'number' ? longToBigInt(value, field.kind === 'uint64') : value;
    case 'bytes':
      // protobufjs gives a Buffer for an empty field even when it reads a plain Uint8Array
      return copyBytes || (value as Uint8Array).length === 0 ? new Uint8Array(value as Uint8Array) : value;
    case 'enum': {
      const name = (field.enumType as protobuf.Enum).valuesById[value as number];
      if (name === undefined) {
        if (issues === undefined) problemSeen = true;
        else issues.push({ path, problem: `unknown ${(field.enumType as protobuf.Enum).name} value ${String(value)}` });
      }
      return name;
    }
    case 'message': {
      const nested = schema.planFor(field.messageType as protobuf.Type);
      return fromWire(schema, nested, value as Record<string, unknown>, copyBytes, path, issues);
    }
    default:
      return value;
  }
}

// ---------------------------------------------------------------------------------------------
// encode

function encodeWith(schema: ProtoSchema, plan: MessagePlan, message: unknown): Uint8Array {
  problemSeen = false;
  const wire = toWire(schema, plan, message, '', undefined);
  if (problemSeen) {
    const issues: WireIssue[] = [];
    toWire(schema, plan, message, '', issues);
    throw new TypeError(`cannot encode ${plan.typeName}: ${issues.map((i) => `${i.path === '' ? '(message)' : i.path}: ${i.problem}`).join('; ')}`);
  }
  return plan.strict.encode(wire).finish();
}

function noteIssue(issues: WireIssue[] | undefined, path: string, problem: string): void {
  if (issues === undefined) problemSeen = true;
  else issues.push({ path, problem });
}

function toWire(schema: ProtoSchema, plan: MessagePlan, message: unknown, path: string, issues: WireIssue[] | undefined): Record<string, unknown> {
  if (typeof message !== 'object' || message === null || Array.isArray(message)) {
    noteIssue(issues, path, `expected a ${plan.typeName} object`);
    return {};
  }
  return conversionsOf(schema, plan).toWire(message as Record<string, unknown>, path, issues);
}

function fieldToWire(schema: ProtoSchema, field: FieldPlan, value: unknown, path: string, issues: WireIssue[] | undefined): unknown {
  switch (field.kind) {
    case 'int64':
    case 'uint64': {
      const unsigned = field.kind === 'uint64';
      const big = typeof value === 'bigint' ? value : typeof value === 'number' && Number.isSafeInteger(value) ? BigInt(value) : undefined;
      if (big === undefined) return mismatch(issues, path, `a ${field.kind} bigint`, value);
      try {
        return bigIntToLong(big, unsigned);
      } catch {
        return mismatch(issues, path, `a value in ${field.kind} range`, value);
      }
    }
    case 'int32':
      return Number.isInteger(value) && (value as number) >= -(2 ** 31) && (value as number) < 2 ** 31 ? value : mismatch(issues, path, 'an int32', value);
    case 'uint32':
      return Number.isInteger(value) && (value as number) >= 0 && (value as number) < 2 ** 32 ? value : mismatch(issues, path, 'a uint32', value);
    case 'float':
      return typeof value === 'number' ? value : mismatch(issues, path, 'a number', value);
    case 'bool':
      return typeof value === 'boolean' ? value : mismatch(issues, path, 'a boolean', value);
    case 'string':
      return typeof value === 'string' ? value : mismatch(issues, path, 'a string', value);
    case 'bytes':
      return value instanceof Uint8Array ? value : mismatch(issues, path, 'a Uint8Array', value);
    case 'enum': {
      const enumType = field.enumType as protobuf.Enum;
      if (typeof value === 'string' && hasOwn(enumType.values, value)) return enumType.values[value];
      if (typeof value === 'number' && enumType.valuesById[value] !== undefined) return value;
      return mismatch(issues, path, `one of ${Object.keys(enumType.values).join('|')}`, value);
    }
    case 'message':
      return toWire(schema, schema.planFor(field.messageType as protobuf.Type), value, path, issues);
  }
}

function mismatch(issues: WireIssue[] | undefined, path: string, what: string, value: unknown): undefined {
  if (issues === undefined) problemSeen = true;
  else issues.push({ path, problem: `expected ${what}, got ${describe(value)}` });
  return undefined;
}

function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  if (typeof value === 'bigint') return `${value}n`;
  if (value instanceof Uint8Array) return `Uint8Array(${value.length})`;
  if (Array.isArray(value)) return 'an array';
  return value === null ? 'null' : typeof value === 'object' ? 'an object' : String(value);
}

// ---------------------------------------------------------------------------------------------
// compiled conversions
//
// One conversion loop for every message type made each field read and write a keyed access
// with a different name and object shape at the same place in the code: megamorphic, and every
// property added to a fresh object a slow map transition. Like protobufjs for its own codecs,
// each message gets its own small functions instead, with the field names written out, so
// every access is monomorphic. Names come from the schemas in this code base and are quoted.

function conversionsOf(schema: ProtoSchema, plan: MessagePlan): Conversions {
  return (plan.conversions ??= compileConversions(schema, plan));
}

const support = { hasOwn, join, noteIssue };

function compileConversions(schema: ProtoSchema, plan: MessagePlan): Conversions {
  const q = (text: string): string => JSON.stringify(text);
  const pathOf = (parent: string, key: string): string => `issues === undefined ? '' : support.join(${parent}, ${key})`;
  const toWire: string[] = [
    'const out = {};',
    'const keys = Object.keys(input);',
    'for (let k = 0; k < keys.length; k++) {',
    '  const key = keys[k];',
    `  if (!fieldNames.has(key) && input[key] !== undefined) support.noteIssue(issues, ${pathOf('path', 'key')}, ${q(`no such field in ${plan.typeName}`)});`,
    '}',
    'let value;',
  ];
  const fromWire: string[] = ['const out = {};', 'let present;', 'let value;'];
  plan.fields.forEach((field, i) => {
    const name = q(field.name);
    const protoName = q(field.protoName);
    const fieldPath = pathOf('path', name);
    toWire.push(`value = input[${name}];`);
    toWire.push('if (value === undefined || value === null) {');
    if (field.required) toWire.push(`  support.noteIssue(issues, ${fieldPath}, ${q(`missing required field '${field.protoName}'`)});`);
    if (field.repeated) {
      toWire.push(
        '} else if (!Array.isArray(value)) {',
        `  support.noteIssue(issues, ${fieldPath}, 'expected an array');`,
        '} else {',
        `  const fieldPath = ${fieldPath};`,
        '  const items = new Array(value.length);',
        `  for (let i = 0; i < value.length; i++) items[i] = toWireField[${i}](value[i], ${pathOf('fieldPath', 'i')}, issues);`,
        `  out[${protoName}] = items;`,
        '}',
      );
    } else {
      toWire.push('} else {', `  out[${protoName}] = toWireField[${i}](value, ${fieldPath}, issues);`, '}');
    }
    fromWire.push(`present = support.hasOwn(wire, ${protoName});`, `value = present ? wire[${protoName}] : undefined;`);
    if (field.repeated) {
      fromWire.push(
        '{',
        '  const items = present ? value : [];',
        `  const fieldPath = ${fieldPath};`,
        '  const converted = new Array(items.length);',
        `  for (let i = 0; i < items.length; i++) converted[i] = fromWireField[${i}](items[i], copyBytes, ${pathOf('fieldPath', 'i')}, issues);`,
        `  out[${name}] = converted;`,
        '}',
      );
    } else {
      fromWire.push('if (value !== undefined && value !== null) {', `  out[${name}] = fromWireField[${i}](value, copyBytes, ${fieldPath}, issues);`, '}');
      if (field.required) {
        fromWire.push('else {', `  support.noteIssue(issues, ${fieldPath}, ${q(`missing required field '${field.protoName}' of ${plan.typeName}`)});`, '}');
      }
    }
  });
  toWire.push('return out;');
  fromWire.push('return out;');
  // a converter per field, each called from one place: fieldToWire/fieldFromWire stay the rules
  const toWireField = plan.fields.map((field) => (value: unknown, path: string, issues: WireIssue[] | undefined) => fieldToWire(schema, field, value, path, issues));
  const fromWireField = plan.fields.map(
    (field) => (value: unknown, copyBytes: boolean, path: string, issues: WireIssue[] | undefined) => fieldFromWire(schema, field, value, copyBytes, path, issues),
  );
  const identifier = plan.typeName.replace(/[^A-Za-z0-9_]/g, '_');
  // code generated from the schema, as protobufjs generates its own encoders
  const build = new Function(
    'support',
    'fieldNames',
    'toWireField',
    'fromWireField',
    `return {
      toWire: function ${identifier}$toWire(input, path, issues) {\n${toWire.join('\n')}\n},
      fromWire: function ${identifier}$fromWire(wire, copyBytes, path, issues) {\n${fromWire.join('\n')}\n},
    };`,
  ) as (support: unknown, fieldNames: ReadonlySet<string>, toWireField: unknown, fromWireField: unknown) => Conversions;
  return build(support, plan.fieldNames, toWireField, fromWireField);
}
