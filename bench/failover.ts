// Failover benchmark: our agent against keepalived 2.2.7, same lab, same run. Not a test: it
// measures and prints, and asserts nothing about timing.
//
// For VRRPv2 at 1 s and VRRPv3 at 0.1 s (multicast), and for a kill -9 and a SIGTERM of the master,
// it times, from the signal:
//   - bye:    (SIGTERM) the old master's priority-0 advert on the wire;
//   - advert: the first advert of the new master on the wire (tcpdump timestamps on the bridge);
//   - garp:   the new master's first gratuitous ARP for the VIP on the wire;
//   - client: the client's existing neighbour entry for the VIP pointing at the new master (polled,
//             so it includes up to one poll period and a process spawn);
//   - exit:   (SIGTERM) the old master's process exit (the contract says within 1 s);
// and, for SIGTERM, the new master's first advert after the priority-0 one (Skew_Time, ≈0.61 s at
// v2/priority 100 and ≈61 ms at v3 0.1 s, against Master_Down_Interval 3.61 s / 0.36 s).
// A kill -9 also pulls the dead master's cable, as a dead machine would. Then it prints each median
// (min–max over the runs) with the ours/keepalived ratio, and the idle RSS (VmRSS after 5 s idle) of
// one agent against one keepalived (parent + VRRP child).
//
// Run as root after a build: `node dist/bench/failover.js [--runs N] [--json]`.
import type { Lab } from '../src/lab/lab.js';
import {
  agentConfig,
  clientNeighbour,
  clientSees,
  rssKb,
  sleep,
  startAgent,
  withLab,
  type VrrpParams,
  type Watched,
} from '../test/netns/harness.js';
import { startKeepalived } from '../test/netns/keepalived.js';
import { decodeArp, decodeVrrp, firstAdvert, firstGarp, startCapture } from '../test/netns/capture.js';
import { fmt, pad, ratio, stats } from './stats.js';

type Impl = 'ours' | 'keepalived';
type Kind = 'kill -9' | 'SIGTERM';

interface Mode {
  name: string;
  version: 2 | 3;
  advertInterval: number;
}

interface Sample {
  /** SIGTERM only: the old master's priority-0 advert on the wire. */
  byeMs: number | null;
  advertMs: number | null;
  garpMs: number | null;
  clientMs: number | null;
  /** SIGTERM only: signal → the old master's process exit. */
  exitMs: number | null;
  /** SIGTERM only: the priority-0 advert → the new master's first advert (≈ Skew_Time). */
  afterByeMs: number | null;
}

const VIP = '198.51.100.100/24';
const MODES: Mode[] = [
  { name: 'v2 1 s', version: 2, advertInterval: 1 },
  { name: 'v3 0.1 s', version: 3, advertInterval: 0.1 },
];
const IMPLS: Impl[] = ['ours', 'keepalived'];
const KINDS: Kind[] = ['kill -9', 'SIGTERM'];
const NODES = [
  { name: 'ha1', octet: 1 },
  { name: 'ha2', octet: 2 },
  { name: 'client', octet: 10 },
];

function parseArgs(argv: string[]): { runs: number; json: boolean } {
  let runs = 3;
  let json = false;
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--runs') runs = Math.max(1, Number(argv[++i]) || 3);
    else if (argv[i] === '--json') json = true;
    else if (argv[i] === '--help' || argv[i] === '-h') {
      console.log('usage: node dist/bench/failover.js [--runs N] [--json]   (root; needs keepalived, tcpdump, tshark)');
      process.exit(0);
    }
  }
  return { runs, json };
}

function start(lab: Lab, impl: Impl, node: string, p: VrrpParams): Watched {
  return impl === 'ours' ? startAgent(lab, node, agentConfig(p)) : startKeepalived(lab, node, p);
}

function params(mode: Mode, priority: number): VrrpParams {
  return { version: mode.version, vrid: 51, advertInterval: mode.advertInterval, priority, vips: [VIP] };
}

/** Polls the client's neighbour entry until it names `node`; ms after `from`, or null on timeout. */
async function clientFollows(lab: Lab, node: string, from: number, timeoutMs: number): Promise<number | null> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if ((await clientNeighbour(lab, 'client', VIP)) === node) return Date.now() - from;
    await sleep(10);
  }
  return null;
}

/** Sum of VmRSS (kB) over a handle's processes. */
const rssOf = (w: Watched): number => w.pids().reduce((sum, pid) => sum + rssKb(pid), 0);

