// The agent process: instances that can be added, removed and replaced while it runs (start-up,
// SIGHUP reload and sync groups all go through add/remove/replace), one VRRP socket and receive demux
// per interface shared by the instances on it, one rate limiter and verify batch per provider type,
// a netlink link watcher that turns link, address and interface changes into fault sources at once,
// and the status server. stop(): priority 0 for every mastered instance, VIPs released, within a second.
import type { Logger } from 'pino';
import type { Config, InstanceConfig } from './config/schema.js';
import { Instance, type InstanceDeps } from './instance.js';
import { VrrpElection } from './election/vrrp.js';
import type { EtcdElectionConfig } from './config/election-schema.js';
import type { Fence } from './provider/runner/fencing.js';
import { VrrpSocket } from './vrrp/transport.js';
import { ReceiveDemux } from './vrrp/demux.js';
import { AdvertOffload, offloadUnavailable } from './vrrp/offload.js';
import { ProviderRunner } from './provider/runner/index.js';
import { createTypeResources, type TypeResources } from './provider/runner/index.js';
import { Scheduler, type ScheduledEntry } from './scheduler.js';
import { createProvider } from './provider/registry.js';
import type { ProviderModule } from './provider/types.js';
import { startStatusServer } from './status/server.js';
import type { ConfigStatusJson, StatusJson } from './status/types.js';
import { interfaceNotFound, primaryIPv4, type LinkInfo } from './net/link.js';
import { parseIpv4Address } from './net/ip.js';
import { netBackend } from './net/link.js';
import { LinkWatcher } from './net/link-watch.js';
import { AGENT_VERSION } from './version.js';
import { RateLimitedLog } from './rate-limited-log.js';
import { isoTime } from './iso-time.js';
import { createCheckScheduler, InstanceTracker, type CheckScheduler } from './checks/index.js';
import { applyTrackedInterfaces } from './checks/link-tracking.js';
import { AgentHooks } from './hooks/agent-hooks.js';
import type { ElectionState } from './election/types.js';
import { AgentMetrics } from './status/metrics.js';
import { Telemetry } from './events/observe.js';
import { Ipv6Port, linkLocal6 } from './vrrp/ipv6-port.js';
import { Ipv6VrrpElection } from './vrrp/ipv6-election.js';
import { instanceFamily } from './vrrp/ipv6-config.js';
import { canonicalIpv6 } from './vrrp/ipv6.js';

/** Graceful stop budget: priority-0 adverts go out at once, VIP removal gets the rest. */
const SHUTDOWN_DEADLINE_MS = 700;
/** How long a new instance waits for stale copies of its VIPs to be removed before it starts anyway. */
const STARTUP_CLEANUP_MS = 5_000;
/** While a socket is in trouble (sends failing, raw socket re-created behind our back) it is re-checked
 *  this often, on whole multiples of it on the scheduler's clock (the same wake-ups as adverts at 1 s).
 *  A healthy agent never runs the check: trouble arms it (VrrpElection onTrouble, evaluate()). */
const SOCKET_CHECK_MS = 1_000;
/** The offloads' lease (vrrp/offload.ts): renewed this often from the event loop, it lapses after
 *  OFFLOAD_LEASE_MS without one, so a stuck event loop stops advertising within that (then the peers
 *  take over, as they would from a stuck keepalived). */
const OFFLOAD_RENEW_MS = 2_000;
const OFFLOAD_LEASE_MS = 6_000;

export class StartupError extends Error {
  override name = 'StartupError';
}

/** One interface's VRRP socket, offload and demux, shared by the instances on it. */
interface Port {
  ifname: string;
  socket: VrrpSocket;
  /** Receives for the socket and carries the steady state (vrrp/offload.ts); null: not available. */
  offload: AdvertOffload | null;
  demux: ReceiveDemux;
  users: Set<VrrpMember>;
  /** Every address on the interface (uint32), shared by reference with the instances' receive checks. */
  local: Set<number>;
  /** An evaluation of the port's instances is queued (link events come in bursts: one pass per burst). */
  queued: boolean;
}

/** An instance and the VRRP parts the agent wires to its interface. */
interface Member {
  instance: Instance;
  /**
   * The VRRP election (Ipv6VrrpElection for an IPv6 instance: vrrp/ipv6-*.ts, its own port in `ports6`);
   * null for a lease-based one (election.type etcd: no socket, no demux).
   */
  election: VrrpElection | Ipv6VrrpElection | null;
  /** Its track: (checks, interfaces, files); absent when it tracks nothing. */
  tracker?: InstanceTracker;
}

/** A member with a VRRP election: the only kind on a port. */
type VrrpMember = Member & { election: VrrpElection | Ipv6VrrpElection };

