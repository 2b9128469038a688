// What the host says about one network interface: index, MAC, up/down, MTU and addresses. Read over
// rtnetlink in-process (netlink/route-socket.ts: synchronous, microseconds, no spawn); when the native
// addon is missing or netlink cannot be opened, with `ip -j addr show dev IF` (iproute2, spawned with
// argv) instead — netBackend() says which, and why, so the agent can log the fallback once.
// Errors say what to do about them.
import { readFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { execFile, ExecError, type ExecResult } from '../exec.js';
import { RouteSocket, routeSocketAvailable } from './netlink/route-socket.js';
import { linkAddressOf, linkStateOf } from './link-cache.js';

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

/** A LinkInfo with the kernel's operational state as sysfs spells it (up, down, lowerlayerdown, unknown…). */
export interface LinkState extends LinkInfo {
  operstate: string;
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

// ---------------------------------------------------------------------------------------------
// Backend: rtnetlink in-process, or `ip` as the fallback

export interface NetBackend {
  kind: 'netlink' | 'ip';
  /** Why the fallback is in use; null for netlink. */
  reason: string | null;
}

let backend: (NetBackend & { socket: RouteSocket | null }) | null = null;

function selectBackend(): NetBackend & { socket: RouteSocket | null } {
  if (backend) return backend;
  const avail = process.env.HA_AGENT_NET_BACKEND === 'ip' ? { ok: false, error: 'HA_AGENT_NET_BACKEND=ip' } : routeSocketAvailable();
  if (!avail.ok) backend = { kind: 'ip', reason: avail.error, socket: null };
  else {
    try {
      backend = { kind: 'netlink', reason: null, socket: RouteSocket.open(0) };
    } catch (e) {
      backend = { kind: 'ip', reason: `cannot open a netlink socket: ${(e as Error).message}`, socket: null };
    }
  }
  return backend;
}

/**
 * How addresses and links are read and changed in this process: 'netlink' (in-process), or 'ip'
 * (spawning iproute2) with the reason. Decided once, at first use; HA_AGENT_NET_BACKEND=ip forces 'ip'.
 */
export function netBackend(): NetBackend {
  const b = selectBackend();
  return { kind: b.kind, reason: b.reason };
}

/** The process's shared rtnetlink request socket, or null when the `ip` fallback is in use. */
export function routeSocket(): RouteSocket | null {
  return selectBackend().socket;
}

/** Runs `ip …` synchronously (the fallback of the *Sync calls: blocks the event loop for the spawn). */
export function ipCommandSync(args: readonly string[]): ExecResult {
  const r = spawnSync('ip', args, { encoding: 'utf8', timeout: IP_TIMEOUT_MS });
  if (r.error && (r.error as NodeJS.ErrnoException).code === 'ENOENT') throw new NetError('the ip command (iproute2) is not installed', INSTALL_IPROUTE2);
  return { code: r.status, signal: r.signal, stdout: r.stdout ?? '', stderr: r.stderr ?? (r.error ? r.error.message : '') };
}

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

function interfaceNames(r: ExecResult): string[] {
  if (r.code !== 0) throw new Error(`ip -j link show failed: ${ipSaid(r)}`);
  const links = JSON.parse(r.stdout || '[]') as { ifname?: string }[];
  return links.map((l) => l.ifname).filter((n): n is string => typeof n === 'string');
}

const namesOver = (sock: RouteSocket) => sock.dumpLinks().flatMap((m) => (m.name ? [m.name] : []));

/** Names of the host's interfaces, in index order. */
export async function listInterfaces(signal?: AbortSignal): Promise<string[]> {
  const sock = routeSocket();
  return sock ? namesOver(sock) : interfaceNames(await ipCommand(['-j', 'link', 'show'], signal));
}

/** listInterfaces, synchronously. */
export function listInterfacesSync(): string[] {
  const sock = routeSocket();
  return sock ? namesOver(sock) : interfaceNames(ipCommandSync(['-j', 'link', 'show']));
}

function notFoundError(ifname: string, names: string[], instanceName?: string): NetError {
  const key = `instances.${instanceName ?? '<name>'}.interface`;
  const choice = names.length ? `one of: ${names.join(', ')}` : 'an existing interface (see `ip link`)';
  return new NetError(`interface ${ifname} not found`, `set ${key} to ${choice}`);
}

/** The NetError for a missing interface, listing the ones that exist. */
export async function interfaceNotFound(ifname: string, instanceName?: string, signal?: AbortSignal): Promise<NetError> {
  return notFoundError(ifname, await listInterfaces(signal).catch(() => [] as string[]), instanceName);
}

/** interfaceNotFound, synchronously. */
export function interfaceNotFoundSync(ifname: string, instanceName?: string): NetError {
  let names: string[] = [];
  try {
    names = listInterfacesSync();
  } catch {
    // the error stays useful without the list
  }
  return notFoundError(ifname, names, instanceName);
}

interface IpAddrJson {
  ifindex: number;
  ifname: string;
  operstate?: string;
  flags?: string[];
  mtu?: number;
  address?: string;
  addr_info?: { family?: string; local?: string; prefixlen?: number; secondary?: boolean }[];
}

/** Parses one entry of `ip -j addr show` output. Exported for tests. */
export function parseIpAddrJson(entry: IpAddrJson): LinkState {
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
    operstate: (entry.operstate ?? 'unknown').toLowerCase(),
  };
}

/** The interface in `ip -j addr show dev IF` output; null when it does not exist. */
function linkFromIp(ifname: string, r: ExecResult): LinkState | null {
  if (r.code !== 0) {
    if (isMissingDevice(r)) return null;
    throw new Error(`ip -j addr show dev ${ifname} failed: ${ipSaid(r)}`);
  }
  const entries = JSON.parse(r.stdout || '[]') as IpAddrJson[];
  const entry = entries.find((e) => e.ifname === ifname) ?? entries[0];
  return entry ? parseIpAddrJson(entry) : null;
}

/** Longest interface name the kernel accepts (IFNAMSIZ - 1). */
const MAX_IFNAME = 15;

/**
 * Reads one interface synchronously: over netlink, two requests answered within the syscall (no
 * spawn, no event-loop turn); on the `ip` fallback, a blocking spawn. null when there is no such
 * interface. Throws a NetError when `ip` is needed and missing.
 */
export function getLinkSync(ifname: string): LinkState | null {
  if (!ifname || ifname.length > MAX_IFNAME || ifname.includes('/')) return null;
  const sock = routeSocket();
  if (!sock) return linkFromIp(ifname, ipCommandSync(['-j', 'addr', 'show', 'dev', ifname]));
  const link = sock.getLink(ifname);
  if (!link) return null;
  const addresses: LinkAddress[] = [];
  for (const m of sock.dumpAddresses(link.index)) {
    const a = linkAddressOf(m);
    if (a) addresses.push(a);
  }
  return linkStateOf(link, addresses);
}

/** Reads one interface. Throws a NetError (with a fix) when it does not exist or `ip` is missing. */
export async function getLink(ifname: string, opts: LinkOptions = {}): Promise<LinkState> {
  if (!ifname) throw new NetError('no interface name given', `set instances.${opts.instanceName ?? '<name>'}.interface`);
  opts.signal?.throwIfAborted();
  const link = routeSocket() ? getLinkSync(ifname) : linkFromIp(ifname, await ipCommand(['-j', 'addr', 'show', 'dev', ifname], opts.signal));
  if (!link) throw await interfaceNotFound(ifname, opts.instanceName, opts.signal);
  return link;
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
