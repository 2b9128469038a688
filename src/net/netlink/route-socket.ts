// An rtnetlink socket in this process's network namespace, over the native addon (native/netlink.c):
// synchronous requests (the kernel answers inside the syscall, in microseconds) and, for a socket
// opened with multicast groups, events delivered on the event loop. Messages come from message.ts.
//
// Errors: a request the kernel refuses throws a NetlinkError carrying the errno (EPERM, EEXIST…); a
// socket that cannot be opened throws the addon's Error (.code = errno name). routeSocketAvailable()
// says whether the addon loaded at all; callers then fall back to `ip` (see link.ts netBackend()).
import { getSystemErrorMap, getSystemErrorName } from 'node:util';
import { loadAddon } from '../native-addon.js';
import {
  addressDumpRequest,
  addressRequest,
  AF_UNSPEC,
  linkDumpRequest,
  linkGetRequest,
  NLM_F_DUMP_INTR,
  parseMessages,
  routeRequest,
  type RouteSpec,
  type AddressMessage,
  type AddressSpec,
  type LinkMessage,
  type NlMessage,
} from './message.js';

interface NetlinkBinding {
  open(groups: number): number;
  request(fd: number, msg: Buffer): Buffer[];
  watch(fd: number, callback: (datagram: Buffer | null) => void): void;
  unwatch(fd: number): void;
  close(fd: number): void;
}

/** strerror() texts for the errnos the address path meets, as `ip` prints them. */
const STRERROR: Record<string, string> = {
  EPERM: 'Operation not permitted',
  EACCES: 'Permission denied',
  EEXIST: 'File exists',
  EADDRNOTAVAIL: 'Cannot assign requested address',
  ENODEV: 'No such device',
  EINVAL: 'Invalid argument',
  ENOTSUP: 'Operation not supported', // EOPNOTSUPP on Linux (same number)
  ENOBUFS: 'No buffer space available',
  EBUSY: 'Device or resource busy',
};

/** The kernel refused a request: `code` is the errno name, `message` its strerror text. */
export class NetlinkError extends Error {
  readonly code: string;
  constructor(readonly errno: number) {
    const code = errnoName(errno);
    const libuv = getSystemErrorMap().get(-errno)?.[1];
    super(STRERROR[code] ?? (libuv ? libuv[0]!.toUpperCase() + libuv.slice(1) : `errno ${errno}`));
    this.code = code;
    this.name = 'NetlinkError';
  }
}

/** EPERM, EEXIST…; EUNKNOWN for a number this platform has no name for. */
function errnoName(errno: number): string {
  try {
    const name = getSystemErrorName(-errno);
    return /^E[A-Z0-9]+$/.test(name) ? name : 'EUNKNOWN';
  } catch {
    return 'EUNKNOWN';
  }
}

/** Whether the addon loaded; `error` says why not. */
export function routeSocketAvailable(): { ok: boolean; error: string | null } {
  const l = loadAddon<NetlinkBinding>('netlink');
  return { ok: l.binding !== null, error: l.error };
}

/** How many times a dump the kernel marks inconsistent (NLM_F_DUMP_INTR: changed mid-dump) is retried. */
const DUMP_TRIES = 5;

export class RouteSocket {
  private seq = Math.floor(Math.random() * 0x7fffffff);
  private fd: number | null;

  private constructor(
    private readonly b: NetlinkBinding,
    fd: number,
  ) {
    this.fd = fd;
  }

  /** Opens a socket subscribed to `groups` (RTMGRP_* bits; 0: requests only). Throws when unavailable. */
  static open(groups = 0): RouteSocket {
    const l = loadAddon<NetlinkBinding>('netlink');
    if (!l.binding) throw new Error(`netlink addon unavailable: ${l.error}`);
    return new RouteSocket(l.binding, l.binding.open(groups));
  }

  private handle(): number {
    if (this.fd === null) throw new Error('netlink socket is closed');
    return this.fd;
  }

