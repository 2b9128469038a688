// Where the config comes from when `--config` is not given, and how an environment source is read.
// Kept free of the schema and YAML libraries: src/cli.ts imports it on the agent's start-up path.
//
// The rule (README "Container"): `--config PATH` always wins. Without it, the environment variable
// HA_AGENT_CONFIG is used when set and not blank: a value on one line starting with "/" is the path
// of the file (a mounted ConfigMap or secret file, say); any other value is the YAML document itself
// (compose `environment:`, Kubernetes `env.valueFrom.configMapKeyRef`). A YAML config can never be
// a single line starting with "/", so the two cannot be confused. Unset or blank: the file
// /etc/ha-agent/config.yaml. An inline document is named "env:HA_AGENT_CONFIG" wherever a file name
// would appear (check-config's "env:HA_AGENT_CONFIG:3:5: error: …").
import type { ConfigIssue } from './issue.js';

export const CONFIG_FILE = '/etc/ha-agent/config.yaml';
export const CONFIG_ENV = 'HA_AGENT_CONFIG';
const ENV_PREFIX = 'env:';

/** The config source to use when --config is not given (see the rule above). */
export function defaultConfigSource(env: NodeJS.ProcessEnv = process.env): string {
  const value = env[CONFIG_ENV];
  if (value === undefined || value.trim() === '') return CONFIG_FILE;
  const oneLine = value.trim();
  if (!oneLine.includes('\n') && oneLine.startsWith('/')) return oneLine;
  return ENV_PREFIX + CONFIG_ENV;
}

/**
 * The YAML text of an "env:NAME" source, or an issue saying why there is none; null when `source` is
 * a file path (the caller reads the file).
 */
export function readEnvSource(source: string, env: NodeJS.ProcessEnv = process.env): { text: string } | { issue: ConfigIssue } | null {
  if (!source.startsWith(ENV_PREFIX)) return null;
  const name = source.slice(ENV_PREFIX.length);
  const text = env[name];
  if (text === undefined || text.trim() === '')
    return { issue: { path: '(env)', message: `${name} is not set or empty`, fix: `put the YAML config in ${name}, or pass --config PATH` } };
  const line = text.trim();
  if (!line.includes('\n') && !line.includes(':') && !line.startsWith('{'))
    return {
      issue: {
        path: '(env)',
        message: `${name} holds ${JSON.stringify(line.slice(0, 80))}: neither a YAML config nor an absolute path`,
        fix: `set ${name} to the YAML document itself or to an absolute file path (starting with "/"), or pass --config PATH`,
      },
    };
  return { text };
}
