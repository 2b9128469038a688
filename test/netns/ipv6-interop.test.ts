// VRRPv3 over IPv6 (RFC 5798) against Debian's keepalived 2.2.x, in a lab with IPv6 enabled in its
// own namespaces (Lab option ipv6): multicast (ff02::12, link-local sources) and unicast (2001:db8::
// sources and peers). In each mode, both roles and a failover each way, in one run:
//   1. keepalived MASTER (priority 200), ours BACKUP (100): ours follows keepalived's adverts;
//   2. keepalived is killed (-9): ours takes over on its Master_Down_Timer, adds the VIP, and its
//      unsolicited neighbour advertisements move the client's existing neighbour entry to us;
//   3. keepalived comes back at priority 50: it stays BACKUP on our adverts and rejects none of them;
//      (multicast) an advert with hop limit 64 is dropped and counted as bad-ttl, the same advert
//      with hop limit 255 is accepted (RFC 5798 §7.1: the hop limit comes from recvmsg ancillary data);
//   4. ours stops (SIGTERM): its priority-0 advert hands over to keepalived at once.
// Our adverts and NAs on the wire must pass tshark's dissectors (`tshark -V`: no malformed packet, no
// bad checksum, no error), with hop limit 255, the right source and destination, and keepalived's NA
// layout (spec §5.2). No durations are asserted.
// A last test runs two of our agents dual-stack: an IPv4 and an IPv6 instance with the same VRID on
// one interface, each electing and failing over on its own socket (keepalived allows the same).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { run } from '../../src/exec.js';
import { canonicalIpv6 } from '../../src/vrrp/ipv6.js';
import type { Lab } from '../../src/lab/lab.js';
import { addrOf, agentConfig, clientNeighbour, eventually, reasonOf, requireRoot, settle, startAgent, TAKEOVER_REASON, waitVipOn, withLab, type AgentConfig, type VrrpParams } from './harness.js';
import { keepalivedRejects, keepalivedTakeover, startKeepalived } from './keepalived.js';
import { startCapture } from './capture.js';

const VIP = '2001:db8::100/64';
const WAIT = 20_000;
const NODES = [
  { name: 'ha1', octet: 1 },
  { name: 'ha2', octet: 2 },
  { name: 'client', octet: 10 },
];

/** Sends one VRRPv3 advert to ff02::12 with the given hop limit (the kernel fills the checksum). */
const INJECT = `
import socket, sys
ifname, vrid, prio, hops, vip = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
idx = socket.if_nametoindex(ifname)
s = socket.socket(socket.AF_INET6, socket.SOCK_RAW, 112)
s.setsockopt(socket.IPPROTO_IPV6, getattr(socket, 'IPV6_CHECKSUM', 7), 6)
s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_HOPS, hops)
s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_IF, idx)
s.sendto(bytes([0x31, vrid, prio, 1, 0, 20, 0, 0]) + socket.inet_pton(socket.AF_INET6, vip), ('ff02::12', 0, 0, idx))
`;

/** The EUI-64 link-local address the kernel derives from a MAC (RFC 4291 appendix A). */
function linkLocalOf(mac: string): string {
  const b = mac.split(':').map((x) => parseInt(x, 16));
  b[0]! ^= 0x02;
  const h = (x: number, y: number) => ((x << 8) | y).toString(16);
  return canonicalIpv6(`fe80::${h(b[0]!, b[1]!)}:${h(b[2]!, 0xff)}:${h(0xfe, b[3]!)}:${h(b[4]!, b[5]!)}`)!;
}

/** GET /status of the agent on `node`, with curl inside its namespace (cheaper than the CLI). */
async function counters(lab: Lab, node: string): Promise<{ advertsReceived: number; dropped: Record<string, number> }> {
  const out = await lab.run(node, ['curl', '-sf', 'http://127.0.0.1:9721/status'], { timeoutMs: 10_000 });
  return (JSON.parse(out) as { instances: Record<string, { counters: { advertsReceived: number; dropped: Record<string, number> } }> }).instances.VI_1!.counters;
}

