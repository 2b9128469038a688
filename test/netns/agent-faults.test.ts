// The agent under bad conditions, on a real L2 lab: hostile or malformed packets are counted and
// dropped without disturbing the election; a link that goes down puts the instance in FAULT and the
// backup takes over; a VIP that cannot be added (no CAP_NET_ADMIN) makes the master step down with a
// clear reason; a unicast source that is not on the interface keeps the instance in FAULT until it is.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { encodeAdvert, type VrrpAdvert } from '../../src/vrrp/packet.js';
import { buildIpv4Header } from '../../src/vrrp/ipv4.js';
import {
  agentConfig,
  eventually,
  requireRoot,
  settle,
  startAgent,
  waitVipHolders,
  withLab,
} from './harness.js';
import type { Lab } from '../../src/lab/lab.js';

const VIP = '198.51.100.100/24';
const here = fileURLToPath(new URL('.', import.meta.url));
const runningTs = import.meta.url.endsWith('.ts');
const sender = join(here, 'fixtures', runningTs ? 'send-datagrams.ts' : 'send-datagrams.js');
const nodeArgs = runningTs ? ['--import', 'tsx'] : [];

function datagram(src: string, dst: string, advert: Partial<VrrpAdvert>, tweak?: (b: Buffer) => void, ttl = 255): { dst: string; hex: string } {
  const a: VrrpAdvert = { version: 3, vrid: 51, priority: 200, addresses: ['198.51.100.100'], advertIntervalCs: 10, authType: 0, authData: Buffer.alloc(0), ...advert };
  const vrrp = encodeAdvert(a, { src, dst });
  tweak?.(vrrp);
  const ip = buildIpv4Header({ src, dst, ttl, tos: 0xc0, id: 1, protocol: 112, payloadLength: vrrp.length });
  return { dst, hex: Buffer.concat([ip, vrrp]).toString('hex') };
}

async function send(lab: Lab, node: string, packets: { dst: string; hex: string }[]): Promise<void> {
  await lab.run(node, [process.execPath, ...nodeArgs, sender, 'eth0', JSON.stringify(packets)], { timeoutMs: 10_000 });
}

test('hostile and malformed adverts are counted and dropped; the election is undisturbed', { timeout: 60_000 }, async (t) => {
  if (!requireRoot(t)) return;
  await withLab([{ name: 'ha1', octet: 1 }, { name: 'evil', octet: 66 }], async (lab) => {
    const ha1 = startAgent(lab, 'ha1', agentConfig({ version: 3, vrid: 51, priority: 150, advertInterval: 0.1, vips: [VIP] }));
    await settle([[ha1, 'MASTER']], 500);
    const src = lab.node('evil').ip;
    const g = '224.0.0.18';
    await send(lab, 'evil', [
      datagram(src, g, {}, (b) => (b[7] = b[7]! ^ 0xff)), // bad checksum, higher priority
      datagram(src, g, {}, undefined, 64), // TTL 64 on multicast
      datagram(src, g, { addresses: ['198.51.100.101'] }), // another VIP set
      datagram(src, g, { version: 2, advertIntervalCs: 100, authData: Buffer.alloc(8) }), // v2 to a v3 instance
      datagram(src, g, {}, (b) => b.fill(0xa5, 2).fill(0xa5, 0, 1)), // garbage but for our VRID
      datagram(src, g, { vrid: 52 }), // someone else's VRID: ignored, not counted
      datagram(src, '198.51.100.1', {}), // unicast advert to a multicast instance
    ]);
    const st = await eventually(
      () => ha1.instanceStatus(),
      (s) => Object.values((s.counters as unknown as { dropped: Record<string, number> })?.dropped ?? {}).reduce((x, y) => x + y, 0) >= 6,
      5_000,
      'six drops counted',
    );
    const dropped = (st.counters as unknown as { dropped: Record<string, number> }).dropped;
    for (const reason of ['bad-checksum', 'bad-ttl', 'address-mismatch', 'bad-version', 'dst-mode-mismatch'])
      assert.ok((dropped[reason] ?? 0) >= 1, `dropped.${reason} counted: ${JSON.stringify(dropped)}`);
    assert.equal(dropped['unknown-vrid'], undefined, 'other VRIDs are not our business');
    // …but the interface counts them, once (the demux routes by VRID; nobody here serves 52).
    const whole = (await ha1.status()) as unknown as { interfaces: Record<string, { dropped: Record<string, number> }> };
    assert.equal(whole.interfaces['eth0']?.dropped['unknown-vrid'], 1, JSON.stringify(whole.interfaces));
    assert.equal(st.state, 'MASTER');
    assert.deepEqual(ha1.transitions().map((e) => e.to), ['BACKUP', 'MASTER'], 'no transition caused by bad packets');
    assert.equal(ha1.exit, null, 'agent still running');

    // The same packet, valid: a higher priority takes mastership away, proving the drops above were the checks.
    const mark = ha1.mark();
    await send(lab, 'evil', [datagram(src, g, {})]);
    await ha1.waitFor((e) => e.evt === 'transition' && e.to === 'BACKUP', 5_000, mark, 'yield to a valid higher-priority advert');
    // …and with that fake master silent, ha1 takes over again after Master_Down_Interval.
    await ha1.waitFor((e) => e.evt === 'transition' && e.to === 'MASTER', 5_000, mark, 'take over again');
  });
});

