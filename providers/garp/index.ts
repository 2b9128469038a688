// The bare-metal provider: the VIPs go on the instance's interface (with their configured prefix, as
// keepalived; release takes off every copy, whatever its prefix) and gratuitous ARPs tell the segment
// where they now live (keepalived's schedule: a burst at once, a second one after `delay`, optional
// refreshes).
//
// verify() answers per VIP from the interface: 'held' when the address is on it, 'not-held' when it
// is not (or the interface is gone), 'unknown' for a VIP that is not an address. The runner decides
// what a partial set means. verifyMany() reads each interface once for all the instances on it.
//
// Errors are ProviderErrors: no permission → permanent (run as root or grant CAP_NET_ADMIN); the
// interface missing → permanent (with the interfaces that do exist); a VIP that is not an address →
// permanent; anything else → retryable.
import type { LocalTakeover, PreflightCheck, ProviderContext, ProviderModule, ProviderTiming, VipOwnership, VipProvider } from '../../src/provider/types.js';
import { permanent, ProviderError, retryable } from '../../src/provider/errors.js';
import { getLink, INSTALL_IPROUTE2, NetError, readLinkLayer, type LinkInfo } from '../../src/net/link.js';
import { addAddress, parseCidr, removeAddresses, type Cidr } from '../../src/net/address.js';
import { sharedLinkAnnouncer, type LinkAnnouncer } from '../../src/net/announcer.js';
import { addressRequest } from '../../src/net/netlink/message.js';
import { buildGratuitousArp } from '../../src/net/arp.js';
import { GarpSchedule, KEEPALIVED_GARP_DEFAULTS, type GarpSettings, type TimerApi } from '../../src/net/garp.js';
import { garpPreflight } from './preflight.js';

export type { GarpSettings } from '../../src/net/garp.js';

/** The garp provider's block of the config (`provider:`): nothing but its type. */
export interface GarpProviderConfig {
  type: 'garp';
}

/**
 * Local and fast: a 5 s deadline, no confirm wait, FAULT after 3 s without the VIPs. A VIP taken off
 * the interface (or put on it by someone else) is seen at once through the agent's netlink view
 * (watch()), so the periodic verify is only a safety net: every 60 s.
 */
export const GARP_TIMING: Readonly<ProviderTiming> = Object.freeze({
  operationTimeoutMs: 5_000,
  confirmTimeoutMs: 0,
  reconcileMs: 60_000,
  backoffBaseMs: 500,
  backoffMaxMs: 30_000,
  faultAfterMs: 3_000,
});

export const GRANT_NET_ADMIN = 'run as root or grant CAP_NET_ADMIN (systemd: AmbientCapabilities=CAP_NET_ADMIN CAP_NET_RAW; container: --cap-add NET_RAW --cap-add NET_ADMIN)';

/** Seams for tests: a recording announcer, fake timers. */
export interface GarpProviderDeps {
  announcer?: LinkAnnouncer;
  timers?: TimerApi;
}

/** The provider for one instance; the GARP schedule comes from ctx.garp. */
export function createGarpProvider(ctx: ProviderContext, deps: GarpProviderDeps = {}): VipProvider {
  return new GarpProvider(ctx, { ...KEEPALIVED_GARP_DEFAULTS, ...ctx.garp }, deps);
}

const garpModule: ProviderModule<GarpProviderConfig> = {
  type: 'garp',
  timing: GARP_TIMING,
  rateLimit: { perSecond: Infinity, burst: Infinity },
  create: (ctx) => createGarpProvider(ctx),
  verifyMany: (providers, signal) => verifyMany(providers, signal),
};
export default garpModule;