/** One mode's run (steps 1–4 of the header); leaves keepalived MASTER, stopped by the caller. */
async function runMode(lab: Lab, unicast: boolean): Promise<void> {
  const vrid = unicast ? 62 : 61;
  const ha1 = lab.node('ha1');
  const ha2 = lab.node('ha2');
  const base = { version: 3, vrid, advertInterval: 0.2, vips: [VIP], garp: { repeat: 3, delay: 0 } } as const;
  const uni = (self: typeof ha1, peer: typeof ha1) => (unicast ? { unicast: { source: self.ip6!, peers: [peer.ip6!] } } : {});
  const ours: VrrpParams = { ...base, vips: [VIP], priority: 100, ...uni(ha1, ha2) };
  const ka = (priority: number): VrrpParams => ({ ...base, vips: [VIP], priority, ...uni(ha2, ha1) });

  // 1. keepalived MASTER, ours BACKUP.
  const k1 = startKeepalived(lab, 'ha2', ka(200));
  await k1.waitState('VI_1', 'MASTER', WAIT);
  const agent = startAgent(lab, 'ha1', agentConfig(ours));
  await agent.waitState('VI_1', 'BACKUP', WAIT);
  await settle([[k1, 'MASTER'], [agent, 'BACKUP']], 600, WAIT);
  await waitVipOn(lab, VIP, 'ha2', WAIT);
  await lab.run('client', ['ping', '-6', '-c', '1', '-W', '2', addrOf(VIP)]);
  assert.equal(await clientNeighbour(lab, 'client', VIP), 'ha2', 'the client reaches keepalived for the VIP');

  // 2. keepalived dies: ours takes over, and its NAs move the client's neighbour entry.
  await k1.kill9();
  await agent.waitState('VI_1', 'MASTER', WAIT);
  assert.equal(reasonOf(agent, 'MASTER'), TAKEOVER_REASON.masterDown);
  await waitVipOn(lab, VIP, 'ha1', WAIT);
  const addrs = JSON.parse(await lab.run('ha1', ['ip', '-6', '-j', 'addr', 'show', 'dev', 'eth0'])) as { addr_info: { local: string; prefixlen: number; nodad?: boolean }[] }[];
  const added = addrs[0]?.addr_info.find((a) => a.local === addrOf(VIP));
  assert.deepEqual([added?.prefixlen, added?.nodad], [64, true], 'the VIP was added with its prefix and without DAD (nodad)');
  await eventually(() => clientNeighbour(lab, 'client', VIP), (n) => n === 'ha1', WAIT, "the client's neighbour entry for the VIP moved to ha1");
  // keepalived -9 left its copy of the VIP on ha2 (no clean-up ran): take it away as an operator would.
  await lab.exec('ha2', ['ip', 'addr', 'del', VIP, 'dev', 'eth0']);

  // 3. keepalived back at a lower priority: BACKUP on our adverts, none rejected.
  const k2 = startKeepalived(lab, 'ha2', ka(50));
  await k2.waitState('VI_1', 'BACKUP', WAIT);
  await settle([[k2, 'BACKUP'], [agent, 'MASTER']], 1_000, WAIT);
  assert.deepEqual(keepalivedRejects(k2), [], 'keepalived rejected none of our adverts');
  if (!unicast) {
    const before = await counters(lab, 'ha1');
    const mark = agent.mark();
    await lab.run('client', ['python3', '-c', INJECT, 'eth0', String(vrid), '1', '64', addrOf(VIP)]);
    await agent.waitFor((e) => e.evt === 'drop' && e.reason === 'bad-ttl', WAIT, mark, 'the hop-limit-64 advert dropped');
    await lab.run('client', ['python3', '-c', INJECT, 'eth0', String(vrid), '1', '255', addrOf(VIP)]);
    const after = await eventually(() => counters(lab, 'ha1'), (c) => c.advertsReceived > before.advertsReceived, WAIT, 'the hop-limit-255 advert accepted');
    assert.equal(after.dropped['bad-ttl'], (before.dropped['bad-ttl'] ?? 0) + 1, 'hop limit 64: dropped and counted as bad-ttl');
    assert.equal(after.advertsReceived, before.advertsReceived + 1, 'hop limit 255: the same advert accepted');
    assert.equal(agent.state('VI_1'), 'MASTER', 'a lower-priority advert changes nothing');
  }

  // 4. ours stops: priority 0 hands over to keepalived.
  const mark = k2.mark();
  await agent.stop('SIGTERM');
  await k2.waitState('VI_1', 'MASTER', WAIT);
  assert.deepEqual(keepalivedTakeover(k2, mark), { priorityZero: true, timerFired: true }, 'keepalived took over after our priority-0 advert (Skew_Time)');
  await waitVipOn(lab, VIP, 'ha2', WAIT);
  // keepalived checks the hop limit too: it rejected the injected hop-limit-64 advert, and nothing of ours.
  assert.deepEqual(keepalivedRejects(k2).filter((l) => !/Received 64 and expect 255/.test(l)), []);
  await k2.kill9();
  await lab.exec('ha2', ['ip', 'addr', 'del', VIP, 'dev', 'eth0']);
}

