/**
 * A loopback TCP proxy that cuts connections in the middle of responses: for a seeded fraction
 * of the chunks coming back from the server it forwards half of the chunk and destroys both
 * sockets. The request has usually been applied by then, so clients meet the hard case: a lost
 * response to a call that took effect.
 */
import { createServer, connect } from 'node:net';
import type { AddressInfo, Socket } from 'node:net';
import { seededRandom } from '../../lib/wire/random.js';

export interface ChaosProxy {
  /** http://127.0.0.1:port */
  readonly endpoint: string;
  /** connections cut so far */
  dropped(): number;
  close(): Promise<void>;
}

export async function startChaosProxy(target: { readonly host: string; readonly port: number }, dropRate: number, seed = 1): Promise<ChaosProxy> {
  const random = seededRandom(seed);
  const sockets = new Set<Socket>();
  let dropped = 0;
  const server = createServer((client) => {
    const upstream = connect(target.port, target.host);
    sockets.add(client);
    sockets.add(upstream);
    const closeBoth = (): void => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('error', closeBoth);
    upstream.on('error', closeBoth);
    client.on('close', closeBoth);
    upstream.on('close', closeBoth);
    client.pipe(upstream);
    upstream.on('data', (chunk: Buffer) => {
      if (random() < dropRate) {
        dropped++;
        client.write(chunk.subarray(0, chunk.length >> 1), () => closeBoth());
        upstream.destroy();
        return;
      }
      client.write(chunk);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    dropped: () => dropped,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