export class Agent {
  private readonly members = new Map<string, Member>();
  private readonly ports = new Map<string, Port>();
  /** IPv6 instances' ports, by interface (vrrp/ipv6-port.ts). */
  private readonly ports6 = new Map<string, Ipv6Port>();
  private readonly typeResources = new Map<ProviderModule, TypeResources>();
  private readonly startedAt = new Date();
  /** The config generation (1 at start, +1 per applied reload) and the reloads so far: src/reload/ moves it on. */
  readonly configStatus: ConfigStatusJson = { generation: 1, loadedAt: isoTime(Date.now()), reloads: { applied: 0, rejected: 0, failedInstances: 0 }, lastReload: null };
  private server: { close(): Promise<void> } | null = null;
  /** Notify hooks, virtual routes and sync groups (hooks/agent-hooks.ts); set by start(). */
  private hooks!: AgentHooks;
  /** Every timer of the agent: elections, provider runners, the socket check (see scheduler.ts). */
  /** Its advert grid's phase drawn at random: two agents started together are not in phase (fsm.ts advertGridPhaseMs). */
  private readonly scheduler = new Scheduler(undefined, undefined, Math.random() * 3_600_000);
  /** The provider runners' clock: the scheduler, with long timers quantised so they share wake-ups. */
  private readonly clock = this.scheduler.clock();
  private readonly socketCheck: ScheduledEntry;
  private readonly offloadLease: ScheduledEntry;
  private stopping: Promise<void> | null = null;
  /** The offload's absence was logged (once per agent). */
  private offloadSaid = false;
  /** The advert threads' SCHED_FIFO priority (advertThread.realtimePriority, set by start(); 0: normal threads). */
  private advertRtPriority = 0;
  /** A refused realtime priority was logged (once per agent). */
  private rtRefusedSaid = false;
  /** Serialises add / remove / replace. */
  private changes: Promise<unknown> = Promise.resolve();
  /** The health checks (src/checks), shared by the instances that track them; set in start(). */
  private checks: CheckScheduler | null = null;
  private checksCfg: NonNullable<Config['checks']> = {};
  /** Told after every transition of any instance (systemd STATUS=, src/systemd/service.ts). */
  private readonly transitionListeners: ((name: string) => void)[] = [];
  /** /metrics (null while the status server is off) and /events: transitions, provider calls, checks. */
  private telemetry = new Telemetry(null);

  private constructor(
    private readonly watcher: LinkWatcher,
    private readonly log: Logger,
  ) {
    watcher.onChange((ev) => this.linkChanged(ev.ifname));
    this.socketCheck = this.scheduler.entry(() => {
      if (this.checkSockets()) this.wantSocketCheck();
    });
    this.offloadLease = this.scheduler.entry((now) => {
      let any = false;
      for (const p of this.ports.values()) {
        p.offload?.lease(OFFLOAD_LEASE_MS);
        any ||= p.offload !== null;
      }
      if (any) this.scheduler.set(this.offloadLease, nextMultiple(now, OFFLOAD_RENEW_MS));
    });
  }

  /** Starts every configured instance and the status server; throws StartupError with a fix. */
  static async start(config: Config, log: Logger): Promise<Agent> {
    const backend = netBackend();
    if (backend.kind !== 'netlink') log.warn({ reason: backend.reason }, `netlink unavailable (${backend.reason}); using the ip command for addresses and polling links`);
    const agent = new Agent(LinkWatcher.open(), log);
    try {
      agent.checksCfg = config.checks ?? {};
      agent.advertRtPriority = config.advertThread.realtimePriority;
      if (config.status.listen !== 'off') agent.telemetry = new Telemetry(new AgentMetrics({ getStatus: () => agent.status(), scheduler: agent.scheduler }));
      agent.checks = createCheckScheduler(config, agent.clock, log);
      agent.telemetry.watchChecks(agent.checks);
      agent.checks.start();
      // All instances first, then every start-up clean-up at once (a slow cloud API must not make the
      // 200th instance wait for 199 clean-ups), then each starts as soon as its own is done.
      agent.hooks = AgentHooks.open(config, agent.clock, log);
      const members: Member[] = [];
      for (const [name, cfg] of Object.entries(config.instances)) members.push(await agent.prepare(name, cfg));
      await Promise.all(members.map((m) => agent.launch(m)));
      if (config.status.listen !== 'off') {
        agent.server = await startStatusServer({ listen: config.status.listen, getStatus: () => agent.status(), log, metrics: agent.telemetry.metrics ?? undefined }).catch((e: Error) => {
          throw new StartupError(e.message);
        });
      }
    } catch (e) {
      await agent.abandon();
      throw e instanceof StartupError ? e : new StartupError((e as Error).message);
    }
    log.info({ evt: 'ready', instances: [...agent.members.keys()], version: AGENT_VERSION }, 'ha-agent running');
    return agent;
  }

