// The VRRP election of one instance: feeds the pure state machine (vrrp/fsm.ts) with validated
// adverts, ticks and faults, and carries out what it returns. Adverts leave at once through the
// interface's raw socket (pre-encoded: only the IP id, and the checksum when the priority changes,
// are rewritten); hold / release / announce go to the instance's hooks, which never make us wait.
//
// Receiving: the agent's per-interface demux (vrrp/demux.ts) has already parsed the IP header and
// picked this instance by VRID (and unicast source); receive() runs keepalived's remaining checks.
//
// Timers: one entry in the agent's scheduler (scheduler.ts), set to the FSM's next deadline after
// every step; the scheduler serves the deadlines of all instances with one platform timer. The FSM
// puts masters' adverts on a grid of their interval (advertGrid), so instances with the same interval
// advertise in the same wake-up.
import type { Logger } from 'pino';
import type { InstanceConfig } from '../config/schema.js';
import { initialState, nextDeadline, step, type FsmAction, type FsmConfig, type FsmEvent, type FsmSnapshot } from '../vrrp/fsm.js';
import { passwordToAuthData, type ChecksumForm } from '../vrrp/packet.js';
import { AdvertEncoder } from '../vrrp/advert-encoder.js';
import { checkAdvert, compileView, type CompiledView } from '../vrrp/validate.js';
import type { DatagramHeader, DemuxTarget } from '../vrrp/demux.js';
import type { VrrpSocket } from '../vrrp/transport.js';
import { VRRP_MCAST_GROUP } from '../net/ip.js';
import { RateLimitedLog } from '../rate-limited-log.js';
import type { Scheduler, ScheduledEntry } from '../scheduler.js';
import type { Election, ElectionCounters, ElectionHooks, ElectionStatus } from './types.js';

/** Consecutive failed sends after which the socket is considered broken (FAULT until it works again). */
const SEND_FAILURES_TO_FAULT = 3;
/** Drop reasons that mean a peer is configured differently (keepalived logs these too): warn, not debug. */
const MISMATCH_REASONS = new Set([
  'auth-type-mismatch',
  'auth-failed',
  'interval-mismatch',
  'address-mismatch',
  'bad-version',
  'dst-mode-mismatch',
  'unknown-unicast-source',
]);

export interface VrrpElectionDeps {
  socket: VrrpSocket;
  /** The advert source: unicast.source, or the interface's primary IPv4 address. */
  source: string;
  /**
   * Every address on the interface as uint32 (adverts from these are our own): a live set the agent
   * keeps up to date in place for all instances on the interface.
   */
  localAddresses: ReadonlySet<number>;
  hooks: ElectionHooks;
  log: Logger;
  /** The agent's timers (and its monotonic clock). */
  scheduler: Scheduler;
}

export class VrrpElection implements Election, DemuxTarget {
  readonly kind = 'vrrp';
  readonly counters: ElectionCounters = { advertsSent: 0, advertSendErrors: 0, advertsReceived: 0, dropped: {} };
  private snap: FsmSnapshot;
  private fsmCfg: FsmConfig;
  private readonly view: CompiledView;
  private encoder: AdvertEncoder;
  private source: string;
  private sendForm: ChecksumForm;
  private socket: VrrpSocket;
  private readonly timer: ScheduledEntry;
  private sendFailures = 0;
  private lastSendError: string | null = null;
  private closed = false;
  private readonly now: () => number;
  private readonly dropLog = new RateLimitedLog(10_000);

  constructor(
    readonly name: string,
    private readonly cfg: InstanceConfig,
    private readonly deps: VrrpElectionDeps,
  ) {
    this.now = deps.scheduler.now;
    this.timer = deps.scheduler.entry((now) => this.apply({ type: 'tick' }, now));
    this.socket = deps.socket;
    this.source = deps.source;
    this.sendForm = cfg.v3ChecksumAsV2 ? 'no-pseudo' : 'rfc';
    this.fsmCfg = this.makeFsmConfig();
    this.view = this.makeView();
    this.encoder = this.makeEncoder();
    this.snap = initialState(this.fsmCfg, this.now());
  }

  start(fault: string | null): void {
    this.apply(fault ? { type: 'fault', reason: fault } : { type: 'startup' });
  }

  setFault(reason: string | null): void {
    if (reason !== null) this.apply({ type: 'fault', reason });
    else if (this.snap.state === 'FAULT') this.apply({ type: 'recover' });
  }

  shutdown(): void {
    this.apply({ type: 'shutdown' });
    this.disarm();
  }

  close(): void {
    this.closed = true;
    this.disarm();
  }

  trouble(): string | null {
    return this.sendFailures >= SEND_FAILURES_TO_FAULT ? `cannot send adverts on ${this.cfg.interface}: ${this.lastSendError ?? 'send failed'}` : null;
  }

  /** The agent reopened the interface's socket (the interface was re-created). */
  setSocket(socket: VrrpSocket): void {
    this.socket = socket;
    this.sendFailures = 0;
    this.lastSendError = null;
  }

