// The packet fuzzer's generator. Pure and seeded: (seed, templates, lab addresses) in, fuzz cases out;
// the same seed gives the same cases byte for byte.
//
// Templates are keepalived 2.2.7's own adverts (the golden vectors: steady, new-master and priority-0
// adverts of v2 multicast with PASS auth, v2 unicast, v3 multicast, v3 unicast), re-addressed into the
// lab: source = the fuzzer's node, destination = 224.0.0.18 or the target's address, one VRID and VIP
// per family (FAMILIES). Each case mutates one template in one way (MUTATIONS, picked by weight):
// VRRP bit flips, truncations and extensions, count_ip lies, wrong checksums, every header field at its
// edges (version, type, VRID, priority 0/255, count, auth type, interval 0/max), wrong passwords and
// VIPs, other sources and destinations; IP header lies (version, IHL, total length, checksum,
// protocol), TTL ≠ 255, IP options, fragments (a complete pair the kernel reassembles, or a lone one
// it never delivers), and random bytes. A case is one or two Ethernet frames (fuzz-send.c sends them).
// Checksums are recomputed after a mutation when the mutation is not about them, so the receiver's
// later checks are reached too.
import { internetChecksum } from '../../src/vrrp/checksum.js';
import { checksumSeed, type ChecksumForm } from '../../src/vrrp/packet.js';
import { ipToUint32 } from '../../src/net/ip.js';
import { mulberry32 } from '../../test/support/prng.js';

export class Rng {
  readonly next: () => number;
  constructor(seed: number) {
    this.next = mulberry32(seed);
  }
  /** Integer in [lo, hi]. */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }
  pick<T>(xs: readonly T[]): T {
    return xs[Math.floor(this.next() * xs.length)]!;
  }
  bytes(n: number): Buffer {
    const b = Buffer.alloc(n);
    for (let i = 0; i < n; i++) b[i] = this.int(0, 255);
    return b;
  }
}

/** One family of templates, and the target instance that serves it. */
export interface Family {
  key: 'v2-mcast' | 'v2-ucast' | 'v3-mcast' | 'v3-ucast';
  /** Name of the vectors' family in keepalived-2.2.7.json. */
  vector: string;
  version: 2 | 3;
  unicast: boolean;
  vrid: number;
  vip: string;
}

export const FAMILIES: readonly Family[] = [
  { key: 'v2-mcast', vector: 'v2-mcast-pass', version: 2, unicast: false, vrid: 51, vip: '198.51.100.151' },
  { key: 'v2-ucast', vector: 'v2-ucast', version: 2, unicast: true, vrid: 52, vip: '198.51.100.152' },
  { key: 'v3-mcast', vector: 'v3-mcast', version: 3, unicast: false, vrid: 53, vip: '198.51.100.153' },
  { key: 'v3-ucast', vector: 'v3-ucast', version: 3, unicast: true, vrid: 54, vip: '198.51.100.154' },
];

/** The lab addresses the cases are written for. */
export interface FuzzAddresses {
  fuzzerIp: string;
  fuzzerMac: string;
  targetIp: string;
  targetMac: string;
  /** Another address of the lab subnet nobody has (other-source mutations). */
  strangerIp: string;
  /** A third one, the source of lone fragments only (so they never join another case's fragments). */
  orphanIp: string;
}

/** A template: one keepalived advert, re-addressed (VRRP message only; IP header built per case). */
export interface Template {
  family: Family;
  name: string;
  vrrp: Buffer;
}

export interface VectorLike {
  name: string;
  vrrp_hex: string | null;
}

const MCAST = '224.0.0.18';

/**
 * The templates: every advert vector (not the GARP frames) of each family, with the family's VRID and
 * VIP, from the fuzzer to its destination, checksum recomputed (RFC form).
 */
export function templatesFrom(vectors: readonly VectorLike[], a: FuzzAddresses): Template[] {
  const out: Template[] = [];
  for (const family of FAMILIES) {
    for (const v of vectors) {
      if (!v.vrrp_hex || !v.name.startsWith(`${family.vector}.`)) continue;
      const vrrp = Buffer.from(v.vrrp_hex, 'hex');
      vrrp[1] = family.vrid;
      if (vrrp[3] !== 1) continue; // the vectors carry one VIP; anything else is not what we expect
      vrrp.writeUInt32BE(ipToUint32(family.vip), 8);
      fixVrrpChecksum(vrrp, a.fuzzerIp, family.unicast ? a.targetIp : MCAST, 'rfc');
      out.push({ family, name: v.name, vrrp });
    }
  }
  return out;
}