  /** Adds and starts one instance (stale copies of its VIPs are removed first). */
  add(name: string, cfg: InstanceConfig): Promise<void> {
    return this.serialise(async () => this.launch(await this.prepare(name, cfg)));
  }

  /** Stops one instance gracefully (priority 0 if master, VIPs released). */
  remove(name: string): Promise<void> {
    return this.serialise(async () => {
      await this.doRemove(name);
      await this.telemetry.forget(name);
    });
  }

  /** Replaces an instance by a new definition of the same name. */
  replace(name: string, cfg: InstanceConfig): Promise<void> {
    return this.serialise(async () => {
      await this.doRemove(name);
      await this.launch(await this.prepare(name, cfg));
    });
  }

  /** Calls fn(instance name) after every state transition (never per advert). */
  onTransition(fn: (name: string) => void): void {
    this.transitionListeners.push(fn);
  }

  /** The names of the instances that run now. */
  instanceNames(): string[] {
    return [...this.members.keys()];
  }

  status(): StatusJson {
    return {
      version: AGENT_VERSION,
      pid: process.pid,
      startedAt: isoTime(this.startedAt.getTime()),
      uptimeSeconds: Math.round((Date.now() - this.startedAt.getTime()) / 1000),
      memory: process.memoryUsage(),
      instances: Object.fromEntries([...this.members].map(([name, m]) => [name, { ...m.instance.status(), ...(m.tracker ? { tracking: m.tracker.status() } : {}), ...this.hooks.status(name) }])),
      config: { ...this.configStatus, reloads: { ...this.configStatus.reloads } },
      ...(this.checks && this.checks.names.length > 0 ? { checks: this.checks.status() } : {}),
      ...(this.hooks.groupsCount > 0 ? { syncGroups: this.hooks.groupsStatus() } : {}),
      interfaces: Object.fromEntries([
        ...[...this.ports].map(([ifname, p]) => {
          // Datagrams the offload thread dropped because the event loop was that far behind count here too.
          const offload = p.offload?.stats() ?? null;
          const dropped = { ...p.demux.dropped, ...(offload?.queueDrops ? { 'offload-queue-full': offload.queueDrops } : {}) };
          return [ifname, { dropped, socket: { ...p.socket.stats }, offload }];
        }),
        ...[...this.ports6].map(([ifname, p]) => [`${ifname}/ipv6`, p.status()]),
      ]),
    };
  }

  stop(): Promise<void> {
    return (this.stopping ??= (async () => {
      this.scheduler.set(this.socketCheck, null);
      this.scheduler.set(this.offloadLease, null);
      await this.changes.catch(() => {});
      const shutdowns = [...this.members.values()].map((m) => m.instance.shutdown(SHUTDOWN_DEADLINE_MS));
      await Promise.all([...shutdowns, this.hooks.stop(SHUTDOWN_DEADLINE_MS)]); // notify STOP, bounded alike
      for (const p of this.ports.values()) {
        p.socket.close();
        p.offload?.close();
      }
      this.ports.clear();
      for (const p of this.ports6.values()) p.close();
      this.ports6.clear();
      this.members.clear();
      this.checks?.close();
      this.watcher.close();
      await this.server?.close();
      this.scheduler.close();
      this.log.info({ evt: 'stopped' }, 'ha-agent stopped');
    })());
  }

  // --- adding and removing --------------------------------------------------------------------------

  private serialise<T>(work: () => Promise<T>): Promise<T> {
    const next = this.changes.then(work);
    this.changes = next.catch(() => {});
    return next;
  }

