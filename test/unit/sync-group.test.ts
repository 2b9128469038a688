// Sync groups, pure rules (src/sync/rules.ts): one member's own FAULT pulls the others, the pull is
// lifted when no member has an own fault, and the group's state from its members' (keepalived's
// vrrp_sync.c: FAULT wins, MASTER only when all are MASTER, else BACKUP).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { groupState, syncFaults } from '../../src/sync/rules.js';

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
