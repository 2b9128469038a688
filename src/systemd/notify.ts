// systemd's notify protocol (sd_notify(3)), sender side: one datagram of "KEY=value\n" lines per call to
// the unix datagram socket named by $NOTIFY_SOCKET, through the project's addon (native/sd_notify.c;
// Node has no unix datagram sockets).
//
// Contract:
// - openNotify(env): null when NOTIFY_SOCKET is unset — then nothing else in src/systemd runs and
//   nothing costs anything. It reads NOTIFY_SOCKET, WATCHDOG_USEC and WATCHDOG_PID once and removes
//   them from `env` (sd_notify's unset_environment): hooks and checks the agent spawns must not
//   talk to systemd in our name.
// - Addresses: "/path" or "@abstract" (the '@' is a NUL on the wire). Anything else (vsock:, a
//   relative path), a missing addon, or a socket that cannot be opened: logged once at warn, and
//   openNotify returns null — the agent runs on without notifications.
// - send(): synchronous, non-blocking, never throws. A failed send (systemd gone, EAGAIN) is counted;
//   the first failure is logged once (at warn), later ones only counted. Returns whether it went out.
// - Never called on the VRRP hot path: callers send on start, on transitions, on reload and stop,
//   and the watchdog (watchdog.ts) at half its period.
import type { Logger } from 'pino';
import { loadAddon } from '../net/native-addon.js';

interface SdNotifyBinding {
  open(): number;
  send(fd: number, address: string, message: Buffer): number;
  close(fd: number): void;
  stallWatch(ms: number, line: string): void;
  beat(): void;
  stallUnwatch(): void;
}

/** The environment systemd gave the service, read once. */
export interface NotifyEnv {
  /** NOTIFY_SOCKET as given. */
  socket: string;
  /** WATCHDOG_USEC in µs; null when unset or not for this process (WATCHDOG_PID names another). */
  watchdogUsec: number | null;
}

export class NotifySocket {
  /** Datagrams that went out / could not go out. */
  sent = 0;
  failed = 0;
  private fd: number | null;
  private failureSaid = false;

  private constructor(
    readonly env: NotifyEnv,
    private readonly binding: SdNotifyBinding,
    fd: number,
    private readonly log: Logger,
  ) {
    this.fd = fd;
  }

  /** The addon, for the watchdog's stall thread (watchdog.ts). */
  get native(): Pick<SdNotifyBinding, 'stallWatch' | 'beat' | 'stallUnwatch'> {
    return this.binding;
  }

  /** Sends `fields` as one datagram ("READY=1\nSTATUS=…"). Newlines inside a value become spaces. */
  send(fields: Record<string, string | number>): boolean {
    if (this.fd === null) return false;
    const text = Object.entries(fields)
      .map(([k, v]) => `${k}=${String(v).replace(/\n/g, ' ')}`)
      .join('\n');
    try {
      this.binding.send(this.fd, this.env.socket, Buffer.from(text));
      this.sent++;
      return true;
    } catch (e) {
      this.failed++;
      if (!this.failureSaid) {
        this.failureSaid = true;
        this.log.warn({ evt: 'sd-notify-failed', socket: this.env.socket, err: (e as Error).message }, `cannot notify systemd at NOTIFY_SOCKET=${this.env.socket}: ${(e as Error).message}; running on without (said once)`);
      }
      return false;
    }
  }

  close(): void {
    if (this.fd === null) return;
    this.binding.close(this.fd);
    this.fd = null;
  }

  /** Reads and removes NOTIFY_SOCKET / WATCHDOG_USEC / WATCHDOG_PID from env; see the contract above. */
  static open(env: NodeJS.ProcessEnv, log: Logger, pid = process.pid): NotifySocket | null {
    const socket = env.NOTIFY_SOCKET;
    const usec = env.WATCHDOG_USEC;
    const wpid = env.WATCHDOG_PID;
    delete env.NOTIFY_SOCKET;
    delete env.WATCHDOG_USEC;
    delete env.WATCHDOG_PID;
    if (socket === undefined || socket === '') return null;
    const off = (why: string) => {
      log.warn({ evt: 'sd-notify-off', socket, reason: why }, `NOTIFY_SOCKET=${socket} cannot be used (${why}); running on without systemd notifications`);
      return null;
    };
    if (!socket.startsWith('/') && !socket.startsWith('@')) return off('only "/path" and "@abstract" unix socket addresses are supported');
    if (Buffer.byteLength(socket) > 108) return off('longer than a unix socket address can be (108 bytes)');
    const addon = loadAddon<SdNotifyBinding>('sd_notify');
    if (!addon.binding) return off(`the sd_notify addon is missing: ${addon.error}`);
    let fd: number;
    try {
      fd = addon.binding.open();
    } catch (e) {
      return off((e as Error).message);
    }
    return new NotifySocket({ socket, watchdogUsec: parseWatchdog(usec, wpid, pid, log) }, addon.binding, fd, log);
  }
}

/** WATCHDOG_USEC as a positive integer of µs, when WATCHDOG_PID is unset or ours; else null. */
export function parseWatchdog(usec: string | undefined, wpid: string | undefined, pid: number, log: Logger): number | null {
  if (usec === undefined || usec === '') return null;
  if (wpid !== undefined && wpid !== '' && Number(wpid) !== pid) return null; // the watchdog is someone else's
  const n = Number(usec);
  if (!Number.isSafeInteger(n) || n <= 0) {
    log.warn({ evt: 'sd-notify-off', WATCHDOG_USEC: usec }, `WATCHDOG_USEC=${usec} is not a positive number of microseconds; no watchdog pings`);
    return null;
  }
  return n;
}
