// The aws provider's route-table and elastic-ip modes end to end: two agents (unicast VRRPv3, as on
// AWS) in the netns lab against "AWS" in a third namespace (test/netns/aws-cloud.ts: the EC2 and
// IMDSv2 emulators, real SDK clients in the agents). Each mode: the first election puts the route /
// the Elastic IP on the master's ENI; kill -9 of the master → the backup moves it, confirmed in EC2;
// the other agent never touches it while BACKUP. (secondary-ip, the default mode, has its own suite,
// aws-failover.test.ts.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Lab } from '../../src/lab/lab.js';
import { agentConfig, eventually, requireRoot, startAgent, unicastBetween, withLab, type AgentHandle } from './harness.js';
import { AGENT_KEY, AwsCloud, type World } from './aws-cloud.js';

const OPTS = { timeout: 90_000 };
const NODES = [
  { name: 'ha1', octet: 11 },
  { name: 'ha2', octet: 12 },
  { name: 'cloud', octet: 250 },
];
const WAIT = 20_000;
/** Short provider timing, so a failover converges in a few seconds. */
const TIMING = { confirmTimeout: 5, reconcile: 5, backoffBase: 0.2, backoffMax: 1, faultAfter: 20 };

Object.assign(process.env, { AWS_ACCESS_KEY_ID: AGENT_KEY.accessKeyId, AWS_SECRET_ACCESS_KEY: AGENT_KEY.secretAccessKey, AWS_EC2_METADATA_DISABLED: 'true' });
delete process.env.AWS_PROFILE;
delete process.env.AWS_SESSION_TOKEN;

function world(lab: Lab, extra: Partial<World>): Omit<World, 'host'> {
  return {
    region: 'eu-west-1',
    vpcCidr: '198.51.100.0/24',
    subnetCidr: '198.51.100.0/24',
    keys: [AGENT_KEY],
    instances: ['ha1', 'ha2'].map((n) => ({ name: n, mac: lab.node(n).mac, privateIp: lab.node(n).ip, sourceDestCheck: false })),
    ...extra,
  };
}

function agent(lab: Lab, cloud: AwsCloud, node: string, priority: number, vip: string, provider: Record<string, unknown>): AgentHandle {
  const cfg = agentConfig({ version: 3, vrid: 61, advertInterval: 0.5, priority, vips: [vip], unicast: unicastBetween(lab, node, [node === 'ha1' ? 'ha2' : 'ha1']) });
  (cfg.instances['VI_1'] as Record<string, unknown>).provider = { type: 'aws', region: 'eu-west-1', endpoint: cloud.ec2Url, imdsEndpoint: cloud.imdsUrl[node], timing: TIMING, ...provider };
  return startAgent(lab, node, cfg);
}

async function ownership(a: AgentHandle, want: string): Promise<void> {
  await eventually(async () => (await a.instanceStatus()).provider.ownership, (o) => o === want, WAIT, `${a.label} ownership ${want}`, 200);
}

