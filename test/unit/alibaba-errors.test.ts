// The alibaba provider's error classes (providers/alibaba/errors.ts) for the errors the real
// @alicloud/openapi-core throws (ThrottlingError, ClientError, ServerError: code, statusCode, data):
// throttling (any code containing "Throttling") and 5xx / network / concurrent operations are
// retryable and retried by the VPC client; Forbidden.RAM, InvalidHaVipId.NotFound,
// IncorrectHaVipStatus, key and signature errors are permanent with a fix naming what to do.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ClientError, ServerError, ThrottlingError } from '@alicloud/openapi-core';
import { alibabaError, isTransient, notAssociated, notConfirmed } from '../../providers/alibaba/errors.js';

const sdk = (Cls: typeof ClientError | typeof ServerError | typeof ThrottlingError, statusCode: number, code: string, message = 'm') =>
  new Cls({ statusCode, code, message: `code: ${statusCode}, ${message} request id: R`, data: { Code: code, Message: message } });

test('throttling (any code containing Throttling), 5xx, network errors and concurrent operations are transient and retryable', () => {
  for (const e of [
    sdk(ThrottlingError, 400, 'Throttling.User'),
    sdk(ThrottlingError, 400, 'Throttling.Api'),
    sdk(ServerError, 503, 'ServiceUnavailable'),
    sdk(ServerError, 500, 'InternalError'),
    sdk(ClientError, 400, 'TaskConflict'),
    Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:7001'), { code: 'ECONNREFUSED' }),
  ]) {
    assert.equal(isTransient(e), true, String((e as { code?: string }).code));
    const p = alibabaError(e, 'DescribeHaVips', 'DescribeHaVips havip-bp1x');
    assert.equal(p.errorClass, 'retryable', p.message);
    assert.ok(p.fix, p.message);
  }
  assert.match(alibabaError(sdk(ThrottlingError, 400, 'Throttling.User'), 'DescribeHaVips', 'd').fix ?? '', /throttling/);
});

test('permanent with the fix: Forbidden.RAM, InvalidHaVipId.NotFound, IncorrectHaVipStatus, keys, signature, no credentials, other 4xx', () => {
  const cases: [Error, RegExp][] = [
    [sdk(ClientError, 403, 'Forbidden.RAM'), /grant vpc:DescribeHaVips/],
    [sdk(ClientError, 404, 'InvalidHaVipId.NotFound'), /havip-bp1x does not exist in region cn-hangzhou/],
    [sdk(ClientError, 400, 'IncorrectHaVipStatus'), /Available or InUse/],
    [sdk(ClientError, 404, 'InvalidAccessKeyId.NotFound'), /AccessKey/],
    [sdk(ClientError, 400, 'SignatureDoesNotMatch'), /secret.*clock/],
    [sdk(ClientError, 400, 'InvalidCredentials'), /RAM role/],
    [sdk(ClientError, 400, 'InvalidParameter'), /provider test alibaba/],
  ];
  for (const [e, fix] of cases) {
    assert.equal(isTransient(e), false);
    const p = alibabaError(e, 'DescribeHaVips', 'DescribeHaVips havip-bp1x', { haVipId: 'havip-bp1x', regionId: 'cn-hangzhou' });
    assert.equal(p.errorClass, 'permanent', p.message);
    assert.equal(p.code, (e as unknown as { code: string }).code);
    assert.match(p.fix ?? '', fix);
    assert.match(p.message, new RegExp(`^DescribeHaVips havip-bp1x: ${(e as unknown as { code: string }).code.replace('.', '\\.')} \\(HTTP \\d{3}\\)`));
  }
});

test('the provider\'s own findings: NotAssociated (permanent, the command that fixes it) and NotConfirmed (retryable)', () => {
  const a = notAssociated('i-bp1a', 'havip-bp1x', ['i-bp1b'], 'cn-hangzhou');
  assert.equal(a.errorClass, 'permanent');
  assert.match(a.message, /i-bp1a is not associated with havip-bp1x \(associated: i-bp1b\)/);
  assert.match(a.fix ?? '', /aliyun vpc AssociateHaVip --RegionId cn-hangzhou --HaVipId havip-bp1x --InstanceId i-bp1a/);
  const c = notConfirmed('i-bp1a', 'havip-bp1x', '', 10_000, 3);
  assert.equal(c.errorClass, 'retryable');
  assert.equal(c.code, 'NotConfirmed');
  assert.match(c.message, /MasterInstanceId is empty, not i-bp1a, 10 s after the gratuitous ARPs \(3 reads\)/);
  assert.equal(isTransient(c), false, 'NotConfirmed is not retried inside the VPC client');
});
