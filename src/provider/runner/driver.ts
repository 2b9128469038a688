// Runs one VIP provider on behalf of an instance, so the VRRP engine never waits on it. A thin
// driver around the pure policy in ./step.ts: it turns calls (want, releaseNow, close), settled
// provider calls, timer ticks and rate-limit tokens into events, and carries out the effects (start
// or abort a provider call, ask for a token, log) with the injected Clock.
//
// Guarantees to callers: want()/announce() are synchronous and cheap, and never call back into the
// caller (onChange is deferred to a microtask and coalesced); after want(true) the acquire starts in
// a microtask when a rate-limit token is at hand (same macrotask: the GARP follows the advert at once);
// nothing throws into the caller or leaves an unhandled rejection.
import type { Logger } from 'pino';
import { classifyError, type ErrorClass } from '../errors.js';
import type { AnnounceReason, LocalTakeover, Ownership, ProviderTiming, VipOwnership, VipProvider } from '../types.js';
import { realClock, type Clock } from './clock.js';
import { RateLimiter } from './rate-limiter.js';
import {
  initialState,
  isReached,
  nextDeadline,
  step,
  type Goal,
  type ProviderCounters,
  type RunnerEffect,
  type RunnerEvent,
  type RunnerState,
  type StepConfig,
} from './step.js';
import { VerifyBatch } from './verify-batch.js';
import { fencedAcquire, type Fence, type FencingCounters } from './fencing.js';
import { isoTime } from '../../iso-time.js';

export interface ProviderRunnerStatus {
  type: string;
  desired: Goal | null;
  /** All VIPs at once; see step.ts for the rule (held / not-held / elsewhere when they agree). */
  ownership: Ownership;
  /** Per VIP, as last known. */
  vips: VipOwnership;
  /** A provider call (acquire, release or verify) is in flight, or one we aborted has not yet returned. */
  busy: boolean;
  /** "<op>: <message>" of the last failure; cleared by the next successful call. */
  lastError: string | null;
  lastErrorClass: ErrorClass | null;
  /** What the user should do about lastError, when the provider knows. */
  fix: string | null;
  /** Set while the goal is held and no acquire has succeeded for timing.faultAfterMs (the reason). */
  fault: string | null;
  /** ISO time `ownership` last changed value; null while it has never changed. */
  lastChange: string | null;
  counters: ProviderCounters;
  /** Only with a fence (lease-based elections): acquires refused or aborted by fencing. */
  fencing?: { refused: number; aborted: number; lastToken: FencingCounters['lastToken'] };
}

export interface ProviderRunnerOptions {
  log: Logger;
  timing: ProviderTiming;
  /** The instance's VIPs (keys of the per-VIP ownership). */
  vips: readonly string[];
  clock?: Clock;
  random?: () => number;
  /** Shared by every runner of this provider type (createTypeResources). Default: unlimited, own. */
  limiter?: RateLimiter;
  /** Shared by every runner of this provider type (createTypeResources). Default: own, no verifyMany. */
  batch?: VerifyBatch;
  /** How long an aborted call may keep running before it is reported as ignoring its abort. */
  abortGraceMs?: number;
  /** Called (deferred, coalesced) after the status changed. */
  onChange?: (status: ProviderRunnerStatus) => void;
  /**
   * Called just before a provider call's result is acted on, so whoever sets the goal can bring it up
   * to date first: the election's offload may have taken over outside JS (vrrp/offload.ts), and a
   * verify that saw its VIPs must meet the new goal, not be taken for drift and released.
   */
  syncGoal?: () => void;
  /** Told of every provider call when it settles: ok, the error's class, or aborted; its duration (ms); the error's message. Must not throw. */
  onCall?: (op: 'acquire' | 'release' | 'verify', outcome: 'ok' | 'retryable' | 'permanent' | 'aborted', ms: number, error?: string) => void;
  /** Lease-based elections (./fencing.ts): every acquire carries the leader's token; a stale one is refused. */
  fence?: Fence;
}

export const DEFAULT_ABORT_GRACE_MS = 5_000;

