// The agent as a systemd Type=notify service: what it tells systemd and when.
//
// Contract (SystemdService.open → null when NOTIFY_SOCKET is unset or unusable: then run.ts does
// nothing more, at no cost):
// - open(): STATUS=starting…, and the watchdog (watchdog.ts) when WatchdogSec= is set — before the
//   agent starts, since start-up can take seconds (stale VIPs are cleared first).
// - attach(agent): from then on READY=1 is sent once, when electionSettled() (status/settled.ts) says
//   every instance settled into MASTER / BACKUP / FAULT-with-a-reason — never while one is in INIT or
//   a BACKUP is still listening for a master. Until then the status is re-read every SETTLE_POLL_MS
//   (a BACKUP hearing its master is no transition); afterwards only on transitions, coalesced to one
//   read per burst (a takeover of 200 instances is one STATUS=). STATUS= is sent when the summary
//   changes ("VI_1 MASTER, VI_2 BACKUP").
// - reloading(): RELOADING=1 with MONOTONIC_USEC (what Type=notify-reload wants too); ready(): READY=1
//   with the current summary. The reload path calls them around its work (aroundReload()).
// - stopping(): STOPPING=1 (SIGTERM received); failed(why): STATUS=failed: why (a start that could
//   not complete, for `systemctl status`); close(): watchdog and socket closed.
// Nothing here runs per advert: the agent calls the transition listener only on state changes.
import type { Logger } from 'pino';
import { electionSettled } from '../status/settled.js';
import type { StatusJson } from '../status/types.js';
import { NotifySocket } from './notify.js';
import { Watchdog } from './watchdog.js';

/** While not yet READY, the status is re-read this often (ms). */
export const SETTLE_POLL_MS = 200;

/** What the service needs of the agent. */
export interface NotifySource {
  status(): StatusJson;
  /** Calls fn after every state transition of any instance. */
  onTransition(fn: () => void): void;
}

export class SystemdService {
  private source: NotifySource | null = null;
  private phase: 'starting' | 'ready' | 'reloading' | 'stopping' = 'starting';
  private lastSummary = '';
  private poll: NodeJS.Timeout | null = null;
  private queued = false;
  private readonly watchdog: Watchdog | null;

  private constructor(
    readonly sock: NotifySocket,
    private readonly log: Logger,
  ) {
    sock.send({ STATUS: 'starting: clearing stale VIPs, opening sockets' });
    this.watchdog = Watchdog.start(sock, log);
  }

  /** Reads NOTIFY_SOCKET (and the watchdog) from env, removing them; null when there is none to use. */
  static open(env: NodeJS.ProcessEnv, log: Logger): SystemdService | null {
    const sock = NotifySocket.open(env, log);
    return sock ? new SystemdService(sock, log) : null;
  }

  /** The agent is running: READY=1 once its election settles, STATUS= on every change after. */
  attach(source: NotifySource): void {
    this.source = source;
    source.onTransition(() => this.changed());
    this.refresh();
    if (this.phase === 'starting') {
      this.poll = setInterval(() => this.refresh(), SETTLE_POLL_MS);
      this.poll.unref();
    }
  }

  reloading(): void {
    if (this.phase === 'stopping') return;
    this.phase = 'reloading';
    this.sock.send({ RELOADING: 1, MONOTONIC_USEC: (process.hrtime.bigint() / 1000n).toString(), STATUS: 'reloading the configuration' });
  }

  ready(summary: string | null = this.summary()): void {
    if (this.phase === 'stopping') return;
    this.phase = 'ready';
    this.stopPoll();
    this.lastSummary = summary ?? this.lastSummary;
    this.sock.send({ READY: 1, STATUS: this.lastSummary });
    this.log.info({ evt: 'sd-ready', status: this.lastSummary }, `told systemd READY=1: ${this.lastSummary}`);
  }

  stopping(): void {
    if (this.phase === 'stopping') return;
    this.phase = 'stopping';
    this.stopPoll();
    this.sock.send({ STOPPING: 1, STATUS: 'stopping: stepping down and releasing the VIPs' });
  }

  failed(why: string): void {
    this.phase = 'stopping';
    this.stopPoll();
    this.sock.send({ STATUS: `failed: ${why}` });
  }

  close(): void {
    this.stopPoll();
    this.watchdog?.close();
    this.sock.close();
  }

  private stopPoll(): void {
    if (this.poll) clearInterval(this.poll);
    this.poll = null;
  }

  /** A transition: one refresh per burst. */
  private changed(): void {
    if (this.queued || this.phase === 'stopping') return;
    this.queued = true;
    setImmediate(() => {
      this.queued = false;
      this.refresh();
    });
  }

  private summary(): string | null {
    return this.source ? electionSettled(this.source.status()).summary : null;
  }

  private refresh(): void {
    if (!this.source || this.phase === 'stopping') return;
    const { settled, summary } = electionSettled(this.source.status());
    if (this.phase === 'starting' && settled) {
      this.ready(summary);
      return;
    }
    if (summary === this.lastSummary) return;
    this.lastSummary = summary;
    this.sock.send({ STATUS: this.phase === 'starting' ? `starting: ${summary}` : summary });
  }
}

/** Runs `work` (a configuration reload) between RELOADING=1 and READY=1; READY=1 also when it fails. */
export async function aroundReload<T>(service: SystemdService | null, work: () => Promise<T>): Promise<T> {
  service?.reloading();
  try {
    return await work();
  } finally {
    service?.ready();
  }
}
