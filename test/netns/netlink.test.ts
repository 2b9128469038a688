// The in-process address and link path over rtnetlink, for real, in a network-namespace lab (needs
// root): a child (fixtures/netlink-child.ts) inside ha1's namespace adds, lists and removes addresses
// and watches links while the test changes the namespace with `ip`. Also: the same results through the
// `ip` fallback, and the EPERM path without CAP_NET_ADMIN. Asserts results and events, never durations
// (bench/netlink.ts times them).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import type { ChildProcess } from 'node:child_process';
import type { Lab } from '../../src/lab/lab.js';
import { parseIpAddrJson, type LinkState } from '../../src/net/link.js';
import type { LinkChange } from '../../src/net/link-cache.js';
import { requireRoot, withLab } from './harness.js';

const VIP = '198.51.100.100';
const VIP6 = '2001:db8::100';

const here = dirname(fileURLToPath(import.meta.url));
const tsSource = import.meta.url.endsWith('.ts');
const fixture = join(here, 'fixtures', tsSource ? 'netlink-child.ts' : 'netlink-child.js');
const loader = tsSource ? ['--import', import.meta.resolve('tsx')] : [];

interface Answer {
  id?: number;
  ok?: boolean;
  value?: unknown;
  error?: string;
  ready?: boolean;
  backend?: { kind: string; reason: string | null };
  change?: LinkChange;
  link?: LinkState | null;
}

/** The fixture child: op() sends one command and waits for its answer; changes() is what its watcher saw. */
class NetChild {
  private next = 0;
  private readonly pending = new Map<number, (a: Answer) => void>();
  private readonly seen: { change: LinkChange; link: LinkState | null }[] = [];
  private err = '';
  readonly ready: Promise<Answer>;

  private constructor(private readonly proc: ChildProcess) {
    proc.stderr!.setEncoding('utf8').on('data', (d: string) => (this.err += d));
    let started!: (a: Answer) => void;
    this.ready = new Promise((res) => (started = res));
    createInterface({ input: proc.stdout! }).on('line', (line) => {
      const a = JSON.parse(line) as Answer;
      if (a.ready) started(a);
      else if (a.change) this.seen.push({ change: a.change, link: a.link ?? null });
      else if (a.id !== undefined) this.pending.get(a.id)?.(a);
    });
  }

