/**
 * Runs the crash test's job in its own process: `node --import tsx child.ts <dir> <seed>`.
 * Prints `ready` once the job runs and `done` when it completed; the parent SIGKILLs it at random.
 */
import { crashJob } from './job.js';

const [dir, seed] = process.argv.slice(2);
if (dir === undefined || seed === undefined) throw new Error('usage: child.ts <dir> <seed>');
crashJob(dir, Number(seed)).subscribe({
  error: (error: unknown) => {
    process.stdout.write(`error ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  },
  complete: () => {
    process.stdout.write('done\n');
    process.exit(0);
  },
});
process.stdout.write('ready\n');
