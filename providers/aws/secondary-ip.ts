// secondary-ip mode: the VIPs are secondary private addresses of this instance's ENI (the one behind
// the configured interface), moved with AssignPrivateIpAddresses + AllowReassignment, and also on the
// interface itself (EC2 does not configure the guest).
//
//   acquire: the VIPs on the interface; if IMDS does not already list them on our ENI, ONE assign for
//            all of them; then confirm — the remap is asynchronous — by polling IMDS local-ipv4s
//            (no EC2 call) with jittered, doubling waits up to timing.confirmTimeoutMs, and one
//            DescribeNetworkInterfaces at the end if IMDS could not tell. At most 2 EC2 calls.
//   release: the VIPs off the interface; in the cloud only with unassignOnRelease (and only those
//            still on our ENI: never take one from the new master).
//   verify:  one DescribeNetworkInterfaces for all VIPs (batched across instances by verifyMany):
//            'held' when on our ENI and on the interface, 'elsewhere' on another ENI, else 'not-held'.
//   announce('lower-priority'): a MASTER heard a lower-priority peer, which may have grabbed the VIP
//            in EC2 while it briefly thought itself master (keepalived issue #950): verify at once
//            (through the runner's recheck), so a VIP found 'elsewhere' is taken back now, not at
//            the next reconcile.
// Instance facts (facts.ts) are read once, at the first call that needs them.
import type { PreflightCheck, ProviderContext, VipOwnership, VipProvider } from '../../src/provider/types.js';
import { retryable } from '../../src/provider/errors.js';
import { addAddress, parseCidr, removeAddresses, type Cidr } from '../../src/net/address.js';
import { readLinkLayer, getLink } from '../../src/net/link.js';
import { discoverFacts, localIpv4s, type GivenFacts, type InstanceFacts } from './facts.js';
import type { Ec2, Holders } from './ec2.js';
import type { Imds } from './imds.js';

export interface SecondaryIpOptions {
  given: GivenFacts;
  unassignOnRelease: boolean;
  imds: Imds;
  /** Made once the region is known (config or IMDS). */
  ec2For: (region: string) => Ec2;
  /** The interface's MAC (default: sysfs). */
  macOf?: (ifname: string) => string | null;
  /** Abortable wait (tests: a fake clock). */
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
  random?: () => number;
  now?: () => number;
  /** The interface's addresses (default: netlink, as the garp provider; tests: a set of their own). */
  local?: LocalAddresses;
  /** What `provider test` needs beyond the above (the config block, the credential chain). */
  preflight?: Pick<import('./preflight.js').AwsPreflightInput, 'config' | 'credentials'>;
}

/** Putting the VIPs on the interface and reading what is there. */
export interface LocalAddresses {
  add(cidr: string, signal: AbortSignal): Promise<void>;
  remove(addresses: readonly string[], signal: AbortSignal): Promise<void>;
  /** Addresses on the interface now; null when the interface is gone. */
  present(signal: AbortSignal): Promise<ReadonlySet<string> | null>;
}

/** First wait between confirmation reads, doubled up to CONFIRM_MAX_STEP_MS (each with full jitter above half). */
const CONFIRM_FIRST_STEP_MS = 200;
const CONFIRM_MAX_STEP_MS = 2_000;

export class SecondaryIpProvider implements VipProvider {
  readonly type = 'aws';
  private readonly cidrs: Cidr[];
  private setup: Promise<{ facts: InstanceFacts; ec2: Ec2 }> | null = null;
  private readonly sleep: (ms: number, signal: AbortSignal) => Promise<void>;
  private readonly random: () => number;
  private readonly now: () => number;
  private readonly local: LocalAddresses;
  /** The runner's "verify now" (watch()). */
  private recheck: (() => void) | null = null;

  constructor(
    private readonly ctx: ProviderContext,
    private readonly opts: SecondaryIpOptions,
  ) {
    this.cidrs = ctx.vips.map((v) => parseCidr(v));
    this.sleep = opts.sleep ?? abortableSleep;
    this.random = opts.random ?? Math.random;
    this.now = opts.now ?? (() => performance.now());
    this.local = opts.local ?? interfaceAddresses(ctx);
  }

  /** The VIPs as plain addresses, in config order. */
  get addresses(): string[] {
    return this.cidrs.map((c) => c.address);
  }

