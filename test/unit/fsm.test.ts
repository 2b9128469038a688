// Unit tests of the pure VRRP state machine (src/vrrp/fsm.ts) and its timer formulas
// (src/vrrp/timers.ts): one test per RFC 5798 §6.4 state-table row and per keepalived extension,
// with exact actions and deadlines on a virtual clock (numbers in ms).
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import {
  compareAddresses,
  initialState,
  nextDeadline,
  step,
  type FsmAction,
  type FsmConfig,
  type FsmEvent,
  type FsmSnapshot,
} from '../../src/vrrp/fsm.js';
import { masterDownIntervalMs, skewTimeMs } from '../../src/vrrp/timers.js';

const LOCAL = '198.51.100.10';
const PEER_HIGH = '198.51.100.20'; // numerically above LOCAL
const PEER_LOW = '198.51.100.9'; // numerically below LOCAL (but "9" > "1" as a string)

/** v2, priority 100, 1 s: Skew 156/256 s = 609.375 ms, Master_Down_Interval 3609.375 ms. */
const V2: FsmConfig = {
  version: 2,
  priority: 100,
  advertIntervalCs: 100,
  preempt: true,
  preemptDelayMs: 0,
  localAddress: LOCAL,
};
/** v3, priority 150, 0.1 s: Skew 106×100/256 = 41.40625 ms, Master_Down_Interval 341.40625 ms. */
const V3: FsmConfig = { ...V2, version: 3, priority: 150, advertIntervalCs: 10 };
const OWNER: FsmConfig = { ...V2, priority: 255 };

function rx(src: string, priority: number, advertIntervalCs = 100): FsmEvent {
  return { type: 'advert', src, priority, advertIntervalCs };
}

/** Feeds events in order (each with its time) and returns the final state and every action. */
function run(cfg: FsmConfig, s: FsmSnapshot, events: Array<[FsmEvent, number]>) {
  const actions: FsmAction[] = [];
  for (const [ev, now] of events) {
    const r = step(cfg, s, ev, now);
    s = r.state;
    actions.push(...r.actions);
  }
  return { state: s, actions };
}

function backupAt(cfg: FsmConfig, now: number): FsmSnapshot {
  return step(cfg, initialState(cfg, now), { type: 'startup' }, now).state;
}

/** Starts at 0 and lets the Master_Down_Timer expire: MASTER since masterDownAt. */
function masterAt(cfg: FsmConfig): FsmSnapshot {
  const b = backupAt(cfg, 0);
  const s = step(cfg, b, { type: 'tick' }, b.masterDownAt!).state;
  assert.equal(s.state, 'MASTER');
  return s;
}

function deepFreeze<T>(o: T): T {
  if (o && typeof o === 'object') {
    Object.freeze(o);
    for (const v of Object.values(o)) deepFreeze(v);
  }
  return o;
}

describe('timers (RFC 3768 §6.1, RFC 5798 §6.1, keepalived VRRP_MS_DOWN_TIMER)', () => {
  test('v2 priority 100, 1 s: skew 156/256 s, master down 3 s + 156/256 s', () => {
    assert.equal(skewTimeMs(2, 100, 100), 609.375);
    assert.equal(masterDownIntervalMs(2, 100, 100), 3609.375);
  });

  test('v2 skew does not depend on the interval', () => {
    assert.equal(skewTimeMs(2, 200, 300), 218.75);
    assert.equal(masterDownIntervalMs(2, 200, 300), 9218.75);
  });

  test('v3 priority 150, 10 cs: skew scales with the interval', () => {
    assert.equal(skewTimeMs(3, 150, 10), 41.40625);
    assert.equal(masterDownIntervalMs(3, 150, 10), 341.40625);
  });

  test('down_timer_adverts replaces the 3', () => {
    assert.equal(masterDownIntervalMs(3, 150, 10, 5), 541.40625);
    assert.equal(masterDownIntervalMs(2, 100, 100, 1), 1609.375);
  });
});

