/**
 * EMR's documented watermark form (doc 167498): `SELECT watermark(<time>, INTERVAL …) [AS wm], …`.
 * It declares the same watermark as `FROM v WATERMARK <time> [AS wm] DELAY OF …` and as
 * `WHERE delay(<time>) < '…'` — the three are planned onto the same withWatermark options and
 * give the same rows and the same late-row count over generated batches, checked here against
 * the watermark worked out by hand.
 */
import * as E from 'fp-ts/lib/Either.js';
import { lastValueFrom, toArray } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { compile } from '../../lib/sql/compile.js';
import { describeSqlError } from '../../lib/sql/errors.js';
import { planQuery } from '../../lib/sql/plan.js';
import { formatSqlErrors } from '../../lib/sql/printer.js';
import { microBatch } from '../../lib/stream/micro-batch.js';
import { memorySource } from '../../lib/stream/source.js';
import { tableRows } from '../../lib/stream/table.js';
import type { ChangeRecord } from '../../lib/wire/types.js';

const CATALOG = JSON.stringify({ columns: { id: { type: 'string' }, ts: { type: 'long' }, x: { type: 'double' } } });
const TABLE = `CREATE TABLE t USING tablestore OPTIONS(table.name='T', catalog='${CATALOG}');\n`;

function analyzedSelect(query: string) {
  const sql = `${TABLE}${query}`;
  const compiled = compile(sql, { timeZone: 'UTC' });
  if (E.isLeft(compiled)) throw new Error(formatSqlErrors(sql, compiled.left));
  const statement = compiled.right.statements[1];
  if (statement?.analyzed.kind !== 'select') throw new Error('not a select');
  return { query: statement.analyzed.query, zone: compiled.right.timeZone };
}

function errorsOf(query: string): string[] {
  const compiled = compile(`${TABLE}${query}`, { timeZone: 'UTC' });
  if (E.isRight(compiled)) throw new Error(`expected errors for ${query}`);
  return compiled.left.map(describeSqlError);
}

const DELAY_MS = 60_000;
const WINDOW_MS = 30_000;
/** event times (ms) per micro-batch; the second holds rows behind what the first delivered, and one (75 s) behind a row before it in the same batch */
const BATCHES: number[][] = [
  [100_000, 101_000, 101_000, 131_000],
  [155_000, 20_000, 21_000, 75_000],
  [75_000, 5_000, 250_000, 40_000],
  [185_000, 185_000, 41_000, 301_000],
];
const record = (batch: number, i: number, ts: number): ChangeRecord => ({
  action: 'PUT_ROW',
  primaryKey: [{ name: 'id', value: `b${batch}-${i}` }],
  cells: [
    { op: 'put', name: 'ts', value: BigInt(ts) },
    { op: 'put', name: 'x', value: i + 0.5 },
  ],
});

/** Rows per (window start, wm) the job ends with (last update wins), and its late-row count. */
async function run(query: string): Promise<{ rows: Map<string, number>; late: number; stages: string[] }> {
  const { query: analyzed, zone } = analyzedSelect(query);
  const plan = planQuery(analyzed, { zone, outputMode: 'update' });
  const chunks = BATCHES.map((times, b) => times.map((ts, i) => record(b, i, ts)));
  const source = memorySource({ t: chunks });
  const batches = await lastValueFrom(source.pipe(microBatch({ interval: Number.POSITIVE_INFINITY, maxRecords: 4 }), plan.operator, toArray()));
  const rows = new Map<string, number>();
  for (const batch of batches) for (const row of tableRows(batch.rows)) rows.set(`${String(row['begin'])} ${String(row['wm'])}`, row['c'] as number);
  const late = batches.at(-1)?.context.metrics.snapshot().lateRows ?? -1;
  return { rows, late, stages: plan.stages.map((stage) => `${stage.operator}: ${stage.detail}`) };
}

