// The aws provider's elastic-ip mode (providers/aws/elastic-ip.ts) with the real SDK clients against
// the EC2 and IMDSv2 emulators sharing one state: the Elastic IP 203.0.113.10, associated with
// instance A's primary address, moves to B (this node) — EC2 calls per failover, the confirmation of
// an association EC2 shows late (a fake clock), verify's three answers, the idempotent re-acquire,
// release (nothing in the cloud), a configured private address, and classed failures (public address
// mismatch, unknown allocation, throttling); then through the real ProviderRunner.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AWS_TEST_KEY, AWS_TEST_TIMING, ec2Calls, fakeLocal, rejection, signal, silentLog, testContext, withAwsWorld, type AwsWorld } from '../support/aws-world.js';
import { lagRoutesAndAddresses } from '../support/ec2-lag.js';
import { Imds } from '../../providers/aws/imds.js';
import { Ec2 } from '../../providers/aws/ec2.js';
import { ElasticIpProvider } from '../../providers/aws/elastic-ip.js';
import { ProviderRunner } from '../../src/provider/runner/index.js';
import { ProviderError } from '../../src/provider/errors.js';

const EIP = '203.0.113.10';
const SPARE = '203.0.113.11';
const KEY = AWS_TEST_KEY;
const TIMING = AWS_TEST_TIMING;

/** The Elastic IP on A's primary address; a spare, unassociated one. B has a secondary address. */
type World = AwsWorld & { alloc: string; spare: string };

function withWorld(fn: (w: World) => Promise<void>): Promise<void> {
  return withAwsWorld(
    {
      b: { secondaryIps: ['198.51.100.50'] },
      extra: (state, { a }) => ({
        alloc: state.addAddress({ publicIp: EIP, networkInterfaceId: a.eni }).allocationId,
        spare: state.addAddress({ publicIp: SPARE }).allocationId,
      }),
    },
    fn,
  );
}

function provider(w: World, o: { vips?: string[]; allocationId?: string; privateIpAddress?: string } = {}): ElasticIpProvider {
  const vips = o.vips ?? [`${EIP}/32`];
  return new ElasticIpProvider(
    testContext(vips),
    {
      given: {},
      allocationId: o.allocationId ?? w.alloc,
      ...(o.privateIpAddress ? { privateIpAddress: o.privateIpAddress } : {}),
      imds: new Imds({ endpoint: w.imds.url }),
      ec2For: (region) => new Ec2({ region, endpoint: w.ec2.url, timeoutMs: 2_000 }),
      macOf: () => w.b.mac,
      now: () => w.clock.t,
      sleep: async (ms) => void (w.clock.t += ms), // lagged changes show on the state's clock
      random: () => 0.5,
    },
  );
}

const holder = (w: World, alloc = w.alloc) => {
  const a = w.state.addresses.get(alloc)!;
  return [a.networkInterfaceId ?? null, a.privateIpAddress ?? null];
};

test('failover: the Elastic IP moves from A to our primary address in 3 EC2 calls (read, AssociateAddress, confirming read); again: 1 read, no write', async () => {
  await withWorld(async (w) => {
    const p = provider(w);
    assert.deepEqual(await p.verify(signal()), { [`${EIP}/32`]: 'elsewhere' }, 'before: on the other instance');
    const from = w.ec2.calls.length;
    await p.acquire(signal());
    assert.deepEqual(ec2Calls(w, from), ['DescribeAddresses', 'AssociateAddress', 'DescribeAddresses']);
    const call = w.ec2.calls.find((c) => c.action === 'AssociateAddress')!;
    assert.deepEqual(
      [call.params.AllocationId, call.params.NetworkInterfaceId, call.params.PrivateIpAddress, call.params.AllowReassociation],
      [w.alloc, w.b.eni, '198.51.100.11', 'true'],
      'our ENI (by the interface\'s MAC), its primary address (IMDS local-ipv4s), reassociation allowed',
    );
    assert.deepEqual(holder(w), [w.b.eni, '198.51.100.11']);
    assert.deepEqual(await p.verify(signal()), { [`${EIP}/32`]: 'held' });
    const again = w.ec2.calls.length;
    await p.acquire(signal());
    assert.deepEqual(ec2Calls(w, again), ['DescribeAddresses'], 'already ours: one read, 0 writes');
    const checks = [];
    for await (const c of p.preflight()) checks.push(c);
    assert.deepEqual(checks.map((c) => [c.check, c.ok]), [['IMDSv2 and instance facts', true]]);
    assert.equal((await p.resolve()).privateIpAddress, '198.51.100.11');
  });
});

