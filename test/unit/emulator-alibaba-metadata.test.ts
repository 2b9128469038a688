// The Alibaba ECS metadata emulator (test/emulators/alibaba/metadata.ts) driven with plain HTTP the
// way our provider's metadata client will (token PUT, then GETs with the token; spec §3.8, §3.9):
// token TTL bounds and expiry on a fake clock, no token → 403 (configurable 401), X-Forwarded-For,
// disabled mode, the instance paths from VpcState.metadataView(), RAM-role credentials with Expiration
// and rotation, faults (status, latency, hang), and the role credentials feeding a custom
// @alicloud/credentials provider that signs real @alicloud/vpc20160428 calls to the VPC emulator.
// The SDK's own ECS RAM-role provider hard-codes the link-local metadata host (§0.6), so it is not
// pointed here; nothing in this file reaches it (ALIBABA_CLOUD_ECS_METADATA_DISABLED=true).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import VpcModule, * as $Vpc from '@alicloud/vpc20160428';
import { $OpenApiUtil } from '@alicloud/openapi-core';
import CredentialModule from '@alicloud/credentials';
import { VpcState } from '../emulators/alibaba/vpc-state.js';
import { startVpcEmulator } from '../emulators/alibaba/vpc-server.js';
import { generateRamCredentials, startMetadataEmulator, type MetadataEmulator, type RamRoleCredentials } from '../emulators/alibaba/metadata.js';

const Vpc = VpcModule.default;
const Credential = CredentialModule.default;

process.env.ALIBABA_CLOUD_ECS_METADATA_DISABLED = 'true';
process.env.ALIBABA_CLOUD_CLI_PROFILE_DISABLED = 'true';

const REGION = 'cn-hangzhou';
const MAC = '00:16:3e:00:00:0a';
const ROLE = 'EcsRamRoleHaAgent';

class FakeClock {
  t = 1_700_000_000_000;
  now = (): number => this.t;
  advance(ms: number): void {
    this.t += ms;
  }
}

function setup() {
  const clock = new FakeClock();
  const state = new VpcState({ regionId: REGION, now: clock.now });
  const vpc = state.addVpc({ cidr: '198.51.100.0/24' });
  const sw = state.addVSwitch({ vpcId: vpc.vpcId, cidr: '198.51.100.0/24', zoneId: 'cn-hangzhou-i' });
  const inst = state.addInstance({ vSwitchId: sw.vSwitchId, mac: MAC, privateIp: '198.51.100.11' });
  return { clock, state, vpc, sw, inst };
}

async function token(emu: MetadataEmulator, ttl: string | null = '21600', extra: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  const r = await fetch(`${emu.url}/latest/api/token`, { method: 'PUT', headers: { ...(ttl !== null ? { 'X-aliyun-ecs-metadata-token-ttl-seconds': ttl } : {}), ...extra } });
  return { status: r.status, body: await r.text() };
}

async function get(emu: MetadataEmulator, path: string, tok?: string): Promise<{ status: number; body: string }> {
  const r = await fetch(`${emu.url}/latest/meta-data/${path}`, { headers: tok !== undefined ? { 'X-aliyun-ecs-metadata-token': tok } : {} });
  return { status: r.status, body: await r.text() };
}

test('token PUT: TTL 1..21600 accepted, missing / 0 / 21601 / non-numeric → 400, X-Forwarded-For → 403, GET → 405', async () => {
  const { clock, state, inst } = setup();
  const emu = await startMetadataEmulator({ view: state.metadataView(inst.instanceId), clock: clock.now });
  try {
    for (const ttl of ['1', '21600']) {
      const r = await token(emu, ttl);
      assert.equal(r.status, 200);
      assert.ok(r.body.length >= 16);
    }
    for (const ttl of [null, '0', '21601', 'abc', '-5']) assert.equal((await token(emu, ttl)).status, 400, `ttl ${ttl}`);
    assert.equal((await token(emu, '60', { 'X-Forwarded-For': '203.0.113.9' })).status, 403);
    assert.equal((await fetch(`${emu.url}/latest/api/token`)).status, 405);
  } finally {
    await emu.close();
  }
});

test('GET needs a valid token: none → 403 (or 401 when configured), unknown → 401, expired after TTL → 401', async () => {
  const { clock, state, inst } = setup();
  const emu = await startMetadataEmulator({ view: state.metadataView(inst.instanceId), clock: clock.now });
  const emu401 = await startMetadataEmulator({ view: state.metadataView(inst.instanceId), clock: clock.now, noTokenStatus: 401 });
  try {
    assert.equal((await get(emu, 'instance-id')).status, 403);
    assert.equal((await get(emu401, 'instance-id')).status, 401);
    assert.equal((await get(emu, 'instance-id', 'not-a-token')).status, 401);
    const t = (await token(emu, '60')).body;
    const ok = await get(emu, 'instance-id', t);
    assert.equal(ok.status, 200);
    assert.equal(ok.body, inst.instanceId);
    clock.advance(59_999);
    assert.equal((await get(emu, 'instance-id', t)).status, 200);
    clock.advance(1);
    assert.equal((await get(emu, 'instance-id', t)).status, 401, 'expired at issue + TTL');
    assert.equal((await get(emu401, 'instance-id', t)).status, 401, 'tokens are per emulator');
    emu.setRequireToken(false);
    assert.equal((await get(emu, 'instance-id')).status, 200, 'normal mode serves without a token');
    assert.equal((await get(emu, 'instance-id', t)).status, 401, 'but a token that is sent must be valid');
    assert.deepEqual(
      emu.requests.slice(0, 2).map((r) => [r.method, r.status, r.from]),
      [
        ['GET', 403, '127.0.0.1'],
        ['GET', 401, '127.0.0.1'],
      ],
    );
  } finally {
    await emu.close();
    await emu401.close();
  }
});