/** The reason we put on our AbortControllers. */
class RunnerAbort extends Error {
  override name = 'AbortError';
}

export class ProviderRunner {
  private readonly log: Logger;
  private readonly clock: Clock;
  private readonly cfg: StepConfig;
  private readonly limiter: RateLimiter;
  private readonly batch: VerifyBatch;
  private readonly onChange: ((status: ProviderRunnerStatus) => void) | undefined;
  private state: RunnerState;

  private readonly queue: RunnerEvent[] = [];
  private dispatching = false;
  private timer: unknown = null;
  private timerAt: number | null = null;
  private readonly calls = new Map<number, AbortController>();
  private cancelToken: (() => void) | null = null;
  private changeQueued = false;
  /** The state last reported through onChange (steps never mutate a state: they return a new one). */
  private lastEmitted: RunnerState | null = null;
  /** Re-checked after every event: whenReached(), releaseNow() and close() waiters. */
  private readonly watchers = new Set<() => void>();
  private releasing: Promise<boolean> | null = null;
  private closing: Promise<void> | null = null;
  private readonly fencing: FencingCounters = { refused: 0, aborted: 0, lastToken: null };

  constructor(
    private readonly provider: VipProvider,
    private readonly opts: ProviderRunnerOptions,
  ) {
    this.log = opts.log.child({ provider: provider.type });
    this.clock = opts.clock ?? realClock;
    this.cfg = { timing: opts.timing, vips: [...opts.vips], abortGraceMs: opts.abortGraceMs ?? DEFAULT_ABORT_GRACE_MS, random: opts.random ?? Math.random };
    this.limiter = opts.limiter ?? new RateLimiter({ perSecond: Infinity, burst: 1 }, this.clock);
    this.batch = opts.batch ?? new VerifyBatch({ clock: this.clock, limiter: this.limiter });
    this.onChange = opts.onChange;
    this.state = initialState(this.cfg.vips);
    provider.watch?.(() => {
      if (!this.state.closed) this.dispatch({ type: 'recheck' });
    });
  }

  /** The provider's acquireIsRemote (VipProvider). */
  get acquireIsRemote(): boolean {
    return this.provider.acquireIsRemote === true;
  }

  /** Sets the goal. Synchronous and cheap: the work happens in the background. */
  want(hold: boolean): void {
    this.dispatch({ type: 'want', goal: hold ? 'held' : 'released' });
  }

  /**
   * The provider's LocalTakeover (VipProvider.takeover), offered only while the runner is idle with
   * the VIPs released: a fast path must never race an operation of ours. Null otherwise.
   */
  takeover(): LocalTakeover | null {
    const s = this.state;
    if (s.closed || s.shutdown || s.goal !== 'released' || s.running !== null || !isReached(s) || !this.provider.takeover) return null;
    try {
      return this.provider.takeover();
    } catch (err) {
      this.log.warn({ err: classifyError(err).message }, 'provider takeover plan failed');
      return null;
    }
  }

  /** The fast path carried out takeover() (VipProvider.takeoverDone); call before want(true). */
  takeoverDone(): void {
    try {
      this.provider.takeoverDone?.();
    } catch (err) {
      this.log.warn({ err: classifyError(err).message }, 'provider takeoverDone failed');
    }
  }

  /** Re-announces the VIPs (e.g. GARP) while we are supposed to hold them. Fire and forget. */
  announce(reason: AnnounceReason): void {
    const s = this.state;
    if (s.closed || s.shutdown || s.goal !== 'held') return;
    try {
      this.provider.announce?.(reason);
    } catch (err) {
      this.log.warn({ err: classifyError(err).message, reason }, 'provider announce failed');
    }
  }

  /** What /status shows. A field added here belongs in sameReport() too (onChange fires on it). */
  status(): ProviderRunnerStatus {
    const s = this.state;
    return {
      type: this.provider.type,
      desired: s.goal,
      ownership: s.ownership,
      vips: { ...s.vips },
      busy: s.running !== null,
      lastError: s.lastError,
      lastErrorClass: s.lastErrorClass,
      fix: s.fix,
      fault: s.fault,
      lastChange: s.lastChangeAt === null ? null : isoTime(Date.now() - (this.clock.now() - s.lastChangeAt)),
      counters: { ...s.counters },
      ...(this.opts.fence ? { fencing: { ...this.fencing } } : {}),
    };
  }

