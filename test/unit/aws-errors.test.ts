// AWS SDK failures as the runner sees them (providers/aws/errors.ts): class and fix per EC2 error code,
// built with the SDK's own exception class, and Node network errors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EC2ServiceException } from '@aws-sdk/client-ec2';
import { awsError, awsErrorCode } from '../../providers/aws/errors.js';
import { ProviderError } from '../../src/provider/errors.js';

function ec2(code: string, status: number, message = 'details'): EC2ServiceException {
  return new EC2ServiceException({ name: code, $fault: status >= 500 ? 'server' : 'client', $metadata: { httpStatusCode: status }, message });
}

const classOf = (e: unknown) => awsError(e, 'AssignPrivateIpAddresses', 'assigning 198.51.100.100').errorClass;

test('throttling, 5xx, timeouts and network errors are retryable', () => {
  for (const [code, status] of [['RequestLimitExceeded', 503], ['Throttling', 400], ['InternalError', 500], ['Unavailable', 503], ['SomethingNew', 502]] as const)
    assert.equal(classOf(ec2(code, status)), 'retryable', code);
  for (const code of ['ECONNREFUSED', 'ETIMEDOUT', 'ECONNRESET']) assert.equal(classOf(Object.assign(new Error(`connect ${code}`), { code })), 'retryable', code);
  const timeout = Object.assign(new Error('Connection timed out after 1000 ms'), { name: 'TimeoutError' });
  assert.equal(classOf(timeout), 'retryable');
  const abort = Object.assign(new Error('Request aborted'), { name: 'AbortError' });
  assert.equal(awsError(abort, 'X', 'doing x').message, 'doing x: aborted');
});

test('a missing permission is permanent and names the IAM action to allow', () => {
  const e = awsError(ec2('UnauthorizedOperation', 403, 'You are not authorized to perform this operation.'), 'AssignPrivateIpAddresses', 'assigning 198.51.100.100');
  assert.ok(e instanceof ProviderError);
  assert.equal(e.errorClass, 'permanent');
  assert.equal(e.code, 'UnauthorizedOperation');
  assert.match(e.fix!, /allow ec2:AssignPrivateIpAddresses/);
  assert.match(e.message, /^assigning 198\.51\.100\.100: UnauthorizedOperation \(HTTP 403\): You are not authorized/);
});

test('wrong ids, limits, auth and clock problems are permanent with a fix that says what to change', () => {
  const cases: [string, number, string, RegExp][] = [
    ['InvalidNetworkInterfaceID.NotFound', 400, "The networkInterface ID 'eni-1' does not exist", /networkInterfaceId/],
    ['InvalidRouteTableID.NotFound', 400, "The routeTable ID 'rtb-1' does not exist", /routeTableIds/],
    ['InvalidAllocationID.NotFound', 400, 'no such allocation', /allocationId/],
    ['PrivateIpAddressLimitExceeded', 400, 'Number of private addresses will exceed limit.', /instance type/],
    ['AuthFailure', 401, 'AWS was not able to validate the provided access credentials', /access key/],
    ['SignatureDoesNotMatch', 403, 'The request signature we calculated does not match', /secret access key/],
    ['RequestExpired', 400, 'Request has expired.', /clock/],
    ['Resource.AlreadyAssociated', 400, 'already associated', /AllowReassociation/],
  ];
  for (const [code, status, message, fix] of cases) {
    const e = awsError(ec2(code, status, message), 'AssignPrivateIpAddresses', 'x');
    assert.equal(e.errorClass, 'permanent', code);
    assert.match(e.fix ?? '', fix, code);
  }
});

test('InvalidParameterValue: the fix follows EC2\'s message', () => {
  const fixOf = (m: string) => awsError(ec2('InvalidParameterValue', 400, m), 'AssignPrivateIpAddresses', 'x').fix ?? '';
  assert.match(fixOf('[198.51.100.100] assigned, but move is not allowed.'), /primary/);
  assert.match(fixOf("Address does not fall within the subnet's address range"), /subnet CIDR/);
  assert.match(fixOf("Address is in subnet's reserved address range"), /reserved/);
  assert.match(fixOf("There is no route defined for '203.0.113.10/32' in the route table. Use CreateRoute instead."), /create-route/);
  assert.match(fixOf('The specified private IP address 198.51.100.77 is not assigned to network interface eni-0a1b2c3d4e5f60002'), /privateIpAddress/);
  assert.match(fixOf('Route table rtb-0123456789abcdef0 and network interface eni-0a1b2c3d4e5f60002 belong to different networks'), /different VPCs/);
  assert.equal(awsError(ec2('InvalidParameterValue', 400, 'odd'), 'A', 'x').errorClass, 'permanent');
});

test('no credentials: retryable (IMDS may come back) with the ways to provide them; an unknown client error is permanent', () => {
  const creds = Object.assign(new Error('Could not load credentials from any providers'), { name: 'CredentialsProviderError' });
  const e = awsError(creds, 'DescribeNetworkInterfaces', 'reading the ENI');
  assert.equal(e.errorClass, 'retryable');
  assert.match(e.fix!, /instance role/);
  assert.equal(classOf(ec2('SomeNewClientError', 400)), 'permanent');
  assert.equal(awsErrorCode(ec2('Throttling', 400)), 'Throttling');
  assert.equal(awsErrorCode(null), null);
});

test('a ProviderError passes through unchanged', () => {
  const p = new ProviderError('already classed', { errorClass: 'permanent', fix: 'f' });
  assert.equal(awsError(p, 'A', 'x'), p);
});
