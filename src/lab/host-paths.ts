// What an agent started in a lab may write outside the lab: nothing. A lab shares the host's file
// system (only the network is namespaced), and `ha-agent run` writes its pid file to /run/ha-agent.pid
// unless told otherwise; so every `run` a lab starts names its pid file next to its config, in a temp
// dir (agentRunArgs), and Lab.spawn / Lab.exec refuse a `run` that does not (assertLabRunArgv), before
// anything starts. Pure: argv in, argv out or an Error.
import { tmpdir } from 'node:os';
import { isAbsolute, relative, resolve } from 'node:path';

/** `run --config FILE --pid-file FILE.pid`: the arguments (after the CLI) of an agent in a lab. */
export function agentRunArgs(configFile: string): string[] {
  return ['run', '--config', configFile, '--pid-file', `${configFile}.pid`];
}

/** The CLI as a lab runs it: dist/src/cli.js (src/cli.ts through tsx), or an installed ha-agent. */
const CLI = /(^|\/)(cli\.[cm]?[jt]s|ha-agent)$/;

/**
 * Throws when argv runs `ha-agent run` without a --pid-file inside the temp dir (`tmp`, default the
 * system's): such an agent would write the host's /run/ha-agent.pid. Any other argv passes.
 */
export function assertLabRunArgv(argv: readonly string[], tmp: string = tmpdir()): void {
  const at = argv.findIndex((a, i) => a === 'run' && i > 0 && CLI.test(argv[i - 1]!));
  if (at < 0) return;
  const rest = argv.slice(at + 1);
  const flag = rest.findIndex((a) => a === '--pid-file' || a.startsWith('--pid-file='));
  const file = flag < 0 ? undefined : rest[flag]!.startsWith('--pid-file=') ? rest[flag]!.slice('--pid-file='.length) : rest[flag + 1];
  if (file === undefined) throw new Error(`lab safety: \`ha-agent run\` without --pid-file would write the host's /run/ha-agent.pid; start it with agentRunArgs(config) (${argv.join(' ')})`);
  const inside = relative(resolve(tmp), resolve(file));
  if (!isAbsolute(file) || inside === '' || inside.startsWith('..') || isAbsolute(inside))
    throw new Error(`lab safety: the pid file ${JSON.stringify(file)} of \`ha-agent run\` is not inside the temp dir ${tmp}; put it next to the lab's config (agentRunArgs)`);
}
