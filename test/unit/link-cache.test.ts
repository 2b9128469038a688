// The link/address cache behind LinkWatcher (src/net/link-cache.ts), fed parsed rtnetlink messages or
// whole snapshots: what it reports as changed, and what it answers afterwards. Pure: no sockets.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { LinkCache, type LinkChange } from '../../src/net/link-cache.js';
import type { AddressMessage, LinkMessage } from '../../src/net/netlink/message.js';
import type { LinkState } from '../../src/net/link.js';

const UP = 0x1 | 0x2 | 0x40 | 0x1000 | 0x10000; // UP BROADCAST RUNNING MULTICAST LOWER_UP
const DOWN = 0x2 | 0x1000;

function link(index: number, name: string, over: Partial<LinkMessage> = {}): LinkMessage {
  return { kind: 'link', op: 'new', seq: 0, nlFlags: 0, family: 0, index, flags: UP, name, mac: '02:00:c6:33:64:01', mtu: 1500, operstate: 'up', ...over };
}

function addr(index: number, address: string, prefixLen: number, over: Partial<AddressMessage> = {}): AddressMessage {
  return { kind: 'address', op: 'new', seq: 0, nlFlags: 0, family: address.includes(':') ? 6 : 4, index, prefixLen, flags: 0x80, address, ...over };
}

const ev = (kind: LinkChange['kind'], ifname: string, ifindex: number): LinkChange => ({ kind, ifname, ifindex });

/** A cache holding eth0 (index 3) with its own address. */
function primed(): LinkCache {
  const c = new LinkCache();
  c.replaceFromDump([link(1, 'lo', { mac: '00:00:00:00:00:00', flags: 0x49 | 0x10000, operstate: 'unknown' }), link(3, 'eth0')], [addr(3, '198.51.100.1', 24)]);
  return c;
}

