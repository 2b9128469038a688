// What a benchmark report says about the machine it ran on (cores, load average, node, kernel, the
// keepalived it was compared with) and the header every results.json starts with. Shared by `npm run
// bench` (bench/run.ts), `npm run chaos` (bench/chaos/run.ts) and `npm run fuzz` (bench/fuzz/run.ts).
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus, release } from 'node:os';

/** "1.02 0.87 0.55": the 1, 5 and 15 minute load averages. */
export const loadavg = (): string => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');

/** keepalived's version ("2.2.7"), or "unknown". */
export function keepalivedVersion(): string {
  const r = spawnSync('keepalived', ['--version'], { encoding: 'utf8' });
  return /Keepalived v(\S+)/.exec(`${r.stdout ?? ''}${r.stderr ?? ''}`)?.[1] ?? 'unknown';
}

/** The machine as the reports print it; loadavgEnd is filled in when the run ends. */
export interface HostFacts {
  cpus: number;
  loadavgStart: string;
  loadavgEnd: string;
  node: string;
  kernel: string;
  keepalived: string;
}

export function hostFacts(): HostFacts {
  return { cpus: cpus().length, loadavgStart: loadavg(), loadavgEnd: '', node: process.version, kernel: release(), keepalived: keepalivedVersion() };
}

/** The fields every results.json starts with (bench, chaos, fuzz); finishedAt is filled in at the end. */
export interface ResultsHeader {
  date: string;
  startedAt: string;
  finishedAt: string;
  quick: boolean;
  host: HostFacts;
  /** Parts run again later into the same directory (--only): the header above stays the first run's. */
  reruns?: Rerun[];
}

/** One later run of some parts (finishedAt and loadavgEnd are filled in when it ends). */
export interface Rerun {
  parts: string[];
  startedAt: string;
  finishedAt: string;
  loadavgStart: string;
  loadavgEnd: string;
}

/**
 * The header of this run's results: a fresh one; or, when some parts run into a directory that has
 * results of the same kind (`earlier`), that run's header with this one appended to its reruns, so
 * the report still says when and under what load the parts it kept were measured.
 */
export function resultsHeader(started: Date, quick: boolean, earlier: ResultsHeader | null = null, parts: readonly string[] = []): ResultsHeader {
  if (earlier && earlier.quick === quick && earlier.startedAt) {
    const rerun: Rerun = { parts: [...parts], startedAt: started.toISOString(), finishedAt: '', loadavgStart: loadavg(), loadavgEnd: '' };
    const { date, startedAt, finishedAt, host } = earlier;
    return { date, startedAt, finishedAt, quick, host, reruns: [...(earlier.reruns ?? []), rerun] };
  }
  return { date: started.toISOString().slice(0, 10), startedAt: started.toISOString(), finishedAt: '', quick, host: hostFacts() };
}

/** The sentence the reports add after "Started …, finished …" when parts were run again ('' when none). */
export function rerunsText(r: ResultsHeader): string {
  if (!r.reruns?.length) return '';
  const one = (x: Rerun) => `${x.parts.join(', ')} at ${x.startedAt}–${x.finishedAt} (load average ${x.loadavgStart} → ${x.loadavgEnd})`;
  return ` Run again later, on the code of then: ${r.reruns.map(one).join('; ')}; the other parts are from the first run.`;
}
