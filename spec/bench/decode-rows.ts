/**
 * decodeRows' compiled decoder with typeMismatches 'bad-row' (the operator's default) and 'null'
 * (EMR's rule, the SQL default), on good records and on records where a quarter of the prices
 * arrive as strings. The good case must cost the same in both modes (no per-row work beyond a
 * counter test).
 *
 *   npx tsx spec/bench/decode-rows.ts
 */
import { compileDecoder } from '../../lib/stream/decode-rows.js';
import type { Catalog } from '../../lib/stream/catalog.js';
import type { ChangeRecord } from '../../lib/wire/types.js';

const catalog: Catalog = { columns: { UserId: { type: 'string' }, OrderId: { type: 'string' }, price: { type: 'double' }, timestamp: { type: 'long' } } };
const BATCH = 10_000;
const BATCHES = 100;

function records(wrongEvery: number): ChangeRecord[][] {
  return Array.from({ length: BATCHES }, (_, b) =>
    Array.from({ length: BATCH }, (_, i): ChangeRecord => {
      const n = b * BATCH + i;
      return {
        action: 'PUT_ROW',
        primaryKey: [{ name: 'UserId', value: `u${n % 1000}` }, { name: 'OrderId', value: `o${n}` }],
        cells: [
          { op: 'put', name: 'price', value: wrongEvery > 0 && n % wrongEvery === 0 ? `${n}` : n * 0.01 },
          { op: 'put', name: 'timestamp', value: BigInt(1_700_000_000_000 + n) },
        ],
      } as ChangeRecord;
    }),
  );
}

function measure(label: string, typeMismatches: 'bad-row' | 'null', input: ChangeRecord[][]): void {
  const decode = compileDecoder({ catalog, typeMismatches });
  for (let i = 0; i < 3; i++) for (const batch of input) decode(batch); // warm-up
  const runs: number[] = [];
  let kept = 0;
  let nulled = 0;
  for (let r = 0; r < 5; r++) {
    const start = process.hrtime.bigint();
    kept = 0;
    nulled = 0;
    for (const batch of input) {
      const decoded = decode(batch);
      kept += decoded.table.length;
      nulled += decoded.typeMismatches;
    }
    runs.push(Number(process.hrtime.bigint() - start) / 1e6);
  }
  runs.sort((a, b) => a - b);
  const median = runs[2] as number;
  const rows = BATCH * BATCHES;
  console.log(`${label.padEnd(48)} ${(rows / (median / 1000) / 1e6).toFixed(2).padStart(6)} M records/s  (median ${median.toFixed(1)} ms; rows kept ${kept}, nulled ${nulled})`);
}

const good = records(0);
const quarter = records(4);
// alternated, as the machine's load drifts between measurements
for (let round = 1; round <= 2; round++) {
  measure(`good records, typeMismatches 'bad-row' (${round})`, 'bad-row', good);
  measure(`good records, typeMismatches 'null' (${round})`, 'null', good);
}
measure("25% string prices, typeMismatches 'null'", 'null', quarter);
measure("25% string prices, typeMismatches 'bad-row'", 'bad-row', quarter);
