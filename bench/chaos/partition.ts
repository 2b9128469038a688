// Chaos scenario 1: partition, then heal, repeated. VRRP is dropped on both nodes' input (nft.ts) for
// 6 s — long enough for b to take over (3 × 1 s + Skew_Time) — then healed, and 6 s pass before the
// next cycle. Figure: how long both nodes held the VIP after each heal (from the heal to b deleting
// the VIP; target ≤ one advert interval), and the same on the wire (both advertising). Each agent
// draws its advert grid's phase at random (fsm.ts advertGridPhaseMs), so two agents started together
// are out of phase, as two machines are (see `how`).
import { sleep } from '../../test/netns/harness.js';
import { applyFault, heal } from './nft.js';
import { V2_1S, type Observation, type Scenario } from './lab.js';
import type { Span } from './timeline.js';
import { stats } from '../stats.js';

const PARTITION_MS = 6000;
const HEALED_MS = 6000;
/** Each wait is longer by a random 0–1 s (one interval): heals land at random points of the advert schedules, not at one. */
const jitter = () => Math.random() * 1000;

/** For each heal: how long a dual-holder span went on after it (0 when none was in progress). */
export function afterHeal(spans: readonly Span[], heals: readonly number[]): number[] {
  return heals.map((h) => Math.max(0, ...spans.filter((s) => s.from <= h + 1 && s.to >= h).map((s) => s.to - h)));
}

export const partition: Scenario = {
  name: 'partition',
  how:
    `VRRPv2 at 1 s. VRRP dropped on both nodes' input (nftables) for ${PARTITION_MS / 1000}–${PARTITION_MS / 1000 + 1} s, then healed, then ${HEALED_MS / 1000}–${HEALED_MS / 1000 + 1} s healed (random lengths: each heal lands at a random point of the advert schedules); repeated. ` +
    'Figure: per heal, how long both held the VIP afterwards (heal → the backup deleting the VIP, `ip monitor address`), median and max; "wire": how long both kept advertising after the heal. Target ≤ one advert interval. ' +
    'Both implementations end the split at the first advert either side receives (the master answers a lower-priority advert at once). So the split lasts until the earlier of the two nodes\' next adverts: with independent phases, about a third of an interval on average. Our adverts sit on a grid of the interval whose phase each agent draws at random (src/vrrp/fsm.ts advertGridPhaseMs); before it did, two agents started together advertised in phase and the split lasted until their common next advert (about half an interval on average).',
  variants: (quick) => [
    {
      label: `partition+heal ×${quick ? 2 : 10}`,
      spec: {
        mode: V2_1S,
        async act(ctx) {
          for (let i = 0; i < (quick ? 2 : 10); i++) {
            await Promise.all(['a', 'b'].map((n) => applyFault(ctx.lab, n, { kind: 'partition' })));
            await sleep(PARTITION_MS + jitter());
            ctx.mark('heal');
            await Promise.all(['a', 'b'].map((n) => heal(ctx.lab, n)));
            await sleep(HEALED_MS + jitter());
          }
        },
      },
      figure(o: Observation) {
        const heals = o.marks.heal ?? [];
        const vip = afterHeal(o.common.vipDual, heals);
        const wire = afterHeal(o.common.wireDual, heals);
        const s = stats(vip);
        const w = stats(wire);
        const ms = (x: number | undefined) => (x === undefined ? 'n/a' : `${Math.round(x)} ms`);
        return {
          text: `both hold after heal ${ms(s?.median)} (max ${ms(s?.max)}); wire ${ms(w?.median)} (max ${ms(w?.max)}); takeovers ${o.common.bTakeovers}/${heals.length}`,
          metrics: { vipAfterHealMs: vip, wireAfterHealMs: wire, takeovers: o.common.bTakeovers, heals: heals.length },
        };
      },
    },
  ],
};
