// route-table mode ("overlay IP", as ClusterLabs aws-vpc-move-ip): the VIPs are /32 addresses OUTSIDE
// the VPC's CIDRs, routed in each of `routeTableIds` to the master's ENI (the ENI behind the
// configured interface; its source/dest check must be off, or EC2 drops the forwarded traffic), and
// on the interface itself (EC2 does not configure the guest).
//
//   acquire: ONE DescribeRouteTables for every table and VIP (the VIPs go on the interface while it is
//            on its way: requestFirst in local-addresses.ts); a route that
//            does not exist is a permanent error with the `aws ec2 create-route` that fixes it (ReplaceRoute
//            cannot create one), before any write; ReplaceRoute VIP/32 → our ENI only where a table
//            does not already route it to us (already right everywhere: no write); then confirm with
//            DescribeRouteTables at once and after jittered, doubling waits up to
//            timing.confirmTimeoutMs (confirm.ts). With 1 table and 1 VIP a failover is 3 EC2 calls
//            (read, replace, read) when EC2 shows the change at once, as it normally does.
//   release: the VIPs off the interface; the routes are never touched (the new master replaces them;
//            deleting one would cut the VIP off until then).
//   verify:  one DescribeRouteTables: per VIP 'held' when every table routes it to our ENI and it is
//            on the interface, 'elsewhere' when a table routes it (actively) to another ENI, else
//            'not-held' (route missing, blackholed, to a gateway, or ours but not on the interface).
//   announce('lower-priority'): verify now through the runner's recheck (see secondary-ip.ts).
// Facts are read once (instance.ts); unlike aws-vpc-move-ip, every table is checked on every verify
// (its monapi=false default checks only the local address), and the move is confirmed, not slept on.
import type { PreflightCheck, PreflightOptions, ProviderContext, VipOwnership, VipProvider } from '../../src/provider/types.js';
import { permanent, retryable } from '../../src/provider/errors.js';
import { parseCidr, type Cidr } from '../../src/net/address.js';
import { ipv4InRange } from '../../src/net/ip.js';
import type { InstanceFacts } from './facts.js';
import type { RouteTargets } from './ec2.js';
import { pollUntil } from './confirm.js';
import { confirmClock, type ConfirmClock } from '../../src/provider/wait.js';
import { modePreflight, instanceResolver, type AwsModeOptions, type Resolved } from './instance.js';
import { addAll, interfaceAddresses, requestFirst, type LocalAddresses } from './local-addresses.js';
import { Recheck } from '../../src/provider/recheck.js';

export interface RouteTableOptions extends AwsModeOptions {
  /** The route tables that route the VIPs (every subnet's table whose clients must reach them). */
  routeTableIds: string[];
}

export class RouteTableProvider implements VipProvider {
  readonly type = 'aws';
  readonly acquireIsRemote = true; // a failover starts with its EC2 request (Instance.onTransition)
  private readonly cidrs: Cidr[];
  private readonly clock: ConfirmClock;
  private readonly local: LocalAddresses;
  private readonly resolver: () => Promise<Resolved>;
  private readonly recheck = new Recheck();

  constructor(
    private readonly ctx: ProviderContext,
    private readonly opts: RouteTableOptions,
  ) {
    this.cidrs = ctx.vips.map((v) => parseCidr(v));
    this.clock = confirmClock(opts);
    this.local = opts.local ?? interfaceAddresses(ctx);
    this.resolver = instanceResolver(ctx.interface, opts);
  }

  /** The VIPs as plain addresses, in config order. */
  get addresses(): string[] {
    return this.cidrs.map((c) => c.address);
  }

  /** The route destinations, one per VIP: "a.b.c.d/32". */
  get destinations(): string[] {
    return this.cidrs.map((c) => `${c.address}/32`);
  }

  get routeTableIds(): readonly string[] {
    return this.opts.routeTableIds;
  }

  /** Facts and client, discovered once (a failed discovery is tried again next time). */
  resolve(): Promise<Resolved> {
    return this.resolver();
  }

