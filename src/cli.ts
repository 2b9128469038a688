#!/usr/bin/env node
// The `ha-agent` command line. Exit codes: 0 ok, 1 failure or failed checks, 2 usage error.
//
// Memory: `ha-agent run` is the long-running process, and every module it loads stays resident
// (issue #5: ≤ 50 MiB RSS at one instance). So this file imports nothing heavy at the top: a plain
// `run` is recognised by parseRunArgs() and goes straight to the agent; commander (~1.3 MB resident
// once loaded, with its help and error machinery) is imported only for everything else, including
// any `run` command line parseRunArgs() does not fully understand (it then reports errors, --help…).
import { processOut } from './commands/out.js';
import { tuneV8ForAgent } from './v8-tuning.js';
import { DEFAULT_CONFIG, parseRunArgs, type RunOptions } from './commands/run-args.js';

async function run(opts: RunOptions): Promise<number> {
  tuneV8ForAgent(); // before the agent's modules load (see v8-tuning.ts)
  const { runCommand } = await import('./commands/run.js');
  return runCommand(opts, processOut);
}

async function main(argv: string[]): Promise<number> {
  const fast = parseRunArgs(argv.slice(2));
  if (fast) return run(fast);
  const [{ Command, CommanderError }, { AGENT_VERSION }] = await Promise.all([import('commander'), import('./version.js')]);
  let code = 0;
  const program = new Command('ha-agent')
    .description('VRRP high-availability agent, wire-compatible with keepalived, with cloud VIP providers')
    .version(AGENT_VERSION)
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s) });

  program
    .command('run')
    .description('run the agent in the foreground (JSON logs on stdout)')
    .option('-c, --config <file>', 'configuration file', DEFAULT_CONFIG)
    .option('--log-level <level>', 'override log.level (trace|debug|info|warn|error)')
    .option('--pid-file <file>', 'where to write the pid, for `ha-agent reload` ("" for none)', '/run/ha-agent.pid')
    .action(async (o: RunOptions) => {
      code = await run(o);
    });

  program
    .command('reload')
    .description('reload the running agent\'s config without a flap (SIGHUP to the pid in --pid-file)')
    .option('--pid-file <file>', 'pid file written by `ha-agent run`', '/run/ha-agent.pid')
    .option('--wait', 'wait for the outcome on the status server; exit 1 unless the reload was applied', false)
    .option('--url <url>', 'status server of the agent (with --wait)', 'http://127.0.0.1:9721')
    .action(async (o: { pidFile: string; wait: boolean; url: string }) => {
      const { reloadCommand } = await import('./commands/reload.js');
      code = await reloadCommand(o, processOut);
    });

  program
    .command('check-config')
    .description('validate a configuration file; every error with its path and a fix')
    .option('-c, --config <file>', 'configuration file', DEFAULT_CONFIG)
    .action(async (o: { config: string }) => {
      const { checkConfigCommand } = await import('./commands/check-config.js');
      code = await checkConfigCommand(o.config, processOut);
    });

  program
    .command('status')
    .description('show the state of a running agent')
    .option('--url <url>', 'status server of the agent', 'http://127.0.0.1:9721')
    .option('--json', 'print the raw JSON', false)
    .option('--watch', 'follow the agent\'s events and redraw the table live (frames one after another when not on a terminal)', false)
    .action(async (o: { url: string; json: boolean; watch: boolean }) => {
      if (o.watch) {
        const { statusWatchCommand } = await import('./commands/status-watch.js');
        code = await statusWatchCommand(o, processOut);
        return;
      }
      const { statusCommand } = await import('./commands/status.js');
      code = await statusCommand(o, processOut);
    });

  program
    .command('events')
    .description('follow a running agent\'s events (transitions, provider outcomes, checks, reloads) as JSON lines')
    .option('--url <url>', 'status server of the agent', 'http://127.0.0.1:9721')
    .option('--count <n>', 'exit after this many events', (v: string) => Number(v))
    .option('--last-event-id <id>', 'resume after this event id (replays what the agent still keeps)')
    .action(async (o: { url: string; count?: number; lastEventId?: string }) => {
      const { eventsCommand } = await import('./commands/events.js');
      code = await eventsCommand(o, processOut);
    });

  const provider = program.command('provider').description('VIP provider tools');
  provider
    .command('test')
    .description('preflight: can this provider work on this host? Never moves a VIP')
    .argument('<type>', 'garp | aws | alibaba')
    .option('-c, --config <file>', 'configuration file', DEFAULT_CONFIG)
    .option('--instance <name>', 'only this instance')
    .option('--json', 'one JSON document: instances → checks with ok, detail, fix (same exit code)', false)
    .option('--simulate-iam', 'aws: ask IAM (iam:SimulatePrincipalPolicy) about the actions EC2 has no DryRun for', false)
    .action(async (type: string, o: { config: string; instance?: string; json: boolean; simulateIam: boolean }) => {
      const { providerTestCommand } = await import('./commands/provider-test.js');
      code = await providerTestCommand(type, o, processOut);
    });

  program
    .command('import-keepalived')
    .description('convert a keepalived.conf (and its includes) into an ha-agent config; lists what cannot be carried over')
    .argument('<file>', 'keepalived.conf')
    .option('-o, --out <file>', 'write the YAML here (default: stdout)')
    .option('--provider <type>', 'provider for every instance: garp | aws | alibaba (default: garp, left implicit)')
    .action(async (file: string, o: { out?: string; provider?: string }) => {
      const { importKeepalivedCommand } = await import('./commands/import-keepalived.js');
      code = await importKeepalivedCommand(file, o, processOut);
    });

  program
    .command('demo')
    .description('live demo: agents in network namespaces elect a master and fail over (needs root)')
    .option('--fast', 'shorter pauses', false)
    .action(async (o: { fast: boolean }) => {
      const { demoCommand } = await import('./commands/demo.js');
      code = await demoCommand(o, processOut);
    });

  try {
    await program.parseAsync(argv);
  } catch (e) {
    if (e instanceof CommanderError) {
      if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version' || e.code === 'commander.help') return 0;
      return 2;
    }
    process.stderr.write(`ha-agent: ${(e as Error).message}\n`);
    return 1;
  }
  return code;
}

/**
 * Exits once stdout and stderr have taken everything written to them: on a pipe or socket they are
 * asynchronous, and process.exit() would cut off a long `status --json` (a write callback runs after
 * every earlier write has been handed to the kernel).
 */
function exitAfterOutput(code: number): void {
  let pending = 2;
  const done = () => {
    if (--pending === 0) process.exit(code);
  };
  process.stdout.write('', done);
  process.stderr.write('', done);
}

main(process.argv).then(exitAfterOutput, (e: Error) => {
  process.stderr.write(`ha-agent: ${e.message}\n`);
  exitAfterOutput(1);
});
