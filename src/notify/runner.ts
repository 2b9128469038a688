// The notify queue's driver: carries out queue.ts's effects with real processes and a Clock. Contract:
// - spawn: argv only (never a shell), detached into its own process group (so a timeout kills the
//   script AND what it started), stdin/stdout ignored, stderr kept (first 4 KiB; its first line is
//   reported). A hook is done when its own process exits; what it left running in the background is
//   left alone (as keepalived does), unless the hook itself timed out (then the group is killed). Spawning is asynchronous: run() returns at once and never blocks the event loop.
// - kill: SIGKILL to the process group.
// - Every finished job is logged (ok at info, anything else at warn/error with exit code, signal and
//   the first stderr line) and counted (NotifyCounters, shown in /status and /metrics).
// - drain(deadlineMs): resolves when the queue is idle, or at the deadline after killing what runs
//   (the shutdown path: notify `stop` is bounded by the agent's shutdown deadline).
import { spawn, type ChildProcess } from 'node:child_process';
import type { Logger } from 'pino';
import type { Clock } from '../provider/runner/clock.js';
import { idle, initialQueue, step, type JobResult, type NotifyJob, type Outcome, type QueueEffect, type QueueEvent, type QueueState } from './queue.js';

const STDERR_KEEP = 4096;
/** After the hook exits, how long its stderr may still be read. */
const STDERR_LINGER_MS = 100;

export interface NotifyCounters {
  ok: number;
  failed: number;
  timeout: number;
  spawnError: number;
  dropped: number;
}

export interface NotifyStatus {
  counters: NotifyCounters;
  /** Queued, not started yet. */
  queued: number;
  /** The hook running now, or null. */
  running: string | null;
  /** The last finished run. */
  last: { hook: string; outcome: Outcome; code: number | null; signal: string | null; stderr: string; durationMs: number } | null;
}

/** Spawns a job; tests replace it. Must call `exit` or `error` exactly once, asynchronously. */
export type Spawner = (job: NotifyJob, cb: { exit(code: number | null, signal: string | null, stderr: string): void; error(message: string): void }) => { kill(): void };

export const processSpawner: Spawner = (job, cb) => {
  let child: ChildProcess;
  let stderr = '';
  let done = false;
  try {
    child = spawn(job.argv[0]!, job.argv.slice(1), { detached: true, stdio: ['ignore', 'ignore', 'pipe'], env: job.env });
  } catch (e) {
    setImmediate(() => cb.error((e as Error).message));
    return { kill() {} };
  }
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (d: string) => {
    if (stderr.length < STDERR_KEEP) stderr += d.slice(0, STDERR_KEEP - stderr.length);
  });
  child.on('error', (e) => {
    if (done) return;
    done = true;
    cb.error(e.message);
  });
  // Done when the hook itself exits ('exit', not 'close': something it started in the background may
  // keep stderr open for hours, and is not ours to wait for). What it wrote to stderr just before is
  // read until the pipe ends, at most STDERR_LINGER_MS later.
  child.on('exit', (code, signal) => {
    if (done) return;
    done = true;
    const report = () => {
      clearTimeout(linger);
      child.stderr?.destroy();
      cb.exit(code, signal, stderr);
    };
    const linger = setTimeout(report, STDERR_LINGER_MS);
    if (!child.stderr || child.stderr.readableEnded) report();
    else child.stderr.once('end', report);
  });
  return {
    kill() {
      if (child.pid === undefined) return;
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        try {
          child.kill('SIGKILL');
        } catch {
          /* gone */
        }
      }
    },
  };
};

export class NotifyRunner {
  private state: QueueState = initialQueue();
  private readonly procs = new Map<number, { kill(): void }>();
  private timer: unknown = null;
  private readonly events: QueueEvent[] = [];
  private busy = false;
  private waiters: (() => void)[] = [];
  readonly counters: NotifyCounters = { ok: 0, failed: 0, timeout: 0, spawnError: 0, dropped: 0 };
  private last: NotifyStatus['last'] = null;

