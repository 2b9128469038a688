// A pipe that is already full and that nobody reads: what a stalled journald or a forgotten `| less`
// looks like to a process writing its stdout. Built from a FIFO (node has no pipe()): the read end is
// held open and never read, the pipe is filled with newlines through a non-blocking write end until
// EAGAIN, and a second, BLOCKING write end is handed to the child as its stdout — so the child sees
// exactly a full blocking pipe, as under systemd.
import { closeSync, constants, openSync, readSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';

export interface FullPipe {
  /** Blocking write end, for a child's stdio. */
  readonly writeFd: number;
  /** Bytes of filler already in the pipe (newlines). */
  readonly filled: number;
  /** Reads what is in the pipe right now (non-blocking); filler newlines included. */
  drain(): string;
  /** Fills the pipe up again (non-blocking writes until EAGAIN); returns the bytes added. */
  refill(): number;
  /** Closes every end and removes the FIFO. */
  close(): void;
}

export function fullPipe(dir: string, name = 'stdout.fifo'): FullPipe {
  const path = join(dir, name);
  const r = spawnSync('mkfifo', ['-m', '600', path], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`mkfifo ${path}: ${r.stderr || r.error?.message}`);
  const readFd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  const fill = (): number => {
    const fillFd = openSync(path, constants.O_WRONLY | constants.O_NONBLOCK);
    const chunk = Buffer.alloc(4096, '\n');
    let n = 0;
    try {
      for (;;) n += writeSync(fillFd, chunk); // whole pages while they fit
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EAGAIN') throw e;
    } finally {
      closeSync(fillFd);
    }
    // A pipe refuses a page that does not fit whole; top the last page up byte by byte.
    return n + fillBytes();
  };
  const fillBytes = (): number => {
    const fillFd = openSync(path, constants.O_WRONLY | constants.O_NONBLOCK);
    const one = Buffer.from('\n');
    let n = 0;
    try {
      for (;;) n += writeSync(fillFd, one);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EAGAIN') throw e;
    } finally {
      closeSync(fillFd);
    }
    return n;
  };
  const filled = fill();
  const writeFd = openSync(path, constants.O_WRONLY); // a reader exists: does not block
  let closed = false;
  return {
    writeFd,
    filled,
    refill: fill,
    drain() {
      const parts: Buffer[] = [];
      const buf = Buffer.alloc(65536);
      for (;;) {
        let n: number;
        try {
          n = readSync(readFd, buf, 0, buf.length, null);
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code === 'EAGAIN') break;
          throw e;
        }
        if (n === 0) break;
        parts.push(Buffer.from(buf.subarray(0, n)));
      }
      return Buffer.concat(parts).toString('utf8');
    },
    close() {
      if (closed) return;
      closed = true;
      for (const fd of [writeFd, readFd]) {
        try {
          closeSync(fd);
        } catch {
          /* already closed */
        }
      }
      rmSync(path, { force: true });
    },
  };
}

/** The JSON objects among `text`'s lines (filler and anything else skipped). */
export function jsonLines(text: string): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  for (const line of text.split('\n')) {
    if (!line.startsWith('{')) continue;
    try {
      out.push(JSON.parse(line) as Record<string, unknown>);
    } catch {
      /* a line cut by the read */
    }
  }
  return out;
}
