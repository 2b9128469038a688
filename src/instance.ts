// One configured instance at run time: an election (VRRP by default) decides who should hold the VIPs,
// the provider runner moves them, and a set of fault sources (link, unicast source, socket, provider,
// later health checks) keeps the instance in FAULT while any of them is present — it recovers only
// when the set is empty. The election tells its hooks synchronously; the hooks only set the runner's
// goal, and the runner reports back asynchronously (never from inside our own step).
import type { Logger } from 'pino';
import type { InstanceConfig } from './config/schema.js';
import type { Election, ElectionHooks, ElectionState } from './election/types.js';
import { realClock, type Clock, type ProviderRunner, type ProviderRunnerStatus } from './provider/runner/index.js';
import type { InstanceStatusJson } from './status/types.js';
import { isoTime } from './iso-time.js';

/** Why an instance may be in FAULT; health checks add `check:<name>` later. */
export type FaultSource = 'link' | 'unicast-source' | 'socket' | 'provider' | `check:${string}` | `sync:${string}`;

/** How long a FAULT caused by the provider lasts before the instance tries again: doubles on every
 *  provider fault in a row (so a broken provider cannot make the VIP flap every few seconds). */
const PROVIDER_FAULT_RETRY_MS = 30_000;
const PROVIDER_FAULT_RETRY_MAX_MS = 600_000;

export interface InstanceDeps {
  runner: ProviderRunner;
  /** Builds the election with the hooks it must call. */
  election: (hooks: ElectionHooks) => Election;
  log: Logger;
  /** Time and timers (the provider-fault retry); tests pass a virtual clock. */
  clock?: Clock;
  /**
   * Told of every transition after it is logged (notify hooks, sync groups, routes: hooks/); see
   * Instance.onTransition for when. `agoMs`: how long before this call it happened (0 unless deferred).
   */
  onTransition?: (from: ElectionState, to: ElectionState, reason: string, priority: number, agoMs: number) => void;
}

export class Instance {
  readonly election: Election;
  /** Replaced only by a reload that changes the VIP list in place (swapRunner). */
  runner: ProviderRunner;
  readonly counters = { transitions: 0, becameMaster: 0 };
  private readonly faults = new Map<FaultSource, string>();
  private providerFaultTimer: unknown;
  private providerFaults = 0;
  private acquireOkSeen = 0;
  private started = false;
  private stopped = false;
  private readonly startedWall = Date.now();
  private readonly startedMono: number;
  private readonly log: Logger;
  private readonly clock: Clock;
  private readonly observe: InstanceDeps['onTransition'];
  /** Transitions not yet logged and observed (onTransition); `at`: when it happened (clock.now()). */
  private readonly unreported: { from: ElectionState; to: ElectionState; reason: string; priority: number; at: number }[] = [];

  constructor(
    readonly name: string,
    /** Replaced only by a reload in place (reconfigure). */
    public cfg: InstanceConfig,
    deps: InstanceDeps,
  ) {
    this.log = deps.log;
    this.runner = deps.runner;
    this.clock = deps.clock ?? realClock;
    this.observe = deps.onTransition;
    this.startedMono = this.clock.now();
    this.election = deps.election({
      hold: () => this.runner.want(true),
      release: () => this.runner.want(false),
      announce: (reason) => this.runner.announce(reason),
      takeover: () => this.runner.takeover(),
      tookOver: () => this.runner.takeoverDone(),
      transition: (from, to, reason) => this.onTransition(from, to, reason),
    });
  }

  get state(): ElectionState {
    return this.election.status().state;
  }

  /** Starts the election: in FAULT when a fault source is already present. */
  start(): void {
    this.started = true;
    this.election.start(this.faultReason());
  }

  /** Adds (reason) or clears (null) one fault source. FAULT while any is present. */
  setFault(source: FaultSource, reason: string | null): void {
    if (this.stopped) return;
    const before = this.faults.get(source) ?? null;
    if (before === reason) return;
    if (reason === null) this.faults.delete(source);
    else this.faults.set(source, reason);
    if (reason !== null && before === null) this.log.error({ instance: this.name, source, reason }, `fault: ${reason}`);
    if (reason === null) this.log.info({ instance: this.name, source }, `fault cleared: ${source}`);
    if (this.started) this.election.setFault(this.faultReason());
  }

  /** Tracking (src/checks/tracker.ts) moved the effective priority: the election's next advert carries it. */
  setPriority(priority: number): void {
    if (!this.stopped) this.election.setPriority?.(priority);
  }

  /** Every present fault source, joined; null when there is none. */
  faultReason(): string | null {
    return this.faults.size === 0 ? null : [...this.faults.values()].join('; ');
  }

  hasFault(source: FaultSource): boolean {
    return this.faults.has(source);
  }

