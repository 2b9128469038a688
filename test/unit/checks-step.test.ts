// The checks' pure core: keepalived's vrrp_script counting (rise/fall/initFail and the start-up
// state), timeouts counted as failures, no overlapping runs, keepalived's weight arithmetic and
// clamping (priority.ts); then the driver and a tracker on a virtual clock with scripted probes.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import { checkStep, initialCheckState, nextCheckDeadline, type CheckSpec, type CheckState, type RunOutcome, type CheckEffect } from '../../src/checks/step.js';
import { evaluateTracking, fileStatus, parseFileValue, clampPriority, type Tracked } from '../../src/checks/priority.js';
import { CheckScheduler } from '../../src/checks/driver.js';
import { InstanceTracker } from '../../src/checks/tracker.js';
import type { Probe } from '../../src/checks/probe.js';
import { ConfigSchema } from '../../src/config/schema.js';
import { VirtualClock } from '../support/virtual-clock.js';
import { renderChecksText } from '../../src/checks/status-text.js';

const log = pino({ level: 'silent' });
const spec = (over: Partial<CheckSpec> = {}): CheckSpec => ({ name: 'chk', intervalMs: 1000, timeoutMs: 1000, rise: 1, fall: 1, initFail: false, ...over });
const okOut: RunOutcome = { ok: true, detail: 'exit 0', durationMs: 1, exitCode: 0 };
const failOut: RunOutcome = { ok: false, detail: 'exit 1', durationMs: 1, exitCode: 1 };

/** Runs one check through `outcomes` (one run per interval, each result reported at once). */
function drive(sp: CheckSpec, outcomes: RunOutcome[]): { state: CheckState } {
  let s = initialCheckState(sp, 0);
  let now = 0;
  for (const o of outcomes) {
    const t = checkStep(s, { type: 'tick' }, now);
    const run = t.effects.find((e): e is Extract<CheckEffect, { type: 'run' }> => e.type === 'run');
    assert.ok(run, 'a run is due every interval');
    s = checkStep(t.state, { type: 'result', runId: run.runId, outcome: o }, now + 1).state;
    now += sp.intervalMs;
  }
  return { state: s };
}

/** The status after each outcome. */
function statuses(sp: CheckSpec, outcomes: boolean[]): string[] {
  let s = initialCheckState(sp, 0);
  const out: string[] = [];
  let now = 0;
  for (const ok of outcomes) {
    const t = checkStep(s, { type: 'tick' }, now);
    const run = t.effects.find((e) => e.type === 'run') as { runId: number };
    s = checkStep(t.state, { type: 'result', runId: run.runId, outcome: ok ? okOut : failOut }, now + 1).state;
    out.push(s.status);
    now += sp.intervalMs;
  }
  return out;
}

describe('vrrp_script counting (keepalived vrrp_script_child_thread)', () => {
  test('start-up: status init, the first run is due at once; one success is enough to be ok', () => {
    const s = initialCheckState(spec({ rise: 3, fall: 2 }), 500);
    assert.equal(s.status, 'init');
    assert.equal(nextCheckDeadline(s), 500);
    assert.deepEqual(statuses(spec({ rise: 3, fall: 2 }), [true]), ['ok']);
  });

  test('start-up: one failure is enough to be failed (whatever fall is)', () => {
    assert.deepEqual(statuses(spec({ rise: 2, fall: 3 }), [false]), ['failed']);
  });

  test('fall: failed only at the fall-th failure in a row; a success in between resets', () => {
    assert.deepEqual(statuses(spec({ fall: 3 }), [true, false, false, true, false, false, false]), ['ok', 'ok', 'ok', 'ok', 'ok', 'ok', 'failed']);
  });

  test('rise: ok again only at the rise-th success in a row; a failure in between resets', () => {
    assert.deepEqual(statuses(spec({ rise: 2 }), [false, true, false, true, true]), ['failed', 'failed', 'failed', 'failed', 'ok']);
  });

  test('initFail: starts failed, needs rise successes', () => {
    const sp = spec({ rise: 2, initFail: true });
    assert.equal(initialCheckState(sp, 0).status, 'failed');
    assert.deepEqual(statuses(sp, [true, true]), ['failed', 'ok']);
    assert.deepEqual(statuses(spec({ initFail: true, fall: 3 }), [false]), ['failed']);
  });

  test('the reason names the check, the failures in a row and the detail', () => {
    const { state } = drive(spec({ name: 'chk_nginx', fall: 3 }), [okOut, failOut, failOut, failOut]);
    assert.equal(state.status, 'failed');
    assert.equal(state.reason, 'chk_nginx failed 3 times: exit 1');
    assert.equal(state.last?.exitCode, 1);
  });

  test('runs are due every interval after the previous one was due', () => {
    let s = initialCheckState(spec({ intervalMs: 2000 }), 0);
    s = checkStep(s, { type: 'tick' }, 0).state;
    assert.equal(s.nextRunAt, 2000);
    s = checkStep(s, { type: 'result', runId: 1, outcome: okOut }, 30).state;
    assert.equal(nextCheckDeadline(s), 2000);
  });
});