describe('Initialize (RFC 5798 §6.4.1)', () => {
  test('initialState is INIT with the configured priority and no timer', () => {
    const s = initialState(V2, 42);
    assert.deepEqual(s, {
      state: 'INIT',
      effectivePriority: 100,
      masterAdverIntervalCs: 100,
      masterAddress: null,
      masterPriority: null,
      masterDownAt: null,
      adverAt: null,
      preemptAt: null,
      faultReason: null,
      since: 42,
    });
    assert.equal(nextDeadline(s), null);
  });

  test('startup (not owner) → BACKUP, Master_Down_Timer = Master_Down_Interval, no advert', () => {
    const r = step(V2, initialState(V2, 0), { type: 'startup' }, 1000);
    assert.deepEqual(r.actions, [{ type: 'transition', from: 'INIT', to: 'BACKUP', reason: 'startup' }]);
    assert.equal(r.state.state, 'BACKUP');
    assert.equal(r.state.masterAdverIntervalCs, 100);
    assert.equal(r.state.masterDownAt, 1000 + 3609.375);
    assert.equal(nextDeadline(r.state), 4609.375);
    assert.equal(r.state.since, 1000);
  });

  test('startup v3 → BACKUP with master down 300 + 41.40625 ms', () => {
    const r = step(V3, initialState(V3, 0), { type: 'startup' }, 0);
    assert.equal(r.state.masterDownAt, 341.40625);
  });

  test('startup as address owner (255) → MASTER at once: transition, send-advert, hold-vips', () => {
    const r = step(OWNER, initialState(OWNER, 0), { type: 'startup' }, 500);
    assert.deepEqual(r.actions, [
      { type: 'transition', from: 'INIT', to: 'MASTER', reason: 'startup' },
      { type: 'send-advert', priority: 255 },
      { type: 'hold-vips' },
    ]);
    assert.equal(r.state.adverAt, 1500);
    assert.equal(r.state.masterAddress, LOCAL);
    assert.equal(r.state.masterPriority, 255);
    assert.equal(nextDeadline(r.state), 1500);
  });

  test('fault in INIT → FAULT at once, nothing sent (keepalived: interface down at start)', () => {
    const r = step(V2, initialState(V2, 0), { type: 'fault', reason: 'interface eth0 is down' }, 5);
    assert.deepEqual(r.actions, [{ type: 'transition', from: 'INIT', to: 'FAULT', reason: 'fault: interface eth0 is down' }]);
    assert.equal(r.state.state, 'FAULT');
    assert.equal(r.state.faultReason, 'interface eth0 is down');
    assert.equal(nextDeadline(r.state), null);
    const back = step(V2, r.state, { type: 'recover' }, 10);
    assert.equal(back.state.state, 'BACKUP', 'recover starts as at Startup');
  });

  test('events other than startup and fault are ignored in INIT', () => {
    const s = initialState(V2, 0);
    for (const ev of [
      rx(PEER_HIGH, 200),
      { type: 'tick' },
      { type: 'shutdown' },
      { type: 'recover' },
    ] as FsmEvent[]) {
      const r = step(V2, s, ev, 10_000);
      assert.deepEqual(r.actions, [], ev.type);
      assert.equal(r.state, s, ev.type);
    }
  });
});

