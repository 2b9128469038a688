// The alibaba provider's ECS metadata client (providers/alibaba/metadata.ts) and credential chain
// (credentials.ts) against the ECS metadata emulator (hardened mode, token required), on loopback:
// one token serves many reads; an expired token is renewed once on 401; unreachable → retryable,
// unknown path → permanent; ALIBABA_CLOUD_ECS_METADATA_DISABLED forbids the default address without a
// request; the chain prefers environment keys, else the RAM role through OUR metadata client, caches
// the keys until shortly before they expire, and says which source answered; no role → NoCredentials.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { startMetadataEmulator, type MetadataEmulator } from '../emulators/alibaba/metadata.js';
import { VpcState } from '../emulators/alibaba/vpc-state.js';
import { EcsMetadata } from '../../providers/alibaba/metadata.js';
import { credentialChain, ecsRamRole } from '../../providers/alibaba/credentials.js';
import { coreFacts, fullFacts } from '../../providers/alibaba/facts.js';
import { ProviderError } from '../../src/provider/errors.js';

process.env.ALIBABA_CLOUD_ECS_METADATA_DISABLED = 'true';

function view() {
  const state = new VpcState({ regionId: 'cn-hangzhou' });
  const vpc = state.addVpc({ cidr: '198.51.100.0/24' });
  const sw = state.addVSwitch({ vpcId: vpc.vpcId, cidr: '198.51.100.0/25' });
  const inst = state.addInstance({ vSwitchId: sw.vSwitchId, mac: '00:16:3E:00:00:0A', privateIp: '198.51.100.11' });
  return { state, view: state.metadataView(inst.instanceId), instanceId: inst.instanceId, vSwitchId: sw.vSwitchId, vpcId: vpc.vpcId };
}

async function withMetadata(opts: { role?: boolean; clock?: () => number; expiresInMs?: number }, fn: (md: MetadataEmulator, v: ReturnType<typeof view>) => Promise<void>): Promise<void> {
  const v = view();
  let serial = 0;
  const role = opts.role === false ? undefined : { name: 'HaAgentRole', credentials: () => ({ AccessKeyId: `STS.key${serial}`, AccessKeySecret: 'secret', SecurityToken: 'token', Expiration: new Date(Date.now() + (opts.expiresInMs ?? 6 * 3600_000)) }) };
  const md = await startMetadataEmulator({ view: v.view, ...(role ? { role } : {}), ...(opts.clock ? { clock: opts.clock } : {}) });
  try {
    await fn(md, v);
    serial++;
  } finally {
    await md.close();
  }
}

test('one token (PUT) serves every read, each GET carries it; facts from metadata, or from the config without a read', () =>
  withMetadata({}, async (emu, v) => {
    const md = new EcsMetadata({ endpoint: emu.url });
    const facts = await fullFacts(md, {});
    assert.deepEqual(facts, { instanceId: v.instanceId, regionId: 'cn-hangzhou', zoneId: 'cn-hangzhou-i', vpcId: v.vpcId, vSwitchId: v.vSwitchId, mac: '00:16:3e:00:00:0a', privateIpv4: '198.51.100.11' });
    assert.equal(md.tokensFetched, 1);
    assert.equal(emu.requests.filter((r) => r.method === 'PUT').length, 1);
    assert.ok(emu.requests.every((r) => r.status === 200), JSON.stringify(emu.requests));
    const n = emu.requests.length;
    assert.deepEqual(await coreFacts(md, { instanceId: 'i-bp1given', regionId: 'cn-shanghai' }), { instanceId: 'i-bp1given', regionId: 'cn-shanghai' });
    assert.equal(emu.requests.length, n, 'given facts are not read');
  }));

test('an expired token: the GET gets 401, a new token is fetched and the read succeeds', async () => {
  let now = 1_000_000;
  await withMetadata({ clock: () => now }, async (emu) => {
    const md = new EcsMetadata({ endpoint: emu.url, tokenTtlS: 60, now: () => 0 }); // our clock never sees the expiry
    await md.get('instance-id');
    now += 61_000;
    await md.get('region-id');
    assert.equal(md.tokensFetched, 2);
    assert.deepEqual(emu.requests.map((r) => `${r.method} ${r.status}`), ['PUT 200', 'GET 200', 'GET 401', 'PUT 200', 'GET 200']);
  });
});

