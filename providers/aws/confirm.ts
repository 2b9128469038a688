// Waiting for EC2 to show a change, shared by the aws provider's modes: EC2 is eventually
// consistent (an assign, a route replacement, an association takes effect some time after the call
// returns), so acquire() reads again until the change shows, or gives up at a deadline.
//
//   pollUntil(check, timeoutMs, clock, signal): runs `check` at once, then after waits that start at
//   CONFIRM_FIRST_STEP_MS and double up to CONFIRM_MAX_STEP_MS, each with full jitter above half
//   (step * (0.5 + random()/2)), the last one cut to the deadline so a final check runs at it.
//   Resolves true as soon as a check says so, false when the deadline passed without it. A check
//   that throws ends the poll with that error (the caller decides what a failed read means). Every
//   wait honours the signal. No timers of its own: the clock's sleep is injected (tests: a fake one).
//   The clock and the real sleep are ../../src/provider/wait.ts's.

/** First wait between confirmation reads, doubled up to CONFIRM_MAX_STEP_MS. */
import type { ConfirmClock } from '../../src/provider/wait.js';

export const CONFIRM_FIRST_STEP_MS = 200;
export const CONFIRM_MAX_STEP_MS = 2_000;

/** See the header. */
export async function pollUntil(check: () => Promise<boolean>, timeoutMs: number, clock: ConfirmClock, signal: AbortSignal): Promise<boolean> {
  const deadline = clock.now() + timeoutMs;
  let step = CONFIRM_FIRST_STEP_MS;
  for (;;) {
    if (await check()) return true;
    const left = deadline - clock.now();
    if (left <= 0) return false;
    await clock.sleep(Math.min(left, step * (0.5 + clock.random() / 2)), signal);
    step = Math.min(CONFIRM_MAX_STEP_MS, step * 2);
  }
}
