// Cost benchmark: what our agent costs in CPU and memory against keepalived 2.2.7, same lab topology,
// same timers, same run (issue #5, "What was measured"). Not a test: it measures and prints, and
// asserts nothing; the targets are printed with ✓/✗.
//
// Two lab nodes on a bridge (198.51.100.1 priority 150, 198.51.100.2 priority 100), N VRRPv3
// multicast instances VI_1..VI_N (VRIDs 1..N, one /32 VIP each, 198.51.100.21 upwards), node 1
// master of all. Scenarios: N = 1 at 0.1 s adverts and N = 200 at 1 s adverts, or any COUNT@INTERVAL
// (bench/run.ts: N = 1, 16, 64, 200 at 1 s and at 0.1 s); for each, both nodes
// run our agent, then (in a fresh, identical lab) both run keepalived.
// Per run:
//   - start node 1 alone until it masters every instance, then node 2; wait until every instance is
//     MASTER on node 1 and BACKUP on node 2 and no instance has moved for the settle period (12 s:
//     V8's memory reducer runs two major GCs ~8 s after a node's start-up GC — ~50 ms of CPU once,
//     start-up work rather than the steady cost measured here; a 5 s settle put them in the window).
//     A daemon that does not get there in time is measured anyway and flagged (!) in the table;
//   - CPU: utime+stime(+cutime+cstime) of each node's daemon process tree over 20 s, as % of one
//     core (keepalived: parent + VRRP child; ours: the node process + the `ip`/`arping` it spawns);
//   - RSS: VmRSS of the master's daemon at the end of that window (keepalived: parent + VRRP child);
//   - GARP lag: kill -9 node 1 (and pull its cable), capture on the bridge, and for every VRID take
//     the new master's first GARP for that VRID's VIP minus its first advert for that VRID.
// Then a table: CPU master + backup, master RSS, ours/keepalived, targets (CPU ≤ 2× keepalived at
// N = 200 and ≤ 3× at N = 1; master RSS ≤ 96 MiB at N = 200 and ≤ 50 MiB at N = 1; GARP lag ≤ 1 ms).
//
// Run as root after a build: `node dist/bench/cost.js [options]` (npm run bench:cost -- --help).
import type { Lab } from '../src/lab/lab.js';
import { assertLabAddress } from '../src/lab/lab.js';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { labDir, rssKb, sleep, withLab, type VrrpParams, type Watched } from '../test/netns/harness.js';
import { decodeArp, decodeVrrp, firstAdvert, firstGarp, startCapture } from '../test/netns/capture.js';
import { startAgentMulti, startKeepalivedMulti, type NamedParams } from './daemons.js';
import { cpuPercent, killTree, treeCpu, type TreeCpu } from './proc-cpu.js';

type Impl = 'ours' | 'keepalived' | 'no-offload';
const IMPLS: Impl[] = ['ours', 'keepalived'];
/** Also accepted by --impl: our agent with HA_AGENT_OFFLOAD=off (every advert on the event loop). */
const ALL_IMPLS: Impl[] = [...IMPLS, 'no-offload'];

interface Scenario {
  key: string;
  count: number;
  advertInterval: number;
  /** Targets from the issue. */
  cpuRatioMax: number;
  rssMiBMax: number;
}

const GARP_LAG_MAX_MS = 1;
const NODES = [
  { name: 'ha1', octet: 1 },
  { name: 'ha2', octet: 2 },
];
const FIRST_VIP_OCTET = 21;

interface Options {
  scenarios: Scenario[];
  impls: Impl[];
  settleS: number;
  measureS: number;
  garp: 'all' | 'n1' | 'none';
  logLevel: string;
  /** Niceness for both daemons (0: unchanged). */
  nice: number;
  json: boolean;
}

