// etcd election benchmark (issue #12): measures and prints, asserts nothing about timing.
//   1. failover after kill -9 of the leader: the etcd election (ttl 3 s) against our VRRP (v2, 1 s
//      adverts: Master_Down_Interval 3.61 s — the same ~3 s detection budget), two agents, same lab,
//      same run; from the signal to the new leader's MASTER transition (its log's own clock) and to the
//      VIP on its interface (polled every 20 ms). Printed as medians with the etcd/VRRP ratio.
//   2. steady cost: etcd requests per second per instance (the agents' own counters over 10 s).
//   3. 200 instances on one etcd cluster, two agents: all lead on A; B joins; A is killed -9 → every
//      instance moves to B; then 15 s steady. Reports the takeover span, leadership changes and leases
//      lost ("missed lease": a lease the store expired while we meant to keep it).
// A three-member etcd (Debian's etcd-server) runs in lab namespaces (test/support/etcd-cluster.ts).
// Run as root after a build: `node dist/bench/etcd.js [--runs N] [--only-many]`.
import { startAgent, withLab, labDir, sleep, type AgentHandle, type AgentConfig } from '../test/netns/harness.js';
import { startEtcdCluster, type EtcdCluster } from '../test/support/etcd-cluster.js';
import type { Lab } from '../src/lab/lab.js';
import { fmt, ratio, stats } from './stats.js';

const RUNS = Number(process.argv[process.argv.indexOf('--runs') + 1]) || 5;
const TTL = 3;
/** --only-many: skip part 1 (the failover comparison). */
const ONLY_MANY = process.argv.includes('--only-many');

function etcdInst(endpoints: string[], id: string, vip: string, key: string) {
  return { interface: 'eth0', vips: [vip], provider: { type: 'garp' }, garp: { repeat: 1, delay: 5 }, election: { type: 'etcd', endpoints: [...endpoints], key, ttl: TTL, id } };
}

function cfg(instances: Record<string, unknown>, level = 'info'): AgentConfig {
  return { log: { level }, status: { listen: '127.0.0.1:9721' }, instances: instances as AgentConfig['instances'] };
}

function timeOf(e: { time?: unknown; at: number }): number {
  return typeof e.time === 'number' ? e.time : typeof e.time === 'string' ? Date.parse(e.time) : e.at;
}

async function vipAt(lab: Lab, node: string, vip: string, deadline: number): Promise<number | null> {
  const addr = vip.split('/')[0]!;
  while (Date.now() < deadline) {
    const r = await lab.exec(node, ['ip', '-4', '-o', 'addr', 'show', 'dev', 'eth0']);
    if (r.stdout.includes(` ${addr}/`)) return Date.now();
    await sleep(20);
  }
  return null;
}

/** One kill -9 failover; returns [ms to MASTER, ms to VIP on the interface]. */
async function failoverOnce(lab: Lab, make: (node: string, prio: number) => AgentConfig, vip: string): Promise<[number | null, number | null]> {
  const a = startAgent(lab, 'ha1', make('ha1', 150));
  await a.waitState('VI_1', 'MASTER', 20_000);
  const b = startAgent(lab, 'ha2', make('ha2', 100));
  await b.waitState('VI_1', 'BACKUP', 20_000);
  await sleep(1_500);
  const mark = b.mark();
  const t0 = Date.now();
  await a.kill9();
  const [ev, vipMs] = await Promise.all([
    b.waitFor((e) => e.evt === 'transition' && e.to === 'MASTER', 20_000, mark, 'MASTER').catch(() => null),
    vipAt(lab, 'ha2', vip, t0 + 20_000),
  ]);
  await b.kill9();
  await lab.exec('ha1', ['ip', 'addr', 'del', vip, 'dev', 'eth0']);
  await lab.exec('ha2', ['ip', 'addr', 'del', vip, 'dev', 'eth0']);
  return [ev ? timeOf(ev) - t0 : null, vipMs === null ? null : vipMs - t0];
}

