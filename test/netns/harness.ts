// Test harness for the network-namespace suites: runs our agent (and, through keepalived.ts, keepalived)
// inside the nodes of a src/lab/lab.ts lab, turns their log lines into events a test can wait on, and
// answers the questions the tests ask of the network: who holds the VIP, whose MAC does a client get.
//
// Everything a test starts is tied to its lab: withLab() sweeps stale labs first, and in `finally`
// kills every process, destroys the namespaces and deletes the lab's temp dir (kept on failure, with
// its path printed, so configs, pcaps and logs can be read afterwards).
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { Lab, sweepStaleLabs, type LabNodeSpec, type LabOptions } from '../../src/lab/lab.js';
import { Watched, fmtExit, type VrrpState } from '../../src/lab/watched.js';
import { AgentHandle, spawnAgent, type AgentConfig } from '../../src/lab/agent-process.js';
import { agentRunArgs } from '../../src/lab/host-paths.js';

export { Watched, AgentHandle, agentRunArgs };
export type { VrrpState, AgentConfig };
export type { LogEvent, ExitInfo } from '../../src/lab/watched.js';
export type { InstanceStatus } from '../../src/lab/agent-process.js';

// ---------------------------------------------------------------------------------------------
// Root guard

/** The threads of `pid` scheduled SCHED_FIFO, with their priority (/proc/PID/task/TID/stat fields 40 rt_priority and 41 policy). */
export function fifoThreads(pid: number): { tid: string; priority: number }[] {
  return readdirSync(`/proc/${pid}/task`).flatMap((tid) => {
    const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' '); // f[0] is field 3 (state)
    return f[38] === '1' ? [{ tid, priority: Number(f[37]) }] : [];
  });
}

/** True when the test may go on. Not root: fails under CI=true, otherwise skips loudly. */
export function requireRoot(t: TestContext): boolean {
  if (process.getuid?.() === 0) return true;
  const why = 'needs root for network namespaces: run as root';
  if (process.env.CI === 'true') throw new Error(`${why} (CI=true, so this is a failure, not a skip)`);
  console.warn(`\n!!!!! SKIPPED ${t.name}: ${why} !!!!!\n`);
  t.skip(why);
  return false;
}

// ---------------------------------------------------------------------------------------------
// Per-lab context: temp dir, processes, cleanups

interface LabContext {
  dir: string;
  procs: Watched[];
  cleanups: (() => Promise<void> | void)[];
}

const contexts = new WeakMap<Lab, LabContext>();

function ctxOf(lab: Lab): LabContext {
  let c = contexts.get(lab);
  if (!c) {
    c = { dir: mkdtempSync(join(tmpdir(), `ha-netns-${lab.id}-`)), procs: [], cleanups: [] };
    contexts.set(lab, c);
  }
  return c;
}

/** The lab's temp dir (configs, pid files, pcaps). */
export function labDir(lab: Lab): string {
  return ctxOf(lab).dir;
}

/** Registers work to do when withLab() finishes (after the processes are killed). */
export function onLabCleanup(lab: Lab, fn: () => Promise<void> | void): void {
  ctxOf(lab).cleanups.push(fn);
}

/** Every process started in this lab through the harness, in start order. */
export function labProcesses(lab: Lab): readonly Watched[] {
  return ctxOf(lab).procs;
}

/**
 * Builds a lab, runs fn, and always tears everything down. On failure, prints the last log lines of
 * every process and keeps the temp dir.
 */
