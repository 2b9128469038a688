// The Alibaba Cloud VPC emulator (test/emulators/alibaba/) driven by the REAL @alicloud/vpc20160428
// client over loopback (endpoint 127.0.0.1:PORT, protocol http, spec §3.3): ACS3 and v2 signatures
// accepted, tampered / unknown / replayed / skewed ones refused with the §3.5 codes; STS keys through a
// custom credentials provider and environment keys through the real @alicloud/credentials chain;
// DescribeHaVips parsed into the SDK model (the lower-case inner keys of §3.4), filters and paging;
// Associate/Unassociate/Create with their asynchronous statuses on a fake clock; the rules of §3.1;
// MasterInstanceId following announce() (gratuitous ARP) for associated instances only; fault
// injection (Throttling.User, 500/503, Forbidden.RAM, latency, hang) and per-key permissions.
// Nothing here may reach Alibaba: every client gets an explicit loopback endpoint.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { randomBytes } from 'node:crypto';
import VpcModule, * as $Vpc from '@alicloud/vpc20160428';
import { $OpenApiUtil, ClientError, ServerError, ThrottlingError } from '@alicloud/openapi-core';
import CredentialModule from '@alicloud/credentials';
import { VpcState } from '../emulators/alibaba/vpc-state.js';
import { haVipJson, startVpcEmulator, type VpcCredential, type VpcEmulator } from '../emulators/alibaba/vpc-server.js';
import { acs3Signature, EMPTY_SHA256 } from '../emulators/alibaba/acs3.js';

const Vpc = VpcModule.default;
const Credential = CredentialModule.default;
type VpcClient = InstanceType<typeof Vpc>;

process.env.ALIBABA_CLOUD_ECS_METADATA_DISABLED = 'true';
process.env.ALIBABA_CLOUD_CLI_PROFILE_DISABLED = 'true';

const REGION = 'cn-hangzhou';
const KEY: VpcCredential = { accessKeyId: 'LTAI5tEXAMPLEAKID0001', accessKeySecret: 'exampleSecretForTheEmulator000001' };
const STS: VpcCredential = { accessKeyId: 'STS.NTexampleEcsRoleAK', accessKeySecret: 'ecsRoleSecretExample', securityToken: 'CAISecsRoleTokenExample' };
const HAVIP_IP = '198.51.100.100';
const MAC_A = '00:16:3e:00:00:0a';
const MAC_B = '00:16:3e:00:00:0b';
const MAC_C = '00:16:3e:00:00:0c';

class FakeClock {
  t = 1_700_000_000_000;
  now = (): number => this.t;
  advance(ms: number): void {
    this.t += ms;
  }
}

interface World {
  clock: FakeClock;
  state: VpcState;
  emu: VpcEmulator;
  vpcId: string;
  vSwitchId: string;
  otherVSwitchId: string;
  a: string;
  b: string;
  c: string;
  other: string;
  haVipId: string;
}

async function world(opts: { associated?: boolean; delays?: boolean } = {}): Promise<World> {
  const clock = new FakeClock();
  const state = new VpcState({ regionId: REGION, now: clock.now, ...(opts.delays ? { associateDelayMs: 3000, unassociateDelayMs: 2000, createDelayMs: 1000 } : {}) });
  const vpc = state.addVpc({ cidr: '198.51.100.0/24' });
  const sw = state.addVSwitch({ vpcId: vpc.vpcId, cidr: '198.51.100.0/25' });
  const sw2 = state.addVSwitch({ vpcId: vpc.vpcId, cidr: '198.51.100.128/25' });
  const a = state.addInstance({ vSwitchId: sw.vSwitchId, mac: MAC_A, privateIp: '198.51.100.11' }).instanceId;
  const b = state.addInstance({ vSwitchId: sw.vSwitchId, mac: MAC_B, privateIp: '198.51.100.12' }).instanceId;
  const c = state.addInstance({ vSwitchId: sw.vSwitchId, mac: MAC_C, privateIp: '198.51.100.13' }).instanceId;
  const other = state.addInstance({ vSwitchId: sw2.vSwitchId, mac: '00:16:3e:00:00:0d', privateIp: '198.51.100.140' }).instanceId;
  const h = state.addHaVip({ vSwitchId: sw.vSwitchId, ipAddress: HAVIP_IP, name: 'ha-agent', ...(opts.associated ? { associated: [a, b] } : {}) });
  const emu = await startVpcEmulator({ state, credentials: [KEY, STS] });
  return { clock, state, emu, vpcId: vpc.vpcId, vSwitchId: sw.vSwitchId, otherVSwitchId: sw2.vSwitchId, a, b, c, other, haVipId: h.haVipId };
}

