// Reload benchmark (issue #9): a 200-instance config with one instance changed. Measures, from one
// capture on the lab bridge, the advert gap of the 199 unchanged instances across the reload (target:
// none — no advert missing, no priority 0), and the reload time; then the same with Debian's
// keepalived 2.2.7 and its SIGHUP reload, in the same run, for the ratio. Not a test: it prints.
//
// One lab node, N VRRPv3 multicast instances VI_1..VI_N (VRIDs 1..N, priority 200, 1 s adverts, one
// /32 VIP each in 203.0.113.0/24), alone on the segment so it masters them all. Per daemon:
//   - start, wait until every instance is MASTER, let it settle, start the capture;
//   - reload A ("in place"): VI_<N/2>'s priority 200 → 150 (ours: applied in place);
//   - ours only, reload B ("restart"): VI_<N/2>'s garp.repeat changes (ours: a clean restart of that
//     instance, no priority 0);
//   - for every unchanged instance, the largest gap between two of its adverts within ±WINDOW of each
//     reload; an advert is missing when a gap exceeds 1.5 intervals; priority-0 adverts are counted.
//   - reload time: ours, the `durationMs` of its {"evt":"reload"} log line (load + validate in a child
//     process + diff + apply) and the time from SIGHUP to that line; keepalived, from SIGHUP to its
//     "Reload finished" line (when it logs one).
// Run as root after a build: `npm run bench:reload` (or `node dist/bench/reload.js [N]`).
import { readFileSync, writeFileSync } from 'node:fs';
import { stringify } from 'yaml';
import type { Lab } from '../src/lab/lab.js';
import { sleep, withLab, type AgentHandle, type VrrpParams, type Watched } from '../test/netns/harness.js';
import { decodeVrrp, startCapture, type VrrpRow } from '../test/netns/capture.js';
import { keepalivedMultiConf, startAgentMulti, startKeepalivedMulti, type NamedParams } from './daemons.js';

const N = Number(process.argv.slice(2).find((a) => /^\d+$/.test(a)) ?? 200);
const INTERVAL_S = 1;
const WINDOW_MS = 4_000;
const SETTLE_MS = 3_000;
const CHANGED = `VI_${Math.ceil(N / 2)}`;

function instances(changedPriority = 200): NamedParams[] {
  return Array.from({ length: N }, (_, i) => {
    const name = `VI_${i + 1}`;
    const params: VrrpParams = { version: 3, vrid: i + 1, priority: name === CHANGED ? changedPriority : 200, advertInterval: INTERVAL_S, vips: [`203.0.113.${i + 1}/32`], garp: { repeat: 1, delay: 0 } };
    return { name, params };
  });
}

interface GapReport {
  label: string;
  reloadMs: number | null;
  /** Of reloadMs: loading and validating the file (ours: in a child process). */
  loadMs?: number | null;
  /** SIGHUP → the changed instance's first advert with its new priority, from the capture. */
  onWireMs?: number | null;
  signalToDoneMs: number | null;
  worstGapMs: number;
  meanWorstGapMs: number;
  missing: number;
  instancesWithMissing: number;
  priorityZero: number;
  unchangedSeen: number;
}

/** Per unchanged VRID: the largest gap between adverts within ±WINDOW_MS of `at`. */
/** SIGHUP at `at` → the first advert of `vrid` from `src` with `priority`. */
function onWire(rows: VrrpRow[], src: string, vrid: number, priority: number, at: number): number | null {
  const r = rows.find((x) => x.src === src && x.vrid === vrid && x.priority === priority && x.time >= at);
  return r ? r.time - at : null;
}