  /**
   * The runner's status changed (called asynchronously by the runner). When the provider could not
   * take the VIPs for `faultAfter`, give up mastership (priority 0 goes out) and try again later.
   */
  onProviderChange(st: ProviderRunnerStatus): void {
    if (this.stopped) return;
    if (st.counters.acquireOk !== this.acquireOkSeen) {
      this.acquireOkSeen = st.counters.acquireOk;
      this.providerFaults = 0;
    }
    if (st.fault === null || this.state !== 'MASTER' || st.desired !== 'held' || this.hasFault('provider')) return;
    const retryMs = Math.min(PROVIDER_FAULT_RETRY_MAX_MS, PROVIDER_FAULT_RETRY_MS * 2 ** this.providerFaults++);
    this.setFault('provider', `cannot take the VIPs: ${st.fault}`);
    this.log.info({ instance: this.name, retryInMs: retryMs }, 'will try to take part again after the provider fault');
    this.clock.clearTimeout(this.providerFaultTimer);
    this.providerFaultTimer = this.clock.setTimeout(() => this.setFault('provider', null), retryMs);
  }

  /** Graceful stop: step down (priority 0 if master), then give the VIPs back within the deadline. */
  async shutdown(deadlineMs: number): Promise<void> {
    const p = this.runner.status();
    const mayHold = this.state === 'MASTER' || p.desired === 'held' || p.ownership === 'held' || (p.ownership === 'unknown' && p.desired !== null);
    this.clock.clearTimeout(this.providerFaultTimer);
    this.election.shutdown();
    this.stopped = true;
    this.election.close();
    const deadline = Date.now() + deadlineMs;
    if (mayHold) await this.runner.releaseNow(deadlineMs);
    // close() waits for a provider call that ignores its abort; never beyond the shutdown deadline.
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.runner.close(), new Promise<void>((r) => (timer = setTimeout(r, Math.max(0, deadline - Date.now()))))]);
    clearTimeout(timer);
  }

  /** Reload in place (src/reload/): the new definition; the election is told separately. */
  reconfigure(cfg: InstanceConfig): void {
    this.cfg = cfg;
  }

  /** Reload with a new VIP list (src/reload/): the runner for it takes over the goal; the old one is returned, not closed. */
  swapRunner(runner: ProviderRunner): ProviderRunner {
    const old = this.runner;
    const desired = old.status().desired;
    this.runner = runner;
    if (desired !== null && !this.stopped) runner.want(desired === 'held');
    return old;
  }

  /**
   * A hitless restart (src/reload/): stops without stepping down — no priority 0, the VIPs stay where
   * they are (the next definition takes them over). The runner is closed, never released.
   */
  async abandon(): Promise<void> {
    this.clock.clearTimeout(this.providerFaultTimer);
    this.stopped = true;
    this.election.close();
    await this.runner.close();
  }

  status(): InstanceStatusJson {
    const e = this.election.status();
    const c = this.cfg;
    return {
      state: e.state,
      priority: c.priority,
      effectivePriority: e.effectivePriority,
      master: e.master,
      masterPriority: e.masterPriority,
      vips: c.vips,
      interface: c.interface,
      vrid: c.vrid ?? 0,
      version: c.version,
      mode: c.unicast ? 'unicast' : 'multicast',
      advertIntervalCs: Math.round(c.advertInterval * 100),
      since: this.wallTime(e.since),
      faultReason: e.faultReason,
      faults: Object.fromEntries(this.faults),
      counters: { ...e.counters, ...this.counters },
      provider: this.runner.status(),
      ...(e.facts ? { election: e.facts } : {}),
    };
  }

  /**
   * Counted at once, and normally logged and told to the observers at once too. A transition to
   * MASTER whose provider starts its acquire with a remote request (acquireIsRemote: aws) is logged
   * and observed in the next macrotask instead: the acquire the same step started (hold →
   * runner.want → a microtask, provider/runner/driver.ts) puts its request on the wire first, ahead
   * of ~0.7 ms of log formatting, metrics, events and notify/sync/route hooks (measured, bench/cloud.ts);
   * it cannot settle before that macrotask. Either way the log and the observers see the
   * transitions in their order (a deferred one is flushed before the next), and the log line's `since`
   * says when the transition happened.
   */
  private onTransition(from: ElectionState, to: ElectionState, reason: string): void {
    this.counters.transitions++;
    if (to === 'MASTER') this.counters.becameMaster++;
    const priority = this.election.status().effectivePriority;
    const defer = to === 'MASTER' && this.runner.acquireIsRemote;
    if (this.unreported.push({ from, to, reason, priority, at: this.clock.now() }) === 1 && defer) setImmediate(() => this.report());
    else if (!defer) this.report();
  }

  /** A time of this.clock as an ISO wall-clock time. */
  private wallTime(mono: number): string {
    return isoTime(this.startedWall + (mono - this.startedMono));
  }

  /** The transitions not reported yet, in order: each logged, then observed. */
  private report(): void {
    for (const { from, to, reason, priority, at } of this.unreported.splice(0)) {
      this.log.info({ evt: 'transition', instance: this.name, from, to, reason, priority, since: this.wallTime(at) }, `${this.name}: ${from} → ${to} (${reason})`);
      try {
        this.observe?.(from, to, reason, priority, Math.max(0, this.clock.now() - at));
      } catch (err) {
        this.log.error({ instance: this.name, err: (err as Error).message }, 'a transition observer threw');
      }
    }
  }
}
