// `provider test aws` checks (providers/aws/preflight.ts), in process, with the real SDK clients
// against the EC2, IMDSv2 and IAM/STS emulators on 127.0.0.1: a correct setup passes every check;
// each broken setup fails exactly the check(s) that name what is wrong, with a concrete fix; nothing
// is ever written (no EC2 write without DryRun reaches the emulator). All three modes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import pino from 'pino';
import { Ec2State } from '../emulators/aws/ec2-state.js';
import { startEc2Emulator, type Ec2Emulator } from '../emulators/aws/ec2-server.js';
import { startImdsEmulator, type ImdsEmulator } from '../emulators/aws/imds.js';
import { startIamEmulator, type IamEmulator } from '../emulators/aws/iam-server.js';
import { Imds } from '../../providers/aws/imds.js';
import { credentialChain } from '../../providers/aws/credentials.js';
import { awsPreflight, type AwsPreflightConfig, type AwsPreflightInput } from '../../providers/aws/preflight.js';
import type { PreflightCheck, ProviderContext } from '../../src/provider/types.js';

const KEY = { accessKeyId: 'AKIDPREFLIGHT0000001', secretAccessKey: 'preflightSecret00000000000000000000000000' };
const USER_ARN = 'arn:aws:iam::123456789012:user/ha-agent';
const VIP = '198.51.100.100';
const PUBLIC_VIP = '203.0.113.20';
const ROUTED_VIP = '203.0.113.10';
const ALL_CAPS = (1n << 12n) | (1n << 13n);
const WRITES = new Set(['AssignPrivateIpAddresses', 'UnassignPrivateIpAddresses', 'ReplaceRoute', 'AssociateAddress', 'ModifyNetworkInterfaceAttribute']);

interface Setup {
  /** ha1's security group: with VRRP (default) or without. */
  noVrrpGroup?: boolean;
  instanceType?: string;
  ha1Secondaries?: string[];
  sourceDestCheck?: boolean;
  clockOffsetMs?: number;
}

interface World {
  state: Ec2State;
  ec2: Ec2Emulator;
  imds: ImdsEmulator;
  iam: IamEmulator;
  ha1: { instanceId: string; eni: string; mac: string };
  ha2: { instanceId: string; eni: string };
  subnetId: string;
  sg: { vrrp: string; plain: string };
  routeTableId: string;
  allocationId: string;
}

