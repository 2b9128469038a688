// The aws provider's route-table mode (providers/aws/route-table.ts) with the real SDK clients against
// the EC2 and IMDSv2 emulators sharing one state: the overlay VIP 203.0.113.10/32 (outside the VPC
// 198.51.100.0/24) routed to instance A's ENI moves to B's (this node) — EC2 calls per failover, the
// confirmation of a change EC2 shows late (a fake clock), verify's three answers, the idempotent
// re-acquire, release, and classed failures (missing route, unknown table, VIP inside the VPC,
// throttling); then through the real ProviderRunner.
// The interface's addresses are a set here (the netlink path is the garp provider's, tested there).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AWS_TEST_KEY, AWS_TEST_TIMING, ec2Calls, fakeLocal, rejection, signal, silentLog, testContext, withAwsWorld, type AwsWorld } from '../support/aws-world.js';
import { lagRoutesAndAddresses } from '../support/ec2-lag.js';
import { Imds } from '../../providers/aws/imds.js';
import { Ec2 } from '../../providers/aws/ec2.js';
import { RouteTableProvider } from '../../providers/aws/route-table.js';
import { ProviderRunner } from '../../src/provider/runner/index.js';
import { ProviderError } from '../../src/provider/errors.js';

const VIP = '203.0.113.10';
const VIP2 = '203.0.113.11';
const KEY = AWS_TEST_KEY;
const TIMING = AWS_TEST_TIMING;

/** Route table of the subnet, and a second one (another subnet's clients), both routing VIP → A. */
type World = AwsWorld & { rtb: string; rtb2: string };

function withWorld(fn: (w: World) => Promise<void>): Promise<void> {
  return withAwsWorld(
    {
      subnetCidr: '198.51.100.0/25',
      extra: (state, { vpcId, subnetId, a }) => {
        const subnet2 = state.addSubnet({ vpcId, cidr: '198.51.100.128/25', availabilityZone: 'eu-west-1b' });
        const toA = [VIP, VIP2].map((v) => ({ destinationCidrBlock: `${v}/32`, networkInterfaceId: a.eni }));
        return {
          rtb: state.addRouteTable({ vpcId, subnetIds: [subnetId], routes: toA }).routeTableId,
          rtb2: state.addRouteTable({ vpcId, subnetIds: [subnet2.subnetId], routes: toA }).routeTableId,
        };
      },
    },
    fn,
  );
}

function provider(w: World, o: { tables?: string[]; vips?: string[]; local?: ReturnType<typeof fakeLocal> } = {}) {
  const local = o.local ?? fakeLocal();
  const vips = o.vips ?? [`${VIP}/32`];
  const p = new RouteTableProvider(
    testContext(vips),
    {
      given: {},
      routeTableIds: o.tables ?? [w.rtb],
      imds: new Imds({ endpoint: w.imds.url }),
      ec2For: (region) => new Ec2({ region, endpoint: w.ec2.url, timeoutMs: 2_000 }),
      macOf: () => w.b.mac,
      local,
      now: () => w.clock.t,
      sleep: async (ms) => void (w.clock.t += ms), // lagged changes show on the state's clock
      random: () => 0.5,
    },
  );
  return { p, local };
}

const targetOf = (w: World, table: string, dest: string) => w.state.routeTables.get(table)!.routes.find((r) => r.destinationCidrBlock === dest)?.networkInterfaceId;

test('failover: the route moves from A\'s ENI to ours in 3 EC2 calls (read, ReplaceRoute, confirming read); again: 1 read, no write', async () => {
  await withWorld(async (w) => {
    const { p, local } = provider(w);
    assert.deepEqual(await p.verify(signal()), { [`${VIP}/32`]: 'elsewhere' }, 'before: routed to the other instance');
    const from = w.ec2.calls.length;
    await p.acquire(signal());
    assert.deepEqual(ec2Calls(w, from), ['DescribeRouteTables', 'ReplaceRoute', 'DescribeRouteTables']);
    const call = w.ec2.calls.find((c) => c.action === 'ReplaceRoute')!;
    assert.deepEqual([call.params.RouteTableId, call.params.DestinationCidrBlock, call.params.NetworkInterfaceId], [w.rtb, `${VIP}/32`, w.b.eni], 'our ENI, found by the interface\'s MAC');
    assert.equal(targetOf(w, w.rtb, `${VIP}/32`), w.b.eni);
    assert.equal(targetOf(w, w.rtb, `${VIP2}/32`), w.a.eni, 'a route for another address is not touched');
    assert.ok(local.set.has(VIP), 'the VIP is on the interface');
    assert.deepEqual(await p.verify(signal()), { [`${VIP}/32`]: 'held' });
    // Taken off the interface by hand: not held; acquiring again puts it back without a write.
    local.set.delete(VIP);
    assert.deepEqual(await p.verify(signal()), { [`${VIP}/32`]: 'not-held' });
    const again = w.ec2.calls.length;
    await p.acquire(signal());
    assert.deepEqual(ec2Calls(w, again), ['DescribeRouteTables'], 'already routed to us: one read, 0 writes');
    assert.ok(local.set.has(VIP));
  });
});