test('failures: unreachable → retryable with the endpoint in the fix; unknown path → permanent; default address with METADATA_DISABLED → refused without a request', async () => {
  const closed = createServer();
  await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
  const port = (closed.address() as AddressInfo).port;
  await new Promise<void>((r) => closed.close(() => r()));
  const down = new EcsMetadata({ endpoint: `http://127.0.0.1:${port}` });
  const e1 = await down.get('instance-id').then(() => null, (e: unknown) => e);
  assert.ok(e1 instanceof ProviderError);
  assert.equal(e1.errorClass, 'retryable');
  assert.equal(e1.code, 'MetadataUnreachable');
  assert.match(e1.fix ?? '', new RegExp(`127\\.0\\.0\\.1:${port}`));

  await withMetadata({}, async (emu) => {
    const md = new EcsMetadata({ endpoint: emu.url });
    const e2 = await md.get('no/such/path').then(() => null, (e: unknown) => e);
    assert.ok(e2 instanceof ProviderError);
    assert.equal(e2.errorClass, 'permanent');
    assert.equal(e2.code, 'Metadata404');
  });

  const dflt = new EcsMetadata({ env: { ALIBABA_CLOUD_ECS_METADATA_DISABLED: 'true' } });
  const e3 = await dflt.get('instance-id').then(() => null, (e: unknown) => e);
  assert.ok(e3 instanceof ProviderError);
  assert.equal(e3.code, 'MetadataDisabled');
  assert.equal(dflt.reads, 0);
});

test('credentials: environment keys first; otherwise the RAM role through our metadata client, cached, with its source', () =>
  withMetadata({}, async (emu) => {
    const md = new EcsMetadata({ endpoint: emu.url });
    const env = await credentialChain(md, { ALIBABA_CLOUD_ACCESS_KEY_ID: 'LTAI5tENVKEY0001', ALIBABA_CLOUD_ACCESS_KEY_SECRET: 's3cret', HOME: '/nonexistent' })();
    assert.deepEqual({ id: env.accessKeyId, source: env.source }, { id: 'LTAI5tENVKEY0001', source: 'environment' });
    assert.equal(emu.requests.length, 0, 'no metadata read for environment keys');

    const chain = credentialChain(md, { HOME: '/nonexistent' });
    const a = await chain();
    const b = await chain();
    assert.equal(a.source, 'ecs ram role HaAgentRole');
    assert.equal(a.securityToken, 'token');
    assert.ok(a.expiration instanceof Date);
    assert.equal(b, a, 'cached');
    const gets = emu.requests.filter((r) => r.method === 'GET').map((r) => r.path);
    assert.deepEqual(gets, ['/latest/meta-data/ram/security-credentials/', '/latest/meta-data/ram/security-credentials/HaAgentRole']);
    chain.invalidate();
    await chain();
    assert.equal(emu.requests.filter((r) => r.method === 'GET').length, 4, 'read again once invalidated');
  }));

test('credentials: keys that expire within the refresh margin are fetched again; no role → NoCredentials (permanent) with the fix', async () => {
  await withMetadata({ expiresInMs: 60_000 }, async (emu) => {
    const chain = credentialChain(new EcsMetadata({ endpoint: emu.url }), { HOME: '/nonexistent' });
    await chain();
    await chain();
    assert.equal(emu.requests.filter((r) => r.method === 'GET').length, 4, 'expiring in 1 min (< 3 min margin): not cached');
  });
  await withMetadata({ role: false }, async (emu) => {
    const e = await ecsRamRole(new EcsMetadata({ endpoint: emu.url })).then(() => null, (x: unknown) => x);
    assert.ok(e instanceof ProviderError);
    assert.equal(e.code, 'NoCredentials');
    assert.equal(e.errorClass, 'permanent');
    assert.match(e.fix ?? '', /RAM role/);
  });
});
