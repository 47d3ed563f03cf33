/**
 * The instrumented emulator (instrumented-emulator.ts) in its own process, so it can be SIGKILLed
 * and restarted on its data directory at the same port, as a real service outage:
 *
 *   node --import tsx emulator-process.ts '{"dataDir": "...", "port": 0, "sinkDelayMs": 40, ...}'
 *
 * stdout, one JSON line each: `{"kind":"ready","port":…}` once it listens, then its events (sink
 * writes). stdin, one JSON command a line with an `id`, answered by `{"kind":"ack","id":…}` (and
 * the answer's fields) or `{"kind":"error","id":…,"message":…}`.
 */
import { createInterface } from 'node:readline';
import { startInstrumentedEmulator, type InstrumentedConfig } from './instrumented-emulator.js';

const config = JSON.parse(process.argv[2] ?? '{}') as InstrumentedConfig;
const out = (line: Record<string, unknown>): void => {
  process.stdout.write(`${JSON.stringify(line)}\n`);
};

const { emulator, handle } = await startInstrumentedEmulator(config, out);

createInterface({ input: process.stdin }).on('line', (line) => {
  const message = JSON.parse(line) as { id: number; cmd: string } & Record<string, unknown>;
  try {
    out({ ...handle(message), kind: 'ack', id: message.id });
  } catch (error) {
    out({ kind: 'error', id: message.id, message: error instanceof Error ? error.message : String(error) });
  }
});

out({ kind: 'ready', port: emulator.port, endpoint: emulator.endpoint });