describe('Backup (RFC 5798 §6.4.2)', () => {
  test('tick before Master_Down_Timer does nothing', () => {
    const b = backupAt(V2, 0);
    const r = step(V2, b, { type: 'tick' }, 3609.374);
    assert.deepEqual(r.actions, []);
    assert.equal(r.state, b);
  });

  test('Master_Down_Timer fires → MASTER: transition, send-advert, hold-vips; Adver_Timer armed', () => {
    const b = backupAt(V2, 0);
    const r = step(V2, b, { type: 'tick' }, 3609.375);
    assert.deepEqual(r.actions, [
      { type: 'transition', from: 'BACKUP', to: 'MASTER', reason: 'master-down-timer' },
      { type: 'send-advert', priority: 100 },
      { type: 'hold-vips' },
    ]);
    assert.equal(r.state.adverAt, 4609.375);
    assert.equal(r.state.masterDownAt, null);
    assert.equal(r.state.masterAddress, LOCAL);
    assert.equal(r.state.since, 3609.375);
  });

  test('late tick (10 s past the deadline) → MASTER once, next advert one interval from now', () => {
    const b = backupAt(V2, 0);
    const r = step(V2, b, { type: 'tick' }, 13_609.375);
    assert.equal(r.state.state, 'MASTER');
    assert.equal(r.actions.filter((a) => a.type === 'send-advert').length, 1);
    assert.equal(r.state.adverAt, 14_609.375);
  });

  test('on becoming MASTER the learned Master_Adver_Interval is reset to the local one (v3)', () => {
    const b = step(V3, backupAt(V3, 0), rx(PEER_HIGH, 200, 100), 100).state;
    assert.equal(b.masterAdverIntervalCs, 100);
    const m = step(V3, b, { type: 'tick' }, b.masterDownAt!).state;
    assert.equal(m.masterAdverIntervalCs, 10);
    assert.equal(m.adverAt, b.masterDownAt! + 100);
  });

  test('priority 0 advert → Master_Down_Timer = Skew_Time (v2: 609.375 ms)', () => {
    const b = backupAt(V2, 0);
    const r = step(V2, b, rx(PEER_HIGH, 0), 2000);
    assert.deepEqual(r.actions, []);
    assert.equal(r.state.masterDownAt, 2609.375);
    assert.equal(r.state.state, 'BACKUP');
  });

  test('priority 0 advert, then Skew_Time runs out → MASTER with reason master-sent-priority-0', () => {
    const b = step(V2, backupAt(V2, 0), rx(PEER_HIGH, 0), 2000).state;
    assert.equal(b.masterPriority, 0, 'the master said it is leaving');
    const r = step(V2, b, { type: 'tick' }, 2609.375);
    assert.deepEqual(r.actions[0], { type: 'transition', from: 'BACKUP', to: 'MASTER', reason: 'master-sent-priority-0' });
  });

  test('a priority 0 advert followed by a normal one: the reason is the timer again', () => {
    let b = step(V2, backupAt(V2, 0), rx(PEER_HIGH, 0), 2000).state;
    b = step(V2, b, rx(PEER_HIGH, 200), 2100).state; // the master came back before Skew_Time ran out
    assert.equal(b.masterDownAt, 2100 + 3609.375);
    const r = step(V2, b, { type: 'tick' }, b.masterDownAt!);
    assert.deepEqual(r.actions[0], { type: 'transition', from: 'BACKUP', to: 'MASTER', reason: 'master-down-timer' });
  });

  test('priority 0 advert in v3 uses the learned Master_Adver_Interval for the skew', () => {
    let b = step(V3, backupAt(V3, 0), rx(PEER_HIGH, 200, 100), 100).state;
    b = step(V3, b, rx(PEER_HIGH, 0, 100), 1000).state;
    assert.equal(b.masterDownAt, 1000 + 414.0625); // (256-150)×1000/256
  });

  test('higher-priority advert → reset Master_Down_Timer, record the master', () => {
    const b = backupAt(V2, 0);
    const r = step(V2, b, rx(PEER_HIGH, 200), 3000);
    assert.deepEqual(r.actions, []);
    assert.equal(r.state.masterDownAt, 3000 + 3609.375);
    assert.equal(r.state.masterAddress, PEER_HIGH);
    assert.equal(r.state.masterPriority, 200);
  });

  test('v3: accepted advert sets Master_Adver_Interval from the packet and recomputes the timer', () => {
    const b = backupAt(V3, 0);
    const r = step(V3, b, rx(PEER_HIGH, 200, 100), 200);
    assert.equal(r.state.masterAdverIntervalCs, 100);
    assert.equal(r.state.masterDownAt, 200 + 3000 + 414.0625);
  });

  test('v2: the advert interval is never learned (receive path guarantees it equals ours)', () => {
    const r = step(V2, backupAt(V2, 0), rx(PEER_HIGH, 200, 300), 0);
    assert.equal(r.state.masterAdverIntervalCs, 100);
    assert.equal(r.state.masterDownAt, 3609.375);
  });

  test('equal priority from a higher or lower address: master alive (no tie-break in Backup)', () => {
    for (const src of [PEER_HIGH, PEER_LOW]) {
      const r = step(V2, backupAt(V2, 0), rx(src, 100), 1000);
      assert.equal(r.state.masterDownAt, 4609.375, src);
      assert.equal(r.state.masterAddress, src);
    }
  });

  test('preempt and lower priority → discard: the timer keeps running, then we take over', () => {
    const b = backupAt(V2, 0);
    const r = step(V2, b, rx(PEER_LOW, 50), 1000);
    assert.deepEqual(r.actions, []);
    assert.equal(r.state.masterDownAt, 3609.375);
    assert.equal(r.state.masterAddress, PEER_LOW); // keepalived records it anyway
    const t = step(V2, r.state, { type: 'tick' }, 3609.375);
    assert.equal(t.state.state, 'MASTER');
  });

  test('nopreempt: a lower-priority advert still resets the timer', () => {
    const cfg = { ...V2, preempt: false };
    const r = step(cfg, backupAt(cfg, 0), rx(PEER_LOW, 50), 1000);
    assert.equal(r.state.masterDownAt, 4609.375);
    assert.equal(r.state.masterPriority, 50);
  });

  test('preempt_delay: lower adverts are accepted until preempt_time, then discarded', () => {
    const cfg = { ...V2, priority: 200, preemptDelayMs: 2500 }; // MDI 3218.75
    let s = backupAt(cfg, 0);
    // The first lower advert starts the preempt clock and is accepted.
    s = step(cfg, s, rx(PEER_LOW, 100), 1000).state;
    assert.equal(s.preemptAt, 3500);
    assert.equal(s.masterDownAt, 1000 + 3218.75);
    // Later ones before preempt_time are accepted too; the clock does not restart.
    s = step(cfg, s, rx(PEER_LOW, 100), 2000).state;
    s = step(cfg, s, rx(PEER_LOW, 100), 3000).state;
    assert.equal(s.preemptAt, 3500);
    assert.equal(s.masterDownAt, 3000 + 3218.75);
    // From preempt_time on (keepalived: preempt_time > now is false) they are discarded.
    s = step(cfg, s, rx(PEER_LOW, 100), 3500).state;
    s = step(cfg, s, rx(PEER_LOW, 100), 4500).state;
    assert.equal(s.masterDownAt, 6218.75);
    assert.equal(step(cfg, s, { type: 'tick' }, 6218.74).state.state, 'BACKUP');
    const m = step(cfg, s, { type: 'tick' }, 6218.75);
    assert.equal(m.state.state, 'MASTER');
    assert.equal(m.state.preemptAt, null);
  });

  test('preempt_delay: an advert with priority ≥ ours stops the preempt clock', () => {
    const cfg = { ...V2, priority: 200, preemptDelayMs: 2500 };
    let s = step(cfg, backupAt(cfg, 0), rx(PEER_LOW, 100), 1000).state;
    assert.equal(s.preemptAt, 3500);
    s = step(cfg, s, rx(PEER_HIGH, 200), 1500).state;
    assert.equal(s.preemptAt, null);
    // The next lower advert starts a fresh delay.
    s = step(cfg, s, rx(PEER_LOW, 100), 4000).state;
    assert.equal(s.preemptAt, 6500);
  });

  test('preempt_delay has no effect with nopreempt: lower adverts are always accepted', () => {
    const cfg = { ...V2, priority: 200, preempt: false, preemptDelayMs: 1000 };
    let s = backupAt(cfg, 0);
    for (let t = 1000; t <= 10_000; t += 1000) s = step(cfg, s, rx(PEER_LOW, 100), t).state;
    assert.equal(s.masterDownAt, 10_000 + 3218.75);
  });

  test('shutdown → INIT, nothing sent, timers cleared', () => {
    const b = step(V2, backupAt(V2, 0), rx(PEER_HIGH, 200), 100).state;
    const r = step(V2, b, { type: 'shutdown' }, 2000);
    assert.deepEqual(r.actions, [{ type: 'transition', from: 'BACKUP', to: 'INIT', reason: 'shutdown' }]);
    assert.equal(r.state.state, 'INIT');
    assert.equal(r.state.masterDownAt, null);
    assert.equal(r.state.masterAddress, null);
    assert.equal(nextDeadline(r.state), null);
  });

  test('fault → FAULT with the reason, nothing sent, no timer', () => {
    const r = step(V2, backupAt(V2, 0), { type: 'fault', reason: 'eth0 down' }, 2000);
    assert.deepEqual(r.actions, [{ type: 'transition', from: 'BACKUP', to: 'FAULT', reason: 'fault: eth0 down' }]);
    assert.equal(r.state.faultReason, 'eth0 down');
    assert.equal(nextDeadline(r.state), null);
  });

  test('setPriority moves the running Master_Down_Timer by the change in Skew_Time', () => {
    const b = backupAt(V2, 0); // due at 3609.375 with priority 100
    const r = step(V2, b, { type: 'setPriority', priority: 200 }, 1000);
    assert.deepEqual(r.actions, []);
    assert.equal(r.state.effectivePriority, 200);
    assert.equal(r.state.masterDownAt, 3218.75); // 3000 + 56/256 s
    // The next accepted advert uses the new priority.
    const a = step(V2, r.state, rx(PEER_HIGH, 220), 2000);
    assert.equal(a.state.masterDownAt, 2000 + 3218.75);
  });

  test('setPriority clamps to 1..254 for non-owners and never moves an owner', () => {
    assert.equal(step(V2, backupAt(V2, 0), { type: 'setPriority', priority: 255 }, 0).state.effectivePriority, 254);
    assert.equal(step(V2, backupAt(V2, 0), { type: 'setPriority', priority: 0 }, 0).state.effectivePriority, 1);
    const o = step(OWNER, initialState(OWNER, 0), { type: 'setPriority', priority: 100 }, 0);
    assert.equal(o.state.effectivePriority, 255);
  });

  test('setPriority is remembered in INIT and FAULT (no actions) and used at startup', () => {
    const s = step(V2, initialState(V2, 0), { type: 'setPriority', priority: 200 }, 0);
    assert.deepEqual(s.actions, []);
    assert.equal(s.state.state, 'INIT');
    const b = step(V2, s.state, { type: 'startup' }, 0).state;
    assert.equal(b.masterDownAt, 3218.75);
  });
});

