// The provider runner's pure policy (src/provider/runner/step.ts): events in, effects out, no time.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  aggregateOwnership,
  backoffDelayMs,
  initialState,
  nextDeadline,
  normalizeVips,
  reconcileDelayMs,
  step,
  type OpOutcome,
  type RunnerEffect,
  type RunnerEvent,
  type RunnerState,
  type StepConfig,
} from '../../src/provider/runner/step.js';
import { classifyError, permanent, retryable } from '../../src/provider/errors.js';
import type { ProviderTiming } from '../../src/provider/types.js';

const A = '198.51.100.10/24';
const B = '198.51.100.11/32';
const VIPS = [A, B];
const timing: ProviderTiming = { operationTimeoutMs: 1_000, confirmTimeoutMs: 0, reconcileMs: 10_000, backoffBaseMs: 100, backoffMaxMs: 1_600, faultAfterMs: 3_000 };

/** Drives step() by hand; `fx` holds the effects of the last event. */
class Sim {
  state: RunnerState = initialState(VIPS);
  fx: RunnerEffect[] = [];
  readonly cfg: StepConfig;

  constructor(
    public now = 0,
    over: Partial<StepConfig> = {},
  ) {
    this.cfg = { timing, vips: VIPS, abortGraceMs: 500, random: () => 0.5, ...over };
  }

  send(ev: RunnerEvent): RunnerEffect[] {
    const out = step(this.state, ev, this.now, this.cfg);
    this.state = out.state;
    this.fx = out.effects;
    return this.fx;
  }
  want(goal: 'held' | 'released') {
    return this.send({ type: 'want', goal });
  }
  token() {
    return this.send({ type: 'token' });
  }
  /** Moves to `at` and ticks. */
  at(at: number) {
    this.now = at;
    return this.send({ type: 'tick' });
  }
  settle(outcome: OpOutcome, id = this.state.running!.id) {
    return this.send({ type: 'settled', id, outcome });
  }
  ok(value?: unknown) {
    return this.settle({ ok: true, value });
  }
  fail(err: unknown = new Error('boom')) {
    return this.settle({ ok: false, error: classifyError(err) });
  }
  /** want → token → the operation starts; returns its start effect. */
  started(): Extract<RunnerEffect, { type: 'start' }> | undefined {
    return this.fx.find((e): e is Extract<RunnerEffect, { type: 'start' }> => e.type === 'start');
  }
  has(type: RunnerEffect['type']): boolean {
    return this.fx.some((e) => e.type === type);
  }
  logs(level: string): string[] {
    return this.fx.filter((e): e is Extract<RunnerEffect, { type: 'log' }> => e.type === 'log' && e.level === level).map((e) => e.msg);
  }
  /** Reaches the goal `held` (acquire ok) at the current time. */
  reachHeld() {
    this.want('held');
    this.token();
    this.ok();
    assert.equal(this.state.reached, true);
  }
}

const allHeld = { [A]: 'held', [B]: 'held' };
const noneHeld = { [A]: 'not-held', [B]: 'not-held' };

test('want(held) asks for a rate-limit token first; the acquire starts when it arrives, with the operation deadline', () => {
  const s = new Sim(100);
  assert.deepEqual(s.want('held'), [{ type: 'log', level: 'debug', msg: 'provider goal changed', fields: { desired: 'held', failures: 0 } }, { type: 'request-token' }]);
  assert.equal(s.state.running, null);
  s.token();
  assert.deepEqual(s.started(), { type: 'start', id: 1, op: 'acquire', deadline: 1_100 });
  s.ok();
  assert.equal(s.state.ownership, 'held');
  assert.deepEqual(s.state.vips, allHeld);
  assert.equal(s.state.counters.acquireOk, 1);
});

test('the operation run is decided when the token arrives: a goal flip while waiting needs no second token', () => {
  const s = new Sim();
  s.want('held');
  assert.deepEqual(s.want('released').filter((e) => e.type !== 'log'), [], 'no second token asked for');
  s.token();
  assert.equal(s.started()?.op, 'release');
});

