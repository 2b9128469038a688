// The plumbing every chaos scenario shares (bench/chaos/): one two-node lab per implementation, the
// observation of who holds the VIP, and the figures common to every scenario.
//
// observe() builds a lab with nodes a (198.51.100.1, priority 150, the master) and b (.2, priority
// 100), starts a capture of VRRP on the lab bridge and an `ip -ts -o monitor address` in each node,
// starts the implementation's two daemons from the same VrrpParams (ours through bench/daemons.ts
// startAgentMulti, keepalived through startKeepalivedMulti, each behind an optional exec wrapper such
// as `env LD_PRELOAD=…`), waits until the election settled (a MASTER, b BACKUP, quiet for 2 s), and
// then runs the scenario's action. t0 (the timeline origin) is when the action starts; t1 when it
// ends (the action's own trailing wait included). The result holds the raw events (adverts, VIP
// adds/deletes, daemon transitions) and the timelines of bench/chaos/timeline.ts over [t0, t1].
// Nothing here asserts: a failure is recorded in `error` and the other runs go on.
import type { Lab } from '../../src/lab/lab.js';
import { labDir, settle, sleep, withLab, Watched, type LogEvent, type VrrpParams } from '../../test/netns/harness.js';
import { KeepalivedHandle } from '../../test/netns/keepalived.js';
import { decodeVrrp, startCapture } from '../../test/netns/capture.js';
import { startAgentMulti, startKeepalivedMulti } from '../daemons.js';
import {
  addressIntervals,
  advertIntervals,
  dualSpans,
  formatTimeline,
  maxAdvertGap,
  runsOf,
  segments,
  transitions,
  zeroSpans,
  type AddressEvent,
  type AdvertEvent,
  type Segment,
  type Span,
} from './timeline.js';

export type Impl = 'ours' | 'keepalived';
export const IMPLS: Impl[] = ['ours', 'keepalived'];

export const VIP = '198.51.100.100/24';
const NODES = [
  { name: 'a', octet: 1 },
  { name: 'b', octet: 2 },
];
const PRIORITY = { a: 150, b: 100 } as const;

export interface Mode {
  name: string;
  version: 2 | 3;
  /** Seconds. */
  advertInterval: number;
}
export const V2_1S: Mode = { name: 'v2 1 s', version: 2, advertInterval: 1 };
export const V3_100MS: Mode = { name: 'v3 0.1 s', version: 3, advertInterval: 0.1 };

/** What a scenario's action gets: the lab, both daemons, and a way to note times (e.g. each heal). */
export interface ActContext {
  lab: Lab;
  impl: Impl;
  a: Watched;
  b: Watched;
  /** The lab's temp dir (files the wrapper reads, e.g. a faketime timestamp file). */
  dir: string;
  mark(name: string, at?: number): void;
}

export interface RunSpec {
  mode: Mode;
  /** Exec wrapper for a node's daemon (e.g. ['env', 'X=1']); it must exec, so the pid stays the daemon's. */
  wrapper?: (impl: Impl, node: 'a' | 'b', dir: string) => string[];
  act(ctx: ActContext): Promise<void>;
}

/** A daemon state change as the daemon logged it, ms since the epoch. */
export interface Transition {
  node: string;
  at: number;
  to: string;
}

export interface Observation {
  impl: Impl;
  mode: Mode;
  t0: number;
  t1: number;
  marks: Record<string, number[]>;
  /** Each node's address (the `src` of its adverts). */
  ips: { a: string; b: string };
  adverts: AdvertEvent[];
  addresses: AddressEvent[];
  /** Daemon-reported transitions in [t0, t1]. */
  transitions: Transition[];
  /** Holders on the wire (adverts) and on an interface (the VIP), over [t0, t1]. */
  wire: Segment[];
  vip: Segment[];
  common: CommonFigures;
}