describe('LinkCache', () => {
  it('a dump fills it; link() answers like getLink (flags as `ip` prints, operstate, addresses)', () => {
    const c = primed();
    assert.deepEqual(c.link('eth0'), {
      name: 'eth0',
      index: 3,
      mac: '02:00:c6:33:64:01',
      up: true,
      mtu: 1500,
      flags: ['BROADCAST', 'MULTICAST', 'UP', 'LOWER_UP'],
      addresses: [{ address: '198.51.100.1', prefixLen: 24, secondary: false, family: 4 }],
      operstate: 'up',
    });
    assert.equal(c.link('eth9'), null);
    assert.deepEqual(c.all().map((l) => l.name), ['lo', 'eth0']);
  });

  it('link down and up: one change each; a repeated identical message changes nothing', () => {
    const c = primed();
    assert.deepEqual(c.apply(link(3, 'eth0', { flags: DOWN, operstate: 'down' })), [ev('link', 'eth0', 3)]);
    assert.equal(c.link('eth0')?.up, false);
    assert.equal(c.link('eth0')?.operstate, 'down');
    assert.deepEqual(c.apply(link(3, 'eth0', { flags: DOWN, operstate: 'down' })), []);
    // carrier lost while administratively up: not up, and NO-CARRIER like `ip`
    assert.deepEqual(c.apply(link(3, 'eth0', { flags: 0x1 | 0x2 | 0x1000, operstate: 'lowerlayerdown' })), [ev('link', 'eth0', 3)]);
    assert.deepEqual(c.link('eth0')?.flags, ['NO-CARRIER', 'BROADCAST', 'MULTICAST', 'UP']);
    assert.deepEqual(c.apply(link(3, 'eth0')), [ev('link', 'eth0', 3)]);
    assert.equal(c.link('eth0')?.up, true);
  });

  it('addresses: add (secondary flag kept), same address under another prefix is another entry, delete, re-announce is quiet', () => {
    const c = primed();
    assert.deepEqual(c.apply(addr(3, '198.51.100.100', 24, { flags: 0x81 })), [ev('address', 'eth0', 3)]);
    assert.deepEqual(c.apply(addr(3, '198.51.100.100', 32)), [ev('address', 'eth0', 3)]);
    assert.deepEqual(c.apply(addr(3, '198.51.100.100', 24, { flags: 0x81 })), [], 'same entry again');
    assert.deepEqual(c.link('eth0')?.addresses.map((a) => `${a.address}/${a.prefixLen}${a.secondary ? ' secondary' : ''}`), [
      '198.51.100.1/24',
      '198.51.100.100/24 secondary',
      '198.51.100.100/32',
    ]);
    assert.deepEqual(c.apply(addr(3, '198.51.100.100', 24, { op: 'del' })), [ev('address', 'eth0', 3)]);
    assert.deepEqual(c.apply(addr(3, '198.51.100.100', 24, { op: 'del' })), [], 'already gone');
    // a promotion (secondary → primary) is a change
    assert.deepEqual(c.apply(addr(3, '198.51.100.100', 32, { flags: 0x81 })), [ev('address', 'eth0', 3)]);
    // IPv6 "temporary" shares the bit but is not "secondary" (like `ip`)
    c.apply(addr(3, '2001:db8::1', 64, { flags: 0x01 }));
    assert.equal(c.link('eth0')?.addresses.find((a) => a.family === 6)?.secondary, false);
  });

  it('a vanishing source address is reported on its interface', () => {
    const c = primed();
    assert.deepEqual(c.apply(addr(3, '198.51.100.1', 24, { op: 'del' })), [ev('address', 'eth0', 3)]);
    assert.deepEqual(c.link('eth0')?.addresses, []);
  });

  it('interface deleted, then re-created with a new index: both reported, link() follows the new one', () => {
    const c = primed();
    assert.deepEqual(c.apply(link(3, 'eth0', { op: 'del', name: null })), [ev('link', 'eth0', 3)]);
    assert.equal(c.link('eth0'), null);
    assert.deepEqual(c.apply(addr(3, '198.51.100.1', 24, { op: 'del' })), [], 'addresses went with the link');
    assert.deepEqual(c.apply(link(7, 'eth0', { mac: '02:00:c6:33:64:07' })), [ev('link', 'eth0', 7)]);
    assert.equal(c.link('eth0')?.index, 7);
    assert.deepEqual(c.link('eth0')?.addresses, []);
    assert.deepEqual(c.apply(link(3, 'eth0', { op: 'del' })), [], 'the old index is already gone');
  });

  it('rename: the old name and the new one are both reported', () => {
    const c = primed();
    assert.deepEqual(c.apply(link(3, 'wan0')), [ev('link', 'eth0', 3), ev('link', 'wan0', 3)]);
    assert.equal(c.link('eth0'), null);
    assert.equal(c.link('wan0')?.addresses.length, 1);
  });

  it('ignores per-family views of a link (a bridge port leaving its bridge is no deletion) and counts orphan addresses', () => {
    const c = primed();
    assert.deepEqual(c.apply(link(3, 'eth0', { op: 'del', family: 7 })), []);
    assert.equal(c.link('eth0')?.index, 3);
    assert.deepEqual(c.apply(addr(42, '198.51.100.9', 32)), []);
    assert.equal(c.orphans, 1);
    assert.deepEqual(c.apply(addr(3, '198.51.100.9', 32, { family: null, address: null })), []);
    assert.deepEqual(c.apply({ kind: 'done', seq: 1, nlFlags: 0 }), []);
  });

  it('a NEWLINK missing attributes keeps the known values', () => {
    const c = primed();
    assert.deepEqual(c.apply(link(3, 'eth0', { name: null, mac: null, mtu: null, operstate: null })), []);
    assert.equal(c.link('eth0')?.mtu, 1500);
  });

  it('replace() (a re-dump after an overflow, or an `ip` poll) reports exactly the differences', () => {
    const c = primed();
    const eth0 = c.link('eth0')!;
    const lo = c.link('lo')!;
    assert.deepEqual(c.replace([lo, eth0]), [], 'nothing changed');
    const dummy: LinkState = { ...eth0, name: 'dummy0', index: 9, addresses: [] };
    const changes = c.replace([
      lo,
      { ...eth0, up: false, flags: ['BROADCAST', 'MULTICAST'], operstate: 'down', addresses: [...eth0.addresses, { address: '198.51.100.100', prefixLen: 32, secondary: false, family: 4 }] },
      dummy,
    ]);
    assert.deepEqual(changes, [ev('link', 'eth0', 3), ev('address', 'eth0', 3), ev('link', 'dummy0', 9)]);
    assert.equal(c.link('eth0')?.up, false);
    assert.deepEqual(c.link('dummy0'), dummy);
    assert.deepEqual(c.replace([lo, { ...eth0, index: 11 }]), [ev('link', 'eth0', 3), ev('link', 'dummy0', 9), ev('link', 'eth0', 11)]);
    assert.equal(c.link('eth0')?.index, 11);
  });
});