test('strict order (WAIT): nothing starts while an aborted operation still runs, even past the abort grace', () => {
  const s = new Sim();
  s.want('held');
  s.token();
  const acquireId = s.state.running!.id;
  const fx = s.want('released');
  assert.deepEqual(fx.filter((e) => e.type === 'abort'), [{ type: 'abort', id: acquireId, reason: 'goal changed' }]);
  assert.ok(!s.has('request-token') && !s.has('start'), 'the release waits for the acquire to settle');
  assert.equal(nextDeadline(s.state, s.cfg), 500, 'the abort grace is timed');
  s.at(500);
  assert.deepEqual(s.logs('error'), ['provider acquire ignored its abort for 500 ms; waiting for it before the next operation (strict order)']);
  assert.match(s.state.lastError!, /^acquire: ignored its abort.*strict order/);
  assert.ok(!s.has('start') && !s.has('request-token'));
  s.at(60_000);
  assert.equal(s.fx.length, 0, 'still waiting, nothing more to say');
  // The cloud "assign" lands late (it succeeded): that is a fact, and the release follows it.
  s.ok();
  assert.equal(s.state.ownership, 'held');
  assert.ok(s.has('request-token'));
  s.token();
  assert.equal(s.started()?.op, 'release');
});

test('a verify() result from an older goal is ignored', () => {
  const s = new Sim();
  s.reachHeld();
  s.at(s.state.reconcileAt!);
  assert.equal(s.started()?.op, 'verify', 'verify takes no runner token (the verify batch does)');
  s.want('released');
  assert.ok(s.has('abort'));
  const before = s.state;
  s.ok(noneHeld); // the verify for the old goal answers: must not count as drift, nor change ownership
  assert.equal(s.state.counters.drift, 0);
  assert.equal(s.state.ownership, before.ownership);
  assert.deepEqual(s.state.vips, allHeld);
  assert.ok(s.has('request-token'), 'the release comes next');
});

test('backoff: full jitter under a doubling ceiling; NOT reset by a flapping goal, only by a success', () => {
  assert.deepEqual(
    [1, 2, 3, 4, 5, 6, 7, 50].map((n) => backoffDelayMs(n, 500, 30_000, () => 0.999999)),
    [499, 999, 1999, 3999, 7999, 15999, 29999, 29999],
  );
  const s = new Sim(0, { random: () => 0.999999 });
  s.want('held');
  s.token();
  s.fail();
  assert.equal(s.state.failures, 1);
  assert.equal(s.state.retryAt, 99);
  s.at(99);
  s.token();
  s.fail();
  assert.equal(s.state.retryAt, 99 + 199);
  // Flap: the new goal gets its first attempt at once, but the count goes on.
  s.want('released');
  assert.ok(s.has('request-token'), 'first attempt for the new goal at once');
  s.token();
  s.fail();
  assert.equal(s.state.failures, 3);
  assert.equal(s.state.retryAt! - s.now, 399);
  s.want('held');
  s.token();
  s.fail();
  assert.equal(s.state.failures, 4);
  assert.equal(s.state.retryAt! - s.now, 799);
  s.at(s.state.retryAt!);
  s.token();
  s.ok();
  assert.equal(s.state.failures, 0, 'a success resets it');
});

test('reconcile period has ±20 % jitter', () => {
  assert.equal(reconcileDelayMs(10_000, () => 0), 8_000);
  assert.equal(reconcileDelayMs(10_000, () => 1), 12_000);
  for (const r of [0, 0.25, 1]) {
    const s = new Sim(0, { random: () => r });
    s.reachHeld();
    assert.equal(s.state.reconcileAt, reconcileDelayMs(10_000, () => r));
  }
});

test('recheck (the provider saw its backend change): verify at once when the goal is reached, never while an operation runs', () => {
  const s = new Sim(0);
  s.want('held');
  s.send({ type: 'recheck' });
  assert.equal(s.has('start'), false, 'goal not reached yet: nothing extra');
  s.token();
  const acquire = s.started();
  assert.equal(acquire?.op, 'acquire');
  s.send({ type: 'recheck' });
  assert.equal(s.has('start'), false, 'the running acquire comes first');
  s.ok();
  s.now = 1_000; // long before the periodic reconcile (8–12 s)
  s.send({ type: 'recheck' });
  assert.equal(s.started()?.op, 'verify', 'verified at once');
  s.ok({ [A]: 'not-held', [B]: 'held' });
  assert.equal(s.state.counters.drift, 1, 'the drift the recheck found');
  assert.equal(s.state.reached, false, 'so the VIP is acquired again');
});

