// `ha-agent run --config FILE`: the agent in the foreground (systemd, containers), JSON logs on stdout.
import { formatIssue } from '../config/issue.js';
import { loadConfigIsolated } from '../config/load-isolated.js';
import { createLogger } from '../log.js';
import { startAgent, StartupError } from '../agent.js';
import type { Out } from './out.js';

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

  // A bug must never take the VIP down with it: log it loudly and keep advertising.
  process.on('uncaughtException', (err) => log.error({ err, evt: 'bug' }, 'uncaught exception (agent keeps running)'));
  process.on('unhandledRejection', (err) => log.error({ err, evt: 'bug' }, 'unhandled rejection (agent keeps running)'));

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

  let agent: Awaited<ReturnType<typeof startAgent>>;
  try {
    agent = await startAgent(config, log);
  } catch (e) {
    const msg = e instanceof StartupError ? e.message : `cannot start: ${(e as Error).message}`;
    log.fatal({ evt: 'startup-failed' }, msg);
    out.stderr.write(`ha-agent: ${msg}\n`);
    return 1;
  }

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
