// CLI commands that look at a real interface, run inside a lab namespace: `provider test garp`
// (read-only preflight, one line per check), `run` on a missing interface or without privileges
// (one-line error with the fix), and `status` printing the table from a running agent.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { writeFileSync } from 'node:fs';
import { stringify } from 'yaml';
import { agentCli, agentConfig, agentRunArgs, labDir, requireRoot, settle, startAgent, vipHolder, withLab } from './harness.js';
import type { Lab } from '../../src/lab/lab.js';

const VIP = '198.51.100.100/24';

function writeConfig(lab: Lab, name: string, config: object): string {
  const file = join(labDir(lab), name);
  writeFileSync(file, stringify(config));
  return file;
}

test('provider test garp: every check passes on a healthy host and nothing moves', { timeout: 60_000 }, async (t) => {
  if (!requireRoot(t)) return;
  await withLab([{ name: 'ha1', octet: 1 }], async (lab) => {
    const file = writeConfig(lab, 'ok.yaml', agentConfig({ version: 3, vrid: 51, priority: 150, advertInterval: 1, vips: [VIP] }));
    const r = await lab.exec('ha1', [process.execPath, agentCli(), 'provider', 'test', 'garp', '--config', file], { timeoutMs: 30_000 });
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /✓/);
    assert.doesNotMatch(r.stdout, /✗/);
    assert.match(r.stdout, /all checks passed/);
    assert.deepEqual(await vipHolder(lab, VIP), [], 'preflight never adds the VIP');
  });
});

test('provider test garp: a missing interface fails with a fix; wrong type says which instances exist', { timeout: 60_000 }, async (t) => {
  if (!requireRoot(t)) return;
  await withLab([{ name: 'ha1', octet: 1 }], async (lab) => {
    const cfg = agentConfig({ version: 3, vrid: 51, priority: 150, advertInterval: 1, vips: [VIP] });
    (cfg.instances.VI_1 as Record<string, unknown>).interface = 'eth9';
    const file = writeConfig(lab, 'eth9.yaml', cfg);
    const r = await lab.exec('ha1', [process.execPath, agentCli(), 'provider', 'test', 'garp', '--config', file], { timeoutMs: 30_000 });
    assert.equal(r.code, 1);
    assert.match(r.stdout, /✗ .*eth9/);
    assert.match(r.stdout, /fix: /);
    const other = await lab.exec('ha1', [process.execPath, agentCli(), 'provider', 'test', 'aws', '--config', file], { timeoutMs: 30_000 });
    assert.equal(other.code, 1);
    assert.match(other.stderr, /no instance with provider type aws/);
  });
});

test('run on a missing interface: exit 1 with a one-line error naming the interfaces there are', { timeout: 60_000 }, async (t) => {
  if (!requireRoot(t)) return;
  await withLab([{ name: 'ha1', octet: 1 }], async (lab) => {
    const cfg = agentConfig({ version: 3, vrid: 51, priority: 150, advertInterval: 1, vips: [VIP] });
    (cfg.instances.VI_1 as Record<string, unknown>).interface = 'eth9';
    const file = writeConfig(lab, 'eth9.yaml', cfg);
    const r = await lab.exec('ha1', [process.execPath, agentCli(), ...agentRunArgs(file)], { timeoutMs: 30_000 });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /interface eth9 not found — fix: .*eth0/);
  });
});

test('run without CAP_NET_RAW: exit 1 and the fix', { timeout: 60_000 }, async (t) => {
  if (!requireRoot(t)) return;
  await withLab([{ name: 'ha1', octet: 1 }], async (lab) => {
    const file = writeConfig(lab, 'ok.yaml', agentConfig({ version: 3, vrid: 51, priority: 150, advertInterval: 1, vips: [VIP] }));
    const drop = ['setpriv', '--inh-caps=-net_raw', '--bounding-set=-net_raw', '--'];
    const r = await lab.exec('ha1', [...drop, process.execPath, agentCli(), ...agentRunArgs(file)], { timeoutMs: 30_000 });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /missing capability CAP_NET_RAW \(the VRRP raw socket and gratuitous ARP\) — grant it: systemd unit AmbientCapabilities=/);
  });
});

test('status prints a table from a running agent', { timeout: 60_000 }, async (t) => {
  if (!requireRoot(t)) return;
  await withLab([{ name: 'ha1', octet: 1 }], async (lab) => {
    const ha1 = startAgent(lab, 'ha1', agentConfig({ version: 3, vrid: 51, priority: 150, advertInterval: 0.1, vips: [VIP] }));
    await settle([[ha1, 'MASTER']], 300);
    const r = await lab.exec('ha1', [process.execPath, agentCli(), 'status'], { timeoutMs: 10_000 });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /VI_1\s+MASTER\s+150\/150\s+198\.51\.100\.1\s+198\.51\.100\.100\/24\s+garp held/);
  });
});
