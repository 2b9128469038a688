// Packet capture for the netns suites: tcpdump on the lab's bridge (br0, in the bridge namespace) and
// tshark decoding of the result. br0 is put in promiscuous mode by tcpdump, and a promiscuous Linux
// bridge passes every forwarded frame up to its own device, so unicast adverts between two nodes are
// captured as well as multicast and broadcast. Timestamps are the kernel's wall clock, comparable
// with Date.now() in the test process.
import { join } from 'node:path';
import type { Lab } from '../../src/lab/lab.js';
import { run } from '../../src/exec.js';
import { labDir, sleep, Watched, type LogEvent } from './harness.js';

export interface Capture {
  readonly path: string;
  /**
   * Waits lingerMs (packets already sent are still on their way), stops tcpdump and resolves with the
   * pcap path. Idempotent.
   */
  stop(lingerMs?: number): Promise<string>;
}

let seq = 0;

/** Starts `tcpdump -i br0 -U -w FILE FILTER` in the bridge namespace; resolves once it is listening. */
/** bufferKiB: tcpdump -B (the kernel buffer; the default drops most of a burst of 200 adverts). */
export async function startCapture(lab: Lab, opts: { filter?: string; name?: string; timeoutMs?: number; bufferKiB?: number } = {}): Promise<Capture> {
  const path = join(labDir(lab), `${opts.name ?? 'capture'}-${seq++}.pcap`);
  const filter = opts.filter ?? 'ip proto 112 or arp';
  // --immediate-mode: without it libpcap hands packets over in blocks (1 s timeout) and the last block
  // is lost on SIGINT. -Z root: Debian's tcpdump otherwise drops to user tcpdump, who cannot write
  // into the 0700 temp dir.
  const argv = ['tcpdump', '-i', 'br0', ...(opts.bufferKiB ? ['-B', String(opts.bufferKiB)] : []), '-U', '--immediate-mode', '-n', '-Z', 'root', '-w', path, filter];
  const proc = lab.spawn(lab.bridgeNs, argv);
  const w = new Watched(`tcpdump@${lab.bridgeNs}`, proc, (line, stream, at): LogEvent => ({ at, line, stream }));
  await w.waitFor((e) => /listening on/.test(e.line), opts.timeoutMs ?? 10_000, 0, 'tcpdump "listening on"');
  let stopped: Promise<string> | null = null;
  return {
    path,
    stop(lingerMs = 200) {
      stopped ??= sleep(lingerMs)
        .then(() => w.stop('SIGINT'))
        .then(() => path);
      return stopped;
    },
  };
}

/** One VRRP advert as tshark's dissector sees it. */
export interface VrrpRow {
  /** Capture time, ms since the epoch (fractional). */
  time: number;
  ethSrc: string;
  ethDst: string;
  src: string;
  dst: string;
  ttl: number;
  version: number;
  vrid: number;
  priority: number;
  /** 0 Bad, 1 Good, 2 Unverified (tshark's checksum status). */
  checksumStatus: number;
  /** Seconds (v2 Adver Int; v3 Max Adver Int / 100). */
  advertInterval: number;
  addrCount: number;
  addrs: string[];
  /** v2 only. */
  authType: number | null;
  authString: string | null;
  /** IP length minus header: the VRRP message length. */
  vrrpLength: number;
}

const VRRP_FIELDS = [
  'frame.time_epoch',
  'eth.src',
  'eth.dst',
  'ip.src',
  'ip.dst',
  'ip.ttl',
  'vrrp.version',
  'vrrp.virt_rtr_id',
  'vrrp.prio',
  'vrrp.checksum.status',
  'vrrp.adver_int',
  'vrrp.short_adver_int',
  'vrrp.addr_count',
  'vrrp.ip_addr',
  'vrrp.auth_type',
  'vrrp.auth_string',
  'ip.len',
  'ip.hdr_len',
] as const;

async function tsharkFields(pcap: string, displayFilter: string, fields: readonly string[]): Promise<string[][]> {
  const argv = ['tshark', '-r', pcap, '-Y', displayFilter, '-T', 'fields', '-E', 'separator=/t', '-E', 'aggregator=,', '-E', 'occurrence=a'];
  for (const f of fields) argv.push('-e', f);
  const out = await run(argv, { timeoutMs: 30_000 });
  return out
    .split('\n')
    .filter((l) => l.length > 0)
    .map((l) => l.split('\t'));
}