/** One read of each interface answers every garp provider on it. */
async function verifyMany(providers: readonly VipProvider[], signal: AbortSignal): Promise<Map<VipProvider, VipOwnership>> {
  const byInterface = new Map<string, GarpProvider[]>();
  for (const p of providers) {
    if (!(p instanceof GarpProvider)) continue; // not ours: the runner falls back to its own verify()
    const list = byInterface.get(p.interfaceName) ?? [];
    list.push(p);
    byInterface.set(p.interfaceName, list);
  }
  const out = new Map<VipProvider, VipOwnership>();
  await Promise.all(
    [...byInterface].map(async ([, list]) => {
      const present = addressesOn(await list[0]!.readLink(signal));
      for (const p of list) out.set(p, p.ownershipOn(present));
    }),
  );
  return out;
}

class GarpProvider implements VipProvider {
  readonly type = 'garp';
  /** The configured VIPs that parse, each with its text as configured (the key of VipOwnership). */
  private readonly cidrs: (Cidr & { text: string })[] = [];
  private readonly badVips: string[] = [];
  private readonly announcer: LinkAnnouncer;
  /** The interface's MAC and NOARP flag as last seen (null: unknown, read at the next acquire). */
  private linkLayer: { mac: string; noarp: boolean } | null;
  private schedule: GarpSchedule | null = null;
  private scheduleMac = '';
  /** Stops watching the interface (watch()). */
  private unwatch: (() => void) | null = null;
  /** GARPs per VIP the takeover fast path sent (takeoverDone()), counted in the next first burst. */
  private fastGarps = 0;

  constructor(
    private readonly ctx: ProviderContext,
    private readonly settings: GarpSettings,
    private readonly deps: GarpProviderDeps,
  ) {
    for (const vip of ctx.vips) {
      try {
        this.cidrs.push({ ...parseCidr(vip), text: vip });
      } catch {
        this.badVips.push(vip);
      }
    }
    // Ready before any takeover: the sender (and its socket on our interface) opens now, and the MAC is
    // known, so nothing but the send itself stands between the address and the first GARP.
    this.announcer = deps.announcer ?? sharedLinkAnnouncer(ctx.log);
    this.announcer.prepare?.(ctx.interface);
    this.linkLayer = readLinkLayer(ctx.interface);
  }

  private get opts() {
    return { instanceName: this.ctx.instanceName };
  }

  get interfaceName(): string {
    return this.ctx.interface;
  }

  private checkVips(): void {
    if (this.badVips.length)
      throw permanent(`not an address or address/prefix: ${this.badVips.join(', ')}`, `correct instances.${this.ctx.instanceName}.vips`, { code: 'EINVAL' });
  }

  acquire(signal: AbortSignal): Promise<void> {
    return classified(signal, () => this.doAcquire(signal));
  }

  release(signal: AbortSignal): Promise<void> {
    return classified(signal, () => this.doRelease(signal));
  }

  verify(signal: AbortSignal): Promise<VipOwnership> {
    return classified(signal, async () => this.ownershipOn(addressesOn(await this.readLink(signal))));
  }

  /** The interface as it is now; null when it does not exist (then no VIP is on it). */
  async readLink(signal: AbortSignal): Promise<LinkInfo | null> {
    signal.throwIfAborted();
    if (this.ctx.links) return this.ctx.links.link(this.ctx.interface); // the agent's netlink-fed view: no syscall
    try {
      return await getLink(this.ctx.interface, { ...this.opts, signal });
    } catch (e) {
      if (interfaceMissing(e)) return null;
      throw toProviderError(e);
    }
  }

  /** Per configured VIP: among `present` or not ('unknown' for one that is not an address). */
  ownershipOn(present: ReadonlySet<string> | null): VipOwnership {
    const out: VipOwnership = {};
    for (const vip of this.badVips) out[vip] = 'unknown'; // reported by acquire() as a permanent error
    for (const c of this.cidrs) out[c.text] = present !== null && present.has(c.address) ? 'held' : 'not-held';
    return out;
  }

