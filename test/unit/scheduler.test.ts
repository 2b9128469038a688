// The agent's one-timer scheduler (src/scheduler.ts) on a virtual clock: deadlines that fall due
// together share one wake-up, nothing runs before its deadline, moves and cancels hold, a callback that
// re-arms itself for the past cannot spin, and the runner clock's quantisation.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Scheduler, gridStepMs, type PlatformTimers } from '../../src/scheduler.js';
import { VirtualClock } from '../support/virtual-clock.js';

function setup(start = 1_000) {
  const clock = new VirtualClock(start);
  const sched = new Scheduler(() => clock.now(), clock);
  return { clock, sched };
}

/** Platform timers on the virtual clock that also refresh (as Node's do), counting both. */
function refreshableTimers(clock: VirtualClock) {
  const count = { made: 0, refreshed: 0 };
  type Handle = { fn: () => void; ms: number; id: unknown };
  const timers: PlatformTimers = {
    setTimeout(fn, ms) {
      count.made++;
      return { fn, ms, id: clock.setTimeout(fn, ms) } satisfies Handle;
    },
    clearTimeout: (h) => clock.clearTimeout((h as Handle).id),
    refresh(h) {
      count.refreshed++;
      const handle = h as Handle;
      clock.clearTimeout(handle.id);
      handle.id = clock.setTimeout(handle.fn, handle.ms);
    },
  };
  return { timers, count };
}

test('200 entries due at the same time fire in ONE wake-up of one platform timer', async () => {
  const { clock, sched } = setup();
  const fired: number[] = [];
  for (let i = 0; i < 200; i++) sched.set(sched.entry((now) => fired.push(now)), 2_000);
  await clock.advance(0);
  assert.equal(clock.pending, 1, 'one platform timer for all of them');
  await clock.advance(999);
  assert.equal(fired.length, 0, 'nothing before the deadline');
  await clock.advance(1);
  assert.equal(fired.length, 200);
  assert.ok(fired.every((t) => t === 2_000));
  assert.equal(sched.wakeups, 1);
  assert.equal(clock.pending, 0, 'nothing left armed');
});

test('an entry moved later fires at the new time, once; a cancelled one never', async () => {
  const { clock, sched } = setup(0);
  const log: string[] = [];
  const a = sched.entry((now) => log.push(`a@${now}`));
  const b = sched.entry((now) => log.push(`b@${now}`));
  sched.set(a, 100);
  sched.set(b, 150);
  sched.set(a, 300); // moved later (a backup's Master_Down deadline after an advert)
  sched.set(b, null);
  await clock.advance(1_000);
  assert.deepEqual(log, ['a@300']);
  assert.ok(sched.wakeups <= 2, `at most one early wake-up for the move, got ${sched.wakeups}`);
});

test('a callback that sets itself for a time already past runs in the next wake-up, not in a loop', async () => {
  const { clock, sched } = setup(0);
  let runs = 0;
  const e = sched.entry((now) => {
    runs++;
    if (runs < 3) sched.set(e, now - 50);
  });
  sched.set(e, 10);
  await clock.advance(10);
  assert.equal(runs, 3);
  assert.equal(sched.wakeups, 3, 'each re-set ran in a wake-up of its own');
  assert.equal(sched.size, 0);
});

test('property: every armed entry fires exactly once, never before its deadline, in deadline order', () => {
  return fc.assert(
    fc.asyncProperty(
      fc.array(fc.record({ at: fc.integer({ min: 0, max: 5_000 }), move: fc.option(fc.integer({ min: 0, max: 5_000 })), cancel: fc.boolean() }), { maxLength: 60 }),
      async (plan) => {
        const { clock, sched } = setup(0);
        const fired: { i: number; now: number }[] = [];
        const entries = plan.map((_, i) => sched.entry((now) => fired.push({ i, now })));
        plan.forEach((p, i) => sched.set(entries[i]!, p.at));
        plan.forEach((p, i) => {
          if (p.move !== null) sched.set(entries[i]!, p.move);
          if (p.cancel) sched.set(entries[i]!, null);
        });
        await clock.advance(6_000);
        const expected = plan.map((p, i) => ({ i, at: p.move ?? p.at, live: !p.cancel })).filter((x) => x.live);
        assert.equal(fired.length, expected.length);
        for (const f of fired) {
          const want = expected.find((x) => x.i === f.i)!;
          assert.ok(f.now >= want.at, `entry ${f.i} ran at ${f.now}, before ${want.at}`);
          assert.ok(f.now <= want.at + 1, `entry ${f.i} ran late at ${f.now} (deadline ${want.at})`);
        }
        for (let k = 1; k < fired.length; k++) assert.ok(fired[k - 1]!.now <= fired[k]!.now, 'deadline order');
      },
    ),
    { numRuns: 200 },
  );
});

