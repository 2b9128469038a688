// Benchmark-only load inside the agent's own process, for bench/jitter.ts: with HA_AGENT_BENCH_HOG
// set, the event loop is kept busy so the advert send schedule can be measured under load.
//   cpu: a busy loop of 20 ms every 25 ms on the event loop (80 % of the main thread);
//   gc:  allocation churn every 10 ms (~20 000 short-lived objects, plus 1 MiB buffers kept in a
//        ring of 64 so some survive into the old generation and major GCs run too).
// A comma-separated list (`cpu,gc`) runs both. Unset or empty: nothing is started and nothing runs
// (the only cost is this module's load and one env read). Unknown words are ignored, with a warning.
// The timers are unref'd: they never keep the process alive.
import type { Logger } from './log.js';

export const BENCH_HOG_ENV = 'HA_AGENT_BENCH_HOG';

/** Starts the hogs named in `spec` (the env value); returns a stop function (a no-op when none). */
export function startBenchHog(spec: string | undefined, log?: Pick<Logger, 'warn'>, clock: { setInterval: typeof setInterval; clearInterval: typeof clearInterval } = globalThis): () => void {
  const words = (spec ?? '').split(',').map((w) => w.trim()).filter(Boolean);
  if (words.length === 0) return () => {};
  const timers: NodeJS.Timeout[] = [];
  for (const w of words) {
    if (w === 'cpu') {
      timers.push(
        clock.setInterval(() => {
          const until = performance.now() + 20;
          while (performance.now() < until);
        }, 25),
      );
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
      log?.warn({ env: BENCH_HOG_ENV, value: w }, `${BENCH_HOG_ENV}: unknown hog "${w}" ignored (cpu, gc)`);
      continue;
    }
    log?.warn({ env: BENCH_HOG_ENV, hog: w }, `${BENCH_HOG_ENV}: benchmark load "${w}" running in this process`);
  }
  for (const t of timers) t.unref();
  return () => timers.forEach((t) => clock.clearInterval(t));
}