async function withWorld(setup: Setup, fn: (w: World) => Promise<void>): Promise<void> {
  const saved = process.env.AWS_EC2_METADATA_DISABLED;
  process.env.AWS_EC2_METADATA_DISABLED = 'true';
  const state = new Ec2State({ region: 'eu-west-1' });
  const vpc = state.addVpc({ cidrs: ['198.51.100.0/24'] });
  const subnet = state.addSubnet({ vpcId: vpc.vpcId, cidr: '198.51.100.0/25', availabilityZone: 'eu-west-1b' });
  const vrrp = state.addSecurityGroup({ groupName: 'ha-vrrp', vpcId: vpc.vpcId, ingress: [{ ipProtocol: '112', cidrs: ['198.51.100.0/24'] }] });
  const plain = state.addSecurityGroup({ groupName: 'ha-no-vrrp', vpcId: vpc.vpcId, ingress: [{ ipProtocol: 'tcp', fromPort: 22, toPort: 22, cidrs: ['198.51.100.0/24'] }] });
  const A = state.addInstance({
    subnetId: subnet.subnetId,
    privateIp: '198.51.100.11',
    securityGroupIds: [setup.noVrrpGroup ? plain.groupId : vrrp.groupId],
    ...(setup.instanceType ? { instanceType: setup.instanceType } : {}),
    ...(setup.ha1Secondaries ? { secondaryIps: setup.ha1Secondaries } : {}),
    ...(setup.sourceDestCheck !== undefined ? { sourceDestCheck: setup.sourceDestCheck } : {}),
  });
  const B = state.addInstance({ subnetId: subnet.subnetId, privateIp: '198.51.100.12', secondaryIps: [VIP], securityGroupIds: [vrrp.groupId] });
  const rtb = state.addRouteTable({ vpcId: vpc.vpcId, subnetIds: [subnet.subnetId], routes: [{ destinationCidrBlock: `${ROUTED_VIP}/32`, networkInterfaceId: B.eni.networkInterfaceId }] });
  const eip = state.addAddress({ publicIp: PUBLIC_VIP, networkInterfaceId: B.eni.networkInterfaceId });
  const clock = () => Date.now() + (setup.clockOffsetMs ?? 0);
  const ec2 = await startEc2Emulator({ state, credentials: [KEY], clock });
  const imds = await startImdsEmulator({ view: state.imdsView(A.instance.instanceId) });
  const iam = await startIamEmulator({ keys: [{ ...KEY, callerArn: USER_ARN }] });
  try {
    await fn({
      state,
      ec2,
      imds,
      iam,
      ha1: { instanceId: A.instance.instanceId, eni: A.eni.networkInterfaceId, mac: A.eni.macAddress },
      ha2: { instanceId: B.instance.instanceId, eni: B.eni.networkInterfaceId },
      subnetId: subnet.subnetId,
      sg: { vrrp: vrrp.groupId, plain: plain.groupId },
      routeTableId: rtb.routeTableId,
      allocationId: eip.allocationId,
    });
  } finally {
    await Promise.all([ec2.close(), imds.close(), iam.close()]);
    if (saved === undefined) delete process.env.AWS_EC2_METADATA_DISABLED;
    else process.env.AWS_EC2_METADATA_DISABLED = saved;
  }
}

function context(vips: string[], unicast: ProviderContext['unicast'] = { source: '198.51.100.11', peers: ['198.51.100.12'] }): ProviderContext {
  return {
    instanceName: 'VI_1',
    interface: 'eth0',
    vips: vips.map((v) => `${v}/32`),
    unicast,
    garp: { repeat: 5, delay: 5, refresh: 0, refreshRepeat: 1, lowerPrioRepeat: 5 },
    timing: { operationTimeoutMs: 10_000, confirmTimeoutMs: 6_000, reconcileMs: 30_000, backoffBaseMs: 1_000, backoffMaxMs: 30_000, faultAfterMs: 20_000 },
    log: pino({ level: 'silent' }),
  };
}

interface Run {
  config?: Partial<AwsPreflightConfig>;
  ctx?: ProviderContext;
  simulateIam?: boolean;
  env?: NodeJS.ProcessEnv;
  capabilities?: bigint | null;
  /** The interface's MAC (default: ha1's ENI's). */
  mac?: string | null;
}

async function run(w: World, r: Run = {}): Promise<PreflightCheck[]> {
  const imds = new Imds({ endpoint: w.imds.url, timeoutMs: 2_000 });
  const input: AwsPreflightInput = {
    ctx: r.ctx ?? context([VIP]),
    config: { mode: 'secondary-ip', endpoint: w.ec2.url, imdsEndpoint: w.imds.url, ...r.config },
    imds,
    credentials: credentialChain(imds, r.env ?? { AWS_ACCESS_KEY_ID: KEY.accessKeyId, AWS_SECRET_ACCESS_KEY: KEY.secretAccessKey, HOME: '/nonexistent' }),
    options: { simulateIam: r.simulateIam ?? false },
    macOf: () => (r.mac === undefined ? w.ha1.mac : r.mac),
    stsEndpoint: w.iam.url,
    iamEndpoint: w.iam.url,
    capabilities: () => (r.capabilities === undefined ? ALL_CAPS : r.capabilities),
  };
  const out: PreflightCheck[] = [];
  for await (const c of awsPreflight(input)) out.push(c);
  // Never moves a VIP: every EC2 write the checks made was a DryRun, and Assign/Unassign never went out.
  for (const call of w.ec2.calls) if (WRITES.has(call.action)) assert.equal(call.params.DryRun, 'true', `${call.action} without DryRun`);
  assert.ok(!w.ec2.calls.some((c) => c.action === 'AssignPrivateIpAddresses' || c.action === 'UnassignPrivateIpAddresses'));
  return out;
}

