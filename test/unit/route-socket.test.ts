// The netlink addon and its wrapper (src/net/netlink/route-socket.ts, src/net/native-addon.ts) in
// this process's own namespace, read-only (a link dump; no root needed): answers are complete and
// parsed, errors carry errno names, misuse throws instead of crashing. Under CI=true the addon must be
// built; elsewhere a missing addon skips loudly (the agent falls back to `ip`).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { loadAddon } from '../../src/net/native-addon.js';
import { NetlinkError, RouteSocket, routeSocketAvailable } from '../../src/net/netlink/route-socket.js';
import { linkGetRequest } from '../../src/net/netlink/message.js';

const avail = routeSocketAvailable();
if (!avail.ok) {
  if (process.env.CI === 'true') throw new Error(`netlink addon not built (CI=true): ${avail.error}`);
  console.warn(`\n!!!!! SKIPPING route-socket tests: ${avail.error} !!!!!\n`);
}

describe('native addon loader', () => {
  it('a missing addon is an answer, not an exception, and the same answer every time', () => {
    const a = loadAddon<unknown>('no_such_addon');
    assert.equal(a.binding, null);
    assert.match(a.error ?? '', /build\/Release\/no_such_addon\.node not found/);
    assert.equal(loadAddon<unknown>('no_such_addon'), a);
  });
});

describe('RouteSocket', { skip: !avail.ok && 'addon not built' }, () => {
  it('dumps every link (lo first) and reads one by name; a missing name is null', () => {
    const s = RouteSocket.open();
    try {
      const links = s.dumpLinks();
      assert.ok(links.length >= 1);
      assert.equal(links[0]?.name, 'lo');
      assert.ok(links.every((l) => l.kind === 'link' && l.family === 0 && l.index > 0));
      const lo = s.getLink('lo');
      assert.equal(lo?.index, links[0]?.index);
      assert.equal(lo?.mac, '00:00:00:00:00:00');
      assert.equal(s.getLink('nosuchif0'), null);
      assert.ok(s.dumpAddresses(lo!.index).every((a) => a.index === lo!.index));
    } finally {
      s.close();
    }
  });

  it('errors carry the errno name and strerror text; a closed socket refuses politely', () => {
    assert.deepEqual([new NetlinkError(1).code, new NetlinkError(1).message], ['EPERM', 'Operation not permitted']);
    assert.deepEqual([new NetlinkError(17).code, new NetlinkError(17).message], ['EEXIST', 'File exists']);
    assert.deepEqual([new NetlinkError(99).code, new NetlinkError(99).message], ['EADDRNOTAVAIL', 'Cannot assign requested address']);
    assert.equal(new NetlinkError(9999).code, 'EUNKNOWN');
    const s = RouteSocket.open();
    s.close();
    s.close();
    assert.throws(() => s.dumpLinks(), /closed/);
  });

  it('the raw binding validates its arguments and reports errno names', () => {
    const b = loadAddon<{ request(fd: unknown, msg: unknown): Buffer[]; open(g: unknown): number; watch(fd: number, cb: unknown): void; close(fd: number): void }>('netlink').binding!;
    assert.throws(() => b.open('x'), TypeError);
    assert.throws(() => b.request(0, 'not a buffer'), TypeError);
    assert.throws(() => b.request(0, Buffer.alloc(4)), RangeError);
    assert.throws(() => b.request(-1, linkGetRequest(1, 'lo')), (e: NodeJS.ErrnoException) => e.code === 'EBADF');
    const fd = b.open(0);
    assert.throws(() => b.watch(fd, 'not a function'), TypeError);
    b.close(fd);
  });
});