  constructor(
    private readonly label: string,
    private readonly clock: Clock,
    private readonly log: Logger,
    private readonly spawner: Spawner = processSpawner,
  ) {}

  /** Queues one job; returns at once. */
  run(job: NotifyJob): void {
    this.dispatch({ type: 'enqueue', job });
  }

  status(): NotifyStatus {
    return { counters: { ...this.counters }, queued: this.state.pending.length, running: this.state.running?.job.hook ?? null, last: this.last };
  }

  /** Resolves when nothing runs or waits; at `deadlineMs`, kills what runs and drops the rest. */
  drain(deadlineMs: number): Promise<void> {
    if (idle(this.state)) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const t = this.clock.setTimeout(() => {
        this.dispatch({ type: 'cutoff' });
        finish();
      }, deadlineMs);
      const finish = () => {
        this.clock.clearTimeout(t);
        this.waiters = this.waiters.filter((w) => w !== finish);
        resolve();
      };
      this.waiters.push(finish);
    });
  }

  private dispatch(ev: QueueEvent): void {
    this.events.push(ev);
    if (this.busy) return; // an effect fed an event back: handled by the loop below, in order
    this.busy = true;
    try {
      for (let e = this.events.shift(); e; e = this.events.shift()) {
        const r = step(this.state, e, this.clock.now());
        this.state = r.state;
        for (const fx of r.effects) this.perform(fx);
      }
    } finally {
      this.busy = false;
    }
    if (idle(this.state)) for (const w of [...this.waiters]) w();
  }

  private perform(fx: QueueEffect): void {
    switch (fx.type) {
      case 'spawn': {
        const id = fx.id;
        this.log.info({ evt: 'notify-start', notify: this.label, hook: fx.job.hook, argv: fx.job.argv }, `notify ${this.label} ${fx.job.hook}: ${fx.job.argv.join(' ')}`);
        const p = this.spawner(fx.job, {
          exit: (code, signal, stderr) => this.dispatch({ type: 'exit', id, code, signal, stderr }),
          error: (message) => this.dispatch({ type: 'spawn-error', id, error: message }),
        });
        this.procs.set(id, p);
        break;
      }
      case 'kill':
        this.procs.get(fx.id)?.kill();
        break;
      case 'arm':
        this.clock.clearTimeout(this.timer);
        this.timer = fx.at === null ? null : this.clock.setTimeout(() => this.dispatch({ type: 'timer' }), Math.max(0, fx.at - this.clock.now()));
        break;
      case 'done':
        this.procs.delete(fx.id);
        this.record(fx.job, fx.result);
        break;
    }
  }

  private record(job: NotifyJob, r: JobResult): void {
    const key = r.outcome === 'spawn-error' ? 'spawnError' : r.outcome;
    this.counters[key]++;
    const stderr = r.stderr.split('\n').find((l) => l.trim() !== '') ?? '';
    this.last = { hook: job.hook, outcome: r.outcome, code: r.code, signal: r.signal, stderr, durationMs: Math.round(r.durationMs) };
    const fields = { evt: 'notify', notify: this.label, hook: job.hook, argv: job.argv, outcome: r.outcome, code: r.code, signal: r.signal, stderr, durationMs: Math.round(r.durationMs) };
    const what = `notify ${this.label} ${job.hook}`;
    if (r.outcome === 'ok') this.log.info(fields, `${what}: exit 0 in ${Math.round(r.durationMs)} ms`);
    else if (r.outcome === 'failed') this.log.warn(fields, `${what}: exit ${r.code ?? r.signal}${stderr ? `: ${stderr}` : ''}`);
    else if (r.outcome === 'timeout') this.log.error(fields, `${what}: killed after ${job.timeoutMs} ms (timeout)${stderr ? `: ${stderr}` : ''}`);
    else if (r.outcome === 'spawn-error') this.log.error(fields, `${what}: cannot run ${job.argv[0]}: ${stderr}`);
    else this.log.warn(fields, `${what}: not run (shutdown deadline)`);
  }

  /** Stops the timer; running processes are left to finish (their results are ignored). */
  close(): void {
    this.clock.clearTimeout(this.timer);
    this.timer = null;
  }
}
