// Notify hooks, the notify FIFO, virtual routes and sync groups end to end (issue #8), in network
// namespaces. The hooks are small shell scripts in the lab's temp dir that append "begin ARGS" and
// "end ARGS" lines to a per-node file, so the file shows both the order and that they ran one at a
// time. Assertions are on order, arguments, states and routes; the one bound that involves time is the
// protocol's own (no gap between the master's adverts long enough for the backup to take over while a
// 3 s notify script runs), read from a capture.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, closeSync, constants, existsSync, openSync, readFileSync, readSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Lab } from '../../src/lab/lab.js';
import { agentConfig, eventually, labDir, requireRoot, settle, startAgent, withLab, type AgentConfig, type AgentHandle, type VrrpParams } from './harness.js';
import { decodeVrrp, startCapture } from './capture.js';
import { startKeepalived } from './keepalived.js';

const VIP = '198.51.100.100/24';
const FAST: Omit<VrrpParams, 'priority'> = { version: 3, vrid: 51, advertInterval: 0.1, vips: [VIP] };
const ROUTE = '203.0.113.0/24';
const GATEWAY = '198.51.100.254';
const OPTS = { timeout: 90_000 };
const WAIT = 15_000;
const QUIET = 1_200;

const nodes = (...names: string[]) => names.map((name, i) => ({ name, octet: i + 1 }));

/** A hook script appending "begin ARGS" / "end ARGS" to `log`; with "slow" among its args it sleeps 3 s between. */
function hookScript(lab: Lab, name: string, log: string): string {
  const path = join(labDir(lab), `${name}.sh`);
  writeFileSync(path, `#!/bin/sh\necho "begin $*" >> ${log}\ncase " $* " in *" slow "*) sleep 3 ;; esac\necho "end $*" >> ${log}\n`);
  chmodSync(path, 0o755);
  return path;
}

/** Lines of a hook log ([] before the first hook ran). */
function lines(file: string): string[] {
  return existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter(Boolean) : [];
}

/** The hook invocations ("master", "any INSTANCE VI_1 MASTER 200"…), checking that each began after the previous ended. */
function runs(file: string): string[] {
  const out: string[] = [];
  let open: string | null = null;
  for (const l of lines(file)) {
    const [what, ...rest] = l.split(' ');
    const args = rest.filter((a) => a !== 'slow').join(' ');
    if (what === 'begin') {
      assert.equal(open, null, `"${args}" began while "${open}" was still running:\n${lines(file).join('\n')}`);
      open = args;
    } else {
      assert.equal(args, open, `"end ${args}" without its begin`);
      out.push(args);
      open = null;
    }
  }
  return out;
}

/**
 * The hook invocations that began, in the order they began, without the one-at-a-time check:
 * keepalived forks its state hook and its generic hook together and waits for neither, so its
 * runs may overlap, in either order.
 */
function begun(file: string): string[] {
  return lines(file)
    .filter((l) => l.startsWith('begin '))
    .map((l) => l.slice('begin '.length).split(' ').filter((a) => a !== 'slow').join(' '));
}

/** What the hooks must have run for these transitions, in keepalived's order (own hook, then any). */
function expectedRuns(a: AgentHandle, priority: number, instance = 'VI_1'): string[] {
  return a
    .transitions(instance)
    .map((e) => String(e.to))
    .filter((s) => s === 'MASTER' || s === 'BACKUP' || s === 'FAULT')
    .flatMap((s) => [s.toLowerCase(), `any INSTANCE ${instance} ${s} ${priority}`]);
}

/** Reads whatever the FIFO holds now (non-blocking). */
function drainFifo(fd: number): string {
  const buf = Buffer.alloc(65536);
  let out = '';
  for (;;) {
    try {
      const n = readSync(fd, buf, 0, buf.length, null);
      if (n <= 0) return out;
      out += buf.subarray(0, n).toString();
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EAGAIN') return out;
      throw e;
    }
  }
}

async function routeOn(lab: Lab, node: string): Promise<string> {
  return (await lab.run(node, ['ip', 'route', 'show', ROUTE])).trim();
}

function notifyConfig(script: string, slowMaster: boolean) {
  return { master: [script, 'master', ...(slowMaster ? ['slow'] : [])], backup: [script, 'backup'], fault: [script, 'fault'], stop: [script, 'stop'], any: [script, 'any'], timeout: 10 };
}

function withHooks(base: AgentConfig, notify: object, fifo: string): AgentConfig {
  const vi = base.instances['VI_1']!;
  return { ...base, notifyFifo: fifo, instances: { VI_1: { ...vi, notify, routes: [{ to: ROUTE, via: GATEWAY }] } } };
}

