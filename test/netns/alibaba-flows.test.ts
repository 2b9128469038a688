// The alibaba provider in the two flows its users start from, in the netns lab against "Alibaba
// Cloud" in a third namespace (test/netns/alibaba-cloud.ts):
//   - `ha-agent provider test alibaba` through the real CLI inside ha1's namespace: a correct setup
//     passes every check (exit 0); with the peer's instance not associated with the HaVip it fails
//     (exit 1) with a ✗ line naming that instance and the fix; nothing is associated by it.
//   - the seed's flow: nginx (here a tiny HTTP server) down on the master → its in-process http check
//     fails → its priority drops below the peer's → the peer takes over and its gratuitous ARP makes
//     it the HaVip's MasterInstanceId; the server back → the first node preempts and the HaVip follows.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { stringify } from 'yaml';
import type { Lab } from '../../src/lab/lab.js';
import { agentCli, agentConfig, eventually, labDir, requireRoot, startAgent, unicastBetween, withLab, type AgentHandle } from './harness.js';
import { ALIBABA_AGENT_KEY, AlibabaCloud } from './alibaba-cloud.js';

const OPTS = { timeout: 120_000 };
const NODES = [
  { name: 'ha1', octet: 11 },
  { name: 'ha2', octet: 12 },
  { name: 'cloud', octet: 250 },
];
const HAVIP = '198.51.100.100';
const WAIT = 20_000;
const TIMING = { confirmTimeout: 5, reconcile: 60, backoffBase: 0.2, backoffMax: 1, faultAfter: 6 };
const ENV = {
  ALIBABA_CLOUD_ACCESS_KEY_ID: ALIBABA_AGENT_KEY.accessKeyId,
  ALIBABA_CLOUD_ACCESS_KEY_SECRET: ALIBABA_AGENT_KEY.accessKeySecret,
  ALIBABA_CLOUD_ECS_METADATA_DISABLED: 'true',
  ALIBABA_CLOUD_CLI_PROFILE_DISABLED: 'true',
};

Object.assign(process.env, ENV);
delete process.env.ALIBABA_CLOUD_SECURITY_TOKEN;

function startCloud(lab: Lab, associated: { ha1: boolean; ha2: boolean }): Promise<AlibabaCloud> {
  return AlibabaCloud.start(lab, 'cloud', {
    region: 'cn-hangzhou',
    vpcCidr: '198.51.100.0/24',
    vSwitchCidr: '198.51.100.0/24',
    keys: [ALIBABA_AGENT_KEY],
    haVip: { ipAddress: HAVIP },
    instances: (['ha1', 'ha2'] as const).map((n) => ({ name: n, mac: lab.node(n).mac, privateIp: lab.node(n).ip, associated: associated[n] })),
  });
}

/** An agent config for `node` (VRRPv3 unicast to the other node, provider alibaba), plus `extra` at the top level. */
function config(lab: Lab, cloud: AlibabaCloud, node: string, priority: number, extra: { provider?: Record<string, unknown>; top?: Record<string, unknown>; track?: unknown } = {}) {
  const cfg = agentConfig({ version: 3, vrid: 72, advertInterval: 0.5, priority, vips: [`${HAVIP}/24`], unicast: unicastBetween(lab, node, [node === 'ha1' ? 'ha2' : 'ha1']) });
  const inst = cfg.instances['VI_1'] as Record<string, unknown>;
  inst.provider = { type: 'alibaba', haVipId: cloud.ids.haVipId, endpoint: cloud.endpoint, protocol: 'http', metadataEndpoint: cloud.metadataUrl[node], timing: TIMING, ...extra.provider };
  if (extra.track) inst.track = extra.track;
  return { ...cfg, ...extra.top };
}

