/**
 * The emulator as the reliability specs run it, in its own process (emulator-process.ts) or in the
 * test's: observed, slowed down and broken where the specs say.
 *
 * - Every BatchWriteRow that writes the sink table is reported as `{"kind":"sink","phase":"begin"
 *   |"end",…}` (`end` once the rows are applied, before the response is sent) — the crash spec
 *   reads them to tell in which phase of the commit protocol a kill landed; with `checkpointDir`
 *   (the job's checkpointLocation) a `begin` also names the newest plan and commit there at that
 *   moment. A `sinkDelayMs` pause before the rows are applied stands for a remote service's
 *   latency; a write whose client died during it is not applied (`"abandoned"`): it never got there.
 * - Commands (`handle`): `{"cmd":"withhold","clientId":"…"|"*","on":true}` withholds heartbeats,
 *   `{"cmd":"faults","plan":"503=0.1,seed=3"}` replaces the tunnel fault plan ('' = none),
 *   `{"cmd":"sinkFaults","unavailable":0.1,"dropAfterApply":0.05,"seed":7}` breaks sink writes
 *   (503, or applied with the answer lost), `{"cmd":"stats"}` answers what was injected so far.
 */
import * as E from 'fp-ts/lib/Either.js';
import { logEntries } from './checkpoint-dir.js';
import { startEmulator, type RouteHandler, type RunningEmulator } from '../../../lib/emulator/index.js';
import { NO_FAULTS, parseFaultPlan } from '../../../lib/emulator/tunnel/index.js';
import { seededRandom } from '../../../lib/wire/random.js';

export interface InstrumentedConfig {
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

export interface Instrumented {
  readonly emulator: RunningEmulator;
  /** runs a command; the answer of `stats`, `{}` for the others */
  handle(message: { readonly cmd: string } & Record<string, unknown>): Record<string, unknown>;
}

export async function startInstrumentedEmulator(config: InstrumentedConfig, out: (event: Record<string, unknown>) => void): Promise<Instrumented> {
  const sinkTable = Buffer.from(config.sinkTable ?? 'OrderStreamSink', 'utf8');
  const sinkFaults = { unavailable: 0, dropAfterApply: 0, random: seededRandom(1) };
  let sinkWrites = 0;
  /** what was injected, for the report */
  const stats = { tunnelCalls: 0, tunnel503: 0, tunnelDelayed: 0, tunnelDropped: 0, heartbeatsWithheld: 0, sinkWrites: 0, sink503: 0, sinkAnswersLost: 0 };

  /** The newest batch id of `kind` (offsets: plans, commits) in `<checkpointDir>`'s log (-1: none). */
  const newest = (kind: string): number => {
    if (config.checkpointDir === undefined) return -1;
    try {
      return Math.max(-1, ...logEntries(config.checkpointDir).filter((entry) => entry.kind === kind).map((entry) => entry.batchId));
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
            // the job appends offsets/N to its log before it runs batch N: the newest plan is this write's batch
            out({ kind: 'sink', phase: 'begin', at: Date.now(), id, plan: newest('offsets'), commit: newest('commits') });
            if (config.sinkDelayMs !== undefined && config.sinkDelayMs > 0) await new Promise((done) => setTimeout(done, config.sinkDelayMs));
            const unavailable = sinkFaults.random() < sinkFaults.unavailable;
            const drop = sinkFaults.random() < sinkFaults.dropAfterApply;
            stats.sinkWrites++;
            if (unavailable) {
              stats.sink503++;
              return E.left({ code: 'OTSServerUnavailable', message: 'Server is unavailable (injected sink fault).', status: 503 });
            }
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

  return {
    emulator,
    handle(message) {
      switch (message.cmd) {
        case 'withhold':
          faults.withholdHeartbeats(typeof message['clientId'] === 'string' ? message['clientId'] : '*', message['on'] !== false);
          return {};
        case 'faults': {
          const text = typeof message['plan'] === 'string' ? message['plan'] : '';
          const plan = text === '' ? E.right(NO_FAULTS) : parseFaultPlan(text);
          if (E.isLeft(plan)) throw new Error(plan.left.join('; '));
          faults.setPlan(plan.right);
          return {};
        }
        case 'sinkFaults':
          sinkFaults.unavailable = Number(message['unavailable'] ?? 0);
          sinkFaults.dropAfterApply = Number(message['dropAfterApply'] ?? 0);
          sinkFaults.random = seededRandom(Number(message['seed'] ?? 1));
          return {};
        case 'stats':
          return { ...stats };
        default:
          throw new Error(`unknown command ${message.cmd}`);
      }
    },
  };
}
