// Adds and removes VIPs on an interface, idempotently: adding an address that is there, or removing one
// that is gone, is success. Over rtnetlink in-process (RTM_NEWADDR/RTM_DELADDR, synchronous, well under
// a millisecond) or, on the fallback (see netBackend() in link.ts), with `ip addr add/del … dev IF`.
// Like keepalived, a VIP is added with its configured prefix length (default /32, or /128 for IPv6,
// where DAD is skipped: `nodad`). Removing takes off every copy of the address whatever its prefix:
// the kernel only deletes an exact address/prefix match and answers "not found" for the same address
// under another prefix (a stale /32 left by keepalived's default while the config says /24 would
// otherwise stay, unnoticed).
//
// The *Sync calls are for the hot path (taking over: the VIP must be on before the first GARP); the
// async ones keep the signatures callers use and, over netlink, simply wrap them.
import { isIPv6 } from 'node:net';
import type { ExecResult } from '../exec.js';
import {
  getLink,
  getLinkSync,
  interfaceNotFound,
  interfaceNotFoundSync,
  ipCommand,
  ipCommandSync,
  ipSaid,
  NetError,
  routeSocket,
  type LinkInfo,
  type LinkOptions,
} from './link.js';
import { NetlinkError } from './netlink/route-socket.js';
import { interfaceIndex, packetSocketAvailable } from './packet-socket.js';

export interface Cidr {
  address: string;
  prefixLen: number;
  family: 4 | 6;
  /** "address/prefixLen" */
  cidr: string;
}

const V4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

/** The RFC 5952 text of an IPv6 address (what `ip` prints), so "2001:DB8:0::1" matches "2001:db8::1". */
function canonicalIPv6(address: string): string {
  return new URL(`http://[${address}]`).hostname.slice(1, -1);
}

/** "198.51.100.100" → 198.51.100.100/32; "198.51.100.100/24" kept. Throws a RangeError on bad input. */
export function parseCidr(text: string): Cidr {
  const [raw = '', len, extra] = text.trim().split('/');
  const v4 = V4.exec(raw);
  const family: 4 | 6 | null = v4 && v4.slice(1).every((o) => Number(o) <= 255) ? 4 : isIPv6(raw) ? 6 : null;
  const max = family === 6 ? 128 : 32;
  const prefixLen = len === undefined ? max : Number(len);
  if (family === null || extra !== undefined || !Number.isInteger(prefixLen) || prefixLen < 0 || prefixLen > max || (len !== undefined && !/^\d+$/.test(len)))
    throw new RangeError(`not an address or address/prefix: ${JSON.stringify(text)}`);
  const address = family === 6 ? canonicalIPv6(raw) : raw;
  return { address, prefixLen, family, cidr: `${address}/${prefixLen}` };
}

const PERMISSION = /Operation not permitted|Permission denied/i;
const MISSING_DEVICE = /does not exist|Cannot find device/i;
const ALREADY_THERE = /File exists|already assigned/i;
const ALREADY_GONE = /Cannot assign requested address|Address not found/i;
const GRANT = 'run as root or grant CAP_NET_ADMIN';

/** Sync options: LinkOptions without the signal (a synchronous call cannot be aborted). */
export type SyncLinkOptions = Pick<LinkOptions, 'instanceName'>;

const addFix = (ifname: string, opts: SyncLinkOptions) => `check instances.${opts.instanceName ?? '<name>'}.vips and the interface (ip addr show dev ${ifname})`;
const removeFix = (ifname: string, cidr: string) => `remove it by hand (ip addr del ${cidr} dev ${ifname}) and check the interface`;

/** What `ip addr add` said: the outcome, 'no-device', or a thrown NetError. */
function ipAddOutcome(r: ExecResult, c: Cidr, ifname: string, opts: SyncLinkOptions): 'added' | 'present' | 'no-device' {
  if (r.code === 0) return 'added';
  if (ALREADY_THERE.test(r.stderr)) return 'present';
  const what = `cannot add ${c.cidr} to ${ifname}`;
  if (PERMISSION.test(r.stderr)) throw new NetError(`${what}: Operation not permitted`, GRANT);
  if (MISSING_DEVICE.test(r.stderr)) return 'no-device';
  throw new NetError(`${what}: ${ipSaid(r)}`, addFix(ifname, opts));
}

const ipAddArgs = (c: Cidr, ifname: string) => ['addr', 'add', c.cidr, 'dev', ifname, ...(c.family === 6 ? ['nodad'] : [])];

/** A refusal from the kernel as the NetError `ip` would have led to. */
function kernelRefused(e: unknown, what: string, fix: string): unknown {
  if (!(e instanceof NetlinkError)) return e;
  if (e.code === 'EPERM' || e.code === 'EACCES') return new NetError(`${what}: Operation not permitted`, GRANT);
  return new NetError(`${what}: ${e.message}`, fix);
}

/**
 * Puts `cidr` on `ifname` now, without an event-loop turn. Returns 'present' when it was already
 * there. Throws a NetError: interface missing (listing the real ones), no permission, or other refusal.
 */
