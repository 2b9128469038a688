// The provider runner's policy, as a pure function: step(state, event, now) → { state, effects }.
// No timers, no promises, no provider: the driver (./driver.ts) feeds events in (goal changes,
// operations settling, timers firing, rate-limit tokens) and carries the effects out (start or abort
// an operation, ask for a token, log). `random` in the config is the only outside input (jitter).
//
// The rules:
// - One operation at a time, in order. A new operation never starts while an earlier one is still
//   running — not even one we aborted that ignores its abort. We WAIT for it (we do not fence it:
//   a provider call cannot be fenced from here, and a late cloud "assign" landing after the "release"
//   that followed it would leave the VIP on the wrong node). While it runs past `abortGraceMs` after
//   its abort, lastError says so and it is logged at error, once.
// - A goal change bumps the generation, aborts the operation in flight and starts the new goal's
//   operation as soon as nothing runs (the first attempt for a new goal does not wait for the old
//   goal's backoff). The failure count is NOT reset by a goal change — only a success resets it — so
//   a flapping goal against a failing backend keeps backing off: the n-th failure in a row waits
//   random() * min(backoffMaxMs, backoffBaseMs * 2^(n-1)) (full jitter).
// - Once the goal is reached, verify() every reconcileMs ± 20 %, and at once on 'recheck' (a provider
//   that watches its backend said something changed). A verify() result from an older goal
//   (or after the goal stopped being reached) is ignored. Per VIP: goal held and any VIP not-held or
//   elsewhere → drift → acquire again; goal released and any VIP held → drift → release again.
//   'unknown' VIPs are no drift (we cannot tell).
// - Aggregate ownership (status.ownership): 'held' when every VIP is held; 'unknown' when only some
//   are (status.vips tells which) or when none is held but some are unknown; otherwise 'elsewhere'
//   when any VIP is held elsewhere, else 'not-held'. After a successful acquire/release every VIP is
//   held/not-held; after a failed or aborted one every VIP is unknown (it may have done half its work).
// - Fault: goal held and no successful acquire for faultAfterMs since the goal became held (or since
//   drift took it away) → status.fault = the reason, with the last error. Cleared by a successful
//   acquire or by the goal becoming released. (The instance turns it into FAULT.)
// - Every acquire/release waits for a rate-limit token first (the limiter is shared per provider
//   type); which operation runs is decided when the token arrives, so a goal change while waiting
//   needs no second token. verify() goes through the verify batch, which takes tokens itself (one per
//   verifyMany call): its deadline includes that wait.
// - Deadline of every operation: timing.operationTimeoutMs (abort, reported as a timeout, retryable).
//   Errors are classified (../errors.ts): lastError "op: message", lastErrorClass and fix in status;
//   permanent errors are logged at error with their fix, retryable ones at warn.
// - release-now (shutdown): goal released, abort what runs, wait for it, then ONE release with the
//   shutdown deadline; the result is shutdown.result. close: abort, no further operations.
import type { ClassifiedError, ErrorClass } from '../errors.js';
import type { Ownership, ProviderTiming, VipOwnership } from '../types.js';

export type Goal = 'held' | 'released';
export type Op = 'acquire' | 'release' | 'verify';

export interface ProviderCounters {
  acquireOk: number;
  acquireFail: number;
  releaseOk: number;
  releaseFail: number;
  verifyFail: number;
  /** verify() disagreed with the goal (a VIP gone while held, or still there while released). */
  drift: number;
}

export interface StepConfig {
  timing: ProviderTiming;
  /** The configured VIPs, keys of VipOwnership. */
  vips: readonly string[];
  /** How long an aborted operation may keep running before we say it ignores its abort. */
  abortGraceMs: number;
  random: () => number;
}

export interface RunningOp {
  id: number;
  op: Op;
  /** The goal generation it was started for. */
  gen: number;
  startedAt: number;
  deadline: number;
  /** Why we aborted it; null while not aborted. */
  aborted: null | 'cancelled' | 'timeout';
  abortedAt: number | null;
  /** Already reported as ignoring its abort. */
  overdue: boolean;
  /** The one release run by release-now. */
  final: boolean;
}

