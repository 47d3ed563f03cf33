import * as E from 'fp-ts/lib/Either.js';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FaultInjector, NO_FAULTS, parseFaultPlan } from '../../../lib/emulator/tunnel/faults.js';

describe('parseFaultPlan', () => {
  it('reads the documented syntax', () => {
    expect(parseFaultPlan('503=0.1,latency=200ms@0.05,drop=0.02,seed=42')).toEqual(
      E.right({ unavailableRate: 0.1, latency: { ms: 200, rate: 0.05 }, dropRate: 0.02, seed: 42 }),
    );
    expect(parseFaultPlan('latency=1.5s')).toEqual(E.right({ ...NO_FAULTS, latency: { ms: 1500, rate: 1 } }));
    expect(parseFaultPlan('')).toEqual(E.right(NO_FAULTS));
  });

  it('reports every bad item with its position', () => {
    expect(parseFaultPlan('503=2,latency=fast@0.1,boom=1,drop,seed=-1,drop=0.1')).toEqual(
      E.left([
        "item 1 '503=2': rate '2' must be a number in [0, 1]",
        "item 2 'latency=fast@0.1': duration 'fast' must look like 200ms or 1.5s",
        "item 3 'boom=1': unknown fault 'boom' (known: 503, latency, drop, seed, slowread, split, splits)",
        "item 4 'drop': expected name=value",
        "item 5 'seed=-1': seed must be an integer in [0, 2^32)",
      ]),
    );
    expect(parseFaultPlan('drop=0.1,drop=0.2')).toEqual(E.left(["item 2 'drop=0.2': 'drop' given twice"]));
  });

  it('holds back the reads of named channels (slowread), one item per channel', () => {
    const parsed = parseFaultPlan('slowread=300ms@ch-a,slowread=1.5s@ch-b');
    expect(parsed).toEqual(E.right({ ...NO_FAULTS, slowReads: { 'ch-a': 300, 'ch-b': 1500 } }));
    if (E.isLeft(parsed)) return;
    const injector = new FaultInjector(parsed.right);
    expect([injector.readDelay('ch-a'), injector.readDelay('ch-b'), injector.readDelay('ch-c')]).toEqual([300, 1500, 0]);
    expect(parseFaultPlan('slowread=300ms,slowread=soon@x')).toEqual(
      E.left(["item 1 'slowread=300ms': name the channel: slowread=300ms@<channelId>", "item 2 'slowread=soon@x': duration 'soon' must look like 200ms or 1.5s"]),
    );
  });

  it('reads partition splits: split=<records>, optionally capped by splits=<n>', () => {
    expect(parseFaultPlan('split=500')).toEqual(E.right({ ...NO_FAULTS, split: { afterRecords: 500 } }));
    expect(parseFaultPlan('splits=3,split=40,seed=2')).toEqual(E.right({ ...NO_FAULTS, seed: 2, split: { afterRecords: 40, maxSplits: 3 } }));
    expect(parseFaultPlan('split=0,splits=x')).toEqual(
      E.left(["item 1 'split=0': split must be a positive integer", "item 2 'splits=x': splits must be a positive integer"]),
    );
    expect(parseFaultPlan('splits=2')).toEqual(E.left(["'splits' needs 'split=<records>'"]));
  });
});

describe('FaultInjector', () => {
  const run = (plan: Parameters<FaultInjector['setPlan']>[0], calls: number) => {
    const injector = new FaultInjector(plan);
    return Array.from({ length: calls }, () => injector.decide());
  };

  it('is reproducible from its seed and differs between seeds', () => {
    const plan = { unavailableRate: 0.3, dropRate: 0.2, latency: { ms: 10, rate: 0.5 }, seed: 7 };
    expect(run(plan, 200)).toEqual(run(plan, 200));
    expect(run(plan, 200)).not.toEqual(run({ ...plan, seed: 8 }, 200));
  });

  it('injects each fault at about its rate', () => {
    fc.assert(
      fc.property(
        fc.double({ min: 0, max: 0.5, noNaN: true }),
        fc.double({ min: 0, max: 0.5, noNaN: true }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.nat(),
        (unavailableRate, dropRate, latencyRate, seed) => {
          const decisions = run({ unavailableRate, dropRate, latency: { ms: 5, rate: latencyRate }, seed }, 4000);
          const share = (pred: (d: (typeof decisions)[number]) => boolean) => decisions.filter(pred).length / decisions.length;
          expect(Math.abs(share((d) => d.kind === 'unavailable') - unavailableRate)).toBeLessThan(0.05);
          // drops are drawn among calls that were not already refused
          expect(Math.abs(share((d) => d.kind === 'drop') - (1 - unavailableRate) * dropRate)).toBeLessThan(0.05);
          expect(Math.abs(share((d) => d.delayMs === 5) - latencyRate)).toBeLessThan(0.05);
        },
      ),
      { numRuns: 20 },
    );
    expect(run(NO_FAULTS, 100).every((d) => d.kind === 'pass' && d.delayMs === 0)).toBe(true);
  });

  it('withholds heartbeats per client or for everyone', () => {
    const injector = new FaultInjector();
    injector.withholdHeartbeats('a');
    expect([injector.isHeartbeatWithheld('a'), injector.isHeartbeatWithheld('b')]).toEqual([true, false]);
    injector.withholdHeartbeats('*');
    expect(injector.isHeartbeatWithheld('b')).toBe(true);
    injector.withholdHeartbeats('*', false);
    injector.withholdHeartbeats('a', false);
    expect(injector.isHeartbeatWithheld('a')).toBe(false);
  });
});