test('provider test alibaba in a lab: a correct setup passes; the peer not associated → exit 1, ✗ naming its instance; nothing associated', OPTS, async (t) => {
  if (!requireRoot(t)) return;
  await withLab(NODES, async (lab) => {
    const home = mkdtempSync(join(tmpdir(), 'ha-alibaba-home-'));
    for (const associated of [{ ha1: true, ha2: true }, { ha1: true, ha2: false }]) {
      const cloud = await startCloud(lab, associated);
      try {
        const peer = cloud.instanceId('ha2');
        const file = join(labDir(lab), `provider-test-${associated.ha2}.yaml`);
        writeFileSync(file, stringify(config(lab, cloud, 'ha1', 150, { provider: { peerInstanceIds: [peer] } })));
        const r = await lab.exec('ha1', [process.execPath, agentCli(), 'provider', 'test', 'alibaba', '--config', file], {
          timeoutMs: 60_000,
          env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: home, ...ENV },
        });
        const lines = r.stdout.split('\n').filter((l) => /^\s+[✓✗] /.test(l));
        assert.ok(lines.length >= 8, r.stdout + r.stderr);
        if (associated.ha2) {
          assert.equal(r.code, 0, r.stdout + r.stderr);
          assert.ok(lines.every((l) => l.trim().startsWith('✓')), r.stdout);
        } else {
          assert.equal(r.code, 1, r.stdout + r.stderr);
          const bad = lines.filter((l) => l.trim().startsWith('✗'));
          assert.equal(bad.length, 1, r.stdout);
          assert.match(bad[0]!, new RegExp(peer), 'the missing instance is named');
          assert.match(r.stdout, /fix: .*AssociateHaVip/, r.stdout);
        }
        const calls = await cloud.calls();
        assert.ok(!calls.some((c) => c.action === 'AssociateHaVip' || c.action === 'UnassociateHaVip'), 'provider test moved nothing');
      } finally {
        await cloud.close();
      }
    }
    rmSync(home, { recursive: true, force: true });
  });
});

test('the seed\'s flow: the web server down on the master → its http check drops its priority → the peer takes the HaVip; back up → preempted back', OPTS, async (t) => {
  if (!requireRoot(t)) return;
  await withLab(NODES, async (lab) => {
    const cloud = await startCloud(lab, { ha1: true, ha2: true });
    const port = 18080;
    const servers = new Map<string, ChildProcess>();
    const serve = (node: string) => servers.set(node, lab.spawn(node, [process.execPath, '-e', `require('node:http').createServer((q, s) => s.end('ok')).listen(${port}, '127.0.0.1')`]));
    try {
      serve('ha1');
      serve('ha2');
      const web = { type: 'http', url: `http://127.0.0.1:${port}/`, expectStatus: 200, interval: 0.2, timeout: 0.5, fall: 2, rise: 2, weight: -100 };
      const agent = (node: string, priority: number): AgentHandle => startAgent(lab, node, config(lab, cloud, node, priority, { top: { checks: { web } }, track: { checks: ['web'] } }));
      const ha1 = agent('ha1', 200);
      const ha2 = agent('ha2', 150);
      await ha1.waitState('VI_1', 'MASTER', WAIT);
      await ha2.waitState('VI_1', 'BACKUP', WAIT);
      await eventually(() => cloud.masterNode(), (m) => m === 'ha1', WAIT, 'ha1 MasterInstanceId');

      servers.get('ha1')!.kill('SIGKILL'); // "nginx" down on the master
      await ha2.waitState('VI_1', 'MASTER', WAIT);
      await ha1.waitState('VI_1', 'BACKUP', WAIT);
      assert.equal((await ha1.instanceStatus()).effectivePriority, 100, 'ha1 runs at 200 - 100 while its check fails');
      await eventually(() => cloud.masterNode(), (m) => m === 'ha2', WAIT, 'ha2 MasterInstanceId after the check failed');
      await eventually(async () => (await ha2.instanceStatus()).provider.ownership, (o) => o === 'held', WAIT, 'ha2 holds the HaVip (confirmed)');

      serve('ha1'); // back up: ha1 returns to 200 and preempts
      await ha1.waitState('VI_1', 'MASTER', WAIT);
      await eventually(() => cloud.masterNode(), (m) => m === 'ha1', WAIT, 'ha1 MasterInstanceId again');
      const calls = await cloud.calls();
      assert.ok(!calls.some((c) => c.action === 'AssociateHaVip' || c.action === 'UnassociateHaVip'), 'no Associate/Unassociate on any transition');
    } finally {
      for (const s of servers.values()) s.kill('SIGKILL');
      await cloud.close();
    }
  });
});