describe('timeouts and overlapping runs', () => {
  test('a run past its timeout is cancelled and counts as a failure at once; its late result is ignored', () => {
    let s = initialCheckState(spec({ intervalMs: 5000, timeoutMs: 2000, name: 'slow' }), 0);
    const t0 = checkStep(s, { type: 'tick' }, 0);
    s = t0.state;
    assert.equal(nextCheckDeadline(s), 2000, 'the timeout is the next deadline');
    const t1 = checkStep(s, { type: 'tick' }, 2000);
    s = t1.state;
    assert.deepEqual(t1.effects.map((e) => e.type), ['cancel', 'changed']);
    assert.equal(s.status, 'failed');
    assert.match(s.reason, /slow failed once: timed out after 2 s/);
    assert.equal(s.counters.timedOut, 1);
    assert.ok(s.running, 'still busy until the killed run reports');
    const late = checkStep(s, { type: 'result', runId: 1, outcome: okOut }, 2100);
    assert.equal(late.state.status, 'failed', 'the late success does not count');
    assert.equal(late.state.running, null);
  });

  test('never two runs at once: a run due while one runs (or is being killed) is skipped', () => {
    let s = initialCheckState(spec({ intervalMs: 1000, timeoutMs: 1000 }), 0);
    s = checkStep(s, { type: 'tick' }, 0).state;
    // The timeout and the next run are due together: cancel, then skip (the killed run has not ended).
    const t = checkStep(s, { type: 'tick' }, 1000);
    assert.deepEqual(t.effects.map((e) => e.type), ['cancel', 'changed', 'skipped']);
    s = t.state;
    assert.equal(s.counters.skipped, 1);
    assert.equal(s.counters.runs, 1);
    s = checkStep(s, { type: 'result', runId: 1, outcome: failOut }, 1500).state;
    const next = checkStep(s, { type: 'tick' }, 2000);
    assert.deepEqual(next.effects.map((e) => e.type), ['run']);
    assert.equal((next.effects[0] as { runId: number }).runId, 2);
  });

  test('a stale result (another run id) changes nothing', () => {
    let s = checkStep(initialCheckState(spec(), 0), { type: 'tick' }, 0).state;
    const r = checkStep(s, { type: 'result', runId: 7, outcome: failOut }, 10);
    assert.equal(r.state, s);
    s = r.state;
    assert.equal(s.status, 'init');
  });

  test('valued (file) checks report a change of value, not pass/fail', () => {
    let s = initialCheckState(spec({ valued: true }), 0);
    s = checkStep(s, { type: 'tick' }, 0).state;
    const r = checkStep(s, { type: 'result', runId: 1, outcome: { ok: true, value: 5, detail: 'reads 5', durationMs: 0 } }, 1);
    assert.deepEqual(r.effects, [{ type: 'changed', status: 'ok', reason: 'chk reads 5', value: 5 }]);
    s = checkStep(r.state, { type: 'tick' }, 1000).state;
    const same = checkStep(s, { type: 'result', runId: 2, outcome: { ok: true, value: 5, detail: 'reads 5', durationMs: 0 } }, 1001);
    assert.deepEqual(same.effects, []);
  });
});

