// Receive rules for VRRPv3 over IPv6 (RFC 5798 §7.1; keepalived 2.2.x vrrp_check_packet, spec §4.6)
// for one configured instance, and the per-interface demultiplexer that picks that instance. Pure: the
// socket (ipv6-socket.ts) hands over the VRRP message with the facts the kernel gave through recvmsg
// ancillary data — the source (msg_name), the destination (IPV6_PKTINFO) and the hop limit
// (IPV6_HOPLIMIT) — and this returns the accepted advert's facts or the one reason it was dropped.
//
// Order, as for IPv4 (validate.ts): not our own → hop limit 255 (multicast instances; also when the
// kernel gave none) → VRID → version → type / exact length 8 + 16N / checksum with the IPv6
// pseudo-header / interval (ipv6.ts) → destination kind matches the mode (ff02::12 vs unicast) →
// VIP count and set → unicast source is a peer. Like keepalived, a unicast instance does not check
// the hop limit (adverts may cross routers; we still send 255).
//
// Addresses are compared as 32-character hex keys of their 16 bytes (one short string per check: the
// IPv6 path is not the IPv4 hot path, which stays allocation-free in validate.ts).
import { dropFor } from './packet.js';
import type { AcceptedAdvert, AdvertCheck, DropReason } from './validate.js';
import { ipv6Bytes, ipv6Text, isMulticast6, verifyAdvert6, VRRP6_HOP_LIMIT } from './ipv6.js';
import { VRRP_HEADER_LEN } from './packet.js';

/** One received IPv6 VRRP datagram as the socket reports it. Views: valid only during the call. */
export interface Rx6 {
  /** The VRRP message (the IPv6 payload). */
  data: Buffer;
  src: Buffer; // 16 bytes
  dst: Buffer; // 16 bytes
  /** IPV6_HOPLIMIT; -1 when the kernel gave none. */
  hopLimit: number;
}

/** 16 address bytes → the key addresses are compared by. */
export function key6(b: Uint8Array, at = 0): string {
  return Buffer.from(b.buffer, b.byteOffset + at, 16).toString('hex');
}

/** Address text (a "/prefix" ignored) → its key. Throws a RangeError on a non-IPv6 address. */
export function key6Of(text: string): string {
  return ipv6Bytes(text).toString('hex');
}

export interface Ipv6View {
  vrid: number;
  vips: readonly string[]; // IPv6, "/prefix" allowed
  unicast: null | { peers: readonly string[]; checkSource: boolean };
}

export interface CompiledView6 {
  readonly vrid: number;
  readonly vips: readonly string[]; // keys, config order
  readonly vipText: readonly string[];
  readonly unicast: null | { readonly peers: ReadonlySet<string>; readonly checkSource: boolean };
  /** This node's own addresses (keys): a live set the caller may update in place. */
  readonly localAddresses: ReadonlySet<string>;
}

export function compileView6(v: Ipv6View, localAddresses: ReadonlySet<string> = new Set()): CompiledView6 {
  return {
    vrid: v.vrid,
    vips: v.vips.map(key6Of),
    vipText: [...v.vips],
    unicast: v.unicast && { peers: new Set(v.unicast.peers.map(key6Of)), checkSource: v.unicast.checkSource },
    localAddresses,
  };
}

function sameVipSet(ours: readonly string[], d: Buffer, n: number): boolean {
  if (ours.length !== n) return false;
  const theirs = new Set<string>();
  for (let i = 0; i < n; i++) theirs.add(key6(d, VRRP_HEADER_LEN + 16 * i));
  return ours.every((k) => theirs.has(k));
}

