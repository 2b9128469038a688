// The hostile-peer flood of `npm run fuzz`: ~10⁵ adverts per second for some seconds at one VRRPv3
// unicast instance (0.1 s adverts, MASTER), first of our agent, then of keepalived, in the same lab
// and run. fuzz-send.c (cc -O2, sendmmsg on AF_PACKET) floods from a third node, with adverts for the
// instance's VRID from its configured peer that every receiver must drop after reading them whole:
// wrong VIP set (valid checksum), wrong checksum, count_ip lie, and an unknown VRID.
//
// Per daemon: its adverts' send intervals under the flood (p50 / p99 / max, from a capture on the lab
// bridge filtered to its address), its CPU (utime + stime of its process tree, % of one core), the
// drops it counted (ours: /metrics) and the raw socket's overflow (/proc/net/raw "drops" of its
// namespace), and whether it stayed MASTER. keepalived logs to stdout, which goes to /dev/null here
// (as its syslog would be elsewhere): its log writes are part of its cost, not of ours.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { LAB_NET, type Lab } from '../../src/lab/lab.js';
import { encodeAdvert } from '../../src/vrrp/packet.js';
import { adoptProcess, labDir, withLab, type AgentHandle } from '../../test/netns/harness.js';
import { KeepalivedHandle, keepalivedConf, type KeepalivedOptions } from '../../test/netns/keepalived.js';
import { decodeVrrp, startCapture } from '../../test/netns/capture.js';
import { intervals, intervalSummary, type IntervalSummary } from '../stats.js';
import { treeCpu, cpuPercent } from '../proc-cpu.js';
import { startAgentMulti } from '../daemons.js';
import { fixVrrpChecksum, frameOf, ipDatagram } from './mutate.js';
import { agentCounts, delta, rawSocketDrops, scrapeMetrics, socketOverflow } from './packets.js';
import { compileSender, runSender, writeFrames, type SendResult } from './sender.js';

const NOMINAL_MS = 100;
const IDLE_S = 3;

export interface FloodSide {
  impl: 'ours' | 'keepalived';
  sender: SendResult;
  /** Flood rate actually reached, frames per second. */
  rate: number;
  intervals: IntervalSummary | null;
  /** Adverts captured during the flood, and how many the nominal interval implies. */
  adverts: number;
  expected: number;
  /** The same daemon's intervals and adverts in the IDLE_S just before the flood (the baseline). */
  idle: IntervalSummary | null;
  idleAdverts: number;
  cpuPct: number;
  /** ours: drops by reason counted in /metrics over the flood (keepalived: none to read). */
  dropped: Record<string, number> | null;
  /** Per raw IPv4 socket of the daemon's namespace, datagrams the kernel dropped (buffer full). */
  socketDrops: number[];
  /** Of those, the ones lost from the sockets the daemon reads (packets.ts socketOverflow). */
  overflow: number;
  /** CPU time per datagram the daemon read (sent − overflow), µs. */
  cpuUsPerDatagram: number;
  stayedMaster: boolean;
}

export interface FloodResult {
  pps: number;
  seconds: number;
  sides: FloodSide[];
}

const params = (self: string, peer: string, vrid: number): KeepalivedOptions => ({
  version: 3,
  vrid,
  priority: 254,
  advertInterval: 0.1,
  vips: [`${LAB_NET}.${100 + vrid}/24`],
  unicast: { source: self, peers: [peer] },
});

/** The flood's frames at one target: 4 kinds × 64 IP ids, from the peer, all to be dropped. */
export function floodFrames(lab: Lab, target: string, vrid: number): Buffer[] {
  const t = lab.node(target);
  const f = lab.node('flooder');
  const a = { fuzzerIp: f.ip, fuzzerMac: f.mac, targetIp: t.ip, targetMac: t.mac, strangerIp: '', orphanIp: '' };
  const advert = (vr: number, vip: string) => encodeAdvert({ version: 3, vrid: vr, priority: 100, addresses: [vip], advertIntervalCs: 10, authType: 0, authData: Buffer.alloc(0) }, { src: f.ip, dst: t.ip });
  const vip = `${LAB_NET}.${100 + vrid}`;
  const kinds: Buffer[] = [];
  kinds.push(advert(vrid, `${LAB_NET}.199`)); // address-mismatch
  const badSum = advert(vrid, vip);
  badSum.writeUInt16BE(badSum.readUInt16BE(6) ^ 0x1234, 6);
  kinds.push(badSum); // bad-checksum
  const lie = advert(vrid, vip);
  lie[3] = 2;
  fixVrrpChecksum(lie, f.ip, t.ip, 'rfc');
  kinds.push(lie); // bad-length
  kinds.push(advert(vrid === 200 ? 201 : 200, vip)); // unknown-vrid
  const frames: Buffer[] = [];
  for (let id = 1; id <= 64; id++)
    for (const k of kinds) frames.push(frameOf(ipDatagram({ src: f.ip, dst: t.ip, ttl: 255, protocol: 112, id, options: Buffer.alloc(0), fragment: 0 }, k), t.ip, a));
  return frames;
}