test('notify hooks in order, one at a time, across MASTER → FAULT → BACKUP; FIFO lines; routes follow mastership; a slow hook delays no advert', OPTS, async (t) => {
  if (!requireRoot(t)) return;
  await withLab(nodes('ha1', 'ha2'), async (lab) => {
    const dir = labDir(lab);
    const log1 = join(dir, 'hooks-ha1.log');
    const log2 = join(dir, 'hooks-ha2.log');
    const fifo1 = join(dir, 'notify-ha1.fifo');
    const script1 = hookScript(lab, 'hook-ha1', log1);
    const script2 = hookScript(lab, 'hook-ha2', log2);
    const cap = await startCapture(lab);
    const ha1 = startAgent(lab, 'ha1', withHooks(agentConfig({ ...FAST, priority: 200 }), notifyConfig(script1, true), fifo1));
    // ha2 starts once ha1 is MASTER (so it never wins a start-up race), while ha1's slow master hook runs.
    await ha1.waitState('VI_1', 'MASTER', WAIT);
    const ha2 = startAgent(lab, 'ha2', withHooks(agentConfig({ ...FAST, priority: 100 }), notifyConfig(script2, false), join(dir, 'notify-ha2.fifo')));
    await eventually(async () => existsSync(fifo1), Boolean, WAIT, 'ha1 created its FIFO');
    const fifo = openSync(fifo1, constants.O_RDONLY | constants.O_NONBLOCK);
    try {
      await settle([[ha1, 'MASTER'], [ha2, 'BACKUP']], QUIET, WAIT);
      // The slow master hook (3 s) is running or done: wait for its end, then look at the adverts around it.
      await eventually(async () => lines(log1), (l) => l.some((x) => x.startsWith('end master')), WAIT, 'ha1 master hook finished');
      const pcap = await cap.stop(300);
      const adverts = (await decodeVrrp(pcap)).filter((r) => r.src === lab.node('ha1').ip && r.priority === 200);
      assert.ok(adverts.length > 20, `ha1 sent ${adverts.length} adverts while its master hook ran`);
      // No gap in ha1's adverts long enough for the backup to take over (Master_Down_Interval = 3 × 0.1 s + skew).
      let maxGap = 0;
      for (let i = 1; i < adverts.length; i++) maxGap = Math.max(maxGap, adverts[i]!.time - adverts[i - 1]!.time);
      assert.ok(maxGap < 300, `largest gap between ha1's adverts while the 3 s hook ran: ${maxGap.toFixed(0)} ms`);
      assert.equal(ha2.transitions().some((e) => e.to === 'MASTER'), false, 'ha2 never took over');

      // Routes: on the master only.
      await eventually(() => routeOn(lab, 'ha1'), (r) => r.includes(`via ${GATEWAY}`), WAIT, 'route on ha1');
      assert.equal(await routeOn(lab, 'ha2'), '');
      // Removed by hand while MASTER: restored (the keeper re-checks every 5 s).
      await lab.run('ha1', ['ip', 'route', 'del', ROUTE]);
      await eventually(() => routeOn(lab, 'ha1'), (r) => r.includes(`via ${GATEWAY}`), WAIT, 'route restored on ha1');

      // Cable pulled: ha1 FAULT, ha2 MASTER; the route moves.
      await lab.setLink('ha1', false);
      await ha1.waitState('VI_1', 'FAULT', WAIT);
      await ha2.waitState('VI_1', 'MASTER', WAIT);
      await eventually(() => routeOn(lab, 'ha2'), (r) => r.includes(`via ${GATEWAY}`), WAIT, 'route on ha2');
      await eventually(() => routeOn(lab, 'ha1'), (r) => r === '', WAIT, 'route gone from ha1');
      // Back: ha1 preempts, ha2 BACKUP, the route goes back.
      await lab.setLink('ha1', true);
      await settle([[ha1, 'MASTER'], [ha2, 'BACKUP']], QUIET, WAIT);
      await eventually(() => routeOn(lab, 'ha2'), (r) => r === '', WAIT, 'route gone from ha2');
      await eventually(() => routeOn(lab, 'ha1'), (r) => r.includes(`via ${GATEWAY}`), WAIT, 'route back on ha1');

      // Every hook ran, in the order of the transitions, one at a time, with keepalived's arguments.
      const want1 = expectedRuns(ha1, 200);
      const want2 = expectedRuns(ha2, 100);
      assert.deepEqual(want1.filter((r) => !r.startsWith('any')), ['backup', 'master', 'fault', 'backup', 'master'].slice(want1[0] === 'master' ? 1 : 0));
      await eventually(async () => lines(log1).length, (n) => n === want1.length * 2, WAIT, 'ha1 hooks all ran');
      await eventually(async () => lines(log2).length, (n) => n === want2.length * 2, WAIT, 'ha2 hooks all ran');
      assert.deepEqual(runs(log1), want1);
      assert.deepEqual(runs(log2), want2);

      // The FIFO got keepalived's lines, one per transition, in order.
      const fifoLines = drainFifo(fifo).split('\n').filter(Boolean);
      const wantFifo = ha1
        .transitions()
        .map((e) => String(e.to))
        .filter((s) => s !== 'INIT')
        .map((s) => `INSTANCE "VI_1" ${s} 200`);
      assert.deepEqual(fifoLines, wantFifo);

      // Status and metrics count the runs.
      const st = (await ha1.status()) as unknown as { instances: Record<string, { notify: { counters: { ok: number; failed: number } }; routes: { held: boolean; restored: number } }> };
      assert.equal(st.instances['VI_1']!.notify.counters.ok, want1.length);
      assert.equal(st.instances['VI_1']!.notify.counters.failed, 0);
      assert.equal(st.instances['VI_1']!.routes.held, true);
      assert.ok(st.instances['VI_1']!.routes.restored >= 1);

      // Graceful stop: notify stop (and any … STOP) run, the FIFO says STOP, the route is removed.
      const before = lines(log1).length;
      await ha1.stop('SIGTERM');
      assert.deepEqual(runs(log1).slice(before / 2), ['stop', 'any INSTANCE VI_1 STOP 200']);
      assert.equal(drainFifo(fifo), 'INSTANCE "VI_1" STOP 200\n');
      assert.equal(await routeOn(lab, 'ha1'), '');
    } finally {
      closeSync(fifo);
    }
  });
});