function client(emu: VpcEmulator, extra: Partial<$OpenApiUtil.Config> = {}): VpcClient {
  return new Vpc(
    new $OpenApiUtil.Config({
      accessKeyId: KEY.accessKeyId,
      accessKeySecret: KEY.accessKeySecret,
      regionId: REGION,
      endpoint: emu.endpoint,
      protocol: 'http',
      ...extra,
    }),
  );
}

async function describe(c: VpcClient, haVipId: string) {
  const r = await c.describeHaVips(new $Vpc.DescribeHaVipsRequest({ regionId: REGION, filter: [new $Vpc.DescribeHaVipsRequestFilter({ key: 'HaVipId', value: [haVipId] })] }));
  assert.equal(r.statusCode, 200);
  const h = r.body?.haVips?.haVip?.[0];
  assert.ok(h, 'the HaVip is listed');
  return h;
}

/** Runs fn, which must throw an SDK error; returns it. */
async function sdkError(fn: () => Promise<unknown>): Promise<{ code: string; statusCode?: number; name: string; message: string; data?: Record<string, unknown> }> {
  try {
    await fn();
  } catch (e) {
    return e as { code: string; statusCode?: number; name: string; message: string };
  }
  assert.fail('expected the SDK to throw');
}

const associate = (c: VpcClient, haVipId: string, instanceId: string) =>
  c.associateHaVip(new $Vpc.AssociateHaVipRequest({ regionId: REGION, haVipId, instanceId, instanceType: 'EcsInstance' }));
const unassociate = (c: VpcClient, haVipId: string, instanceId: string, force?: boolean) =>
  c.unassociateHaVip(new $Vpc.UnassociateHaVipRequest({ regionId: REGION, haVipId, instanceId, instanceType: 'EcsInstance', ...(force !== undefined ? { force: force ? 'True' : 'False' } : {}) }));

/** A raw ACS3-signed request (to tamper with what the SDK would never send wrongly). */
function rawAcs3(emu: VpcEmulator, o: { action: string; query: string; secret?: string; date?: string; nonce?: string; tamperQuery?: string }): Promise<{ status: number; body: Record<string, unknown> }> {
  const headers: Record<string, string> = {
    host: emu.endpoint,
    'x-acs-action': o.action,
    'x-acs-version': '2016-04-28',
    'x-acs-date': o.date ?? new Date().toISOString().replace(/\.\d{3}Z$/, 'Z'),
    'x-acs-signature-nonce': o.nonce ?? randomBytes(16).toString('hex'),
    'x-acs-content-sha256': EMPTY_SHA256,
  };
  const signed = Object.keys(headers).sort();
  const { signature } = acs3Signature({ method: 'POST', path: '/', query: o.query, headers, body: Buffer.alloc(0) }, signed, EMPTY_SHA256, o.secret ?? KEY.accessKeySecret);
  headers['authorization'] = `ACS3-HMAC-SHA256 Credential=${KEY.accessKeyId},SignedHeaders=${signed.join(';')},Signature=${signature}`;
  return new Promise((resolve, reject) => {
    const req = request({ host: emu.host, port: emu.port, method: 'POST', path: `/?${o.tamperQuery ?? o.query}`, headers }, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (d: string) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) as Record<string, unknown> }));
    });
    req.on('error', reject);
    req.end();
  });
}

// ---------------------------------------------------------------- signatures and credentials

test('ACS3: the real SDK is accepted and DescribeHaVips parses into the model (lower-case inner keys)', async () => {
  const w = await world({ associated: true });
  try {
    w.state.announce(MAC_A, HAVIP_IP);
    const h = await describe(client(w.emu), w.haVipId);
    assert.equal(h.haVipId, w.haVipId);
    assert.match(h.haVipId!, /^havip-/);
    assert.equal(h.ipAddress, HAVIP_IP);
    assert.equal(h.status, 'InUse');
    assert.equal(h.masterInstanceId, w.a);
    assert.deepEqual(h.associatedInstances?.associatedInstance, [w.a, w.b]);
    assert.deepEqual(h.associatedEipAddresses?.associatedEipAddresse, []);
    assert.equal(h.vSwitchId, w.vSwitchId);
    assert.equal(h.vpcId, w.vpcId);
    assert.equal(h.regionId, REGION);
    assert.equal(h.associatedInstanceType, 'EcsInstance');
    assert.equal(h.name, 'ha-agent');
    const call = w.emu.calls.at(-1)!;
    assert.equal(call.signature, 'ACS3');
    assert.equal(call.action, 'DescribeHaVips');
    assert.equal(call.accessKeyId, KEY.accessKeyId);
    assert.equal(call.credentialsProvider, 'static_ak');
    assert.equal(call.from, '127.0.0.1');
    assert.equal(call.status, 200);
  } finally {
    await w.emu.close();
  }
});

