// The IAM / STS Query emulator (test/emulators/aws/iam-server.ts) driven by the REAL @aws-sdk/client-iam
// and @aws-sdk/client-sts over loopback: GetCallerIdentity (user and assumed-role session),
// SimulatePrincipalPolicy decisions (allowed, implicitDeny, explicitDeny, wildcards), the caller's own
// iam:SimulatePrincipalPolicy permission, unknown principal, unknown key, and SigV4 scoping per service.
// Nothing here may reach AWS: every client gets an explicit endpoint.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { IAMClient, SimulatePrincipalPolicyCommand } from '@aws-sdk/client-iam';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { startIamEmulator, decide, iamPrincipalOf, type IamEmulator } from '../emulators/aws/iam-server.js';
import { principalOf, simulateIam } from '../../providers/aws/iam.js';

process.env.AWS_EC2_METADATA_DISABLED = 'true';

const USER = { accessKeyId: 'AKIDIAMUSER000000001', secretAccessKey: 'iamUserSecret0000000000000000000000000000', callerArn: 'arn:aws:iam::123456789012:user/ops' };
const ROLE = {
  accessKeyId: 'ASIAIAMROLE000000001',
  secretAccessKey: 'iamRoleSecret0000000000000000000000000000',
  sessionToken: 'roleSessionToken',
  callerArn: 'arn:aws:sts::123456789012:assumed-role/ha-agent/i-0123456789abcdef0',
};
const ROLE_ARN = 'arn:aws:iam::123456789012:role/ha-agent';

async function emulator(t: { after(fn: () => unknown): void }): Promise<IamEmulator> {
  const emu = await startIamEmulator({ keys: [USER, ROLE], policies: { [ROLE_ARN]: { allow: ['ec2:Describe*', 'ec2:AssignPrivateIpAddresses', 'iam:SimulatePrincipalPolicy'], deny: ['ec2:UnassignPrivateIpAddresses'] } } });
  t.after(() => emu.close());
  return emu;
}

const creds = (k: { accessKeyId: string; secretAccessKey: string; sessionToken?: string }) => ({
  accessKeyId: k.accessKeyId,
  secretAccessKey: k.secretAccessKey,
  ...(k.sessionToken ? { sessionToken: k.sessionToken } : {}),
});

test('principal ARNs: an assumed-role session is its role; a user stays a user', () => {
  for (const f of [principalOf, iamPrincipalOf]) {
    assert.equal(f(ROLE.callerArn), ROLE_ARN);
    assert.equal(f(USER.callerArn), USER.callerArn);
  }
  assert.equal(decide({ allow: ['ec2:Describe*'] }, 'EC2:DescribeRouteTables'), 'allowed', 'case-insensitive wildcard');
  assert.equal(decide({ allow: ['ec2:Describe*'], deny: ['ec2:DescribeRouteTables'] }, 'ec2:DescribeRouteTables'), 'explicitDeny');
  assert.equal(decide({ allow: [] }, 'ec2:ReplaceRoute'), 'implicitDeny');
  assert.equal(decide(undefined, 'ec2:ReplaceRoute'), 'allowed', 'no policy given: everything');
});

test('STS GetCallerIdentity through the SDK: the session ARN and the account', async (t) => {
  const emu = await emulator(t);
  const sts = new STSClient({ region: 'eu-west-1', endpoint: emu.url, credentials: creds(ROLE), maxAttempts: 1 });
  t.after(() => sts.destroy());
  const me = await sts.send(new GetCallerIdentityCommand({}));
  assert.deepEqual([me.Arn, me.Account, me.UserId], [ROLE.callerArn, '123456789012', ROLE.accessKeyId]);
});

