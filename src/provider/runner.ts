// Runs one VIP provider on behalf of the VRRP engine, so the engine never waits on it.
//
// The engine only says what it wants (`want(true|false)`, synchronous). A single background loop
// then works towards that goal, one provider call at a time:
//   - acquire/release until it succeeds, each attempt with a deadline (AbortSignal), failures retried
//     with exponential backoff and full jitter;
//   - a goal change aborts the call in flight; the call for the new goal starts once it has settled;
//   - once the goal is reached, verify() every `reconcileMs` and redo the operation on drift.
// Nothing here throws into the caller or leaves a rejected promise behind.
//
// `ownership`, as the status shows it, is the last thing we know for sure:
//   'unknown' at start; 'held' after a successful acquire; 'not-held' after a successful release;
//   the result of the last successful verify(); 'unknown' again after an acquire/release that failed,
//   timed out or was aborted (it may have done half its work). It does not change when a call starts:
//   `busy` says a provider call (acquire, release or verify) is in flight right now.
import type { Logger } from 'pino';
import type { Ownership, VipProvider } from './types.js';

export type Goal = 'held' | 'released';

export interface ProviderCounters {
  acquireOk: number;
  acquireFail: number;
  releaseOk: number;
  releaseFail: number;
  verifyFail: number;
  /** verify() disagreed with the goal (VIP gone while held, or still there while released). */
  drift: number;
}

export interface ProviderRunnerStatus {
  type: string;
  desired: Goal | null;
  ownership: Ownership;
  busy: boolean;
  /** "<op>: <message>" of the last failure; cleared by the next successful call. */
  lastError: string | null;
  /** ISO time `ownership` last changed value; null while it has never changed. */
  lastChange: string | null;
  counters: ProviderCounters;
}

export interface ProviderRunnerOptions {
  log: Logger;
  /** Backoff base and ceiling (ms): the n-th consecutive failure waits random() * min(maxMs, baseMs * 2^(n-1)). */
  baseMs?: number;
  maxMs?: number;
  /** Deadline of one acquire/release/verify call. */
  opTimeoutMs?: number;
  /** Period of verify() once the goal is reached. */
  reconcileMs?: number;
  /** How long to wait for a call that ignores its abort signal before giving up on it. */
  abortGraceMs?: number;
  random?: () => number;
  onChange?: (status: ProviderRunnerStatus) => void;
}

type Op = 'acquire' | 'release' | 'verify';

type Outcome<T> = { ok: true; value: T } | { ok: false; cause: 'error' | 'timeout' | 'cancelled'; message: string };

/** The reason we put on an AbortController, so we can tell our own aborts from provider errors. */
class RunnerAbort extends Error {
  constructor(
    readonly kind: 'timeout' | 'cancelled',
    message: string,
  ) {
    super(message);
    this.name = 'RunnerAbort';
  }
}

const OWNERSHIPS: readonly Ownership[] = ['held', 'not-held', 'elsewhere', 'unknown'];

/** Full-jitter exponential backoff: a random delay in [0, min(maxMs, baseMs * 2^(failures-1))). */
export function backoffDelayMs(failures: number, baseMs: number, maxMs: number, random: () => number): number {
  const ceiling = Math.min(maxMs, baseMs * 2 ** Math.max(0, failures - 1));
  return Math.max(0, Math.floor(random() * ceiling));
}

function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message || err.name;
  return String(err);
}

export class ProviderRunner {
  private readonly log: Logger;
  private readonly baseMs: number;
  private readonly maxMs: number;
  private readonly opTimeoutMs: number;
  private readonly reconcileMs: number;
  private readonly abortGraceMs: number;
  private readonly random: () => number;
  private readonly onChange: ((status: ProviderRunnerStatus) => void) | undefined;

  private goal: Goal | null = null;
  /** Bumped on every goal change; work started for an older generation is stale. */
  private gen = 0;
  /** The goal's operation has succeeded (and no drift has been seen since). */
  private reached = false;
  private failures = 0;
  private ownership: Ownership = 'unknown';
  private lastError: string | null = null;
  private lastChange: string | null = null;
  private readonly counters: ProviderCounters = { acquireOk: 0, acquireFail: 0, releaseOk: 0, releaseFail: 0, verifyFail: 0, drift: 0 };

