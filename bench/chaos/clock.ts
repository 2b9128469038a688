// Chaos scenario 5: the wall clock moved +1 h, then −1 h, then back, inside both daemons only (the
// host's clock is never touched): libfaketime is LD_PRELOADed into both daemons of the lab with
// FAKETIME_DONT_FAKE_MONOTONIC=1 (CLOCK_MONOTONIC stays real), FAKETIME_NO_CACHE=1 (the offset is
// re-read on every call) and FAKETIME_TIMESTAMP_FILE, a file in the lab's temp dir rewritten here
// ("+0" → "+1h" → "-1h" → "+0"). Checked by hand first: `date`, node's Date and keepalived's console
// log timestamps all follow the file at run time. VRRP timers are monotonic, so nothing may happen:
// no transition, and the master's advert gaps stay within normal.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { sleep } from '../../test/netns/harness.js';
import { V2_1S, type Observation, type Scenario } from './lab.js';

export const FAKETIME_LIB = '/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1';
/** The lab's faketime timestamp file (both daemons of a lab read the same one). */
const faketimeFile = (dir: string): string => join(dir, 'faketime');
const STEPS: [offset: string, holdMs: number][] = [
  ['+1h', 8000],
  ['-1h', 8000],
  ['+0', 5000],
];

export const clock: Scenario = {
  name: 'clock',
  how:
    'VRRPv2 at 1 s. Both daemons run under libfaketime (LD_PRELOAD, FAKETIME_DONT_FAKE_MONOTONIC=1, FAKETIME_NO_CACHE=1, FAKETIME_TIMESTAMP_FILE); the file goes +0 → +1h (8 s) → −1h (8 s) → +0 (5 s). ' +
    'The host clock is never changed. Figure: holder transitions on the wire and daemon state changes (expected 0), takeovers, and the master\'s longest advert gap (normal: ≈ 1000 ms).',
  variants: () => [
    {
      label: 'wall clock +1h/−1h',
      spec: {
        mode: V2_1S,
        wrapper: (_impl, _node, dir) => {
          writeFileSync(faketimeFile(dir), '+0\n');
          return ['env', `LD_PRELOAD=${FAKETIME_LIB}`, 'FAKETIME_DONT_FAKE_MONOTONIC=1', 'FAKETIME_NO_CACHE=1', `FAKETIME_TIMESTAMP_FILE=${faketimeFile(dir)}`];
        },
        async act(ctx) {
          await sleep(2000);
          for (const [offset, holdMs] of STEPS) {
            ctx.mark(offset);
            writeFileSync(faketimeFile(ctx.dir), `${offset}\n`);
            await sleep(holdMs);
          }
        },
      },
      figure(o: Observation) {
        const c = o.common;
        return {
          text: `transitions ${c.wireTransitions} (daemons ${o.transitions.length}), takeovers ${c.bTakeovers}, master's longest advert gap ${Math.round(c.aMaxGapMs)} ms`,
          metrics: { wireTransitions: c.wireTransitions, daemonTransitions: o.transitions.length, takeovers: c.bTakeovers, aMaxGapMs: Math.round(c.aMaxGapMs) },
        };
      },
    },
  ],
};
