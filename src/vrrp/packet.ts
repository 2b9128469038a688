// Pure VRRP advertisement codec for IPv4: VRRPv2 (RFC 3768 §5) and VRRPv3 (RFC 5798 §5), byte-exact
// with keepalived 2.2.x. The bytes here are the VRRP message only (no IP header); the IP source and
// destination are passed in because the v3 checksum covers an IPv4 pseudo-header.
//
//   v2: 0x21 | vrid | prio | N | auth type | adver int (s)  | checksum | N × IPv4 | 8 auth bytes
//   v3: 0x31 | vrid | prio | N | rsvd(4 bits) + max adver int (cs, 12 bits) | checksum | N × IPv4
//
// decodeAdvert and verifyAdvert (the receive path's in-place check, no strings) never throw;
// encodeAdvert throws a RangeError on an advert it cannot put on the wire.
import { internetChecksum, ipv4PseudoHeaderSumOf } from './checksum.js';
import { IPPROTO_VRRP } from './ipv4.js';
import { isIpv4, ipToUint32, parseIpv4Address, uint32ToIp, VRRP_MCAST_GROUP } from '../net/ip.js';
import type { DropReason } from './validate.js';

/**
 * How the checksum was computed.
 * 'rfc': v2 = over the VRRP message only; v3/IPv4 = IPv4 pseudo-header with the real IP destination.
 * 'mcast-pseudo': v3 unicast with 224.0.0.18 in the pseudo-header (keepalived < 1.3.6, old_unicast_checksum).
 * 'no-pseudo': v3 computed like v2, no pseudo-header (keepalived v3_checksum_as_v2, some vendors).
 * For v2 all three forms are the same computation.
 */
export type ChecksumForm = 'rfc' | 'mcast-pseudo' | 'no-pseudo';
export const CHECKSUM_FORMS: readonly ChecksumForm[] = ['rfc', 'mcast-pseudo', 'no-pseudo'];

export interface VrrpAdvert {
  version: 2 | 3;
  vrid: number; // 1..255
  priority: number; // 0..255
  addresses: string[]; // IPv4 VIPs, dotted
  /** Centiseconds. v2's wire field is whole seconds: decode gives sec*100, encode requires a multiple
   *  of 100 in 100..25500. v3: 1..4095. */
  advertIntervalCs: number;
  authType: 0 | 1 | 2; // v2 only (v3: always 0)
  authData: Buffer; // v2: exactly the 8 auth bytes (PASS: password NUL-padded); v3: empty
}

export type DecodeError = { ok: false; reason: DropReason; detail: string };
export type DecodeResult = { ok: true; advert: VrrpAdvert; checksumForm: ChecksumForm } | DecodeError;

export const VRRP_HEADER_LEN = 8;
export const AUTH_LEN = 8;
const TYPE_ADVERTISEMENT = 1;

/** Bytes on the wire for a VRRP message over IPv4: 16 + 4N (v2) or 8 + 4N (v3). */
export function advertLength(version: 2 | 3, addressCount: number): number {
  return VRRP_HEADER_LEN + 4 * addressCount + (version === 2 ? AUTH_LEN : 0);
}

/** keepalived's auth_pass handling: the first 8 bytes of the password, NUL-padded to 8. */
export function passwordToAuthData(pw: string): Buffer {
  const out = Buffer.alloc(AUTH_LEN);
  Buffer.from(pw, 'utf8').copy(out, 0, 0, AUTH_LEN);
  return out;
}

/** The folded sum the checksum starts from: 0, or the IPv4 pseudo-header for v3. Addresses are uint32;
 *  -1 for one that is not an IPv4 address (then no pseudo-header form can be computed). */
export function checksumSeed(version: 2 | 3, form: ChecksumForm, src: number, dst: number, length: number): number {
  if (version === 2 || form === 'no-pseudo') return 0;
  if (src < 0 || dst < 0) throw new RangeError('the VRRPv3 pseudo-header needs IPv4 source and destination addresses');
  return ipv4PseudoHeaderSumOf(src, form === 'mcast-pseudo' ? VRRP_MCAST_GROUP_U32 : dst, IPPROTO_VRRP, length);
}

