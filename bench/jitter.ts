// Jitter benchmark: how regularly our agent sends its adverts at the VRRPv3 minimum interval (10 ms),
// idle and with load in its own process, against keepalived 2.2.7 beside it. Not a test: it measures
// and prints, and asserts nothing; the target (p99 of |interval − 10 ms| ≤ 2 ms) is printed with ✓/✗.
//
// Per condition, a fresh lab: node ha1 runs our agent (VRID 51; its advert thread at its default,
// SCHED_FIFO priority 1), node ha2 keepalived as Debian ships it (VRID 52, normal scheduling), node ha3
// keepalived with `vrrp_rt_priority 1` (VRID 53: realtime like ours, the like-for-like comparison), all
// VRRPv3 multicast at advert_int 0.01, each alone in its VRID, so each is master and sends every
// 10 ms. After a warm-up, tcpdump on the lab bridge records --window seconds; the send intervals of
// each daemon are the differences of consecutive capture timestamps (on the wire, as a peer sees
// them). Conditions (src/bench-hog.ts, HA_AGENT_BENCH_HOG in our agent only; keepalived runs
// unloaded beside it, in the same machine conditions):
//   idle    no extra load;
//   cpu     a 20 ms busy loop every 25 ms on the agent's event loop;
//   gc      allocation churn every 10 ms (young and old generation GCs);
//   cpu+gc  both.
// Prints per daemon and condition the interval p50 / p99 / max, jitter p99 / max, adverts seen, and
// the ours/keepalived ratio of the jitter p99; --json prints that and a histogram of the intervals.
//
// Run as root after a build: `node dist/bench/jitter.js [--window S] [--conditions LIST] [--json]`
// (needs keepalived, tcpdump, tshark).
import type { Lab } from '../src/lab/lab.js';
import { agentConfig, sleep, startAgent, withLab, type VrrpParams, type Watched } from '../test/netns/harness.js';
import { startKeepalived } from '../test/netns/keepalived.js';
import { decodeVrrp, startCapture } from '../test/netns/capture.js';
import { histogram, intervals, intervalSummary, pad, type IntervalSummary } from './stats.js';

type Impl = 'ours' | 'keepalived' | 'keepalived-rt';
const IMPLS: Impl[] = ['ours', 'keepalived', 'keepalived-rt'];
const CONDITIONS = ['idle', 'cpu', 'gc', 'cpu+gc'] as const;
type Condition = (typeof CONDITIONS)[number];

/** The advert interval measured, s (VRRPv3's minimum). */
export const JITTER_INTERVAL_S = 0.01;
/** The target on the jitter p99, ms. */
export const JITTER_P99_TARGET_MS = 2;
const HIST_BIN_MS = 0.25;
const HIST_MAX_MS = 25;

export interface JitterResult {
  condition: Condition;
  impl: Impl;
  summary: IntervalSummary | null;
  /** Adverts seen in the window, and how many a perfect 10 ms schedule would have sent. */
  adverts: number;
  expected: number;
  histogram: { from: number; count: number }[];
  error?: string;
}

const NODES = [
  { name: 'ha1', octet: 1 },
  { name: 'ha2', octet: 2 },
  { name: 'ha3', octet: 3 },
];

interface Options {
  windowS: number;
  warmupS: number;
  conditions: Condition[];
  json: boolean;
}

function parseArgs(argv: string[]): Options {
  const o: Options = { windowS: 30, warmupS: 3, conditions: [...CONDITIONS], json: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--window') o.windowS = Math.max(1, Number(argv[++i]) || o.windowS);
    else if (a === '--warmup') o.warmupS = Math.max(0, Number(argv[++i]) || 0);
    else if (a === '--conditions') {
      const want = (argv[++i] ?? '').split(',');
      o.conditions = CONDITIONS.filter((c) => want.includes(c));
      if (!o.conditions.length) throw new Error(`--conditions: ${CONDITIONS.join(', ')}`);
    } else if (a === '--json') o.json = true;
    else if (a === '--help' || a === '-h') {
      console.log('usage: node dist/bench/jitter.js [--window S (30)] [--warmup S (3)] [--conditions idle,cpu,gc,cpu+gc] [--json]   (root; keepalived, tcpdump, tshark)');
      process.exit(0);
    } else throw new Error(`unknown option ${a}`);
  }
  return o;
}

const params = (vrid: number): VrrpParams => ({ version: 3, vrid, priority: 100, advertInterval: JITTER_INTERVAL_S, vips: [`198.51.100.${100 + vrid - 50}/24`] });

function hogEnv(c: Condition): string | null {
  return c === 'idle' ? null : c === 'cpu+gc' ? 'cpu,gc' : c;
}