function gaps(rows: VrrpRow[], src: string, at: number, changedVrid: number, from = at - WINDOW_MS, to = at + WINDOW_MS): Omit<GapReport, 'label' | 'reloadMs' | 'signalToDoneMs'> {
  const by = new Map<number, VrrpRow[]>();
  for (const r of rows) {
    if (r.src !== src || r.vrid === changedVrid || r.time < from || r.time > to) continue;
    let l = by.get(r.vrid);
    if (!l) by.set(r.vrid, (l = []));
    l.push(r);
  }
  let worst = 0;
  let sumWorst = 0;
  let missing = 0;
  let withMissing = 0;
  let zero = 0;
  for (const l of by.values()) {
    let w = 0;
    let m = 0;
    for (let i = 1; i < l.length; i++) {
      const g = l[i]!.time - l[i - 1]!.time;
      w = Math.max(w, g);
      if (g > 1.5 * INTERVAL_S * 1000) m += Math.round(g / (INTERVAL_S * 1000)) - 1;
    }
    zero += l.filter((r) => r.priority === 0).length;
    worst = Math.max(worst, w);
    sumWorst += w;
    missing += m;
    if (m > 0) withMissing++;
  }
  return { worstGapMs: worst, meanWorstGapMs: by.size ? sumWorst / by.size : 0, missing, instancesWithMissing: withMissing, priorityZero: zero, unchangedSeen: by.size };
}

async function allIn(w: Watched, state: 'MASTER', timeoutMs: number): Promise<void> {
  for (let i = 1; i <= N; i++) await w.waitState(`VI_${i}`, state, timeoutMs);
}

async function ours(lab: Lab): Promise<GapReport[]> {
  const h: AgentHandle = startAgentMulti(lab, 'ha1', instances(), 'info');
  await h.ready(60_000);
  await allIn(h, 'MASTER', 60_000);
  await sleep(SETTLE_MS);
  const cap = await startCapture(lab, { name: 'reload-ours', filter: 'ip proto 112', bufferKiB: 32_768 });
  await sleep(WINDOW_MS);
  const pid = Number(readFileSync(`${h.configPath}.pid`, 'utf8').trim());
  const reloads: { label: string; at: number; ev: Record<string, unknown>; doneAt: number }[] = [];
  const edits: [string, (i: Record<string, unknown>) => void][] = [
    ['ours: priority (in place)', (i) => (i.priority = 150)],
    ['ours: garp.repeat (restart)', (i) => (i.garp = { repeat: 2, delay: 0 })],
  ];
  for (const [label, edit] of edits) {
    edit(h.config.instances[CHANGED]!);
    writeFileSync(h.configPath, stringify(h.config), { mode: 0o600 });
    const mark = h.mark();
    const at = Date.now();
    process.kill(pid, 'SIGHUP');
    const ev = await h.waitFor((e) => e.evt === 'reload', 60_000, mark, 'reload log line');
    reloads.push({ label, at, ev, doneAt: ev.at });
    await sleep(WINDOW_MS + 500);
  }
  const rows = await decodeVrrp(await cap.stop());
  await h.stop();
  const first = reloads[0]!.at;
  const baseline = { label: 'ours: no reload (baseline)', reloadMs: null, signalToDoneMs: null, ...gaps(rows, lab.node('ha1').ip, first, Math.ceil(N / 2), first - WINDOW_MS, first - 1) };
  const src = lab.node('ha1').ip;
  const vrid = Math.ceil(N / 2);
  return [
    baseline,
    ...reloads.map((r, i) => ({ label: r.label, reloadMs: Number(r.ev.durationMs), loadMs: Number(r.ev.loadMs), onWireMs: i === 0 ? onWire(rows, src, vrid, 150, r.at) : null, signalToDoneMs: r.doneAt - r.at, ...gaps(rows, src, r.at, vrid) })),
  ];
}

