// One interface's IPv6 VRRP plumbing, shared by the IPv6 instances on it (the agent keeps one per
// interface, beside the IPv4 port): the socket (ipv6-socket.ts), the demultiplexer, the live set of
// the interface's own IPv6 addresses (adverts from them are our own), and the interface's link-local
// address (the advert source unless unicast.source is set, RFC 5798 §5.1.2.1). refresh(link) follows
// address changes and reopens the socket when the interface was re-created (new index).
//
// The native VRRP offload (vrrp/offload.ts) is IPv4-only: IPv6 instances send and receive every
// advert on the event loop, through this port.
import type { LinkInfo } from '../net/link.js';
import { Ipv6Demux, key6Of, type Rx6 } from './ipv6-validate.js';
import { Vrrp6Socket } from './ipv6-socket.js';

/** The interface's first link-local IPv6 address (canonical text), or null. */
export function linkLocal6(link: LinkInfo): string | null {
  return link.addresses.find((a) => a.family === 6 && /^fe[89ab][0-9a-f]:/i.test(a.address))?.address ?? null;
}

export class Ipv6Port {
  readonly demux = new Ipv6Demux();
  /** The interface's IPv6 addresses as keys (ipv6-validate.ts key6), updated in place. */
  readonly local = new Set<string>();
  readonly users = new Set<object>();
  socket: Vrrp6Socket;

  constructor(readonly ifname: string, link: LinkInfo) {
    this.socket = this.open(link.index);
    this.refreshLocal(link);
  }

  private open(ifindex: number): Vrrp6Socket {
    const s = Vrrp6Socket.open(this.ifname, ifindex);
    s.onDatagram((rx: Rx6) => this.demux.dispatch(rx));
    return s;
  }

  /** The interface changed: its addresses, maybe its index (then a new socket). Throws TransportError. */
  refresh(link: LinkInfo): void {
    this.refreshLocal(link);
    if (link.index !== this.socket.ifindex) this.reopen(link.index);
  }

  /** A new socket (sends kept failing, or a new interface index). Throws TransportError. */
  reopen(ifindex: number): void {
    const next = this.open(ifindex);
    const old = this.socket;
    this.socket = next;
    next.stats.reopened = old.stats.reopened + 1;
    old.close();
  }

  private refreshLocal(link: LinkInfo): void {
    this.local.clear();
    for (const a of link.addresses) if (a.family === 6) this.local.add(key6Of(a.address));
  }

  status(): { dropped: Record<string, number>; socket: object; offload: null } {
    return { dropped: { ...this.demux.dropped }, socket: { ...this.socket.stats }, offload: null };
  }

  close(): void {
    this.socket.close();
  }
}