describe('priority arithmetic (keepalived vrrp_track.c / track_file.c)', () => {
  const chk = (weight: number, status: 'init' | 'ok' | 'failed'): Tracked => ({ kind: 'check', name: 'c', weight, status, reason: 'c failed 3 times: exit 1' });

  test('negative weight: subtracted while failing only; positive: added while succeeding only; init adds nothing', () => {
    assert.equal(evaluateTracking(100, [chk(-5, 'failed')]).effectivePriority, 95);
    assert.equal(evaluateTracking(100, [chk(-5, 'ok')]).effectivePriority, 100);
    assert.equal(evaluateTracking(100, [chk(20, 'ok')]).effectivePriority, 120);
    assert.equal(evaluateTracking(100, [chk(20, 'failed')]).effectivePriority, 100);
    assert.equal(evaluateTracking(100, [chk(-5, 'init'), chk(20, 'init')]).effectivePriority, 100);
  });

  test('clamped to 1..254; never lifted to 255; the owner (255) never moves', () => {
    assert.equal(evaluateTracking(200, [chk(100, 'ok')]).effectivePriority, 254);
    assert.equal(evaluateTracking(10, [chk(-100, 'failed')]).effectivePriority, 1);
    assert.equal(evaluateTracking(10, [chk(-100, 'failed')]).totalPriority, -90);
    assert.equal(evaluateTracking(255, [chk(-100, 'failed')]).effectivePriority, 255);
    assert.equal(clampPriority(255, 3), 255);
  });

  test('weight 0: FAULT while failed and while waiting for the first result, with the reason', () => {
    assert.deepEqual(evaluateTracking(100, [chk(0, 'failed')]).faults, { 'check:c': 'c failed 3 times: exit 1' });
    assert.deepEqual(Object.keys(evaluateTracking(100, [chk(0, 'init')]).faults), ['check:c']);
    assert.deepEqual(evaluateTracking(100, [chk(0, 'ok')]).faults, {});
    assert.deepEqual(Object.keys(evaluateTracking(255, [chk(0, 'failed')]).faults), ['check:c'], 'the owner goes to FAULT too');
  });

  test('interfaces: unweighted down → FAULT; weighted → the sign rules', () => {
    const ifc = (weight: number, up: boolean): Tracked => ({ kind: 'interface', name: 'eth1', weight, up, reason: 'tracked interface eth1 is down' });
    assert.deepEqual(evaluateTracking(100, [ifc(0, false)]).faults, { 'check:interface:eth1': 'tracked interface eth1 is down' });
    assert.equal(evaluateTracking(100, [ifc(-10, false)]).effectivePriority, 90);
    assert.equal(evaluateTracking(100, [ifc(-10, true)]).effectivePriority, 100);
    assert.equal(evaluateTracking(100, [ifc(10, true)]).effectivePriority, 110);
  });

  test('files: value × weight clamped to -254..253; -254 is FAULT; weight 0: non-zero is FAULT', () => {
    assert.equal(fileStatus(5, 2), 10);
    assert.equal(fileStatus(1000, 1), 253);
    assert.equal(fileStatus(-1000, 1), -254);
    assert.equal(fileStatus(3, 0), -254);
    assert.equal(fileStatus(0, 0), 0);
    const file = (value: number, weight: number): Tracked => ({ kind: 'file', name: '/run/ha/prio', weight, value, reason: 'r' });
    assert.equal(evaluateTracking(100, [file(-30, 1)]).effectivePriority, 70);
    assert.deepEqual(Object.keys(evaluateTracking(100, [file(-254, 1)]).faults), ['check:file:/run/ha/prio']);
    assert.deepEqual(Object.keys(evaluateTracking(100, [file(1, 0)]).faults), ['check:file:/run/ha/prio']);
  });

  test('file values are parsed as strtol(…, 0): decimal, hex, octal, junk = 0, out of int32 = ignored', () => {
    assert.equal(parseFileValue(' 42\n'), 42);
    assert.equal(parseFileValue('-7'), -7);
    assert.equal(parseFileValue('0x10'), 16);
    assert.equal(parseFileValue('010'), 8);
    assert.equal(parseFileValue('junk'), 0);
    assert.equal(parseFileValue(''), 0);
    assert.equal(parseFileValue('99999999999'), null);
  });
});

/** A probe whose runs the test settles by hand. */
class ManualProbe implements Probe {
  pending: { resolve: (o: RunOutcome) => void; signal: AbortSignal }[] = [];
  started = 0;
  maxConcurrent = 0;
  private live = 0;
  run(signal: AbortSignal): Promise<RunOutcome> {
    this.started++;
    this.live++;
    this.maxConcurrent = Math.max(this.maxConcurrent, this.live);
    return new Promise((resolve) => {
      this.pending.push({ signal, resolve: (o) => { this.live--; resolve(o); } });
    });
  }
  settle(o: RunOutcome): void {
    const p = this.pending.shift();
    assert.ok(p, 'a run is in flight');
    p.resolve(o);
  }
}

