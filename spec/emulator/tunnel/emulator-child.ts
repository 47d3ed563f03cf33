/**
 * An emulator in its own process, for crash tests: `node --import tsx emulator-child.ts <dataDir> [<fault plan>]`.
 * Two stream partitions, reads of at most 3 records. Prints one JSON line `{"port": …}` once it listens, then serves until killed.
 */
import { startEmulator } from '../../../lib/emulator/index.js';

const dataDir = process.argv[2];
if (dataDir === undefined) throw new Error('usage: emulator-child.ts <dataDir>');
const faults = process.argv[3];
const emulator = await startEmulator({
  dataDir,
  port: 0,
  partitions: 2,
  ...(faults === undefined ? {} : { faults }),
  tunnel: { readLimits: { maxRecords: 3, maxBytes: 4 << 20 } },
});
process.stdout.write(`${JSON.stringify({ port: emulator.port })}\n`);
