/**
 * What a job's restarts leave in its checkpoint location besides the checkpoint: `tunnel.json`,
 * the tunnel `--reset` made and the ids it replaced (for a definition that still names the old
 * one), and the errors a start is refused with.
 */
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { writeFileAtomicallySync } from '../checkpoint/owner-record.js';

/** another consumer holds the tunnel of an aggregating job, or another run holds its location */
export class SoleConsumerError extends Error {
  override readonly name = 'SoleConsumerError';
}

export class LostCheckpointError extends Error {
  override readonly name = 'LostCheckpointError';
}

/** a control call that failed; `cause` tells a network failure from a refusal */
export class DescribeError extends Error {
  override readonly name = 'DescribeError';
  constructor(
    message: string,
    override readonly cause: unknown,
  ) {
    super(message);
  }
}

export interface LostCheckpoint {
  readonly records: bigint;
  /** the newest consumed-up-to time among the channels (ISO), or a description */
  readonly upTo: string;
}

/** `checkpointLocation/tunnel.json`: the tunnel --reset made, and the ids it replaced */
export const TUNNEL_FILE = 'tunnel.json';

export interface TunnelReplacement {
  readonly tunnelId: string;
  readonly tunnelName: string;
  readonly replaces: readonly string[];
}

export function readReplacement(location: string): TunnelReplacement | undefined {
  try {
    const parsed = JSON.parse(readFileSync(path.join(location, TUNNEL_FILE), 'utf8')) as Partial<TunnelReplacement>;
    if (typeof parsed.tunnelId !== 'string' || typeof parsed.tunnelName !== 'string' || !Array.isArray(parsed.replaces)) return undefined;
    return { tunnelId: parsed.tunnelId, tunnelName: parsed.tunnelName, replaces: parsed.replaces.filter((id): id is string => typeof id === 'string') };
  } catch {
    return undefined;
  }
}

export function writeReplacement(location: string, record: TunnelReplacement): void {
  writeFileAtomicallySync(path.join(location, TUNNEL_FILE), `${JSON.stringify(record)}\n`);
}

export function replacedTunnel(location: string, tunnelId: string): TunnelReplacement | undefined {
  const record = readReplacement(location);
  return record !== undefined && record.replaces.includes(tunnelId) ? record : undefined;
}