describe('driver and tracker on a virtual clock', () => {
  test('a hung probe is aborted at its timeout, no run overlaps it, and the check fails', async () => {
    const clock = new VirtualClock(0);
    const probe = new ManualProbe();
    const sched = new CheckScheduler([{ type: 'exec', spec: spec({ name: 'hung', intervalMs: 1000, timeoutMs: 1500, fall: 1 }), probe }], clock, log);
    const seen: string[] = [];
    sched.subscribe('hung', (c) => seen.push(`${c.status}: ${c.reason}`));
    sched.start();
    await clock.advance(1000); // a second run is due: the first still runs → skipped
    assert.equal(probe.started, 1);
    await clock.advance(500); // its timeout
    assert.equal(probe.pending[0]!.signal.aborted, true, 'the run was aborted');
    assert.deepEqual(seen, ['failed: hung failed once: timed out after 1.5 s']);
    await clock.advance(1000); // still not ended: the run at 2000 is skipped too
    assert.equal(probe.started, 1);
    probe.settle({ ok: false, detail: 'killed at its timeout', durationMs: 1600 });
    await clock.advance(1000);
    assert.equal(probe.started, 2);
    assert.equal(probe.maxConcurrent, 1);
    assert.equal(sched.status()['hung']!.counters.skipped, 2);
    sched.close();
  });

  test('tracker: weight -5 with fall 3 lowers the priority at the third failure, with the reason; recovery restores it', async () => {
    const clock = new VirtualClock(0);
    const probe = new ManualProbe();
    const config = ConfigSchema.parse({
      checks: { chk_nginx: { type: 'exec', command: ['/bin/true'], weight: -5, fall: 3, rise: 2 } },
      instances: { VI_1: { interface: 'eth0', vrid: 51, vips: ['198.51.100.100'], track: { checks: ['chk_nginx'] } } },
    });
    const sched = new CheckScheduler([{ type: 'exec', spec: spec({ name: 'chk_nginx', fall: 3, rise: 2 }), probe }], clock, log);
    const calls: string[] = [];
    const tracker = new InstanceTracker('VI_1', config.instances['VI_1']!, config.checks!, sched, { setPriority: (p) => calls.push(`prio ${p}`), setFault: (s, r) => calls.push(`fault ${s} ${r}`) }, log);
    assert.deepEqual(calls, ['prio 100'], 'the start-up priority is pushed before the first result');
    sched.start();
    const cycle = async (ok: boolean) => {
      probe.settle(ok ? okOut : failOut);
      await clock.advance(1000);
    };
    await cycle(true);
    await cycle(false);
    await cycle(false);
    assert.deepEqual(calls, ['prio 100']);
    await cycle(false);
    assert.deepEqual(calls, ['prio 100', 'prio 95']);
    assert.equal(tracker.status().lastChange?.reason, 'chk_nginx failed 3 times: exit 1');
    await cycle(true);
    assert.equal(calls.length, 2, 'rise 2: one success is not enough');
    await cycle(true);
    assert.deepEqual(calls, ['prio 100', 'prio 95', 'prio 100']);
    tracker.close();
    sched.close();
  });

  test('tracker: weight 0 holds FAULT until the first success, then FAULT after a failure, and a per-instance weight override', async () => {
    const clock = new VirtualClock(0);
    const db = new ManualProbe();
    const web = new ManualProbe();
    const config = ConfigSchema.parse({
      checks: { db: { type: 'tcp', address: '127.0.0.1:5432', weight: 0 }, web: { type: 'http', url: 'http://127.0.0.1/healthz', weight: -20 } },
      instances: { VI_1: { interface: 'eth0', vrid: 51, priority: 150, vips: ['198.51.100.100'], track: { checks: ['db', { check: 'web', weight: -30 }] } } },
    });
    const sched = new CheckScheduler([
      { type: 'tcp', spec: spec({ name: 'db' }), probe: db },
      { type: 'http', spec: spec({ name: 'web' }), probe: web },
    ], clock, log);
    const faults = new Map<string, string>();
    let prio = 0;
    const tracker = new InstanceTracker('VI_1', config.instances['VI_1']!, config.checks!, sched, { setPriority: (p) => (prio = p), setFault: (s, r) => (r === null ? faults.delete(s) : faults.set(s, r)) }, log);
    assert.deepEqual([...faults.keys()], ['check:db'], 'weight 0 waits in FAULT for its first result');
    sched.start();
    db.settle(okOut);
    web.settle(failOut);
    await clock.settle();
    assert.deepEqual([...faults.keys()], []);
    assert.equal(prio, 120, 'the per-instance weight -30 is used, not the check\'s -20');
    await clock.advance(1000);
    db.settle({ ok: false, detail: 'ECONNREFUSED', durationMs: 0 });
    await clock.settle();
    assert.deepEqual(Object.fromEntries(faults), { 'check:db': 'db failed once: ECONNREFUSED' });
    tracker.close();
    sched.close();
  });
});

