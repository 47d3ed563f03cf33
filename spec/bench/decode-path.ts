/**
 * What the job's decode path costs per record, and what a columnar decode could save:
 * `npx tsx spec/bench/decode-path.ts` (ROWS=250000, batches of BATCH=4000, the seed job's
 * ReadRecords-sized micro-batches). CPU per record (user + system, GC included), best of 5 passes.
 *
 *   1. decodeRecords: PlainBuffer → ChangeRecord objects (the tunnel layer today);
 *   2. the same + decodeRows' compiled decoder → columns (what the seed job's SQL runs);
 *   3. the ReadRecords response to change records: messages, a view and a RawRecord per record, then
 *      decodeRecords (the generic path), against the one walk of decodeReadRecordsChanges;
 *   4. the floor a validating columnar decode cannot go below: the CRC-8 pass over every byte of
 *      every record, and that pass plus the two key strings (the seed query itself reads only
 *      `price` and `timestamp`, which need no allocation at all).
 *
 * The gap between 2 and 4 is the per-record object building (about 14 objects: record, key and
 * cell arrays, four cells, the sequence, two bigints, two strings) and the GC it causes.
 */
import { encodeRow } from '../../lib/wire/plainbuffer/index.js';
import { crc8 } from '../../lib/wire/plainbuffer/crc8.js';
import { asciiString } from '../../lib/wire/bytes.js';
import { decodeRecords } from '../../lib/tunnel/decode-records.js';
import type { RawRecord } from '../../lib/tunnel/model.js';
import { compileDecoder } from '../../lib/stream/decode-rows.js';
import type { Catalog } from '../../lib/stream/catalog.js';
import type { ChangeRecord } from '../../lib/wire/types.js';
import { decodeReadRecordsChanges } from '../../lib/wire/read-records-fast.js';
import { tunnelMessages } from '../../lib/wire/tunnel-messages.js';

const ROWS = Number(process.env['ROWS'] ?? 250_000);
const BATCH = Number(process.env['BATCH'] ?? 4000);
const catalog: Catalog = { columns: { UserId: { type: 'string' }, OrderId: { type: 'string' }, price: { type: 'double' }, timestamp: { type: 'long' } } };

interface Encoded {
  readonly raw: RawRecord;
  /** where the two key strings sit in the bytes (for the floor measurement) */
  readonly user: readonly [number, number];
  readonly order: readonly [number, number];
}

function encoded(i: number): Encoded {
  const user = `user_${i % 5000}`;
  const order = `order_${i}`;
  const record = encodeRow({
    primaryKey: [
      { name: 'UserId', value: user },
      { name: 'OrderId', value: order },
    ],
    cells: [
      { op: 'put', name: 'price', value: 10 + (i % 1000) / 100, timestamp: 1_700_000_000_000 + i },
      { op: 'put', name: 'timestamp', value: 1_700_000_000_000n + BigInt(i), timestamp: 1_700_000_000_000 + i },
    ],
    deleteMarker: false,
    sequence: { epoch: 0, timestamp: 1_700_000_000_000_000n + BigInt(i), rowIndex: i % 4 },
  });
  const text = Buffer.from(record).toString('latin1');
  const u = text.indexOf(user);
  const o = text.indexOf(order);
  if (u < 0 || o < 0) throw new Error('the encoded record lacks its key strings');
  return { raw: { action: 'PUT_ROW', record }, user: [u, u + user.length], order: [o, o + order.length] };
}

const records = Array.from({ length: ROWS }, (_, i) => encoded(i));
const batches: Encoded[][] = [];
for (let s = 0; s < ROWS; s += BATCH) batches.push(records.slice(s, s + BATCH));
const rawBatches = batches.map((batch) => batch.map((e) => e.raw));
const decodeColumns = compileDecoder({ catalog });

let check = 0;
function measure(label: string, pass: (batch: number) => void): number {
  for (let warm = 0; warm < 3; warm++) for (let b = 0; b < batches.length; b++) pass(b);
  let best = Infinity;
  for (let round = 0; round < 5; round++) {
    const start = process.cpuUsage();
    for (let b = 0; b < batches.length; b++) pass(b);
    const used = process.cpuUsage(start);
    best = Math.min(best, (used.user + used.system) / ROWS);
  }
  console.log(`${label.padEnd(58)} ${best.toFixed(3)} µs/record`);
  return best;
}

function changeRecords(b: number): ChangeRecord[] {
  const decoded = decodeRecords(rawBatches[b] as RawRecord[]);
  if (decoded._tag === 'Left') throw new Error(decoded.left.message);
  return decoded.right;
}

console.log(`${ROWS.toLocaleString('en-US')} OrderSource records in batches of ${BATCH}:`);
const objects = measure('decodeRecords → ChangeRecord objects', (b) => {
  check += changeRecords(b).length;
});
const both = measure('decodeRecords + decodeRows → columns (the job today)', (b) => {
  check += decodeColumns(changeRecords(b)).table.length;
});
const crcOnly = measure('floor: CRC-8 over every byte', (b) => {
  for (const e of batches[b] as Encoded[]) check += crc8(0, e.raw.record, 0, e.raw.record.length);
});
const crcKeys = measure('floor: CRC-8 + the two key strings', (b) => {
  for (const e of batches[b] as Encoded[]) {
    check += crc8(0, e.raw.record, 0, e.raw.record.length);
    check += asciiString(e.raw.record, e.user[0], e.user[1]).length + asciiString(e.raw.record, e.order[0], e.order[1]).length;
  }
});
// the step before: a ReadRecordsResponse of BATCH records to change records, the generic way
// (message, a view and a RawRecord per record, decodeRecords) and in one walk (the HTTP API's path)
const responses = batches.map((batch) => tunnelMessages.ReadRecordsResponse.encode({ records: batch.map((e) => ({ actionType: 'PUT_ROW', record: e.raw.record })), nextToken: 'token' }));
measure('ReadRecords bytes → messages, views, decodeRecords', (b) => {
  const message = tunnelMessages.ReadRecordsResponse.decodeWithViews(responses[b] as Uint8Array);
  if (message._tag === 'Left') throw new Error(message.left.message);
  const raw = message.right.records.map((r): RawRecord => ({ action: r.actionType, record: r.record }));
  const decoded = decodeRecords(raw);
  if (decoded._tag === 'Left') throw new Error(decoded.left.message);
  check += decoded.right.length;
});
measure('ReadRecords bytes → change records in one walk', (b) => {
  check += decodeReadRecordsChanges(responses[b] as Uint8Array)?.changes.length ?? 0;
});
console.log(
  `object building and its GC: ${(both - crcKeys).toFixed(2)} µs/record above the floor with keys, ${(both - crcOnly).toFixed(2)} without ` +
    `(records ${objects.toFixed(2)}, columns from records ${(both - objects).toFixed(2)}) (check ${check > 0})`,
);