  /** Sends one request built for a fresh sequence number; returns the answer's messages (not DONE or the ack). */
  request(build: (seq: number) => Buffer): NlMessage[] {
    const seq = (this.seq = (this.seq + 1) >>> 0 || 1);
    const out: NlMessage[] = [];
    for (const datagram of this.b.request(this.handle(), build(seq))) {
      for (const m of parseMessages(datagram).messages) {
        if (m.seq !== seq) continue;
        if (m.kind === 'error') {
          if (m.errno !== 0) throw new NetlinkError(m.errno);
        } else if (m.kind !== 'done') out.push(m);
      }
    }
    return out;
  }

  private dump<T extends NlMessage>(build: (seq: number) => Buffer, keep: (m: NlMessage) => m is T): T[] {
    for (let i = 1; ; i++) {
      const msgs = this.request(build);
      if (i < DUMP_TRIES && msgs.some((m) => m.nlFlags & NLM_F_DUMP_INTR)) continue;
      return msgs.filter(keep);
    }
  }

  /** Every interface (AF_UNSPEC view), in index order. */
  dumpLinks(): LinkMessage[] {
    return this.dump(linkDumpRequest, (m): m is LinkMessage => m.kind === 'link' && m.family === 0);
  }

  /** Every IPv4 and IPv6 address on interface `index`, or on every interface (0). */
  dumpAddresses(index = 0): AddressMessage[] {
    return this.dump((seq) => addressDumpRequest(seq, AF_UNSPEC, index), (m): m is AddressMessage => m.kind === 'address' && m.family !== null && (index === 0 || m.index === index));
  }

  /** One interface by name, or null when there is none. */
  getLink(ifname: string): LinkMessage | null {
    try {
      return this.request((seq) => linkGetRequest(seq, ifname)).find((m): m is LinkMessage => m.kind === 'link') ?? null;
    } catch (e) {
      if (e instanceof NetlinkError && e.code === 'ENODEV') return null;
      throw e;
    }
  }

  /** Adds an address. 'present' when that exact address/prefix is there already (EEXIST). */
  addAddress(a: AddressSpec): 'added' | 'present' {
    try {
      this.request((seq) => addressRequest(seq, 'add', a));
      return 'added';
    } catch (e) {
      if (e instanceof NetlinkError && e.code === 'EEXIST') return 'present';
      throw e;
    }
  }

  /** Deletes an exact address/prefix. 'absent' when it (or its interface) is not there. */
  deleteAddress(a: AddressSpec): 'removed' | 'absent' {
    try {
      this.request((seq) => addressRequest(seq, 'del', a));
      return 'removed';
    } catch (e) {
      if (e instanceof NetlinkError && (e.code === 'EADDRNOTAVAIL' || e.code === 'ENODEV')) return 'absent';
      throw e;
    }
  }

  /** Adds a route. 'present' when that exact route is there already (EEXIST). */
  addRoute(r: RouteSpec): 'added' | 'present' {
    try {
      this.request((seq) => routeRequest(seq, 'add', r));
      return 'added';
    } catch (e) {
      if (e instanceof NetlinkError && e.code === 'EEXIST') return 'present';
      throw e;
    }
  }

  /** Deletes a route. 'absent' when it (or its interface) is not there (ESRCH, ENODEV). */
  deleteRoute(r: RouteSpec): 'removed' | 'absent' {
    try {
      this.request((seq) => routeRequest(seq, 'del', r));
      return 'removed';
    } catch (e) {
      if (e instanceof NetlinkError && (e.code === 'ESRCH' || e.code === 'ENODEV')) return 'absent';
      throw e;
    }
  }

  /**
   * Delivers every multicast datagram, parsed, on the event loop; null when the kernel dropped events
   * (receive queue overflow): the caller must re-read the state. Only for a socket opened with groups.
   */
  watch(onDatagram: (datagram: Buffer | null) => void): void {
    this.b.watch(this.handle(), onDatagram);
  }

  close(): void {
    if (this.fd === null) return;
    const fd = this.fd;
    this.fd = null;
    this.b.close(fd);
  }
}
