// Our agent and keepalived with N VRRP instances each, from the same VrrpParams, for bench/cost.ts.
//
// test/netns/harness.ts (agentConfig) and test/netns/keepalived.ts (keepalivedConf) build one
// instance, VI_1; this module builds N instances, VI_1..VI_N, from the very same per-instance
// generators, so both daemons keep getting equivalent settings when those generators change.
// keepalived is started exactly as keepalived.ts starts it (console logging, VRRP only, no respawn,
// pid files in the lab's temp dir), from a configuration written here.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Lab } from '../src/lab/lab.js';
import { adoptProcess, agentConfig, labDir, startAgent, type AgentHandle, type VrrpParams } from '../test/netns/harness.js';
import { KeepalivedHandle, keepalivedConf } from '../test/netns/keepalived.js';

/** One named instance. */
export interface NamedParams {
  name: string;
  params: VrrpParams;
}

/**
 * Starts our agent with every instance in one config, at log level `logLevel`, behind `wrapper`
 * (e.g. `nice -n -10`; it must exec the command, so the handle's pid stays the daemon's).
 */
export function startAgentMulti(lab: Lab, nodeName: string, instances: NamedParams[], logLevel: string, wrapper: string[] = []): AgentHandle {
  const merged: Record<string, Record<string, unknown>> = {};
  for (const { name, params } of instances) Object.assign(merged, agentConfig(params, name).instances);
  return startAgent(lab, nodeName, { ...agentConfig(instances[0]!.params), log: { level: logLevel }, instances: merged }, wrapper);
}

/** keepalived.conf with every instance: keepalivedConf()'s global_defs once, then its VI_1 block renamed per instance. */
export function keepalivedMultiConf(routerId: string, instances: NamedParams[]): string {
  const marker = 'vrrp_instance VI_1 {';
  const parts = instances.map(({ name, params }, i) => {
    const conf = keepalivedConf(routerId, params);
    const at = conf.indexOf(marker);
    if (at < 0) throw new Error(`keepalivedConf output changed: no "${marker}"`);
    return (i === 0 ? conf.slice(0, at) : '') + `vrrp_instance ${name} {` + conf.slice(at + marker.length);
  });
  return parts.join('');
}

let seq = 0;

/** Starts keepalived with every instance in `nodeName`'s namespace (as test/netns/keepalived.ts does for one), behind `wrapper`. */
export function startKeepalivedMulti(lab: Lab, nodeName: string, instances: NamedParams[], wrapper: string[] = []): KeepalivedHandle {
  const node = lab.node(nodeName);
  const base = join(labDir(lab), `ka-multi-${node.name}-${seq++}`);
  writeFileSync(`${base}.conf`, keepalivedMultiConf(node.name, instances));
  const pidFiles = ['pid', 'vrrp.pid', 'chk.pid', 'bfd.pid'].map((s) => `${base}.${s}`);
  // -n no fork, -l log to console, -D detailed, -G no syslog, -P VRRP only, -R no respawn.
  const argv = [...wrapper, 'keepalived', '-n', '-l', '-D', '-G', '-P', '-R', '-f', `${base}.conf`];
  ['-p', '-r', '-c', '-b'].forEach((flag, i) => argv.push(flag, pidFiles[i]!));
  const h = new KeepalivedHandle(lab, node, `${base}.conf`, pidFiles[1]!, lab.spawn(node.name, argv));
  adoptProcess(lab, h);
  return h;
}
