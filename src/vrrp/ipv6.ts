// Pure VRRPv3-over-IPv6 codec (RFC 5798 §5.1, §5.2.8), byte-exact with keepalived 2.2.x: the VRRP
// message only (the IPv6 socket, native/vrrp6_socket.c, receives and sends payloads; the kernel adds
// the IPv6 header), and IPv6 address bytes. No socket, clock or logging.
//
//   0x31 | vrid | prio | N | rsvd(4 bits) + max adver int (cs, 12 bits) | checksum | N × 16-byte IPv6
//
// The checksum covers the IPv6 pseudo-header of RFC 8200 §8.1 (src 16 | dst 16 | upper-layer length
// 32 bits | 3 zero bytes | next header 112) and the message with the checksum field zeroed. `dst` is
// the real destination: ff02::12, or each unicast peer (so each peer gets its own checksum).
//
// decodeAdvert6 / verifyAdvert6 never throw; encodeAdvert6 throws a RangeError on an advert it cannot
// put on the wire.
import { isIPv6 } from 'node:net';
import { foldSum, internetChecksum, onesComplementSum } from './checksum.js';
import { dropFor, VRRP_HEADER_LEN, type DecodeError } from './packet.js';
import { IPPROTO_VRRP } from './ipv4.js';
import { addressBytes, addressText } from '../net/netlink/message.js';

/** The VRRP IPv6 multicast group (RFC 5798 §5.1.2.2); link-layer 33:33:00:00:00:12. */
export const VRRP6_MCAST_GROUP = 'ff02::12';
/** Hop limit on send, and the only one a multicast instance accepts (RFC 5798 §5.1.2.3, §7.1). */
export const VRRP6_HOP_LIMIT = 255;
const TYPE_ADVERTISEMENT = 1;

/** Bytes of a VRRPv3 message over IPv6 carrying `n` addresses: 8 + 16N. */
export function advertLength6(n: number): number {
  return VRRP_HEADER_LEN + 16 * n;
}

/**
 * IPv6 text (RFC 4291 §2.2: "::", an embedded dotted IPv4 tail; a "%zone" and a "/prefix" are
 * ignored) → 16 bytes, or null when it is not an IPv6 address. The netlink codec's parser.
 */
export function parseIpv6(text: string): Buffer | null {
  const bare = text.split('/')[0]!.split('%')[0]!;
  if (!isIPv6(bare)) return null;
  try {
    return addressBytes(bare, 6);
  } catch {
    return null;
  }
}

/** Like parseIpv6, but throws a RangeError on anything else. */
export function ipv6Bytes(text: string): Buffer {
  const b = parseIpv6(text);
  if (!b) throw new RangeError(`not an IPv6 address: ${JSON.stringify(text)}`);
  return b;
}

/** 16 bytes at `at` → RFC 5952 text (the netlink codec's, the same text the kernel's addresses get). */
export function ipv6Text(b: Uint8Array, at = 0): string {
  return addressText(Buffer.from(b.buffer, b.byteOffset + at, 16))!;
}

/** The canonical (RFC 5952) text of an IPv6 address given as text; null when it is not one. */
export function canonicalIpv6(text: string): string | null {
  const b = parseIpv6(text);
  return b ? ipv6Text(b) : null;
}

/** fe80::/10 */
export function isLinkLocal6(b: Uint8Array, at = 0): boolean {
  return b[at] === 0xfe && (b[at + 1]! & 0xc0) === 0x80;
}

/** ff00::/8 */
export function isMulticast6(b: Uint8Array, at = 0): boolean {
  return b[at] === 0xff;
}

/** Folded sum of the IPv6 pseudo-header (RFC 8200 §8.1) for next header `nextHeader`. */
export function ipv6PseudoHeaderSum(src: Uint8Array, dst: Uint8Array, length: number, nextHeader: number): number {
  let sum = onesComplementSum(src, 0, 0, 16);
  sum = onesComplementSum(dst, sum, 0, 16);
  return foldSum(sum + (length >>> 16) + (length & 0xffff) + (nextHeader & 0xff));
}

export interface VrrpAdvert6 {
  vrid: number; // 1..255
  priority: number; // 0..255
  addresses: string[]; // IPv6 VIPs, canonical text
  advertIntervalCs: number; // 1..4095
}

