// What every mode of the aws provider needs before its first EC2 call: this instance's facts
// (facts.ts: instance id, region, the ENI behind the configured interface…) and the EC2 client for
// its region, plus the options all modes take.
//
//   onceRetried(fn): fn's result, computed at the first call and shared by later ones; a failure is
//                    not kept (the next call tries again), so a slow IMDS at boot is not fatal.
//   instanceResolver(ifname, opts): facts + client, through onceRetried. The interface's MAC comes
//                    from opts.macOf (default: sysfs); a missing interface is retryable.
//   factsCheck(resolve, ifname): the preflight check 'IMDSv2 and instance facts' (never throws).
//   modePreflight(ctx, opts, resolve, options): every mode's preflight(): the full `ha-agent provider
//                    test aws` checks (preflight.ts, loaded on demand) when the provider was made
//                    with its preflight setup (the registry's providers are), else factsCheck alone.
import type { PreflightCheck, PreflightOptions, ProviderContext } from '../../src/provider/types.js';
import { retryable } from '../../src/provider/errors.js';
import { readLinkLayer } from '../../src/net/link.js';
import { discoverFacts, type GivenFacts, type InstanceFacts } from './facts.js';
import type { Ec2 } from './ec2.js';
import type { Imds } from './imds.js';
import type { LocalAddresses } from './local-addresses.js';
import type { AwsPreflightInput } from './preflight.js';

/** The constructor options every mode takes (each mode adds its own). */
export interface AwsModeOptions {
  given: GivenFacts;
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
  /** What `provider test` needs beyond the above: the config block and the credential chain (index.ts gives it). */
  preflight?: Pick<AwsPreflightInput, 'config' | 'credentials'>;
}

/** The instance's facts and the EC2 client for its region. */
export interface Resolved {
  facts: InstanceFacts;
  ec2: Ec2;
}

/** See the header. */
export function onceRetried<T>(fn: () => Promise<T>): () => Promise<T> {
  let pending: Promise<T> | null = null;
  return () =>
    (pending ??= fn().catch((e: unknown) => {
      pending = null;
      throw e;
    }));
}

/** See the header. */
export function instanceResolver(ifname: string, opts: Pick<AwsModeOptions, 'given' | 'imds' | 'ec2For' | 'macOf'>): () => Promise<Resolved> {
  return onceRetried(async () => {
    const mac = (opts.macOf ?? ((i) => readLinkLayer(i)?.mac ?? null))(ifname);
    if (!mac) throw retryable(`interface ${ifname} not found`, { fix: `check the interface (ip link show ${ifname})` });
    const facts = await discoverFacts(opts.imds, mac, opts.given);
    return { facts, ec2: opts.ec2For(facts.region) };
  });
}

/** See the header. */
export async function* factsCheck(resolve: () => Promise<Resolved>, ifname: string): AsyncIterable<PreflightCheck> {
  try {
    const { facts } = await resolve();
    yield { check: 'IMDSv2 and instance facts', ok: true, detail: `${facts.instanceId} in ${facts.availabilityZone}, ${ifname} is ${facts.networkInterfaceId} (${facts.subnetCidr})` };
  } catch (e) {
    const err = e as { message?: string; fix?: string | null };
    yield { check: 'IMDSv2 and instance facts', ok: false, detail: err.message ?? String(e), ...(err.fix ? { fix: err.fix } : {}) };
  }
}

/** See the header. */
export async function* modePreflight(ctx: ProviderContext, opts: AwsModeOptions, resolve: () => Promise<Resolved>, options: PreflightOptions = {}): AsyncIterable<PreflightCheck> {
  if (!opts.preflight) return yield* factsCheck(resolve, ctx.interface);
  const { awsPreflight } = await import('./preflight.js');
  yield* awsPreflight({ ...opts.preflight, ctx, imds: opts.imds, ...(opts.macOf ? { macOf: opts.macOf } : {}), options });
}
