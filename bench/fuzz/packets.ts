// The packet part of `npm run fuzz` (and of test/netns/fuzz.test.ts): N fuzz cases (mutate.ts) sent as
// Ethernet frames from one lab node ("fuzzer") at the receive path of a running agent on another
// ("target"), then a check that every one is accounted for.
//
// The target runs one instance per template family (v2 multicast with PASS auth, v2 unicast, v3
// multicast, v3 unicast), MASTER of all at priority 254 from the lowest address of the three the
// fuzzer sends from; model.ts lowers the priority of any case the agent would accept as an advert
// that beats it, so no case can legitimately cause a transition. Fragments the kernel never completes
// expire after 1 s (net.ipv4.ipfrag_time, set in the target's namespace only) so they cannot fill the
// reassembly memory and make the kernel refuse a later, complete pair.
//
// Reconciliation: model.ts says, for every case, whether the kernel drops it (and why) or which drop
// reason (or acceptance) the agent must count; the agent's /metrics (ha_agent_packets_dropped_total,
// ha_agent_interface_dropped_total, ha_agent_adverts_received_total) must move by exactly those
// counts. The kernel's own counters (/proc/net/snmp, netstat, the raw sockets' drops) are recorded
// beside the kernel-side predictions. Then one valid advert per instance must still be accepted.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { LAB_NET, type Lab } from '../../src/lab/lab.js';
import { labDir, withLab, type AgentHandle } from '../../test/netns/harness.js';
import { loadKeepalivedVectors } from '../../test/support/fixtures.js';
import { parsePrometheusText, type Family as PromFamily } from '../../test/support/prom-text.js';
import { startAgentMulti } from '../daemons.js';
import { FAMILIES, fuzzCase, frameOf, ipDatagram, Rng, templatesFrom, type FuzzAddresses, type Template } from './mutate.js';
import { FuzzModel, instanceName, instanceParams } from './model.js';
import { compileSender, runSender, writeFrames, type SendResult } from './sender.js';

export const NODES = { target: 10, fuzzer: 20 } as const;

export interface PacketsOptions {
  cases: number;
  seed: number;
  /** Frames per second the sender keeps to (so the agent's socket buffer does not overflow). */
  pps: number;
  log?: (line: string) => void;
}

export interface PacketsResult {
  seed: number;
  cases: number;
  frames: number;
  pps: number;
  sender: SendResult;
  /** Cases per mutation. */
  byMutation: Record<string, number>;
  /** Cases per predicted fate: 'kernel:…', 'accepted' or an agent drop reason. */
  predicted: Record<string, number>;
  /** What the agent counted over the run: 'accepted' and its drop reasons (instances + interface). */
  measured: Record<string, number>;
  /** Valid adverts whose priority was lowered so they could not beat the target. */
  clamped: number;
  /** Deltas of the target namespace's kernel counters over the run. */
  kernel: Record<string, number>;
  /** Datagrams lost because the agent's receive socket was full (socketOverflow; 0 when paced well). */
  socketOverflow: number;
  /** Fates where predicted ≠ measured (agent side), with both counts. */
  mismatches: { outcome: string; predicted: number; measured: number }[];
  /** Agent-side cases predicted and measured in total, and those the kernel was predicted to drop. */
  agentPredicted: number;
  agentMeasured: number;
  kernelPredicted: number;
  transitions: number;
  alive: boolean;
  /** Adverts each instance accepted from the one valid advert sent to it after the run. */
  validAfter: Record<string, number>;
  agentCpuPct: number;
  seconds: number;
}

export function fuzzAddresses(lab: Lab): FuzzAddresses {
  const t = lab.node('target');
  const f = lab.node('fuzzer');
  return { fuzzerIp: f.ip, fuzzerMac: f.mac, targetIp: t.ip, targetMac: t.mac, strangerIp: `${LAB_NET}.50`, orphanIp: `${LAB_NET}.51` };
}

export function fuzzTemplates(a: FuzzAddresses): Template[] {
  return templatesFrom(loadKeepalivedVectors(), a);
}

/** Starts the target agent: one MASTER instance per family at priority 254. */
export async function startTarget(lab: Lab, a: FuzzAddresses, logLevel = 'info'): Promise<AgentHandle> {
  await lab.run('target', ['sysctl', '-q', '-w', 'net.ipv4.ipfrag_time=1']);
  const h = startAgentMulti(lab, 'target', FAMILIES.map((f) => ({ name: instanceName(f), params: instanceParams(f, a) })), logLevel);
  for (const f of FAMILIES) await h.waitState(instanceName(f), 'MASTER', 20_000);
  return h;
}

