/**
 * The emulator in its own process, for the reliability specs: it can be SIGKILLed and restarted on
 * its data directory at the same port, as a real service outage.
 *
 *   node --import tsx emulator-process.ts '{"dataDir": "...", "port": 0, "faults": "503=0.1", ...}'
 *
 * stdout, one JSON line each: `{"kind":"ready","port":…}` once it listens, then for every
 * BatchWriteRow that writes the sink table `{"kind":"sink","phase":"begin"|"end","at":ms,"id":n}`
 * (`end` once the rows are applied, before the response is sent) — the crash spec reads them to
 * tell in which phase of the commit protocol a kill landed; with `checkpointDir` (the job's
 * checkpointLocation) a `begin` also names the newest plan and commit there at that moment. A
 * `sinkDelayMs` pause before the rows are applied stands for a remote service's latency; a write
 * whose client died during it is not applied (`{"phase":"abandoned"}`): it never got there.
 *
 * stdin, one JSON line each (answered by `{"kind":"ack","id":…}`):
 *   {"id":1,"cmd":"withhold","clientId":"…","on":true}   heartbeats of that client (or '*') withheld
 *   {"id":2,"cmd":"faults","plan":"503=0.1,seed=3"}       the tunnel fault plan replaced ('' = none)
 *   {"id":3,"cmd":"sinkFaults","unavailable":0.1,"dropAfterApply":0.05,"seed":7}
 *   {"id":4,"cmd":"stats"}   answered by {"kind":"stats","id":4,…}: the faults injected so far
 */
import * as E from 'fp-ts/lib/Either.js';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { startEmulator, type RouteHandler } from '../../../lib/emulator/index.js';
import { NO_FAULTS, parseFaultPlan } from '../../../lib/emulator/tunnel/index.js';

interface Config {
  readonly dataDir: string;
  readonly port: number;
  readonly partitions?: number;
  readonly faults?: string;
  readonly sinkTable?: string;
  readonly sinkDelayMs?: number;
  readonly expirySweepMs?: number;
  readonly readMaxRecords?: number;
  /** a job's checkpointLocation: each sink event carries the newest plan and commit found there */
  readonly checkpointDir?: string;
}

interface SinkFaults {
  unavailable: number;
  dropAfterApply: number;
  random: () => number;
}

const config = JSON.parse(process.argv[2] ?? '{}') as Config;
const out = (line: Record<string, unknown>): void => {
  process.stdout.write(`${JSON.stringify(line)}\n`);
};

function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

const sinkTable = Buffer.from(config.sinkTable ?? 'OrderStreamSink', 'utf8');
const sinkFaults: SinkFaults = { unavailable: 0, dropAfterApply: 0, random: mulberry32(1) };
let sinkWrites = 0;
/** what was injected, for the report */
const stats = { tunnelCalls: 0, tunnel503: 0, tunnelDelayed: 0, tunnelDropped: 0, heartbeatsWithheld: 0, sinkWrites: 0, sink503: 0, sinkAnswersLost: 0 };

/** The newest batch id under `<checkpointDir>/<kind>` (-1: none). */
const newest = (kind: string): number => {
  if (config.checkpointDir === undefined) return -1;
  try {
    return Math.max(-1, ...readdirSync(join(config.checkpointDir, kind)).filter((name) => /^\d+$/.test(name)).map(Number));
  } catch {
    return -1;
  }
};