  /** Builds an instance (provider, runner, election) and plugs it into its interface's demux; not started. */
  private async prepare(name: string, cfg: InstanceConfig): Promise<Member> {
    if (this.stopping) throw new StartupError('the agent is stopping');
    if (this.members.has(name)) throw new StartupError(`instance ${name} already runs`);
    const link = this.watcher.link(cfg.interface);
    if (!link) throw new StartupError((await interfaceNotFound(cfg.interface, name)).message);
    if (cfg.election?.type === 'etcd') return this.prepareLease(name, cfg, cfg.election);
    const v6 = instanceFamily(cfg) === 6;
    const source = cfg.unicast?.source ?? (v6 ? linkLocal6(link) : primaryIPv4(link, cfg.vips));
    if (!source)
      throw new StartupError(`${name}: interface ${cfg.interface} has no ${v6 ? 'link-local IPv6' : 'IPv4'} address to send adverts from — fix: ${v6 ? `enable IPv6 on it (sysctl net.ipv6.conf.${cfg.interface}.disable_ipv6=0)` : 'give it an address'}, or set instances.${name}.unicast.source`);
    const ilog = this.log.child({ instance: name });
    let instance: Instance | undefined;
    let election: VrrpElection | Ipv6VrrpElection | undefined;
    const runner = await this.newRunner(name, cfg, ilog, () => instance, () => election);
    const port6 = v6 ? this.port6For(link) : null;
    const port = port6 ?? this.portFor(link);
    instance = new Instance(name, cfg, {
      runner,
      clock: this.clock,
      log: ilog,
      onTransition: this.transitionObserver(name, cfg, ilog, runner),
      election: (hooks) =>
        (election = port6
          ? new Ipv6VrrpElection(name, cfg, { port: port6, source, hooks, log: ilog, scheduler: this.scheduler, onTrouble: () => this.wantSocketCheck(), onWantMaster: () => this.hooks.wantMaster(name) })
          : new VrrpElection(name, cfg, {
          socket: (port as Port).socket,
          source,
          localAddresses: (port as Port).local,
          hooks,
          log: ilog,
          scheduler: this.scheduler,
          offload: (port as Port).offload,
          onTrouble: () => this.wantSocketCheck(),
          onWantMaster: () => this.hooks.wantMaster(name),
        })),
    });
    const member: VrrpMember = { instance, election: election! };
    try {
      this.track(member, ilog);
      if (port6) port6.demux.add(cfg.vrid!, cfg.unicast?.peers ?? null, member.election as Ipv6VrrpElection);
      else (port as Port).demux.add({ version: cfg.version, vrid: cfg.vrid!, unicastPeers: cfg.unicast?.peers ?? null }, member.election as VrrpElection);
    } catch (e) {
      void this.hooks.detach(name, 0);
      member.election.close();
      await runner.close();
      this.releasePortIfUnused(port);
      throw new StartupError(`${name}: ${(e as Error).message}`);
    }
    port.users.add(member);
    this.members.set(name, member);
    this.hooks.attach(name, instance);
    return member;
  }

  /** The instance's provider and its runner (not started: no goal yet). */
  private async newRunner(name: string, cfg: InstanceConfig, ilog: Logger, instance: () => Instance | undefined, election: () => { sync(): void } | null | undefined, fence?: Fence): Promise<ProviderRunner> {
    const { module, ctx, provider } = await createProvider(name, cfg, ilog, this.watcher).catch((e: Error) => {
      throw new StartupError(`${name}: ${e.message}`);
    });
    const shared = this.resourcesFor(module);
    const seen = this.telemetry.instance(name, provider.type);
    return new ProviderRunner(provider, {
      clock: this.clock,
      log: ilog,
      timing: ctx.timing,
      vips: cfg.vips,
      limiter: shared.limiter,
      batch: shared.batch,
      onChange: (st) => instance()?.onProviderChange(st),
      syncGoal: () => election()?.sync(),
      onCall: (op, outcome, ms, error) => seen.providerCall(op, outcome, ms, error),
      ...(fence ? { fence } : {}),
    });
  }

  // --- reload (src/reload/, config/diff.ts) ----------------------------------------------------------

  /**
   * Reload in place (diff kind 'in-place': priority and/or vips): state, timers and the VIPs that stay
   * are untouched. A new VIP list gets a runner of its own, which takes over the goal (a MASTER
   * acquires the new list: added VIPs come up and are announced); the removed VIPs are released.
   */
  reconfigure(name: string, cfg: InstanceConfig): Promise<void> {
    return this.serialise(async () => {
      const m = this.members.get(name);
      if (!m) throw new StartupError(`no instance ${name}`);
      const old = m.instance.cfg;
      const ilog = this.log.child({ instance: name });
      let oldRunner: ProviderRunner | null = null;
      if (old.vips.join() !== cfg.vips.join()) oldRunner = m.instance.swapRunner(await this.newRunner(name, cfg, ilog, () => m.instance, () => m.election));
      m.instance.reconfigure(cfg);
      m.election?.reconfigure(cfg);
      if (old.priority !== cfg.priority) {
        if (m.tracker) {
          m.tracker.close();
          const target = { setPriority: (p: number) => m.instance.setPriority(p), setFault: (s: `check:${string}`, r: string | null) => m.instance.setFault(s, r) };
          m.tracker = new InstanceTracker(name, cfg, this.checksCfg, this.checks!, target, ilog);
          applyTrackedInterfaces(m.tracker, this.watcher);
        } else m.instance.setPriority(cfg.priority);
      }
      if (oldRunner) {
        const mayHold = holdsMaybe(oldRunner);
        await oldRunner.close();
        await this.releaseVips(name, old, cfg.vips, mayHold);
      }
    });
  }

