// A Clock whose time only moves when a test says so. advance(ms) runs every timer that falls due,
// in due order (ties: in the order they were set), letting microtasks run between timers so promise
// chains started by one timer settle before the next one fires.
import type { Clock } from '../../src/provider/runner/clock.js';

interface Timer {
  id: number;
  at: number;
  fn: () => void;
}

const flushMicrotasks = async (): Promise<void> => {
  // A few turns: promise chains of a handful of hops settle; setImmediate lets the rest drain.
  await new Promise<void>((resolve) => setImmediate(resolve));
};

export class VirtualClock implements Clock {
  private t: number;
  private seq = 0;
  private readonly timers = new Map<number, Timer>();

  constructor(start = 1_000) {
    this.t = start;
  }

  now(): number {
    return this.t;
  }

  setTimeout(fn: () => void, ms: number): unknown {
    const id = ++this.seq;
    this.timers.set(id, { id, at: this.t + Math.max(0, Number.isFinite(ms) ? ms : 0), fn });
    return id;
  }

  clearTimeout(handle: unknown): void {
    if (typeof handle === 'number') this.timers.delete(handle);
  }

  /** Timers not yet fired. */
  get pending(): number {
    return this.timers.size;
  }

  /** Moves time forward by `ms`, firing due timers in order; awaits microtasks between them. */
  async advance(ms: number): Promise<void> {
    const end = this.t + Math.max(0, ms);
    await flushMicrotasks();
    for (let fired = 0; ; fired++) {
      const next = this.nextDue(end);
      if (!next) break;
      if (fired > 100_000) throw new Error('VirtualClock: more than 100000 timers in one advance (a timer loop?)');
      this.timers.delete(next.id);
      this.t = Math.max(this.t, next.at);
      next.fn();
      await flushMicrotasks();
    }
    this.t = end;
    await flushMicrotasks();
  }

  /** Moves time forward by `ms` without running anything: code that is busy that long. No timer may fall due in it. */
  jump(ms: number): void {
    if (this.nextDue(this.t + ms)) throw new Error('VirtualClock.jump: a timer falls due in the jump: use advance()');
    this.t += ms;
  }

  /** Lets pending promise callbacks run without moving time. */
  settle(): Promise<void> {
    return flushMicrotasks();
  }

  private nextDue(end: number): Timer | null {
    let best: Timer | null = null;
    for (const tm of this.timers.values()) if (tm.at <= end && (!best || tm.at < best.at || (tm.at === best.at && tm.id < best.id))) best = tm;
    return best;
  }
}
