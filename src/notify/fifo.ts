// The notify FIFO (keepalived's notify_fifo): one line per instance and group state change, in
// keepalived's format (fifo-line.ts), written synchronously and without ever blocking. Contract:
// - open(): creates the FIFO when the path does not exist (mkfifo, mode 0600, argv-spawned once at
//   start-up), refuses a path that exists and is not a FIFO, and opens it O_RDWR | O_NONBLOCK (as
//   keepalived does, so opening never waits for a reader and a reader coming and going loses nothing
//   the pipe buffer still holds).
// - write(): a full pipe (no reader for a long time) drops the line (EAGAIN) and counts it; never throws.
import { closeSync, constants, lstatSync, openSync, writeSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import type { Logger } from 'pino';
import type { NotifyEvent } from './argv.js';
import { fifoLine } from './fifo-line.js';

export class NotifyFifo {
  readonly stats = { written: 0, dropped: 0 };
  private constructor(
    readonly path: string,
    private fd: number | null,
    private readonly log: Logger,
  ) {}

  /** Opens (creating if needed) the FIFO at `path`; throws an Error with a fix when it cannot. */
  static open(path: string, log: Logger): NotifyFifo {
    let st: ReturnType<typeof lstatSync> | null = null;
    try {
      st = lstatSync(path);
    } catch {
      /* absent: created below */
    }
    if (st && !st.isFIFO()) throw new Error(`notifyFifo ${path} exists and is not a FIFO — fix: remove it, or choose another path`);
    if (!st) {
      try {
        execFileSync('mkfifo', ['-m', '0600', path], { stdio: ['ignore', 'ignore', 'pipe'] });
      } catch (e) {
        const said = ((e as { stderr?: Buffer }).stderr?.toString() ?? (e as Error).message).trim();
        throw new Error(`cannot create notifyFifo ${path}: ${said} — fix: create its directory, or mkfifo it yourself`);
      }
    }
    const fd = openSync(path, constants.O_RDWR | constants.O_NONBLOCK);
    return new NotifyFifo(path, fd, log);
  }

  write(ev: NotifyEvent): void {
    if (this.fd === null) return;
    const line = fifoLine(ev);
    try {
      writeSync(this.fd, line);
      this.stats.written++;
    } catch (e) {
      this.stats.dropped++;
      this.log.warn({ evt: 'notify-fifo', path: this.path, err: (e as Error).message }, `notify FIFO ${this.path}: line dropped (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
    }
  }

  close(): void {
    if (this.fd === null) return;
    closeSync(this.fd);
    this.fd = null;
  }
}