describe('Master (RFC 5798 §6.4.3)', () => {
  test('tick before Adver_Timer does nothing', () => {
    const m = masterAt(V2); // adverAt 4609.375
    const r = step(V2, m, { type: 'tick' }, 4609);
    assert.deepEqual(r.actions, []);
    assert.equal(r.state, m);
  });

  test('Adver_Timer fires → send-advert with the effective priority, next one an interval later', () => {
    const m = masterAt(V2);
    const r = step(V2, m, { type: 'tick' }, 4609.375);
    assert.deepEqual(r.actions, [{ type: 'send-advert', priority: 100 }]);
    assert.equal(r.state.adverAt, 5609.375);
    assert.equal(r.state.state, 'MASTER');
  });

  test('slightly late tick keeps the cadence', () => {
    const m = masterAt(V2);
    const r = step(V2, m, { type: 'tick' }, 4909.375);
    assert.equal(r.state.adverAt, 5609.375);
  });

  test('very late tick (past several deadlines) → one advert, schedule from now, no burst', () => {
    const m = masterAt(V2);
    const r = step(V2, m, { type: 'tick' }, 8109.375);
    assert.deepEqual(r.actions, [{ type: 'send-advert', priority: 100 }]);
    assert.equal(r.state.adverAt, 9109.375);
  });

  test('priority 0 advert → send an advert at once and reset Adver_Timer', () => {
    const m = masterAt(V2);
    const r = step(V2, m, rx(PEER_HIGH, 0), 4000);
    assert.deepEqual(r.actions, [{ type: 'send-advert', priority: 100 }]);
    assert.equal(r.state.adverAt, 5000);
    assert.equal(r.state.state, 'MASTER');
  });

  test('higher priority → release-vips, BACKUP, Master_Down_Timer = Master_Down_Interval', () => {
    const m = masterAt(V2);
    const r = step(V2, m, rx(PEER_LOW, 101), 4000);
    assert.deepEqual(r.actions, [
      { type: 'release-vips' },
      { type: 'transition', from: 'MASTER', to: 'BACKUP', reason: 'higher-priority-advert' },
    ]);
    assert.equal(r.state.masterDownAt, 4000 + 3609.375);
    assert.equal(r.state.adverAt, null);
    assert.equal(r.state.masterAddress, PEER_LOW);
    assert.equal(r.state.masterPriority, 101);
    assert.equal(nextDeadline(r.state), 7609.375);
  });

  test('v3: yielding adopts the new master\'s interval', () => {
    const m = masterAt(V3);
    const r = step(V3, m, rx(PEER_HIGH, 200, 100), 1000);
    assert.equal(r.state.masterAdverIntervalCs, 100);
    assert.equal(r.state.masterDownAt, 1000 + 3000 + 414.0625);
  });

  test('equal priority from a higher address (compared as unsigned numbers) → BACKUP', () => {
    const m = masterAt(V2);
    const r = step(V2, m, rx(PEER_HIGH, 100), 4000);
    assert.deepEqual(r.actions, [
      { type: 'release-vips' },
      { type: 'transition', from: 'MASTER', to: 'BACKUP', reason: 'equal-priority-higher-address' },
    ]);
  });

  test('lower priority → keepalived: advert at once + announce, stay MASTER, Adver_Timer reset', () => {
    const m = masterAt(V2);
    const r = step(V2, m, rx(PEER_HIGH, 99), 4000);
    assert.deepEqual(r.actions, [
      { type: 'send-advert', priority: 100 },
      { type: 'announce', reason: 'lower-priority' },
    ]);
    assert.equal(r.state.state, 'MASTER');
    assert.equal(r.state.adverAt, 5000);
  });

  test('equal priority from a lower address ("198.51.100.9" < "198.51.100.10") counts as lower', () => {
    const m = masterAt(V2);
    const r = step(V2, m, rx(PEER_LOW, 100), 4000);
    assert.deepEqual(r.actions, [
      { type: 'send-advert', priority: 100 },
      { type: 'announce', reason: 'lower-priority' },
    ]);
    assert.equal(r.state.state, 'MASTER');
  });

  test('lower_prio_no_advert: no advert, Adver_Timer untouched; the GARP announce still happens', () => {
    const cfg = { ...V2, lowerPrioNoAdvert: true };
    const m = masterAt(cfg);
    const r = step(cfg, m, rx(PEER_HIGH, 99), 4000);
    assert.deepEqual(r.actions, [{ type: 'announce', reason: 'lower-priority' }]);
    assert.equal(r.state.adverAt, m.adverAt);
  });

  test('higher_prio_send_advert: one advert of ours before yielding', () => {
    const cfg = { ...V2, higherPrioSendAdvert: true };
    const r = step(cfg, masterAt(cfg), rx(PEER_HIGH, 150), 4000);
    assert.deepEqual(r.actions, [
      { type: 'send-advert', priority: 100 },
      { type: 'release-vips' },
      { type: 'transition', from: 'MASTER', to: 'BACKUP', reason: 'higher-priority-advert' },
    ]);
  });

  test('two address owners: keepalived drops our effective priority to 254 and yields', () => {
    for (const src of [PEER_HIGH, PEER_LOW]) {
      const m = step(OWNER, initialState(OWNER, 0), { type: 'startup' }, 0).state;
      const r = step(OWNER, m, rx(src, 255), 300);
      assert.equal(r.state.effectivePriority, 254, src);
      assert.equal(r.state.state, 'BACKUP', src);
      assert.deepEqual(r.actions, [
        { type: 'release-vips' },
        { type: 'transition', from: 'MASTER', to: 'BACKUP', reason: 'higher-priority-advert' },
      ]);
      assert.equal(r.state.masterDownAt, 300 + 3000 + 7.8125); // skew (256-254)/256 s
      // Tracking cannot lift it back (keepalived also lowers base_priority).
      const again = step(OWNER, r.state, { type: 'setPriority', priority: 255 }, 400).state;
      assert.equal(again.effectivePriority, 254);
    }
  });

  test('an owner demoted to 254 still preempts even with preempt off', () => {
    const cfg = { ...OWNER, preempt: false };
    const m = step(cfg, initialState(cfg, 0), { type: 'startup' }, 0).state;
    const b = step(cfg, m, rx(PEER_HIGH, 255), 100).state;
    const r = step(cfg, b, rx(PEER_LOW, 200), 1000);
    assert.equal(r.state.masterDownAt, b.masterDownAt); // discarded
  });

  test('equal priority from our own address (looped back) is ignored', () => {
    const m = masterAt(V2);
    const r = step(V2, m, rx(LOCAL, 100), 4000);
    assert.deepEqual(r.actions, []);
    assert.equal(r.state.adverAt, m.adverAt);
  });

  test('shutdown → send-advert priority 0, release-vips, INIT; timers cleared', () => {
    const r = step(V2, masterAt(V2), { type: 'shutdown' }, 5000);
    assert.deepEqual(r.actions, [
      { type: 'send-advert', priority: 0 },
      { type: 'release-vips' },
      { type: 'transition', from: 'MASTER', to: 'INIT', reason: 'shutdown' },
    ]);
    assert.equal(r.state.adverAt, null);
    assert.equal(r.state.masterAddress, null);
    assert.equal(nextDeadline(r.state), null);
  });

  test('fault → send-advert priority 0, release-vips, FAULT', () => {
    const r = step(V2, masterAt(V2), { type: 'fault', reason: 'VIP add failed' }, 5000);
    assert.deepEqual(r.actions, [
      { type: 'send-advert', priority: 0 },
      { type: 'release-vips' },
      { type: 'transition', from: 'MASTER', to: 'FAULT', reason: 'fault: VIP add failed' },
    ]);
    assert.equal(r.state.faultReason, 'VIP add failed');
    assert.equal(nextDeadline(r.state), null);
  });

  test('setPriority: the next adverts carry the new priority; nothing is sent at once', () => {
    const m = masterAt(V2);
    const p = step(V2, m, { type: 'setPriority', priority: 80 }, 4000);
    assert.deepEqual(p.actions, []);
    assert.equal(p.state.adverAt, m.adverAt);
    const t = step(V2, p.state, { type: 'tick' }, m.adverAt!);
    assert.deepEqual(t.actions, [{ type: 'send-advert', priority: 80 }]);
    // ...and elections use it: 90 is now higher.
    assert.equal(step(V2, t.state, rx(PEER_LOW, 90), 5000).state.state, 'BACKUP');
  });
});

