// Facts about the machine a benchmark ran on, for its report: cores, load average, node, kernel and
// keepalived versions. Read at the start and the end of a run (the load average twice).
import { readFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { cpus, release } from 'node:os';

export interface HostInfo {
  cpus: number;
  loadavgStart: string;
  loadavgEnd: string;
  node: string;
  kernel: string;
  keepalived: string;
}

/** `keepalived --version`'s version, or "unknown". */
export function keepalivedVersion(): string {
  const r = spawnSync('keepalived', ['--version'], { encoding: 'utf8' });
  return /Keepalived v(\S+)/.exec(`${r.stdout ?? ''}${r.stderr ?? ''}`)?.[1] ?? 'unknown';
}

/** The 1, 5 and 15 min load averages, "0.31 0.30 0.13". */
export const loadavg = (): string => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');

/** The host facts at the start of a run (loadavgEnd filled in at the end). */
export function hostInfo(): HostInfo {
  return { cpus: cpus().length, loadavgStart: loadavg(), loadavgEnd: '', node: process.version, kernel: release(), keepalived: keepalivedVersion() };
}
