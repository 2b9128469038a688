// Adds and removes VIPs on an interface with `ip addr add/del … dev IF`, idempotently: adding an
// address that is there, or removing one that is gone, is success. Like keepalived, a VIP is added
// with its configured prefix length (default /32, or /128 for IPv6, where DAD is skipped: `nodad`).
// Removing takes off every copy of the address whatever its prefix: the kernel only deletes an exact
// address/prefix match and answers "not found" for the same address under another prefix (a stale
// /32 left by keepalived's default while the config says /24 would otherwise stay, unnoticed).
import { isIPv6 } from 'node:net';
import { getLink, interfaceNotFound, ipCommand, ipSaid, NetError, type LinkInfo, type LinkOptions } from './link.js';

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

/** Puts `cidr` on `ifname`. Resolves 'present' when it was already there. */
export async function addAddress(ifname: string, cidr: string, opts: LinkOptions = {}): Promise<'added' | 'present'> {
  const c = parseCidr(cidr);
  const args = ['addr', 'add', c.cidr, 'dev', ifname, ...(c.family === 6 ? ['nodad'] : [])];
  const r = await ipCommand(args, opts.signal);
  if (r.code === 0) return 'added';
  if (ALREADY_THERE.test(r.stderr)) return 'present';
  const what = `cannot add ${c.cidr} to ${ifname}`;
  if (PERMISSION.test(r.stderr)) throw new NetError(`${what}: Operation not permitted`, 'run as root or grant CAP_NET_ADMIN');
  if (MISSING_DEVICE.test(r.stderr)) throw await interfaceNotFound(ifname, opts.instanceName, opts.signal);
  throw new NetError(`${what}: ${ipSaid(r)}`, `check instances.${opts.instanceName ?? '<name>'}.vips and the interface (ip addr show dev ${ifname})`);
}

/**
 * Takes every copy of `ip` off `ifname`, whatever its prefix (the prefix written in `ip`, if any, is
 * ignored). Resolves 'absent' when none was there, or when the interface itself is gone (an address
 * cannot outlive its interface).
 */
export async function removeAddress(ifname: string, ip: string, opts: LinkOptions = {}): Promise<'removed' | 'absent'> {
  return (await removeAddresses(ifname, [ip], opts)).length > 0 ? 'removed' : 'absent';
}

/**
 * Takes every copy of each address in `ips` (plain or CIDR; prefixes ignored) off `ifname`: reads the
 * interface once, then deletes each matching entry with its own prefix. Resolves with the CIDRs
 * actually removed, [] when none was there or the interface is gone.
 */
export async function removeAddresses(ifname: string, ips: readonly string[], opts: LinkOptions = {}): Promise<string[]> {
  const wanted = new Set(ips.map((ip) => parseCidr(ip).address));
  let link: LinkInfo;
  try {
    link = await getLink(ifname, opts);
  } catch (e) {
    if (e instanceof NetError && /^interface .* not found$/.test(e.detail)) return [];
    throw e;
  }
  const removed: string[] = [];
  for (const a of link.addresses) {
    if (!wanted.has(a.address)) continue;
    const cidr = `${a.address}/${a.prefixLen}`;
    if ((await deleteExact(ifname, cidr, opts)) === 'removed') removed.push(cidr);
  }
  return removed;
}

/** `ip addr del CIDR dev IF`: exact address and prefix. 'absent' when that entry (or the interface) is gone. */
async function deleteExact(ifname: string, cidr: string, opts: LinkOptions): Promise<'removed' | 'absent'> {
  const r = await ipCommand(['addr', 'del', cidr, 'dev', ifname], opts.signal);
  if (r.code === 0) return 'removed';
  if (ALREADY_GONE.test(r.stderr) || MISSING_DEVICE.test(r.stderr)) return 'absent'; // went away since we read the interface
  const what = `cannot remove ${cidr} from ${ifname}`;
  if (PERMISSION.test(r.stderr)) throw new NetError(`${what}: Operation not permitted`, 'run as root or grant CAP_NET_ADMIN');
  throw new NetError(`${what}: ${ipSaid(r)}`, `remove it by hand (ip addr del ${cidr} dev ${ifname}) and check the interface`);
}

/** Is `ip` (plain address, or CIDR: the prefix is ignored) configured on `ifname`? */
export async function hasAddress(ifname: string, ip: string, opts: LinkOptions = {}): Promise<boolean> {
  const want = parseCidr(ip).address;
  const link = await getLink(ifname, opts);
  return link.addresses.some((a) => a.address === want);
}