test('the §3.9 paths follow the VPC state', async () => {
  const { clock, state, vpc, sw, inst } = setup();
  const emu = await startMetadataEmulator({ view: state.metadataView(inst.instanceId), clock: clock.now });
  try {
    const t = (await token(emu)).body;
    const expect: Record<string, string> = {
      'instance-id': inst.instanceId,
      'region-id': REGION,
      'zone-id': 'cn-hangzhou-i',
      'vpc-id': vpc.vpcId,
      'vswitch-id': sw.vSwitchId,
      mac: MAC,
      'private-ipv4': '198.51.100.11',
      'vpc-cidr-block': '198.51.100.0/24',
      'vswitch-cidr-block': '198.51.100.0/24',
      'network/interfaces/macs/': `${MAC}/`,
      [`network/interfaces/macs/${MAC}/network-interface-id`]: inst.networkInterfaceId,
      [`network/interfaces/macs/${MAC}/primary-ip-address`]: '198.51.100.11',
      [`network/interfaces/macs/${MAC}/private-ipv4s`]: '["198.51.100.11"]',
      [`network/interfaces/macs/${MAC}/vswitch-id`]: sw.vSwitchId,
      [`network/interfaces/macs/${MAC}/vpc-id`]: vpc.vpcId,
      [`network/interfaces/macs/${MAC}/vswitch-cidr-block`]: '198.51.100.0/24',
      [`network/interfaces/macs/${MAC}/vpc-cidr-block`]: '198.51.100.0/24',
      [`network/interfaces/macs/${MAC}/netmask`]: '255.255.255.0',
      [`network/interfaces/macs/${MAC}/gateway`]: '198.51.100.253',
    };
    for (const [path, body] of Object.entries(expect)) {
      const r = await get(emu, path, t);
      assert.equal(r.status, 200, path);
      assert.equal(r.body, body, path);
    }
    assert.match((await get(emu, '', t)).body, /^instance-id\nmac\nnetwork\/\n/);
    assert.equal((await get(emu, 'no-such-path', t)).status, 404);
    assert.equal((await get(emu, 'ram/security-credentials/', t)).status, 404, 'no role, no ram/');
    const slashes = await fetch(`${emu.url}//latest/meta-data/region-id`, { headers: { 'X-aliyun-ecs-metadata-token': t } });
    assert.equal(await slashes.text(), REGION, 'leading slashes collapsed');
  } finally {
    await emu.close();
  }
});

test('RAM role: the role name, then the §3.8 JSON with Expiration; rotation changes keys and LastUpdated', async () => {
  const { clock, state, inst } = setup();
  let creds: RamRoleCredentials = generateRamCredentials(clock.now(), 3600_000);
  const emu = await startMetadataEmulator({ view: state.metadataView(inst.instanceId), clock: clock.now, role: { name: ROLE, credentials: () => creds } });
  try {
    const t = (await token(emu)).body;
    assert.equal((await get(emu, 'ram/', t)).body, 'security-credentials/');
    assert.equal((await get(emu, 'ram/security-credentials/', t)).body, ROLE);
    const j = JSON.parse((await get(emu, `ram/security-credentials/${ROLE}`, t)).body) as Record<string, string>;
    assert.deepEqual(Object.keys(j).sort(), ['AccessKeyId', 'AccessKeySecret', 'Code', 'Expiration', 'LastUpdated', 'SecurityToken']);
    assert.equal(j['Code'], 'Success');
    assert.equal(j['AccessKeyId'], creds.AccessKeyId);
    assert.match(j['AccessKeyId']!, /^STS\./);
    assert.equal(j['SecurityToken'], creds.SecurityToken);
    assert.equal(j['Expiration'], new Date(clock.now() + 3600_000).toISOString().replace(/\.\d{3}Z$/, 'Z'));
    assert.equal(j['LastUpdated'], new Date(clock.now()).toISOString().replace(/\.\d{3}Z$/, 'Z'));
    clock.advance(60_000);
    creds = generateRamCredentials(clock.now(), 3600_000); // the role source itself changed
    const j2 = JSON.parse((await get(emu, `ram/security-credentials/${ROLE}`, t)).body) as Record<string, string>;
    assert.equal(j2['AccessKeyId'], creds.AccessKeyId);
    assert.equal(j2['LastUpdated'], new Date(clock.now()).toISOString().replace(/\.\d{3}Z$/, 'Z'));
    clock.advance(60_000);
    const rotated = emu.rotateCredentials();
    assert.notEqual(rotated.AccessKeyId, creds.AccessKeyId);
    assert.equal(rotated.Expiration.getTime(), clock.now() + 6 * 3600_000);
    const j3 = JSON.parse((await get(emu, `ram/security-credentials/${ROLE}`, t)).body) as Record<string, string>;
    assert.equal(j3['AccessKeyId'], rotated.AccessKeyId);
    assert.equal(j3['AccessKeySecret'], rotated.AccessKeySecret);
  } finally {
    await emu.close();
  }
});

