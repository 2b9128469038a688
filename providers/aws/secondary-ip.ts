// secondary-ip mode: the VIPs are secondary private addresses of this instance's ENI (the one behind
// the configured interface), moved with AssignPrivateIpAddresses + AllowReassignment, and also on the
// interface itself (EC2 does not configure the guest).
//
//   acquire: a failover: ONE assign for all the VIPs at once, and the VIPs on the interface while it
//            is on its way (requestFirst); otherwise (they were ours when we last looked: a drift, a
//            retry) the VIPs on the interface first, then the assign only if IMDS does not list them; then confirm — the remap is asynchronous — by polling IMDS local-ipv4s
//            (no EC2 call) with jittered, doubling waits up to timing.confirmTimeoutMs, and one
//            DescribeNetworkInterfaces at the end if IMDS could not tell. At most 2 EC2 calls.
//   release: the VIPs off the interface; in the cloud only with unassignOnRelease (and only those
//            still on our ENI: never take one from the new master).
//   verify:  one DescribeNetworkInterfaces for all VIPs (batched across instances by verifyMany):
//            'held' when on our ENI and on the interface, 'elsewhere' on another ENI, else 'not-held'.
//   announce('lower-priority'): a MASTER heard a lower-priority peer, which may have grabbed the VIP
//            in EC2 while it briefly thought itself master (keepalived issue #950): verify at once
//            (through the runner's recheck), so a VIP found 'elsewhere' is taken back now, not at
//            the next reconcile. After the first release (a BACKUP at start-up), one verify at
//            once (src/provider/recheck.ts), so a failover finds everything it needs ready.
// Instance facts (facts.ts) are read once, at the first call that needs them (instance.ts); the
// guest side is local-addresses.ts, the confirmation loop confirm.ts (shared with the other modes).
import type { PreflightCheck, PreflightOptions, ProviderContext, VipOwnership, VipProvider } from '../../src/provider/types.js';
import { retryable } from '../../src/provider/errors.js';
import { parseCidr, type Cidr } from '../../src/net/address.js';
import { localIpv4s, type InstanceFacts } from './facts.js';
import type { Ec2, Holders } from './ec2.js';
import { pollUntil } from './confirm.js';
import { confirmClock, type ConfirmClock } from '../../src/provider/wait.js';
import { modePreflight, instanceResolver, type AwsModeOptions, type Resolved } from './instance.js';
import { addAll, interfaceAddresses, requestFirst, type LocalAddresses } from './local-addresses.js';
import { Recheck } from '../../src/provider/recheck.js';

export type { LocalAddresses } from './local-addresses.js';

export interface SecondaryIpOptions extends AwsModeOptions {
  unassignOnRelease: boolean;
}

export class SecondaryIpProvider implements VipProvider {
  readonly type = 'aws';
  readonly acquireIsRemote = true; // a failover starts with its EC2 request (Instance.onTransition)
  private readonly cidrs: Cidr[];
  private readonly clock: ConfirmClock;
  private readonly local: LocalAddresses;
  private readonly resolver: () => Promise<Resolved>;
  private readonly recheck = new Recheck();
  /** Every VIP was on our ENI when we last looked (or we assigned them since): acquire checks IMDS before assigning. */
  private oursLastSeen = false;

  constructor(
    private readonly ctx: ProviderContext,
    private readonly opts: SecondaryIpOptions,
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

  /** Facts and client, discovered once (a failed discovery is tried again next time). */
  resolve(): Promise<Resolved> {
    return this.resolver();
  }

  async acquire(signal: AbortSignal): Promise<void> {
    const { facts, ec2 } = await this.resolve();
    if (this.oursLastSeen) {
      // Already ours (a local-only drift, a retry after the remap landed)? Asked only when we last
      // saw them on our ENI (an assign of what is already ours is a harmless no-op).
      await addAll(this.local, this.cidrs, signal);
      if (await this.listedOnOurEni(facts)) return;
      signal.throwIfAborted();
      await ec2.assign(facts.networkInterfaceId, this.addresses, signal);
    } else {
      // A failover: the assign goes at once, before the local addresses (requestFirst).
      signal.throwIfAborted();
      this.oursLastSeen = true; // from here on a retry checks first: the assign may have landed
      await requestFirst(ec2.assign(facts.networkInterfaceId, this.addresses, signal), () => addAll(this.local, this.cidrs, signal));
    }
    this.oursLastSeen = true;
    await this.confirm(facts, ec2, signal);
  }

  async release(signal: AbortSignal): Promise<void> {
    signal.throwIfAborted();
    await this.local.remove(this.addresses, signal);
    if (this.opts.unassignOnRelease) {
      const { facts, ec2 } = await this.resolve();
      const holders = await ec2.holders(facts.vpcId, this.addresses, signal);
      const ours = this.addresses.filter((a) => holders.get(a) === facts.networkInterfaceId);
      if (ours.length > 0) await ec2.unassign(facts.networkInterfaceId, ours, signal);
    }
    this.recheck.released();
  }

  async verify(signal: AbortSignal): Promise<VipOwnership> {
    const { facts, ec2 } = await this.resolve();
    const out = this.ownershipFrom(await ec2.holders(facts.vpcId, this.addresses, signal), facts, await this.localAddresses(signal));
    // The failover's assign compiled ahead, nothing sent (Ec2.rehearseAssign decides how often).
    await ec2.rehearseAssign(facts.networkInterfaceId, this.addresses).catch(() => undefined);
    return out;
  }

  /** Per VIP from a DescribeNetworkInterfaces answer (verifyMany shares one among instances). */
  ownershipFrom(holders: Holders, facts: InstanceFacts, local: ReadonlySet<string> | null): VipOwnership {
    const out: VipOwnership = {};
    let ours = 0;
    for (const c of this.cidrs) {
      const holder = holders.get(c.address) ?? null;
      if (holder === facts.networkInterfaceId) {
        ours++;
        out[this.keyOf(c)] = local?.has(c.address) ? 'held' : 'not-held';
      } else out[this.keyOf(c)] = holder ? 'elsewhere' : 'not-held';
    }
    this.oursLastSeen = ours === this.cidrs.length;
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

  private keyOf(c: Cidr): string {
    return this.ctx.vips[this.cidrs.indexOf(c)]!;
  }

  /** IMDS lists every VIP on our ENI (false when IMDS cannot tell). */
  private async listedOnOurEni(facts: InstanceFacts): Promise<boolean> {
    try {
      const listed = new Set(await localIpv4s(this.opts.imds, facts.mac));
      return this.addresses.every((a) => listed.has(a));
    } catch {
      return false;
    }
  }

  /** Waits until the remap shows (see the header); throws a retryable error when it does not in time. */
  private async confirm(facts: InstanceFacts, ec2: Ec2, signal: AbortSignal): Promise<void> {
    if (await pollUntil(() => this.listedOnOurEni(facts), this.ctx.timing.confirmTimeoutMs, this.clock, signal)) return;
    // IMDS did not show it (slow, or unreachable): EC2's own view decides, once.
    const holders = await ec2.holders(facts.vpcId, this.addresses, signal);
    const missing = this.addresses.filter((a) => holders.get(a) !== facts.networkInterfaceId);
    if (missing.length > 0)
      throw retryable(`${missing.join(', ')} not on ${facts.networkInterfaceId} ${Math.round(this.ctx.timing.confirmTimeoutMs / 1000)} s after the assign`, {
        fix: 'EC2 has not finished the move yet: the agent assigns again; if this persists, raise provider.timing.confirmTimeout',
        code: 'NotConfirmed',
      });
  }
}
