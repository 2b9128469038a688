// The alibaba provider (providers/alibaba/havip.ts + index.ts verifyMany) against the VPC and ECS
// metadata emulators, through the REAL @alicloud/vpc20160428 client: the fake local part's "GARP" is
// the VPC state's announce() hook (the stand-in for ARP). Checked: a failover's acquire confirms
// MasterInstanceId in ≤ 3 DescribeHaVips and never calls Associate/Unassociate; confirmation after a
// delay; not confirmed → re-announce + NotConfirmed; not associated → reported, VIP not claimed, no
// fast path; verify held / elsewhere / not-held (and a stale copy after release); release makes no API
// call; associate: at-start once, waiting for InUse; throttling retried; Forbidden.RAM,
// InvalidHaVipId.NotFound and a wrong VIP reported at once with the fix; one DescribeHaVips for many.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ProviderError } from '../../src/provider/errors.js';
import { verifyMany } from '../../providers/alibaba/index.js';
import { alibabaWorld, buildProvider, callCounts, VIP, type AlibabaWorld } from '../support/alibaba-world.js';

const signal = () => new AbortController().signal;

async function withWorld(opts: Parameters<typeof alibabaWorld>[0], fn: (w: AlibabaWorld) => Promise<void>): Promise<void> {
  const w = await alibabaWorld(opts);
  try {
    await fn(w);
  } finally {
    await w.close();
  }
}

async function rejects(p: Promise<unknown>): Promise<ProviderError> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof ProviderError, `expected a ProviderError, got ${String(e)}`);
    return e;
  }
  assert.fail('expected a rejection');
}

test('failover: B is master; A releases (backup), then acquires: its GARP makes it MasterInstanceId, confirmed by the first read; no Associate/Unassociate', () =>
  withWorld({ master: 'b' }, async (w) => {
    const { provider, local } = buildProvider(w, w.a);
    await provider.release(signal());
    assert.deepEqual(callCounts(w), {}, 'release makes no API call');
    assert.deepEqual(await provider.verify(signal()), { [VIP]: 'elsewhere' });
    const before = w.vpc.calls.length;
    await provider.acquire(signal());
    const during = w.vpc.calls.slice(before);
    assert.equal(local.acquires, 1);
    assert.equal(w.state.haVip(w.haVipId)!.masterInstanceId, w.a.instanceId);
    assert.ok(during.length >= 1 && during.length <= 3, `API calls in the failover: ${during.length}`);
    assert.deepEqual(during.map((c) => c.action), ['DescribeHaVips']);
    assert.equal(provider.lastConfirmReads, 1);
    assert.deepEqual(await provider.verify(signal()), { [VIP]: 'held' });
    // And back: B's turn. A releases (local only), B acquires and is confirmed.
    const bp = buildProvider(w, w.b);
    await provider.release(signal());
    await bp.provider.acquire(signal());
    assert.equal(w.state.haVip(w.haVipId)!.masterInstanceId, w.b.instanceId);
    assert.deepEqual(await provider.verify(signal()), { [VIP]: 'elsewhere' });
    const actions = new Set(w.vpc.calls.map((c) => c.action));
    assert.ok(!actions.has('AssociateHaVip') && !actions.has('UnassociateHaVip'), [...actions].join(','));
    // The requests were signed with the RAM role's STS keys read from metadata, through our provider.
    assert.equal(w.vpc.calls[0]!.accessKeyId, 'STS.NTexampleEcsRoleAK');
    assert.match(w.vpc.calls[0]!.credentialsProvider ?? '', /^ha_agent\/ecs_ram_role_HaAgentRole$/);
    assert.ok(w.vpc.calls.every((c) => c.status === 200));
  }));

test('confirmation after a delay: the VPC follows the ARP 1.5 s later; confirmed within 3 reads, the last at the confirm deadline', () =>
  withWorld({ master: 'b', masterDelayMs: 1_500 }, async (w) => {
    const { provider } = buildProvider(w, w.a);
    const before = w.vpc.calls.length;
    await provider.acquire(signal());
    assert.equal(provider.lastConfirmReads, 3);
    assert.equal(w.vpc.calls.length - before, 3);
    assert.deepEqual(w.clock.waits, [1_000, 9_000], 'one jittered wait (random 1 → the full first step), then the rest up to confirmTimeout');
  }));

