// `ha-agent provider test aws` through the real CLI inside a lab namespace, against "AWS" (the EC2,
// IMDSv2 and IAM/STS emulators) in the cloud namespace: a correct setup passes every check (exit 0,
// every line ✓), and five broken setups each fail with the right ✗ line and its fix (exit 1):
// a missing permission, a VIP outside the subnet, a multicast config, a security group without
// protocol 112, an unknown ENI. Plus --json (one document, same exit code) and --simulate-iam.
// Nothing moves: the cloud's snapshot is the same after every run, and no write without DryRun
// reached EC2.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { stringify } from 'yaml';
import { agentCli, agentConfig, labDir, onLabCleanup, requireRoot, unicastBetween, withLab } from './harness.js';
import { AGENT_KEY, AwsCloud, type World } from './aws-cloud.js';
import type { Lab } from '../../src/lab/lab.js';

const VIP = '198.51.100.100';
const NODES = [
  { name: 'ha1', octet: 11 },
  { name: 'ha2', octet: 12 },
  { name: 'cloud', octet: 250 },
];

function world(lab: Lab, ha1Group: 'vrrp' | 'no-vrrp' = 'vrrp'): Omit<World, 'host'> {
  return {
    region: 'eu-west-1',
    vpcCidr: '198.51.100.0/24',
    subnetCidr: '198.51.100.0/25',
    keys: [AGENT_KEY],
    instances: [
      { name: 'ha1', mac: lab.node('ha1').mac, privateIp: lab.node('ha1').ip, securityGroup: ha1Group },
      { name: 'ha2', mac: lab.node('ha2').mac, privateIp: lab.node('ha2').ip, secondaryIps: [VIP] },
    ],
  };
}

interface Variant {
  vip?: string;
  multicast?: boolean;
  networkInterfaceId?: string;
}

/** ha1's config: VRRP to ha2 over unicast, provider aws against the cloud's endpoints. */
function configFile(lab: Lab, cloud: AwsCloud, name: string, v: Variant = {}): string {
  const cfg = agentConfig({
    version: 3,
    vrid: 51,
    priority: 150,
    advertInterval: 1,
    vips: [`${v.vip ?? VIP}/32`],
    ...(v.multicast ? {} : { unicast: unicastBetween(lab, 'ha1', ['ha2']) }),
  });
  (cfg.instances.VI_1 as Record<string, unknown>).provider = {
    type: 'aws',
    endpoint: cloud.ec2Url,
    imdsEndpoint: cloud.imdsUrl.ha1,
    ...(v.networkInterfaceId ? { networkInterfaceId: v.networkInterfaceId } : {}),
  };
  const file = join(labDir(lab), `${name}.yaml`);
  writeFileSync(file, stringify(cfg));
  return file;
}

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
  /** The check lines: [mark, name, detail]. */
  lines: { ok: boolean; check: string; detail: string; fix?: string }[];
}

async function providerTest(lab: Lab, cloud: AwsCloud, home: string, file: string, extra: string[] = []): Promise<Result> {
  const before = await cloud.snapshot();
  const callsBefore = (await cloud.calls()).length;
  const r = await lab.exec('ha1', [process.execPath, agentCli(), 'provider', 'test', 'aws', '--config', file, ...extra], {
    timeoutMs: 60_000,
    env: {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: home,
      AWS_ACCESS_KEY_ID: AGENT_KEY.accessKeyId,
      AWS_SECRET_ACCESS_KEY: AGENT_KEY.secretAccessKey,
      AWS_EC2_METADATA_DISABLED: 'true',
      AWS_ENDPOINT_URL_IAM: cloud.iamUrl,
      AWS_ENDPOINT_URL_STS: cloud.iamUrl,
    },
  });
  // Never moves a VIP: same holders, routes and EIPs; EC2 saw only reads and DryRuns.
  assert.deepEqual(await cloud.snapshot(), before, 'provider test changed the cloud');
  const calls = (await cloud.calls(callsBefore)).map((c) => c.action);
  assert.ok(!calls.some((a) => a === 'AssignPrivateIpAddresses' || a === 'UnassignPrivateIpAddresses'), calls.join(' '));
  const lines: Result['lines'] = [];
  for (const l of r.stdout.split('\n')) {
    const m = /^ {2}([✓✗]) (.+?): (.*)$/.exec(l);
    if (m) lines.push({ ok: m[1] === '✓', check: m[2]!, detail: m[3]! });
    const f = /^ {6}fix: (.*)$/.exec(l);
    if (f && lines.length > 0) lines[lines.length - 1]!.fix = f[1]!;
  }
  return { code: r.code, stdout: r.stdout, stderr: r.stderr, lines };
}

