// The exec check (keepalived's vrrp_script): runs a program with an argv (no shell unless
// `shell: true`, then `/bin/sh -c` with the command joined by spaces), optionally as another user,
// in its own process group (detached), with stdin and stdout closed and stderr read (first line kept,
// at most 4 KiB read). Exit 0 is success; any other exit, a signal, or a failure to start is a
// failure. Aborting the run (its timeout) kills the whole process group with SIGKILL — keepalived
// sends SIGTERM then SIGKILL to the group; a hung check gets no grace here. The outcome keeps the exit
// code, the first line of stderr and the duration. A script that leaves a child holding stderr open
// does not keep the run going: 200 ms after the script itself exits, stderr is closed.
import { spawn } from 'node:child_process';
import type { Probe } from './probe.js';
import { errText, since } from './probe.js';
import type { RunOutcome } from './step.js';

export interface ExecSpec {
  command: readonly string[];
  shell: boolean;
  /** Run as this uid/gid (resolved from `user` at start-up, see security.ts). */
  uid?: number;
  gid?: number;
}

const STDERR_MAX = 4096;
const STDIO_GRACE_MS = 200;

export function execProbe(spec: ExecSpec): Probe {
  const [file, args] = spec.shell ? ['/bin/sh', ['-c', spec.command.join(' ')]] : [spec.command[0]!, spec.command.slice(1)];
  return {
    run: (signal) =>
      new Promise<RunOutcome>((resolve) => {
        const t0 = performance.now();
        let stderr = '';
        let killed = false;
        let settled = false;
        let grace: NodeJS.Timeout | undefined;
        const finish = (o: Omit<RunOutcome, 'durationMs' | 'stderr'>) => {
          if (settled) return;
          settled = true;
          clearTimeout(grace);
          signal.removeEventListener('abort', onAbort);
          const line = stderr.split('\n').find((l) => l.trim() !== '')?.trim() ?? '';
          const detail = line && !o.ok ? `${o.detail}: ${line}` : o.detail;
          resolve({ ...o, detail, durationMs: since(t0), ...(line ? { stderr: line } : {}) });
        };
        let child: ReturnType<typeof spawn>;
        try {
          child = spawn(file, args, {
            detached: true,
            stdio: ['ignore', 'ignore', 'pipe'],
            ...(spec.uid !== undefined ? { uid: spec.uid } : {}),
            ...(spec.gid !== undefined ? { gid: spec.gid } : {}),
          });
        } catch (e) {
          return finish({ ok: false, detail: `cannot run ${file}: ${errText(e)}`, exitCode: null });
        }
        const killGroup = () => {
          if (child.pid === undefined) return;
          try {
            process.kill(-child.pid, 'SIGKILL');
          } catch {
            /* the group is gone already */
          }
        };
        const onAbort = () => {
          killed = true;
          killGroup();
        };
        if (signal.aborted) onAbort();
        else signal.addEventListener('abort', onAbort, { once: true });
        child.stderr!.setEncoding('utf8');
        child.stderr!.on('data', (d: string) => {
          if (stderr.length < STDERR_MAX) stderr += d.slice(0, STDERR_MAX - stderr.length);
        });
        child.stderr!.on('error', () => {});
        child.on('error', (e) => finish({ ok: false, detail: `cannot run ${file}: ${errText(e)}`, exitCode: null }));
        let exit: { code: number | null; sig: NodeJS.Signals | null } | null = null;
        const report = () => {
          if (!exit) return;
          const { code, sig } = exit;
          if (killed) return finish({ ok: false, detail: 'killed at its timeout', exitCode: code });
          if (sig) return finish({ ok: false, detail: `killed by ${sig}`, exitCode: null });
          finish({ ok: code === 0, detail: `exit ${code}`, exitCode: code });
        };
        child.on('exit', (code, sig) => {
          exit = { code, sig };
          grace = setTimeout(() => {
            child.stderr?.destroy();
            report();
          }, STDIO_GRACE_MS);
        });
        child.on('close', () => report());
      }),
  };
}
