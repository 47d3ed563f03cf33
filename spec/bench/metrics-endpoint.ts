/**
 * What `--metrics-port` costs: a scrape of a job's registry (default process metrics + the job's
 * figures with 16 channels) in process and over loopback HTTP, the emulator's per-request hook
 * (a ReadRecords answer of 500 records counted), and the channel lag bookkeeping per batch.
 *
 *   npx tsx spec/bench/metrics-endpoint.ts
 */
import { BehaviorSubject } from 'rxjs';
import { countReadRecords, metricsRegistry, registerEmulatorMetrics, registerJobMetrics, serveMetrics } from '../../lib/cli/metrics-endpoint.js';
import type { JobProgress } from '../../lib/sql/job.js';
import { ChannelLag } from '../../lib/stream/channel-lag.js';
import { StreamMetrics } from '../../lib/stream/metrics.js';
import type { ChannelBatch } from '../../lib/tunnel/model.js';
import { TUNNEL_APIS, tunnelMessages } from '../../lib/wire/tunnel-messages.js';

const metrics = new StreamMetrics();
metrics.add('recordsIn', 1_000_000);
metrics.noteBatchLatency(42);
const progress = (): JobProgress => ({
  job: 'bench',
  state: 'running',
  metrics: metrics.snapshot(),
  recordsPerSecond: 100_000,
  channels: Array.from({ length: 16 }, (_, k) => ({ channelId: `p${k}_0123456789abcdef`, status: 'OPEN', lagRecords: k * 100, more: k % 2 === 0, lagMs: k * 10 })),
  latestRows: [],
  sinkKey: ['begin', 'end'],
});
const subject = new BehaviorSubject(progress());
const registry = metricsRegistry();
registerJobMetrics(registry).add({ name: 'bench', progress: subject });
const onRequest = registerEmulatorMetrics(registry);

async function time(label: string, n: number, run: () => unknown): Promise<void> {
  for (let i = 0; i < Math.min(200, n); i++) await run();
  const start = process.hrtime.bigint();
  for (let i = 0; i < n; i++) await run();
  const us = Number(process.hrtime.bigint() - start) / 1000 / n;
  console.log(`${label.padEnd(58)} ${us.toFixed(1).padStart(8)} µs`);
}

const text = await registry.metrics();
console.log(`scrape body: ${text.length.toLocaleString('en-US')} bytes, ${text.split('\n').filter((line) => line !== '' && !line.startsWith('#')).length} samples`);
await time('registry.metrics() in process (job + 16 channels + defaults)', 2_000, () => {
  metrics.add('recordsIn', 100);
  subject.next(progress());
  return registry.metrics();
});
const endpoint = await serveMetrics(registry, { port: 0 });
await time('GET /metrics over loopback (fetch, keep-alive)', 1_000, async () => (await fetch(endpoint.url)).text());
await endpoint.close();

const body = tunnelMessages.ReadRecordsResponse.encode({ records: Array.from({ length: 500 }, () => ({ actionType: 'PUT_ROW', record: new Uint8Array(120) })), nextToken: 'token', mayMoreRecord: true });
await time('countReadRecords, 500 records (60 KB answer)', 20_000, () => countReadRecords(body));
await time('emulator onRequest hook, ReadRecords of 500 records', 20_000, () => onRequest({ path: TUNNEL_APIS.ReadRecords.path, status: 200, requestBytes: 120, body, ms: 0.4 }));
await time('emulator onRequest hook, PutRow', 50_000, () => onRequest({ path: '/PutRow', status: 200, requestBytes: 300, body: body.subarray(0, 40), ms: 0.2 }));

const lag = new ChannelLag();
const records = Array.from({ length: 500 }, (_, k) => ({ action: 'PUT_ROW' as const, primaryKey: [], cells: [], sequence: { epoch: 0, timestamp: BigInt(k) * 1000n, rowIndex: 0 } }));
const batch: ChannelBatch = { channelId: 'p0', clientId: 'c', fromToken: 'a', nextToken: 'b', records, stream: true, finished: false, commit: () => Promise.resolve({ kind: 'committed', sequenceNumber: 1n }) };
await time('ChannelLag read + commit of a 500-record batch', 50_000, () => lag.read(batch).commit());
await time('ChannelLag snapshot, 1 channel', 50_000, () => lag.snapshot());
