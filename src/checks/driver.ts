// The checks' driver: runs the pure step (./step.ts) of every configured check on a Clock, carries
// out its effects — start a run on the check's probe (exec, http, tcp, file, process), abort it at
// its timeout — and tells subscribers (the instances' trackers, ./tracker.ts) when a check's status
// or value changes. Checks are shared: one run serves every instance that tracks the check.
//
// Nothing here is ever awaited by the VRRP engine: runs are promises the driver only listens to, and
// subscribers are called from those promises' callbacks or from timers, never from inside an
// election's step. One timer per check, armed at its next deadline (run due or timeout).
import type { Logger } from 'pino';
import type { Clock } from '../provider/runner/clock.js';
import type { Probe } from './probe.js';
import { checkStep, initialCheckState, nextCheckDeadline, type CheckEffect, type CheckEvent, type CheckSpec, type CheckState } from './step.js';
import type { CheckStatus } from './priority.js';

export interface CheckDefinition {
  spec: CheckSpec;
  probe: Probe;
  /** For status: exec | http | tcp | file | process. */
  type: string;
}

export interface CheckChange {
  name: string;
  status: CheckStatus;
  reason: string;
  value: number;
}

export interface CheckStatusJson {
  type: string;
  status: CheckStatus;
  reason: string;
  /** Seconds since the status last changed. */
  sinceSeconds: number;
  running: boolean;
  /** The last run: ok, detail, exit code, first line of stderr, duration (ms), timed out. */
  last: { ok: boolean; detail: string; exitCode?: number | null; stderr?: string; durationMs: number; timedOut: boolean; agoSeconds: number } | null;
  /** track_file checks: the value read. */
  value?: number;
  counters: CheckState['counters'];
  failuresInRow: number;
}

interface Slot {
  def: CheckDefinition;
  state: CheckState;
  timer: unknown;
  abort: AbortController | null;
  listeners: Set<(c: CheckChange) => void>;
}

export class CheckScheduler {
  private readonly slots = new Map<string, Slot>();
  private started = false;
  private closed = false;

  constructor(
    defs: readonly CheckDefinition[],
    private readonly clock: Clock,
    private readonly log: Logger,
  ) {
    const now = clock.now();
    for (const def of defs) this.slots.set(def.spec.name, { def, state: initialCheckState(def.spec, now), timer: undefined, abort: null, listeners: new Set() });
  }

  get names(): string[] {
    return [...this.slots.keys()];
  }

  /** Starts every check: the first run of each is due now. */
  start(): void {
    if (this.started || this.closed) return;
    this.started = true;
    for (const slot of this.slots.values()) this.apply(slot, { type: 'tick' });
  }

  /** The check's present status (what a new subscriber starts from). */
  current(name: string): CheckChange {
    const s = this.slot(name).state;
    return { name, status: s.status, reason: s.reason, value: s.value };
  }

  /** Calls `fn` on every change of the check's status or value; returns the unsubscribe. */
  subscribe(name: string, fn: (c: CheckChange) => void): () => void {
    const slot = this.slot(name);
    slot.listeners.add(fn);
    return () => slot.listeners.delete(fn);
  }

  status(): Record<string, CheckStatusJson> {
    const now = this.clock.now();
    return Object.fromEntries([...this.slots].map(([name, { def, state: s }]) => [name, toJson(def, s, now)]));
  }

  /** Stops every timer and aborts running checks (exec: their process groups are killed). */
  close(): void {
    this.closed = true;
    for (const slot of this.slots.values()) {
      this.clock.clearTimeout(slot.timer);
      slot.abort?.abort();
      slot.listeners.clear();
    }
  }

  private slot(name: string): Slot {
    const s = this.slots.get(name);
    if (!s) throw new Error(`no check named ${name}`);
    return s;
  }

  private apply(slot: Slot, ev: CheckEvent): void {
    if (this.closed) return;
    const { state, effects } = checkStep(slot.state, ev, this.clock.now());
    slot.state = state;
    for (const e of effects) this.perform(slot, e);
    this.clock.clearTimeout(slot.timer);
    slot.timer = this.clock.setTimeout(() => this.apply(slot, { type: 'tick' }), Math.max(0, nextCheckDeadline(slot.state) - this.clock.now()));
  }

  private perform(slot: Slot, e: CheckEffect): void {
    const name = slot.def.spec.name;
    switch (e.type) {
      case 'run': {
        const ac = new AbortController();
        slot.abort = ac;
        let p: Promise<import('./step.js').RunOutcome>;
        try {
          p = slot.def.probe.run(ac.signal);
        } catch (err) {
          p = Promise.resolve({ ok: false, detail: (err as Error).message, durationMs: 0 });
        }
        void p
          .catch((err: Error) => ({ ok: false, detail: err.message, durationMs: 0 }))
          .then((outcome) => {
            if (slot.abort === ac) slot.abort = null;
            this.apply(slot, { type: 'result', runId: e.runId, outcome });
          });
        break;
      }
      case 'cancel':
        this.log.warn({ evt: 'check', check: name, reason: e.reason }, `check ${name} ${e.reason}: stopping it`);
        slot.abort?.abort();
        break;
      case 'skipped':
        this.log.info({ evt: 'check', check: name }, e.reason);
        break;
      case 'changed': {
        const level = e.status === 'failed' ? 'warn' : 'info';
        this.log[level]({ evt: 'check', check: name, status: e.status, value: e.value }, e.reason);
        const change: CheckChange = { name, status: e.status, reason: e.reason, value: e.value };
        for (const fn of [...slot.listeners]) {
          try {
            fn(change);
          } catch (err) {
            this.log.error({ check: name, err: (err as Error).message }, 'a check listener threw');
          }
        }
        break;
      }
    }
  }
}

function toJson(def: CheckDefinition, s: CheckState, now: number): CheckStatusJson {
  const l = s.last;
  return {
    type: def.type,
    status: s.status,
    reason: s.reason,
    sinceSeconds: Math.round((now - s.since) / 100) / 10,
    running: s.running !== null,
    last: l
      ? {
          ok: l.ok,
          detail: l.detail,
          ...(l.exitCode !== undefined ? { exitCode: l.exitCode } : {}),
          ...(l.stderr !== undefined ? { stderr: l.stderr } : {}),
          durationMs: l.durationMs,
          timedOut: l.timedOut,
          agoSeconds: Math.round((now - l.at) / 100) / 10,
        }
      : null,
    ...(def.spec.valued ? { value: s.value } : {}),
    counters: { ...s.counters },
    failuresInRow: s.failuresInRow,
  };
}