export interface RunResult {
  scenario: string;
  impl: Impl;
  /** % of one core, whole daemon tree. */
  cpuMaster: number;
  cpuBackup: number;
  /** % of one core, the root process alone (ours: the node process; keepalived: the parent). */
  cpuMasterRoot: number;
  cpuBackupRoot: number;
  measuredS: number;
  rssMasterKb: number;
  rssBackupKb: number;
  /** Processes counted for RSS (master). */
  rssPids: number;
  /** State changes seen during the CPU window (should be 0). */
  movesDuringWindow: number;
  /** Transitions into FAULT on either node from start to the end of the CPU window. */
  faults: number;
  /** Instances out of place (or 'still changing state') when measuring began; empty when settled. */
  unsettled: string[];
  /** Seconds from start to a settled election. */
  electionS: number;
  loadavg: string;
  /** Per-VRID GARP lag after the takeover (ms, GARP time − advert time), null when not measured. */
  garpLagMs: number[] | null;
  /** VRIDs for which no advert or no GARP was found after the takeover. */
  garpMissing: number;
  /** Why the takeover could not be measured. */
  garpError?: string;
  error?: string;
}

function usage(): string {
  return [
    'usage: node dist/bench/cost.js [options]      (root; needs keepalived, tcpdump, tshark)',
    '  --quick              settle 2 s, measure 5 s (both scenarios)',
    '  --scenario LIST      n1 (1 @ 0.1 s), n200 (--count @ 1 s) or COUNT@INTERVAL, comma-separated\n' +
      '                       (default n1,n200; e.g. 1@1,16@0.1,64@1)',
    '  --count N            instances in the big scenario (default 200)',
    '  --impl LIST          ours, keepalived, no-offload (ours with HA_AGENT_OFFLOAD=off), comma-separated\n' +
      '                       (default ours,keepalived)',
    '  --settle S           quiet seconds after the election before measuring (default 12: past V8\'s\n' +
      '                       one-time memory-reducing GCs ~8 s after start-up)',
    '  --measure S          CPU window in seconds (default 20)',
    '  --garp n1|all|none   where to measure the GARP lag after a takeover (default n1; at N=200 the takeover burst\n' +
    '                       of adverts + GARPs overflows the veth backlog or the capture, so some VRIDs go unmatched)',
    '  --log-level L        our agent\'s log level (default info, the config default)',
    '  --nice N             run both daemons under `nice -n N` (e.g. -10 on a busy shared machine; default 0)',
    '  --json               print the results as JSON',
  ].join('\n');
}

function parseArgs(argv: string[]): Options {
  let settleS = 12;
  let measureS = 20;
  let count = 200;
  let keys = ['n1', 'n200'];
  let impls: Impl[] = [...IMPLS];
  let garp: Options['garp'] = 'n1';
  let logLevel = 'info';
  let json = false;
  let nice = 0;
  const num = (v: string | undefined, what: string): number => {
    const n = Number(v);
    if (!Number.isFinite(n) || n <= 0) throw new Error(`${what}: expected a positive number, got ${v ?? 'nothing'}`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--quick') {
      settleS = 2;
      measureS = 5;
      garp = 'n1';
    } else if (a === '--scenario') keys = (argv[++i] ?? '').split(',');
    else if (a === '--count') count = Math.round(num(argv[++i], '--count'));
    else if (a === '--impl') impls = (argv[++i] ?? '').split(',') as Impl[];
    else if (a === '--settle') settleS = num(argv[++i], '--settle');
    else if (a === '--measure') measureS = num(argv[++i], '--measure');
    else if (a === '--garp') garp = argv[++i] as Options['garp'];
    else if (a === '--log-level') logLevel = argv[++i] ?? 'info';
    else if (a === '--nice') nice = Math.round(Number(argv[++i]));
    else if (a === '--json') json = true;
    else if (a === '--help' || a === '-h') {
      console.log(usage());
      process.exit(0);
    } else throw new Error(`unknown option ${a}\n${usage()}`);
  }
  if (count > 254 - FIRST_VIP_OCTET + 1) throw new Error(`--count ${count}: at most ${254 - FIRST_VIP_OCTET + 1} (one VIP each in 198.51.100.0/24)`);
  if (impls.some((x) => !ALL_IMPLS.includes(x))) throw new Error(`--impl: ${ALL_IMPLS.join(', ')}, got ${impls.join(',')}`);
  if (!(Number.isInteger(nice) && nice >= -20 && nice <= 19)) throw new Error('--nice: an integer in -20..19');
  if (!['all', 'n1', 'none'].includes(garp)) throw new Error(`--garp: all, n1 or none, got ${garp}`);
  const all: Record<string, Scenario> = {
    n1: { key: 'n1', count: 1, advertInterval: 0.1, cpuRatioMax: 3, rssMiBMax: 50 },
    n200: { key: 'n200', count, advertInterval: 1, cpuRatioMax: 2, rssMiBMax: 96 },
  };
  const scenarios = keys.map((k) => {
    const s = all[k] ?? scenarioOf(k);
    if (!s) throw new Error(`--scenario: n1, n200 or COUNT@INTERVAL (e.g. 16@0.1), got ${k}`);
    if (s.count > 254 - FIRST_VIP_OCTET + 1) throw new Error(`--scenario ${k}: at most ${254 - FIRST_VIP_OCTET + 1} instances`);
    return s;
  });
  return { scenarios, impls, settleS, measureS, garp, logLevel, nice, json };
}

