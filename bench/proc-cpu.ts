// CPU time and memory of a process tree, read from /proc (Linux only), for bench/cost.ts.
//
// A daemon's cost is its whole process tree: keepalived forks a VRRP child, our agent spawns `ip`
// and `arping`. treeCpu() sums, over the root and every live descendant, utime + stime (the process
// itself, all its threads) + cutime + cstime (children it has already reaped). The sum only grows:
// a child's time moves into its parent's cutime/cstime when it is reaped, so the difference of two
// samples counts every process that ran in between, short-lived or not, exactly once (except a child
// reaped by nobody in the tree, e.g. after a re-parenting to init, whose time is lost; neither
// daemon does that in steady state).
import { readdirSync, readFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';

let tck: number | undefined;

/** Clock ticks per second (USER_HZ) of /proc/<pid>/stat times; `getconf CLK_TCK`, 100 if unknown. */
export function clockTicks(): number {
  if (tck === undefined) {
    const r = spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' });
    const n = Number((r.stdout ?? '').trim());
    tck = Number.isInteger(n) && n > 0 ? n : 100;
  }
  return tck;
}

/** utime, stime, cutime, cstime of one process in ticks, or null when it is gone. */
export function procTimes(pid: number): { self: number; children: number } | null {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null;
  }
  // "pid (comm) state ppid …": comm may hold spaces and parentheses; fields resume after the last ')'.
  const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
  // rest[0] is field 3 (state); utime, stime, cutime, cstime are fields 14–17.
  const f = (i: number) => Number(rest[i - 3] ?? 0);
  return { self: f(14) + f(15), children: f(16) + f(17) };
}

/** The live descendants of `root` (children of any of its threads, recursively), root not included. */
export function descendants(root: number): number[] {
  const out: number[] = [];
  const queue = [root];
  while (queue.length) {
    const pid = queue.shift()!;
    let tids: string[];
    try {
      tids = readdirSync(`/proc/${pid}/task`);
    } catch {
      continue;
    }
    for (const tid of tids) {
      let kids: string;
      try {
        kids = readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8');
      } catch {
        continue;
      }
      for (const k of kids.split(/\s+/).filter(Boolean).map(Number)) {
        if (!out.includes(k)) {
          out.push(k);
          queue.push(k);
        }
      }
    }
  }
  return out;
}

export interface TreeCpu {
  /** Ticks of the whole tree: every live process's own time plus the time of the children it reaped. */
  tree: number;
  /** Ticks of the root process alone (its own threads). */
  root: number;
  /** The processes that were alive, root first. */
  pids: number[];
}

/** One sample of a process tree's CPU time. */
export function treeCpu(root: number): TreeCpu {
  const pids = [root, ...descendants(root)];
  let tree = 0;
  let rootTicks = 0;
  for (const pid of pids) {
    const t = procTimes(pid);
    if (!t) continue;
    tree += t.self + t.children;
    if (pid === root) rootTicks = t.self;
  }
  return { tree, root: rootTicks, pids };
}

/** CPU between two samples taken `seconds` apart, as % of one core. */
export function cpuPercent(before: number, after: number, seconds: number): number {
  return seconds > 0 ? ((after - before) / clockTicks() / seconds) * 100 : NaN;
}

/** SIGKILLs a process tree, children first (best effort, synchronous: usable from a signal handler). */
export function killTree(root: number): void {
  for (const pid of [...descendants(root).reverse(), root]) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
}
