// The project's image run as a sidecar inside a lab node's network namespace, the way a pod or
// `--network host` runs it: `podman run --network ns:/run/netns/<node> --cap-drop ALL --cap-add
// NET_RAW --cap-add NET_ADMIN …`, attached, so its JSON log lines stream into a Watched like a local
// agent's (transitions, ready). Never podman's default network: that would change the host's NAT
// rules and ip_forward. stop() is `podman stop` (SIGTERM through tini, SIGKILL after the grace
// period); kill9() is `podman kill -s KILL`. Every container is removed when the lab is torn down.
import { spawn } from 'node:child_process';
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import type { Lab } from '../../src/lab/lab.js';
import { parseJsonLine } from '../../src/lab/agent-process.js';
import { adoptProcess, labDir, onLabCleanup, Watched, type AgentConfig, type ExitInfo } from '../netns/harness.js';
import { cmd } from './image.js';

export interface SidecarOptions {
  image: string;
  config: AgentConfig;
  /** 'env': the YAML in HA_AGENT_CONFIG; 'file': mounted read-only at /etc/ha-agent/config.yaml (the default path). */
  configVia: 'env' | 'file';
  /** Run as this user (e.g. "node") instead of the image's UID 0. */
  user?: string;
  /** Extra `podman run` flags (e.g. --read-only). */
  extra?: string[];
}

let seq = 0;

export class SidecarHandle extends Watched {
  /** The `podman stop` of the last stop(): how long it took and what it said. */
  lastStop: { ms: number; code: number | null } | null = null;

  constructor(
    readonly name: string,
    label: string,
    proc: import('node:child_process').ChildProcess,
    readonly graceSeconds: number,
  ) {
    super(label, proc, parseJsonLine);
  }

  /** `podman stop -t GRACE NAME`: SIGTERM to PID 1 (tini → the agent), SIGKILL after the grace period. */
  override async stop(): Promise<ExitInfo & { sentAt: number }> {
    const sentAt = Date.now();
    if (!this.exit) {
      const r = await cmd(['podman', 'stop', '-t', String(this.graceSeconds), this.name], { timeoutMs: (this.graceSeconds + 30) * 1000 });
      this.lastStop = { ms: Date.now() - sentAt, code: r.code };
    }
    return { ...(await this.closed), sentAt };
  }

  override async kill9(): Promise<ExitInfo & { sentAt: number }> {
    const sentAt = Date.now();
    if (!this.exit) await cmd(['podman', 'kill', '-s', 'KILL', this.name]);
    const timer = setTimeout(() => this.proc.kill('SIGKILL'), 10_000);
    const exit = await this.closed;
    clearTimeout(timer);
    return { ...exit, sentAt };
  }
}

/** Starts the image in `nodeName`'s namespace (does not wait for readiness). */
export function runSidecar(lab: Lab, nodeName: string, o: SidecarOptions, graceSeconds = 10): SidecarHandle {
  const node = lab.node(nodeName);
  const name = `ha-agent-test-${process.pid}-${seq++}`;
  const yaml = stringify(o.config);
  const args = ['run', '--rm', '--name', name, '--network', `ns:/run/netns/${node.ns}`, '--cap-drop', 'ALL', '--cap-add', 'NET_RAW', '--cap-add', 'NET_ADMIN'];
  // The image's HEALTHCHECK would want a systemd timer; the tests run it by hand (podman healthcheck run).
  args.push('--health-interval', 'disable', '--stop-timeout', String(graceSeconds));
  if (o.configVia === 'env') args.push('--env', `HA_AGENT_CONFIG=${yaml}`);
  else {
    const file = join(labDir(lab), `${name}.yaml`);
    writeFileSync(file, yaml);
    chmodSync(file, 0o644); // readable by a non-root user too; the file is bind-mounted, not its 0700 dir
    args.push('--volume', `${file}:/etc/ha-agent/config.yaml:ro`);
  }
  if (o.user) args.push('--user', o.user);
  args.push(...(o.extra ?? []), o.image);
  const proc = spawn('podman', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const h = new SidecarHandle(name, `container ${name}@${node.name}`, proc, graceSeconds);
  adoptProcess(lab, h);
  onLabCleanup(lab, async () => void (await cmd(['podman', 'rm', '-f', '--ignore', '-t', '0', name])));
  return h;
}