/** A scenario named COUNT@INTERVAL (e.g. 16@0.1): the targets of n1 for one instance, of n200 above. */
function scenarioOf(key: string): Scenario | null {
  const m = /^(\d+)@(\d+(?:\.\d+)?)$/.exec(key);
  if (!m) return null;
  const count = Number(m[1]);
  const advertInterval = Number(m[2]);
  if (count < 1 || !(advertInterval >= 0.01)) return null;
  return { key, count, advertInterval, cpuRatioMax: count === 1 ? 3 : 2, rssMiBMax: count === 1 ? 50 : 96 };
}

const label = (s: Scenario) => `N=${s.count} @ ${s.advertInterval} s`;
const vipOf = (i: number) => `198.51.100.${FIRST_VIP_OCTET + i - 1}/32`;

function instances(s: Scenario, priority: number): NamedParams[] {
  return Array.from({ length: s.count }, (_, k) => {
    const vrid = k + 1;
    const vip = vipOf(vrid);
    assertLabAddress(vip);
    const params: VrrpParams = { version: 3, vrid, priority, advertInterval: s.advertInterval, vips: [vip] };
    return { name: `VI_${vrid}`, params };
  });
}

// ---------------------------------------------------------------------------------------------
// Processes started by this benchmark, killed (whole trees) on SIGINT/SIGTERM before the lab's own
// exit hook deletes the namespaces: keepalived's VRRP child is not a child the lab knows about.

const running = new Set<Watched>();
/** The current lab's temp dir (configs, pcaps), removed on a signal as withLab() would on success. */
let currentDir: string | null = null;

function installSignalCleanup(): void {
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(sig, () => {
      for (const w of running) if (w.pid) killTree(w.pid);
      if (currentDir && !process.env.KEEP_NETNS_ARTIFACTS) rmSync(currentDir, { recursive: true, force: true });
      // The lab's hook (registered later, so it runs after this one) deletes the namespaces and exits.
      if (process.listenerCount(sig) === 0) process.exit(sig === 'SIGINT' ? 130 : 143);
    });
  }
}

function start(lab: Lab, impl: Impl, node: string, list: NamedParams[], o: Options): Watched {
  const wrapper = o.nice ? ['nice', '-n', String(o.nice)] : [];
  const w =
    impl === 'keepalived'
      ? startKeepalivedMulti(lab, node, list, wrapper)
      : startAgentMulti(lab, node, list, o.logLevel, impl === 'no-offload' ? [...wrapper, 'env', 'HA_AGENT_OFFLOAD=off'] : wrapper);
  running.add(w);
  void w.closed.then(() => running.delete(w));
  return w;
}

