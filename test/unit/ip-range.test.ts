// src/net/ip.ts CIDR blocks: the one place the agent (aws provider test, route-table mode) and the
// emulators compute "is this address inside that block".
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ipv4InRange, ipv4Range } from '../../src/net/ip.js';

test('ipv4Range: the block an address/prefix lies in, host bits ignored; null for anything else', () => {
  assert.deepEqual(ipv4Range('198.51.100.77/25'), { base: (198 * 2 ** 24) + (51 << 16) + (100 << 8), size: 128, prefix: 25 });
  assert.deepEqual(ipv4Range('203.0.113.10/32')?.size, 1);
  assert.deepEqual(ipv4Range('0.0.0.0/0'), { base: 0, size: 2 ** 32, prefix: 0 });
  for (const bad of ['198.51.100.0', '198.51.100.0/33', '198.51.100.0/-1', '198.51.100.0/x', '198.51.100/24', '198.51.100.0/24/1', '2001:db8::/32', ''])
    assert.equal(ipv4Range(bad), null, bad);
});

test('ipv4InRange: inclusive of the first and last address of the block, false when either side does not parse', () => {
  assert.equal(ipv4InRange('198.51.100.0/24', '198.51.100.0'), true);
  assert.equal(ipv4InRange('198.51.100.0/24', '198.51.100.255'), true);
  assert.equal(ipv4InRange('198.51.100.0/25', '198.51.100.128'), false);
  assert.equal(ipv4InRange('198.51.100.0/24', '203.0.113.1'), false);
  assert.equal(ipv4InRange('0.0.0.0/0', '203.0.113.1'), true);
  assert.equal(ipv4InRange('198.51.100.0/24', '198.51.100.999'), false);
  assert.equal(ipv4InRange('nonsense', '198.51.100.1'), false);
});