export interface RunnerState {
  goal: Goal | null;
  /** Bumped on every goal change; work started for an older generation is stale. */
  gen: number;
  /** The goal's operation succeeded and no drift has been seen since. */
  reached: boolean;
  /** Failures in a row; reset only by a success. */
  failures: number;
  running: RunningOp | null;
  nextId: number;
  /** A rate-limit token has been asked for and not granted yet. */
  tokenPending: boolean;
  /** Backoff: no acquire/release before this time. */
  retryAt: number | null;
  /** Next verify(), once the goal is reached. */
  reconcileAt: number | null;
  /** Goal held and not reached since this time (fault clock). */
  unmetSince: number | null;
  fault: string | null;
  ownership: Ownership;
  vips: VipOwnership;
  lastError: string | null;
  lastErrorClass: ErrorClass | null;
  fix: string | null;
  /** Clock time `ownership` last changed value. */
  lastChangeAt: number | null;
  counters: ProviderCounters;
  shutdown: null | { deadline: number; started: boolean; result: boolean | null };
  closed: boolean;
}

export type OpOutcome = { ok: true; value?: unknown } | { ok: false; error: ClassifiedError };

export type RunnerEvent =
  | { type: 'want'; goal: Goal }
  | { type: 'token' }
  | { type: 'settled'; id: number; outcome: OpOutcome }
  | { type: 'tick' }
  /** The provider saw its backend change (VipProvider.watch): verify now if the goal is reached. */
  | { type: 'recheck' }
  | { type: 'release-now'; deadline: number }
  | { type: 'close' };

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

export type RunnerEffect =
  | { type: 'start'; id: number; op: Op; deadline: number }
  | { type: 'abort'; id: number; reason: string }
  | { type: 'request-token' }
  | { type: 'cancel-token' }
  | { type: 'log'; level: LogLevel; msg: string; fields?: Record<string, unknown> };

const OWNERSHIPS: readonly Ownership[] = ['held', 'not-held', 'elsewhere', 'unknown'];

export function initialState(vips: readonly string[]): RunnerState {
  return {
    goal: null,
    gen: 0,
    reached: false,
    failures: 0,
    running: null,
    nextId: 1,
    tokenPending: false,
    retryAt: null,
    reconcileAt: null,
    unmetSince: null,
    fault: null,
    ownership: 'unknown',
    vips: allVips(vips, 'unknown'),
    lastError: null,
    lastErrorClass: null,
    fix: null,
    lastChangeAt: null,
    counters: { acquireOk: 0, acquireFail: 0, releaseOk: 0, releaseFail: 0, verifyFail: 0, drift: 0 },
    shutdown: null,
    closed: false,
  };
}

/** Full-jitter exponential backoff: a random delay in [0, min(maxMs, baseMs * 2^(failures-1))). */
export function backoffDelayMs(failures: number, baseMs: number, maxMs: number, random: () => number): number {
  const ceiling = Math.min(maxMs, baseMs * 2 ** Math.max(0, failures - 1));
  return Math.max(0, Math.floor(random() * ceiling));
}

/** The reconcile period with ±20 % jitter. */
export function reconcileDelayMs(reconcileMs: number, random: () => number): number {
  return Math.max(0, Math.round(reconcileMs * (0.8 + 0.4 * random())));
}

/** See the header: held when all are, unknown when only some are, elsewhere / not-held when none is. */
export function aggregateOwnership(vips: VipOwnership): Ownership {
  const values = Object.values(vips);
  if (values.length === 0) return 'unknown';
  const held = values.filter((v) => v === 'held').length;
  if (held === values.length) return 'held';
  if (held > 0 || values.includes('unknown')) return 'unknown';
  return values.includes('elsewhere') ? 'elsewhere' : 'not-held';
}

/** A provider's verify() answer, keyed by the configured VIPs; anything missing or invalid is 'unknown'. */
export function normalizeVips(value: unknown, vips: readonly string[]): VipOwnership {
  if (typeof value === 'string') return allVips(vips, OWNERSHIPS.includes(value as Ownership) ? (value as Ownership) : 'unknown');
  const out: VipOwnership = {};
  const given = typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : {};
  for (const vip of vips) {
    const v = given[vip];
    out[vip] = OWNERSHIPS.includes(v as Ownership) ? (v as Ownership) : 'unknown';
  }
  return out;
}

function allVips(vips: readonly string[], o: Ownership): VipOwnership {
  return Object.fromEntries(vips.map((v) => [v, o]));
}