test('SimulatePrincipalPolicy through the SDK: allowed / implicitDeny / explicitDeny per action', async (t) => {
  const emu = await emulator(t);
  const iam = new IAMClient({ region: 'us-east-1', endpoint: emu.url, credentials: creds(ROLE), maxAttempts: 1 });
  t.after(() => iam.destroy());
  const r = await iam.send(
    new SimulatePrincipalPolicyCommand({ PolicySourceArn: ROLE_ARN, ActionNames: ['ec2:AssignPrivateIpAddresses', 'ec2:UnassignPrivateIpAddresses', 'ec2:ReplaceRoute', 'ec2:DescribeNetworkInterfaces'] }),
  );
  assert.equal(r.IsTruncated, false);
  assert.deepEqual(
    r.EvaluationResults?.map((e) => [e.EvalActionName, e.EvalDecision]),
    [
      ['ec2:AssignPrivateIpAddresses', 'allowed'],
      ['ec2:UnassignPrivateIpAddresses', 'explicitDeny'],
      ['ec2:ReplaceRoute', 'implicitDeny'],
      ['ec2:DescribeNetworkInterfaces', 'allowed'],
    ],
  );
});

test('simulateIam(): GetCallerIdentity then one SimulatePrincipalPolicy for the role behind the session', async (t) => {
  const emu = await emulator(t);
  const sim = await simulateIam(['ec2:AssignPrivateIpAddresses', 'ec2:ReplaceRoute'], { region: 'eu-west-1', credentials: async () => creds(ROLE), stsEndpoint: emu.url, iamEndpoint: emu.url, timeoutMs: 2_000 });
  assert.equal(sim.principalArn, ROLE_ARN);
  assert.deepEqual([...sim.decisions], [['ec2:AssignPrivateIpAddresses', 'allowed'], ['ec2:ReplaceRoute', 'implicitDeny']]);
  assert.deepEqual(emu.calls.map((c) => [c.service, c.action, c.status, c.accessKeyId]), [
    ['sts', 'GetCallerIdentity', 200, ROLE.accessKeyId],
    ['iam', 'SimulatePrincipalPolicy', 200, ROLE.accessKeyId],
  ]);
});

test('errors: caller without iam:SimulatePrincipalPolicy → 403 AccessDenied; unknown principal → NoSuchEntity; unknown key → InvalidClientTokenId; IAM signed for another region → refused', async (t) => {
  const emu = await emulator(t);
  emu.setPolicy(USER.callerArn, { allow: ['ec2:*'] });
  const asUser = new IAMClient({ region: 'us-east-1', endpoint: emu.url, credentials: creds(USER), maxAttempts: 1 });
  const asRole = new IAMClient({ region: 'us-east-1', endpoint: emu.url, credentials: creds(ROLE), maxAttempts: 1 });
  const stranger = new STSClient({ region: 'eu-west-1', endpoint: emu.url, credentials: { accessKeyId: 'AKIDNOBODY0000000000', secretAccessKey: 'x' }, maxAttempts: 1 });
  const wrongRegion = new IAMClient({ region: 'eu-west-1', endpoint: emu.url, credentials: creds(ROLE), maxAttempts: 1 });
  t.after(() => [asUser, asRole, stranger, wrongRegion].forEach((c) => c.destroy()));
  const denied = await asUser.send(new SimulatePrincipalPolicyCommand({ PolicySourceArn: USER.callerArn, ActionNames: ['ec2:ReplaceRoute'] })).catch((e: unknown) => e as { name: string; $metadata: { httpStatusCode?: number }; message: string });
  assert.equal((denied as { name: string }).name, 'AccessDenied');
  assert.match((denied as Error).message, /not authorized to perform: iam:SimulatePrincipalPolicy/);
  const none = await asRole.send(new SimulatePrincipalPolicyCommand({ PolicySourceArn: 'arn:aws:iam::123456789012:role/nobody', ActionNames: ['ec2:ReplaceRoute'] })).catch((e: unknown) => e as Error);
  assert.equal((none as Error).name, 'NoSuchEntityException');
  const who = await stranger.send(new GetCallerIdentityCommand({})).catch((e: unknown) => e as Error);
  assert.equal((who as Error).name, 'InvalidClientTokenId');
  const scoped = await wrongRegion.send(new SimulatePrincipalPolicyCommand({ PolicySourceArn: ROLE_ARN, ActionNames: ['ec2:ReplaceRoute'] })).catch((e: unknown) => e as Error);
  assert.ok(scoped instanceof Error, 'IAM signs for us-east-1 only');
  assert.deepEqual(emu.calls.map((c) => c.status), [403, 404, 403, 403]);
});