test('the HaVip JSON carries exactly the §3.4 keys, with associatedInstance / associatedEipAddresse', async () => {
  const w = await world({ associated: true });
  try {
    const j = haVipJson(w.state.haVip(w.haVipId)!);
    assert.deepEqual(Object.keys(j), [
      'Status', 'VpcId', 'Description', 'AssociatedInstanceType', 'AssociatedInstances', 'AssociatedEipAddresses', 'HaVipId',
      'MasterInstanceId', 'CreateTime', 'IpAddress', 'VSwitchId', 'RegionId', 'ChargeType', 'Name', 'ResourceGroupId', 'Tags',
    ]);
    assert.deepEqual(j['AssociatedInstances'], { associatedInstance: [w.a, w.b] });
    assert.deepEqual(j['AssociatedEipAddresses'], { associatedEipAddresse: [] });
    assert.equal(j['MasterInstanceId'], '');
    assert.match(String(j['CreateTime']), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
  } finally {
    await w.emu.close();
  }
});

test('legacy v2 signature from the SDK (signatureAlgorithm v2) is accepted', async () => {
  const w = await world({ associated: true });
  try {
    const h = await describe(client(w.emu, { signatureAlgorithm: 'v2' }), w.haVipId);
    assert.equal(h.status, 'InUse');
    assert.equal(w.emu.calls.at(-1)!.signature, 'v2');
    await associate(client(w.emu, { signatureAlgorithm: 'v2' }), w.haVipId, w.c);
    assert.deepEqual(w.state.haVip(w.haVipId)!.associatedInstances, [w.a, w.b, w.c]);
    const bad = await sdkError(() => describe(client(w.emu, { signatureAlgorithm: 'v2', accessKeySecret: 'wrong' }), w.haVipId));
    assert.equal(bad.code, 'SignatureDoesNotMatch');
  } finally {
    await w.emu.close();
  }
});

test('a wrong secret, an unknown key and a revoked key are refused with the real codes', async () => {
  const w = await world();
  try {
    const wrong = await sdkError(() => describe(client(w.emu, { accessKeySecret: 'not-the-secret' }), w.haVipId));
    assert.equal(wrong.code, 'SignatureDoesNotMatch');
    assert.equal(wrong.statusCode, 400);
    assert.ok(wrong instanceof ClientError);
    const unknown = await sdkError(() => describe(client(w.emu, { accessKeyId: 'LTAI5tUNKNOWNKEY00000' }), w.haVipId));
    assert.equal(unknown.code, 'InvalidAccessKeyId.NotFound');
    assert.equal(unknown.statusCode, 404);
    w.emu.revokeCredential(KEY.accessKeyId);
    const revoked = await sdkError(() => describe(client(w.emu), w.haVipId));
    assert.equal(revoked.code, 'InvalidAccessKeyId.NotFound');
    assert.deepEqual(w.emu.calls.map((c) => c.code), ['SignatureDoesNotMatch', 'InvalidAccessKeyId.NotFound', 'InvalidAccessKeyId.NotFound']);
  } finally {
    await w.emu.close();
  }
});

test('raw ACS3: a tampered query, a replayed nonce, a skewed date and a missing signature are refused', async () => {
  const w = await world();
  try {
    const query = `HaVipId=${w.haVipId}&InstanceId=${w.a}&RegionId=${REGION}`;
    const good = await rawAcs3(w.emu, { action: 'AssociateHaVip', query, nonce: 'nonce-1' });
    assert.equal(good.status, 200);
    assert.equal(typeof good.body['RequestId'], 'string');
    const replay = await rawAcs3(w.emu, { action: 'AssociateHaVip', query, nonce: 'nonce-1' });
    assert.equal(replay.body['Code'], 'SignatureNonceUsed');
    const tampered = await rawAcs3(w.emu, { action: 'AssociateHaVip', query, tamperQuery: `HaVipId=${w.haVipId}&InstanceId=${w.b}&RegionId=${REGION}` });
    assert.equal(tampered.status, 400);
    assert.equal(tampered.body['Code'], 'SignatureDoesNotMatch');
    const skewed = await rawAcs3(w.emu, { action: 'DescribeHaVips', query: `RegionId=${REGION}`, date: new Date(Date.now() - 3600_000).toISOString().replace(/\.\d{3}Z$/, 'Z') });
    assert.equal(skewed.body['Code'], 'InvalidTimeStamp.Expired');
    assert.deepEqual(w.state.haVip(w.haVipId)!.associatedInstances, [w.a], 'only the good request changed anything');
    const unsigned = await new Promise<{ status: number; body: Record<string, unknown> }>((resolve, reject) => {
      const req = request({ host: w.emu.host, port: w.emu.port, method: 'POST', path: `/?RegionId=${REGION}`, headers: { 'x-acs-action': 'DescribeHaVips', 'x-acs-version': '2016-04-28' } }, (res) => {
        let text = '';
        res.setEncoding('utf8').on('data', (d: string) => (text += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) as Record<string, unknown> }));
      });
      req.on('error', reject);
      req.end();
    });
    assert.equal(unsigned.status, 400);
    assert.equal(unsigned.body['Code'], 'IncompleteSignature');
    assert.equal(typeof unsigned.body['RequestId'], 'string');
    assert.equal(typeof unsigned.body['HostId'], 'string');
  } finally {
    await w.emu.close();
  }
});

