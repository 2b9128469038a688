// Health checks and tracking end to end, our agent against Debian's keepalived 2.2.7 (unicast
// VRRPv3 at 0.1 s, one L2 segment): an exec check on each side (keepalived's vrrp_script +
// track_script on its side) — failing the checked service on the master lowers its priority and the
// other node takes the VIP, in both directions; recovery with preemption (ours takes the VIP back) and
// without (keepalived's nopreempt keeps it BACKUP); the in-process http check against a tiny HTTP
// server in the namespace does the same; a tracked interface with weight 0 going down puts ours in
// FAULT and keepalived takes over, one with weight -100 lowers our priority so keepalived preempts. The "service" of an exec check is a marker file the check tests.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import type { Lab } from '../../src/lab/lab.js';
import { agentConfig, eventually, expectSteady, labDir, onLabCleanup, requireRoot, settle, startAgent, unicastBetween, waitVipHolders, withLab, type AgentConfig, type AgentHandle, type VrrpParams } from './harness.js';
import { startKeepalived } from './keepalived.js';
import type { StatusJson } from '../../src/status/types.js';

const VIP = '198.51.100.100/24';
const WAIT = 20_000;
const NODES = [
  { name: 'ha1', octet: 1 },
  { name: 'ha2', octet: 2 },
];

function params(lab: Lab, self: string, peer: string, priority: number, preempt = true): VrrpParams {
  return { version: 3, vrid: 61, advertInterval: 0.1, priority, preempt, vips: [VIP], unicast: unicastBetween(lab, self, [peer]) };
}

/** Our agent with `checks` and a track section on VI_1. */
function withTracking(cfg: AgentConfig, checks: Record<string, unknown>, track: Record<string, unknown>): AgentConfig {
  return { ...cfg, checks, instances: { VI_1: { ...cfg.instances['VI_1'], track } } };
}

/** keepalived's vrrp_script testing a marker file, tracked by VI_1 with weight -100. */
function keepalivedScript(marker: string): { globalExtra: string[]; extra: string[] } {
  return {
    globalExtra: ['vrrp_script chk_svc {', `  script "/usr/bin/test -e ${marker}"`, '  interval 1', '  weight -100', '  fall 1', '  rise 1', '}'],
    extra: ['track_script {', '  chk_svc', '}'],
  };
}

async function fullStatus(h: AgentHandle): Promise<StatusJson> {
  return (await h.status()) as unknown as StatusJson;
}

async function waitPriority(h: AgentHandle, priority: number): Promise<StatusJson> {
  return eventually(() => fullStatus(h), (s) => s.instances['VI_1']?.effectivePriority === priority, WAIT, `effective priority ${priority} on ${h.label}`);
}

test('exec check, ours master: the failing service lowers our priority, keepalived takes the VIP; recovery with preemption takes it back', { timeout: 90_000 }, async (t) => {
  if (!requireRoot(t)) return;
  await withLab(NODES, async (lab) => {
    const marker = join(labDir(lab), 'svc-ha1');
    writeFileSync(marker, '');
    const cfg = withTracking(
      agentConfig(params(lab, 'ha1', 'ha2', 150)),
      { chk_svc: { type: 'exec', command: ['/usr/bin/test', '-e', marker], interval: 0.2, timeout: 1, weight: -100, fall: 2, rise: 1 } },
      { checks: ['chk_svc'] },
    );
    const ours = startAgent(lab, 'ha1', cfg);
    await ours.waitState('VI_1', 'MASTER', WAIT);
    const ka = startKeepalived(lab, 'ha2', params(lab, 'ha2', 'ha1', 100));
    await settle([[ours, 'MASTER'], [ka, 'BACKUP']], 500, WAIT);
    await waitVipHolders(lab, VIP, ['ha1'], WAIT);

    rmSync(marker);
    await ka.waitState('VI_1', 'MASTER', WAIT);
    await ours.waitState('VI_1', 'BACKUP', WAIT);
    await waitVipHolders(lab, VIP, ['ha2'], WAIT);
    const s = await waitPriority(ours, 50);
    const tracking = s.instances['VI_1']!.tracking!;
    assert.equal(tracking.lastChange?.reason, 'chk_svc failed 2 times: exit 1');
    assert.deepEqual([tracking.lastChange?.from, tracking.lastChange?.to], [150, 50]);
    assert.equal(s.checks?.['chk_svc']?.status, 'failed');
    assert.equal(s.checks?.['chk_svc']?.last?.exitCode, 1);
    const text = await lab.exec('ha1', [process.execPath, ours.cli, 'status']);
    assert.match(text.stdout, /chk_svc\s+exec\s+failed/);
    assert.match(text.stdout, /VI_1\s+priority 150\/50 .*chk_svc failed 2 times: exit 1/);

    writeFileSync(marker, '');
    await ours.waitState('VI_1', 'MASTER', WAIT);
    await ka.waitState('VI_1', 'BACKUP', WAIT);
    await waitVipHolders(lab, VIP, ['ha1'], WAIT);
    await waitPriority(ours, 150);
  });
});