// ---------------------------------------------------------------------------------------------
// Election

function lastTransitionAt(w: Watched): number {
  for (let i = w.events.length - 1; i >= 0; i--) if (w.events[i]!.evt === 'transition') return w.events[i]!.at;
  return 0;
}

/**
 * Waits until every instance of every process is in its expected state and nothing has moved for
 * quietMs (start-up races that resolve are fine). Does not throw on a timeout: resolves with the
 * instances still out of place, so a daemon that cannot settle is measured anyway, and flagged.
 * Throws only when a daemon exits.
 */
async function settleAll(expect: [Watched, string][], names: string[], quietMs: number, timeoutMs: number): Promise<string[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const off = expect.flatMap(([w, s]) => names.filter((n) => w.state(n) !== s).map((n) => `${w.label} ${n}=${w.state(n) ?? '?'}`));
    const last = Math.max(...expect.map(([w]) => lastTransitionAt(w)));
    if (off.length === 0 && Date.now() - last >= quietMs) return [];
    for (const [w] of expect) if (w.exit) throw new Error(`${w.label} exited while the election settled\n${w.logs(30)}`);
    if (Date.now() > deadline) return off.length ? off : ['still changing state'];
    await sleep(100);
  }
}

function transitionsSince(w: Watched, mark: number): number {
  return w.events.slice(mark).filter((e) => e.evt === 'transition').length;
}

/** Sum of VmRSS (kB) over a handle's processes (ours: the agent; keepalived: parent + VRRP child). */
function rssOf(w: Watched): { kb: number; pids: number } {
  const pids = w.pids();
  return { kb: pids.reduce((sum, pid) => sum + rssKb(pid), 0), pids: pids.length };
}

// ---------------------------------------------------------------------------------------------
// GARP lag after a takeover

async function garpLag(lab: Lab, master: Watched, backup: Watched, s: Scenario, names: string[]): Promise<{ lags: number[]; missing: number }> {
  const cap = await startCapture(lab, { name: `takeover-${s.key}` });
  const sentAt = Date.now();
  await master.kill9();
  await lab.setLink('ha1', false);
  const timeout = Math.max(10_000, s.advertInterval * 10_000);
  await Promise.all(names.map((n) => backup.waitState(n, 'MASTER', timeout)));
  // The first GARP burst follows the first advert; give it a moment to reach the wire.
  await sleep(1_000);
  const pcap = await cap.stop(300);
  const [adverts, arps] = await Promise.all([decodeVrrp(pcap), decodeArp(pcap)]);
  const ha2 = lab.node('ha2');
  const lags: number[] = [];
  let missing = 0;
  for (let vrid = 1; vrid <= s.count; vrid++) {
    const advert = firstAdvert(
      adverts.filter((r) => r.vrid === vrid),
      { src: ha2.ip, after: sentAt, minPriority: 1 },
    );
    const garp = firstGarp(arps, vipOf(vrid).split('/')[0]!, ha2.mac, sentAt);
    if (advert && garp) lags.push(garp.time - advert.time);
    else missing++;
  }
  return { lags, missing };
}

// ---------------------------------------------------------------------------------------------
// One run: one scenario, one implementation on both nodes, in a fresh lab