const FIELDS = [
  'eth.dst', 'ipv6.src', 'ipv6.dst', 'ipv6.hlim', 'ipv6.tclass',
  'vrrp.version', 'vrrp.virt_rtr_id', 'vrrp.prio', 'vrrp.checksum.status', 'vrrp.short_adver_int', 'vrrp.ipv6_addr',
  'icmpv6.checksum.status', 'icmpv6.nd.na.flag.r', 'icmpv6.nd.na.flag.s', 'icmpv6.nd.na.flag.o', 'icmpv6.nd.na.target_address', 'icmpv6.opt.linkaddr',
];

/** Our adverts (both modes) and unsolicited NAs in the capture, as tshark decodes them. */
async function checkWire(lab: Lab, pcap: string): Promise<void> {
  const ha1 = lab.node('ha1');
  const ha2 = lab.node('ha2');
  const ours = `eth.src == ${ha1.mac} && ((vrrp && !icmpv6) || (icmpv6.type == 136 && icmpv6.nd.na.flag.s == 0))`;
  const argv = ['tshark', '-r', pcap, '-Y', ours, '-T', 'fields', '-E', 'separator=/t', '-E', 'aggregator=,', ...FIELDS.flatMap((f) => ['-e', f])];
  const rows = (await run(argv, { timeoutMs: 30_000 })).split('\n').filter(Boolean).map((l) => l.split('\t'));
  const adverts = rows.filter((r) => r[5] !== '');
  const nas = rows.filter((r) => r[5] === '');
  for (const [vrid, src, dst] of [['61', linkLocalOf(ha1.mac), 'ff02::12'], ['62', ha1.ip6!, ha2.ip6!]] as const) {
    const mine = adverts.filter((r) => r[6] === vrid);
    assert.ok(mine.length >= 5, `our VRID ${vrid} adverts captured (${mine.length})`);
    for (const [, s, d, hlim, tclass, version, , , ck, iv, addrs] of mine)
      assert.deepEqual({ s, d, hlim, tclass, version, ck, iv, addrs }, { s: src, d: dst, hlim: '255', tclass: '0x000000c0', version: '3', ck: '1', iv: '20', addrs: addrOf(VIP) });
    assert.ok(mine.some((a) => a[7] === '100') && mine.at(-1)![7] === '0', `VRID ${vrid}: adverts at priority 100, the last at priority 0`);
  }
  // keepalived's NA frame (spec §5.2), on the GARP schedule: garp repeat 3 (delay 0) at each of our two
  // takeovers, and lowerPrioRepeat (default 5) when the injected lower-priority advert was accepted.
  assert.equal(nas.length, 3 + 5 + 3, 'NA bursts: takeover (3), lower-priority advert (5), takeover (3)');
  for (const [ethDst, src, dst, hlim, , , , , , , , ck, r, s, o, target, lladdr] of nas)
    assert.deepEqual({ ethDst, src, dst, hlim, ck, r, s, o, target, lladdr }, { ethDst: '33:33:00:00:00:01', src: addrOf(VIP), dst: 'ff02::1', hlim: '255', ck: '1', r: '0', s: '0', o: '1', target: addrOf(VIP), lladdr: ha1.mac });

  // The full decode of everything we sent: nothing malformed, no bad checksum, no expert error.
  const full = await run(['tshark', '-r', pcap, '-V', '-Y', ours], { timeoutMs: 30_000 });
  assert.match(full, /Virtual Router Redundancy Protocol/);
  assert.match(full, /Neighbor Advertisement/);
  assert.doesNotMatch(full, /Malformed|\[Checksum Status: Bad\]|Expert Info \(Error/);
}

test('VRRPv3 over IPv6 with keepalived, multicast then unicast: both roles, failover both ways, hop limit checked, tshark-clean adverts and NAs', { timeout: 120_000 }, async (t) => {
  if (!requireRoot(t)) return;
  await withLab(
    NODES,
    async (lab) => {
      const cap = await startCapture(lab, { filter: 'ip6 proto 112 or icmp6', name: 'vrrp-ipv6' });
      await t.test('multicast (ff02::12, link-local sources)', () => runMode(lab, false));
      await t.test('unicast (2001:db8:: sources and peers)', () => runMode(lab, true));
      await checkWire(lab, await cap.stop());
    },
    { ipv6: true },
  );
});

/** A dual-stack agent config: an IPv4 and an IPv6 instance sharing VRID 70 on eth0. */
function dualStack(priority: number): AgentConfig {
  const inst = { interface: 'eth0', vrid: 70, priority, version: 3, advertInterval: 0.2, garp: { repeat: 1, delay: 0 } };
  return { log: { level: 'debug' }, status: { listen: '127.0.0.1:9721' }, instances: { V4: { ...inst, vips: ['198.51.100.100/24'] }, V6: { ...inst, vips: [VIP] } } };
}

test('dual stack: one agent runs an IPv4 and an IPv6 instance with the same VRID; each elects and fails over on its own socket', { timeout: 60_000 }, async (t) => {
  if (!requireRoot(t)) return;
  await withLab(
    NODES.slice(0, 2),
    async (lab) => {
      const a = startAgent(lab, 'ha1', dualStack(200));
      const b = startAgent(lab, 'ha2', dualStack(100));
      for (const i of ['V4', 'V6']) await settle([[a, 'MASTER'], [b, 'BACKUP']], 600, WAIT, i);
      await waitVipOn(lab, VIP, 'ha1', WAIT);
      await waitVipOn(lab, '198.51.100.100/24', 'ha1', WAIT);
      const status = JSON.parse(await lab.run('ha2', ['curl', '-sf', 'http://127.0.0.1:9721/status'])) as { instances: Record<string, { master: string }>; interfaces: Record<string, unknown> };
      assert.deepEqual([status.instances.V4!.master, status.instances.V6!.master], [lab.node('ha1').ip, linkLocalOf(lab.node('ha1').mac)], 'each family follows its own master');
      assert.deepEqual(Object.keys(status.interfaces).sort(), ['eth0', 'eth0/ipv6']);
      await a.stop('SIGTERM');
      for (const i of ['V4', 'V6']) await b.waitState(i, 'MASTER', WAIT);
      assert.deepEqual([reasonOf(b, 'MASTER', 'V4'), reasonOf(b, 'MASTER', 'V6')], [TAKEOVER_REASON.priorityZero, TAKEOVER_REASON.priorityZero]);
      await waitVipOn(lab, VIP, 'ha2', WAIT);
    },
    { ipv6: true },
  );
});

