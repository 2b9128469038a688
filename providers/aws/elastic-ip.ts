// elastic-ip mode (as ClusterLabs awseip): the instance's one VIP is an Elastic IP's PUBLIC address
// (e.g. 203.0.113.10/32), associated with a private address of the master's ENI (the one behind the
// configured interface): `privateIpAddress`, by default the ENI's primary private IPv4 (the first
// line of IMDS local-ipv4s). It is NOT put on the interface: EC2 translates it to the private address.
//
//   acquire: ONE DescribeAddresses; a public address other than the configured VIP is a permanent
//            error (the allocation is not the VIP's); already associated with our ENI and private
//            address: done, no write; else AssociateAddress with AllowReassociation, then confirm with
//            DescribeAddresses at once and after jittered, doubling waits up to
//            timing.confirmTimeoutMs (confirm.ts). A failover is 3 EC2 calls when EC2 shows the
//            association at once.
//   release: nothing in the cloud: never disassociate on a transition (the new master reassociates;
//            disassociating would cut the address off until then, and a late disassociate could
//            undo the new master's association).
//   verify:  one DescribeAddresses: 'held' when associated with our ENI and private address and this
//            node claims it (acquired, not released since: like secondary-ip's "on the interface",
//            the half that is ours — EC2 keeps pointing at a released node until the next master
//            reassociates, which is not holding it); 'elsewhere' when associated with another ENI or
//            another private address; else 'not-held'.
//   announce('lower-priority'): verify now through the runner's recheck (see secondary-ip.ts).
// The options are every mode's (instance.ts) plus the allocation; `local` is accepted and unused
// (nothing goes on the interface).
import type { PreflightCheck, PreflightOptions, ProviderContext, VipOwnership, VipProvider } from '../../src/provider/types.js';
import { permanent, retryable } from '../../src/provider/errors.js';
import { parseCidr, type Cidr } from '../../src/net/address.js';
import { localIpv4s, type InstanceFacts } from './facts.js';
import type { AddressHolder, Ec2 } from './ec2.js';
import { pollUntil } from './confirm.js';
import { confirmClock, type ConfirmClock } from '../../src/provider/wait.js';
import { modePreflight, instanceResolver, onceRetried, type AwsModeOptions, type Resolved } from './instance.js';
import { Recheck } from '../../src/provider/recheck.js';

export interface ElasticIpOptions extends AwsModeOptions {
  /** The Elastic IP's allocation id (eipalloc-…). */
  allocationId: string;
  /** The private address of our ENI to associate it with (default: the ENI's primary private IPv4). */
  privateIpAddress?: string;
}

/** Facts, client, and the private address the Elastic IP goes to. */
export interface ElasticIpResolved extends Resolved {
  privateIpAddress: string;
}

export class ElasticIpProvider implements VipProvider {
  readonly type = 'aws';
  readonly acquireIsRemote = true; // a failover starts with its EC2 request (Instance.onTransition)
  private readonly cidrs: Cidr[];
  private readonly clock: ConfirmClock;
  private readonly resolver: () => Promise<ElasticIpResolved>;
  /** Acquired and not released since (see the header: verify's 'held'). */
  private claimed = false;
  private readonly recheck = new Recheck();

  constructor(
    private readonly ctx: ProviderContext,
    private readonly opts: ElasticIpOptions,
  ) {
    this.cidrs = ctx.vips.map((v) => parseCidr(v));
    this.clock = confirmClock(opts);
    const instance = instanceResolver(ctx.interface, opts);
    this.resolver = onceRetried(async () => {
      const r = await instance();
      return { ...r, privateIpAddress: opts.privateIpAddress ?? (await this.primaryIpv4(r.facts)) };
    });
  }

  get allocationId(): string {
    return this.opts.allocationId;
  }

  /** Facts, client and private address, discovered once (a failed discovery is tried again next time). */
  resolve(): Promise<ElasticIpResolved> {
    return this.resolver();
  }

  async acquire(signal: AbortSignal): Promise<void> {
    const vip = this.vip();
    const { facts, ec2, privateIpAddress } = await this.resolve();
    this.claimed = true;
    const now = await ec2.addressHolder(this.allocationId, signal);
    this.checkPublicIp(now, vip);
    if (isOurs(now, facts, privateIpAddress)) return; // already associated with us: no write
    signal.throwIfAborted();
    await ec2.associateAddress(this.allocationId, facts.networkInterfaceId, privateIpAddress, signal);
    await this.confirm(ec2, facts, privateIpAddress, signal);
  }