/** The instance's receive rules (see the header) for one datagram. Never throws. */
export function checkAdvert6(view: CompiledView6, rx: Rx6): AdvertCheck {
  const d = rx.data;
  const srcKey = key6(rx.src);
  if (view.localAddresses.has(srcKey)) return dropFor('own-packet', `from our own address ${ipv6Text(rx.src)}`);
  if (view.unicast === null && rx.hopLimit !== VRRP6_HOP_LIMIT)
    return dropFor('bad-ttl', rx.hopLimit < 0 ? 'no hop limit reported by the kernel' : `hop limit ${rx.hopLimit}, expected ${VRRP6_HOP_LIMIT}`);
  if (d.length >= 2 && d[1] !== view.vrid) return dropFor('unknown-vrid', `VRID ${d[1]}, ours ${view.vrid}`);
  const bad = verifyAdvert6(d, d.length, rx.src, rx.dst);
  if (bad) return bad;
  if (isMulticast6(rx.dst) !== (view.unicast === null))
    return dropFor('dst-mode-mismatch', `${view.unicast ? 'unicast' : 'multicast'} instance got an advert for ${ipv6Text(rx.dst)}`);
  const n = d[3]!;
  if (!sameVipSet(view.vips, d, n)) {
    const theirs = Array.from({ length: n }, (_, i) => ipv6Text(d, VRRP_HEADER_LEN + 16 * i));
    return dropFor('address-mismatch', `advert carries [${theirs.join(', ')}], ours [${view.vipText.join(', ')}]`);
  }
  if (view.unicast?.checkSource && !view.unicast.peers.has(srcKey)) return dropFor('unknown-unicast-source', `${ipv6Text(rx.src)} is not a unicast peer`);
  const accepted: AcceptedAdvert = { ok: true, priority: d[2]!, advertIntervalCs: ((d[4]! << 8) | d[5]!) & 0x0fff, checksumForm: 'rfc', src: ipv6Text(rx.src) };
  return accepted;
}

// --- demultiplexer -----------------------------------------------------------------------------

export interface Demux6Target {
  receive(rx: Rx6): void;
}

/** The reasons the demultiplexer itself counts (datagrams no instance here serves). */
export type Demux6DropReason = Extract<DropReason, 'bad-length' | 'unknown-vrid' | 'unknown-unicast-source'>;

/**
 * One interface's IPv6 instances by VRID, with the IPv4 demux's rule (demux.ts): one instance per
 * VRID, except unicast instances with disjoint peer lists, picked by source.
 */
export class Ipv6Demux {
  readonly dropped: Record<string, number> = {};
  delivered = 0;
  private readonly byVrid = new Map<number, { peers: ReadonlySet<string> | null; target: Demux6Target }[]>();

  /** Throws an Error when a datagram could belong to this target and one already here. */
  add(vrid: number, unicastPeers: readonly string[] | null, target: Demux6Target): void {
    const peers = unicastPeers === null ? null : new Set(unicastPeers.map(key6Of));
    const group = this.byVrid.get(vrid) ?? [];
    for (const other of group) {
      if (peers === null || other.peers === null || [...peers].some((p) => other.peers!.has(p)))
        throw new Error(`VRID ${vrid} is already served here (IPv6)${peers && other.peers ? ' with an overlapping peer list' : ''}`);
    }
    group.push({ peers, target });
    this.byVrid.set(vrid, group);
  }

  remove(target: Demux6Target): boolean {
    for (const [vrid, group] of this.byVrid) {
      const i = group.findIndex((e) => e.target === target);
      if (i < 0) continue;
      group.splice(i, 1);
      if (group.length === 0) this.byVrid.delete(vrid);
      return true;
    }
    return false;
  }

  get size(): number {
    let n = 0;
    for (const g of this.byVrid.values()) n += g.length;
    return n;
  }

  /** Delivers one datagram to at most one target; returns it, or null when counted here. */
  dispatch(rx: Rx6): Demux6Target | null {
    if (rx.data.length < 2) return this.drop('bad-length');
    const group = this.byVrid.get(rx.data[1]!);
    if (!group) return this.drop('unknown-vrid');
    let target: Demux6Target | null = group.length === 1 ? group[0]!.target : null;
    if (!target) {
      const src = key6(rx.src);
      target = group.find((e) => e.peers?.has(src))?.target ?? null;
    }
    if (!target) return this.drop('unknown-unicast-source');
    this.delivered++;
    target.receive(rx);
    return target;
  }

  private drop(reason: Demux6DropReason): null {
    this.dropped[reason] = (this.dropped[reason] ?? 0) + 1;
    return null;
  }
}
