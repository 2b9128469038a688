// The bare-metal provider: the VIPs go on the instance's interface (`ip addr add`, with their
// configured prefix, as keepalived; release takes off every copy, whatever its prefix) and gratuitous
// ARPs tell the segment where they now live (keepalived's schedule: a burst at once, a second one
// after `delay`, optional refreshes).
//
// verify() answers from the interface: 'held' when every VIP is on it, 'not-held' when none is.
// When only some are, the answer is the one that makes the runner repair things: 'not-held' after an
// acquire (so it re-acquires and adds the missing ones), 'held' otherwise (so a leftover copy on a
// node that should not hold the VIPs gets released).
import type { Ownership, PreflightCheck, ProviderContext, VipProvider } from '../../src/provider/types.js';
import { getLink, NetError, readLinkLayer, type LinkInfo } from '../../src/net/link.js';
import { addAddress, parseCidr, removeAddresses, type Cidr } from '../../src/net/address.js';
import { createLinkAnnouncer, type LinkAnnouncer } from '../../src/net/announcer.js';
import { GarpSchedule, KEEPALIVED_GARP_DEFAULTS, type GarpSettings, type TimerApi } from '../../src/net/garp.js';
import { garpPreflight } from './preflight.js';

export type { GarpSettings } from '../../src/net/garp.js';

/** Seams for tests: a recording announcer, fake timers. */
export interface GarpProviderDeps {
  announcer?: LinkAnnouncer;
  timers?: TimerApi;
}

export function createGarpProvider(ctx: ProviderContext, settings: Partial<GarpSettings> = {}, deps: GarpProviderDeps = {}): VipProvider {
  return new GarpProvider(ctx, { ...KEEPALIVED_GARP_DEFAULTS, ...settings }, deps);
}

class GarpProvider implements VipProvider {
  readonly type = 'garp';
  private readonly cidrs: Cidr[] = [];
  private readonly badVips: string[] = [];
  private announcer: LinkAnnouncer | null = null;
  private schedule: GarpSchedule | null = null;
  private scheduleMac = '';
  /** What we were last asked to do; decides how a partial set of VIPs is reported by verify(). */
  private intent: 'acquire' | 'release' | null = null;

  constructor(
    private readonly ctx: ProviderContext,
    private readonly settings: GarpSettings,
    private readonly deps: GarpProviderDeps,
  ) {
    for (const vip of ctx.vips) {
      try {
        this.cidrs.push(parseCidr(vip));
      } catch {
        this.badVips.push(vip);
      }
    }
  }

  private get opts() {
    return { instanceName: this.ctx.instanceName };
  }

  private checkVips(): void {
    if (this.badVips.length)
      throw new NetError(`not an address or address/prefix: ${this.badVips.join(', ')}`, `correct instances.${this.ctx.instanceName}.vips`);
  }

  async acquire(signal: AbortSignal): Promise<void> {
    signal.throwIfAborted();
    this.checkVips();
    this.intent = 'acquire';
    const ifname = this.ctx.interface;
    for (const c of this.cidrs) {
      const how = await addAddress(ifname, c.cidr, { ...this.opts, signal });
      if (how === 'added') this.ctx.log.info({ vip: c.cidr, interface: ifname }, 'VIP added');
    }
    signal.throwIfAborted();
    // Announce at once (MAC from sysfs, no spawn), then confirm with a full read of the interface.
    const fast = readLinkLayer(ifname);
    if (fast) this.startAnnouncing(ifname, fast.mac, fast.noarp);
    const link = await getLink(ifname, { ...this.opts, signal });
    const missing = this.cidrs.filter((c) => !onLink(link, c));
    if (missing.length) {
      this.stopAnnouncing();
      throw new NetError(`${missing.map((c) => c.cidr).join(', ')} not on ${ifname} after ip addr add`, `check ip addr show dev ${ifname}; something removes addresses (NetworkManager? dhcp client?)`);
    }
    signal.throwIfAborted();
    if (!fast || fast.mac !== link.mac) this.startAnnouncing(link.name, link.mac, link.flags.includes('NOARP'));
  }

  async release(signal: AbortSignal): Promise<void> {
    this.intent = 'release';
    this.stopAnnouncing(); // first, and even when aborted: never announce what we are giving up
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

  async verify(signal: AbortSignal): Promise<Ownership> {
    signal.throwIfAborted();
    let link: LinkInfo;
    try {
      link = await getLink(this.ctx.interface, { ...this.opts, signal });
    } catch (e) {
      if (e instanceof NetError && /not found/.test(e.detail)) return 'not-held'; // no interface, no address
      throw e;
    }
    const present = this.cidrs.filter((c) => onLink(link, c)).length;
    if (this.cidrs.length > 0 && present === this.cidrs.length) return 'held';
    if (present === 0) return 'not-held';
    return this.intent === 'acquire' ? 'not-held' : 'held';
  }

  preflight(): AsyncIterable<PreflightCheck> {
    return garpPreflight(this.ctx);
  }

  announce(reason: 'lower-priority' | 'refresh'): void {
    try {
      if (this.schedule?.running) void this.schedule.burst(reason);
    } catch (e) {
      this.ctx.log.warn({ err: (e as Error).message, reason }, 'gratuitous ARP re-announce failed');
    }
  }

  close(): void {
    this.stopAnnouncing();
    this.announcer?.close();
    this.announcer = null;
  }

  /** Starts the GARP schedule, or (already running for this MAC) sends one more burst. */
  private startAnnouncing(ifname: string, mac: string, noarp: boolean): void {
    const vips = this.cidrs.filter((c) => c.family === 4).map((c) => c.address);
    if (vips.length === 0) return; // IPv6 VIPs: unsolicited NA is not sent (yet)
    if (noarp) {
      this.ctx.log.info({ interface: ifname }, 'interface has NOARP: no gratuitous ARP sent (as keepalived)');
      return;
    }
    if (this.schedule?.running && this.scheduleMac === mac) {
      void this.schedule.burst('reacquire');
      return;
    }
    this.stopAnnouncing();
    this.announcer ??= this.deps.announcer ?? createLinkAnnouncer(this.ctx.log);
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
    this.schedule.start();
  }

  private stopAnnouncing(): void {
    this.schedule?.stop();
    this.schedule = null;
  }
}

function onLink(link: LinkInfo, c: Cidr): boolean {
  return link.addresses.some((a) => a.address === c.address);
}
