/**
 * What a job's checkpointLocation shows after a kill, read from outside the job, and the phase of
 * the commit protocol (design.md) a kill landed in:
 *
 *   startup      the process had not started its pipeline yet (compiling the SQL, connecting, opening the sink)
 *   reading      no batch between plan and commit: the tunnel reads, the trigger waits
 *   plan         writing offsets/N (before its append; told apart only by older checkpoint layouts)
 *   planned      offsets/N is in the log (appended, being synced or durable), its sink write has not begun
 *   sink-write   a BatchWriteRow of batch N was on its way (not applied, or applied after the kill)
 *   sink-written the sink holds batch N's rows, commits/N is not written yet
 *   commit       writing commits/N (before its append; told apart only by older checkpoint layouts)
 *   ack          commits/N is in the log, the tunnel's checkpoint of a channel batch N read is behind it
 *
 * Each is told apart by the checkpoint log (`checkpoint.log`: offsets/N with or without commits/N;
 * a killed process's appends are all in the file, synced or not), for the sink by the emulator's own
 * log of the sink's writes, each of which names the newest plan in the log as it arrived (the job
 * appends offsets/N before it runs batch N), and for the acknowledgement by the tunnel's checkpoints
 * (DescribeTunnel) against commits/N.
 */
import { existsSync, lstatSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as E from 'fp-ts/lib/Either.js';
import { CHECKPOINT_LOG, parseCheckpointLog, type CheckpointLogEntry } from '../../../lib/stream/checkpoint/file-store.js';
import { decodeChannelToken } from '../../../lib/emulator/tunnel/tokens.js';
import type { SinkEvent } from './cluster.js';

export const PHASES = ['startup', 'reading', 'plan', 'planned', 'sink-write', 'sink-written', 'commit', 'ack'] as const;
export type Phase = (typeof PHASES)[number];

export interface CheckpointListing {
  readonly commits: readonly number[];
  readonly plans: readonly number[];
  /** temp files left by an interrupted compaction of the log: `.checkpoint.log.<pid>.tmp` */
  readonly temps: readonly { readonly pid: number }[];
}

/**
 * Where the log's content is: the log, or — while checkpoint-disk.spec.ts has swapped the log for
 * a link to /dev/full — the hard link it saved the log under (`checkpoint.log.saved`).
 */
export function checkpointLogPath(location: string): string {
  const log = join(location, CHECKPOINT_LOG);
  try {
    if (lstatSync(log).isSymbolicLink()) return `${log}.saved`;
  } catch {
    // not there yet
  }
  return log;
}

/** The intact entries of a location's checkpoint log (none before the job wrote one). */
export function logEntries(location: string): readonly CheckpointLogEntry[] {
  const log = checkpointLogPath(location);
  if (!existsSync(log)) return [];
  return parseCheckpointLog(readFileSync(log)).entries;
}

export function listCheckpoint(location: string): CheckpointListing {
  const entries = logEntries(location);
  const ids = (kind: 'offsets' | 'commits'): number[] => entries.filter((entry) => entry.kind === kind).map((entry) => entry.batchId).sort((a, b) => a - b);
  const temps: { pid: number }[] = [];
  try {
    for (const name of readdirSync(location)) {
      const match = /^\.checkpoint\.log\.(\d+)\.tmp$/.exec(name);
      if (match !== null) temps.push({ pid: Number(match[1]) });
    }
  } catch {
    // not created yet
  }
  return { commits: ids('commits'), plans: ids('offsets'), temps };
}

const last = (values: readonly number[]): number => (values.length === 0 ? -1 : (values[values.length - 1] as number));

export interface KillContext {
  readonly location: string;
  readonly pid: number;
  /** when the job was spawned, and when SIGKILL was sent (ms, this machine's clock) */
  readonly startedAt: number;
  readonly killedAt: number;
  /** the job's stderr up to the kill */
  readonly stderr: string;
  readonly sinkEvents: readonly SinkEvent[];
  /** the emulator process generation that served this job */
  readonly generation: number;
  /** per channel, the records the tunnel's checkpoint covers after the kill (DescribeTunnel) */
  readonly acknowledged: ReadonlyMap<string, number>;
}

export interface Classified {
  readonly phase: Phase;
  /** the batch the kill interrupted (the planned one, or the one being persisted) */
  readonly batchId: number | undefined;
  /** the kill interrupted the replay of a batch planned by an earlier run */
  readonly replay: boolean;
}

export function classifyKill(context: KillContext, before: CheckpointListing): Classified {
  const after = listCheckpoint(context.location);
  const planBefore = last(before.plans);
  const replaying = planBefore === last(before.commits) + 1;
  const commit = last(after.commits);
  const plan = last(after.plans);
  if (plan === commit + 1) {
    const replay = replaying && plan === planBefore;
    const writes = context.sinkEvents.filter((event) => event.generation === context.generation && event.phase === 'begin' && event.plan === plan && event.at >= context.startedAt && event.at <= context.killedAt);
    const ended = (begin: SinkEvent): SinkEvent | undefined =>
      context.sinkEvents.find((event) => event.generation === begin.generation && event.phase === 'end' && event.id === begin.id && event.at <= context.killedAt);
    if (writes.some((begin) => ended(begin) === undefined)) return { phase: 'sink-write', batchId: plan, replay };
    if (writes.length > 0) return { phase: 'sink-written', batchId: plan, replay };
    // a replayed plan was written by an earlier run: this run only restored it
    if (replay && !restored(context.stderr)) return { phase: 'startup', batchId: undefined, replay: false };
    return { phase: 'planned', batchId: plan, replay };
  }
  if (!restored(context.stderr)) return { phase: 'startup', batchId: undefined, replay: false };
  // this run committed batch N; did the tunnel checkpoints of the channels it read follow?
  if (commit > last(before.commits)) {
    const now = committedCounts(context.location, commit);
    const previous = committedCounts(context.location, commit - 1);
    for (const [channelId, count] of now) {
      if (count !== previous.get(channelId) && (context.acknowledged.get(channelId) ?? 0) < count) return { phase: 'ack', batchId: commit, replay: false };
    }
  }
  return { phase: 'reading', batchId: undefined, replay: false };
}

/** The job's pipeline runs (it logs `reading <scan> (tunnel …)` as it subscribes, then loads the checkpoint). */
export const restored = (stderr: string): boolean => /job \S+: reading /.test(stderr);

/** Records consumed per channel as a commit (default: the newest) records them (token count + skip). */
export function committedCounts(location: string, batchId?: number): Map<string, number> {
  const commits = logEntries(location).filter((entry) => entry.kind === 'commits');
  const newest = batchId ?? last(commits.map((entry) => entry.batchId));
  const counts = new Map<string, number>();
  const entry = commits.find((candidate) => candidate.batchId === newest);
  if (newest < 0 || entry === undefined) return counts;
  const commit = JSON.parse(entry.json) as { offsets: Record<string, { position: string; skip: number }> };
  for (const [channelId, cursor] of Object.entries(commit.offsets)) {
    const token = decodeChannelToken(cursor.position);
    if (E.isLeft(token)) throw new Error(`commits/${newest}: channel ${channelId}: ${token.left}`);
    counts.set(channelId, (token.right.kind === 'finished' ? Number.POSITIVE_INFINITY : token.right.count) + cursor.skip);
  }
  return counts;
}
