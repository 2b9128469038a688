// One VRRP instance at run time: it feeds the pure state machine with validated adverts, ticks and
// faults, and carries out the actions it returns — adverts go to the socket at once, VIP ownership goes
// to the provider runner, which never makes the engine wait.
import type { Logger } from 'pino';
import type { InstanceConfig } from './config/schema.js';
import { initialState, nextDeadline, step, type FsmAction, type FsmConfig, type FsmEvent, type FsmSnapshot } from './vrrp/fsm.js';
import { encodeAdvert, passwordToAuthData, type ChecksumForm, type VrrpAdvert } from './vrrp/packet.js';
import { buildIpv4Header } from './vrrp/ipv4.js';
import { checkDatagram, type InstanceView } from './vrrp/validate.js';
import type { VrrpSocket } from './vrrp/transport.js';
import { VRRP_MCAST_GROUP } from './net/ip.js';
import type { ProviderRunner } from './provider/runner/index.js';
import type { InstanceStatusJson } from './status/types.js';
import { RateLimitedLog } from './rate-limited-log.js';

export interface InstanceDeps {
  socket: VrrpSocket;
  runner: ProviderRunner;
  /** Primary IPv4 of the interface: the advert source unless unicast.source is set. */
  primaryAddress: string;
  /** Every address on the interface (adverts from these are our own). */
  localAddresses: string[];
  log: Logger;
  /** Monotonic milliseconds. */
  now?: () => number;
}

/** Consecutive failed acquisitions after which the instance gives up mastership (FAULT). */
const ACQUIRE_FAILURES_TO_FAULT = 2;
/** How long a FAULT caused by the provider lasts before the instance tries again: doubles on every
 *  provider fault in a row (so a broken provider cannot make the VIP flap every few seconds). */
const PROVIDER_FAULT_RETRY_MS = 30_000;
const PROVIDER_FAULT_RETRY_MAX_MS = 600_000;
/** Consecutive failed sends after which the socket is considered broken (FAULT until reopened). */
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

export class Instance {
  private snap: FsmSnapshot;
  private readonly fsmCfg: FsmConfig;
  private readonly view: InstanceView;
  private readonly advertTemplate: Omit<VrrpAdvert, 'priority'>;
  private readonly source: string;
  private readonly destinations: string[];
  private sendForm: ChecksumForm;
  private ipId = 1;
  private timer: NodeJS.Timeout | undefined;
  private providerFaultTimer: NodeJS.Timeout | undefined;
  private faultCause: 'link' | 'provider' | null = null;
  private acquireOkSeen = 0;
  private acquireFailBase = 0;
  private providerFaults = 0;
  private sendFailures = 0;
  private lastSendError: string | null = null;
  private socket: VrrpSocket;
  private readonly now: () => number;
  private readonly dropLog: RateLimitedLog;
  private readonly startedWall = Date.now();
  private readonly startedMono: number;
  readonly counters = { advertsSent: 0, advertSendErrors: 0, advertsReceived: 0, transitions: 0, becameMaster: 0, dropped: {} as Record<string, number> };

  constructor(
    readonly name: string,
    readonly cfg: InstanceConfig,
    private readonly deps: InstanceDeps,
  ) {
    this.now = deps.now ?? (() => performance.now());
    this.socket = deps.socket;
    this.startedMono = this.now();
    const advertIntervalCs = Math.round(cfg.advertInterval * 100);
    this.source = cfg.unicast?.source ?? deps.primaryAddress;
    this.fsmCfg = {
      version: cfg.version,
      priority: cfg.priority,
      advertIntervalCs,
      preempt: cfg.preempt,
      preemptDelayMs: cfg.preemptDelay * 1000,
      localAddress: this.source,
      lowerPrioNoAdvert: cfg.lowerPrioNoAdvert,
    };
    const vipAddrs = cfg.vips.map((v) => v.split('/')[0]!);
    const authType = cfg.version === 2 && cfg.auth ? 1 : 0;
    const authData = cfg.version === 2 ? (cfg.auth ? passwordToAuthData(cfg.auth.password) : Buffer.alloc(8)) : Buffer.alloc(0);
    this.advertTemplate = { version: cfg.version, vrid: cfg.vrid, addresses: vipAddrs, advertIntervalCs, authType, authData };
    this.view = {
      version: cfg.version,
      vrid: cfg.vrid,
      advertIntervalCs,
      authType,
      authData,
      vips: vipAddrs,
      unicast: cfg.unicast ? { peers: cfg.unicast.peers, checkSource: cfg.unicast.checkSource } : null,
      localAddresses: [...new Set([this.source, ...deps.localAddresses])],
    };
    this.destinations = cfg.unicast ? cfg.unicast.peers : [VRRP_MCAST_GROUP];
    this.sendForm = cfg.v3ChecksumAsV2 ? 'no-pseudo' : 'rfc';
    this.snap = initialState(this.fsmCfg, this.now());
    this.dropLog = new RateLimitedLog(10_000);
  }

