// One platform timer for the whole agent. Every instance's VRRP deadline (Adver_Timer, Master_Down_Timer)
// and every provider runner's timers (reconcile, backoff, deadlines) are entries in one binary heap here,
// and ONE setTimeout is armed at the earliest of them.
//
// Why: on the machines we run on, waking the process costs far more than the work done once awake
// (measured: a bare Node 10 Hz setInterval costs 0.25–0.35 % of a core; the advert itself is a few µs).
// 200 instances with 200 timers are 200+ wake-ups a second; entries that fall due together here are
// served in one wake-up. Two rules make them fall due together:
// - deadlines that allow it are QUANTISED: the runner's clock (clock()) rounds a timer of `ms` up to a
//   grid step of at most ms/8 (≤ 1 s): reconciles jittered ±20 % still spread out, but land on whole
//   seconds, and all instances whose reconcile falls due within the same second share a wake-up (and
//   their verifyMany() batch). Timers under 800 ms are exact.
// - the VRRP state machine puts every master's Adver_Timer on a grid of its interval (fsm.ts,
//   advertGrid), so all instances with the same interval advertise in the same wake-up.
// Node's timers count in whole milliseconds from a cached loop time, so the platform timer may fire up
// to a millisecond before the deadline it was armed for: entries due within EARLY_MS of now run in that
// wake-up, each told it is its own deadline (max(now, at)) — a callback never sees a time before it.
//
// Contract: set(entry, at) arms or moves an entry (at = monotonic ms), set(entry, null) cancels it.
// A callback runs once per set(), given a time at or after its deadline; it may set entries (its own
// included); an entry set again for a time already past runs in the next wake-up, never in the same
// loop. Moving a deadline later does not re-arm the platform timer at once: that is done once after
// the current burst of work (a microtask), so a burst of 200 received adverts costs one re-arm, not 200.
// No clock is read inside except through the injected `now`; tests inject timers and clock.
import type { Clock } from './provider/runner/clock.js';

export interface ScheduledEntry {
  /** Called when the entry falls due (once per set()), with a time at or after its deadline. */
  readonly fire: (now: number) => void;
  /** Heap position, -1 when not armed (read-only outside the scheduler). */
  slot: number;
  /** Deadline (monotonic ms) while armed (read-only outside the scheduler). */
  at: number;
}

export interface PlatformTimers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
  /** Optional: re-arms `handle` (pending or already fired) for the same `ms` it was set with, from now. */
  refresh?(handle: unknown): void;
}

const nodeTimers: PlatformTimers = {
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
  // Node's refresh() re-uses the Timeout and its timer list: no new object, no list created and deleted.
  refresh: (h) => void (h as NodeJS.Timeout).refresh(),
};

/** Entries due this close to now run in the current wake-up (see the header). */
const EARLY_MS = 1;

/** Quantisation of clock() timers: a timer of `ms` may fire up to min(ms / 8, 1 s) late, on a grid step. */
const GRID_STEPS_MS = [1000, 500, 250, 100] as const;

/** The grid step for a timer of `ms` (0: exact). */
export function gridStepMs(ms: number): number {
  const slack = ms / 8;
  for (const step of GRID_STEPS_MS) if (step <= slack) return step;
  return 0;
}

export class Scheduler {
  private readonly heap: ScheduledEntry[] = [];
  private handle: unknown = null;
  /** When the platform timer fires (monotonic ms), or null when none is armed. */
  private armedAt: number | null = null;
  /** The last platform timer (pending or fired) and the delay it was set with, for refresh(). */
  private last: { handle: unknown; ms: number } | null = null;
  private rearmQueued = false;
  private running = false;
  /** Wake-ups of the platform timer so far (for benchmarks and tests). */
  wakeups = 0;
  /** How late the platform timer fired (ms past the deadline it was armed for): the sum over every
   *  wake-up, and the largest since someone last reset it (GET /metrics: the event loop's delay,
   *  measured on the wake-ups the agent has anyway — no timer of its own). */
  lateTotalMs = 0;
  lateMaxMs = 0;

  constructor(
    readonly now: () => number = () => performance.now(),
    private readonly timers: PlatformTimers = nodeTimers,
    /**
     * The offset of the advert grids on `now` (fsm.ts advertGridPhaseMs): every VRRP instance of this
     * scheduler advertises on it. The agent draws one at random (agent.ts); 0 in tests.
     */
    readonly gridPhaseMs = 0,
  ) {}

  /** A new entry that calls `fire` when due; not armed until set(). */
  entry(fire: (now: number) => void): ScheduledEntry {
    return { fire, slot: -1, at: 0 };
  }

  /** Arms (or moves) `e` to `at`, or cancels it with null. */
  set(e: ScheduledEntry, at: number | null): void {
    if (at === null) {
      if (e.slot >= 0) this.removeAt(e.slot);
      return this.rearmSoon();
    }
    if (e.slot < 0) {
      e.at = at;
      e.slot = this.heap.length;
      this.heap.push(e);
      this.up(e.slot);
    } else {
      const earlier = at < e.at;
      e.at = at;
      if (earlier) this.up(e.slot);
      else this.down(e.slot);
    }
    // An earlier deadline than the armed one must be armed now; a later one can wait for the burst's end.
    if (this.running) return;
    if (this.armedAt === null || at < this.armedAt) this.rearm();
    else this.rearmSoon();
  }

