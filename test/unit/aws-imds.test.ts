// The aws provider's IMDSv2 client and instance facts (providers/aws/imds.ts, facts.ts) against the
// IMDSv2 emulator (test/emulators/aws/imds.ts): the ENI is found by the interface's MAC (not the
// first one), the token is cached and renewed on a 401, and failures come back classed with a fix.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startImdsEmulator, type ImdsInstanceView } from '../emulators/aws/imds.js';
import { Imds } from '../../providers/aws/imds.js';
import { discoverFacts, localIpv4s } from '../../providers/aws/facts.js';
import { ProviderError } from '../../src/provider/errors.js';

process.env.AWS_EC2_METADATA_DISABLED = 'true'; // nothing here may fall back to the real IMDS address

const ETH0 = { mac: '0a:1b:2c:3d:4e:01', interfaceId: 'eni-0000000000000aaa1', subnetId: 'subnet-0aaa', subnetCidr: '198.51.100.0/24', vpcId: 'vpc-01', vpcCidrs: ['198.51.100.0/24', '203.0.113.0/24'], deviceNumber: 0 };
const ETH1 = { mac: '0a:1b:2c:3d:4e:02', interfaceId: 'eni-0000000000000bbb2', subnetId: 'subnet-0bbb', subnetCidr: '203.0.113.0/24', vpcId: 'vpc-01', vpcCidrs: ['198.51.100.0/24', '203.0.113.0/24'], deviceNumber: 1 };

function view(secondaries: string[]): ImdsInstanceView {
  return {
    instanceId: 'i-0123456789abcdef0',
    region: 'eu-west-1',
    availabilityZone: 'eu-west-1b',
    interfaces: () => [
      { ...ETH0, localIpv4s: ['198.51.100.10'] },
      { ...ETH1, localIpv4s: ['203.0.113.10', ...secondaries] },
    ],
  };
}

async function withImds(fn: (e: Awaited<ReturnType<typeof startImdsEmulator>>, secondaries: string[], clock: { t: number }) => Promise<void>): Promise<void> {
  const secondaries: string[] = [];
  const clock = { t: Date.parse('2026-12-02T12:00:00Z') };
  const e = await startImdsEmulator({ view: view(secondaries), clock: () => clock.t });
  try {
    await fn(e, secondaries, clock);
  } finally {
    await e.close();
  }
}

test('facts: the ENI behind the interface\'s MAC (here the second one), with its subnet and VPC; config-given facts are not read', async () => {
  await withImds(async (e) => {
    const imds = new Imds({ endpoint: e.url });
    const f = await discoverFacts(imds, ETH1.mac.toUpperCase());
    assert.deepEqual(f, {
      instanceId: 'i-0123456789abcdef0',
      region: 'eu-west-1',
      availabilityZone: 'eu-west-1b',
      mac: ETH1.mac,
      networkInterfaceId: ETH1.interfaceId,
      subnetId: ETH1.subnetId,
      subnetCidr: ETH1.subnetCidr,
      vpcId: 'vpc-01',
      vpcCidrs: ETH1.vpcCidrs,
    });
    const before = e.requests.length;
    const g = await discoverFacts(imds, ETH0.mac, { instanceId: 'i-given', region: 'us-east-1', networkInterfaceId: 'eni-given' });
    assert.equal(g.instanceId, 'i-given');
    assert.equal(g.region, 'us-east-1');
    assert.equal(g.networkInterfaceId, 'eni-given');
    const paths = e.requests.slice(before).map((r) => r.path);
    assert.ok(!paths.some((p) => /instance-id|placement\/region|interface-id/.test(p)), `given facts are not read: ${paths.join(' ')}`);
  });
});

test('one token for many reads (IMDSv2, no PUT per GET); an expired token is renewed once on the 401', async () => {
  await withImds(async (e, _s, clock) => {
    let now = 0;
    const imds = new Imds({ endpoint: e.url, tokenTtlS: 60, now: () => now });
    await discoverFacts(imds, ETH0.mac);
    const puts = () => e.requests.filter((r) => r.method === 'PUT').length;
    assert.equal(puts(), 1, 'one PUT for all the reads');
    assert.ok(e.requests.filter((r) => r.method === 'GET').every((r) => r.status === 200), 'every GET carried a valid token');
    // IMDS expires the token (its clock) before our cache thinks so: 401, a new token, the read succeeds.
    clock.t += 61_000;
    assert.deepEqual(await localIpv4s(imds, ETH0.mac), ['198.51.100.10']);
    assert.equal(puts(), 2);
    assert.ok(e.requests.some((r) => r.status === 401), 'the stale token was refused');
    // Our own clock says the token is near its end: renewed before use, no 401.
    now += 60_000;
    const refused = e.requests.filter((r) => r.status === 401).length;
    await imds.get('instance-id');
    assert.equal(puts(), 3);
    assert.equal(e.requests.filter((r) => r.status === 401).length, refused);
    assert.equal(imds.tokensFetched, 3);
  });
});

test('local-ipv4s follows the ENI: a remapped VIP shows up (the confirmation of a move)', async () => {
  await withImds(async (e, secondaries) => {
    const imds = new Imds({ endpoint: e.url });
    assert.deepEqual(await localIpv4s(imds, ETH1.mac), ['203.0.113.10']);
    secondaries.push('203.0.113.100');
    assert.deepEqual(await localIpv4s(imds, ETH1.mac), ['203.0.113.10', '203.0.113.100']);
  });
});

test('failures: a MAC that is no ENI here, IMDS disabled, a 503, IMDS gone — classed, with a fix', async () => {
  await withImds(async (e) => {
    const imds = new Imds({ endpoint: e.url, timeoutMs: 1_000 });
    const notEni = await discoverFacts(imds, '0a:00:00:00:00:99').catch((x: unknown) => x);
    assert.ok(notEni instanceof ProviderError);
    assert.equal(notEni.errorClass, 'permanent');
    assert.equal(notEni.code, 'MacNotAnEni');
    assert.match(notEni.message, /0a:1b:2c:3d:4e:01, 0a:1b:2c:3d:4e:02/);

    e.faults.add({ kind: 'status', status: 503, method: 'GET', times: 1 });
    const busy = await imds.get('instance-id').catch((x: unknown) => x);
    assert.ok(busy instanceof ProviderError);
    assert.equal(busy.errorClass, 'retryable');
    assert.equal(busy.code, 'IMDS503');
    assert.equal((await imds.get('instance-id')).trim(), 'i-0123456789abcdef0', 'the next call works (the runner retries, not us)');

    e.setDisabled(true);
    const disabled = await new Imds({ endpoint: e.url }).get('instance-id').catch((x: unknown) => x);
    assert.ok(disabled instanceof ProviderError);
    assert.equal(disabled.errorClass, 'permanent');
    assert.match(disabled.fix ?? '', /modify-instance-metadata-options/);
    e.setDisabled(false);

    const missing = await imds.get('no/such/path').catch((x: unknown) => x);
    assert.ok(missing instanceof ProviderError);
    assert.equal(missing.code, 'IMDS404');
  });
  const gone = await new Imds({ endpoint: 'http://127.0.0.1:9', timeoutMs: 500 }).get('instance-id').catch((x: unknown) => x);
  assert.ok(gone instanceof ProviderError);
  assert.equal(gone.errorClass, 'retryable');
  assert.match(gone.fix ?? '', /imdsEndpoint/);
});
