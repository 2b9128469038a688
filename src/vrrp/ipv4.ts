// IPv4 header codec for the raw VRRP socket: parse what the kernel delivers (header + payload) and
// build the 20-byte header we send with IP_HDRINCL, laid out as keepalived does (TOS 0xc0, TTL 255,
// DF off, incrementing id, header checksum filled). Pure, never throws on received bytes.
//
// Two parsers: parseIpv4 (a full header with dotted addresses, for tools and tests) and
// readDatagramHeader (the receive hot path: numbers only, into a caller-owned object, no allocation).
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

export type Ipv4HeaderProblem = 'truncated' | 'not-ipv4' | 'bad-header-length';

/** The first structural problem of an IPv4 header, or null. keepalived's order: version, size, IHL. */
function ipv4HeaderProblem(b: Uint8Array): Ipv4HeaderProblem | null {
  if (b.length < 1) return 'truncated';
  if (b[0]! >> 4 !== 4) return 'not-ipv4';
  if (b.length < 20) return 'truncated';
  const ihl = b[0]! & 0x0f;
  if (ihl < 5 || ((b[2]! << 8) | b[3]!) < ihl * 4) return 'bad-header-length';
  if (b.length < ihl * 4) return 'truncated';
  return null;
}

/** Reads a big-endian uint32 from a byte array (no Buffer needed). */
export function uint32At(b: Uint8Array, at: number): number {
  return ((b[at]! << 24) | (b[at + 1]! << 16) | (b[at + 2]! << 8) | b[at + 3]!) >>> 0;
}

/**
 * What the receive path needs of one VRRP datagram, as numbers. Filled in place by
 * readDatagramHeader; a holder of one of these must not keep it past the call it was given in
 * (the demultiplexer re-uses one object for every datagram).
 */
export interface DatagramHeader {
  src: number; // uint32
  dst: number; // uint32
  ttl: number;
  protocol: number;
  totalLength: number; // tot_len (equals the bytes received once the header passed)
  payloadOffset: number; // ihl * 4: where the VRRP message starts
  payloadLength: number; // bytes of VRRP message (tot_len - ihl * 4)
  vrrpVersion: number; // high nibble of the first VRRP byte; -1 when the payload is empty
  vrid: number; // second VRRP byte; -1 when the payload is shorter than 2 bytes
}

export function emptyDatagramHeader(): DatagramHeader {
  return { src: 0, dst: 0, ttl: 0, protocol: 0, totalLength: 0, payloadOffset: 0, payloadLength: 0, vrrpVersion: -1, vrid: -1 };
}

/** Why a datagram cannot be VRRP at all, whatever instance it is for (keepalived's first checks). */
export type DatagramProblem = Ipv4HeaderProblem | 'ip-length-mismatch' | 'wrong-protocol';

/**
 * Reads the IPv4 header of a received datagram into `out` and applies the checks that depend on no
 * instance: a whole IPv4 header, tot_len equal to the bytes received, protocol 112. Returns the first
 * problem, or null when `out` is filled. Never throws, never allocates.
 */
export function readDatagramHeader(d: Uint8Array, out: DatagramHeader): DatagramProblem | null {
  const problem = ipv4HeaderProblem(d);
  if (problem !== null) return problem;
  const totalLength = (d[2]! << 8) | d[3]!;
  if (totalLength !== d.length) return 'ip-length-mismatch';
  if (d[9] !== IPPROTO_VRRP) return 'wrong-protocol';
  const payloadOffset = (d[0]! & 0x0f) * 4;
  const payloadLength = totalLength - payloadOffset;
  out.src = uint32At(d, 12);
  out.dst = uint32At(d, 16);
  out.ttl = d[8]!;
  out.protocol = IPPROTO_VRRP;
  out.totalLength = totalLength;
  out.payloadOffset = payloadOffset;
  out.payloadLength = payloadLength;
  out.vrrpVersion = payloadLength >= 1 ? d[payloadOffset]! >> 4 : -1;
  out.vrid = payloadLength >= 2 ? d[payloadOffset + 1]! : -1;
  return null;
}

/** Parses an IPv4 datagram. `payload` runs from the end of the header to tot_len, or to the end of
 *  `buf` if that comes first (the caller compares `totalLength` with what it received). */
export function parseIpv4(buf: Uint8Array): Ipv4ParseResult {
  const b = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  const problem = ipv4HeaderProblem(b);
  if (problem !== null) return { ok: false, reason: problem };
  const ihl = b[0]! & 0x0f;
  const totalLength = b.readUInt16BE(2);
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
    src: uint32ToIp(uint32At(b, 12)),
    dst: uint32ToIp(uint32At(b, 16)),
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
