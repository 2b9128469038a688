// The EC2 client's per-request timeout (providers/aws/ec2.ts) ends a request EC2 never answers with a
// retryable error of its own — it does not wait for the caller's abort (the runner's operation
// deadline). @smithy/node-http-handler 4.x only warns on requestTimeout unless told to throw; the
// netns suite (aws-failover.test.ts) showed a hung AssignPrivateIpAddresses running to the operation
// deadline before it was told.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Ec2State } from '../emulators/aws/ec2-state.js';
import { startEc2Emulator } from '../emulators/aws/ec2-server.js';
import { Ec2 } from '../../providers/aws/ec2.js';
import { ProviderError } from '../../src/provider/errors.js';

const KEY = { accessKeyId: 'AKIDEXAMPLE00000001', secretAccessKey: 'secretExample0000000000000000000000000000' };

test('a request EC2 never answers fails on its own after timeoutMs: retryable, says so', async () => {
  const state = new Ec2State({ region: 'eu-west-1' });
  const vpc = state.addVpc({ cidrs: ['198.51.100.0/24'] });
  const subnet = state.addSubnet({ vpcId: vpc.vpcId, cidr: '198.51.100.0/24', availabilityZone: 'eu-west-1a' });
  const inst = state.addInstance({ subnetId: subnet.subnetId, privateIp: '198.51.100.11' });
  const ec2emu = await startEc2Emulator({ state, credentials: [KEY] });
  try {
    ec2emu.faults.add({ action: 'AssignPrivateIpAddresses', kind: 'hang', times: 1 });
    const ec2 = new Ec2({ region: 'eu-west-1', endpoint: ec2emu.url, timeoutMs: 300, credentials: async () => KEY });
    const never = new AbortController(); // the caller never aborts: only the request timeout can end it
    let guard: NodeJS.Timeout | undefined;
    const err = await Promise.race([
      ec2.assign(inst.eni.networkInterfaceId, ['198.51.100.100'], never.signal).then(
        () => new Error('the hung assign succeeded'),
        (e: unknown) => e,
      ),
      new Promise((resolve) => (guard = setTimeout(() => resolve(new Error('still hanging after 5 s: the request timeout did not fire')), 5_000))),
    ]);
    clearTimeout(guard);
    assert.ok(err instanceof ProviderError, String(err));
    assert.equal(err.errorClass, 'retryable');
    assert.match(err.message, /exceeded the configured 300 ms requestTimeout/);
    // The next request goes through normally.
    await ec2.assign(inst.eni.networkInterfaceId, ['198.51.100.100'], never.signal);
    assert.equal((await ec2.holders(vpc.vpcId, ['198.51.100.100'], never.signal)).get('198.51.100.100'), inst.eni.networkInterfaceId);
  } finally {
    await ec2emu.close();
  }
});
