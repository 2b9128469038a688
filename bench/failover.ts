// Failover benchmark: our agent against keepalived 2.2.7, same lab, same run. Not a test: it
// measures and prints, and asserts nothing about timing.
//
// For VRRPv2 at 1 s and VRRPv3 at 0.1 s, multicast and unicast, and for a kill -9 and a SIGTERM of
// the master, with a client pinging the VIP every 10 ms from a third lab node, it times (one tcpdump
// on the lab bridge; pcap timestamps):
//   - takeover: the phase-independent takeover, the dead master's last advert (kill -9) or its
//     priority-0 advert (SIGTERM) → the new master's first advert, against the RFC bound:
//     3 × interval + Skew_Time after a death, Skew_Time after a priority-0 advert (Skew_Time =
//     (256 − priority) / 256 × interval at the backup's priority 100);
//   - from the signal: the old master's priority-0 advert (SIGTERM), the new master's first advert,
//     its first gratuitous ARP for the VIP, and the client's first echo reply from the new master's
//     MAC (the client's ping keeps going through the failover: this is when the VIP answers again);
//   - exit:   (SIGTERM) the old master's process exit (the contract says within 1 s).
// A kill -9 also pulls the dead master's cable, as a dead machine would. Runs are interleaved (ours,
// keepalived, ours, …). Then it prints each median (min–max) with the ours/keepalived ratio, and the
// idle RSS (VmRSS after 5 s idle) of one agent against one keepalived (parent + VRRP child).
//
// Run as root after a build: `node dist/bench/failover.js [--runs N] [--json] [--cast LIST] [--mode LIST]
// [--kind LIST] [--no-rss]` (needs keepalived, tcpdump, tshark, ping).
import type { Lab } from '../src/lab/lab.js';
import { run } from '../src/exec.js';
import { addrOf, agentConfig, clientSees, rssKb, sleep, startAgent, unicastBetween, withLab, type VrrpParams, type Watched } from '../test/netns/harness.js';
import { startKeepalived } from '../test/netns/keepalived.js';
import { decodeArp, decodeVrrp, firstAdvert, firstGarp, startCapture, type VrrpRow } from '../test/netns/capture.js';
import { fmt, pad, ratio, stats } from './stats.js';

type Impl = 'ours' | 'keepalived';
type Kind = 'kill -9' | 'SIGTERM';
type Cast = 'multicast' | 'unicast';

interface Mode {
  name: string;
  version: 2 | 3;
  advertInterval: number;
}

export interface FailoverSample {
  /** The dead master's last advert (SIGTERM: its priority-0 advert) → the new master's first advert. */
  takeoverMs: number | null;
  /** SIGTERM only: the old master's priority-0 advert on the wire. */
  byeMs: number | null;
  advertMs: number | null;
  garpMs: number | null;
  /** The client's first echo reply from the new master's MAC. */
  clientMs: number | null;
  /** SIGTERM only: signal → the old master's process exit. */
  exitMs: number | null;
}

/** One cell of the matrix, as --json prints it (bench/run.ts reads this). */
export interface FailoverResult {
  mode: string;
  version: 2 | 3;
  advertInterval: number;
  kind: Kind;
  cast: Cast;
  impl: Impl;
  /** The RFC 5798 bound on `takeoverMs`, ms. */
  boundMs: number;
  samples: FailoverSample[];
  errors: string[];
}

const VIP = '198.51.100.100/24';
const BACKUP_PRIORITY = 100;
const MODES: Mode[] = [
  { name: 'v2 1 s', version: 2, advertInterval: 1 },
  { name: 'v3 0.1 s', version: 3, advertInterval: 0.1 },
];
const IMPLS: Impl[] = ['ours', 'keepalived'];
const KINDS: Kind[] = ['kill -9', 'SIGTERM'];
const CASTS: Cast[] = ['multicast', 'unicast'];
const NODES = [
  { name: 'ha1', octet: 1 },
  { name: 'ha2', octet: 2 },
  { name: 'client', octet: 10 },
];
/** The client's ping interval, seconds (root may go below 0.2). */
const PING_INTERVAL_S = 0.01;

