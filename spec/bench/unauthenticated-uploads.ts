/**
 * Emulator memory under stalled unauthenticated uploads (`npx tsx spec/bench/unauthenticated-uploads.ts`):
 * ATTACK_CONNECTIONS (default 150) connections each declare a 4.9 MB body, send all of it but
 * the last byte and stall, once without any signature headers and once with a wrong signature.
 * Prints the emulator's RSS before, at the peak of each attack, and the growth.
 */
import { tempDir } from '../emulator/helpers.js';
import { type AttackKind, mb, runUploadAttack, startEmulatorProcess } from '../emulator/upload-attack.js';

const CONNECTIONS = Number(process.env.ATTACK_CONNECTIONS ?? 150);
const BODY = Math.floor(4.9 * 1024 * 1024);

for (const kind of ['unsigned', 'wrong-signature'] as AttackKind[]) {
  const dir = tempDir('attack-bench');
  const target = await startEmulatorProcess(dir.path);
  try {
    const result = await runUploadAttack(target, { kind, connections: CONNECTIONS, bodyBytes: BODY, holdMs: 3_000 });
    console.log(
      `${kind.padEnd(16)} ${CONNECTIONS} × ${mb(BODY)} stalled: RSS ${mb(result.baselineRss)} → peak ${mb(result.peakRss)} (+${mb(result.peakRss - result.baselineRss)}); answered/closed while held: ${result.answered}`,
    );
  } finally {
    target.spawned.child.kill('SIGTERM');
    await target.spawned.exited;
    dir.remove();
  }
}
