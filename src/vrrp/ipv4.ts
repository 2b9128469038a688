// IPv4 header codec for the raw VRRP socket: parse what the kernel delivers (header + payload) and
// build the 20-byte header we send with IP_HDRINCL, laid out as keepalived does (TOS 0xc0, TTL 255,
// DF off, incrementing id, header checksum filled). Pure, never throws on received bytes.
import { internetChecksum } from './checksum.js';
import { ipToUint32, uint32ToIp } from '../net/ip.js';

export const IPPROTO_VRRP = 112;

export interface Ipv4Header {
  ihl: number; // header length in 32-bit words (5 without options)
  tos: number;
  totalLength: number; // the header's tot_len field, not the bytes received
  id: number;
  flags: number; // the 3 flag bits (bit 1 = DF, bit 0 = MF)
  df: boolean;
  fragmentOffset: number; // in 8-byte units
  ttl: number;
  protocol: number;
  checksum: number;
  src: string;
  dst: string;
}

export type Ipv4ParseResult =
  | { ok: true; header: Ipv4Header; payload: Buffer }
  | { ok: false; reason: 'truncated' | 'not-ipv4' | 'bad-header-length' };

/** Parses an IPv4 datagram. `payload` runs from the end of the header to tot_len, or to the end of
 *  `buf` if that comes first (the caller compares `totalLength` with what it received). */
export function parseIpv4(buf: Uint8Array): Ipv4ParseResult {
  const b = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  if (b.length < 1) return { ok: false, reason: 'truncated' };
  if (b[0]! >> 4 !== 4) return { ok: false, reason: 'not-ipv4' };
  if (b.length < 20) return { ok: false, reason: 'truncated' };
  const ihl = b[0]! & 0x0f;
  const totalLength = b.readUInt16BE(2);
  if (ihl < 5 || totalLength < ihl * 4) return { ok: false, reason: 'bad-header-length' };
  if (b.length < ihl * 4) return { ok: false, reason: 'truncated' };
  const flagsAndOffset = b.readUInt16BE(6);
  const header: Ipv4Header = {
    ihl,
    tos: b[1]!,
    totalLength,
    id: b.readUInt16BE(4),
    flags: flagsAndOffset >> 13,
    df: (flagsAndOffset & 0x4000) !== 0,
    fragmentOffset: flagsAndOffset & 0x1fff,
    ttl: b[8]!,
    protocol: b[9]!,
    checksum: b.readUInt16BE(10),
    src: uint32ToIp(b.readUInt32BE(12)),
    dst: uint32ToIp(b.readUInt32BE(16)),
  };
  return { ok: true, header, payload: b.subarray(ihl * 4, Math.min(totalLength, b.length)) };
}

export interface Ipv4HeaderFields {
  src: string;
  dst: string;
  id: number; // 0..65535; keepalived counts up from 1 per socket
  payloadLength: number;
  ttl?: number; // default 255
  tos?: number; // default 0xc0 (internetwork control)
  protocol?: number; // default 112 (VRRP)
}

/** A 20-byte IPv4 header, no options, DF off, header checksum filled. Throws on out-of-range fields. */
export function buildIpv4Header(f: Ipv4HeaderFields): Buffer {
  const { ttl = 255, tos = 0xc0, protocol = IPPROTO_VRRP } = f;
  const totalLength = 20 + f.payloadLength;
  if (!Number.isInteger(f.payloadLength) || f.payloadLength < 0 || totalLength > 0xffff)
    throw new RangeError(`bad payload length ${f.payloadLength}`);
  for (const [name, v] of [['ttl', ttl], ['tos', tos], ['protocol', protocol]] as const)
    if (!Number.isInteger(v) || v < 0 || v > 255) throw new RangeError(`bad ${name} ${v}`);
  const h = Buffer.alloc(20);
  h[0] = 0x45;
  h[1] = tos;
  h.writeUInt16BE(totalLength, 2);
  h.writeUInt16BE(f.id, 4);
  h.writeUInt16BE(0, 6); // flags (DF off) and fragment offset
  h[8] = ttl;
  h[9] = protocol;
  h.writeUInt32BE(ipToUint32(f.src), 12);
  h.writeUInt32BE(ipToUint32(f.dst), 16);
  h.writeUInt16BE(internetChecksum(h), 10);
  return h;
}
