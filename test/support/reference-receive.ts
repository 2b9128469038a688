// The receive checks exactly as they were before the demultiplexer (commit 0035eed): checkDatagram
// with text addresses, decodeAdvert and the IPv4 parse, copied verbatim (only renamed, the imports
// pointed at what still exists) so the new path (ReceiveDemux + checkAdvert) can be compared with it.
// Test reference only: nothing in src/ uses this.
import { timingSafeEqual } from 'node:crypto';
import { isIpv4, isMulticast, parseIpv4Address, uint32ToIp, VRRP_MCAST_GROUP } from '../../src/net/ip.js';
import { internetChecksum, onesComplementSum, ipv4PseudoHeader } from '../../src/vrrp/checksum.js';
import { advertLength, CHECKSUM_FORMS, type ChecksumForm, type DecodeError, type DecodeResult } from '../../src/vrrp/packet.js';
import type { CheckResult, DropReason, InstanceView } from '../../src/vrrp/validate.js';

const IPPROTO_VRRP = 112;
const HEADER_LEN = 8;
const TYPE_ADVERTISEMENT = 1;

type ParseResult =
  | { ok: true; header: { ihl: number; totalLength: number; ttl: number; protocol: number; src: string; dst: string }; payload: Buffer }
  | { ok: false; reason: 'truncated' | 'not-ipv4' | 'bad-header-length' };

function parseIpv4(buf: Uint8Array): ParseResult {
  const b = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  if (b.length < 1) return { ok: false, reason: 'truncated' };
  if (b[0]! >> 4 !== 4) return { ok: false, reason: 'not-ipv4' };
  if (b.length < 20) return { ok: false, reason: 'truncated' };
  const ihl = b[0]! & 0x0f;
  const totalLength = b.readUInt16BE(2);
  if (ihl < 5 || totalLength < ihl * 4) return { ok: false, reason: 'bad-header-length' };
  if (b.length < ihl * 4) return { ok: false, reason: 'truncated' };
  const flagsAndOffset = b.readUInt16BE(6);
  const header = {
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

/** The folded sum the checksum starts from: 0, or the IPv4 pseudo-header for v3. */
function checksumSeed(version: 2 | 3, form: ChecksumForm, ip: { src: string; dst: string }, length: number): number {
  if (version === 2 || form === 'no-pseudo') return 0;
  const dst = form === 'mcast-pseudo' ? VRRP_MCAST_GROUP : ip.dst;
  return onesComplementSum(ipv4PseudoHeader(ip.src, dst, IPPROTO_VRRP, length));
}

/** Which checksum form the message verifies under, trying the RFC form first; null if none. */
function matchChecksum(b: Buffer, version: 2 | 3, ip: { src: string; dst: string }): ChecksumForm | null {
  if (version === 2) return internetChecksum(b) === 0 ? 'rfc' : null;
  const pseudoOk = isIpv4(ip.src) && isIpv4(ip.dst);
  for (const form of CHECKSUM_FORMS) {
    if (form !== 'no-pseudo' && !pseudoOk) continue;
    if (form === 'mcast-pseudo' && ip.dst === VRRP_MCAST_GROUP) continue; // same as 'rfc'
    if (internetChecksum(b, checksumSeed(version, form, ip, b.length)) === 0) return form;
  }
  return null;
}

/** Decodes one VRRP message (the IP payload). Checks version, type, exact length and checksum. */
function decodeAdvert(vrrp: Uint8Array, ip: { src: string; dst: string }): DecodeResult {
  const fail = (reason: DropReason, detail: string): DecodeError => ({ ok: false, reason, detail });
  const b = Buffer.from(vrrp.buffer, vrrp.byteOffset, vrrp.byteLength);
  if (b.length < HEADER_LEN) return fail('bad-length', `${b.length} bytes, shorter than the ${HEADER_LEN}-byte header`);
  const version = b[0]! >> 4;
  if (version !== 2 && version !== 3) return fail('bad-version', `version ${version}`);
  const type = b[0]! & 0x0f;
  if (type !== TYPE_ADVERTISEMENT) return fail('bad-type', `type ${type}, expected 1 (advertisement)`);
  const n = b[3]!;
  const expected = advertLength(version, n);
  if (b.length !== expected) return fail('bad-length', `${b.length} bytes, expected ${expected} for v${version} with ${n} addresses`);
  const checksumForm = matchChecksum(b, version, ip);
  if (checksumForm === null) return fail('bad-checksum', `checksum 0x${b.readUInt16BE(6).toString(16).padStart(4, '0')} does not verify`);

  const addresses: string[] = [];
  for (let i = 0; i < n; i++) addresses.push(uint32ToIp(b.readUInt32BE(HEADER_LEN + 4 * i)));
  const base = { version, vrid: b[1]!, priority: b[2]!, addresses } as const;
  if (version === 3) {
    const advertIntervalCs = b.readUInt16BE(4) & 0x0fff; // the top 4 bits are reserved, ignored on receive
    if (advertIntervalCs === 0) return fail('bad-interval', 'v3 max advert interval 0');
    return { ok: true, checksumForm, advert: { ...base, advertIntervalCs, authType: 0, authData: Buffer.alloc(0) } };
  }
  const authType = b[4]!;
  if (authType !== 0 && authType !== 1 && authType !== 2) return fail('bad-auth-type', `auth type ${authType}`);
  const authData = Buffer.from(b.subarray(HEADER_LEN + 4 * n)); // a copy: never alias the receive buffer
  return { ok: true, checksumForm, advert: { ...base, advertIntervalCs: b[5]! * 100, authType, authData } };
}

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
export function referenceCheckDatagram(inst: InstanceView, datagram: Uint8Array): CheckResult {
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
