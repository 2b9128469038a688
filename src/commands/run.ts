// `ha-agent run --config FILE`: the agent in the foreground (systemd, containers), JSON logs on stdout.
//
// Exit status: 0 stopped by a signal, 1 could not start (or failed while stopping), 70 a bug
// (EXIT_SOFTWARE, below). Failure policy: an uncaught exception or an unhandled rejection means the
// agent's state is unknown (a half-run transition, a timer that will never be re-armed). It does not
// run on with a healthy /healthz: it logs the error at fatal (message and stack), flushes the log
// (bounded, ≤ 2 × EXIT_FLUSH_MS: a stalled stdout cannot hang the exit) and exits 70. The service manager starts it again
// (packaging/ha-agent.service: Restart=on-failure), and start-up removes the VIPs a dead run left
// behind; meanwhile the peers' master-down timer hands the VIPs to a backup.
import { writeSync } from 'node:fs';
import { formatIssue } from '../config/issue.js';
import { loadConfigIsolated } from '../config/load-isolated.js';
import { createLogger, flushLogs, type Logger } from '../log.js';
import { Agent, StartupError } from '../agent.js';
import { BENCH_HOG_ENV, startBenchHog } from '../bench-hog.js';
import type { Out } from './out.js';

/** Exit status after an uncaught exception or unhandled rejection (sysexits.h EX_SOFTWARE). */
export const EXIT_SOFTWARE = 70;

/**
 * Installs the failure policy: the first uncaught exception or unhandled rejection is logged at fatal
 * ({"evt":"fatal","origin":…,"err":{type,message,stack}}), the log is flushed, and the process exits
 * EXIT_SOFTWARE. Anything thrown while doing so does not stop the exit.
 */
export function exitOnBug(log: Logger): void {
  let dying = false;
  const die = (reason: unknown, origin: 'uncaughtException' | 'unhandledRejection') => {
    if (dying) return;
    dying = true;
    const err = reason instanceof Error ? reason : new Error(`non-Error ${origin === 'unhandledRejection' ? 'rejection' : 'exception'}: ${String(reason)}`);
    const msg = `${origin === 'uncaughtException' ? 'uncaught exception' : 'unhandled rejection'}: ${err.message} — exiting ${EXIT_SOFTWARE} so the service manager restarts the agent`;
    try {
      log.fatal({ evt: 'fatal', origin, err, exitCode: EXIT_SOFTWARE }, msg);
    } catch {
      try {
        writeSync(2, `ha-agent: ${msg}\n${err.stack ?? ''}\n`);
      } catch {
        /* nowhere left to say it */
      }
    }
    flushLogs();
    process.exit(EXIT_SOFTWARE);
  };
  process.on('uncaughtException', (err) => die(err, 'uncaughtException'));
  process.on('unhandledRejection', (reason) => die(reason, 'unhandledRejection'));
}

export async function runCommand(opts: { config: string; logLevel?: string }, out: Out): Promise<number> {
  const parsed = await loadConfigIsolated(opts.config);
  if (!parsed.ok) {
    for (const e of parsed.errors) out.stderr.write(formatIssue(e) + '\n');
    out.stderr.write(`${opts.config}: ${parsed.errors.length} error(s); nothing started\n`);
    return 1;
  }
  const config = parsed.config;
  const log = createLogger((opts.logLevel ?? config.log.level) as never);
  for (const w of parsed.warnings) log.warn({ path: w.path, fix: w.fix }, w.message);

  exitOnBug(log);

  // Signals are caught from the start: one that arrives while we start up stops us right after.
  let stopSignal: NodeJS.Signals | null = null;
  let onStop: (sig: NodeJS.Signals) => void = (sig) => void (stopSignal = sig);
  let signals = 0;
  const onSignal = (sig: NodeJS.Signals) => {
    if (++signals > 1) {
      log.warn({ signal: sig }, 'second signal: exiting now');
      process.exit(1);
    }
    onStop(sig);
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  process.on('SIGHUP', () => log.warn('SIGHUP: configuration reload is not supported yet; restart the agent to apply changes'));

  let agent: Agent;
  try {
    agent = await Agent.start(config, log);
  } catch (e) {
    const msg = e instanceof StartupError ? e.message : `cannot start: ${(e as Error).message}`;
    log.fatal({ evt: 'startup-failed' }, msg);
    out.stderr.write(`ha-agent: ${msg}\n`);
    return 1;
  }
  startBenchHog(process.env[BENCH_HOG_ENV], log); // benchmark-only (bench/jitter.ts); nothing when unset

  return new Promise<number>((resolve) => {
    onStop = (sig) => {
      log.info({ signal: sig }, 'stopping');
      agent.stop().then(
        () => resolve(0),
        (err: Error) => {
          log.error({ err }, 'error while stopping');
          resolve(1);
        },
      );
    };
    if (stopSignal) onStop(stopSignal);
  });
}