test('route-table mode: the overlay /32 is routed to the master\'s ENI and follows a kill -9 to the backup', OPTS, async (t) => {
  if (!requireRoot(t)) return;
  const VIP = '203.0.113.10';
  await withLab(NODES, async (lab) => {
    const cloud = await AwsCloud.start(lab, 'cloud', world(lab, { routeTables: [{ destinations: [`${VIP}/32`] }, { destinations: [`${VIP}/32`] }] }));
    try {
      const tables = cloud.ids.routeTableIds;
      const eni = (n: string) => cloud.instance(n).eni;
      const routes = async () => Object.values((await cloud.snapshot()).routes).map((r) => r[`${VIP}/32`]);
      // Start from the route on ha2's ENI, so the first election (ha1) has to move it.
      const ha2first = agent(lab, cloud, 'ha2', 250, `${VIP}/32`, { mode: 'route-table', routeTableIds: tables });
      await ha2first.waitState('VI_1', 'MASTER', WAIT);
      await eventually(routes, (r) => r.every((x) => x === eni('ha2')), WAIT, 'both routes on ha2');
      await ha2first.stop('SIGTERM');

      const ha1 = agent(lab, cloud, 'ha1', 200, `${VIP}/32`, { mode: 'route-table', routeTableIds: tables });
      const ha2 = agent(lab, cloud, 'ha2', 100, `${VIP}/32`, { mode: 'route-table', routeTableIds: tables });
      await ha1.waitState('VI_1', 'MASTER', WAIT);
      await ha2.waitState('VI_1', 'BACKUP', WAIT);
      await eventually(routes, (r) => r.every((x) => x === eni('ha1')), WAIT, 'both routes on ha1');
      await ownership(ha1, 'held');
      assert.deepEqual(await lab.holdersOf(VIP), ['ha1'], 'the overlay address is on the master\'s interface only');
      const writesBefore = (await cloud.calls()).filter((c) => c.action === 'ReplaceRoute').length;

      await ha1.kill9();
      await lab.setLink('ha1', false);
      await ha2.waitState('VI_1', 'MASTER', WAIT);
      await eventually(routes, (r) => r.every((x) => x === eni('ha2')), WAIT, 'both routes on ha2 after the failover');
      await ownership(ha2, 'held');
      assert.ok((await lab.holdersOf(VIP)).includes('ha2'), 'on the new master\'s interface (the killed node keeps its own copy, as a dead machine would)');
      const replaces = (await cloud.calls()).filter((c) => c.action === 'ReplaceRoute').slice(writesBefore);
      assert.equal(replaces.length, tables.length, 'one ReplaceRoute per table for the failover');
      assert.ok(replaces.every((c) => c.from === lab.node('ha2').ip && c.status === 200));
    } finally {
      await cloud.close();
    }
  });
});

test('elastic-ip mode: the Elastic IP is associated with the master\'s ENI and follows a kill -9 to the backup', OPTS, async (t) => {
  if (!requireRoot(t)) return;
  const EIP = '203.0.113.20';
  await withLab(NODES, async (lab) => {
    const cloud = await AwsCloud.start(lab, 'cloud', world(lab, { elasticIps: [{ publicIp: EIP }] }));
    try {
      const allocationId = cloud.ids.allocationIds[0]!;
      const where = async () => (await cloud.snapshot()).eips[allocationId]!;
      const ha1 = agent(lab, cloud, 'ha1', 200, `${EIP}/32`, { mode: 'elastic-ip', allocationId });
      const ha2 = agent(lab, cloud, 'ha2', 100, `${EIP}/32`, { mode: 'elastic-ip', allocationId });
      await ha1.waitState('VI_1', 'MASTER', WAIT);
      await ha2.waitState('VI_1', 'BACKUP', WAIT);
      await ownership(ha1, 'held');
      assert.deepEqual(await where(), { eni: cloud.instance('ha1').eni, privateIp: lab.node('ha1').ip });
      assert.deepEqual(await lab.holdersOf(EIP), [], 'the public address is never put on an interface');
      const before = (await cloud.calls()).length;

      await ha1.kill9();
      await lab.setLink('ha1', false);
      await ha2.waitState('VI_1', 'MASTER', WAIT);
      await eventually(where, (w) => w.eni === cloud.instance('ha2').eni, WAIT, 'the Elastic IP on ha2');
      assert.deepEqual(await where(), { eni: cloud.instance('ha2').eni, privateIp: lab.node('ha2').ip }, 'to ha2\'s primary private address (the default)');
      await ownership(ha2, 'held');
      const failover = (await cloud.calls(before)).filter((c) => c.from === lab.node('ha2').ip);
      assert.equal(failover.filter((c) => c.action === 'AssociateAddress').length, 1, 'one AssociateAddress');
      assert.ok(failover.filter((c) => c.action !== 'DescribeAddresses').every((c) => c.action === 'AssociateAddress'), failover.map((c) => c.action).join(', '));
    } finally {
      await cloud.close();
    }
  });
});