  /**
   * A hitless restart (diff kind 'restart'): the instance is rebuilt from its new definition without
   * stepping down — no priority 0, the VIPs it keeps stay up, the removed ones are released. A MASTER
   * comes back as MASTER at once (advert, then the provider re-acquires and announces, as keepalived
   * does after a reload); a BACKUP or FAULT starts again as at start-up. If the new definition cannot
   * start, what the old one may hold is released and the error is thrown.
   */
  restart(name: string, cfg: InstanceConfig): Promise<void> {
    return this.serialise(async () => {
      const m = this.members.get(name);
      if (!m) throw new StartupError(`no instance ${name}`);
      const old = m.instance.cfg;
      const wasMaster = m.instance.state === 'MASTER';
      const mayHold = wasMaster || holdsMaybe(m.instance.runner);
      this.members.delete(name);
      m.tracker?.close();
      const port6 = m.election instanceof Ipv6VrrpElection ? this.ports6.get(old.interface) : undefined;
      const port = port6 ?? (m.election ? this.ports.get(old.interface) : undefined);
      if (port6) port6.demux.remove(m.election as Ipv6VrrpElection);
      else (port as Port | undefined)?.demux.remove(m.election as VrrpElection);
      port?.users.delete(m as VrrpMember);
      this.hooks.detachForRestart(name, wasMaster && JSON.stringify(old.routes ?? []) === JSON.stringify(cfg.routes ?? []));
      await m.instance.abandon();
      let next: Member;
      try {
        next = await this.prepare(name, cfg);
      } catch (e) {
        await this.releaseVips(name, old, [], mayHold);
        if (port) this.releasePortIfUnused(port);
        throw e;
      }
      await this.releaseVips(name, old, cfg.vips, mayHold);
      if (!wasMaster) return this.launch(next);
      this.evaluate(next);
      next.instance.start();
      if (next.instance.state === 'BACKUP') next.election?.syncPull('MASTER', 'reload: restarted as master');
      else if (next.instance.state !== 'MASTER') next.instance.runner.want(false); // FAULT: the kept VIPs go
    });
  }

  /** Releases the VIPs of `old` that are not in `keep`, when the instance may hold them (a runner of their own). */
  private async releaseVips(name: string, old: InstanceConfig, keep: readonly string[], mayHold: boolean): Promise<void> {
    const gone = old.vips.filter((v) => !keep.includes(v));
    if (gone.length === 0 || !mayHold) return;
    const r = await this.newRunner(name, { ...old, vips: gone }, this.log.child({ instance: name }), () => undefined, () => undefined);
    if (!(await r.releaseNow(SHUTDOWN_DEADLINE_MS))) this.log.warn({ instance: name, vips: gone, err: r.status().lastError }, 'could not release the VIPs removed by the reload');
    await r.close();
  }

  /**
   * An instance whose election is a lease in etcd (src/election/etcd.ts): the same provider runner,
   * fenced by the leader's token (provider/runner/fencing.ts), the same instance, tracking and hooks;
   * no VRRP socket. The etcd client is loaded here, only when such an instance exists.
   */
  private async prepareLease(name: string, cfg: InstanceConfig, ecfg: EtcdElectionConfig): Promise<Member> {
    const ilog = this.log.child({ instance: name });
    const { EtcdElection } = await import('./election/etcd.js');
    let instance: Instance | undefined;
    let election: InstanceType<typeof EtcdElection> | undefined;
    const fence: Fence = { current: () => election?.current() ?? null, subscribe: (l) => election?.subscribe(l) ?? (() => {}) };
    const runner = await this.newRunner(name, cfg, ilog, () => instance, () => null, fence);
    instance = new Instance(name, cfg, {
      runner,
      clock: this.clock,
      log: ilog,
      onTransition: this.transitionObserver(name, cfg, ilog, runner),
      election: (hooks) => (election = new EtcdElection(name, ecfg, { hooks, log: ilog, priority: cfg.priority })),
    });
    const member: Member = { instance, election: null };
    try {
      this.track(member, ilog);
    } catch (e) {
      void this.hooks.detach(name, 0);
      instance.election.close();
      await runner.close();
      throw new StartupError(`${name}: ${(e as Error).message}`);
    }
    this.members.set(name, member);
    this.hooks.attach(name, instance);
    return member;
  }

  /** What follows an instance's transitions: its hooks (notify, sync group, routes), telemetry, the agent's listeners. */
  private transitionObserver(name: string, cfg: InstanceConfig, ilog: Logger, runner: ProviderRunner): NonNullable<InstanceDeps['onTransition']> {
    const hook = this.hooks.observer(name, cfg, ilog);
    const seen = this.telemetry.instance(name, runner.status().type);
    return (from, to, reason, priority, agoMs) => {
      hook(from, to, reason, priority);
      seen.transition(from, to, reason, priority, agoMs);
      for (const fn of this.transitionListeners) fn(name);
    };
  }