test('link down: the master goes to FAULT and releases the VIP, the backup takes over; link up: it recovers and preempts back', { timeout: 60_000 }, async (t) => {
  if (!requireRoot(t)) return;
  await withLab([{ name: 'ha1', octet: 1 }, { name: 'ha2', octet: 2 }], async (lab) => {
    const ha1 = startAgent(lab, 'ha1', agentConfig({ version: 3, vrid: 51, priority: 150, advertInterval: 0.1, vips: [VIP] }));
    const ha2 = startAgent(lab, 'ha2', agentConfig({ version: 3, vrid: 51, priority: 100, advertInterval: 0.1, vips: [VIP] }));
    await settle([[ha1, 'MASTER'], [ha2, 'BACKUP']], 500);
    await waitVipHolders(lab, VIP, ['ha1']);

    await lab.setLink('ha1', false);
    await ha1.waitState('VI_1', 'FAULT', 5_000);
    await ha2.waitState('VI_1', 'MASTER', 5_000);
    await waitVipHolders(lab, VIP, ['ha2']);
    const s1 = await ha1.instanceStatus();
    assert.equal(s1.state, 'FAULT');
    assert.match(String(s1.faultReason), /eth0/);

    await lab.setLink('ha1', true);
    await settle([[ha1, 'MASTER'], [ha2, 'BACKUP']], 500);
    await waitVipHolders(lab, VIP, ['ha1']);
    assert.deepEqual(ha1.transitions().map((e) => e.to), ['BACKUP', 'MASTER', 'FAULT', 'BACKUP', 'MASTER']);
  });
});

test('a VIP that cannot be added: the master steps down (FAULT, priority 0) and says why', { timeout: 60_000 }, async (t) => {
  if (!requireRoot(t)) return;
  await withLab([{ name: 'ha1', octet: 1 }, { name: 'ha2', octet: 2 }], async (lab) => {
    // ha1 has the higher priority but no CAP_NET_ADMIN: it can speak VRRP, not add addresses.
    const drop = ['setpriv', '--inh-caps=-net_admin', '--bounding-set=-net_admin', '--'];
    const ha1 = startAgent(lab, 'ha1', agentConfig({ version: 3, vrid: 51, priority: 150, advertInterval: 0.1, vips: [VIP] }), drop);
    const ha2 = startAgent(lab, 'ha2', agentConfig({ version: 3, vrid: 51, priority: 100, advertInterval: 0.1, vips: [VIP] }));

    const fault = await ha1.waitFor((e) => e.evt === 'transition' && e.to === 'FAULT', 15_000, 0, 'FAULT after failed acquire');
    assert.match(String(fault.reason), /CAP_NET_ADMIN/, 'the reason names the missing capability');
    await ha2.waitState('VI_1', 'MASTER', 5_000);
    await waitVipHolders(lab, VIP, ['ha2']);
    const s = await ha1.instanceStatus();
    assert.equal(s.state, 'FAULT');
    assert.match(String(s.faultReason), /cannot take the VIPs/);
    assert.ok((s.provider as unknown as { counters: { acquireFail: number } }).counters.acquireFail >= 2, 'the failed acquisitions are counted');
    assert.equal(ha1.exit, null, 'the agent keeps running');
  });
});