  /**
   * Resolves true once the current goal has been reached (e.g. the start-up release of stale VIPs),
   * false when `timeoutMs` passes first, the goal changes, or the runner stops. Never rejects.
   */
  whenReached(timeoutMs: number): Promise<boolean> {
    if (isReached(this.state)) return Promise.resolve(true);
    const gen = this.state.gen;
    return this.watch(timeoutMs, false, () => {
      const s = this.state;
      if (s.closed || s.shutdown || s.gen !== gen) return false;
      return isReached(s) ? true : null;
    });
  }

  /**
   * For shutdown: take no more work, abort what runs, wait for it (strict order), then release once.
   * Resolves true when that release succeeded within `timeoutMs`, false otherwise; never rejects.
   * want() is a no-op afterwards; call close() next.
   */
  releaseNow(timeoutMs: number): Promise<boolean> {
    if (this.state.closed) return Promise.resolve(false);
    if (this.releasing) return this.releasing;
    this.dispatch({ type: 'release-now', deadline: this.clock.now() + Math.max(0, timeoutMs) });
    // The step ends the shutdown at its deadline by itself; the extra timer only guards against a bug.
    this.releasing = this.watch(timeoutMs + 1, false, () => this.state.shutdown?.result ?? null);
    return this.releasing;
  }

  /**
   * Stops for good: aborts what runs, waits for it (at most abortGraceMs), then closes the provider.
   * want() is a no-op afterwards. Never rejects.
   */
  close(): Promise<void> {
    if (this.closing) return this.closing;
    this.dispatch({ type: 'close' });
    this.closing = this.watch(this.cfg.abortGraceMs, true, () => (this.state.running === null ? true : null)).then(() => {
      this.disarm();
      try {
        this.provider.close?.();
      } catch (err) {
        this.log.warn({ err: classifyError(err).message }, 'provider close failed');
      }
    });
    return this.closing;
  }

  // --- events and effects -----------------------------------------------------------------------

  private dispatch(ev: RunnerEvent): void {
    this.queue.push(ev);
    if (this.dispatching) return; // an effect fed an event back (a token granted at once): run it next
    this.dispatching = true;
    try {
      for (let e = this.queue.shift(); e; e = this.queue.shift()) {
        const out = step(this.state, e, this.clock.now(), this.cfg);
        this.state = out.state;
        for (const fx of out.effects) this.perform(fx);
      }
      this.arm();
    } catch (err) {
      this.log.error({ err: classifyError(err).message }, 'provider runner step failed');
    } finally {
      this.dispatching = false;
      this.queue.length = 0;
    }
    for (const w of [...this.watchers]) w();
    this.scheduleChange();
  }

  private perform(fx: RunnerEffect): void {
    switch (fx.type) {
      case 'start':
        this.startCall(fx.id, fx.op);
        break;
      case 'abort':
        try {
          this.calls.get(fx.id)?.abort(new RunnerAbort(fx.reason));
        } catch (err) {
          this.log.warn({ err: classifyError(err).message }, 'provider abort handler threw');
        }
        break;
      case 'request-token':
        this.cancelToken = this.limiter.take(() => {
          this.cancelToken = null;
          this.dispatch({ type: 'token' });
        });
        break;
      case 'cancel-token':
        this.cancelToken?.();
        this.cancelToken = null;
        break;
      case 'log':
        this.log[fx.level](fx.fields ?? {}, fx.msg);
        break;
    }
  }

