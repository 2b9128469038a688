// The packet fuzzer's oracle: what should become of each fuzz case (mutate.ts) sent at the target.
// Pure. Two stages, as on the wire:
//   1. kernel: what Linux's IPv4 receive path does with the frame before any socket sees it
//      (ip_rcv_core: version, IHL, header checksum, total length — trimmed when shorter than the frame;
//      ip_options_compile; routing: only our address, 224.0.0.18 / 224.0.0.1 (joined) and broadcasts are
//      delivered here, IP forwarding is off; reassembly of fragments; raw sockets of protocol 112 only).
//      Only the shapes mutate.ts produces are modelled; anything else is reported as 'kernel:unmodelled'.
//   2. agent: the very receive code the agent runs (ReceiveDemux → checkAdvert) with the target's
//      instances, so each delivered datagram gets the drop reason the agent must count, or 'accepted'.
//
// No valid advert may move the target: it is MASTER of every instance at TARGET_PRIORITY with an
// address below the fuzzer's sources, so an accepted advert could only win with priority 255, or
// with 254 from a higher address. safeCase() lowers the priority of any such advert to 1..253 (and
// fixes the checksum in the form the agent accepted it under): accepted adverts are counted, never
// obeyed.
import { ipToUint32 } from '../../src/net/ip.js';
import { ReceiveDemux, type DatagramHeader, type DemuxTarget } from '../../src/vrrp/demux.js';
import { checkAdvert, compileView, type InstanceView } from '../../src/vrrp/validate.js';
import { passwordToAuthData } from '../../src/vrrp/packet.js';
import { FAMILIES, fixVrrpChecksum, Rng, type Family, type FuzzAddresses, type FuzzCase } from './mutate.js';
import { internetChecksum } from '../../src/vrrp/checksum.js';

export const TARGET_PRIORITY = 254;
export const V2_PASSWORD = 'secret12';

/** The target agent's instance for a family (same VRID, VIP, version, mode, auth, interval as the templates). */
export function instanceParams(f: Family, a: FuzzAddresses) {
  return {
    version: f.version,
    vrid: f.vrid,
    priority: TARGET_PRIORITY,
    advertInterval: f.version === 2 ? 1 : 0.1,
    vips: [`${f.vip}/24`],
    ...(f.key === 'v2-mcast' ? { auth: { type: 'pass' as const, password: V2_PASSWORD } } : {}),
    ...(f.unicast ? { unicast: { source: a.targetIp, peers: [a.fuzzerIp] } } : {}),
  };
}

export function instanceName(f: Family): string {
  return `F_${f.key.replace('-', '_')}`;
}

function viewOf(f: Family, a: FuzzAddresses): InstanceView {
  const p = instanceParams(f, a);
  return {
    version: f.version,
    vrid: f.vrid,
    advertIntervalCs: Math.round(p.advertInterval * 100),
    authType: 'auth' in p ? 1 : 0,
    authData: 'auth' in p ? passwordToAuthData(V2_PASSWORD) : Buffer.alloc(0),
    vips: p.vips,
    unicast: f.unicast ? { peers: [a.fuzzerIp], checkSource: true } : null,
    localAddresses: [a.targetIp, ...FAMILIES.map((x) => x.vip)],
  };
}

/** Where a case ends: 'kernel:<why>' or, for a datagram the agent gets, 'accepted' or its drop reason. */
export interface Fate {
  outcome: string;
  /** The instance that accepted it (outcome 'accepted'). */
  instance?: string;
  priority?: number;
  /** The datagram the agent's socket gets (after trimming / reassembly), when the kernel delivers one. */
  delivered?: Buffer;
  checksumForm?: string;
}

const u32 = (d: Buffer, at: number) => d.readUInt32BE(at);

/** Stage 1 for one datagram: the delivered datagram (trimmed), 'fragment' (kept for reassembly), or why it is dropped. */
export function kernelStep(d: Buffer, a: FuzzAddresses): Buffer | 'fragment' | string {
  if (d.length < 20) return 'kernel:truncated';
  if (d[0]! >> 4 !== 4) return 'kernel:ip-header';
  const hl = (d[0]! & 0x0f) * 4;
  if (hl < 20 || d.length < hl) return 'kernel:ip-header';
  if (internetChecksum(d, 0, 0, hl) !== 0) return 'kernel:ip-checksum';
  const tot = d.readUInt16BE(2);
  if (tot > d.length) return 'kernel:ip-truncated';
  if (tot < hl) return 'kernel:ip-header';
  const dg = d.subarray(0, tot);
  if (hl > 20) {
    for (let i = 20; i < hl; ) {
      const t = dg[i]!;
      if (t === 0) break;
      if (t === 1) {
        i++;
        continue;
      }
      const len = dg[i + 1] ?? 0;
      if (len < 2 || i + len > hl) return 'kernel:ip-options';
      if (t !== 0x94) return 'kernel:unmodelled';
      i += len;
    }
  }
  const src = u32(dg, 12) >>> 0;
  const dst = u32(dg, 16) >>> 0;
  if (src >>> 24 === 0 || src >>> 24 === 127 || src >>> 28 >= 0xe) return 'kernel:martian-source';
  const local = dst === ipToUint32(a.targetIp) || dst === ipToUint32('224.0.0.18') || dst === ipToUint32('224.0.0.1') || dst === 0xffffffff || dst === (ipToUint32(a.targetIp) | 0xff) >>> 0;
  if (!local) return 'kernel:not-for-us';
  if (dst !== 0xffffffff && ((ipToUint32(a.targetIp) ^ src) >>> 8 !== 0)) return 'kernel:unmodelled'; // off-subnet source: rp_filter
  const frag = dg.readUInt16BE(6);
  if (frag & 0x3fff) return 'fragment';
  if (dg[9] !== 112) return 'kernel:other-protocol';
  return Buffer.from(dg);
}