  /** The instance's track: (checks, interfaces, files), when it has one; throws on a bad reference. */
  private track(member: Member, ilog: Logger): void {
    const { instance } = member;
    if (!instance.cfg.track) return;
    const target = { setPriority: (p: number) => instance.setPriority(p), setFault: (s: `check:${string}`, r: string | null) => instance.setFault(s, r) };
    member.tracker = new InstanceTracker(instance.name, instance.cfg, this.checksCfg, this.checks!, target, ilog);
    applyTrackedInterfaces(member.tracker, this.watcher);
  }

  /** Clears stale copies of the instance's VIPs (a kill -9 leaves them behind), then starts it. */
  private async launch(m: Member): Promise<void> {
    const runner = m.instance.runner;
    runner.want(false);
    if (!(await runner.whenReached(STARTUP_CLEANUP_MS)))
      this.log.warn({ instance: m.instance.name, err: runner.status().lastError }, 'could not clear stale VIPs at start-up; the runner keeps trying');
    if (this.stopping || this.members.get(m.instance.name) !== m) return;
    this.evaluate(m);
    m.instance.start();
  }

  private async doRemove(name: string): Promise<void> {
    const m = this.members.get(name);
    if (!m) throw new StartupError(`no instance ${name}`);
    this.members.delete(name);
    m.tracker?.close();
    await m.instance.shutdown(SHUTDOWN_DEADLINE_MS);
    await this.hooks.detach(name, SHUTDOWN_DEADLINE_MS);
    const port6 = m.election instanceof Ipv6VrrpElection ? this.ports6.get(m.instance.cfg.interface) : undefined;
    if (port6) {
      port6.demux.remove(m.election as Ipv6VrrpElection);
      port6.users.delete(m);
      return this.releasePortIfUnused(port6);
    }
    const port = this.ports.get(m.instance.cfg.interface);
    if (!port || !m.election) return;
    port.demux.remove(m.election as VrrpElection);
    port.users.delete(m as VrrpMember);
    this.releasePortIfUnused(port);
  }

  private releasePortIfUnused(port: Port | Ipv6Port): void {
    if (port instanceof Ipv6Port) {
      if (port.users.size === 0 && this.ports6.get(port.ifname) === port) {
        port.close();
        this.ports6.delete(port.ifname);
      }
      return;
    }
    if (port.users.size > 0 || this.ports.get(port.ifname) !== port) return;
    port.socket.close();
    port.offload?.close();
    this.ports.delete(port.ifname);
  }

  /** Removes everything after a failed start: no priority 0 to send, VIPs were only ever released. */
  private async abandon(): Promise<void> {
    this.scheduler.set(this.socketCheck, null);
    this.scheduler.set(this.offloadLease, null);
    for (const m of this.members.values()) m.instance.election.close();
    this.checks?.close();
    await this.hooks?.stop(0);
    await Promise.all([...this.members.values()].map((m) => m.instance.runner.close()));
    for (const p of this.ports.values()) {
      p.socket.close();
      p.offload?.close();
    }
    for (const p of this.ports6.values()) p.close();
    this.watcher.close();
    await this.server?.close();
    this.scheduler.close();
  }

  private resourcesFor(module: ProviderModule): TypeResources {
    let r = this.typeResources.get(module);
    if (!r) this.typeResources.set(module, (r = createTypeResources(module, this.clock)));
    return r;
  }

  /** The interface's IPv6 port (socket + demux), opened with its first IPv6 instance. */
  private port6For(link: LinkInfo): Ipv6Port {
    let port = this.ports6.get(link.name);
    if (port) return port;
    try {
      port = new Ipv6Port(link.name, link);
    } catch (e) {
      throw new StartupError((e as Error).message);
    }
    this.ports6.set(link.name, port);
    return port;
  }

  private portFor(link: LinkInfo): Port {
    let port = this.ports.get(link.name);
    if (port) return port;
    let socket: VrrpSocket;
    try {
      socket = VrrpSocket.open(link.name, link.index);
    } catch (e) {
      throw new StartupError((e as Error).message);
    }
    // Datagrams no instance here serves are counted per interface; malformed ones are also logged at
    // debug, at most once per reason per 10 s (another router's VRID is normal traffic: counted only).
    const drops = new RateLimitedLog(10_000);
    const onDrop = (reason: string, detail: () => string) => {
      if (reason !== 'unknown-vrid' && drops.allow(reason)) this.log.debug({ evt: 'drop', interface: link.name, reason, detail: detail() }, `datagram dropped on ${link.name}: ${reason}`);
    };
    port = { ifname: link.name, socket, offload: this.openOffload(link), demux: new ReceiveDemux({ onDrop }), users: new Set(), local: new Set(), queued: false };
    refreshLocal(port.local, link);
    this.attach(port, socket, port.offload);
    this.ports.set(link.name, port);
    return port;
  }