  get state(): FsmSnapshot['state'] {
    return this.snap.state;
  }

  /** Starts the instance, straight in FAULT when its link cannot carry VRRP right now. */
  start(linkProblem: string | null = null): void {
    if (linkProblem) this.setLinkFault(linkProblem);
    else this.apply({ type: 'startup' });
  }

  /** The agent reopened the interface's socket (the interface was re-created). */
  setSocket(socket: VrrpSocket): void {
    this.socket = socket;
    this.sendFailures = 0;
    this.lastSendError = null;
  }

  /** Why adverts cannot be sent right now (several sends in a row failed), or null. */
  sendTrouble(): string | null {
    return this.sendFailures >= SEND_FAILURES_TO_FAULT ? `cannot send adverts on ${this.cfg.interface}: ${this.lastSendError ?? 'send failed'}` : null;
  }

  /** A datagram from the interface's VRRP socket (IP header included). Never throws. */
  receive(datagram: Buffer): void {
    const r = checkDatagram(this.view, datagram);
    if (!r.ok) {
      if (r.reason === 'unknown-vrid') return; // another instance's (or another router's) VRID
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
      this.deps.log.warn({ instance: this.name, peer: r.src }, 'peer uses the old unicast VRRPv3 checksum (224.0.0.18 pseudo-header); answering in the same form');
    }
    this.apply({ type: 'advert', src: r.src, priority: r.advert.priority, advertIntervalCs: r.advert.advertIntervalCs });
  }

  /** Link or address trouble found by the agent's watcher. */
  setLinkFault(reason: string | null): void {
    if (reason && this.snap.state === 'FAULT' && this.faultCause === 'provider') {
      // The provider failed because the link went away: recover with the link, not on the provider timer.
      clearTimeout(this.providerFaultTimer);
      this.faultCause = 'link';
    } else if (reason && this.snap.state !== 'FAULT') {
      // From INIT too: an instance whose link is unusable at start-up starts in FAULT (as keepalived).
      this.faultCause = 'link';
      this.deps.log.error({ instance: this.name, reason }, `entering FAULT: ${reason}`);
      this.apply({ type: 'fault', reason });
    } else if (!reason && this.snap.state === 'FAULT' && this.faultCause === 'link') {
      this.faultCause = null;
      this.apply({ type: 'recover' });
    }
  }


