// The agent process: builds one Instance per configured VRRP instance, one VRRP socket per interface,
// the provider runners and the status server; watches links; stops gracefully on SIGTERM/SIGINT
// (priority 0 for every instance it masters, VIPs released, exit within a second).
import { networkInterfaces } from 'node:os';
import type { Logger } from 'pino';
import type { Config } from './config/schema.js';
import { Instance } from './instance.js';
import { VrrpSocket } from './vrrp/transport.js';
import { ProviderRunner, createTypeResources, realClock, type TypeResources } from './provider/runner/index.js';
import { createProvider, providerContext, providerModule } from './provider/registry.js';
import { startStatusServer } from './status/server.js';
import type { StatusJson } from './status/types.js';
import { getLink, primaryIPv4, readSysfs, type LinkInfo } from './net/link.js';
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

/** Why an instance's interface cannot carry VRRP right now, or null when it can. */
function linkProblem(inst: Instance): string | null {
  const ifname = inst.cfg.interface;
  const state = readSysfs(ifname, 'operstate');
  if (state === null) return `interface ${ifname} disappeared`;
  if (state !== 'up' && state !== 'unknown') return `interface ${ifname} is ${state}`;
  const src = inst.cfg.unicast?.source;
  if (src && !(networkInterfaces()[ifname] ?? []).some((a) => a.address === src))
    return `unicast source ${src} is not on ${ifname}`;
  return inst.sendTrouble();
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
  const typeResources = new Map<string, TypeResources>();
  const abandon = async () => {
    for (const s of sockets.values()) s.close();
    await Promise.all(runners.map((r) => r.close()));
  };
  try {
    for (const [ifname, link] of links) sockets.set(ifname, VrrpSocket.open(ifname, link.index));
    for (const [name, cfg] of Object.entries(config.instances)) {
      const link = links.get(cfg.interface)!;
      const source = cfg.unicast?.source ?? primaryIPv4(link, cfg.vips);
      if (!source)
        throw new StartupError(`${name}: interface ${cfg.interface} has no IPv4 address to send adverts from — fix: give it an address, or set instances.${name}.unicast.source`);
      const ilog = log.child({ instance: name });
      const ctx = providerContext(name, cfg, ilog);
      const provider = createProvider(ctx, cfg);
      const shared = typeResources.get(cfg.provider.type) ?? createTypeResources(providerModule(cfg.provider.type), realClock);
      typeResources.set(cfg.provider.type, shared);
      let instance: Instance | undefined;
      const runner = new ProviderRunner(provider, { log: ilog, timing: ctx.timing, vips: cfg.vips, ...shared, onChange: () => instance?.onProviderChange() });
      runners.push(runner);
      instance = new Instance(name, cfg, {
        socket: sockets.get(cfg.interface)!,
        runner,
        primaryAddress: source,
        localAddresses: link.addresses.map((a) => a.address),
        log: ilog,
      });
      instances.push(instance);
    }
    // Clear stale copies of our VIPs (a kill -9 leaves them behind) before the instances speak VRRP.
    await Promise.all(
      runners.map(async (runner, n) => {
        runner.want(false);
        if (!(await runner.whenReached(STARTUP_CLEANUP_MS)))
          log.warn({ instance: instances[n]!.name, err: runner.status().lastError }, 'could not clear stale VIPs at start-up; the runner keeps trying');
      }),
    );
  } catch (e) {
    await abandon();
    throw e instanceof StartupError ? e : new StartupError((e as Error).message);
  }
  const onInterface = (ifname: string) => instances.filter((i) => i.cfg.interface === ifname);
  const deliver = (sock: VrrpSocket, mine: Instance[]) =>
    sock.onDatagram((d) => {
      for (const i of mine) i.receive(d);
    });
  for (const [ifname, sock] of sockets) deliver(sock, onInterface(ifname));

  /**
   * A socket is tied to the interface index it was opened on: if the interface was deleted and
   * created again (VLAN, bond, veth), or sends keep failing, open a new one before anyone recovers.
   * Returns false when the socket is stale and could not be reopened yet.
   */
  const refreshSocket = (ifname: string): boolean => {
    const old = sockets.get(ifname)!;
    const mine = onInterface(ifname);
    const index = Number(readSysfs(ifname, 'ifindex') ?? NaN);
    if (!Number.isInteger(index)) return true; // gone: linkProblem() keeps the instances in FAULT
    if (index === old.ifindex && !mine.some((i) => i.sendTrouble())) return true;
    try {
      const sock = VrrpSocket.open(ifname, index);
      old.close();
      sockets.set(ifname, sock);
      deliver(sock, mine);
      for (const i of mine) i.setSocket(sock);
      log.warn({ interface: ifname, from: old.ifindex, to: index }, `reopened the VRRP socket on ${ifname}`);
      return true;
    } catch (e) {
      log.error({ interface: ifname, err: (e as Error).message }, `cannot reopen the VRRP socket on ${ifname}`);
      return index === old.ifindex;
    }
  };

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

  for (const i of instances) i.start(linkProblem(i));
  const poll = setInterval(() => {
    const stale = new Set([...sockets.keys()].filter((ifname) => !refreshSocket(ifname)));
    for (const i of instances) {
      const ifname = i.cfg.interface;
      i.setLinkFault(linkProblem(i) ?? (stale.has(ifname) ? `interface ${ifname} was re-created and its VRRP socket cannot be reopened yet` : null));
    }
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