/** Rewrites the VRRP checksum (bytes 6-7) in `form`; leaves messages too short for one alone. */
export function fixVrrpChecksum(vrrp: Buffer, src: string, dst: string, form: ChecksumForm): void {
  if (vrrp.length < 8) return;
  const version = vrrp[0]! >> 4 === 3 ? 3 : 2;
  vrrp.writeUInt16BE(0, 6);
  const seed = checksumSeed(version, form, ipToUint32(src), ipToUint32(dst), vrrp.length);
  vrrp.writeUInt16BE(internetChecksum(vrrp, seed), 6);
}

/** The IPv4 header fields a case may set; anything not given is the normal value. */
export interface IpFields {
  src: string;
  dst: string;
  ttl: number;
  protocol: number;
  id: number;
  /** Bytes after the 20-byte header (multiple of 4 for an honest IHL). */
  options: Buffer;
  /** Flags (3 bits) and fragment offset (13 bits, units of 8 bytes). */
  fragment: number;
}

/** An IPv4 datagram with a correct header (IHL, total length, checksum) for these fields. */
export function ipDatagram(f: IpFields, payload: Buffer): Buffer {
  const hl = 20 + f.options.length;
  const d = Buffer.alloc(hl + payload.length);
  d[0] = 0x40 | (hl >> 2);
  d[1] = 0xc0;
  d.writeUInt16BE(d.length, 2);
  d.writeUInt16BE(f.id & 0xffff, 4);
  d.writeUInt16BE(f.fragment, 6);
  d[8] = f.ttl;
  d[9] = f.protocol;
  d.writeUInt32BE(ipToUint32(f.src), 12);
  d.writeUInt32BE(ipToUint32(f.dst), 16);
  f.options.copy(d, 20);
  payload.copy(d, hl);
  fixIpChecksum(d);
  return d;
}

/** Recomputes the IPv4 header checksum of a datagram in place (the header as its IHL says). */
export function fixIpChecksum(d: Buffer): void {
  const hl = (d[0]! & 0x0f) * 4;
  if (hl < 20 || hl > d.length) return;
  d.writeUInt16BE(0, 10);
  d.writeUInt16BE(internetChecksum(d, 0, 0, hl), 10);
}

/** The destination MAC for an IPv4 destination: multicast mapping, broadcast, or the target's. */
export function macFor(dst: string, targetMac: string): Buffer {
  const n = ipToUint32(dst);
  if (n === 0xffffffff) return Buffer.alloc(6, 0xff);
  if (n >>> 28 === 0xe) return Buffer.from([0x01, 0x00, 0x5e, (n >>> 16) & 0x7f, (n >>> 8) & 0xff, n & 0xff]);
  return Buffer.from(targetMac.split(':').map((h) => parseInt(h, 16)));
}

/** An Ethernet frame (IPv4 ethertype) around a datagram. */
export function frameOf(datagram: Buffer, dst: string, a: FuzzAddresses): Buffer {
  const eth = Buffer.alloc(14);
  macFor(dst, a.targetMac).copy(eth, 0);
  Buffer.from(a.fuzzerMac.split(':').map((h) => parseInt(h, 16))).copy(eth, 6);
  eth.writeUInt16BE(0x0800, 12);
  return Buffer.concat([eth, datagram]);
}

/** One fuzz case: what was done, and the frames that carry it (two for a fragment pair). */
export interface FuzzCase {
  /** The mutation's name (MUTATIONS). */
  mutation: string;
  template: string;
  /** The IPv4 datagrams, in sending order (each becomes one frame). */
  datagrams: Buffer[];
  /** Their IPv4 destinations (for the Ethernet destination). */
  dsts: string[];
}

interface Ctx {
  rng: Rng;
  t: Template;
  a: FuzzAddresses;
  ip: IpFields;
  vrrp: Buffer;
  /** Next IP id (advanced per case). */
  id: number;
}

/** One mutation: changes ctx.vrrp / ctx.ip, or returns the datagrams itself (IP-level lies). */
type Mutation = (c: Ctx) => Buffer[] | void;

const fix = (c: Ctx) => fixVrrpChecksum(c.vrrp, c.ip.src, c.ip.dst, 'rfc');
const maybeFix = (c: Ctx) => c.rng.next() < 0.8 && fix(c);

const flipBit = (b: Buffer, bit: number) => (b[bit >> 3] = b[bit >> 3]! ^ (1 << (bit & 7)));

