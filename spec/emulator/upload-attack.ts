/**
 * The unauthenticated-upload attack of issue 15 item 5, shared by its spec and its bench: many
 * connections each declare a large body, send all of it but the last byte, and stall. Requests
 * either carry no signature headers at all or a full set with a wrong signature. The emulator
 * runs in a child process (`otsflow emulator`, as users run it) and its resident set is read from
 * /proc, so what is measured is the server alone.
 */
import { readFileSync } from 'node:fs';
import { type Socket, connect } from 'node:net';
import { buildRequestHeaders } from '../../lib/wire/signing.js';
import { type Spawned, spawnTs, waitForOutput } from './process.js';

export type AttackKind = 'unsigned' | 'wrong-signature';

export interface RunningChild {
  readonly spawned: Spawned;
  readonly host: string;
  readonly port: number;
  readonly instanceName: string;
  readonly accessKeyId: string;
}

/** `otsflow emulator --port 0 --data dir`, from the sources (tsx), with extra flags. */
export const startEmulatorProcess = async (dataDir: string, extra: readonly string[] = []): Promise<RunningChild> => {
  const spawned = spawnTs('lib/cli/main.ts', ['emulator', '--port', '0', '--data', dataDir, ...extra]);
  await waitForOutput(spawned, /Press Ctrl\+C to stop\./, 30_000);
  const out = spawned.stdout();
  const endpoint = /endpoint:\s+http:\/\/([\d.]+):(\d+)/.exec(out);
  const instanceName = /instance:\s+(\S+)/.exec(out)?.[1];
  const accessKeyId = /accessKeyId:\s+(\S+)/.exec(out)?.[1];
  if (endpoint === null || instanceName === undefined || accessKeyId === undefined) throw new Error(`unexpected banner: ${out}`);
  return { spawned, host: endpoint[1]!, port: Number(endpoint[2]), instanceName, accessKeyId };
};

/** Resident set of a process, bytes (Linux /proc). */
export const rssOf = (pid: number): number => {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = /VmRSS:\s+(\d+)\s+kB/.exec(status)?.[1];
  if (kb === undefined) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(kb) * 1024;
};

export interface AttackOptions {
  readonly kind: AttackKind;
  readonly connections: number;
  /** declared Content-Length of each upload */
  readonly bodyBytes: number;
  /** how long the uploads stay stalled while RSS is sampled */
  readonly holdMs: number;
  /** after the hold, how long to wait for the server to close every stalled connection (default 0) */
  readonly awaitCloseMs?: number;
}

export interface AttackResult {
  readonly baselineRss: number;
  readonly peakRss: number;
  /** connections the server answered while the attack held them */
  readonly answered: number;
  /** connections the server closed, by the end of the hold (plus awaitCloseMs) */
  readonly closedByServer: number;
}

const headersFor = (target: RunningChild, kind: AttackKind, bodyBytes: number): string => {
  const base: Record<string, string> = { host: `${target.host}:${target.port}`, 'content-length': String(bodyBytes), 'content-type': 'application/x.pb2' };
  if (kind === 'wrong-signature') {
    // a complete, well-formed header set signed with a secret the server does not know
    const signed = buildRequestHeaders({ path: '/PutRow', body: Buffer.alloc(0), instanceName: target.instanceName, accessKeyId: target.accessKeyId, accessKeySecret: 'not-the-secret' });
    Object.assign(base, signed);
  }
  return `POST /PutRow HTTP/1.1\r\n${Object.entries(base).map(([k, v]) => `${k}: ${v}\r\n`).join('')}\r\n`;
};

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Runs the attack against `target` and reports the server's RSS before and at its peak. */
export const runUploadAttack = async (target: RunningChild, options: AttackOptions): Promise<AttackResult> => {
  const pid = target.spawned.child.pid!;
  const baselineRss = rssOf(pid);
  let peakRss = baselineRss;
  const sample = setInterval(() => {
    try {
      peakRss = Math.max(peakRss, rssOf(pid));
    } catch {
      // the process may be gone; the caller sees that
    }
  }, 50);
  const chunk = Buffer.alloc(64 * 1024, 0x61);
  const sockets: Socket[] = [];
  let answered = 0;
  let closedByServer = 0;
  try {
    await Promise.all(
      Array.from({ length: options.connections }, async () => {
        const socket = connect(target.port, target.host);
        sockets.push(socket);
        socket.on('error', () => undefined);
        let closed = false;
        socket.once('data', () => (answered += 1));
        socket.once('close', () => {
          closed = true;
          closedByServer += 1;
        });
        await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
        socket.write(headersFor(target, options.kind, options.bodyBytes));
        // everything but the last byte, then stall
        let left = options.bodyBytes - 1;
        while (left > 0 && !closed) {
          const piece = left >= chunk.length ? chunk : chunk.subarray(0, left);
          left -= piece.length;
          if (!socket.write(piece)) {
            await Promise.race([new Promise((resolve) => socket.once('drain', resolve)), new Promise((resolve) => socket.once('close', resolve)), sleep(1_000)]);
            if (socket.writableNeedDrain) break; // the server stopped reading: that is the point
          }
        }
      }),
    );
    await sleep(options.holdMs);
    peakRss = Math.max(peakRss, rssOf(pid));
    const until = Date.now() + (options.awaitCloseMs ?? 0);
    while (closedByServer < options.connections && Date.now() < until) await sleep(100);
  } finally {
    clearInterval(sample);
  }
  // counted before our own destroy (its close events come on a later tick)
  const result = { baselineRss, peakRss, answered, closedByServer };
  for (const socket of sockets) socket.destroy();
  return result;
};

export const mb = (bytes: number): string => `${(bytes / 1024 / 1024).toFixed(1)} MB`;