test('release: nothing in the cloud (the EIP stays until the next master takes it), and verify says not-held; a configured private address is used', async () => {
  await withWorld(async (w) => {
    const p = provider(w);
    await p.acquire(signal());
    const from = w.ec2.calls.length;
    await p.release(signal());
    assert.deepEqual(ec2Calls(w, from), [], 'no disassociation');
    assert.deepEqual(holder(w), [w.b.eni, '198.51.100.11']);
    assert.deepEqual(await p.verify(signal()), { [`${EIP}/32`]: 'not-held' }, 'released: pointing at us is not holding it');
    const secondary = provider(w, { privateIpAddress: '198.51.100.50' });
    await secondary.acquire(signal());
    assert.deepEqual(holder(w), [w.b.eni, '198.51.100.50']);
    assert.deepEqual(await secondary.verify(signal()), { [`${EIP}/32`]: 'held' });
    assert.deepEqual(await p.verify(signal()), { [`${EIP}/32`]: 'elsewhere' }, 'our ENI but another private address: not the association this provider makes');
  });
});

test('verify: not-held for an Elastic IP associated with nobody; a private address the ENI lacks is a permanent error with its fix', async () => {
  await withWorld(async (w) => {
    const p = provider(w, { vips: [`${SPARE}/32`], allocationId: w.spare });
    assert.deepEqual(await p.verify(signal()), { [`${SPARE}/32`]: 'not-held' });
    await p.acquire(signal());
    assert.deepEqual(holder(w, w.spare), [w.b.eni, '198.51.100.11']);
    assert.deepEqual(await p.verify(signal()), { [`${SPARE}/32`]: 'held' });
    const wrong = provider(w, { privateIpAddress: '198.51.100.77' });
    const err = await rejection(wrong.acquire(signal()));
    assert.equal(err.errorClass, 'permanent');
    assert.equal(err.code, 'InvalidParameterValue');
    assert.match(err.fix ?? '', /privateIpAddress/);
    assert.deepEqual(holder(w), [w.a.eni, '198.51.100.10'], 'nothing moved');
  });
});

test('confirmation: an association EC2 shows 1.5 s late is polled for; one that never shows in time → retryable NotConfirmed', async () => {
  await withWorld(async (w) => {
    lagRoutesAndAddresses(w.state, () => w.clock.t, 1_500);
    const p = provider(w);
    const from = w.ec2.calls.length;
    const t0 = w.clock.t;
    await p.acquire(signal());
    // random() = 0.5: waits of 150, 300, 600 then 1200 ms → reads at 0, 150, 450, 1050, 2250 ms.
    assert.deepEqual(ec2Calls(w, from), ['DescribeAddresses', 'AssociateAddress', ...Array<string>(5).fill('DescribeAddresses')]);
    assert.equal(w.clock.t - t0, 2_250);
    assert.deepEqual(await p.verify(signal()), { [`${EIP}/32`]: 'held' });
  });
  await withWorld(async (w) => {
    lagRoutesAndAddresses(w.state, () => w.clock.t, 60_000);
    const p = provider(w);
    const t0 = w.clock.t;
    const err = await rejection(p.acquire(signal()));
    assert.equal(err.errorClass, 'retryable');
    assert.equal(err.code, 'NotConfirmed');
    assert.equal(w.clock.t - t0, TIMING.confirmTimeoutMs);
  });
});

