// `ha-agent provider test alibaba` checks (providers/alibaba/preflight.ts) against the VPC and ECS
// metadata emulators with the real SDK: a correct setup passes every check and moves nothing; each
// broken setup fails exactly where it should, with a fix — an instance (this one, or a named peer) not
// associated, a HaVip with another address, a multicast instance, DescribeHaVips not permitted, a
// refused signature.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { PreflightCheck } from '../../src/provider/types.js';
import { alibabaWorld, buildProvider, callCounts, KEY, type AlibabaWorld } from '../support/alibaba-world.js';

async function checks(it: AsyncIterable<PreflightCheck>): Promise<PreflightCheck[]> {
  const out: PreflightCheck[] = [];
  for await (const c of it) out.push(c);
  return out;
}

const byName = (cs: PreflightCheck[], name: string): PreflightCheck => {
  const c = cs.find((x) => x.check === name);
  assert.ok(c, `no check "${name}" in ${cs.map((x) => x.check).join(', ')}`);
  return c;
};
const failed = (cs: PreflightCheck[]) => cs.filter((c) => !c.ok).map((c) => c.check);

async function withWorld(opts: Parameters<typeof alibabaWorld>[0], fn: (w: AlibabaWorld) => Promise<void>): Promise<void> {
  const w = await alibabaWorld(opts);
  try {
    await fn(w);
  } finally {
    await w.close();
  }
}

test('a correct setup: every check passes, in order, and nothing moves', () =>
  withWorld({ master: 'b' }, async (w) => {
    const { provider } = buildProvider(w, w.a, { peerInstanceIds: [w.b.instanceId] });
    const cs = await checks(provider.preflight());
    assert.deepEqual(failed(cs), []);
    assert.deepEqual(cs.map((c) => c.check), [
      'ECS metadata (hardened mode)',
      'instance',
      'credentials',
      'VPC API',
      'DescribeHaVips permitted',
      `HaVip ${w.haVipId}`,
      'HaVip address',
      'HaVip vSwitch',
      'associated instances',
      'master now',
      'VRRP unicast',
      'local: interface eth0',
    ]);
    assert.match(byName(cs, 'instance').detail, new RegExp(`${w.a.instanceId} in cn-hangzhou \\(cn-hangzhou-i\\), vpc-.*, ${w.vSwitchId}`));
    assert.match(byName(cs, 'credentials').detail, /ecs ram role HaAgentRole/);
    assert.match(byName(cs, 'master now').detail, new RegExp(w.b.instanceId));
    assert.deepEqual(callCounts(w), { DescribeHaVips: 1 });
    assert.equal(w.state.haVip(w.haVipId)!.masterInstanceId, w.b.instanceId);
  }));

test('not associated: this instance and a named peer are listed as missing, with the commands that fix it', () =>
  withWorld({ associated: 'none' }, async (w) => {
    const { provider } = buildProvider(w, w.a, { peerInstanceIds: [w.b.instanceId] });
    const cs = await checks(provider.preflight());
    assert.deepEqual(failed(cs), [`HaVip ${w.haVipId}`, 'associated instances']);
    assert.match(byName(cs, `HaVip ${w.haVipId}`).detail, /status Available/);
    const a = byName(cs, 'associated instances');
    assert.match(a.detail, new RegExp(`not associated: ${w.a.instanceId} \\(this instance\\), ${w.b.instanceId}`));
    assert.match(a.fix ?? '', new RegExp(`AssociateHaVip --RegionId cn-hangzhou --HaVipId ${w.haVipId} --InstanceId ${w.b.instanceId}`));
    assert.match(a.fix ?? '', /associate: at-start/);
  }));

test('without peerInstanceIds, too few associations for the unicast peers is a failure too', () =>
  withWorld({ associated: 'none' }, async (w) => {
    w.state.associateHaVip({ haVipId: w.haVipId, instanceId: w.a.instanceId });
    const { provider } = buildProvider(w, w.a);
    const a = byName(await checks(provider.preflight()), 'associated instances');
    assert.equal(a.ok, false);
    assert.match(a.detail, /1 associated .* 1 unicast peer/);
    assert.match(a.fix ?? '', /peerInstanceIds/);
  }));

test('a HaVip with another address than the VIP, and a multicast instance', () =>
  withWorld({ master: 'a' }, async (w) => {
    const { provider } = buildProvider(w, w.a, { ctx: { vips: ['198.51.100.101/24'], unicast: null }, peerInstanceIds: [w.b.instanceId] });
    const cs = await checks(provider.preflight());
    assert.deepEqual(failed(cs), ['HaVip address', 'VRRP unicast']);
    assert.match(byName(cs, 'HaVip address').fix ?? '', /198\.51\.100\.100\/32/);
    assert.match(byName(cs, 'VRRP unicast').fix ?? '', /unicast: \{ peers:/);
    assert.match(byName(cs, 'master now').detail, /this instance/);
  }));

test('DescribeHaVips not permitted: the API and signature pass, the permission fails with the RAM fix', () =>
  withWorld({ master: 'b' }, async (w) => {
    w.vpc.setAllowedActions('STS.NTexampleEcsRoleAK', []);
    const { provider } = buildProvider(w, w.a, { peerInstanceIds: [w.b.instanceId] });
    const cs = await checks(provider.preflight());
    assert.equal(byName(cs, 'VPC API').ok, true);
    const p = byName(cs, 'DescribeHaVips permitted');
    assert.equal(p.ok, false);
    assert.match(p.detail, /Forbidden\.RAM/);
    assert.match(p.fix ?? '', /vpc:DescribeHaVips/);
    assert.equal(byName(cs, `HaVip ${w.haVipId}`).ok, false);
  }));

test('a refused signature (wrong secret in the environment): credentials found, the VPC API check fails with the key fix', () =>
  withWorld({ master: 'b' }, async (w) => {
    const env = { ALIBABA_CLOUD_ACCESS_KEY_ID: KEY.accessKeyId, ALIBABA_CLOUD_ACCESS_KEY_SECRET: 'not-the-secret', HOME: '/nonexistent' };
    const { provider } = buildProvider(w, w.a, { env, peerInstanceIds: [w.b.instanceId] });
    const cs = await checks(provider.preflight());
    assert.match(byName(cs, 'credentials').detail, /found: environment/);
    const api = byName(cs, 'VPC API');
    assert.equal(api.ok, false);
    assert.match(api.detail, /SignatureDoesNotMatch/);
    assert.match(api.fix ?? '', /secret/);
  }));
