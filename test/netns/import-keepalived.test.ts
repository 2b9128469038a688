// `ha-agent import-keepalived` against keepalived itself: for each VRRP pair of the corpus
// (test/fixtures/keepalived-conf/*/ha1.conf, ha2.conf), Debian's keepalived runs the ORIGINAL files on
// both nodes in one lab, while in a second lab (at the same time) our agent runs the IMPORTED YAML in
// place of one node and keepalived runs the original file on the other. Both labs must end with the
// same election outcome: the same master for every instance, the VIPs on the same node (and, for the
// sync group, its virtual routes there too). Pairs that depend on start order (nopreempt) start their
// nodes in the same order in both labs. No durations are asserted; an election has settled when
// nobody changed state for 2 s (two adverts).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { parse } from 'yaml';
import type { Lab } from '../../src/lab/lab.js';
import { adoptProcess, agentCli, labDir, requireRoot, settle, startAgent, vipHolder, waitVipHolders, withLab, type AgentConfig, type VrrpState, type Watched } from './harness.js';
import { KeepalivedHandle } from './keepalived.js';

const FIXTURES = join(process.cwd(), 'test', 'fixtures', 'keepalived-conf');
const NODES = [
  { name: 'ha1', octet: 1 },
  { name: 'ha2', octet: 2 },
];
type NodeName = 'ha1' | 'ha2';

interface Scenario {
  dir: string;
  /** Instance → its VIP (address/len) and the node keepalived makes master. */
  instances: Record<string, { vip: string; master: NodeName }>;
  /** The node our agent replaces. */
  ours: NodeName;
  /** Start this node first and wait until it is MASTER of every instance (nopreempt). */
  first?: NodeName;
  /** A route the master holds (virtual_routes). */
  route?: string;
}

const SCENARIOS: Scenario[] = [
  { dir: 'master-backup-pass', instances: { VI_1: { vip: '198.51.100.100/24', master: 'ha1' } }, ours: 'ha1' },
  { dir: 'nopreempt', instances: { VI_APP: { vip: '198.51.100.101/24', master: 'ha2' } }, ours: 'ha1', first: 'ha2' },
  { dir: 'unicast-aws', instances: { VI_AWS: { vip: '198.51.100.50/24', master: 'ha1' } }, ours: 'ha2' },
  { dir: 'health-script', instances: { VI_WEB: { vip: '198.51.100.102/24', master: 'ha2' } }, ours: 'ha2' },
  {
    dir: 'sync-group-routes',
    instances: { VI_FRONT: { vip: '198.51.100.110/24', master: 'ha1' }, VI_BACK: { vip: '198.51.100.111/24', master: 'ha1' } },
    ours: 'ha1',
    route: '203.0.113.0/24',
  },
  { dir: 'include-glob', instances: { VI_INC: { vip: '198.51.100.120/24', master: 'ha1' } }, ours: 'ha1' },
];

const WAIT = 40_000;

const ready = (w: Watched) => w.waitFor((e) => e.evt === 'ready', WAIT, 0, `${w.label} ready`);
let seq = 0;

/** keepalived on `node` running `conf` exactly as written (VRRP process only, console log). */
function startKeepalivedFile(lab: Lab, node: string, conf: string): KeepalivedHandle {
  const dir = labDir(lab);
  const tag = `ka-${node}-${seq++}`;
  const pid = join(dir, `${tag}.pid`);
  const vrrpPid = join(dir, `${tag}.vrrp.pid`);
  const argv = ['keepalived', '-n', '-l', '-D', '-G', '-P', '-R', '-f', conf, '-p', pid, '-r', vrrpPid, '-c', join(dir, `${tag}.chk.pid`), '-b', join(dir, `${tag}.bfd.pid`)];
  const h = new KeepalivedHandle(lab, lab.node(node), conf, vrrpPid, lab.spawn(node, argv));
  adoptProcess(lab, h);
  return h;
}