async function keepalived(lab: Lab): Promise<GapReport> {
  const h = startKeepalivedMulti(lab, 'ha1', instances());
  await allIn(h, 'MASTER', 60_000);
  await sleep(SETTLE_MS);
  const cap = await startCapture(lab, { name: 'reload-ka', filter: 'ip proto 112', bufferKiB: 32_768 });
  await sleep(WINDOW_MS);
  writeFileSync(h.confPath, keepalivedMultiConf('ha1', instances(150)));
  const mark = h.mark();
  const at = Date.now();
  process.kill(h.pid!, 'SIGHUP');
  const done = await h.waitFor((e) => /Reload finished/i.test(e.line), WINDOW_MS, mark, '"Reload finished"').catch(() => null);
  await sleep(WINDOW_MS + 500);
  const rows = await decodeVrrp(await cap.stop());
  await h.stop();
  const took = /Reload finished in (\d+) usec/i.exec(done?.line ?? '');
  const base = gaps(rows, lab.node('ha1').ip, at, Math.ceil(N / 2), at - WINDOW_MS, at - 1);
  console.log(`keepalived baseline (no reload): ${base.missing} advert(s) missing, worst gap ${base.worstGapMs.toFixed(0)} ms`);
  return { label: 'keepalived 2.2.7: priority', onWireMs: onWire(rows, lab.node('ha1').ip, Math.ceil(N / 2), 150, at), reloadMs: took ? Number(took[1]) / 1000 : null, signalToDoneMs: done ? done.at - at : null, ...gaps(rows, lab.node('ha1').ip, at, Math.ceil(N / 2)) };
}

function table(rows: GapReport[]): string {
  const head = ['reload', 'reload ms', 'of which load ms', 'SIGHUP→new prio on wire ms', 'SIGHUP→done ms', 'unchanged seen', 'worst gap ms', 'mean worst gap ms', 'adverts missing', 'instances missing one', 'priority 0'];
  const fmt = (x: number | null) => (x === null ? 'n/a' : x.toFixed(0));
  const body = rows.map((r) => [r.label, fmt(r.reloadMs), fmt(r.loadMs ?? null), fmt(r.onWireMs ?? null), fmt(r.signalToDoneMs), String(r.unchangedSeen), fmt(r.worstGapMs), fmt(r.meanWorstGapMs), String(r.missing), String(r.instancesWithMissing), String(r.priorityZero)]);
  const all = [head, ...body];
  const w = head.map((_, c) => Math.max(...all.map((r) => r[c]!.length)));
  return all.map((r) => r.map((c, i) => c.padEnd(w[i]!)).join('  ')).join('\n');
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('needs root (network namespaces)');
  console.log(`reload benchmark: ${N} VRRPv3 instances at ${INTERVAL_S} s, ${CHANGED} changed; gaps of the ${N - 1} unchanged within ±${WINDOW_MS / 1000} s of each SIGHUP`);
  const results: GapReport[] = [];
  results.push(...(await withLab([{ name: 'ha1', octet: 1 }], ours)));
  if (!process.argv.includes('--ours-only')) results.push(await withLab([{ name: 'ha1', octet: 1 }], keepalived));
  console.log(table(results));
  const ka = results.at(-1)!;
  for (const r of results.filter((x) => x.reloadMs !== null && x !== ka)) {
    const ok = r.missing === 0 && r.priorityZero === 0 && r.unchangedSeen === N - 1;
    console.log(`${ok ? '✓' : '✗'} ${r.label}: ${r.missing} advert(s) missing and ${r.priorityZero} priority 0 among the ${r.unchangedSeen} unchanged (target: none); worst gap ${r.worstGapMs.toFixed(0)} ms vs keepalived ${ka.worstGapMs.toFixed(0)} ms (ratio ${(r.worstGapMs / Math.max(1, ka.worstGapMs)).toFixed(2)}); reload ${r.reloadMs?.toFixed(0)} ms (load ${r.loadMs?.toFixed(0)} ms)${r.onWireMs != null && ka.onWireMs != null ? `; SIGHUP → new priority on the wire ${r.onWireMs.toFixed(0)} ms vs keepalived ${ka.onWireMs.toFixed(0)} ms` : ''}`);
  }
}

main().catch((e: Error) => {
  console.error(e.stack ?? e.message);
  process.exit(1);
});