/** The earliest time the runner needs a 'tick'; null when nothing is timed. */
export function nextDeadline(s: RunnerState, cfg: StepConfig): number | null {
  const times: number[] = [];
  const r = s.running;
  if (r && !r.aborted) times.push(r.deadline);
  if (r && r.aborted && !r.overdue && r.abortedAt !== null) times.push(r.abortedAt + cfg.abortGraceMs);
  if (!s.closed) {
    if (!r && !s.tokenPending && s.retryAt !== null) times.push(s.retryAt);
    if (!r && s.reconcileAt !== null) times.push(s.reconcileAt);
    if (faultPossible(s) && s.unmetSince !== null) times.push(s.unmetSince + cfg.timing.faultAfterMs);
    if (s.shutdown && s.shutdown.result === null) times.push(s.shutdown.deadline);
  }
  const finite = times.filter((t) => Number.isFinite(t));
  return finite.length ? Math.min(...finite) : null;
}

/** True while the goal (or the shutdown release) has been reached and the runner is in service. */
export function isReached(s: RunnerState): boolean {
  return s.reached && !s.shutdown && !s.closed;
}

export function step(state: RunnerState, ev: RunnerEvent, now: number, cfg: StepConfig): { state: RunnerState; effects: RunnerEffect[] } {
  const s: RunnerState = {
    ...state,
    counters: { ...state.counters },
    vips: { ...state.vips },
    running: state.running && { ...state.running },
    shutdown: state.shutdown && { ...state.shutdown },
  };
  const fx: RunnerEffect[] = [];
  switch (ev.type) {
    case 'want':
      onWant(s, ev.goal, now, fx);
      break;
    case 'token':
      onToken(s, now, cfg, fx);
      break;
    case 'settled':
      onSettled(s, ev.id, ev.outcome, now, cfg, fx);
      break;
    case 'tick':
      break;
    case 'recheck':
      // Verify now, if the goal is reached and nothing runs (a running operation's outcome comes first).
      if (s.reached && s.reconcileAt !== null && !s.shutdown && !s.closed) s.reconcileAt = now;
      break;
    case 'release-now':
      onReleaseNow(s, ev.deadline, now, fx);
      break;
    case 'close':
      onClose(s, now, fx);
      break;
  }
  pump(s, now, cfg, fx);
  return { state: s, effects: fx };
}

// --- events -------------------------------------------------------------------------------------

function onWant(s: RunnerState, goal: Goal, now: number, fx: RunnerEffect[]): void {
  if (s.closed || s.shutdown || goal === s.goal) return;
  s.goal = goal;
  s.gen++;
  s.reached = false;
  s.retryAt = null; // the new goal gets its first attempt at once; `failures` stays (see header)
  s.reconcileAt = null;
  if (goal === 'held') s.unmetSince = now;
  else {
    s.unmetSince = null;
    s.fault = null;
  }
  fx.push({ type: 'log', level: 'debug', msg: 'provider goal changed', fields: { desired: goal, failures: s.failures } });
  abortRunning(s, 'cancelled', 'goal changed', now, fx);
}

function onToken(s: RunnerState, now: number, cfg: StepConfig, fx: RunnerEffect[]): void {
  s.tokenPending = false;
  if (s.running) return; // cannot happen: a token is only asked for while nothing runs
  const op = nextOp(s, now);
  if (op === 'acquire' || op === 'release') start(s, op, now, cfg, fx);
}

function onReleaseNow(s: RunnerState, deadline: number, now: number, fx: RunnerEffect[]): void {
  if (s.closed || s.shutdown) return;
  s.shutdown = { deadline, started: false, result: null };
  s.goal = 'released';
  s.gen++;
  s.reached = false;
  s.retryAt = null;
  s.reconcileAt = null;
  s.unmetSince = null;
  s.fault = null;
  abortRunning(s, 'cancelled', 'shutting down', now, fx);
}

function onClose(s: RunnerState, now: number, fx: RunnerEffect[]): void {
  if (s.closed) return;
  s.closed = true;
  s.retryAt = null;
  s.reconcileAt = null;
  s.unmetSince = null;
  if (s.shutdown && s.shutdown.result === null) s.shutdown.result = false;
  if (s.tokenPending) {
    s.tokenPending = false;
    fx.push({ type: 'cancel-token' });
  }
  abortRunning(s, 'cancelled', 'closed', now, fx);
}

function onSettled(s: RunnerState, id: number, outcome: OpOutcome, now: number, cfg: StepConfig, fx: RunnerEffect[]): void {
  const r = s.running;
  if (!r || r.id !== id) {
    fx.push({ type: 'log', level: 'debug', msg: 'result of an operation no longer tracked ignored', fields: { id } });
    return;
  }
  s.running = null;
  if (r.overdue) fx.push({ type: 'log', level: 'warn', msg: `provider ${r.op} finally settled after ignoring its abort`, fields: { ranMs: now - r.startedAt } });
  if (r.op === 'verify') settledVerify(s, r, outcome, now, cfg, fx);
  else settledMutation(s, r, outcome, now, cfg, fx);
}

