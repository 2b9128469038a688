// Benchmark-only load inside the agent's own process, for bench/jitter.ts and bench/chaos/: with
// HA_AGENT_BENCH_HOG set, the event loop is kept busy so the advert send schedule can be measured
// under load.
//   cpu:   a busy loop of 20 ms every 25 ms on the event loop (80 % of the main thread);
//   gc:    allocation churn every 10 ms (~20 000 short-lived objects, plus 1 MiB buffers kept in a
//          ring of 64 so some survive into the old generation and major GCs run too);
//   stall: each SIGUSR2 busy-loops the event loop once for 500 ms (`stall:<ms>` for another length):
//          an injected event-loop stall (bench/chaos/stall.ts).
// A comma-separated list (`cpu,gc`) runs both. Unset or empty: nothing is started, nothing runs and
// no signal handler is installed (the only cost is this module's load and one env read). Unknown
// words are ignored, with a warning. The timers are unref'd: they never keep the process alive.
import type { Logger } from './log.js';

export const BENCH_HOG_ENV = 'HA_AGENT_BENCH_HOG';

/** The signal that triggers one stall, and the default stall length (ms). */
export const STALL_SIGNAL = 'SIGUSR2';
export const STALL_DEFAULT_MS = 500;

/** Where the stall handler is installed (the process; a fake in tests). */
export type SignalTarget = { on(sig: 'SIGUSR2', fn: () => void): unknown; off(sig: 'SIGUSR2', fn: () => void): unknown };

/** Busy-waits the calling thread (the event loop) for `ms`. */
export function busyLoop(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until);
}

/** Starts the hogs named in `spec` (the env value); returns a stop function (a no-op when none). */
export function startBenchHog(
  spec: string | undefined,
  log?: Pick<Logger, 'warn'>,
  clock: { setInterval: typeof setInterval; clearInterval: typeof clearInterval } = globalThis,
  signals: SignalTarget = process,
  stall: (ms: number) => void = busyLoop,
): () => void {
  const words = (spec ?? '').split(',').map((w) => w.trim()).filter(Boolean);
  if (words.length === 0) return () => {};
  const timers: NodeJS.Timeout[] = [];
  const handlers: (() => void)[] = [];
  for (const w of words) {
    const stallMs = /^stall(?::(\d+))?$/.exec(w);
    if (stallMs) {
      const ms = stallMs[1] ? Number(stallMs[1]) : STALL_DEFAULT_MS;
      const onSignal = () => {
        log?.warn({ env: BENCH_HOG_ENV, hog: 'stall', ms }, `${BENCH_HOG_ENV}: stalling the event loop for ${ms} ms`);
        stall(ms);
      };
      signals.on(STALL_SIGNAL, onSignal);
      handlers.push(onSignal);
    } else if (w === 'cpu') {
      timers.push(clock.setInterval(() => busyLoop(20), 25));
    } else if (w === 'gc') {
      const ring: Buffer[] = [];
      let keep: unknown[] = [];
      timers.push(
        clock.setInterval(() => {
          keep = Array.from({ length: 20_000 }, (_, i) => ({ i, s: `x${i}` }));
          ring.push(Buffer.alloc(1 << 20, keep.length & 0xff));
          if (ring.length > 64) ring.shift();
        }, 10),
      );
    } else {
      log?.warn({ env: BENCH_HOG_ENV, value: w }, `${BENCH_HOG_ENV}: unknown hog "${w}" ignored (cpu, gc, stall[:ms])`);
      continue;
    }
    log?.warn({ env: BENCH_HOG_ENV, hog: w }, `${BENCH_HOG_ENV}: benchmark load "${w}" running in this process`);
  }
  for (const t of timers) t.unref();
  return () => {
    timers.forEach((t) => clock.clearInterval(t));
    handlers.forEach((h) => signals.off(STALL_SIGNAL, h));
  };
}