describe('Fault (keepalived)', () => {
  const faulted = () => step(V2, masterAt(V2), { type: 'fault', reason: 'link' }, 5000).state;

  test('adverts and ticks are ignored in FAULT', () => {
    const f = faulted();
    for (const ev of [rx(PEER_HIGH, 0), rx(PEER_LOW, 50), rx(PEER_HIGH, 200), { type: 'tick' }] as FsmEvent[]) {
      const r = step(V2, f, ev, 9000);
      assert.deepEqual(r.actions, []);
      assert.equal(r.state, f);
    }
  });

  test('another fault only updates the reason', () => {
    const r = step(V2, faulted(), { type: 'fault', reason: 'other' }, 6000);
    assert.deepEqual(r.actions, []);
    assert.equal(r.state.faultReason, 'other');
  });

  test('recover behaves like startup: BACKUP with a fresh Master_Down_Timer', () => {
    const r = step(V2, faulted(), { type: 'recover' }, 8000);
    assert.deepEqual(r.actions, [{ type: 'transition', from: 'FAULT', to: 'BACKUP', reason: 'recover' }]);
    assert.equal(r.state.masterDownAt, 8000 + 3609.375);
    assert.equal(r.state.faultReason, null);
  });

  test('recover as owner → MASTER at once', () => {
    const m = step(OWNER, initialState(OWNER, 0), { type: 'startup' }, 0).state;
    const f = step(OWNER, m, { type: 'fault', reason: 'link' }, 100).state;
    const r = step(OWNER, f, { type: 'recover' }, 200);
    assert.deepEqual(r.actions, [
      { type: 'transition', from: 'FAULT', to: 'MASTER', reason: 'recover' },
      { type: 'send-advert', priority: 255 },
      { type: 'hold-vips' },
    ]);
    assert.equal(r.state.adverAt, 1200);
  });

  test('shutdown from FAULT → INIT without sending', () => {
    const r = step(V2, faulted(), { type: 'shutdown' }, 6000);
    assert.deepEqual(r.actions, [{ type: 'transition', from: 'FAULT', to: 'INIT', reason: 'shutdown' }]);
  });

  test('recover outside FAULT, startup outside INIT: ignored', () => {
    const b = backupAt(V2, 0);
    assert.deepEqual(step(V2, b, { type: 'recover' }, 10).actions, []);
    assert.deepEqual(step(V2, b, { type: 'startup' }, 10).actions, []);
    const m = masterAt(V2);
    assert.deepEqual(step(V2, m, { type: 'startup' }, 4000).actions, []);
  });
});

