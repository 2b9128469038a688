// "Alibaba Cloud" in the netns lab (test/netns/alibaba-cloud.ts): the VPC and ECS metadata emulators
// in the cloud node's namespace, on its lab address, learning the HaVip's master from gratuitous ARP
// on the lab segment as the real VPC does (spec §3.6). ha1 and ha2 are associated with the HaVip, ha3
// is not: a GARP (`arping -U`, the frame keepalived and our agent send) from ha2 makes ha2's instance
// MasterInstanceId; one from ha3 is seen and ignored; one from ha1 moves the master to ha1. The
// metadata emulators answer the lab nodes (token PUT, then GET) and log who called; the admin
// commands enforce the §3.1 rules (the master is unassociated only with Force).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Lab } from '../../src/lab/lab.js';
import { eventually, requireRoot, withLab } from './harness.js';
import { ALIBABA_AGENT_KEY, AlibabaCloud } from './alibaba-cloud.js';

const OPTS = { timeout: 90_000 };
const NODES = [
  { name: 'ha1', octet: 11 },
  { name: 'ha2', octet: 12 },
  { name: 'ha3', octet: 13 },
  { name: 'cloud', octet: 250 },
];
const HAVIP = '198.51.100.100';
const WAIT = 15_000;
const here = dirname(fileURLToPath(import.meta.url));
const runningTs = import.meta.url.endsWith('.ts');
const sdkCall = join(here, 'fixtures', runningTs ? 'alibaba-sdk-call.ts' : 'alibaba-sdk-call.js');
const sdkArgs = runningTs ? ['--import', import.meta.resolve('tsx')] : [];

/** One real VPC SDK call from `node`'s namespace (fixtures/alibaba-sdk-call.ts). */
async function sdk(lab: Lab, node: string, cloud: AlibabaCloud, o: { action: 'describe' | 'associate'; instanceId?: string; secret?: string }): Promise<Record<string, unknown>> {
  const arg = { endpoint: cloud.endpoint, accessKeyId: ALIBABA_AGENT_KEY.accessKeyId, accessKeySecret: o.secret ?? ALIBABA_AGENT_KEY.accessKeySecret, regionId: cloud.ids.regionId, haVipId: cloud.ids.haVipId, ...o };
  const r = await lab.run(node, [process.execPath, ...sdkArgs, sdkCall, JSON.stringify(arg)]);
  return JSON.parse(r.trim().split('\n').at(-1)!) as Record<string, unknown>;
}

async function startCloud(lab: Lab): Promise<AlibabaCloud> {
  return AlibabaCloud.start(lab, 'cloud', {
    region: 'cn-hangzhou',
    vpcCidr: '198.51.100.0/24',
    vSwitchCidr: '198.51.100.0/24',
    keys: [ALIBABA_AGENT_KEY],
    haVip: { ipAddress: HAVIP },
    instances: [
      { name: 'ha1', mac: lab.node('ha1').mac, privateIp: lab.node('ha1').ip, associated: true, role: 'EcsRamRoleHaAgent' },
      { name: 'ha2', mac: lab.node('ha2').mac, privateIp: lab.node('ha2').ip, associated: true },
      { name: 'ha3', mac: lab.node('ha3').mac, privateIp: lab.node('ha3').ip, associated: false },
    ],
  });
}

/** What an agent does on becoming master: the address on its interface, then one GARP. */
async function claim(lab: Lab, node: string): Promise<void> {
  const ifname = lab.node(node).ifname;
  await lab.run(node, ['ip', 'addr', 'replace', `${HAVIP}/24`, 'dev', ifname]);
  const r = await lab.exec(node, ['arping', '-U', '-c', '1', '-I', ifname, HAVIP]);
  assert.equal(r.code, 0, `arping from ${node}: ${r.stderr}`);
}

test('GARP on the segment: an associated sender becomes MasterInstanceId, an unassociated one is ignored', OPTS, async (t) => {
  if (!requireRoot(t)) return;
  await withLab(NODES, async (lab) => {
    const cloud = await startCloud(lab);
    try {
      const first = await cloud.havip();
      assert.equal(first.status, 'InUse');
      assert.equal(first.masterInstanceId, '');
      assert.deepEqual(first.associatedInstances, [cloud.instanceId('ha1'), cloud.instanceId('ha2')]);

      await claim(lab, 'ha2');
      assert.equal(await eventually(() => cloud.masterNode(), (m) => m === 'ha2', WAIT, 'ha2 master after its GARP'), 'ha2');

      await claim(lab, 'ha3');
      const seen = await eventually(() => cloud.garps(), (g) => g.some((x) => x.instance === 'ha3'), WAIT, "ha3's GARP seen");
      const ha3Garp = seen.find((x) => x.instance === 'ha3')!;
      assert.deepEqual(ha3Garp.taken, [], 'an unassociated sender is ignored');
      assert.equal(ha3Garp.senderIp, HAVIP);
      assert.equal(ha3Garp.senderMac, lab.node('ha3').mac);
      assert.equal((await cloud.havip()).masterInstanceId, cloud.instanceId('ha2'));

      await claim(lab, 'ha1');
      assert.equal(await eventually(() => cloud.masterNode(), (m) => m === 'ha1', WAIT, 'ha1 master after its GARP'), 'ha1');
      const all = await cloud.garps();
      assert.deepEqual(
        all.map((g) => [g.instance, g.taken.length > 0]),
        [
          ['ha2', true],
          ['ha3', false],
          ['ha1', true],
        ],
        'one GARP each, only the associated senders took the HaVip',
      );
    } finally {
      await cloud.close();
    }
  });
});

