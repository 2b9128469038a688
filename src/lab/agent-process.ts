// ha-agent itself running inside a lab namespace: started with a config object (written as YAML),
// watched through its JSON log lines (see watched.ts), asked for its status through its own CLI.
// Used by `ha-agent demo` and by the netns test harness.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ChildProcess } from 'node:child_process';
import { stringify } from 'yaml';
import type { Lab, LabNode } from './lab.js';
import { Watched, type LogEvent, type VrrpState } from './watched.js';
import { agentRunArgs } from './host-paths.js';

export interface AgentConfig {
  log?: { level: string };
  status?: { listen: string };
  instances: Record<string, Record<string, unknown>>;
  [key: string]: unknown;
}

export interface InstanceStatus {
  state: VrrpState;
  priority: number;
  effectivePriority: number;
  master: string | null;
  vips: string[];
  provider: { type: string; ownership: string; lastError: string | null };
  counters?: Record<string, number>;
  [key: string]: unknown;
}

/** The CLI that sits next to this module: dist/src/cli.js (or src/cli.ts when run through tsx). */
export function agentCliPath(): string {
  const here = fileURLToPath(import.meta.url);
  return join(here, '..', '..', here.endsWith('.ts') ? 'cli.ts' : 'cli.js');
}

/** argv that runs the CLI with this node binary (adding the tsx loader when running from sources). */
function cliArgv(cli: string): string[] {
  return cli.endsWith('.ts') ? [process.execPath, '--import', 'tsx', cli] : [process.execPath, cli];
}

export class AgentHandle extends Watched {
  constructor(
    readonly lab: Lab,
    readonly node: LabNode,
    readonly configPath: string,
    readonly config: AgentConfig,
    proc: ChildProcess,
    readonly cli: string = agentCliPath(),
  ) {
    super(`ha-agent@${node.name}`, proc, parseJsonLine);
  }

  /** Resolves after the agent logged {"evt":"ready"}. */
  ready(timeoutMs = 10_000): Promise<LogEvent> {
    return this.waitFor((e) => e.evt === 'ready', timeoutMs, 0, '"ready" event');
  }

  /** `ha-agent status --json`, run inside the agent's namespace. */
  async status(): Promise<{ instances: Record<string, InstanceStatus> }> {
    const listen = this.config.status?.listen ?? '127.0.0.1:9721';
    const argv = [...cliArgv(this.cli), 'status', '--json'];
    if (listen !== '127.0.0.1:9721') argv.push('--url', `http://${listen}`);
    const r = await this.lab.exec(this.node.name, argv, { timeoutMs: 10_000 });
    if (r.code !== 0) throw new Error(`${this.label}: status exited ${r.code}: ${r.stderr || r.stdout}`);
    return JSON.parse(r.stdout) as { instances: Record<string, InstanceStatus> };
  }

  /** Status of one instance. */
  async instanceStatus(instance = 'VI_1'): Promise<InstanceStatus> {
    const s = await this.status();
    const i = s.instances[instance];
    if (!i) throw new Error(`${this.label}: status has no instance ${instance}: ${JSON.stringify(s)}`);
    return i;
  }
}

export function parseJsonLine(line: string, stream: 'stdout' | 'stderr', at: number): LogEvent {
  if (line.startsWith('{')) {
    try {
      const obj = JSON.parse(line) as Record<string, unknown>;
      return { ...obj, at, line, stream };
    } catch {
      /* not JSON after all */
    }
  }
  return { at, line, stream };
}

/**
 * Writes `config` as YAML to `file` and starts `ha-agent run --config FILE` inside the node's
 * namespace (optionally behind `wrapper`, e.g. setpriv; with `env` as its whole environment when
 * given, else the caller's). Does not wait for readiness.
 */
export function spawnAgent(lab: Lab, nodeName: string, config: AgentConfig, file: string, opts: { cli?: string; wrapper?: string[]; env?: NodeJS.ProcessEnv } = {}): AgentHandle {
  const node = lab.node(nodeName);
  const cli = opts.cli ?? agentCliPath();
  writeFileSync(file, stringify(config), { mode: 0o600 });
  // The pid file next to the config (never the host's /run): `ha-agent reload --pid-file FILE.pid`.
  const proc = lab.spawn(node.name, [...(opts.wrapper ?? []), ...cliArgv(cli), ...agentRunArgs(file)], opts.env ? { env: opts.env } : {});
  return new AgentHandle(lab, node, file, config, proc, cli);
}