/** RFC 5798 §6.1: Skew_Time and the takeover bound after a death (3 × interval + skew) or a priority-0 advert (skew), ms. */
export function takeoverBoundMs(advertInterval: number, kind: Kind, priority = BACKUP_PRIORITY): number {
  const skew = ((256 - priority) / 256) * advertInterval * 1000;
  return kind === 'SIGTERM' ? skew : 3 * advertInterval * 1000 + skew;
}

interface Options {
  runs: number;
  json: boolean;
  rss: boolean;
  modes: Mode[];
  kinds: Kind[];
  casts: Cast[];
}

function usage(): string {
  return [
    'usage: node dist/bench/failover.js [options]   (root; needs keepalived, tcpdump, tshark, ping)',
    '  --runs N          runs per cell and implementation (default 3)',
    '  --cast LIST       multicast,unicast (default both)',
    "  --mode LIST       v2,v3 (default both: VRRPv2 at 1 s, VRRPv3 at 0.1 s)",
    '  --kind LIST       kill9,sigterm (default both)',
    '  --no-rss          skip the idle RSS measurement (5 s per implementation)',
    '  --json            print the results as JSON',
  ].join('\n');
}

function parseArgs(argv: string[]): Options {
  const o: Options = { runs: 3, json: false, rss: true, modes: MODES, kinds: KINDS, casts: CASTS };
  const list = (v: string | undefined) => (v ?? '').split(',').filter(Boolean);
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--runs') o.runs = Math.max(1, Number(argv[++i]) || 3);
    else if (a === '--json') o.json = true;
    else if (a === '--no-rss') o.rss = false;
    else if (a === '--cast') o.casts = list(argv[++i]).filter((c): c is Cast => (CASTS as string[]).includes(c));
    else if (a === '--mode') {
      const m = list(argv[++i]);
      o.modes = MODES.filter((x) => m.includes(`v${x.version}`));
    }
    else if (a === '--kind') {
      const k = list(argv[++i]);
      o.kinds = KINDS.filter((x) => k.includes(x === 'kill -9' ? 'kill9' : 'sigterm'));
    } else if (a === '--help' || a === '-h') {
      console.log(usage());
      process.exit(0);
    } else throw new Error(`unknown option ${a}\n${usage()}`);
  }
  if (!o.casts.length || !o.modes.length || !o.kinds.length) throw new Error(`empty --cast, --mode or --kind\n${usage()}`);
  return o;
}

function params(lab: Lab, mode: Mode, cast: Cast, node: string, peer: string, priority: number): VrrpParams {
  const p: VrrpParams = { version: mode.version, vrid: 51, advertInterval: mode.advertInterval, priority, vips: [VIP] };
  if (cast === 'unicast') p.unicast = unicastBetween(lab, node, [peer]);
  return p;
}

function start(lab: Lab, impl: Impl, node: string, p: VrrpParams): Watched {
  return impl === 'ours' ? startAgent(lab, node, agentConfig(p)) : startKeepalived(lab, node, p);
}

/** Echo replies from `ip` in the capture: time and source MAC. */
async function decodeEchoReplies(pcap: string, ip: string): Promise<{ time: number; ethSrc: string }[]> {
  const out = await run(['tshark', '-r', pcap, '-Y', `icmp.type == 0 && ip.src == ${ip}`, '-T', 'fields', '-E', 'separator=/t', '-e', 'frame.time_epoch', '-e', 'eth.src'], { timeoutMs: 30_000 });
  return out
    .split('\n')
    .filter(Boolean)
    .map((l) => {
      const [t, mac] = l.split('\t');
      return { time: Number(t) * 1000, ethSrc: (mac ?? '').toLowerCase() };
    });
}

/** The last advert from `src` strictly before `before` (ms since the epoch). */
function lastAdvertBefore(rows: VrrpRow[], src: string, before: number): VrrpRow | undefined {
  let last: VrrpRow | undefined;
  for (const r of rows) if (r.src === src && r.time < before) last = r;
  return last;
}