/** keepalived with its output thrown away (no pipe to keep up with under the flood); its pids. */
function startQuietKeepalived(lab: Lab, node: string, o: KeepalivedOptions): KeepalivedHandle {
  const base = join(labDir(lab), `ka-flood-${node}`);
  writeFileSync(`${base}.conf`, keepalivedConf(node, o));
  const pid = (s: string) => `${base}.${s}.pid`;
  // -n no fork, -l log to console (here /dev/null), -D detailed, -G no syslog, -P VRRP only, -R no respawn.
  const argv = ['keepalived', '-n', '-l', '-D', '-G', '-P', '-R', '-f', `${base}.conf`, '-p', pid('main'), '-r', pid('vrrp'), '-c', pid('chk'), '-b', pid('bfd')];
  const proc = lab.spawn(node, argv, { stdio: ['ignore', 'ignore', 'ignore'] });
  const h = new KeepalivedHandle(lab, lab.node(node), `${base}.conf`, pid('vrrp'), proc);
  adoptProcess(lab, h);
  return h;
}

async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`flood: timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Runs the flood at our agent, then at keepalived, in one lab. */
export async function runFlood(o: { pps: number; seconds: number; log?: (l: string) => void }): Promise<FloodResult> {
  const log = o.log ?? (() => {});
  return withLab(
    [
      { name: 'ours', octet: 10 },
      { name: 'ka', octet: 11 },
      { name: 'flooder', octet: 20 },
    ],
    async (lab) => {
      const bin = compileSender(labDir(lab));
      const flooder = lab.node('flooder').ip;
      const op = params(lab.node('ours').ip, flooder, 60);
      const kp = params(lab.node('ka').ip, flooder, 61);
      const ours: AgentHandle = startAgentMulti(lab, 'ours', [{ name: 'FLOOD', params: op }], 'info');
      const ka = startQuietKeepalived(lab, 'ka', kp);
      await ours.waitState('FLOOD', 'MASTER', 20_000);
      await waitFor('keepalived to hold its VIP', async () => (await lab.holdersOf(kp.vips[0]!)).includes('ka'));
      await new Promise((r) => setTimeout(r, 1000));
      const sides: FloodSide[] = [];
      for (const impl of ['ours', 'keepalived'] as const) {
        const node = impl === 'ours' ? 'ours' : 'ka';
        const vrid = impl === 'ours' ? 60 : 61;
        const file = join(labDir(lab), `flood-${node}.bin`);
        writeFrames(file, floodFrames(lab, node, vrid));
        const pid = impl === 'ours' ? ours.pid! : ka.proc.pid!;
        const cap = await startCapture(lab, { filter: `ip proto 112 and src host ${lab.node(node).ip}`, name: `flood-${node}`, bufferKiB: 8192 });
        const m0 = impl === 'ours' ? agentCounts(await scrapeMetrics(lab, 'ours')) : null;
        const d0 = await rawSocketDrops(lab, node);
        await new Promise((r) => setTimeout(r, IDLE_S * 1000));
        const c0 = treeCpu(pid).tree;
        const t0 = Date.now();
        log(`fuzz flood: ${o.pps}/s for ${o.seconds} s at ${impl}`);
        const sender = await runSender(lab, 'flooder', bin, file, o.pps, o.seconds);
        const wall = (Date.now() - t0) / 1000;
        const cpu = cpuPercent(c0, treeCpu(pid).tree, wall);
        const pcap = await cap.stop(300);
        await new Promise((r) => setTimeout(r, 500));
        const d1 = await rawSocketDrops(lab, node);
        const m1 = impl === 'ours' ? agentCounts(await scrapeMetrics(lab, 'ours')) : null;
        const all = (await decodeVrrp(pcap)).filter((r) => r.vrid === vrid);
        const rows = all.filter((r) => r.time >= t0 && r.time <= t0 + sender.seconds * 1000);
        const idleRows = all.filter((r) => r.time >= t0 - IDLE_S * 1000 && r.time < t0);
        const times = rows.map((r) => r.time);
        const socketDrops = d1.map((v, i) => v - (d0[i] ?? 0));
        const overflow = socketOverflow(d0, d1, sender.sent);
        const stayedMaster =
          impl === 'ours' ? ours.exit === null && ours.state('FLOOD') === 'MASTER' && m1!.transitions === m0!.transitions : ka.exit === null && (await lab.holdersOf(kp.vips[0]!)).includes('ka');
        sides.push({
          impl,
          sender,
          rate: sender.sent / sender.seconds,
          intervals: intervalSummary(intervals(times), NOMINAL_MS),
          adverts: rows.length,
          expected: Math.floor((sender.seconds * 1000) / NOMINAL_MS),
          cpuPct: cpu,
          dropped: m1 && m0 ? delta(m1.counts, m0.counts) : null,
          idle: intervalSummary(intervals(idleRows.map((r) => r.time)), NOMINAL_MS),
          idleAdverts: idleRows.length,
          socketDrops,
          overflow,
          cpuUsPerDatagram: ((cpu / 100) * wall * 1e6) / Math.max(1, sender.sent - overflow),
          stayedMaster,
        });
        log(`fuzz flood: ${impl}: ${sender.sent} sent in ${sender.seconds} s; ${rows.length} adverts; CPU ${cpu.toFixed(1)} %`);
        await new Promise((r) => setTimeout(r, 1000));
      }
      return { pps: o.pps, seconds: o.seconds, sides };
    },
  );
}
