// Our agents among themselves on a real L2 segment (network namespaces on a bridge): election,
// takeover after kill -9, graceful hand-over on SIGTERM (priority 0), preemption and nopreempt, and
// the start-up clean-up of a VIP a kill -9 left behind. VRRPv3 at 0.1 s unless said otherwise.
// Assertions are on states, order, reasons and who holds what, never on durations (bench/failover.ts
// measures the exit and the takeover after a priority-0 advert).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Lab } from '../../src/lab/lab.js';
import {
  agentConfig,
  clientNeighbour,
  clientSees,
  eventually,
  expectSteady,
  reasonOf,
  requireRoot,
  settle,
  sleep,
  startAgent,
  TAKEOVER_REASON,
  vipHolder,
  waitVipHolders,
  waitVipOn,
  withLab,
  type AgentHandle,
  type VrrpParams,
} from './harness.js';
import { decodeArp, decodeVrrp, firstAdvert, firstGarp, startCapture } from './capture.js';

const VIP = '198.51.100.100/24';
const FAST: Omit<VrrpParams, 'priority'> = { version: 3, vrid: 51, advertInterval: 0.1, vips: [VIP] };
const WAIT = 15_000;
/** Quiet time that makes an election count as settled (many advert intervals at 0.1 s, > 1 at 1 s). */
const QUIET = 1_200;
const OPTS = { timeout: 90_000 };

const nodes = (...names: string[]) => [...names.map((name, i) => ({ name, octet: i + 1 })), { name: 'client', octet: 10 }];

function agent(lab: Lab, node: string, priority: number, extra: Partial<VrrpParams> = {}): AgentHandle {
  return startAgent(lab, node, agentConfig({ ...FAST, priority, ...extra }));
}

/** The provider reports `ownership` (polls the status CLI until it does). */
async function ownership(a: AgentHandle, want: string): Promise<void> {
  await eventually(async () => (await a.instanceStatus()).provider.ownership, (o) => o === want, 10_000, `${a.label} ownership ${want}`, 200);
}

/** The interface's offload counters from `status --json` (null: no offload on eth0). */
async function offloadOf(a: AgentHandle): Promise<{ received: number; absorbed: number; forwarded: number; sent: number } | null> {
  type Interfaces = Record<string, { offload: { received: number; absorbed: number; forwarded: number; sent: number } | null }>;
  return ((await a.status()) as { interfaces?: Interfaces }).interfaces?.eth0?.offload ?? null;
}

/**
 * kill -9 of ha1 (and its cable pulled), ha2 takes over on its Master_Down_Timer; returns ha2's
 * adverts and ARP frames captured from the kill until 1.5 s after the VIP is on ha2 (the first GARP
 * burst; the second comes garp_master_delay, 5 s, later), and ha2's GARPs for the VIP among them.
 */
async function killMasterAndCapture(lab: Lab, ha1: AgentHandle, ha2: AgentHandle) {
  const cap = await startCapture(lab);
  const killedAt = Date.now();
  await ha1.kill9();
  await lab.setLink('ha1', false);
  await ha2.waitState('VI_1', 'MASTER', WAIT);
  assert.equal(reasonOf(ha2, 'MASTER'), TAKEOVER_REASON.masterDown);
  await waitVipOn(lab, VIP, 'ha2');
  await sleep(1_500);
  const pcap = await cap.stop(300);
  const [adverts, arps] = await Promise.all([decodeVrrp(pcap), decodeArp(pcap)]);
  const node = lab.node('ha2');
  const vip = VIP.split('/')[0]!;
  const garps = arps.filter((r) => r.gratuitous && r.senderIp === vip && r.senderMac === node.mac.toLowerCase() && r.time >= killedAt);
  return { killedAt, adverts, arps, garps, vip, node };
}