async function runOne(s: Scenario, impl: Impl, o: Options): Promise<RunResult> {
  return withLab(NODES, async (lab) => {
    currentDir = labDir(lab);
    // Node 1 first, alone, until it masters every instance; then node 2 joins as backup. Starting
    // both at once only adds a start-up race (and, for our agent, 2 × N concurrent `ip` spawns).
    const t0 = Date.now();
    const names = instances(s, 0).map((x) => x.name);
    // Generous: on a busy machine our agent needs ~30 s to master 200 instances alone (spawn storms).
    const aloneMs = 60_000;
    const timeoutMs = 90_000;
    const master = start(lab, impl, 'ha1', instances(s, 150), o);
    const offAlone = await settleAll([[master, 'MASTER']], names, 0, aloneMs);
    const backup = start(lab, impl, 'ha2', instances(s, 100), o);
    const off = await settleAll(
      [
        [master, 'MASTER'],
        [backup, 'BACKUP'],
      ],
      names,
      o.settleS * 1000,
      timeoutMs,
    );
    if (offAlone.length || off.length) {
      const what = off.length ? `${off.length} out of place or moving, e.g. ${off.slice(0, 3).join(', ')}` : 'settled late';
      process.stderr.write(`[not settled after ${aloneMs / 1000} s alone + ${timeoutMs / 1000} s together: ${what}; measuring anyway] `);
    }
    const electionS = (Date.now() - t0) / 1000 - (off.length ? 0 : o.settleS);

    const loadavg = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
    const marks = [master.mark(), backup.mark()];
    const before: TreeCpu[] = [treeCpu(master.pid!), treeCpu(backup.pid!)];
    const h0 = process.hrtime.bigint();
    await sleep(o.measureS * 1000);
    const after: TreeCpu[] = [treeCpu(master.pid!), treeCpu(backup.pid!)];
    const seconds = Number(process.hrtime.bigint() - h0) / 1e9;
    const rssM = rssOf(master);
    const rssB = rssOf(backup);
    const faults = [master, backup].reduce((n, w) => n + w.events.filter((e) => e.evt === 'transition' && e.to === 'FAULT').length, 0);
    const moves = transitionsSince(master, marks[0]!) + transitionsSince(backup, marks[1]!);
    const pct = (i: number, k: 'tree' | 'root') => cpuPercent(before[i]![k], after[i]![k], seconds);

    const doGarp = o.garp === 'all' || (o.garp === 'n1' && s.key === 'n1');
    let g: { lags: number[]; missing: number } | null = null;
    let garpError: string | undefined;
    if (doGarp) {
      try {
        g = await garpLag(lab, master, backup, s, names);
      } catch (e) {
        garpError = (e as Error).message.split('\n')[0];
      }
    }
    return {
      scenario: s.key,
      impl,
      cpuMaster: pct(0, 'tree'),
      cpuBackup: pct(1, 'tree'),
      cpuMasterRoot: pct(0, 'root'),
      cpuBackupRoot: pct(1, 'root'),
      measuredS: seconds,
      rssMasterKb: rssM.kb,
      rssBackupKb: rssB.kb,
      rssPids: rssM.pids,
      movesDuringWindow: moves,
      faults,
      unsettled: off,
      electionS,
      loadavg,
      garpLagMs: g ? g.lags : null,
      garpMissing: g ? g.missing : 0,
      ...(garpError ? { garpError } : {}),
    };
  });
}

// ---------------------------------------------------------------------------------------------
// Report

function pad(s: string, n: number): string {
  return s.length >= n ? s : s + ' '.repeat(n - s.length);
}

const pctS = (x: number) => `${x.toFixed(2)} %`;
const mib = (kb: number) => `${(kb / 1024).toFixed(1)} MiB`;

function median(xs: number[]): number {
  const v = [...xs].sort((a, b) => a - b);
  const m = Math.floor(v.length / 2);
  return v.length % 2 ? v[m]! : (v[m - 1]! + v[m]!) / 2;
}

function lagText(r: RunResult | undefined): string {
  if (!r || r.error) return 'n/a';
  if (r.garpError) return `failed: ${r.garpError}`;
  if (!r.garpLagMs) return '—';
  const l = r.garpLagMs;
  if (l.length === 0) return `none found (${r.garpMissing} VRID(s) without advert+GARP)`;
  const f = (x: number) => `${x.toFixed(2)} ms`;
  const body = l.length === 1 ? f(l[0]!) : `median ${f(median(l))}, max ${f(Math.max(...l))} over ${l.length} VRIDs`;
  return body + (r.garpMissing ? ` (${r.garpMissing} VRID(s) without advert+GARP)` : '');
}