const VRRP_MCAST_GROUP_U32 = ipToUint32(VRRP_MCAST_GROUP);

/** A dotted address as uint32, or -1 (the "not an address" value checksumSeed and verifyAdvert take). */
function addressOrNone(s: string): number {
  return parseIpv4Address(s) ?? -1;
}

function assertEncodable(a: VrrpAdvert): void {
  const byte = (v: number, lo: number) => Number.isInteger(v) && v >= lo && v <= 255;
  const bad = (what: string) => new RangeError(`cannot encode VRRP advert: ${what}`);
  if (a.version !== 2 && a.version !== 3) throw bad(`version ${a.version}`);
  if (!byte(a.vrid, 1)) throw bad(`vrid ${a.vrid}`);
  if (!byte(a.priority, 0)) throw bad(`priority ${a.priority}`);
  if (a.addresses.length > 255) throw bad(`${a.addresses.length} addresses (max 255)`);
  for (const addr of a.addresses) if (!isIpv4(addr)) throw bad(`address ${JSON.stringify(addr)}`);
  const iv = a.advertIntervalCs;
  if (a.version === 2) {
    if (!Number.isInteger(iv) || iv % 100 !== 0 || iv < 100 || iv > 25500) throw bad(`v2 interval ${iv} cs`);
    if (a.authType !== 0 && a.authType !== 1 && a.authType !== 2) throw bad(`auth type ${a.authType}`);
    if (a.authData.length !== AUTH_LEN) throw bad(`v2 auth data must be ${AUTH_LEN} bytes`);
  } else {
    if (!Number.isInteger(iv) || iv < 1 || iv > 4095) throw bad(`v3 interval ${iv} cs`);
    if (a.authType !== 0 || a.authData.length !== 0) throw bad('v3 has no authentication');
  }
}

/** The VRRP message for `a`, sent from ip.src to ip.dst, with the checksum in the given form. */
export function encodeAdvert(a: VrrpAdvert, ip: { src: string; dst: string }, form: ChecksumForm = 'rfc'): Buffer {
  assertEncodable(a);
  const n = a.addresses.length;
  const buf = Buffer.alloc(advertLength(a.version, n));
  buf[0] = (a.version << 4) | TYPE_ADVERTISEMENT;
  buf[1] = a.vrid;
  buf[2] = a.priority;
  buf[3] = n;
  if (a.version === 2) {
    buf[4] = a.authType;
    buf[5] = a.advertIntervalCs / 100;
    a.authData.copy(buf, VRRP_HEADER_LEN + 4 * n);
  } else {
    buf.writeUInt16BE(a.advertIntervalCs, 4);
  }
  a.addresses.forEach((addr, i) => buf.writeUInt32BE(ipToUint32(addr), VRRP_HEADER_LEN + 4 * i));
  buf.writeUInt16BE(internetChecksum(buf, checksumSeed(a.version, form, addressOrNone(ip.src), addressOrNone(ip.dst), buf.length)), 6);
  return buf;
}

/** A drop verdict (a plain function, not a closure per call: the receive path allocates nothing else). */
export function dropFor(reason: DropReason, detail: string): DecodeError {
  return { ok: false, reason, detail };
}

/** Which checksum form the message in b[start..end) verifies under, trying the RFC form first; null
 *  if none. src/dst are uint32, or -1 when unknown (then only 'no-pseudo' can match for v3). */
function matchChecksum(b: Uint8Array, start: number, end: number, version: 2 | 3, src: number, dst: number): ChecksumForm | null {
  const length = end - start;
  if (version === 2) return internetChecksum(b, 0, start, end) === 0 ? 'rfc' : null;
  const pseudoOk = src >= 0 && dst >= 0;
  for (const form of CHECKSUM_FORMS) {
    if (form !== 'no-pseudo' && !pseudoOk) continue;
    if (form === 'mcast-pseudo' && dst === VRRP_MCAST_GROUP_U32) continue; // same as 'rfc'
    if (internetChecksum(b, checksumSeed(version, form, src, dst, length), start, end) === 0) return form;
  }
  return null;
}