test('the real VPC SDK in a lab node reaches the emulator across the bridge and sees the GARP-made master', OPTS, async (t) => {
  if (!requireRoot(t)) return;
  await withLab(NODES, async (lab) => {
    const cloud = await startCloud(lab);
    try {
      const before = await sdk(lab, 'ha2', cloud, { action: 'describe' });
      assert.deepEqual(before, { ok: true, status: 'InUse', masterInstanceId: '', associatedInstances: [cloud.instanceId('ha1'), cloud.instanceId('ha2')] });
      await claim(lab, 'ha2');
      await eventually(() => cloud.masterNode(), (m) => m === 'ha2', WAIT, 'ha2 master after its GARP');
      const after = await sdk(lab, 'ha2', cloud, { action: 'describe' });
      assert.equal(after['masterInstanceId'], cloud.instanceId('ha2'));
      const bad = await sdk(lab, 'ha1', cloud, { action: 'describe', secret: 'wrong-secret' });
      assert.deepEqual([bad['ok'], bad['code'], bad['statusCode']], [false, 'SignatureDoesNotMatch', 400]);
      await cloud.call('fault', { kind: 'throttling', action: 'AssociateHaVip', times: 1 });
      const throttled = await sdk(lab, 'ha3', cloud, { action: 'associate', instanceId: cloud.instanceId('ha3') });
      assert.equal(throttled['code'], 'Throttling.User');
      assert.deepEqual(await sdk(lab, 'ha3', cloud, { action: 'associate', instanceId: cloud.instanceId('ha3') }), { ok: true });
      const calls = await cloud.calls();
      assert.deepEqual(
        calls.map((c) => [c.action, c.from, c.status, c.code]),
        [
          ['DescribeHaVips', lab.node('ha2').ip, 200, null],
          ['DescribeHaVips', lab.node('ha2').ip, 200, null],
          ['DescribeHaVips', lab.node('ha1').ip, 400, 'SignatureDoesNotMatch'],
          ['AssociateHaVip', lab.node('ha3').ip, 400, 'Throttling.User'],
          ['AssociateHaVip', lab.node('ha3').ip, 200, null],
        ],
      );
      assert.deepEqual((await cloud.havip()).associatedInstances, [cloud.instanceId('ha1'), cloud.instanceId('ha2'), cloud.instanceId('ha3')]);
    } finally {
      await cloud.close();
    }
  });
});

test('metadata answers the lab nodes (token PUT, GET); admin unassociate needs Force for the master', OPTS, async (t) => {
  if (!requireRoot(t)) return;
  await withLab(NODES, async (lab) => {
    const cloud = await startCloud(lab);
    try {
      const base = cloud.metadataUrl['ha1']!;
      assert.ok(base.startsWith(`http://${lab.node('cloud').ip}:`), base);
      const token = (await lab.run('ha1', ['curl', '-sf', '-X', 'PUT', '-H', 'X-aliyun-ecs-metadata-token-ttl-seconds: 60', `${base}/latest/api/token`])).trim();
      assert.ok(token.length > 0);
      const get = (path: string, tok?: string) =>
        lab.exec('ha1', ['curl', '-s', '-w', '\n%{http_code}', ...(tok ? ['-H', `X-aliyun-ecs-metadata-token: ${tok}`] : []), `${base}/latest/meta-data/${path}`]);
      const parse = (r: { stdout: string }) => {
        const i = r.stdout.lastIndexOf('\n');
        return { body: r.stdout.slice(0, i), status: Number(r.stdout.slice(i + 1)) };
      };
      assert.deepEqual(parse(await get('instance-id', token)), { body: cloud.instanceId('ha1'), status: 200 });
      assert.deepEqual(parse(await get('mac', token)), { body: lab.node('ha1').mac, status: 200 });
      assert.deepEqual(parse(await get('private-ipv4', token)), { body: lab.node('ha1').ip, status: 200 });
      assert.equal(parse(await get('instance-id')).status, 403, 'no token');
      assert.equal(parse(await get('ram/security-credentials/', token)).body, 'EcsRamRoleHaAgent');
      const creds = JSON.parse(parse(await get('ram/security-credentials/EcsRamRoleHaAgent', token)).body) as Record<string, string>;
      assert.equal(creds['Code'], 'Success');
      assert.match(creds['Expiration']!, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
      const rotated = await cloud.call<{ old: string; next: string }>('rotate', { instance: 'ha1' });
      assert.equal(rotated.old, creds['AccessKeyId']);
      const after = JSON.parse(parse(await get('ram/security-credentials/EcsRamRoleHaAgent', token)).body) as Record<string, string>;
      assert.equal(after['AccessKeyId'], rotated.next);

      await cloud.call('announce', { instance: 'ha1' });
      assert.equal(await cloud.masterNode(), 'ha1', 'the direct hook');
      await assert.rejects(cloud.call('unassociate', { instance: 'ha1' }), /Forbidden\.UnassociateMaster/);
      await cloud.call('unassociate', { instance: 'ha1', force: true });
      const s = await cloud.havip();
      assert.equal(s.masterInstanceId, '');
      assert.deepEqual(s.associatedInstances, [cloud.instanceId('ha2')]);
      await cloud.call('associate', { instance: 'ha3' });
      assert.deepEqual((await cloud.havip()).associatedInstances, [cloud.instanceId('ha2'), cloud.instanceId('ha3')]);
      await claim(lab, 'ha3');
      assert.equal(await eventually(() => cloud.masterNode(), (m) => m === 'ha3', WAIT, 'ha3 master once associated'), 'ha3');
    } finally {
      await cloud.close();
    }
  });
});
