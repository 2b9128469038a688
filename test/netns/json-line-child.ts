// The test side of a fixture child that runs inside a lab namespace and speaks JSON lines (the
// emulated clouds: fixtures/aws-cloud-child.ts, fixtures/alibaba-cloud-child.ts).
//
// Protocol: the child prints one line {"ready": true, ...} once it serves (start() resolves with it),
// then answers each command line {"id", "cmd", ...args} written to its stdin with
// {"id", "ok": true, "value"} or {"id", "ok": false, "error"}. The child serves those with
// serveJsonLines() (fixtures/json-lines.ts). Its stderr is kept for error messages.
import type { ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Lab } from '../../src/lab/lab.js';

interface Reply {
  id?: number;
  ok?: boolean;
  value?: unknown;
  error?: string;
  ready?: boolean;
}

const here = dirname(fileURLToPath(import.meta.url));
const runningTs = import.meta.url.endsWith('.ts');

export class JsonLineChild {
  private seq = 0;
  private readonly waiting = new Map<number, (r: Reply) => void>();
  private stderr = '';

  private constructor(
    private readonly proc: ChildProcess,
    private readonly label: string,
  ) {}

  /**
   * Runs `fixtures/<script>` (the .ts under tsx, else the compiled .js) with `arg` in `node`'s
   * namespace; resolves with the child and its ready line.
   */
  static async start<R extends object>(lab: Lab, node: string, script: string, arg: string, label: string): Promise<{ child: JsonLineChild; ready: R }> {
    const file = join(here, 'fixtures', runningTs ? `${script}.ts` : `${script}.js`);
    const pre = runningTs ? ['--import', import.meta.resolve('tsx')] : [];
    const proc = lab.spawn(node, [process.execPath, ...pre, file, arg], { stdio: ['pipe', 'pipe', 'pipe'] });
    const child = new JsonLineChild(proc, label);
    proc.stderr!.setEncoding('utf8').on('data', (d: string) => (child.stderr += d));
    const ready = await new Promise<Reply>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`${label} did not start: ${child.stderr}`)), 20_000);
      proc.once('exit', (code) => reject(new Error(`${label} exited (${code}): ${child.stderr}`)));
      createInterface({ input: proc.stdout! }).on('line', (line) => {
        const msg = JSON.parse(line) as Reply;
        if (msg.ready) {
          clearTimeout(t);
          return resolve(msg);
        }
        if (msg.id !== undefined) {
          child.waiting.get(msg.id)?.(msg);
          child.waiting.delete(msg.id);
        }
      });
    });
    return { child, ready: ready as R };
  }

  /** Sends a command; resolves with its value, rejects with the child's error. */
  async call<T = unknown>(cmd: string, extra: object = {}): Promise<T> {
    const id = ++this.seq;
    const reply = new Promise<Reply>((resolve, reject) => {
      this.waiting.set(id, resolve);
      const t = setTimeout(() => reject(new Error(`${this.label}: ${cmd} timed out; stderr: ${this.stderr}`)), 10_000);
      t.unref();
    });
    this.proc.stdin!.write(JSON.stringify({ id, cmd, ...extra }) + '\n');
    const r = await reply;
    if (!r.ok) throw new Error(`${this.label}: ${cmd} failed: ${r.error}`);
    return r.value as T;
  }

  /** Asks the child to exit ('exit' command), waits up to 3 s, then kills it. */
  async close(): Promise<void> {
    if (this.proc.exitCode !== null || this.proc.signalCode !== null) return;
    const gone = new Promise((resolve) => this.proc.once('exit', resolve));
    this.proc.stdin!.write(JSON.stringify({ id: ++this.seq, cmd: 'exit' }) + '\n');
    await Promise.race([gone, new Promise((resolve) => setTimeout(resolve, 3_000))]);
    if (this.proc.exitCode === null) this.proc.kill('SIGKILL');
  }
}