test('two tables × two VIPs: one read covers all; only the routes not already ours are replaced; one confirming read', async () => {
  await withWorld(async (w) => {
    w.state.replaceRoute({ routeTableId: w.rtb2, destinationCidrBlock: `${VIP2}/32`, networkInterfaceId: w.b.eni }); // already ours
    const { p } = provider(w, { tables: [w.rtb, w.rtb2], vips: [`${VIP}/32`, `${VIP2}/32`] });
    const from = w.ec2.calls.length;
    await p.acquire(signal());
    const calls = w.ec2.calls.slice(from);
    assert.deepEqual(
      calls.map((c) => c.action),
      ['DescribeRouteTables', 'ReplaceRoute', 'ReplaceRoute', 'ReplaceRoute', 'DescribeRouteTables'],
    );
    assert.deepEqual(
      calls.filter((c) => c.action === 'ReplaceRoute').map((c) => `${c.params.RouteTableId} ${c.params.DestinationCidrBlock}`),
      [`${w.rtb} ${VIP}/32`, `${w.rtb} ${VIP2}/32`, `${w.rtb2} ${VIP}/32`],
    );
    for (const t of [w.rtb, w.rtb2]) for (const d of [VIP, VIP2]) assert.equal(targetOf(w, t, `${d}/32`), w.b.eni);
    assert.deepEqual(await p.verify(signal()), { [`${VIP}/32`]: 'held', [`${VIP2}/32`]: 'held' });
    // One table sends a VIP back to A: that VIP is elsewhere, the other one still held.
    w.state.replaceRoute({ routeTableId: w.rtb2, destinationCidrBlock: `${VIP}/32`, networkInterfaceId: w.a.eni });
    assert.deepEqual(await p.verify(signal()), { [`${VIP}/32`]: 'elsewhere', [`${VIP2}/32`]: 'held' });
  });
});

test('confirmation: a route change EC2 shows 1.5 s late is polled for with jittered doubling waits; one that never shows in time → retryable NotConfirmed', async () => {
  await withWorld(async (w) => {
    lagRoutesAndAddresses(w.state, () => w.clock.t, 1_500);
    const { p } = provider(w);
    const from = w.ec2.calls.length;
    const t0 = w.clock.t;
    await p.acquire(signal());
    // random() = 0.5: waits of 150, 300, 600 then 1200 ms → reads at 0, 150, 450, 1050, 2250 ms.
    assert.deepEqual(ec2Calls(w, from), ['DescribeRouteTables', 'ReplaceRoute', ...Array<string>(5).fill('DescribeRouteTables')]);
    assert.equal(w.clock.t - t0, 2_250, 'acquire returned at the first read that showed the route');
    assert.deepEqual(await p.verify(signal()), { [`${VIP}/32`]: 'held' });
  });
  await withWorld(async (w) => {
    lagRoutesAndAddresses(w.state, () => w.clock.t, 60_000);
    const { p } = provider(w);
    const t0 = w.clock.t;
    const err = await rejection(p.acquire(signal()));
    assert.equal(err.errorClass, 'retryable');
    assert.equal(err.code, 'NotConfirmed');
    assert.match(err.fix ?? '', /confirmTimeout/);
    assert.equal(w.clock.t - t0, TIMING.confirmTimeoutMs, 'gave up exactly at the confirm deadline');
  });
});