  /**
   * The interface's offload, or null (then the socket receives): the addon is missing or switched
   * off (said once, at info), or it failed to open (said at warn; the agent works without it). Its
   * thread refused the realtime priority asked for: said once, at warn, with the fix (it works
   * as a normal thread; /status interfaces.*.offload.rtError says why).
   */
  private openOffload(link: LinkInfo): AdvertOffload | null {
    const why = offloadUnavailable();
    try {
      const offload = why === null ? AdvertOffload.open(link.name, link.index, this.advertRtPriority) : null;
      if (!offload && !this.offloadSaid) this.log.info({ reason: why }, `VRRP offload off (${why}): every advert goes through the event loop`);
      this.offloadSaid = true;
      const rtError = offload?.stats().rtError;
      if (rtError && !this.rtRefusedSaid) {
        this.rtRefusedSaid = true;
        const p = this.advertRtPriority;
        this.log.warn(
          { interface: link.name, realtimePriority: p, err: rtError },
          `the advert thread runs with normal scheduling: realtime priority ${p} refused (${rtError}); a busy host can delay adverts — fix: grant CAP_SYS_NICE or raise RLIMIT_RTPRIO to ${p} (systemd: LimitRTPRIO=${p}), or set advertThread.realtimePriority: 0 to run normally without this warning`,
        );
      }
      if (offload) {
        offload.lease(OFFLOAD_LEASE_MS);
        if (this.offloadLease.slot < 0) this.scheduler.set(this.offloadLease, nextMultiple(this.scheduler.now(), OFFLOAD_RENEW_MS));
      }
      return offload;
    } catch (e) {
      this.log.warn({ interface: link.name, err: (e as Error).message }, `cannot open the VRRP offload on ${link.name}; every advert goes through the event loop`);
      return null;
    }
  }

  /** Routes received datagrams through the port's demux; the socket's trouble (see transport.ts) is a fault source at once. */
  private attach(port: Port, socket: VrrpSocket, offload: AdvertOffload | null): void {
    socket.onDatagram((d) => port.demux.dispatch(d));
    if (offload) {
      socket.pauseReceive();
      offload.onDatagram((d) => port.demux.dispatch(d));
    }
    socket.onTrouble(() => {
      if (port.socket !== socket || this.stopping) return;
      for (const m of port.users) this.evaluate(m);
    });
  }

  // --- watching links, addresses and sockets ------------------------------------------------------------

  /** Link and address events come in bursts (a takeover adds 200 VIPs): one evaluation per burst. */
  private linkChanged(ifname: string): void {
    for (const m of this.members.values()) if (m.tracker) applyTrackedInterfaces(m.tracker, this.watcher, ifname);
    this.linkChanged6(ifname);
    const port = this.ports.get(ifname);
    if (!port || port.queued || this.stopping) return;
    port.queued = true;
    setImmediate(() => {
      port.queued = false;
      if (this.stopping || this.ports.get(ifname) !== port) return;
      const link = this.watcher.link(ifname);
      if (link) refreshLocal(port.local, link);
      this.refreshSocket(port);
      for (const m of port.users) this.evaluate(m);
    });
  }

  /** linkChanged for the interface's IPv6 port: addresses (own-packet check), a re-created interface. */
  private linkChanged6(ifname: string): void {
    const port = this.ports6.get(ifname);
    const link = this.watcher.link(ifname);
    if (!port || !link || this.stopping) return;
    try {
      port.refresh(link);
    } catch (e) {
      this.log.error({ interface: ifname, err: (e as Error).message }, `cannot reopen the IPv6 VRRP socket on ${ifname}`);
    }
    for (const m of port.users) this.evaluate(m as Member);
  }