/** Sum of VmRSS (kB) over a handle's processes. */
const rssOf = (w: Watched): number => w.pids().reduce((sum, pid) => sum + rssKb(pid), 0);

/** One failover: a pair elects ha1, the client pings the VIP, then ha1 dies (or leaves) and ha2 takes over. */
async function failoverOnce(impl: Impl, mode: Mode, kind: Kind, cast: Cast, rss: Map<Impl, number[]> | null): Promise<FailoverSample> {
  return withLab(NODES, async (lab) => {
    const cap = await startCapture(lab, { filter: 'ip proto 112 or arp or icmp' });
    const master = start(lab, impl, 'ha1', params(lab, mode, cast, 'ha1', 'ha2', 200));
    const backup = start(lab, impl, 'ha2', params(lab, mode, cast, 'ha2', 'ha1', BACKUP_PRIORITY));
    const wait = 30_000;
    await master.waitState('VI_1', 'MASTER', wait);
    await backup.waitState('VI_1', 'BACKUP', wait);
    if (rss && !rss.has(impl)) {
      await sleep(5_000);
      rss.set(impl, [rssOf(master), rssOf(backup)]);
    }
    if ((await clientSees(lab, 'client', VIP)) !== 'ha1') throw new Error(`${impl} ${mode.name} ${cast}: the client does not see ha1 before the failover`);
    // The client pings the VIP throughout (killed with the lab); its first reply from ha2's MAC is
    // when the service answers again.
    lab.spawn('client', ['ping', '-n', '-q', '-i', String(PING_INTERVAL_S), addrOf(VIP)]);
    await sleep(300);

    const sentAt = Date.now();
    let gone: Promise<{ exitedAt?: number } | null>;
    if (kind === 'kill -9') {
      await master.kill9();
      await lab.setLink('ha1', false);
      gone = Promise.resolve(null);
    } else {
      gone = master.stop('SIGTERM');
    }
    await backup.waitState('VI_1', 'MASTER', wait);
    const exited = await gone;
    // Long enough for the first GARP burst and the client's next pings.
    await sleep(Math.max(500, mode.advertInterval * 1000));
    const pcap = await cap.stop(300);
    const [adverts, arps, replies] = await Promise.all([decodeVrrp(pcap), decodeArp(pcap), decodeEchoReplies(pcap, addrOf(VIP))]);
    const ha1 = lab.node('ha1');
    const ha2 = lab.node('ha2');
    const advert = firstAdvert(adverts, { src: ha2.ip, after: sentAt, minPriority: 1 });
    const garp = firstGarp(arps, addrOf(VIP), ha2.mac, sentAt);
    const bye = firstAdvert(adverts, { src: ha1.ip, after: sentAt, priority: 0 });
    const last = kind === 'SIGTERM' ? bye : lastAdvertBefore(adverts, ha1.ip, advert?.time ?? Infinity);
    const reply = replies.find((r) => r.time >= sentAt && r.ethSrc === ha2.mac.toLowerCase());
    return {
      takeoverMs: last && advert ? advert.time - last.time : null,
      byeMs: bye ? bye.time - sentAt : null,
      advertMs: advert ? advert.time - sentAt : null,
      garpMs: garp ? garp.time - sentAt : null,
      clientMs: reply ? reply.time - sentAt : null,
      exitMs: exited?.exitedAt !== undefined ? exited.exitedAt - sentAt : null,
    };
  });
}

