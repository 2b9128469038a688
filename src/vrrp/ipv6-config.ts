// The configuration rules for IPv6 instances (used by src/config/schema.ts, the one schema). As in
// keepalived, an instance is one address family: its VIPs, unicast.source and unicast.peers are all
// IPv4 or all IPv6, the first VIP deciding. IPv6 needs VRRPv3 (VRRPv2 carries only IPv4 addresses),
// and only the garp provider moves IPv6 VIPs (address + unsolicited neighbour advertisements); the
// cloud providers move IPv4 private addresses / HaVips only.
import { canonicalIpv6, parseIpv6 } from './ipv6.js';

/** The family of an instance: that of its first VIP (the schema makes the others agree). */
export function instanceFamily(inst: { vips: readonly string[] }): 4 | 6 {
  return (inst.vips[0] ?? '').includes(':') ? 6 : 4;
}

/** Why this IPv6 address cannot be a VRRP peer, source or VIP (undefined when it can). */
function unusableIpv6(b: Buffer): string | undefined {
  if (b.every((x) => x === 0)) return 'is the unspecified address ::';
  if (b.subarray(0, 15).every((x) => x === 0) && b[15] === 1) return 'is the loopback address ::1';
  if (b[0] === 0xff) return 'is a multicast address';
  if (b.subarray(0, 10).every((x) => x === 0) && b[10] === 0xff && b[11] === 0xff) return 'is an IPv4-mapped address; write the IPv4 address instead';
  return undefined;
}

/** The problem with an IPv6 host address (unicast source or peer), or undefined when it is fine. */
export function ipv6HostProblem(text: string): string | undefined {
  if (text.includes('/')) return `"${text}" has a /len; write the bare address here`;
  if (text.includes('%')) return `"${text}" has a %zone; the instance's interface is the zone`;
  const b = parseIpv6(text);
  if (!b) return `"${text}" is not an IPv6 address`;
  const bad = unusableIpv6(b);
  return bad ? `"${text}" ${bad}` : undefined;
}

/** The problem with an IPv6 VIP ("addr" or "addr/len", len 1..128), or undefined when it is fine. */
export function ipv6VipProblem(text: string): string | undefined {
  const [addr = '', len, ...rest] = text.split('/');
  if (rest.length > 0 || addr.includes('%')) return `"${text}" is not an IPv6 address (addr or addr/len)`;
  if (len !== undefined && (!/^(0|[1-9][0-9]{0,2})$/.test(len) || Number(len) < 1 || Number(len) > 128))
    return `"${text}" has an invalid prefix length /${len} (1..128)`;
  const b = parseIpv6(addr);
  if (!b) return `"${text}" is not an IPv6 address (addr or addr/len)`;
  const bad = unusableIpv6(b);
  return bad ? `"${text}" ${bad}` : undefined;
}

/** A valid IPv6 VIP in canonical form with its prefix: "2001:DB8:0::100" → "2001:db8::100/128". */
export function normaliseIpv6Vip(text: string): string {
  const [addr = '', len = '128'] = text.split('/');
  return `${canonicalIpv6(addr) ?? addr}/${len}`;
}

export interface FamilyIssue {
  message: string;
  fix: string;
  path: (string | number)[];
}

/**
 * One family per instance; IPv6 only with version 3 and the garp provider. The fields it reads are
 * already valid one by one.
 */
export function familyIssues(inst: { vips: readonly string[]; version: 2 | 3; unicast?: { source?: string | undefined; peers: readonly string[] } | undefined; provider: { type: string } }): FamilyIssue[] {
  const out: FamilyIssue[] = [];
  const family = instanceFamily(inst);
  const name = (f: 4 | 6) => (f === 6 ? 'IPv6' : 'IPv4');
  const of = (s: string): 4 | 6 => (s.includes(':') ? 6 : 4);
  const other = (f: 4 | 6) => `an instance is one address family, as in keepalived: make it ${name(f)} like vips[0], or put the ${name(f === 4 ? 6 : 4)} addresses in an instance of their own`;
  inst.vips.forEach((v, i) => {
    if (of(v) !== family) out.push({ message: `${v} is ${name(of(v))}, but vips[0] is ${name(family)}`, fix: other(family), path: ['vips', i] });
  });
  const u = inst.unicast;
  if (u?.source !== undefined && of(u.source) !== family)
    out.push({ message: `${u.source} is ${name(of(u.source))}, but the VIPs are ${name(family)}`, fix: other(family), path: ['unicast', 'source'] });
  u?.peers.forEach((p, i) => {
    if (of(p) !== family) out.push({ message: `${p} is ${name(of(p))}, but the VIPs are ${name(family)}`, fix: other(family), path: ['unicast', 'peers', i] });
  });
  if (family === 6 && inst.version !== 3)
    out.push({ message: `${inst.vips[0]} is IPv6, which needs VRRPv3 (this instance uses version ${inst.version}; VRRPv2 carries only IPv4 addresses)`, fix: 'set version: 3 (on every node of this virtual router)', path: ['vips', 0] });
  if (family === 6 && inst.provider.type !== 'garp')
    out.push({
      message: `provider ${inst.provider.type} cannot move IPv6 VIPs (it moves IPv4 private addresses only)`,
      fix: 'use IPv4 VIPs with this provider, or provider: { type: garp } for IPv6 VIPs on a plain L2 segment',
      path: ['vips', 0],
    });
  return out;
}