test('sync group: one member losing its interface pulls the other into FAULT, both recover together; group notify', OPTS, async (t) => {
  if (!requireRoot(t)) return;
  // One interface per lab node (and no dummy driver here), so the second member runs on one end of a
  // veth pair created inside the node's namespace: taking it down is the issue's "one member's
  // interface goes down".
  await withLab(nodes('ha1'), async (lab) => {
    const dir = labDir(lab);
    const log = join(dir, 'hooks-group.log');
    const script = hookScript(lab, 'hook-group', log);
    await lab.run('ha1', ['ip', 'link', 'add', 'dum0', 'type', 'veth', 'peer', 'name', 'dum1']);
    await lab.run('ha1', ['ip', 'addr', 'add', '198.51.100.201/32', 'dev', 'dum0']);
    await lab.run('ha1', ['ip', 'link', 'set', 'dum1', 'up']);
    await lab.run('ha1', ['ip', 'link', 'set', 'dum0', 'up']);
    const base = agentConfig({ ...FAST, priority: 150 });
    const config: AgentConfig = {
      ...base,
      syncGroups: { VG_1: { instances: ['VI_1', 'VI_2'], notify: { master: [script, 'group-master'], fault: [script, 'group-fault'], any: [script, 'any'] } } },
      instances: {
        VI_1: base.instances['VI_1']!,
        VI_2: { ...base.instances['VI_1']!, interface: 'dum0', vrid: 52, vips: ['198.51.100.150/32'] },
      },
    };
    const ha1 = startAgent(lab, 'ha1', config);
    await ha1.waitState('VI_1', 'MASTER', WAIT);
    await ha1.waitState('VI_2', 'MASTER', WAIT);
    await eventually(async () => runs(log), (r) => r.includes('any GROUP VG_1 MASTER 0'), WAIT, 'group MASTER notify');

    await lab.run('ha1', ['ip', 'link', 'set', 'dum0', 'down']);
    await ha1.waitState('VI_2', 'FAULT', WAIT);
    await ha1.waitState('VI_1', 'FAULT', WAIT);
    const pulled = ha1.transitions('VI_1').at(-1);
    assert.match(String(pulled?.reason), /sync group VG_1: VI_2 is in FAULT \(interface dum0/);
    const st = (await ha1.status()) as unknown as { instances: Record<string, { faults: Record<string, string>; syncGroup: string }>; syncGroups: Record<string, { state: string }> };
    assert.deepEqual(Object.keys(st.instances['VI_1']!.faults), ['sync:VG_1']);
    assert.equal(st.instances['VI_1']!.syncGroup, 'VG_1');
    assert.equal(st.syncGroups['VG_1']!.state, 'FAULT');

    await lab.run('ha1', ['ip', 'link', 'set', 'dum0', 'up']);
    await ha1.waitState('VI_2', 'MASTER', WAIT);
    await ha1.waitState('VI_1', 'MASTER', WAIT);
    await eventually(async () => runs(log), (r) => r.filter((x) => x === 'any GROUP VG_1 MASTER 0').length === 2, WAIT, 'group MASTER notify again');
    // Members start in BACKUP (group BACKUP), become MASTER (group MASTER), FAULT together, and come
    // back through BACKUP to MASTER.
    assert.deepEqual(runs(log), [
      'any GROUP VG_1 BACKUP 0',
      'group-master',
      'any GROUP VG_1 MASTER 0',
      'group-fault',
      'any GROUP VG_1 FAULT 0',
      'any GROUP VG_1 BACKUP 0',
      'group-master',
      'any GROUP VG_1 MASTER 0',
    ]);
  });
});

test('interop: keepalived peer with its own notify_master; both sides notify on a failover', OPTS, async (t) => {
  if (!requireRoot(t)) return;
  await withLab(nodes('ha1', 'ha2'), async (lab) => {
    const dir = labDir(lab);
    const ourLog = join(dir, 'hooks-ours.log');
    const kaLog = join(dir, 'hooks-ka.log');
    const ours = hookScript(lab, 'hook-ours', ourLog);
    const ka = hookScript(lab, 'hook-ka', kaLog);
    const params = { version: 3 as const, vrid: 51, advertInterval: 1, vips: [VIP] };
    const k = startKeepalived(lab, 'ha2', { ...params, priority: 100, extra: [`notify_master "${ka} master"`, `notify_backup "${ka} backup"`, `notify "${ka} any"`] });
    const a = startAgent(lab, 'ha1', { ...agentConfig({ ...params, priority: 200 }), instances: { VI_1: { ...agentConfig({ ...params, priority: 200 }).instances['VI_1']!, notify: { master: [ours, 'master'], backup: [ours, 'backup'], any: [ours, 'any'] } } } });
    await settle([[a, 'MASTER'], [k, 'BACKUP']], 2_500, 20_000);
    await eventually(async () => runs(ourLog), (r) => r.includes('any INSTANCE VI_1 MASTER 200'), WAIT, 'our master notify');
    await eventually(async () => begun(kaLog), (r) => r.includes('any INSTANCE VI_1 BACKUP 100'), WAIT, "keepalived's backup notify");
    // Our agent leaves (priority 0): keepalived takes over and runs notify_master; ours runs nothing more but stop (not configured).
    await a.stop('SIGTERM');
    await k.waitState('VI_1', 'MASTER', WAIT);
    await eventually(async () => begun(kaLog), (r) => r.includes('master') && r.includes('any INSTANCE VI_1 MASTER 100'), WAIT, "keepalived's master notify");
    // Both sides use the same argument convention for the generic notify.
    assert.ok(runs(ourLog).includes('any INSTANCE VI_1 MASTER 200'));
    assert.ok(begun(kaLog).includes('any INSTANCE VI_1 MASTER 100'));
  });
});

test('sync groups on two nodes: a peer with higher priorities takes over both members, and ours follow it together', OPTS, async (t) => {
  if (!requireRoot(t)) return;
  await withLab(nodes('ha1', 'ha2'), async (lab) => {
    const group = (p1: number, p2: number): AgentConfig => {
      const base = agentConfig({ ...FAST, priority: p1 });
      return {
        ...base,
        syncGroups: { VG_1: { instances: ['VI_1', 'VI_2'] } },
        instances: { VI_1: base.instances['VI_1']!, VI_2: { ...base.instances['VI_1']!, vrid: 52, priority: p2, vips: ['198.51.100.101/24'] } },
      };
    };
    const ha1 = startAgent(lab, 'ha1', group(200, 200));
    await ha1.waitState('VI_1', 'MASTER', WAIT);
    await ha1.waitState('VI_2', 'MASTER', WAIT);
    const ha2 = startAgent(lab, 'ha2', group(250, 250));
    await settle([[ha2, 'MASTER'], [ha1, 'BACKUP']], QUIET, WAIT, 'VI_1');
    await settle([[ha2, 'MASTER'], [ha1, 'BACKUP']], QUIET, WAIT, 'VI_2');
    const st = (await ha1.status()) as unknown as { syncGroups: Record<string, { state: string }> };
    assert.equal(st.syncGroups['VG_1']!.state, 'BACKUP');
    // ha1 never had one member MASTER and the other BACKUP for long enough to take the other's VIP back.
    assert.deepEqual(await lab.holdersOf('198.51.100.100'), ['ha2']);
    assert.deepEqual(await lab.holdersOf('198.51.100.101'), ['ha2']);
    // ha2 going down (priority 0 on both): ha1's members take over together.
    await ha2.stop('SIGTERM');
    await ha1.waitState('VI_1', 'MASTER', WAIT);
    await ha1.waitState('VI_2', 'MASTER', WAIT);
  });
});