test('STS keys through a custom credentials provider: token required and checked', async () => {
  const w = await world({ associated: true });
  try {
    const provider = (token: string) => ({
      getProviderName: () => 'agent_ecs_metadata',
      getCredentials: async () => ({ accessKeyId: STS.accessKeyId, accessKeySecret: STS.accessKeySecret, securityToken: token, providerName: 'agent_ecs_metadata' }),
    });
    const ok = client(w.emu, { accessKeyId: undefined, accessKeySecret: undefined, credential: new Credential(null, provider(STS.securityToken!)) } as Partial<$OpenApiUtil.Config>);
    const h = await describe(ok, w.haVipId);
    assert.equal(h.status, 'InUse');
    const call = w.emu.calls.at(-1)!;
    assert.equal(call.accessKeyId, STS.accessKeyId);
    assert.equal(call.credentialsProvider, 'agent_ecs_metadata');
    const bad = client(w.emu, { accessKeyId: undefined, accessKeySecret: undefined, credential: new Credential(null, provider('CAISsomeOtherToken')) } as Partial<$OpenApiUtil.Config>);
    const e = await sdkError(() => describe(bad, w.haVipId));
    assert.equal(e.code, 'InvalidSecurityToken.MismatchWithAccessKey');
  } finally {
    await w.emu.close();
  }
});

test('environment keys through the real @alicloud/credentials default chain', async () => {
  const w = await world({ associated: true });
  const saved = { id: process.env.ALIBABA_CLOUD_ACCESS_KEY_ID, secret: process.env.ALIBABA_CLOUD_ACCESS_KEY_SECRET };
  process.env.ALIBABA_CLOUD_ACCESS_KEY_ID = KEY.accessKeyId;
  process.env.ALIBABA_CLOUD_ACCESS_KEY_SECRET = KEY.accessKeySecret;
  try {
    const c = client(w.emu, { accessKeyId: undefined, accessKeySecret: undefined, credential: new Credential() } as Partial<$OpenApiUtil.Config>);
    const h = await describe(c, w.haVipId);
    assert.deepEqual(h.associatedInstances?.associatedInstance, [w.a, w.b]);
    assert.equal(w.emu.calls.at(-1)!.credentialsProvider, 'default/env');
    assert.equal(w.emu.calls.at(-1)!.accessKeyId, KEY.accessKeyId);
  } finally {
    if (saved.id === undefined) delete process.env.ALIBABA_CLOUD_ACCESS_KEY_ID;
    else process.env.ALIBABA_CLOUD_ACCESS_KEY_ID = saved.id;
    if (saved.secret === undefined) delete process.env.ALIBABA_CLOUD_ACCESS_KEY_SECRET;
    else process.env.ALIBABA_CLOUD_ACCESS_KEY_SECRET = saved.secret;
    await w.emu.close();
  }
});

// ---------------------------------------------------------------- operations and statuses