/** Field edges: [byte offset (or a setter), values]. */
const FIELD_EDGES: readonly [string, (c: Ctx) => void][] = [
  ['version', (c) => (c.vrrp[0] = (c.rng.pick([0, 1, 2, 3, 4, 15]) << 4) | (c.vrrp[0]! & 0x0f))],
  ['type', (c) => (c.vrrp[0] = (c.vrrp[0]! & 0xf0) | c.rng.pick([0, 1, 2, 3, 15]))],
  ['vrid', (c) => (c.vrrp[1] = c.rng.pick([0, 1, 50, 51, 52, 53, 54, 55, 255, c.rng.int(0, 255)]))],
  ['priority', (c) => (c.vrrp[2] = c.rng.pick([0, 1, 100, 253, 254, 255]))],
  ['count', (c) => (c.vrrp[3] = c.rng.pick([0, 2, 3, 255, c.rng.int(0, 255)]))],
  ['auth-type', (c) => (c.vrrp[4] = c.rng.pick([0, 1, 2, 3, 255]))],
  ['interval', (c) => {
    if (c.vrrp[0]! >> 4 === 2) c.vrrp[5] = c.rng.pick([0, 1, 2, 255]);
    else c.vrrp.writeUInt16BE(c.rng.pick([0, 1, 10, 4095, 0xf000 | 10, 0xffff]), 4);
  }],
  ['rsvd-bytes', (c) => (c.vrrp[c.rng.int(4, 5)] = c.rng.int(0, 255))],
];

export const MUTATIONS: readonly (readonly [string, number, Mutation])[] = [
  ['valid', 2, (c) => {
    c.vrrp[2] = c.rng.int(1, 253);
    fix(c);
  }],
  ['bit-flip', 10, (c) => {
    for (let k = c.rng.int(1, 4); k > 0; k--) {
      const i = c.rng.int(0, c.vrrp.length * 8 - 1);
      flipBit(c.vrrp, i);
    }
  }],
  ['bit-flip-fixed-checksum', 8, (c) => {
    const i = c.rng.int(0, c.vrrp.length * 8 - 1);
    if (i >> 3 !== 6 && i >> 3 !== 7) flipBit(c.vrrp, i);
    fix(c);
  }],
  ['truncate', 6, (c) => {
    c.vrrp = c.vrrp.subarray(0, c.rng.int(0, c.vrrp.length - 1));
  }],
  ['extend', 4, (c) => {
    c.vrrp = Buffer.concat([c.vrrp, c.rng.bytes(c.rng.int(1, 16))]);
    maybeFix(c);
  }],
  ['count-lie', 6, (c) => {
    c.vrrp[3] = c.rng.pick([0, 2, 3, 4, 255, c.rng.int(0, 255)]);
    maybeFix(c);
  }],
  ['count-lie-padded', 3, (c) => {
    // count_ip says N and the message really is 8(+8)+4N long, with the extra addresses random
    const n = c.rng.pick([0, 2, 3, 16]);
    const head = c.vrrp.subarray(0, 8);
    const auth = c.vrrp[0]! >> 4 === 2 ? c.vrrp.subarray(12, 20) : Buffer.alloc(0);
    const addrs = Buffer.alloc(4 * n);
    c.vrrp.copy(addrs, 0, 8, 8 + Math.min(4, 4 * n));
    if (n > 1) c.rng.bytes(4 * (n - 1)).copy(addrs, 4);
    c.vrrp = Buffer.concat([head, addrs, auth]);
    c.vrrp[3] = n;
    fix(c);
  }],
  ['bad-checksum', 6, (c) => {
    c.vrrp.writeUInt16BE(c.vrrp.readUInt16BE(6) ^ c.rng.int(1, 0xffff), 6);
  }],
  ['checksum-form', 3, (c) => {
    fixVrrpChecksum(c.vrrp, c.ip.src, c.ip.dst, c.rng.pick(['rfc', 'mcast-pseudo', 'no-pseudo'] as const));
  }],
  ['field-edge', 14, (c) => {
    const [, set] = c.rng.pick(FIELD_EDGES);
    set(c);
    maybeFix(c);
  }],
  ['wrong-password', 3, (c) => {
    if (c.vrrp[0]! >> 4 === 2) c.rng.bytes(8).copy(c.vrrp, 12);
    fix(c);
  }],
  ['wrong-vip', 3, (c) => {
    c.vrrp.writeUInt32BE(c.rng.pick([ipToUint32('198.51.100.199'), 0, 0xffffffff, c.rng.int(0, 0xffffffff) >>> 0]), 8);
    fix(c);
  }],
  ['random-vrrp', 4, (c) => {
    c.vrrp = c.rng.bytes(c.rng.int(0, 64));
    if (c.rng.next() < 0.5 && c.vrrp.length > 0) c.vrrp[0] = (c.rng.pick([2, 3]) << 4) | 1;
    if (c.rng.next() < 0.5 && c.vrrp.length > 1) c.vrrp[1] = c.t.family.vrid;
    maybeFix(c);
  }],
  ['other-source', 3, (c) => {
    c.ip.src = c.a.strangerIp;
    fix(c);
  }],
  ['other-destination', 4, (c) => {
    c.ip.dst = c.rng.pick([MCAST, c.a.targetIp, '224.0.0.1', '255.255.255.255', '224.0.0.19', '198.51.100.77']);
    fix(c);
  }],
  ['ttl', 4, (c) => {
    c.ip.ttl = c.rng.pick([0, 1, 64, 128, 254]);
  }],
  ['ip-options', 3, (c) => {
    c.ip.options = c.rng.pick([
      Buffer.from([1, 1, 1, 0]), // NOP NOP NOP EOL
      Buffer.from([0x94, 4, 0, 0]), // router alert
      Buffer.from([7, 1, 0, 0]), // record route with an impossible length: the kernel drops it
    ]);
  }],
  ['wrong-protocol', 3, (c) => {
    c.ip.protocol = c.rng.pick([6, 17, 47, 111, 113, 253]);
  }],
  ['ip-version', 2, (c) => {
    const d = ipDatagram(c.ip, c.vrrp);
    d[0] = (c.rng.pick([0, 5, 6, 15]) << 4) | (d[0]! & 0x0f);
    fixIpChecksum(d);
    return [d];
  }],
  ['ip-ihl', 2, (c) => {
    const d = ipDatagram(c.ip, c.vrrp);
    d[0] = 0x40 | c.rng.pick([0, 1, 4, 6, 15]);
    if (c.rng.next() < 0.5) fixIpChecksum(d);
    return [d];
  }],
  ['ip-checksum', 2, (c) => {
    const d = ipDatagram(c.ip, c.vrrp);
    d.writeUInt16BE(d.readUInt16BE(10) ^ c.rng.int(1, 0xffff), 10);
    return [d];
  }],
  ['ip-total-length', 5, (c) => {
    // longer than the frame (kernel: truncated), shorter (kernel: trimmed), shorter than the header
    const d = ipDatagram(c.ip, c.vrrp);
    d.writeUInt16BE(c.rng.pick([d.length + c.rng.int(1, 100), c.rng.int(20, d.length - 1), c.rng.int(0, 19), 0xffff]), 2);
    fixIpChecksum(d);
    return [d];
  }],
  ['fragment-pair', 2, (c) => {
    if (c.vrrp.length < 9) return;
    const id = c.id;
    return [
      ipDatagram({ ...c.ip, id, fragment: 0x2000 }, c.vrrp.subarray(0, 8)),
      ipDatagram({ ...c.ip, id, fragment: 1 }, c.vrrp.subarray(8)),
    ];
  }],
  ['lone-fragment', 1, (c) => {
    // MF set (first or middle fragment), from an address used for nothing else: never completed
    const off = c.rng.pick([0, 1, 2]);
    return [ipDatagram({ ...c.ip, src: c.a.orphanIp, fragment: 0x2000 | off }, c.vrrp.subarray(0, 8))];
  }],
  ['random-ip', 2, (c) => {
    const d = c.rng.bytes(c.rng.int(0, 80));
    if (d.length > 0 && c.rng.next() < 0.5) d[0] = 0x45;
    return [d];
  }],
];