  async release(signal: AbortSignal): Promise<void> {
    signal.throwIfAborted();
    this.claimed = false;
    this.recheck.released();
  }

  async verify(signal: AbortSignal): Promise<VipOwnership> {
    const { facts, ec2, privateIpAddress } = await this.resolve();
    return this.ownershipFrom(await ec2.addressHolder(this.allocationId, signal), facts, privateIpAddress);
  }

  /** From a DescribeAddresses answer for this allocation (see the header). */
  ownershipFrom(holder: AddressHolder, facts: InstanceFacts, privateIpAddress: string): VipOwnership {
    const vip = this.vip();
    this.checkPublicIp(holder, vip);
    const key = this.ctx.vips[0]!;
    if (isOurs(holder, facts, privateIpAddress)) return { [key]: this.claimed ? 'held' : 'not-held' };
    return { [key]: holder.networkInterfaceId !== null ? 'elsewhere' : 'not-held' };
  }

  watch(recheck: () => void): void {
    this.recheck.set(recheck);
  }

  announce(reason: 'lower-priority' | 'refresh'): void {
    this.recheck.announce(reason);
  }

  preflight(options?: PreflightOptions): AsyncIterable<PreflightCheck> {
    return modePreflight(this.ctx, this.opts, () => this.resolve(), options);
  }

  /** The one VIP (the Elastic IP's public address); more than one, or not a /32 IPv4, is a config error. */
  private vip(): Cidr {
    const only = this.cidrs.length === 1 ? this.cidrs[0]! : null;
    if (!only || only.family !== 4 || only.prefixLen !== 32)
      throw permanent(
        `elastic-ip mode needs exactly one IPv4 /32 VIP, the Elastic IP's public address (got ${this.ctx.vips.join(', ') || 'none'})`,
        'give the instance one VIP: the public address of provider.allocationId, as a.b.c.d/32',
        { code: 'VipNotElasticIp' },
      );
    return only;
  }

  private checkPublicIp(holder: AddressHolder, vip: Cidr): void {
    if (holder.publicIp !== vip.address)
      throw permanent(
        `Elastic IP ${this.allocationId} is ${holder.publicIp}, not the VIP ${vip.address}`,
        `set the VIP to ${holder.publicIp}/32, or provider.allocationId to the allocation of ${vip.address} (aws ec2 describe-addresses --public-ips ${vip.address})`,
        { code: 'ElasticIpMismatch' },
      );
  }

  /** The ENI's primary private IPv4, from IMDS (the first line of local-ipv4s). */
  private async primaryIpv4(facts: InstanceFacts): Promise<string> {
    const first = (await localIpv4s(this.opts.imds, facts.mac))[0];
    if (!first)
      throw retryable(`IMDS lists no private IPv4 for ${facts.networkInterfaceId}`, { fix: 'set provider.privateIpAddress to the ENI\'s private address the Elastic IP should map to', code: 'NoPrivateIpv4' });
    return first;
  }

  /** Waits until the association shows; throws a retryable error when it does not in time. */
  private async confirm(ec2: Ec2, facts: InstanceFacts, privateIpAddress: string, signal: AbortSignal): Promise<void> {
    const shown = await pollUntil(async () => isOurs(await ec2.addressHolder(this.allocationId, signal), facts, privateIpAddress), this.ctx.timing.confirmTimeoutMs, this.clock, signal);
    if (!shown)
      throw retryable(`${this.allocationId} is not associated with ${privateIpAddress} on ${facts.networkInterfaceId} ${Math.round(this.ctx.timing.confirmTimeoutMs / 1000)} s after AssociateAddress`, {
        fix: 'EC2 has not shown the association yet: the agent associates again; if this persists, raise provider.timing.confirmTimeout',
        code: 'NotConfirmed',
      });
  }
}

function isOurs(holder: AddressHolder, facts: InstanceFacts, privateIpAddress: string): boolean {
  return holder.networkInterfaceId === facts.networkInterfaceId && holder.privateIpAddress === privateIpAddress;
}
