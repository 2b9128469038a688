// Watches every interface of this network namespace and tells listeners at once when a link goes down
// or up, disappears, comes back (with a new index), is renamed, or gains or loses an IP address (a
// unicast source address vanishing, a VIP removed by someone else). link() answers synchronously from
// the cache, so the hot path never waits for the kernel or a spawn.
//
// Over rtnetlink (the normal case): one socket subscribed to RTMGRP_LINK, RTMGRP_IPV4_IFADDR and
// RTMGRP_IPV6_IFADDR, a full dump into the cache first, then every event applied as it arrives (on
// the event loop, via the addon's libuv poll). A receive-queue overflow (events lost) triggers a fresh
// dump, and the differences are reported like events. Without the addon (netBackend() is 'ip'): polls
// `ip -j addr show` every second and reports the differences — same API, up to a second late.
//
// The cache and the diffs are link-cache.ts (pure). Listeners run synchronously, in registration order;
// one that throws is counted and logged, never breaks the others. The watcher does not keep the
// process alive; close() stops it.
import type { Logger } from 'pino';
import { execFile, type ExecResult } from '../exec.js';
import { LinkCache, type LinkChange } from './link-cache.js';
import { ipCommandSync, ipSaid, parseIpAddrJson, routeSocket, type LinkState } from './link.js';
import { parseMessages, RTMGRP_IPV4_IFADDR, RTMGRP_IPV6_IFADDR, RTMGRP_LINK } from './netlink/message.js';
import { RouteSocket } from './netlink/route-socket.js';

export type { LinkChange };
export type LinkChangeListener = (ev: LinkChange) => void;

export interface LinkWatcherOptions {
  log?: Logger;
  /** The `ip` fallback's poll period (ms). Default 1000. */
  pollMs?: number;
}

export interface LinkWatcherStats {
  /** Changes reported to listeners. */
  changes: number;
  /** Kernel receive-queue overflows (each followed by a re-dump). */
  overflows: number;
  /** Datagrams (or `ip` outputs) that could not be fully parsed. */
  malformed: number;
  /** Listener calls that threw. */
  listenerErrors: number;
  /** Failed re-dumps or polls (the cache keeps its last state). */
  refreshErrors: number;
}

type IpSnapshot = Parameters<typeof parseIpAddrJson>[0][];

export class LinkWatcher {
  private readonly cache = new LinkCache();
  private readonly listeners = new Set<LinkChangeListener>();
  private readonly interfaceListeners = new Map<string, Set<() => void>>();
  /** Interfaces changed in this turn whose watchers have not been called yet. */
  private readonly dirty = new Set<string>();
  private events: RouteSocket | null = null;
  private timer: NodeJS.Timeout | null = null;
  private polling = false;
  private closed = false;
  readonly stats: LinkWatcherStats = { changes: 0, overflows: 0, malformed: 0, listenerErrors: 0, refreshErrors: 0 };

  private constructor(
    /** 'netlink': events as they happen; 'ip': polling `ip -j addr show` (netBackend() says why). */
    readonly backend: 'netlink' | 'ip',
    private readonly log: Logger | undefined,
  ) {}

  /**
   * Starts watching and fills the cache before returning. Throws only when even the fallback cannot
   * read the interfaces (no addon and no `ip`).
   */
  static open(opts: LinkWatcherOptions = {}): LinkWatcher {
    const requests = routeSocket();
    let events: RouteSocket | null = null;
    if (requests) {
      try {
        events = RouteSocket.open(RTMGRP_LINK | RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR);
      } catch (e) {
        opts.log?.warn({ err: (e as Error).message }, 'cannot subscribe to link and address events over netlink; polling ip instead');
      }
    }
    const w = new LinkWatcher(events ? 'netlink' : 'ip', opts.log);
    if (events && requests) {
      w.events = events;
      try {
        // Subscribe first, then dump: an event racing the dump is queued and applied after it, in order.
        events.watch((datagram) => w.onDatagram(datagram, requests));
        w.cache.replaceFromDump(requests.dumpLinks(), requests.dumpAddresses());
      } catch (e) {
        w.close();
        throw e;
      }
    } else {
      w.applySnapshot(ipSnapshot(ipCommandSync(['-j', 'addr', 'show'])));
      w.timer = setInterval(() => w.poll(), opts.pollMs ?? 1_000);
      w.timer.unref();
    }
    return w;
  }