  /** The provider call in flight, if any. */
  private inflight: AbortController | null = null;
  /** Ends the loop's current sleep early (goal change, close). */
  private wakeSleep: (() => void) | null = null;
  /** No more work is taken (releaseNow or close was called). */
  private stopped = false;
  private closed = false;
  private readonly loopDone: Promise<void>;
  private releasing: Promise<boolean> | null = null;
  private finalRelease: Promise<boolean> | null = null;
  private closing: Promise<void> | null = null;
  /** whenReached() callers, re-checked on every change. */
  private readonly reachWaiters = new Set<() => void>();

  constructor(
    private readonly provider: VipProvider,
    opts: ProviderRunnerOptions,
  ) {
    this.log = opts.log.child({ provider: provider.type });
    this.baseMs = opts.baseMs ?? 500;
    this.maxMs = opts.maxMs ?? 30_000;
    this.opTimeoutMs = opts.opTimeoutMs ?? 30_000;
    this.reconcileMs = opts.reconcileMs ?? 10_000;
    this.abortGraceMs = opts.abortGraceMs ?? 5_000;
    this.random = opts.random ?? Math.random;
    this.onChange = opts.onChange;
    this.loopDone = this.loop().catch((err) => {
      this.log.error({ err: errorMessage(err) }, 'provider runner stopped unexpectedly');
    });
  }

  /** Sets the goal. Synchronous and cheap: the work happens in the background. */
  want(hold: boolean): void {
    if (this.stopped) return;
    const goal: Goal = hold ? 'held' : 'released';
    if (goal === this.goal) return;
    this.goal = goal;
    this.gen++;
    this.reached = false;
    this.failures = 0;
    this.log.debug({ desired: goal }, 'provider goal changed');
    this.abortInflight('goal changed');
    this.wake();
    this.emit();
  }

  /** Re-announces the VIPs (e.g. GARP) while we are supposed to hold them. Fire and forget. */
  announce(reason: 'lower-priority' | 'refresh'): void {
    if (this.stopped || this.goal !== 'held') return;
    try {
      this.provider.announce?.(reason);
    } catch (err) {
      this.log.warn({ err: errorMessage(err), reason }, 'provider announce failed');
    }
  }

  status(): ProviderRunnerStatus {
    return {
      type: this.provider.type,
      desired: this.goal,
      ownership: this.ownership,
      busy: this.inflight !== null,
      lastError: this.lastError,
      lastChange: this.lastChange,
      counters: { ...this.counters },
    };
  }

  /**
   * Resolves true once the current goal has been reached (e.g. the start-up release of stale VIPs),
   * false when `timeoutMs` passes first, the goal changes, or the runner stops. Never rejects.
   */
  whenReached(timeoutMs: number): Promise<boolean> {
    if (this.reached && !this.stopped) return Promise.resolve(true);
    const gen = this.gen;
    return new Promise<boolean>((resolve) => {
      const finish = (ok: boolean) => {
        clearTimeout(timer);
        this.reachWaiters.delete(check);
        resolve(ok);
      };
      const check = () => {
        if (this.stopped || gen !== this.gen) finish(false);
        else if (this.reached) finish(true);
      };
      const timer = setTimeout(() => finish(false), Math.max(0, timeoutMs));
      this.reachWaiters.add(check);
    });
  }

