// An ha-agent process running inside a lab namespace, watched through its JSON log lines.
// Used by the demo (and the netns tests): start it, wait for transitions, signal it.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import type { ChildProcess } from 'node:child_process';
import { stringify } from 'yaml';
import type { Lab } from './lab.js';

export type LogEvent = Record<string, unknown> & { evt?: string; time?: string };

/** dist/src/cli.js (or src/cli.ts under tsx) next to this file's folder. */
export function agentCliPath(): string {
  const here = fileURLToPath(import.meta.url);
  return join(here, '..', '..', here.endsWith('.ts') ? 'cli.ts' : 'cli.js');
}

export class LabAgent {
  readonly events: LogEvent[] = [];
  readonly stderr: string[] = [];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private readonly waiters = new Set<() => void>();
  private readonly dir: string;

  private constructor(
    readonly node: string,
    readonly proc: ChildProcess,
    dir: string,
  ) {
    this.dir = dir;
    this.exited = new Promise((resolve) => {
      proc.once('exit', (code, signal) => {
        rmSync(dir, { recursive: true, force: true });
        resolve({ code, signal });
        this.wake();
      });
    });
    createInterface({ input: proc.stdout! }).on('line', (line) => {
      try {
        const ev = JSON.parse(line) as LogEvent;
        ev.receivedAt = performance.now();
        this.events.push(ev);
      } catch {
        this.stderr.push(line);
      }
      this.wake();
    });
    createInterface({ input: proc.stderr! }).on('line', (line) => this.stderr.push(line));
  }

  /** Starts `ha-agent run` with `config` (an object, written as YAML) inside `node`'s namespace. */
  static start(lab: Lab, node: string, config: object, extraArgs: string[] = []): LabAgent {
    const dir = mkdtempSync(join(tmpdir(), `ha-agent-${node}-`));
    const file = join(dir, 'config.yaml');
    writeFileSync(file, stringify(config));
    const cli = agentCliPath();
    const nodeArgs = cli.endsWith('.ts') ? ['--import', 'tsx', cli] : [cli];
    const proc = lab.spawn(node, [process.execPath, ...nodeArgs, 'run', '--config', file, ...extraArgs]);
    return new LabAgent(node, proc, dir);
  }

  private wake(): void {
    for (const w of [...this.waiters]) w();
  }

  get running(): boolean {
    return this.proc.exitCode === null && this.proc.signalCode === null;
  }

  /** Resolves with the first event (already seen or future) that matches; rejects after timeoutMs. */
  waitFor(pred: (e: LogEvent) => boolean, timeoutMs: number, what = 'event'): Promise<LogEvent> {
    return new Promise((resolve, reject) => {
      let seen = 0;
      const check = () => {
        for (; seen < this.events.length; seen++) {
          const e = this.events[seen]!;
          if (pred(e)) return done(null, e);
        }
        if (!this.running) return done(new Error(`${this.node}: agent exited while waiting for ${what}; stderr: ${this.stderr.slice(-5).join(' | ')}`));
      };
      const timer = setTimeout(() => done(new Error(`${this.node}: no ${what} within ${timeoutMs} ms`)), timeoutMs);
      const done = (err: Error | null, e?: LogEvent) => {
        clearTimeout(timer);
        this.waiters.delete(check);
        if (err) reject(err);
        else resolve(e!);
      };
      this.waiters.add(check);
      check();
    });
  }

  /** Waits for a transition of `instance` into `state` that happens after event index `after`. */
  waitState(instance: string, state: string, timeoutMs: number, after = 0): Promise<LogEvent> {
    let i = 0;
    return this.waitFor((e) => i++ >= after && e.evt === 'transition' && e.instance === instance && e.to === state, timeoutMs, `${instance} → ${state}`);
  }

  /** The state of `instance` as its last transition says (INIT before any). */
  state(instance: string): string {
    for (let i = this.events.length - 1; i >= 0; i--) {
      const e = this.events[i]!;
      if (e.evt === 'transition' && e.instance === instance) return String(e.to);
    }
    return 'INIT';
  }

  signal(sig: NodeJS.Signals): void {
    if (this.running) this.proc.kill(sig);
  }
}