const failed = (r: Result) => r.lines.filter((l) => !l.ok);

async function inCloud(lab: Lab, w: Omit<World, 'host'>): Promise<{ cloud: AwsCloud; home: string }> {
  const cloud = await AwsCloud.start(lab, 'cloud', w);
  onLabCleanup(lab, () => cloud.close());
  const home = mkdtempSync(join(tmpdir(), 'ha-aws-home-'));
  onLabCleanup(lab, () => rmSync(home, { recursive: true, force: true }));
  return { cloud, home };
}

test('provider test aws in a lab: a correct setup passes, four broken ones fail with the right ✗ line, --json and --simulate-iam', { timeout: 240_000 }, async (t) => {
  if (!requireRoot(t)) return;
  await withLab(NODES, async (lab) => {
    const { cloud, home } = await inCloud(lab, world(lab));
    const ha1 = cloud.instance('ha1');
    const ha2 = cloud.instance('ha2');

    await t.test('correct setup: exit 0, every line ✓, the holder named', async () => {
      const r = await providerTest(lab, cloud, home, configFile(lab, cloud, 'ok'));
      assert.equal(r.code, 0, r.stdout + r.stderr);
      assert.ok(r.lines.length >= 15, r.stdout);
      assert.deepEqual(failed(r), [], r.stdout);
      assert.match(r.stdout, /all checks passed/);
      const names = r.lines.map((l) => l.check);
      for (const n of ['IMDSv2', 'instance', 'interface → ENI', 'credentials', 'EC2 API', 'permission ec2:DescribeNetworkInterfaces', 'permission ec2:AssignPrivateIpAddresses', 'ENI', `VIP ${VIP}`, `holder of ${VIP}`, 'ENI secondary-address limit', 'security groups pass VRRP', 'VRRP unicast', 'local capabilities'])
        assert.ok(names.includes(n), `no "${n}" line in\n${r.stdout}`);
      assert.match(r.stdout, new RegExp(`interface → ENI: eth0 → ${lab.node('ha1').mac} → ${ha1.eni}`));
      assert.match(r.stdout, new RegExp(`holder of ${VIP}: ${ha2.eni} of instance ${ha2.instanceId}`));
      assert.match(r.stdout, /credentials: environment, key …0001/);
      assert.doesNotMatch(r.stdout, new RegExp(AGENT_KEY.secretAccessKey));
    });

    await t.test('missing permission (ec2:DescribeNetworkInterfaces): exit 1, that ✗ naming the action', async () => {
      await cloud.call('allow', { accessKeyId: AGENT_KEY.accessKeyId, actions: ['DescribeInstances', 'DescribeInstanceTypes', 'DescribeSecurityGroups', 'AssignPrivateIpAddresses'] });
      try {
        const r = await providerTest(lab, cloud, home, configFile(lab, cloud, 'perm'));
        assert.equal(r.code, 1, r.stdout + r.stderr);
        assert.deepEqual(failed(r).map((l) => l.check), ['permission ec2:DescribeNetworkInterfaces'], r.stdout);
        assert.match(failed(r)[0]!.fix!, /allow ec2:DescribeNetworkInterfaces/);
        assert.match(r.stdout, /1 check\(s\) failed/);
      } finally {
        await cloud.call('allow', { accessKeyId: AGENT_KEY.accessKeyId, actions: null });
      }
    });

    await t.test('VIP outside the subnet: exit 1, ✗ VIP line with the subnet CIDR', async () => {
      const r = await providerTest(lab, cloud, home, configFile(lab, cloud, 'outside', { vip: '198.51.100.200' }));
      assert.equal(r.code, 1, r.stdout + r.stderr);
      assert.deepEqual(failed(r).map((l) => l.check), ['VIP 198.51.100.200'], r.stdout);
      assert.match(failed(r)[0]!.detail, /outside subnet subnet-\w+ \(198\.51\.100\.0\/25\)/);
      assert.match(failed(r)[0]!.fix!, /inside 198\.51\.100\.0\/25/);
    });

    await t.test('multicast config: exit 1, ✗ VRRP unicast with the unicast fix', async () => {
      const r = await providerTest(lab, cloud, home, configFile(lab, cloud, 'multicast', { multicast: true }));
      assert.equal(r.code, 1, r.stdout + r.stderr);
      assert.deepEqual(failed(r).map((l) => l.check), ['VRRP unicast'], r.stdout);
      assert.match(failed(r)[0]!.detail, /multicast does not cross an AWS VPC/);
      assert.match(failed(r)[0]!.fix!, /configure unicast/);
    });

    await t.test('unknown ENI in the config: exit 1, ✗ interface → ENI and ✗ ENI, both naming it', async () => {
      const unknown = 'eni-0123456789abcdef0';
      const r = await providerTest(lab, cloud, home, configFile(lab, cloud, 'eni', { networkInterfaceId: unknown }));
      assert.equal(r.code, 1, r.stdout + r.stderr);
      assert.deepEqual(failed(r).map((l) => l.check), ['interface → ENI', 'ENI'], r.stdout);
      assert.match(failed(r)[0]!.detail, new RegExp(`${unknown} is not the ENI of eth0 .*${ha1.eni}`));
      assert.match(failed(r)[1]!.detail, new RegExp(`${unknown} does not exist in eu-west-1`));
      assert.match(failed(r)[1]!.fix!, new RegExp(`${unknown} is unknown to EC2`));
    });

    await t.test('--json: one JSON document, instances → checks; exit code as in text mode', async () => {
      const ok = await providerTest(lab, cloud, home, configFile(lab, cloud, 'json-ok'), ['--json']);
      assert.equal(ok.code, 0, ok.stdout + ok.stderr);
      const doc = JSON.parse(ok.stdout) as { ok: boolean; failed: number; instances: { name: string; type: string; vips: string[]; checks: { check: string; ok: boolean; detail: string; fix?: string }[] }[] };
      assert.deepEqual([doc.ok, doc.failed, doc.instances.length, doc.instances[0]!.name, doc.instances[0]!.type, doc.instances[0]!.vips], [true, 0, 1, 'VI_1', 'aws', [`${VIP}/32`]]);
      assert.ok(doc.instances[0]!.checks.length >= 15 && doc.instances[0]!.checks.every((c) => c.ok && typeof c.detail === 'string'));
      const bad = await providerTest(lab, cloud, home, configFile(lab, cloud, 'json-bad', { multicast: true }), ['--json']);
      assert.equal(bad.code, 1);
      const badDoc = JSON.parse(bad.stdout) as typeof doc;
      assert.equal(badDoc.ok, false);
      assert.deepEqual(badDoc.instances[0]!.checks.filter((c) => !c.ok).map((c) => [c.check, /unicast/.test(c.fix ?? '')]), [['VRRP unicast', true]]);
    });

    await t.test('--simulate-iam: IAM denies ec2:AssignPrivateIpAddresses → exit 1, that ✗ (no DryRun exists for it)', async () => {
      const user = 'arn:aws:iam::123456789012:user/lab-agent';
      await cloud.call('iamPolicy', { principalArn: user, allow: ['ec2:Describe*', 'iam:SimulatePrincipalPolicy'] });
      const r = await providerTest(lab, cloud, home, configFile(lab, cloud, 'sim'), ['--simulate-iam']);
      assert.equal(r.code, 1, r.stdout + r.stderr);
      assert.deepEqual(failed(r).map((l) => l.check), ['permission ec2:AssignPrivateIpAddresses'], r.stdout);
      assert.match(failed(r)[0]!.detail, new RegExp(`IAM says implicitDeny for ${user.replace(/\//g, '\\/')}`));
      await cloud.call('iamPolicy', { principalArn: user, allow: null });
      const ok = await providerTest(lab, cloud, home, configFile(lab, cloud, 'sim-ok'), ['--simulate-iam']);
      assert.equal(ok.code, 0, ok.stdout + ok.stderr);
      assert.match(ok.stdout, /✓ IAM simulation: iam:SimulatePrincipalPolicy for arn:aws:iam::123456789012:user\/lab-agent/);
      assert.match(ok.stdout, /✓ permission ec2:AssignPrivateIpAddresses: allowed \(IAM simulation/);
    });
  });
});

test('provider test aws in a lab: a security group without protocol 112 → exit 1, ✗ naming the group and protocol 112', { timeout: 120_000 }, async (t) => {
  if (!requireRoot(t)) return;
  await withLab(NODES, async (lab) => {
    const { cloud, home } = await inCloud(lab, world(lab, 'no-vrrp'));
    const r = await providerTest(lab, cloud, home, configFile(lab, cloud, 'sg'));
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.deepEqual(failed(r).map((l) => l.check), ['security groups pass VRRP'], r.stdout);
    const plain = cloud.ids.securityGroups.plain;
    assert.match(failed(r)[0]!.detail, new RegExp(`${plain} on ${cloud.instance('ha1').eni} \\(this node\\) admits no IP protocol 112 from ${lab.node('ha2').ip}`));
    assert.match(failed(r)[0]!.fix!, new RegExp(`--group-id ${plain} .*IpProtocol=112`));
  });
});
