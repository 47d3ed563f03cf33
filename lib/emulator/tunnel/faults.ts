/**
 * Fault injection for reliability tests of tunnel clients: make a fraction of tunnel calls
 * fail with OTSTunnelServerUnavailable (HTTP 503), arrive late, or lose their connection halfway
 * through the response — all drawn from a seeded generator, so a run is reproducible for a given
 * call order. Heartbeats of chosen clients can also be withheld (not applied, connection
 * dropped), so their leases expire and channels move.
 *
 * Plan syntax (CLI `--faults`), comma-separated, every item optional:
 *   503=0.1            fail 10 % of calls with OTSTunnelServerUnavailable
 *   latency=200ms@0.05 delay 5 % of calls by 200 ms (`latency=50ms` delays every call)
 *   drop=0.02          cut 2 % of responses after their headers and part of the body
 *   seed=42            generator seed (default 1)
 *   slowread=300ms@<channelId>  every ReadRecords of that channel waits 300 ms before it is
 *                      answered (one channel held back while the others race through a backlog);
 *                      no draw is taken, so the other faults' sequence does not change
 *   split=500          split every stream partition once it holds 500 records (partition splits)
 *   splits=4           at most 4 splits per stream (default 16; with `split`)
 */
import * as E from 'fp-ts/lib/Either.js';
import { seededRandom } from '../../wire/random.js';

export interface FaultPlan {
  readonly unavailableRate: number;
  readonly latency?: { readonly ms: number; readonly rate: number };
  readonly dropRate: number;
  readonly seed: number;
  /** per channel id, how long each of its ReadRecords calls waits before it runs */
  readonly slowReads?: Readonly<Record<string, number>>;
  /** stream partitions split once they hold `afterRecords` records, at most `maxSplits` times per stream */
  readonly split?: { readonly afterRecords: number; readonly maxSplits?: number };
}

export const NO_FAULTS: FaultPlan = { unavailableRate: 0, dropRate: 0, seed: 1 };

export type FaultDecision =
  | { readonly kind: 'pass'; readonly delayMs: number }
  | { readonly kind: 'unavailable'; readonly delayMs: number }
  | { readonly kind: 'drop'; readonly delayMs: number };

const RATE = /^(?:0(?:\.\d+)?|1(?:\.0+)?|\.\d+)$/;
const DURATION = /^(\d+(?:\.\d+)?)(ms|s)$/;

const parseRate = (text: string, where: string, errors: string[]): number => {
  if (!RATE.test(text)) {
    errors.push(`${where}: rate '${text}' must be a number in [0, 1]`);
    return 0;
  }
  return Number(text);
};

/** Parses a plan, reporting every bad item with its position. */
export const parseFaultPlan = (text: string): E.Either<readonly string[], FaultPlan> => {
  const errors: string[] = [];
  let plan: { -readonly [K in keyof FaultPlan]: FaultPlan[K] } = { ...NO_FAULTS };
  const seen = new Set<string>();
  text
    .split(',')
    .map((item) => item.trim())
    .forEach((item, index) => {
      if (item === '') return;
      const where = `item ${index + 1} '${item}'`;
      const eq = item.indexOf('=');
      if (eq <= 0) {
        errors.push(`${where}: expected name=value`);
        return;
      }
      const name = item.slice(0, eq).trim();
      const value = item.slice(eq + 1).trim();
      const seenKey = name === 'slowread' ? item.replace(/\s+/g, '') : name;
      if (seen.has(seenKey)) errors.push(`${where}: '${name}' given twice`);
      seen.add(seenKey);
      switch (name) {
        case '503':
          plan.unavailableRate = parseRate(value, where, errors);
          break;
        case 'drop':
          plan.dropRate = parseRate(value, where, errors);
          break;
        case 'seed':
          if (!/^\d+$/.test(value) || Number(value) > 0xffffffff) errors.push(`${where}: seed must be an integer in [0, 2^32)`);
          else plan.seed = Number(value);
          break;
        case 'latency': {
          const [duration = '', rate] = value.split('@');
          const match = DURATION.exec(duration);
          if (match === null) errors.push(`${where}: duration '${duration}' must look like 200ms or 1.5s`);
          const ms = match === null ? 0 : Number(match[1]) * (match[2] === 's' ? 1000 : 1);
          plan = { ...plan, latency: { ms, rate: rate === undefined ? 1 : parseRate(rate, where, errors) } };
          break;
        }
        case 'slowread': {
          const at = value.indexOf('@');
          const duration = at < 0 ? value : value.slice(0, at);
          const channel = at < 0 ? '' : value.slice(at + 1).trim();
          const match = DURATION.exec(duration);
          if (match === null) errors.push(`${where}: duration '${duration}' must look like 200ms or 1.5s`);
          if (channel === '') errors.push(`${where}: name the channel: slowread=300ms@<channelId>`);
          const ms = match === null ? 0 : Number(match[1]) * (match[2] === 's' ? 1000 : 1);
          plan = { ...plan, slowReads: { ...plan.slowReads, [channel]: ms } };
          break;
        }
        case 'split':
        case 'splits': {
          if (!/^\d+$/.test(value) || Number(value) < 1 || Number(value) > 1_000_000_000) {
            errors.push(`${where}: ${name} must be a positive integer`);
            break;
          }
          const split = plan.split ?? { afterRecords: 0 };
          plan = { ...plan, split: name === 'split' ? { ...split, afterRecords: Number(value) } : { ...split, maxSplits: Number(value) } };
          break;
        }
        default:
          errors.push(`${where}: unknown fault '${name}' (known: 503, latency, drop, seed, slowread, split, splits)`);
      }
    });
  if (plan.split !== undefined && plan.split.afterRecords === 0) errors.push(`'splits' needs 'split=<records>'`);
  return errors.length > 0 ? E.left(errors) : E.right(plan);
};

export class FaultInjector {
  private plan: FaultPlan = NO_FAULTS;
  private random: () => number = seededRandom(NO_FAULTS.seed);
  private readonly withheld = new Set<string>();
  private withholdAll = false;

  constructor(plan: FaultPlan = NO_FAULTS) {
    this.setPlan(plan);
  }

  /** Replaces the plan and restarts its generator from the plan's seed. */
  setPlan(plan: FaultPlan): void {
    this.plan = plan;
    this.random = seededRandom(plan.seed);
  }

  currentPlan(): FaultPlan {
    return this.plan;
  }

  /**
   * What happens to the next tunnel call. Three draws per call, always, so the sequence of
   * decisions depends only on the seed and the number of calls.
   */
  decide(): FaultDecision {
    const unavailable = this.random();
    const late = this.random();
    const dropped = this.random();
    const latency = this.plan.latency;
    const delayMs = latency !== undefined && late < latency.rate ? latency.ms : 0;
    if (unavailable < this.plan.unavailableRate) return { kind: 'unavailable', delayMs };
    if (dropped < this.plan.dropRate) return { kind: 'drop', delayMs };
    return { kind: 'pass', delayMs };
  }

  /** How long a ReadRecords call of `channelId` waits before it runs (the `slowread` fault). */
  readDelay(channelId: string): number {
    return this.plan.slowReads?.[channelId] ?? 0;
  }

  /** Withholds (or resumes) heartbeats of `clientId`, or of every client with '*'. */
  withholdHeartbeats(clientId: string, withhold = true): void {
    if (clientId === '*') this.withholdAll = withhold;
    else if (withhold) this.withheld.add(clientId);
    else this.withheld.delete(clientId);
  }

  isHeartbeatWithheld(clientId: string): boolean {
    return this.withholdAll || this.withheld.has(clientId);
  }
}