  /** The interface was renumbered: adverts leave from `source` from the next one on. */
  setSource(source: string): void {
    if (source === this.source) return;
    this.source = source;
    this.fsmCfg = this.makeFsmConfig();
    this.encoder = this.makeEncoder(this.encoder.nextIpId);
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

  /** One datagram the demux routed to us (IP header included). Never throws. */
  receive(h: DatagramHeader, datagram: Buffer): void {
    if (this.closed) return;
    const r = checkAdvert(this.view, h, datagram);
    if (!r.ok) {
      this.counters.dropped[r.reason] = (this.counters.dropped[r.reason] ?? 0) + 1;
      if (this.dropLog.allow(r.reason)) {
        // A peer configured differently (password, interval, VIP set, version, mode) means two masters:
        // say so at warn, as keepalived does. Malformed or stray packets stay at debug.
        const level = MISMATCH_REASONS.has(r.reason) ? 'warn' : 'debug';
        this.deps.log[level]({ evt: 'drop', instance: this.name, reason: r.reason, detail: r.detail }, `advert dropped: ${r.reason} (${r.detail})`);
      }
      return;
    }
    this.counters.advertsReceived++;
    if (this.cfg.unicast && r.checksumForm === 'mcast-pseudo' && this.sendForm === 'rfc') {
      // keepalived's automatic compatibility with pre-1.3.6 peers: answer in the form they use.
      this.sendForm = 'mcast-pseudo';
      this.encoder.setForm('mcast-pseudo');
      this.deps.log.warn({ instance: this.name, peer: r.src }, 'peer uses the old unicast VRRPv3 checksum (224.0.0.18 pseudo-header); answering in the same form');
    }
    this.apply({ type: 'advert', src: r.src, priority: r.priority, advertIntervalCs: r.advertIntervalCs });
  }

  // --- the state machine --------------------------------------------------------------------------

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
        this.sendAdvert(a.priority);
        break;
      case 'transition':
        this.deps.hooks.transition(a.from, a.to, a.reason);
        break;
      case 'hold-vips':
        this.deps.hooks.hold();
        break;
      case 'release-vips':
        this.deps.hooks.release();
        break;
      case 'announce':
        this.deps.hooks.announce(a.reason);
        break;
    }
  }

  /** Sets the scheduler entry to the FSM's deadline (see the header). */
  private arm(): void {
    const at = nextDeadline(this.snap);
    const armed = this.timer.slot >= 0;
    if (at === null ? !armed : armed && at === this.timer.at) return;
    this.deps.scheduler.set(this.timer, at);
  }

  private disarm(): void {
    if (this.timer.slot >= 0) this.deps.scheduler.set(this.timer, null);
  }

  private sendAdvert(priority: number): void {
    for (const { dst, datagram } of this.encoder.next(priority)) {
      if (this.socket.send(datagram, dst)) {
        this.counters.advertsSent++;
        this.sendFailures = 0;
      } else {
        this.counters.advertSendErrors++;
        this.sendFailures++;
        this.lastSendError = this.socket.stats.lastError;
      }
    }
  }

  // --- derived configuration ----------------------------------------------------------------------

  private makeFsmConfig(): FsmConfig {
    const c = this.cfg;
    return {
      version: c.version,
      priority: c.priority,
      advertIntervalCs: Math.round(c.advertInterval * 100),
      preempt: c.preempt,
      preemptDelayMs: c.preemptDelay * 1000,
      localAddress: this.source,
      lowerPrioNoAdvert: c.lowerPrioNoAdvert,
      advertGrid: true,
    };
  }

  private authData(): Buffer {
    const c = this.cfg;
    return c.version === 2 ? (c.auth ? passwordToAuthData(c.auth.password) : Buffer.alloc(8)) : Buffer.alloc(0);
  }

  private makeView(): CompiledView {
    const c = this.cfg;
    return compileView({
      version: c.version,
      vrid: c.vrid,
      advertIntervalCs: Math.round(c.advertInterval * 100),
      authType: c.version === 2 && c.auth ? 1 : 0,
      authData: this.authData(),
      vips: c.vips,
      unicast: c.unicast ? { peers: c.unicast.peers, checkSource: c.unicast.checkSource } : null,
      localAddresses: [],
    }, this.deps.localAddresses);
  }

  private makeEncoder(firstIpId?: number): AdvertEncoder {
    const c = this.cfg;
    return new AdvertEncoder({
      version: c.version,
      vrid: c.vrid,
      addresses: c.vips.map((v) => v.split('/')[0]!),
      advertIntervalCs: Math.round(c.advertInterval * 100),
      authType: c.version === 2 && c.auth ? 1 : 0,
      authData: this.authData(),
      src: this.source,
      destinations: c.unicast ? c.unicast.peers : [VRRP_MCAST_GROUP],
      form: this.sendForm,
      ...(firstIpId === undefined ? {} : { firstIpId }),
    });
  }
}
