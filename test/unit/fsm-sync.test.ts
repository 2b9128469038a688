// The VRRP state machine's sync-group events (src/vrrp/fsm.ts; keepalived vrrp_sync.c): a held BACKUP
// does not take over by its timer but waits wanting MASTER (vrrp_sync_can_goto_master); syncBackup
// leaves MASTER without a priority-0 advert (vrrp_sync_backup → leave_master with wantstate BACKUP);
// syncMaster takes over at once from BACKUP (vrrp_sync_master → goto_master).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { initialState, step, type FsmConfig } from '../../src/vrrp/fsm.js';
import { masterDownIntervalMs } from '../../src/vrrp/timers.js';

const CFG: FsmConfig = { version: 2, priority: 100, advertIntervalCs: 100, preempt: true, preemptDelayMs: 0, localAddress: '198.51.100.10' };
const DOWN = masterDownIntervalMs(2, 100, 100, 3);

const backup = () => step(CFG, initialState(CFG, 0), { type: 'startup' }, 0).state;

describe('FSM sync-group events', () => {
  it('held: the Master_Down_Timer re-arms, wanting MASTER (said once); released: the next expiry takes over', () => {
    let s = step(CFG, backup(), { type: 'syncHold', hold: true }, 0).state;
    assert.equal(s.syncHold, true);
    let r = step(CFG, s, { type: 'tick' }, DOWN);
    assert.equal(r.state.state, 'BACKUP');
    assert.equal(r.state.wantsMaster, true);
    assert.equal(r.state.masterDownAt, DOWN + DOWN);
    assert.deepEqual(r.actions, [{ type: 'want-master' }]);
    r = step(CFG, r.state, { type: 'tick' }, 2 * DOWN);
    assert.deepEqual(r.actions, [], 'wanting already: not said again');
    s = step(CFG, r.state, { type: 'syncHold', hold: false }, 2 * DOWN).state;
    assert.equal(s.wantsMaster, false);
    r = step(CFG, s, { type: 'tick' }, 3 * DOWN);
    assert.equal(r.state.state, 'MASTER');
  });

  it('a live master heard while held: no longer wanting', () => {
    let s = step(CFG, backup(), { type: 'syncHold', hold: true }, 0).state;
    s = step(CFG, s, { type: 'tick' }, DOWN).state;
    assert.equal(s.wantsMaster, true);
    s = step(CFG, s, { type: 'advert', src: '198.51.100.20', priority: 200, advertIntervalCs: 100 }, DOWN + 10).state;
    assert.equal(s.wantsMaster, false);
  });

  it('syncMaster: BACKUP → MASTER at once (advert, then the VIPs)', () => {
    const r = step(CFG, backup(), { type: 'syncMaster', reason: 'sync group VG_1: VI_2 is MASTER' }, 5);
    assert.equal(r.state.state, 'MASTER');
    assert.deepEqual(r.actions, [
      { type: 'transition', from: 'BACKUP', to: 'MASTER', reason: 'sync group VG_1: VI_2 is MASTER' },
      { type: 'send-advert', priority: 100 },
      { type: 'hold-vips' },
    ]);
  });

  it('syncBackup: MASTER → BACKUP without a priority-0 advert, with a full Master_Down_Timer', () => {
    const m = step(CFG, backup(), { type: 'tick' }, DOWN).state;
    assert.equal(m.state, 'MASTER');
    const r = step(CFG, m, { type: 'syncBackup', reason: 'sync group VG_1: VI_2 is BACKUP' }, 5000);
    assert.equal(r.state.state, 'BACKUP');
    assert.equal(r.state.masterDownAt, 5000 + DOWN);
    assert.deepEqual(r.actions, [{ type: 'release-vips' }, { type: 'transition', from: 'MASTER', to: 'BACKUP', reason: 'sync group VG_1: VI_2 is BACKUP' }]);
  });

  it('the pulls do nothing in other states', () => {
    const f = step(CFG, initialState(CFG, 0), { type: 'fault', reason: 'x' }, 0).state;
    assert.deepEqual(step(CFG, f, { type: 'syncMaster', reason: 'r' }, 1).actions, []);
    assert.deepEqual(step(CFG, backup(), { type: 'syncBackup', reason: 'r' }, 1).actions, []);
  });
});