  /** Sets the instance's link, unicast-source and socket fault sources from what the watcher knows now. */
  private evaluate(m: Member): void {
    const cfg = m.instance.cfg;
    const ifname = cfg.interface;
    const link = this.watcher.link(ifname);
    const v6 = m.election instanceof Ipv6VrrpElection;
    const port = v6 ? this.ports6.get(ifname) : this.ports.get(ifname);
    let linkFault: string | null = null;
    if (!link) linkFault = `interface ${ifname} disappeared`;
    else if (!link.up) linkFault = `interface ${ifname} is ${link.operstate === 'up' ? 'not running' : link.operstate}`;
    else if (port && port.socket.ifindex !== link.index) linkFault = `interface ${ifname} was re-created and its VRRP socket cannot be reopened yet`;
    let sourceFault: string | null = null;
    if (link && m.election) {
      const wanted = cfg.unicast?.source;
      const source = wanted ?? (v6 ? linkLocal6(link) : primaryIPv4(link, cfg.vips));
      if (wanted && !link.addresses.some((a) => a.address === wanted || (v6 && canonicalIpv6(a.address) === canonicalIpv6(wanted)))) sourceFault = `unicast source ${wanted} is not on ${ifname}`;
      else if (!source) linkFault ??= `interface ${ifname} has no ${v6 ? 'link-local IPv6' : 'IPv4'} address to send adverts from`;
      if (source) m.election.setSource(source);
    }
    m.instance.setFault('link', linkFault);
    m.instance.setFault('unicast-source', sourceFault);
    if (!m.election) return; // a lease-based election: no VRRP socket, no advert source
    const socketFault = (port && !v6 && (port as Port).socket.trouble()) || m.election.trouble();
    m.instance.setFault('socket', socketFault);
    if (socketFault !== null) this.wantSocketCheck();
  }

  /** Arms the socket check for the next whole second, unless it is armed (it runs only while needed). */
  private wantSocketCheck(): void {
    if (this.socketCheck.slot >= 0 || this.stopping) return;
    this.scheduler.set(this.socketCheck, nextMultiple(this.scheduler.now(), SOCKET_CHECK_MS));
  }

  /**
   * A socket is tied to the interface index it was opened on: when the interface was deleted and
   * created again (VLAN, bond, veth), or the socket is in trouble, open a new one before anyone recovers.
   */
  private refreshSocket(port: Port): void {
    const link = this.watcher.link(port.ifname);
    if (!link) return; // gone: evaluate() keeps the instances in FAULT
    // A socket in trouble() reopens itself (transport.ts); sends failing while it looks fine, or a new
    // interface index, need a new socket from here.
    const failing = [...port.users].some((m) => m.election.trouble() !== null);
    if (link.index === port.socket.ifindex && !failing) return;
    try {
      const sock = VrrpSocket.open(port.ifname, link.index);
      const offload = this.openOffload(link);
      const old = port.socket;
      const oldOffload = port.offload;
      port.socket = sock;
      port.offload = offload;
      this.attach(port, sock, offload);
      for (const m of port.users) (m.election as VrrpElection).setSocket(sock, offload); // takes its rule back from the old offload
      old.close();
      oldOffload?.close();
      this.log.warn({ interface: port.ifname, from: old.ifindex, to: link.index }, `reopened the VRRP socket on ${port.ifname}`);
    } catch (e) {
      this.log.error({ interface: port.ifname, err: (e as Error).message }, `cannot reopen the VRRP socket on ${port.ifname}`);
    }
  }

  /**
   * Every second while some instance's socket is in trouble (elections' onTrouble and evaluate() arm
   * it): reopen and re-evaluate. Returns true while trouble remains (then it runs again).
   */
  private checkSockets(): boolean {
    if (this.stopping) return false;
    let again = false;
    for (const port of this.ports.values()) {
      const troubled = [...port.users].some((m) => m.election.trouble() !== null || m.instance.hasFault('socket'));
      if (!troubled) continue;
      this.refreshSocket(port);
      for (const m of port.users) this.evaluate(m);
      again ||= [...port.users].some((m) => m.election.trouble() !== null || m.instance.hasFault('socket'));
    }
    for (const port of this.ports6.values()) {
      const users = [...port.users] as Member[];
      if (!users.some((m) => m.election!.trouble() !== null)) continue;
      try {
        port.reopen(port.socket.ifindex);
        for (const m of users) (m.election as Ipv6VrrpElection).socketReopened();
      } catch (e) {
        this.log.error({ interface: port.ifname, err: (e as Error).message }, `cannot reopen the IPv6 VRRP socket on ${port.ifname}`);
      }
      for (const m of users) this.evaluate(m);
      again ||= users.some((m) => m.election!.trouble() !== null || m.instance.hasFault('socket'));
    }
    return again;
  }
}

/** The runner may hold its VIPs (as Instance.shutdown decides whether to release). */
function holdsMaybe(r: ProviderRunner): boolean {
  const p = r.status();
  return p.desired === 'held' || p.ownership === 'held' || (p.ownership === 'unknown' && p.desired !== null);
}

/** The first multiple of `step` after `now`. */
function nextMultiple(now: number, step: number): number {
  return (Math.floor(now / step) + 1) * step;
}

/** Sets `local` to the link's IPv4 addresses as uint32, in place (the instances hold this very set). */
function refreshLocal(local: Set<number>, link: LinkInfo): void {
  local.clear();
  for (const a of link.addresses) {
    const n = a.family === 4 ? parseIpv4Address(a.address) : null;
    if (n !== null) local.add(n);
  }
}
