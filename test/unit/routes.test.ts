// Virtual routes: RTM_NEWROUTE / RTM_DELROUTE bytes (what `ip route add|del` sends, little-endian
// vectors), and the keeper (src/routes/virtual-routes.ts) on a virtual clock with fake route ops:
// added on hold, re-checked, restored after a removal by hand, retried after a failure, removed on release.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { endianness } from 'node:os';
import { pino } from 'pino';
import { routeRequest, RTM_NEWROUTE, RTM_DELROUTE } from '../../src/net/netlink/message.js';
import { RECHECK_MS, RETRY_MS, VirtualRoutes, type RouteOps } from '../../src/routes/virtual-routes.js';
import { routeText } from '../../src/net/route.js';
import type { RouteConfig } from '../../src/config/hooks-schema.js';
import { VirtualClock } from '../support/virtual-clock.js';

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const le = endianness() === 'LE';

describe('route request encoding', { skip: !le && 'little-endian vectors' }, () => {
  it('add 203.0.113.0/24 via 198.51.100.254 dev #2 (main table)', () => {
    const got = routeRequest(7, 'add', { dst: '203.0.113.0', dstLen: 24, gateway: '198.51.100.254', index: 2 });
    const want = hex(`
      3c000000 1800 0506 07000000 00000000
      02 18 00 00 fe 03 00 01 00000000
      0800 0f00 fe000000
      0800 0100 cb007100
      0800 0500 c63364fe
      0800 0400 02000000`);
    assert.equal(got.toString('hex'), want.toString('hex'));
    assert.equal(got.readUInt16LE(4), RTM_NEWROUTE);
  });

  it('add without a gateway is a scope-link route; metric and a table above 255', () => {
    const got = routeRequest(1, 'add', { dst: '203.0.113.128', dstLen: 25, index: 3, metric: 10, table: 1000 });
    const want = hex(`
      3c000000 1800 0506 01000000 00000000
      02 19 00 00 00 03 fd 01 00000000
      0800 0f00 e8030000
      0800 0100 cb007180
      0800 0400 03000000
      0800 0600 0a000000`);
    assert.equal(got.toString('hex'), want.toString('hex'));
  });

  it('del: no create flags, scope nowhere, protocol and type unspecified', () => {
    const got = routeRequest(9, 'del', { dst: '203.0.113.0', dstLen: 24, gateway: '198.51.100.254', index: 2 });
    assert.equal(got.readUInt16LE(4), RTM_DELROUTE);
    assert.equal(got.readUInt16LE(6), 0x5); // REQUEST | ACK
    assert.deepEqual([...got.subarray(16, 24)], [2, 24, 0, 0, 254, 0, 255, 0]);
  });

  it('rejects a bad prefix or interface index', () => {
    assert.throws(() => routeRequest(1, 'add', { dst: '203.0.113.0', dstLen: 33, index: 2 }), RangeError);
    assert.throws(() => routeRequest(1, 'add', { dst: '203.0.113.0', dstLen: 24, index: 0 }), RangeError);
  });
});

describe('routeText', () => {
  it('reads as `ip route` shows it', () => {
    assert.equal(routeText({ to: '203.0.113.0/24', via: '198.51.100.254' }, 'eth0'), '203.0.113.0/24 via 198.51.100.254 dev eth0');
    assert.equal(routeText({ to: '203.0.113.0/24', metric: 5, table: 100 }, 'eth1'), '203.0.113.0/24 dev eth1 metric 5 table 100');
  });
});

/** Fake kernel: a set of route texts; `fail` makes adds throw. */
function fakeOps() {
  const table = new Set<string>();
  const state = { fail: null as string | null, adds: 0 };
  const ops: RouteOps = {
    add(r, dev) {
      state.adds++;
      if (state.fail) throw new Error(state.fail);
      const t = routeText(r, dev);
      if (table.has(t)) return 'present';
      table.add(t);
      return 'added';
    },
    remove(r, dev) {
      return table.delete(routeText(r, dev)) ? 'removed' : 'absent';
    },
  };
  return { table, state, ops };
}

const routes: RouteConfig[] = [{ to: '203.0.113.0/24', via: '198.51.100.254' }, { to: '203.0.113.128/25', dev: 'eth1' }];

describe('VirtualRoutes keeper', () => {
  it('hold adds, release removes; the default dev is the instance interface', () => {
    const { table, ops } = fakeOps();
    const v = new VirtualRoutes(routes, 'eth0', new VirtualClock(), pino({ level: 'silent' }), ops);
    v.hold();
    assert.deepEqual([...table].sort(), ['203.0.113.0/24 via 198.51.100.254 dev eth0', '203.0.113.128/25 dev eth1']);
    assert.equal(v.status().held, true);
    v.release();
    assert.deepEqual([...table], []);
    assert.deepEqual(v.status().routes.map((r) => r.present), [false, false]);
  });

  it('a route removed by hand while held is restored at the next check', async () => {
    const clock = new VirtualClock();
    const { table, ops } = fakeOps();
    const v = new VirtualRoutes(routes, 'eth0', clock, pino({ level: 'silent' }), ops);
    v.hold();
    table.delete('203.0.113.0/24 via 198.51.100.254 dev eth0');
    await clock.advance(RECHECK_MS);
    assert.ok(table.has('203.0.113.0/24 via 198.51.100.254 dev eth0'));
    assert.equal(v.status().restored, 1);
    v.release();
    assert.equal(clock.pending, 0, 'no check after release');
  });

  it('a failing add is retried sooner and reported, then clears', async () => {
    const clock = new VirtualClock();
    const { table, state, ops } = fakeOps();
    const v = new VirtualRoutes(routes.slice(0, 1), 'eth0', clock, pino({ level: 'silent' }), ops);
    state.fail = 'cannot add route: Network is unreachable';
    v.hold();
    assert.equal(v.status().lastError, 'cannot add route: Network is unreachable');
    state.fail = null;
    await clock.advance(RETRY_MS);
    assert.equal(table.size, 1);
    assert.equal(v.status().lastError, null);
    assert.equal(v.status().errors, 1);
    v.close();
  });
});
