/**
 * The emulator with its tunnel service in a process of its own, for `tunnel-client.ts`: so the
 * service and the client each get a core. Prints `{"endpoint": …}` once it listens.
 *   node --import tsx spec/bench/tunnel-client-emulator.ts <dataDir>
 */
import { startEmulator } from '../../lib/emulator/index.js';
import { attachTunnelService } from '../../lib/emulator/tunnel/index.js';

const dataDir = process.argv[2];
if (dataDir === undefined) throw new Error('usage: tunnel-client-emulator.ts <dataDir>');
const emulator = await startEmulator({
  dataDir,
  port: 0,
  extensions: [
    ({ engine, router }) => {
      const tunnels = attachTunnelService(engine, router, { partitions: 4, baseChannels: 4 });
      return { close: () => tunnels.detach() };
    },
  ],
});
process.stdout.write(`${JSON.stringify({ endpoint: emulator.endpoint, instanceName: emulator.instanceName, credentials: emulator.credentials })}\n`);
process.on('SIGTERM', () => {
  void emulator.close().then(() => process.exit(0));
});