/** The figures every scenario reports (ms; spans within [t0, t1]). */
export interface CommonFigures {
  wireTransitions: number;
  vipTransitions: number;
  wireDual: Span[];
  wireZero: Span[];
  vipDual: Span[];
  vipZero: Span[];
  /** Runs of adverts from b that started after t0: takeovers by the backup. */
  bTakeovers: number;
  /** The longest gap between two adverts of a, ms. */
  aMaxGapMs: number;
}

export type RunResult = { ok: true; obs: Observation } | { ok: false; impl: Impl; error: string };

/** A run of adverts breaks at a gap above 2 × the interval (capture-side; the sender stopped). */
export const gapMsOf = (mode: Mode): number => 2 * mode.advertInterval * 1000;

function params(mode: Mode, node: 'a' | 'b'): VrrpParams {
  return { version: mode.version, vrid: 51, advertInterval: mode.advertInterval, priority: PRIORITY[node], vips: [VIP] };
}

/** `ip -ts -o monitor address` lines about the VIP → add/delete events (the line's own timestamp). */
export function parseAddressLine(line: string, node: string, vip = VIP): AddressEvent | null {
  const m = /^\[([0-9T:.-]+)\]\s+(Deleted\s+)?\d+:\s+\S+\s+inet\s+(\S+)/.exec(line);
  if (!m || m[3]!.split('/')[0] !== vip.split('/')[0]) return null;
  // ip prints local time without a zone, as does JS parsing a zone-less ISO date-time: same zone.
  const time = new Date(m[1]!).getTime();
  return Number.isFinite(time) ? { time, node, added: !m[2] } : null;
}

function startAddressMonitor(lab: Lab, node: string): Watched {
  const proc = lab.spawn(node, ['ip', '-ts', '-o', 'monitor', 'address']);
  return new Watched(`ip-monitor@${node}`, proc, (line, stream, at): LogEvent => ({ at, line, stream }));
}

function startDaemon(lab: Lab, impl: Impl, node: 'a' | 'b', spec: RunSpec): Watched {
  const wrapper = spec.wrapper?.(impl, node, labDir(lab)) ?? [];
  const inst = [{ name: 'VI_1', params: params(spec.mode, node) }];
  return impl === 'ours' ? startAgentMulti(lab, node, inst, 'info', wrapper) : startKeepalivedMulti(lab, node, inst, wrapper);
}

/** Sends a signal to every process of a daemon (keepalived: parent and VRRP child). */
export function signalAll(w: Watched, sig: NodeJS.Signals): void {
  for (const pid of w.pids()) {
    try {
      process.kill(pid, sig);
    } catch {
      /* gone */
    }
  }
}

/** Sends a signal to the process that sends the adverts (keepalived: its VRRP child; ours: the agent). */
export function signalVrrp(w: Watched, sig: NodeJS.Signals): void {
  const pid = w instanceof KeepalivedHandle ? w.vrrpPid() : w.pid;
  if (pid) process.kill(pid, sig);
}

/** One run of a scenario for one implementation, in a lab of its own. */
export async function observe(impl: Impl, spec: RunSpec): Promise<RunResult> {
  try {
    return { ok: true, obs: await withLab(NODES, (lab) => observeIn(lab, impl, spec)) };
  } catch (e) {
    return { ok: false, impl, error: ((e as Error).message.split('\n')[0] ?? 'failed').slice(0, 300) };
  }
}