describe('purity and helpers', () => {
  test('step never mutates its input and snapshots survive a JSON round trip', () => {
    const events: Array<[FsmEvent, number]> = [
      [{ type: 'startup' }, 0],
      [rx(PEER_LOW, 50), 100],
      [{ type: 'setPriority', priority: 120 }, 200],
      [{ type: 'tick' }, 5000],
      [rx(PEER_HIGH, 99), 5100],
      [{ type: 'tick' }, 9000],
      [rx(PEER_HIGH, 0), 9100],
      [{ type: 'fault', reason: 'x' }, 9200],
      [{ type: 'recover' }, 9300],
      [{ type: 'shutdown' }, 9400],
    ];
    let s = deepFreeze(initialState(V2, 0));
    for (const [ev, now] of events) {
      const r = step(V2, s, ev, now); // a frozen input would throw on mutation in strict mode
      assert.deepEqual(JSON.parse(JSON.stringify(r.state)), r.state);
      s = deepFreeze(r.state);
    }
    assert.equal(s.state, 'INIT');
  });

  test('run() helper sanity: a full v2 election sequence yields the expected actions', () => {
    const { state, actions } = run(V2, initialState(V2, 0), [
      [{ type: 'startup' }, 0],
      [{ type: 'tick' }, 3609.375],
      [{ type: 'tick' }, 4609.375],
      [rx(PEER_HIGH, 200), 4700],
    ]);
    assert.equal(state.state, 'BACKUP');
    assert.deepEqual(
      actions.map((a) => a.type),
      ['transition', 'transition', 'send-advert', 'hold-vips', 'send-advert', 'release-vips', 'transition'],
    );
  });

  test('compareAddresses compares unsigned big-endian numbers, IPv4 and IPv6', () => {
    assert.equal(compareAddresses('198.51.100.10', '198.51.100.9'), 1);
    assert.equal(compareAddresses('198.51.100.9', '198.51.100.10'), -1);
    assert.equal(compareAddresses('255.255.0.1', '127.0.0.1'), 1); // unsigned, not signed 32-bit
    assert.equal(compareAddresses('198.51.100.1', '198.51.100.1'), 0);
    assert.equal(compareAddresses('fe80::2', 'fe80::10'), -1);
    assert.equal(compareAddresses('fe80::1%eth0', 'fe80:0:0:0:0:0:0:1'), 0);
    assert.equal(compareAddresses('2001:db8::ffff', '2001:db8::1:0'), -1);
    assert.equal(compareAddresses('::ffff:198.51.100.1', '::ffff:c633:6401'), 0);
    assert.throws(() => compareAddresses('198.51.100', '198.51.100.1'));
    assert.throws(() => compareAddresses('fe80::1::2', 'fe80::1'));
  });
});

