// The runner's only source of time: a monotonic `now()` and one-shot timers. The real clock is
// performance.now() and the platform's timers; tests inject a VirtualClock (test/support) and move
// time by hand, so no runner test ever sleeps.

export interface Clock {
  /** Monotonic milliseconds (any origin). */
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const realClock: Clock = {
  now: () => performance.now(),
  setTimeout: (fn, ms) => setTimeout(fn, Math.max(0, ms)),
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout | undefined),
};