  /**
   * Starts a provider call in a microtask: still in the caller's macrotask (the GARP follows the
   * advert at once), but after the caller's own synchronous work (its FSM step, other instances'
   * adverts in the same turn). An abort before then reaches the provider as an aborted signal.
   */
  private startCall(id: number, op: 'acquire' | 'release' | 'verify'): void {
    const ctrl = new AbortController();
    this.calls.set(id, ctrl);
    const startedAt = this.clock.now();
    queueMicrotask(() => {
      let call: Promise<unknown>;
      try {
        if (op === 'acquire' && this.opts.fence) call = fencedAcquire(this.provider, this.opts.fence, this.fencing, ctrl.signal);
        else call = Promise.resolve(op === 'verify' ? this.batch.verify(this.provider, ctrl.signal) : this.provider[op](ctrl.signal));
      } catch (err) {
        call = Promise.reject(err);
      }
      call.then(
        (value) => {
          this.calls.delete(id);
          this.opts.onCall?.(op, 'ok', this.clock.now() - startedAt);
          this.syncGoal();
          this.dispatch({ type: 'settled', id, outcome: { ok: true, value } });
        },
        (err: unknown) => {
          this.calls.delete(id);
          const error = classifyError(err);
          this.opts.onCall?.(op, ctrl.signal.aborted ? 'aborted' : error.errorClass, this.clock.now() - startedAt, error.message);
          this.syncGoal();
          this.dispatch({ type: 'settled', id, outcome: { ok: false, error } });
        },
      );
    });
  }

  /** opts.syncGoal, guarded: a goal set by a fast path outside JS reaches us before any result does. */
  private syncGoal(): void {
    try {
      this.opts.syncGoal?.();
    } catch (err) {
      this.log.warn({ err: classifyError(err).message }, 'syncGoal callback threw');
    }
  }

  private arm(): void {
    const at = nextDeadline(this.state, this.cfg);
    if (at === this.timerAt) return;
    this.disarm();
    if (at === null) return;
    this.timerAt = at;
    this.timer = this.clock.setTimeout(() => {
      this.timer = null;
      this.timerAt = null;
      this.dispatch({ type: 'tick' });
    }, Math.max(0, Math.ceil(at - this.clock.now())));
  }

  private disarm(): void {
    if (this.timer !== null) this.clock.clearTimeout(this.timer);
    this.timer = null;
    this.timerAt = null;
  }

  /** Resolves with check()'s first non-null answer, or `onTimeout` after `timeoutMs`. */
  private watch<T>(timeoutMs: number, onTimeout: T, check: () => T | null): Promise<T> {
    return new Promise<T>((resolve) => {
      const finish = (v: T) => {
        this.clock.clearTimeout(timer);
        this.watchers.delete(w);
        resolve(v);
      };
      const w = () => {
        const v = check();
        if (v !== null) finish(v);
      };
      const timer = this.clock.setTimeout(() => finish(onTimeout), Math.max(0, timeoutMs));
      this.watchers.add(w);
      w();
    });
  }

  /** onChange, at most once per microtask and only when the status really changed. */
  private scheduleChange(): void {
    if (!this.onChange || this.changeQueued) return;
    this.changeQueued = true;
    queueMicrotask(() => {
      this.changeQueued = false;
      // Compared field by field on the state (no status object, no JSON): reconciles of 200 instances
      // pass through here every few seconds, and most change nothing but a counter.
      if (this.lastEmitted && sameReport(this.lastEmitted, this.state)) return;
      this.lastEmitted = this.state;
      try {
        this.onChange!(this.status());
      } catch (err) {
        this.log.warn({ err: classifyError(err).message }, 'provider runner onChange callback threw');
      }
    });
  }

}

/** True when status() would report the same for `a` and `b` (lastChange aside). */
function sameReport(a: RunnerState, b: RunnerState): boolean {
  if (a === b) return true;
  if (a.goal !== b.goal || a.ownership !== b.ownership || (a.running === null) !== (b.running === null)) return false;
  if (a.lastError !== b.lastError || a.lastErrorClass !== b.lastErrorClass || a.fix !== b.fix || a.fault !== b.fault) return false;
  return sameRecord(a.vips, b.vips) && sameRecord(a.counters, b.counters);
}

function sameRecord<T extends object>(a: T, b: T): boolean {
  if (a === b) return true;
  const ka = Object.keys(a) as (keyof T)[];
  if (ka.length !== Object.keys(b).length) return false;
  for (const k of ka) if (a[k] !== b[k]) return false;
  return true;
}