async function main(): Promise<void> {
  const specs = [
    { name: 'e1', octet: 11 },
    { name: 'e2', octet: 12 },
    { name: 'e3', octet: 13 },
    { name: 'ha1', octet: 21 },
    { name: 'ha2', octet: 22 },
  ];
  await withLab(specs, async (lab) => {
    const cluster: EtcdCluster = startEtcdCluster(lab, ['e1', 'e2', 'e3'], labDir(lab));
    await cluster.waitHealthy('ha1');
    const ep = cluster.endpoints();

    // 1. failover
    const res: Record<'etcd' | 'vrrp', { master: (number | null)[]; vip: (number | null)[] }> = { etcd: { master: [], vip: [] }, vrrp: { master: [], vip: [] } };
    for (let r = 0; r < RUNS && !ONLY_MANY; r++) {
      const key = `/bench/failover-${r}`;
      const [m1, v1] = await failoverOnce(lab, (node) => cfg({ VI_1: etcdInst(ep, node, '198.51.100.100/24', key) }), '198.51.100.100/24');
      res.etcd.master.push(m1);
      res.etcd.vip.push(v1);
      const vrrp = (_: string, prio: number) =>
        cfg({ VI_1: { interface: 'eth0', vrid: 51, priority: prio, version: 2, advertInterval: 1, vips: ['198.51.100.100/24'], provider: { type: 'garp' }, garp: { repeat: 1, delay: 5 } } });
      const [m2, v2] = await failoverOnce(lab, vrrp, '198.51.100.100/24');
      res.vrrp.master.push(m2);
      res.vrrp.vip.push(v2);
    }
    if (!ONLY_MANY) console.log(`\n== failover after kill -9 (ms from the signal; median (min–max) over ${RUNS} runs; machine shared and loaded) ==`);
    if (!ONLY_MANY) console.log(`etcd ttl ${TTL} s      → MASTER ${fmt(stats(res.etcd.master))}   VIP on eth0 ${fmt(stats(res.etcd.vip))}`);
    if (!ONLY_MANY) console.log(`VRRP v2 1 s (3.61 s) → MASTER ${fmt(stats(res.vrrp.master))}   VIP on eth0 ${fmt(stats(res.vrrp.vip))}`);
    if (!ONLY_MANY) console.log(`etcd/VRRP ratio: MASTER ${ratio(stats(res.etcd.master), stats(res.vrrp.master))}, VIP ${ratio(stats(res.etcd.vip), stats(res.vrrp.vip))}`);

    // 2 + 3. 200 instances
    const N = 200;
    const many = (node: string) =>
      cfg(Object.fromEntries(Array.from({ length: N }, (_, i) => [`E${i}`, etcdInst(ep, node, `203.0.113.${i + 1}/32`, `/bench/many/E${i}`)])), 'info');
    const a = startAgent(lab, 'ha1', many('ha1'));
    await a.ready(60_000);
    const leading = async (h: AgentHandle) => Object.values((await h.status()).instances).filter((i) => i.state === 'MASTER').length;
    const t0 = Date.now();
    while ((await leading(a)) < N && Date.now() - t0 < 60_000) await sleep(200);
    console.log(`\n== ${N} instances on one etcd cluster ==`);
    console.log(`agent A leads ${await leading(a)}/${N} after ${Date.now() - t0} ms from ready`);
    const b = startAgent(lab, 'ha2', many('ha2'));
    await b.ready(60_000);
    await sleep(3_000);
    const facts = async (h: AgentHandle) => {
      const s = await h.status();
      let requests = 0;
      let lost = 0;
      let changes = 0;
      for (const i of Object.values(s.instances)) {
        const e = i.election as { counters: { requests: number; leasesLost: number; leaderChanges: number } };
        requests += e.counters.requests;
        lost += e.counters.leasesLost;
        changes += e.counters.leaderChanges;
      }
      return { requests, lost, changes };
    };
    const s0 = [await facts(a), await facts(b)];
    const w0 = Date.now();
    await sleep(10_000);
    const s1 = [await facts(a), await facts(b)];
    const secs = (Date.now() - w0) / 1000;
    const perInst = (s1[0]!.requests - s0[0]!.requests + s1[1]!.requests - s0[1]!.requests) / secs / (2 * N);
    console.log(`steady: ${perInst.toFixed(2)} etcd requests/s per instance per agent (keep-alive every ttl/3 = ${(3 / TTL).toFixed(2)}/s expected); leader changes while steady: ${s1[0]!.changes - s0[0]!.changes + s1[1]!.changes - s0[1]!.changes}; leases lost: ${s1[0]!.lost + s1[1]!.lost}`);
    const mark = b.mark();
    const k0 = Date.now();
    await a.kill9();
    let firstAt = 0;
    let lastAt = 0;
    const deadline = Date.now() + 60_000;
    for (;;) {
      const masters = b.events.slice(mark).filter((e) => e.evt === 'transition' && e.to === 'MASTER');
      if (masters.length && !firstAt) firstAt = timeOf(masters[0]!);
      if (masters.length >= N) {
        lastAt = timeOf(masters[N - 1]!);
        break;
      }
      if (Date.now() > deadline) break;
      await sleep(100);
    }
    const after = await facts(b);
    const moved = b.events.slice(mark).filter((e) => e.evt === 'transition' && e.to === 'MASTER').length;
    console.log(`kill -9 of A: B leads ${moved}/${N}; first after ${firstAt ? firstAt - k0 : '-'} ms, last after ${lastAt ? lastAt - k0 : '-'} ms; B's leases lost: ${after.lost}`);
    const m2 = b.mark();
    await sleep(15_000);
    const flaps = b.events.slice(m2).filter((e) => e.evt === 'transition').length;
    const end = await facts(b);
    console.log(`15 s steady after: ${flaps} transitions on B, leases lost ${end.lost - after.lost}; B leads ${await leading(b)}/${N}`);
    await b.kill9();
    await cluster.stop();
  });
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
