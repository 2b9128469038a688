// Config for notify hooks, virtual routes, sync groups and the notify FIFO: a full valid example
// parses to what the contract says; bad values name the path and a fix (did-you-mean for instance
// names in sync groups; one group per instance; absolute argv[0]; routes' host bits).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { stringify } from 'yaml';
import { parseConfig } from '../../src/config/load.js';
import { formatIssue, type ConfigIssue } from '../../src/config/errors.js';

type Obj = Record<string, unknown>;
const inst = (vrid: number, extra: Obj = {}) => ({ interface: 'eth0', vrid, vips: [`198.51.100.${vrid}/24`], ...extra });

function parse(top: Obj) {
  return parseConfig(stringify(top));
}

function errorsOf(top: Obj): ConfigIssue[] {
  const r = parse(top);
  assert.equal(r.ok, false, 'expected errors');
  return r.ok ? [] : r.errors;
}

function errorAt(top: Obj, path: string): ConfigIssue {
  const all = errorsOf(top);
  const hits = all.filter((e) => e.path === path);
  assert.equal(hits.length, 1, `expected one error at ${path}, got:\n${all.map(formatIssue).join('\n')}`);
  return hits[0]!;
}

describe('notify, routes, syncGroups, notifyFifo', () => {
  it('the contract example parses, with defaults filled in', () => {
    const r = parse({
      notifyFifo: '/run/ha-agent/notify.fifo',
      syncGroups: { VG_1: { instances: ['VI_1', 'VI_2'], notify: { master: ['/etc/ha-agent/g.sh'] } } },
      instances: {
        VI_1: inst(1, {
          notify: { master: ['/etc/ha-agent/to-master.sh', 'VI_1'], backup: ['/b'], fault: ['/f'], stop: ['/s'], any: ['/etc/ha-agent/notify.sh'] },
          routes: [{ to: '203.0.113.0/24', via: '198.51.100.254' }],
        }),
        VI_2: inst(2),
      },
    });
    assert.ok(r.ok, r.ok ? '' : r.errors.map(formatIssue).join('\n'));
    const c = r.config;
    assert.equal(c.notifyFifo, '/run/ha-agent/notify.fifo');
    assert.deepEqual(c.instances['VI_1']!.notify?.master, ['/etc/ha-agent/to-master.sh', 'VI_1']);
    assert.equal(c.instances['VI_1']!.notify?.timeout, 30);
    assert.deepEqual(c.instances['VI_1']!.routes, [{ to: '203.0.113.0/24', via: '198.51.100.254' }]);
    assert.deepEqual(c.syncGroups?.['VG_1']?.instances, ['VI_1', 'VI_2']);
    assert.equal(c.syncGroups?.['VG_1']?.notify?.timeout, 30);
  });

  it('a notify command must start with an absolute path', () => {
    const e = errorAt({ instances: { VI_1: inst(1, { notify: { master: ['to-master.sh'] } }) } }, 'instances.VI_1.notify.master[0]');
    assert.match(e.message, /not an absolute path/);
    assert.match(e.fix, /argv array/);
  });

  it('a shell string is refused with a fix to split it', () => {
    const e = errorAt({ instances: { VI_1: inst(1, { notify: { backup: ['/etc/ha-agent/b.sh VI_1'] } }) } }, 'instances.VI_1.notify.backup[0]');
    assert.match(e.message, /not through a shell/);
  });

  it('an unknown notify key gets a did-you-mean', () => {
    const e = errorAt({ instances: { VI_1: inst(1, { notify: { mastre: ['/m'] } }) } }, 'instances.VI_1.notify.mastre');
    assert.match(e.fix, /master/);
  });

  it('a route destination with host bits set names the network to write', () => {
    const e = errorAt({ instances: { VI_1: inst(1, { routes: [{ to: '203.0.113.5/24' }] }) } }, 'instances.VI_1.routes[0].to');
    assert.match(e.fix, /203\.0\.113\.0\/24/);
  });

  it('a route gateway that is not an address', () => {
    const e = errorAt({ instances: { VI_1: inst(1, { routes: [{ to: '203.0.113.0/24', via: 'gw' }] }) } }, 'instances.VI_1.routes[0].via');
    assert.match(e.fix, /198\.51\.100\.254/);
  });

  it('a sync group naming a missing instance: did you mean', () => {
    const e = errorAt({ syncGroups: { VG_1: { instances: ['VI_1', 'VI_3'] } }, instances: { VI_1: inst(1), VI_2: inst(2) } }, 'syncGroups.VG_1.instances[1]');
    assert.match(e.message, /no instance named "VI_3"/);
    assert.match(e.fix, /did you mean VI_1\?|did you mean VI_2\?/);
  });

  it('an etcd-elected instance in a sync group: refused, with the fix', () => {
    const etcd = { interface: 'eth0', vips: ['198.51.100.9/24'], election: { type: 'etcd', endpoints: ['http://198.51.100.5:2379'] } };
    const e = errorAt({ syncGroups: { VG_1: { instances: ['VI_1', 'VI_E'] } }, instances: { VI_1: inst(1), VI_E: etcd } }, 'syncGroups.VG_1.instances[1]');
    assert.match(e.message, /VI_E is elected through etcd; a sync group coordinates VRRP instances only/);
    assert.match(e.fix, /take VI_E out of the group/);
  });

  it('an instance in two groups', () => {
    const e = errorAt(
      { syncGroups: { VG_1: { instances: ['VI_1', 'VI_2'] }, VG_2: { instances: ['VI_2'] } }, instances: { VI_1: inst(1), VI_2: inst(2) } },
      'syncGroups.VG_2.instances[0]',
    );
    assert.match(e.message, /already in sync group VG_1/);
    assert.match(e.fix, /at most one sync group/);
  });

  it('notifyFifo must be an absolute path', () => {
    const all = errorsOf({ notifyFifo: 'notify.fifo', instances: { VI_1: inst(1) } });
    assert.ok(all.some((e) => e.path === 'notifyFifo'), all.map(formatIssue).join('\n'));
  });

  it("keepalived's keywords point at our keys", () => {
    const e1 = errorAt({ instances: { VI_1: inst(1, { notify_master: '/m.sh' }) } }, 'instances.VI_1.notify_master');
    assert.match(e1.fix, /did you mean "notify\.master"/);
    const e2 = errorAt({ instances: { VI_1: inst(1, { virtual_routes: [] }) } }, 'instances.VI_1.virtual_routes');
    assert.match(e2.fix, /did you mean "routes"/);
    const e3 = errorAt({ vrrp_sync_group: {}, instances: { VI_1: inst(1) } }, 'vrrp_sync_group');
    assert.match(e3.fix, /did you mean "syncGroups"/);
    const e4 = errorAt({ syncGroups: { VG_1: { group: ['VI_1'] } }, instances: { VI_1: inst(1) } }, 'syncGroups.VG_1.group');
    assert.match(e4.fix, /did you mean "instances"/);
  });
});