/** Reassembles a two-fragment case the way the kernel would, or null when the pair is not one. */
function reassemble(f1: Buffer, f2: Buffer): Buffer | null {
  const hl1 = (f1[0]! & 0x0f) * 4;
  const hl2 = (f2[0]! & 0x0f) * 4;
  const o1 = f1.readUInt16BE(6);
  const o2 = f2.readUInt16BE(6);
  const key = (d: Buffer) => `${d.readUInt16BE(4)}|${u32(d, 12)}|${u32(d, 16)}|${d[9]}`;
  if (key(f1) !== key(f2) || o1 !== 0x2000 || (o2 & 0x2000) !== 0 || (o2 & 0x1fff) * 8 !== f1.length - hl1) return null;
  const out = Buffer.concat([f1.subarray(0, hl1), f1.subarray(hl1), f2.subarray(hl2)]);
  out.writeUInt16BE(out.length, 2);
  out.writeUInt16BE(0, 6);
  if (out[9] !== 112) return null;
  return out;
}

class Probe implements DemuxTarget {
  last: ReturnType<typeof checkAdvert> | null = null;
  constructor(
    readonly name: string,
    private readonly view: ReturnType<typeof compileView>,
  ) {}
  receive(h: Readonly<DatagramHeader>, d: Buffer): void {
    this.last = checkAdvert(this.view, h as DatagramHeader, d);
  }
}

/** The oracle for one lab: the target's instances as the agent compiles them. */
export class FuzzModel {
  private lastDrop = '';
  private readonly demux = new ReceiveDemux({ onDrop: (reason) => (this.lastDrop = reason) });
  private readonly probes: Probe[] = [];

  constructor(readonly a: FuzzAddresses) {
    for (const f of FAMILIES) {
      const p = new Probe(instanceName(f), compileView(viewOf(f, a)));
      this.probes.push(p);
      this.demux.add({ version: f.version, vrid: f.vrid, unicastPeers: f.unicast ? [a.fuzzerIp] : null }, p);
    }
  }

  /** Where a case ends (see Fate). */
  fate(c: FuzzCase): Fate {
    const steps = c.datagrams.map((d) => kernelStep(d, this.a));
    let delivered: Buffer | null = null;
    if (steps.length === 1) {
      const s = steps[0]!;
      if (s === 'fragment') return { outcome: 'kernel:fragment-incomplete' };
      if (typeof s === 'string') return { outcome: s };
      delivered = s;
    } else {
      if (steps.some((s) => s !== 'fragment')) return { outcome: 'kernel:unmodelled' };
      delivered = reassemble(c.datagrams[0]!, c.datagrams[1]!);
      if (!delivered) return { outcome: 'kernel:unmodelled' };
    }
    for (const p of this.probes) p.last = null;
    const target = this.demux.dispatch(delivered) as Probe | null;
    if (!target) return { outcome: this.lastDrop, delivered };
    const r = target.last!;
    if (!r.ok) return { outcome: r.reason, delivered };
    return { outcome: 'accepted', instance: target.name, priority: r.priority, delivered, checksumForm: r.checksumForm };
  }

  /**
   * The case itself, or (when the agent would accept it as an advert that beats the target) the same
   * case with the priority lowered to 1..253 and the checksum fixed, so it is counted, never obeyed.
   */
  safeCase(c: FuzzCase, rng: Rng): { c: FuzzCase; fate: Fate; clamped: boolean } {
    const fate = this.fate(c);
    if (fate.outcome !== 'accepted' || !this.beats(fate)) return { c, fate, clamped: false };
    const d = fate.delivered!;
    const hl = (d[0]! & 0x0f) * 4;
    const vrrp = Buffer.from(d.subarray(hl));
    vrrp[2] = rng.int(1, TARGET_PRIORITY - 1);
    const src = d.subarray(12, 16).join('.');
    const dst = d.subarray(16, 20).join('.');
    fixVrrpChecksum(vrrp, src, dst, fate.checksumForm as 'rfc');
    const first = Buffer.from(c.datagrams[0]!);
    vrrp.copy(first, (first[0]! & 0x0f) * 4, 0, 8);
    const out: FuzzCase = { ...c, mutation: c.mutation, datagrams: [first, ...c.datagrams.slice(1)] };
    const again = this.fate(out);
    if (again.outcome === 'accepted' && this.beats(again)) throw new Error(`safeCase: ${c.mutation} still beats the target`);
    return { c: out, fate: again, clamped: true };
  }

  private beats(f: Fate): boolean {
    const src = f.delivered!.readUInt32BE(12) >>> 0;
    return f.priority! > TARGET_PRIORITY || (f.priority === TARGET_PRIORITY && src > ipToUint32(this.a.targetIp));
  }
}
