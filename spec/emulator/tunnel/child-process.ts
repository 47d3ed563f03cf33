/**
 * The emulator in a child process of its own (emulator-child.ts), for specs that kill it with
 * SIGKILL and restart it on the same data directory.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const CHILD = fileURLToPath(new URL('./emulator-child.ts', import.meta.url));

/** Starts the emulator on `dataDir` (with the fault plan `faults`, if given); resolves with its port. */
export const startChild = (dataDir: string, faults?: string): Promise<{ child: ChildProcess; port: number }> =>
  new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', CHILD, dataDir, ...(faults === undefined ? [] : [faults])], { stdio: ['ignore', 'pipe', 'inherit'] });
    child.once('error', reject);
    child.once('exit', (code, signal) => reject(new Error(`emulator child exited early (${code ?? signal})`)));
    createInterface({ input: child.stdout! }).once('line', (line) => {
      child.removeAllListeners('exit');
      resolve({ child, port: (JSON.parse(line) as { port: number }).port });
    });
  });

/** SIGKILL: no shutdown code runs. Resolves once the process has exited. */
export const killHard = (child: ChildProcess): Promise<void> =>
  new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGKILL');
  });