describe('track.files and the status text', () => {
  test('a tracked file adds value × weight; -254 or below is FAULT; the status shows it', async () => {
    const clock = new VirtualClock(0);
    const probe = new ManualProbe();
    const config = ConfigSchema.parse({
      instances: { VI_1: { interface: 'eth0', vrid: 51, vips: ['198.51.100.100'], track: { files: [{ path: '/run/ha/prio', weight: 2 }] } } },
    });
    const sched = new CheckScheduler([{ type: 'file', spec: spec({ name: 'file:/run/ha/prio', valued: true }), probe }], clock, log);
    const faults = new Map<string, string>();
    let prio = 0;
    const tracker = new InstanceTracker('VI_1', config.instances['VI_1']!, {}, sched, { setPriority: (p) => (prio = p), setFault: (s, r) => (r === null ? faults.delete(s) : faults.set(s, r)) }, log);
    sched.start();
    probe.settle({ ok: true, value: -10, detail: 'reads -10', durationMs: 0 });
    await clock.settle();
    assert.equal(prio, 80);
    assert.deepEqual(tracker.status().files, { '/run/ha/prio': { value: -10, weight: 2, contribution: -20 } });
    await clock.advance(1000);
    probe.settle({ ok: true, value: -127, detail: 'reads -127', durationMs: 0 });
    await clock.settle();
    assert.deepEqual(Object.fromEntries(faults), { 'check:file:/run/ha/prio': 'tracked file /run/ha/prio reads -127 (× weight 2 = FAULT)' });
    await clock.advance(1000);
    probe.settle({ ok: true, value: 0, detail: 'reads 0', durationMs: 0 });
    await clock.settle();
    assert.deepEqual([...faults.keys()], []);
    assert.equal(prio, 100);
    tracker.close();
    sched.close();
  });

  test('ha-agent status lists the checks and why each instance\'s priority moved', () => {
    const text = renderChecksText({
      version: 'x',
      pid: 1,
      startedAt: 'now',
      uptimeSeconds: 1,
      checks: {
        chk_nginx: { type: 'exec', status: 'failed', reason: 'chk_nginx failed 3 times: exit 1', sinceSeconds: 2, running: false, last: { ok: false, detail: 'exit 1', exitCode: 1, durationMs: 3.2, timedOut: false, agoSeconds: 0.5 }, counters: { runs: 4, ok: 1, failed: 3, timedOut: 0, skipped: 0 }, failuresInRow: 3 },
      },
      instances: {
        VI_1: {
          priority: 100,
          tracking: { effectivePriority: 95, totalPriority: 95, lastChange: { at: 'now', from: 100, to: 95, reason: 'chk_nginx failed 3 times: exit 1' }, checks: { chk_nginx: { status: 'failed', weight: -5, contribution: -5, reason: '' } }, interfaces: { eth1: { up: true, weight: 0, contribution: 0 } }, files: {} },
        } as unknown as import('../../src/status/types.js').InstanceStatusJson,
      },
    });
    assert.deepEqual(text, [
      '',
      'CHECKS',
      '  chk_nginx  exec  failed  (chk_nginx failed 3 times: exit 1; last: exit 1 in 3.2 ms, 0.5 s ago)',
      '',
      'TRACKING',
      '  VI_1  priority 100/95  chk_nginx failed -5, eth1 up (weight 0); last change 100 → 95: chk_nginx failed 3 times: exit 1',
    ]);
  });
});
