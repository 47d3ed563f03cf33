/**
 * A sink takes the output rows of one batch and reports when they are durable. `write` returns
 * anything `from()` accepts: real sinks return a Promise, tests may return an Observable to run in
 * virtual time. Completion means durable; an error means nothing may be assumed written (the
 * batch is retried, so writes must be idempotent: keyed upserts are).
 *
 * `keyColumns` names the columns that identify a row in the target, for upsert sinks (the
 * Tablestore sink's primary key): rows with equal keys overwrite each other, so re-writing a
 * replayed batch is harmless.
 *
 * `writeTable`, when a sink has it, takes a batch whose output stayed columnar (`emitTable`,
 * `projectTable`) as it is: the sink reads the columns itself, with the same meaning as `write`
 * of the same rows. `commitAfter` turns a table into row objects only for sinks without it.
 *
 * The interface lives in the stream layer because `commitAfter` writes to it (layers import only
 * downwards); `lib/sinks` re-exports it next to the sinks.
 */
import type { ObservableInput } from 'rxjs';
import type { OutputRow, RowTable } from './table.js';

export interface WriteContext {
  /** the micro-batch the rows come from */
  readonly batchId: number;
}

export interface Sink<T = OutputRow> {
  readonly keyColumns?: readonly string[];
  write(rows: readonly T[], context: WriteContext): ObservableInput<unknown>;
  writeTable?(table: RowTable, context: WriteContext): ObservableInput<unknown>;
  close?(): ObservableInput<unknown>;
}
