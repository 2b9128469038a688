// The garp provider's error classes: what reaches /status and the log as class and fix.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GRANT_NET_ADMIN, toProviderError } from '../../providers/garp/index.js';
import { INSTALL_IPROUTE2, NetError } from '../../src/net/link.js';
import { ProviderError, retryable } from '../../src/provider/errors.js';

test('garp errors: no permission and a missing interface are permanent with a fix; the rest retryable', () => {
  const eperm = toProviderError(new NetError('cannot add 198.51.100.100/24 to eth0: Operation not permitted', 'run as root or grant CAP_NET_ADMIN'));
  assert.ok(eperm instanceof ProviderError);
  assert.deepEqual([eperm.message, eperm.errorClass, eperm.fix, eperm.code], ['cannot add 198.51.100.100/24 to eth0: Operation not permitted', 'permanent', GRANT_NET_ADMIN, 'EPERM']);

  const errno = toProviderError(Object.assign(new Error('socket: access denied'), { code: 'EACCES' }));
  assert.deepEqual([errno.errorClass, errno.fix, errno.code], ['permanent', GRANT_NET_ADMIN, 'EACCES']);

  const missing = toProviderError(new NetError('interface eth9 not found', 'set instances.VI_1.interface to one of: lo, eth0'));
  assert.deepEqual([missing.errorClass, missing.fix, missing.code], ['permanent', 'set instances.VI_1.interface to one of: lo, eth0', 'ENODEV']);

  const noIp = toProviderError(new NetError('the ip command (iproute2) is not installed', INSTALL_IPROUTE2));
  assert.deepEqual([noIp.errorClass, noIp.fix], ['permanent', INSTALL_IPROUTE2]);

  const other = toProviderError(new NetError('cannot add 198.51.100.100/24 to eth0: RTNETLINK answers: No buffer space available', 'check instances.VI_1.vips'));
  assert.deepEqual([other.errorClass, other.fix], ['retryable', 'check instances.VI_1.vips']);

  const plain = toProviderError('weird');
  assert.deepEqual([plain.message, plain.errorClass, plain.fix], ['weird', 'retryable', null]);

  const already = retryable('as is');
  assert.equal(toProviderError(already), already, 'a ProviderError passes through');
});
