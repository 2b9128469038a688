// Time as a cloud provider's confirmation loop sees it: the providers wait for an eventually
// consistent backend to show a change (aws/confirm.ts polls EC2 or IMDS, alibaba/confirm.ts reads
// DescribeHaVips), on an injected clock so tests run on a fake one. No timers of its own beyond
// abortableSleep, the real sleep.

export interface ConfirmClock {
  sleep(ms: number, signal: AbortSignal): Promise<void>;
  random(): number;
  now(): number;
}

/** setTimeout as a promise, rejected with the signal's reason when it aborts. */
export function abortableSleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason as Error);
    const t = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      reject(signal.reason as Error);
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

/** The real clock, with any part a test gives instead. */
export function confirmClock(o: { sleep?: ConfirmClock['sleep']; random?: () => number; now?: () => number }): ConfirmClock {
  return { sleep: o.sleep ?? abortableSleep, random: o.random ?? Math.random, now: o.now ?? (() => performance.now()) };
}