const emulator = await startEmulator({
  dataDir: config.dataDir,
  port: config.port,
  partitions: config.partitions ?? 4,
  ...(config.faults === undefined ? {} : { faults: config.faults }),
  tunnel: {
    expirySweepMs: config.expirySweepMs ?? 100,
    ...(config.readMaxRecords === undefined ? {} : { readLimits: { maxRecords: config.readMaxRecords, maxBytes: 4 << 20 } }),
  },
  extensions: [
    ({ router }) => {
      // observe (and slow down, and break) the sink's writes; every other route is untouched
      const resolve = router.resolve.bind(router);
      router.resolve = (path: string): RouteHandler | undefined => {
        const handler = resolve(path);
        if (path !== '/BatchWriteRow' || handler === undefined) return handler;
        return async (context) => {
          if (!context.body.includes(sinkTable)) return handler(context);
          const id = ++sinkWrites;
          // the job renames offsets/N into place before it runs batch N: the newest plan is this write's batch
          out({ kind: 'sink', phase: 'begin', at: Date.now(), id, plan: newest('offsets'), commit: newest('commits') });
          if (config.sinkDelayMs !== undefined && config.sinkDelayMs > 0) await new Promise((done) => setTimeout(done, config.sinkDelayMs));
          const unavailable = sinkFaults.random() < sinkFaults.unavailable;
          const drop = sinkFaults.random() < sinkFaults.dropAfterApply;
          stats.sinkWrites++;
          if (unavailable) stats.sink503++;
          if (unavailable) return E.left({ code: 'OTSServerUnavailable', message: 'Server is unavailable (injected sink fault).', status: 503 });
          // a client that died while its write was on the way: the write never reached the service
          if (context.response.destroyed || context.response.socket === null || context.response.socket.destroyed) {
            out({ kind: 'sink', phase: 'abandoned', at: Date.now(), id });
            return E.left({ code: 'OTSRequestTimeout', message: 'The client went away.', status: 408 });
          }
          const result = await handler(context);
          out({ kind: 'sink', phase: 'end', at: Date.now(), id, ok: E.isRight(result) });
          if (drop) {
            stats.sinkAnswersLost++;
            // applied, but the answer never arrives: the sink must retry and write the same rows again
            context.response.socket?.destroy();
            context.response.destroy();
          }
          return result;
        };
      };
    },
  ],
});

// count the tunnel service's fault decisions as they are made
const faults = emulator.tunnels.faults;
const decide = faults.decide.bind(faults);
faults.decide = () => {
  const decision = decide();
  stats.tunnelCalls++;
  if (decision.delayMs > 0) stats.tunnelDelayed++;
  if (decision.kind === 'unavailable') stats.tunnel503++;
  if (decision.kind === 'drop') stats.tunnelDropped++;
  return decision;
};
const withheld = faults.isHeartbeatWithheld.bind(faults);
faults.isHeartbeatWithheld = (clientId: string) => {
  const answer = withheld(clientId);
  if (answer) stats.heartbeatsWithheld++;
  return answer;
};

createInterface({ input: process.stdin }).on('line', (line) => {
  const message = JSON.parse(line) as { id: number; cmd: string; clientId?: string; on?: boolean; plan?: string; unavailable?: number; dropAfterApply?: number; seed?: number };
  switch (message.cmd) {
    case 'withhold':
      emulator.tunnels.faults.withholdHeartbeats(message.clientId ?? '*', message.on !== false);
      break;
    case 'faults': {
      const plan = message.plan === undefined || message.plan === '' ? E.right(NO_FAULTS) : parseFaultPlan(message.plan);
      if (E.isLeft(plan)) {
        out({ kind: 'error', id: message.id, message: plan.left.join('; ') });
        return;
      }
      emulator.tunnels.faults.setPlan(plan.right);
      break;
    }
    case 'sinkFaults':
      sinkFaults.unavailable = message.unavailable ?? 0;
      sinkFaults.dropAfterApply = message.dropAfterApply ?? 0;
      sinkFaults.random = mulberry32(message.seed ?? 1);
      break;
    case 'stats':
      out({ kind: 'stats', id: message.id, ...stats });
      return;
    default:
      out({ kind: 'error', id: message.id, message: `unknown command ${message.cmd}` });
      return;
  }
  out({ kind: 'ack', id: message.id });
});

out({ kind: 'ready', port: emulator.port, endpoint: emulator.endpoint });
