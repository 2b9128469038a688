// One pino logger for the whole agent: JSON lines on stdout, secrets redacted.
//
// Stdout is written asynchronously (pino.destination({ sync: false }), i.e. sonic-boom): a log call
// only appends to a buffer, so a stalled reader (journald, a full pipe nobody reads) never holds the
// event loop — and with it an advert — back. What that costs, and how it is bounded:
// - fd 1 is made non-blocking when it is a pipe or socket (touching process.stdout does that through
//   libuv). A blocking write to a full pipe would park a libuv worker thread forever, and
//   process.exit() joins those threads: the agent could then never exit.
// - The buffer holds at most STDOUT_BUFFER_MAX bytes; beyond that lines are dropped and counted, and
//   a warning says how many once stdout moves again.
// - Flushing (normal stop, fatal exit, any process.exit) retries a full pipe for at most
//   EXIT_FLUSH_MS, then gives up: a stalled reader can delay the exit, never hang it. (pino's
//   default stdout destination is asynchronous too, but its exit flush retries forever.)
// - A TTY stays blocking (node makes it so); a terminal held with Ctrl-S can still stall the agent.
// Callers that pass their own destination (tests, fixtures) get pino writing straight into it.
import { destination as asyncDestination, pino, type Logger, type LevelWithSilent } from 'pino';
import { isoTime } from './iso-time.js';

export const REDACT_PATHS = [
  'password',
  '*.password',
  '*.*.password',
  'auth.password',
  'secret',
  '*.secret',
  'secretAccessKey',
  '*.secretAccessKey',
  'accessKeySecret',
  '*.accessKeySecret',
  'sessionToken',
  '*.sessionToken',
];

/** Most bytes of log lines held while stdout does not take them; later lines are dropped (counted). */
export const STDOUT_BUFFER_MAX = 4 * 1024 * 1024;
/** Longest a flush keeps retrying a stdout that takes nothing (sonic-boom retries every 100 ms). */
export const EXIT_FLUSH_MS = 500;

/** The subset of sonic-boom (pino.destination) used here. */
interface AsyncDestination {
  write(s: string): boolean;
  flushSync(): void;
  on(ev: 'drop', cb: (data: string | Buffer) => void): unknown;
  on(ev: 'write', cb: (n: number) => void): unknown;
  on(ev: 'error', cb: (err: Error) => void): unknown;
}

interface StdoutSink {
  dest: AsyncDestination;
  /** sonic-boom's own flushSync: throws when the deadline passes with bytes still pending. */
  flushOrThrow: () => void;
  /** flushSync gives up on a full pipe after this time (Date.now() ms); Infinity while running. */
  deadline: number;
  /** Dropped since the last warning about it. */
  dropped: { lines: number; bytes: number };
  droppedTotal: number;
  writeErrors: number;
  logger: Logger | null;
}

let sink: StdoutSink | null = null;

function stdoutSink(): StdoutSink {
  if (sink) return sink;
  // For a pipe or a socket this makes libuv open fd 1 non-blocking (see the header).
  void process.stdout.fd;
  const s: StdoutSink = { dest: null as never, flushOrThrow: () => {}, deadline: Infinity, dropped: { lines: 0, bytes: 0 }, droppedTotal: 0, writeErrors: 0, logger: null };
  // Registered before pino.destination() registers its own exit hook (a flushSync): runs first, so
  // that flush is bounded on every way out, process.exit() from anywhere included.
  process.once('exit', () => {
    s.deadline = Math.min(s.deadline, Date.now() + EXIT_FLUSH_MS);
  });
  s.dest = asyncDestination({
    dest: 1,
    sync: false,
    minLength: 0,
    maxLength: STDOUT_BUFFER_MAX,
    // Asked on every EAGAIN (full pipe): keep retrying while running, stop at the flush deadline.
    retryEAGAIN: () => Date.now() < s.deadline,
  }) as unknown as AsyncDestination;
  s.dest.on('error', () => void s.writeErrors++); // never crash on a log write (EPIPE is handled by pino)
  // pino's exit hook calls flushSync() unguarded: a throw there would turn every exit code into a crash.
  s.flushOrThrow = s.dest.flushSync.bind(s.dest);
  s.dest.flushSync = () => {
    try {
      s.flushOrThrow();
    } catch {
      s.writeErrors++;
    }
  };
  s.dest.on('drop', (data) => {
    s.dropped.lines++;
    s.droppedTotal++;
    s.dropped.bytes += Buffer.byteLength(data);
  });
  s.dest.on('write', () => {
    if (s.dropped.lines === 0 || !s.logger) return;
    const d = s.dropped;
    s.dropped = { lines: 0, bytes: 0 };
    s.logger.warn({ evt: 'log-dropped', lines: d.lines, bytes: d.bytes }, `stdout did not take the logs for a while: ${d.lines} line(s) dropped`);
  });
  sink = s;
  return s;
}

export function createLogger(level: LevelWithSilent = 'info', destination?: NodeJS.WritableStream): Logger {
  const out = destination ?? stdoutSink().dest;
  const logger = pino(
    {
      name: 'ha-agent',
      level,
      base: { pid: process.pid },
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      timestamp: () => `,"time":"${isoTime(Date.now())}"`, // pino's isoTime, without toISOString (iso-time.ts)
    },
    out as never,
  );
  if (!destination && sink && !sink.logger) sink.logger = logger;
  return logger;
}

/**
 * Writes out what the stdout logger still holds, synchronously, retrying a full pipe for at most
 * maxWaitMs. True when everything was written (or nothing was pending). Never throws.
 */
export function flushLogs(maxWaitMs = EXIT_FLUSH_MS): boolean {
  if (!sink) return true;
  const before = sink.deadline;
  sink.deadline = Math.min(before, Date.now() + maxWaitMs);
  try {
    sink.flushOrThrow();
    return true;
  } catch {
    return false;
  } finally {
    sink.deadline = before;
  }
}

/** Counters of the stdout logger since start: lines dropped while stdout was stalled, write errors. */
export function logStats(): { droppedLines: number; writeErrors: number } {
  return { droppedLines: sink?.droppedTotal ?? 0, writeErrors: sink?.writeErrors ?? 0 };
}

export type { Logger };
