// A process running inside a lab namespace, watched through its output: every line becomes an event
// (JSON lines — our agent's pino logs — are spread into it), transitions are tracked per instance, and
// callers can wait for an event or a state. Used by the demo and by the netns test harness.
import type { ChildProcess } from 'node:child_process';

export type VrrpState = 'INIT' | 'BACKUP' | 'MASTER' | 'FAULT';

/** One log line of a watched process. JSON lines (our agent) are spread into it; `at` is Date.now() on arrival. */
export interface LogEvent {
  at: number;
  line: string;
  stream: 'stdout' | 'stderr';
  evt?: string;
  instance?: string;
  from?: string;
  to?: string;
  reason?: string;
  [key: string]: unknown;
}

export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** Date.now() when the process was seen gone (its output closed). */
  exitedAt: number;
}

export class Watched {
  readonly events: LogEvent[] = [];
  readonly closed: Promise<ExitInfo>;
  exit: ExitInfo | null = null;
  private readonly waiters = new Set<() => void>();
  private readonly states = new Map<string, VrrpState>();

  constructor(
    readonly label: string,
    readonly proc: ChildProcess,
    private readonly parse: (line: string, stream: 'stdout' | 'stderr', at: number) => LogEvent,
  ) {
    this.closed = new Promise((resolve) => {
      proc.on('error', (e) => this.push({ at: Date.now(), line: `spawn error: ${e.message}`, stream: 'stderr' }));
      proc.on('close', (code, signal) => {
        this.exit = { code, signal, exitedAt: Date.now() };
        this.wake();
        resolve(this.exit);
      });
    });
    this.pipe(proc.stdout, 'stdout');
    this.pipe(proc.stderr, 'stderr');
  }

  private pipe(stream: NodeJS.ReadableStream | null, name: 'stdout' | 'stderr'): void {
    if (!stream) return;
    let buf = '';
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => {
      buf += chunk;
      let i: number;
      while ((i = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        if (line.trim()) this.push(this.parse(line, name, Date.now()));
      }
    });
    stream.on('end', () => {
      if (buf.trim()) this.push(this.parse(buf, name, Date.now()));
      buf = '';
    });
  }

  protected push(e: LogEvent): void {
    this.events.push(e);
    if (e.evt === 'transition' && typeof e.instance === 'string' && typeof e.to === 'string') {
      this.states.set(e.instance, e.to as VrrpState);
    }
    this.wake();
  }

  private wake(): void {
    for (const w of [...this.waiters]) w();
  }

  get pid(): number | undefined {
    return this.proc.pid;
  }

  /** The state of `instance` according to its last transition event. */
  state(instance = 'VI_1'): VrrpState | undefined {
    return this.states.get(instance);
  }

  /** Index to pass as `since` to wait only for events that arrive from now on. */
  mark(): number {
    return this.events.length;
  }

  /**
   * Resolves with the first event (at index >= since) matching pred. Rejects on timeout, or when the
   * process has exited without producing one; the error carries the last log lines.
   */
  waitFor(pred: (e: LogEvent) => boolean, timeoutMs = 10_000, since = 0, what = 'a matching event'): Promise<LogEvent> {
    return new Promise((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const done = (err: Error | null, ev?: LogEvent) => {
        this.waiters.delete(check);
        clearTimeout(timer);
        if (err) reject(err);
        else resolve(ev!);
      };
      const check = () => {
        const ev = this.events.slice(since).find(pred);
        if (ev) return done(null, ev);
        if (this.exit) done(new Error(`${this.label}: exited (${fmtExit(this.exit)}) before ${what}\n${this.logs(40)}`));
      };
      timer = setTimeout(() => done(new Error(`${this.label}: no ${what} within ${timeoutMs} ms\n${this.logs(40)}`)), timeoutMs);
      this.waiters.add(check);
      check();
    });
  }

  /** Resolves once the current state of `instance` (its last transition) is `state`. */
  waitState(instance: string, state: VrrpState, timeoutMs = 10_000): Promise<void> {
    return new Promise((resolve, reject) => {
      const check = () => {
        if (this.states.get(instance) === state) return done(null);
        if (this.exit) done(new Error(`${this.label}: exited (${fmtExit(this.exit)}) before ${instance} became ${state}\n${this.logs(40)}`));
      };
      const timer = setTimeout(
        () => done(new Error(`${this.label}: ${instance} not ${state} within ${timeoutMs} ms (is ${this.states.get(instance) ?? 'unknown'})\n${this.logs(40)}`)),
        timeoutMs,
      );
      const done = (err: Error | null) => {
        this.waiters.delete(check);
        clearTimeout(timer);
        if (err) reject(err);
        else resolve();
      };
      this.waiters.add(check);
      check();
    });
  }

  /** Transition events of `instance`, in order. */
  transitions(instance = 'VI_1'): LogEvent[] {
    return this.events.filter((e) => e.evt === 'transition' && e.instance === instance);
  }

  /**
   * Sends `signal` and waits for the process to be gone (SIGKILL after graceMs). Resolves with how it
   * ended and when the signal was sent.
   */
  async stop(signal: NodeJS.Signals = 'SIGTERM', graceMs = 5_000): Promise<ExitInfo & { sentAt: number }> {
    const sentAt = Date.now();
    if (this.exit) return { ...this.exit, sentAt };
    this.signal(signal);
    const timer = setTimeout(() => this.signal('SIGKILL'), graceMs);
    const exit = await this.closed;
    clearTimeout(timer);
    return { ...exit, sentAt };
  }

  /** Sends a signal to the process (the agent; keepalived overrides this for its children). */
  protected signal(signal: NodeJS.Signals): void {
    if (this.exit) return;
    try {
      this.proc.kill(signal);
    } catch {
      /* already gone */
    }
  }

  /** kill -9: no goodbye advert, VIPs left behind. */
  kill9(): Promise<ExitInfo & { sentAt: number }> {
    return this.stop('SIGKILL');
  }

  /** Every process id this handle accounts for (for RSS); the agent is one process. */
  pids(): number[] {
    return this.proc.pid ? [this.proc.pid] : [];
  }

  /** The last n raw lines, for failure messages. */
  logs(n = 200): string {
    return this.events
      .slice(-n)
      .map((e) => (e.stream === 'stderr' ? `[stderr] ${e.line}` : e.line))
      .join('\n');
  }
}

export function fmtExit(x: ExitInfo): string {
  return x.signal ? `signal ${x.signal}` : `code ${x.code}`;
}
