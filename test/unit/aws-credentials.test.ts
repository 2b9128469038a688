// The aws provider's credential chain (providers/aws/credentials.ts) with the real EC2 client against
// the EC2 and IMDSv2 emulators: environment keys win; without them the instance role is read
// through OUR IMDS client (the configured endpoint, the cached token); a rotated role key is picked
// up by the running client once the old one nears its expiration, without a restart; no role → a
// permanent error that says how to give credentials.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Ec2State } from '../emulators/aws/ec2-state.js';
import { startEc2Emulator } from '../emulators/aws/ec2-server.js';
import { generateImdsCredentials, startImdsEmulator, type ImdsRoleCredentials } from '../emulators/aws/imds.js';
import { Imds } from '../../providers/aws/imds.js';
import { Ec2 } from '../../providers/aws/ec2.js';
import { credentialChain } from '../../providers/aws/credentials.js';
import { ProviderError } from '../../src/provider/errors.js';

const ENV_KEY = { accessKeyId: 'AKIDEXAMPLE00000001', secretAccessKey: 'secretExample0000000000000000000000000000' };

function world() {
  const state = new Ec2State({ region: 'eu-west-1' });
  const vpc = state.addVpc({ cidrs: ['198.51.100.0/24'] });
  const subnet = state.addSubnet({ vpcId: vpc.vpcId, cidr: '198.51.100.0/24', availabilityZone: 'eu-west-1a' });
  const a = state.addInstance({ subnetId: subnet.subnetId, privateIp: '198.51.100.10' });
  return { state, vpcId: vpc.vpcId, instanceId: a.instance.instanceId };
}

/** Role credentials that count as "about to expire" to the SDK (it refreshes within 5 min of Expiration). */
function shortLived(): ImdsRoleCredentials {
  return generateImdsCredentials(Date.now(), 4 * 60_000);
}

const cleanEnv = { HOME: '/nonexistent-home-for-test' } as NodeJS.ProcessEnv;

test('environment keys come first and are named as the source', async () => {
  const w = world();
  const imds = await startImdsEmulator({ view: w.state.imdsView(w.instanceId), role: { name: 'web-ha', credentials: shortLived } });
  try {
    const chain = credentialChain(new Imds({ endpoint: imds.url }), { ...cleanEnv, AWS_ACCESS_KEY_ID: ENV_KEY.accessKeyId, AWS_SECRET_ACCESS_KEY: ENV_KEY.secretAccessKey });
    const c = await chain();
    assert.equal(c.source, 'environment');
    assert.equal(c.accessKeyId, ENV_KEY.accessKeyId);
    assert.equal(imds.requests.length, 0, 'IMDS is not asked when the environment answers');
  } finally {
    await imds.close();
  }
});

test('without keys: the instance role through our IMDS client; a rotated key is used without a restart', async () => {
  const w = world();
  let current = shortLived();
  const imds = await startImdsEmulator({ view: w.state.imdsView(w.instanceId), role: { name: 'web-ha', credentials: () => current } });
  const ec2emu = await startEc2Emulator({ state: w.state, credentials: [{ accessKeyId: current.AccessKeyId, secretAccessKey: current.SecretAccessKey, sessionToken: current.Token }] });
  try {
    const chain = credentialChain(new Imds({ endpoint: imds.url }), cleanEnv);
    const first = await chain();
    assert.equal(first.source, 'instance role web-ha');
    assert.equal(first.sessionToken, current.Token);
    assert.ok(first.expiration instanceof Date);

    const ec2 = new Ec2({ region: 'eu-west-1', endpoint: ec2emu.url, timeoutMs: 2_000, credentials: chain });
    await ec2.holders(w.vpcId, ['198.51.100.10'], AbortSignal.timeout(5_000));
    assert.equal(ec2emu.calls.at(-1)?.accessKeyId, current.AccessKeyId);

    // The role's key rotates; the old one stops working (expired).
    const old = current;
    current = shortLived();
    ec2emu.addCredential({ accessKeyId: current.AccessKeyId, secretAccessKey: current.SecretAccessKey, sessionToken: current.Token });
    ec2emu.revokeCredential(old.AccessKeyId);
    const holders = await ec2.holders(w.vpcId, ['198.51.100.10'], AbortSignal.timeout(5_000));
    assert.equal(holders.get('198.51.100.10')?.startsWith('eni-'), true);
    assert.equal(ec2emu.calls.at(-1)?.accessKeyId, current.AccessKeyId, 'signed with the rotated key');
    assert.equal(ec2emu.calls.filter((c) => c.accessKeyId === old.AccessKeyId).length, 1);
    const tokenPuts = imds.requests.filter((r) => r.method === 'PUT').length;
    assert.equal(tokenPuts, 1, 'one IMDS token served every credentials read');
  } finally {
    await ec2emu.close();
    await imds.close();
  }
});

test('no keys and no role: a permanent error saying how to give credentials', async () => {
  const w = world();
  const imds = await startImdsEmulator({ view: w.state.imdsView(w.instanceId) });
  try {
    const chain = credentialChain(new Imds({ endpoint: imds.url }), cleanEnv);
    await assert.rejects(chain(), (e: unknown) => {
      assert.ok(e instanceof ProviderError);
      assert.equal(e.errorClass, 'permanent');
      assert.equal(e.code, 'NoCredentials');
      assert.match(e.fix ?? '', /IAM role|AWS_ACCESS_KEY_ID/);
      return true;
    });
  } finally {
    await imds.close();
  }
});