test('two agents: the higher priority is MASTER, alone holds the VIP and answers ARP for it', OPTS, async (t) => {
  if (!requireRoot(t)) return;
  await withLab(nodes('ha1', 'ha2'), async (lab) => {
    const ha1 = agent(lab, 'ha1', 100);
    const ha2 = agent(lab, 'ha2', 200);
    await settle([[ha2, 'MASTER'], [ha1, 'BACKUP']], 1_000);

    await waitVipHolders(lab, VIP, ['ha2']);
    assert.equal(await clientSees(lab, 'client', VIP), 'ha2');

    const s2 = await ha2.instanceStatus();
    assert.equal(s2.state, 'MASTER');
    assert.equal(s2.priority, 200);
    assert.deepEqual(s2.vips, [VIP]);
    assert.equal(s2.provider.type, 'garp');
    await ownership(ha2, 'held');
    const s1 = await ha1.instanceStatus();
    assert.equal(s1.state, 'BACKUP');
    assert.equal(s1.master, lab.node('ha2').ip, 'the backup knows who the master is');
    // A backup that never held the VIP: the start-up clean-up released through the runner.
    assert.equal(s1.provider.ownership, 'not-held');
  });
});

test('three agents: the highest priority wins; the other two are BACKUP', OPTS, async (t) => {
  if (!requireRoot(t)) return;
  await withLab(nodes('ha1', 'ha2', 'ha3'), async (lab) => {
    const ha1 = agent(lab, 'ha1', 150);
    const ha2 = agent(lab, 'ha2', 250);
    const ha3 = agent(lab, 'ha3', 100);
    await settle([[ha2, 'MASTER'], [ha1, 'BACKUP'], [ha3, 'BACKUP']], 1_000);

    await waitVipHolders(lab, VIP, ['ha2']);
    assert.equal(await clientSees(lab, 'client', VIP), 'ha2');
    for (const b of [ha1, ha3]) assert.equal((await b.instanceStatus()).master, lab.node('ha2').ip);
  });
});

test('kill -9 of the master: the backup takes over and the client follows the gratuitous ARP', OPTS, async (t) => {
  if (!requireRoot(t)) return;
  await withLab(nodes('ha1', 'ha2'), async (lab) => {
    const ha1 = agent(lab, 'ha1', 200);
    const ha2 = agent(lab, 'ha2', 100);
    await settle([[ha1, 'MASTER'], [ha2, 'BACKUP']], QUIET);
    await waitVipHolders(lab, VIP, ['ha1']);
    assert.equal(await clientSees(lab, 'client', VIP), 'ha1');

    const killed = await ha1.kill9();
    assert.equal(killed.signal, 'SIGKILL');
    // The machine is gone: its kernel must not keep answering ARP for the VIP the kill left behind.
    await lab.setLink('ha1', false);
    await ha2.waitState('VI_1', 'MASTER', WAIT);
    assert.equal(reasonOf(ha2, 'MASTER'), TAKEOVER_REASON.masterDown, 'no priority-0 advert: the Master_Down_Timer ran out');

    // The client's existing entry is rewritten by ha2's gratuitous ARP, without the client asking.
    await eventually(() => clientNeighbour(lab, 'client', VIP), (n) => n === 'ha2', 5_000, 'client neighbour entry → ha2');
    await waitVipOn(lab, VIP, 'ha2');
    assert.equal(await clientSees(lab, 'client', VIP), 'ha2');
    await ownership(ha2, 'held');
  });
});

test('kill -9 of the master: the backup\'s offload thread absorbed its adverts and takes over — advert, VIP, then exactly garp_master_repeat (5) GARPs at once', OPTS, async (t) => {
  if (!requireRoot(t)) return;
  await withLab(nodes('ha1', 'ha2'), async (lab) => {
    const ha1 = agent(lab, 'ha1', 200);
    const ha2 = agent(lab, 'ha2', 100);
    await settle([[ha1, 'MASTER'], [ha2, 'BACKUP']], QUIET);
    // Steady state: the master's adverts leave from its thread, the backup's thread absorbs them.
    const before = await offloadOf(ha2);
    assert.ok(before && before.absorbed > 0, `the backup absorbs the master's adverts: ${JSON.stringify(before)}`);
    assert.ok(((await offloadOf(ha1))?.sent ?? 0) > 0, 'the master sends from its offload thread');
    const s2 = await ha2.instanceStatus();
    assert.ok((s2.counters?.advertsReceived ?? 0) >= before.absorbed, 'absorbed adverts are counted as received');

    const { killedAt, adverts, arps, garps, vip, node } = await killMasterAndCapture(lab, ha1, ha2);
    const first = firstAdvert(adverts, { src: node.ip, after: killedAt, minPriority: 1 });
    const garp = firstGarp(arps, vip, node.mac, killedAt);
    assert.ok(first && garp, 'an advert and a GARP from the new master');
    assert.ok(first.time <= garp.time, 'the advert first, then the GARP');
    assert.equal(garps.length, 5, 'garp_master_repeat: one from the thread and four from the provider, not six');
    assert.ok(!ha2.events.some((e) => /fast takeover could not/.test(String(e.msg ?? ''))), 'the thread added the VIP');
    await ownership(ha2, 'held');
    assert.equal(await clientSees(lab, 'client', VIP), 'ha2');
  });
});

