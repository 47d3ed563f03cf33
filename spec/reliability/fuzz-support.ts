/**
 * Shared knobs of the fuzz and security specs.
 *
 * Run counts are small enough for CI (every fuzz spec together stays under a minute on two cores).
 * For a long local run:
 *
 *   OTSFLOW_FUZZ_RUNS=20000 npx vitest run spec/reliability/fuzz-
 *
 * sets the runs of every fuzz target (each test's time limit grows with it). A failure prints the
 * seed and the shrunk counterexample; `OTSFLOW_FUZZ_SEED=<seed>` replays that run.
 */
import fc from 'fast-check';

const envRuns = Number(process.env['OTSFLOW_FUZZ_RUNS'] ?? '');
const envSeed = Number(process.env['OTSFLOW_FUZZ_SEED'] ?? '');

/** The runs of a target: `ci` unless OTSFLOW_FUZZ_RUNS says otherwise. */
export function fuzzRuns(ci: number): number {
  return Number.isInteger(envRuns) && envRuns > 0 ? envRuns : ci;
}

/** fast-check parameters for a target with `ci` runs on CI; async properties get a per-case timeout. */
export function fuzzParameters<T>(ci: number, options: { readonly caseTimeoutMs?: number } = {}): fc.Parameters<T> {
  return {
    numRuns: fuzzRuns(ci),
    ...(Number.isInteger(envSeed) && process.env['OTSFLOW_FUZZ_SEED'] !== undefined ? { seed: envSeed } : {}),
    ...(options.caseTimeoutMs === undefined ? {} : { timeout: options.caseTimeoutMs }),
  };
}

/**
 * The vitest time limit of a test running `ci` cases: `budgetMs` on CI, scaled with
 * OTSFLOW_FUZZ_RUNS for long local runs.
 */
export function fuzzTimeout(ci: number, budgetMs: number): number {
  return Math.max(budgetMs, Math.ceil((budgetMs * fuzzRuns(ci)) / ci));
}

/**
 * Runs a synchronous case and fails it when it took longer than `limitMs` (a slow path that would
 * be a hang on bigger input). Synchronous code cannot be interrupted; vitest's own time limit
 * catches the case that never returns.
 */
export function withinMs<T>(limitMs: number, what: string, run: () => T): T {
  const started = performance.now();
  const result = run();
  const took = performance.now() - started;
  if (took > limitMs) throw new Error(`${what} took ${Math.round(took)} ms (limit ${limitMs} ms)`);
  return result;
}

/** Rejects when `promise` has not settled within `ms`: a hung request fails its case instead of the whole test. */
export function deadline<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, expired]).finally(() => clearTimeout(timer));
}

/** Text that tends to break things: names JavaScript objects already have, control and wide characters. */
export const TRICKY_NAMES = [
  '__proto__',
  'constructor',
  'prototype',
  'toString',
  'hasOwnProperty',
  'valueOf',
  '',
  ' ',
  '\u0000',
  '\u202e',
  '\ud800',
  '中文',
  '😀',
  'a'.repeat(300),
] as const;

/** Applies byte edits (overwrite, insert, delete, truncate) to a copy of `bytes`. */
export type ByteEdit =
  | { readonly kind: 'set'; readonly at: number; readonly value: number }
  | { readonly kind: 'insert'; readonly at: number; readonly values: readonly number[] }
  | { readonly kind: 'delete'; readonly at: number; readonly count: number }
  | { readonly kind: 'truncate'; readonly at: number };

export const byteEdit: fc.Arbitrary<ByteEdit> = fc.oneof(
  fc.record({ kind: fc.constant('set' as const), at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }),
  fc.record({
    kind: fc.constant('insert' as const),
    at: fc.nat(),
    values: fc.oneof(
      fc.array(fc.integer({ min: 0, max: 255 }), { minLength: 1, maxLength: 8 }),
      // a varint that claims a huge length, or an all-ones int
      fc.constantFrom([0xff, 0xff, 0xff, 0xff, 0x0f], [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01], [0x80, 0x80, 0x80, 0x80, 0x80]),
    ),
  }),
  fc.record({ kind: fc.constant('delete' as const), at: fc.nat(), count: fc.integer({ min: 1, max: 8 }) }),
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
);

export function applyEdits(bytes: Uint8Array, edits: readonly ByteEdit[]): Uint8Array {
  let out = Array.from(bytes);
  for (const edit of edits) {
    const at = out.length === 0 ? 0 : edit.at % (out.length + (edit.kind === 'insert' ? 1 : 0));
    if (edit.kind === 'set') {
      if (out.length > 0) out[at] = edit.value;
    } else if (edit.kind === 'insert') out.splice(at, 0, ...edit.values);
    else if (edit.kind === 'delete') out.splice(at, edit.count);
    else out = out.slice(0, at);
  }
  return Uint8Array.from(out);
}

// ---------------------------------------------------------------- protobuf-shaped bytes

export const varint = (value: bigint): number[] => {
  const out: number[] = [];
  let v = BigInt.asUintN(64, value);
  do {
    let byte = Number(v & 0x7fn);
    v >>= 7n;
    if (v !== 0n) byte |= 0x80;
    out.push(byte);
  } while (v !== 0n);
  return out;
};

/** Random fields with valid framing: the decoder sees known field numbers with wrong types, bad enums, junk nested messages. */
export const protobufField: fc.Arbitrary<number[]> = fc.oneof(
  fc.tuple(fc.integer({ min: 1, max: 12 }), fc.oneof(fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }), fc.constantFrom(0n, 1n, 2n, 3n, 4n, 0xffffffffn, -1n))).map(([field, value]) => [...varint(BigInt(field << 3)), ...varint(value)]),
  fc.tuple(fc.integer({ min: 1, max: 12 }), fc.uint8Array({ maxLength: 24 })).map(([field, bytes]) => [...varint(BigInt((field << 3) | 2)), ...varint(BigInt(bytes.length)), ...bytes]),
  fc.tuple(fc.integer({ min: 1, max: 12 }), fc.uint8Array({ minLength: 8, maxLength: 8 })).map(([field, bytes]) => [...varint(BigInt((field << 3) | 1)), ...bytes]),
  fc.tuple(fc.integer({ min: 1, max: 12 }), fc.uint8Array({ minLength: 4, maxLength: 4 })).map(([field, bytes]) => [...varint(BigInt((field << 3) | 5)), ...bytes]),
  // a length that lies, a group start without its end, a reserved wire type
  fc.integer({ min: 1, max: 12 }).map((field) => [...varint(BigInt((field << 3) | 2)), 0xff, 0xff, 0xff, 0xff, 0x0f]),
  fc.integer({ min: 1, max: 12 }).map((field) => [...varint(BigInt((field << 3) | 3))]),
  fc.integer({ min: 1, max: 12 }).map((field) => [...varint(BigInt((field << 3) | 6)), 0]),
);
/** Fields whose bytes payloads are themselves protobuf-shaped (nested messages two levels down). */
export const protobufMessage: fc.Arbitrary<Uint8Array> = fc
  .array(
    fc.oneof(
      { weight: 3, arbitrary: protobufField },
      {
        weight: 1,
        arbitrary: fc.tuple(fc.integer({ min: 1, max: 8 }), fc.array(protobufField, { maxLength: 5 })).map(([field, inner]) => {
          const body = inner.flat();
          return [...varint(BigInt((field << 3) | 2)), ...varint(BigInt(body.length)), ...body];
        }),
      },
    ),
    { maxLength: 10 },
  )
  .map((fields) => Uint8Array.from(fields.flat()));
