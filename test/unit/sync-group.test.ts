// Sync groups, pure rules (src/sync/rules.ts): one member's own FAULT pulls the others, the pull is
// lifted when no member has an own fault, and the group's state from its members' (keepalived's
// vrrp_sync.c: FAULT wins, MASTER only when all are MASTER, else BACKUP).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { groupState, syncFaults, syncHolds, syncPulls } from '../../src/sync/rules.js';

describe('syncFaults', () => {
  it('an own fault pulls every other member, not itself', () => {
    const got = syncFaults('VG_1', [
      { name: 'VI_1', state: 'FAULT', ownFault: 'interface eth1 is down' },
      { name: 'VI_2', state: 'MASTER', ownFault: null },
      { name: 'VI_3', state: 'BACKUP', ownFault: null },
    ]);
    assert.equal(got.get('VI_1'), null);
    assert.equal(got.get('VI_2'), 'sync group VG_1: VI_1 is in FAULT (interface eth1 is down)');
    assert.equal(got.get('VI_3'), 'sync group VG_1: VI_1 is in FAULT (interface eth1 is down)');
  });

  it('a member pulled into FAULT (no own fault) does not pull the others back: recovery lifts every pull', () => {
    const got = syncFaults('VG_1', [
      { name: 'VI_1', state: 'BACKUP', ownFault: null },
      { name: 'VI_2', state: 'FAULT', ownFault: null },
    ]);
    assert.deepEqual([...got.values()], [null, null]);
  });

  it('two members with own faults: each is pulled by the other', () => {
    const got = syncFaults('G', [
      { name: 'A', state: 'FAULT', ownFault: 'a' },
      { name: 'B', state: 'FAULT', ownFault: 'b' },
    ]);
    assert.equal(got.get('A'), 'sync group G: B is in FAULT (b)');
    assert.equal(got.get('B'), 'sync group G: A is in FAULT (a)');
  });
});

describe('syncPulls and syncHolds', () => {
  const view = (name: string, state: 'INIT' | 'BACKUP' | 'MASTER' | 'FAULT') => ({ name, state, ownFault: null });
  it('a member that became MASTER pulls those in BACKUP; one that left MASTER for BACKUP pulls those in MASTER', () => {
    assert.deepEqual(syncPulls({ name: 'A', from: 'BACKUP', to: 'MASTER' }, [view('A', 'MASTER'), view('B', 'BACKUP'), view('C', 'FAULT')]), [{ name: 'B', to: 'MASTER' }]);
    assert.deepEqual(syncPulls({ name: 'A', from: 'MASTER', to: 'BACKUP' }, [view('A', 'BACKUP'), view('B', 'MASTER')]), [{ name: 'B', to: 'BACKUP' }]);
    assert.deepEqual(syncPulls({ name: 'A', from: 'FAULT', to: 'BACKUP' }, [view('A', 'BACKUP'), view('B', 'MASTER')]), [], 'recovering from FAULT pulls nobody');
    assert.deepEqual(syncPulls({ name: 'A', from: 'BACKUP', to: 'MASTER' }, [view('A', 'BACKUP'), view('B', 'BACKUP')]), [], 'a stale move (A moved on) pulls nobody');
  });
  it('held while another member is neither MASTER nor wanting it', () => {
    const h = syncHolds([
      { ...view('A', 'BACKUP'), wantsMaster: true },
      { ...view('B', 'BACKUP'), wantsMaster: false },
    ]);
    assert.equal(h.get('A'), true, 'B is not ready');
    assert.equal(h.get('B'), false, 'A wants MASTER: B may go, and then pulls A');
    assert.deepEqual([...syncHolds([{ ...view('A', 'MASTER'), wantsMaster: false }, { ...view('B', 'MASTER'), wantsMaster: false }]).values()], [false, false]);
  });
});

describe('groupState', () => {
  it('FAULT wins, MASTER needs all, BACKUP otherwise, null while starting', () => {
    assert.equal(groupState(['MASTER', 'FAULT']), 'FAULT');
    assert.equal(groupState(['MASTER', 'MASTER']), 'MASTER');
    assert.equal(groupState(['MASTER', 'BACKUP']), 'BACKUP');
    assert.equal(groupState(['INIT', 'BACKUP']), 'BACKUP');
    assert.equal(groupState(['INIT', 'MASTER']), null);
    assert.equal(groupState([]), null);
  });
});

// ---------------------------------------------------------------------------------------------
// SyncGroup (src/sync/group.ts) with stand-in members: the pull as fault source sync:VG_1 and the
// group's notify, evaluated once per burst (after a microtask).
import { pino } from 'pino';
import { SyncGroup } from '../../src/sync/group.js';
import { Notifier } from '../../src/notify/notifier.js';
import type { Instance } from '../../src/instance.js';
import type { Spawner } from '../../src/notify/runner.js';
import { VirtualClock } from '../support/virtual-clock.js';

/** Just what SyncGroup reads and calls: name, state, status().faults, setFault(). FAULT while any source is set. */
class FakeMember {
  readonly faults = new Map<string, string>();
  base: 'BACKUP' | 'MASTER' = 'MASTER';
  readonly election = {};
  constructor(readonly name: string) {}
  get state() {
    return this.faults.size > 0 ? 'FAULT' : this.base;
  }
  status() {
    return { faults: Object.fromEntries(this.faults) };
  }
  setFault(source: string, reason: string | null) {
    if (reason === null) this.faults.delete(source);
    else this.faults.set(source, reason);
  }
}

describe('SyncGroup', () => {
  it('pulls the other member into FAULT, lifts it when the fault clears, and notifies the group state', async () => {
    const a = new FakeMember('VI_1');
    const b = new FakeMember('VI_2');
    const members = new Map([
      ['VI_1', a],
      ['VI_2', b],
    ]);
    const spawned: string[][] = [];
    const spawner: Spawner = (job, cb) => {
      spawned.push(job.argv);
      setImmediate(() => cb.exit(0, null, ''));
      return { kill() {} };
    };
    const clock = new VirtualClock();
    const notifier = new Notifier('GROUP', 'VG_1', { any: ['/n.sh'], timeout: 30 }, { clock, log: pino({ level: 'silent' }), fifo: null, spawner, env: {} });
    const g = new SyncGroup('VG_1', ['VI_1', 'VI_2'], (n) => members.get(n) as unknown as Instance, notifier, pino({ level: 'silent' }));
    const settle = () => new Promise<void>((r) => setImmediate(r));

    g.changed();
    await settle();
    assert.equal(g.status().state, 'MASTER');

    b.setFault('link', 'interface eth1 is down');
    g.changed();
    g.changed(); // coalesced
    await settle();
    assert.equal(a.faults.get('sync:VG_1'), 'sync group VG_1: VI_2 is in FAULT (interface eth1 is down)');
    assert.equal(b.faults.has('sync:VG_1'), false, 'the member at fault is not pulled by itself');
    assert.equal(g.status().state, 'FAULT');

    b.setFault('link', null);
    g.changed();
    await settle();
    assert.equal(a.faults.size, 0, 'the pull is lifted');
    assert.equal(g.status().state, 'MASTER');
    await settle();
    assert.deepEqual(spawned, [
      ['/n.sh', 'GROUP', 'VG_1', 'MASTER', '0'],
      ['/n.sh', 'GROUP', 'VG_1', 'FAULT', '0'],
      ['/n.sh', 'GROUP', 'VG_1', 'MASTER', '0'],
    ]);
  });
});