test('faultAfter: goal held with no successful acquire for faultAfterMs → fault with the last error and fix; cleared by success', () => {
  const s = new Sim(1_000);
  s.want('held');
  s.token();
  s.fail(permanent('UnauthorizedOperation: not allowed', 'grant ec2:AssignPrivateIpAddresses'));
  assert.equal(s.state.fault, null);
  assert.equal(nextDeadline(s.state, s.cfg), s.state.retryAt, 'retry comes first');
  s.at(3_999);
  assert.equal(s.state.fault, null, 'not before faultAfterMs');
  s.token();
  s.fail(permanent('UnauthorizedOperation: not allowed', 'grant ec2:AssignPrivateIpAddresses'));
  s.at(4_000);
  assert.equal(s.state.fault, 'no successful acquire for 3 s; last error: acquire: UnauthorizedOperation: not allowed (fix: grant ec2:AssignPrivateIpAddresses)');
  assert.equal(s.logs('error').length, 1);
  s.at(s.state.retryAt!);
  s.token();
  s.ok();
  assert.equal(s.state.fault, null);
});

test('faultAfter: cleared by the goal becoming released; measured from when the goal became held', () => {
  const s = new Sim(0);
  s.want('held');
  s.token();
  s.fail();
  s.at(3_000);
  assert.ok(s.state.fault);
  s.want('released');
  assert.equal(s.state.fault, null);
  s.now = 10_000;
  s.want('held');
  assert.equal(nextDeadline(s.state, s.cfg), 13_000);
});

test('faultAfter: drift while MASTER starts the fault clock again', () => {
  const s = new Sim(0);
  s.reachHeld();
  s.at(s.state.reconcileAt!);
  s.ok({ [A]: 'held', [B]: 'elsewhere' });
  assert.equal(s.state.counters.drift, 1);
  const driftAt = s.now;
  s.token();
  s.fail();
  s.at(driftAt + 2_999);
  assert.equal(s.state.fault, null);
  s.at(driftAt + 3_000);
  assert.match(s.state.fault!, /no successful acquire/);
});

test('per-VIP drift: held + one VIP not-held or elsewhere → re-acquire; released + one VIP held → release again; unknown is no drift', () => {
  const held = new Sim(0);
  held.reachHeld();
  held.at(held.state.reconcileAt!);
  held.ok({ [A]: 'held', [B]: 'not-held' });
  assert.equal(held.state.counters.drift, 1);
  assert.equal(held.state.ownership, 'unknown', 'partial: the per-VIP map tells');
  assert.deepEqual(held.state.vips, { [A]: 'held', [B]: 'not-held' });
  assert.deepEqual(held.logs('warn'), ['VIPs drifted away while MASTER; re-acquiring']);
  held.token();
  assert.equal(held.started()?.op, 'acquire');

  const released = new Sim(0);
  released.want('released');
  released.token();
  released.ok();
  released.at(released.state.reconcileAt!);
  released.ok({ [A]: 'not-held', [B]: 'held' });
  assert.equal(released.state.counters.drift, 1);
  released.token();
  assert.equal(released.started()?.op, 'release');

  const unsure = new Sim(0);
  unsure.reachHeld();
  unsure.at(unsure.state.reconcileAt!);
  unsure.ok({ [A]: 'held', [B]: 'unknown' });
  assert.equal(unsure.state.counters.drift, 0);
  assert.equal(unsure.state.reached, true);
  assert.ok(unsure.state.reconcileAt! > unsure.now, 'next reconcile scheduled');
});

test('aggregate ownership and verify answers normalised to the configured VIPs', () => {
  assert.equal(aggregateOwnership(allHeld as never), 'held');
  assert.equal(aggregateOwnership(noneHeld as never), 'not-held');
  assert.equal(aggregateOwnership({ [A]: 'held', [B]: 'not-held' }), 'unknown');
  assert.equal(aggregateOwnership({ [A]: 'not-held', [B]: 'elsewhere' }), 'elsewhere');
  assert.equal(aggregateOwnership({ [A]: 'not-held', [B]: 'unknown' }), 'unknown');
  assert.equal(aggregateOwnership({}), 'unknown');
  assert.deepEqual(normalizeVips({ [A]: 'held', other: 'held', [B]: 'bogus' }, VIPS), { [A]: 'held', [B]: 'unknown' });
  assert.deepEqual(normalizeVips('not-held', VIPS), noneHeld);
  assert.deepEqual(normalizeVips(null, VIPS), { [A]: 'unknown', [B]: 'unknown' });
});