/** One failover: a pair elects ha1, then ha1 dies (or leaves) and ha2 takes over. */
async function failoverOnce(impl: Impl, mode: Mode, kind: Kind, rss: Map<Impl, number[]>): Promise<Sample> {
  return withLab(NODES, async (lab) => {
    const cap = await startCapture(lab);
    const master = start(lab, impl, 'ha1', params(mode, 200));
    const backup = start(lab, impl, 'ha2', params(mode, 100));
    const wait = 30_000;
    await master.waitState('VI_1', 'MASTER', wait);
    await backup.waitState('VI_1', 'BACKUP', wait);
    if (!rss.has(impl)) {
      await sleep(5_000);
      rss.set(impl, [rssOf(master), rssOf(backup)]);
    }
    if ((await clientSees(lab, 'client', VIP)) !== 'ha1') throw new Error(`${impl} ${mode.name}: the client does not see ha1 before the failover`);

    // stop() takes its timestamp and sends the signal synchronously; a SIGTERM is not awaited before
    // polling the client, since a graceful exit may take longer than the hand-over itself.
    const sentAt = Date.now();
    let gone: Promise<{ exitedAt?: number } | null>;
    if (kind === 'kill -9') {
      await master.kill9();
      await lab.setLink('ha1', false);
      gone = Promise.resolve(null);
    } else {
      gone = master.stop('SIGTERM');
    }
    const clientMs = await clientFollows(lab, 'ha2', sentAt, 15_000);
    await backup.waitState('VI_1', 'MASTER', wait);
    const exited = await gone;
    const pcap = await cap.stop(300);
    const adverts = await decodeVrrp(pcap);
    const arps = await decodeArp(pcap);
    const advert = firstAdvert(adverts, { src: lab.node('ha2').ip, after: sentAt, minPriority: 1 });
    const garp = firstGarp(arps, VIP.split('/')[0]!, lab.node('ha2').mac, sentAt);
    const bye = firstAdvert(adverts, { src: lab.node('ha1').ip, after: sentAt, priority: 0 });
    return {
      byeMs: bye ? bye.time - sentAt : null,
      advertMs: advert ? advert.time - sentAt : null,
      garpMs: garp ? garp.time - sentAt : null,
      clientMs,
      exitMs: exited?.exitedAt !== undefined ? exited.exitedAt - sentAt : null,
      afterByeMs: bye && advert ? advert.time - bye.time : null,
    };
  });
}

async function main(): Promise<void> {
  const { runs, json } = parseArgs(process.argv.slice(2));
  if (process.getuid?.() !== 0) {
    console.error('bench/failover: needs root (network namespaces); run as root');
    process.exit(1);
  }
  const results: { mode: string; kind: Kind; impl: Impl; samples: Sample[] }[] = [];
  const rss = new Map<Impl, number[]>();
  for (const mode of MODES) {
    for (const kind of KINDS) {
      for (const impl of IMPLS) {
        const samples: Sample[] = [];
        for (let i = 0; i < runs; i++) {
          process.stderr.write(`${mode.name} ${kind} ${impl} run ${i + 1}/${runs}… `);
          try {
            const s = await failoverOnce(impl, mode, kind, rss);
            samples.push(s);
            process.stderr.write(`advert ${s.advertMs?.toFixed(0) ?? '?'} ms, client ${s.clientMs ?? '?'} ms\n`);
          } catch (e) {
            process.stderr.write(`failed: ${(e as Error).message.split('\n')[0]}\n`);
          }
        }
        results.push({ mode: mode.name, kind, impl, samples });
      }
    }
  }

  if (json) {
    console.log(JSON.stringify({ runs, results, rssKb: Object.fromEntries(rss) }, null, 2));
    return;
  }

  const cols = [10, 9, 11, 18, 18, 16, 13, 17, 16];
  const row = (...cells: string[]) => console.log(cells.map((c, i) => pad(c, cols[i] ?? 12)).join(' '));
  console.log(`\nFailover, ms from the signal to … (median (min–max) over ${runs} run(s))\n`);
  row('mode', 'event', 'impl', 'priority-0 advert', 'new master advert', 'new master GARP', 'client entry', 'advert after bye', 'old master exit');
  for (const mode of MODES) {
    for (const kind of KINDS) {
      const get = (impl: Impl) => results.find((r) => r.mode === mode.name && r.kind === kind && r.impl === impl)?.samples ?? [];
      const pick = (impl: Impl, k: keyof Sample) => stats(get(impl).map((s) => s[k]));
      for (const impl of IMPLS) {
        const term = (k: keyof Sample) => (kind === 'SIGTERM' ? fmt(pick(impl, k)) : '—');
        row(mode.name, kind, impl, term('byeMs'), fmt(pick(impl, 'advertMs')), fmt(pick(impl, 'garpMs')), fmt(pick(impl, 'clientMs')), term('afterByeMs'), term('exitMs'));
      }
      row(
        '',
        '',
        'ours/ka',
        kind === 'SIGTERM' ? ratio(pick('ours', 'byeMs'), pick('keepalived', 'byeMs')) : '',
        ratio(pick('ours', 'advertMs'), pick('keepalived', 'advertMs')),
        ratio(pick('ours', 'garpMs'), pick('keepalived', 'garpMs')),
        ratio(pick('ours', 'clientMs'), pick('keepalived', 'clientMs')),
        kind === 'SIGTERM' ? ratio(pick('ours', 'afterByeMs'), pick('keepalived', 'afterByeMs')) : '',
        kind === 'SIGTERM' ? ratio(pick('ours', 'exitMs'), pick('keepalived', 'exitMs')) : '',
      );
    }
  }
  const r = (impl: Impl) => rss.get(impl);
  console.log('\nIdle RSS after 5 s (VmRSS; keepalived = parent + VRRP child), master / backup, MiB');
  for (const impl of IMPLS) {
    const v = r(impl);
    console.log(`  ${pad(impl, 11)} ${v ? v.map((kb) => (kb / 1024).toFixed(1)).join(' / ') : 'n/a'}`);
  }
  const o = r('ours');
  const k = r('keepalived');
  if (o && k && k[0]) console.log(`  ${pad('ours/ka', 11)} ${(o[0]! / k[0]).toFixed(1)}×`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