const mark = (ok: boolean) => (ok ? '✓' : '✗');

function ratioText(a: number, b: number): { text: string; value: number } {
  const value = a / b;
  if (!Number.isFinite(value)) return { text: b === 0 && a > 0 ? '∞ (keepalived 0)' : 'n/a', value };
  return { text: `${value.toFixed(1)}×`, value };
}

function printReport(o: Options, results: RunResult[]): void {
  const cols = [16, 12, 22, 22, 12, 14, 8, 9];
  const row = (...cells: string[]) => console.log(cells.map((c, i) => pad(c, cols[i] ?? 12)).join(' ').trimEnd());
  console.log(
    `\nCost: two nodes, N VRRPv3 multicast instances, node 1 (priority 150) master of all. CPU over ${o.measureS} s after ` +
      `${o.settleS} s settled, % of one core, whole daemon process tree (in brackets: the daemon process alone). ` +
      `RSS: VmRSS of the master's daemon (keepalived: parent + VRRP child). Our agent at log level ${o.logLevel}.` +
      (o.nice ? ` Both daemons under nice ${o.nice}.` : ''),
  );
  console.log('The machine is shared: CPU figures are noisy, loadavg shows the background at each window.\n');
  row('scenario', 'impl', 'CPU master', 'CPU backup', 'CPU sum', 'RSS master', 'moves¹', 'loadavg');
  for (const s of o.scenarios) {
    const get = (impl: Impl) => results.find((r) => r.scenario === s.key && r.impl === impl);
    for (const impl of o.impls) {
      const r = get(impl);
      if (!r || r.error) {
        row(label(s), impl, `failed: ${r?.error?.split('\n')[0] ?? 'not run'}`);
        continue;
      }
      row(
        label(s),
        impl,
        `${pctS(r.cpuMaster)} (${pctS(r.cpuMasterRoot)})`,
        `${pctS(r.cpuBackup)} (${pctS(r.cpuBackupRoot)})`,
        pctS(r.cpuMaster + r.cpuBackup),
        mib(r.rssMasterKb),
        `${r.movesDuringWindow}${r.unsettled.length || r.movesDuringWindow ? ' (!)' : ''}`,
        r.loadavg,
      );
    }
    const ours = get('ours');
    const ka = get('keepalived');
    const okOurs = ours && !ours.error;
    const okKa = ka && !ka.error;
    const cpu = okOurs && okKa ? ratioText(ours.cpuMaster + ours.cpuBackup, ka.cpuMaster + ka.cpuBackup) : null;
    const rss = okOurs && okKa ? ratioText(ours.rssMasterKb, ka.rssMasterKb) : null;
    if (cpu && rss) row('', 'ours/ka', '', '', cpu.text, rss.text);
    const plain = get('no-offload');
    if (plain && !plain.error && okKa) row('', 'no-off/ka', '', '', ratioText(plain.cpuMaster + plain.cpuBackup, ka.cpuMaster + ka.cpuBackup).text, ratioText(plain.rssMasterKb, ka.rssMasterKb).text);
    const targets: string[] = [];
    if (cpu) targets.push(`CPU ≤ ${s.cpuRatioMax}× keepalived: ${mark(cpu.value <= s.cpuRatioMax)}`);
    if (okOurs) targets.push(`master RSS ≤ ${s.rssMiBMax} MiB: ${mark(ours.rssMasterKb / 1024 <= s.rssMiBMax)} (${mib(ours.rssMasterKb)})`);
    if (targets.length) console.log(`${pad('', cols[0]!)} targets: ${targets.join('; ')}`);
    if (o.garp === 'all' || (o.garp === 'n1' && s.key === 'n1')) {
      console.log(`${pad('', cols[0]!)} GARP lag after kill -9 of the master (new master's first GARP for the VIP − its first advert, target ≤ ${GARP_LAG_MAX_MS} ms):`);
      for (const impl of o.impls) {
        const r = get(impl);
        const l = r?.garpLagMs;
        const ok = l && l.length > 0 && r.garpMissing === 0 ? ` ${mark(Math.max(...l) <= GARP_LAG_MAX_MS)}` : '';
        console.log(`${pad('', cols[0]!)}   ${pad(impl, 11)} ${lagText(r)}${ok}`);
      }
    }
    console.log('');
  }
  console.log('¹ state changes (any instance, either node) during the CPU window');
  const slow = results.filter((r) => !r.error && !r.unsettled.length).map((r) => `${label(o.scenarios.find((s) => s.key === r.scenario)!)} ${r.impl} ${r.electionS.toFixed(1)} s`);
  console.log(`Start to settled election (node 1 alone, then node 2 joins; without the ${o.settleS} s settle): ${slow.join(', ')}`);
  const unsettled = results.filter((r) => !r.error && r.unsettled.length).map((r) => `${r.scenario} ${r.impl} (${r.unsettled.length}: ${r.unsettled.slice(0, 3).join(', ')}…)`);
  if (unsettled.length) console.log(`(!) measured without a settled election (out of place or still moving when the window began): ${unsettled.join('; ')}`);
  const moved = results.filter((r) => !r.error && r.movesDuringWindow).map((r) => `${r.scenario} ${r.impl}: ${r.movesDuringWindow}`);
  if (moved.length) console.log(`(!) state changes during the CPU window (no steady state; the CPU figure includes them): ${moved.join(', ')}`);
  const faulty = results.filter((r) => !r.error && r.faults > 0).map((r) => `${r.scenario} ${r.impl}: ${r.faults}`);
  if (faulty.length) console.log(`Transitions into FAULT before/while measuring (start-up trouble): ${faulty.join(', ')}`);
}

