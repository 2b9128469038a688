// The VRRP offload of one interface (native/vrrp_offload.c): a thread that carries out the steady
// state the state machine decided, so the event loop does not wake for every advert.
// IPv4 only: IPv6 instances (VRRPv3 over IPv6) send and receive every advert on the event loop
// (vrrp/ipv6-election.ts, vrrp/ipv6-port.ts) and never reach this file.
//
// Contract with the election (src/election/vrrp.ts), which alone decides what to hand over:
//   - send: a MASTER whose next step is "send this advert every interval" hands that over; the
//     thread sends it on the same grid, with the next IP ids.
//   - absorb: a BACKUP that just accepted an advert which, repeated, would only reset its
//     Master_Down_Timer (fsm.ts advertRepeats) hands that over: identical datagrams are counted and
//     re-arm the deadline in the thread. Anything else for the VRID ends the rule and reaches JS.
//     When the deadline passes the thread sends our advert and carries out the provider's takeover
//     plan (garp: add the VIPs, one gratuitous ARP each) at once, then tells JS, which runs the same
//     FSM tick the scheduler would have run and finds the advert sent and the VIPs on the interface.
//   - Before the election steps its FSM for any other reason it calls stop(), which ends the rule and
//     says what the thread did (how many adverts, the last one when, whether the deadline fired);
//     the election replays that through the FSM, so its snapshot is what it would have been.
// Every datagram the thread does not absorb is handed to onDatagram() in arrival order, unless 8 MiB
// of them are already waiting for the event loop: then it is dropped and counted (stats().queueDrops;
// the agent shows it as the interface drop reason offload-queue-full). After each read the thread
// leaves the socket alone for 1 ms (timers still fire on time), so it reads in batches and never
// holds a CPU, also at realtime priority (open()'s rtPriority). While an offload is open,
// raw-socket's own receive is paused (transport.ts pauseReceive). The agent renews a lease (lease())
// from its event loop: a stuck loop stops the thread's adverts within the lease.
//
// The addon is optional: open() returns null with the reason when it is not built (then every advert
// goes through the event loop, as before), or when HA_AGENT_OFFLOAD=off.
import { loadAddon } from '../net/native-addon.js';

/** How a rule had ended before stop() (the addon's numbers). */
export const ENDED = Object.freeze({ running: 0, deadline: 1, mismatch: 2, sendError: 3, leaseLapsed: 4 });

export interface OffloadReport {
  ended: number;
  /** Adverts sent (send) or absorbed (absorb). */
  count: number;
  /** How long ago the last of them was, in ms (−1: none). */
  lastAgoMs: number;
  /** The IP id the next datagram takes (send, and absorb after a takeover). */
  nextIpId: number;
  /** send: when its next advert was due, ms from now (negative: overdue). */
  nextInMs: number;
  /** absorb: how long ago the deadline passed (−1: it did not). */
  firedAgoMs: number;
  /** absorb: the takeover plan was carried out when the deadline passed. */
  tookOver: boolean;
  /** The failed send that ended a rule. */
  error: string | null;
  /** The first error a takeover's netlink request answered (then no frame was sent). */
  nlError: string | null;
}

/** What the thread does when a Master_Down deadline passes, besides ending the rule. */
export interface TakeoverPlan {
  /** Our advert, one datagram per destination (IP header included; ids are set by the thread). */
  adverts: Buffer[];
  /** Their destinations, uint32. */
  dsts: number[];
  /** The IP id of the first datagram. */
  ipId: number;
  /** rtnetlink requests (RTM_NEWADDR), each answered before the next; EEXIST counts as success. */
  netlink: Buffer[];
  /** Ethernet frames sent on `ifindex` after every request succeeded. */
  frames: Buffer[];
  ifindex: number;
}

export interface OffloadStats {
  received: number;
  absorbed: number;
  forwarded: number;
  sent: number;
  sendErrors: number;
  /** Datagrams dropped because the most the thread queues for the event loop were already waiting (a flood, a stuck loop). */
  queueDrops: number;
  /** The SCHED_FIFO priority the thread runs at; 0: normal scheduling. */
  rtPriority: number;
  /** Why the realtime priority asked for was refused (strerror); null: it was not. */
  rtError: string | null;
}

