// The pieces every aws mode shares: the bounded jittered confirm loop (providers/aws/confirm.ts), the
// abortable sleep (src/provider/wait.ts, the alibaba provider's too), "resolved once, retried after a failure" (providers/aws/instance.ts),
// and a failover's request before the local addresses (requestFirst, providers/aws/local-addresses.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CONFIRM_MAX_STEP_MS, pollUntil } from '../../providers/aws/confirm.js';
import { abortableSleep, type ConfirmClock } from '../../src/provider/wait.js';
import { onceRetried } from '../../providers/aws/instance.js';
import { requestFirst } from '../../providers/aws/local-addresses.js';

function fakeClock(random = 0.5): ConfirmClock & { t: number; waits: number[] } {
  const c = {
    t: 0,
    waits: [] as number[],
    now: () => c.t,
    random: () => random,
    sleep: async (ms: number) => {
      c.waits.push(ms);
      c.t += ms;
    },
  };
  return c;
}

test('pollUntil: checks at once, then after doubling jittered waits capped at the max step, the last one cut to the deadline', async () => {
  const clock = fakeClock(1); // no jitter: the full step
  const at: number[] = [];
  const ok = await pollUntil(async () => (at.push(clock.t), false), 10_000, clock, new AbortController().signal);
  assert.equal(ok, false);
  assert.deepEqual(clock.waits, [200, 400, 800, 1600, CONFIRM_MAX_STEP_MS, CONFIRM_MAX_STEP_MS, CONFIRM_MAX_STEP_MS, 1_000]);
  assert.equal(at.at(-1), 10_000, 'a last check at the deadline');
  assert.equal(at.length, clock.waits.length + 1);
  const half = fakeClock(0); // the most jitter: half the step
  await pollUntil(async () => false, 1_000, half, new AbortController().signal);
  assert.deepEqual(half.waits, [100, 200, 400, 300]);
});

test('pollUntil: true at the first check that says so; a check that throws ends the poll with its error; an abort stops the waits', async () => {
  const clock = fakeClock();
  let n = 0;
  assert.equal(await pollUntil(async () => ++n === 3, 10_000, clock, new AbortController().signal), true);
  assert.equal(n, 3);
  assert.deepEqual(clock.waits, [150, 300]);
  await assert.rejects(pollUntil(async () => Promise.reject(new Error('read failed')), 10_000, fakeClock(), new AbortController().signal), /read failed/);
  const ac = new AbortController();
  const real: ConfirmClock = { now: () => performance.now(), random: () => 1, sleep: abortableSleep };
  const polling = pollUntil(async () => false, 60_000, real, ac.signal);
  setTimeout(() => ac.abort(new Error('deadline')), 20);
  const t0 = performance.now();
  await assert.rejects(polling, /deadline/);
  assert.ok(performance.now() - t0 < 1_000, 'the wait ended at the abort');
});

test('abortableSleep: resolves after the time; an aborted signal rejects at once with its reason', async () => {
  const t0 = performance.now();
  await abortableSleep(20, new AbortController().signal);
  assert.ok(performance.now() - t0 >= 15);
  const ac = new AbortController();
  ac.abort(new Error('gone'));
  await assert.rejects(abortableSleep(10_000, ac.signal), /gone/);
});

test('onceRetried: concurrent callers share one computation; a failure is not kept, the next call computes again', async () => {
  let runs = 0;
  let fail = true;
  const get = onceRetried(async () => {
    runs++;
    await new Promise((r) => setImmediate(r));
    if (fail) throw new Error('IMDS not up yet');
    return runs;
  });
  const [a, b] = await Promise.allSettled([get(), get()]);
  assert.equal(a.status, 'rejected');
  assert.equal(b.status, 'rejected');
  assert.equal(runs, 1, 'one attempt for both callers');
  fail = false;
  assert.equal(await get(), 2, 'tried again after the failure');
  assert.equal(await get(), 2, 'then kept');
  assert.equal(runs, 2);
});

test('requestFirst: the request runs its promise chain to its end before the local add starts; its error wins over the local one', async () => {
  const order: string[] = [];
  // A request whose work up to "the socket" is a chain of promise continuations, as the SDK's is.
  const request = (fail: boolean) =>
    (async () => {
      for (let i = 0; i < 50; i++) await Promise.resolve();
      order.push('request on the wire');
      await new Promise((r) => setTimeout(r, 5));
      if (fail) throw new Error('Throttling');
      return 'assigned';
    })();
  const local = (fail: boolean) => async () => {
    order.push('local add');
    if (fail) throw new Error('EPERM');
  };
  assert.equal(await requestFirst(request(false), local(false)), 'assigned');
  assert.deepEqual(order, ['request on the wire', 'local add']);
  await assert.rejects(requestFirst(request(true), local(true)), /Throttling/, 'the request failed: its error, not the local one');
  await assert.rejects(requestFirst(request(false), local(true)), /EPERM/, 'the request landed but the local add failed');
  order.length = 0;
  await assert.rejects(requestFirst(request(true), local(false)), /Throttling/);
  assert.deepEqual(order, ['request on the wire', 'local add'], 'the local add still happens while the request fails');
});
