// The VRRP election of one IPv6 instance (VRRPv3 over IPv6, RFC 5798): the same pure state machine as
// IPv4 (fsm.ts), driven from the event loop. Adverts are pre-encoded per destination (ff02::12, or
// each unicast peer: the destination is in the checksum's pseudo-header) and re-encoded only when
// the priority changes; they leave through the interface's IPv6 port (ipv6-port.ts) from the
// link-local address (or unicast.source). Received adverts come from the port's demux with their hop
// limit and destination and pass keepalived's checks (ipv6-validate.ts) before the FSM sees them.
//
// The FSM snapshot, its scheduler entry and the instance's inputs are shared with IPv4
// (election/vrrp-base.ts); this file keeps the IPv6 encoder, socket and receive checks. IPv4
// instances use election/vrrp.ts, whose steady state may run on the native offload thread
// (vrrp/offload.ts); the offload is IPv4-only, so an IPv6 instance arms the agent's scheduler for
// every advert and every Master_Down deadline, and the IPv4 hot path is untouched by IPv6.
import type { InstanceConfig } from '../config/schema.js';
import { encodeAdvert6, ipv6Bytes, VRRP6_MCAST_GROUP } from './ipv6.js';
import { checkAdvert6, compileView6, type CompiledView6, type Demux6Target, type Rx6 } from './ipv6-validate.js';
import type { Ipv6Port } from './ipv6-port.js';
import { VrrpElectionBase, type VrrpElectionBaseDeps } from '../election/vrrp-base.js';

export interface Ipv6ElectionDeps extends VrrpElectionBaseDeps {
  port: Ipv6Port;
  /** The advert source: unicast.source, or the interface's link-local address. */
  source: string;
}

/** The VRRP messages of one advert, one per destination, for the priority they were last built for. */
class Advert6Encoder {
  private readonly dsts: Buffer[];
  private readonly src: Buffer;
  private priority = -1;
  private msgs: Buffer[] = [];

  constructor(
    private readonly base: { vrid: number; addresses: string[]; advertIntervalCs: number },
    src: string,
    destinations: readonly string[],
  ) {
    this.src = ipv6Bytes(src);
    this.dsts = destinations.map(ipv6Bytes);
  }

  get source(): Buffer {
    return this.src;
  }

  next(priority: number): { dst: Buffer; msg: Buffer }[] {
    if (priority !== this.priority) {
      this.msgs = this.dsts.map((d) => encodeAdvert6({ ...this.base, priority }, this.src, d));
      this.priority = priority;
    }
    return this.msgs.map((msg, i) => ({ dst: this.dsts[i]!, msg }));
  }
}

export class Ipv6VrrpElection extends VrrpElectionBase implements Demux6Target {
  protected declare readonly deps: Ipv6ElectionDeps;
  private view: CompiledView6;
  private encoder: Advert6Encoder;

  constructor(name: string, cfg: InstanceConfig, deps: Ipv6ElectionDeps) {
    super(name, cfg, deps, 'IPv6 adverts');
    this.view = this.makeView();
    this.encoder = this.makeEncoder();
  }

  /** The port reopened its socket: sends may work again. */
  socketReopened(): void {
    this.clearSendFailures();
  }

  /** One datagram the port's demux routed here. Never throws. */
  receive(rx: Rx6): void {
    if (this.closed) return;
    const r = checkAdvert6(this.view, rx);
    if (!r.ok) return this.drop(r.reason, r.detail);
    this.counters.advertsReceived++;
    this.apply({ type: 'advert', src: r.src, priority: r.priority, advertIntervalCs: r.advertIntervalCs });
  }

  protected override rebuild(definition: boolean): void {
    if (definition) this.view = this.makeView();
    this.encoder = this.makeEncoder();
  }

  protected override sendAdvert(priority: number): void {
    const socket = this.deps.port.socket;
    for (const { dst, msg } of this.encoder.next(priority)) {
      if (socket.send(msg, dst, this.encoder.source)) this.countSent(1);
      else this.sendFailed(socket.stats.lastError);
    }
  }

  private makeView(): CompiledView6 {
    const c = this.cfg;
    return compileView6({ vrid: c.vrid!, vips: c.vips, unicast: c.unicast ? { peers: c.unicast.peers, checkSource: c.unicast.checkSource } : null }, this.deps.port.local);
  }

  private makeEncoder(): Advert6Encoder {
    const c = this.cfg;
    return new Advert6Encoder(
      { vrid: c.vrid!, addresses: c.vips.map((v) => v.split('/')[0]!), advertIntervalCs: Math.round(c.advertInterval * 100) },
      this.source,
      c.unicast ? c.unicast.peers : [VRRP6_MCAST_GROUP],
    );
  }
}
