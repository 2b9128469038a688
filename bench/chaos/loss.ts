// Chaos scenario 2: random VRRP loss on both nodes' input (nft.ts: numgen random mod 100 < N drop) at
// 10, 30 and 50 % for 10 min each (quick: 1 min), all three levels × both implementations at once.
// Figure: false takeovers (runs of adverts from the backup while the master never stopped), the
// dual-holder spans on an interface (the backup added the VIP until it heard the master again), and
// the loss the counters actually measured at the backup.
import { sleep } from '../../test/netns/harness.js';
import { applyFault, faultCounters, heal, type FaultCounters } from './nft.js';
import { spansText, V2_1S, type Observation, type Scenario, type Variant } from './lab.js';

const LEVELS = [10, 30, 50];

function variant(percent: number, quick: boolean): Variant {
  const counters = new Map<string, FaultCounters>();
  return {
    label: `loss ${percent} %`,
    spec: {
      mode: V2_1S,
      async act(ctx) {
        await Promise.all(['a', 'b'].map((n) => applyFault(ctx.lab, n, { kind: 'loss', percent })));
        await sleep(quick ? 60_000 : 600_000);
        counters.set(ctx.impl, await faultCounters(ctx.lab, 'b'));
        await Promise.all(['a', 'b'].map((n) => heal(ctx.lab, n)));
        await sleep(3000);
      },
    },
    figure(o: Observation) {
      const c = counters.get(o.impl);
      const measured = c && c.seen ? `${((100 * c.dropped) / c.seen).toFixed(0)} % of ${c.seen}` : 'n/a';
      const durations = o.common.vipDual.map((s) => Math.round(s.ms));
      return {
        text: `false takeovers ${o.common.bTakeovers}, dual VIP ${spansText(o.common.vipDual)} (loss at b: ${measured})`,
        metrics: { falseTakeovers: o.common.bTakeovers, dualVipMs: durations, dualWireMs: o.common.wireDual.map((s) => Math.round(s.ms)), counters: c ?? null },
      };
    },
  };
}

export const loss: Scenario = {
  name: 'loss',
  allAtOnce: true,
  how:
    'VRRPv2 at 1 s. N % of VRRP packets dropped at random on both nodes\' input (nftables numgen), 10 min per level (quick: 1 min); the three levels × both implementations run at once, in six labs. ' +
    'Figure: false takeovers (the backup started advertising while the master never stopped), the dual-holder spans (both had the VIP on an interface), and the loss measured by the counters at the backup.',
  variants: (quick) => LEVELS.map((p) => variant(p, quick)),
};