/** Imports `conf` with the compiled CLI; returns the config object, the exit code and stderr. */
function importConf(conf: string): { config: AgentConfig; code: number | null; stderr: string } {
  const r = spawnSync(process.execPath, [agentCli(), 'import-keepalived', conf], { encoding: 'utf8', timeout: 20_000 });
  assert.ok(r.stdout.includes('instances:'), `import of ${conf} wrote YAML: ${r.stderr}`);
  return { config: parse(r.stdout) as AgentConfig, code: r.status, stderr: r.stderr };
}

interface Outcome {
  masters: Record<string, NodeName[]>;
  vips: Record<string, string[]>;
  route?: string[];
}

async function routeHolders(lab: Lab, route: string): Promise<string[]> {
  const out: string[] = [];
  for (const n of NODES) {
    const r = await lab.exec(n.name, ['ip', '-4', 'route', 'show', route]);
    if (r.stdout.trim()) out.push(n.name);
  }
  return out;
}

/** Runs one pair in a fresh lab; `ours` (if given) is replaced by our agent on the imported YAML. */
async function runPair(s: Scenario, ours: { node: NodeName; config: AgentConfig } | undefined): Promise<Outcome> {
  return withLab(NODES, async (lab) => {
    const procs = new Map<NodeName, Watched>();
    const start = (node: NodeName) => {
      if (ours?.node === node) procs.set(node, startAgent(lab, node, { ...ours.config, log: { level: 'info' } }));
      else procs.set(node, startKeepalivedFile(lab, node, join(FIXTURES, s.dir, `${node}.conf`)));
    };
    const order: NodeName[] = s.first ? [s.first, s.first === 'ha1' ? 'ha2' : 'ha1'] : ['ha1', 'ha2'];
    // Each node is up (keepalived: "Startup complete"; ours: "ready") before the next starts, so a
    // slow start under load cannot turn a preemption into a different story.
    start(order[0]!);
    await ready(procs.get(order[0]!)!);
    if (s.first) for (const inst of Object.keys(s.instances)) await procs.get(s.first)!.waitState(inst, 'MASTER', WAIT);
    start(order[1]!);
    await ready(procs.get(order[1]!)!);
    for (const [inst, { master }] of Object.entries(s.instances)) {
      const expect: [Watched, VrrpState][] = NODES.map((n) => [procs.get(n.name as NodeName)!, n.name === master ? 'MASTER' : 'BACKUP']);
      await settle(expect, 2_000, WAIT, inst);
    }
    const outcome: Outcome = { masters: {}, vips: {} };
    for (const [inst, { vip, master }] of Object.entries(s.instances)) {
      outcome.masters[inst] = NODES.filter((n) => procs.get(n.name as NodeName)!.state(inst) === 'MASTER').map((n) => n.name as NodeName);
      await waitVipHolders(lab, vip, [master], 10_000);
      outcome.vips[inst] = (await vipHolder(lab, vip)).sort();
    }
    if (s.route) outcome.route = await routeHolders(lab, s.route);
    return outcome;
  });
}

describe('import-keepalived against keepalived', () => {
  for (const s of SCENARIOS) {
  it(`${s.dir}: our agent on the imported ${s.ours}.conf elects like keepalived on the original`, { timeout: 90_000 }, async (t) => {
    if (!requireRoot(t)) return;
    const imported = importConf(join(FIXTURES, s.dir, `${s.ours}.conf`));
    assert.equal(imported.code, 0, `every keyword of ${s.dir}/${s.ours}.conf is carried over:\n${imported.stderr}`);
    const [reference, withOurs] = await Promise.all([runPair(s, undefined), runPair(s, { node: s.ours, config: imported.config })]);
    const expected: Outcome = { masters: {}, vips: {} };
    for (const [inst, { master }] of Object.entries(s.instances)) {
      expected.masters[inst] = [master];
      expected.vips[inst] = [master];
    }
    if (s.route) expected.route = [s.instances[Object.keys(s.instances)[0]!]!.master];
    assert.deepEqual(reference, expected, 'keepalived on both original files elects as the fixture says');
    assert.deepEqual(withOurs, reference, `with our agent in place of ${s.ours}: the same masters, VIPs${s.route ? ' and route' : ''}`);
  });
}
});