test('not confirmed within the confirm timeout: re-announced, NotConfirmed (retryable) with a fix, 3 reads; the next acquire tries again', () =>
  withWorld({ master: 'b' }, async (w) => {
    let garps = 0;
    const { provider, local } = buildProvider(w, w.a, { garp: () => void garps++ }); // the VPC never hears it
    const e = await rejects(provider.acquire(signal()));
    assert.equal(e.code, 'NotConfirmed');
    assert.equal(e.errorClass, 'retryable');
    assert.match(e.message, new RegExp(`MasterInstanceId is ${w.b.instanceId}`));
    assert.match(e.fix ?? '', /re-announces/);
    assert.equal(callCounts(w)['DescribeHaVips'], 3);
    assert.equal(local.acquires, 2, 'one acquire, one re-announce');
    assert.equal(garps, 2);
    assert.equal(local.present, true, 'the VIP stays: the runner keeps trying');
    // The VPC hears the next one.
    const again = buildProvider(w, w.a);
    await again.provider.acquire(signal());
    assert.equal(w.state.haVip(w.haVipId)!.masterInstanceId, w.a.instanceId);
  }));

test('an instance that is not associated: acquire reports NotAssociated (permanent, with the fix), takes the VIP off again, and no longer announces first', () =>
  withWorld({ associated: 'b-only', master: 'b' }, async (w) => {
    const { provider, local } = buildProvider(w, w.a);
    const e = await rejects(provider.acquire(signal()));
    assert.equal(e.code, 'NotAssociated');
    assert.equal(e.errorClass, 'permanent');
    assert.match(e.fix ?? '', new RegExp(`AssociateHaVip --RegionId cn-hangzhou --HaVipId ${w.haVipId} --InstanceId ${w.a.instanceId}`));
    assert.equal(local.present, false, 'the VIP is not claimed');
    assert.equal(w.state.haVip(w.haVipId)!.masterInstanceId, w.b.instanceId);
    assert.equal(provider.takeover(), null, 'no fast-path GARP while known unassociated');
    const e2 = await rejects(provider.acquire(signal()));
    assert.equal(e2.code, 'NotAssociated');
    assert.equal(local.acquires, 1, 'the second acquire read first and did not announce');
    const v = await rejects(provider.verify(signal()));
    assert.equal(v.code, 'NotAssociated');
  }));

test('verify: held / elsewhere / not-held from MasterInstanceId and the interface; a copy left after a release is reported held (drift)', () =>
  withWorld({ master: '' }, async (w) => {
    const { provider, local } = buildProvider(w, w.a);
    assert.deepEqual(await provider.verify(signal()), { [VIP]: 'not-held' }, 'no master yet');
    w.state.announce(w.b.mac, '198.51.100.100');
    assert.deepEqual(await provider.verify(signal()), { [VIP]: 'elsewhere' });
    await provider.acquire(signal());
    assert.deepEqual(await provider.verify(signal()), { [VIP]: 'held' });
    local.present = false; // the address taken off by hand: MasterInstanceId alone is not "held"
    assert.deepEqual(await provider.verify(signal()), { [VIP]: 'not-held' });
    await provider.release(signal());
    w.state.announce(w.b.mac, '198.51.100.100');
    local.present = true; // a stale copy on the backup
    assert.deepEqual(await provider.verify(signal()), { [VIP]: 'held' });
  }));

test('lower-priority advert: the local part re-announces and the runner is asked to verify at once', () =>
  withWorld({ master: 'a' }, async (w) => {
    const { provider, local } = buildProvider(w, w.a);
    let rechecks = 0;
    provider.watch(() => rechecks++);
    provider.announce('lower-priority');
    provider.announce('refresh');
    assert.deepEqual(local.announced, ['lower-priority', 'refresh']);
    assert.equal(rechecks, 1, 'only the lower-priority advert asks for a verify');
  }));

