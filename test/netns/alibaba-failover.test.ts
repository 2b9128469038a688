// The alibaba provider end to end: two agents (unicast VRRPv3: a HaVip does not carry multicast) in
// the netns lab against "Alibaba Cloud" in a third namespace (test/netns/alibaba-cloud.ts: the VPC API
// and ECS metadata emulators; the HaVip's MasterInstanceId follows the gratuitous ARPs seen on the
// segment, as the real VPC does). The agents use the real @alicloud/vpc20160428 client with
// environment keys. Checked: the first election's GARP makes the master MasterInstanceId, confirmed
// (ownership held); kill -9 of the master → the backup announces and is confirmed with ≤ 3
// DescribeHaVips and no Associate/Unassociate; throttled DescribeHaVips are retried; an instance that
// is not associated reports it (NotAssociated, with the fix) instead of claiming ownership, and its
// FAULT hands mastership to the associated peer; the killed master returns and preempts back;
// `associate: at-start` associates once and waits for InUse.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Lab } from '../../src/lab/lab.js';
import { agentConfig, eventually, requireRoot, startAgent, unicastBetween, withLab, type AgentHandle } from './harness.js';
import { ALIBABA_AGENT_KEY, AlibabaCloud } from './alibaba-cloud.js';

const OPTS = { timeout: 120_000 };
const NODES = [
  { name: 'ha1', octet: 11 },
  { name: 'ha2', octet: 12 },
  { name: 'cloud', octet: 250 },
];
const HAVIP = '198.51.100.100';
const WAIT = 20_000;
/** Short retries; reconcile left long so a failover's calls are the failover's own. */
const TIMING = { confirmTimeout: 5, reconcile: 60, backoffBase: 0.2, backoffMax: 1, faultAfter: 6 };

Object.assign(process.env, {
  ALIBABA_CLOUD_ACCESS_KEY_ID: ALIBABA_AGENT_KEY.accessKeyId,
  ALIBABA_CLOUD_ACCESS_KEY_SECRET: ALIBABA_AGENT_KEY.accessKeySecret,
  ALIBABA_CLOUD_ECS_METADATA_DISABLED: 'true',
  ALIBABA_CLOUD_CLI_PROFILE_DISABLED: 'true',
});
delete process.env.ALIBABA_CLOUD_SECURITY_TOKEN;

async function startCloud(lab: Lab, associated: { ha1: boolean; ha2: boolean }, associateDelayMs = 0): Promise<AlibabaCloud> {
  return AlibabaCloud.start(lab, 'cloud', {
    associateDelayMs,
    region: 'cn-hangzhou',
    vpcCidr: '198.51.100.0/24',
    vSwitchCidr: '198.51.100.0/24',
    keys: [ALIBABA_AGENT_KEY],
    haVip: { ipAddress: HAVIP },
    instances: (['ha1', 'ha2'] as const).map((n) => ({ name: n, mac: lab.node(n).mac, privateIp: lab.node(n).ip, associated: associated[n] })),
  });
}

function agent(lab: Lab, cloud: AlibabaCloud, node: string, priority: number, extra: Record<string, unknown> = {}): AgentHandle {
  const cfg = agentConfig({ version: 3, vrid: 71, advertInterval: 0.5, priority, vips: [`${HAVIP}/24`], unicast: unicastBetween(lab, node, [node === 'ha1' ? 'ha2' : 'ha1']) });
  (cfg.instances['VI_1'] as Record<string, unknown>).provider = {
    type: 'alibaba',
    haVipId: cloud.ids.haVipId,
    endpoint: cloud.endpoint,
    protocol: 'http',
    metadataEndpoint: cloud.metadataUrl[node],
    timing: TIMING,
    ...extra,
  };
  return startAgent(lab, node, cfg);
}

async function ownership(a: AgentHandle, want: string): Promise<void> {
  await eventually(async () => (await a.instanceStatus()).provider.ownership, (o) => o === want, WAIT, `${a.label} ownership ${want}`, 200);
}

