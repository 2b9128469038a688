// The aws provider's secondary-ip mode (providers/aws/secondary-ip.ts) with the real SDK clients
// against the EC2 and IMDSv2 emulators sharing one state: the move, its asynchronous confirmation
// (a fake clock), EC2 calls per failover, verify's three answers (and verifyMany's one read for
// many instances), release, and classed failures.
// The interface's addresses are a set here (the netlink path is the garp provider's, tested there).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AWS_TEST_KEY, AWS_TEST_TIMING, ec2Calls, fakeLocal, signal, silentLog, testContext, withAwsWorld, type AwsWorld } from '../support/aws-world.js';
import { Imds } from '../../providers/aws/imds.js';
import { Ec2 } from '../../providers/aws/ec2.js';
import { SecondaryIpProvider, type LocalAddresses } from '../../providers/aws/secondary-ip.js';
import { verifyMany } from '../../providers/aws/index.js';
import { ProviderRunner } from '../../src/provider/runner/index.js';
import { ProviderError } from '../../src/provider/errors.js';
import type { VipProvider } from '../../src/provider/types.js';

const KEY = AWS_TEST_KEY;
const VIP = '198.51.100.100';
const TIMING = AWS_TEST_TIMING;

type World = AwsWorld;

/** A holds the VIP as a secondary address; B (this node) takes it over. */
function withWorld(fn: (w: World) => Promise<void>, remapDelayMs = 1_500): Promise<void> {
  return withAwsWorld({ remapDelayMs, a: { secondaryIps: [VIP] } }, fn);
}

function provider(w: World, local = fakeLocal(), unassignOnRelease = false) {
  const p = new SecondaryIpProvider(
    testContext([`${VIP}/32`]),
    {
      given: {},
      unassignOnRelease,
      imds: new Imds({ endpoint: w.imds.url }),
      ec2For: (region) => new Ec2({ region, endpoint: w.ec2.url, timeoutMs: 2_000 }),
      macOf: () => w.b.mac,
      local,
      now: () => w.clock.t,
      sleep: async (ms) => void (w.clock.t += ms), // the remap lands on the state's clock
      random: () => 0.5,
    },
  );
  return { p, local };
}


test('failover: the VIP moves from the other ENI to ours in ONE EC2 call, confirmed through IMDS after the remap delay', async () => {
  await withWorld(async (w) => {
    const { p, local } = provider(w);
    assert.deepEqual(await p.verify(signal()), { [`${VIP}/32`]: 'elsewhere' }, 'before: on the other instance\'s ENI');
    assert.deepEqual(ec2Calls(w), ['DescribeNetworkInterfaces'], 'the first verify rehearses the assign: nothing of it reaches EC2');
    const from = w.ec2.calls.length;
    const t0 = w.clock.t;
    await p.acquire(signal());
    assert.deepEqual(ec2Calls(w, from), ['AssignPrivateIpAddresses'], 'one assign; the confirmation read IMDS, not EC2');
    assert.ok(w.clock.t - t0 >= 1_500, 'acquire waited for the remap to show');
    assert.ok(local.set.has(VIP), 'the VIP is on the interface');
    assert.ok(w.state.getEni(w.b.eni).secondaryIps.includes(VIP));
    assert.ok(!w.state.getEni(w.a.eni).secondaryIps.includes(VIP));
    const call = w.ec2.calls.find((c) => c.action === 'AssignPrivateIpAddresses')!;
    assert.equal(call.params.AllowReassignment, 'true');
    assert.equal(call.params.NetworkInterfaceId, w.b.eni, 'the ENI found by the interface\'s MAC');
    assert.deepEqual(await p.verify(signal()), { [`${VIP}/32`]: 'held' });
    // Taken off the interface by hand: not held (the runner re-acquires, which needs no EC2 call).
    local.set.delete(VIP);
    assert.deepEqual(await p.verify(signal()), { [`${VIP}/32`]: 'not-held' });
    const again = w.ec2.calls.length;
    await p.acquire(signal());
    assert.deepEqual(ec2Calls(w, again), [], 'already ours in IMDS: no EC2 call');
    assert.ok(local.set.has(VIP));
  });
});

test('rehearseAssign: the whole SDK stack runs (the credentials are resolved, the request signed), nothing is sent or counted', async () => {
  await withWorld(async (w) => {
    const ec2 = new Ec2({ region: 'eu-west-1', endpoint: w.ec2.url, timeoutMs: 2_000 });
    let signed = 0;
    const credentials = async () => (signed++, KEY);
    const counted = new Ec2({ region: 'eu-west-1', endpoint: w.ec2.url, timeoutMs: 2_000, credentials });
    await ec2.rehearseAssign(w.b.eni, [VIP]);
    await counted.rehearseAssign(w.b.eni, [VIP]);
    assert.equal(w.ec2.calls.length, 0, 'the emulator saw no request');
    assert.equal(ec2.calls + counted.calls, 0);
    assert.ok(signed >= 1, 'the credentials were asked for: the signing step ran');
    assert.ok(!w.state.getEni(w.b.eni).secondaryIps.includes(VIP));
  });
});

