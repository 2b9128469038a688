// One health check's scheduler and state machine, as a pure function (the model is the provider
// runner's step.ts / driver.ts split): step(state, event, now) → { state, effects }. No timers, no
// processes, no sockets: the driver (./driver.ts) feeds ticks and run results in, and carries the
// effects out (start a run, cancel a run, tell the trackers a check changed).
//
// keepalived's vrrp_script rules (keepalived/vrrp/vrrp_scheduler.c vrrp_script_thread and
// vrrp_script_child_thread, vrrp_init_script; 2.2.x):
// - A run is due at start-up, then every `interval` after the previous one was due.
// - Never two runs of one check at once: a run that is due while the previous one still runs (or is
//   being killed after its timeout) is skipped ("expect idle - skipping run"), and counted.
// - A run still going `timeout` after it started is cancelled (the driver kills it) and counts as a
//   failure at that moment; its own late result is ignored. The check stays busy until the driver
//   reports the cancelled run ended, so a hung check can never pile up.
// - keepalived's `result` counter, 0 .. rise+fall-1: the check is good when result >= rise.
//   Start-up: result = rise-1 and status 'init' (one success is enough, one failure reports failed);
//   with initFail: result = 0 and status 'failed' from the start (rise successes needed).
//   Success: below rise-1 → count up; otherwise jump to rise+fall-1, reporting 'ok' if it was below
//   rise. Failure: above rise → count down; otherwise drop to 0, reporting 'failed' if it was at rise
//   (the fall-th failure in a row) or the check had not reported yet.
// - Valued checks (type file: keepalived's track_file) report a number instead of pass/fail: the
//   status is 'ok' once read, and a change of the value is reported (rise/fall do not apply).
import type { CheckStatus } from './priority.js';

export interface CheckSpec {
  name: string;
  intervalMs: number;
  timeoutMs: number;
  rise: number;
  fall: number;
  initFail: boolean;
  /** Reports a value (track_file), not success/failure. */
  valued?: boolean;
}

/** What one run found. */
export interface RunOutcome {
  ok: boolean;
  /** One line: "exit 1: connection refused", "HTTP 503", "ECONNREFUSED", "reads 5". */
  detail: string;
  durationMs: number;
  /** exec: the exit code (null when killed by a signal or not started). */
  exitCode?: number | null;
  /** exec: the first line of stderr. */
  stderr?: string;
  /** Valued checks: the number read (undefined: keep the last one, as keepalived on a bad read). */
  value?: number;
}

export interface LastRun extends RunOutcome {
  /** Monotonic ms the run started. */
  at: number;
  timedOut: boolean;
}

export interface CheckState {
  readonly spec: CheckSpec;
  readonly status: CheckStatus;
  /** keepalived's result counter (0 .. rise+fall-1). */
  readonly result: number;
  /** Until the first result: keepalived's init_state (INIT or FAILED), then 'done'. */
  readonly initState: 'init' | 'failed' | 'done';
  readonly running: { id: number; startedAt: number; deadline: number; timedOut: boolean } | null;
  readonly nextRunAt: number;
  readonly lastRunId: number;
  readonly failuresInRow: number;
  readonly successesInRow: number;
  readonly counters: { runs: number; ok: number; failed: number; timedOut: number; skipped: number };
  readonly last: LastRun | null;
  /** Why the status is what it is ("chk_nginx failed 3 times: exit 1"). */
  readonly reason: string;
  /** Monotonic ms of the last status change (or of the start). */
  readonly since: number;
  /** Valued checks: the last value read. */
  readonly value: number;
}

export type CheckEvent = { type: 'tick' } | { type: 'result'; runId: number; outcome: RunOutcome };

export type CheckEffect =
  | { type: 'run'; runId: number }
  | { type: 'cancel'; runId: number; reason: string }
  | { type: 'skipped'; reason: string }
  | { type: 'changed'; status: CheckStatus; reason: string; value: number };

export interface StepResult {
  state: CheckState;
  effects: CheckEffect[];
}

export function initialCheckState(spec: CheckSpec, now: number): CheckState {
  const failed = spec.initFail && !spec.valued;
  return {
    spec,
    status: failed ? 'failed' : 'init',
    result: failed ? 0 : spec.rise - 1,
    initState: failed ? 'failed' : 'init',
    running: null,
    nextRunAt: now,
    lastRunId: 0,
    failuresInRow: 0,
    successesInRow: 0,
    counters: { runs: 0, ok: 0, failed: 0, timedOut: 0, skipped: 0 },
    last: null,
    reason: failed ? `${spec.name} starts failed (initFail)` : `${spec.name} has not run yet`,
    since: now,
    value: 0,
  };
}

