// Our agent against Debian's keepalived 2.2.7 on one L2 segment, in the four modes users run:
// VRRPv2 multicast with PASS auth, v2 unicast, v3 multicast, v3 unicast (v2 at 1 s, v3 at 0.1 s).
// In each mode, both roles: keepalived MASTER with ours BACKUP, and ours MASTER with keepalived
// BACKUP. Each role checks the election (keepalived's log, our status, who holds the VIP, whose MAC
// the client gets), the priority-0 hand-over on SIGTERM of the master, the higher priority coming
// back and taking over, and the takeover after a kill -9 of the master. The backup must honour the
// master's priority-0 advert, and say so: ours in the reason of its transition, keepalived (-D) in its
// "Backup received priority 0 advertisement" line; after a kill -9 both report the timer instead.
// Our adverts on the wire must pass tshark's VRRP dissector (checksum Good, TTL 255, version, VRID,
// priority, interval, VIPs), and keepalived must not have rejected any of them. No durations are
// asserted here: bench/failover.ts measures them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Lab } from '../../src/lab/lab.js';
import {
  addrOf,
  agentConfig,
  clientNeighbour,
  clientSees,
  eventually,
  reasonOf,
  requireRoot,
  settle,
  startAgent,
  TAKEOVER_REASON,
  unicastBetween,
  waitVipHolders,
  waitVipOn,
  withLab,
  type AgentHandle,
  type InstanceStatus,
  type VrrpParams,
  type Watched,
} from './harness.js';
import { keepalivedRejects, keepalivedTakeover, startKeepalived } from './keepalived.js';
import { decodeVrrp, firstAdvert, startCapture, type VrrpRow } from './capture.js';

const VIP = '198.51.100.100/24';
const WAIT = 20_000;
const NODES = [
  { name: 'ha1', octet: 1 },
  { name: 'ha2', octet: 2 },
  { name: 'client', octet: 10 },
];

interface Mode {
  name: string;
  version: 2 | 3;
  vrid: number;
  advertInterval: number;
  unicast: boolean;
  auth?: { type: 'pass'; password: string };
}

const MODES: Mode[] = [
  { name: 'v2 multicast PASS', version: 2, vrid: 51, advertInterval: 1, unicast: false, auth: { type: 'pass', password: 'secret12' } },
  { name: 'v2 unicast', version: 2, vrid: 52, advertInterval: 1, unicast: true },
  { name: 'v3 multicast', version: 3, vrid: 53, advertInterval: 0.1, unicast: false },
  { name: 'v3 unicast', version: 3, vrid: 54, advertInterval: 0.1, unicast: true },
];

const HIGH = 200;
const LOW = 100;

function params(lab: Lab, mode: Mode, self: string, peer: string, priority: number): VrrpParams {
  const p: VrrpParams = { version: mode.version, vrid: mode.vrid, advertInterval: mode.advertInterval, priority, vips: [VIP] };
  if (mode.unicast) p.unicast = unicastBetween(lab, self, [peer]);
  if (mode.auth) p.auth = mode.auth;
  return p;
}

/** Long enough to see a flapping election (several Master_Down_Intervals at 0.1 s; 2 adverts at 1 s). */
const steadyMs = (mode: Mode) => Math.max(1_000, 2 * mode.advertInterval * 1000);

/** Every advert our agent sent is one a strict peer accepts, as tshark dissects it. */
function assertOurAdverts(rows: VrrpRow[], lab: Lab, mode: Mode, self: string, peer: string, priority: number): VrrpRow[] {
  const ours = rows.filter((r) => r.src === lab.node(self).ip);
  assert.ok(ours.length > 0, `adverts from our agent on ${self} were captured`);
  for (const r of ours) {
    const at = `advert from ${self} at ${new Date(r.time).toISOString()}`;
    assert.equal(r.checksumStatus, 1, `${at}: tshark says the checksum is not Good`);
    assert.equal(r.ttl, 255, `${at}: TTL`);
    assert.equal(r.version, mode.version, `${at}: version`);
    assert.equal(r.vrid, mode.vrid, `${at}: VRID`);
    assert.ok(r.priority === priority || r.priority === 0, `${at}: priority ${r.priority}`);
    assert.equal(r.advertInterval, mode.advertInterval, `${at}: interval`);
    assert.deepEqual(r.addrs, [addrOf(VIP)], `${at}: VIP list`);
    assert.equal(r.vrrpLength, mode.version === 2 ? 20 : 12, `${at}: exact VRRP length`);
    assert.equal(r.dst, mode.unicast ? lab.node(peer).ip : '224.0.0.18', `${at}: destination`);
    // Like keepalived without use_vmac: the interface's own MAC, to the group MAC or the peer's.
    assert.equal(r.ethSrc, lab.node(self).mac, `${at}: source MAC`);
    assert.equal(r.ethDst, mode.unicast ? lab.node(peer).mac : '01:00:5e:00:00:12', `${at}: destination MAC`);
    if (mode.version === 2) {
      assert.equal(r.authType, mode.auth ? 1 : 0, `${at}: auth type`);
      if (mode.auth) assert.equal(r.authString, mode.auth.password, `${at}: auth string`);
    }
  }
  return ours;
}

