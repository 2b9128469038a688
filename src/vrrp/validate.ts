// Receive validation: keepalived 2.2.x's vrrp_check_packet rules (spec §4.6), applied to one IP
// datagram exactly as the raw socket delivers it (IPv4 header + VRRP) for one configured instance.
// Pure; returns the accepted advert's facts or the single reason it was dropped (the caller counts per
// reason).
//
// Order: IP header → tot_len = bytes received → protocol 112 → not our own → TTL 255 (multicast
// instances) → VRID → version → VRRP type/length/checksum (packet.ts) → v2 auth type and password
// → v2 interval → destination kind matches mode → VIP count and set → unicast source is a peer.
//
// Split for the receive path at scale: the first three checks depend on no instance and run once per
// datagram (ipv4.ts readDatagramHeader, called by demux.ts); checkAdvert runs the rest for the one
// instance the datagram concerns, against a CompiledView (addresses as numbers), with no string work
// on the accept path except the sender's address, which is cached. checkDatagram is the whole chain
// for one instance (tests, tools).
import { isMulticastUint32, parseIpv4Address, uint32ToIp } from '../net/ip.js';
import { emptyDatagramHeader, readDatagramHeader, uint32At, type DatagramHeader } from './ipv4.js';
import { AUTH_LEN, decodeAdvert, dropFor, verifyAdvert, advertIntervalOf, VRRP_HEADER_LEN, type ChecksumForm, type VrrpAdvert } from './packet.js';

export const DROP_REASONS = [
  'truncated', // fewer bytes than an IPv4 header
  'not-ipv4', // IP version nibble is not 4
  'bad-header-length', // IHL < 5, or tot_len shorter than the header
  'ip-length-mismatch', // IP tot_len differs from the bytes received
  'wrong-protocol', // IP protocol is not 112
  'own-packet', // source is one of our own addresses
  'bad-ttl', // multicast instance and TTL is not 255
  'unknown-vrid', // VRID is not this instance's
  'bad-version', // VRRP version is not 2/3, or not this instance's
  'bad-type', // VRRP type is not 1 (advertisement)
  'bad-length', // VRRP length is not exactly 16+4N (v2) / 8+4N (v3)
  'bad-checksum', // the checksum verifies in none of the accepted forms
  'bad-auth-type', // v2 auth type is not 0, 1 or 2
  'bad-interval', // v3 max advert interval is 0
  'auth-type-mismatch', // v2 auth type differs from ours
  'auth-failed', // v2 PASS: the 8 auth bytes differ from ours
  'interval-mismatch', // v2 advert interval differs from ours
  'dst-mode-mismatch', // multicast instance got a unicast advert, or vice versa
  'address-mismatch', // VIP count or set differs from ours
  'unknown-unicast-source', // unicast with source checking, and the source is not a peer
] as const;
export type DropReason = (typeof DROP_REASONS)[number];

export interface InstanceView {
  version: 2 | 3;
  vrid: number;
  advertIntervalCs: number;
  authType: 0 | 1;
  authData: Buffer; // v2 PASS: the 8 bytes (see passwordToAuthData)
  vips: string[]; // dotted IPv4; a "/prefix" suffix is ignored
  unicast: null | { peers: string[]; checkSource: boolean };
  localAddresses: string[]; // this node's own addresses: adverts from them are our own
}

export type CheckResult =
  | { ok: true; advert: VrrpAdvert; src: string; dst: string; ttl: number; checksumForm: ChecksumForm }
  | { ok: false; reason: DropReason; detail: string };

/**
 * An InstanceView compiled for the receive path: every address a uint32 (an address that does not
 * parse is -1 and never matches anything, as in the text form). Build it once per instance, again
 * when the instance's addresses change; it is cheap.
 */
export interface CompiledView {
  readonly version: 2 | 3;
  readonly vrid: number;
  readonly advertIntervalCs: number;
  readonly authType: 0 | 1;
  readonly authData: Uint8Array; // exactly 8 bytes: ours NUL-padded or cut to 8 (v2 PASS)
  readonly vips: readonly number[]; // one per configured VIP, in config order
  readonly vipText: readonly string[]; // the same as configured, for drop details only
  readonly unicast: null | { readonly peers: ReadonlySet<number>; readonly checkSource: boolean };
  readonly localAddresses: ReadonlySet<number>;
  /** The last accepted sender's address as text, so a steady peer costs no string per advert. */
  srcMemo: { addr: number; text: string };
}

/** What the instance needs of an accepted advert. `src` is the sender's dotted address. */
export interface AcceptedAdvert {
  ok: true;
  priority: number;
  advertIntervalCs: number;
  checksumForm: ChecksumForm;
  src: string;
}

export type AdvertCheck = AcceptedAdvert | { ok: false; reason: DropReason; detail: string };

const VRRP_TTL = 255;

/** Address text (optionally with /prefix) as a number, or -1. */
function addressValue(s: string): number {
  return parseIpv4Address(s.split('/')[0]!) ?? -1;
}

/**
 * `localAddresses`, when given, is used as it is (not copied): the agent keeps one live set per
 * interface, updated in place when addresses come and go, so no instance recompiles for that.
 */
export function compileView(v: InstanceView, localAddresses?: ReadonlySet<number>): CompiledView {
  const authData = new Uint8Array(AUTH_LEN);
  authData.set(v.authData.subarray(0, AUTH_LEN));
  const set = (list: readonly string[]) => new Set(list.map(addressValue).filter((n) => n >= 0));
  return {
    version: v.version,
    vrid: v.vrid,
    advertIntervalCs: v.advertIntervalCs,
    authType: v.authType,
    authData,
    vips: v.vips.map(addressValue),
    vipText: [...v.vips],
    unicast: v.unicast === null ? null : { peers: set(v.unicast.peers), checkSource: v.unicast.checkSource },
    localAddresses: localAddresses ?? set(v.localAddresses),
    srcMemo: { addr: -1, text: '' },
  };
}

