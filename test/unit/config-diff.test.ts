// The pure config diff behind a hitless reload (src/config/diff.ts) and the Reloader's decisions
// (src/reload/reloader.ts) against a recording target: which instances are left alone, changed in
// place, restarted, replaced, removed and added; global keys reported, not applied; a broken file
// changes nothing; an instance that fails is counted and the rest still applied.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { stringify } from 'yaml';
import pino from 'pino';
import { parseConfig, type ParseResult } from '../../src/config/load.js';
import type { Config, InstanceConfig } from '../../src/config/schema.js';
import { classifyInstance, deepEqual, diffConfig, effectiveConfig, instanceFamily } from '../../src/config/diff.js';
import { Reloader, type ReloadResult, type ReloadTarget } from '../../src/reload/reloader.js';
import type { ConfigStatusJson } from '../../src/status/types.js';

type Obj = Record<string, unknown>;

function cfg(instances: Record<string, Obj>, top: Obj = {}): Config {
  const r = parseConfig(stringify({ ...top, instances }));
  assert.ok(r.ok, r.ok ? '' : JSON.stringify(r.errors));
  return r.config;
}

/** An instance; its VIP follows its VRID (one VIP per instance) unless given. */
const inst = (extra: Obj = {}): Obj => ({ interface: 'eth0', vrid: 51, priority: 100, vips: [`198.51.100.${Number(extra['vrid'] ?? 51) % 100 + 100}/24`], ...extra });
const one = (extra: Obj = {}): InstanceConfig => cfg({ A: inst(extra) }).instances['A']!;

test('diff: an identical file (keys in another order) changes nothing', () => {
  const a = cfg({ A: inst(), B: inst({ vrid: 52 }) });
  const b = cfg({ B: { vips: ['198.51.100.152/24'], vrid: 52, interface: 'eth0', priority: 100 }, A: inst() });
  const d = diffConfig(a, b);
  assert.deepEqual(d, { added: [], removed: [], unchanged: ['B', 'A'], changed: [], global: [] });
});

test('diff: priority and VIP-list changes are in place; to or from 255 is a restart', () => {
  assert.deepEqual(classifyInstance(one(), one({ priority: 150 })), { kind: 'in-place', keys: ['priority'] });
  assert.deepEqual(classifyInstance(one(), one({ vips: ['198.51.100.151/24', '198.51.100.101/24'] })), { kind: 'in-place', keys: ['vips'] });
  assert.deepEqual(classifyInstance(one(), one({ priority: 150, vips: ['198.51.100.101/24'] })), { kind: 'in-place', keys: ['priority', 'vips'] });
  assert.deepEqual(classifyInstance(one(), one({ priority: 255 })), { kind: 'restart', keys: ['priority'] });
  assert.deepEqual(classifyInstance(one({ priority: 255 }), one({ priority: 200 })), { kind: 'restart', keys: ['priority'] });
});

test('diff: identity (vrid, interface, family) is a replace, whatever else changed', () => {
  assert.deepEqual(classifyInstance(one(), one({ vrid: 61, vips: ['198.51.100.151/24'] })), { kind: 'replace', keys: ['vrid'] });
  assert.deepEqual(classifyInstance(one(), one({ interface: 'eth1', priority: 120 })), { kind: 'replace', keys: ['interface', 'priority'] });
  const v4 = one();
  const v6 = { ...v4, vips: ['2001:db8::10/64'] } as InstanceConfig;
  assert.equal(instanceFamily(v6), 6);
  assert.deepEqual(classifyInstance(v4, v6), { kind: 'replace', keys: ['family', 'vips'] });
});

test('diff: other keys restart the instance (timers, checks, notify, provider, unknown keys)', () => {
  for (const extra of [{ advertInterval: 2 }, { preempt: false }, { preemptDelay: 5 }, { version: 3 }, { garp: { repeat: 3 } }, { notify: { master: ['/bin/true'] } }, { auth: { type: 'pass', password: 'secret' } }]) {
    const c = classifyInstance(one(), one(extra));
    assert.equal(c?.kind, 'restart', JSON.stringify(extra));
    assert.deepEqual(c?.keys, Object.keys(extra));
  }
  const withFuture = { ...one(), election: { type: 'etcd' } } as unknown as InstanceConfig;
  assert.deepEqual(classifyInstance(one(), withFuture), { kind: 'restart', keys: ['election'] });
  // a priority change together with a restart key: the stronger kind wins
  assert.deepEqual(classifyInstance(one(), one({ priority: 150, preempt: false })), { kind: 'restart', keys: ['preempt', 'priority'] });
});

