// What every check type's driver implements: one run, started by the scheduler (./driver.ts), that
// settles with its outcome and never rejects. `signal` aborts the run (its timeout passed, or the
// agent stops): the run then ends as fast as it can (exec: the whole process group is killed) and
// still settles, so the scheduler knows when the check is idle again.
import type { RunOutcome } from './step.js';

export interface Probe {
  run(signal: AbortSignal): Promise<RunOutcome>;
}

/** Milliseconds since `t0` (performance.now()), rounded to 0.1 ms. */
export function since(t0: number): number {
  return Math.round((performance.now() - t0) * 10) / 10;
}

/** An error's code or message, one line. */
export function errText(e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  const msg = (err?.message ?? String(e)).split('\n')[0] ?? '';
  return err?.code && !msg.includes(err.code) ? `${err.code}: ${msg}` : msg;
}
