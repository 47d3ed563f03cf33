/**
 * A SQL script compiled and its statements run, for specs and benches that drive a stream job in
 * process: the job it defines, not yet started.
 */
import * as E from 'fp-ts/lib/Either.js';
import { compile, type StreamJob } from '../../lib/sql/index.js';
import { formatSqlErrors } from '../../lib/sql/printer.js';

/**
 * Compiles `text`, runs its statements (tables, scans, the stream) and resolves with the stream
 * job, not started. Throws with the printed errors where `text` does not compile, and where it
 * defines no stream job.
 */
export async function compileJob(text: string, options: Parameters<typeof compile>[1]): Promise<StreamJob> {
  const compiled = compile(text, options);
  if (E.isLeft(compiled)) throw new Error(formatSqlErrors(text, compiled.left));
  let job: StreamJob | undefined;
  for (const statement of compiled.right.statements) {
    const result = await statement.run();
    if (result.kind === 'job') job = result.job;
  }
  if (job === undefined) throw new Error('the SQL defines no stream job');
  return job;
}
