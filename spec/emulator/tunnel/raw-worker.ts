/**
 * A raw tunnel worker for protocol specs (signed HTTP + protobuf through raw-client.ts): the
 * §7.2 bookkeeping and nothing more, so the server's rules are checked on their own.
 */
import * as E from 'fp-ts/lib/Either.js';
import { decodeRow } from '../../../lib/wire/plainbuffer/index.js';
import type { Channel } from '../../../lib/wire/tunnel-messages.js';
import type { Row } from '../../../lib/wire/types.js';
import { mustCall, type RawEndpoint } from './raw-client.js';

export const decoded = (bytes: Uint8Array): Row => {
  const row = decodeRow(bytes);
  if (E.isLeft(row)) throw row.left;
  return row.right;
};

/**
 * A client that keeps the §7.2 bookkeeping and nothing else: it reports what it holds, takes
 * the server's entry when its version is not older, and answers CLOSING with CLOSE v+1.
 */
export class RawWorker {
  readonly held = new Map<string, Channel>();
  clientId = '';

  constructor(
    private readonly endpoint: RawEndpoint,
    readonly tunnelId: string,
  ) {}

  async connect(timeout?: bigint): Promise<this> {
    const config = timeout === undefined ? {} : { clientConfig: { timeout, clientTag: 'raw' } };
    this.clientId = (await mustCall(this.endpoint, 'ConnectTunnel', { tunnelId: this.tunnelId, ...config })).clientId;
    return this;
  }

  async heartbeat(): Promise<readonly Channel[]> {
    const response = await mustCall(this.endpoint, 'Heartbeat', { tunnelId: this.tunnelId, clientId: this.clientId, channels: [...this.held.values()] });
    const next = new Map<string, Channel>();
    for (const channel of response.channels) {
      const local = this.held.get(channel.channelId);
      if (local !== undefined && local.version > channel.version) next.set(channel.channelId, local);
      else if (channel.status === 'CLOSING') next.set(channel.channelId, { ...channel, version: channel.version + 1n, status: 'CLOSE' });
      else next.set(channel.channelId, channel);
    }
    this.held.clear();
    for (const [id, channel] of next) this.held.set(id, channel);
    return response.channels;
  }

  open(): string[] {
    return [...this.held.values()].filter((c) => c.status === 'OPEN').map((c) => c.channelId).sort();
  }

  terminate(channelId: string): void {
    const local = this.held.get(channelId)!;
    this.held.set(channelId, { ...local, version: local.version + 1n, status: 'TERMINATED' });
  }

  /** Reads a channel from its checkpoint until `finished` or an empty batch; checkpoints the end. */
  async drain(channelId: string): Promise<{ records: { action: string; row: Row }[]; lastToken: string; batches: number }> {
    const ids = { tunnelId: this.tunnelId, clientId: this.clientId, channelId };
    const start = await mustCall(this.endpoint, 'GetCheckpoint', ids);
    let token = start.checkpoint;
    const records: { action: string; row: Row }[] = [];
    let batches = 0;
    for (;;) {
      const batch = await mustCall(this.endpoint, 'ReadRecords', { ...ids, token });
      batches++;
      records.push(...batch.records.map((r) => ({ action: r.actionType, row: decoded(r.record) })));
      if (batch.nextToken === 'finished' || batch.records.length === 0) {
        if (batch.nextToken !== start.checkpoint) {
          await mustCall(this.endpoint, 'Checkpoint', { ...ids, checkpoint: batch.nextToken, sequenceNumber: start.sequenceNumber + 1n });
        }
        return { records, lastToken: batch.nextToken, batches };
      }
      token = batch.nextToken;
    }
  }
}

