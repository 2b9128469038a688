// Where the event-driven /metrics series come from: the scheduler's lateness (the event loop's delay,
// measured on the agent's own wake-ups) and the provider runner's onCall (every call's outcome and
// duration), on virtual time.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import { Scheduler, type PlatformTimers } from '../../src/scheduler.js';
import { ProviderRunner } from '../../src/provider/runner/index.js';
import { retryable } from '../../src/provider/errors.js';
import type { ProviderTiming, VipProvider } from '../../src/provider/types.js';
import { VirtualClock } from '../support/virtual-clock.js';

test('scheduler: how late each wake-up came is summed, and its maximum kept until reset', () => {
  let now = 1_000;
  let pending: (() => void) | null = null;
  const timers: PlatformTimers = { setTimeout: (fn) => ((pending = fn), fn), clearTimeout: () => (pending = null) };
  const sched = new Scheduler(() => now, timers);
  const wakeAt = (at: number) => {
    now = at;
    const fn = pending!;
    pending = null;
    fn();
  };
  const fired: number[] = [];
  const e = sched.entry((t) => fired.push(t));
  sched.set(e, 1_100);
  wakeAt(1_103); // 3 ms late
  sched.set(e, 1_200);
  wakeAt(1_209); // 9 ms late
  sched.set(e, 1_300);
  wakeAt(1_300); // on time
  assert.deepEqual(fired, [1_103, 1_209, 1_300]);
  assert.equal(sched.wakeups, 3);
  assert.equal(sched.lateTotalMs, 12);
  assert.equal(sched.lateMaxMs, 9);
  sched.lateMaxMs = 0; // what a scrape does
  sched.set(e, 1_400);
  wakeAt(1_401);
  assert.equal(sched.lateMaxMs, 1);
  assert.equal(sched.lateTotalMs, 13);
});

test('provider runner: onCall reports each call once, with its outcome (ok / error class / aborted) and duration', async () => {
  const clock = new VirtualClock();
  let fail = true;
  const provider: VipProvider = {
    type: 'fake',
    acquire: (signal) =>
      new Promise<void>((resolve, reject) => {
        const t = clock.setTimeout(() => (fail ? reject(retryable('throttled')) : resolve()), 40);
        signal.addEventListener('abort', () => (clock.clearTimeout(t), reject(new Error('aborted'))), { once: true });
      }),
    release: () => new Promise<void>((resolve) => clock.setTimeout(resolve, 5)),
    verify: async () => ({}),
    preflight: async function* () {},
  };
  const timing: ProviderTiming = { operationTimeoutMs: 1_000, confirmTimeoutMs: 0, reconcileMs: 600_000, backoffBaseMs: 100, backoffMaxMs: 100, faultAfterMs: 60_000 };
  const calls: string[] = [];
  const runner = new ProviderRunner(provider, {
    log: pino({ level: 'silent' }),
    timing,
    vips: ['198.51.100.10/32'],
    clock,
    random: () => 0.5,
    onCall: (op, outcome, ms, error) => calls.push(`${op} ${outcome} ${ms}${error ? ` ${error}` : ''}`),
  });
  runner.want(true);
  await clock.advance(40); // the first acquire fails (retryable)
  fail = false;
  await clock.advance(200); // backoff, then the retry succeeds after 40 ms
  runner.want(false);
  await clock.advance(10); // release
  assert.deepEqual(calls.slice(0, 3), ['acquire retryable 40 throttled', 'acquire ok 40', 'release ok 5']);
  // An acquire aborted because the goal changed: outcome "aborted".
  runner.want(true);
  await clock.advance(1);
  runner.want(false);
  await clock.advance(20);
  assert.deepEqual(calls.slice(3), ['acquire aborted 1 aborted', 'release ok 5']);
  await runner.close();
});