const failures = (checks: PreflightCheck[]) => checks.filter((c) => !c.ok);
const byName = (checks: PreflightCheck[], name: string) => {
  const c = checks.find((x) => x.check === name);
  assert.ok(c, `no check "${name}" in ${checks.map((x) => x.check).join(' | ')}`);
  return c;
};
const show = (checks: PreflightCheck[]) => checks.map((c) => `${c.ok ? '✓' : '✗'} ${c.check}: ${c.detail}${c.fix ? ` — fix: ${c.fix}` : ''}`).join('\n');

test('secondary-ip, correct setup: every check passes, one line per check in order, and who holds the VIP is said', async () => {
  await withWorld({}, async (w) => {
    const checks = await run(w);
    assert.deepEqual(failures(checks), [], show(checks));
    assert.deepEqual(
      checks.map((c) => c.check),
      [
        'IMDSv2',
        'instance',
        'interface → ENI',
        'credentials',
        'EC2 API',
        'permission ec2:DescribeNetworkInterfaces',
        'permission ec2:DescribeInstances',
        'permission ec2:DescribeInstanceTypes',
        'permission ec2:DescribeSecurityGroups',
        'permission ec2:AssignPrivateIpAddresses',
        'ENI',
        `VIP ${VIP}`,
        `holder of ${VIP}`,
        'ENI secondary-address limit',
        'security groups pass VRRP',
        'VRRP unicast',
        'local capabilities',
      ],
    );
    assert.match(byName(checks, 'instance').detail, new RegExp(`${w.ha1.instanceId} in eu-west-1 \\(eu-west-1b\\)`));
    assert.match(byName(checks, 'interface → ENI').detail, new RegExp(`eth0 → ${w.ha1.mac} → ${w.ha1.eni}.*198\\.51\\.100\\.0/25`));
    const creds = byName(checks, 'credentials').detail;
    assert.match(creds, /^environment, key …0001, no expiry$/);
    assert.ok(!creds.includes(KEY.secretAccessKey.slice(0, 8)), 'the secret never appears');
    assert.match(byName(checks, 'EC2 API').detail, /signature accepted, clock skew (under 1 s|-?\d+ s)/);
    assert.match(byName(checks, 'permission ec2:DescribeNetworkInterfaces').detail, /allowed \(DryRun/);
    assert.match(byName(checks, 'permission ec2:AssignPrivateIpAddresses').detail, /unverified: .*no DryRun.*--simulate-iam/, 'said honestly');
    assert.equal(byName(checks, `holder of ${VIP}`).detail, `${w.ha2.eni} of instance ${w.ha2.instanceId}`);
    assert.match(byName(checks, 'ENI secondary-address limit').detail, /^0 of 9 secondary addresses used \(c5\.large: 10 per ENI\); the VIPs need 1 more$/);
    assert.match(byName(checks, 'local capabilities').detail, /CAP_NET_RAW.*CAP_NET_ADMIN/);
  });
});

test('missing permission: ec2:DescribeNetworkInterfaces refused → exactly that ✗, naming the action; the checks that need it are left out and listed', async () => {
  await withWorld({}, async (w) => {
    w.ec2.setAllowedActions(KEY.accessKeyId, ['DescribeInstances', 'DescribeInstanceTypes', 'DescribeSecurityGroups', 'AssignPrivateIpAddresses']);
    const checks = await run(w);
    const bad = failures(checks);
    assert.deepEqual(bad.map((c) => c.check), ['permission ec2:DescribeNetworkInterfaces'], show(checks));
    assert.match(bad[0]!.detail, /UnauthorizedOperation.*not checked: the ENI, who holds each VIP/);
    assert.match(bad[0]!.fix!, /allow ec2:DescribeNetworkInterfaces .*\(environment\)/);
    assert.ok(byName(checks, 'EC2 API').ok, 'UnauthorizedOperation still proves the signature was accepted');
    assert.ok(!checks.some((c) => c.check === 'ENI' || c.check.startsWith('holder of')), 'not run, not faked');
  });
});

test('missing write permission, --simulate-iam: IAM says implicitDeny for ec2:AssignPrivateIpAddresses → that ✗ with the action and the principal', async () => {
  await withWorld({}, async (w) => {
    w.iam.setPolicy(USER_ARN, { allow: ['ec2:Describe*', 'ec2:DescribeNetworkInterfaces', 'iam:SimulatePrincipalPolicy'] });
    const checks = await run(w, { simulateIam: true });
    const bad = failures(checks);
    assert.deepEqual(bad.map((c) => c.check), ['permission ec2:AssignPrivateIpAddresses'], show(checks));
    assert.match(bad[0]!.detail, /IAM says implicitDeny for arn:aws:iam::123456789012:user\/ha-agent/);
    assert.match(bad[0]!.fix!, /allow ec2:AssignPrivateIpAddresses in the IAM policy of arn:aws:iam::123456789012:user\/ha-agent/);
    assert.match(byName(checks, 'IAM simulation').detail, /user\/ha-agent: 2 actions/);
    assert.deepEqual(
      w.iam.calls.map((c) => `${c.service}:${c.action}:${c.status}`),
      ['sts:GetCallerIdentity:200', 'iam:SimulatePrincipalPolicy:200'],
    );
    // Granted: the same line turns ✓ and says where the answer came from.
    w.iam.setPolicy(USER_ARN, { allow: ['ec2:*', 'iam:SimulatePrincipalPolicy'] });
    const ok = await run(w, { simulateIam: true });
    assert.deepEqual(failures(ok), [], show(ok));
    assert.match(byName(ok, 'permission ec2:AssignPrivateIpAddresses').detail, /allowed \(IAM simulation for arn:aws:iam::123456789012:user\/ha-agent; the API has no DryRun\)/);
  });
});

test('--simulate-iam without iam:SimulatePrincipalPolicy → ✗ IAM simulation with the fix; the write stays "unverified"', async () => {
  await withWorld({}, async (w) => {
    w.iam.setPolicy(USER_ARN, { allow: ['ec2:*'] });
    const checks = await run(w, { simulateIam: true });
    assert.deepEqual(failures(checks).map((c) => c.check), ['IAM simulation'], show(checks));
    assert.match(byName(checks, 'IAM simulation').fix!, /allow iam:SimulatePrincipalPolicy .* or run without --simulate-iam/);
    assert.match(byName(checks, 'permission ec2:AssignPrivateIpAddresses').detail, /^unverified/);
  });
});

test('VIP outside the subnet → ✗ VIP line naming the subnet CIDR (and route-table mode as the way out)', async () => {
  await withWorld({}, async (w) => {
    const outside = '198.51.100.200';
    const checks = await run(w, { ctx: context([outside]) });
    const bad = failures(checks);
    assert.deepEqual(bad.map((c) => c.check), [`VIP ${outside}`], show(checks));
    assert.match(bad[0]!.detail, new RegExp(`outside subnet ${w.subnetId} \\(198\\.51\\.100\\.0/25\\)`));
    assert.match(bad[0]!.fix!, /inside 198\.51\.100\.0\/25 .*route-table/);
    assert.equal(byName(checks, `holder of ${outside}`).detail, 'nobody holds it yet (the first MASTER assigns it)');
  });
});

test('VIP reserved by AWS, or another ENI\'s primary address → ✗ with the reason', async () => {
  await withWorld({}, async (w) => {
    const reserved = await run(w, { ctx: context(['198.51.100.1']) });
    assert.deepEqual(failures(reserved).map((c) => c.check), ['VIP 198.51.100.1'], show(reserved));
    assert.match(failures(reserved)[0]!.detail, /reserves in 198\.51\.100\.0\/25/);
    const primary = await run(w, { ctx: context(['198.51.100.12']) });
    assert.deepEqual(failures(primary).map((c) => c.check), ['VIP 198.51.100.12'], show(primary));
    assert.match(failures(primary)[0]!.detail, new RegExp(`primary private address of ${w.ha2.eni} of instance ${w.ha2.instanceId}`));
  });
});

test('multicast config → ✗ VRRP unicast with a fix that says unicast; the security-group check is left out', async () => {
  await withWorld({}, async (w) => {
    const checks = await run(w, { ctx: context([VIP], null) });
    const bad = failures(checks);
    assert.deepEqual(bad.map((c) => c.check), ['VRRP unicast'], show(checks));
    assert.match(bad[0]!.detail, /multicast does not cross an AWS VPC/);
    assert.match(bad[0]!.fix!, /configure unicast .*peers/);
    assert.ok(!checks.some((c) => c.check === 'security groups pass VRRP'));
  });
});

test('security group without protocol 112 → ✗ naming the group, the peer and protocol 112', async () => {
  await withWorld({ noVrrpGroup: true }, async (w) => {
    const checks = await run(w);
    const bad = failures(checks);
    assert.deepEqual(bad.map((c) => c.check), ['security groups pass VRRP'], show(checks));
    assert.match(bad[0]!.detail, new RegExp(`${w.sg.plain} on ${w.ha1.eni} \\(this node\\) admits no IP protocol 112 from 198\\.51\\.100\\.12`));
    assert.ok(!bad[0]!.detail.includes(w.sg.vrrp), 'the peer\'s group admits us: not blamed');
    assert.match(bad[0]!.fix!, new RegExp(`authorize-security-group-ingress --group-id ${w.sg.plain} .*IpProtocol=112.*198\\.51\\.100\\.12/32`));
  });
});

test('unknown ENI in the config → ✗ interface → ENI and ✗ ENI, both naming it; the ENI-dependent checks are left out', async () => {
  await withWorld({}, async (w) => {
    const unknown = 'eni-0123456789abcdef0';
    const checks = await run(w, { config: { networkInterfaceId: unknown } });
    const bad = failures(checks);
    assert.deepEqual(bad.map((c) => c.check), ['interface → ENI', 'ENI'], show(checks));
    assert.match(bad[0]!.detail, new RegExp(`${unknown} is not the ENI of eth0 \\(eth0 → ${w.ha1.mac} → ${w.ha1.eni}\\)`));
    assert.match(bad[0]!.fix!, new RegExp(`remove provider.networkInterfaceId ${unknown} .* or set it to ${w.ha1.eni}`));
    assert.match(bad[1]!.detail, new RegExp(`${unknown} does not exist in eu-west-1`));
    assert.match(bad[1]!.fix!, new RegExp(`${unknown} is unknown to EC2`));
    assert.ok(!checks.some((c) => c.check === 'ENI secondary-address limit' || c.check === 'security groups pass VRRP'));
  });
});

test('ENI secondary-address limit reached (instance type from DescribeInstanceTypes) → ✗ with the count and the ENI', async () => {
  await withWorld({ instanceType: 't3.micro', ha1Secondaries: ['198.51.100.50'] }, async (w) => {
    const checks = await run(w);
    const bad = failures(checks);
    assert.deepEqual(bad.map((c) => c.check), ['ENI secondary-address limit'], show(checks));
    assert.match(bad[0]!.detail, new RegExp(`${w.ha1.eni} has 1 of 1 secondary addresses \\(t3\\.micro: 2 per ENI\\) and the VIPs need 1 more`));
    assert.match(bad[0]!.fix!, new RegExp(`free 1 secondary address\\(es\\) on ${w.ha1.eni}`));
  });
});

test('credentials: static keys about to expire → ✗; instance-role keys are renewed, so their expiry is only said', async () => {
  await withWorld({}, async (w) => {
    const soon = new Date(Date.now() + 60_000).toISOString();
    const checks = await run(w, { env: { AWS_ACCESS_KEY_ID: KEY.accessKeyId, AWS_SECRET_ACCESS_KEY: KEY.secretAccessKey, AWS_CREDENTIAL_EXPIRATION: soon, HOME: '/nonexistent' } });
    assert.deepEqual(failures(checks).map((c) => c.check), ['credentials'], show(checks));
    assert.match(byName(checks, 'credentials').detail, /environment, key …0001: expire in \d+ s .*nothing renews them/);
    assert.match(byName(checks, 'credentials').fix!, /instance-role keys are renewed automatically/);
  });
});

test('clock skew above a minute → ✗ EC2 API with the skew and the time fix; no capabilities → ✗ local capabilities', async () => {
  await withWorld({ clockOffsetMs: -10 * 60_000 }, async (w) => {
    const checks = await run(w, { capabilities: 0n });
    assert.deepEqual(failures(checks).map((c) => c.check), ['EC2 API', 'local capabilities'], show(checks));
    const skew = /signature accepted, but clock skew (\d+) s \(this host ahead of EC2\)/.exec(byName(checks, 'EC2 API').detail);
    assert.ok(skew, byName(checks, 'EC2 API').detail);
    // EC2's Date header has whole seconds (the skew is taken from the middle of one): 600 s, or 601 when
    // the second turned during the request.
    assert.ok(Number(skew[1]) >= 600 && Number(skew[1]) <= 601, skew[0]);
    assert.match(byName(checks, 'EC2 API').fix!, /chrony/);
    assert.match(byName(checks, 'local capabilities').detail, /missing CAP_NET_RAW .*CAP_NET_ADMIN/);
  });
});

test('route-table mode: correct (source/dest check off, VIP outside the VPC, the table has its route) → all ✓; then each broken', async () => {
  await withWorld({ sourceDestCheck: false }, async (w) => {
    const cfg = { mode: 'route-table' as const, routeTableIds: [w.routeTableId] };
    const checks = await run(w, { config: cfg, ctx: context([ROUTED_VIP]) });
    assert.deepEqual(failures(checks), [], show(checks));
    assert.ok(byName(checks, 'permission ec2:ReplaceRoute').detail.startsWith('allowed (DryRun'));
    assert.match(byName(checks, 'permission ec2:DescribeRouteTables').detail, /allowed/);
    assert.equal(byName(checks, `holder of ${ROUTED_VIP}`).detail, `the route points at ${w.ha2.eni}`);
    assert.match(byName(checks, `route table ${w.routeTableId}`).detail, /has a route for 203\.0\.113\.10\/32/);

    const inside = await run(w, { config: cfg, ctx: context([VIP]) });
    assert.deepEqual(failures(inside).map((c) => c.check), [`VIP ${VIP}`, `route table ${w.routeTableId}`], show(inside));
    assert.match(failures(inside)[0]!.detail, /inside the VPC's CIDR 198\.51\.100\.0\/24/);
    assert.match(failures(inside)[1]!.fix!, new RegExp(`create-route --route-table-id ${w.routeTableId} --destination-cidr-block ${VIP}/32`));

    const unknown = await run(w, { config: { ...cfg, routeTableIds: ['rtb-0123456789abcdef0'] }, ctx: context([ROUTED_VIP]) });
    assert.ok(failures(unknown).some((c) => c.check === 'route table rtb-0123456789abcdef0' && /does not exist/.test(c.detail)), show(unknown));

    w.ec2.setAllowedActions(KEY.accessKeyId, ['DescribeNetworkInterfaces', 'DescribeRouteTables', 'DescribeSecurityGroups']);
    const denied = await run(w, { config: cfg, ctx: context([ROUTED_VIP]) });
    assert.deepEqual(failures(denied).map((c) => c.check), ['permission ec2:ReplaceRoute'], show(denied));
  });
  await withWorld({}, async (w) => {
    const checks = await run(w, { config: { mode: 'route-table', routeTableIds: [w.routeTableId] }, ctx: context([ROUTED_VIP]) });
    assert.deepEqual(failures(checks).map((c) => c.check), ['source/dest check'], show(checks));
    assert.match(byName(checks, 'source/dest check').fix!, new RegExp(`--network-interface-id ${w.ha1.eni} --no-source-dest-check`));
  });
});

test('elastic-ip mode: the allocation exists and its public IP is the VIP → all ✓; another public IP → ✗ naming both', async () => {
  await withWorld({}, async (w) => {
    const cfg = { mode: 'elastic-ip' as const, allocationId: w.allocationId };
    const checks = await run(w, { config: cfg, ctx: context([PUBLIC_VIP]) });
    assert.deepEqual(failures(checks), [], show(checks));
    assert.ok(byName(checks, 'permission ec2:AssociateAddress').detail.startsWith('allowed (DryRun'));
    assert.match(byName(checks, `holder of ${PUBLIC_VIP}`).detail, new RegExp(`${w.ha2.eni} of instance ${w.ha2.instanceId} \\(198\\.51\\.100\\.12\\)`));
    const wrong = await run(w, { config: cfg, ctx: context(['203.0.113.21']) });
    assert.deepEqual(failures(wrong).map((c) => c.check), [`Elastic IP ${w.allocationId}`], show(wrong));
    assert.match(failures(wrong)[0]!.detail, /its public IP is 203\.0\.113\.20, not the VIP 203\.0\.113\.21/);
    const missing = await run(w, { config: { ...cfg, allocationId: 'eipalloc-0123456789abcdef0' }, ctx: context([PUBLIC_VIP]) });
    assert.ok(failures(missing).some((c) => /eipalloc-0123456789abcdef0 does not exist/.test(c.detail)), show(missing));
  });
});

test('IMDS unreachable → ✗ IMDSv2 with the fix; the checks that need it are left out, the local ones still run', async () => {
  await withWorld({}, async (w) => {
    await w.imds.close();
    const checks = await run(w);
    assert.equal(checks[0]!.check, 'IMDSv2');
    assert.equal(checks[0]!.ok, false);
    assert.match(checks[0]!.fix!, /IMDS/);
    assert.ok(!checks.some((c) => c.check === 'ENI'));
    assert.ok(byName(checks, 'VRRP unicast').ok && byName(checks, 'local capabilities').ok);
  });
});

test('the interface\'s MAC is no ENI of this instance, or the interface is missing → ✗ interface → ENI with the fix; EC2 checks of the ENI left out', async () => {
  await withWorld({}, async (w) => {
    const stray = await run(w, { mac: '02:00:c6:33:64:99' });
    assert.deepEqual(failures(stray).map((c) => c.check), ['interface → ENI'], show(stray));
    assert.match(failures(stray)[0]!.detail, /MAC 02:00:c6:33:64:99 is not one of instance i-\w+'s network interfaces/);
    assert.match(failures(stray)[0]!.fix!, /interface/);
    assert.ok(!stray.some((c) => c.check === 'ENI'));
    const missing = await run(w, { mac: null });
    assert.deepEqual(failures(missing).map((c) => c.check), ['interface → ENI'], show(missing));
    assert.match(failures(missing)[0]!.detail, /interface eth0 not found on this host/);
  });
});
