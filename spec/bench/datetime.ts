/**
 * CAST(ts AS STRING) cost per output row: `npx tsx spec/bench/datetime.ts`
 * Target: well under 1 µs per call once the hour's offset is cached (no Intl on the hot path).
 */
import { loadavg } from 'node:os';
import { isLeft } from 'fp-ts/lib/Either.js';
import { compileFormatter, formatTimestamp, timeZone, UTC, type TimeZone } from '../../lib/sql/datetime.js';

function zone(id: string): TimeZone {
  const result = timeZone(id);
  if (isLeft(result)) throw new Error(result.left);
  return result.right;
}

const SHANGHAI = zone('Asia/Shanghai');
const NEW_YORK = zone('America/New_York');
const START = 1595990610000; // the seed's first window, 2020-07-29 10:43:30 in Shanghai
const dateFormat = compileFormatter("yyyy-MM-dd'T'HH:mm:ss.SSSXXX");
if (isLeft(dateFormat)) throw new Error(dateFormat.left);

const cases: ReadonlyArray<readonly [string, (i: number) => string | null]> = [
  ['window bounds: 2 values, Shanghai', (i) => formatTimestamp(START + (i & 1) * 30_000, SHANGHAI)],
  ['3600 distinct seconds of one hour, Shanghai', (i) => formatTimestamp(START + (i % 3600) * 1000, SHANGHAI)],
  ['3600 distinct seconds of one hour, UTC', (i) => formatTimestamp(START + (i % 3600) * 1000, UTC)],
  ['86400 distinct seconds of one day, New York', (i) => formatTimestamp(START + (i % 86_400) * 1000, NEW_YORK)],
  ['µs fractions within one hour, Shanghai', (i) => formatTimestamp(START + (i % 3600) * 1000 + 0.123, SHANGHAI)],
  ["date_format 'yyyy-MM-ddTHH:mm:ss.SSSXXX', Shanghai", (i) => dateFormat.right(START + (i % 3600) * 1000, SHANGHAI)],
];

const CALLS = 200_000;
const ROUNDS = 15;
let sink = 0;
console.log(`load average ${loadavg().map((load) => load.toFixed(2)).join(' ')}; best of ${ROUNDS} rounds of ${CALLS} calls`);
for (const [label, body] of cases) {
  for (let i = 0; i < CALLS; i++) sink += body(i)?.length ?? 0; // warm: offsets cached, code optimised
  let best = Number.POSITIVE_INFINITY;
  for (let round = 0; round < ROUNDS; round++) {
    const start = process.hrtime.bigint();
    for (let i = 0; i < CALLS; i++) sink += body(i)?.length ?? 0;
    best = Math.min(best, Number(process.hrtime.bigint() - start) / CALLS);
  }
  console.log(`${label.padEnd(52)} ${best.toFixed(0).padStart(5)} ns/call`);
}
if (sink === 0) console.log('(nothing formatted)');