test('runner clock: long timers land on a grid step ≤ ms/8 (≤ 1 s), short ones are exact, none early', async () => {
  assert.equal(gridStepMs(10_000), 1_000);
  assert.equal(gridStepMs(4_000), 500);
  assert.equal(gridStepMs(2_000), 250);
  assert.equal(gridStepMs(800), 100);
  assert.equal(gridStepMs(799), 0);
  assert.equal(gridStepMs(0), 0);

  const { clock, sched } = setup(1_234);
  const c = sched.clock();
  const at: Record<string, number> = {};
  // Reconciles of three instances, jittered over 8–12 s: they land on whole seconds…
  c.setTimeout(() => (at.r1 = clock.now()), 9_100);
  c.setTimeout(() => (at.r2 = clock.now()), 9_400);
  c.setTimeout(() => (at.r3 = clock.now()), 11_900);
  c.setTimeout(() => (at.short = clock.now()), 37);
  const cancelled = c.setTimeout(() => (at.cancelled = clock.now()), 5_000);
  c.clearTimeout(cancelled);
  await clock.advance(20_000);
  assert.equal(at.short, 1_234 + 37, 'a short timer is exact');
  assert.equal(at.r1, 11_000, 'quantised up to the next whole second');
  assert.equal(at.r2, 11_000, 'and shares that wake-up with r1');
  assert.equal(at.r3, 14_000);
  assert.equal(at.cancelled, undefined);
  assert.equal(sched.wakeups, 3, 'short, r1+r2, r3');
});

test('close() cancels everything and the platform timer', async () => {
  const { clock, sched } = setup();
  let ran = false;
  sched.set(sched.entry(() => (ran = true)), 1_500);
  sched.close();
  assert.equal(clock.pending, 0);
  await clock.advance(1_000);
  assert.equal(ran, false);
});

test('a steady cadence refreshes the last platform timer instead of making a new one each time', async () => {
  const clock = new VirtualClock(0);
  const { timers, count } = refreshableTimers(clock);
  const sched = new Scheduler(() => clock.now(), timers);
  const sent: number[] = [];
  const advert = sched.entry((now) => {
    sent.push(now);
    sched.set(advert, now + 100); // a master's Adver_Timer
  });
  sched.set(advert, 100);
  await clock.advance(1_000);
  assert.deepEqual(sent, [100, 200, 300, 400, 500, 600, 700, 800, 900, 1_000]);
  assert.equal(count.made, 1, 'one platform timer made');
  assert.equal(count.refreshed, 10, 'then refreshed for every next advert');
  sched.set(advert, null);
  await clock.advance(0);
  assert.equal(clock.pending, 0, 'cancelled: no platform timer left');
  sched.set(advert, 1_100);
  assert.equal(count.made, 2, 'after a cancel, a new timer (a cleared one cannot be refreshed)');
  await clock.advance(100);
  assert.deepEqual(sent.slice(-1), [1_100]);
});

test('the refresh survives jitter: wake-ups late by 0.5–1.5 ms still re-use the last platform timer', async () => {
  const clock = new VirtualClock(0);
  let late = 0.5;
  const { timers, count } = refreshableTimers(clock);
  // The process sees time a little after the platform timer fired, by a varying amount.
  const sched = new Scheduler(() => clock.now() + late, timers);
  const sent: number[] = [];
  const advert = sched.entry((now) => {
    sent.push(Math.floor(now));
    late = late === 0.5 ? 1.5 : 0.5;
    sched.set(advert, Math.floor(now / 100) * 100 + 100); // on the 100 ms grid, as fsm.ts advertGrid
  });
  sched.set(advert, 100);
  await clock.advance(2_000);
  assert.ok(sent.length >= 19, `${sent.length} adverts`);
  assert.ok(count.made <= 2 && count.refreshed >= 17, `made ${count.made} timers, refreshed ${count.refreshed} times`);
});