type Handle = object;
interface Binding {
  open(ifname: string, ifindex: number, onEvents: (events: (Buffer | number)[]) => void, rtPriority: number): Handle;
  send(h: Handle, key: number, datagrams: Buffer[], dsts: number[], ipId: number, delayMs: number, intervalMs: number): void;
  absorb(h: Handle, key: number, expected: Buffer, downMs: number, delayMs: number, plan: TakeoverPlan | null): void;
  stop(h: Handle, key: number): OffloadReport | null;
  peek(h: Handle, key: number): OffloadReport | null;
  stats(h: Handle): OffloadStats;
  lease(h: Handle, ms: number): void;
  close(h: Handle): void;
}

/** Why open() returns null on this host (null: it can open). */
export function offloadUnavailable(): string | null {
  if (process.env.HA_AGENT_OFFLOAD === 'off') return 'HA_AGENT_OFFLOAD=off';
  return loadAddon<Binding>('vrrp_offload').error;
}

export class AdvertOffload {
  private handler: (datagram: Buffer) => void = () => {};
  private readonly owners = new Map<number, () => void>();
  private nextKey = 1;
  private closed = false;

  private constructor(
    private readonly binding: Binding,
    private readonly handle: Handle,
  ) {}

  /**
   * Opens the offload on an interface, or returns null when the addon is not available (see
   * offloadUnavailable()). Throws when the addon is there but cannot open (no CAP_NET_RAW…).
   * `rtPriority` 1..99: the thread asks for SCHED_FIFO at that priority, so nothing else on the
   * host (nor this process's own busy or collecting JS thread) delays an advert; refused, it runs
   * as a normal thread and stats().rtError says why. 0: a normal thread.
   */
  static open(ifname: string, ifindex: number, rtPriority = 0): AdvertOffload | null {
    if (offloadUnavailable() !== null) return null;
    const binding = loadAddon<Binding>('vrrp_offload').binding!;
    // The addon holds this callback for as long as the handle lives: through a WeakRef, so an offload
    // nobody closed can still be collected (the addon then closes it: its thread stops).
    let self: WeakRef<AdvertOffload> | null = null;
    const handle = binding.open(ifname, ifindex, (events) => self?.deref()?.deliver(events), rtPriority);
    const offload = new AdvertOffload(binding, handle);
    self = new WeakRef(offload);
    return offload;
  }

  /** Receives every datagram the thread did not absorb (a Buffer of its own). */
  onDatagram(handler: (datagram: Buffer) => void): void {
    this.handler = handler;
  }

  /** A key for a new rule; `ended` is called (from the event loop) when that rule ends by itself. */
  key(ended: () => void): number {
    const key = this.nextKey++;
    if (this.nextKey > 0xffffffff) this.nextKey = 1;
    this.owners.set(key, ended);
    return key;
  }

  /** Sends the advert in `delayMs` (negative: overdue — at once, the cadence kept on its grid), then every `intervalMs`. */
  send(key: number, datagrams: Buffer[], dsts: number[], ipId: number, delayMs: number, intervalMs: number): void {
    this.binding.send(this.handle, key, datagrams, dsts, ipId, delayMs, intervalMs);
  }

  absorb(key: number, expected: Buffer, downMs: number, delayMs: number, plan: TakeoverPlan | null): void {
    this.binding.absorb(this.handle, key, expected, downMs, delayMs, plan);
  }

  /** Ends a rule and says what it did; null when there is no such rule (or the offload is closed). */
  stop(key: number): OffloadReport | null {
    this.owners.delete(key);
    if (this.closed) return null;
    return this.binding.stop(this.handle, key);
  }

  /** What a rule did so far, without ending it. */
  peek(key: number): OffloadReport | null {
    return this.closed ? null : this.binding.peek(this.handle, key);
  }

  /**
   * Every rule ends unless this is called again within `ms` (and send()/absorb() renew it): if the
   * event loop gets stuck, the thread stops advertising and taking over on its behalf, as a stuck
   * keepalived would, and the peers fail over. No lease until the first call.
   */
  lease(ms: number): void {
    if (!this.closed) this.binding.lease(this.handle, ms);
  }

  stats(): OffloadStats {
    return this.closed ? { received: 0, absorbed: 0, forwarded: 0, sent: 0, sendErrors: 0, queueDrops: 0, rtPriority: 0, rtError: null } : this.binding.stats(this.handle);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.owners.clear();
    this.binding.close(this.handle);
  }

  private deliver(events: (Buffer | number)[]): void {
    if (this.closed) return;
    for (const e of events) {
      if (typeof e === 'number') this.owners.get(e)?.();
      else this.handler(e);
    }
  }
}
