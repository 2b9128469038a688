// Chaos scenario 4: the master's interface flaps: `ip link set dev eth0 down`, 0.5 s, `up`, 0.75 s,
// N times (quick 5, full 10), then 6 s to settle. Figure: holder transitions on the wire, takeovers by
// the backup, dual- and zero-holder spans, and what the peer (b) logged.
import { sleep } from '../../test/netns/harness.js';
import { spansText, transitionsText, V2_1S, type Observation, type Scenario } from './lab.js';

const DOWN_MS = 500;
const UP_MS = 750;

export const flap: Scenario = {
  name: 'flap',
  how:
    `VRRPv2 at 1 s. The master's eth0 goes down for ${DOWN_MS} ms and up for ${UP_MS} ms, 10 times (quick: 5), then 6 s to settle. ` +
    'Figure: holder transitions on the wire, takeovers by the backup, dual-holder spans (wire / interface), zero-holder spans on the wire, and the backup\'s own state changes.',
  variants: (quick) => [
    {
      label: `flap ×${quick ? 5 : 10}`,
      spec: {
        mode: V2_1S,
        async act(ctx) {
          await sleep(1000);
          for (let i = 0; i < (quick ? 5 : 10); i++) {
            ctx.mark('down');
            await ctx.lab.run('a', ['ip', 'link', 'set', 'dev', 'eth0', 'down']);
            await sleep(DOWN_MS);
            await ctx.lab.run('a', ['ip', 'link', 'set', 'dev', 'eth0', 'up']);
            await sleep(UP_MS);
          }
          await sleep(6000);
        },
      },
      figure(o: Observation) {
        const c = o.common;
        const bSaw = o.transitions.filter((t) => t.node === 'b').length;
        return {
          text: `transitions ${c.wireTransitions}, takeovers ${c.bTakeovers}, dual wire ${spansText(c.wireDual)} / VIP ${spansText(c.vipDual)}, zero ${spansText(c.wireZero)}, b changed state ${bSaw}×`,
          metrics: {
            wireTransitions: c.wireTransitions,
            takeovers: c.bTakeovers,
            dualWireMs: c.wireDual.map((s) => Math.round(s.ms)),
            dualVipMs: c.vipDual.map((s) => Math.round(s.ms)),
            zeroWireMs: c.wireZero.map((s) => Math.round(s.ms)),
            peerTransitions: transitionsText(o, 'b', 20),
            masterTransitions: transitionsText(o, 'a', 20),
          },
        };
      },
    },
  ],
};