test('exec check, keepalived master: its failing vrrp_script lets ours take the VIP; with nopreempt it stays BACKUP after recovery', { timeout: 90_000 }, async (t) => {
  if (!requireRoot(t)) return;
  await withLab(NODES, async (lab) => {
    const marker = join(labDir(lab), 'svc-ha2');
    writeFileSync(marker, '');
    const ka = startKeepalived(lab, 'ha2', { ...params(lab, 'ha2', 'ha1', 150, false), ...keepalivedScript(marker) });
    await ka.waitState('VI_1', 'MASTER', WAIT);
    const oursMarker = join(labDir(lab), 'svc-ha1');
    writeFileSync(oursMarker, '');
    const cfg = withTracking(
      agentConfig(params(lab, 'ha1', 'ha2', 100)),
      { chk_svc: { type: 'exec', command: ['/usr/bin/test', '-e', oursMarker], interval: 0.2, weight: -50 } },
      { checks: ['chk_svc'] },
    );
    const ours = startAgent(lab, 'ha1', cfg);
    await settle([[ours, 'BACKUP'], [ka, 'MASTER']], 500, WAIT);
    await waitVipHolders(lab, VIP, ['ha2'], WAIT);

    const mark = ka.mark();
    rmSync(marker);
    await ka.waitFor((e) => /Changing effective priority from 150 to 50/.test(e.line), WAIT, mark, 'keepalived lowering its priority');
    await ours.waitState('VI_1', 'MASTER', WAIT);
    await ka.waitState('VI_1', 'BACKUP', WAIT);
    await waitVipHolders(lab, VIP, ['ha1'], WAIT);

    const back = ka.mark();
    writeFileSync(marker, '');
    await ka.waitFor((e) => /Changing effective priority from 50 to 150/.test(e.line), WAIT, back, 'keepalived restoring its priority');
    await expectSteady([ours, ka], 1_500);
    assert.equal(ours.state('VI_1'), 'MASTER', 'keepalived with nopreempt does not take the VIP back');
    await waitVipHolders(lab, VIP, ['ha1'], WAIT);
  });
});

test('in-process http check: the local HTTP server going away hands the VIP to keepalived; it coming back takes it back', { timeout: 90_000 }, async (t) => {
  if (!requireRoot(t)) return;
  await withLab(NODES, async (lab) => {
    const port = 18080;
    const serve = (): ChildProcess => {
      const p = lab.spawn('ha1', [process.execPath, '-e', `require('node:http').createServer((q, s) => s.end('ok')).listen(${port}, '127.0.0.1')`]);
      onLabCleanup(lab, () => void p.kill('SIGKILL'));
      return p;
    };
    let server = serve();
    const cfg = withTracking(
      agentConfig(params(lab, 'ha1', 'ha2', 150)),
      { web: { type: 'http', url: `http://127.0.0.1:${port}/healthz`, expectStatus: 200, interval: 0.2, timeout: 0.5, weight: -100 } },
      { checks: ['web'] },
    );
    const ours = startAgent(lab, 'ha1', cfg);
    await ours.ready(WAIT);
    await eventually(() => fullStatus(ours), (s) => s.checks?.['web']?.status === 'ok', WAIT, 'the http check ok');
    await ours.waitState('VI_1', 'MASTER', WAIT);
    const ka = startKeepalived(lab, 'ha2', params(lab, 'ha2', 'ha1', 100));
    await settle([[ours, 'MASTER'], [ka, 'BACKUP']], 500, WAIT);

    server.kill('SIGKILL');
    await ka.waitState('VI_1', 'MASTER', WAIT);
    await ours.waitState('VI_1', 'BACKUP', WAIT);
    await waitVipHolders(lab, VIP, ['ha2'], WAIT);
    const s = await waitPriority(ours, 50);
    assert.match(s.checks?.['web']?.last?.detail ?? '', /ECONNREFUSED/);
    assert.equal(s.checks?.['web']?.type, 'http');

    server = serve();
    await ours.waitState('VI_1', 'MASTER', WAIT);
    await waitVipHolders(lab, VIP, ['ha1'], WAIT);
  });
});

