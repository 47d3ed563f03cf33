import { PassThrough, Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { consoleSink } from '../../lib/sinks/console-sink.js';

const capture = () => {
  const out = new PassThrough();
  const chunks: string[] = [];
  out.on('data', (chunk: Buffer) => chunks.push(chunk.toString('utf8')));
  return { out, text: () => chunks.join('') };
};

describe('consoleSink', () => {
  it('prints a batch as a table, like Spark’s console sink', async () => {
    const { out, text } = capture();
    const sink = consoleSink({ out });
    await sink.write(
      [
        { window: { start: Date.UTC(2019, 10, 27, 14, 54), end: Date.UTC(2019, 10, 27, 14, 54, 30) }, count: 12, totalPrice: 99.5, tag: null },
        { window: { start: 0, end: 30_000 }, count: 3, totalPrice: 1, tag: new Uint8Array([0xca, 0xfe]) },
      ],
      { batchId: 4 },
    );
    const border = `+${'-'.repeat(52)}+-----+----------+------+`;
    expect(text()).toBe(
      [
        '-------------------------------------------',
        'Batch: 4',
        '-------------------------------------------',
        border,
        `|${'window'.padEnd(52)}|count|totalPrice|tag   |`,
        border,
        '|[2019-11-27T14:54:00.000Z, 2019-11-27T14:54:30.000Z)|   12|      99.5|  null|',
        '|[1970-01-01T00:00:00.000Z, 1970-01-01T00:00:30.000Z)|    3|         1|0xcafe|',
        border,
        '',
        '',
      ].join('\n'),
    );
  });

  it('shows the chosen columns, caps the rows shown, and says when a batch is empty', async () => {
    const { out, text } = capture();
    const sink = consoleSink({ out, columns: ['n'], maxRows: 1 });
    await sink.write([{ n: 1n, hidden: 'x' }, { n: 2n, hidden: 'y' }], { batchId: 0 });
    await sink.write([], { batchId: 1 });
    expect(text()).toContain('|n|\n+-+\n|1|\n+-+\nonly showing top 1 of 2 rows\n');
    expect(text()).toContain('Batch: 1\n-------------------------------------------\n+-+\n|n|\n+-+\n+-+\n');
    const { out: plain, text: plainText } = capture();
    await consoleSink({ out: plain }).write([], { batchId: 2 });
    expect(plainText()).toContain('(no rows)');
  });

  it('completes only when the stream took the text, and fails when it cannot', async () => {
    const broken = new Writable({ write: (_chunk, _encoding, callback) => callback(new Error('EPIPE')) });
    broken.on('error', () => undefined);
    await expect(consoleSink({ out: broken }).write([{ n: 1 }], { batchId: 0 })).rejects.toThrow('EPIPE');
  });
});
