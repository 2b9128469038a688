// Chaos scenario 3: the master frozen (SIGSTOP; keepalived: parent and VRRP child) for 2 s and 5 s,
// then SIGCONT, then 6 s to settle. 2 s is below the master-down interval (3 × 1 s + Skew_Time):
// no takeover, just an advert gap; 5 s is above it: the backup takes over, and the master must take
// back cleanly when it wakes. Figure: takeover or not, the master's first advert after SIGCONT,
// zero-holder spans on the wire (must never exceed the takeover), dual-holder spans on the wire and
// on an interface (the frozen master's kernel keeps its VIP), and who advertises at the end.
import { sleep } from '../../test/netns/harness.js';
import { signalAll, spansText, V2_1S, type Observation, type Scenario, type Variant } from './lab.js';

function variant(stopMs: number): Variant {
  return {
    label: `SIGSTOP ${stopMs / 1000} s`,
    spec: {
      mode: V2_1S,
      async act(ctx) {
        await sleep(1000);
        ctx.mark('stop');
        signalAll(ctx.a, 'SIGSTOP');
        await sleep(stopMs);
        signalAll(ctx.a, 'SIGCONT');
        ctx.mark('cont');
        await sleep(6000);
      },
    },
    figure(o: Observation) {
      const last = o.wire.at(-1)?.holders.join('+') ?? '?';
      const c = o.common;
      const cont = o.marks.cont?.[0] ?? Infinity;
      const first = o.adverts.find((a) => a.src === o.ips.a && a.priority > 0 && a.time >= cont);
      const resumeMs = first ? Math.round(first.time - cont) : null;
      return {
        text: `takeover ${c.bTakeovers ? 'yes' : 'no'}, first advert ${resumeMs ?? '?'} ms after SIGCONT, zero ${spansText(c.wireZero)}, dual wire ${spansText(c.wireDual)}, dual VIP ${spansText(c.vipDual)}, end ${last.toUpperCase()}`,
        metrics: { takeovers: c.bTakeovers, resumeMs, zeroWireMs: c.wireZero.map((s) => Math.round(s.ms)), dualWireMs: c.wireDual.map((s) => Math.round(s.ms)), dualVipMs: c.vipDual.map((s) => Math.round(s.ms)), endHolders: last, aMaxGapMs: Math.round(c.aMaxGapMs) },
      };
    },
  };
}

export const sigstop: Scenario = {
  name: 'sigstop',
  how:
    'VRRPv2 at 1 s. The master is frozen with SIGSTOP (keepalived: parent and VRRP child) for 2 s / 5 s, then SIGCONT. ' +
    'Figure: whether the backup took over, the master\'s first advert after SIGCONT, zero-holder spans on the wire (nobody advertising; they depend on where in its interval the master was frozen), dual-holder spans on the wire and on an interface, and who advertises at the end.',
  variants: () => [variant(2000), variant(5000)],
};
