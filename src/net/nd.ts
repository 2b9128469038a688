// Unsolicited Neighbour Advertisements for IPv6 VIPs (RFC 4861 §7.2.6), byte for byte as keepalived
// 2.2.x sends them (vrrp_ndisc.c; spec §5.2), and a small parser for tests and captures. Pure: no I/O
// (routerFlagFor reads one sysctl file).
//
//   Ethernet: dst 33:33:00:00:00:01 | src <interface MAC> | type 0x86dd
//   IPv6:     version 6, traffic class 0, flow label 0 | payload length 32 | next header 58 | hop limit 255
//             src = the VIP | dst = ff02::1 (all nodes)
//   ICMPv6:   type 136 | code 0 | checksum (IPv6 pseudo-header) | flags R(outer, when the interface
//             forwards) S(olicited)=0 O(verride)=1 + 29 reserved bits | target = the VIP
//             option 2 (target link-layer address), length 1 (8 bytes): <interface MAC>
//
// 86 bytes on the wire.
import { readFileSync } from 'node:fs';
import { bytesToMac, macToBytes } from './arp.js';
import { internetChecksum } from '../vrrp/checksum.js';
import { ipv6Bytes, ipv6PseudoHeaderSum, ipv6Text } from '../vrrp/ipv6.js';

export const ETH_P_IPV6 = 0x86dd;
export const NA_FRAME_LEN = 86;
export const IPPROTO_ICMPV6 = 58;
export const ND_NEIGHBOR_ADVERT = 136;
export const NA_FLAG_ROUTER = 0x80;
export const NA_FLAG_SOLICITED = 0x40;
export const NA_FLAG_OVERRIDE = 0x20;
const ALL_NODES = ipv6Bytes('ff02::1');
const ALL_NODES_MAC = '33:33:00:00:00:01';
const ETH = 14;
const IP6 = 40;

/** keepalived's unsolicited NA for `vip`, sent from the interface whose MAC is `mac`. */
export function buildUnsolicitedNa(mac: string, vip: string, router = false): Buffer {
  const src = macToBytes(mac);
  const target = ipv6Bytes(vip);
  const f = Buffer.alloc(NA_FRAME_LEN);
  macToBytes(ALL_NODES_MAC).copy(f, 0);
  src.copy(f, 6);
  f.writeUInt16BE(ETH_P_IPV6, 12);
  f.writeUInt32BE(0x60000000, ETH); // version 6, traffic class 0, flow label 0
  f.writeUInt16BE(NA_FRAME_LEN - ETH - IP6, ETH + 4); // payload length 32
  f[ETH + 6] = IPPROTO_ICMPV6;
  f[ETH + 7] = 255; // hop limit (RFC 4861: a receiver drops anything else)
  target.copy(f, ETH + 8); // source: the VIP itself
  ALL_NODES.copy(f, ETH + 24);
  const icmp = ETH + IP6;
  f[icmp] = ND_NEIGHBOR_ADVERT;
  f[icmp + 1] = 0;
  f[icmp + 4] = NA_FLAG_OVERRIDE | (router ? NA_FLAG_ROUTER : 0);
  target.copy(f, icmp + 8);
  f[icmp + 24] = 2; // option: target link-layer address
  f[icmp + 25] = 1; // length in units of 8 bytes
  src.copy(f, icmp + 26);
  const len = NA_FRAME_LEN - icmp;
  f.writeUInt16BE(internetChecksum(f, ipv6PseudoHeaderSum(target, ALL_NODES, len, IPPROTO_ICMPV6), icmp, NA_FRAME_LEN), icmp + 2);
  return f;
}

/**
 * keepalived sets the Router flag when IPv6 forwarding is on for the interface
 * (/proc/sys/net/ipv6/conf/IF/forwarding). False when that cannot be read.
 */
export function routerFlagFor(ifname: string): boolean {
  try {
    return readFileSync(`/proc/sys/net/ipv6/conf/${ifname}/forwarding`, 'utf8').trim() === '1';
  } catch {
    return false;
  }
}

export interface NaFrame {
  dst: string; // Ethernet
  src: string;
  ipSrc: string;
  ipDst: string;
  hopLimit: number;
  flags: { router: boolean; solicited: boolean; override: boolean };
  target: string;
  /** The target link-layer address option's MAC, or null without one. */
  targetMac: string | null;
  /** The ICMPv6 checksum verifies. */
  checksumOk: boolean;
}

/** Decodes an Ethernet/IPv6 neighbour advertisement (no extension headers); null for anything else. */
export function parseNaFrame(buf: Uint8Array): NaFrame | null {
  if (buf.length < ETH + IP6 + 24) return null;
  const b = Buffer.from(buf.buffer, buf.byteOffset, buf.length);
  if (b.readUInt16BE(12) !== ETH_P_IPV6 || b[ETH]! >> 4 !== 6 || b[ETH + 6] !== IPPROTO_ICMPV6) return null;
  const icmp = ETH + IP6;
  if (b[icmp] !== ND_NEIGHBOR_ADVERT) return null;
  const end = Math.min(b.length, icmp + b.readUInt16BE(ETH + 4));
  let targetMac: string | null = null;
  for (let at = icmp + 24; at + 8 <= end && b[at + 1]! > 0; at += b[at + 1]! * 8) if (b[at] === 2) targetMac = bytesToMac(b.subarray(at + 2, at + 8));
  const src = b.subarray(ETH + 8, ETH + 24);
  const dst = b.subarray(ETH + 24, ETH + 40);
  const flags = b[icmp + 4]!;
  return {
    dst: bytesToMac(b.subarray(0, 6)),
    src: bytesToMac(b.subarray(6, 12)),
    ipSrc: ipv6Text(src),
    ipDst: ipv6Text(dst),
    hopLimit: b[ETH + 7]!,
    flags: { router: (flags & NA_FLAG_ROUTER) !== 0, solicited: (flags & NA_FLAG_SOLICITED) !== 0, override: (flags & NA_FLAG_OVERRIDE) !== 0 },
    target: ipv6Text(b, icmp + 8),
    targetMac,
    checksumOk: internetChecksum(b, ipv6PseudoHeaderSum(src, dst, end - icmp, IPPROTO_ICMPV6), icmp, end) === 0,
  };
}