export async function scrapeMetrics(lab: Lab, node: string): Promise<Map<string, PromFamily>> {
  return parsePrometheusText(await lab.run(node, ['curl', '-sf', 'http://127.0.0.1:9721/metrics'], { timeoutMs: 10_000 }));
}

/** What the agent counted: 'accepted' (adverts received) and every drop reason, instances and interfaces summed. */
export function agentCounts(m: Map<string, PromFamily>): { counts: Record<string, number>; perInstance: Record<string, number>; transitions: number } {
  const counts: Record<string, number> = {};
  const perInstance: Record<string, number> = {};
  const add = (k: string, v: number) => (counts[k] = (counts[k] ?? 0) + v);
  for (const s of m.get('ha_agent_adverts_received_total')?.samples ?? []) {
    add('accepted', s.value);
    perInstance[s.labels.instance!] = s.value;
  }
  for (const name of ['ha_agent_packets_dropped_total', 'ha_agent_interface_dropped_total'])
    for (const s of m.get(name)?.samples ?? []) add(s.labels.reason!, s.value);
  const transitions = (m.get('ha_agent_transitions_total')?.samples ?? []).reduce((x, s) => x + s.value, 0);
  return { counts, perInstance, transitions };
}

export function delta(after: Record<string, number>, before: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const k of new Set([...Object.keys(after), ...Object.keys(before)])) {
    const d = (after[k] ?? 0) - (before[k] ?? 0);
    if (d !== 0) out[k] = d;
  }
  return out;
}

/** The kernel counters of a node's namespace that a dropped fuzz frame moves (snmp Ip, netstat IpExt). */
export async function kernelCounters(lab: Lab, node: string): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  const table = (text: string, prefix: string, keep: string[]) => {
    const lines = text.split('\n').filter((l) => l.startsWith(`${prefix}:`));
    for (let i = 0; i + 1 < lines.length; i += 2) {
      const k = lines[i]!.split(/\s+/).slice(1);
      const v = lines[i + 1]!.split(/\s+/).slice(1);
      k.forEach((name, j) => keep.includes(name) && (out[name] = Number(v[j])));
    }
  };
  table(await lab.run(node, ['cat', '/proc/net/snmp']), 'Ip', ['InReceives', 'InHdrErrors', 'InAddrErrors', 'InUnknownProtos', 'InDiscards', 'InDelivers', 'ReasmReqds', 'ReasmOKs', 'ReasmFails']);
  table(await lab.run(node, ['cat', '/proc/net/netstat']), 'IpExt', ['InTruncatedPkts', 'InCsumErrors']);
  return out;
}

/** The "drops" column of every raw IPv4 socket in a node's namespace (/proc/net/raw), in its order. */
export async function rawSocketDrops(lab: Lab, node: string): Promise<number[]> {
  const lines = (await lab.run(node, ['cat', '/proc/net/raw'])).trim().split('\n').slice(1);
  return lines.map((l) => Number(l.trim().split(/\s+/).at(-1)));
}

/**
 * Datagrams the kernel dropped because a daemon's receive socket was full, from the drop deltas of
 * its raw sockets while `sent` datagrams reached them: the sockets it reads are those that dropped fewer
 * than 99 % (ours pauses raw-socket's own socket, whose minimal buffer drops everything by design,
 * and reads through the offload thread's socket).
 */
export function socketOverflow(before: number[], after: number[], sent: number): number {
  return after
    .map((v, i) => v - (before[i] ?? 0))
    .filter((d) => d < 0.99 * sent)
    .reduce((x, d) => x + d, 0);
}

const bump = (r: Record<string, number>, k: string, n = 1) => (r[k] = (r[k] ?? 0) + n);

/** Generates the cases and their frames; pure apart from the file written. */
export function buildCases(a: FuzzAddresses, seed: number, cases: number, file: string) {
  const templates = fuzzTemplates(a);
  const model = new FuzzModel(a);
  const rng = new Rng(seed ^ 0x5a5a5a5a);
  const frames: Buffer[] = [];
  const byMutation: Record<string, number> = {};
  const predicted: Record<string, number> = {};
  let clamped = 0;
  for (let i = 0; i < cases; i++) {
    const s = model.safeCase(fuzzCase(seed, i, templates, a), rng);
    if (s.clamped) clamped++;
    bump(byMutation, s.c.mutation);
    bump(predicted, s.fate.outcome);
    s.c.datagrams.forEach((d, j) => frames.push(frameOf(d, s.c.dsts[j]!, a)));
  }
  writeFrames(file, frames);
  return { frames: frames.length, byMutation, predicted, clamped, templates };
}