  /** Graceful stop: priority 0 if we are master, then give the VIPs back within the deadline. */
  async shutdown(deadlineMs: number): Promise<void> {
    const p = this.deps.runner.status();
    const mayHold = this.snap.state === 'MASTER' || p.desired === 'held' || p.ownership === 'held' || (p.ownership === 'unknown' && p.desired !== null);
    clearTimeout(this.providerFaultTimer);
    this.apply({ type: 'shutdown' });
    clearTimeout(this.timer);
    const deadline = Date.now() + deadlineMs;
    if (mayHold) await this.deps.runner.releaseNow(deadlineMs);
    // close() waits for a provider call that ignores its abort; never beyond the shutdown deadline.
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.deps.runner.close(), new Promise<void>((r) => (timer = setTimeout(r, Math.max(0, deadline - Date.now()))))]);
    clearTimeout(timer);
  }

  status(): InstanceStatusJson {
    const s = this.snap;
    return {
      state: s.state,
      priority: this.cfg.priority,
      effectivePriority: s.effectivePriority,
      master: s.state === 'MASTER' ? this.source : s.masterAddress,
      masterPriority: s.state === 'MASTER' ? s.effectivePriority : s.masterPriority,
      vips: this.cfg.vips,
      interface: this.cfg.interface,
      vrid: this.cfg.vrid,
      version: this.cfg.version,
      mode: this.cfg.unicast ? 'unicast' : 'multicast',
      advertIntervalCs: this.fsmCfg.advertIntervalCs,
      since: new Date(this.startedWall + (s.since - this.startedMono)).toISOString(),
      faultReason: s.faultReason,
      counters: { ...this.counters, dropped: { ...this.counters.dropped } },
      provider: this.deps.runner.status(),
    };
  }

  private apply(ev: FsmEvent): void {
    const { state, actions } = step(this.fsmCfg, this.snap, ev, this.now());
    this.snap = state;
    for (const a of actions) this.perform(a);
    this.arm();
  }

  private arm(): void {
    clearTimeout(this.timer);
    const at = nextDeadline(this.snap);
    if (at === null) return;
    this.timer = setTimeout(() => this.apply({ type: 'tick' }), Math.max(0, Math.ceil(at - this.now())));
  }

  private perform(a: FsmAction): void {
    switch (a.type) {
      case 'send-advert':
        this.sendAdvert(a.priority);
        break;
      case 'transition':
        this.counters.transitions++;
        if (a.to === 'MASTER') this.counters.becameMaster++;
        this.deps.log.info(
          { evt: 'transition', instance: this.name, from: a.from, to: a.to, reason: a.reason, priority: this.snap.effectivePriority },
          `${this.name}: ${a.from} → ${a.to} (${a.reason})`,
        );
        break;
      case 'hold-vips':
        this.acquireFailBase = this.deps.runner.status().counters.acquireFail; // a fresh budget for this term
        this.deps.runner.want(true);
        break;
      case 'release-vips':
        this.deps.runner.want(false);
        break;
      case 'announce':
        this.deps.runner.announce(a.reason);
        break;
    }
  }

  private sendAdvert(priority: number): void {
    const advert: VrrpAdvert = { ...this.advertTemplate, priority };
    for (const dst of this.destinations) {
      const vrrp = encodeAdvert(advert, { src: this.source, dst }, this.sendForm);
      // keepalived's IP header: TOS 0xc0, TTL 255 (unicast too), protocol 112 — buildIpv4Header's defaults.
      const ip = buildIpv4Header({ src: this.source, dst, id: this.ipId, payloadLength: vrrp.length });
      this.ipId = this.ipId >= 0xffff ? 1 : this.ipId + 1;
      if (this.socket.send(Buffer.concat([ip, vrrp]), dst)) {
        this.counters.advertsSent++;
        this.sendFailures = 0;
      } else {
        this.counters.advertSendErrors++;
        this.sendFailures++;
        this.lastSendError = this.socket.stats.lastError;
      }
    }
  }

  /**
   * Called by the agent whenever the provider runner's status changes. If the provider cannot take
   * the VIPs, give up mastership (a priority-0 advert goes out) and try again later.
   */
  onProviderChange(): void {
    const st = this.deps.runner.status();
    if (st.counters.acquireOk !== this.acquireOkSeen) {
      this.acquireOkSeen = st.counters.acquireOk;
      this.acquireFailBase = st.counters.acquireFail;
      this.providerFaults = 0;
    }
    if (this.snap.state !== 'MASTER' || st.desired !== 'held') return;
    if (st.counters.acquireFail - this.acquireFailBase < ACQUIRE_FAILURES_TO_FAULT) return;
    this.acquireFailBase = st.counters.acquireFail;
    const reason = `cannot take the VIPs: ${st.lastError ?? 'provider failed'}${st.fix ? ` — fix: ${st.fix}` : ''}`;
    this.faultCause = 'provider';
    this.deps.log.error({ instance: this.name, reason }, `entering FAULT: ${reason}`);
    this.apply({ type: 'fault', reason });
    clearTimeout(this.providerFaultTimer);
    const retryMs = Math.min(PROVIDER_FAULT_RETRY_MAX_MS, PROVIDER_FAULT_RETRY_MS * 2 ** this.providerFaults++);
    this.deps.log.info({ instance: this.name, retryInMs: retryMs }, 'will try to take part again after the provider fault');
    this.providerFaultTimer = setTimeout(() => {
      if (this.snap.state === 'FAULT' && this.faultCause === 'provider') {
        this.faultCause = null;
        this.apply({ type: 'recover' });
      }
    }, retryMs);
  }
}