  private async doAcquire(signal: AbortSignal): Promise<void> {
    signal.throwIfAborted();
    this.checkVips();
    const ifname = this.ctx.interface;
    const added: string[] = [];
    for (const c of this.cidrs) if ((await addAddress(ifname, c.cidr, { ...this.opts, signal })) === 'added') added.push(c.cidr);
    signal.throwIfAborted();
    // Announce at once with the link layer we know (read when we were made, refreshed by every
    // confirmation below): nothing between the address and the first GARP but the send. Log after.
    const fast = this.linkLayer ?? (this.linkLayer = readLinkLayer(ifname));
    if (fast) this.startAnnouncing(ifname, fast.mac, fast.noarp);
    for (const vip of added) this.ctx.log.info({ vip, interface: ifname }, 'VIP added');
    // The kernel's answer to each add ('added', or 'present' for EEXIST) is the confirmation: no
    // second read of the interface (with 200 instances that would be 200 dumps of 200 addresses).
    // Reconcile's verify() notices an address taken away later. The link layer is re-read (sysfs) in
    // case the interface was re-created with another MAC since we last looked.
    const now = readLinkLayer(ifname);
    if (!now) {
      this.stopAnnouncing();
      throw retryable(`interface ${ifname} disappeared while the VIPs were added`, { fix: `check the interface (ip link show ${ifname})` });
    }
    this.linkLayer = now;
    signal.throwIfAborted();
    if (!fast || fast.mac !== now.mac || fast.noarp !== now.noarp) this.startAnnouncing(ifname, now.mac, now.noarp);
  }

  private async doRelease(signal: AbortSignal): Promise<void> {
    this.stopAnnouncing(); // first, and even when aborted: never announce what we are giving up
    this.fastGarps = 0;
    signal.throwIfAborted();
    // Every copy of each VIP address goes, whatever its prefix: a stale /32 (keepalived's default)
    // under a /24 config must not stay behind, answering ARP on a backup.
    const ifname = this.ctx.interface;
    const configured = new Set(this.cidrs.map((c) => c.cidr));
    for (const cidr of await removeAddresses(ifname, this.cidrs.map((c) => c.cidr), { ...this.opts, signal })) {
      if (configured.has(cidr)) this.ctx.log.info({ vip: cidr, interface: ifname }, 'VIP removed');
      else this.ctx.log.warn({ vip: cidr, interface: ifname }, 'removed a copy of a VIP whose prefix differs from the configured one');
    }
  }

  preflight(): AsyncIterable<PreflightCheck> {
    return garpPreflight(this.ctx);
  }

  /** The agent's netlink view tells us when the interface's addresses change: recheck when ours did. */
  watch(recheck: () => void): void {
    const links = this.ctx.links;
    if (!links || this.unwatch) return;
    let seen = this.presence(links.link(this.ctx.interface));
    this.unwatch = links.watchInterface(this.ctx.interface, () => {
      const now = this.presence(links.link(this.ctx.interface));
      if (now === seen) return;
      seen = now;
      recheck();
    });
  }

  /** Which of our VIPs are on the interface, as a string of 0/1 (one per VIP); '' when it is gone. */
  private presence(link: LinkInfo | null): string {
    if (!link) return '';
    const present = addressesOn(link)!;
    let out = '';
    for (const c of this.cidrs) out += present.has(c.address) ? '1' : '0';
    return out;
  }

  /**
   * acquire() as bytes for the election's fast path (vrrp/offload.ts): RTM_NEWADDR per VIP, then one
   * gratuitous ARP per VIP (the first of the burst acquire() starts; NOARP or garp repeat 0: none).
   * Only for IPv4 VIPs on an interface the agent's netlink view knows, with its MAC known.
   */
  takeover(): LocalTakeover | null {
    const link = this.ctx.links?.link(this.ctx.interface);
    const ll = this.linkLayer;
    if (!link || !ll || this.badVips.length > 0 || this.cidrs.some((c) => c.family !== 4)) return null;
    const announce = !ll.noarp && this.settings.repeat > 0;
    return {
      ifindex: link.index,
      netlink: this.cidrs.map((c) => addressRequest(0, 'add', { index: link.index, family: 4, address: c.address, prefixLen: c.prefixLen })),
      frames: announce ? this.cidrs.map((c) => buildGratuitousArp(ll.mac, c.address)) : [],
    };
  }

