// What the VRRP election of one instance does the same for both address families: it owns the pure
// state machine's snapshot (vrrp/fsm.ts) and its entry in the agent's scheduler, turns the instance's
// inputs (start, faults, tracked priority, shutdown, sync-group holds and pulls) into FSM events, and
// carries out the actions a step returns: adverts through the family's sendAdvert, hold / release /
// announce / transition through the instance's hooks, which never make us wait.
//
// Each family keeps only what is its own: the socket and the advert encoder, the receive checks
// (receive() calls drop() for a refused advert, then feeds an accepted one to apply()), and, for
// IPv4, the native offload (election/vrrp.ts overrides reclaim / offloaded / sync / statusCounters).
// IPv4 lives in election/vrrp.ts, IPv6 in vrrp/ipv6-election.ts.
//
// Timers: one scheduler entry, set to the FSM's next deadline after every step (arm); the scheduler
// serves the deadlines of all instances with one platform timer. The FSM puts masters' adverts on a
// grid of their interval (advertGrid), so instances with the same interval advertise in one wake-up.
import type { Logger } from 'pino';
import type { InstanceConfig } from '../config/schema.js';
import { initialState, nextDeadline, step, type FsmAction, type FsmConfig, type FsmEvent, type FsmSnapshot } from '../vrrp/fsm.js';
import type { DropReason } from '../vrrp/validate.js';
import { RateLimitedLog } from '../rate-limited-log.js';
import type { Scheduler, ScheduledEntry } from '../scheduler.js';
import type { Election, ElectionCounters, ElectionHooks, ElectionStatus } from './types.js';

/** Consecutive failed sends after which the socket is considered broken (FAULT until it works again). */
const SEND_FAILURES_TO_FAULT = 3;

/** Drop reasons that mean a peer is configured differently (keepalived logs these too): warn, not debug. */
const MISMATCH_REASONS = new Set<DropReason>([
  'auth-type-mismatch',
  'auth-failed',
  'interval-mismatch',
  'address-mismatch',
  'bad-version',
  'dst-mode-mismatch',
  'unknown-unicast-source',
]);

export interface VrrpElectionBaseDeps {
  /** The advert source (unicast.source, or the interface's primary / link-local address). */
  source: string;
  hooks: ElectionHooks;
  log: Logger;
  /** The agent's timers (and its monotonic clock). */
  scheduler: Scheduler;
  /** Called when trouble() turns non-null (sends keep failing), so the agent looks at the socket. */
  onTrouble?: () => void;
  /** Sync groups: its Master_Down_Timer fired while held back (it wants MASTER; sync/group.ts). */
  onWantMaster?: () => void;
}

export abstract class VrrpElectionBase implements Election {
  readonly kind = 'vrrp';
  readonly counters: ElectionCounters = { advertsSent: 0, advertSendErrors: 0, advertsReceived: 0, dropped: {} };
  protected snap: FsmSnapshot;
  protected fsmCfg: FsmConfig;
  protected source: string;
  protected sendFailures = 0;
  protected closed = false;
  protected readonly now: () => number;
  private lastSendError: string | null = null;
  private readonly timer: ScheduledEntry;
  private readonly dropLog = new RateLimitedLog(10_000);

  /** `adverts`: what trouble() says cannot be sent ("adverts", "IPv6 adverts"). */
  constructor(
    readonly name: string,
    protected cfg: InstanceConfig,
    protected readonly deps: VrrpElectionBaseDeps,
    private readonly adverts: string,
  ) {
    this.now = deps.scheduler.now;
    this.timer = deps.scheduler.entry((now) => this.apply({ type: 'tick' }, now));
    this.source = deps.source;
    this.fsmCfg = this.makeFsmConfig();
    this.snap = initialState(this.fsmCfg, this.now());
  }

  // --- what each family provides ------------------------------------------------------------------

  /** One advert of `priority`, to every destination (count with countSent / sendFailed). */
  protected abstract sendAdvert(priority: number): void;

  /** A new encoder from cfg and source; `definition`: the instance's definition changed (the receive checks too). */
  protected abstract rebuild(definition: boolean): void;

  /** Takes back a steady state that runs elsewhere (the IPv4 offload) before the FSM steps again. */
  protected reclaim(): void {}

  /** True when the steady state runs elsewhere (already, or handed over now): no scheduler entry. */
  protected offloaded(): boolean {
    return false;
  }

  /** The counters /status shows (IPv4 adds what its offload did since it was handed over). */
  protected statusCounters(): ElectionCounters {
    return { ...this.counters, dropped: { ...this.counters.dropped } };
  }

  /** Catches up with work done elsewhere; nothing to do unless a family offloads. */
  sync(): void {}

  // --- the instance's inputs ----------------------------------------------------------------------

  start(fault: string | null): void {
    this.apply(fault ? { type: 'fault', reason: fault } : { type: 'startup' });
  }

  setFault(reason: string | null): void {
    if (reason !== null) this.apply({ type: 'fault', reason });
    else if (this.snap.state === 'FAULT') this.apply({ type: 'recover' });
  }

  /**
   * Tracking moved the effective priority (keepalived vrrp_set_effective_priority): the FSM records
   * it in every state, and the next advert carries it (an offloaded steady state is taken back first
   * and handed over again with an advert template of the new priority).
   */
  setPriority(priority: number): void {
    this.apply({ type: 'setPriority', priority });
  }

