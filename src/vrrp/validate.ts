// Receive validation: keepalived 2.2.x's vrrp_check_packet rules (spec §4.6), applied to one IP
// datagram exactly as the raw socket delivers it (IPv4 header + VRRP) for one configured instance.
// Pure; returns the decoded advert or the single reason it was dropped (the agent counts per reason).
//
// Order: IP header → tot_len = bytes received → protocol 112 → not our own → TTL 255 (multicast
// instances) → VRID → version → VRRP type/length/checksum (packet.ts) → v2 auth type and password
// → v2 interval → destination kind matches mode → VIP count and set → unicast source is a peer.
import { timingSafeEqual } from 'node:crypto';
import { parseIpv4Address, isMulticast } from '../net/ip.js';
import { IPPROTO_VRRP, parseIpv4 } from './ipv4.js';
import { decodeAdvert, type ChecksumForm, type VrrpAdvert } from './packet.js';

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

const VRRP_TTL = 255;
const AUTH_LEN = 8;

/** Address text (optionally with /prefix) as a number, or null. */
function addressValue(s: string): number | null {
  return parseIpv4Address(s.split('/')[0]!);
}

function containsAddress(list: string[], addr: string): boolean {
  const v = addressValue(addr);
  return v !== null && list.some((x) => addressValue(x) === v);
}

/** keepalived's rule: same count, and every one of our VIPs appears in the advert (order irrelevant). */
function sameVipSet(ours: string[], theirs: string[]): boolean {
  return ours.length === theirs.length && ours.every((vip) => containsAddress(theirs, vip));
}

/** v2 PASS: all 8 bytes equal, compared in constant time (ours is NUL-padded/cut to 8 if needed). */
function authDataMatches(ours: Buffer, theirs: Buffer): boolean {
  const mine = Buffer.alloc(AUTH_LEN);
  ours.copy(mine, 0, 0, AUTH_LEN);
  return theirs.length === AUTH_LEN && timingSafeEqual(mine, theirs);
}

/** Applies the receive rules to one datagram for one instance. Never throws on any datagram. */
export function checkDatagram(inst: InstanceView, datagram: Uint8Array): CheckResult {
  const drop = (reason: DropReason, detail: string): CheckResult => ({ ok: false, reason, detail });

  const parsed = parseIpv4(datagram);
  if (!parsed.ok) return drop(parsed.reason, `IPv4 header: ${parsed.reason} (${datagram.length} bytes)`);
  const { header: ip, payload } = parsed;
  if (ip.totalLength !== datagram.length)
    return drop('ip-length-mismatch', `tot_len ${ip.totalLength}, received ${datagram.length}`);
  if (ip.protocol !== IPPROTO_VRRP) return drop('wrong-protocol', `IP protocol ${ip.protocol}`);
  if (containsAddress(inst.localAddresses, ip.src)) return drop('own-packet', `from our own address ${ip.src}`);
  if (inst.unicast === null && ip.ttl !== VRRP_TTL) return drop('bad-ttl', `TTL ${ip.ttl}, expected ${VRRP_TTL}`);
  if (payload.length >= 2 && payload[1] !== inst.vrid) return drop('unknown-vrid', `VRID ${payload[1]}, ours ${inst.vrid}`);
  if (payload.length >= 1 && payload[0]! >> 4 !== inst.version)
    return drop('bad-version', `VRRP version ${payload[0]! >> 4}, ours ${inst.version}`);

  const decoded = decodeAdvert(payload, ip);
  if (!decoded.ok) return decoded;
  const { advert, checksumForm } = decoded;

  if (advert.version === 2) {
    if (advert.authType !== inst.authType)
      return drop('auth-type-mismatch', `auth type ${advert.authType}, ours ${inst.authType}`);
    if (advert.authType === 1 && !authDataMatches(inst.authData, advert.authData))
      return drop('auth-failed', 'password does not match');
    if (advert.advertIntervalCs !== inst.advertIntervalCs)
      return drop('interval-mismatch', `interval ${advert.advertIntervalCs / 100} s, ours ${inst.advertIntervalCs / 100} s`);
  }
  if (isMulticast(ip.dst) !== (inst.unicast === null))
    return drop('dst-mode-mismatch', `${inst.unicast ? 'unicast' : 'multicast'} instance got an advert for ${ip.dst}`);
  if (!sameVipSet(inst.vips, advert.addresses))
    return drop('address-mismatch', `advert carries [${advert.addresses.join(', ')}], ours [${inst.vips.join(', ')}]`);
  if (inst.unicast?.checkSource && !containsAddress(inst.unicast.peers, ip.src))
    return drop('unknown-unicast-source', `${ip.src} is not a unicast peer`);

  return { ok: true, advert, src: ip.src, dst: ip.dst, ttl: ip.ttl, checksumForm };
}
