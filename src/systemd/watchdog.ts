// systemd's watchdog (WatchdogSec= → WATCHDOG_USEC): WATCHDOG=1 sent from the event loop at half the
// period, so a stalled loop stops the pings and systemd restarts the agent (keepalived has no
// watchdog).
//
// Contract:
// - Watchdog.start(sock): null when systemd set no watchdog for this process (WATCHDOG_USEC unset,
//   or WATCHDOG_PID another process's). Otherwise pings at once, then every period/2 from an unref'd
//   timer (it never keeps the process alive).
// - A miss is visible in the log before systemd acts: the addon's stall thread (native/sd_notify.c)
//   writes one warn line ({"evt":"watchdog-stall","stalledMs":…}) to stdout when the loop has not
//   pinged for 3/4 of the period — while the loop is still stuck, a quarter period before systemd's
//   SIGABRT. When the loop comes back, the next ping logs {"evt":"watchdog-late"} with how long it was.
//   The stall line bypasses pino: one write() of < PIPE_BUF bytes (never split; dropped if stdout is a
//   full pipe), which can land between two pieces of a large log buffer pino was part-way through.
// - Costs one timer per period/2 and one thread asleep on a condition variable; nothing on the VRRP path.
import type { Logger } from 'pino';
import { performance } from 'node:perf_hooks';
import type { NotifySocket } from './notify.js';

/** A stall this long (as a share of the period) is logged: a ping is a quarter period overdue. */
export const STALL_WARN_SHARE = 0.75;

export class Watchdog {
  private last = performance.now();
  private readonly timer: NodeJS.Timeout;
  private closed = false;

  private constructor(
    private readonly sock: NotifySocket,
    private readonly log: Logger,
    /** The period systemd enforces, ms. */
    readonly periodMs: number,
  ) {
    const warnMs = Math.max(1, Math.round(periodMs * STALL_WARN_SHARE));
    const watchdogSec = +(periodMs / 1000).toFixed(3);
    const line = JSON.stringify({
      level: 40,
      time: '@TIME@',
      pid: process.pid,
      name: 'ha-agent',
      evt: 'watchdog-stall',
      stalledMs: 0,
      watchdogMs: periodMs,
      msg: `event loop stalled for @STALL@ ms: no watchdog ping; systemd restarts the agent at ${periodMs} ms without one (WatchdogSec=${watchdogSec})`,
    }).replace('"stalledMs":0', '"stalledMs":@STALL@');
    try {
      sock.native.stallWatch(warnMs, line);
    } catch (e) {
      log.warn({ evt: 'watchdog-stall-watch-off', err: (e as Error).message }, `cannot start the watchdog stall warning: ${(e as Error).message}`);
    }
    this.ping();
    this.timer = setInterval(() => this.ping(), Math.max(1, Math.floor(periodMs / 2)));
    this.timer.unref();
    log.info({ evt: 'watchdog', periodMs, pingMs: Math.floor(periodMs / 2) }, `systemd watchdog: pinging every ${Math.floor(periodMs / 2)} ms (WatchdogSec=${watchdogSec})`);
  }

  static start(sock: NotifySocket, log: Logger): Watchdog | null {
    const usec = sock.env.watchdogUsec;
    return usec === null ? null : new Watchdog(sock, log, Math.max(1, Math.round(usec / 1000)));
  }

  private ping(): void {
    if (this.closed) return;
    const now = performance.now();
    const gap = now - this.last;
    this.last = now;
    this.sock.send({ WATCHDOG: 1 });
    this.sock.native.beat();
    if (gap >= this.periodMs * STALL_WARN_SHARE)
      this.log.warn({ evt: 'watchdog-late', gapMs: Math.round(gap), watchdogMs: this.periodMs }, `the event loop was stuck for ${Math.round(gap)} ms between watchdog pings (systemd acts at ${this.periodMs} ms)`);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.timer);
    this.sock.native.stallUnwatch();
  }
}
