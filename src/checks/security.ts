// Start-up checks of exec checks, as keepalived's script security (enable_script_security,
// keepalived/core/notify.c check_script_secure): a script that would run as root must not be
// modifiable by anyone but root — the file and every directory above it must be owned by root and
// not writable by a non-root group or by others (a world-writable directory with the sticky bit,
// such as /tmp, is fine: others cannot replace root's entries in it). Symlinks are followed (the
// real path is checked, and so are the links' own directories). The program is looked up in PATH
// when it has no '/'. `user:` is resolved from /etc/passwd (a name or a numeric uid).
import { readFileSync, realpathSync, statSync, accessSync, constants } from 'node:fs';
import { dirname, resolve, join } from 'node:path';

export interface RunAs {
  uid: number;
  gid: number;
  name: string;
}

/** `user` as uid/gid from /etc/passwd; throws an Error with the fix. */
export function resolveUser(user: string, passwd = '/etc/passwd'): RunAs {
  let text = '';
  try {
    text = readFileSync(passwd, 'utf8');
  } catch {
    /* an empty table: reported below */
  }
  for (const line of text.split('\n')) {
    const [name, , uid, gid] = line.split(':');
    if (name === undefined || uid === undefined || gid === undefined) continue;
    if (name === user || (/^[0-9]+$/.test(user) && uid === user)) return { name, uid: Number(uid), gid: Number(gid) };
  }
  throw new Error(`user "${user}" is not in ${passwd} — fix: create the user, or name an existing one`);
}

/** The program an argv runs: argv[0] looked up in PATH when it has no '/'; null when not found. */
export function findProgram(argv0: string, path = process.env['PATH'] ?? '/usr/sbin:/usr/bin:/sbin:/bin'): string | null {
  if (argv0.includes('/')) return resolve(argv0);
  for (const dir of path.split(':')) {
    if (!dir) continue;
    const p = join(dir, argv0);
    try {
      accessSync(p, constants.X_OK);
      if (statSync(p).isFile()) return p;
    } catch {
      /* next */
    }
  }
  return null;
}

/** Why a non-root user could modify `file` (or a directory above it), or null when only root can. */
export function writableByNonRoot(file: string): string | null {
  const seen = new Set<string>();
  const check = (p: string, isFile: boolean): string | null => {
    if (seen.has(p)) return null;
    seen.add(p);
    const st = statSync(p);
    const what = isFile ? p : `directory ${p}`;
    if (st.uid !== 0) return `${what} is owned by uid ${st.uid}`;
    const sticky = !isFile && (st.mode & 0o1000) !== 0;
    if (st.mode & 0o020 && st.gid !== 0) return `${what} is writable by group ${st.gid}`;
    if (st.mode & 0o002 && !sticky) return `${what} is writable by everyone`;
    return null;
  };
  // The path as written (its links' directories), then the real path.
  const chains = [resolve(file), realpathSync(file)];
  for (const start of chains) {
    let p = start;
    let isFile = true;
    for (;;) {
      const bad = check(p, isFile);
      if (bad) return bad;
      const up = dirname(p);
      if (up === p) break;
      p = up;
      isFile = false;
    }
  }
  return null;
}

/**
 * Why an exec check must not run, or null. Checked at start-up: the program must exist, and when it
 * would run as root, no non-root user may be able to modify it.
 */
export function execProblem(command: readonly string[], shell: boolean, runAsUid: number): string | null {
  const argv0 = shell ? (command.join(' ').trim().split(/\s+/)[0] ?? '') : (command[0] ?? '');
  const program = findProgram(argv0);
  if (program === null) {
    if (shell) return null; // a shell builtin or a word the shell resolves
    return `${argv0} is not found${argv0.includes('/') ? '' : ' in PATH'} — fix: write the full path of an executable`;
  }
  try {
    statSync(program);
  } catch {
    return shell ? null : `${program} does not exist — fix: write the full path of an executable`;
  }
  if (runAsUid !== 0) return null;
  const bad = writableByNonRoot(program);
  return bad
    ? `refusing to run ${program} as root: ${bad}, so a non-root user could change what root runs (keepalived's script security) — fix: make it and every directory above it owned by root and not writable by others (chown root:root, chmod go-w), or set user: to a non-root user`
    : null;
}