  /** The interface called `ifname` as last reported by the kernel, or null when there is none. */
  link(ifname: string): LinkState | null {
    return this.cache.link(ifname);
  }

  /** Every interface, in index order. */
  links(): LinkState[] {
    return this.cache.all();
  }

  /**
   * Calls `listener` after `ifname` (link or addresses) changed, at most once per turn of the event
   * loop: the changes of one burst (a takeover adding 200 VIPs) are one call per listener. Returns
   * the function that unsubscribes it.
   */
  watchInterface(ifname: string, listener: () => void): () => void {
    let set = this.interfaceListeners.get(ifname);
    if (!set) this.interfaceListeners.set(ifname, (set = new Set()));
    set.add(listener);
    return () => {
      set.delete(listener);
      if (set.size === 0 && this.interfaceListeners.get(ifname) === set) this.interfaceListeners.delete(ifname);
    };
  }

  /** Calls `listener` for every change from now on; returns the function that unsubscribes it. */
  onChange(listener: LinkChangeListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.listeners.clear();
    this.interfaceListeners.clear();
    if (this.timer) clearInterval(this.timer);
    this.events?.close();
    this.events = null;
  }

  private emit(changes: readonly LinkChange[]): void {
    for (const ev of changes) {
      this.stats.changes++;
      if (this.interfaceListeners.has(ev.ifname)) this.markDirty(ev.ifname);
      for (const l of [...this.listeners]) {
        try {
          l(ev);
        } catch (e) {
          this.stats.listenerErrors++;
          this.log?.error({ err: e as Error, change: ev }, 'link change listener threw');
        }
      }
    }
  }

  private markDirty(ifname: string): void {
    if (this.dirty.size === 0) setImmediate(() => this.flushDirty());
    this.dirty.add(ifname);
  }

  private flushDirty(): void {
    const names = [...this.dirty];
    this.dirty.clear();
    if (this.closed) return;
    for (const ifname of names) {
      for (const l of [...(this.interfaceListeners.get(ifname) ?? [])]) {
        try {
          l();
        } catch (e) {
          this.stats.listenerErrors++;
          this.log?.error({ err: e as Error, interface: ifname }, 'interface watcher threw');
        }
      }
    }
  }

  private onDatagram(datagram: Buffer | null, requests: RouteSocket): void {
    if (this.closed) return;
    if (datagram === null) {
      this.stats.overflows++;
      this.log?.warn('netlink event queue overflowed: re-reading every link and address');
      try {
        this.emit(this.cache.replaceFromDump(requests.dumpLinks(), requests.dumpAddresses()));
      } catch (e) {
        this.stats.refreshErrors++;
        this.log?.error({ err: (e as Error).message }, 'cannot re-read links and addresses after an overflow');
      }
      return;
    }
    const parsed = parseMessages(datagram);
    if (parsed.malformed) {
      this.stats.malformed++;
      this.log?.warn({ why: parsed.malformed }, 'malformed netlink event ignored');
    }
    for (const m of parsed.messages) this.emit(this.cache.apply(m));
  }

  private applySnapshot(snapshot: LinkState[] | string): void {
    if (typeof snapshot === 'string') {
      this.stats.malformed++;
      this.log?.warn({ why: snapshot }, 'cannot read interfaces with ip');
      return;
    }
    this.emit(this.cache.replace(snapshot));
  }

  private poll(): void {
    if (this.polling || this.closed) return;
    this.polling = true;
    execFile(['ip', '-j', 'addr', 'show'], { timeoutMs: 5_000 })
      .then((r) => !this.closed && this.applySnapshot(ipSnapshot(r)))
      .catch((e: Error) => {
        this.stats.refreshErrors++;
        this.log?.warn({ err: e.message }, 'ip -j addr show failed');
      })
      .finally(() => (this.polling = false));
  }
}

/** Every interface in `ip -j addr show` output, or why not. */
function ipSnapshot(r: ExecResult): LinkState[] | string {
  if (r.code !== 0) return `ip -j addr show failed: ${ipSaid(r)}`;
  try {
    const entries = JSON.parse(r.stdout || '[]') as IpSnapshot;
    return Array.isArray(entries) ? entries.map(parseIpAddrJson) : 'ip -j addr show: not a JSON array';
  } catch (e) {
    return `ip -j addr show: ${(e as Error).message}`;
  }
}

