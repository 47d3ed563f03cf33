/**
 * Tunnel message codec throughput: `npx tsx spec/bench/wire-messages.ts`
 * The hot path is ReadRecordsResponse (one per ReadRecords call, up to ~1000 records) and the
 * request signature (one per call). `decode` copies every record's bytes; the tunnel client
 * decodes its own response bodies `with views` (no copy per record). Target: decode ≥ 1,000,000 records/s on one core, so the
 * protobuf envelope costs well under the PlainBuffer decode of the same records.
 */
import { tunnelMessages } from '../../lib/wire/tunnel-messages.js';
import { buildRequestHeaders, verifyRequest } from '../../lib/wire/signing.js';

const record = (i: number) => ({
  actionType: (['PUT_ROW', 'UPDATE_ROW', 'DELETE_ROW'] as const)[i % 3] as 'PUT_ROW' | 'UPDATE_ROW' | 'DELETE_ROW',
  // a typical ~170-byte OrderSource row
  record: new Uint8Array(170).fill(i & 0xff),
});

function measure(body: () => void, unitsPerCall: number, ms = 300): number {
  for (let i = 0; i < 200; i++) body();
  let best = 0;
  for (let round = 0; round < 5; round++) {
    let calls = 0;
    const start = performance.now();
    let elapsed = 0;
    while (elapsed < ms) {
      body();
      calls += 1;
      elapsed = performance.now() - start;
    }
    best = Math.max(best, (calls * unitsPerCall) / (elapsed / 1000));
  }
  return best;
}
const fmt = (n: number, unit: string) => `${Math.round(n).toLocaleString('en-US').padStart(12)} ${unit}`;

let sink = 0;
for (const batch of [100, 1000]) {
  const response = { records: Array.from({ length: batch }, (_, i) => record(i)), nextToken: 'CAISDhIBeCD7//////////8B', mayMoreRecord: true };
  const bytes = tunnelMessages.ReadRecordsResponse.encode(response);
  const decode = measure(() => {
    const r = tunnelMessages.ReadRecordsResponse.decode(bytes);
    if (r._tag === 'Right') sink += r.right.records.length;
  }, batch);
  // what the tunnel client does with a response body it owns: record bytes stay views into it
  const decodeViews = measure(() => {
    const r = tunnelMessages.ReadRecordsResponse.decodeWithViews(bytes);
    if (r._tag === 'Right') sink += r.right.records.length;
  }, batch);
  const encode = measure(() => {
    sink += tunnelMessages.ReadRecordsResponse.encode(response).length;
  }, batch);
  console.log(
    `ReadRecordsResponse ×${batch} (${bytes.length} B)  decode ${fmt(decode, 'records/s')}   decode with views ${fmt(decodeViews, 'records/s')}   encode ${fmt(encode, 'records/s')}`,
  );
}

const heartbeat = {
  tunnelId: 'f2b0a7b4-1111-2222-3333-444455556666',
  clientId: 'host_abc',
  channels: Array.from({ length: 16 }, (_, i) => ({ channelId: `p${i}_x`, version: BigInt(i + 1), status: 'OPEN' as const })),
};
const heartbeatBytes = tunnelMessages.HeartbeatRequest.encode(heartbeat);
console.log(`HeartbeatRequest (16 channels)         decode ${fmt(measure(() => void tunnelMessages.HeartbeatRequest.decode(heartbeatBytes), 1), 'msgs/s')}   encode ${fmt(measure(() => void tunnelMessages.HeartbeatRequest.encode(heartbeat), 1), 'msgs/s')}`);

const body = new Uint8Array(4096).fill(7);
const lookupSecret = () => 'secret';
const signed = measure(() => {
  sink += buildRequestHeaders({ path: '/tunnel/readrecords', body, accessKeyId: 'id', accessKeySecret: 'secret', instanceName: 'inst' })['x-ots-signature']?.length ?? 0;
}, 1);
const headers = buildRequestHeaders({ path: '/tunnel/readrecords', body, accessKeyId: 'id', accessKeySecret: 'secret', instanceName: 'inst' });
const verified = measure(() => {
  sink += verifyRequest({ method: 'POST', path: '/tunnel/readrecords', headers, body, lookupSecret })._tag.length;
}, 1);
console.log(`sign request (4 KiB body)              ${fmt(signed, 'req/s')}`);
console.log(`verify request (4 KiB body)            ${fmt(verified, 'req/s')}`);
if (sink === -1) console.log(sink);