test('AssociateHaVip: Associating, then InUse after the delay; a second one meanwhile is refused', async () => {
  const w = await world({ delays: true });
  try {
    const c = client(w.emu);
    assert.equal((await describe(c, w.haVipId)).status, 'Available');
    const r = await associate(c, w.haVipId, w.a);
    assert.equal(r.statusCode, 200);
    assert.equal(typeof r.body?.requestId, 'string');
    let h = await describe(c, w.haVipId);
    assert.equal(h.status, 'Associating');
    assert.deepEqual(h.associatedInstances?.associatedInstance, []);
    const busy = await sdkError(() => associate(c, w.haVipId, w.b));
    assert.equal(busy.code, 'IncorrectHaVipStatus');
    w.clock.advance(2999);
    assert.equal((await describe(c, w.haVipId)).status, 'Associating');
    w.clock.advance(1);
    h = await describe(c, w.haVipId);
    assert.equal(h.status, 'InUse');
    assert.deepEqual(h.associatedInstances?.associatedInstance, [w.a]);
    assert.equal(h.masterInstanceId, '', 'association alone does not make a master');
    const p = w.emu.calls.find((x) => x.action === 'AssociateHaVip')!.params;
    assert.equal(p['InstanceType'], 'EcsInstance');
    assert.equal(p['HaVipId'], w.haVipId);
  } finally {
    await w.emu.close();
  }
});

test('the busy code is configurable (TaskConflict)', async () => {
  const w = await world({ delays: true });
  try {
    w.state.busyCode = 'TaskConflict';
    const c = client(w.emu);
    await associate(c, w.haVipId, w.a);
    assert.equal((await sdkError(() => associate(c, w.haVipId, w.b))).code, 'TaskConflict');
  } finally {
    await w.emu.close();
  }
});

test('UnassociateHaVip: the master needs Force; Unassociating, then the instance and the master are gone', async () => {
  const w = await world({ associated: true, delays: true });
  try {
    const c = client(w.emu);
    w.state.announce(MAC_A, HAVIP_IP);
    const refused = await sdkError(() => unassociate(c, w.haVipId, w.a));
    assert.equal(refused.code, 'Forbidden.UnassociateMaster');
    const refusedFalse = await sdkError(() => unassociate(c, w.haVipId, w.a, false));
    assert.equal(refusedFalse.code, 'Forbidden.UnassociateMaster');
    await unassociate(c, w.haVipId, w.a, true);
    assert.equal(w.emu.calls.at(-1)!.params['Force'], 'True');
    let h = await describe(c, w.haVipId);
    assert.equal(h.status, 'Unassociating');
    assert.equal(h.masterInstanceId, w.a);
    w.clock.advance(2000);
    h = await describe(c, w.haVipId);
    assert.equal(h.status, 'InUse');
    assert.deepEqual(h.associatedInstances?.associatedInstance, [w.b]);
    assert.equal(h.masterInstanceId, '');
    await unassociate(c, w.haVipId, w.b);
    w.clock.advance(2000);
    h = await describe(c, w.haVipId);
    assert.equal(h.status, 'Available');
    assert.deepEqual(h.associatedInstances?.associatedInstance, []);
    const notInUse = await sdkError(() => unassociate(c, w.haVipId, w.b));
    assert.equal(notInUse.code, 'IncorrectHaVipStatus');
  } finally {
    await w.emu.close();
  }
});

test('announce(): MasterInstanceId follows gratuitous ARP from associated instances only', async () => {
  const w = await world({ associated: true });
  try {
    const c = client(w.emu);
    assert.deepEqual(w.state.announce(MAC_C, HAVIP_IP), [], 'an unassociated instance is ignored');
    assert.deepEqual(w.state.announce('00:16:3e:ff:ff:ff', HAVIP_IP), [], 'an unknown MAC is ignored');
    assert.equal((await describe(c, w.haVipId)).masterInstanceId, '');
    assert.deepEqual(w.state.announce(MAC_B.toUpperCase(), HAVIP_IP), [w.haVipId]);
    assert.equal((await describe(c, w.haVipId)).masterInstanceId, w.b);
    assert.deepEqual(w.state.announce(MAC_A, '198.51.100.99'), [], 'an ARP for another address changes nothing');
    assert.equal((await describe(c, w.haVipId)).masterInstanceId, w.b);
    w.state.announce(MAC_C, HAVIP_IP);
    assert.equal((await describe(c, w.haVipId)).masterInstanceId, w.b);
    w.state.announce(MAC_A);
    assert.equal((await describe(c, w.haVipId)).masterInstanceId, w.a);
  } finally {
    await w.emu.close();
  }
});

