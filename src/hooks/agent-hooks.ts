// What the agent does around state transitions, outside the election and the provider (issue #8):
// per instance a notify queue (notify/) and its virtual routes (routes/), per sync group the group
// logic (sync/), and the one notify FIFO. The agent calls observer() when it builds an instance (the
// result goes into InstanceDeps.onTransition), attach() once the instance exists, detach() when it is
// removed, and stop() at shutdown. Contract:
// - Nothing here blocks the caller: notify hooks are queued (spawned asynchronously), routes are one
//   netlink syscall each, the FIFO write is non-blocking.
// - MASTER → routes held; leaving MASTER → routes released (before the notify for the new state).
// - stop(deadlineMs): STOP notify of every instance and group, bounded by the deadline.
import type { Logger } from 'pino';
import type { Config, InstanceConfig } from '../config/schema.js';
import type { ElectionState } from '../election/types.js';
import type { Instance } from '../instance.js';
import type { Clock } from '../provider/runner/clock.js';
import { NotifyFifo } from '../notify/fifo.js';
import { Notifier } from '../notify/notifier.js';
import type { NotifyStatus } from '../notify/runner.js';
import { VirtualRoutes, type RoutesStatus } from '../routes/virtual-routes.js';
import { SyncGroup, type SyncGroupStatus } from '../sync/group.js';

interface Hooked {
  notifier: Notifier;
  routes: VirtualRoutes;
  instance: Instance | null;
  group: SyncGroup | null;
}

export interface InstanceHooksStatus {
  notify: NotifyStatus;
  routes?: RoutesStatus;
  syncGroup?: string;
}

export class AgentHooks {
  private readonly hooked = new Map<string, Hooked>();
  private readonly groups = new Map<string, SyncGroup>();
  private readonly groupOf = new Map<string, SyncGroup>();

  private constructor(
    private readonly clock: Clock,
    private readonly log: Logger,
    private readonly fifo: NotifyFifo | null,
  ) {}

  /** Opens the FIFO (throws an Error with a fix when it cannot) and builds the sync groups. */
  static open(config: Pick<Config, 'notifyFifo' | 'syncGroups'>, clock: Clock, log: Logger): AgentHooks {
    const fifo = config.notifyFifo ? NotifyFifo.open(config.notifyFifo, log) : null;
    const hooks = new AgentHooks(clock, log, fifo);
    for (const [name, g] of Object.entries(config.syncGroups ?? {})) {
      const notifier = new Notifier('GROUP', name, g.notify, { clock, log: log.child({ syncGroup: name }), fifo });
      const group = new SyncGroup(name, g.instances, (n) => hooks.hooked.get(n)?.instance ?? undefined, notifier, log);
      hooks.groups.set(name, group);
      for (const n of g.instances) hooks.groupOf.set(n, group);
    }
    return hooks;
  }

  /** The transition observer of instance `name` (created before the instance itself). */
  observer(name: string, cfg: InstanceConfig, log: Logger): (from: ElectionState, to: ElectionState, reason: string, priority: number) => void {
    const h: Hooked = {
      notifier: new Notifier('INSTANCE', name, cfg.notify, { clock: this.clock, log, fifo: this.fifo }),
      routes: new VirtualRoutes(cfg.routes ?? [], cfg.interface, this.clock, log),
      instance: null,
      group: this.groupOf.get(name) ?? null,
    };
    this.hooked.set(name, h);
    return (from, to, _reason, priority) => {
      if (to === 'MASTER') h.routes.hold();
      else if (from === 'MASTER') h.routes.release();
      h.notifier.state(to, priority);
      h.group?.changed({ name, from, to });
    };
  }

  /** A sync-group member held back is ready to be MASTER: its group looks again. */
  wantMaster(name: string): void {
    this.hooked.get(name)?.group?.changed();
  }

  attach(name: string, instance: Instance): void {
    const h = this.hooked.get(name);
    if (!h) return;
    h.instance = instance;
    h.group?.changed();
  }

  /** The instance is gone (removed or replaced): its STOP notify runs in the background, bounded. */
  detach(name: string, deadlineMs: number): Promise<void> {
    const h = this.hooked.get(name);
    if (!h) return Promise.resolve();
    this.hooked.delete(name);
    h.routes.release();
    h.routes.close();
    h.group?.changed();
    const priority = h.instance?.election.status().effectivePriority ?? 0;
    return h.notifier.stop(priority, deadlineMs).finally(() => h.notifier.close());
  }

  /**
   * A hitless restart (src/reload/): the instance goes on under a new definition, so no STOP notify;
   * its routes stay up when `keepRoutes` (the new definition holds the same ones while MASTER).
   */
  detachForRestart(name: string, keepRoutes: boolean): void {
    const h = this.hooked.get(name);
    if (!h) return;
    this.hooked.delete(name);
    if (!keepRoutes) h.routes.release();
    h.routes.close();
    h.notifier.close();
    h.group?.changed();
  }

  status(name: string): InstanceHooksStatus | undefined {
    const h = this.hooked.get(name);
    if (!h) return undefined;
    return { notify: h.notifier.status(), ...(h.routes.size > 0 ? { routes: h.routes.status() } : {}), ...(h.group ? { syncGroup: h.group.name } : {}) };
  }

  get groupsCount(): number {
    return this.groups.size;
  }

  groupsStatus(): Record<string, SyncGroupStatus & { notify: NotifyStatus }> {
    return Object.fromEntries([...this.groups].map(([n, g]) => [n, { ...g.status(), notify: g.notify.status() }]));
  }

  /** Agent stop: routes released, STOP for every instance and group, all within `deadlineMs`. */
  async stop(deadlineMs: number): Promise<void> {
    const all: Promise<void>[] = [];
    for (const name of [...this.hooked.keys()]) all.push(this.detach(name, deadlineMs));
    for (const g of this.groups.values()) {
      g.close();
      all.push(g.notify.stop(0, deadlineMs).finally(() => g.notify.close()));
    }
    await Promise.all(all);
    this.fifo?.close();
  }
}
