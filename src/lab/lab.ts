// A throw-away L2 lab of network namespaces: one namespace per host, all plugged into a bridge that
// lives in a namespace of its own. Used by `ha-agent demo` and by the netns test suites.
//
// Safety rules, enforced here rather than trusted to callers:
// - only 198.51.100.0/24 is ever configured (RFC 5737 TEST-NET-2; the machines here live on 192.0.2.0/24),
//   and 2001:db8::/32 (RFC 3849) when the lab is created with { ipv6: true };
// - commands run only inside namespaces this lab created (`ip netns exec <ours> …`), never on the host;
// - the file system is the host's: an `ha-agent run` must name its pid file in a temp dir, never the
//   default /run/ha-agent.pid (host-paths.ts; refused before it starts);
// - every namespace is deleted on destroy(), on process exit and on SIGINT/SIGTERM, and namespaces left
//   by a dead earlier run are swept by sweepStaleLabs().
import { spawn, spawnSync, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { existsSync } from 'node:fs';
import { execFile, run, type ExecOptions, type ExecResult } from '../exec.js';
import { assertLabRunArgv } from './host-paths.js';

export const LAB_NET = '198.51.100';
export const LAB_PREFIX_LEN = 24;
const NS_PREFIX = 'hal';

export interface LabNodeSpec {
  /** Short name (letters/digits, at most 8 characters): ha1, ha2, client… */
  name: string;
  /** Last octet of the node's address in 198.51.100.0/24. */
  octet: number;
}

export interface LabNode {
  name: string;
  ns: string;
  ifname: string;
  ip: string;
  cidr: string;
  mac: string;
  /** The veth peer's name inside the bridge namespace (down = cable pulled). */
  bridgePort: string;
  /** With LabOptions.ipv6: its global address 2001:db8::<octet> (its link-local comes from the MAC). */
  ip6?: string;
}

export interface LabOptions {
  /**
   * Enable IPv6 in the lab's own namespaces (never the host's): no DAD (accept_dad 0, addresses
   * usable at once), no router solicitations or RAs, and each node gets 2001:db8::<octet>/64 beside
   * its link-local address. Off by default: no IPv6 chatter (DAD, RS, MLD) in IPv4 captures.
   */
  ipv6?: boolean;
}

/** A node's lab IPv6 address: 2001:db8::<octet written in decimal digits>. */
export function labIpv6(octet: number): string {
  return `2001:db8::${octet}`;
}

/** Throws unless `ip` is an address the labs may use (198.51.100.0/24, or 2001:db8::/32). */
export function assertLabAddress(ip: string): void {
  const addr = ip.split('/')[0] ?? '';
  const v4 = /^198\.51\.100\.(\d{1,3})$/.exec(addr);
  if (v4 && Number(v4[1]) <= 255) return;
  if (/^2001:0?db8:/i.test(addr)) return;
  throw new Error(`lab safety: ${ip} is outside 198.51.100.0/24 and 2001:db8::/32; labs never use other addresses`);
}

function macFor(octet: number): string {
  return `02:00:c6:33:64:${octet.toString(16).padStart(2, '0')}`;
}

const live = new Set<Lab>();
let counter = 0;
let hooksInstalled = false;

function installExitHooks(): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  process.on('exit', () => {
    for (const lab of live) lab.destroySync();
  });
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(sig, () => {
      for (const lab of live) lab.destroySync();
      process.exit(sig === 'SIGINT' ? 130 : 143);
    });
  }
}

/** Deletes namespaces left behind by lab owners that no longer run (a crashed test, a killed demo). */
export function sweepStaleLabs(): string[] {
  const r = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' });
  const removed: string[] = [];
  for (const line of (r.stdout ?? '').split('\n')) {
    const ns = line.split(' ')[0] ?? '';
    const m = new RegExp(`^${NS_PREFIX}(\\d+)x\\d+-`).exec(ns);
    if (!m) continue;
    const pid = Number(m[1]);
    if (pid !== process.pid && existsSync(`/proc/${pid}`)) continue;
    if (pid === process.pid && [...live].some((l) => ns.startsWith(l.id + '-'))) continue;
    spawnSync('ip', ['netns', 'del', ns]);
    removed.push(ns);
  }
  return removed;
}

export class Lab {
  readonly id: string;
  readonly bridgeNs: string;
  readonly nodes = new Map<string, LabNode>();
  private readonly namespaces: string[] = [];
  private readonly children = new Set<ChildProcess>();
  private destroyed = false;