test('announce(): with masterDelayMs the change shows only once the delay has passed; the FAQ mode lets an unassociated instance take it', async () => {
  const w = await world({ associated: true });
  try {
    w.state.masterDelayMs = 500;
    w.state.announce(MAC_B, HAVIP_IP);
    assert.equal(w.state.haVip(w.haVipId)!.masterInstanceId, '');
    w.clock.advance(500);
    assert.equal(w.state.haVip(w.haVipId)!.masterInstanceId, w.b);
    w.state.masterDelayMs = 0;
    w.state.unassociatedArpTakesMaster = true;
    assert.deepEqual(w.state.announce(MAC_C, HAVIP_IP), [w.haVipId]);
    assert.equal(w.state.haVip(w.haVipId)!.masterInstanceId, w.c);
  } finally {
    await w.emu.close();
  }
});

test('AssociateHaVip errors: unknown HaVip, instance status, other vSwitch, already associated, limits', async () => {
  const w = await world({ associated: true });
  try {
    const c = client(w.emu);
    const nf = await sdkError(() => associate(c, 'havip-bp1doesnotexist0000', w.c));
    assert.equal(nf.code, 'InvalidHaVipId.NotFound');
    assert.equal(nf.statusCode, 404);
    assert.match(nf.message, /InvalidHaVipId\.NotFound/);
    w.state.setInstanceStatus(w.c, 'Starting');
    assert.equal((await sdkError(() => associate(c, w.haVipId, w.c))).code, 'IncorrectInstanceStatus');
    w.state.setInstanceStatus(w.c, 'Stopped');
    assert.equal((await sdkError(() => associate(c, w.haVipId, w.other))).code, 'InvalidVSwitchId.NotSame');
    assert.equal((await sdkError(() => associate(c, w.haVipId, w.a))).code, 'InvalidInstanceId.AlreadyAssociated');
    assert.equal((await sdkError(() => associate(c, w.haVipId, 'i-bp1nosuchinstance0000'))).code, 'InvalidInstanceId.NotFound');
    w.state.maxInstancesPerHaVip = 2;
    assert.equal((await sdkError(() => associate(c, w.haVipId, w.c))).code, 'CountLimitExceeded.HaVipOnECSInstance');
    w.state.maxInstancesPerHaVip = 10;
    w.state.maxHaVipsPerInstance = 1;
    const second = w.state.addHaVip({ vSwitchId: w.vSwitchId, ipAddress: '198.51.100.101' });
    assert.equal((await sdkError(() => associate(c, second.haVipId, w.a))).code, 'CountLimitExceed.HaVipOnInstance');
    w.state.maxHaVipsPerInstance = 5;
    await associate(c, w.haVipId, w.c);
    assert.deepEqual(w.state.haVip(w.haVipId)!.associatedInstances, [w.a, w.b, w.c]);
    const notAssoc = await sdkError(() => unassociate(c, second.haVipId, w.a));
    assert.equal(notAssoc.code, 'IncorrectHaVipStatus', 'an Available HaVip cannot be unassociated');
    await associate(c, second.haVipId, w.b);
    assert.equal((await sdkError(() => unassociate(c, second.haVipId, w.a))).code, 'ResourceNotAssociated');
  } finally {
    await w.emu.close();
  }
});

test('CreateHaVip: Creating then Available; address rules; vSwitch unknown', async () => {
  const w = await world({ delays: true });
  try {
    const c = client(w.emu);
    const r = await c.createHaVip(new $Vpc.CreateHaVipRequest({ regionId: REGION, vSwitchId: w.vSwitchId, ipAddress: '198.51.100.50', name: 'second' }));
    const id = r.body!.haVipId!;
    assert.match(id, /^havip-/);
    assert.equal(r.body!.ipAddress, '198.51.100.50');
    assert.equal((await describe(c, id)).status, 'Creating');
    w.clock.advance(1000);
    const h = await describe(c, id);
    assert.equal(h.status, 'Available');
    assert.equal(h.name, 'second');
    const auto = await c.createHaVip(new $Vpc.CreateHaVipRequest({ regionId: REGION, vSwitchId: w.vSwitchId }));
    assert.equal(auto.body!.ipAddress, '198.51.100.1', 'the first free, unreserved address');
    const create = (ip: string, vSwitchId = w.vSwitchId) => c.createHaVip(new $Vpc.CreateHaVipRequest({ regionId: REGION, vSwitchId, ipAddress: ip }));
    assert.equal((await sdkError(() => create('198.51.100.200'))).code, 'InvalidIPAddress.OutOfRange');
    assert.equal((await sdkError(() => create('198.51.100.11'))).code, 'InvalidIPAddress.AlreadyUsed');
    assert.equal((await sdkError(() => create(HAVIP_IP))).code, 'InvalidIPAddress.AlreadyUsed');
    assert.equal((await sdkError(() => create('198.51.100.125'))).code, 'InvalidIPAddress.NotAvailable');
    assert.equal((await sdkError(() => create('198.51.100.0'))).code, 'InvalidIPAddress.NotAvailable');
    assert.equal((await sdkError(() => create('198.51.100.60', 'vsw-bp1doesnotexist0000'))).code, 'InvalidVSwitch.NotFound');
  } finally {
    await w.emu.close();
  }
});

