/**
 * PlainBuffer codec throughput: `npx tsx spec/bench/plainbuffer.ts`
 * Target: decode ≥ 1,000,000 OrderSource-like rows/s on one core.
 */
import { Buffer, isUtf8 } from 'node:buffer';
import { decodeRow, encodeRow } from '../../lib/wire/plainbuffer/index.js';
import { asciiString } from '../../lib/wire/bytes.js';
import type { Row } from '../../lib/wire/types.js';

function orderRow(i: number): Row {
  return {
    primaryKey: [
      { name: 'UserId', value: `user_${String(i % 5000).padStart(6, '0')}` },
      { name: 'OrderId', value: `order_${String(i).padStart(10, '0')}` },
    ],
    cells: [
      { op: 'put', name: 'price', value: 10 + (i % 1000) / 100, timestamp: 1_700_000_000_000 + i },
      { op: 'put', name: 'timestamp', value: 1_700_000_000_000n + BigInt(i), timestamp: 1_700_000_000_000 + i },
    ],
    deleteMarker: false,
    sequence: { epoch: 0, timestamp: 1_700_000_000_000_000n + BigInt(i), rowIndex: i % 4 },
  };
}

interface Result {
  readonly opsPerSec: number;
  readonly bytesPerSec: number;
}

/** Runs `body` (which processes `rowsPerCall` rows of `bytesPerCall` bytes) for ~`ms`, best of 5. */
function measure(body: () => void, rowsPerCall: number, bytesPerCall: number, ms = 300): Result {
  for (let i = 0; i < 2000; i++) body(); // warm up the JIT
  let best = 0;
  for (let round = 0; round < 5; round++) {
    let calls = 0;
    const start = performance.now();
    let elapsed = 0;
    while (elapsed < ms) {
      for (let i = 0; i < 100; i++) body();
      calls += 100;
      elapsed = performance.now() - start;
    }
    best = Math.max(best, (calls * rowsPerCall) / (elapsed / 1000));
  }
  return { opsPerSec: best, bytesPerSec: (best * bytesPerCall) / rowsPerCall };
}

const fmt = (r: Result, unit = 'rows/s') =>
  `${Math.round(r.opsPerSec).toLocaleString('en-US').padStart(12)} ${unit}  ${(r.bytesPerSec / 1e6).toFixed(1).padStart(7)} MB/s`;

let sink = 0;

// ---- one OrderSource-like record -----------------------------------------------------------
const row = orderRow(123);
const encoded = encodeRow(row);
console.log(`OrderSource-like row: ${encoded.length} bytes (PK 2 strings; price double + timestamp long, both with ts; sequence)`);
console.log(`decode one row          ${fmt(measure(() => { const r = decodeRow(encoded); if (r._tag === 'Right') sink += r.right.cells.length; }, 1, encoded.length))}`);
console.log(`encode one row          ${fmt(measure(() => { sink += encodeRow(row).length; }, 1, encoded.length))}`);

// ---- a ReadRecordsResponse worth: 1,000 separate one-row buffers --------------------------
const rows = Array.from({ length: 1000 }, (_, i) => orderRow(i));
const buffers = rows.map(encodeRow);
const totalBytes = buffers.reduce((n, b) => n + b.length, 0);
console.log(`\n1,000 records as separate buffers (${totalBytes} bytes)`);
console.log(
  `decode 1,000 buffers    ${fmt(measure(() => { for (const b of buffers) { const r = decodeRow(b); if (r._tag === 'Right') sink += r.right.cells.length; } }, 1000, totalBytes, 500))}`,
);
console.log(`encode 1,000 rows       ${fmt(measure(() => { for (const r of rows) sink += encodeRow(r).length; }, 1000, totalBytes, 500))}`);

// ---- how to turn short ASCII byte runs into strings (the decoder checks ASCII while it
// checksums, then uses String.fromCharCode up to 16 bytes and latin1Slice beyond; column names
// mostly hit its name cache instead) --------------------------------------------------------------
const names = rows.slice(0, 64).flatMap((r) => r.primaryKey.map((c) => Buffer.from(c.value as string) as Buffer & NativeSlices));
const namesBytes = names.reduce((n, b) => n + b.length, 0);
const decoder = new TextDecoder('utf-8', { ignoreBOM: true });
const fatalDecoder = new TextDecoder('utf-8', { ignoreBOM: true, fatal: true });
type NativeSlices = { latin1Slice(start: number, end: number): string; utf8Slice(start: number, end: number): string };
const approaches: Record<string, (b: Buffer & NativeSlices) => string> = {
  'char loop (fromCharCode)': (b) => {
    let s = '';
    for (let i = 0; i < b.length; i++) s += String.fromCharCode(b[i]!);
    return s;
  },
  'Buffer#latin1Slice': (b) => b.latin1Slice(0, b.length),
  'fromCharCode(...bytes)': (b) => String.fromCharCode(...b),
  'decoder: fromCharCode(b0, …)': (b) => asciiString(b, 0, b.length),
  'ASCII check + latin1Slice': (b) => {
    let bits = 0;
    for (let i = 0; i < b.length; i++) bits |= b[i]!;
    return bits < 0x80 ? b.latin1Slice(0, b.length) : b.utf8Slice(0, b.length);
  },
  'Buffer#utf8Slice': (b) => b.utf8Slice(0, b.length),
  'isUtf8 + utf8Slice': (b) => (isUtf8(b) ? b.utf8Slice(0, b.length) : ''),
  'fatal TextDecoder': (b) => fatalDecoder.decode(b),
  'Buffer#toString(utf8)': (b) => b.toString('utf8'),
  'TextDecoder#decode': (b) => decoder.decode(b),
};
console.log(`\nshort ASCII strings (${names.length} strings, avg ${(namesBytes / names.length).toFixed(1)} bytes)`);
for (const [name, fn] of Object.entries(approaches)) {
  const r = measure(() => { for (const b of names) sink += fn(b).length; }, names.length, namesBytes, 200);
  console.log(`${name.padEnd(26)} ${fmt(r, 'str/s')}`);
}

if (sink === 42) console.log('');
