// The agent process: builds one Instance per configured VRRP instance, one VRRP socket per interface,
// the provider runners and the status server; watches links; stops gracefully on SIGTERM/SIGINT
// (priority 0 for every instance it masters, VIPs released, exit within a second).
import { networkInterfaces } from 'node:os';
import { readFileSync } from 'node:fs';
import type { Logger } from 'pino';
import type { Config } from './config/schema.js';
import { Instance } from './instance.js';
import { VrrpSocket } from './vrrp/transport.js';
import { ProviderRunner } from './provider/runner.js';
import { createProvider } from './provider/registry.js';
import { startStatusServer } from './status/server.js';
import type { StatusJson } from './status/types.js';
import { getLink, primaryIPv4, type LinkInfo } from './net/link.js';
import { AGENT_VERSION } from './version.js';

/** Graceful stop budget: priority-0 adverts go out at once, VIP removal gets the rest. */
const SHUTDOWN_DEADLINE_MS = 700;
const STARTUP_CLEANUP_MS = 5_000;
const LINK_POLL_MS = 1_000;

export class StartupError extends Error {
  override name = 'StartupError';
}

export interface RunningAgent {
  status(): StatusJson;
  stop(): Promise<void>;
}

function operstate(ifname: string): string {
  try {
    return readFileSync(`/sys/class/net/${ifname}/operstate`, 'utf8').trim();
  } catch {
    return 'missing';
  }
}

/** Why an instance's interface cannot carry VRRP right now, or null when it can. */
function linkProblem(inst: Instance): string | null {
  const ifname = inst.cfg.interface;
  const state = operstate(ifname);
  if (state === 'missing') return `interface ${ifname} disappeared`;
  if (state !== 'up' && state !== 'unknown') return `interface ${ifname} is ${state}`;
  const src = inst.cfg.unicast?.source;
  if (src && !(networkInterfaces()[ifname] ?? []).some((a) => a.address === src))
    return `unicast source ${src} is not on ${ifname}`;
  return null;
}

export async function startAgent(config: Config, log: Logger): Promise<RunningAgent> {
  const startedAt = new Date();
  const links = new Map<string, LinkInfo>();
  for (const [name, inst] of Object.entries(config.instances)) {
    if (!links.has(inst.interface)) links.set(inst.interface, await getLink(inst.interface, { instanceName: name }).catch((e: Error) => {
      throw new StartupError(e.message);
    }));
  }

  const sockets = new Map<string, VrrpSocket>();
  const instances: Instance[] = [];
  const runners: ProviderRunner[] = [];
  const abandon = async () => {
    for (const s of sockets.values()) s.close();
    await Promise.all(runners.map((r) => r.close()));
  };
  try {
    for (const [ifname, link] of links) sockets.set(ifname, VrrpSocket.open(ifname, link.index));
    // Clear stale copies of our VIPs (a kill -9 leaves them behind) before the instances speak VRRP.
    for (const [name, cfg] of Object.entries(config.instances)) {
      const link = links.get(cfg.interface)!;
      const source = cfg.unicast?.source ?? primaryIPv4(link, cfg.vips);
      if (!source)
        throw new StartupError(`${name}: interface ${cfg.interface} has no IPv4 address to send adverts from — fix: give it an address, or set instances.${name}.unicast.source`);
      const ilog = log.child({ instance: name });
      const provider = createProvider({ instanceName: name, interface: cfg.interface, vips: cfg.vips, log: ilog }, cfg);
      let instance: Instance | undefined;
      const runner = new ProviderRunner(provider, { log: ilog, onChange: () => instance?.onProviderChange() });
      runners.push(runner);
      runner.want(false);
      if (!(await runner.whenReached(STARTUP_CLEANUP_MS)))
        ilog.warn({ err: runner.status().lastError }, 'could not clear stale VIPs at start-up; the runner keeps trying');
      instance = new Instance(name, cfg, {
        socket: sockets.get(cfg.interface)!,
        runner,
        primaryAddress: source,
        localAddresses: link.addresses.map((a) => a.address),
        log: ilog,
      });
      instances.push(instance);
    }
  } catch (e) {
    await abandon();
    throw e instanceof StartupError ? e : new StartupError((e as Error).message);
  }
  for (const [ifname, sock] of sockets) {
    const mine = instances.filter((i) => i.cfg.interface === ifname);
    sock.onDatagram((d) => {
      for (const i of mine) i.receive(d);
    });
  }

  const status = (): StatusJson => ({
    version: AGENT_VERSION,
    pid: process.pid,
    startedAt: startedAt.toISOString(),
    uptimeSeconds: Math.round((Date.now() - startedAt.getTime()) / 1000),
    instances: Object.fromEntries(instances.map((i) => [i.name, i.status()])),
  });

  let server: { close(): Promise<void> } | null = null;
  if (config.status.listen !== 'off') {
    try {
      server = await startStatusServer({ listen: config.status.listen, getStatus: status, log });
    } catch (e) {
      await abandon();
      throw new StartupError((e as Error).message);
    }
  }

  for (const i of instances) {
    const problem = linkProblem(i);
    i.start();
    if (problem) i.setLinkFault(problem);
  }
  const poll = setInterval(() => {
    for (const i of instances) i.setLinkFault(linkProblem(i));
  }, LINK_POLL_MS);
  log.info({ evt: 'ready', instances: instances.map((i) => i.name), version: AGENT_VERSION }, 'ha-agent running');

  let stopping: Promise<void> | null = null;
  const stop = () =>
    (stopping ??= (async () => {
      clearInterval(poll);
      await Promise.all(instances.map((i) => i.shutdown(SHUTDOWN_DEADLINE_MS)));
      for (const s of sockets.values()) s.close();
      await server?.close();
      log.info({ evt: 'stopped' }, 'ha-agent stopped');
    })());
  return { status, stop };
}
