// Hitless reload (issue #9) against Debian's keepalived: our agent on ha1 runs seven kinds of
// instance, keepalived on ha2 backs three of them up (VRRPv3 multicast, 0.5 s). Everything on the
// wire is taken from one capture on the bridge, address changes on ha1 from `ip monitor address`.
// 1. A broken file (`ha-agent reload --wait` exits 1): nothing changes — no transition on either
//    side, the error is logged with its path, the generation stays 1.
// 2. One reload (generation 2): VI_1 unchanged; VI_2 priority 200 → 150 in place; VI_3 gains a VIP
//    in place; VI_4's VRID changes (priority-0 handover on the old VRID, keepalived takes over, ours
//    restarts on the new one); VI_5 removed (priority 0, VIP released); VI_6 added; VI_7's GARP
//    settings change (restart: stays MASTER, no priority 0, VIP never dropped).
// 3. A second reload (generation 3): VI_3 drops its first VIP; VI_2 priority → 50, so keepalived
//    (preempt) takes over — it saw the new priority.
// Across all of it the unchanged VI_1 (a MASTER with a keepalived backup) sends no priority 0 and
// loses no advert (keepalived issues #349, #2159), and keepalived's VI_1 never moves.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { stringify } from 'yaml';
import type { Lab } from '../../src/lab/lab.js';
import { adoptProcess, agentCli, eventually, requireRoot, sleep, startAgent, vipHolder, waitVipOn, withLab, Watched, type AgentConfig, type AgentHandle, type LogEvent } from './harness.js';
import { keepalivedRejects, type KeepalivedHandle } from './keepalived.js';
import { startKeepalivedMulti } from '../../bench/daemons.js';
import { decodeArp, decodeVrrp, firstGarp, startCapture, type VrrpRow } from './capture.js';

const INTERVAL = 0.5;
const HIGH = 200;
const LOW = 100;
const vip = (octet: number) => `198.51.100.${octet}/24`;
const ip = (octet: number) => `198.51.100.${octet}`;

interface Def {
  vrid: number;
  priority: number;
  vips: string[];
  garp?: { repeat: number; delay: number };
}

function agentYaml(defs: Record<string, Def>): AgentConfig {
  const instances: AgentConfig['instances'] = {};
  for (const [name, d] of Object.entries(defs)) {
    instances[name] = { interface: 'eth0', vrid: d.vrid, priority: d.priority, version: 3, advertInterval: INTERVAL, vips: d.vips, provider: { type: 'garp' }, garp: d.garp ?? { repeat: 2, delay: 0 } };
  }
  return { log: { level: 'info' }, status: { listen: '127.0.0.1:9721' }, instances };
}

const START: Record<string, Def> = {
  VI_1: { vrid: 51, priority: HIGH, vips: [vip(101)] },
  VI_2: { vrid: 52, priority: HIGH, vips: [vip(102)] },
  VI_3: { vrid: 53, priority: HIGH, vips: [vip(103)] },
  VI_4: { vrid: 54, priority: HIGH, vips: [vip(104)] },
  VI_5: { vrid: 55, priority: HIGH, vips: [vip(105)] },
  VI_7: { vrid: 57, priority: HIGH, vips: [vip(107)] },
};
const { VI_5: _gone, ...KEPT } = START;
const RELOAD_1: Record<string, Def> = {
  ...KEPT,
  VI_2: { vrid: 52, priority: 150, vips: [vip(102)] },
  VI_3: { vrid: 53, priority: HIGH, vips: [vip(103), vip(113)] },
  VI_4: { vrid: 64, priority: HIGH, vips: [vip(104)] },
  VI_6: { vrid: 56, priority: HIGH, vips: [vip(106)] },
  VI_7: { vrid: 57, priority: HIGH, vips: [vip(107)], garp: { repeat: 3, delay: 0 } },
};
const RELOAD_2: Record<string, Def> = {
  ...RELOAD_1,
  VI_2: { vrid: 52, priority: 50, vips: [vip(102)] },
  VI_3: { vrid: 53, priority: HIGH, vips: [vip(113)] },
};