/** When the driver must tick next: the next run, or the running run's timeout, whichever is first. */
export function nextCheckDeadline(s: CheckState): number {
  const r = s.running;
  return r && !r.timedOut ? Math.min(s.nextRunAt, r.deadline) : s.nextRunAt;
}

export function checkStep(s: CheckState, ev: CheckEvent, now: number): StepResult {
  return ev.type === 'tick' ? tick(s, now) : result(s, ev.runId, ev.outcome, now);
}

function tick(s0: CheckState, now: number): StepResult {
  let s = s0;
  const effects: CheckEffect[] = [];
  const r = s.running;
  if (r && !r.timedOut && now >= r.deadline) {
    const seconds = s.spec.timeoutMs / 1000;
    const outcome: RunOutcome = { ok: false, detail: `timed out after ${seconds} s`, durationMs: now - r.startedAt, exitCode: null };
    effects.push({ type: 'cancel', runId: r.id, reason: outcome.detail });
    s = { ...s, running: { ...r, timedOut: true }, counters: { ...s.counters, timedOut: s.counters.timedOut + 1 } };
    const done = account(s, outcome, r.startedAt, true, now);
    s = done.state;
    effects.push(...done.effects);
  }
  if (now >= s.nextRunAt) {
    const following = s.nextRunAt + s.spec.intervalMs;
    const nextRunAt = following > now ? following : now + s.spec.intervalMs;
    if (s.running) {
      const why = s.running.timedOut ? 'being killed after its timeout' : 'still running';
      effects.push({ type: 'skipped', reason: `${s.spec.name} is ${why}: skipping this run` });
      s = { ...s, nextRunAt, counters: { ...s.counters, skipped: s.counters.skipped + 1 } };
    } else {
      const id = s.lastRunId + 1;
      s = {
        ...s,
        nextRunAt,
        lastRunId: id,
        running: { id, startedAt: now, deadline: now + s.spec.timeoutMs, timedOut: false },
        counters: { ...s.counters, runs: s.counters.runs + 1 },
      };
      effects.push({ type: 'run', runId: id });
    }
  }
  return { state: s, effects };
}

function result(s: CheckState, runId: number, outcome: RunOutcome, now: number): StepResult {
  const r = s.running;
  if (!r || r.id !== runId) return { state: s, effects: [] }; // not ours (a stale report)
  const idle = { ...s, running: null };
  if (r.timedOut) return { state: idle, effects: [] }; // already counted as a failure at its timeout
  return account(idle, outcome, r.startedAt, false, now);
}

/** Applies one outcome to keepalived's counter; reports a status change. */
function account(s: CheckState, outcome: RunOutcome, startedAt: number, timedOut: boolean, now: number): StepResult {
  const { spec } = s;
  const last: LastRun = { ...outcome, at: startedAt, timedOut };
  const counters = { ...s.counters, ok: s.counters.ok + (outcome.ok ? 1 : 0), failed: s.counters.failed + (outcome.ok ? 0 : 1) };
  const base = {
    ...s,
    last,
    counters,
    failuresInRow: outcome.ok ? 0 : s.failuresInRow + 1,
    successesInRow: outcome.ok ? s.successesInRow + 1 : 0,
    initState: 'done' as const,
  };
  if (spec.valued) {
    const value = outcome.value ?? s.value;
    const changed = s.status !== 'ok' || value !== s.value;
    const reason = `${spec.name} reads ${value}${outcome.ok ? '' : ` (${outcome.detail})`}`;
    const state: CheckState = { ...base, status: 'ok', value, reason: changed ? reason : s.reason, since: changed ? now : s.since };
    return { state, effects: changed ? [{ type: 'changed', status: 'ok', reason, value }] : [] };
  }
  const top = spec.rise + spec.fall - 1;
  let res = s.result;
  let to: CheckStatus | null = null;
  if (outcome.ok) {
    if (res < spec.rise - 1) res++;
    else if (res !== top) {
      if (res < spec.rise) to = 'ok';
      res = top;
    }
  } else if (res > spec.rise) res--;
  else {
    if (res === spec.rise || s.initState === 'init') to = 'failed';
    res = 0;
  }
  if (to === null || to === s.status) return { state: { ...base, result: res }, effects: [] };
  const times = (n: number) => (n === 1 ? 'once' : `${n} times`);
  const reason = to === 'ok' ? `${spec.name} succeeded ${times(base.successesInRow)}` : `${spec.name} failed ${times(base.failuresInRow)}: ${outcome.detail}`;
  return { state: { ...base, result: res, status: to, reason, since: now }, effects: [{ type: 'changed', status: to, reason, value: s.value }] };
}
