import { asyncScheduler, defer, Observable, throwError } from 'rxjs';
import { errorCode, TunnelFatalError } from './errors.js';
import { tunnelControl } from './control.js';
import { createHttpTransport } from './http-transport.js';
import { httpTunnelApi } from './http-tunnel-api.js';
import type { ChannelBatch } from './model.js';
import { decodeTunnelOptions } from './options.js';
import type { TunnelOptions } from './options.js';
import { tunnelWorker } from './worker.js';

/**
 * Consumes a tunnel: an Observable of decoded channel batches for as long as it is subscribed.
 *
 * - Options are validated first; invalid ones end the Observable with a `TunnelOptionsError`
 *   listing every problem, before any request.
 * - Commit each batch (`batch.commit()`) once its records are processed: a channel reads on only
 *   while it has fewer than `maxInFlightBatchesPerChannel` uncommitted batches, and its checkpoints
 *   follow the commits in order.
 * - OTSParameterInvalid, OTSTunnelExpired and OTSPermissionDenied end it with a `TunnelFatalError`;
 *   transient failures are retried, a lost client reconnects as a new one.
 * - Unsubscribing stops reading, writes the checkpoints of committed batches and calls ShutdownTunnel
 *   so the channels are free for other workers at once.
 */
export function tunnel(options: TunnelOptions): Observable<ChannelBatch> {
  return defer(() => {
    const decoded = decodeTunnelOptions(options);
    if (decoded._tag === 'Left') return throwError(() => decoded.left);
    const config = decoded.right;
    const scheduler = options.scheduler ?? asyncScheduler;
    return new Observable<ChannelBatch>((subscriber) => {
      const transport = createHttpTransport(config);
      const api = httpTunnelApi(transport);
      const run = (tunnelId: string) =>
        tunnelWorker({
          api,
          tunnelId,
          settings: config,
          scheduler,
          ...(options.onEvent === undefined ? {} : { onEvent: options.onEvent }),
          onStopped: () => transport.close(),
        }).subscribe(subscriber);
      if (config.tunnel.kind === 'id') return run(config.tunnel.tunnelId);

      // resolve table + tunnel name to the id first; a missing tunnel is OTSParameterInvalid
      let stopped = false;
      let running: { unsubscribe(): void } | undefined;
      const { tableName, tunnelName } = config.tunnel;
      void tunnelControl(transport, { retry: config.requestRetry, scheduler })
        .describeTunnel(tableName, tunnelName)
        .then((described) => {
          if (stopped) return;
          if (described._tag === 'Left') {
            transport.close();
            const error = described.left;
            const code = errorCode(error) ?? 'OTSClientError';
            subscriber.error(new TunnelFatalError(code, 'control', error));
            return;
          }
          running = run(described.right.tunnel.tunnelId);
        });
      return () => {
        stopped = true;
        if (running === undefined) transport.close();
        running?.unsubscribe();
      };
    });
  });
}