  /**
   * For shutdown: stop all other work, abort what runs, then release once. Resolves true when the
   * release succeeded within `timeoutMs`, false otherwise; never rejects. The runner takes no more
   * work afterwards (want() is a no-op); call close() next.
   */
  releaseNow(timeoutMs: number): Promise<boolean> {
    if (this.closed) return Promise.resolve(false);
    if (this.releasing) return this.releasing;
    const deadline = Date.now() + timeoutMs;
    this.stopped = true;
    this.goal = 'released';
    this.gen++;
    this.abortInflight('shutting down');
    this.wake();
    this.emit();
    this.finalRelease = this.releaseOnce(deadline).catch(() => false);
    let timer: NodeJS.Timeout | undefined;
    const expired = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), Math.max(0, timeoutMs))));
    this.releasing = Promise.race([this.finalRelease, expired]).finally(() => clearTimeout(timer));
    return this.releasing;
  }

  /** Stops timers, aborts work in flight, closes the provider. want() is a no-op afterwards. */
  close(): Promise<void> {
    if (this.closing) return this.closing;
    this.closed = true;
    this.stopped = true;
    this.abortInflight('closed');
    this.wake();
    this.closing = (async () => {
      await this.loopDone;
      await this.releasing;
      await this.finalRelease;
      try {
        this.provider.close?.();
      } catch (err) {
        this.log.warn({ err: errorMessage(err) }, 'provider close failed');
      }
    })().catch(() => {});
    return this.closing;
  }

  // --- the loop ---------------------------------------------------------------------------------

  private async loop(): Promise<void> {
    while (!this.stopped) {
      const goal = this.goal;
      const gen = this.gen;
      if (goal === null) {
        await this.sleep(Infinity);
        continue;
      }
      if (!this.reached) {
        const ok = await this.runGoal(goal);
        if (this.stopped || gen !== this.gen) continue;
        if (ok) {
          this.reached = true;
          this.failures = 0;
          this.notifyReachWaiters();
        } else {
          this.failures++;
          const delay = backoffDelayMs(this.failures, this.baseMs, this.maxMs, this.random);
          this.log.info({ failures: this.failures, retryInMs: delay }, `will retry ${goal === 'held' ? 'acquire' : 'release'}`);
          await this.sleep(delay);
        }
        continue;
      }
      await this.sleep(this.reconcileMs);
      if (this.stopped || gen !== this.gen) continue;
      await this.reconcile(goal, gen);
    }
  }

  private async runGoal(goal: Goal): Promise<boolean> {
    const op = goal === 'held' ? 'acquire' : 'release';
    const outcome = await this.attempt(op, this.opTimeoutMs, (signal) =>
      op === 'acquire' ? this.provider.acquire(signal) : this.provider.release(signal),
    );
    return this.record(op, outcome);
  }

  /** Applies the outcome of an acquire/release to counters, ownership and lastError. */
  private record(op: 'acquire' | 'release', outcome: Outcome<void>): boolean {
    if (outcome.ok) {
      if (op === 'acquire') this.counters.acquireOk++;
      else this.counters.releaseOk++;
      this.lastError = null;
      this.setOwnership(op === 'acquire' ? 'held' : 'not-held');
      this.log.info(op === 'acquire' ? 'VIPs acquired' : 'VIPs released');
    } else {
      this.setOwnership('unknown');
      if (outcome.cause === 'cancelled') {
        this.log.debug({ reason: outcome.message }, `${op} aborted`);
      } else {
        if (op === 'acquire') this.counters.acquireFail++;
        else this.counters.releaseFail++;
        this.lastError = `${op}: ${outcome.message}`;
        this.log.warn({ err: outcome.message }, `${op} failed`);
      }
    }
    this.emit();
    return outcome.ok;
  }

  /** One verify(); on disagreement with the goal, marks the goal unreached so the loop redoes it. */
  private async reconcile(goal: Goal, gen: number): Promise<void> {
    const outcome = await this.attempt('verify', this.opTimeoutMs, (signal) => this.provider.verify(signal));
    if (!outcome.ok) {
      if (outcome.cause !== 'cancelled') {
        this.counters.verifyFail++;
        this.lastError = `verify: ${outcome.message}`;
        this.log.warn({ err: outcome.message }, 'verify failed');
      }
      this.emit();
      return;
    }
    const seen: Ownership = OWNERSHIPS.includes(outcome.value) ? outcome.value : 'unknown';
    this.lastError = null;
    this.setOwnership(seen);
    if (!this.stopped && gen === this.gen) {
      if (goal === 'held' && (seen === 'not-held' || seen === 'elsewhere')) {
        this.counters.drift++;
        this.reached = false;
        this.log.warn({ ownership: seen }, 'VIP drifted away while MASTER; re-acquiring');
      } else if (goal === 'released' && seen === 'held') {
        this.counters.drift++;
        this.reached = false;
        this.log.warn('VIP still held while not MASTER; releasing again');
      } else if (seen === 'unknown') {
        this.log.debug('verify could not tell who holds the VIP');
      }
    }
    this.emit();
  }

  /** The release run by releaseNow(), after the loop has let go of the provider. */
  private async releaseOnce(deadline: number): Promise<boolean> {
    await this.loopDone;
    const left = deadline - Date.now();
    if (left <= 0 || this.closed) return false;
    const outcome = await this.attempt('release', left, (signal) => this.provider.release(signal));
    return this.record('release', outcome);
  }

  // --- one provider call ------------------------------------------------------------------------

  /**
   * Runs one provider call with a deadline. Resolves with its outcome, never rejects. If the call
   * ignores its abort signal for `abortGraceMs`, we stop waiting for it (and ignore its result).
   */
  private async attempt<T>(op: Op, timeoutMs: number, call: (signal: AbortSignal) => Promise<T>): Promise<Outcome<T>> {
    const ctrl = new AbortController();
    const timer = setTimeout(() => ctrl.abort(new RunnerAbort('timeout', `timed out after ${timeoutMs} ms`)), timeoutMs);
    let graceTimer: NodeJS.Timeout | undefined;
    let giveUp: (err: Error) => void = () => {};
    const abandoned = new Promise<never>((_, reject) => (giveUp = reject));
    const onAbort = () => {
      graceTimer = setTimeout(() => {
        this.log.error({ op }, `provider ${op} ignored its abort signal for ${this.abortGraceMs} ms; no longer waiting for it`);
        giveUp(new Error('ignored abort'));
      }, this.abortGraceMs);
    };
    ctrl.signal.addEventListener('abort', onAbort, { once: true });
    this.inflight = ctrl;
    const work = (async () => call(ctrl.signal))();
    work.catch(() => {});
    this.emit();
    try {
      return { ok: true, value: await Promise.race([work, abandoned]) };
    } catch (err) {
      const reason: unknown = ctrl.signal.aborted ? ctrl.signal.reason : undefined;
      if (reason instanceof RunnerAbort) return { ok: false, cause: reason.kind, message: reason.message };
      return { ok: false, cause: 'error', message: errorMessage(err) };
    } finally {
      clearTimeout(timer);
      clearTimeout(graceTimer);
      ctrl.signal.removeEventListener('abort', onAbort);
      if (this.inflight === ctrl) this.inflight = null;
    }
  }

  // --- helpers ----------------------------------------------------------------------------------

  private abortInflight(why: string): void {
    try {
      this.inflight?.abort(new RunnerAbort('cancelled', why));
    } catch (err) {
      this.log.warn({ err: errorMessage(err) }, 'provider abort handler threw');
    }
  }

  /** Sleeps `ms` (Infinity: until woken); wake() ends it early. */
  private sleep(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const timer = Number.isFinite(ms) ? setTimeout(() => done(), ms) : undefined;
      const done = () => {
        clearTimeout(timer);
        if (this.wakeSleep === done) this.wakeSleep = null;
        resolve();
      };
      this.wakeSleep = done;
    });
  }

  private wake(): void {
    this.wakeSleep?.();
  }

  private setOwnership(o: Ownership): void {
    if (o === this.ownership) return;
    this.ownership = o;
    this.lastChange = new Date().toISOString();
  }

  private notifyReachWaiters(): void {
    for (const w of [...this.reachWaiters]) w();
  }

  private emit(): void {
    this.notifyReachWaiters();
    if (!this.onChange) return;
    try {
      this.onChange(this.status());
    } catch (err) {
      this.log.warn({ err: errorMessage(err) }, 'provider runner onChange callback threw');
    }
  }
}