/** The whole matrix, interleaved: for each cell, run i of ours, then run i of keepalived. */
async function runAll(o: Options, rss: Map<Impl, number[]> | null): Promise<FailoverResult[]> {
  const results: FailoverResult[] = [];
  for (const mode of o.modes) {
    for (const kind of o.kinds) {
      for (const cast of o.casts) {
        const cell = IMPLS.map((impl) => {
          const r: FailoverResult = { mode: mode.name, version: mode.version, advertInterval: mode.advertInterval, kind, cast, impl, boundMs: takeoverBoundMs(mode.advertInterval, kind), samples: [], errors: [] };
          results.push(r);
          return r;
        });
        for (let i = 0; i < o.runs; i++) {
          for (const r of cell) {
            process.stderr.write(`${mode.name} ${kind} ${cast} ${r.impl} run ${i + 1}/${o.runs}… `);
            try {
              const s = await failoverOnce(r.impl, mode, kind, cast, rss);
              r.samples.push(s);
              process.stderr.write(`takeover ${s.takeoverMs?.toFixed(0) ?? '?'} ms (bound ${r.boundMs.toFixed(0)}), client ${s.clientMs?.toFixed(0) ?? '?'} ms\n`);
            } catch (e) {
              const msg = (e as Error).message.split('\n')[0] ?? 'failed';
              r.errors.push(msg);
              process.stderr.write(`failed: ${msg}\n`);
            }
          }
        }
      }
    }
  }
  return results;
}

function printReport(o: Options, results: FailoverResult[], rss: Map<Impl, number[]> | null): void {
  const cols = [10, 9, 10, 11, 20, 18, 18, 18, 18, 16];
  const row = (...cells: string[]) => console.log(cells.map((c, i) => pad(c, cols[i] ?? 12)).join(' ').trimEnd());
  console.log(`\nFailover, ms, median (min–max) over ${o.runs} run(s); takeover = dead master's last (or priority-0) advert → new master's first advert; the rest from the signal\n`);
  row('mode', 'event', 'cast', 'impl', 'takeover (bound)', 'priority-0 advert', 'new master advert', 'new master GARP', 'client reply', 'old master exit');
  for (const mode of o.modes) {
    for (const kind of o.kinds) {
      for (const cast of o.casts) {
        const get = (impl: Impl) => results.find((r) => r.mode === mode.name && r.kind === kind && r.cast === cast && r.impl === impl);
        const pick = (impl: Impl, k: keyof FailoverSample) => stats((get(impl)?.samples ?? []).map((s) => s[k]));
        for (const impl of IMPLS) {
          const term = (k: keyof FailoverSample) => (kind === 'SIGTERM' ? fmt(pick(impl, k)) : '—');
          row(mode.name, kind, cast, impl, `${fmt(pick(impl, 'takeoverMs'))} (${get(impl)?.boundMs.toFixed(0)})`, term('byeMs'), fmt(pick(impl, 'advertMs')), fmt(pick(impl, 'garpMs')), fmt(pick(impl, 'clientMs')), term('exitMs'));
        }
        const rt = (k: keyof FailoverSample) => ratio(pick('ours', k), pick('keepalived', k));
        row('', '', '', 'ours/ka', rt('takeoverMs'), kind === 'SIGTERM' ? rt('byeMs') : '', rt('advertMs'), rt('garpMs'), rt('clientMs'), kind === 'SIGTERM' ? rt('exitMs') : '');
      }
    }
  }
  if (!rss) return;
  console.log('\nIdle RSS after 5 s (VmRSS; keepalived = parent + VRRP child), master / backup, MiB');
  for (const impl of IMPLS) {
    const v = rss.get(impl);
    console.log(`  ${pad(impl, 11)} ${v ? v.map((kb) => (kb / 1024).toFixed(1)).join(' / ') : 'n/a'}`);
  }
  const a = rss.get('ours');
  const b = rss.get('keepalived');
  if (a && b && b[0]) console.log(`  ${pad('ours/ka', 11)} ${(a[0]! / b[0]).toFixed(1)}×`);
}

async function main(): Promise<void> {
  let o: Options;
  try {
    o = parseArgs(process.argv.slice(2));
  } catch (e) {
    console.error(`bench/failover: ${(e as Error).message}`);
    process.exit(2);
  }
  if (process.getuid?.() !== 0) {
    console.error('bench/failover: needs root (network namespaces); run as root');
    process.exit(1);
  }
  const rss = o.rss ? new Map<Impl, number[]>() : null;
  const results = await runAll(o, rss);
  if (o.json) console.log(JSON.stringify({ runs: o.runs, pingIntervalS: PING_INTERVAL_S, results, rssKb: rss ? Object.fromEntries(rss) : null }, null, 2));
  else printReport(o, results, rss);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