async function oneCondition(c: Condition, o: Options): Promise<JitterResult[]> {
  return withLab(NODES, async (lab: Lab) => {
    const hog = hogEnv(c);
    const ours = startAgent(lab, 'ha1', { ...agentConfig(params(51)), log: { level: 'info' } }, hog ? ['env', `HA_AGENT_BENCH_HOG=${hog}`] : undefined);
    const ka = startKeepalived(lab, 'ha2', params(52));
    const kaRt = startKeepalived(lab, 'ha3', { ...params(53), globalDefs: ['vrrp_rt_priority 1'] });
    const daemons: [Impl, Watched, string][] = [
      ['ours', ours, lab.node('ha1').ip],
      ['keepalived', ka, lab.node('ha2').ip],
      ['keepalived-rt', kaRt, lab.node('ha3').ip],
    ];
    await Promise.all(daemons.map(([, w]) => w.waitState('VI_1', 'MASTER', 30_000)));
    await sleep(o.warmupS * 1000);
    const cap = await startCapture(lab, { filter: 'ip proto 112', name: `jitter-${c.replace('+', '-')}` });
    await sleep(o.windowS * 1000);
    const pcap = await cap.stop(100);
    const rows = await decodeVrrp(pcap);
    return daemons.map(([impl, w, ip]) => {
      const times = rows.filter((r) => r.src === ip && r.priority > 0).map((r) => r.time);
      const xs = intervals(times);
      const res: JitterResult = {
        condition: c,
        impl,
        summary: intervalSummary(xs, JITTER_INTERVAL_S * 1000),
        adverts: times.length,
        expected: Math.round(o.windowS / JITTER_INTERVAL_S),
        histogram: histogram(xs, HIST_BIN_MS, HIST_MAX_MS),
      };
      if (w.exit) res.error = `${impl} exited during the window`;
      return res;
    });
  });
}

function printReport(o: Options, results: JitterResult[]): void {
  const cols = [9, 14, 10, 10, 10, 12, 12, 16, 8];
  const row = (...cells: string[]) => console.log(cells.map((c, i) => pad(c, cols[i] ?? 12)).join(' ').trimEnd());
  const ms = (x: number | undefined) => (x === undefined ? 'n/a' : x.toFixed(2));
  console.log(`\nAdvert send intervals at ${JITTER_INTERVAL_S * 1000} ms (VRRPv3), ${o.windowS} s window, ms, on the wire (lab bridge capture)\n`);
  row('load', 'impl', 'p50', 'p99', 'max', 'jitter p99', 'jitter max', 'adverts/expected', 'target');
  for (const c of o.conditions) {
    for (const impl of IMPLS) {
      const r = results.find((x) => x.condition === c && x.impl === impl);
      const s = r?.summary ?? undefined;
      const target = impl === 'ours' && s ? (s.jitterP99 <= JITTER_P99_TARGET_MS ? '✓' : '✗') : '';
      row(c, impl, ms(s?.p50), ms(s?.p99), ms(s?.max), ms(s?.jitterP99), ms(s?.jitterMax), r ? `${r.adverts}/${r.expected}` : r === undefined ? 'failed' : '', target);
    }
  }
  console.log(`\nTarget: our jitter p99 (|interval − ${JITTER_INTERVAL_S * 1000} ms|, 99th percentile) ≤ ${JITTER_P99_TARGET_MS} ms. The load (HA_AGENT_BENCH_HOG) runs in our agent's process only.`);
}

async function main(): Promise<void> {
  let o: Options;
  try {
    o = parseArgs(process.argv.slice(2));
  } catch (e) {
    console.error(`bench/jitter: ${(e as Error).message}`);
    process.exit(2);
  }
  if (process.getuid?.() !== 0) {
    console.error('bench/jitter: needs root (network namespaces); run as root');
    process.exit(1);
  }
  const results: JitterResult[] = [];
  for (const c of o.conditions) {
    process.stderr.write(`jitter ${c}… `);
    try {
      const rs = await oneCondition(c, o);
      results.push(...rs);
      process.stderr.write(rs.map((r) => `${r.impl} p99 ${r.summary?.p99.toFixed(2) ?? '?'} ms (${r.adverts} adverts)`).join(', ') + '\n');
    } catch (e) {
      process.stderr.write(`failed: ${(e as Error).message.split('\n')[0]}\n`);
    }
  }
  if (o.json) console.log(JSON.stringify({ intervalMs: JITTER_INTERVAL_S * 1000, targetP99Ms: JITTER_P99_TARGET_MS, windowS: o.windowS, results }, null, 2));
  else printReport(o, results);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
