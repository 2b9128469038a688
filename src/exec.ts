// Spawns a program with an argv array (never a shell string), with a deadline and an AbortSignal.
import { spawn } from 'node:child_process';

export interface ExecResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export class ExecError extends Error {
  constructor(
    message: string,
    readonly result: ExecResult | null,
  ) {
    super(message);
    this.name = 'ExecError';
  }
}

export interface ExecOptions {
  timeoutMs?: number;
  signal?: AbortSignal;
  input?: string;
  env?: NodeJS.ProcessEnv;
}

/** Runs argv[0] with argv[1..]; resolves with the result whatever the exit code. */
export function execFile(argv: readonly string[], opts: ExecOptions = {}): Promise<ExecResult> {
  const [cmd, ...args] = argv;
  if (!cmd) return Promise.reject(new ExecError('execFile: empty argv', null));
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'], env: opts.env ?? process.env });
    let stdout = '';
    let stderr = '';
    let settled = false;
    const finish = (err: Error | null, res?: ExecResult) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onAbort);
      if (err) reject(err);
      else resolve(res!);
    };
    const onAbort = () => {
      child.kill('SIGKILL');
      finish(new ExecError(`${cmd}: aborted`, null));
    };
    const timer = opts.timeoutMs
      ? setTimeout(() => {
          child.kill('SIGKILL');
          finish(new ExecError(`${cmd}: timed out after ${opts.timeoutMs} ms`, { code: null, signal: 'SIGKILL', stdout, stderr }));
        }, opts.timeoutMs)
      : undefined;
    if (opts.signal?.aborted) return onAbort();
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', (e: NodeJS.ErrnoException) =>
      finish(new ExecError(e.code === 'ENOENT' ? `${cmd}: not found (is it installed and on PATH?)` : `${cmd}: ${e.message}`, null)),
    );
    child.on('close', (code, signal) => finish(null, { code, signal, stdout, stderr }));
    child.stdin.on('error', () => {});
    child.stdin.end(opts.input ?? '');
  });
}

/** Like execFile, but rejects with the program's stderr when it exits non-zero. */
export async function run(argv: readonly string[], opts: ExecOptions = {}): Promise<string> {
  const r = await execFile(argv, opts);
  if (r.code !== 0) {
    const why = (r.stderr || r.stdout).trim().split('\n').slice(-3).join(' | ');
    throw new ExecError(`${argv.join(' ')} exited ${r.code ?? r.signal}: ${why}`, r);
  }
  return r.stdout;
}