async function observeIn(lab: Lab, impl: Impl, spec: RunSpec): Promise<Observation> {
  const monitors = NODES.map((n) => startAddressMonitor(lab, n.name));
  const cap = await startCapture(lab, { filter: 'ip proto 112', name: `chaos-${impl}` });
  await sleep(200); // the monitors are listening (they print nothing until something changes)
  const a = startDaemon(lab, impl, 'a', spec);
  const b = startDaemon(lab, impl, 'b', spec);
  await settle(
    [
      [a, 'MASTER'],
      [b, 'BACKUP'],
    ],
    2000,
    30_000,
  );
  const marks: Record<string, number[]> = {};
  const t0 = Date.now();
  await spec.act({ lab, impl, a, b, dir: labDir(lab), mark: (name, at = Date.now()) => (marks[name] ??= []).push(at) });
  const t1 = Date.now();
  const pcap = await cap.stop(300);
  const adverts: AdvertEvent[] = (await decodeVrrp(pcap)).filter((r) => r.vrid === 51).map((r) => ({ time: r.time, src: r.src, priority: r.priority }));
  const addresses = monitors.flatMap((m, i) => m.events.map((e) => parseAddressLine(e.line, NODES[i]!.name)).filter((e): e is AddressEvent => e !== null));
  const daemonTransitions = [
    ...a.transitions().map((e) => ({ node: 'a', at: e.at, to: String(e.to) })),
    ...b.transitions().map((e) => ({ node: 'b', at: e.at, to: String(e.to) })),
  ]
    .filter((t) => t.at >= t0 && t.at <= t1)
    .sort((x, y) => x.at - y.at);
  const nodeOf = (src: string) => NODES.find((n) => lab.node(n.name).ip === src)?.name ?? null;
  const wireIv = advertIntervals(adverts, nodeOf, gapMsOf(spec.mode), spec.mode.advertInterval * 1000);
  const vipIv = addressIntervals(addresses, t1);
  const wire = segments(wireIv, t0, t1);
  const vip = segments(vipIv, t0, t1);
  const common: CommonFigures = {
    wireTransitions: transitions(wire),
    vipTransitions: transitions(vip),
    wireDual: dualSpans(wire),
    wireZero: zeroSpans(wire),
    vipDual: dualSpans(vip),
    vipZero: zeroSpans(vip),
    bTakeovers: runsOf(wireIv, 'b', t0).length,
    aMaxGapMs: maxAdvertGap(adverts, lab.node('a').ip, t0, t1),
  };
  return { impl, mode: spec.mode, t0, t1, marks, ips: { a: lab.node('a').ip, b: lab.node('b').ip }, adverts, addresses, transitions: daemonTransitions, wire, vip, common };
}

// ---------------------------------------------------------------------------------------------
// Text helpers for the scenarios' figures

/** "n× (max M ms)", or "none". */
export function spansText(spans: readonly Span[]): string {
  if (!spans.length) return 'none';
  return `${spans.length}× (max ${Math.round(Math.max(...spans.map((s) => s.ms)))} ms)`;
}

/** The timelines of an observation, as printed under each scenario line. */
export function timelines(o: Observation): { wire: string; vip: string } {
  const fmt = (segs: Segment[]) => formatTimeline(segs, o.t0, { max: 14, minMs: 50 });
  return { wire: fmt(o.wire), vip: fmt(o.vip) };
}

/** The daemon transitions of one node, "1.2s MASTER, 3.4s BACKUP" from t0 (at most `max`). */
export function transitionsText(o: Observation, node: string, max = 6): string {
  const ts = o.transitions.filter((t) => t.node === node);
  if (!ts.length) return 'none';
  const shown = ts.slice(0, max).map((t) => `${((t.at - o.t0) / 1000).toFixed(1)}s ${t.to}`);
  return shown.join(', ') + (ts.length > max ? `, … (${ts.length} in all)` : '');
}

// ---------------------------------------------------------------------------------------------
// What a scenario file exports

/** One figure: a short text for the summary line, and the numbers behind it for results.json. */
export interface Figure {
  text: string;
  metrics: Record<string, unknown>;
}

export interface Variant {
  /** e.g. "loss 30 %" */
  label: string;
  spec: RunSpec;
  figure(o: Observation): Figure;
}

export interface Scenario {
  name: string;
  /** How it is measured, one paragraph (README). */
  how: string;
  variants(quick: boolean): Variant[];
  /** Run every variant (× both implementations) at once, not one variant at a time. */
  allAtOnce?: boolean;
}