export function addAddressSync(ifname: string, cidr: string, opts: SyncLinkOptions = {}): 'added' | 'present' {
  const c = parseCidr(cidr);
  const sock = routeSocket();
  if (!sock) {
    const how = ipAddOutcome(ipCommandSync(ipAddArgs(c, ifname)), c, ifname, opts);
    if (how === 'no-device') throw interfaceNotFoundSync(ifname, opts.instanceName);
    return how;
  }
  // The index by if_nametoindex (one ioctl) where the addon has it: this is the takeover's hot path.
  const index = ifname ? (packetSocketAvailable().ok ? interfaceIndex(ifname) : (sock.getLink(ifname)?.index ?? 0)) : 0;
  if (!index) throw interfaceNotFoundSync(ifname, opts.instanceName);
  try {
    return sock.addAddress({ index, family: c.family, address: c.address, prefixLen: c.prefixLen });
  } catch (e) {
    if (e instanceof NetlinkError && e.code === 'ENODEV') throw interfaceNotFoundSync(ifname, opts.instanceName);
    throw kernelRefused(e, `cannot add ${c.cidr} to ${ifname}`, addFix(ifname, opts));
  }
}

/** Puts `cidr` on `ifname`. Resolves 'present' when it was already there. */
export async function addAddress(ifname: string, cidr: string, opts: LinkOptions = {}): Promise<'added' | 'present'> {
  if (routeSocket()) {
    opts.signal?.throwIfAborted();
    return addAddressSync(ifname, cidr, opts);
  }
  const c = parseCidr(cidr);
  const how = ipAddOutcome(await ipCommand(ipAddArgs(c, ifname), opts.signal), c, ifname, opts);
  if (how === 'no-device') throw await interfaceNotFound(ifname, opts.instanceName, opts.signal);
  return how;
}

/**
 * Takes every copy of `ip` off `ifname`, whatever its prefix (the prefix written in `ip`, if any, is
 * ignored). Resolves 'absent' when none was there, or when the interface itself is gone (an address
 * cannot outlive its interface).
 */
export async function removeAddress(ifname: string, ip: string, opts: LinkOptions = {}): Promise<'removed' | 'absent'> {
  return (await removeAddresses(ifname, [ip], opts)).length > 0 ? 'removed' : 'absent';
}

/** The addresses of `ips` (plain or CIDR; prefixes ignored). Throws a RangeError on bad input. */
const addressesOf = (ips: readonly string[]) => new Set(ips.map((ip) => parseCidr(ip).address));

/** The entries of `link` whose address is in `wanted`, as CIDRs. */
function copiesOn(link: LinkInfo, wanted: ReadonlySet<string>): { cidr: Cidr; text: string }[] {
  return link.addresses
    .filter((a) => wanted.has(a.address))
    .map((a) => ({ cidr: { address: a.address, prefixLen: a.prefixLen, family: a.family, cidr: `${a.address}/${a.prefixLen}` }, text: `${a.address}/${a.prefixLen}` }));
}

/**
 * removeAddresses, now: reads the interface, then deletes each matching entry with its own prefix.
 * Returns the CIDRs actually removed, [] when none was there or the interface is gone.
 */
export function removeAddressesSync(ifname: string, ips: readonly string[], _opts: SyncLinkOptions = {}): string[] {
  const wanted = addressesOf(ips);
  const link = getLinkSync(ifname);
  if (!link) return [];
  const sock = routeSocket();
  const removed: string[] = [];
  for (const { cidr, text } of copiesOn(link, wanted)) {
    let how: 'removed' | 'absent';
    if (sock) {
      try {
        how = sock.deleteAddress({ index: link.index, family: cidr.family, address: cidr.address, prefixLen: cidr.prefixLen });
      } catch (e) {
        throw kernelRefused(e, `cannot remove ${text} from ${ifname}`, removeFix(ifname, text));
      }
    } else how = ipDelOutcome(ipCommandSync(['addr', 'del', text, 'dev', ifname]), ifname, text);
    if (how === 'removed') removed.push(text);
  }
  return removed;
}

/**
 * Takes every copy of each address in `ips` (plain or CIDR; prefixes ignored) off `ifname`: reads the
 * interface once, then deletes each matching entry with its own prefix. Resolves with the CIDRs
 * actually removed, [] when none was there or the interface is gone.
 */
export async function removeAddresses(ifname: string, ips: readonly string[], opts: LinkOptions = {}): Promise<string[]> {
  if (routeSocket()) {
    opts.signal?.throwIfAborted();
    return removeAddressesSync(ifname, ips, opts);
  }
  const wanted = addressesOf(ips);
  let link: LinkInfo;
  try {
    link = await getLink(ifname, opts);
  } catch (e) {
    if (e instanceof NetError && /^interface .* not found$/.test(e.detail)) return [];
    throw e;
  }
  const removed: string[] = [];
  for (const { text } of copiesOn(link, wanted)) {
    if (ipDelOutcome(await ipCommand(['addr', 'del', text, 'dev', ifname], opts.signal), ifname, text) === 'removed') removed.push(text);
  }
  return removed;
}

/** What `ip addr del CIDR dev IF` said. 'absent' when that entry (or the interface) is gone since it was read. */
function ipDelOutcome(r: ExecResult, ifname: string, cidr: string): 'removed' | 'absent' {
  if (r.code === 0) return 'removed';
  if (ALREADY_GONE.test(r.stderr) || MISSING_DEVICE.test(r.stderr)) return 'absent';
  const what = `cannot remove ${cidr} from ${ifname}`;
  if (PERMISSION.test(r.stderr)) throw new NetError(`${what}: Operation not permitted`, GRANT);
  throw new NetError(`${what}: ${ipSaid(r)}`, removeFix(ifname, cidr));
}

/** Is `ip` (plain address, or CIDR: the prefix is ignored) configured on `ifname`? */
export async function hasAddress(ifname: string, ip: string, opts: LinkOptions = {}): Promise<boolean> {
  const want = parseCidr(ip).address;
  const link = await getLink(ifname, opts);
  return link.addresses.some((a) => a.address === want);
}