  takeoverDone(): void {
    const ll = this.linkLayer;
    this.fastGarps = ll && !ll.noarp && this.settings.repeat > 0 ? 1 : 0;
  }

  announce(reason: 'lower-priority' | 'refresh'): void {
    try {
      if (this.schedule?.running) void this.schedule.burst(reason);
    } catch (e) {
      this.ctx.log.warn({ err: (e as Error).message, reason }, 'gratuitous ARP re-announce failed');
    }
  }

  close(): void {
    this.unwatch?.();
    this.unwatch = null;
    this.stopAnnouncing();
    if (this.deps.announcer) this.deps.announcer.close(); // the shared one stays open for the other instances
  }

  /** Starts the GARP schedule, or (already running for this MAC) sends one more burst. */
  private startAnnouncing(ifname: string, mac: string, noarp: boolean): void {
    const vips = this.cidrs.map((c) => c.address); // IPv6 VIPs get unsolicited NAs on the same schedule (announcer.ts)
    if (vips.length === 0) return;
    if (noarp) {
      this.ctx.log.info({ interface: ifname }, 'interface has NOARP: no gratuitous ARP sent (as keepalived)');
      return;
    }
    if (this.schedule?.running && this.scheduleMac === mac) {
      void this.schedule.burst('reacquire');
      return;
    }
    this.stopAnnouncing();
    this.scheduleMac = mac;
    this.schedule = new GarpSchedule({
      announcer: this.announcer,
      ifname,
      mac,
      vips,
      settings: this.settings,
      log: this.ctx.log,
      ...(this.deps.timers ? { timers: this.deps.timers } : {}),
    });
    this.schedule.start(this.fastGarps);
    this.fastGarps = 0;
  }

  private stopAnnouncing(): void {
    this.schedule?.stop();
    this.schedule = null;
  }
}

/** The addresses on the interface (null: it does not exist, so no VIP is on it). */
function addressesOn(link: LinkInfo | null): ReadonlySet<string> | null {
  return link === null ? null : new Set(link.addresses.map((a) => a.address));
}

const MISSING_INTERFACE = /^interface .* not found|does not exist|cannot find device|no such device|ENODEV/i;
const NO_PERMISSION = /not permitted|permission denied|EPERM|EACCES/i;

function interfaceMissing(e: unknown): boolean {
  return e instanceof NetError && MISSING_INTERFACE.test(e.detail);
}

/** Anything a garp operation throws, as a ProviderError with a class and a fix (see the header). */
export function toProviderError(e: unknown): ProviderError {
  if (e instanceof ProviderError) return e;
  const err = e instanceof Error ? e : new Error(String(e));
  const detail = err instanceof NetError ? err.detail : err.message;
  const fix = err instanceof NetError ? err.fix : null;
  const code = typeof (err as NodeJS.ErrnoException).code === 'string' ? (err as NodeJS.ErrnoException).code! : null;
  if (code === 'EPERM' || code === 'EACCES' || NO_PERMISSION.test(detail)) return permanent(detail, GRANT_NET_ADMIN, { code: code ?? 'EPERM', cause: e });
  if (interfaceMissing(err)) return permanent(detail, fix ?? 'set instances.<name>.interface to an existing interface (see `ip link`)', { code: 'ENODEV', cause: e });
  if (fix === INSTALL_IPROUTE2) return permanent(detail, fix, { code: 'ENOENT', cause: e });
  return retryable(detail, { fix, code, cause: e });
}

/** Runs one operation; what it throws leaves as a ProviderError (an abort stays what it is). */
async function classified<T>(signal: AbortSignal, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    if (signal.aborted) throw e;
    throw toProviderError(e);
  }
}