function settledMutation(s: RunnerState, r: RunningOp, outcome: OpOutcome, now: number, cfg: StepConfig, fx: RunnerEffect[]): void {
  const op = r.op as 'acquire' | 'release';
  const stale = r.gen !== s.gen;
  if (outcome.ok) {
    if (op === 'acquire') s.counters.acquireOk++;
    else s.counters.releaseOk++;
    clearError(s);
    setOwnership(s, allVips(cfg.vips, op === 'acquire' ? 'held' : 'not-held'), now);
    fx.push({ type: 'log', level: stale ? 'warn' : 'info', msg: `${op === 'acquire' ? 'VIPs acquired' : 'VIPs released'}${stale ? ' (late: the goal has changed since)' : ''}` });
    if (r.final && s.shutdown) s.shutdown.result = true;
    else if (!stale) {
      s.reached = true;
      s.failures = 0;
      s.retryAt = null;
      s.reconcileAt = now + reconcileDelayMs(cfg.timing.reconcileMs, cfg.random);
      if (op === 'acquire') {
        s.unmetSince = null;
        s.fault = null;
      }
    }
    return;
  }
  setOwnership(s, allVips(cfg.vips, 'unknown'), now);
  if (r.aborted === 'cancelled' && !r.final) {
    fx.push({ type: 'log', level: 'debug', msg: `${op} aborted`, fields: { err: outcome.error.message } });
    return;
  }
  if (op === 'acquire') s.counters.acquireFail++;
  else s.counters.releaseFail++;
  recordError(s, r, outcome.error, cfg, fx);
  if (r.final && s.shutdown) s.shutdown.result = false;
  else if (!stale) {
    s.failures++;
    const delay = backoffDelayMs(s.failures, cfg.timing.backoffBaseMs, cfg.timing.backoffMaxMs, cfg.random);
    s.retryAt = now + delay;
    fx.push({ type: 'log', level: 'info', msg: `will retry ${op}`, fields: { failures: s.failures, retryInMs: delay } });
  }
  if (s.fault !== null) s.fault = faultText(s, cfg);
}

function settledVerify(s: RunnerState, r: RunningOp, outcome: OpOutcome, now: number, cfg: StepConfig, fx: RunnerEffect[]): void {
  const current = r.gen === s.gen && s.reached && !s.shutdown && !s.closed;
  if (!current) {
    fx.push({ type: 'log', level: 'debug', msg: 'verify result from an older goal ignored' });
    return;
  }
  s.reconcileAt = now + reconcileDelayMs(cfg.timing.reconcileMs, cfg.random);
  if (!outcome.ok) {
    s.counters.verifyFail++;
    recordError(s, r, outcome.error, cfg, fx);
    return;
  }
  clearError(s);
  const vips = normalizeVips(outcome.value, cfg.vips);
  setOwnership(s, vips, now);
  const entries = Object.entries(vips);
  const wrong = s.goal === 'held' ? entries.filter(([, o]) => o === 'not-held' || o === 'elsewhere') : entries.filter(([, o]) => o === 'held');
  const unknown = entries.filter(([, o]) => o === 'unknown').map(([v]) => v);
  if (unknown.length) fx.push({ type: 'log', level: 'debug', msg: 'verify could not tell who holds some VIPs', fields: { vips: unknown } });
  if (wrong.length === 0) return;
  s.counters.drift++;
  s.reached = false;
  s.reconcileAt = null;
  const drifted = Object.fromEntries(wrong);
  if (s.goal === 'held') {
    s.unmetSince = now;
    fx.push({ type: 'log', level: 'warn', msg: 'VIPs drifted away while MASTER; re-acquiring', fields: { vips: drifted } });
  } else {
    fx.push({ type: 'log', level: 'warn', msg: 'VIPs still held while not MASTER; releasing again', fields: { vips: drifted } });
  }
}

// --- the pump: deadlines, fault, and what to start next -----------------------------------------

