// The confirmation of a takeover: after the gratuitous ARPs, the VPC makes this instance the HaVip's
// MasterInstanceId (spec §3.6), some time later. confirmReads() reads at most `maxReads` times
// (CONFIRM_READS = 3: the "≤ 3 API calls per failover" budget) within `timeoutMs`:
//   - the first read at once;
//   - the next ones after waits that start at min(CONFIRM_FIRST_WAIT_MS, timeoutMs / 4) and double,
//     each with jitter (step * (0.5 + random()/2));
//   - the last read at the deadline (so "not confirmed" always means "not within timeoutMs").
// Resolves { confirmed, reads } as soon as a read says so, or after the last read. A read that
// throws ends it with that error. Every wait honours the signal; the clock is injected (tests: fake).

import type { ConfirmClock } from '../../src/provider/wait.js';

export const CONFIRM_READS = 3;
export const CONFIRM_FIRST_WAIT_MS = 1_000;

/** See the header. */
export async function confirmReads(
  read: () => Promise<boolean>,
  opts: { timeoutMs: number; maxReads?: number },
  clock: ConfirmClock,
  signal: AbortSignal,
): Promise<{ confirmed: boolean; reads: number }> {
  const maxReads = Math.max(1, opts.maxReads ?? CONFIRM_READS);
  const deadline = clock.now() + opts.timeoutMs;
  let step = Math.min(CONFIRM_FIRST_WAIT_MS, opts.timeoutMs / 4);
  for (let reads = 1; ; reads++) {
    if (await read()) return { confirmed: true, reads };
    const left = deadline - clock.now();
    if (reads >= maxReads || left <= 0) return { confirmed: false, reads };
    const wait = reads === maxReads - 1 ? left : Math.min(left, step * (0.5 + clock.random() / 2));
    await clock.sleep(wait, signal);
    step *= 2;
  }
}