  /** Entries armed now. */
  get size(): number {
    return this.heap.length;
  }

  /** Cancels every entry and the platform timer. */
  close(): void {
    for (const e of this.heap) e.slot = -1;
    this.heap.length = 0;
    this.disarm();
  }

  /**
   * The runner's Clock over this scheduler: timers of 800 ms or more are quantised (see the header),
   * so the reconciles and backoffs of many instances share wake-ups.
   */
  clock(): Clock {
    return {
      now: this.now,
      setTimeout: (fn, ms) => {
        const e = this.entry(() => fn());
        const delay = Math.max(0, ms);
        const at = this.now() + delay;
        const step = gridStepMs(delay);
        this.set(e, step > 0 ? Math.ceil(at / step) * step : at);
        return e;
      },
      clearTimeout: (h) => {
        if (h) this.set(h as ScheduledEntry, null);
      },
    };
  }

  // --- the platform timer ---------------------------------------------------------------------------

  private readonly wake = (): void => {
    const armedAt = this.armedAt;
    this.handle = null;
    this.armedAt = null;
    this.wakeups++;
    const now = this.now();
    if (armedAt !== null && now > armedAt) {
      const late = now - armedAt;
      this.lateTotalMs += late;
      if (late > this.lateMaxMs) this.lateMaxMs = late;
    }
    // Everything due now (within this millisecond) leaves the heap first, then runs: an entry that
    // sets itself again for a past time runs in the next wake-up, so this loop always ends.
    const due: ScheduledEntry[] = [];
    const h = this.heap;
    while (h.length > 0 && h[0]!.at <= now + EARLY_MS) {
      const e = h[0]!;
      this.removeAt(0);
      due.push(e);
    }
    this.running = true;
    try {
      for (const e of due) e.fire(e.at > now ? e.at : now);
    } finally {
      this.running = false;
      // Timed from the wake-up, as the platform's loop time is: the callbacks' own run time is not
      // part of the next delay (see rearm()).
      this.rearm(now);
    }
  };

  private rearmSoon(): void {
    if (this.rearmQueued || this.running) return;
    this.rearmQueued = true;
    queueMicrotask(() => {
      this.rearmQueued = false;
      this.rearm();
    });
  }

  /**
   * Arms the platform timer at the heap's earliest deadline (or none), unless it already is. A steady
   * cadence — a master's adverts, a backup's Master_Down moving with each advert — needs about the same
   * delay every time: when the last timer's delay, counted from `now`, lands within [deadline − EARLY_MS,
   * deadline + 1 ms], that timer is refreshed instead of a new one being made (the wake-up serves what
   * is due within EARLY_MS, so firing that little early is fine). A platform timer counts from the
   * time its event-loop turn began (Node: libuv's loop time), so after a wake-up `now` is the wake-up's.
   */
  private rearm(now: number = this.now()): void {
    const top = this.heap[0];
    if (!top) return this.disarm();
    if (this.armedAt === top.at) return;
    this.armedAt = top.at;
    const last = this.last;
    if (last && this.timers.refresh && now + last.ms >= top.at - EARLY_MS && now + last.ms <= top.at + 1) {
      this.timers.refresh(last.handle);
      this.handle = last.handle;
      return;
    }
    const ms = Math.max(0, Math.floor(top.at - now));
    if (this.handle !== null) this.timers.clearTimeout(this.handle);
    this.handle = this.timers.setTimeout(this.wake, ms);
    this.last = { handle: this.handle, ms };
  }

  private disarm(): void {
    if (this.handle !== null) this.timers.clearTimeout(this.handle);
    this.handle = null;
    this.armedAt = null;
    this.last = null; // a cleared Node timer cannot be refreshed
  }

  // --- the binary heap (by `at`) --------------------------------------------------------------------

  private removeAt(i: number): void {
    const h = this.heap;
    const e = h[i]!;
    const last = h.pop()!;
    e.slot = -1;
    if (i === h.length) return;
    h[i] = last;
    last.slot = i;
    this.up(i);
    this.down(last.slot);
  }

  private up(i: number): void {
    const h = this.heap;
    const e = h[i]!;
    while (i > 0) {
      const p = (i - 1) >> 1;
      const pe = h[p]!;
      if (pe.at <= e.at) break;
      h[i] = pe;
      pe.slot = i;
      i = p;
    }
    h[i] = e;
    e.slot = i;
  }

  private down(i: number): void {
    const h = this.heap;
    const n = h.length;
    const e = h[i]!;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      const c = r < n && h[r]!.at < h[l]!.at ? r : l;
      const ce = h[c]!;
      if (ce.at >= e.at) break;
      h[i] = ce;
      ce.slot = i;
      i = c;
    }
    h[i] = e;
    e.slot = i;
  }
}