  /** Facts and client, discovered once (a failed discovery is tried again next time). */
  resolve(): Promise<{ facts: InstanceFacts; ec2: Ec2 }> {
    this.setup ??= (async () => {
      const mac = (this.opts.macOf ?? ((i) => readLinkLayer(i)?.mac ?? null))(this.ctx.interface);
      if (!mac) throw retryable(`interface ${this.ctx.interface} not found`, { fix: `check the interface (ip link show ${this.ctx.interface})` });
      const facts = await discoverFacts(this.opts.imds, mac, this.opts.given);
      return { facts, ec2: this.opts.ec2For(facts.region) };
    })().catch((e: unknown) => {
      this.setup = null;
      throw e;
    });
    return this.setup;
  }

  async acquire(signal: AbortSignal): Promise<void> {
    const { facts, ec2 } = await this.resolve();
    for (const c of this.cidrs) await this.local.add(c.cidr, signal);
    if (await this.listedOnOurEni(facts)) return; // already ours (a local-only drift, or a retry after the remap landed)
    signal.throwIfAborted();
    await ec2.assign(facts.networkInterfaceId, this.addresses, signal);
    await this.confirm(facts, ec2, signal);
  }

  async release(signal: AbortSignal): Promise<void> {
    signal.throwIfAborted();
    await this.local.remove(this.addresses, signal);
    if (!this.opts.unassignOnRelease) return;
    const { facts, ec2 } = await this.resolve();
    const holders = await ec2.holders(facts.vpcId, this.addresses, signal);
    const ours = this.addresses.filter((a) => holders.get(a) === facts.networkInterfaceId);
    if (ours.length > 0) await ec2.unassign(facts.networkInterfaceId, ours, signal);
  }

  async verify(signal: AbortSignal): Promise<VipOwnership> {
    const { facts, ec2 } = await this.resolve();
    return this.ownershipFrom(await ec2.holders(facts.vpcId, this.addresses, signal), facts, await this.localAddresses(signal));
  }

  /** Per VIP from a DescribeNetworkInterfaces answer (verifyMany shares one among instances). */
  ownershipFrom(holders: Holders, facts: InstanceFacts, local: ReadonlySet<string> | null): VipOwnership {
    const out: VipOwnership = {};
    for (const c of this.cidrs) {
      const holder = holders.get(c.address) ?? null;
      if (holder === facts.networkInterfaceId) out[this.keyOf(c)] = local?.has(c.address) ? 'held' : 'not-held';
      else out[this.keyOf(c)] = holder ? 'elsewhere' : 'not-held';
    }
    return out;
  }

  watch(recheck: () => void): void {
    this.recheck = recheck;
  }

  announce(reason: 'lower-priority' | 'refresh'): void {
    if (reason === 'lower-priority') this.recheck?.();
  }

  /** The addresses on the interface now (null: the interface is gone). */
  localAddresses(signal: AbortSignal): Promise<ReadonlySet<string> | null> {
    return this.local.present(signal);
  }

  async *preflight(options?: Parameters<VipProvider['preflight']>[0]): AsyncIterable<PreflightCheck> {
    const { awsPreflight } = await import('./preflight.js');
    if (!this.opts.preflight) throw new Error('aws preflight: the provider was made without its preflight setup');
    yield* awsPreflight({ ...this.opts.preflight, ctx: this.ctx, imds: this.opts.imds, ...(this.opts.macOf ? { macOf: this.opts.macOf } : {}), options: options ?? {} });
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
    const deadline = this.now() + this.ctx.timing.confirmTimeoutMs;
    let step = CONFIRM_FIRST_STEP_MS;
    for (;;) {
      if (await this.listedOnOurEni(facts)) return;
      const left = deadline - this.now();
      if (left <= 0) break;
      await this.sleep(Math.min(left, step * (0.5 + this.random() / 2)), signal);
      step = Math.min(CONFIRM_MAX_STEP_MS, step * 2);
    }
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

/** The instance's interface, over netlink (the agent's view for reads when there is one). */
function interfaceAddresses(ctx: ProviderContext): LocalAddresses {
  const opts = (signal: AbortSignal) => ({ instanceName: ctx.instanceName, signal });
  return {
    add: async (cidr, signal) => void (await addAddress(ctx.interface, cidr, opts(signal))),
    remove: async (addresses, signal) => void (await removeAddresses(ctx.interface, addresses, opts(signal))),
    present: async (signal) => {
      const link = ctx.links ? ctx.links.link(ctx.interface) : await getLink(ctx.interface, { signal }).catch(() => null);
      return link ? new Set(link.addresses.map((a) => a.address)) : null;
    },
  };
}

function abortableSleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason as Error);
    const t = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      reject(signal.reason as Error);
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
