// What the host says about one network interface: index, MAC, up/down, MTU and addresses, read with
// `ip -j addr show dev IF` (iproute2, spawned with argv). Errors say what to do about them.
import { readFileSync } from 'node:fs';
import { execFile, ExecError, type ExecResult } from '../exec.js';

export interface LinkAddress {
  address: string;
  prefixLen: number;
  /** The kernel's "secondary" flag: a further address inside a subnet the interface already has. */
  secondary: boolean;
  family: 4 | 6;
}

export interface LinkInfo {
  name: string;
  index: number;
  mac: string;
  /** Administratively up (UP) and with carrier (LOWER_UP). */
  up: boolean;
  mtu: number;
  /** The kernel's flags as `ip` prints them: UP, LOWER_UP, BROADCAST, NOARP, … */
  flags: string[];
  addresses: LinkAddress[];
}

/** An error with a one-line description and, separately, what the user should do about it. */
export class NetError extends Error {
  constructor(
    readonly detail: string,
    readonly fix: string,
  ) {
    super(`${detail} — fix: ${fix}`);
    this.name = 'NetError';
  }
}

export interface LinkOptions {
  signal?: AbortSignal;
  /** Instance name, to point the user at the right config key in errors. */
  instanceName?: string;
}

const IP_TIMEOUT_MS = 5_000;
export const INSTALL_IPROUTE2 = 'install iproute2 (apt-get install iproute2)';

/** Runs `ip …`; turns "ip is not installed" into a NetError. Resolves whatever the exit code. */
export async function ipCommand(args: readonly string[], signal?: AbortSignal): Promise<ExecResult> {
  try {
    return await execFile(['ip', ...args], { timeoutMs: IP_TIMEOUT_MS, ...(signal ? { signal } : {}) });
  } catch (e) {
    if (e instanceof ExecError && /not found/.test(e.message) && !e.result) throw new NetError('the ip command (iproute2) is not installed', INSTALL_IPROUTE2);
    throw e;
  }
}

/** Last line(s) of what `ip` said, for error messages. */
export function ipSaid(r: ExecResult): string {
  return (r.stderr || r.stdout).trim().split('\n').slice(-2).join(' | ') || `exit code ${r.code ?? r.signal}`;
}

function isMissingDevice(r: ExecResult): boolean {
  return /does not exist|Cannot find device/i.test(r.stderr);
}

/** Names of the host's interfaces, in index order. */
export async function listInterfaces(signal?: AbortSignal): Promise<string[]> {
  const r = await ipCommand(['-j', 'link', 'show'], signal);
  if (r.code !== 0) throw new Error(`ip -j link show failed: ${ipSaid(r)}`);
  const links = JSON.parse(r.stdout || '[]') as { ifname?: string }[];
  return links.map((l) => l.ifname).filter((n): n is string => typeof n === 'string');
}

/** The NetError for a missing interface, listing the ones that exist. */
export async function interfaceNotFound(ifname: string, instanceName?: string, signal?: AbortSignal): Promise<NetError> {
  const names = await listInterfaces(signal).catch(() => [] as string[]);
  const key = `instances.${instanceName ?? '<name>'}.interface`;
  const choice = names.length ? `one of: ${names.join(', ')}` : 'an existing interface (see `ip link`)';
  return new NetError(`interface ${ifname} not found`, `set ${key} to ${choice}`);
}

interface IpAddrJson {
  ifindex: number;
  ifname: string;
  flags?: string[];
  mtu?: number;
  address?: string;
  addr_info?: { family?: string; local?: string; prefixlen?: number; secondary?: boolean }[];
}

/** Parses one entry of `ip -j addr show` output. Exported for tests. */
export function parseIpAddrJson(entry: IpAddrJson): LinkInfo {
  const flags = entry.flags ?? [];
  const addresses: LinkAddress[] = [];
  for (const a of entry.addr_info ?? []) {
    if (!a.local || (a.family !== 'inet' && a.family !== 'inet6')) continue;
    addresses.push({ address: a.local, prefixLen: a.prefixlen ?? (a.family === 'inet' ? 32 : 128), secondary: a.secondary === true, family: a.family === 'inet' ? 4 : 6 });
  }
  return {
    name: entry.ifname,
    index: entry.ifindex,
    mac: (entry.address ?? '').toLowerCase(),
    up: flags.includes('UP') && flags.includes('LOWER_UP'),
    mtu: entry.mtu ?? 0,
    flags,
    addresses,
  };
}

/** Reads one interface. Throws a NetError (with a fix) when it does not exist or `ip` is missing. */
export async function getLink(ifname: string, opts: LinkOptions = {}): Promise<LinkInfo> {
  if (!ifname) throw new NetError('no interface name given', `set instances.${opts.instanceName ?? '<name>'}.interface`);
  const r = await ipCommand(['-j', 'addr', 'show', 'dev', ifname], opts.signal);
  if (r.code !== 0) {
    if (isMissingDevice(r)) throw await interfaceNotFound(ifname, opts.instanceName, opts.signal);
    throw new Error(`ip -j addr show dev ${ifname} failed: ${ipSaid(r)}`);
  }
  const entries = JSON.parse(r.stdout || '[]') as IpAddrJson[];
  const entry = entries.find((e) => e.ifname === ifname) ?? entries[0];
  if (!entry) throw await interfaceNotFound(ifname, opts.instanceName, opts.signal);
  return parseIpAddrJson(entry);
}

/**
 * The interface's primary IPv4 address (the first one that is not "secondary"), which is what the
 * kernel and keepalived use as the VRRP source. Addresses in `exclude` (our VIPs, plain or CIDR) are
 * skipped, so a VIP added as its own /32 is never mistaken for the host's address.
 */
export function primaryIPv4(link: LinkInfo, exclude: readonly string[] = []): string | null {
  const skip = new Set(exclude.map((x) => x.split('/')[0]));
  return link.addresses.find((a) => a.family === 4 && !a.secondary && !skip.has(a.address))?.address ?? null;
}

/** IFF_NOARP in /sys/class/net/IF/flags. */
const IFF_NOARP = 0x80;

/**
 * The interface's MAC and NOARP flag straight from sysfs: synchronous and spawn-free, for the hot
 * path of taking over (the GARP must follow the advert at once). null when the interface is gone.
 */
export function readLinkLayer(ifname: string): { mac: string; noarp: boolean } | null {
  const mac = readSysfs(ifname, 'address');
  const flags = readSysfs(ifname, 'flags');
  return mac === null || flags === null ? null : { mac, noarp: (parseInt(flags, 16) & IFF_NOARP) !== 0 };
}

/** One attribute of /sys/class/net/IF (operstate, ifindex, address, flags…), or null when the interface is gone. */
export function readSysfs(ifname: string, key: string): string | null {
  try {
    return readFileSync(`/sys/class/net/${ifname}/${key}`, 'utf8').trim();
  } catch {
    return null;
  }
}