// ---------------------------------------------------------------------------------------------

function toolsMissing(): string[] {
  const dirs = (process.env.PATH ?? '').split(':').filter(Boolean);
  return ['keepalived', 'tcpdump', 'tshark', 'ip', 'getconf'].filter((tool) => !dirs.some((d) => existsSync(join(d, tool))));
}

async function main(): Promise<void> {
  let o: Options;
  try {
    o = parseArgs(process.argv.slice(2));
  } catch (e) {
    console.error(`bench/cost: ${(e as Error).message}`);
    process.exit(2);
  }
  if (process.getuid?.() !== 0) {
    console.error('bench/cost: needs root (network namespaces); run as root');
    process.exit(1);
  }
  const missing = toolsMissing();
  if (missing.length) {
    console.error(`bench/cost: missing ${missing.join(', ')}`);
    process.exit(1);
  }
  installSignalCleanup();
  const results: RunResult[] = [];
  const started = Date.now();
  for (const s of o.scenarios) {
    for (const impl of o.impls) {
      process.stderr.write(`${label(s)} ${impl}: `);
      try {
        const r = await runOne(s, impl, o);
        results.push(r);
        process.stderr.write(
          `CPU ${pctS(r.cpuMaster)} + ${pctS(r.cpuBackup)}, master RSS ${mib(r.rssMasterKb)}` +
            (r.garpLagMs ? `, GARP lag ${lagText(r)}` : '') +
            ` (load ${r.loadavg})\n`,
        );
      } catch (e) {
        const msg = (e as Error).message;
        process.stderr.write(`failed: ${msg.split('\n')[0]}\n`);
        results.push({ scenario: s.key, impl, error: msg } as RunResult);
      }
    }
  }
  process.stderr.write(`total ${((Date.now() - started) / 1000).toFixed(0)} s\n`);
  if (o.json) console.log(JSON.stringify({ options: { ...o, scenarios: o.scenarios.map((s) => s.key) }, results }, null, 2));
  else printReport(o, results);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