test('diff: added, removed, changed and global keys; the effective config keeps the old globals', () => {
  const a = cfg({ A: inst(), B: inst({ vrid: 52 }), C: inst({ vrid: 53 }) }, { log: { level: 'info' } });
  const b = cfg({ A: inst(), B: inst({ vrid: 52, priority: 90 }), D: inst({ vrid: 54 }) }, { log: { level: 'debug' }, status: { listen: '127.0.0.1:9999' } });
  const d = diffConfig(a, b);
  assert.deepEqual(d.added, ['D']);
  assert.deepEqual(d.removed, ['C']);
  assert.deepEqual(d.unchanged, ['A']);
  assert.deepEqual(d.changed, [{ name: 'B', kind: 'in-place', keys: ['priority'] }]);
  assert.deepEqual(d.global.map((g) => g.key), ['log', 'status']);
  assert.ok(d.global.every((g) => /restart/.test(g.note)), 'every global change says a restart applies it');
  const e = effectiveConfig(a, b);
  assert.equal(e.log.level, 'info');
  assert.equal(e.status.listen, a.status.listen);
  assert.deepEqual(Object.keys(e.instances), ['A', 'B', 'D']);
  assert.deepEqual(diffConfig(e, b).global.map((g) => g.key), ['log', 'status'], 'a later reload names them again');
});

test('diff: advertThread is a global key, applied at the next restart (the threads keep their scheduling)', () => {
  const a = cfg({ A: inst() });
  const b = cfg({ A: inst() }, { advertThread: { realtimePriority: 0 } });
  const d = diffConfig(a, b);
  assert.deepEqual(d.unchanged, ['A']);
  assert.deepEqual(d.global, [{ key: 'advertThread', note: 'advertThread.realtimePriority changed: the advert threads keep their scheduling until the agent restarts' }]);
  assert.equal(effectiveConfig(a, b).advertThread.realtimePriority, 1);
});

test('deepEqual: key order ignored, array order kept, undefined keys ignored', () => {
  assert.ok(deepEqual({ a: 1, b: [1, { c: 2 }] }, { b: [1, { c: 2 }], a: 1 }));
  assert.ok(!deepEqual([1, 2], [2, 1]));
  assert.ok(deepEqual({ a: 1, b: undefined }, { a: 1 }));
  assert.ok(!deepEqual({ a: 1 }, { a: '1' }));
});

// ---------------------------------------------------------------------------------------------
// The Reloader against a recording target

class Recorder implements ReloadTarget {
  readonly configStatus: ConfigStatusJson = { generation: 1, loadedAt: 'x', reloads: { applied: 0, rejected: 0, failedInstances: 0 }, lastReload: null };
  readonly calls: string[] = [];
  readonly names: Set<string>;
  failOn = new Set<string>();
  constructor(initial: Config) {
    this.names = new Set(Object.keys(initial.instances));
  }
  instanceNames(): string[] {
    return [...this.names];
  }
  private async op(op: string, name: string, runs: boolean): Promise<void> {
    this.calls.push(`${op} ${name}`);
    if (this.failOn.has(name)) {
      this.names.delete(name);
      throw new Error(`cannot ${op}`);
    }
    if (runs) this.names.add(name);
    else this.names.delete(name);
  }
  add = (n: string) => this.op('add', n, true);
  remove = (n: string) => this.op('remove', n, false);
  replace = (n: string) => this.op('replace', n, true);
  restart = (n: string) => this.op('restart', n, true);
  reconfigure = (n: string) => this.op('reconfigure', n, true);
}

const silent = pino({ level: 'silent' });

function reloaderWith(initial: Config, files: ParseResult[], hooks?: { begin(): void; end(r: ReloadResult): void }) {
  const target = new Recorder(initial);
  const reloader = new Reloader(target, initial, { file: '/x.yaml', log: silent, load: async () => files.shift()!, ...(hooks ? { hooks } : {}) });
  return { target, reloader };
}