const TOTAL_WEIGHT = MUTATIONS.reduce((s, [, w]) => s + w, 0);

function pickMutation(rng: Rng): readonly [string, number, Mutation] {
  let x = rng.next() * TOTAL_WEIGHT;
  for (const m of MUTATIONS) if ((x -= m[1]) < 0) return m;
  return MUTATIONS[MUTATIONS.length - 1]!;
}

/** Case `index` of a run: deterministic in (seed, index). */
export function fuzzCase(seed: number, index: number, templates: readonly Template[], a: FuzzAddresses): FuzzCase {
  const rng = new Rng((seed ^ Math.imul(index + 1, 0x9e3779b1)) >>> 0);
  const t = rng.pick(templates);
  const ip: IpFields = { src: a.fuzzerIp, dst: t.family.unicast ? a.targetIp : MCAST, ttl: 255, protocol: 112, id: (index + 1) & 0xffff, options: Buffer.alloc(0), fragment: 0 };
  const c: Ctx = { rng, t, a, ip, vrrp: Buffer.from(t.vrrp), id: ip.id };
  const [mutation, , fn] = pickMutation(rng);
  const own = fn(c);
  const datagrams = own ?? [ipDatagram(c.ip, c.vrrp)];
  return { mutation, template: t.name, datagrams, dsts: datagrams.map(() => c.ip.dst) };
}
