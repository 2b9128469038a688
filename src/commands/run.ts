// `ha-agent run --config FILE`: the agent in the foreground (systemd, containers), JSON logs on stdout.
//
// Exit status: 0 stopped by a signal, 1 could not start (or failed while stopping), 70 a bug
// (EXIT_SOFTWARE, below). Failure policy: an uncaught exception or an unhandled rejection means the
// agent's state is unknown (a half-run transition, a timer that will never be re-armed). It does not
// run on with a healthy /healthz: it logs the error at fatal (message and stack), flushes the log
// (bounded, ≤ 2 × EXIT_FLUSH_MS: a stalled stdout cannot hang the exit) and exits 70. The service manager starts it again
// (deploy/systemd/ha-agent.service: Restart=on-failure), and start-up removes the VIPs a dead run left
// behind; meanwhile the peers' master-down timer hands the VIPs to a backup.
import { writeSync } from 'node:fs';
import { formatIssue } from '../config/issue.js';
import { loadConfigIsolated } from '../config/load-isolated.js';
import { createLogger, flushLogs, type Logger } from '../log.js';
import { Agent, StartupError } from '../agent.js';
import { capabilityProblem, readProcStatus } from '../net/capabilities.js';
import { SystemdService } from '../systemd/service.js';
import { BENCH_HOG_ENV, startBenchHog } from '../bench-hog.js';
import type { Out } from './out.js';
import { Reloader, type ReloadHooks } from '../reload/reloader.js';
import { publish } from '../events/bus.js';
import { DEFAULT_PID_FILE, removePidFile, writePidFile } from '../reload/pid-file.js';

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

/**
 * `extra.onReload`: called around every reload (SIGHUP, `ha-agent reload`): begin() before the file is
 * read, end(result) once it is applied or refused — where systemd's RELOADING=1 / READY=1 go.
 * `opts.pidFile` (default /run/ha-agent.pid, "" for none): written at start, removed at a clean stop.
 */
export async function runCommand(opts: { config: string; logLevel?: string; pidFile?: string }, out: Out, extra: { onReload?: ReloadHooks } = {}): Promise<number> {
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

  const noCap = capabilityProblem(config, readProcStatus());
  if (noCap) {
    if (noCap.fatal) log.fatal({ evt: 'startup-failed' }, noCap.line);
    else log.error({ evt: 'missing-capability' }, noCap.line);
    out.stderr.write(`ha-agent: ${noCap.line}\n`);
    if (noCap.fatal) return 1;
  }
  // systemd Type=notify (NOTIFY_SOCKET set): STATUS=, the watchdog, READY=1 once settled; else null.
  // A configuration reload is wrapped in RELOADING=1 / READY=1 (the reloader's hooks below).
  const systemd = SystemdService.open(process.env, log);

  // Signals are caught from the start: one that arrives while we start up stops us right after.
  let stopSignal: NodeJS.Signals | null = null;
  let onStop: (sig: NodeJS.Signals) => void = (sig) => {
    stopSignal = sig;
    systemd?.stopping();
  };
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
  // SIGHUP: a hitless reload (src/reload/reloader.ts); one during start-up is served right after it.
  let reloader: Reloader | null = null;
  let hupEarly = false;
  process.on('SIGHUP', () => {
    if (reloader) void reloader.request();
    else hupEarly = true;
  });
  const pidFile = opts.pidFile ?? DEFAULT_PID_FILE;
  if (pidFile) {
    try {
      writePidFile(pidFile);
    } catch (e) {
      log.warn({ pidFile, err: (e as Error).message }, `cannot write the pid file ${pidFile}; \`ha-agent reload\` will not find this agent (kill -HUP ${process.pid} still reloads)`);
    }
  }

  let agent: Agent;
  try {
    agent = await Agent.start(config, log);
  } catch (e) {
    const msg = e instanceof StartupError ? e.message : `cannot start: ${(e as Error).message}`;
    log.fatal({ evt: 'startup-failed' }, msg);
    out.stderr.write(`ha-agent: ${msg}\n`);
    systemd?.failed(msg);
    systemd?.close();
    if (pidFile) removePidFile(pidFile);
    return 1;
  }
  systemd?.attach(agent);
  // Around every reload: systemd's RELOADING=1 / READY=1, a config-reload event on /events, the caller's hooks.
  const hooks: ReloadHooks = {
    begin: () => {
      systemd?.reloading();
      extra.onReload?.begin();
    },
    end: (r) => {
      systemd?.ready();
      publish('config-reload', () => ({ ok: r.outcome === 'applied', outcome: r.outcome, generation: r.generation, added: r.added, removed: r.removed, changed: r.changed.map((c) => c.name), ...(r.errors.length ? { errors: r.errors } : {}) }));
      extra.onReload?.end(r);
    },
  };
  reloader = new Reloader(agent, config, { file: opts.config, log, load: loadConfigIsolated, hooks });
  if (hupEarly && !stopSignal) void reloader.request();
  startBenchHog(process.env[BENCH_HOG_ENV], log); // benchmark-only (bench/jitter.ts); nothing when unset

  return new Promise<number>((resolve) => {
    onStop = (sig) => {
      log.info({ signal: sig }, 'stopping');
      systemd?.stopping();
      agent.stop().then(
        () => {
          systemd?.close();
          if (pidFile) removePidFile(pidFile);
          resolve(0);
        },
        (err: Error) => {
          log.error({ err }, 'error while stopping');
          systemd?.close();
          if (pidFile) removePidFile(pidFile);
          resolve(1);
        },
      );
    };
    if (stopSignal) onStop(stopSignal);
  });
}