test('DescribeHaVips: filters AND together, values OR; paging; an unknown filter key is refused', async () => {
  const w = await world({ associated: true });
  try {
    const c = client(w.emu);
    for (let i = 0; i < 11; i++) w.state.addHaVip({ vSwitchId: w.otherVSwitchId, ipAddress: `198.51.100.${150 + i}` });
    const q = async (filters: [string, string[]][], page?: { number?: number; size?: number }) =>
      (
        await c.describeHaVips(
          new $Vpc.DescribeHaVipsRequest({
            regionId: REGION,
            filter: filters.map(([key, value]) => new $Vpc.DescribeHaVipsRequestFilter({ key, value })),
            ...(page?.number ? { pageNumber: page.number } : {}),
            ...(page?.size ? { pageSize: page.size } : {}),
          }),
        )
      ).body!;
    const byAddr = await q([['HaVipAddress', [HAVIP_IP, '198.51.100.150']]]);
    assert.equal(byAddr.totalCount, 2);
    const both = await q([['HaVipAddress', [HAVIP_IP, '198.51.100.150']], ['VSwitchId', [w.vSwitchId]]]);
    assert.deepEqual(both.haVips!.haVip!.map((h) => h.haVipId), [w.haVipId]);
    assert.equal((await q([['Status', ['InUse']]])).totalCount, 1);
    assert.equal((await q([['VpcId', [w.vpcId]]])).totalCount, 12);
    const p1 = await q([]);
    assert.equal(p1.totalCount, 12);
    assert.equal(p1.pageSize, 10);
    assert.equal(p1.pageNumber, 1);
    assert.equal(p1.haVips!.haVip!.length, 10);
    const p2 = await q([], { number: 2 });
    assert.equal(p2.haVips!.haVip!.length, 2);
    assert.equal((await q([], { size: 50 })).haVips!.haVip!.length, 12);
    const e = await sdkError(() => q([['InstanceId', [w.a]]]));
    assert.equal(e.code, 'InvalidFilterKey.ValueNotSupported');
    assert.equal(e.statusCode, 404);
    assert.equal((await sdkError(() => q([], { size: 51 }))).code, 'InvalidParameter.PageSize');
    const region = await sdkError(() => c.describeHaVips(new $Vpc.DescribeHaVipsRequest({ regionId: 'cn-beijing' })));
    assert.equal(region.code, 'InvalidRegionId.NotFound');
  } finally {
    await w.emu.close();
  }
});

// ---------------------------------------------------------------- faults and permissions

test('faults: Throttling.User → ThrottlingError, 500/503 → ServerError, Forbidden.RAM; one request each (no SDK retry)', async () => {
  const w = await world({ associated: true });
  try {
    const c = client(w.emu);
    w.emu.faults.add({ kind: 'throttling', action: 'DescribeHaVips', times: 1 });
    const th = await sdkError(() => describe(c, w.haVipId));
    assert.equal(th.code, 'Throttling.User');
    assert.ok(th instanceof ThrottlingError, th.name);
    w.emu.faults.add({ kind: 'error5xx', times: 1 });
    const e500 = await sdkError(() => describe(c, w.haVipId));
    assert.equal(e500.code, 'InternalError');
    assert.equal(e500.statusCode, 500);
    assert.ok(e500 instanceof ServerError);
    w.emu.faults.add({ kind: 'error5xx', status: 503, times: 1 });
    const e503 = await sdkError(() => describe(c, w.haVipId));
    assert.equal(e503.code, 'ServiceUnavailable');
    assert.equal(e503.statusCode, 503);
    w.emu.faults.add({ kind: 'forbidden', action: 'AssociateHaVip', times: 1 });
    const fb = await sdkError(() => associate(c, w.haVipId, w.c));
    assert.equal(fb.code, 'Forbidden.RAM');
    assert.equal(fb.statusCode, 403);
    w.emu.faults.add({ kind: 'conflict', times: 1 });
    assert.equal((await sdkError(() => associate(c, w.haVipId, w.c))).code, 'TaskConflict');
    assert.equal(w.emu.faults.list().length, 0, 'every fault used up');
    assert.deepEqual(
      w.emu.calls.map((x) => [x.action, x.status, x.code]),
      [
        ['DescribeHaVips', 400, 'Throttling.User'],
        ['DescribeHaVips', 500, 'InternalError'],
        ['DescribeHaVips', 503, 'ServiceUnavailable'],
        ['AssociateHaVip', 403, 'Forbidden.RAM'],
        ['AssociateHaVip', 400, 'TaskConflict'],
      ],
    );
    assert.equal((await describe(c, w.haVipId)).status, 'InUse', 'served normally afterwards');
    assert.deepEqual(w.state.haVip(w.haVipId)!.associatedInstances, [w.a, w.b], 'faulted associations changed nothing');
  } finally {
    await w.emu.close();
  }
});