function pump(s: RunnerState, now: number, cfg: StepConfig, fx: RunnerEffect[]): void {
  const r = s.running;
  if (r && !r.aborted && now >= r.deadline) abortRunning(s, 'timeout', `timed out after ${r.deadline - r.startedAt} ms`, now, fx);
  if (r && r.aborted && !r.overdue && r.abortedAt !== null && now >= r.abortedAt + cfg.abortGraceMs) {
    r.overdue = true;
    s.lastError = `${r.op}: ignored its abort for ${cfg.abortGraceMs} ms; waiting for it to finish before the next operation (strict order)`;
    s.lastErrorClass = 'retryable';
    s.fix = 'the provider does not honour its AbortSignal; check the backend, and report it';
    fx.push({ type: 'log', level: 'error', msg: `provider ${r.op} ignored its abort for ${cfg.abortGraceMs} ms; waiting for it before the next operation (strict order)`, fields: { op: r.op, ranMs: now - r.startedAt } });
  }
  if (s.shutdown && s.shutdown.result === null && now >= s.shutdown.deadline) {
    s.shutdown.result = false;
    fx.push({ type: 'log', level: 'warn', msg: 'shutdown release did not finish within its deadline' });
    abortRunning(s, 'cancelled', 'shutdown deadline', now, fx);
  }
  if (faultPossible(s) && s.unmetSince !== null && now >= s.unmetSince + cfg.timing.faultAfterMs) {
    s.fault = faultText(s, cfg);
    fx.push({ type: 'log', level: 'error', msg: `provider fault: ${s.fault}` });
  }
  if (s.running || s.tokenPending || s.closed) return;
  const op = nextOp(s, now);
  if (op === 'verify') start(s, op, now, cfg, fx);
  else if (op) {
    s.tokenPending = true;
    fx.push({ type: 'request-token' });
  }
}

/** What should run now, if nothing runs. */
function nextOp(s: RunnerState, now: number): Op | null {
  if (s.closed) return null;
  if (s.shutdown) return !s.shutdown.started && s.shutdown.result === null ? 'release' : null;
  if (s.goal === null) return null;
  if (!s.reached) return s.retryAt !== null && now < s.retryAt ? null : s.goal === 'held' ? 'acquire' : 'release';
  return s.reconcileAt !== null && now >= s.reconcileAt ? 'verify' : null;
}

function start(s: RunnerState, op: Op, now: number, cfg: StepConfig, fx: RunnerEffect[]): void {
  const final = s.shutdown !== null && op === 'release';
  const deadline = final ? Math.min(now + cfg.timing.operationTimeoutMs, s.shutdown!.deadline) : now + cfg.timing.operationTimeoutMs;
  if (final) s.shutdown!.started = true;
  if (op === 'verify') s.reconcileAt = null;
  const id = s.nextId++;
  s.running = { id, op, gen: s.gen, startedAt: now, deadline, aborted: null, abortedAt: null, overdue: false, final };
  fx.push({ type: 'start', id, op, deadline });
}

function abortRunning(s: RunnerState, why: 'cancelled' | 'timeout', reason: string, now: number, fx: RunnerEffect[]): void {
  const r = s.running;
  if (!r || r.aborted) return;
  r.aborted = why;
  r.abortedAt = now;
  fx.push({ type: 'abort', id: r.id, reason });
}

function faultPossible(s: RunnerState): boolean {
  return s.goal === 'held' && !s.reached && s.fault === null && !s.shutdown && !s.closed;
}

function faultText(s: RunnerState, cfg: StepConfig): string {
  const base = `no successful acquire for ${cfg.timing.faultAfterMs / 1000} s`;
  if (!s.lastError) return base;
  return `${base}; last error: ${s.lastError}${s.fix ? ` (fix: ${s.fix})` : ''}`;
}

function recordError(s: RunnerState, r: RunningOp, error: ClassifiedError, cfg: StepConfig, fx: RunnerEffect[]): void {
  const timedOut = r.aborted === 'timeout';
  const message = timedOut ? `timed out after ${cfg.timing.operationTimeoutMs} ms` : error.message;
  const errorClass: ErrorClass = timedOut ? 'retryable' : error.errorClass;
  const fix = timedOut ? null : error.fix;
  s.lastError = `${r.op}: ${message}`;
  s.lastErrorClass = errorClass;
  s.fix = fix;
  const fields: Record<string, unknown> = { op: r.op, err: message, errorClass, ...(fix ? { fix } : {}), ...(error.code && !timedOut ? { code: error.code } : {}) };
  fx.push({ type: 'log', level: errorClass === 'permanent' ? 'error' : 'warn', msg: `${r.op} failed${fix ? ` — fix: ${fix}` : ''}`, fields });
}

function clearError(s: RunnerState): void {
  s.lastError = null;
  s.lastErrorClass = null;
  s.fix = null;
}

function setOwnership(s: RunnerState, vips: VipOwnership, now: number): void {
  s.vips = vips;
  const o = aggregateOwnership(vips);
  if (o === s.ownership) return;
  s.ownership = o;
  s.lastChangeAt = now;
}