export async function withLab<T>(specs: LabNodeSpec[], fn: (lab: Lab) => Promise<T>, opts: LabOptions = {}): Promise<T> {
  sweepStaleLabs();
  const lab = await Lab.create(specs, opts);
  const ctx = ctxOf(lab);
  let failed = false;
  try {
    return await fn(lab);
  } catch (e) {
    failed = true;
    const dump = ctx.procs.map((p) => `----- ${p.label} (last lines) -----\n${p.logs(60)}`).join('\n');
    ctx.procs.forEach((p, i) => writeFileSync(join(ctx.dir, `${i}-${p.label.replace(/\W+/g, '-')}.log`), p.logs(Infinity) + '\n'));
    console.error(`\nwithLab: failure; artifacts (configs, pcaps, full logs) kept in ${ctx.dir}\n${dump}\n`);
    if (e instanceof Error) e.message += `\n(artifacts kept in ${ctx.dir})`;
    throw e;
  } finally {
    // kill9() first: for keepalived it also kills the VRRP child, which lab.destroy() does not know.
    await Promise.all(ctx.procs.map((p) => p.kill9()));
    await lab.destroy(); // SIGKILLs every other child spawned through lab.spawn (tcpdump…)
    for (const fn of ctx.cleanups.reverse()) {
      try {
        await fn();
      } catch (e) {
        console.error('withLab cleanup:', e);
      }
    }
    if (!failed && !process.env.KEEP_NETNS_ARTIFACTS) rmSync(ctx.dir, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------------------------
// Our agent

/**
 * The `reason` of our agent's BACKUP → MASTER transition log line (src/vrrp/fsm.ts): after a
 * priority-0 advert (the master left; Master_Down_Timer cut to Skew_Time), and after the
 * Master_Down_Timer ran out with no advert at all (the master died).
 */
export const TAKEOVER_REASON = { priorityZero: 'master-sent-priority-0', masterDown: 'master-down-timer' } as const;

/** The reason our agent gave for its latest transition into `state` (undefined if none). */
export function reasonOf(h: Watched, state: VrrpState, instance = 'VI_1'): unknown {
  return h.transitions(instance).filter((e) => e.to === state).at(-1)?.reason;
}

/** The VRRP settings of one instance, shared by agentConfig() and keepalived.ts so both sides match. */
export interface VrrpParams {
  version: 2 | 3;
  vrid: number;
  priority: number;
  /** Seconds (v2: whole seconds). */
  advertInterval: number;
  preempt?: boolean;
  preemptDelay?: number;
  unicast?: { source: string; peers: string[] };
  auth?: { type: 'pass'; password: string };
  vips: string[];
  garp?: { repeat: number; delay: number };
}

/** A one-instance (VI_1) agent config from VrrpParams. */
export function agentConfig(p: VrrpParams, instanceName = 'VI_1'): AgentConfig {
  const inst: Record<string, unknown> = {
    interface: 'eth0',
    vrid: p.vrid,
    priority: p.priority,
    version: p.version,
    advertInterval: p.advertInterval,
    preempt: p.preempt ?? true,
    preemptDelay: p.preemptDelay ?? 0,
    vips: p.vips,
    provider: { type: 'garp' },
    garp: p.garp ?? { repeat: 5, delay: 5 },
  };
  if (p.unicast) inst.unicast = p.unicast;
  if (p.auth) inst.auth = p.auth;
  return { log: { level: 'debug' }, status: { listen: '127.0.0.1:9721' }, instances: { [instanceName]: inst } };
}

/** Unicast settings for `self` talking to `peers` (node names). */
export function unicastBetween(lab: Lab, self: string, peers: string[]): { source: string; peers: string[] } {
  return { source: lab.node(self).ip, peers: peers.map((p) => lab.node(p).ip) };
}

/** The compiled CLI, resolved from the repo root (process.cwd()); HA_AGENT_CLI overrides. */
export function agentCli(): string {
  return process.env.HA_AGENT_CLI ?? join(process.cwd(), 'dist', 'src', 'cli.js');
}

/**
 * Writes `config` as YAML into the lab's temp dir and starts `node dist/src/cli.js run --config FILE`
 * inside the node's namespace (behind `wrapper`, e.g. setpriv, if given; with `env` as its whole
 * environment if given, else this process's). Does not wait for readiness.
 */
export function startAgent(lab: Lab, nodeName: string, config: AgentConfig, wrapper?: string[], env?: NodeJS.ProcessEnv): AgentHandle {
  const ctx = ctxOf(lab);
  const file = join(ctx.dir, `agent-${nodeName}-${ctx.procs.length}.yaml`);
  const h = spawnAgent(lab, nodeName, config, file, { cli: agentCli(), ...(wrapper ? { wrapper } : {}), ...(env ? { env } : {}) });
  ctx.procs.push(h);
  // No test writes host paths: the agent's pid file is in this lab's temp dir (src/lab/host-paths.ts).
  const pidFile = h.proc.spawnargs[h.proc.spawnargs.indexOf('--pid-file') + 1];
  if (pidFile !== `${file}.pid` || !pidFile.startsWith(`${ctx.dir}/`)) throw new Error(`harness: the agent's --pid-file is ${pidFile}, not in the lab's dir ${ctx.dir}`);
  return h;
}

/** Registers an externally built Watched (keepalived.ts) with the lab, for cleanup and failure dumps. */
export function adoptProcess(lab: Lab, w: Watched): void {
  ctxOf(lab).procs.push(w);
}

// ---------------------------------------------------------------------------------------------
// Questions about the network

/** The address part of "a.b.c.d/len". */
export function addrOf(vip: string): string {
  return vip.split('/')[0] ?? vip;
}

/** Names of the nodes that have `vip` configured on eth0. */
export function vipHolder(lab: Lab, vip: string): Promise<string[]> {
  return lab.holdersOf(vip);
}

/** Waits until exactly `nodes` (in any order) hold `vip`; throws with the last holders otherwise. */
export async function waitVipHolders(lab: Lab, vip: string, nodes: string[], timeoutMs = 10_000): Promise<string[]> {
  const want = [...nodes].sort().join(',');
  return eventually(() => vipHolder(lab, vip), (h) => [...h].sort().join(',') === want, timeoutMs, `VIP ${vip} held by exactly [${want}]`);
}

/** Waits until `node` is among the holders of `vip` (others may still have a stale copy). */
export async function waitVipOn(lab: Lab, vip: string, node: string, timeoutMs = 10_000): Promise<string[]> {
  return eventually(() => vipHolder(lab, vip), (h) => h.includes(node), timeoutMs, `VIP ${vip} on ${node}`);
}

/** Which node a client reaches for `vip`: forget the neighbour entry, resolve by ARP, map MAC → node. */
export function clientSees(lab: Lab, client: string, vip: string): Promise<string | null> {
  return lab.whoAnswers(client, addrOf(vip));
}

/**
 * Which node the client's existing neighbour entry for `vip` points at, without asking the network
 * (no flush, no ping): shows whether gratuitous ARP updated a client that already talked to the VIP.
 */
export async function clientNeighbour(lab: Lab, client: string, vip: string): Promise<string | null> {
  const r = await lab.exec(client, ['ip', '-j', 'neigh', 'show', addrOf(vip)]);
  const entries = JSON.parse(r.stdout || '[]') as { lladdr?: string }[];
  return lab.nodeByMac(entries.find((e) => e.lladdr)?.lladdr ?? null);
}

/**
 * Polls check() until it returns a value that ok() accepts, or throws after timeoutMs with the last
 * value seen. For conditions with no log event (VIP on an interface, a client's neighbour table).
 */
export async function eventually<T>(check: () => Promise<T>, ok: (v: T) => boolean, timeoutMs = 10_000, what = 'condition', everyMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: T | undefined;
  for (;;) {
    last = await check();
    if (ok(last)) return last;
    if (Date.now() > deadline) throw new Error(`${what}: not reached within ${timeoutMs} ms (last: ${JSON.stringify(last)})`);
    await sleep(everyMs);
  }
}

/**
 * Waits until every process is in its expected state and none has changed state for quietMs: an
 * election has settled. Start-up races (a lower priority whose timer fires first, then yields) are
 * legitimate VRRP and are tolerated; flapping is not, and times out with the transitions seen.
 */
export async function settle(expect: [Watched, VrrpState][], quietMs: number, timeoutMs = 20_000, instance = 'VI_1'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const inPlace = expect.every(([p, s]) => p.state(instance) === s);
    const lastChange = Math.max(0, ...expect.map(([p]) => p.transitions(instance).at(-1)?.at ?? 0));
    if (inPlace && Date.now() - lastChange >= quietMs) return;
    for (const [p] of expect) if (p.exit) throw new Error(`${p.label}: exited (${fmtExit(p.exit)}) while the election settled\n${p.logs(40)}`);
    if (Date.now() > deadline) {
      const seen = expect.map(([p, s]) => `${p.label} (want ${s}): ${p.transitions(instance).map((e) => e.to).join(' → ') || 'no transition'}`);
      throw new Error(`election did not settle within ${timeoutMs} ms:\n  ${seen.join('\n  ')}`);
    }
    await sleep(50);
  }
}

/**
 * Lets `ms` pass and throws if any of the processes changed state meanwhile (elections must settle,
 * not flap). Returns nothing; the thrown error names who moved and how.
 */
export async function expectSteady(procs: Watched[], ms: number, instance = 'VI_1'): Promise<void> {
  const marks = procs.map((p) => p.mark());
  await sleep(ms);
  const moved = procs.flatMap((p, i) =>
    p.events.slice(marks[i]).filter((e) => e.evt === 'transition' && e.instance === instance).map((e) => `${p.label}: ${e.from ?? '?'} → ${e.to}`),
  );
  if (moved.length) throw new Error(`expected no state change for ${ms} ms, saw: ${moved.join('; ')}`);
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** VmRSS of a process in kB, from /proc (0 when it is gone). */
export function rssKb(pid: number): number {
  try {
    const s = readFileSync(`/proc/${pid}/status`, 'utf8');
    const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(s);
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}