const num = (s: string | undefined): number => (s === undefined || s === '' ? NaN : Number(s));

/** Every VRRP packet in the capture, decoded by tshark, in capture order. */
export async function decodeVrrp(pcap: string): Promise<VrrpRow[]> {
  const rows = await tsharkFields(pcap, 'vrrp', VRRP_FIELDS);
  return rows.map((f) => {
    const [time, ethSrc, ethDst, src, dst, ttl, version, vrid, prio, ck, advInt, shortAdvInt, count, addrs, authType, authString, ipLen, ipHdrLen] = f;
    const v = num(version);
    return {
      time: num(time) * 1000,
      ethSrc: ethSrc ?? '',
      ethDst: ethDst ?? '',
      src: src ?? '',
      dst: dst ?? '',
      ttl: num(ttl),
      version: v,
      vrid: num(vrid),
      priority: num(prio),
      checksumStatus: num(ck),
      advertInterval: v === 2 ? num(advInt) : num(shortAdvInt) / 100,
      addrCount: num(count),
      addrs: addrs ? addrs.split(',') : [],
      authType: authType ? num(authType) : null,
      authString: authString ? authString : null,
      vrrpLength: num(ipLen) - num(ipHdrLen),
    };
  });
}

/** One TCP segment (for "when did the request leave": a connection's SYN, then its first data). */
export interface TcpRow {
  time: number;
  src: string;
  dst: string;
  dstPort: number;
  syn: boolean;
  /** Payload bytes. */
  len: number;
}

/** Every TCP segment to `dstPort` in the capture, in capture order. */
export async function decodeTcp(pcap: string, dstPort: number): Promise<TcpRow[]> {
  const rows = await tsharkFields(pcap, `tcp.dstport == ${dstPort}`, ['frame.time_epoch', 'ip.src', 'ip.dst', 'tcp.dstport', 'tcp.flags.syn', 'tcp.len']);
  return rows.map(([time, src, dst, port, syn, len]) => ({
    time: num(time) * 1000,
    src: src ?? '',
    dst: dst ?? '',
    dstPort: num(port),
    syn: syn === '1' || syn === 'True',
    len: num(len),
  }));
}

/** One ARP frame. */
export interface ArpRow {
  time: number;
  ethSrc: string;
  ethDst: string;
  /** 1 request, 2 reply. */
  opcode: number;
  senderMac: string;
  senderIp: string;
  targetMac: string;
  targetIp: string;
  /** Sender IP == target IP: a gratuitous ARP. */
  gratuitous: boolean;
}

/** Every ARP frame in the capture, in capture order. */
export async function decodeArp(pcap: string): Promise<ArpRow[]> {
  const fields = ['frame.time_epoch', 'eth.src', 'eth.dst', 'arp.opcode', 'arp.src.hw_mac', 'arp.src.proto_ipv4', 'arp.dst.hw_mac', 'arp.dst.proto_ipv4'];
  const rows = await tsharkFields(pcap, 'arp', fields);
  return rows.map(([time, ethSrc, ethDst, op, sm, si, tm, ti]) => ({
    time: num(time) * 1000,
    ethSrc: ethSrc ?? '',
    ethDst: ethDst ?? '',
    opcode: num(op),
    senderMac: sm ?? '',
    senderIp: si ?? '',
    targetMac: tm ?? '',
    targetIp: ti ?? '',
    gratuitous: !!si && si === ti,
  }));
}

/** The first advert matching the filter, at or after `after` (ms since the epoch). */
export function firstAdvert(rows: VrrpRow[], match: { src?: string; after?: number; priority?: number; minPriority?: number }): VrrpRow | undefined {
  return rows.find(
    (r) =>
      (match.src === undefined || r.src === match.src) &&
      (match.after === undefined || r.time >= match.after) &&
      (match.priority === undefined || r.priority === match.priority) &&
      (match.minPriority === undefined || r.priority >= match.minPriority),
  );
}

/** The first gratuitous ARP for `ip` sent from `mac`, at or after `after`. */
export function firstGarp(rows: ArpRow[], ip: string, mac: string, after = 0): ArpRow | undefined {
  return rows.find((r) => r.gratuitous && r.senderIp === ip && r.senderMac === mac.toLowerCase() && r.time >= after);
}
