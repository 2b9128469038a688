// Timing benchmark: the spacings the tests used to assert (GARP bursts, the arping fallback's event
// loop), measured and printed, never asserted. The failover timings (takeover after a priority-0
// advert, exit after SIGTERM) are in bench/failover.ts.
//
// 1. GARP schedule on the wire, ours against keepalived 2.2.7 with the same settings (repeat 5,
//    delay 1 s, VRRPv3 at 0.1 s): one node alone on the segment becomes MASTER; from the bridge
//    capture, per implementation:
//      - lag:    its first GARP behind its first advert as master (keepalived: same millisecond);
//      - spread: first to last frame of the first burst (keepalived sends the 5 back to back);
//      - gap:    first frame of the first burst to first frame of the second (configured: 1000 ms);
//      - bursts: frames per burst ("5+5" expected).
//    Ours runs twice: with the in-process packet socket and with the arping fallback
//    (HA_AGENT_GARP_SENDER=arping), which spawns one process per frame.
// 2. Event loop under the arping fallback, in this process: 25 callers send 4 GARPs each through
//    ArpingAnnouncer with a fake spawner whose synchronous part costs 2 ms (a real spawn: ~1.6 ms);
//    prints the longest time a 1 ms interval timer was held up (all 100 spawns in one turn: ~200 ms).
//
// Run after a build: `node dist/bench/timing.js [--runs N] [--json] [--only garp|loop]`
// (part 1 needs root, keepalived, tcpdump and tshark; part 2 needs nothing).
import type { Lab } from '../src/lab/lab.js';
import { ArpingAnnouncer } from '../src/net/announcer.js';
import type { ExecOptions, ExecResult } from '../src/exec.js';
import { addrOf, agentConfig, sleep, startAgent, withLab, type VrrpParams, type Watched } from '../test/netns/harness.js';
import { startKeepalived } from '../test/netns/keepalived.js';
import { decodeArp, decodeVrrp, firstAdvert, startCapture, type ArpRow } from '../test/netns/capture.js';
import { fmt, pad, ratio, stats } from './stats.js';

type Impl = 'ours' | 'ours (arping)' | 'keepalived';
const IMPLS: Impl[] = ['ours', 'ours (arping)', 'keepalived'];

interface GarpSample {
  lagMs: number | null;
  spreadMs: number | null;
  gapMs: number | null;
  bursts: string;
}

const VIP = '198.51.100.100/24';
const GARP = { repeat: 5, delay: 1 };
const PARAMS: VrrpParams = { version: 3, vrid: 51, advertInterval: 0.1, priority: 100, vips: [VIP], garp: GARP };
/** Frames further apart than this start a new burst (the configured delay is 1000 ms). */
const BURST_SPLIT_MS = 300;

function parseArgs(argv: string[]): { runs: number; json: boolean; only: 'garp' | 'loop' | null } {
  let runs = 3;
  let json = false;
  let only: 'garp' | 'loop' | null = null;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--runs') runs = Math.max(1, Number(argv[++i]) || 3);
    else if (a === '--json') json = true;
    else if (a === '--only') only = argv[++i] === 'loop' ? 'loop' : 'garp';
    else if (a === '--help' || a === '-h') {
      console.log('usage: node dist/bench/timing.js [--runs N] [--json] [--only garp|loop]   (garp: root, keepalived, tcpdump, tshark)');
      process.exit(0);
    }
  }
  return { runs, json, only };
}

function start(lab: Lab, impl: Impl): Watched {
  if (impl === 'keepalived') return startKeepalived(lab, 'ha1', PARAMS);
  const wrapper = impl === 'ours (arping)' ? ['env', 'HA_AGENT_GARP_SENDER=arping'] : undefined;
  return startAgent(lab, 'ha1', agentConfig(PARAMS), wrapper);
}

function bursts(frames: ArpRow[]): ArpRow[][] {
  const out: ArpRow[][] = [];
  for (const f of frames) {
    const last = out.at(-1);
    if (last && f.time - last.at(-1)!.time < BURST_SPLIT_MS) last.push(f);
    else out.push([f]);
  }
  return out;
}

/** One node becomes MASTER alone; its first advert and its two GARP bursts from the capture. */
async function garpOnce(impl: Impl): Promise<GarpSample> {
  return withLab(
    [
      { name: 'ha1', octet: 1 },
      { name: 'client', octet: 10 },
    ],
    async (lab) => {
      const cap = await startCapture(lab);
      const h = start(lab, impl);
      await h.waitState('VI_1', 'MASTER', 30_000);
      await sleep(GARP.delay * 1000 + 1_000);
      const pcap = await cap.stop(300);
      const ha1 = lab.node('ha1');
      const advert = firstAdvert(await decodeVrrp(pcap), { src: ha1.ip, minPriority: 1 });
      const garps = (await decodeArp(pcap)).filter((r) => r.gratuitous && r.senderIp === addrOf(VIP) && r.senderMac === ha1.mac.toLowerCase());
      const b = bursts(garps);
      const b0 = b[0];
      const b1 = b[1];
      return {
        lagMs: advert && b0 ? b0[0]!.time - advert.time : null,
        spreadMs: b0 ? b0.at(-1)!.time - b0[0]!.time : null,
        gapMs: b0 && b1 ? b1[0]!.time - b0[0]!.time : null,
        bursts: b.map((x) => x.length).join('+') || '0',
      };
    },
  );
}

