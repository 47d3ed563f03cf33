/**
 * A tunnel consumer in its own process, for the multi-worker integration spec: options come as
 * JSON in argv[2]; every batch and channel event goes to stdout as one JSON line; SIGTERM
 * unsubscribes (flush + ShutdownTunnel) and exits.
 */
import { tunnel } from '../../lib/tunnel/tunnel.js';
import type { TunnelOptions } from '../../lib/tunnel/options.js';

const options = JSON.parse(process.argv[2] ?? '{}') as TunnelOptions;
const out = (line: Record<string, unknown>): void => {
  process.stdout.write(`${JSON.stringify(line)}\n`);
};

const subscription = tunnel({
  ...options,
  onEvent: (event) => {
    if (event.kind === 'connected') out({ kind: 'connected', clientId: event.clientId });
    else if (event.kind === 'channel-opened') out({ kind: 'opened', channelId: event.channelId });
    else if (event.kind === 'channel-closed') out({ kind: 'closed', channelId: event.channelId, reason: event.reason });
    else if (event.kind === 'shutdown') {
      out({ kind: 'shutdown' });
      process.exit(0);
    }
  },
}).subscribe({
  next: (batch) => {
    out({
      kind: 'batch',
      channelId: batch.channelId,
      orders: batch.records.map((record) => String(record.primaryKey[1]?.value)),
    });
    void batch.commit();
  },
  error: (error: unknown) => {
    out({ kind: 'error', message: error instanceof Error ? error.message : String(error) });
    process.exit(1);
  },
});

process.on('SIGTERM', () => {
  subscription.unsubscribe();
  setTimeout(() => process.exit(0), 5_000).unref();
});