/** keepalived on ha2 backing up VI_1, VI_2 and VI_4 (all BACKUP, priority 100). */
function startPeer(lab: Lab): KeepalivedHandle {
  const peer = (name: string, d: Def) => ({ name, params: { version: 3 as const, vrid: d.vrid, priority: LOW, advertInterval: INTERVAL, vips: d.vips, garp: { repeat: 2, delay: 0 } } });
  return startKeepalivedMulti(lab, 'ha2', [peer('VI_1', START.VI_1!), peer('VI_2', START.VI_2!), peer('VI_4', START.VI_4!)]);
}

/** `ha-agent reload --wait` in ha1's namespace: exit code and output. */
async function reload(lab: Lab, h: AgentHandle, defs: Record<string, Def> | string): Promise<{ code: number; out: string }> {
  writeFileSync(h.configPath, typeof defs === 'string' ? defs : stringify(agentYaml(defs)), { mode: 0o600 });
  const r = await lab.exec('ha1', [process.execPath, agentCli(), 'reload', '--pid-file', `${h.configPath}.pid`, '--wait'], { timeoutMs: 30_000 });
  return { code: r.code ?? -1, out: r.stdout + r.stderr };
}

interface ConfigStatus {
  generation: number;
  loadedAt: string;
  reloads: { applied: number; rejected: number; failedInstances: number };
}

const transitionsSince = (w: Watched, mark: number, instance: string): LogEvent[] => w.events.slice(mark).filter((e) => e.evt === 'transition' && e.instance === instance);

/** ha1's adverts for `vrid`, in capture order. */
const advertsOf = (rows: VrrpRow[], vrid: number) => rows.filter((r) => r.vrid === vrid && r.src === ip(1));