/** Part 2: the longest event-loop stall while 100 arping "spawns" of 2 ms each go through the queue. */
async function loopOnce(): Promise<number> {
  const SPAWN_COST_MS = 2;
  const exec = (_argv: readonly string[], _o: ExecOptions): Promise<ExecResult> => {
    const until = performance.now() + SPAWN_COST_MS;
    while (performance.now() < until); // the synchronous part of child_process.spawn()
    return new Promise((resolve) => setImmediate(() => resolve({ code: 0, signal: null, stdout: '', stderr: '' })));
  };
  const announcer = new ArpingAnnouncer({ exec });
  let last = performance.now();
  let worst = 0;
  const probe = setInterval(() => {
    const now = performance.now();
    worst = Math.max(worst, now - last);
    last = now;
  }, 1);
  try {
    const sends = Array.from({ length: 25 }, (_, i) => announcer.sendGarp('eth0', '02:00:c6:33:64:01', `198.51.100.${100 + i}`, 4));
    last = performance.now();
    worst = 0;
    await Promise.all(sends);
    return worst;
  } finally {
    clearInterval(probe);
  }
}

async function main(): Promise<void> {
  const { runs, json, only } = parseArgs(process.argv.slice(2));
  const garp = new Map<Impl, GarpSample[]>();
  const loop: number[] = [];

  if (only !== 'garp') for (let i = 0; i < runs; i++) loop.push(await loopOnce());

  if (only !== 'loop') {
    if (process.getuid?.() !== 0) {
      console.error('bench/timing: the GARP part needs root (network namespaces); use --only loop without it');
      process.exit(1);
    }
    for (const impl of IMPLS) {
      const samples: GarpSample[] = [];
      for (let i = 0; i < runs; i++) {
        process.stderr.write(`GARP ${impl} run ${i + 1}/${runs}… `);
        try {
          const s = await garpOnce(impl);
          samples.push(s);
          process.stderr.write(`lag ${s.lagMs?.toFixed(1) ?? '?'} ms, bursts ${s.bursts}\n`);
        } catch (e) {
          process.stderr.write(`failed: ${(e as Error).message.split('\n')[0]}\n`);
        }
      }
      garp.set(impl, samples);
    }
  }

  if (json) {
    console.log(JSON.stringify({ runs, garp: Object.fromEntries(garp), eventLoopWorstMs: loop }, null, 2));
    return;
  }
  if (garp.size > 0) {
    const cols = [19, 20, 20, 20, 14];
    const row = (...cells: string[]) => console.log(cells.map((c, i) => pad(c, cols[i] ?? 12)).join(' '));
    const pick = (impl: Impl, k: 'lagMs' | 'spreadMs' | 'gapMs') => stats((garp.get(impl) ?? []).map((s) => s[k]));
    console.log(`\nGARP schedule (repeat ${GARP.repeat}, delay ${GARP.delay} s), ms, median (min–max) over ${runs} run(s)\n`);
    row('impl', 'first GARP − advert', 'first burst spread', 'second burst gap', 'bursts');
    for (const impl of IMPLS) {
      row(impl, fmt(pick(impl, 'lagMs'), 1), fmt(pick(impl, 'spreadMs'), 1), fmt(pick(impl, 'gapMs')), (garp.get(impl) ?? []).map((s) => s.bursts).join(' '));
    }
    for (const impl of IMPLS.filter((i) => i !== 'keepalived')) {
      // A lag or spread of 0.0 ms on keepalived's side makes a ratio meaningless: print the difference.
      const diff = (k: 'lagMs' | 'spreadMs' | 'gapMs') => {
        const a = pick(impl, k);
        const b = pick('keepalived', k);
        return a && b ? `${(a.median - b.median).toFixed(1)} ms` : 'n/a';
      };
      row(`${impl} − ka`, diff('lagMs'), diff('spreadMs'), `${diff('gapMs')} (×${ratio(pick(impl, 'gapMs'), pick('keepalived', 'gapMs'))})`, '');
    }
  }
  if (loop.length > 0) {
    console.log(`\nEvent loop, arping fallback: 100 spawns of 2 ms through ArpingAnnouncer; longest stall of a 1 ms timer, ms`);
    console.log(`  ${fmt(stats(loop), 1)} over ${loop.length} run(s)   (all in one turn would be ~200 ms)`);
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