test('without the offload thread (HA_AGENT_OFFLOAD=off, or no addon): election, kill -9 takeover and GARPs through the event loop', OPTS, async (t) => {
  if (!requireRoot(t)) return;
  await withLab(nodes('ha1', 'ha2'), async (lab) => {
    const off = ['env', 'HA_AGENT_OFFLOAD=off'];
    const ha1 = startAgent(lab, 'ha1', agentConfig({ ...FAST, priority: 200 }), off);
    const ha2 = startAgent(lab, 'ha2', agentConfig({ ...FAST, priority: 100 }), off);
    await settle([[ha1, 'MASTER'], [ha2, 'BACKUP']], QUIET);
    assert.equal(await offloadOf(ha2), null, 'no offload on the interface');
    assert.ok(ha2.events.some((e) => /VRRP offload off \(HA_AGENT_OFFLOAD=off\)/.test(String(e.msg ?? ''))), 'said once at start-up');
    assert.ok(((await ha2.instanceStatus()).counters?.advertsReceived ?? 0) > 0, 'the backup hears the master through raw-socket');
    const { garps } = await killMasterAndCapture(lab, ha1, ha2);
    assert.equal(garps.length, 5, 'garp_master_repeat, all from the provider');
    assert.equal(await clientSees(lab, 'client', VIP), 'ha2');
  });
});

test('SIGTERM of the master (v2, 1 s): priority 0 on the wire, the backup takes over because of it', OPTS, async (t) => {
  if (!requireRoot(t)) return;
  await withLab(nodes('ha1', 'ha2'), async (lab) => {
    const cap = await startCapture(lab);
    const v2: Partial<VrrpParams> = { version: 2, advertInterval: 1 };
    const ha1 = agent(lab, 'ha1', 150, v2);
    const ha2 = agent(lab, 'ha2', 100, v2);
    await settle([[ha1, 'MASTER'], [ha2, 'BACKUP']], QUIET);
    await waitVipHolders(lab, VIP, ['ha1']);
    assert.equal(await clientSees(lab, 'client', VIP), 'ha1');

    const stopped = await ha1.stop('SIGTERM');
    assert.deepEqual([stopped.code, stopped.signal], [0, null], 'clean exit on SIGTERM, before the harness had to SIGKILL it');
    assert.ok(ha1.events.some((e) => e.evt === 'stopped'), '"stopped" logged');
    await ha2.waitState('VI_1', 'MASTER', WAIT);
    // RFC 5798 §6.4.2: the priority-0 advert cut ha2's Master_Down_Timer to Skew_Time.
    assert.equal(reasonOf(ha2, 'MASTER'), TAKEOVER_REASON.priorityZero, 'ha2 took over on the priority-0 advert');
    await waitVipHolders(lab, VIP, ['ha2']); // the stopped master removed its VIP
    assert.equal(await clientSees(lab, 'client', VIP), 'ha2');

    const adverts = await decodeVrrp(await cap.stop(300));
    const goodbye = firstAdvert(adverts, { src: lab.node('ha1').ip, priority: 0 });
    assert.ok(goodbye, 'a priority-0 advert from ha1 is on the wire');
    assert.equal(goodbye.version, 2);
    assert.equal(goodbye.vrid, 51);
    assert.equal(goodbye.ttl, 255);
    assert.equal(goodbye.checksumStatus, 1, 'tshark: checksum good');
    assert.ok(goodbye.time >= stopped.sentAt, 'the goodbye follows the signal');
    assert.equal(adverts.filter((a) => a.src === lab.node('ha1').ip && a.priority === 0).length, 1, 'exactly one priority-0 advert');
    const takeover = firstAdvert(adverts, { src: lab.node('ha2').ip, after: stopped.sentAt });
    assert.ok(takeover, 'ha2 advertises after the signal');
    assert.ok(takeover.time > goodbye.time, "ha2's first advert as master follows the goodbye");
    assert.equal(takeover.priority, 100);
  });
});

