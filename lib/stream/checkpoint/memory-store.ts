/**
 * A checkpoint store in memory, for tests and throw-away jobs. Writes go through JSON text, so
 * what is read back is exactly what a file would hold; results are synchronous Observables, so a
 * pipeline over it runs in virtual time. `failNext` makes the next write fail, as a full disk would.
 */
import * as E from 'fp-ts/lib/Either.js';
import type * as t from 'io-ts';
import { defer, Observable, of, throwError, timer, map, type SchedulerLike } from 'rxjs';
import { CheckpointError, commitCodec, describeErrors, planCodec, type BatchCommit, type BatchPlan, type CheckpointStore, type RestoredCheckpoint } from './store.js';

export interface MemoryCheckpointStore extends CheckpointStore {
  /** plans kept, oldest first */
  readonly plans: () => readonly BatchPlan[];
  /** commits kept, oldest first */
  readonly commits: () => readonly BatchCommit[];
  /** the next write of that kind fails with `error` */
  failNext(kind: 'plan' | 'commit', error?: Error): void;
}

export interface MemoryCheckpointOptions {
  readonly retain?: number;
  /** writes take this long (on `scheduler`) and land at the end, as a rename does: for crash tests */
  readonly delay?: number;
  readonly scheduler?: SchedulerLike;
}

export function memoryCheckpointStore(location = 'memory', options: MemoryCheckpointOptions = {}): MemoryCheckpointStore {
  const retain = Math.max(1, options.retain ?? 10);
  const plans = new Map<number, string>();
  const commits = new Map<number, string>();
  const failures: { plan: Error | undefined; commit: Error | undefined } = { plan: undefined, commit: undefined };

  const write = (kind: 'plan' | 'commit', files: Map<number, string>, batchId: number, body: unknown, after?: () => void): Observable<void> => {
    const failure = failures[kind];
    if (failure !== undefined) {
      failures[kind] = undefined;
      return throwError(() => new CheckpointError(location, `cannot persist ${kind === 'plan' ? 'offsets' : 'commits'}/${batchId} (${failure.message})`, failure));
    }
    const text = JSON.stringify(body);
    const land = (): void => {
      files.set(batchId, text);
      after?.();
    };
    if (options.delay === undefined) return defer(() => of(land()));
    return timer(options.delay, options.scheduler).pipe(map(land));
  };
  const prune = (newest: number): void => {
    for (const files of [plans, commits]) for (const id of [...files.keys()]) if (id <= newest - retain) files.delete(id);
  };

  const read = <A>(text: string, codec: t.Type<A, A, unknown>): A => {
    const decoded = codec.decode(JSON.parse(text));
    if (E.isLeft(decoded)) throw new CheckpointError(location, describeErrors(decoded.left));
    return decoded.right;
  };

  return {
    location,
    load: () =>
      new Observable<E.Either<CheckpointError, RestoredCheckpoint>>((subscriber) => {
        const lastId = Math.max(-1, ...commits.keys());
        const commit = lastId < 0 ? undefined : read(commits.get(lastId) as string, commitCodec);
        const planText = plans.get(lastId + 1);
        const plan = planText === undefined ? undefined : read(planText, planCodec);
        subscriber.next(E.right({ commit, plan }));
        subscriber.complete();
      }),
    writePlan: (plan) => write('plan', plans, plan.batchId, plan),
    writeCommit: (commit) => write('commit', commits, commit.batchId, commit, () => prune(commit.batchId)),
    plans: () => [...plans.keys()].sort((a, b) => a - b).map((id) => read(plans.get(id) as string, planCodec)),
    commits: () => [...commits.keys()].sort((a, b) => a - b).map((id) => read(commits.get(id) as string, commitCodec)),
    failNext(kind, error = new Error('injected failure')) {
      failures[kind] = error;
    },
  };
}
