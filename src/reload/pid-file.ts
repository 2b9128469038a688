// The pid file `ha-agent run` writes (keepalived-style, default /run/ha-agent.pid) so that
// `ha-agent reload` can find the running agent and send it SIGHUP. Contract: written atomically
// (temporary file + rename) as "<pid>\n"; removed at a clean stop only while it still names this
// process (a second agent may have taken it over); failures to write are the caller's to log, never
// fatal. readPidFile() says precisely what is wrong with a missing, malformed or stale file.
import { readFileSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';

export const DEFAULT_PID_FILE = '/run/ha-agent.pid';

export function writePidFile(path: string, pid: number = process.pid): void {
  const tmp = `${path}.${pid}.tmp`;
  writeFileSync(tmp, `${pid}\n`, { mode: 0o644 });
  try {
    renameSync(tmp, path);
  } catch (e) {
    try {
      unlinkSync(tmp);
    } catch {
      /* gone already */
    }
    throw e;
  }
}

/** Removes the file if it still names `pid`. */
export function removePidFile(path: string, pid: number = process.pid): void {
  try {
    if (readFileSync(path, 'utf8').trim() === String(pid)) unlinkSync(path);
  } catch {
    /* not there, or not ours */
  }
}

export type PidLookup = { ok: true; pid: number } | { ok: false; error: string };

/** The live process the pid file names, or why there is none (with what to do). */
export function readPidFile(path: string): PidLookup {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return { ok: false, error: `no pid file at ${path}: is \`ha-agent run\` running? (its --pid-file must match this one)` };
    return { ok: false, error: `cannot read ${path}: ${(e as Error).message}` };
  }
  const pid = Number(text.trim());
  if (!Number.isInteger(pid) || pid <= 1) return { ok: false, error: `${path} does not hold a process id (${JSON.stringify(text.trim().slice(0, 20))})` };
  try {
    process.kill(pid, 0);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ESRCH') return { ok: false, error: `${path} names pid ${pid}, which is not running (a stale pid file: the agent died without removing it)` };
    if ((e as NodeJS.ErrnoException).code === 'EPERM') return { ok: false, error: `not allowed to signal pid ${pid} from ${path}: run as root (or as the agent's user)` };
  }
  // A recycled pid must not get a SIGHUP meant for the agent (it kills most programs).
  try {
    const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    if (!/ha-agent|cli\.js/.test(cmd)) return { ok: false, error: `${path} names pid ${pid}, which is not ha-agent (${cmd.split('\0').join(' ').trim().slice(0, 60)}): a stale pid file` };
  } catch {
    /* no /proc: trust the file */
  }
  return { ok: true, pid };
}
