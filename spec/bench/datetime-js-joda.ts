/**
 * lib/sql/datetime.ts against @js-joda/core (+ @js-joda/timezone for zone rules) on the SQL hot
 * path: CAST(window.start AS STRING) of the seed job (`yyyy-MM-dd HH:mm:ss` in the session zone),
 * date_format with a pattern, and parsing timestamp text (CAST / to_timestamp). Each case checks
 * first that both give the same results on its inputs, then prints the best of several rounds.
 *
 *   npm install --prefix /tmp/joda @js-joda/core @js-joda/timezone   # not a project dependency
 *   OTSFLOW_JODA=/tmp/joda npx tsx spec/bench/datetime-js-joda.ts
 */
import { createRequire } from 'node:module';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { isLeft } from 'fp-ts/lib/Either.js';
import { compileFormatter, compileParser, formatTimestamp, parseTimestampString, timeZone, UTC, type TimeZone } from '../../lib/sql/datetime.js';

const dir = process.env['OTSFLOW_JODA'];
const require = createRequire(dir === undefined ? import.meta.url : join(dir, 'node_modules', 'x.js'));
// eslint-disable-next-line @typescript-eslint/no-explicit-any
let joda: any;
try {
  joda = require('@js-joda/core');
  require('@js-joda/timezone'); // registers the IANA zone rules with core
} catch {
  console.error('@js-joda/core and @js-joda/timezone are not installed: npm install --prefix /tmp/joda @js-joda/core @js-joda/timezone, then OTSFLOW_JODA=/tmp/joda');
  process.exit(1);
}
const { DateTimeFormatter, Instant, LocalDateTime, ZonedDateTime, ZoneId, ZoneOffset } = joda;

function zone(id: string): TimeZone {
  const result = timeZone(id);
  if (isLeft(result)) throw new Error(result.left);
  return result.right;
}
const ours = { shanghai: zone('Asia/Shanghai'), newYork: zone('America/New_York'), utc: UTC };
const theirs = { shanghai: ZoneId.of('Asia/Shanghai'), newYork: ZoneId.of('America/New_York'), utc: ZoneOffset.UTC };

const START = 1595990610000; // the seed's first window, 2020-07-29 10:43:30 in Shanghai
const seconds = DateTimeFormatter.ofPattern('yyyy-MM-dd HH:mm:ss');
const withOffset = DateTimeFormatter.ofPattern("yyyy-MM-dd'T'HH:mm:ss.SSSxxx");
const oursWithOffset = compileFormatter("yyyy-MM-dd'T'HH:mm:ss.SSSXXX");
const oursParse = compileParser('yyyy-MM-dd HH:mm:ss');
if (isLeft(oursWithOffset) || isLeft(oursParse)) throw new Error('pattern');
// eslint-disable-next-line @typescript-eslint/no-explicit-any
const jodaFormat = (ms: number, id: any, formatter: any): string => ZonedDateTime.ofInstant(Instant.ofEpochMilli(ms), id).format(formatter);
// eslint-disable-next-line @typescript-eslint/no-explicit-any
const jodaParse = (text: string, id: any): number => LocalDateTime.parse(text, seconds).atZone(id).toInstant().toEpochMilli();

const texts = Array.from({ length: 3600 }, (_, i) => formatTimestamp(START + i * 1000, ours.shanghai) as string);

type Case = readonly [string, (i: number) => string | number | null, (i: number) => string | number | null];
const cases: readonly Case[] = [
  ['window bounds (2 values), Shanghai', (i) => formatTimestamp(START + (i & 1) * 30_000, ours.shanghai), (i) => jodaFormat(START + (i & 1) * 30_000, theirs.shanghai, seconds)],
  ['3600 seconds of one hour, Shanghai', (i) => formatTimestamp(START + (i % 3600) * 1000, ours.shanghai), (i) => jodaFormat(START + (i % 3600) * 1000, theirs.shanghai, seconds)],
  ['3600 seconds of one hour, UTC', (i) => formatTimestamp(START + (i % 3600) * 1000, ours.utc), (i) => jodaFormat(START + (i % 3600) * 1000, theirs.utc, seconds)],
  ['86400 seconds over a DST change, New York', (i) => formatTimestamp(Date.UTC(2020, 2, 8, 0) + (i % 86_400) * 1000, ours.newYork), (i) => jodaFormat(Date.UTC(2020, 2, 8, 0) + (i % 86_400) * 1000, theirs.newYork, seconds)],
  ["date_format 'yyyy-MM-ddTHH:mm:ss.SSSXXX', Shanghai", (i) => oursWithOffset.right(START + (i % 3600) * 1000 + 123, ours.shanghai), (i) => jodaFormat(START + (i % 3600) * 1000 + 123, theirs.shanghai, withOffset)],
  ["parse 'yyyy-MM-dd HH:mm:ss' (to_timestamp), Shanghai", (i) => oursParse.right(texts[i % 3600] as string, ours.shanghai), (i) => jodaParse(texts[i % 3600] as string, theirs.shanghai)],
  ['parse CAST(text AS TIMESTAMP), Shanghai', (i) => parseTimestampString(texts[i % 3600] as string, ours.shanghai), (i) => jodaParse(texts[i % 3600] as string, theirs.shanghai)],
];

const CALLS = 200_000;
const ROUNDS = Number(process.env['ROUNDS'] ?? 9);
let sink = 0;
function best(body: (i: number) => string | number | null): number {
  for (let i = 0; i < CALLS; i++) sink += String(body(i)).length; // warm: caches filled, code optimised
  let fastest = Number.POSITIVE_INFINITY;
  for (let round = 0; round < ROUNDS; round++) {
    const start = process.hrtime.bigint();
    for (let i = 0; i < CALLS; i++) {
      const value = body(i);
      sink += typeof value === 'string' ? value.length : (value ?? 0) > 0 ? 1 : 0;
    }
    fastest = Math.min(fastest, Number(process.hrtime.bigint() - start) / CALLS);
  }
  return fastest;
}

console.log(`load average ${loadavg().map((load) => load.toFixed(2)).join(' ')}; best of ${ROUNDS} rounds of ${CALLS} calls; @js-joda/core ${require('@js-joda/core/package.json').version}`);
console.log(`${'case'.padEnd(52)} ${'datetime.ts'.padStart(12)} ${'js-joda'.padStart(10)}  ratio`);
for (const [label, mine, other] of cases) {
  for (let i = 0; i < 86_400; i += 7) {
    const a = mine(i);
    const b = other(i);
    if (a !== b) throw new Error(`${label}: results differ at ${i}: ${String(a)} vs ${String(b)}`);
  }
  const a = best(mine);
  const b = best(other);
  console.log(`${label.padEnd(52)} ${`${a.toFixed(0)} ns`.padStart(12)} ${`${b.toFixed(0)} ns`.padStart(10)}  ${(b / a).toFixed(1)}×`);
}
console.log("(js-joda's results equal datetime.ts's on every input checked above)");
if (sink === 0) console.log('(nothing computed)');