/** Our agent dropped nothing keepalived sent for an interop reason (own packets and other VRIDs aside). */
function assertNoInteropDrops(s: InstanceStatus, who: string): void {
  const dropped = (s.counters?.dropped ?? {}) as unknown as Record<string, number>;
  const bad = Object.entries(dropped).filter(([reason, n]) => n > 0 && reason !== 'own-packet' && reason !== 'unknown-vrid');
  assert.deepEqual(bad, [], `${who} dropped keepalived's adverts`);
}

function assertKeepalivedAccepted(h: Watched): void {
  assert.deepEqual(keepalivedRejects(h), [], 'keepalived rejected adverts from our agent');
}

async function onlyHolder(lab: Lab, node: string): Promise<void> {
  await waitVipHolders(lab, VIP, [node]);
}

for (const mode of MODES) {
  const slack = (mode.version === 2 ? 120 : 60) * 1000;

  test(`interop ${mode.name}: keepalived MASTER, ours BACKUP; hand-over, return, kill -9`, { timeout: slack }, async (t) => {
    if (!requireRoot(t)) return;
    await withLab(NODES, async (lab) => {
      const cap = await startCapture(lab);
      let ka = startKeepalived(lab, 'ha1', params(lab, mode, 'ha1', 'ha2', HIGH));
      const ours = startAgent(lab, 'ha2', agentConfig(params(lab, mode, 'ha2', 'ha1', LOW)));

      // Election.
      await settle([[ka, 'MASTER'], [ours, 'BACKUP']], steadyMs(mode), 30_000);
      const s = await ours.instanceStatus();
      assert.equal(s.state, 'BACKUP');
      assert.equal(s.master, lab.node('ha1').ip, 'our backup knows keepalived is the master');
      assertNoInteropDrops(s, 'our backup');
      await onlyHolder(lab, 'ha1');
      assert.equal(await clientSees(lab, 'client', VIP), 'ha1');

      // keepalived leaves with priority 0: ours takes over because of that advert (Skew_Time), and says so.
      const term = await ka.stop('SIGTERM');
      assert.equal(term.code, 0, 'keepalived exited cleanly');
      await ours.waitState('VI_1', 'MASTER', WAIT);
      assert.equal(reasonOf(ours, 'MASTER'), TAKEOVER_REASON.priorityZero, "ours took over on keepalived's priority-0 advert");
      await onlyHolder(lab, 'ha2');
      assert.equal(await clientSees(lab, 'client', VIP), 'ha2');

      // keepalived comes back with the higher priority: ours yields.
      const mark = ours.mark();
      ka = startKeepalived(lab, 'ha1', params(lab, mode, 'ha1', 'ha2', HIGH));
      await ka.waitState('VI_1', 'MASTER', WAIT);
      await ours.waitFor((e) => e.evt === 'transition' && e.from === 'MASTER' && e.to === 'BACKUP', WAIT, mark, 'MASTER → BACKUP');
      await onlyHolder(lab, 'ha1');
      assert.equal(await clientSees(lab, 'client', VIP), 'ha1');

      // kill -9 of keepalived (and its machine): ours takes over when Master_Down_Timer fires.
      const killed = await ka.kill9();
      await lab.setLink('ha1', false);
      await ours.waitState('VI_1', 'MASTER', WAIT);
      assert.equal(reasonOf(ours, 'MASTER'), TAKEOVER_REASON.masterDown, 'after a kill -9 ours took over on its Master_Down_Timer');
      await eventually(() => clientNeighbour(lab, 'client', VIP), (n) => n === 'ha2', 10_000, 'client neighbour entry → ha2');
      await waitVipOn(lab, VIP, 'ha2');
      assertNoInteropDrops(await ours.instanceStatus(), 'our agent');

      // The wire.
      const rows = await decodeVrrp(await cap.stop(Math.max(300, mode.advertInterval * 1500)));
      assertOurAdverts(rows, lab, mode, 'ha2', 'ha1', LOW);
      const goodbye = firstAdvert(rows, { src: lab.node('ha1').ip, priority: 0, after: term.sentAt });
      assert.ok(goodbye, "keepalived's priority-0 advert is on the wire");
      const takeover = firstAdvert(rows, { src: lab.node('ha2').ip, after: term.sentAt, priority: LOW });
      assert.ok(takeover, 'ours advertised after the SIGTERM');
      assert.ok(takeover.time > goodbye.time, "ours's first advert as master followed keepalived's priority-0 advert");
      assert.ok(firstAdvert(rows, { src: lab.node('ha2').ip, after: killed.sentAt, priority: LOW }), 'ours advertised after the kill -9');
    });
  });

  test(`interop ${mode.name}: ours MASTER, keepalived BACKUP; hand-over, return, kill -9`, { timeout: slack }, async (t) => {
    if (!requireRoot(t)) return;
    await withLab(NODES, async (lab) => {
      const cap = await startCapture(lab);
      let ours: AgentHandle = startAgent(lab, 'ha1', agentConfig(params(lab, mode, 'ha1', 'ha2', HIGH)));
      const ka = startKeepalived(lab, 'ha2', params(lab, mode, 'ha2', 'ha1', LOW));

      // Election.
      await settle([[ours, 'MASTER'], [ka, 'BACKUP']], steadyMs(mode), 30_000);
      const s = await ours.instanceStatus();
      assert.equal(s.state, 'MASTER');
      assert.equal(s.master, lab.node('ha1').ip);
      await onlyHolder(lab, 'ha1');
      assert.equal(await clientSees(lab, 'client', VIP), 'ha1');
      assertKeepalivedAccepted(ka);

      // Ours leaves with priority 0: keepalived honours it (Master_Down_Timer := Skew_Time), and logs so.
      const beforeTerm = ka.mark();
      const term = await ours.stop('SIGTERM');
      assert.deepEqual([term.code, term.signal], [0, null], 'our agent exited cleanly on SIGTERM');
      await ka.waitState('VI_1', 'MASTER', WAIT);
      assert.deepEqual(keepalivedTakeover(ka, beforeTerm), { priorityZero: true, timerFired: true }, 'keepalived received our priority-0 advert, then took over');
      await onlyHolder(lab, 'ha2');
      assert.equal(await clientSees(lab, 'client', VIP), 'ha2');

      // Ours comes back with the higher priority: keepalived yields.
      const mark = ka.mark();
      ours = startAgent(lab, 'ha1', agentConfig(params(lab, mode, 'ha1', 'ha2', HIGH)));
      await ours.waitState('VI_1', 'MASTER', WAIT);
      await ka.waitFor((e) => e.evt === 'transition' && e.from === 'MASTER' && e.to === 'BACKUP', WAIT, mark, 'keepalived MASTER → BACKUP');
      await onlyHolder(lab, 'ha1');
      assert.equal(await clientSees(lab, 'client', VIP), 'ha1');

      // kill -9 of ours (and its machine): keepalived takes over when its Master_Down_Timer fires.
      const beforeKill = ka.mark();
      const killed = await ours.kill9();
      await lab.setLink('ha1', false);
      await ka.waitState('VI_1', 'MASTER', WAIT);
      assert.deepEqual(keepalivedTakeover(ka, beforeKill), { priorityZero: false, timerFired: true }, 'after a kill -9, keepalived took over on its timer alone');
      await eventually(() => clientNeighbour(lab, 'client', VIP), (n) => n === 'ha2', 10_000, 'client neighbour entry → ha2');
      await waitVipOn(lab, VIP, 'ha2');
      assertKeepalivedAccepted(ka);

      // The wire.
      const rows = await decodeVrrp(await cap.stop(Math.max(300, mode.advertInterval * 1500)));
      assertOurAdverts(rows, lab, mode, 'ha1', 'ha2', HIGH);
      const goodbye = firstAdvert(rows, { src: lab.node('ha1').ip, priority: 0, after: term.sentAt });
      assert.ok(goodbye, 'our priority-0 advert is on the wire');
      const takeover = firstAdvert(rows, { src: lab.node('ha2').ip, after: term.sentAt, priority: LOW });
      assert.ok(takeover, 'keepalived advertised after the SIGTERM');
      assert.ok(takeover.time > goodbye.time, "keepalived's first advert as master followed our priority-0 advert");
      assert.ok(firstAdvert(rows, { src: lab.node('ha2').ip, after: killed.sentAt, priority: LOW }), 'keepalived advertised after the kill -9');
    });
  });
}