test('reloader: applies removed, replaced, restarted, in-place, added in that order; unchanged untouched; generation +1', async () => {
  const a = cfg({ U: inst(), R: inst({ vrid: 52 }), P: inst({ vrid: 53 }), S: inst({ vrid: 54 }), X: inst({ vrid: 55 }) });
  const b = cfg({ U: inst(), P: inst({ vrid: 53, priority: 150 }), S: inst({ vrid: 54, preempt: false }), X: inst({ vrid: 65 }), N: inst({ vrid: 56 }) });
  const seen: string[] = [];
  const { target, reloader } = reloaderWith(a, [{ ok: true, config: b, warnings: [] }], { begin: () => seen.push('begin'), end: (r) => seen.push(`end ${r.outcome} ${r.generation}`) });
  const r = await reloader.request();
  assert.deepEqual(target.calls, ['remove R', 'replace X', 'restart S', 'reconfigure P', 'add N']);
  assert.equal(r.outcome, 'applied');
  assert.deepEqual(r.unchanged, ['U']);
  assert.equal(target.configStatus.generation, 2);
  assert.equal(target.configStatus.reloads.applied, 1);
  assert.equal(target.configStatus.lastReload?.outcome, 'applied');
  assert.deepEqual(seen, ['begin', 'end applied 2']);
  assert.deepEqual(reloader.config.instances, b.instances);
});

test('reloader: a broken file changes nothing, every error kept; the generation stays', async () => {
  const a = cfg({ U: inst() });
  const bad = parseConfig(stringify({ instances: { U: inst({ vrid: 999, priority: 'high' }) } }));
  assert.ok(!bad.ok);
  const { target, reloader } = reloaderWith(a, [bad]);
  const r = await reloader.request();
  assert.equal(r.outcome, 'rejected');
  assert.deepEqual(target.calls, []);
  assert.equal(target.configStatus.generation, 1);
  assert.equal(target.configStatus.reloads.rejected, 1);
  assert.equal(r.errors.length, bad.errors.length);
  assert.ok(r.errors.some((e) => e.startsWith('instances.U.vrid:') && /fix:/.test(e)), r.errors.join('\n'));
  assert.ok(r.errors.some((e) => e.startsWith('instances.U.priority:')), r.errors.join('\n'));
  assert.equal(reloader.config, a);
});

test('reloader: an instance that fails is counted, the others applied; the next reload tries it again', async () => {
  const a = cfg({ U: inst(), P: inst({ vrid: 53 }) });
  const b = cfg({ U: inst({ priority: 120 }), P: inst({ vrid: 53 }), N: inst({ vrid: 56 }) });
  const { target, reloader } = reloaderWith(a, [{ ok: true, config: b, warnings: [] }, { ok: true, config: b, warnings: [] }]);
  target.failOn.add('N');
  const r = await reloader.request();
  assert.equal(r.outcome, 'partial');
  assert.deepEqual(target.calls, ['reconfigure U', 'add N']);
  assert.equal(target.configStatus.reloads.failedInstances, 1);
  assert.equal(target.configStatus.generation, 2);
  assert.deepEqual(Object.keys(reloader.config.instances).sort(), ['P', 'U']);
  target.failOn.clear();
  const again = await reloader.request();
  assert.equal(again.outcome, 'applied');
  assert.deepEqual(target.calls.slice(2), ['add N']);
});

test('reloader: requests during a reload coalesce into one more', async () => {
  const a = cfg({ U: inst() });
  let loads = 0;
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const target = new Recorder(a);
  const reloader = new Reloader(target, a, {
    file: '/x.yaml',
    log: silent,
    load: async () => {
      loads++;
      if (loads === 1) await gate;
      return { ok: true, config: a, warnings: [] };
    },
  });
  const first = reloader.request();
  void reloader.request();
  void reloader.request();
  release();
  await first;
  assert.equal(loads, 2);
  assert.equal(target.configStatus.generation, 3);
});

test('reloader: an instance that would track a new or changed check is not applied (checks change at a restart)', async () => {
  const a = cfg({ U: inst(), P: inst({ vrid: 53 }) });
  const track = { track: { checks: ['chk'] } };
  const b = cfg({ U: inst(track), P: inst({ vrid: 53, priority: 90 }), N: inst({ vrid: 56, ...track }) }, { checks: { chk: { type: 'tcp', address: '127.0.0.1:1' } } });
  const { target, reloader } = reloaderWith(a, [{ ok: true, config: b, warnings: [] }]);
  const r = await reloader.request();
  assert.deepEqual(target.calls, ['reconfigure P'], 'only the instance without the new check is applied');
  assert.equal(r.outcome, 'partial');
  assert.ok(r.errors.some((e) => e.startsWith('instances.U.track.checks: check chk is new or changed') && /restart the agent/.test(e)), r.errors.join('\n'));
  assert.ok(r.errors.some((e) => e.startsWith('instances.N.track.checks:')), r.errors.join('\n'));
  assert.deepEqual(r.needsRestart, ['checks']);
  assert.deepEqual(reloader.config.instances['U'], a.instances['U'], 'U keeps running its old definition');
  assert.equal(reloader.config.instances['N'], undefined);
  assert.equal(reloader.config.checks, undefined, 'the running checks stay');
});