test('faults: latency still answers; hang never does (the SDK read timeout fires); an action filter spares the others', async () => {
  const w = await world({ associated: true });
  try {
    w.emu.faults.add({ kind: 'latency', ms: 50, times: 1 });
    const h = await describe(client(w.emu), w.haVipId);
    assert.equal(h.status, 'InUse');
    assert.equal(w.emu.faults.list().length, 0);
    w.emu.faults.add({ kind: 'hang', action: 'AssociateHaVip' });
    const c = client(w.emu, { readTimeout: 300 });
    const e = await sdkError(() => associate(c, w.haVipId, w.c));
    assert.ok(!('statusCode' in e) || e.statusCode === undefined, `a timeout, not an answer: ${e.message}`);
    assert.equal(w.emu.calls.at(-1)!.status, undefined, 'the hung call was never answered');
    assert.equal((await describe(c, w.haVipId)).status, 'InUse', 'other actions are served');
    assert.deepEqual(w.state.haVip(w.haVipId)!.associatedInstances, [w.a, w.b]);
  } finally {
    await w.emu.close();
  }
});

test('permissions: setAllowedActions limits a key (Forbidden.RAM), undefined lifts it', async () => {
  const w = await world({ associated: true });
  try {
    const c = client(w.emu);
    w.emu.setAllowedActions(KEY.accessKeyId, ['DescribeHaVips']);
    assert.equal((await describe(c, w.haVipId)).status, 'InUse');
    const e = await sdkError(() => associate(c, w.haVipId, w.c));
    assert.equal(e.code, 'Forbidden.RAM');
    assert.match(e.message, /Forbidden\.RAM/);
    w.emu.setAllowedActions(KEY.accessKeyId, undefined);
    await associate(c, w.haVipId, w.c);
    assert.deepEqual(w.state.haVip(w.haVipId)!.associatedInstances, [w.a, w.b, w.c]);
  } finally {
    await w.emu.close();
  }
});

test('every other §3.5 code can be injected and the SDK surfaces it as e.code with the right class', async () => {
  const w = await world({ associated: true });
  try {
    const c = client(w.emu);
    const cases: { fault: Parameters<VpcEmulator['faults']['add']>[0]; code: string; status: number; cls: Function }[] = [
      { fault: { kind: 'throttling', code: 'Throttling' }, code: 'Throttling', status: 400, cls: ThrottlingError },
      { fault: { kind: 'error', status: 400, code: 'InvalidVip.Status', message: 'vip invalid status' }, code: 'InvalidVip.Status', status: 400, cls: ClientError },
      { fault: { kind: 'conflict', code: 'OperationConflict' }, code: 'OperationConflict', status: 400, cls: ClientError },
      { fault: { kind: 'conflict', code: 'OperationFailed.DistibuteLock' }, code: 'OperationFailed.DistibuteLock', status: 400, cls: ClientError },
      { fault: { kind: 'error', status: 403, code: 'NoPermission' }, code: 'NoPermission', status: 403, cls: ClientError },
      { fault: { kind: 'error', status: 403, code: 'Forbidden.HaVip' }, code: 'Forbidden.HaVip', status: 403, cls: ClientError },
    ];
    for (const k of cases) {
      w.emu.faults.add({ ...k.fault, action: 'AssociateHaVip', times: 1 });
      const e = await sdkError(() => associate(c, w.haVipId, w.c));
      assert.equal(e.code, k.code);
      assert.equal(e.statusCode, k.status, k.code);
      assert.ok(e instanceof k.cls, `${k.code}: ${e.name}`);
      assert.equal((e.data as Record<string, unknown> | undefined)?.['Code'], k.code, 'e.data is the whole envelope');
    }
    assert.deepEqual(w.state.haVip(w.haVipId)!.associatedInstances, [w.a, w.b]);
  } finally {
    await w.emu.close();
  }
});