test('election, kill -9, preempt back: each master\'s GARP makes it MasterInstanceId, confirmed with ≤ 3 DescribeHaVips and no Associate/Unassociate', OPTS, async (t) => {
  if (!requireRoot(t)) return;
  await withLab(NODES, async (lab) => {
    const cloud = await startCloud(lab, { ha1: true, ha2: true });
    try {
      const ha1 = agent(lab, cloud, 'ha1', 200);
      const ha2 = agent(lab, cloud, 'ha2', 100);
      await ha1.waitState('VI_1', 'MASTER', WAIT);
      await ha2.waitState('VI_1', 'BACKUP', WAIT);
      await eventually(() => cloud.masterNode(), (m) => m === 'ha1', WAIT, 'ha1 MasterInstanceId');
      await ownership(ha1, 'held');
      await ownership(ha2, 'elsewhere'); // its start-up verify (right after the first release) read the HaVip
      const garps = await cloud.garps();
      assert.ok(garps.some((g) => g.instance === 'ha1' && g.taken.length > 0), 'the VPC learnt ha1 from its gratuitous ARP');
      const before = (await cloud.calls()).length;

      await ha1.kill9();
      await lab.setLink('ha1', false);
      await ha2.waitState('VI_1', 'MASTER', WAIT);
      await eventually(() => cloud.masterNode(), (m) => m === 'ha2', WAIT, 'ha2 MasterInstanceId after the failover');
      await ownership(ha2, 'held');
      const failover = (await cloud.calls(before)).filter((c) => c.from === lab.node('ha2').ip);
      assert.ok(failover.length >= 1 && failover.length <= 3, `API calls for the failover: ${failover.map((c) => c.action).join(', ')}`);
      assert.ok(failover.every((c) => c.action === 'DescribeHaVips' && c.status === 200), failover.map((c) => `${c.action} ${c.status}`).join(', '));
      const all = await cloud.calls();
      assert.ok(!all.some((c) => c.action === 'AssociateHaVip' || c.action === 'UnassociateHaVip'), 'no Associate/Unassociate ever');
      t.diagnostic(`calls per failover: ${failover.length}`);

      // Preempt back: ha1 returns (priority 200), takes over, and its GARP moves the HaVip back.
      await lab.setLink('ha1', true);
      const ha1again = agent(lab, cloud, 'ha1', 200);
      await ha1again.waitState('VI_1', 'MASTER', WAIT);
      await ha2.waitState('VI_1', 'BACKUP', WAIT);
      await eventually(() => cloud.masterNode(), (m) => m === 'ha1', WAIT, 'ha1 MasterInstanceId after preempting back');
      await ownership(ha1again, 'held');
      await eventually(() => lab.holdersOf(HAVIP), (h) => h.length === 1 && h[0] === 'ha1', WAIT, 'the address only on ha1');
      const final = await cloud.calls();
      assert.ok(!final.some((c) => c.action === 'AssociateHaVip' || c.action === 'UnassociateHaVip'), 'still no Associate/Unassociate');
    } finally {
      await cloud.close();
    }
  });
});

test('throttled DescribeHaVips are retried: the master is still confirmed', OPTS, async (t) => {
  if (!requireRoot(t)) return;
  await withLab(NODES, async (lab) => {
    const cloud = await startCloud(lab, { ha1: true, ha2: true });
    try {
      await cloud.call('fault', { kind: 'throttling', action: 'DescribeHaVips', times: 2 });
      const ha1 = agent(lab, cloud, 'ha1', 200);
      await ha1.waitState('VI_1', 'MASTER', WAIT);
      await eventually(() => cloud.masterNode(), (m) => m === 'ha1', WAIT, 'ha1 MasterInstanceId');
      await ownership(ha1, 'held');
      const calls = (await cloud.calls()).filter((c) => c.action === 'DescribeHaVips');
      assert.deepEqual(calls.slice(0, 2).map((c) => c.code), ['Throttling.User', 'Throttling.User']);
      assert.ok(calls.slice(2).some((c) => c.status === 200), 'then answered');
    } finally {
      await cloud.close();
    }
  });
});

test('an instance that is not associated reports it instead of claiming the HaVip; its FAULT hands over to the associated peer', OPTS, async (t) => {
  if (!requireRoot(t)) return;
  await withLab(NODES, async (lab) => {
    const cloud = await startCloud(lab, { ha1: false, ha2: true });
    try {
      const ha1 = agent(lab, cloud, 'ha1', 200);
      const ha2 = agent(lab, cloud, 'ha2', 100);
      const st = await eventually(
        async () => ((await ha1.instanceStatus().catch(() => null))?.provider ?? null) as { ownership: string; lastError: string | null; fault?: string | null; fix?: string | null } | null,
        (p) => p !== null && (/not associated/.test(p.lastError ?? '') || /not associated/.test(p.fault ?? '')),
        WAIT,
        'ha1 reports NotAssociated',
        200,
      );
      assert.match(st!.fix ?? '', /AssociateHaVip/);
      assert.notEqual(st!.ownership, 'held');
      await ha2.waitState('VI_1', 'MASTER', 30_000);
      await eventually(() => cloud.masterNode(), (m) => m === 'ha2', WAIT, 'ha2 MasterInstanceId');
      await ownership(ha2, 'held');
      assert.notEqual(await cloud.masterNode(), 'ha1');
      assert.ok(!(await lab.holdersOf(HAVIP)).includes('ha1'), 'ha1 does not keep the address');
    } finally {
      await cloud.close();
    }
  });
});

test('associate: at-start associates the instance once, waits for InUse, then holds the HaVip', OPTS, async (t) => {
  if (!requireRoot(t)) return;
  await withLab(NODES, async (lab) => {
    const cloud = await startCloud(lab, { ha1: false, ha2: true }, 1_500);
    try {
      const ha1 = agent(lab, cloud, 'ha1', 200, { associate: 'at-start' });
      await ha1.waitState('VI_1', 'MASTER', WAIT);
      await eventually(() => cloud.masterNode(), (m) => m === 'ha1', WAIT, 'ha1 MasterInstanceId');
      await ownership(ha1, 'held');
      const h = await cloud.havip();
      assert.equal(h.status, 'InUse');
      assert.deepEqual([...h.associatedInstances].sort(), [cloud.instanceId('ha1'), cloud.instanceId('ha2')].sort());
      const associates = (await cloud.calls()).filter((c) => c.action === 'AssociateHaVip');
      assert.equal(associates.length, 1, 'associated once');
      assert.equal(associates[0]!.from, lab.node('ha1').ip);
      assert.equal(associates[0]!.status, 200);
    } finally {
      await cloud.close();
    }
  });
});