/** One valid advert per family (the steady template, priority 150 < 254), as frames. */
export function validAdverts(templates: readonly Template[], a: FuzzAddresses): Buffer[] {
  return FAMILIES.map((f) => {
    const t = templates.find((x) => x.family === f && x.name.endsWith('.advert'))!;
    const dst = f.unicast ? a.targetIp : '224.0.0.18';
    return frameOf(ipDatagram({ src: a.fuzzerIp, dst, ttl: 255, protocol: 112, id: 1, options: Buffer.alloc(0), fragment: 0 }, t.vrrp), dst, a);
  });
}

function cpuTicks(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return Number(f[11]) + Number(f[12]);
}

/** Runs the packet fuzz in a fresh lab. */
export async function runPackets(o: PacketsOptions): Promise<PacketsResult> {
  const log = o.log ?? (() => {});
  const t0 = Date.now();
  return withLab(
    [
      { name: 'target', octet: NODES.target },
      { name: 'fuzzer', octet: NODES.fuzzer },
    ],
    async (lab) => {
      const dir = labDir(lab);
      const a = fuzzAddresses(lab);
      const bin = compileSender(dir);
      const file = join(dir, 'cases.bin');
      log(`fuzz packets: seed ${o.seed}, ${o.cases} cases`);
      const built = buildCases(a, o.seed, o.cases, file);
      const h = await startTarget(lab, a);
      const pid = h.pid!;
      await new Promise((r) => setTimeout(r, 500));
      const m0 = agentCounts(await scrapeMetrics(lab, 'target'));
      const k0 = await kernelCounters(lab, 'target');
      const r0 = await rawSocketDrops(lab, 'target');
      const c0 = cpuTicks(pid);
      const s0 = Date.now();
      log(`fuzz packets: sending ${built.frames} frames at ${o.pps}/s`);
      const sender = await runSender(lab, 'fuzzer', bin, file, o.pps);
      await new Promise((r) => setTimeout(r, 1500)); // the agent drains its socket; lone fragments expire
      const cpu = ((cpuTicks(pid) - c0) / 100 / ((Date.now() - s0) / 1000)) * 100;
      const m1 = agentCounts(await scrapeMetrics(lab, 'target'));
      const k1 = await kernelCounters(lab, 'target');
      const r1 = await rawSocketDrops(lab, 'target');
      const measured = delta(m1.counts, m0.counts);
      // then one valid advert per instance
      const validFile = join(dir, 'valid.bin');
      writeFrames(validFile, validAdverts(built.templates, a));
      await runSender(lab, 'fuzzer', bin, validFile, 100);
      await new Promise((r) => setTimeout(r, 500));
      const m2 = agentCounts(await scrapeMetrics(lab, 'target'));
      const validAfter = Object.fromEntries(FAMILIES.map((f) => [instanceName(f), (m2.perInstance[instanceName(f)] ?? 0) - (m1.perInstance[instanceName(f)] ?? 0)]));
      const agentSide = Object.entries(built.predicted).filter(([k]) => !k.startsWith('kernel:'));
      const mismatches = [...new Set([...agentSide.map(([k]) => k), ...Object.keys(measured)])]
        .map((k) => ({ outcome: k, predicted: built.predicted[k] ?? 0, measured: measured[k] ?? 0 }))
        .filter((x) => x.predicted !== x.measured);
      const agentPredicted = agentSide.reduce((s, [, v]) => s + v, 0);
      const r: PacketsResult = {
        seed: o.seed,
        cases: o.cases,
        frames: built.frames,
        pps: o.pps,
        sender,
        byMutation: built.byMutation,
        predicted: built.predicted,
        measured,
        clamped: built.clamped,
        kernel: delta(k1, k0),
        socketOverflow: socketOverflow(r0, r1, agentPredicted),
        mismatches,
        agentPredicted,
        agentMeasured: Object.values(measured).reduce((s, v) => s + v, 0),
        kernelPredicted: Object.entries(built.predicted).filter(([k]) => k.startsWith('kernel:')).reduce((s, [, v]) => s + v, 0),
        transitions: Math.max(m2.transitions - m0.transitions, FAMILIES.reduce((s, f) => s + h.transitions(instanceName(f)).filter((e) => e.at > s0).length, 0)),
        alive: h.exit === null,
        validAfter,
        agentCpuPct: cpu,
        seconds: (Date.now() - t0) / 1000,
      };
      log(`fuzz packets: sent ${sender.sent} (${sender.errors} refused) in ${sender.seconds} s; agent counted ${r.agentMeasured} of ${r.agentPredicted} predicted; ${mismatches.length} mismatching reasons; transitions ${r.transitions}`);
      return r;
    },
  );
}
