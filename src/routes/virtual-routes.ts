// An instance's virtual routes (keepalived's virtual_routes): added when it becomes MASTER, removed
// when it leaves MASTER (and at stop), through net/route.ts (in-process rtnetlink). Contract:
// - hold(): add every route now; then re-check them every RECHECK_MS while MASTER (each check is one
//   RTM_NEWROUTE per route answered EEXIST when present), every RETRY_MS while one failed (its gateway
//   may only become reachable once the provider has put the VIPs on). A route removed by hand is put
//   back at the next check and counted in `restored`.
// - release(): stop checking, remove every route (a failure is logged; the route is absent-or-stuck).
// - Never throws; errors go to the log and to status().lastError.
import type { Logger } from 'pino';
import type { RouteConfig } from '../config/hooks-schema.js';
import type { Clock } from '../provider/runner/clock.js';
import { addRouteSync, removeRouteSync, routeText } from '../net/route.js';

export const RECHECK_MS = 5_000;
export const RETRY_MS = 1_000;

export interface RouteOps {
  add(r: RouteConfig, dev: string): 'added' | 'present';
  remove(r: RouteConfig, dev: string): 'removed' | 'absent';
}

export const netRouteOps: RouteOps = { add: addRouteSync, remove: removeRouteSync };

export interface RoutesStatus {
  held: boolean;
  routes: { route: string; present: boolean }[];
  restored: number;
  errors: number;
  lastError: string | null;
}

export class VirtualRoutes {
  private held = false;
  private timer: unknown = null;
  private readonly present: boolean[];
  private restored = 0;
  private errors = 0;
  private lastError: string | null = null;

  constructor(
    private readonly routes: readonly RouteConfig[],
    private readonly defaultDev: string,
    private readonly clock: Clock,
    private readonly log: Logger,
    private readonly ops: RouteOps = netRouteOps,
  ) {
    this.present = routes.map(() => false);
  }

  get size(): number {
    return this.routes.length;
  }

  hold(): void {
    if (this.routes.length === 0) return;
    this.held = true;
    this.check();
  }

  release(): void {
    const wasHeld = this.held;
    this.held = false;
    this.clock.clearTimeout(this.timer);
    this.timer = null;
    if (!wasHeld) return;
    this.routes.forEach((r, i) => {
      const dev = r.dev ?? this.defaultDev;
      try {
        const how = this.ops.remove(r, dev);
        this.log.info({ evt: 'route', op: 'del', route: routeText(r, dev), how }, `route ${routeText(r, dev)} ${how}`);
      } catch (e) {
        this.fail(e);
      }
      this.present[i] = false;
    });
  }

  status(): RoutesStatus {
    return {
      held: this.held,
      routes: this.routes.map((r, i) => ({ route: routeText(r, r.dev ?? this.defaultDev), present: this.present[i]! })),
      restored: this.restored,
      errors: this.errors,
      lastError: this.lastError,
    };
  }

  close(): void {
    this.clock.clearTimeout(this.timer);
    this.timer = null;
  }

  /** Adds what is missing; re-arms itself while held. */
  private check(): void {
    if (!this.held) return;
    let failed = false;
    this.routes.forEach((r, i) => {
      const dev = r.dev ?? this.defaultDev;
      try {
        const how = this.ops.add(r, dev);
        if (how === 'added') {
          if (this.present[i]) {
            this.restored++;
            this.log.warn({ evt: 'route', op: 'restore', route: routeText(r, dev) }, `route ${routeText(r, dev)} was removed while MASTER: restored`);
          } else this.log.info({ evt: 'route', op: 'add', route: routeText(r, dev) }, `route ${routeText(r, dev)} added`);
        }
        this.present[i] = true;
      } catch (e) {
        failed = true;
        this.fail(e);
      }
    });
    if (!failed) this.lastError = null;
    this.clock.clearTimeout(this.timer);
    this.timer = this.clock.setTimeout(() => this.check(), failed ? RETRY_MS : RECHECK_MS);
  }

  private fail(e: unknown): void {
    this.errors++;
    const msg = (e as Error).message;
    if (msg !== this.lastError) this.log.error({ evt: 'route', err: msg }, msg);
    this.lastError = msg;
  }
}
