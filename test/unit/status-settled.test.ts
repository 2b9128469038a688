// electionSettled() (src/status/settled.ts) and GET /readyz, which serves it: settled once every
// instance is MASTER, BACKUP that has heard its master (here: one is known), or FAULT with a reason;
// INIT (or a FAULT nobody can explain) is not.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import { electionSettled } from '../../src/status/settled.js';
import { startStatusServer } from '../../src/status/server.js';
import type { InstanceStatusJson, StatusJson, VrrpState } from '../../src/status/types.js';

function inst(state: VrrpState, faultReason: string | null = null, faults: Record<string, string> = {}): InstanceStatusJson {
  // Only what electionSettled reads matters; the rest is a plausible instance.
  return { state, faultReason, faults, priority: 100, effectivePriority: 100, master: state === 'BACKUP' ? '198.51.100.2' : null, vips: ['198.51.100.100/24'], interface: 'eth0', vrid: 51, version: 3, mode: 'multicast', advertIntervalCs: 100, masterPriority: null, since: null, counters: { advertsSent: 0, advertSendErrors: 0, advertsReceived: 0, transitions: 0, becameMaster: 0, dropped: {} }, provider: {} as InstanceStatusJson['provider'] };
}

function status(instances: Record<string, InstanceStatusJson>): StatusJson {
  return { version: '0.1.0', pid: 1, startedAt: '2025-01-01T00:00:00.000Z', uptimeSeconds: 1, instances };
}

test('electionSettled: BACKUP and MASTER are settled; the summary lists every instance in order', () => {
  assert.deepEqual(electionSettled(status({ VI_1: inst('MASTER'), VI_2: inst('BACKUP') })), { settled: true, summary: 'VI_1 MASTER, VI_2 BACKUP' });
});

test('electionSettled: one instance still in INIT is not settled', () => {
  assert.deepEqual(electionSettled(status({ VI_1: inst('MASTER'), VI_2: inst('INIT') })), { settled: false, summary: 'VI_1 MASTER, VI_2 INIT' });
});

test('electionSettled: FAULT with a reason is settled and says why; the reason may come from the fault sources', () => {
  assert.deepEqual(electionSettled(status({ VI_1: inst('FAULT', 'interface eth1 down') })), { settled: true, summary: 'VI_1 FAULT (interface eth1 down)' });
  assert.deepEqual(electionSettled(status({ VI_1: inst('FAULT', null, { link: 'eth1 down' }) })), { settled: true, summary: 'VI_1 FAULT (link: eth1 down)' });
});

test('electionSettled: FAULT without any reason is not settled', () => {
  assert.deepEqual(electionSettled(status({ VI_1: inst('FAULT', ' ', {}) })), { settled: false, summary: 'VI_1 FAULT' });
});

test('electionSettled: no instances is settled (nothing to elect)', () => {
  assert.deepEqual(electionSettled(status({})), { settled: true, summary: 'no instances' });
});

test('GET /readyz: 503 with the summary until settled, then 200', async () => {
  let current = status({ VI_1: inst('INIT'), VI_2: inst('BACKUP') });
  const server = await startStatusServer({ listen: '127.0.0.1:0', getStatus: () => current, log: pino({ level: 'silent' }) });
  try {
    let res = await fetch(`http://${server.address}/readyz`);
    assert.equal(res.status, 503);
    assert.equal(await res.text(), 'not ready: VI_1 INIT, VI_2 BACKUP\n');
    current = status({ VI_1: inst('MASTER'), VI_2: inst('BACKUP') });
    res = await fetch(`http://${server.address}/readyz`);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'text/plain; charset=utf-8');
    assert.equal(await res.text(), 'ready: VI_1 MASTER, VI_2 BACKUP\n');
    res = await fetch(`http://${server.address}/readyz`, { method: 'POST' });
    assert.equal(res.status, 405);
  } finally {
    await server.close();
  }
});