/** keepalived's rule: same count, and every one of our VIPs appears in the advert (order irrelevant).
 *  Compares numbers straight from the datagram; N ≤ 255, so the quadratic scan never matters. */
function sameVipSet(ours: readonly number[], d: Uint8Array, first: number, n: number): boolean {
  if (ours.length !== n) return false;
  for (const vip of ours) {
    let found = false;
    for (let i = 0, at = first; i < n && !found; i++, at += 4)
      found = vip === uint32At(d, at);
    if (!found) return false;
  }
  return true;
}

/** v2 PASS: all 8 bytes equal, compared without an early exit (constant time, like timingSafeEqual). */
function authDataMatches(ours: Uint8Array, d: Uint8Array, at: number): boolean {
  let diff = 0;
  for (let i = 0; i < AUTH_LEN; i++) diff |= ours[i]! ^ d[at + i]!;
  return diff === 0;
}

function addressList(d: Uint8Array, first: number, n: number): string {
  const out: string[] = [];
  for (let i = 0, at = first; i < n; i++, at += 4) out.push(uint32ToIp(uint32At(d, at)));
  return out.join(', ');
}

/**
 * The per-instance receive rules (own packet onwards) for a datagram whose header readDatagramHeader
 * accepted into `h`. Never throws; on the accept path it allocates the result and, for a sender not
 * seen last time, its address text.
 */
export function checkAdvert(view: CompiledView, h: DatagramHeader, d: Uint8Array): AdvertCheck {
  if (view.localAddresses.has(h.src)) return dropFor('own-packet', `from our own address ${uint32ToIp(h.src)}`);
  if (view.unicast === null && h.ttl !== VRRP_TTL) return dropFor('bad-ttl', `TTL ${h.ttl}, expected ${VRRP_TTL}`);
  if (h.vrid >= 0 && h.vrid !== view.vrid) return dropFor('unknown-vrid', `VRID ${h.vrid}, ours ${view.vrid}`);
  if (h.vrrpVersion >= 0 && h.vrrpVersion !== view.version)
    return dropFor('bad-version', `VRRP version ${h.vrrpVersion}, ours ${view.version}`);

  const start = h.payloadOffset;
  const end = start + h.payloadLength;
  const checksumForm = verifyAdvert(d, start, end, h.src, h.dst);
  if (typeof checksumForm !== 'string') return checksumForm;
  const n = d[start + 3]!;
  const advertIntervalCs = advertIntervalOf(d, start);

  if (view.version === 2) {
    const authType = d[start + 4]!;
    if (authType !== view.authType) return dropFor('auth-type-mismatch', `auth type ${authType}, ours ${view.authType}`);
    if (authType === 1 && !authDataMatches(view.authData, d, start + VRRP_HEADER_LEN + 4 * n))
      return dropFor('auth-failed', 'password does not match');
    if (advertIntervalCs !== view.advertIntervalCs)
      return dropFor('interval-mismatch', `interval ${advertIntervalCs / 100} s, ours ${view.advertIntervalCs / 100} s`);
  }
  if (isMulticastUint32(h.dst) !== (view.unicast === null))
    return dropFor('dst-mode-mismatch', `${view.unicast ? 'unicast' : 'multicast'} instance got an advert for ${uint32ToIp(h.dst)}`);
  if (!sameVipSet(view.vips, d, start + VRRP_HEADER_LEN, n))
    return dropFor('address-mismatch', `advert carries [${addressList(d, start + VRRP_HEADER_LEN, n)}], ours [${view.vipText.join(', ')}]`);
  if (view.unicast?.checkSource && !view.unicast.peers.has(h.src))
    return dropFor('unknown-unicast-source', `${uint32ToIp(h.src)} is not a unicast peer`);

  const memo = view.srcMemo;
  if (memo.addr !== h.src) {
    memo.addr = h.src;
    memo.text = uint32ToIp(h.src);
  }
  return { ok: true, priority: d[start + 2]!, advertIntervalCs, checksumForm, src: memo.text };
}

/** Applies the receive rules to one datagram for one instance. Never throws on any datagram. */
export function checkDatagram(inst: InstanceView, datagram: Uint8Array): CheckResult {
  const h = emptyDatagramHeader();
  const problem = readDatagramHeader(datagram, h);
  if (problem !== null) return { ok: false, reason: problem, detail: describeDatagramProblem(problem, datagram) };
  const r = checkAdvert(compileView(inst), h, datagram);
  if (!r.ok) return r;
  const payload = datagram.subarray(h.payloadOffset, h.payloadOffset + h.payloadLength);
  const src = r.src;
  const dst = uint32ToIp(h.dst);
  const decoded = decodeAdvert(payload, { src, dst });
  if (!decoded.ok) return decoded; // cannot happen: checkAdvert verified the same bytes
  return { ok: true, advert: decoded.advert, src, dst, ttl: h.ttl, checksumForm: r.checksumForm };
}

/** The log detail for a readDatagramHeader problem (only built when a drop is logged). */
export function describeDatagramProblem(problem: string, d: Uint8Array): string {
  switch (problem) {
    case 'ip-length-mismatch':
      return `tot_len ${(d[2]! << 8) | d[3]!}, received ${d.length}`;
    case 'wrong-protocol':
      return `IP protocol ${d[9]}`;
    default:
      return `IPv4 header: ${problem} (${d.length} bytes)`;
  }
}