test('wrong configuration is permanent, found before any write: public address ≠ VIP, unknown allocation, not exactly one VIP', async () => {
  await withWorld(async (w) => {
    const from = w.ec2.calls.length;
    const mismatch = await rejection(provider(w, { vips: ['203.0.113.99/32'] }).acquire(signal()));
    assert.equal(mismatch.errorClass, 'permanent');
    assert.equal(mismatch.code, 'ElasticIpMismatch');
    assert.match(mismatch.message, /203\.0\.113\.10.*203\.0\.113\.99/);
    assert.match(mismatch.fix ?? '', /203\.0\.113\.10\/32/);
    assert.deepEqual(ec2Calls(w, from), ['DescribeAddresses'], 'no AssociateAddress');
    const verifyToo = await rejection(provider(w, { vips: ['203.0.113.99/32'] }).verify(signal()));
    assert.equal(verifyToo.code, 'ElasticIpMismatch');
    const unknown = await rejection(provider(w, { allocationId: 'eipalloc-0ffffffffffffffff' }).acquire(signal()));
    assert.equal(unknown.errorClass, 'permanent');
    assert.equal(unknown.code, 'InvalidAllocationID.NotFound');
    assert.match(unknown.fix ?? '', /allocationId/);
    const before = w.ec2.calls.length;
    const two = await rejection(provider(w, { vips: [`${EIP}/32`, `${SPARE}/32`] }).acquire(signal()));
    assert.equal(two.errorClass, 'permanent');
    assert.equal(two.code, 'VipNotElasticIp');
    assert.deepEqual(ec2Calls(w, before), [], 'refused before any EC2 call');
    assert.deepEqual(holder(w), [w.a.eni, '198.51.100.10'], 'nothing moved');
  });
});

test('throttling on AssociateAddress → retryable ProviderError (RequestLimitExceeded); the retry completes; a missing permission names the IAM action', async () => {
  await withWorld(async (w) => {
    const p = provider(w);
    w.ec2.faults.add({ action: 'AssociateAddress', times: 1, kind: 'throttle' });
    const err = await rejection(p.acquire(signal()));
    assert.equal(err.errorClass, 'retryable');
    assert.equal(err.code, 'RequestLimitExceeded');
    assert.deepEqual(holder(w), [w.a.eni, '198.51.100.10']);
    await p.acquire(signal());
    assert.deepEqual(holder(w), [w.b.eni, '198.51.100.11']);
    w.ec2.setAllowedActions(KEY.accessKeyId, ['DescribeAddresses']);
    w.state.associateAddress({ allocationId: w.alloc, networkInterfaceId: w.a.eni, allowReassociation: true });
    const denied = await rejection(p.acquire(signal()));
    assert.equal(denied.errorClass, 'permanent');
    assert.match(denied.fix ?? '', /ec2:AssociateAddress/);
  });
});

test('through the runner: MASTER takes the EIP; a lower-priority advert after A grabbed it makes the runner verify and take it back at once; BACKUP leaves it', async () => {
  await withWorld(async (w) => {
    const p = provider(w);
    const runner = new ProviderRunner(p, { log: silentLog, timing: TIMING, vips: [`${EIP}/32`] });
    try {
      runner.want(true);
      assert.equal(await runner.whenReached(5_000), true);
      assert.deepEqual(holder(w), [w.b.eni, '198.51.100.11']);
      // The other node, briefly master, reassociated the EIP with itself (as a notify script would).
      w.state.associateAddress({ allocationId: w.alloc, networkInterfaceId: w.a.eni, allowReassociation: true });
      const from = w.ec2.calls.length;
      runner.announce('lower-priority');
      for (let i = 0; i < 200 && holder(w)[0] !== w.b.eni; i++) await new Promise((r) => setTimeout(r, 10));
      assert.deepEqual(holder(w), [w.b.eni, '198.51.100.11'], 'taken back without waiting for the reconcile period');
      for (let i = 0; i < 200 && w.ec2.calls.length - from < 4; i++) await new Promise((r) => setTimeout(r, 10));
      assert.deepEqual(ec2Calls(w, from), ['DescribeAddresses', 'DescribeAddresses', 'AssociateAddress', 'DescribeAddresses'], 'verify saw it elsewhere; then a 3-call failover');
      assert.equal(runner.status().counters.drift, 1);
      const before = w.ec2.calls.length;
      runner.want(false);
      assert.equal(await runner.whenReached(5_000), true);
      assert.deepEqual(ec2Calls(w, before), [], 'BACKUP: no EC2 call');
      assert.deepEqual(holder(w), [w.b.eni, '198.51.100.11'], 'the EIP is left for the next master');
      assert.equal(runner.status().ownership, 'not-held');
    } finally {
      await runner.close();
    }
  });
});