test('associate: at-start associates once and waits for InUse; later looks do not associate again', () =>
  withWorld({ associated: 'b-only', master: 'b', associateDelayMs: 3_000 }, async (w) => {
    const { provider } = buildProvider(w, w.a, { associate: 'at-start' });
    assert.deepEqual(await provider.verify(signal()), { [VIP]: 'elsewhere' });
    const h = w.state.haVip(w.haVipId)!;
    assert.equal(h.status, 'InUse');
    assert.ok(h.associatedInstances.includes(w.a.instanceId));
    assert.equal(callCounts(w)['AssociateHaVip'], 1);
    assert.ok(w.clock.waits.reduce((a, b) => a + b, 0) >= 3_000, 'waited for the association');
    await provider.acquire(signal());
    await provider.release(signal());
    await provider.verify(signal());
    assert.equal(callCounts(w)['AssociateHaVip'], 1, 'once');
    assert.equal(callCounts(w)['UnassociateHaVip'], undefined);
  }));

test('throttling and 5xx on DescribeHaVips are retried with backoff (the SDK does not retry)', () =>
  withWorld({ master: 'b' }, async (w) => {
    const { provider } = buildProvider(w, w.a);
    w.vpc.faults.add({ action: 'DescribeHaVips', kind: 'throttling', times: 1 });
    w.vpc.faults.add({ action: 'DescribeHaVips', kind: 'error5xx', status: 503, times: 1 });
    await provider.acquire(signal());
    assert.deepEqual(w.vpc.calls.map((c) => c.code ?? c.status), ['Throttling.User', 'ServiceUnavailable', 200]);
    assert.equal(w.state.haVip(w.haVipId)!.masterInstanceId, w.a.instanceId);
    // Throttled on every try: a retryable error naming throttling, after 3 attempts.
    w.vpc.faults.add({ action: 'DescribeHaVips', kind: 'throttling' });
    const before = w.vpc.calls.length;
    const e = await rejects(provider.verify(signal()));
    assert.equal(e.errorClass, 'retryable');
    assert.match(e.code ?? '', /Throttling/);
    assert.equal(w.vpc.calls.length - before, 3);
  }));

test('Forbidden.RAM, an unknown HaVip and a HaVip with another address are reported at once, each with its fix', () =>
  withWorld({ master: 'b' }, async (w) => {
    const { provider } = buildProvider(w, w.a);
    w.vpc.setAllowedActions('STS.NTexampleEcsRoleAK', ['AssociateHaVip']);
    const forbidden = await rejects(provider.verify(signal()));
    assert.equal(forbidden.code, 'Forbidden.RAM');
    assert.equal(forbidden.errorClass, 'permanent');
    assert.match(forbidden.fix ?? '', /vpc:DescribeHaVips/);
    assert.equal(callCounts(w)['DescribeHaVips'], 1, 'not retried');
    w.vpc.setAllowedActions('STS.NTexampleEcsRoleAK', undefined);

    const missing = buildProvider(w, w.a, { haVipId: 'havip-bp1doesnotexist000000' });
    const nf = await rejects(missing.provider.verify(signal()));
    assert.equal(nf.code, 'InvalidHaVipId.NotFound');
    assert.match(nf.fix ?? '', /provider\.haVipId and provider\.regionId/);

    const other = buildProvider(w, w.a, { ctx: { vips: ['198.51.100.101/24'] } });
    const mm = await rejects(other.provider.acquire(signal()));
    assert.equal(mm.code, 'VipMismatch');
    assert.match(mm.fix ?? '', /198\.51\.100\.100\/32/);
  }));

test('verifyMany: one DescribeHaVips answers every alibaba instance on the same VPC client', () =>
  withWorld({ master: 'a' }, async (w) => {
    const second = w.state.addHaVip({ vSwitchId: w.vSwitchId, ipAddress: '198.51.100.101', associated: [w.a.instanceId, w.b.instanceId], masterInstanceId: w.b.instanceId });
    const one = buildProvider(w, w.a);
    const two = buildProvider(w, w.a, { api: one.api, haVipId: second.haVipId, ctx: { vips: ['198.51.100.101/24'] } });
    one.local.present = true;
    await one.provider.verify(signal()); // warms facts and credentials
    const before = w.vpc.calls.length;
    const out = await verifyMany([one.provider, two.provider], signal());
    assert.equal(w.vpc.calls.length - before, 1);
    assert.deepEqual(out.get(one.provider), { [VIP]: 'held' });
    assert.deepEqual(out.get(two.provider), { '198.51.100.101/24': 'elsewhere' });
  }));