describe('advertGrid: masters advertise on a grid of their interval', () => {
  const GRID: FsmConfig = { ...V3, advertGrid: true }; // 100 ms interval

  test('becoming master: advert now, the next one 0.5–1.5 intervals later on a multiple of the interval, then every interval', () => {
    for (const now of [1_000, 1_049.9, 1_050, 1_051, 1_099.99, 1_234.5]) {
      const b = step(GRID, initialState(GRID, 0), { type: 'startup' }, 0).state;
      const m = step(GRID, b, { type: 'tick' }, Math.max(now, b.masterDownAt!));
      const t = Math.max(now, b.masterDownAt!);
      assert.equal(m.state.state, 'MASTER');
      assert.deepEqual(m.actions.map((a) => a.type), ['transition', 'send-advert', 'hold-vips']);
      const at = m.state.adverAt!;
      assert.equal(at % 100, 0, `on the grid (became master at ${t})`);
      assert.ok(at - t > 50 && at - t <= 150, `${at - t} ms after becoming master at ${t}`);
      const next = step(GRID, m.state, { type: 'tick' }, at);
      assert.equal(next.state.adverAt, at + 100, 'then exactly every interval');
    }
  });

  test('two instances that became master at different times advertise at the same instants', () => {
    let a = step(GRID, { ...initialState(GRID, 0), state: 'BACKUP', masterDownAt: 341.4 }, { type: 'tick' }, 341.4).state;
    const b = step(GRID, { ...initialState(GRID, 0), state: 'BACKUP', masterDownAt: 377.9 }, { type: 'tick' }, 377.9).state;
    assert.equal(a.adverAt, 400);
    assert.equal(b.adverAt, 500);
    a = step(GRID, a, { type: 'tick' }, 400).state;
    assert.equal(a.adverAt, b.adverAt, 'from the second grid point on, the same instants');
  });

  test('answering a lower priority or a priority 0 puts the Adver_Timer back on the grid; a driver late by an interval too', () => {
    const m = step(GRID, { ...initialState(GRID, 0), state: 'BACKUP', masterDownAt: 400 }, { type: 'tick' }, 400).state;
    const zero = step(GRID, m, { type: 'advert', src: '198.51.100.200', priority: 0, advertIntervalCs: 10 }, 512);
    assert.equal(zero.state.adverAt, 600);
    const late = step(GRID, m, { type: 'tick' }, 777);
    assert.equal(late.state.adverAt, 900);
  });

  test('advertGridPhaseMs shifts the grid: phase + k × interval', () => {
    const PHASED: FsmConfig = { ...GRID, advertGridPhaseMs: 1_234_567.25 }; // ≡ 67.25 ms on a 100 ms grid
    for (const now of [341.4, 400, 417.24, 417.26, 999.9]) {
      const m = step(PHASED, { ...initialState(PHASED, 0), state: 'BACKUP', masterDownAt: now }, { type: 'tick' }, now).state;
      const at = m.adverAt!;
      assert.ok(Math.abs((((at - 67.25) % 100) + 100) % 100) < 1e-6, `on the shifted grid: ${at}`);
      assert.ok(at - now >= 50 && at - now < 150, `${at - now} ms after becoming master at ${now}`);
    }
  });

  test('without advertGrid the Adver_Timer is now + interval (RFC 5798 §6.4.3 literally)', () => {
    const m = step(V3, { ...initialState(V3, 0), state: 'BACKUP', masterDownAt: 341.4 }, { type: 'tick' }, 341.4).state;
    assert.equal(m.adverAt, 441.4);
  });
});