test('unicast source not on the interface: FAULT with the reason until the address appears', { timeout: 60_000 }, async (t) => {
  if (!requireRoot(t)) return;
  await withLab([{ name: 'ha1', octet: 1 }, { name: 'ha2', octet: 2 }], async (lab) => {
    const cfg = agentConfig({ version: 3, vrid: 51, priority: 150, advertInterval: 0.1, vips: [VIP], unicast: { source: '198.51.100.11', peers: ['198.51.100.2'] } });
    const ha1 = startAgent(lab, 'ha1', cfg);
    await ha1.waitState('VI_1', 'FAULT', 10_000);
    const s = await ha1.instanceStatus();
    assert.match(String(s.faultReason), /198\.51\.100\.11 is not on eth0/);
    await lab.run('ha1', ['ip', 'addr', 'add', '198.51.100.11/24', 'dev', 'eth0']);
    await ha1.waitState('VI_1', 'MASTER', 10_000);
    await waitVipHolders(lab, VIP, ['ha1']);
  });
});

test('an interface deleted and created again: FAULT, then a new socket, then BACKUP again — no split brain', { timeout: 60_000 }, async (t) => {
  if (!requireRoot(t)) return;
  await withLab([{ name: 'ha1', octet: 1 }, { name: 'ha2', octet: 2 }], async (lab) => {
    const ha1 = startAgent(lab, 'ha1', agentConfig({ version: 3, vrid: 51, priority: 150, advertInterval: 0.1, vips: [VIP] }));
    const ha2 = startAgent(lab, 'ha2', agentConfig({ version: 3, vrid: 51, priority: 100, advertInterval: 0.1, vips: [VIP] }));
    await settle([[ha1, 'MASTER'], [ha2, 'BACKUP']], 500);
    const n = lab.node('ha2');
    const mark = ha2.mark();
    await lab.run('ha2', ['ip', 'link', 'del', 'eth0']);
    await ha2.waitFor((e) => e.evt === 'transition' && e.to === 'FAULT', 5_000, mark, 'FAULT when eth0 disappears');
    // The same interface again: name, MAC, address — but a new index.
    await lab.run('ha2', ['ip', 'link', 'add', 'eth0', 'address', n.mac, 'type', 'veth', 'peer', 'name', n.bridgePort, 'netns', lab.bridgeNs]);
    await lab.run(lab.bridgeNs, ['ip', 'link', 'set', n.bridgePort, 'master', 'br0', 'up']);
    await lab.run('ha2', ['ip', 'addr', 'add', n.cidr, 'dev', 'eth0']);
    await lab.run('ha2', ['ip', 'link', 'set', 'eth0', 'up']);
    await ha2.waitFor((e) => typeof e.msg === 'string' && e.msg.startsWith('reopened the VRRP socket on eth0'), 5_000, mark, 'socket reopened');
    await settle([[ha1, 'MASTER'], [ha2, 'BACKUP']], 2_000);
    await waitVipHolders(lab, VIP, ['ha1']);
    assert.ok(!ha2.transitions().slice(-3).some((e) => e.to === 'MASTER' && e.at > (ha2.events[mark]?.at ?? 0)), 'ha2 never became MASTER after the interface came back');
    const s = await ha2.instanceStatus();
    assert.ok(Number((s.counters as Record<string, unknown>).advertsReceived) > 0);
  });
});

test('a VIP taken off the master by hand is put back at once (netlink view → verify), not at the 60 s reconcile', { timeout: 60_000 }, async (t) => {
  if (!requireRoot(t)) return;
  await withLab([{ name: 'ha1', octet: 1 }], async (lab) => {
    const ha1 = startAgent(lab, 'ha1', agentConfig({ version: 3, vrid: 51, priority: 150, advertInterval: 0.1, vips: [VIP] }));
    await settle([[ha1, 'MASTER']], 300);
    await waitVipHolders(lab, VIP.split('/')[0]!, ['ha1']);
    const driftBefore = ((await ha1.instanceStatus()).provider as unknown as { counters: { drift: number } }).counters.drift;
    await lab.run('ha1', ['ip', 'addr', 'del', VIP, 'dev', 'eth0']);
    // The periodic reconcile is 48–72 s away; only the watch can bring it back within this wait.
    await waitVipHolders(lab, VIP.split('/')[0]!, ['ha1'], 10_000);
    const st = await ha1.instanceStatus();
    assert.equal((st.provider as unknown as { counters: { drift: number } }).counters.drift, driftBefore + 1, 'seen as drift and repaired');
    assert.equal(st.state, 'MASTER');
  });
});
