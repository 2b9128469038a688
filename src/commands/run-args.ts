// The command line of `ha-agent run`, read without commander: see src/cli.ts (memory of the agent).
import { defaultConfigSource } from '../config/source.js';

/** /etc/ha-agent/config.yaml, or what HA_AGENT_CONFIG says (config/source.ts). */
export const DEFAULT_CONFIG = defaultConfigSource();

export interface RunOptions {
  config: string;
  logLevel?: string;
  /** Where `run` writes its pid for `ha-agent reload` (default /run/ha-agent.pid). */
  pidFile?: string;
}

/**
 * The options of `run` when argv (after the node binary and the script) is exactly `run` followed by
 * -c/--config and --log-level (`--opt value` or `--opt=value`; the last one wins, as in commander);
 * null for anything else, which then goes through commander. Conservative on purpose: a value that is
 * missing or starts with "-" returns null too, so commander keeps deciding every corner case.
 */
export function parseRunArgs(args: readonly string[]): RunOptions | null {
  if (args[0] !== 'run') return null;
  const opts: RunOptions = { config: DEFAULT_CONFIG };
  for (let i = 1; i < args.length; i++) {
    const a = args[i]!;
    const eq = a.startsWith('--') ? a.indexOf('=') : -1;
    const name = eq > 0 ? a.slice(0, eq) : a;
    let value: string | undefined;
    if (eq > 0) value = a.slice(eq + 1);
    else value = args[++i];
    if (value === undefined || value === '' || value.startsWith('-')) return null;
    if (name === '-c' || name === '--config') opts.config = value;
    else if (name === '--log-level') opts.logLevel = value;
    else if (name === '--pid-file') opts.pidFile = value;
    else return null;
  }
  return opts;
}