test('tracked interfaces: without weight, down is FAULT and keepalived takes over; with weight -100, down lowers the priority and keepalived takes over; up again, ours takes back', { timeout: 90_000 }, async (t) => {
  if (!requireRoot(t)) return;
  await withLab(NODES, async (lab) => {
    // A veth pair inside ha1 (no dummy driver in every kernel): trk0 is running while both ends are up.
    for (const argv of [
      ['ip', 'link', 'add', 'trk0', 'type', 'veth', 'peer', 'name', 'trk1'],
      ['ip', 'link', 'set', 'trk1', 'up'],
      ['ip', 'link', 'set', 'trk0', 'up'],
      ['ip', 'link', 'add', 'trk2', 'type', 'veth', 'peer', 'name', 'trk3'],
      ['ip', 'link', 'set', 'trk3', 'up'],
      ['ip', 'link', 'set', 'trk2', 'up'],
    ]) {
      const r = await lab.exec('ha1', argv);
      assert.equal(r.code, 0, `${argv.join(' ')}: ${r.stderr}`);
    }
    const cfg = withTracking(agentConfig(params(lab, 'ha1', 'ha2', 150)), {}, { interfaces: ['trk0', { interface: 'trk2', weight: -100 }] });
    const ours = startAgent(lab, 'ha1', cfg);
    await ours.waitState('VI_1', 'MASTER', WAIT);
    const ka = startKeepalived(lab, 'ha2', params(lab, 'ha2', 'ha1', 100));
    await settle([[ours, 'MASTER'], [ka, 'BACKUP']], 500, WAIT);

    await lab.exec('ha1', ['ip', 'link', 'set', 'trk0', 'down']);
    await ours.waitState('VI_1', 'FAULT', WAIT);
    await ka.waitState('VI_1', 'MASTER', WAIT);
    await waitVipHolders(lab, VIP, ['ha2'], WAIT);
    const s = await fullStatus(ours);
    assert.match(s.instances['VI_1']!.faults['check:interface:trk0'] ?? '', /tracked interface trk0 is down/);
    assert.equal(s.instances['VI_1']!.tracking?.interfaces['trk0']?.up, false);

    await lab.exec('ha1', ['ip', 'link', 'set', 'trk0', 'up']);
    await ours.waitState('VI_1', 'MASTER', WAIT);
    await waitVipHolders(lab, VIP, ['ha1'], WAIT);

    await lab.exec('ha1', ['ip', 'link', 'set', 'trk2', 'down']);
    await ka.waitState('VI_1', 'MASTER', WAIT);
    await ours.waitState('VI_1', 'BACKUP', WAIT);
    await waitVipHolders(lab, VIP, ['ha2'], WAIT);
    const w = await waitPriority(ours, 50);
    assert.equal(w.instances['VI_1']!.faults['check:interface:trk2'], undefined, 'a weighted interface is no fault');
    assert.equal(w.instances['VI_1']!.tracking?.lastChange?.reason, 'tracked interface trk2 is down');

    await lab.exec('ha1', ['ip', 'link', 'set', 'trk2', 'up']);
    await ours.waitState('VI_1', 'MASTER', WAIT);
    await waitVipHolders(lab, VIP, ['ha1'], WAIT);
  });
});