  private constructor(
    id: string,
    private readonly opts: LabOptions = {},
  ) {
    this.id = id;
    this.bridgeNs = `${id}-br`;
  }

  /** Builds the bridge namespace and one namespace per node, each with eth0 on the bridge. */
  static async create(specs: LabNodeSpec[], opts: LabOptions = {}): Promise<Lab> {
    if (process.getuid?.() !== 0) throw new Error('the lab needs root (network namespaces): run as root');
    const lab = new Lab(`${NS_PREFIX}${process.pid}x${counter++}`, opts);
    installExitHooks();
    live.add(lab);
    try {
      await lab.addNamespace(lab.bridgeNs);
      await run(['ip', '-n', lab.bridgeNs, 'link', 'add', 'br0', 'type', 'bridge', 'mcast_snooping', '0']);
      await run(['ip', '-n', lab.bridgeNs, 'link', 'set', 'br0', 'up']);
      for (const spec of specs) await lab.addNode(spec);
    } catch (e) {
      await lab.destroy();
      throw e;
    }
    return lab;
  }

  private async addNamespace(ns: string): Promise<void> {
    await run(['ip', 'netns', 'add', ns]);
    this.namespaces.push(ns);
    await run(['ip', '-n', ns, 'link', 'set', 'lo', 'up']);
    if (this.opts.ipv6) {
      // IPv6 on (this namespace only), set before any interface exists so `default` applies to eth0.
      const v6 = ['all.disable_ipv6=0', 'default.disable_ipv6=0', 'all.accept_dad=0', 'default.accept_dad=0', 'default.accept_ra=0', 'default.router_solicitations=0'];
      await run(['ip', 'netns', 'exec', ns, 'sysctl', '-qw', ...v6.map((k) => `net.ipv6.conf.${k}`)]);
      return;
    }
    // No IPv6 chatter (DAD, router solicitations, MLD) in captures.
    await run(['ip', 'netns', 'exec', ns, 'sysctl', '-qw', 'net.ipv6.conf.all.disable_ipv6=1']);
    await run(['ip', 'netns', 'exec', ns, 'sysctl', '-qw', 'net.ipv6.conf.default.disable_ipv6=1']);
  }

  private async addNode(spec: LabNodeSpec): Promise<LabNode> {
    if (!/^[a-z][a-z0-9]{0,7}$/.test(spec.name)) throw new Error(`lab: bad node name ${spec.name}`);
    if (this.nodes.has(spec.name)) throw new Error(`lab: duplicate node ${spec.name}`);
    if (!(spec.octet >= 1 && spec.octet <= 254)) throw new Error(`lab: octet ${spec.octet} out of 1..254`);
    const ip = `${LAB_NET}.${spec.octet}`;
    assertLabAddress(ip);
    const node: LabNode = {
      name: spec.name,
      ns: `${this.id}-${spec.name}`,
      ifname: 'eth0',
      ip,
      cidr: `${ip}/${LAB_PREFIX_LEN}`,
      mac: macFor(spec.octet),
      bridgePort: `p-${spec.name}`,
    };
    await this.addNamespace(node.ns);
    await run(['ip', '-n', node.ns, 'link', 'add', 'eth0', 'address', node.mac, 'type', 'veth', 'peer', 'name', node.bridgePort, 'netns', this.bridgeNs]);
    await run(['ip', '-n', this.bridgeNs, 'link', 'set', node.bridgePort, 'master', 'br0', 'up']);
    await run(['ip', '-n', node.ns, 'addr', 'add', node.cidr, 'dev', 'eth0']);
    if (this.opts.ipv6) {
      node.ip6 = labIpv6(spec.octet);
      assertLabAddress(node.ip6);
      await run(['ip', '-n', node.ns, 'addr', 'add', `${node.ip6}/64`, 'dev', 'eth0', 'nodad']);
    }
    await run(['ip', '-n', node.ns, 'link', 'set', 'eth0', 'up']);
    this.nodes.set(spec.name, node);
    return node;
  }

  node(name: string): LabNode {
    const n = this.nodes.get(name);
    if (!n) throw new Error(`lab: no node ${name}`);
    return n;
  }

  /** The namespace to run argv in (refusing other namespaces, and an agent that would write host paths: host-paths.ts). */
  private nsOf(target: string, argv: readonly string[] = []): string {
    assertLabRunArgv(argv);
    const ns = this.nodes.get(target)?.ns ?? target;
    if (!this.namespaces.includes(ns)) throw new Error(`lab safety: ${target} is not a namespace of this lab; refusing to run there`);
    if (this.destroyed) throw new Error('lab: already destroyed');
    return ns;
  }