test('disabled → 403 for PUT and GET; faults: status, latency, hang (close ends it)', async () => {
  const { clock, state, inst } = setup();
  const emu = await startMetadataEmulator({ view: state.metadataView(inst.instanceId), clock: clock.now });
  try {
    const t = (await token(emu)).body;
    emu.setDisabled(true);
    assert.equal((await token(emu)).status, 403);
    assert.equal((await get(emu, 'instance-id', t)).status, 403);
    emu.setDisabled(false);
    emu.faults.add({ kind: 'status', status: 500, path: '/latest/api/token', method: 'PUT' });
    assert.equal((await token(emu)).status, 500);
    assert.equal((await token(emu)).status, 200, 'times defaults to 1');
    const lat = emu.faults.add({ kind: 'latency', ms: 30, path: /instance-id$/ });
    const r = await get(emu, 'instance-id', t);
    assert.equal(r.status, 200);
    assert.equal(r.body, inst.instanceId);
    assert.equal(lat.remaining, 0);
    emu.faults.add({ kind: 'hang', path: '/latest/meta-data/region-id', times: Infinity });
    const ac = new AbortController();
    const hung = fetch(`${emu.url}/latest/meta-data/region-id`, { headers: { 'X-aliyun-ecs-metadata-token': t }, signal: ac.signal }).then(
      () => 'answered',
      () => 'aborted',
    );
    assert.equal((await get(emu, 'zone-id', t)).body, 'cn-hangzhou-i', 'other paths are served meanwhile');
    ac.abort();
    assert.equal(await hung, 'aborted');
    assert.equal(emu.faults.size, 1);
    emu.faults.clear();
    assert.equal((await get(emu, 'region-id', t)).body, REGION);
  } finally {
    await emu.close();
  }
});

test('role credentials from the metadata emulator sign real VPC SDK calls through a custom provider', async () => {
  const { clock, state, sw, inst } = setup();
  const h = state.addHaVip({ vSwitchId: sw.vSwitchId, ipAddress: '198.51.100.100', associated: [inst.instanceId] });
  let creds = generateRamCredentials(Date.now());
  const meta = await startMetadataEmulator({ view: state.metadataView(inst.instanceId), clock: clock.now, role: { name: ROLE, credentials: () => creds } });
  const vpcEmu = await startVpcEmulator({ state, credentials: [] });
  const register = (c: RamRoleCredentials) => vpcEmu.addCredential({ accessKeyId: c.AccessKeyId, accessKeySecret: c.AccessKeySecret, securityToken: c.SecurityToken });
  register(creds);
  // What the provider's own metadata client does: token PUT, role name, role JSON.
  const provider = {
    getProviderName: () => 'agent_ecs_metadata',
    getCredentials: async () => {
      const t = (await token(meta, '300')).body;
      const role = (await get(meta, 'ram/security-credentials/', t)).body;
      const j = JSON.parse((await get(meta, `ram/security-credentials/${role}`, t)).body) as Record<string, string>;
      return { accessKeyId: j['AccessKeyId'], accessKeySecret: j['AccessKeySecret'], securityToken: j['SecurityToken'], providerName: 'agent_ecs_metadata' };
    },
  };
  try {
    const client = new Vpc(new $OpenApiUtil.Config({ credential: new Credential(null, provider), regionId: REGION, endpoint: vpcEmu.endpoint, protocol: 'http' }));
    const describe = () => client.describeHaVips(new $Vpc.DescribeHaVipsRequest({ regionId: REGION }));
    const r = await describe();
    assert.equal(r.body!.haVips!.haVip![0]!.haVipId, h.haVipId);
    assert.equal(vpcEmu.calls.at(-1)!.accessKeyId, creds.AccessKeyId);
    assert.equal(vpcEmu.calls.at(-1)!.credentialsProvider, 'agent_ecs_metadata');
    // Rotation: the old key is revoked in the VPC, the provider picks the new one from metadata.
    const old = creds.AccessKeyId;
    creds = generateRamCredentials(Date.now());
    register(creds);
    vpcEmu.revokeCredential(old);
    await describe();
    assert.equal(vpcEmu.calls.at(-1)!.accessKeyId, creds.AccessKeyId);
    assert.equal(vpcEmu.calls.at(-1)!.status, 200);
    assert.deepEqual(
      meta.requests.filter((x) => x.method === 'PUT').map((x) => x.status),
      [200, 200],
      'one token PUT per credentials fetch',
    );
  } finally {
    await meta.close();
    await vpcEmu.close();
  }
});