test('rehearseAssign: eight runs the first time, then at most one a minute per client, however many instances ask', async () => {
  await withWorld(async (w) => {
    const ec2 = new Ec2({ region: 'eu-west-1', endpoint: w.ec2.url, timeoutMs: 2_000, credentials: async () => KEY });
    let signed = 0; // requests that reached the signing step
    ec2.sdk.middlewareStack.add((next) => async (args) => (signed++, next(args)), { step: 'finalizeRequest', priority: 'low', name: 'countSigned' });
    await ec2.rehearseAssign(w.b.eni, [VIP], 1_000);
    assert.equal(signed, 8, 'the first time: eight runs');
    for (let i = 0; i < 200; i++) await ec2.rehearseAssign(w.b.eni, [VIP], 1_000 + i * 100);
    assert.equal(signed, 8, 'within the minute: none');
    await ec2.rehearseAssign(w.b.eni, [VIP], 61_000);
    assert.equal(signed, 9, 'a minute later: one');
    assert.equal(w.ec2.calls.length + ec2.calls, 0, 'nothing sent, nothing counted');
  });
});

test('release: off the interface; in the cloud only with unassignOnRelease, and only while still ours', async () => {
  await withWorld(async (w) => {
    const { p, local } = provider(w);
    await p.acquire(signal());
    const from = w.ec2.calls.length;
    await p.release(signal());
    assert.ok(!local.set.has(VIP));
    assert.deepEqual(ec2Calls(w, from), [], 'the default keeps the cloud assignment (the next master takes it)');
    const u = provider(w, local, true).p;
    await u.release(signal());
    assert.deepEqual(ec2Calls(w, from), ['DescribeNetworkInterfaces', 'UnassignPrivateIpAddresses']);
    assert.ok(!w.state.getEni(w.b.eni).secondaryIps.includes(VIP));
    assert.deepEqual(await u.verify(signal()), { [`${VIP}/32`]: 'not-held' });
  }, 0);
});

test('a remap that does not show in time: one DescribeNetworkInterfaces decides; not there → retryable NotConfirmed (2 EC2 calls)', async () => {
  await withWorld(async (w) => {
    const { p } = provider(w);
    const from = w.ec2.calls.length;
    const err = await p.acquire(signal()).catch((e: unknown) => e);
    assert.ok(err instanceof ProviderError, String(err));
    assert.equal(err.errorClass, 'retryable');
    assert.equal(err.code, 'NotConfirmed');
    assert.deepEqual(ec2Calls(w, from), ['AssignPrivateIpAddresses', 'DescribeNetworkInterfaces'], 'at most 3 EC2 calls per failover');
  }, 60_000);
});

test('failures come back classed: a missing permission (permanent, names the IAM action), throttling (retryable, then it works)', async () => {
  await withWorld(async (w) => {
    const { p } = provider(w);
    w.ec2.setAllowedActions(KEY.accessKeyId, ['DescribeNetworkInterfaces']);
    const denied = await p.acquire(signal()).catch((e: unknown) => e);
    assert.ok(denied instanceof ProviderError);
    assert.equal(denied.errorClass, 'permanent');
    assert.equal(denied.code, 'UnauthorizedOperation');
    assert.match(denied.fix ?? '', /ec2:AssignPrivateIpAddresses/);
    w.ec2.setAllowedActions(KEY.accessKeyId, undefined);
    w.ec2.faults.add({ action: 'AssignPrivateIpAddresses', kind: 'throttle', times: 1 });
    const throttled = await p.acquire(signal()).catch((e: unknown) => e);
    assert.ok(throttled instanceof ProviderError);
    assert.equal(throttled.errorClass, 'retryable');
    assert.equal(throttled.code, 'RequestLimitExceeded');
    await p.acquire(signal());
    assert.deepEqual(await p.verify(signal()), { [`${VIP}/32`]: 'held' });
  }, 0);
});

