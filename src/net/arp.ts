// Gratuitous ARP frames, byte for byte as keepalived 2.2.x sends them (vrrp_arp.c
// send_gratuitous_arp_immediate), and a small parser for tests and captures. Pure: no I/O.
//
//   Ethernet: dst ff:ff:ff:ff:ff:ff | src <interface MAC> | type 0x0806
//   ARP:      htype 1 | ptype 0x0800 | hlen 6 | plen 4 | op 1 (request)
//             sha <interface MAC> | spa <VIP> | tha ff:ff:ff:ff:ff:ff | tpa <VIP>
//
// 42 bytes; the NIC pads to 60 on the wire. Note tha is the broadcast address, not zeros.
import { ipToUint32, uint32ToIp } from './ip.js';

export const ETH_P_ARP = 0x0806;
export const ARP_FRAME_LEN = 42;
export const ARPOP_REQUEST = 1;
export const ARPOP_REPLY = 2;
const BROADCAST_MAC = 'ff:ff:ff:ff:ff:ff';

/** "02:00:c6:33:64:01" → 6 bytes. Throws a RangeError on anything else. */
export function macToBytes(mac: string): Buffer {
  if (!/^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/i.test(mac)) throw new RangeError(`not a MAC address: ${JSON.stringify(mac)}`);
  return Buffer.from(mac.replace(/:/g, ''), 'hex');
}

/** 6 bytes → "02:00:c6:33:64:01" (lower case). */
export function bytesToMac(b: Uint8Array): string {
  return Array.from(b.subarray(0, 6), (x) => x.toString(16).padStart(2, '0')).join(':');
}

/** Dotted quad → 4 bytes (network order); RangeError on anything else. */
export function ipv4ToBytes(ip: string): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(ipToUint32(ip));
  return b;
}

function bytesToIpv4(b: Uint8Array): string {
  return uint32ToIp(Buffer.from(b.subarray(0, 4)).readUInt32BE(0));
}

/** keepalived's gratuitous ARP for `ip`, sent from the interface whose MAC is `mac`. */
export function buildGratuitousArp(mac: string, ip: string): Buffer {
  const sha = macToBytes(mac);
  const addr = ipv4ToBytes(ip);
  const bcast = macToBytes(BROADCAST_MAC);
  const f = Buffer.alloc(ARP_FRAME_LEN);
  bcast.copy(f, 0); // Ethernet destination
  sha.copy(f, 6); // Ethernet source
  f.writeUInt16BE(ETH_P_ARP, 12);
  f.writeUInt16BE(1, 14); // htype: Ethernet
  f.writeUInt16BE(0x0800, 16); // ptype: IPv4
  f.writeUInt8(6, 18); // hlen
  f.writeUInt8(4, 19); // plen
  f.writeUInt16BE(ARPOP_REQUEST, 20);
  sha.copy(f, 22);
  addr.copy(f, 28); // spa
  bcast.copy(f, 32); // tha: broadcast, as keepalived (ifp->hw_addr_bcast)
  addr.copy(f, 38); // tpa
  return f;
}

export interface ArpFrame {
  dst: string;
  src: string;
  htype: number;
  ptype: number;
  hlen: number;
  plen: number;
  op: number;
  sha: string;
  spa: string;
  tha: string;
  tpa: string;
}

/**
 * Decodes an Ethernet/IPv4 ARP frame (trailing padding or FCS is ignored). Returns null for anything
 * that is not one: too short, another ethertype, or not Ethernet/IPv4 address sizes.
 */
export function parseArpFrame(buf: Uint8Array): ArpFrame | null {
  if (buf.length < ARP_FRAME_LEN) return null;
  const b = Buffer.from(buf.buffer, buf.byteOffset, buf.length);
  if (b.readUInt16BE(12) !== ETH_P_ARP) return null;
  const frame: ArpFrame = {
    dst: bytesToMac(b.subarray(0, 6)),
    src: bytesToMac(b.subarray(6, 12)),
    htype: b.readUInt16BE(14),
    ptype: b.readUInt16BE(16),
    hlen: b.readUInt8(18),
    plen: b.readUInt8(19),
    op: b.readUInt16BE(20),
    sha: bytesToMac(b.subarray(22, 28)),
    spa: bytesToIpv4(b.subarray(28, 32)),
    tha: bytesToMac(b.subarray(32, 38)),
    tpa: bytesToIpv4(b.subarray(38, 42)),
  };
  if (frame.htype !== 1 || frame.ptype !== 0x0800 || frame.hlen !== 6 || frame.plen !== 4) return null;
  return frame;
}

/** A gratuitous ARP announces its own address: sender and target protocol addresses are equal. */
export function isGratuitousArp(f: ArpFrame): boolean {
  return f.spa === f.tpa && f.spa !== '0.0.0.0';
}