  shutdown(): void {
    this.apply({ type: 'shutdown' });
    this.disarm();
  }

  close(): void {
    this.reclaim();
    this.closed = true;
    this.disarm();
  }

  trouble(): string | null {
    return this.sendFailures >= SEND_FAILURES_TO_FAULT ? `cannot send ${this.adverts} on ${this.cfg.interface}: ${this.lastSendError ?? 'send failed'}` : null;
  }

  /** The interface was renumbered (or its link-local address changed): adverts leave from `source` from the next one on. */
  setSource(source: string): void {
    if (source === this.source) return;
    this.reclaim();
    this.source = source;
    this.fsmCfg = this.makeFsmConfig();
    this.rebuild(false);
    this.deps.log.warn({ instance: this.name, source }, `advert source is now ${source}`);
    this.arm();
  }

  /**
   * Reload in place (config/diff.ts: priority, vips): adverts and the receive checks use the new
   * definition from the next one on; the state and its timers go on (an offloaded steady state is
   * taken back and handed over again with the new template). A new base priority reaches the FSM
   * through setPriority (the tracker's, when the instance tracks).
   */
  reconfigure(cfg: InstanceConfig): void {
    this.reclaim();
    this.cfg = cfg;
    this.fsmCfg = this.makeFsmConfig();
    this.rebuild(true);
    this.arm();
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
      counters: this.statusCounters(),
    };
  }

  /** Sync groups (sync/group.ts): may it take over by its own timer (keepalived vrrp_sync_can_goto_master)? */
  syncHold(hold: boolean): void {
    if ((this.snap.syncHold ?? false) !== hold) this.apply({ type: 'syncHold', hold });
  }

  /** Sync groups: pulled to BACKUP (from MASTER) or MASTER (from BACKUP) with its group (vrrp_sync_backup / _master). */
  syncPull(to: 'BACKUP' | 'MASTER', reason: string): void {
    this.apply(to === 'MASTER' ? { type: 'syncMaster', reason } : { type: 'syncBackup', reason });
  }

  /** Held back and its timer fired: ready to be MASTER. */
  wantsMaster(): boolean {
    return this.snap.wantsMaster ?? false;
  }

  // --- the state machine --------------------------------------------------------------------------

  protected apply(ev: FsmEvent, now: number = this.now()): void {
    if (this.closed) return;
    this.reclaim();
    const { state, actions } = step(this.fsmCfg, this.snap, ev, now);
    this.snap = state;
    for (const a of actions) this.perform(a);
    this.arm();
  }

  protected perform(a: FsmAction): void {
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
      case 'want-master':
        this.deps.onWantMaster?.();
        break;
    }
  }

  /** Sets the scheduler entry to the FSM's deadline, unless the steady state runs elsewhere. */
  protected arm(): void {
    if (this.closed) return;
    if (this.offloaded()) return this.disarm();
    const at = nextDeadline(this.snap);
    const armed = this.timer.slot >= 0;
    if (at === null ? !armed : armed && at === this.timer.at) return;
    this.deps.scheduler.set(this.timer, at);
  }

  protected disarm(): void {
    if (this.timer.slot >= 0) this.deps.scheduler.set(this.timer, null);
  }

  // --- bookkeeping --------------------------------------------------------------------------------

  /** A received datagram failed the instance's checks: counted, and logged (rate-limited). */
  protected drop(reason: DropReason, detail: string): void {
    this.counters.dropped[reason] = (this.counters.dropped[reason] ?? 0) + 1;
    if (this.dropLog.allow(reason)) {
      // A peer configured differently (password, interval, VIP set, version, mode) means two masters:
      // say so at warn, as keepalived does. Malformed or stray packets stay at debug.
      const level = MISMATCH_REASONS.has(reason) ? 'warn' : 'debug';
      this.deps.log[level]({ evt: 'drop', instance: this.name, reason, detail }, `advert dropped: ${reason} (${detail})`);
    }
  }

  /** `n` datagrams of an advert left (here or on the offload's thread). */
  protected countSent(n: number): void {
    this.counters.advertsSent += n;
    if (n > 0) this.sendFailures = 0;
  }

  protected sendFailed(error: string | null): void {
    this.counters.advertSendErrors++;
    this.lastSendError = error;
    if (++this.sendFailures === SEND_FAILURES_TO_FAULT) this.deps.onTrouble?.();
  }

  /** The socket was reopened: sends may work again. */
  protected clearSendFailures(): void {
    this.sendFailures = 0;
    this.lastSendError = null;
  }

  private makeFsmConfig(): FsmConfig {
    const c = this.cfg;
    return {
      version: c.version, // 3 for IPv6 (config/schema.ts familyRule)
      priority: c.priority,
      advertIntervalCs: Math.round(c.advertInterval * 100),
      preempt: c.preempt,
      preemptDelayMs: c.preemptDelay * 1000,
      localAddress: this.source,
      lowerPrioNoAdvert: c.lowerPrioNoAdvert,
      advertGrid: true,
      advertGridPhaseMs: this.deps.scheduler.gridPhaseMs,
    };
  }
}
