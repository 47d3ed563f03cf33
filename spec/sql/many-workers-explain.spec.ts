/**
 * EXPLAIN of the seed job with `checkpoint.table` (examples/orders/many-workers/job.sql): where the
 * state lives, the merge step, and the versioned sink write; the same job with a checkpointLocation
 * stays a single-worker job.
 */
import * as E from 'fp-ts/lib/Either.js';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { compile } from '../../lib/sql/compile.js';
import { ROOT } from '../emulator/process.js';

const variables = { endpoint: 'http://127.0.0.1:9', instance: 'i', access_key_id: 'id', access_key_secret: 'secret-value', tunnel_id: 't1', state_table: 'job1_state', checkpoint: '/tmp/cp' };
const explain = (file: string): string => {
  const text = readFileSync(join(ROOT, file), 'utf8').replace('CREATE STREAM job1', 'EXPLAIN CREATE STREAM job1');
  const compiled = compile(text, { timeZone: 'UTC', variables });
  if (E.isLeft(compiled)) throw new Error(compiled.left.map((error) => error.message).join('\n'));
  const stream = compiled.right.statements.find((statement) => statement.analyzed.kind === 'explain');
  if (stream === undefined) throw new Error('no EXPLAIN statement');
  return compiled.right.explain();
};

describe('EXPLAIN of a job on many workers', () => {
  it('names the state table, the merge of every channel, and the version-guarded sink write', () => {
    const text = explain('examples/orders/many-workers/job.sql');
    expect(text).toContain('StreamJob job1 (outputMode update, trigger ProcessingTime 0 ms, many workers: state in table job1_state)');
    expect(text).toMatch(/microBatch +interval 1 ms, ≤ 10000 records per channel, checkpoint table job1_state on http:\/\/127\.0\.0\.1:9 \(per channel: plans, commits, partial aggregates; epoch-fenced\)/);
    const operators = text.split('\n').slice(1).map((line) => line.trim().split(/ +/)[0]);
    expect(operators.slice(operators.indexOf('aggregate'), operators.indexOf('aggregate') + 3)).toEqual(['aggregate', 'mergePartials', 'emitTable']);
    expect(text).toMatch(/commitAfter +merged rows to OrderStreamSink on http:\/\/127\.0\.0\.1:9 where _otsflow_version < version/);
  });

  it('in append mode the merge step emits the windows final for the job, written once', () => {
    const file = join(ROOT, 'examples/orders/many-workers/job.sql');
    const text = readFileSync(file, 'utf8').replace("outputMode='update'", "outputMode='append', watermark.delay='1 minute'").replace('CREATE STREAM job1', 'EXPLAIN CREATE STREAM job1');
    const compiled = compile(text, { timeZone: 'UTC', variables });
    if (E.isLeft(compiled)) throw new Error(compiled.left.map((error) => error.message).join('\n'));
    const explained = compiled.right.explain();
    expect(explained).toContain('outputMode append');
    expect(explained).toMatch(/mergePartials +the windows final for the job \(every channel's watermark\)/);
    expect(explained).toMatch(/commitAfter +merged rows to OrderStreamSink on http:\/\/127\.0\.0\.1:9 where no _otsflow_version is stored/);
  });

  it('the same job with a checkpointLocation is a single worker, with no merge step', () => {
    const text = explain('examples/orders/job.sql');
    expect(text).toContain('single worker)');
    expect(text).not.toContain('mergePartials');
  });
});