/** The VRRPv3 message for `a` from `src` to `dst` (texts or 16-byte buffers), checksum filled. */
export function encodeAdvert6(a: VrrpAdvert6, src: string | Uint8Array, dst: string | Uint8Array): Buffer {
  const byte = (v: number, lo: number) => Number.isInteger(v) && v >= lo && v <= 255;
  const bad = (what: string) => new RangeError(`cannot encode VRRPv3 IPv6 advert: ${what}`);
  if (!byte(a.vrid, 1)) throw bad(`vrid ${a.vrid}`);
  if (!byte(a.priority, 0)) throw bad(`priority ${a.priority}`);
  if (a.addresses.length > 255) throw bad(`${a.addresses.length} addresses (max 255)`);
  const iv = a.advertIntervalCs;
  if (!Number.isInteger(iv) || iv < 1 || iv > 4095) throw bad(`interval ${iv} cs`);
  const s = typeof src === 'string' ? ipv6Bytes(src) : src;
  const d = typeof dst === 'string' ? ipv6Bytes(dst) : dst;
  const n = a.addresses.length;
  const buf = Buffer.alloc(advertLength6(n));
  buf[0] = (3 << 4) | TYPE_ADVERTISEMENT;
  buf[1] = a.vrid;
  buf[2] = a.priority;
  buf[3] = n;
  buf.writeUInt16BE(iv, 4);
  a.addresses.forEach((addr, i) => {
    const b = parseIpv6(addr);
    if (!b) throw bad(`address ${JSON.stringify(addr)}`);
    b.copy(buf, VRRP_HEADER_LEN + 16 * i);
  });
  buf.writeUInt16BE(internetChecksum(buf, ipv6PseudoHeaderSum(s, d, buf.length, IPPROTO_VRRP)), 6);
  return buf;
}

/**
 * Checks the VRRPv3 message b[0..len) received from src to dst (16-byte buffers), in keepalived's
 * order: header size, version, type, exact length 8 + 16N, checksum (IPv6 pseudo-header), interval
 * not 0. Returns null when it is a well-formed advert, else why not. Never throws.
 */
export function verifyAdvert6(b: Uint8Array, len: number, src: Uint8Array, dst: Uint8Array): DecodeError | null {
  if (len < VRRP_HEADER_LEN) return dropFor('bad-length', `${len} bytes, shorter than the ${VRRP_HEADER_LEN}-byte header`);
  const version = b[0]! >> 4;
  if (version !== 3) return dropFor('bad-version', `version ${version} (only VRRPv3 runs over IPv6)`);
  const type = b[0]! & 0x0f;
  if (type !== TYPE_ADVERTISEMENT) return dropFor('bad-type', `type ${type}, expected 1 (advertisement)`);
  const n = b[3]!;
  const expected = advertLength6(n);
  if (len !== expected) return dropFor('bad-length', `${len} bytes, expected ${expected} for v3/IPv6 with ${n} addresses`);
  if (internetChecksum(b, ipv6PseudoHeaderSum(src, dst, len, IPPROTO_VRRP), 0, len) !== 0) {
    const sum = (b[6]! << 8) | b[7]!;
    return dropFor('bad-checksum', `checksum 0x${sum.toString(16).padStart(4, '0')} does not verify with the IPv6 pseudo-header`);
  }
  if ((((b[4]! << 8) | b[5]!) & 0x0fff) === 0) return dropFor('bad-interval', 'v3 max advert interval 0');
  return null;
}

/** Decodes one VRRPv3/IPv6 message (tools and tests); the checks of verifyAdvert6. */
export function decodeAdvert6(msg: Uint8Array, src: string, dst: string): { ok: true; advert: VrrpAdvert6 } | DecodeError {
  const s = parseIpv6(src);
  const d = parseIpv6(dst);
  if (!s || !d) return dropFor('bad-checksum', 'the IPv6 pseudo-header needs IPv6 source and destination addresses');
  const bad = verifyAdvert6(msg, msg.length, s, d);
  if (bad) return bad;
  const addresses: string[] = [];
  for (let i = 0; i < msg[3]!; i++) addresses.push(ipv6Text(msg, VRRP_HEADER_LEN + 16 * i));
  return { ok: true, advert: { vrid: msg[1]!, priority: msg[2]!, addresses, advertIntervalCs: ((msg[4]! << 8) | msg[5]!) & 0x0fff } };
}
