// The VRRP election of one IPv6 instance (VRRPv3 over IPv6, RFC 5798): the same pure state machine as
// IPv4 (fsm.ts), driven from the event loop. Adverts are pre-encoded per destination (ff02::12, or
// each unicast peer: the destination is in the checksum's pseudo-header) and re-encoded only when
// the priority changes; they leave through the interface's IPv6 port (ipv6-port.ts) from the
// link-local address (or unicast.source). Received adverts come from the port's demux with their hop
// limit and destination and pass keepalived's checks (ipv6-validate.ts) before the FSM sees them.
//
// IPv4 instances use election/vrrp.ts, whose steady state may run on the native offload thread
// (vrrp/offload.ts); the offload is IPv4-only, so an IPv6 instance arms the agent's scheduler for
// every advert and every Master_Down deadline, and the IPv4 hot path is untouched by IPv6.
import type { Logger } from 'pino';
import type { InstanceConfig } from '../config/schema.js';
import { initialState, nextDeadline, step, type FsmAction, type FsmConfig, type FsmEvent, type FsmSnapshot } from './fsm.js';
import { encodeAdvert6, ipv6Bytes, VRRP6_MCAST_GROUP } from './ipv6.js';
import { checkAdvert6, compileView6, type CompiledView6, type Demux6Target, type Rx6 } from './ipv6-validate.js';
import type { Ipv6Port } from './ipv6-port.js';
import { RateLimitedLog } from '../rate-limited-log.js';
import type { Scheduler, ScheduledEntry } from '../scheduler.js';
import type { Election, ElectionCounters, ElectionHooks, ElectionStatus } from '../election/types.js';

const SEND_FAILURES_TO_FAULT = 3;
const MISMATCH_REASONS = new Set(['address-mismatch', 'bad-version', 'dst-mode-mismatch', 'unknown-unicast-source']);

export interface Ipv6ElectionDeps {
  port: Ipv6Port;
  /** The advert source: unicast.source, or the interface's link-local address. */
  source: string;
  hooks: ElectionHooks;
  log: Logger;
  scheduler: Scheduler;
  onTrouble?: () => void;
  onWantMaster?: () => void;
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

export class Ipv6VrrpElection implements Election, Demux6Target {
  readonly kind = 'vrrp';
  readonly counters: ElectionCounters = { advertsSent: 0, advertSendErrors: 0, advertsReceived: 0, dropped: {} };
  private snap: FsmSnapshot;
  private fsmCfg: FsmConfig;
  private view: CompiledView6;
  private encoder: Advert6Encoder;
  private source: string;
  private readonly timer: ScheduledEntry;
  private sendFailures = 0;
  private lastSendError: string | null = null;
  private closed = false;
  private readonly now: () => number;
  private readonly dropLog = new RateLimitedLog(10_000);

  constructor(
    readonly name: string,
    private cfg: InstanceConfig,
    private readonly deps: Ipv6ElectionDeps,
  ) {
    this.now = deps.scheduler.now;
    this.timer = deps.scheduler.entry((now) => this.apply({ type: 'tick' }, now));
    this.source = deps.source;
    this.fsmCfg = this.makeFsmConfig();
    this.view = this.makeView();
    this.encoder = this.makeEncoder();
    this.snap = initialState(this.fsmCfg, this.now());
  }

  /** A hitless reload's in-place change (priority, VIP list; src/reload/): state and timers kept. */
  reconfigure(cfg: InstanceConfig): void {
    this.cfg = cfg;
    this.fsmCfg = this.makeFsmConfig();
    this.view = this.makeView();
    this.encoder = this.makeEncoder();
    this.arm();
  }

  start(fault: string | null): void {
    this.apply(fault ? { type: 'fault', reason: fault } : { type: 'startup' });
  }

  setFault(reason: string | null): void {
    if (reason !== null) this.apply({ type: 'fault', reason });
    else if (this.snap.state === 'FAULT') this.apply({ type: 'recover' });
  }

  setPriority(priority: number): void {
    this.apply({ type: 'setPriority', priority });
  }

  shutdown(): void {
    this.apply({ type: 'shutdown' });
    this.disarm();
  }

  close(): void {
    this.closed = true;
    this.disarm();
  }

  /** Nothing runs elsewhere (no offload for IPv6): nothing to catch up with. */
  sync(): void {}