  /** Runs argv inside a node's (or the bridge's) namespace and returns the result, whatever the exit code. */
  exec(target: string, argv: readonly string[], opts?: ExecOptions): Promise<ExecResult> {
    return execFile(['ip', 'netns', 'exec', this.nsOf(target, argv), ...argv], opts);
  }

  /** Like exec, but rejects on a non-zero exit. */
  run(target: string, argv: readonly string[], opts?: ExecOptions): Promise<string> {
    return run(['ip', 'netns', 'exec', this.nsOf(target, argv), ...argv], opts);
  }

  /** Starts a long-running process inside a namespace; it is killed on destroy(). */
  spawn(target: string, argv: readonly string[], opts: SpawnOptions = {}): ChildProcess {
    const child = spawn('ip', ['netns', 'exec', this.nsOf(target, argv), ...argv], { stdio: ['ignore', 'pipe', 'pipe'], ...opts });
    this.children.add(child);
    child.on('exit', () => this.children.delete(child));
    child.on('error', () => this.children.delete(child));
    return child;
  }

  /** Pulls (or plugs back) a node's cable: its bridge port goes down (up). */
  async setLink(name: string, up: boolean): Promise<void> {
    await run(['ip', '-n', this.bridgeNs, 'link', 'set', this.node(name).bridgePort, up ? 'up' : 'down']);
  }

  /** Which node's MAC does `from` resolve `ip` to? (pings once, then reads the neighbour table). */
  async resolveMac(from: string, ip: string): Promise<string | null> {
    assertLabAddress(ip);
    await this.exec(from, ['ping', '-c', '1', '-W', '1', ip]);
    const r = await this.exec(from, ['ip', '-j', 'neigh', 'show', ip]);
    try {
      const entries = JSON.parse(r.stdout || '[]') as { lladdr?: string; state?: string[] }[];
      return entries.find((e) => e.lladdr)?.lladdr ?? null;
    } catch {
      return null;
    }
  }

  /** Forgets `ip` in `from`'s neighbour table, so the next resolveMac asks the network again. */
  async flushNeighbour(from: string, ip: string): Promise<void> {
    await this.exec(from, ['ip', 'neigh', 'flush', 'to', ip]);
  }

  /** Which node `from` reaches for `ip` right now: forget the neighbour entry, ask by ARP, map the MAC. */
  async whoAnswers(from: string, ip: string): Promise<string | null> {
    await this.flushNeighbour(from, ip);
    return this.nodeByMac(await this.resolveMac(from, ip));
  }

  /** Names of the nodes that have `ip` (a bare address or "a.b.c.d/len") configured on their interface. */
  async holdersOf(ip: string): Promise<string[]> {
    const want = ip.split('/')[0];
    const holders: string[] = [];
    for (const node of this.nodes.values()) {
      const r = await this.exec(node.name, ['ip', '-j', 'addr', 'show', 'dev', node.ifname]);
      const links = JSON.parse(r.stdout || '[]') as { addr_info?: { local?: string }[] }[];
      if (links.some((l) => l.addr_info?.some((a) => a.local === want))) holders.push(node.name);
    }
    return holders;
  }

  /** The node that owns a MAC, by name. */
  nodeByMac(mac: string | null): string | null {
    for (const n of this.nodes.values()) if (n.mac === mac?.toLowerCase()) return n.name;
    return null;
  }

  async destroy(): Promise<void> {
    if (this.destroyed) return;
    for (const c of this.children) c.kill('SIGKILL');
    await Promise.all(
      [...this.children].map((c) => new Promise<void>((res) => (c.exitCode !== null || c.signalCode !== null ? res() : c.once('exit', () => res())))),
    );
    this.destroyed = true;
    const failed: string[] = [];
    for (const ns of [...this.namespaces].reverse()) {
      const r = await execFile(['ip', 'netns', 'del', ns]);
      if (r.code !== 0) failed.push(`${ns}: ${r.stderr.trim()}`);
    }
    live.delete(this);
    if (failed.length) throw new Error(`lab: could not delete namespaces: ${failed.join('; ')}`);
  }

  /** Synchronous teardown for exit hooks. */
  destroySync(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    for (const c of this.children) c.kill('SIGKILL');
    for (const ns of this.namespaces.reverse()) spawnSync('ip', ['netns', 'del', ns]);
    live.delete(this);
  }
}