  static start(lab: Lab, node: string, env: NodeJS.ProcessEnv = {}, prefix: string[] = []): NetChild {
    return new NetChild(lab.spawn(node, [...prefix, process.execPath, ...loader, fixture], { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, ...env } }));
  }

  /** Sends a command; resolves with the whole answer (ok or not). */
  send(op: string, args: object = {}): Promise<Answer> {
    const id = ++this.next;
    return new Promise((res, rej) => {
      const t = setTimeout(() => rej(new Error(`${op}: no answer; stderr: ${this.err}`)), 10_000);
      this.pending.set(id, (a) => {
        clearTimeout(t);
        res(a);
      });
      this.proc.stdin!.write(JSON.stringify({ id, op, ...args }) + '\n');
    });
  }

  /** Sends a command that must succeed; returns its value. */
  async op<T = unknown>(op: string, args: object = {}): Promise<T> {
    const a = await this.send(op, args);
    assert.ok(a.ok, `${op} ${JSON.stringify(args)} failed: ${a.error}\nstderr: ${this.err}`);
    return a.value as T;
  }

  /** Index into changes(), to wait for changes after this point. */
  mark(): number {
    return this.seen.length;
  }

  /** Waits for a watcher change after `from` that matches; returns it with the link as seen then. */
  async change(from: number, what: string, match: (c: LinkChange, link: LinkState | null) => boolean, timeoutMs = 5_000): Promise<{ change: LinkChange; link: LinkState | null }> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const hit = this.seen.slice(from).find((s) => match(s.change, s.link));
      if (hit) return hit;
      if (Date.now() > deadline) throw new Error(`no change "${what}" within ${timeoutMs} ms; saw ${JSON.stringify(this.seen.slice(from).map((s) => s.change))}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  async exit(): Promise<void> {
    const gone = new Promise((res) => this.proc.once('exit', res));
    this.proc.stdin!.write(JSON.stringify({ id: ++this.next, op: 'exit' }) + '\n');
    await Promise.race([gone, new Promise((res) => setTimeout(res, 3_000))]);
  }
}

/** eth0 of `node` as `ip -j addr show` reports it. */
async function viaIp(lab: Lab, node: string, ifname = 'eth0'): Promise<LinkState> {
  const [entry] = JSON.parse(await lab.run(node, ['ip', '-j', 'addr', 'show', 'dev', ifname])) as Parameters<typeof parseIpAddrJson>[0][];
  assert.ok(entry, `ip shows no ${ifname}`);
  return parseIpAddrJson(entry);
}

const cidrs = (l: LinkState | null) => (l?.addresses ?? []).map((a) => `${a.address}/${a.prefixLen}`);
const v4 = (l: LinkState | null) => (l?.addresses ?? []).filter((a) => a.family === 4).map((a) => `${a.address}/${a.prefixLen}`);

/** The add/list/remove semantics every backend must have. */
async function addressSemantics(lab: Lab, child: NetChild): Promise<void> {
  const own = lab.node('ha1').cidr;
  assert.deepEqual(await child.op('get'), await viaIp(lab, 'ha1'), 'getLinkSync says what ip says');
  assert.deepEqual(await child.op('getAsync'), await viaIp(lab, 'ha1'));
  assert.deepEqual(await child.op('list'), ['lo', 'eth0']);
  assert.equal(await child.op('get', { ifname: 'eth9' }), null);

  // add, idempotently
  assert.equal(await child.op('add', { cidr: `${VIP}/24` }), 'added');
  assert.equal(await child.op('add', { cidr: `${VIP}/24` }), 'present');
  assert.equal(await child.op('addAsync', { cidr: `${VIP}/24` }), 'present');
  assert.deepEqual(v4(await viaIp(lab, 'ha1')), [own, `${VIP}/24`]);
  const held = await child.op<LinkState>('get');
  assert.deepEqual(held.addresses.find((a) => a.address === VIP), { address: VIP, prefixLen: 24, secondary: true, family: 4 });

  // remove takes every copy, whatever its prefix: a stale /32 beside the configured /24
  await lab.run('ha1', ['ip', 'addr', 'add', `${VIP}/32`, 'dev', 'eth0']);
  assert.deepEqual((await child.op<string[]>('remove', { ips: [`${VIP}/24`] })).sort(), [`${VIP}/24`, `${VIP}/32`]);
  assert.deepEqual(v4(await viaIp(lab, 'ha1')), [own]);
  assert.deepEqual(await child.op('remove', { ips: [VIP] }), [], 'nothing left to remove');
  await lab.run('ha1', ['ip', 'addr', 'add', `${VIP}/32`, 'dev', 'eth0']);
  assert.deepEqual(await child.op('removeAsync', { ips: [`${VIP}/24`] }), [`${VIP}/32`]);
  assert.deepEqual(await child.op('remove', { ifname: 'eth9', ips: [VIP] }), [], 'no interface, no address');

  // a missing interface: the error lists the real ones
  const missing = await child.send('add', { ifname: 'eth9', cidr: `${VIP}/24` });
  assert.equal(missing.ok, false);
  assert.equal(missing.error, 'interface eth9 not found — fix: set instances.VI_1.interface to one of: lo, eth0');
  const missingAsync = await child.send('addAsync', { ifname: 'eth9', cidr: `${VIP}/24` });
  assert.equal(missingAsync.error, missing.error);
}

test('netlink address path: add/list/remove, idempotence, every copy removed, missing interface, IPv6 nodad', { timeout: 60_000 }, async (t) => {
  if (!requireRoot(t)) return;
  await withLab([{ name: 'ha1', octet: 1 }], async (lab) => {
    const child = NetChild.start(lab, 'ha1');
    const ready = await child.ready;
    assert.deepEqual(ready.backend, { kind: 'netlink', reason: null }, 'the addon must be built (npm install)');
    await addressSemantics(lab, child);

    // IPv6 (the lab disables it; this node turns it on for itself): added without DAD, like `ip … nodad`
    await lab.run('ha1', ['sysctl', '-qw', 'net.ipv6.conf.eth0.disable_ipv6=0']);
    assert.equal(await child.op('add', { cidr: `${VIP6}/64` }), 'added');
    assert.equal(await child.op('add', { cidr: `2001:DB8:0::100/64` }), 'present');
    const [entry] = JSON.parse(await lab.run('ha1', ['ip', '-j', '-6', 'addr', 'show', 'dev', 'eth0', 'scope', 'global'])) as { addr_info: Record<string, unknown>[] }[];
    const v6 = entry?.addr_info.find((a) => a.local === VIP6);
    assert.ok(v6, JSON.stringify(entry));
    assert.equal(v6.prefixlen, 64);
    assert.equal(v6.nodad, true, 'IFA_F_NODAD set');
    assert.equal(v6.tentative, undefined, 'usable at once, no DAD');
    assert.ok(cidrs(await child.op('get')).includes(`${VIP6}/64`));
    assert.deepEqual(await child.op('remove', { ips: [VIP6] }), [`${VIP6}/64`]);
    assert.ok(!cidrs(await viaIp(lab, 'ha1')).some((c) => c.startsWith(VIP6)));
    await child.exit();
  });
});

test('the ip fallback (no addon, or HA_AGENT_NET_BACKEND=ip) keeps the same semantics and watches by polling', { timeout: 60_000 }, async (t) => {
  if (!requireRoot(t)) return;
  await withLab([{ name: 'ha1', octet: 1 }], async (lab) => {
    const child = NetChild.start(lab, 'ha1', { HA_AGENT_NET_BACKEND: 'ip' });
    assert.deepEqual((await child.ready).backend, { kind: 'ip', reason: 'HA_AGENT_NET_BACKEND=ip' });
    await addressSemantics(lab, child);
    assert.equal(await child.op('watch'), 'ip');
    const m = child.mark();
    await lab.run('ha1', ['ip', 'addr', 'add', `${VIP}/32`, 'dev', 'eth0']);
    const added = await child.change(m, 'VIP added', (c, l) => c.kind === 'address' && cidrs(l).includes(`${VIP}/32`));
    assert.equal(added.change.ifname, 'eth0');
    await lab.run('ha1', ['ip', 'addr', 'del', `${VIP}/32`, 'dev', 'eth0']);
    await child.change(m, 'VIP removed', (c, l) => c.kind === 'address' && !cidrs(l).includes(`${VIP}/32`));
    await child.exit();
  });
});

test('without CAP_NET_ADMIN: add and remove fail with the fix, reading still works', { timeout: 60_000 }, async (t) => {
  if (!requireRoot(t)) return;
  await withLab([{ name: 'ha1', octet: 1 }], async (lab) => {
    await lab.run('ha1', ['ip', 'addr', 'add', `${VIP}/32`, 'dev', 'eth0']);
    const child = NetChild.start(lab, 'ha1', {}, ['setpriv', '--inh-caps=-all', '--bounding-set=-net_admin', '--']);
    assert.equal((await child.ready).backend?.kind, 'netlink', 'opening a netlink socket needs no privilege');
    assert.ok(cidrs(await child.op('get')).includes(`${VIP}/32`));
    const add = await child.send('add', { cidr: '198.51.100.101/24' });
    assert.equal(add.error, 'cannot add 198.51.100.101/24 to eth0: Operation not permitted — fix: run as root or grant CAP_NET_ADMIN');
    const addAsync = await child.send('addAsync', { cidr: '198.51.100.101/24' });
    assert.equal(addAsync.error, add.error);
    const remove = await child.send('remove', { ips: [VIP] });
    assert.equal(remove.error, `cannot remove ${VIP}/32 from eth0: Operation not permitted — fix: run as root or grant CAP_NET_ADMIN`);
    assert.ok(cidrs(await viaIp(lab, 'ha1')).includes(`${VIP}/32`), 'nothing changed');
    await child.exit();
  });
});

test('LinkWatcher over netlink: link down/up, cable pulled, addresses added and removed, interface deleted and re-created', { timeout: 60_000 }, async (t) => {
  if (!requireRoot(t)) return;
  await withLab([{ name: 'ha1', octet: 1 }], async (lab) => {
    const child = NetChild.start(lab, 'ha1');
    await child.ready;
    assert.equal(await child.op('watch'), 'netlink');
    const eth0 = await child.op<LinkState>('watched');
    assert.deepEqual(eth0, await viaIp(lab, 'ha1'), 'the first dump matches ip');
    assert.equal(eth0.operstate, 'up');

    // administratively down, then up
    let m = child.mark();
    await lab.run('ha1', ['ip', 'link', 'set', 'eth0', 'down']);
    const down = await child.change(m, 'eth0 down', (c, l) => c.kind === 'link' && c.ifname === 'eth0' && l?.up === false);
    assert.equal(down.change.ifindex, eth0.index);
    assert.equal(down.link?.operstate, 'down');
    assert.ok(!down.link?.flags.includes('UP'));
    m = child.mark();
    await lab.run('ha1', ['ip', 'link', 'set', 'eth0', 'up']);
    await child.change(m, 'eth0 up', (c, l) => c.kind === 'link' && l?.up === true && l.operstate === 'up');

    // the cable pulled (the bridge port goes down): carrier lost while administratively up
    m = child.mark();
    await lab.setLink('ha1', false);
    const pulled = await child.change(m, 'carrier lost', (c, l) => c.kind === 'link' && l?.up === false);
    assert.ok(pulled.link?.flags.includes('UP') && pulled.link.flags.includes('NO-CARRIER'), JSON.stringify(pulled.link?.flags));
    m = child.mark();
    await lab.setLink('ha1', true);
    await child.change(m, 'carrier back', (c, l) => c.kind === 'link' && l?.up === true);

    // addresses added and removed by someone else, and the node's own (unicast source) address vanishing
    m = child.mark();
    await lab.run('ha1', ['ip', 'addr', 'add', `${VIP}/32`, 'dev', 'eth0']);
    await child.change(m, 'VIP added', (c, l) => c.kind === 'address' && c.ifname === 'eth0' && cidrs(l).includes(`${VIP}/32`));
    m = child.mark();
    await lab.run('ha1', ['ip', 'addr', 'del', `${VIP}/32`, 'dev', 'eth0']);
    await child.change(m, 'VIP removed', (c, l) => c.kind === 'address' && !cidrs(l).includes(`${VIP}/32`));
    const own = lab.node('ha1').cidr;
    m = child.mark();
    await lab.run('ha1', ['ip', 'addr', 'del', own, 'dev', 'eth0']);
    await child.change(m, 'source address gone', (c, l) => c.kind === 'address' && !cidrs(l).includes(own));
    m = child.mark();
    await lab.run('ha1', ['ip', 'addr', 'add', own, 'dev', 'eth0']);
    await child.change(m, 'source address back', (c, l) => c.kind === 'address' && cidrs(l).includes(own));
    // our own adds are seen too
    m = child.mark();
    assert.equal(await child.op('add', { cidr: `${VIP}/24` }), 'added');
    await child.change(m, 'own add seen', (c, l) => c.kind === 'address' && cidrs(l).includes(`${VIP}/24`));

    // an interface deleted, then re-created under the same name with a new index (a veth pair: the
    // kernel here has no dummy driver)
    const makeVeth = () => lab.run('ha1', ['ip', 'link', 'add', 'dummy0', 'type', 'veth', 'peer', 'name', 'dummy1']);
    await makeVeth();
    const created = await child.change(m, 'dummy0 created', (c, l) => c.ifname === 'dummy0' && l !== null);
    const firstIndex = created.change.ifindex;
    await lab.run('ha1', ['ip', 'addr', 'add', '198.51.100.200/32', 'dev', 'dummy0']);
    await child.change(m, 'dummy0 address', (c, l) => c.ifname === 'dummy0' && cidrs(l).includes('198.51.100.200/32'));
    m = child.mark();
    await lab.run('ha1', ['ip', 'link', 'del', 'dummy0']);
    const deleted = await child.change(m, 'dummy0 deleted', (c, l) => c.kind === 'link' && c.ifname === 'dummy0' && l === null);
    assert.equal(deleted.change.ifindex, firstIndex);
    assert.equal(await child.op('watched', { ifname: 'dummy0' }), null);
    m = child.mark();
    await makeVeth();
    const again = await child.change(m, 'dummy0 re-created', (c, l) => c.kind === 'link' && c.ifname === 'dummy0' && l !== null);
    assert.notEqual(again.change.ifindex, firstIndex, 'a new index');
    const fresh = await child.op<LinkState>('watched', { ifname: 'dummy0' });
    assert.equal(fresh.index, again.change.ifindex);
    assert.deepEqual(fresh.addresses, [], 'the old addresses went with the old interface');

    assert.deepEqual(await child.op('watched'), await viaIp(lab, 'ha1'), 'the cache still matches ip');
    const stats = await child.op<{ malformed: number; listenerErrors: number }>('stats');
    assert.equal(stats.malformed, 0);
    assert.equal(stats.listenerErrors, 0);
    await child.exit();
  });
});

test('LinkWatcher after a receive-queue overflow: re-reads everything, reports the difference, keeps watching', { timeout: 60_000 }, async (t) => {
  if (!requireRoot(t)) return;
  await withLab([{ name: 'ha1', octet: 1 }], async (lab) => {
    const child = NetChild.start(lab, 'ha1');
    await child.ready;
    assert.equal(await child.op('watch'), 'netlink');
    // While the child's event loop is held, thousands of address events overflow its socket's queue.
    const watchedBefore = await child.op<number>('eth0Watched');
    const changesBefore = (await child.op<{ changes: number }>('stats')).changes;
    const blocked = child.op('block', { ms: 3_000 });
    const churn = Array.from({ length: 3_000 }, () => `addr add ${VIP}/32 dev eth0\naddr del ${VIP}/32 dev eth0`).join('\n');
    const m = child.mark();
    await lab.run('ha1', ['ip', '-batch', '-'], { input: `${churn}\naddr add 198.51.100.101/32 dev eth0\n` });
    await blocked;
    await child.change(m, 'the last address, found by the re-dump', (c, l) => c.kind === 'address' && cidrs(l).includes('198.51.100.101/32'));
    const stats = await child.op<{ overflows: number; refreshErrors: number; changes: number }>('stats');
    assert.ok(stats.overflows >= 1, `an overflow was seen (${JSON.stringify(stats)})`);
    // The whole backlog was handled in one turn of the child's loop: the interface's watchers heard
    // of it once (watchInterface coalesces per turn), not once per change.
    const watched = (await child.op<number>('eth0Watched')) - watchedBefore;
    assert.ok(stats.changes - changesBefore >= 10, `many changes reported (${stats.changes - changesBefore})`);
    t.diagnostic(`eth0 watchers: ${watched} call(s) for ${stats.changes - changesBefore} change(s)`);
    assert.ok(watched >= 1 && watched <= 2, `eth0 watchers called ${watched} time(s) for ${stats.changes - changesBefore} changes`);
    assert.equal(stats.refreshErrors, 0);
    assert.deepEqual(await child.op('watched'), await viaIp(lab, 'ha1'), 'the cache matches ip');
    // and events keep coming after the overflow
    const after = child.mark();
    await lab.run('ha1', ['ip', 'link', 'set', 'eth0', 'down']);
    await child.change(after, 'eth0 down after the overflow', (c, l) => c.kind === 'link' && l?.up === false);
    await child.exit();
  });
});