test('preempt: the higher priority takes the VIP back when it returns', OPTS, async (t) => {
  if (!requireRoot(t)) return;
  await withLab(nodes('ha1', 'ha2'), async (lab) => {
    let ha1 = agent(lab, 'ha1', 200);
    const ha2 = agent(lab, 'ha2', 100);
    await settle([[ha1, 'MASTER'], [ha2, 'BACKUP']], QUIET);
    await waitVipHolders(lab, VIP, ['ha1']);

    await ha1.stop('SIGTERM');
    await ha2.waitState('VI_1', 'MASTER', WAIT);
    await waitVipHolders(lab, VIP, ['ha2']);

    const mark = ha2.mark();
    ha1 = agent(lab, 'ha1', 200);
    await ha1.waitState('VI_1', 'MASTER', WAIT);
    await ha2.waitFor((e) => e.evt === 'transition' && e.from === 'MASTER' && e.to === 'BACKUP', WAIT, mark, 'MASTER → BACKUP');
    await expectSteady([ha1, ha2], 1_000);
    await waitVipHolders(lab, VIP, ['ha1']);
    assert.equal(await clientSees(lab, 'client', VIP), 'ha1');
  });
});

test('nopreempt: a returning higher priority stays BACKUP while the master lives', OPTS, async (t) => {
  if (!requireRoot(t)) return;
  await withLab(nodes('ha1', 'ha2'), async (lab) => {
    const ha2 = agent(lab, 'ha2', 100, { preempt: false });
    await ha2.waitState('VI_1', 'MASTER', WAIT);
    const ha1 = agent(lab, 'ha1', 200, { preempt: false });
    await ha1.ready(WAIT);
    await ha1.waitState('VI_1', 'BACKUP', WAIT);
    await expectSteady([ha1, ha2], 1_500); // 15 advert intervals, > 4 × Master_Down_Interval
    assert.equal(ha1.transitions().filter((e) => e.to === 'MASTER').length, 0, 'ha1 never became MASTER');
    assert.deepEqual(await vipHolder(lab, VIP), ['ha2']);
    assert.equal((await ha1.instanceStatus()).master, lab.node('ha2').ip);

    // ha1 is a working backup: it takes over when ha2 leaves.
    await ha2.stop('SIGTERM');
    await ha1.waitState('VI_1', 'MASTER', WAIT);
    await waitVipHolders(lab, VIP, ['ha1']);
  });
});

test('start-up removes a VIP that a kill -9 left on the interface of a future backup', OPTS, async (t) => {
  if (!requireRoot(t)) return;
  await withLab(nodes('ha1', 'ha2'), async (lab) => {
    let ha2 = agent(lab, 'ha2', 100);
    await ha2.waitState('VI_1', 'MASTER', WAIT);
    await waitVipOn(lab, VIP, 'ha2');
    await ha2.kill9();
    assert.deepEqual(await vipHolder(lab, VIP), ['ha2'], 'kill -9 leaves the VIP behind');

    const ha1 = agent(lab, 'ha1', 200);
    await ha1.waitState('VI_1', 'MASTER', WAIT);
    ha2 = agent(lab, 'ha2', 100);
    await ha2.ready(WAIT);
    await ha2.waitState('VI_1', 'BACKUP', WAIT);
    await waitVipHolders(lab, VIP, ['ha1']); // the stale copy on ha2 is gone
    assert.equal(ha2.transitions().filter((e) => e.to === 'MASTER').length, 0, 'the restarted ha2 never became MASTER');
    assert.equal(await clientSees(lab, 'client', VIP), 'ha1');
  });
});