test('verifyMany: two instances in one VPC are answered with ONE DescribeNetworkInterfaces; a provider of another type is left out', async () => {
  await withWorld(async (w) => {
    const shared = new Ec2({ region: 'eu-west-1', endpoint: w.ec2.url, timeoutMs: 2_000 });
    const imds = new Imds({ endpoint: w.imds.url });
    const make = (vip: string, local: LocalAddresses) =>
      new SecondaryIpProvider(
        { ...testContext([`${vip}/32`]), instanceName: vip },
        { given: {}, unassignOnRelease: false, imds, ec2For: () => shared, macOf: () => w.b.mac, local, now: () => w.clock.t, sleep: async (ms) => void (w.clock.t += ms) },
      );
    const local = fakeLocal();
    const p1 = make(VIP, local);
    const p2 = make('198.51.100.101', local);
    await p2.acquire(signal());
    const other = { type: 'garp' } as unknown as VipProvider;
    const from = w.ec2.calls.length;
    const answers = await verifyMany([p1, p2, other], signal());
    assert.deepEqual(ec2Calls(w, from), ['DescribeNetworkInterfaces'], 'one read for both instances');
    assert.deepEqual(answers.get(p1), { [`${VIP}/32`]: 'elsewhere' });
    assert.deepEqual(answers.get(p2), { '198.51.100.101/32': 'held' });
    assert.equal(answers.has(other), false);
  }, 0);
});

test('split brain healed at once: a lower-priority advert makes the runner verify now, and a VIP found elsewhere is taken back', async () => {
  await withWorld(async (w) => {
    const { p } = provider(w);
    const runner = new ProviderRunner(p, { log: silentLog, timing: TIMING, vips: [`${VIP}/32`] });
    try {
      runner.want(true);
      assert.equal(await runner.whenReached(5_000), true);
      assert.ok(w.state.getEni(w.b.eni).secondaryIps.includes(VIP));
      // The other node, briefly master, grabbed the VIP in EC2 (as a keepalived notify script would).
      w.state.assignPrivateIpAddresses({ networkInterfaceId: w.a.eni, privateIpAddresses: [VIP], allowReassignment: true });
      const from = w.ec2.calls.length;
      runner.announce('lower-priority'); // what the election does when a MASTER hears a lower priority
      for (let i = 0; i < 200 && !w.state.getEni(w.b.eni).secondaryIps.includes(VIP); i++) await new Promise((r) => setTimeout(r, 10));
      assert.ok(w.state.getEni(w.b.eni).secondaryIps.includes(VIP), 'taken back without waiting for the reconcile period');
      assert.deepEqual(ec2Calls(w, from), ['DescribeNetworkInterfaces', 'AssignPrivateIpAddresses'], 'one read saw it elsewhere, one assign took it back');
      assert.equal(runner.status().counters.drift, 1);
    } finally {
      await runner.close();
    }
  }, 0);
});

test('a BACKUP at start-up: released, then verified at once (not a reconcile period later), so a failover finds facts and client ready', async () => {
  await withWorld(async (w) => {
    const { p } = provider(w);
    const runner = new ProviderRunner(p, { log: silentLog, timing: TIMING, vips: [`${VIP}/32`] });
    try {
      runner.want(false);
      assert.equal(await runner.whenReached(5_000), true);
      // TIMING.reconcileMs is 30 s: a read within 2 s is the start-up verify.
      for (let i = 0; i < 200 && runner.status().ownership !== 'elsewhere'; i++) await new Promise((r) => setTimeout(r, 10));
      assert.equal(runner.status().ownership, 'elsewhere', '/status knows from the start that the peer holds the VIP');
      assert.deepEqual(ec2Calls(w), ['DescribeNetworkInterfaces'], 'one verify right after the first release');
      // A second release (a flap back to BACKUP) does not verify again ahead of the period.
      runner.want(true);
      assert.equal(await runner.whenReached(5_000), true);
      runner.want(false);
      assert.equal(await runner.whenReached(5_000), true);
      await new Promise((r) => setTimeout(r, 100));
      assert.deepEqual(ec2Calls(w), ['DescribeNetworkInterfaces', 'AssignPrivateIpAddresses'], 'no extra verify after a later release');
    } finally {
      await runner.close();
    }
  }, 0);
});

test('a failover sends its assign without an IMDS read first; a VIP last seen on our ENI is checked in IMDS before any EC2 call', async () => {
  await withWorld(async (w) => {
    const { p, local } = provider(w);
    const ipv4Reads = () => w.imds.requests.filter((r) => r.path.endsWith('/local-ipv4s')).length;
    assert.deepEqual(await p.verify(signal()), { [`${VIP}/32`]: 'elsewhere' });
    const before = ipv4Reads();
    await p.acquire(signal());
    assert.equal(ipv4Reads() - before, 1, 'only the confirmation read IMDS (the remap is instant here)');
    local.set.delete(VIP); // a local drift: the VIP is still ours in EC2
    const calls = w.ec2.calls.length;
    await p.acquire(signal());
    assert.equal(w.ec2.calls.length, calls, 'IMDS said it is ours: no EC2 call');
  }, 0);
});
