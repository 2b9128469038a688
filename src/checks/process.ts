// The in-process process check (keepalived's vrrp_track_process, without quorum): success when at
// least one process of that name is alive, read from /proc (no fork, no `pidof`/`killall -0`). A
// name of up to 15 characters is compared with /proc/PID/comm (the kernel's name, cut at 15); a
// longer name, or one with a '/', is compared with the first word of /proc/PID/cmdline (the full path
// when it has a '/', else its last path component). Processes that vanish mid-scan are skipped.
import { readdir, readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import type { Probe } from './probe.js';
import { errText, since } from './probe.js';
import type { RunOutcome } from './step.js';

const COMM_MAX = 15;

export function processProbe(name: string, procRoot = '/proc'): Probe {
  const byCmdline = name.includes('/') || name.length > COMM_MAX;
  const matches = async (pid: string): Promise<boolean> => {
    try {
      if (!byCmdline) return (await readFile(`${procRoot}/${pid}/comm`, 'utf8')).trimEnd() === name;
      const argv0 = (await readFile(`${procRoot}/${pid}/cmdline`, 'utf8')).split('\0')[0] ?? '';
      return name.includes('/') ? argv0 === name : basename(argv0) === name;
    } catch {
      return false;
    }
  };
  return {
    run: async (signal): Promise<RunOutcome> => {
      const t0 = performance.now();
      let pids: string[];
      try {
        pids = (await readdir(procRoot)).filter((e) => /^[0-9]+$/.test(e));
      } catch (e) {
        return { ok: false, detail: `cannot read ${procRoot}: ${errText(e)}`, durationMs: since(t0) };
      }
      let found = 0;
      // In slices, so a scan of thousands of processes neither opens them all at once nor outlives its abort.
      for (let i = 0; i < pids.length && !signal.aborted; i += 64) {
        const hits = await Promise.all(pids.slice(i, i + 64).map(matches));
        found += hits.filter(Boolean).length;
      }
      if (signal.aborted) return { ok: false, detail: 'aborted', durationMs: since(t0) };
      return { ok: found > 0, detail: found > 0 ? `${found} process${found === 1 ? '' : 'es'} named ${name}` : `no process named ${name}`, durationMs: since(t0) };
    },
  };
}