  async acquire(signal: AbortSignal): Promise<void> {
    const { facts, ec2 } = await this.resolve();
    this.checkOverlay(facts);
    const eni = facts.networkInterfaceId;
    const before = await requestFirst(ec2.routeTargets(this.routeTableIds, this.destinations, signal), () => addAll(this.local, this.cidrs, signal));
    const missing = [...before].flatMap(([table, byDest]) => [...byDest].filter(([, t]) => t.missing).map(([dest]) => ({ table, dest })));
    if (missing.length > 0)
      throw permanent(
        `no route for ${missing.map((m) => `${m.dest} in ${m.table}`).join(', ')}: ReplaceRoute can only redirect an existing route`,
        `create each route once (then the agent moves it): ${missing.map((m) => `aws ec2 create-route --route-table-id ${m.table} --destination-cidr-block ${m.dest} --network-interface-id ${eni}`).join('; ')}`,
        { code: 'RouteMissing' },
      );
    const todo = [...before].flatMap(([table, byDest]) => [...byDest].filter(([, t]) => t.eni !== eni).map(([dest]) => ({ table, dest })));
    if (todo.length === 0) return; // every table already routes every VIP to us (a local-only drift, or a retry after the change showed)
    for (const { table, dest } of todo) {
      signal.throwIfAborted();
      await ec2.replaceRoute(table, dest, eni, signal);
    }
    const confirmed = await pollUntil(
      async () => this.allOurs(await ec2.routeTargets(this.routeTableIds, this.destinations, signal), eni),
      this.ctx.timing.confirmTimeoutMs,
      this.clock,
      signal,
    );
    if (!confirmed)
      throw retryable(`the routes for ${this.destinations.join(', ')} do not all go to ${eni} ${Math.round(this.ctx.timing.confirmTimeoutMs / 1000)} s after ReplaceRoute`, {
        fix: 'EC2 has not shown the new routes yet: the agent replaces them again; if this persists, raise provider.timing.confirmTimeout',
        code: 'NotConfirmed',
      });
  }

  async release(signal: AbortSignal): Promise<void> {
    signal.throwIfAborted();
    await this.local.remove(this.addresses, signal);
    this.recheck.released();
  }

  async verify(signal: AbortSignal): Promise<VipOwnership> {
    const { facts, ec2 } = await this.resolve();
    return this.ownershipFrom(await ec2.routeTargets(this.routeTableIds, this.destinations, signal), facts, await this.localAddresses(signal));
  }

  /** Per VIP from a DescribeRouteTables answer covering this provider's tables and destinations. */
  ownershipFrom(targets: RouteTargets, facts: InstanceFacts, local: ReadonlySet<string> | null): VipOwnership {
    const out: VipOwnership = {};
    this.cidrs.forEach((c, i) => {
      const dest = `${c.address}/32`;
      const routes = this.routeTableIds.map((id) => targets.get(id)?.get(dest) ?? { missing: true, eni: null, active: false });
      const key = this.ctx.vips[i]!;
      if (routes.every((r) => r.eni === facts.networkInterfaceId)) out[key] = local?.has(c.address) ? 'held' : 'not-held';
      else out[key] = routes.some((r) => r.active && r.eni !== null && r.eni !== facts.networkInterfaceId) ? 'elsewhere' : 'not-held';
    });
    return out;
  }

  watch(recheck: () => void): void {
    this.recheck.set(recheck);
  }

  announce(reason: 'lower-priority' | 'refresh'): void {
    this.recheck.announce(reason);
  }

  /** The addresses on the interface now (null: the interface is gone). */
  localAddresses(signal: AbortSignal): Promise<ReadonlySet<string> | null> {
    return this.local.present(signal);
  }

  preflight(options?: PreflightOptions): AsyncIterable<PreflightCheck> {
    return modePreflight(this.ctx, this.opts, () => this.resolve(), options);
  }

  private allOurs(targets: RouteTargets, eni: string): boolean {
    return this.routeTableIds.every((id) => this.destinations.every((d) => targets.get(id)?.get(d)?.eni === eni));
  }

  /** An overlay VIP must be IPv4 and outside the VPC (a route cannot be more specific than the VPC's local route). */
  private checkOverlay(facts: InstanceFacts): void {
    for (const c of this.cidrs) {
      if (c.family !== 4)
        throw permanent(`VIP ${c.cidr} is not IPv4`, 'route-table mode moves IPv4 /32 routes: give IPv4 VIPs', { code: 'VipNotIpv4' });
      const vpc = facts.vpcCidrs.find((cidr) => ipv4InRange(cidr, c.address));
      if (vpc)
        throw permanent(
          `VIP ${c.address} lies inside the VPC's CIDR ${vpc}: EC2 routes it locally, a route table cannot send it to one ENI`,
          'use an overlay address outside every CIDR of the VPC for route-table mode, or secondary-ip mode for an address inside the subnet',
          { code: 'VipInsideVpc' },
        );
    }
  }
}