  trouble(): string | null {
    return this.sendFailures >= SEND_FAILURES_TO_FAULT ? `cannot send IPv6 adverts on ${this.cfg.interface}: ${this.lastSendError ?? 'send failed'}` : null;
  }

  /** The port reopened its socket: sends may work again. */
  socketReopened(): void {
    this.sendFailures = 0;
    this.lastSendError = null;
  }

  /** The interface's link-local address changed (or unicast.source came back): adverts leave from `source`. */
  setSource(source: string): void {
    if (source === this.source) return;
    this.source = source;
    this.fsmCfg = this.makeFsmConfig();
    this.encoder = this.makeEncoder();
    this.deps.log.warn({ instance: this.name, source }, `advert source is now ${source}`);
  }

  status(): ElectionStatus {
    const s = this.snap;
    return {
      state: s.state,
      effectivePriority: s.effectivePriority,
      master: s.state === 'MASTER' ? this.source : s.masterAddress,
      masterPriority: s.state === 'MASTER' ? s.effectivePriority : s.masterPriority,
      since: s.since,
      faultReason: s.faultReason,
      counters: { ...this.counters, dropped: { ...this.counters.dropped } },
    };
  }

  syncHold(hold: boolean): void {
    if ((this.snap.syncHold ?? false) !== hold) this.apply({ type: 'syncHold', hold });
  }

  syncPull(to: 'BACKUP' | 'MASTER', reason: string): void {
    this.apply(to === 'MASTER' ? { type: 'syncMaster', reason } : { type: 'syncBackup', reason });
  }

  wantsMaster(): boolean {
    return this.snap.wantsMaster ?? false;
  }

  /** One datagram the port's demux routed here. Never throws. */
  receive(rx: Rx6): void {
    if (this.closed) return;
    const r = checkAdvert6(this.view, rx);
    if (!r.ok) {
      this.counters.dropped[r.reason] = (this.counters.dropped[r.reason] ?? 0) + 1;
      if (this.dropLog.allow(r.reason)) {
        const level = MISMATCH_REASONS.has(r.reason) ? 'warn' : 'debug';
        this.deps.log[level]({ evt: 'drop', instance: this.name, reason: r.reason, detail: r.detail }, `advert dropped: ${r.reason} (${r.detail})`);
      }
      return;
    }
    this.counters.advertsReceived++;
    this.apply({ type: 'advert', src: r.src, priority: r.priority, advertIntervalCs: r.advertIntervalCs });
  }

  private apply(ev: FsmEvent, now: number = this.now()): void {
    if (this.closed) return;
    const { state, actions } = step(this.fsmCfg, this.snap, ev, now);
    this.snap = state;
    for (const a of actions) this.perform(a);
    this.arm();
  }

  private perform(a: FsmAction): void {
    switch (a.type) {
      case 'send-advert':
        return this.sendAdvert(a.priority);
      case 'transition':
        return this.deps.hooks.transition(a.from, a.to, a.reason);
      case 'hold-vips':
        return this.deps.hooks.hold();
      case 'release-vips':
        return this.deps.hooks.release();
      case 'announce':
        return this.deps.hooks.announce(a.reason);
      case 'want-master':
        return this.deps.onWantMaster?.();
    }
  }

  private arm(): void {
    if (this.closed) return;
    const at = nextDeadline(this.snap);
    const armed = this.timer.slot >= 0;
    if (at === null ? !armed : armed && at === this.timer.at) return;
    this.deps.scheduler.set(this.timer, at);
  }

  private disarm(): void {
    if (this.timer.slot >= 0) this.deps.scheduler.set(this.timer, null);
  }

  private sendAdvert(priority: number): void {
    const socket = this.deps.port.socket;
    for (const { dst, msg } of this.encoder.next(priority)) {
      if (socket.send(msg, dst, this.encoder.source)) {
        this.counters.advertsSent++;
        this.sendFailures = 0;
      } else {
        this.counters.advertSendErrors++;
        this.lastSendError = socket.stats.lastError;
        if (++this.sendFailures === SEND_FAILURES_TO_FAULT) this.deps.onTrouble?.();
      }
    }
  }

  private makeFsmConfig(): FsmConfig {
    const c = this.cfg;
    return {
      version: 3,
      priority: c.priority,
      advertIntervalCs: Math.round(c.advertInterval * 100),
      preempt: c.preempt,
      preemptDelayMs: c.preemptDelay * 1000,
      localAddress: this.source,
      lowerPrioNoAdvert: c.lowerPrioNoAdvert,
      advertGrid: true,
    };
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