test('verify: held / elsewhere / not-held (released, a gateway route, a blackhole route); release never touches the routes', async () => {
  await withWorld(async (w) => {
    const { p, local } = provider(w);
    await p.acquire(signal());
    assert.deepEqual(await p.verify(signal()), { [`${VIP}/32`]: 'held' });
    const from = w.ec2.calls.length;
    await p.release(signal());
    assert.deepEqual(ec2Calls(w, from), [], 'release makes no EC2 call');
    assert.ok(!local.set.has(VIP), 'off the interface');
    assert.equal(targetOf(w, w.rtb, `${VIP}/32`), w.b.eni, 'the route still goes to us (the next master replaces it)');
    assert.deepEqual(await p.verify(signal()), { [`${VIP}/32`]: 'not-held' }, 'routed to us but not on the interface');
    w.state.replaceRoute({ routeTableId: w.rtb, destinationCidrBlock: `${VIP}/32`, gatewayId: 'igw-0123456789abcdef0' });
    assert.deepEqual(await p.verify(signal()), { [`${VIP}/32`]: 'not-held' }, 'to a gateway: nobody holds it');
    w.state.replaceRoute({ routeTableId: w.rtb, destinationCidrBlock: `${VIP}/32`, networkInterfaceId: w.a.eni });
    assert.deepEqual(await p.verify(signal()), { [`${VIP}/32`]: 'elsewhere' });
    w.state.routeTables.get(w.rtb)!.routes.find((r) => r.destinationCidrBlock === `${VIP}/32`)!.state = 'blackhole';
    assert.deepEqual(await p.verify(signal()), { [`${VIP}/32`]: 'not-held' }, 'a blackhole route to A (A gone): nobody holds it');
    const checks = [];
    for await (const c of p.preflight()) checks.push(c);
    assert.deepEqual(checks.map((c) => [c.check, c.ok]), [['IMDSv2 and instance facts', true]]);
    assert.match(checks[0]!.detail, new RegExp(w.b.eni));
  });
});

test('a missing route is a permanent error naming the create-route that fixes it, found before any write', async () => {
  await withWorld(async (w) => {
    const { p, local } = provider(w, { vips: ['203.0.113.20/32'] });
    const from = w.ec2.calls.length;
    const err = await rejection(p.acquire(signal()));
    assert.equal(err.errorClass, 'permanent');
    assert.equal(err.code, 'RouteMissing');
    assert.equal(err.fix?.includes(`aws ec2 create-route --route-table-id ${w.rtb} --destination-cidr-block 203.0.113.20/32 --network-interface-id ${w.b.eni}`), true, err.fix ?? '');
    assert.deepEqual(ec2Calls(w, from), ['DescribeRouteTables'], 'no ReplaceRoute was tried');
    assert.ok(local.set.has('203.0.113.20'), 'the local half is done; the runner retries the rest');
    assert.deepEqual(await p.verify(signal()), { '203.0.113.20/32': 'not-held' });
    // A route deleted between the read and the write: EC2's own error carries the same fix.
    const ec2 = (await p.resolve()).ec2;
    const raced = await rejection(ec2.replaceRoute(w.rtb, '203.0.113.20/32', w.b.eni, signal()));
    assert.equal(raced.errorClass, 'permanent');
    assert.equal(raced.code, 'InvalidParameterValue');
    assert.match(raced.fix ?? '', /create-route/);
  });
});

test('an unknown route table, a VIP inside the VPC: permanent errors with their fix', async () => {
  await withWorld(async (w) => {
    const unknown = provider(w, { tables: [w.rtb, 'rtb-0ffffffffffffffff'] }).p;
    const e1 = await rejection(unknown.verify(signal()));
    assert.equal(e1.errorClass, 'permanent');
    assert.equal(e1.code, 'InvalidRouteTableID.NotFound');
    assert.match(e1.message, /rtb-0ffffffffffffffff/);
    assert.match(e1.fix ?? '', /routeTableIds/);
    const inside = provider(w, { vips: ['198.51.100.200/32'] });
    const from = w.ec2.calls.length;
    const e2 = await rejection(inside.p.acquire(signal()));
    assert.equal(e2.errorClass, 'permanent');
    assert.equal(e2.code, 'VipInsideVpc');
    assert.match(e2.fix ?? '', /secondary-ip/);
    assert.deepEqual(ec2Calls(w, from), [], 'refused before any EC2 call');
    assert.equal(inside.local.set.has('198.51.100.200'), false, 'and before touching the interface');
  });
});