test('reload: broken file changes nothing; unchanged MASTER keeps advertising; in place, restart, replace, remove, add', { timeout: 120_000 }, async (t) => {
  if (!requireRoot(t)) return;
  await withLab([{ name: 'ha1', octet: 1 }, { name: 'ha2', octet: 2 }], async (lab) => {
    const ka = startPeer(lab);
    for (const n of ['VI_1', 'VI_2', 'VI_4']) await ka.waitState(n, 'BACKUP', 15_000);
    const cap = await startCapture(lab, { name: 'reload', filter: 'ip proto 112 or arp' });
    const addrs = new Watched('ip-monitor@ha1', lab.spawn('ha1', ['ip', '-o', 'monitor', 'address']), (line, stream, at): LogEvent => ({ at, line, stream }));
    adoptProcess(lab, addrs);
    const h = startAgent(lab, 'ha1', agentYaml(START));
    await h.ready(15_000);
    for (const n of Object.keys(START)) await h.waitState(n, 'MASTER', 15_000);
    await sleep(1_500); // a few adverts of the settled VI_1 before anything reloads
    const t0 = Date.now();
    const agentMark = h.mark();
    const kaMark = ka.mark();

    // --- 1. a broken file -----------------------------------------------------------------------
    const broken = stringify({ ...agentYaml(RELOAD_1), instances: { ...agentYaml(RELOAD_1).instances, VI_1: { ...agentYaml(START).instances.VI_1, vrid: 999 }, VI_2: { ...agentYaml(START).instances.VI_2, priority: 'high' } } });
    const bad = await reload(lab, h, broken);
    assert.equal(bad.code, 1, `reload of a broken file must fail:\n${bad.out}`);
    assert.match(bad.out, /instances\.VI_1\.vrid/, 'the CLI names the broken path');
    const rejected = h.events.slice(agentMark).filter((e) => e.evt === 'reload-rejected');
    assert.deepEqual(rejected.map((e) => e.path).sort(), ['instances.VI_1.vrid', 'instances.VI_2.priority'], 'every error logged with its path');
    assert.ok(rejected.every((e) => typeof e.fix === 'string' && e.fix.length > 0), 'every error logged with its fix');
    const refused = h.events.slice(agentMark).find((e) => e.evt === 'reload');
    assert.equal(refused?.outcome, 'rejected');
    assert.equal(refused?.generation, 1, 'a broken file is not a new generation');
    await sleep(1_000);
    for (const n of Object.keys(START)) assert.deepEqual(transitionsSince(h, agentMark, n), [], `${n} moved after a broken reload`);
    assert.deepEqual(ka.events.slice(kaMark).filter((e) => e.evt === 'transition'), [], 'keepalived moved after a broken reload');
    const tBroken = Date.now();

    // --- 2. the first real reload ---------------------------------------------------------------
    const r1 = await reload(lab, h, RELOAD_1);
    assert.equal(r1.code, 0, r1.out);
    assert.match(r1.out, /generation 2/);
    const tReload1 = Date.now();
    const summary = h.events.slice(agentMark).find((e) => e.evt === 'reload' && e.generation === 2);
    assert.ok(summary, 'the reload is logged with its generation');
    assert.deepEqual(summary.added, ['VI_6']);
    assert.deepEqual(summary.removed, ['VI_5']);
    assert.deepEqual(summary.unchanged, ['VI_1']);
    assert.deepEqual((summary.changed as string[]).map((c) => c.split(' (')[0]).sort(), ['VI_2', 'VI_3', 'VI_4', 'VI_7']);
    assert.equal(typeof summary.durationMs, 'number');

    await ka.waitState('VI_4', 'MASTER', 10_000); // our priority 0 on VRID 54
    await h.waitState('VI_6', 'MASTER', 10_000);
    await waitVipOn(lab, vip(113), 'ha1');
    await waitVipOn(lab, vip(106), 'ha1');
    await eventually(() => vipHolder(lab, vip(105)), (hs) => !hs.includes('ha1'), 10_000, 'VI_5 released 198.51.100.105');
    await eventually(async () => h.transitions('VI_4').slice(-1)[0]?.to, (s) => s === 'MASTER', 10_000, 'VI_4 MASTER again on VRID 64');
    assert.equal(h.state('VI_7'), 'MASTER');
    const s2 = await h.status();
    assert.equal(s2.instances.VI_2?.effectivePriority, 150);
    assert.deepEqual(s2.instances.VI_3?.vips, [vip(103), vip(113)]);
    assert.equal(s2.instances.VI_5, undefined);
    const c2 = (s2 as unknown as { config: ConfigStatus }).config;
    assert.equal(c2.generation, 2);
    assert.deepEqual(c2.reloads, { applied: 1, rejected: 1, failedInstances: 0 });
    assert.ok(Date.parse(c2.loadedAt) >= tBroken - 1_000, `loadedAt ${c2.loadedAt} is the reload's`);

    // --- 3. the second reload -------------------------------------------------------------------
    const r2 = await reload(lab, h, RELOAD_2);
    assert.equal(r2.code, 0, r2.out);
    const tReload2 = Date.now();
    await ka.waitState('VI_2', 'MASTER', 10_000); // our priority 50 < its 100: it preempts
    await h.waitState('VI_2', 'BACKUP', 10_000);
    await eventually(() => vipHolder(lab, vip(103)), (hs) => !hs.includes('ha1'), 10_000, 'VI_3 released 198.51.100.103');
    assert.ok((await vipHolder(lab, vip(113))).includes('ha1'), 'VI_3 keeps 198.51.100.113');
    const table = await lab.exec('ha1', [process.execPath, agentCli(), 'status']);
    assert.match(table.stdout, /config generation 3 \(loaded [^)]+\); last reload applied in \d+ ms/, `\`ha-agent status\` shows the generation:\n${table.stdout}`);
    const tEnd = Date.now();
    const pcap = await cap.stop();
    const rows = await decodeVrrp(pcap);
    const arps = await decodeArp(pcap);

    // --- the unchanged MASTER: no priority 0, no advert lost, keepalived never moved --------------
    const vi1 = advertsOf(rows, 51).filter((r) => r.time >= t0 - 1_000 && r.time <= tEnd);
    assert.ok(vi1.length >= (tEnd - t0) / 1000 / INTERVAL - 2, `VI_1 adverts in the window: ${vi1.length}`);
    assert.deepEqual(vi1.filter((r) => r.priority !== HIGH).map((r) => r.priority), [], 'VI_1 sent another priority (0?) across the reloads');
    const gaps = vi1.slice(1).map((r, i) => r.time - vi1[i]!.time);
    const worst = Math.max(...gaps);
    assert.ok(worst < 1.9 * INTERVAL * 1000, `VI_1 lost an advert across the reloads: largest gap ${Math.round(worst)} ms at interval ${INTERVAL * 1000} ms`);
    assert.deepEqual(transitionsSince(h, agentMark, 'VI_1'), [], 'our VI_1 moved');
    assert.deepEqual(ka.events.slice(kaMark).filter((e) => e.evt === 'transition' && e.instance === 'VI_1'), [], "keepalived's VI_1 moved");
    assert.deepEqual(keepalivedRejects(ka), [], 'keepalived rejected adverts from our agent');

    // --- addresses on ha1 (ip monitor): kept VIPs were never deleted ---------------------------------
    const deleted = (o: number) => addrs.events.filter((e) => /^Deleted/.test(e.line) && e.line.includes(` ${vip(o)} `));
    for (const o of [101, 107, 113]) assert.deepEqual(deleted(o).map((e) => e.line), [], `${vip(o)} was deleted from ha1`);
    assert.ok(deleted(102).every((e) => e.at >= tReload1), '198.51.100.102 was kept by the priority change to 150 (it goes only when keepalived preempts the 50)');
    assert.ok(deleted(103).every((e) => e.at >= tReload1), '198.51.100.103 was kept by the first reload (only the second removes it)');

    // --- VI_2 in place: the peer saw 150, then 50; never priority 0 -------------------------------
    const vi2 = advertsOf(rows, 52);
    assert.deepEqual(vi2.filter((r) => r.priority === 0), [], 'VI_2 sent priority 0 for a priority change');
    assert.ok(vi2.some((r) => r.priority === 150 && r.time >= tBroken), 'adverts with priority 150 after the first reload');
    assert.ok(vi2.some((r) => r.priority === 50 && r.time >= tReload1), 'adverts with priority 50 after the second reload');
    assert.deepEqual(transitionsSince(h, agentMark, 'VI_2').map((e) => e.to), ['BACKUP'], 'VI_2 moved only when keepalived preempted');

    // --- VI_3 VIP list in place: adverts carry it, the added VIP was announced, no priority 0 -------
    const vi3 = advertsOf(rows, 53);
    assert.deepEqual(vi3.filter((r) => r.priority === 0), [], 'VI_3 sent priority 0 for a VIP change');
    assert.ok(vi3.some((r) => r.addrs.join() === [ip(103), ip(113)].join()), 'adverts with the two VIPs');
    assert.ok(vi3.some((r) => r.addrs.join() === ip(113) && r.time >= tReload1), 'adverts with the one VIP left');
    assert.ok(firstGarp(arps, ip(113), lab.node('ha1').mac, tBroken), 'the added VIP was announced (gratuitous ARP)');
    assert.deepEqual(transitionsSince(h, agentMark, 'VI_3'), [], 'VI_3 moved for a VIP change');

    // --- VI_4 VRID change: priority 0 on the old VRID, then adverts on the new one ----------------
    assert.ok(advertsOf(rows, 54).some((r) => r.priority === 0 && r.time >= tBroken), 'VI_4 handed over with priority 0 on VRID 54');
    assert.ok(advertsOf(rows, 64).some((r) => r.priority === HIGH && r.time >= tBroken), 'VI_4 advertises on VRID 64');

    // --- VI_5 removed: priority 0; VI_6 added: advertises ------------------------------------------
    assert.ok(advertsOf(rows, 55).some((r) => r.priority === 0 && r.time >= tBroken), 'VI_5 stepped down with priority 0');
    assert.equal(advertsOf(rows, 55).filter((r) => r.time >= tReload1 + 500).length, 0, 'VI_5 silent after its removal');
    assert.ok(advertsOf(rows, 56).some((r) => r.priority === HIGH), 'VI_6 advertises');

    // --- VI_7 restarted: no priority 0, back as MASTER at once, VIP never dropped --------------------
    const vi7 = advertsOf(rows, 57).filter((r) => r.time >= t0);
    assert.deepEqual(vi7.filter((r) => r.priority === 0), [], 'VI_7 sent priority 0 for a restart');
    const back = transitionsSince(h, agentMark, 'VI_7').filter((e) => e.to === 'MASTER');
    assert.deepEqual(back.map((e) => e.reason), ['reload: restarted as master']);
    void tReload2;
  });
});
