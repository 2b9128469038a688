// Chaos scenario 6: a 500 ms stall of the master's event loop. Ours: HA_AGENT_BENCH_HOG=stall
// (src/bench-hog.ts) and SIGUSR2 busy-loops its event loop for 500 ms. keepalived's equivalent: its
// VRRP child SIGSTOPped for 500 ms. Three stalls 4 s apart, at VRRPv2 1 s (500 ms is half an interval:
// nothing should happen) and at VRRPv3 0.1 s (500 ms exceeds the master-down interval, 3 × 0.1 s +
// Skew_Time = 0.36 s: the backup takes over, and the master takes back when it wakes). Our steady
// adverts are sent by the offload thread (src/vrrp/offload.ts), which the stall does not hold up; a
// third variant runs ours with HA_AGENT_OFFLOAD=off, every advert on the event loop. Figure: the
// master's longest advert gap, takeovers, the stalls our agent logged, dual-holder spans.
import { sleep } from '../../test/netns/harness.js';
import { signalVrrp, spansText, V2_1S, V3_100MS, type Mode, type Observation, type Scenario, type Variant } from './lab.js';
import { BENCH_HOG_ENV } from '../../src/bench-hog.js';

const STALL_MS = 500;
const STALLS = 3;

/** Our agent's stall log line (src/bench-hog.ts): counts the stalls that really happened. */
const STALL_LINE = /stalling the event loop/;

function variant(mode: Mode, offload = true): Variant {
  let stallsLogged = 0;
  const env = [`${BENCH_HOG_ENV}=stall:${STALL_MS}`, ...(offload ? [] : ['HA_AGENT_OFFLOAD=off'])];
  return {
    label: `stall 500 ms, ${mode.name}${offload ? '' : ', ours offload off'}`,
    spec: {
      mode,
      wrapper: (impl, node) => (impl === 'ours' && node === 'a' ? ['env', ...env] : []),
      async act(ctx) {
        for (let i = 0; i < STALLS; i++) {
          await sleep(1500);
          ctx.mark('stall');
          if (ctx.impl === 'ours') signalVrrp(ctx.a, 'SIGUSR2');
          else {
            signalVrrp(ctx.a, 'SIGSTOP');
            await sleep(STALL_MS);
            signalVrrp(ctx.a, 'SIGCONT');
          }
          await sleep(2500);
        }
        await sleep(2000);
        if (ctx.impl === 'ours') stallsLogged = ctx.a.events.filter((e) => STALL_LINE.test(e.line)).length;
      },
    },
    figure(o: Observation) {
      const c = o.common;
      const logged = o.impl === 'ours' ? ` (${stallsLogged} logged)` : '';
      return {
        text: `master's longest advert gap ${Math.round(c.aMaxGapMs)} ms, takeovers ${c.bTakeovers}/${STALLS}${logged}, dual wire ${spansText(c.wireDual)} / VIP ${spansText(c.vipDual)}`,
        metrics: { aMaxGapMs: Math.round(c.aMaxGapMs), takeovers: c.bTakeovers, stalls: STALLS, ...(o.impl === 'ours' ? { stallsLogged } : {}), dualWireMs: c.wireDual.map((s) => Math.round(s.ms)), dualVipMs: c.vipDual.map((s) => Math.round(s.ms)) },
      };
    },
  };
}

export const stall: Scenario = {
  name: 'stall',
  how:
    `${STALLS} stalls of ${STALL_MS} ms, 4 s apart, of the master: ours busy-loops its event loop (${BENCH_HOG_ENV}=stall, SIGUSR2); keepalived's VRRP child is SIGSTOPped for ${STALL_MS} ms. ` +
    'At VRRPv2 1 s and VRRPv3 0.1 s (where 500 ms exceeds the master-down interval); our master\'s steady adverts come from the offload thread (src/vrrp/offload.ts), which a stalled event loop does not hold up, so the last variant runs ours with HA_AGENT_OFFLOAD=off (every advert on the event loop). ' +
    'Figure: the master\'s longest advert gap, takeovers by the backup (ours: and the stalls its log confirms), dual-holder spans (wire / interface).',
  variants: () => [variant(V2_1S), variant(V3_100MS), variant(V3_100MS, false)],
};
