// How many backend reads 200 runners of one provider type make, on a virtual clock (no real time):
// with verifyMany + the default batch window, versus one verify() each. Printed, not asserted.
//   npm run build && node dist/bench/runner-batch.js
import { pino } from 'pino';
import { ProviderRunner, createTypeResources } from '../src/provider/runner/index.js';
import type { PreflightCheck, ProviderTiming, VipOwnership, VipProvider } from '../src/provider/types.js';
import { VirtualClock } from '../test/support/virtual-clock.js';

const N = 200;
const MINUTES = 10;
const timing: ProviderTiming = { operationTimeoutMs: 5_000, confirmTimeoutMs: 0, reconcileMs: 10_000, backoffBaseMs: 500, backoffMaxMs: 30_000, faultAfterMs: 3_000 };

class Instant implements VipProvider {
  readonly type = 'bench';
  verifies = 0;
  constructor(readonly vip: string) {}
  async acquire(): Promise<void> {}
  async release(): Promise<void> {}
  async verify(): Promise<VipOwnership> {
    this.verifies++;
    return { [this.vip]: 'held' };
  }
  async *preflight(): AsyncIterable<PreflightCheck> {}
}

async function run(withMany: boolean): Promise<{ reads: number; perPeriod: number }> {
  const clock = new VirtualClock();
  let manyCalls = 0;
  const module = {
    timing,
    rateLimit: { perSecond: Infinity, burst: 1 },
    ...(withMany
      ? {
          verifyMany: async (ps: readonly VipProvider[]) => {
            manyCalls++;
            return new Map(ps.map((p) => [p, { [(p as Instant).vip]: 'held' } as VipOwnership]));
          },
        }
      : {}),
  };
  const shared = createTypeResources(module, clock);
  const log = pino({ level: 'silent' });
  const providers = Array.from({ length: N }, (_, i) => new Instant(`198.51.100.${(i % 250) + 1}/32`));
  const runners = providers.map((p) => new ProviderRunner(p, { log, timing, vips: [p.vip], clock, ...shared }));
  for (const r of runners) r.want(true);
  for (let s = 0; s < MINUTES * 60; s++) await clock.advance(1_000);
  for (const r of runners) await r.close();
  const reads = withMany ? manyCalls : providers.reduce((n, p) => n + p.verifies, 0);
  return { reads, perPeriod: reads / ((MINUTES * 60_000) / timing.reconcileMs) };
}

const one = await run(false);
const many = await run(true);
console.log(`${N} runners, reconcile ${timing.reconcileMs / 1000} s ±20 %, ${MINUTES} virtual minutes:`);
console.log(`  verify() each:          ${one.reads} backend reads (${one.perPeriod.toFixed(1)} per reconcile period)`);
console.log(`  verifyMany + window:    ${many.reads} backend reads (${many.perPeriod.toFixed(1)} per reconcile period)`);