test('operation deadline: aborted as a timeout, reported retryable; a late success still counts', () => {
  const s = new Sim(0);
  s.want('held');
  s.token();
  const id = s.state.running!.id;
  assert.equal(nextDeadline(s.state, s.cfg), 1_000);
  s.at(1_000);
  assert.deepEqual(s.fx.find((e) => e.type === 'abort'), { type: 'abort', id, reason: 'timed out after 1000 ms' });
  s.fail(Object.assign(new Error('This operation was aborted'), { name: 'AbortError' }));
  assert.equal(s.state.lastError, 'acquire: timed out after 1000 ms');
  assert.equal(s.state.lastErrorClass, 'retryable');
  assert.equal(s.state.counters.acquireFail, 1);
  assert.deepEqual(s.logs('warn'), ['acquire failed']);
});

test('errors: permanent logged at error with its fix, retryable at warn; status carries class and fix; success clears them', () => {
  const s = new Sim(0);
  s.want('held');
  s.token();
  s.fail(permanent('operation not permitted', 'run as root or grant CAP_NET_ADMIN', { code: 'EPERM' }));
  assert.deepEqual(s.logs('error'), ['acquire failed — fix: run as root or grant CAP_NET_ADMIN']);
  assert.equal(s.state.lastError, 'acquire: operation not permitted');
  assert.equal(s.state.lastErrorClass, 'permanent');
  assert.equal(s.state.fix, 'run as root or grant CAP_NET_ADMIN');
  s.at(s.state.retryAt!);
  s.token();
  s.fail(retryable('Throttling: rate exceeded', { code: 'Throttling' }));
  assert.deepEqual(s.logs('warn'), ['acquire failed']);
  assert.equal(s.state.lastErrorClass, 'retryable');
  assert.equal(s.state.fix, null);
  s.at(s.state.retryAt!);
  s.token();
  s.ok();
  assert.equal(s.state.lastError, null);
  assert.equal(s.state.lastErrorClass, null);
});

test('a cancelled operation is not a failure: no counter, no backoff, ownership unknown', () => {
  const s = new Sim(0);
  s.want('held');
  s.token();
  s.want('released');
  s.fail(new Error('aborted'));
  assert.equal(s.state.counters.acquireFail, 0);
  assert.equal(s.state.failures, 0);
  assert.equal(s.state.ownership, 'unknown');
  assert.ok(s.has('request-token'));
});

test('release-now: aborts, waits for the running call, then ONE release within the shutdown deadline', () => {
  const s = new Sim(0);
  s.want('held');
  s.token();
  s.send({ type: 'release-now', deadline: 700 });
  assert.ok(s.has('abort'));
  assert.ok(!s.has('request-token'), 'waits for the acquire');
  s.want('held');
  assert.equal(s.state.goal, 'released', 'want() is ignored after release-now');
  s.now = 200;
  s.fail(new Error('aborted'));
  s.token();
  assert.deepEqual(s.started(), { type: 'start', id: 2, op: 'release', deadline: 700 }, 'deadline = the earlier of op timeout and shutdown');
  s.ok();
  assert.equal(s.state.shutdown?.result, true);
  assert.equal(nextDeadline(s.state, s.cfg), null, 'nothing else to do');
  s.at(50_000);
  assert.ok(!s.has('start') && !s.has('request-token'), 'no verify, no second release');
});

test('release-now: when the running call outlives the deadline, the result is false and no release starts later', () => {
  const s = new Sim(0);
  s.want('held');
  s.token();
  s.send({ type: 'release-now', deadline: 300 });
  s.at(300);
  assert.equal(s.state.shutdown?.result, false);
  s.now = 900;
  s.ok();
  assert.ok(!s.has('request-token') && !s.has('start'));
});

test('a failed shutdown release is not retried', () => {
  const s = new Sim(0);
  s.send({ type: 'release-now', deadline: 5_000 });
  s.token();
  s.fail();
  assert.equal(s.state.shutdown?.result, false);
  assert.ok(!s.has('request-token'));
  assert.equal(s.state.counters.releaseFail, 1);
});

test('close: aborts the running call, cancels a pending token, starts nothing afterwards', () => {
  const waiting = new Sim(0);
  waiting.want('held');
  waiting.send({ type: 'close' });
  assert.ok(waiting.has('cancel-token'));
  waiting.token();
  assert.ok(!waiting.has('start'));

  const running = new Sim(0);
  running.want('held');
  running.token();
  running.send({ type: 'close' });
  assert.ok(running.has('abort'));
  running.fail();
  running.want('released');
  assert.ok(!running.has('request-token') && !running.has('start'));
});

test('a settled event for an unknown id changes nothing', () => {
  const s = new Sim(0);
  s.want('held');
  s.token();
  const before = s.state;
  s.settle({ ok: true }, 99);
  assert.deepEqual(s.state, before);
});