test('instance facts: a failed discovery (interface not there yet) is retryable and tried again at the next call', async () => {
  await withWorld(async (w) => {
    let mac: string | null = null;
    const local = fakeLocal();
    const p = new RouteTableProvider(
      testContext([`${VIP}/32`]),
      {
        given: {},
        routeTableIds: [w.rtb],
        imds: new Imds({ endpoint: w.imds.url }),
        ec2For: (region) => new Ec2({ region, endpoint: w.ec2.url, timeoutMs: 2_000 }),
        macOf: () => mac,
        local,
        now: () => w.clock.t,
        sleep: async (ms) => void (w.clock.t += ms),
      },
    );
    const err = await rejection(p.acquire(signal()));
    assert.equal(err.errorClass, 'retryable');
    assert.match(err.fix ?? '', /ip link show eth0/);
    const checks = [];
    for await (const c of p.preflight()) checks.push(c);
    assert.deepEqual(checks.map((c) => c.ok), [false]);
    mac = w.b.mac;
    await p.acquire(signal());
    assert.equal(targetOf(w, w.rtb, `${VIP}/32`), w.b.eni);
    assert.equal((await p.resolve()).facts.networkInterfaceId, w.b.eni);
  });
});

test('throttling on ReplaceRoute → retryable ProviderError (RequestLimitExceeded); the retry then completes the move', async () => {
  await withWorld(async (w) => {
    const { p } = provider(w);
    w.ec2.faults.add({ action: 'ReplaceRoute', times: 1, kind: 'throttle' });
    const err = await rejection(p.acquire(signal()));
    assert.equal(err.errorClass, 'retryable');
    assert.equal(err.code, 'RequestLimitExceeded');
    assert.equal(targetOf(w, w.rtb, `${VIP}/32`), w.a.eni, 'nothing moved');
    await p.acquire(signal());
    assert.equal(targetOf(w, w.rtb, `${VIP}/32`), w.b.eni);
    w.ec2.setAllowedActions(KEY.accessKeyId, ['DescribeRouteTables']);
    w.state.replaceRoute({ routeTableId: w.rtb, destinationCidrBlock: `${VIP}/32`, networkInterfaceId: w.a.eni });
    const denied = await rejection(p.acquire(signal()));
    assert.equal(denied.errorClass, 'permanent');
    assert.match(denied.fix ?? '', /ec2:ReplaceRoute/);
  });
});

test('through the runner: MASTER takes the route; a lower-priority advert after A grabbed it makes the runner verify and take it back at once; BACKUP leaves the route', async () => {
  await withWorld(async (w) => {
    const { p, local } = provider(w);
    const runner = new ProviderRunner(p, { log: silentLog, timing: TIMING, vips: [`${VIP}/32`] });
    try {
      runner.want(true);
      assert.equal(await runner.whenReached(5_000), true);
      assert.equal(targetOf(w, w.rtb, `${VIP}/32`), w.b.eni);
      // The other node, briefly master, sent the route to itself (as a notify script would).
      w.state.replaceRoute({ routeTableId: w.rtb, destinationCidrBlock: `${VIP}/32`, networkInterfaceId: w.a.eni });
      const from = w.ec2.calls.length;
      runner.announce('lower-priority');
      for (let i = 0; i < 200 && targetOf(w, w.rtb, `${VIP}/32`) !== w.b.eni; i++) await new Promise((r) => setTimeout(r, 10));
      assert.equal(targetOf(w, w.rtb, `${VIP}/32`), w.b.eni, 'taken back without waiting for the reconcile period');
      for (let i = 0; i < 200 && w.ec2.calls.length - from < 4; i++) await new Promise((r) => setTimeout(r, 10));
      assert.deepEqual(ec2Calls(w, from), ['DescribeRouteTables', 'DescribeRouteTables', 'ReplaceRoute', 'DescribeRouteTables'], 'verify saw it elsewhere; then a 3-call failover');
      assert.equal(runner.status().counters.drift, 1);
      runner.want(false);
      assert.equal(await runner.whenReached(5_000), true);
      assert.equal(local.set.has(VIP), false, 'BACKUP: off the interface');
      assert.equal(targetOf(w, w.rtb, `${VIP}/32`), w.b.eni, 'the route is left for the next master');
    } finally {
      await runner.close();
    }
  });
});