describe("SELECT watermark(<time>, INTERVAL …) AS wm (EMR's documented form)", () => {
  const time = 'to_timestamp(ts / 1000)';
  const forms = {
    'SELECT watermark(…) AS wm': `SELECT watermark(${time}, INTERVAL 1 MINUTE) AS wm, CAST(window.start AS STRING) AS begin, count(*) AS c FROM t GROUP BY window(wm, '30 seconds'), wm`,
    "SELECT watermark(…, '1 minute') AS wm": `SELECT watermark(${time}, '1 minute') AS wm, CAST(window.start AS STRING) AS begin, count(*) AS c FROM t GROUP BY window(wm, '30 seconds'), wm`,
    'FROM t WATERMARK … AS wm DELAY OF …': `SELECT wm, CAST(window.start AS STRING) AS begin, count(*) AS c FROM t WATERMARK ${time} AS wm DELAY OF INTERVAL 1 MINUTE GROUP BY window(wm, '30 seconds'), wm`,
  };

  it('gives the rows and late-row count of the WATERMARK clause, as worked out by hand', async () => {
    // by hand (README, "Event time and late data"; one channel here): a row is late when its window
    // ends at or before (the greatest event time of the rows before it in the channel) − delay
    let maxSeen = Number.NEGATIVE_INFINITY;
    let lateByHand = 0;
    const counts = new Map<string, number>();
    for (const batch of BATCHES) {
      for (const ts of batch) {
        const start = Math.floor(ts / WINDOW_MS) * WINDOW_MS;
        const late = start + WINDOW_MS <= maxSeen - DELAY_MS;
        maxSeen = Math.max(maxSeen, ts);
        if (late) {
          lateByHand++;
          continue;
        }
        const key = `${new Date(start).toISOString().replace('T', ' ').replace(/\.000Z$/, '')} ${ts}`;
        counts.set(key, (counts.get(key) ?? 0) + 1);
      }
    }
    expect(lateByHand).toBeGreaterThan(0);
    const results = await Promise.all(Object.values(forms).map(run));
    for (const [index, result] of results.entries()) {
      const label = Object.keys(forms)[index];
      expect(result.late, label).toBe(lateByHand);
      // wm is the event time in epoch ms
      expect(result.rows, label).toEqual(counts);
    }
    // one plan: the same withColumns/withWatermark/window stages
    const planned = results.map((result) => result.stages.filter((stage) => /^(withColumns|withWatermark|tumbling)/.test(stage)));
    expect(planned[0]).toEqual(expect.arrayContaining(['withColumns: wm = to_timestamp(ts / 1000)', 'withWatermark: eventTime wm, delay 1 min', 'tumbling: eventTime wm, size 30 s']));
    for (const stages of planned) expect(stages).toEqual(planned[0]);
  });

  it("names an unaliased item as Spark would; groups by it as EMR's aggregate example does; the delay() form plans the same watermark", () => {
    const unaliased = analyzedSelect('SELECT watermark(to_timestamp(ts / 1000), INTERVAL 10 SECONDS), id FROM t').query;
    expect(unaliased.watermark).toEqual({ delayMs: 10_000, text: 'to_timestamp(ts / 1000) DELAY OF 10 SECONDS' });
    expect(unaliased.output.map((column) => column.name)).toEqual(['watermark(to_timestamp(ts / 1000), INTERVAL 10 SECONDS)', 'id']);
    // doc 167498: SELECT watermark(ts, interval 10 seconds), count(*) as col1, col2 FROM stream_source GROUP BY ts, col2
    const grouped = analyzedSelect('SELECT watermark(to_timestamp(ts / 1000), INTERVAL 10 SECONDS) AS wm, count(*) AS col1, id FROM t GROUP BY wm, id').query;
    expect(grouped.keys.map((key) => key.expr.text)).toEqual(['wm', 'id']);
    expect(grouped.output.map((column) => column.name)).toEqual(['wm', 'col1', 'id']);
    const plain = analyzedSelect('SELECT watermark(to_timestamp(ts / 1000), INTERVAL 10 SECONDS) AS wm, id FROM t').query;
    expect(plain.output.map((column) => column.name)).toEqual(['wm', 'id']);
    expect(plain.derived.map((d) => d.name)).toEqual(['wm']);
    const viaDelay = analyzedSelect("SELECT count(*) AS c FROM t WHERE delay(to_timestamp(ts / 1000)) < '10 seconds' GROUP BY window(to_timestamp(ts / 1000), '1 minute')").query;
    expect(viaDelay.watermark?.delayMs).toBe(plain.watermark?.delayMs);
  });

  it('refuses what EMR would: bad arguments, a second watermark, a non-timestamp, an ungrouped output, watermark() inside an expression', () => {
    expect(errorsOf('SELECT watermark(to_timestamp(ts / 1000)) AS wm FROM t')[0]).toContain('watermark() takes two arguments');
    expect(errorsOf("SELECT watermark(to_timestamp(ts / 1000), 'soon') AS wm FROM t")[0]).toContain("'soon' is not a duration");
    expect(errorsOf('SELECT watermark(to_timestamp(ts / 1000), 5) AS wm FROM t')[0]).toContain('watermark() needs a delay like INTERVAL 1 MINUTE');
    expect(errorsOf('SELECT watermark(to_timestamp(ts / 1000), INTERVAL 1 MINUTE) AS wm FROM t WATERMARK to_timestamp(ts / 1000) DELAY OF INTERVAL 1 MINUTE')[0]).toMatch(/a second watermark: one is already declared at line 2, col \d+/);
    expect(errorsOf("SELECT watermark(to_timestamp(ts / 1000), INTERVAL 1 MINUTE) AS wm FROM t WHERE delay(to_timestamp(ts / 1000)) < '1 minute'")[0]).toContain('a second watermark');
    expect(errorsOf('SELECT watermark(ts, INTERVAL 1 MINUTE) AS wm FROM t')).toEqual(['line 2, col 8: a watermark needs a timestamp, and ts is bigint (for milliseconds since the epoch write to_timestamp(ts / 1000))']);
    expect(errorsOf(`SELECT watermark(to_timestamp(ts / 1000), INTERVAL 1 MINUTE) AS wm, count(*) AS c FROM t GROUP BY window(wm, '30 seconds')`)).toEqual([
      expect.stringMatching(/watermark\(…\) AS wm is an output column, and 'wm' is neither in GROUP BY nor inside an aggregate function \(group by it \(GROUP BY wm, …\), or declare the watermark without outputting it: FROM <scan> WATERMARK <time> AS wm DELAY OF INTERVAL …\)$/),
    ]);
    expect(errorsOf('SELECT x + watermark(to_timestamp(ts / 1000), INTERVAL 1 MINUTE) FROM t')[0]).toContain('watermark() is only allowed as a whole SELECT item');
  });
});