/**
 * Checks one VRRP message in place: the bytes b[start..end) (the IP payload), sent from src to dst
 * (uint32, or -1 when unknown). Checks, in keepalived's order: header size, version, type, exact
 * length, checksum, then v3 interval 0 / v2 auth type. Returns the checksum form it verified under,
 * or why it is no advert. Never throws; allocates only on a drop.
 */
export function verifyAdvert(b: Uint8Array, start: number, end: number, src: number, dst: number): ChecksumForm | DecodeError {
  const length = end - start;
  if (length < VRRP_HEADER_LEN) return dropFor('bad-length', `${length} bytes, shorter than the ${VRRP_HEADER_LEN}-byte header`);
  const version = b[start]! >> 4;
  if (version !== 2 && version !== 3) return dropFor('bad-version', `version ${version}`);
  const type = b[start]! & 0x0f;
  if (type !== TYPE_ADVERTISEMENT) return dropFor('bad-type', `type ${type}, expected 1 (advertisement)`);
  const n = b[start + 3]!;
  const expected = advertLength(version, n);
  if (length !== expected) return dropFor('bad-length', `${length} bytes, expected ${expected} for v${version} with ${n} addresses`);
  const checksumForm = matchChecksum(b, start, end, version, src, dst);
  if (checksumForm === null) {
    const sum = (b[start + 6]! << 8) | b[start + 7]!;
    return dropFor('bad-checksum', `checksum 0x${sum.toString(16).padStart(4, '0')} does not verify`);
  }
  if (version === 3) {
    if (advertIntervalOf(b, start) === 0) return dropFor('bad-interval', 'v3 max advert interval 0');
  } else {
    const authType = b[start + 4]!;
    if (authType !== 0 && authType !== 1 && authType !== 2) return dropFor('bad-auth-type', `auth type ${authType}`);
  }
  return checksumForm;
}

/** The advert interval in centiseconds of a message verifyAdvert accepted (v2: seconds × 100; v3: the
 *  12-bit field, its 4 reserved bits ignored on receive). */
export function advertIntervalOf(b: Uint8Array, start: number): number {
  if (b[start]! >> 4 === 2) return b[start + 5]! * 100;
  return ((b[start + 4]! << 8) | b[start + 5]!) & 0x0fff;
}

/** Decodes one VRRP message (the IP payload). Checks version, type, exact length and checksum. */
export function decodeAdvert(vrrp: Uint8Array, ip: { src: string; dst: string }): DecodeResult {
  const b = Buffer.from(vrrp.buffer, vrrp.byteOffset, vrrp.byteLength);
  const verdict = verifyAdvert(b, 0, b.length, addressOrNone(ip.src), addressOrNone(ip.dst));
  if (typeof verdict !== 'string') return verdict;
  const version = (b[0]! >> 4) as 2 | 3;
  const n = b[3]!;
  const addresses: string[] = [];
  for (let i = 0; i < n; i++) addresses.push(uint32ToIp(b.readUInt32BE(VRRP_HEADER_LEN + 4 * i)));
  const base = { version, vrid: b[1]!, priority: b[2]!, addresses, advertIntervalCs: advertIntervalOf(b, 0) } as const;
  if (version === 3) return { ok: true, checksumForm: verdict, advert: { ...base, authType: 0, authData: Buffer.alloc(0) } };
  const authType = b[4]! as 0 | 1 | 2;
  const authData = Buffer.from(b.subarray(VRRP_HEADER_LEN + 4 * n)); // a copy: never alias the receive buffer
  return { ok: true, checksumForm: verdict, advert: { ...base, authType, authData } };
}
